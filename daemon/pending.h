/* pending — requests a worker is waiting on: chat acks (a receipt from the
 * receiver's worker or the broker), presence and online-count queries.
 *
 * Worker process only; pure bookkeeping. Request numbers grow by one, so
 * the table is a deque indexed by number: add and find are O(1), and
 * entries expire in order. A request refers to its conn by (fd, gen) so a
 * conn that went away in the meantime is simply not found. pending_add()
 * may move the table: a pq_t pointer is valid only until the next
 * pending_add(). The verdict of a chat's ack is ack.h's, in q->ack.
 *
 * Expiry goes in request order, by each request's first deadline. A request
 * whose deadline is moved later (pending_park: a chat waiting for the answer
 * to its copy) steps out of that order: expiry passes it by until it is due.
 * A chat may keep what its copy needs (pending_keep), owned by the table
 * and freed with the request; at most PENDING_KEEP_MAX bytes in all. */
#ifndef ZWSD_PENDING_H
#define ZWSD_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "ack.h"

typedef struct pending pending_t;

typedef enum {
    PQ_CHAT = 1,        /* a client's chat with an id: ack */
    PQ_PRESENCE,        /* a client's presence query */
    PQ_ONLINE,          /* the worker's own online-count query (debug log) */
    PQ_API_SEND,        /* an HTTP push to a user: its real outcome */
    PQ_API_ONLINE,      /* GET /api/v1/online */
    PQ_API_PRESENCE,    /* GET /api/v1/presence */
    PQ_HISTORY,         /* a session's history query: items, then welcome */
    PQ_API_HISTORY,     /* GET /api/v1/history */
    PQ_JOIN_HISTORY,    /* a resuming join's history query */
} pq_kind_t;

typedef struct {
    uint64_t  req;              /* 0 = free slot */
    pq_kind_t kind;
    int       fd;
    uint32_t  gen;
    int64_t   deadline;
    ack_t     ack;              /* chats and pushes: the verdict so far */
    char     *kept;             /* pending_keep()'s bytes, or NULL */
    uint32_t  kept_len;
    uint8_t   parked;           /* deadline moved: not in expiry order */
    uint8_t   stored;           /* the broker kept the chat in the receiver's stream */
    uint8_t   held;             /* its verdict waited a turn already (deliver.c) */
    uint8_t   shard;            /* where it went: bus_publish_seq's ticket */
    uint8_t   due;              /* presence: shards still to answer */
    uint32_t  to_hash;          /* chats: pending_hash() of the receiver */
    char      id[65];           /* client's id ("" = none) */
    char      mid[40];
} pq_t;

#define PENDING_KEEP_MAX (16u << 20)

pending_t *pending_new(void);
void       pending_destroy(pending_t **self_p);
/* A new request; NULL on ENOMEM. Its req is set. */
pq_t      *pending_add(pending_t *self, pq_kind_t kind, int64_t deadline);
pq_t      *pending_find(pending_t *self, uint64_t req);
void       pending_done(pending_t *self, pq_t *q);
/* The oldest request past its deadline, or NULL; call pending_done or
 * pending_park on it before asking again. */
pq_t      *pending_expired(pending_t *self, int64_t now);
/* q's new deadline, later than now; expiry passes it by until then. */
void       pending_park(pending_t *self, pq_t *q, int64_t deadline);
/* n bytes kept with q until it is done, for the caller to fill (q->kept);
 * NULL on ENOMEM, once PENDING_KEEP_MAX is reached, or if q keeps some. */
char      *pending_keep(pending_t *self, pq_t *q, size_t n);
size_t     pending_kept(const pending_t *self);    /* bytes kept in all */
uint32_t   pending_hash(const char *s, size_t n);   /* FNV-1a, for to_hash */
/* 1 if a request of q's kind for q's waiter (fd, gen) and receiver
 * (to_hash), filed after q, was answered `delivered` (ack verdict) already:
 * a chat's copy must not overtake a later chat of the same session to the
 * same user. A done slot keeps its kind, waiter, receiver and verdict until
 * the oldest request is done, so none after q is missed (a hash collision
 * only errs on the side of no copy). It scans the requests filed after q:
 * call it rarely. */
int        pending_later_delivered(const pending_t *self, const pq_t *q);

#endif
