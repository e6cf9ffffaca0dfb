/* push — publishing a message or a query on the bus, for client frames and
 * for the HTTP API's backend pushes: stamps the envelope (mid, sender, time)
 * and, when an answer is wanted, files the request in pending with its ack
 * state, so that deliver.c can match receipts and replies to it.
 *
 * Worker process only; calls bus and pending. Every function returns 0 once
 * ZeroMQ took the message, or -1 when it could not be sent (the broker is
 * unreachable, its queue is full, or out of memory): the caller answers
 * `unavailable` and nothing was filed. */
#ifndef ZWSD_PUSH_H
#define ZWSD_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "envelope.h"
#include "idgen.h"
#include "pending.h"

#define PUSH_ACK_MS   900       /* an answer within 1 s of the send */
#define PUSH_QUERY_MS 1000

typedef struct {
    bus_t         *bus;
    pending_t     *pending;
    idgen_t       *ids;
    const int64_t *now;
} push_t;

/* Who waits for the answer: a client conn (fd, gen, its id) or an API
 * connection (fd, gen). */
typedef struct {
    pq_kind_t   kind;           /* 0: no answer wanted */
    int         fd;
    uint32_t    gen;
    const char *id;             /* client's id, NULL for none */
    size_t      id_len;
} push_waiter_t;

/* A chat (target = receiver), group (target = group) or broadcast (target
 * NULL, tlen 0) from sender, msg being valid JSON text. mid (IDGEN_LEN
 * bytes) receives the message id. A chat with a waiter is filed with an ack
 * deadline of PUSH_ACK_MS, and keeps what a copy of it needs (pending_keep;
 * without memory for it the chat simply gets no copy). */
int push_message(push_t *p, env_kind_t kind, const char *target, size_t tlen,
                 const char *sender, size_t slen, const char *msg, size_t msg_len, char *mid,
                 const push_waiter_t *waiter);
/* The copy of a filed chat (ack.h's ACK_RETRY): the same envelope, same mid,
 * req and time, marked retry. 0 once ZeroMQ took it, -1 otherwise. */
int push_retry(push_t *p, const pq_t *q);
/* A history query (ENVELOPE.md) for stream (a topic: "u:bob|", "g:team|"),
 * with since ("EPOCH:SEQ", checked by the caller) or NULL for the stream's
 * position only; answered by items and an end matched by the request
 * number it returns (0: not sent). */
#define PUSH_HISTORY_MS 3000
uint64_t push_history(push_t *p, const char *stream, size_t slen, const char *since,
                      const push_waiter_t *waiter);
/* ENV_ONLINE or ENV_PRESENCE (users) to the broker. */
int push_query(push_t *p, env_kind_t kind, const env_str_t *users, size_t n,
               const push_waiter_t *waiter);

#endif
