/* bus — a worker's two ZeroMQ sockets to the broker, in its epoll loop.
 *
 * Worker process only; bus_new() creates the ZeroMQ context, so call it
 * after fork. A PUB connects to the broker's publish endpoint, a SUB to its
 * subscribe endpoint, both CURVE clients with cfg->curve's keys when given
 * (curve.h; bus_new() copies them into the sockets, the caller keeps its
 * copy); the SUB's ZMQ_FD goes into epoll (edge-triggered:
 * bus_drain() reads while ZMQ_EVENTS says so). Subscriptions have no HWM
 * (libzmq drops them silently at one, #4064) and libzmq replays them to a
 * restarted broker by itself. Data is bounded both ways: the PUB queue
 * (NODROP: a full queue is an error the caller answers `unavailable`) and
 * the SUB's receive queue (rcvhwm messages; past it the broker holds, then
 * drops, what is for us — see zwsd-broker(8)).
 *
 * bus_drain() decodes each message and hands it to the on_message callback
 * the owner registered, with two exceptions it handles itself: the broker's
 * hello (a re-attach: a disturbance of the link) and the return of any
 * probe this worker published (it updates the link, then is still handed
 * on, so the owner can make a route live). The callback must not destroy
 * the bus; it may publish, subscribe and unsubscribe.
 *
 * Liveness and routing proofs are ack.h's ack_link_t: bus_probe() publishes
 * a probe numbered by its place in the publish order. bus_publish()
 * returns 0 when the message is queued in order, -1 when it is not (no
 * memory, or ZeroMQ has refused the queue's head for OUTQ_MAX messages). */
#ifndef ZWSD_BUS_H
#define ZWSD_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "ack.h"
#include "curve.h"
#include "envelope.h"
#include "topic.h"

typedef struct bus bus_t;

typedef void (bus_on_message_fn)(void *arg, const char *topic, size_t tlen, const env_t *e);

typedef struct {
    const char *pub_ep, *sub_ep;
    const char *origin;             /* this worker's inbox id */
    const int64_t *now;             /* the owner's loop clock (ms) */
    int         rcvhwm;             /* SUB receive queue, messages; 0 = none */
    bus_on_message_fn *on_message;
    void       *arg;
    const curve_client_t *curve;    /* --broker-curve keys, or NULL */
} bus_cfg_t;

bus_t *bus_new(const bus_cfg_t *cfg);       /* NULL on failure (logged) */
void   bus_destroy(bus_t **self_p);
int    bus_fd(bus_t *self);                 /* ZMQ_FD of the SUB, for epoll */
int    bus_subscribe(bus_t *self, const char *topic, size_t len);
int    bus_unsubscribe(bus_t *self, const char *topic, size_t len);
int    bus_publish(bus_t *self, const char *topic, size_t len, const env_t *e);
/* Publishing queues; bus_flush() hands the queue to ZeroMQ, at most once
 * per window_us: the first message after a quiet spell goes at once, the
 * ones behind it within window_us, in one burst (0: every call flushes).
 * Call it at the end of every loop turn; it returns the microseconds until
 * it wants to run again, or -1 when nothing is queued. */
int64_t bus_flush(bus_t *self, int64_t now_us, int64_t window_us);
/* Publish a probe to topic; returns its number (0 if not sent). */
uint64_t bus_probe(bus_t *self, const char *topic, size_t len);
void   bus_drain(bus_t *self);
/* Every turn: the inbox probe (every 100 ms) and, once up, the worker's
 * counts to the broker (every second). */
void   bus_tick(bus_t *self, int64_t nsessions, int64_t nusers);
int    bus_up(bus_t *self);
int    bus_pending(bus_t *self);            /* messages left after a drain */
/* Messages published so far (the number of the last one). */
uint64_t bus_seq(bus_t *self);
const ack_link_t *bus_link(bus_t *self);
/* The owner's loop did not turn for a long time: a disturbance. */
void   bus_stalled(bus_t *self);
/* Message number seq, published at sent_ms, provably went through. */
int    bus_routed(bus_t *self, uint64_t seq, int64_t sent_ms);

#endif
