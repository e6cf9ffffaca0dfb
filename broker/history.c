/* history — see history.h.
 *
 * Layout. Every held message is one malloc block: a 32-byte header and the
 * payload (120 bytes of payload: a 160-byte block). It is on the store's
 * global FIFO, in append order (doubly linked: a size eviction takes a
 * stream's oldest message, which may be anywhere in it), and in its stream's
 * ring of pointers (a stream only ever loses its oldest message, whatever
 * the reason, so a ring is enough). Append order is age order, so TTL and
 * memory evictions both take the global head: O(1) each. A message carries
 * no seq: a stream holds the contiguous run ending at its last seq, so the
 * ring index gives it, and hist_since() seeks in O(1). Rings grow 3, 7, 15,
 * … (each fills its malloc block) up to cfg.size, shrink by half when a
 * quarter full, and are freed with the stream's last message.
 *
 * Streams are found by name in an open-addressing table (linear probing,
 * slots of {hash, record}: a probe compares the full 64-bit hash before it
 * touches a record, so a lookup costs one record access; load ≤ 0.7, grown
 * ×2, shrunk ×½ below 0.15; deletion shifts back, no tombstones), hashed with
 * SipHash-1-3 under the caller's secret key. Records with no message sit on
 * an LRU list in the order they emptied: the first victims of the cap.
 *
 * Memory accounting charges each block as glibc does (its size + 8, rounded
 * to 16, at least 32; page-rounded past the mmap threshold), the rings, the
 * table and the store itself, so that `bytes` follows what the store adds to
 * the heap. */
#include "history.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "valid.h"

#define BUCKETS     4096                /* epoch generations, by hash */
#define TABLE_MIN   64

typedef struct stream stream_t;
typedef struct msg msg_t;

struct msg {
    msg_t         *g_prev, *g_next;     /* global FIFO */
    stream_t      *stream;
    uint32_t       ts;                  /* append time, ms, modulo 2^32 */
    uint32_t       len;
    unsigned char  data[];
};

struct stream {
    msg_t    **ring;                    /* held messages, oldest at rhead */
    stream_t  *e_prev, *e_next;         /* empty LRU, while count == 0 */
    uint64_t   hash;
    uint64_t   last;                    /* seq of the newest message ever */
    uint64_t   gen;                     /* epoch = run_id "." gen */
    uint32_t   rcap, rhead;
    uint32_t   count;                   /* held: seqs last - count + 1 .. last */
    uint8_t    name_len;
    char       name[];
};

typedef struct {
    uint64_t   hash;
    stream_t  *s;                       /* NULL: free */
} slot_t;

enum { EV_SIZE, EV_TTL, EV_MEMORY };

struct hist {
    hist_cfg_t  cfg;
    char        run_id[HIST_RUN_ID_MAX + 1];
    size_t      run_len;
    slot_t     *slots;
    size_t      cap, count;             /* slots (a power of 2), records */
    msg_t      *g_head, *g_tail;
    stream_t   *e_head, *e_tail;
    int64_t     newest;                 /* latest now_ms seen: timestamps never go back */
    size_t      bytes, payload, messages, empty;
    uint64_t    appended, evicted[3], dropped;
    uint64_t    gens[BUCKETS];
};

/* What malloc really takes for a block of n bytes (glibc, 64-bit). */
static size_t
s_cost(size_t n)
{
    if (n >= 128 * 1024)
        return (n + 16 + 4095) & ~(size_t)4095;
    n = (n + 8 + 15) & ~(size_t)15;
    return n < 32 ? 32 : n;
}

static size_t
s_msg_cost(size_t len)
{
    return s_cost(offsetof(msg_t, data) + len);
}

static size_t
s_stream_cost(size_t name_len)
{
    return s_cost(offsetof(stream_t, name) + name_len);
}

/* ---- SipHash-1-3 ------------------------------------------------------ */

static inline uint64_t
s_rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline void
s_sipround(uint64_t *v0, uint64_t *v1, uint64_t *v2, uint64_t *v3)
{
    *v0 += *v1; *v1 = s_rotl(*v1, 13); *v1 ^= *v0; *v0 = s_rotl(*v0, 32);
    *v2 += *v3; *v3 = s_rotl(*v3, 16); *v3 ^= *v2;
    *v0 += *v3; *v3 = s_rotl(*v3, 21); *v3 ^= *v0;
    *v2 += *v1; *v1 = s_rotl(*v1, 17); *v1 ^= *v2; *v2 = s_rotl(*v2, 32);
}

/* Words are read in host order: on a big-endian host this is another keyed
 * hash, as good for the table, not the reference SipHash values. */
static uint64_t
s_hash(const hist_t *self, const char *key, size_t n)
{
    const unsigned char *p = (const unsigned char *)key;
    uint64_t k0 = self->cfg.seed[0], k1 = self->cfg.seed[1];
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
    uint64_t m, b = (uint64_t)n << 56;
    const unsigned char *end = p + (n & ~(size_t)7);
    for (; p < end; p += 8) {
        memcpy(&m, p, 8);
        v3 ^= m;
        s_sipround(&v0, &v1, &v2, &v3);
        v0 ^= m;
    }
    for (size_t j = 0; j < (n & 7); j++)
        b |= (uint64_t)p[j] << (8 * j);
    v3 ^= b;
    s_sipround(&v0, &v1, &v2, &v3);
    v0 ^= b;
    v2 ^= 0xff;
    s_sipround(&v0, &v1, &v2, &v3);
    s_sipround(&v0, &v1, &v2, &v3);
    s_sipround(&v0, &v1, &v2, &v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the table -------------------------------------------------------- */

/* The slot holding (hash, name), or the free slot where it would go. */
static size_t
s_probe(const hist_t *self, uint64_t hash, const char *name, size_t len)
{
    size_t mask = self->cap - 1;
    size_t i = (size_t)hash & mask;
    for (;; i = (i + 1) & mask) {
        const stream_t *s = self->slots[i].s;
        if (!s || (self->slots[i].hash == hash && s->name_len == len
                   && memcmp(s->name, name, len) == 0))
            return i;
    }
}

static stream_t *
s_find(const hist_t *self, uint64_t hash, const char *name, size_t len)
{
    return self->slots[s_probe(self, hash, name, len)].s;
}

/* Move every record into a table of ncap slots. Returns 0, -1 on ENOMEM
 * (the old table stays). */
static int
s_rehash(hist_t *self, size_t ncap)
{
    slot_t *n = calloc(ncap, sizeof *n);
    if (!n)
        return -1;
    for (size_t i = 0; i < self->cap; i++) {
        if (!self->slots[i].s)
            continue;
        size_t j = (size_t)self->slots[i].hash & (ncap - 1);
        while (n[j].s)
            j = (j + 1) & (ncap - 1);
        n[j] = self->slots[i];
    }
    free(self->slots);
    self->bytes -= s_cost(self->cap * sizeof(slot_t));
    self->bytes += s_cost(ncap * sizeof(slot_t));
    self->slots = n;
    self->cap = ncap;
    return 0;
}

/* Empty the slot at i, shifting back the entries of its probe run that
 * would otherwise become unreachable. */
static void
s_slot_clear(hist_t *self, size_t i)
{
    size_t mask = self->cap - 1;
    for (size_t j = (i + 1) & mask; self->slots[j].s; j = (j + 1) & mask) {
        size_t home = (size_t)self->slots[j].hash & mask;
        /* j may move to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            self->slots[i] = self->slots[j];
            i = j;
        }
    }
    self->slots[i].s = NULL;
    self->count--;
    if (self->cap > TABLE_MIN && self->count * 100 < self->cap * 15)
        s_rehash(self, self->cap / 2);  /* on ENOMEM the bigger table just stays */
}

/* ---- lists ------------------------------------------------------------ */

static void
s_empty_push(hist_t *self, stream_t *s)
{
    s->e_next = NULL;
    s->e_prev = self->e_tail;
    if (self->e_tail)
        self->e_tail->e_next = s;
    else
        self->e_head = s;
    self->e_tail = s;
    self->empty++;
}

static void
s_empty_unlink(hist_t *self, stream_t *s)
{
    if (s->e_prev)
        s->e_prev->e_next = s->e_next;
    else
        self->e_head = s->e_next;
    if (s->e_next)
        s->e_next->e_prev = s->e_prev;
    else
        self->e_tail = s->e_prev;
    s->e_prev = s->e_next = NULL;
    self->empty--;
}

/* Give s's ring ncap slots (≥ count; 0 frees it), oldest first at 0.
 * Returns 0, -1 on ENOMEM (the ring stays as it was). */
static int
s_ring_resize(hist_t *self, stream_t *s, uint32_t ncap)
{
    msg_t **n = NULL;
    if (ncap && !(n = malloc(ncap * sizeof *n)))
        return -1;
    for (uint32_t i = 0, j = s->rhead; i < s->count; i++, j = j + 1 == s->rcap ? 0 : j + 1)
        n[i] = s->ring[j];
    if (s->rcap)
        self->bytes -= s_cost(s->rcap * sizeof *n);
    if (ncap)
        self->bytes += s_cost(ncap * sizeof *n);
    free(s->ring);
    s->ring = n;
    s->rcap = ncap;
    s->rhead = 0;
    return 0;
}

/* The i-th held message of s, 0 the oldest. */
static msg_t *
s_ring_at(const stream_t *s, uint32_t i)
{
    uint32_t j = s->rhead + i;
    return s->ring[j >= s->rcap ? j - s->rcap : j];
}

/* Free the oldest message of its stream, for reason. */
static void
s_evict(hist_t *self, msg_t *m, int reason)
{
    stream_t *s = m->stream;
    assert(s->count && s->ring[s->rhead] == m);     /* streams only lose their oldest */
    if (m->g_prev)
        m->g_prev->g_next = m->g_next;
    else
        self->g_head = m->g_next;
    if (m->g_next)
        m->g_next->g_prev = m->g_prev;
    else
        self->g_tail = m->g_prev;
    s->rhead = s->rhead + 1 == s->rcap ? 0 : s->rhead + 1;
    if (--s->count == 0) {
        s_ring_resize(self, s, 0);
        s_empty_push(self, s);
    } else if (s->rcap >= 8 && s->count <= s->rcap / 4) {
        s_ring_resize(self, s, s->rcap / 2);    /* on ENOMEM the bigger ring just stays */
    }
    self->bytes -= s_msg_cost(m->len);
    self->payload -= m->len;
    self->messages--;
    self->evicted[reason]++;
    free(m);
}

/* Drop a record that holds no message; its bucket's next record gets a new
 * epoch. */
static void
s_drop(hist_t *self, stream_t *s)
{
    s_empty_unlink(self, s);
    self->gens[s->hash >> 52]++;
    s_slot_clear(self, s_probe(self, s->hash, s->name, s->name_len));
    self->bytes -= s_stream_cost(s->name_len);
    self->dropped++;
    free(s);
}

static void
s_expire(hist_t *self, int64_t now)
{
    if (self->cfg.ttl_ms <= 0)
        return;
    /* ages modulo 2^32 ms: exact while every head is looked at within 49
     * days, which the broker's timer does every second */
    while (self->g_head && (uint32_t)((uint32_t)now - self->g_head->ts) > self->cfg.ttl_ms)
        s_evict(self, self->g_head, EV_TTL);
}

/* Back under the cap: records with no message first, then the oldest
 * messages. keep (the stream just appended to) is never dropped; if it is
 * all that is left the store stays over by its record until the next call. */
static void
s_fit(hist_t *self, const stream_t *keep)
{
    while (self->bytes > self->cfg.mem_cap) {
        stream_t *victim = self->e_head == keep ? keep->e_next : self->e_head;
        if (victim)
            s_drop(self, victim);
        else if (self->g_head)
            s_evict(self, self->g_head, EV_MEMORY);
        else
            break;
    }
}

/* ---- positions -------------------------------------------------------- */

static void
s_pos(const hist_t *self, uint64_t gen, uint64_t seq, hist_pos_t *pos)
{
    char digits[20];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + gen % 10);
        gen /= 10;
    } while (gen);
    memcpy(pos->epoch, self->run_id, self->run_len);
    size_t n = self->run_len;
    pos->epoch[n++] = '.';
    while (nd)
        pos->epoch[n++] = digits[--nd];
    pos->epoch[n] = '\0';
    pos->epoch_len = n;
    pos->seq = seq;
}

static int
s_valid_stream(const char *name, size_t len)
{
    if (name && len >= 1 && len <= HIST_STREAM_MAX)
        return 1;
    errno = EINVAL;
    return 0;
}

/* The time to stamp with: now, unless the clock went back. */
static int64_t
s_now(hist_t *self, int64_t now)
{
    if (now > self->newest)
        self->newest = now;
    return self->newest;
}

/* ---- the API ---------------------------------------------------------- */

void
hist_cfg_default(hist_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = HIST_SIZE_DEFAULT;
    cfg->ttl_ms = HIST_TTL_DEFAULT;
    cfg->mem_cap = HIST_MEM_DEFAULT;
}

hist_t *
hist_new(const hist_cfg_t *cfg, const char *run_id)
{
    size_t rn = run_id ? strlen(run_id) : 0;
    int ok = cfg && cfg->ttl_ms >= 0 && cfg->ttl_ms <= INT32_MAX && cfg->mem_cap >= HIST_MEM_MIN
             && rn >= 1 && rn <= HIST_RUN_ID_MAX;
    for (size_t i = 0; ok && i < rn; i++)
        ok = run_id[i] >= 0x21 && run_id[i] <= 0x7e && run_id[i] != ':' && run_id[i] != '.';
    if (!ok) {
        errno = EINVAL;
        return NULL;
    }
    hist_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    memcpy(self->run_id, run_id, rn);
    self->run_len = rn;
    self->cap = TABLE_MIN;
    self->slots = calloc(self->cap, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->bytes = s_cost(sizeof *self) + s_cost(self->cap * sizeof(slot_t));
    self->newest = INT64_MIN;
    return self;
}

void
hist_destroy(hist_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hist_t *self = *self_p;
    for (msg_t *m = self->g_head, *next; m; m = next) {
        next = m->g_next;
        free(m);
    }
    for (size_t i = 0; i < self->cap; i++) {
        if (self->slots[i].s)
            free(self->slots[i].s->ring);
        free(self->slots[i].s);
    }
    free(self->slots);
    free(self);
    *self_p = NULL;
}

/* A new record for (hash, name), numbering from 0 under its bucket's gen,
 * empty. NULL on ENOMEM. */
static stream_t *
s_create(hist_t *self, uint64_t hash, const char *name, size_t len)
{
    if ((self->count + 1) * 10 > self->cap * 7 && s_rehash(self, self->cap * 2) < 0
        && (self->count + 1) * 10 > self->cap * 9) {
        errno = ENOMEM;
        return NULL;
    }
    stream_t *s = malloc(offsetof(stream_t, name) + len);
    if (!s)
        return NULL;
    memset(s, 0, offsetof(stream_t, name));
    s->hash = hash;
    s->gen = self->gens[hash >> 52];
    s->name_len = (uint8_t)len;
    memcpy(s->name, name, len);
    size_t i = s_probe(self, hash, name, len);
    self->slots[i].hash = hash;
    self->slots[i].s = s;
    self->count++;
    self->bytes += s_stream_cost(len);
    s_empty_push(self, s);
    return s;
}

/* Keep a copy of the message just numbered as s's newest, making room
 * (size) first. Returns 0, -1 on ENOMEM. */
static int
s_store(hist_t *self, stream_t *s, const void *payload, size_t len, int64_t now)
{
    if (s->count == self->cfg.size)
        s_evict(self, s->ring[s->rhead], EV_SIZE);
    if (s->count == s->rcap) {
        uint32_t ncap = s->rcap * 2 + 1 < 3 ? 3 : s->rcap * 2 + 1;
        if (ncap > self->cfg.size || ncap < s->rcap)
            ncap = self->cfg.size;
        if (s_ring_resize(self, s, ncap) < 0)
            return -1;
    }
    msg_t *m = malloc(offsetof(msg_t, data) + len);
    if (!m) {
        if (!s->count)
            s_ring_resize(self, s, 0);
        return -1;
    }
    m->g_next = NULL;
    m->g_prev = self->g_tail;
    m->stream = s;
    m->ts = (uint32_t)now;
    m->len = (uint32_t)len;
    if (len)
        memcpy(m->data, payload, len);
    if (self->g_tail)
        self->g_tail->g_next = m;
    else
        self->g_head = m;
    self->g_tail = m;
    if (s->count == 0)
        s_empty_unlink(self, s);
    uint32_t j = s->rhead + s->count;
    s->ring[j >= s->rcap ? j - s->rcap : j] = m;
    s->count++;
    self->bytes += s_msg_cost(len);
    self->payload += len;
    self->messages++;
    return 0;
}

int
hist_append(hist_t *self, const char *stream, size_t stream_len, const void *payload,
            size_t payload_len, int64_t now_ms, hist_pos_t *pos)
{
    if (!s_valid_stream(stream, stream_len) || payload_len > UINT32_MAX
        || (payload_len && !payload)) {
        errno = EINVAL;
        return -1;
    }
    int64_t now = s_now(self, now_ms);
    s_expire(self, now);
    uint64_t hash = s_hash(self, stream, stream_len);
    stream_t *s = s_find(self, hash, stream, stream_len);
    if (!s && !(s = s_create(self, hash, stream, stream_len)))
        return -1;
    s->last++;
    self->appended++;
    s_pos(self, s->gen, s->last, pos);
    if (self->cfg.size > 0 && s_store(self, s, payload, payload_len, now) < 0) {
        /* seq last is not held: nothing older may claim to be gap-free */
        while (s->count)
            s_evict(self, s->ring[s->rhead], EV_MEMORY);
    }
    s_fit(self, s);
    return 0;
}

int
hist_last(const hist_t *self, const char *stream, size_t stream_len, hist_pos_t *pos)
{
    if (!s_valid_stream(stream, stream_len))
        return -1;
    uint64_t hash = s_hash(self, stream, stream_len);
    const stream_t *s = s_find(self, hash, stream, stream_len);
    if (s)
        s_pos(self, s->gen, s->last, pos);
    else
        s_pos(self, self->gens[hash >> 52], 0, pos);
    return 0;
}

int
hist_since(hist_t *self, const char *stream, size_t stream_len, const char *epoch,
           size_t epoch_len, uint64_t after_seq, int64_t now_ms, hist_each_fn cb,
           void *arg, hist_result_t *res)
{
    if (!s_valid_stream(stream, stream_len))
        return -1;
    s_expire(self, s_now(self, now_ms));
    uint64_t hash = s_hash(self, stream, stream_len);
    const stream_t *s = s_find(self, hash, stream, stream_len);
    uint64_t last = s ? s->last : 0;
    uint64_t first = last - (s ? s->count : 0) + 1;     /* oldest held; last + 1: none */
    uint64_t from;                                      /* first seq to replay */
    s_pos(self, s ? s->gen : self->gens[hash >> 52], last, &res->last);
    res->replayed = 0;
    if (!epoch || epoch_len != res->last.epoch_len
        || memcmp(epoch, res->last.epoch, epoch_len) != 0 || after_seq > last) {
        res->recovered = 0;                 /* another incarnation, or numbers never issued */
        res->missed = -1;
        from = first;
    } else if (after_seq + 1 >= first) {
        res->recovered = 1;
        res->missed = 0;
        from = after_seq + 1;
    } else {
        res->recovered = 0;
        res->missed = (int64_t)(first - 1 - after_seq);
        from = first;
    }
    if (!s || !cb || from > last)
        return 0;
    for (uint64_t seq = from; seq <= last; seq++) {
        const msg_t *m = s_ring_at(s, (uint32_t)(seq - first));
        res->replayed++;
        if (cb(arg, seq, m->data, m->len) != 0)
            break;
    }
    return 0;
}

void
hist_expire(hist_t *self, int64_t now_ms)
{
    s_expire(self, s_now(self, now_ms));
}

void
hist_stats(const hist_t *self, hist_stats_t *st)
{
    st->messages = self->messages;
    st->payload = self->payload;
    st->bytes = self->bytes;
    st->streams = self->count;
    st->empty = self->empty;
    st->appended = self->appended;
    st->evicted_size = self->evicted[EV_SIZE];
    st->evicted_ttl = self->evicted[EV_TTL];
    st->evicted_memory = self->evicted[EV_MEMORY];
    st->dropped = self->dropped;
}

int
hist_parse_since(const char *s, size_t len, const char **epoch, size_t *epoch_len,
                 uint64_t *seq)
{
    return valid_since(s, len, epoch, epoch_len, seq) ? 0 : -1;
}
