/* pending — see pending.h. A ring of slots indexed by req - base. */
#include "pending.h"

#include <stdlib.h>
#include <string.h>


struct pending {
    pq_t    *ring;
    size_t   cap;           /* power of two */
    uint64_t base;          /* req of the oldest slot in use */
    uint64_t next;          /* req the next add gets */
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
    q->req = 0;
    while (self->base < self->next && self->ring[self->base & (self->cap - 1)].req == 0)
        self->base++;
}

pq_t *
pending_expired(pending_t *self, int64_t now)
{
    /* deadlines are not strictly ordered by req (different kinds have
     * different timeouts), so only the head is checked: a later entry with
     * an earlier deadline waits at most for the head's */
    while (self->base < self->next) {
        pq_t *q = &self->ring[self->base & (self->cap - 1)];
        if (q->req == 0) {
            self->base++;
            continue;
        }
        return q->deadline <= now ? q : NULL;
    }
    return NULL;
}
