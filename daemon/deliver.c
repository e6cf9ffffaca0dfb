/* deliver — see deliver.h. */
#include "deliver.h"

#include <string.h>

#include "clock.h"
#include "jscan.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "topic.h"
#include "valid.h"

/* lateness past which the sender's 900 ms deadline may have run out,
 * its receipt still to travel back */
#define DELIVER_LATE_MS 700

static cj_str_t
s_str(const char *p, size_t n)
{
    cj_str_t s = { p, n };
    return s;
}

static void
s_receipt(deliver_t *d, const env_t *e, cj_str_t mid, ack_rcpt_t status)
{
    if (!e->req || !e->origin.p || !valid_name(e->origin.p, e->origin.n))
        return;
    char topic[TOPIC_MAX];
    env_t r;
    env_init(&r, ENV_RCPT);
    r.req = e->req;
    r.mid.p = mid.p;
    r.mid.n = (uint32_t)mid.n;
    r.status = env_cstr(ack_rcpt_name(status));
    size_t tn = topic_make(topic, TOPIC_WORKER, e->origin.p, e->origin.n);
    bus_publish(d->bus, topic, tn, &r);
}

/* Queue the framed message to c if open; 1 when queued. */
static int
s_give(deliver_t *d, conn_t *c)
{
    return c->state == CONN_OPEN && conn_send_frame(d->conns, c, d->wire.data, d->wire.len) == 0;
}

/* Its sender's ack deadline passed before it reached us (see deliver.h). */
static int
s_too_late(deliver_t *d, const env_t *e)
{
    int64_t late = transit_late(&d->transit, e->origin.p, e->origin.n, e->time, clock_wall_ms());
    if (late <= DELIVER_LATE_MS || ack_link_calm(bus_link(d->bus), *d->now, TRANSIT_WINDOW))
        return 0;
    if (d->expired++ % 1000 == 0)
        log_info("a chat came %lld ms late after a stall; its sender answered already: "
                 "not delivered (%llu so far)", (long long)late, (unsigned long long)d->expired);
    return 1;
}

static void
s_message(deliver_t *d, topic_kind_t tk, const char *name, size_t nlen, const env_t *e)
{
    static const char *kinds[] = { [ENV_CHAT] = "chat", [ENV_GROUP] = "group",
                                   [ENV_BCAST] = "broadcast" };
    char mid[IDGEN_LEN];
    env_str_t sender = e->sender.p ? e->sender : env_cstr("system");
    /* msg is forwarded as given: a backend's hand-built envelope with
     * invalid JSON there would break every recipient's frame */
    if (!e->msg.p || e->msg.n == 0 || !js_valid(e->msg.p, e->msg.n)
        || !valid_name(sender.p, sender.n)
        || ((e->kind == ENV_CHAT || e->kind == ENV_GROUP)
            && (!e->to.p || e->to.n != nlen || memcmp(e->to.p, name, nlen)))) {
        log_debug("dropped a malformed %s message", env_kind_name(e->kind));
        return;
    }
    cj_str_t m = { e->mid.p, e->mid.n };
    if (!m.p || !valid_id(m.p, m.n) || m.n >= sizeof mid) {
        m.n = idgen_next(d->ids, mid);  /* a backend may leave the mid to us */
        m.p = mid;
    }
    if (e->kind == ENV_CHAT && e->req && s_too_late(d, e))
        return;
    route_t *r = NULL;
    if (e->kind != ENV_BCAST && !(r = route_get(d->routes, tk, name, nlen))) {
        if (e->kind == ENV_CHAT)
            s_receipt(d, e, m, ACK_RCPT_NOSESSION);     /* unsubscribed meanwhile */
        return;
    }
    d->frame.len = 0;
    d->wire.len = 0;
    /* createTime from a backend: only a real RFC 3339 instant (years 1970–9999) */
    int64_t t = e->time > 0 && e->time < 253402300800000LL ? e->time : clock_wall_ms();
    if (cj_render_message(&d->frame, kinds[e->kind], s_str(sender.p, sender.n),
                          s_str(name, nlen), s_str(e->msg.p, e->msg.n), m, t) < 0
        || conns_frame(d->conns, &d->wire, d->frame.data, d->frame.len) < 0)
        return;
    /* closes decided while giving (4008) are deferred: the lists hold */
    size_t delivered = 0;
    if (e->kind == ENV_BCAST) {
        link_t *all = sessions_all(d->sessions);
        for (link_t *l = all->next; l != all; l = l->next)
            delivered += (size_t)s_give(d, list_entry(l, session_t, slink)->conn);
    } else if (tk == TOPIC_USER) {
        for (link_t *l = r->members.next; l != &r->members; l = l->next)
            delivered += (size_t)s_give(d, list_entry(l, session_t, ulink)->conn);
    } else {
        for (link_t *l = r->members.next; l != &r->members; l = l->next)
            delivered += (size_t)s_give(d, list_entry(l, member_t, rlink)->conn);
    }
    if (e->kind == ENV_CHAT)
        s_receipt(d, e, m, delivered ? ACK_RCPT_DELIVERED : ACK_RCPT_NOSESSION);
}

static void
s_client_verdict(deliver_t *d, pq_t *q, ack_verdict_t v)
{
    conn_t *c = conns_lookup(d->conns, q->fd, q->gen);
    metrics_inc(v == ACK_DELIVERED ? M_ACK_DELIVERED : v == ACK_OFFLINE ? M_ACK_OFFLINE
                                                                        : M_ACK_UNAVAILABLE);
    if (!c)
        return;
    if (v == ACK_UNAVAILABLE)
        reply_error(d->conns, c, CJ_UNAVAILABLE,
                    "the message could not be confirmed delivered; it may not have been sent",
                    reply_id(q->id));
    else
        reply_ack(d->conns, c, reply_id(q->id), q->mid, ack_verdict_name(v));
}

/* A decided verdict goes to whoever waits; the request is done. */
static void
s_verdict(deliver_t *d, pq_t *q, ack_verdict_t v)
{
    if (q->kind == PQ_API_SEND) {
        metrics_inc(v == ACK_DELIVERED ? M_ACK_DELIVERED : v == ACK_OFFLINE ? M_ACK_OFFLINE
                                                                            : M_ACK_UNAVAILABLE);
        d->api.push_done(d->api.arg, q->fd, q->gen, q->mid, ack_verdict_name(v));
    } else {
        s_client_verdict(d, q, v);
    }
    pending_done(d->pending, q);
}

static void
s_on_receipt(deliver_t *d, const env_t *e)
{
    pq_t *q = pending_find(d->pending, e->req);
    ack_rcpt_t r;
    if (!q || (q->kind != PQ_CHAT && q->kind != PQ_API_SEND)
        || ack_rcpt_parse(e->status.p, e->status.n, &r) < 0)
        return;
    ack_verdict_t v = ack_receipt(&q->ack, r);
    if (v != ACK_PENDING)
        s_verdict(d, q, v);
}

static void
s_on_online(deliver_t *d, const env_t *e)
{
    pq_t *q = pending_find(d->pending, e->req);
    if (!q)
        return;
    if (q->kind == PQ_API_ONLINE)
        d->api.online_done(d->api.arg, q->fd, q->gen, e->nusers, e->nsessions);
    else if (q->kind == PQ_ONLINE)
        log_debug("cluster online: %lld users, %lld sessions", (long long)e->nusers,
                  (long long)e->nsessions);
    else
        return;
    pending_done(d->pending, q);
}

static void
s_on_presence(deliver_t *d, const env_t *e)
{
    pq_t *q = pending_find(d->pending, e->req);
    if (q && q->kind == PQ_API_PRESENCE) {
        d->api.presence_done(d->api.arg, q->fd, q->gen, e);
        pending_done(d->pending, q);
        return;
    }
    if (!q || q->kind != PQ_PRESENCE)
        return;
    conn_t *c = conns_lookup(d->conns, q->fd, q->gen);
    if (c && e->users_n == e->online_n) {
        cj_str_t users[ENV_USERS_MAX];
        for (uint32_t i = 0; i < e->users_n; i++)
            users[i] = s_str(e->users[i].p, e->users[i].n);
        reply_presence(d->conns, c, users, e->online, e->users_n, reply_id(q->id));
    }
    pending_done(d->pending, q);
}

static void
s_on_probe(deliver_t *d, const char *topic, size_t tlen, const env_t *e)
{
    route_t *r = route_probe_back(d->routes, e->req, topic, tlen);
    if (!r)
        return;
    if (r->kind == TOPIC_USER)
        session_route_live(d->sessions, r);
    else
        member_route_live(d->members, r);
}

void
deliver_on_message(void *arg, const char *topic, size_t tlen, const env_t *e)
{
    deliver_t *d = arg;
    topic_kind_t tk;
    const char *name;
    size_t nlen;
    if (topic_parse(topic, tlen, &tk, &name, &nlen) < 0)
        return;
    switch (e->kind) {
    case ENV_CHAT:
        if (tk == TOPIC_USER)
            s_message(d, tk, name, nlen, e);
        break;
    case ENV_GROUP:
        if (tk == TOPIC_GROUP)
            s_message(d, tk, name, nlen, e);
        break;
    case ENV_BCAST:
        if (tk == TOPIC_BCAST)
            s_message(d, tk, name, nlen, e);
        break;
    case ENV_KICK:
        if (tk == TOPIC_USER)
            session_on_kick(d->sessions, name, nlen, e);
        break;
    case ENV_PROBE:                     /* ours: the bus checked */
        if (tk == TOPIC_USER || tk == TOPIC_GROUP)
            s_on_probe(d, topic, tlen, e);
        break;
    case ENV_RCPT:
        if (tk == TOPIC_WORKER)
            s_on_receipt(d, e);
        break;
    case ENV_PRESENCE:
        if (tk == TOPIC_WORKER)
            s_on_presence(d, e);
        break;
    case ENV_ONLINE:
        if (tk == TOPIC_WORKER)
            s_on_online(d, e);
        break;
    default:
        break;
    }
}

void
deliver_expire(deliver_t *d)
{
    pq_t *q;
    while ((q = pending_expired(d->pending, *d->now))) {
        switch (q->kind) {
        case PQ_CHAT:
        case PQ_API_SEND:
            s_verdict(d, q, ack_tick(&q->ack, bus_link(d->bus), *d->now));
            continue;
        case PQ_API_ONLINE:
            d->api.online_done(d->api.arg, q->fd, q->gen, -1, -1);
            break;
        case PQ_API_PRESENCE:
            d->api.presence_done(d->api.arg, q->fd, q->gen, NULL);
            break;
        case PQ_PRESENCE: {
            conn_t *c = conns_lookup(d->conns, q->fd, q->gen);
            if (c)
                reply_error(d->conns, c, CJ_UNAVAILABLE, NULL, reply_id(q->id));
            break;
        }
        default:
            break;
        }
        pending_done(d->pending, q);
    }
}

void
deliver_free(deliver_t *d)
{
    buf_free(&d->frame);
    buf_free(&d->wire);
}
