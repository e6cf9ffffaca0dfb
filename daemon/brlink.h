/* brlink — a worker's two ZeroMQ sockets to one broker, in its epoll loop.
 *
 * bus.h holds a brlink per broker of every shard and decides which one a
 * topic goes through; this module knows one broker only.
 *
 * Worker process only; the caller's ZeroMQ context (created after fork)
 * is shared by every brlink of the process. A PUB connects to the broker's publish endpoint, a SUB to its
 * subscribe endpoint, both CURVE clients with cfg->curve's keys when given
 * (curve.h; brlink_new() copies them into the sockets, the caller keeps its
 * copy); the SUB's ZMQ_FD goes into epoll (edge-triggered:
 * brlink_drain() reads while ZMQ_EVENTS says so). Subscriptions have no HWM
 * (libzmq drops them silently at one, #4064) and libzmq replays them to a
 * restarted broker by itself. Data is bounded both ways: the PUB queue
 * (NODROP: a full queue is an error the caller answers `unavailable`) and
 * the SUB's receive queue (rcvhwm messages; past it the broker holds, then
 * drops, what is for us — see zwsd-broker(8)).
 *
 * brlink_drain() decodes each message and hands it to the on_message callback
 * the owner registered, with two exceptions it handles itself: the broker's
 * hello (a re-attach: a disturbance of the link) and the return of any
 * probe this worker published (it updates the link, then is still handed
 * on, so the owner can make a route live). The callback must not destroy
 * the bus; it may publish, subscribe and unsubscribe.
 *
 * Liveness and routing proofs are ack.h's ack_link_t: brlink_probe() publishes
 * a probe numbered by its place in the publish order. brlink_publish()
 * returns 0 when the message is queued in order, -1 when it is not (no
 * memory, or ZeroMQ has refused the queue's head for OUTQ_MAX messages). */
#ifndef ZWSD_BRLINK_H
#define ZWSD_BRLINK_H

#include <stddef.h>
#include <stdint.h>

#include "ack.h"
#include "curve.h"
#include "envelope.h"
#include "shard.h"
#include "topic.h"

/* A dead peer or a cut link is detected in about this long (ZMTP
 * heartbeats, tcp://); probes tell the rest (ack.h). */
#define BRLINK_HEARTBEAT_MS 1000

typedef struct brlink brlink_t;

/* A message from the bus, decoded (e) and as it came (raw, rawlen: the
 * envelope's bytes, valid during the call); shard is the brlink's
 * cfg.shard. */
typedef void (brlink_on_message_fn)(void *arg, int shard, const char *topic, size_t tlen,
                                    const env_t *e, const char *raw, size_t rawlen);

typedef struct {
    void       *ctx;                /* the process's ZeroMQ context */
    const char *pub_ep, *sub_ep;    /* copied */
    const char *origin;             /* this worker's inbox id */
    const int64_t *now;             /* the owner's loop clock (ms) */
    int         rcvhwm;             /* SUB receive queue, messages; 0 = none */
    int         shard;              /* handed to on_message */
    brlink_on_message_fn *on_message;
    void       *arg;
    const curve_client_t *curve;    /* --broker-curve keys, or NULL */
} brlink_cfg_t;

brlink_t *brlink_new(const brlink_cfg_t *cfg);     /* NULL on failure (logged) */
void      brlink_destroy(brlink_t **self_p);
int       brlink_fd(brlink_t *self);                /* ZMQ_FD of the SUB, for epoll */
int       brlink_subscribe(brlink_t *self, const char *topic, size_t len);
int       brlink_unsubscribe(brlink_t *self, const char *topic, size_t len);
int       brlink_publish(brlink_t *self, const char *topic, size_t len, const env_t *e);
/* As bus_flush() (bus.h), for this broker's queue. */
int64_t   brlink_flush(brlink_t *self, int64_t now_us, int64_t window_us);
/* Publish a probe to topic; returns its number (0 if not sent). */
uint64_t  brlink_probe(brlink_t *self, const char *topic, size_t len);
void      brlink_drain(brlink_t *self);
/* Every turn: the inbox probe (every 100 ms) and, once up, the worker's
 * counts to the broker (every second). */
void      brlink_tick(brlink_t *self, int64_t nsessions, int64_t nusers);
int       brlink_up(brlink_t *self);
int       brlink_pending(brlink_t *self);           /* messages left after a drain */
uint64_t  brlink_seq(brlink_t *self);               /* messages published so far */
const ack_link_t *brlink_link(brlink_t *self);
void      brlink_stalled(brlink_t *self);
const char *brlink_name(const brlink_t *self);      /* its PUB endpoint, for logs */

#endif
