/* bus — a worker's two ZeroMQ sockets to the broker, in its epoll loop.
 *
 * Worker process only; bus_new() creates the ZeroMQ context, so call it
 * after fork. A PUB connects to the broker's publish endpoint, a SUB to its
 * subscribe endpoint; the SUB's ZMQ_FD goes into epoll (edge-triggered:
 * bus_drain() reads while ZMQ_EVENTS says so). Subscriptions have no HWM,
 * and libzmq replays them to a restarted broker by itself.
 *
 * Liveness: the worker publishes a probe to its own inbox every 100 ms;
 * bus_up() is true while one came back within the last second, and
 * bus_routed() tells whether a message we published went through.
 * bus_publish() returns 0 when the message was handed to ZeroMQ, -1 when
 * it was not (queue full): callers answer `unavailable`. */
#ifndef ZWSD_BUS_H
#define ZWSD_BUS_H

#include <stddef.h>

#include "envelope.h"
#include "topic.h"
#include "worker.h"

bus_t *bus_new(worker_t *w);                /* NULL on failure (logged) */
void   bus_destroy(bus_t **self_p);
int    bus_fd(bus_t *self);                 /* ZMQ_FD of the SUB, for epoll */
int    bus_subscribe(bus_t *self, const char *topic, size_t len);
int    bus_unsubscribe(bus_t *self, const char *topic, size_t len);
int    bus_publish(bus_t *self, const char *topic, size_t len, const env_t *e);
void   bus_drain(bus_t *self);              /* dispatch to handle_bus() */
void   bus_tick(bus_t *self);               /* every turn: probes, stats */
int    bus_up(bus_t *self);
int    bus_pending(bus_t *self);            /* messages left after a drain */
void   bus_probe_back(bus_t *self, uint64_t seq);   /* our inbox probe returned */
/* Messages published so far (the seq of the last one). */
uint64_t bus_seq(bus_t *self);
/* Did the broker process message number seq (published at sent_ms) with an
 * intact way back to us? True when a probe published after it came back,
 * and since it was sent we neither re-attached to a broker (its welcome)
 * nor saw a gap in probe returns. */
int    bus_routed(bus_t *self, uint64_t seq, int64_t sent_ms);
int    bus_ever_up(bus_t *self);

#endif
