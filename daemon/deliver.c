/* deliver — see deliver.h. */
#include "deliver.h"

#include <string.h>

#include "clock.h"
#include "jscan.h"
#include "log.h"
#include "metrics.h"
#include "push.h"
#include "reply.h"
#include "topic.h"
#include "valid.h"

/* lateness past which the sender's 900 ms deadline may have run out,
 * its receipt still to travel back */
#define DELIVER_LATE_MS 700
/* A verdict due at its deadline waits one turn (one drain) for receipts
 * already queued on the bus: after a turn this long (the process stalled or
 * starved, receipts came meanwhile), or, within this long of its deadline,
 * while input is waiting. Once per request. The protocol's bound is 1 s;
 * deadlines are at PUSH_ACK_MS (900). */
#define DELIVER_HOLD_MS  100
#define DELIVER_SLACK_MS 60

static cj_str_t
s_str(const char *p, size_t n)
{
    cj_str_t s = { p, n };
    return s;
}

/* An epoch as zwsd-protocol(7) has them: 1-32 bytes in 0x21-0x7E. */
static int
s_valid_epoch(env_str_t ep)
{
    if (!ep.p || ep.n == 0 || ep.n > VALID_EPOCH_MAX)
        return 0;
    for (uint32_t i = 0; i < ep.n; i++)
        if (ep.p[i] < 0x21 || ep.p[i] > 0x7e)
            return 0;
    return 1;
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
    bus_publish_via(d->bus, d->via, topic, tn, &r);     /* back the way it came */
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
    if (late <= DELIVER_LATE_MS || ack_link_calm(bus_shard_link(d->bus, d->via), *d->now, TRANSIT_WINDOW))
        return 0;
    if (d->expired++ % 1000 == 0)
        log_info("a chat came %lld ms late after a stall; its sender answered already: "
                 "not delivered (%llu so far)", (long long)late, (unsigned long long)d->expired);
    return 1;
}

/* What came of a chat with a req, for a copy of it later (seen.h). */
static void
s_seen(deliver_t *d, const env_t *e, seen_state_t st)
{
    if (e->kind == ENV_CHAT && e->req && e->origin.p && valid_name(e->origin.p, e->origin.n))
        seen_put(&d->seen, e->origin.p, e->origin.n, e->req, st, *d->now);
}

/* A copy (retry) of a chat this worker may have handled already: answered
 * from what came of the first. 1 when that settles it, 0 when the copy is
 * to be delivered like a first (never seen here, or no session took it:
 * the sessions open now never had it). */
static int
s_copy_settled(deliver_t *d, const env_t *e, cj_str_t mid)
{
    if (!e->origin.p || !valid_name(e->origin.p, e->origin.n))
        return 1;
    switch (seen_get(&d->seen, e->origin.p, e->origin.n, e->req, *d->now)) {
    case SEEN_DELIVERED:
        s_receipt(d, e, mid, ACK_RCPT_DELIVERED);   /* again, not twice */
        return 1;
    case SEEN_NONE:
    case SEEN_NOSESSION:
        return 0;
    default:
        return 1;           /* dropped as too late, or forgotten: no receipt */
    }
}

/* msg is forwarded as given: a backend's hand-built envelope with invalid
 * JSON there would break every recipient's frame. 1 when e may be shown. */
static int
s_valid_message(const env_t *e, const char *name, size_t nlen)
{
    env_str_t sender = e->sender.p ? e->sender : env_cstr("system");
    if (!e->msg.p || e->msg.n == 0 || !js_valid(e->msg.p, e->msg.n)
        || !valid_name(sender.p, sender.n)
        || ((e->kind == ENV_CHAT || e->kind == ENV_GROUP)
            && (!e->to.p || e->to.n != nlen || memcmp(e->to.p, name, nlen)))) {
        log_debug("dropped a malformed %s message", env_kind_name(e->kind));
        return 0;
    }
    return 1;
}

/* Frames e once into d->wire, with its place in its stream when the broker
 * numbered it (an epoch the protocol allows). 0, or -1 on ENOMEM. */
static int
s_frame(deliver_t *d, const env_t *e, const char *name, size_t nlen, cj_str_t m)
{
    static const char *kinds[] = { [ENV_CHAT] = "chat", [ENV_GROUP] = "group",
                                   [ENV_BCAST] = "broadcast" };
    env_str_t sender = e->sender.p ? e->sender : env_cstr("system");
    cj_pos_t pos = CJ_POS_NONE;
    if (e->seq && s_valid_epoch(e->epoch))
        pos = (cj_pos_t){ e->seq, { e->epoch.p, e->epoch.n }, -1, -1, 0 };
    d->frame.len = 0;
    d->wire.len = 0;
    /* createTime from a backend: only a real RFC 3339 instant (years 1970–9999) */
    int64_t t = e->time > 0 && e->time < 253402300800000LL ? e->time : clock_wall_ms();
    return cj_render_message_at(&d->frame, kinds[e->kind], s_str(sender.p, sender.n),
                                s_str(name, nlen), s_str(e->msg.p, e->msg.n), m, t, &pos) < 0
           || conns_frame(d->conns, &d->wire, d->frame.data, d->frame.len) < 0 ? -1 : 0;
}

static void
s_message(deliver_t *d, topic_kind_t tk, const char *name, size_t nlen, const env_t *e)
{
    char mid[IDGEN_LEN];
    if (!s_valid_message(e, name, nlen))
        return;
    cj_str_t m = { e->mid.p, e->mid.n };
    if (!m.p || !valid_id(m.p, m.n) || m.n >= sizeof mid) {
        m.n = idgen_next(d->ids, mid);  /* a backend may leave the mid to us */
        m.p = mid;
    }
    if (e->kind == ENV_CHAT && e->req) {
        if (e->retry && s_copy_settled(d, e, m))
            return;
        if (s_too_late(d, e)) {
            s_seen(d, e, SEEN_DROPPED);
            return;
        }
    }
    route_t *r = NULL;
    if (e->kind != ENV_BCAST && !(r = route_get(d->routes, tk, name, nlen))) {
        if (e->kind == ENV_CHAT) {
            s_seen(d, e, SEEN_NOSESSION);
            s_receipt(d, e, m, ACK_RCPT_NOSESSION);     /* unsubscribed meanwhile */
        }
        return;
    }
    if (s_frame(d, e, name, nlen, m) < 0)
        return;
    /* closes decided while giving (4008) are deferred: the lists hold */
    size_t delivered = 0;
    if (e->kind == ENV_BCAST) {
        link_t *all = sessions_all(d->sessions);
        for (link_t *l = all->next; l != all; l = l->next)
            delivered += (size_t)s_give(d, list_entry(l, session_t, slink)->conn);
    } else if (tk == TOPIC_USER) {
        if (e->seq && s_valid_epoch(e->epoch))
            route_epoch(r, e->epoch.p, e->epoch.n);
        for (link_t *l = r->members.next; l != &r->members; l = l->next) {
            session_t *s = list_entry(l, session_t, ulink);
            /* a session waiting for its history answer gets this in its
             * replay; one that had it (a replay raced it) not again. A
             * copy (retry) carries its first's number, which a session
             * that logged in after it never had: seen.h judges copies */
            if (s->conn->state == CONN_OPEN
                && (e->retry || route_pos_take(r, &s->pos, e->seq)))
                delivered += (size_t)s_give(d, s->conn);
        }
    } else {
        if (e->seq && s_valid_epoch(e->epoch))
            route_epoch(r, e->epoch.p, e->epoch.n);
        for (link_t *l = r->members.next; l != &r->members; l = l->next) {
            member_t *mb = list_entry(l, member_t, rlink);
            /* a resuming join gets what came before its answer in the replay */
            if (!member_resuming(mb) && route_pos_take(r, &mb->pos, e->seq))
                delivered += (size_t)s_give(d, mb->conn);
        }
    }
    if (e->kind == ENV_CHAT) {
        s_seen(d, e, delivered ? SEEN_DELIVERED : SEEN_NOSESSION);
        s_receipt(d, e, m, delivered ? ACK_RCPT_DELIVERED : ACK_RCPT_NOSESSION);
        if (delivered && e->req)
            d->confirmed = 1;
    }
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
    else {
        /* offline and kept: a resume delivers it (zwsd-protocol(7)) */
        cj_pos_t kept = CJ_POS_NONE;
        kept.stored = v == ACK_OFFLINE && q->stored;
        reply_ack_at(d->conns, c, reply_id(q->id), q->mid, ack_verdict_name(v), &kept);
    }
}

/* A decided verdict goes to whoever waits; the request is done. */
static void
s_verdict(deliver_t *d, pq_t *q, ack_verdict_t v)
{
    if (q->kind == PQ_API_SEND) {
        metrics_inc(v == ACK_DELIVERED ? M_ACK_DELIVERED : v == ACK_OFFLINE ? M_ACK_OFFLINE
                                                                            : M_ACK_UNAVAILABLE);
        d->api.push_done(d->api.arg, q->fd, q->gen, q->mid,
                         v == ACK_OFFLINE && q->stored ? "stored" : ack_verdict_name(v));
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
    if (r == ACK_RCPT_OFFLINE && e->stored)
        q->stored = 1;
    ack_verdict_t v = ack_receipt(&q->ack, r);
    if (v != ACK_PENDING) {
        s_verdict(d, q, v);
        return;
    }
    int64_t wake = ack_wake(&q->ack, *d->now);  /* a second copy may be due earlier */
    if (wake < q->deadline)
        pending_park(d->pending, q, wake);
}

/* The online count asked of every shard (push.c): each knows the users
 * subscribed through it, and each user is on one shard, so the users add
 * up; every shard has every worker's session count, so any one's will do.
 * 1 while more answers are due. */
static int
s_online_merge(pq_t *q, const env_t *e, int64_t *users, int64_t *sessions)
{
    int64_t sum[2] = { 0, 0 };
    if (q->kept && q->kept_len >= sizeof sum)
        memcpy(sum, q->kept, sizeof sum);
    sum[0] += e->nusers > 0 ? e->nusers : 0;
    sum[1] = e->nsessions > sum[1] ? e->nsessions : sum[1];
    if (q->due > 1) {
        q->due--;
        if (q->kept && q->kept_len >= sizeof sum)
            memcpy(q->kept, sum, sizeof sum);
        return 1;
    }
    *users = sum[0];
    *sessions = sum[1];
    return 0;
}

static void
s_on_online(deliver_t *d, const env_t *e)
{
    pq_t *q = pending_find(d->pending, e->req);
    int64_t users, sessions;
    if (!q || (q->kind != PQ_API_ONLINE && q->kind != PQ_ONLINE)
        || s_online_merge(q, e, &users, &sessions))
        return;
    if (q->kind == PQ_API_ONLINE)
        d->api.online_done(d->api.arg, q->fd, q->gen, users, sessions);
    else
        log_debug("cluster online: %lld users, %lld sessions", (long long)users,
                  (long long)sessions);
    pending_done(d->pending, q);
}

/* One shard's answer to a presence query asked of several (push.c): its
 * online flags join the others'; 1 while more answers are due. e is then
 * the last answer with every shard's flags (in d->item). */
static int
s_presence_merge(deliver_t *d, pq_t *q, const env_t **e)
{
    if (!q->kept || q->due == 0)
        return 0;
    const env_t *a = *e;
    if (a->online_n != a->users_n || a->online_n > q->kept_len)
        return 0;                       /* malformed: answered as it is */
    for (uint32_t i = 0; i < a->online_n; i++)
        q->kept[i] |= (char)(a->online[i] != 0);
    if (--q->due > 0)
        return 1;
    d->item = *a;
    for (uint32_t i = 0; i < a->online_n; i++)
        d->item.online[i] = (uint8_t)q->kept[i];
    *e = &d->item;
    return 0;
}

static void
s_on_presence(deliver_t *d, const env_t *e)
{
    pq_t *q = pending_find(d->pending, e->req);
    if (q && (q->kind == PQ_API_PRESENCE || q->kind == PQ_PRESENCE) && s_presence_merge(d, q, &e))
        return;
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

/* A resuming join: its group's messages, then its `joined` ack. */
static void
s_join_history(deliver_t *d, pq_t *q, const env_t *e)
{
    conn_t *c = conns_lookup(d->conns, q->fd, q->gen);
    session_t *s = c ? c->sess : NULL;
    if (!e->item.p) {
        uint64_t req = q->req;
        pending_done(d->pending, q);
        if (s)
            member_history_end(d->members, &s->groups, req, e);
        return;
    }
    env_t *it = &d->item;
    if (!s || env_decode(e->item.p, e->item.n, it) < 0 || it->kind != ENV_GROUP || !it->to.p
        || !valid_name(it->to.p, it->to.n) || !s_valid_message(it, it->to.p, it->to.n)
        || !it->mid.p || !valid_id(it->mid.p, it->mid.n)
        || s_frame(d, it, it->to.p, it->to.n, s_str(it->mid.p, it->mid.n)) < 0)
        return;
    member_history_item(d->members, &s->groups, q->req, c, d->wire.data, d->wire.len);
}

/* For GET /api/v1/history: each item as the JSON frame a client gets. */
static void
s_api_history(deliver_t *d, pq_t *q, const env_t *e)
{
    if (!e->item.p) {
        d->api.history_done(d->api.arg, q->fd, q->gen, e);
        pending_done(d->pending, q);
        return;
    }
    env_t *it = &d->item;
    if (env_decode(e->item.p, e->item.n, it) < 0 || it->kind != ENV_CHAT || !it->to.p
        || !valid_name(it->to.p, it->to.n) || !s_valid_message(it, it->to.p, it->to.n)
        || !it->mid.p || !valid_id(it->mid.p, it->mid.n)
        || s_frame(d, it, it->to.p, it->to.n, s_str(it->mid.p, it->mid.n)) < 0)
        return;
    d->api.history_item(d->api.arg, q->fd, q->gen, d->frame.data, d->frame.len);
}

/* An answer to a history query (ENVELOPE.md): an item, a stored chat to
 * replay ahead of the welcome, or the end. */
static void
s_on_history(deliver_t *d, const env_t *e)
{
    pq_t *q = pending_find(d->pending, e->req);
    if (q && q->kind == PQ_API_HISTORY) {
        s_api_history(d, q, e);
        return;
    }
    if (q && q->kind == PQ_JOIN_HISTORY) {
        s_join_history(d, q, e);
        return;
    }
    if (!q || q->kind != PQ_HISTORY)
        return;
    conn_t *c = conns_lookup(d->conns, q->fd, q->gen);
    session_t *s = c ? c->sess : NULL;
    if (!e->item.p) {
        pending_done(d->pending, q);
        if (s)
            session_history_end(d->sessions, c, e);
        return;
    }
    env_t *it = &d->item;
    cj_str_t m;
    if (!s || env_decode(e->item.p, e->item.n, it) < 0 || it->kind != ENV_CHAT
        || !s_valid_message(it, s->user->name, s->user->nlen) || !it->mid.p
        || !valid_id(it->mid.p, it->mid.n))
        return;
    m = s_str(it->mid.p, it->mid.n);
    if (s_frame(d, it, s->user->name, s->user->nlen, m) == 0)
        session_history_item(d->sessions, c, d->wire.data, d->wire.len);
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
deliver_on_message(void *arg, int shard, const char *topic, size_t tlen, const env_t *e)
{
    deliver_t *d = arg;
    d->via = shard;
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
    case ENV_HISTORY:
        if (tk == TOPIC_WORKER)
            s_on_history(d, e);
        break;
    default:
        break;
    }
}

/* Should a chat's final verdict wait one more turn for receipts already
 * on the bus (DELIVER_HOLD_MS)? Once only: a process starved turn after
 * turn must still answer. unread caches bus_pending(): -1 unknown. */
static int
s_hold(deliver_t *d, pq_t *q, int stalled, int *unread)
{
    if (*d->now < q->ack.deadline || q->held)
        return 0;
    q->held = 1;
    if (stalled)
        return 1;
    if (*d->now >= q->ack.deadline + DELIVER_SLACK_MS)
        return 0;
    if (*unread < 0)
        *unread = bus_pending(d->bus);
    return *unread;
}

void
deliver_expire(deliver_t *d)
{
    pq_t *q;
    int stalled = d->last_expire && *d->now - d->last_expire > DELIVER_HOLD_MS, unread = -1;
    d->last_expire = *d->now;
    while ((q = pending_expired(d->pending, *d->now))) {
        switch (q->kind) {
        case PQ_CHAT:
        case PQ_API_SEND: {
            if (s_hold(d, q, stalled, &unread)) {
                pending_park(d->pending, q, *d->now + 1);
                continue;
            }
            ack_verdict_t v = ack_tick(&q->ack, bus_link(d->bus, q->shard), *d->now);
            if (v == ACK_RETRY) {
                /* push.h's view of the same bus, table and ids; no copy
                 * once a later chat of the same session was delivered: the
                 * copy would come after it (one session's chats keep their
                 * order; zwsd-protocol(7)) */
                push_t p = { d->bus, d->pending, d->ids, d->now };
                if (!pending_later_delivered(d->pending, q) && push_retry(&p, q) == 0
                    && d->copies++ % 1000 == 0)
                    log_info("no receipt %d ms after a chat: published its copy "
                             "(%llu so far)", ACK_RETRY_MS, (unsigned long long)d->copies);
                v = ACK_PENDING;
            }
            if (v == ACK_PENDING)
                pending_park(d->pending, q, ack_wake(&q->ack, *d->now));
            else
                s_verdict(d, q, v);
            continue;
        }
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
        case PQ_HISTORY: {
            conn_t *c = conns_lookup(d->conns, q->fd, q->gen);
            if (c)
                session_history_end(d->sessions, c, NULL);
            break;
        }
        case PQ_API_HISTORY:
            d->api.history_done(d->api.arg, q->fd, q->gen, NULL);
            break;
        case PQ_JOIN_HISTORY: {
            conn_t *c = conns_lookup(d->conns, q->fd, q->gen);
            if (c && c->sess)
                member_history_end(d->members, &c->sess->groups, q->req, NULL);
            break;
        }
        default:
            break;
        }
        pending_done(d->pending, q);
    }
}

int
deliver_confirmed(deliver_t *d)
{
    int c = d->confirmed;
    d->confirmed = 0;
    return c;
}

void
deliver_free(deliver_t *d)
{
    buf_free(&d->frame);
    buf_free(&d->wire);
    seen_free(&d->seen);
}
