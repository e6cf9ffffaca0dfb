/* bus — a worker's way to the broker tier: the shards of --broker
 * (shard.h), each one broker or a pair, one brlink (brlink.h) per broker,
 * and which of them each message goes through.
 *
 * Worker process only; bus_new() creates the ZeroMQ context, so call it
 * after fork. Every topic belongs to one shard (shard_of): a user's and a
 * group's messages, subscriptions, probes and history queries go through
 * that shard only, so a dead shard makes only its own topics unavailable.
 * Three things are on every shard: the worker's inbox and the broadcast
 * topic are subscribed on each, and each broker gets the worker's counts
 * (so any shard answers the cluster's online count). What answers a
 * message — a receipt, a presence or history reply — goes back through the
 * shard the message came through: on_message says which, and
 * bus_publish_via() takes it. A broadcast is published to the shard of
 * "b|" once, and reaches every worker once through it.
 *
 * A pair: everything for the shard is published to both brokers and
 * subscribed on both, so either alone carries the shard. Each broker
 * numbers its streams itself (its own epoch); clients see one numbering,
 * the active broker's: the primary (listed first) while it answers, else
 * the backup. A message (by mid; a chat's copy is another) is handed on
 * once, the first copy to come, except that the backup's copy waits up to
 * HOLD_MS for the primary's while the primary answers. Answers to questions
 * (presence, online, history) are taken from the active broker only, and so
 * is a broker's `offline`; a broker's `unavailable` only when its partner
 * does not answer either; workers' receipts, kicks and probes from either. After a failover clients see the
 * backup's epoch, and a resume from the primary's numbers answers
 * recovered:false there (zwsd-broker(8), "Shards and pairs").
 *
 * Liveness is per broker: a chat's ack is judged on the link of the
 * active broker of its shard when it was sent (bus_publish_seq's ticket
 * and its place in that broker's publish order, for bus_link()). A shard
 * is up while one of its brokers answers; bus_up() is every shard's. The
 * callback must not destroy the bus; it may publish, subscribe and
 * unsubscribe. */
#ifndef ZWSD_BUS_H
#define ZWSD_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "ack.h"
#include "brlink.h"
#include "curve.h"
#include "envelope.h"
#include "shard.h"
#include "topic.h"

typedef struct bus bus_t;

typedef void (bus_on_message_fn)(void *arg, int shard, const char *topic, size_t tlen,
                                 const env_t *e);

typedef struct {
    const shard_spec_t *spec;       /* copied */
    const char *origin;             /* this worker's inbox id */
    const int64_t *now;             /* the owner's loop clock (ms) */
    int         rcvhwm;             /* SUB receive queue per broker, messages */
    bus_on_message_fn *on_message;
    void       *arg;
    const curve_client_t *curve;    /* --broker-curve keys, or NULL */
} bus_cfg_t;

bus_t *bus_new(const bus_cfg_t *cfg);       /* NULL on failure (logged) */
void   bus_destroy(bus_t **self_p);
int    bus_shards(bus_t *self);
/* The ZMQ_FDs for epoll (edge-triggered), one per broker: up to max in
 * fds; returns how many. Any of them readable: call bus_drain(). */
int    bus_fds(bus_t *self, int *fds, int max);
int    bus_shard_of(bus_t *self, const char *topic, size_t len);
int    bus_subscribe(bus_t *self, const char *topic, size_t len);
int    bus_unsubscribe(bus_t *self, const char *topic, size_t len);
/* Through topic's shard; 0 once queued in order, -1 when not (no memory,
 * or ZeroMQ refused the queue's head for long). */
int    bus_publish(bus_t *self, const char *topic, size_t len, const env_t *e);
/* The same, and where it went: a ticket for bus_link() (the shard's
 * active broker then) and its number in that broker's publish order (for
 * ack_init). */
int    bus_publish_seq(bus_t *self, const char *topic, size_t len, const env_t *e, int *ticket,
                       uint64_t *seq);
/* Through a given shard: answers go back the way their question came. */
int    bus_publish_via(bus_t *self, int shard, const char *topic, size_t len, const env_t *e);
/* Publishing queues; bus_flush() hands every shard's queue to ZeroMQ, at
 * most once per window_us each: the first message after a quiet spell
 * goes at once, the ones behind it within window_us, in one burst (0:
 * every call flushes). Call it at the end of every loop turn; it returns
 * the microseconds until it wants to run again, or -1 when nothing is
 * queued. */
int64_t bus_flush(bus_t *self, int64_t now_us, int64_t window_us);
/* Publish a probe to topic (through its shard); returns its number (0 if
 * not sent). */
uint64_t bus_probe(bus_t *self, const char *topic, size_t len);
void   bus_drain(bus_t *self);
/* Every turn: each broker's inbox probe and the worker's counts. */
void   bus_tick(bus_t *self, int64_t nsessions, int64_t nusers);
int    bus_up(bus_t *self);                 /* every shard answers */
int    bus_up_for(bus_t *self, int shard);
int    bus_up_topic(bus_t *self, const char *topic, size_t len);
int    bus_pending(bus_t *self);            /* messages left after a drain */
const ack_link_t *bus_link(bus_t *self, int ticket);        /* bus_publish_seq's */
const ack_link_t *bus_shard_link(bus_t *self, int shard);   /* its active broker's */
/* The owner's loop did not turn for a long time: a disturbance. */
void   bus_stalled(bus_t *self);

#endif
