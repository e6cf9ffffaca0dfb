/* pending — requests a worker is waiting on: chat acks (a receipt from the
 * receiver's worker or the broker), presence and online-count queries.
 *
 * Worker process only; pure bookkeeping. Request numbers grow by one, so
 * the table is a deque indexed by number: add and find are O(1), and
 * entries expire in order. A request refers to its conn by (fd, gen) so a
 * conn that went away in the meantime is simply not found. pending_add()
 * may move the table: a pq_t pointer is valid only until the next
 * pending_add(). The verdict of a chat's ack is ack.h's, in q->ack. */
#ifndef ZWSD_PENDING_H
#define ZWSD_PENDING_H

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
} pq_kind_t;

typedef struct {
    uint64_t  req;              /* 0 = free slot */
    pq_kind_t kind;
    int       fd;
    uint32_t  gen;
    int64_t   deadline;
    ack_t     ack;              /* chats and pushes: the verdict so far */
    char      id[65];           /* client's id ("" = none) */
    char      mid[40];
} pq_t;

pending_t *pending_new(void);
void       pending_destroy(pending_t **self_p);
/* A new request; NULL on ENOMEM. Its req is set. */
pq_t      *pending_add(pending_t *self, pq_kind_t kind, int64_t deadline);
pq_t      *pending_find(pending_t *self, uint64_t req);
void       pending_done(pending_t *self, pq_t *q);
/* The oldest request past its deadline, or NULL; call pending_done on it. */
pq_t      *pending_expired(pending_t *self, int64_t now);

#endif
