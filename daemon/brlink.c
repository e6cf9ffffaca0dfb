/* brlink — see brlink.h. */
#include "brlink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "buf.h"
#include "log.h"

#define PROBE_EVERY_MS 100
#define STATS_EVERY_MS 1000
#define DRAIN_BATCH    4096
#define PUB_HWM        100000
#define OUTQ_MAX       100000       /* queued messages ZeroMQ has not taken */
#define OUTQ_KEEP      (64 * 1024)  /* an empty queue bigger than this is freed */

struct brlink {
    brlink_cfg_t        cfg;
    char             origin[33];
    char             pub_ep[SHARD_EP_MAX], sub_ep[SHARD_EP_MAX];
    char             inbox[TOPIC_MAX];
    size_t           inbox_len;
    void            *pub, *sub;
    int              fd;
    msgpack_sbuffer  sbuf;
    int64_t          last_probe_sent, last_stats;
    uint64_t         pub_seq;       /* messages published so far */
    buf_t            outq;          /* published, not yet handed to ZeroMQ */
    size_t           outq_n;
    int64_t          last_flush_us;
    ack_link_t       link;
    int              was_up;
};

static int
s_setint(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof v);
}

brlink_t *
brlink_new(const brlink_cfg_t *cfg)
{
    brlink_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    snprintf(self->origin, sizeof self->origin, "%s", cfg->origin);
    self->cfg.origin = self->origin;
    snprintf(self->pub_ep, sizeof self->pub_ep, "%s", cfg->pub_ep);
    snprintf(self->sub_ep, sizeof self->sub_ep, "%s", cfg->sub_ep);
    self->cfg.pub_ep = self->pub_ep;
    self->cfg.sub_ep = self->sub_ep;
    self->inbox_len = topic_make(self->inbox, TOPIC_WORKER, self->origin, strlen(self->origin));
    msgpack_sbuffer_init(&self->sbuf);
    self->pub = zmq_socket(cfg->ctx, ZMQ_PUB);
    self->sub = zmq_socket(cfg->ctx, ZMQ_SUB);
    if (!self->pub || !self->sub)
        goto fail;
    /* Subscriptions leave through the SUB's send side: no HWM there, or
     * they are dropped silently (libzmq #4064). Publishing is bounded:
     * NODROP turns a full queue into EAGAIN, answered `unavailable`. The
     * receive side is bounded too: a worker that falls behind pushes back
     * on the broker instead of buffering without limit. */
    s_setint(self->sub, ZMQ_SNDHWM, 0);
    s_setint(self->sub, ZMQ_RCVHWM, cfg->rcvhwm);
    s_setint(self->pub, ZMQ_SNDHWM, PUB_HWM);
    s_setint(self->pub, ZMQ_XPUB_NODROP, 1);
    for (int i = 0; i < 2; i++) {
        void *s = i ? self->sub : self->pub;
        s_setint(s, ZMQ_LINGER, 0);
        s_setint(s, ZMQ_RECONNECT_IVL, 100);
        s_setint(s, ZMQ_RECONNECT_IVL_MAX, 500);
        /* On tcp:// a dead peer or a cut link ends the connection in about
         * 1 s (ZMTP pings; TTL asks the broker to drop us as fast). Not on
         * ipc://, as on the broker's side: the kernel closes a dead
         * process's socket at once, and a TTL would only make the broker
         * cut a worker stopped for over a second (SIGSTOP, swap), drop its
         * subscriptions and answer `offline` for users it holds. */
        if (strncmp(i ? cfg->sub_ep : cfg->pub_ep, "tcp://", 6))
            continue;
        s_setint(s, ZMQ_HEARTBEAT_IVL, BRLINK_HEARTBEAT_MS / 4);
        s_setint(s, ZMQ_HEARTBEAT_TIMEOUT, BRLINK_HEARTBEAT_MS);
        s_setint(s, ZMQ_HEARTBEAT_TTL, BRLINK_HEARTBEAT_MS);
    }
    /* CURVE clients, if the broker wants them: before connecting */
    if (cfg->curve && cfg->curve->on
        && (curve_client_apply(cfg->curve, self->pub) < 0
            || curve_client_apply(cfg->curve, self->sub) < 0)) {
        log_errx("cannot set the CURVE keys on the bus sockets: %s", zmq_strerror(errno));
        goto fail;
    }
    self->cfg.curve = NULL;             /* the keys are the caller's */
    brlink_subscribe(self, TOPIC_HELLO, strlen(TOPIC_HELLO));    /* before connecting */
    if (zmq_connect(self->pub, cfg->pub_ep) < 0 || zmq_connect(self->sub, cfg->sub_ep) < 0) {
        log_errx("cannot connect to the broker (%s, %s): %s", cfg->pub_ep, cfg->sub_ep,
                 zmq_strerror(errno));
        goto fail;
    }
    size_t sz = sizeof self->fd;
    if (zmq_getsockopt(self->sub, ZMQ_FD, &self->fd, &sz) < 0)
        goto fail;
    /* the worker's own inbox and broadcast, for its whole life */
    char topic[TOPIC_MAX];
    brlink_subscribe(self, self->inbox, self->inbox_len);
    size_t n = topic_make(topic, TOPIC_BCAST, NULL, 0);
    brlink_subscribe(self, topic, n);
    return self;
fail:
    brlink_destroy(&self);
    return NULL;
}

void
brlink_destroy(brlink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    brlink_t *self = *self_p;
    if (self->pub)
        zmq_close(self->pub);
    if (self->sub)
        zmq_close(self->sub);
    msgpack_sbuffer_destroy(&self->sbuf);
    buf_free(&self->outq);
    free(self);
    *self_p = NULL;
}

int
brlink_fd(brlink_t *self)
{
    return self->fd;
}

int
brlink_subscribe(brlink_t *self, const char *topic, size_t len)
{
    return zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, topic, len);
}

int
brlink_unsubscribe(brlink_t *self, const char *topic, size_t len)
{
    return zmq_setsockopt(self->sub, ZMQ_UNSUBSCRIBE, topic, len);
}

/* A queued message: its two frames' lengths, then the frames. */
typedef struct {
    uint32_t tlen, elen;
} s_qhdr_t;

int
brlink_publish(brlink_t *self, const char *topic, size_t len, const env_t *e)
{
    self->sbuf.size = 0;
    if (env_encode(e, &self->sbuf) < 0)
        return -1;
    if (self->outq_n >= OUTQ_MAX)
        return -1;                      /* ZeroMQ has refused for a while */
    s_qhdr_t h = { (uint32_t)len, (uint32_t)self->sbuf.size };
    if (buf_reserve(&self->outq, sizeof h + len + self->sbuf.size) < 0)
        return -1;
    buf_append(&self->outq, &h, sizeof h);
    buf_append(&self->outq, topic, len);
    buf_append(&self->outq, self->sbuf.data, self->sbuf.size);
    self->outq_n++;
    self->pub_seq++;
    return 0;
}

/* Hands the queue to ZeroMQ in one burst. ZeroMQ wakes its I/O thread,
 * the broker's and the receivers' only when a pipe goes from empty to
 * non-empty, so a burst of k messages costs about one set of wake-ups,
 * not k. A message ZeroMQ refuses (its HWM: the broker is stalled) stays
 * queued, in order, for the next flush. */
static void
s_flush(brlink_t *self)
{
    size_t off = 0, sent = 0;
    while (off < self->outq.len) {
        s_qhdr_t h;
        memcpy(&h, self->outq.data + off, sizeof h);
        const char *t = self->outq.data + off + sizeof h;
        if (zmq_send(self->pub, t, h.tlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            break;
        /* the first frame went, so the second cannot block or fail on HWM */
        zmq_send(self->pub, t + h.tlen, h.elen, 0);
        off += sizeof h + h.tlen + h.elen;
        sent++;
    }
    buf_consume(&self->outq, off);
    self->outq_n -= sent;
    if (self->outq_n == 0 && self->outq.cap > OUTQ_KEEP)
        buf_free(&self->outq);
}

int64_t
brlink_flush(brlink_t *self, int64_t now_us, int64_t window_us)
{
    if (self->outq_n == 0)
        return -1;
    int64_t due = self->last_flush_us + window_us;
    if (now_us < due)
        return due - now_us;
    s_flush(self);
    self->last_flush_us = now_us;
    return self->outq_n ? 1000 : -1;    /* refused: try again soon */
}

uint64_t
brlink_probe(brlink_t *self, const char *topic, size_t len)
{
    env_t e;
    env_init(&e, ENV_PROBE);
    e.origin = env_cstr(self->origin);
    /* its place in our publish order: when it comes back, all we published
     * before it has been through the broker (one pipe, FIFO) */
    e.req = self->pub_seq + 1;
    return brlink_publish(self, topic, len, &e) == 0 ? e.req : 0;
}

static int
s_is_mine(const brlink_t *self, env_str_t origin)
{
    return origin.p && origin.n == strlen(self->origin) && !memcmp(origin.p, self->origin, origin.n);
}

static void
s_dispatch(brlink_t *self, const char *topic, size_t tlen, const char *data, size_t len)
{
    env_t e;
    if (env_decode(data, len, &e) < 0) {
        log_debug("dropped a bus message with a malformed envelope");
        return;
    }
    if (e.kind == ENV_PROBE) {
        if (!s_is_mine(self, e.origin))
            return;                     /* another worker's probe on a shared topic */
        ack_link_probe_back(&self->link, e.req, *self->cfg.now);
        if (tlen == self->inbox_len && !memcmp(topic, self->inbox, tlen))
            return;
    }
    self->cfg.on_message(self->cfg.arg, self->cfg.shard, topic, tlen, &e, data, len);
}

void
brlink_drain(brlink_t *self)
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
            if (ack_link_ever_up(&self->link))
                log_info("attached to the broker %s again", self->cfg.pub_ep);
            ack_link_hello(&self->link, *self->cfg.now);
            zmq_msg_close(&topic);
            continue;
        }
        zmq_msg_init(&env);
        int ok = zmq_msg_more(&topic) && zmq_msg_recv(&env, self->sub, 0) >= 0
                 && !zmq_msg_more(&env);
        if (ok)
            s_dispatch(self, zmq_msg_data(&topic), zmq_msg_size(&topic), zmq_msg_data(&env),
                       zmq_msg_size(&env));
        else
            while (zmq_msg_more(&env) && zmq_msg_recv(&env, self->sub, 0) >= 0)
                ;
        zmq_msg_close(&topic);
        zmq_msg_close(&env);
    }
}

int
brlink_pending(brlink_t *self)
{
    int ev = 0;
    size_t sz = sizeof ev;
    zmq_getsockopt(self->sub, ZMQ_EVENTS, &ev, &sz);
    return (ev & ZMQ_POLLIN) != 0;
}

void
brlink_tick(brlink_t *self, int64_t nsessions, int64_t nusers)
{
    int64_t now = *self->cfg.now;
    if (now - self->last_probe_sent >= PROBE_EVERY_MS) {
        brlink_probe(self, self->inbox, self->inbox_len);
        self->last_probe_sent = now;
    }
    if (now - self->last_stats >= STATS_EVERY_MS && ack_link_ever_up(&self->link)) {
        env_t e;
        env_init(&e, ENV_STATS);
        e.origin = env_cstr(self->origin);
        e.nsessions = nsessions;
        e.nusers = nusers;
        brlink_publish(self, "s|", 2, &e);
        self->last_stats = now;
    }
    int up = brlink_up(self);
    if (up != self->was_up) {
        self->was_up = up;
        if (up)
            log_info("broker reachable (%s)", self->cfg.pub_ep);
        else if (ack_link_ever_up(&self->link))
            log_warnx("broker not answering for %d ms (%s)", ACK_ALIVE_MS, self->cfg.pub_ep);
    }
}

int
brlink_up(brlink_t *self)
{
    return ack_link_up(&self->link, *self->cfg.now);
}

uint64_t
brlink_seq(brlink_t *self)
{
    return self->pub_seq;
}

const ack_link_t *
brlink_link(brlink_t *self)
{
    return &self->link;
}

void
brlink_stalled(brlink_t *self)
{
    ack_link_hello(&self->link, *self->cfg.now);
}

const char *
brlink_name(const brlink_t *self)
{
    return self->pub_ep;
}
