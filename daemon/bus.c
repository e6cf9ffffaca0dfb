/* bus — see bus.h. */
#include "bus.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "buf.h"
#include "clock.h"
#include "dedup.h"
#include "log.h"
#include "metrics.h"

/* A pair's backup copy of a message waits this long for the primary's
 * (which keeps the stream's numbering) before it is delivered itself. */
#define HOLD_MS      150
#define HOLD_MAX     (8u << 20)     /* bytes held; past it copies go at once */


/* What a brlink's callback is given: which shard and which of its brokers. */
typedef struct {
    bus_t *bus;
    int    shard, li;
} s_from_t;

typedef struct {
    brlink_t *link[2];
    s_from_t  from[2];
    int       n;                    /* 1, or 2 for a pair */
    int       active;               /* the broker whose numbering clients see */
} s_shard_t;

/* A held copy: its header, then the topic and the envelope's bytes. */
typedef struct {
    int64_t  at;
    uint64_t key;
    uint32_t tlen, elen;
    int16_t  shard;                 /* -1: handed on already (s_release_from) */
    int16_t  li;                    /* the broker it came from */
} s_held_t;

struct bus {
    bus_cfg_t    cfg;
    shard_spec_t spec;
    void        *ctx;
    s_shard_t    sh[SHARD_MAX];
    int          pairs;             /* some shard is a pair */
    dedup_t      seen;              /* messages taken from either of a pair */
    buf_t        held;              /* backup copies waiting (s_held_t ...) */
    size_t       held_off;
    env_t        scratch;           /* a held copy, decoded again */
    int          was_up;
};

static void s_on_link(void *arg, int shard, const char *topic, size_t tlen, const env_t *e,
                      const char *raw, size_t rawlen);

bus_t *
bus_new(const bus_cfg_t *cfg)
{
    bus_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->spec = *cfg->spec;
    self->cfg.spec = &self->spec;
    if (!(self->ctx = zmq_ctx_new()))
        goto fail;
    for (int i = 0; i < self->spec.n; i++) {
        s_shard_t *sh = &self->sh[i];
        sh->n = self->spec.shard[i].nbrokers;
        self->pairs |= sh->n > 1;
        for (int li = 0; li < sh->n; li++) {
            const shard_broker_t *b = &self->spec.shard[i].broker[li];
            sh->from[li] = (s_from_t){ self, i, li };
            brlink_cfg_t lc = { self->ctx, b->pub, b->sub, cfg->origin, cfg->now, cfg->rcvhwm,
                                i, s_on_link, &sh->from[li], cfg->curve };
            if (!(sh->link[li] = brlink_new(&lc)))
                goto fail;
        }
    }
    if (self->pairs && dedup_init(&self->seen) < 0)
        goto fail;
    self->cfg.curve = NULL;             /* the keys are the caller's */
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
    for (int i = 0; i < SHARD_MAX; i++)
        for (int li = 0; li < 2; li++)
            brlink_destroy(&self->sh[i].link[li]);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    dedup_free(&self->seen);
    buf_free(&self->held);
    free(self);
    *self_p = NULL;
}

/* ---- a pair: take each message once, the primary's numbering first ---- */

/* Which copy of a message this is: chats, group and broadcast messages
 * carry a mid; a chat's retry is another message with the same mid. */
static int
s_keyed(const env_t *e, uint64_t *key)
{
    if ((e->kind != ENV_CHAT && e->kind != ENV_GROUP && e->kind != ENV_BCAST) || !e->mid.p)
        return 0;
    *key = dedup_key(e->mid.p, e->mid.n, e->retry);
    return 1;
}

static void
s_hold(bus_t *self, int shard, int li, uint64_t key, const char *topic, size_t tlen,
       const char *raw, size_t rawlen)
{
    s_held_t h = { *self->cfg.now, key, (uint32_t)tlen, (uint32_t)rawlen, (int16_t)shard,
                   (int16_t)li };
    if (buf_reserve(&self->held, sizeof h + tlen + rawlen) < 0)
        return;                         /* the primary's copy must do */
    buf_append(&self->held, &h, sizeof h);
    buf_append(&self->held, topic, tlen);
    buf_append(&self->held, raw, rawlen);
}

/* A held copy goes on unless the primary's came meanwhile. */
static void
s_hand_on(bus_t *self, const s_held_t *h, const char *topic)
{
    if (dedup_check(&self->seen, h->key))
        return;
    if (env_decode(topic + h->tlen, h->elen, &self->scratch) == 0)
        self->cfg.on_message(self->cfg.arg, h->shard, topic, h->tlen, &self->scratch);
}

/* Before anything newer from broker li of shard is handed on (it has
 * become the active one): every copy held from it, in order, so a
 * session's stream does not go backwards. */
static void
s_release_from(bus_t *self, int shard, int li)
{
    for (size_t off = self->held_off; off < self->held.len;) {
        s_held_t h;
        memcpy(&h, self->held.data + off, sizeof h);
        if (h.shard == shard && h.li == li) {
            s_hand_on(self, &h, self->held.data + off + sizeof h);
            int16_t done = -1;          /* the callback may hold more: re-find by offset */
            memcpy(self->held.data + off + offsetof(s_held_t, shard), &done, sizeof done);
        }
        off += sizeof h + h.tlen + h.elen;
    }
}

/* Released copies leave the buffer's head; drop them once they are half
 * of it, so a steady trickle of held copies does not grow it forever. */
static void
s_compact(bus_t *self)
{
    if (self->held_off > 0 && self->held_off >= self->held.len / 2) {
        buf_consume(&self->held, self->held_off);
        self->held_off = 0;
    }
}

/* Held copies whose time is up (or all, when their primary is gone):
 * delivered unless the primary's came meanwhile (bus_drain, so what they
 * bring is written in the same turn). Returns ms until the next one is
 * due, or -1 when none is held. */
static int64_t
s_release(bus_t *self)
{
    int64_t now = *self->cfg.now;
    while (self->held_off < self->held.len) {
        s_held_t h;
        memcpy(&h, self->held.data + self->held_off, sizeof h);
        if (h.shard < 0) {              /* handed on already */
            self->held_off += sizeof h + h.tlen + h.elen;
            continue;
        }
        s_shard_t *sh = &self->sh[h.shard];
        int primary_up = brlink_up(sh->link[sh->active]);
        if (now - h.at < HOLD_MS && primary_up && self->held.len - self->held_off < HOLD_MAX) {
            s_compact(self);
            return HOLD_MS - (now - h.at);
        }
        const char *topic = self->held.data + self->held_off + sizeof h;
        self->held_off += sizeof h + h.tlen + h.elen;
        s_hand_on(self, &h, topic);
    }
    self->held.len = self->held_off = 0;
    if (self->held.cap > HOLD_MAX)
        buf_free(&self->held);
    return -1;
}


static void
s_on_link(void *arg, int shard, const char *topic, size_t tlen, const env_t *e, const char *raw,
          size_t rawlen)
{
    s_from_t *from = arg;
    bus_t *self = from->bus;
    s_shard_t *sh = &self->sh[shard];
    uint64_t key;
    if (sh->n == 1) {
        self->cfg.on_message(self->cfg.arg, shard, topic, tlen, e);
        return;
    }
    ack_rcpt_t r;
    switch (e->kind) {
    case ENV_PRESENCE:
    case ENV_ONLINE:
    case ENV_HISTORY:
        /* both brokers answer a question; the active's answer is the one */
        if (from->li != sh->active)
            return;
        break;
    case ENV_RCPT:
        /* A broker's own `unavailable` (it is still learning its routes
         * after a restart) says nothing while its partner carries the
         * shard: the chat went there too, and the receiver's worker or the
         * deadline answers. `offline` counts from the active broker only. */
        if (ack_rcpt_parse(e->status.p, e->status.n, &r) == 0
            && ((r == ACK_RCPT_UNAVAILABLE && brlink_up(sh->link[!from->li]))
                || (r == ACK_RCPT_OFFLINE && from->li != sh->active)))
            return;
        break;
    default:
        break;
    }
    if (s_keyed(e, &key)) {
        if (from->li != sh->active && brlink_up(sh->link[sh->active])
            && !dedup_seen(&self->seen, key)) {
            s_hold(self, shard, from->li, key, topic, tlen, raw, rawlen);
            return;
        }
        if (self->held_off < self->held.len)
            s_release_from(self, shard, from->li);
        if (dedup_check(&self->seen, key))
            return;                     /* the other broker's came first */
    }
    /* workers' receipts, kicks and probes: from either (a request is
     * answered once, a kick closes once, a probe proves what it proves on
     * its broker) */
    self->cfg.on_message(self->cfg.arg, shard, topic, tlen, e);
}

/* The active broker of each pair: the primary while it answers, else the
 * backup while that one does. */
static void
s_choose(bus_t *self)
{
    for (int i = 0; i < self->spec.n; i++) {
        s_shard_t *sh = &self->sh[i];
        if (sh->n == 1)
            continue;
        int want = brlink_up(sh->link[0]) || !brlink_up(sh->link[1]) ? 0 : 1;
        if (want == sh->active)
            continue;
        sh->active = want;
        s_release_from(self, i, want);
        log_warnx("shard %s: %s %s active", self->spec.shard[i].broker[0].pub,
                  want ? "backup" : "primary", brlink_name(sh->link[want]));
    }
}

/* ---- the shard set --------------------------------------------------- */

int
bus_shards(bus_t *self)
{
    return self->spec.n;
}

int
bus_fds(bus_t *self, int *fds, int max)
{
    int n = 0;
    for (int i = 0; i < self->spec.n; i++)
        for (int li = 0; li < self->sh[i].n && n < max; li++)
            fds[n++] = brlink_fd(self->sh[i].link[li]);
    return n;
}

int
bus_shard_of(bus_t *self, const char *topic, size_t len)
{
    return shard_of(&self->spec, topic, len);
}

int
bus_subscribe(bus_t *self, const char *topic, size_t len)
{
    s_shard_t *sh = &self->sh[shard_of(&self->spec, topic, len)];
    int rc = 0;
    for (int li = 0; li < sh->n; li++)
        rc |= brlink_subscribe(sh->link[li], topic, len);
    return rc;
}

int
bus_unsubscribe(bus_t *self, const char *topic, size_t len)
{
    s_shard_t *sh = &self->sh[shard_of(&self->spec, topic, len)];
    int rc = 0;
    for (int li = 0; li < sh->n; li++)
        rc |= brlink_unsubscribe(sh->link[li], topic, len);
    return rc;
}

/* To every broker of the shard: 0 when one of them took it. */
static int
s_publish(bus_t *self, int shard, const char *topic, size_t len, const env_t *e)
{
    s_shard_t *sh = &self->sh[shard];
    int ok = 0;
    for (int li = 0; li < sh->n; li++)
        ok |= brlink_publish(sh->link[li], topic, len, e) == 0;
    return ok ? 0 : -1;
}

int
bus_publish(bus_t *self, const char *topic, size_t len, const env_t *e)
{
    return s_publish(self, shard_of(&self->spec, topic, len), topic, len, e);
}

int
bus_publish_seq(bus_t *self, const char *topic, size_t len, const env_t *e, int *ticket,
                uint64_t *seq)
{
    int s = shard_of(&self->spec, topic, len);
    if (s_publish(self, s, topic, len, e) < 0)
        return -1;
    /* judged on the active broker's link: the one clients' numbers come from */
    *ticket = s * 2 + self->sh[s].active;
    *seq = brlink_seq(self->sh[s].link[self->sh[s].active]);
    return 0;
}

int
bus_publish_via(bus_t *self, int shard, const char *topic, size_t len, const env_t *e)
{
    if (shard < 0 || shard >= self->spec.n)
        return -1;
    return s_publish(self, shard, topic, len, e);
}

int64_t
bus_flush(bus_t *self, int64_t now_us, int64_t window_us)
{
    int64_t wait = -1;
    if (self->held_off < self->held.len) {      /* the next held copy's time */
        s_held_t h;
        memcpy(&h, self->held.data + self->held_off, sizeof h);
        int64_t ms = HOLD_MS - (*self->cfg.now - h.at);
        wait = ms > 0 ? ms * 1000 : 0;
    }
    for (int i = 0; i < self->spec.n; i++)
        for (int li = 0; li < self->sh[i].n; li++) {
            int64_t w = brlink_flush(self->sh[i].link[li], now_us, window_us);
            if (w >= 0 && (wait < 0 || w < wait))
                wait = w;
        }
    return wait;
}

/* On a pair, the probe goes to both; its number is the larger of the two
 * places, so any probe back numbered at least that was sent after it on
 * its own broker (each broker's numbers only grow). */
uint64_t
bus_probe(bus_t *self, const char *topic, size_t len)
{
    s_shard_t *sh = &self->sh[shard_of(&self->spec, topic, len)];
    uint64_t req = 0;
    for (int li = 0; li < sh->n; li++) {
        uint64_t r = brlink_probe(sh->link[li], topic, len);
        if (!r && li == sh->active)
            return 0;
        req = r > req ? r : req;
    }
    return req;
}

void
bus_drain(bus_t *self)
{
    for (int i = 0; i < self->spec.n; i++)
        for (int li = 0; li < self->sh[i].n; li++)
            brlink_drain(self->sh[i].link[li]);
    if (self->held.len)
        s_release(self);
}

void
bus_tick(bus_t *self, int64_t nsessions, int64_t nusers)
{
    for (int i = 0; i < self->spec.n; i++)
        for (int li = 0; li < self->sh[i].n; li++)
            brlink_tick(self->sh[i].link[li], nsessions, nusers);
    if (self->pairs)
        s_choose(self);
    metrics_set(M_USERS, nusers);
    int up = bus_up(self);
    if (up != self->was_up) {
        self->was_up = up;
        metrics_set(M_BUS_UP, up);
        if (self->spec.n > 1)
            log_info(up ? "every shard reachable (%d)" : "not every shard reachable (%d)",
                     self->spec.n);
    }
}

int
bus_up_for(bus_t *self, int shard)
{
    if (shard < 0 || shard >= self->spec.n)
        return 0;
    s_shard_t *sh = &self->sh[shard];
    for (int li = 0; li < sh->n; li++)
        if (brlink_up(sh->link[li]))
            return 1;
    return 0;
}

int
bus_up(bus_t *self)
{
    for (int i = 0; i < self->spec.n; i++)
        if (!bus_up_for(self, i))
            return 0;
    return 1;
}

int
bus_up_topic(bus_t *self, const char *topic, size_t len)
{
    return bus_up_for(self, shard_of(&self->spec, topic, len));
}

int
bus_pending(bus_t *self)
{
    for (int i = 0; i < self->spec.n; i++)
        for (int li = 0; li < self->sh[i].n; li++)
            if (brlink_pending(self->sh[i].link[li]))
                return 1;
    return 0;
}

const ack_link_t *
bus_shard_link(bus_t *self, int shard)
{
    if (shard < 0 || shard >= self->spec.n)
        shard = 0;
    return brlink_link(self->sh[shard].link[self->sh[shard].active]);
}

const ack_link_t *
bus_link(bus_t *self, int ticket)
{
    int s = ticket / 2, li = ticket % 2;
    if (s < 0 || s >= self->spec.n || li >= self->sh[s].n)
        s = li = 0;
    return brlink_link(self->sh[s].link[li]);
}

void
bus_stalled(bus_t *self)
{
    for (int i = 0; i < self->spec.n; i++)
        for (int li = 0; li < self->sh[i].n; li++)
            brlink_stalled(self->sh[i].link[li]);
}
