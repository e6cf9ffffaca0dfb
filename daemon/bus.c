/* bus — see bus.h. */
#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "route.h"

#define PROBE_EVERY_MS 100
#define GAP_MS         250     /* probe returns further apart: a disturbance */
#define ALIVE_MS       1000
#define STATS_EVERY_MS 1000
#define DRAIN_BATCH    4096
#define PUB_HWM        100000

struct bus {
    worker_t        *w;
    void            *ctx, *pub, *sub;
    int              fd;
    msgpack_sbuffer  sbuf;
    int64_t          last_probe_sent, last_probe_back, last_stats;
    uint64_t         pub_seq;       /* messages published so far */
    uint64_t         confirmed;     /* pub_seq of the newest probe that came back */
    int64_t          recovered_at;  /* when probes came back after a gap */
    int              ever_up;
    int              was_up;
};

static int
s_setint(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

bus_t *
bus_new(worker_t *w)
{
    bus_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->w = w;
    msgpack_sbuffer_init(&self->sbuf);
    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto fail;
    self->pub = zmq_socket(self->ctx, ZMQ_PUB);
    self->sub = zmq_socket(self->ctx, ZMQ_SUB);
    if (!self->pub || !self->sub)
        goto fail;
    /* Subscriptions leave through the SUB's send side: no HWM there, or
     * they are dropped silently (libzmq #4064). Publishing is bounded:
     * NODROP turns a full queue into EAGAIN, answered `unavailable`. */
    s_setint(self->sub, ZMQ_SNDHWM, 0);
    s_setint(self->sub, ZMQ_RCVHWM, 0);
    s_setint(self->pub, ZMQ_SNDHWM, PUB_HWM);
    s_setint(self->pub, ZMQ_XPUB_NODROP, 1);
    for (int i = 0; i < 2; i++) {
        void *s = i ? self->sub : self->pub;
        s_setint(s, ZMQ_LINGER, 0);
        s_setint(s, ZMQ_RECONNECT_IVL, 100);
        s_setint(s, ZMQ_RECONNECT_IVL_MAX, 500);
        s_setint(s, ZMQ_HEARTBEAT_IVL, 1000);
        s_setint(s, ZMQ_HEARTBEAT_TIMEOUT, 3000);
    }
    bus_subscribe(self, TOPIC_HELLO, strlen(TOPIC_HELLO));    /* before connecting */
    if (zmq_connect(self->pub, w->cfg->pub_ep) < 0
        || zmq_connect(self->sub, w->cfg->sub_ep) < 0) {
        log_errx("cannot connect to the broker (%s, %s): %s", w->cfg->pub_ep,
                 w->cfg->sub_ep, zmq_strerror(errno));
        goto fail;
    }
    size_t sz = sizeof self->fd;
    if (zmq_getsockopt(self->sub, ZMQ_FD, &self->fd, &sz) < 0)
        goto fail;
    /* the worker's own inbox and broadcast, for its whole life */
    char topic[TOPIC_MAX];
    size_t n = topic_make(topic, TOPIC_WORKER, w->origin, strlen(w->origin));
    bus_subscribe(self, topic, n);
    n = topic_make(topic, TOPIC_BCAST, NULL, 0);
    bus_subscribe(self, topic, n);
    return self;
fail:
    bus_destroy(&self);
    return NULL;
}

void
bus_destroy(bus_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_t *self = *self_p;
    if (self->pub)
        zmq_close(self->pub);
    if (self->sub)
        zmq_close(self->sub);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    msgpack_sbuffer_destroy(&self->sbuf);
    free(self);
    *self_p = NULL;
}

int
bus_fd(bus_t *self)
{
    return self->fd;
}

int
bus_subscribe(bus_t *self, const char *topic, size_t len)
{
    return zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, topic, len);
}

int
bus_unsubscribe(bus_t *self, const char *topic, size_t len)
{
    return zmq_setsockopt(self->sub, ZMQ_UNSUBSCRIBE, topic, len);
}

int
bus_publish(bus_t *self, const char *topic, size_t len, const env_t *e)
{
    self->sbuf.size = 0;
    if (env_encode(e, &self->sbuf) < 0)
        return -1;
    if (zmq_send(self->pub, topic, len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    /* the first frame went, so the second cannot block or fail on HWM */
    if (zmq_send(self->pub, self->sbuf.data, self->sbuf.size, 0) < 0)
        return -1;
    self->pub_seq++;
    return 0;
}

void
bus_drain(bus_t *self)
{
    for (int i = 0; i < DRAIN_BATCH; i++) {
        zmq_msg_t topic, env;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, self->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return;
        }
        if (!zmq_msg_more(&topic) && zmq_msg_size(&topic) == strlen(TOPIC_HELLO)
            && !memcmp(zmq_msg_data(&topic), TOPIC_HELLO, strlen(TOPIC_HELLO))) {
            /* (re)attached to a broker: what was in flight before may be
             * lost, and our subscriptions are being replayed */
            if (self->ever_up)
                log_info("attached to the broker again");
            self->recovered_at = self->w->now;
            zmq_msg_close(&topic);
            continue;
        }
        zmq_msg_init(&env);
        int ok = zmq_msg_more(&topic) && zmq_msg_recv(&env, self->sub, 0) >= 0
                 && !zmq_msg_more(&env);
        if (ok) {
            env_t e;
            if (env_decode(zmq_msg_data(&env), zmq_msg_size(&env), &e) == 0)
                handle_bus(self->w, zmq_msg_data(&topic), zmq_msg_size(&topic), &e);
            else
                log_debug("dropped a bus message with a malformed envelope");
        } else {
            while (zmq_msg_more(&env) && zmq_msg_recv(&env, self->sub, 0) >= 0)
                ;
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&env);
    }
}

int
bus_pending(bus_t *self)
{
    int ev = 0;
    size_t sz = sizeof ev;
    zmq_getsockopt(self->sub, ZMQ_EVENTS, &ev, &sz);
    return (ev & ZMQ_POLLIN) != 0;
}

void
bus_probe_back(bus_t *self, uint64_t seq)
{
    /* probes come back every PROBE_EVERY_MS; a longer silence means the
     * broker or our connection to it went away and came back, and what was
     * in flight then (a chat, its receipt) may be lost */
    if (self->ever_up && self->w->now - self->last_probe_back > GAP_MS)
        self->recovered_at = self->w->now;
    self->last_probe_back = self->w->now;
    if (seq > self->confirmed)
        self->confirmed = seq;
    self->ever_up = 1;
}

void
bus_tick(bus_t *self)
{
    worker_t *w = self->w;
    char topic[TOPIC_MAX];
    if (w->now - self->last_probe_sent >= PROBE_EVERY_MS) {
        env_t e;
        env_init(&e, ENV_PROBE);
        e.origin = env_cstr(w->origin);
        /* req = its place in our publish order: when it comes back, all we
         * published before it has been through the broker (one pipe, FIFO) */
        e.req = self->pub_seq + 1;
        size_t n = topic_make(topic, TOPIC_WORKER, w->origin, strlen(w->origin));
        bus_publish(self, topic, n, &e);
        self->last_probe_sent = w->now;
    }
    if (w->now - self->last_stats >= STATS_EVERY_MS && self->ever_up) {
        env_t e;
        env_init(&e, ENV_STATS);
        e.origin = env_cstr(w->origin);
        e.nsessions = w->nsessions;
        e.nusers = (int64_t)routes_users(w->routes);
        metrics_set(M_USERS, e.nusers);
        bus_publish(self, "s|", 2, &e);
        self->last_stats = w->now;
    }
    int up = bus_up(self);
    if (up != self->was_up) {
        self->was_up = up;
        metrics_set(M_BUS_UP, up);
        if (up)
            log_info("broker reachable");
        else if (self->ever_up)
            log_warnx("broker not answering for %d ms", ALIVE_MS);
    }
}

int
bus_up(bus_t *self)
{
    return self->ever_up && self->w->now - self->last_probe_back <= ALIVE_MS;
}

uint64_t
bus_seq(bus_t *self)
{
    return self->pub_seq;
}

int
bus_routed(bus_t *self, uint64_t seq, int64_t sent_ms)
{
    return bus_up(self) && self->confirmed > seq && self->recovered_at < sent_ms
           && self->w->now - self->last_probe_back <= GAP_MS;
}

int
bus_ever_up(bus_t *self)
{
    return self->ever_up;
}
