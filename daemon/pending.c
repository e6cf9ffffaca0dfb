/* pending — see pending.h. A ring of slots indexed by req - base, walked
 * once for expiry by a cursor in filing order; parked requests (moved
 * deadlines) are passed by there and wait in a binary heap by deadline,
 * whose entries are checked against the ring when they surface (a request
 * done or parked again meanwhile leaves a stale entry, dropped then). */
#include "pending.h"

#include <stdlib.h>
#include <string.h>


typedef struct {
    int64_t  deadline;
    uint64_t req;
} s_parked_t;

struct pending {
    pq_t       *ring;
    size_t      cap;        /* power of two */
    uint64_t    base;       /* req of the oldest slot in use */
    uint64_t    next;       /* req the next add gets */
    uint64_t    exp;        /* expiry cursor: before it, done or parked */
    s_parked_t *heap;       /* parked requests, earliest deadline on top */
    size_t      heap_n, heap_cap;
    size_t      kept;       /* bytes of pending_keep() copies */
};

pending_t *
pending_new(void)
{
    pending_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = 1024;
    self->ring = calloc(self->cap, sizeof *self->ring);
    if (!self->ring) {
        free(self);
        return NULL;
    }
    self->base = self->next = 1;
    return self;
}

void
pending_destroy(pending_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pending_t *self = *self_p;
    for (uint64_t r = self->base; r < self->next; r++)
        free(self->ring[r & (self->cap - 1)].kept);
    free(self->heap);
    free((*self_p)->ring);
    free(*self_p);
    *self_p = NULL;
}

static int
s_grow(pending_t *self)
{
    size_t cap = self->cap * 2;
    pq_t *ring = calloc(cap, sizeof *ring);
    if (!ring)
        return -1;
    for (uint64_t r = self->base; r < self->next; r++)
        ring[r & (cap - 1)] = self->ring[r & (self->cap - 1)];
    free(self->ring);
    self->ring = ring;
    self->cap = cap;
    return 0;
}

pq_t *
pending_add(pending_t *self, pq_kind_t kind, int64_t deadline)
{
    if (self->next - self->base >= self->cap && s_grow(self) < 0)
        return NULL;
    pq_t *q = &self->ring[self->next & (self->cap - 1)];
    memset(q, 0, sizeof *q);
    q->req = self->next++;
    q->kind = kind;
    q->deadline = deadline;
    q->fd = -1;
    return q;
}

pq_t *
pending_find(pending_t *self, uint64_t req)
{
    if (req < self->base || req >= self->next)
        return NULL;
    pq_t *q = &self->ring[req & (self->cap - 1)];
    return q->req == req ? q : NULL;
}

void
pending_done(pending_t *self, pq_t *q)
{
    if (q->kept) {
        self->kept -= q->kept_len;
        free(q->kept);
        q->kept = NULL;
    }
    q->req = 0;
    while (self->base < self->next && self->ring[self->base & (self->cap - 1)].req == 0)
        self->base++;
}

static int
s_before(const s_parked_t *a, const s_parked_t *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->req < b->req);
}

static int
s_heap_push(pending_t *self, int64_t deadline, uint64_t req)
{
    if (self->heap_n == self->heap_cap) {
        size_t cap = self->heap_cap ? self->heap_cap * 2 : 64;
        s_parked_t *h = realloc(self->heap, cap * sizeof *h);
        if (!h)
            return -1;
        self->heap = h;
        self->heap_cap = cap;
    }
    size_t i = self->heap_n++;
    s_parked_t e = { deadline, req };
    while (i > 0 && s_before(&e, &self->heap[(i - 1) / 2])) {
        self->heap[i] = self->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    self->heap[i] = e;
    return 0;
}

static void
s_heap_pop(pending_t *self)
{
    s_parked_t e = self->heap[--self->heap_n];
    size_t i = 0, n = self->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s_before(&self->heap[c + 1], &self->heap[c]))
            c++;
        if (!s_before(&self->heap[c], &e))
            break;
        self->heap[i] = self->heap[c];
        i = c;
    }
    if (n)
        self->heap[i] = e;
}

pq_t *
pending_expired(pending_t *self, int64_t now)
{
    /* parked requests first, earliest deadline first */
    while (self->heap_n) {
        s_parked_t top = self->heap[0];
        pq_t *q = pending_find(self, top.req);
        if (!q || !q->parked || q->deadline != top.deadline) {
            s_heap_pop(self);           /* done or parked again since */
            continue;
        }
        if (top.deadline <= now)
            return q;
        break;
    }
    /* the rest in filing order. Deadlines are not strictly ordered by req
     * (different kinds have different timeouts), so the walk stops at the
     * first request not yet due: a later entry with an earlier deadline
     * waits at most for it. The cursor only moves forward. */
    if (self->exp < self->base)
        self->exp = self->base;
    for (; self->exp < self->next; self->exp++) {
        pq_t *q = &self->ring[self->exp & (self->cap - 1)];
        if (q->req == 0 || q->parked)
            continue;
        return q->deadline <= now ? q : NULL;
    }
    return NULL;
}

void
pending_park(pending_t *self, pq_t *q, int64_t deadline)
{
    q->deadline = deadline;
    if (s_heap_push(self, deadline, q->req) == 0) {
        q->parked = 1;
        return;
    }
    /* no memory for the heap: back in filing order, where the walk finds
     * it again (holding up the ones behind it until its deadline) */
    q->parked = 0;
    if (self->exp > q->req)
        self->exp = q->req;
}

char *
pending_keep(pending_t *self, pq_t *q, size_t n)
{
    if (q->kept || n > UINT32_MAX || self->kept + n > PENDING_KEEP_MAX
        || !(q->kept = malloc(n ? n : 1)))
        return NULL;
    q->kept_len = (uint32_t)n;
    self->kept += n;
    return q->kept;
}

size_t
pending_kept(const pending_t *self)
{
    return self->kept;
}

int
pending_later_delivered(const pending_t *self, const pq_t *q)
{
    for (uint64_t r = q->req + 1; r < self->next; r++) {
        const pq_t *o = &self->ring[r & (self->cap - 1)];
        if (o->req == 0 && o->kind == q->kind && o->fd == q->fd && o->gen == q->gen
            && o->to_hash == q->to_hash && o->ack.verdict == ACK_DELIVERED)
            return 1;
    }
    return 0;
}

uint32_t
pending_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}
