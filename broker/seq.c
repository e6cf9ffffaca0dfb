/* seq — see seq.h.
 *
 * An answer is a small state machine, s_step(): replay what follows `after`
 * in `epoch`, as far as the sends go, then the end. A step that sent
 * nothing changes nothing (it is tried again as it was); a step that sent
 * some items moves `after` to the last one and takes the stream's current
 * epoch; so each step starts where the subscriber's view stands. The first
 * step's verdict is the query's (history.h: recovered, missed); a later one
 * can only make it worse (messages evicted while the answer waited). */
#include "seq.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "jscan.h"
#include "log.h"
#include "valid.h"

#define EXPIRE_EVERY_MS 1000
#define WARN_EVERY_MS   10000
/* What a worker shows as it is (daemon/deliver.c): a mid of 1–39 bytes of
 * valid_id() (its idgen.h buffers), a createTime in years 1970–9999. It
 * replaces anything else by a value of its own, a different one on every
 * worker and every replay: so the broker fills those in, once. */
#define MID_MAX         39
#define TIME_END_MS     253402300800000LL

enum { ANS_REPLAY, ANS_POSITION, ANS_ERROR };
enum { STEP_DONE, STEP_PROGRESS, STEP_BLOCKED };

typedef struct ans ans_t;
struct ans {
    ans_t    *next;                 /* in its origin's FIFO */
    uint64_t  req;
    uint64_t  after;                /* ANS_REPLAY: replay what follows this seq */
    int64_t   missed;               /* the verdict so far, once judged */
    int       mode, judged, recovered;
    size_t    stream_len, epoch_len, origin_len;
    char      stream[TOPIC_MAX];
    char      epoch[HIST_EPOCH_MAX + 1];
    char      origin[VALID_NAME_MAX + 1];
};

/* The answers in progress for one origin (one worker's inbox), oldest
 * first: they go out in the order their queries came. */
typedef struct inbox inbox_t;
struct inbox {
    inbox_t  *next;
    ans_t    *head, *tail;
    size_t    count;
    int64_t   progress_at;          /* when one of them last sent something */
};

struct seq {
    hist_t          *hist;
    char             run_id[HIST_RUN_ID_MAX + 1];
    seq_send_fn      send;
    void            *arg;
    msgpack_sbuffer  sbuf;          /* the stamped envelope, or an answer message */
    inbox_t         *inboxes;
    size_t           in_progress;
    int64_t          next_expire, warned_at;
    uint64_t         stamped, queries, malformed, items, paused, abandoned;
};

static int
s_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* HIST_RUN_ID_MAX base62 characters (65 bits): every run of a broker
 * numbers its streams under epochs no earlier run used. Bytes from 248 on
 * are drawn again (248 = 4 x 62): no bias. */
static int
s_run_id(char *out)
{
    static const char digits[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t n = 0;
    while (n < HIST_RUN_ID_MAX) {
        unsigned char r[16];
        if (s_random(r, sizeof r) < 0)
            return -1;
        for (size_t i = 0; i < sizeof r && n < HIST_RUN_ID_MAX; i++)
            if (r[i] < 248)
                out[n++] = digits[r[i] % 62];
    }
    out[n] = '\0';
    return 0;
}

seq_t *
seq_new(uint32_t size, int64_t ttl_ms, size_t memory, seq_send_fn send, void *arg)
{
    seq_t *self = calloc(1, sizeof *self);
    hist_cfg_t cfg;
    if (!self)
        return NULL;
    hist_cfg_default(&cfg);
    cfg.size = size;
    cfg.ttl_ms = ttl_ms;
    cfg.mem_cap = memory;
    if (s_random(cfg.seed, sizeof cfg.seed) < 0 || s_run_id(self->run_id) < 0
        || !(self->hist = hist_new(&cfg, self->run_id))) {
        explicit_bzero(cfg.seed, sizeof cfg.seed);
        free(self);
        return NULL;
    }
    explicit_bzero(cfg.seed, sizeof cfg.seed);  /* the store keeps its own copy */
    msgpack_sbuffer_init(&self->sbuf);
    self->send = send;
    self->arg = arg;
    log_debug("history: %u messages per stream, %lld s, %zu bytes; this run's epochs are %s.N",
              size, (long long)(ttl_ms / 1000), memory, self->run_id);
    return self;
}

void
seq_destroy(seq_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    seq_t *self = *self_p;
    while (self->inboxes) {
        inbox_t *ib = self->inboxes;
        self->inboxes = ib->next;
        while (ib->head) {
            ans_t *a = ib->head;
            ib->head = a->next;
            free(a);
        }
        free(ib);
    }
    hist_destroy(&self->hist);
    msgpack_sbuffer_destroy(&self->sbuf);
    free(self);
    *self_p = NULL;
}

int
seq_is_stream_msg(topic_kind_t kind, const char *name, size_t name_len, const char *data,
                  size_t len, env_t *e)
{
    if (env_decode(data, len, e) < 0) {
        e->kind = ENV_NONE;
        return 0;
    }
    /* and what a worker delivers (daemon/deliver.c s_valid_message()): a
     * message it drops must not take a number, or its stream would show a
     * hole that no eviction explains */
    env_kind_t want = kind == TOPIC_USER ? ENV_CHAT : kind == TOPIC_GROUP ? ENV_GROUP : ENV_NONE;
    return want != ENV_NONE && e->kind == want && valid_name(name, name_len)
           && e->to.p && e->to.n == name_len && !memcmp(e->to.p, name, name_len)
           && (!e->sender.p || valid_name(e->sender.p, e->sender.n))
           && e->msg.p && e->msg.n > 0 && js_valid(e->msg.p, e->msg.n);
}

/* hist_since()'s callback for s_copy_of(): the held message whose mid is
 * the copy's. */
typedef struct {
    env_str_t mid;
    uint64_t  seq;
} s_find_t;

static int
s_find_mid(void *arg, uint64_t seq, const void *payload, size_t len)
{
    s_find_t *f = arg;
    env_t it;
    if (env_decode(payload, len, &it) == 0 && it.mid.p && it.mid.n == f->mid.n
        && !memcmp(it.mid.p, f->mid.p, f->mid.n)) {
        f->seq = seq;
        return 1;
    }
    return 0;
}

/* A `retry` copy (ENVELOPE.md) of a chat this stream holds already: its
 * seq, so the copy is forwarded under the first's number and never kept
 * twice (a replay would show it twice, and a session that had the first
 * drops it by seq). 0 when not held (or not a copy). Copies are rare: a
 * walk of the stream, at most --history-size messages, is fine. */
static uint64_t
s_copy_of(seq_t *self, const char *topic, size_t topic_len, const env_t *e,
          const hist_pos_t *at, int64_t now_ms)
{
    if (!e->retry || !e->mid.p || !valid_id(e->mid.p, e->mid.n) || at->seq == 0)
        return 0;
    s_find_t f = { e->mid, 0 };
    hist_result_t res;
    if (hist_since(self->hist, topic, topic_len, at->epoch, at->epoch_len, 0, now_ms,
                   s_find_mid, &f, &res) < 0)
        return 0;
    return f.seq;
}

int
seq_stamp(seq_t *self, const char *topic, size_t topic_len, const char *data, size_t len,
          const env_t *e, int64_t now_ms, const char **out, size_t *out_len, int *stored)
{
    hist_pos_t at, got;
    char mid[MID_MAX + 1];
    env_stamp_t st = { 0 };
    if (stored)
        *stored = 0;
    /* history.h: with no other call in between, the append takes at.seq + 1
     * under at.epoch, so the bytes kept are the bytes forwarded */
    if (hist_last(self->hist, topic, topic_len, &at) < 0)
        return -1;
    st.epoch = (env_str_t){ at.epoch, (uint32_t)at.epoch_len };
    uint64_t first = s_copy_of(self, topic, topic_len, e, &at, now_ms);
    if (first) {
        st.seq = first;                 /* the copy goes as the first went */
        self->sbuf.size = 0;
        if (env_stamp(data, len, &st, &self->sbuf) < 0)
            return -1;
        if (stored)
            *stored = 1;
        *out = self->sbuf.data;
        *out_len = self->sbuf.size;
        return 0;
    }
    st.seq = at.seq + 1;
    if (!e->mid.p || e->mid.n > MID_MAX || !valid_id(e->mid.p, e->mid.n)) {
        /* unique: the run id is, and so is the count within the run */
        int n = snprintf(mid, sizeof mid, "%s-%llx", self->run_id,
                         (unsigned long long)self->stamped + 1);
        st.mid = (env_str_t){ mid, (uint32_t)n };
    }
    if (e->time <= 0 || e->time >= TIME_END_MS)
        st.time = clock_wall_ms();
    self->sbuf.size = 0;
    if (env_stamp(data, len, &st, &self->sbuf) < 0)
        return -1;
    if (hist_append(self->hist, topic, topic_len, self->sbuf.data, self->sbuf.size, now_ms,
                    &got) < 0) {
        if (now_ms - self->warned_at >= WARN_EVERY_MS || !self->warned_at) {
            self->warned_at = now_ms;
            log_warn("history: cannot number a message of %.*s", (int)topic_len, topic);
        }
        return -1;
    }
    assert(got.seq == at.seq + 1 && got.epoch_len == at.epoch_len
           && !memcmp(got.epoch, at.epoch, at.epoch_len));
    self->stamped++;
    if (stored) {
        /* held exactly when a replay from the seq before it has no gap */
        hist_result_t res;
        *stored = hist_since(self->hist, topic, topic_len, got.epoch, got.epoch_len,
                             got.seq - 1, now_ms, NULL, NULL, &res) == 0 && res.recovered;
    }
    *out = self->sbuf.data;
    *out_len = self->sbuf.size;
    return 0;
}

/* ---- answers ---------------------------------------------------------- */

typedef struct {
    seq_t       *self;
    const ans_t *a;
    const char  *topic;
    size_t       topic_len;
    size_t       sent;
    uint64_t     last;              /* seq of the last item sent */
    int          blocked;
} walk_t;

/* hist_since()'s callback: one history item; stops the walk when the send
 * would block. */
static int
s_item(void *arg, uint64_t seq, const void *payload, size_t len)
{
    walk_t *w = arg;
    seq_t *self = w->self;
    env_t it;
    env_init(&it, ENV_HISTORY);
    it.req = w->a->req;
    it.item = (env_str_t){ payload, (uint32_t)len };
    self->sbuf.size = 0;
    if (env_encode(&it, &self->sbuf) < 0
        || self->send(self->arg, w->topic, w->topic_len, self->sbuf.data, self->sbuf.size) < 0) {
        w->blocked = 1;
        return 1;
    }
    w->sent++;
    w->last = seq;
    self->items++;
    return 0;
}

static void
s_judge(ans_t *a, const hist_result_t *res)
{
    if (!a->judged) {
        a->judged = 1;
        a->recovered = res->recovered;
        a->missed = res->recovered ? 0 : res->missed;
    } else if (!res->recovered) {
        a->recovered = 0;
        a->missed = a->missed < 0 || res->missed < 0 ? -1 : a->missed + res->missed;
    }
}

/* Send what can be sent of answer a: STEP_DONE (the end went out),
 * STEP_PROGRESS (items went out, not all), STEP_BLOCKED (nothing did). */
static int
s_step(seq_t *self, ans_t *a, int64_t now_ms)
{
    char topic[TOPIC_MAX];
    size_t tn = topic_make(topic, TOPIC_WORKER, a->origin, a->origin_len);
    int progress = 0;
    hist_pos_t pos;                 /* lends its epoch to the end */
    env_t end;
    env_init(&end, ENV_HISTORY);
    end.req = a->req;
    end.status = env_cstr("done");
    if (a->mode == ANS_POSITION) {
        if (hist_last(self->hist, a->stream, a->stream_len, &pos) < 0) {
            end.status = env_cstr("error");     /* not for a stream seq_query() took */
        } else {
            end.epoch = (env_str_t){ pos.epoch, (uint32_t)pos.epoch_len };
            end.seq = pos.seq;
            end.recovered = 1;
            end.missed = 0;
        }
    } else if (a->mode == ANS_REPLAY) {
        walk_t w = { self, a, topic, tn, 0, 0, 0 };
        hist_result_t res;
        if (hist_since(self->hist, a->stream, a->stream_len, a->epoch, a->epoch_len,
                       a->after, now_ms, s_item, &w, &res) < 0) {
            end.status = env_cstr("error");
        } else {
            if (w.blocked && !w.sent)
                return STEP_BLOCKED;
            s_judge(a, &res);
            memcpy(a->epoch, res.last.epoch, res.last.epoch_len + 1);
            a->epoch_len = res.last.epoch_len;
            a->after = w.blocked ? w.last : res.last.seq;
            if (w.blocked)
                return STEP_PROGRESS;
            progress = w.sent > 0;
            end.epoch = (env_str_t){ a->epoch, (uint32_t)a->epoch_len };
            end.seq = res.last.seq;
            end.recovered = (int8_t)a->recovered;
            end.missed = a->missed;
        }
    } else {
        end.status = env_cstr("error");
    }
    self->sbuf.size = 0;
    if (env_encode(&end, &self->sbuf) < 0
        || self->send(self->arg, topic, tn, self->sbuf.data, self->sbuf.size) < 0)
        return progress ? STEP_PROGRESS : STEP_BLOCKED;
    return STEP_DONE;
}

/* What the query asks: the stream's position, a replay, or nothing sound. */
static int
s_parse(const env_t *q, ans_t *a)
{
    topic_kind_t kind;
    const char *name, *ep;
    size_t nlen, elen;
    uint64_t after;
    if (!q->stream.p || topic_parse(q->stream.p, q->stream.n, &kind, &name, &nlen) < 0
        || (kind != TOPIC_USER && kind != TOPIC_GROUP) || !valid_name(name, nlen))
        return ANS_ERROR;
    memcpy(a->stream, q->stream.p, q->stream.n);
    a->stream_len = q->stream.n;
    if (!q->since.p)
        return ANS_POSITION;
    if (hist_parse_since(q->since.p, q->since.n, &ep, &elen, &after) < 0)
        return ANS_ERROR;
    memcpy(a->epoch, ep, elen);
    a->epoch[elen] = '\0';
    a->epoch_len = elen;
    a->after = after;
    return ANS_REPLAY;
}

static inbox_t *
s_inbox(seq_t *self, const char *origin, size_t len)
{
    for (inbox_t *ib = self->inboxes; ib; ib = ib->next)
        if (ib->head->origin_len == len && !memcmp(ib->head->origin, origin, len))
            return ib;
    return NULL;
}

static void
s_abandon(seq_t *self, const ans_t *a, const char *why, int64_t now_ms)
{
    self->abandoned++;
    if (now_ms - self->warned_at >= WARN_EVERY_MS || !self->warned_at) {
        self->warned_at = now_ms;
        log_warnx("history: answer to %s dropped: %s", a->origin, why);
    }
}

/* Queue a copy of a behind the origin's answers in progress. */
static void
s_enqueue(seq_t *self, inbox_t *ib, const ans_t *a, int64_t now_ms)
{
    ans_t *copy = NULL;
    if (self->in_progress >= SEQ_QUEUE_MAX) {
        s_abandon(self, a, "too many answers in progress", now_ms);
        return;
    }
    if (!(copy = malloc(sizeof *copy)) || (!ib && !(ib = calloc(1, sizeof *ib)))) {
        free(copy);
        s_abandon(self, a, "out of memory", now_ms);
        return;
    }
    *copy = *a;
    copy->next = NULL;
    if (!ib->head) {                        /* new: progress counts from now */
        ib->progress_at = now_ms;
        ib->next = self->inboxes;
        self->inboxes = ib;
        ib->head = copy;
    } else {
        ib->tail->next = copy;
    }
    ib->tail = copy;
    ib->count++;
    self->in_progress++;
}

void
seq_query(seq_t *self, const env_t *q, int64_t now_ms)
{
    ans_t a;
    memset(&a, 0, offsetof(ans_t, stream));
    a.stream[0] = a.epoch[0] = '\0';
    self->queries++;
    if (!q->origin.p || !valid_name(q->origin.p, q->origin.n)) {
        self->malformed++;                  /* nowhere to answer */
        return;
    }
    memcpy(a.origin, q->origin.p, q->origin.n);
    a.origin[q->origin.n] = '\0';
    a.origin_len = q->origin.n;
    a.req = q->req;
    if ((a.mode = s_parse(q, &a)) == ANS_ERROR)
        self->malformed++;
    /* behind the origin's answers still in progress, or at once */
    inbox_t *ib = s_inbox(self, a.origin, a.origin_len);
    if (!ib && s_step(self, &a, now_ms) == STEP_DONE)
        return;
    if (!ib) {
        self->paused++;
        log_debug("history: answer to %s, req %llu, waits for its subscriber's queue",
                  a.origin, (unsigned long long)a.req);
    }
    s_enqueue(self, ib, &a, now_ms);
}

size_t
seq_tick(seq_t *self, int64_t now_ms)
{
    if (now_ms >= self->next_expire) {
        hist_expire(self->hist, now_ms);
        self->next_expire = now_ms + EXPIRE_EVERY_MS;
    }
    for (inbox_t **pp = &self->inboxes; *pp;) {
        inbox_t *ib = *pp;
        while (ib->head) {
            int r = s_step(self, ib->head, now_ms);
            if (r != STEP_BLOCKED)
                ib->progress_at = now_ms;
            if (r != STEP_DONE)
                break;
            ans_t *a = ib->head;
            ib->head = a->next;
            ib->count--;
            self->in_progress--;
            free(a);
        }
        if (ib->head && now_ms - ib->progress_at >= SEQ_STALL_MS) {
            log_warnx("history: %s took nothing for %d s: %zu answers dropped",
                      ib->head->origin, SEQ_STALL_MS / 1000, ib->count);
            self->abandoned += ib->count;
            self->in_progress -= ib->count;
            while (ib->head) {
                ans_t *a = ib->head;
                ib->head = a->next;
                free(a);
            }
        }
        if (!ib->head) {
            *pp = ib->next;
            free(ib);
        } else {
            pp = &ib->next;
        }
    }
    return self->in_progress;
}

void
seq_stats(const seq_t *self, seq_stats_t *st)
{
    hist_stats(self->hist, &st->hist);
    st->stamped = self->stamped;
    st->queries = self->queries;
    st->malformed = self->malformed;
    st->items = self->items;
    st->paused = self->paused;
    st->abandoned = self->abandoned;
    st->in_progress = self->in_progress;
}
