/* handlers — see handlers.h. Every delivery renders its frame once into
 * w->frame and hands the same bytes to each target session. */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "bus.h"
#include "client_json.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "pending.h"
#include "route.h"
#include "topic.h"
#include "valid.h"

#define ACK_MS    900           /* delivered/offline within 1 s */
#define QUERY_MS  1000
#define JOIN_MS   5000

static const char *s_reasons[CJ_CODE_COUNT] = {
    [CJ_BAD_JSON] = "the text is not valid JSON",
    [CJ_BAD_REQUEST] = "missing or invalid field",
    [CJ_UNKNOWN_TYPE] = "unknown type",
    [CJ_NOT_MEMBER] = "not a member of that group",
    [CJ_FORBIDDEN] = "not allowed",
    [CJ_TOO_MANY] = "over the limit",
    [CJ_RATE_LIMITED] = "rate limit exceeded",
    [CJ_UNSUPPORTED] = "binary frames are not supported",
    [CJ_UNAVAILABLE] = "the broker cannot be reached; the message was not sent",
};

static cj_str_t
s_str(const char *p, size_t n)
{
    cj_str_t s = { p, n };
    return s;
}

void
handle_error(worker_t *w, conn_t *c, int code, const char *reason, const char *id,
             size_t id_len)
{
    if ((unsigned)code < CJ_CODE_COUNT)
        metrics_inc((metric_t)(M_ERR_BASE + code));
    w->ctl.len = 0;
    if (cj_render_error(&w->ctl, (cj_code_t)code, reason ? reason : s_reasons[code],
                        s_str(id, id_len)) == 0)
        conn_send_text(w, c, w->ctl.data, w->ctl.len);
}

static void
s_ack(worker_t *w, conn_t *c, cj_str_t id, const char *mid, const char *status)
{
    if (!id.p)
        return;
    w->ctl.len = 0;
    if (cj_render_ack(&w->ctl, id, mid, status) == 0)
        conn_send_text(w, c, w->ctl.data, w->ctl.len);
}

static int
s_is_mine(worker_t *w, env_str_t origin)
{
    return origin.p && origin.n == strlen(w->origin) && !memcmp(origin.p, w->origin, origin.n);
}

/* Snapshot targets first: a send may close a conn (4008) and unlink it. */
static size_t
s_targets_reserve(worker_t *w, size_t n)
{
    if (n > w->targets_cap) {
        size_t cap = w->targets_cap ? w->targets_cap : 64;
        while (cap < n)
            cap *= 2;
        conn_t **t = realloc(w->targets, cap * sizeof *t);
        if (!t)
            return w->targets_cap;
        w->targets = t;
        w->targets_cap = cap;
    }
    return w->targets_cap;
}

/* ---- sessions ------------------------------------------------------- */

static void
s_publish_kick(worker_t *w, conn_t *c)
{
    env_t e;
    env_init(&e, ENV_KICK);
    e.to = env_cstr(c->user->name);
    e.session = env_cstr(c->session);
    e.time = c->login_wall;
    e.origin = env_cstr(w->origin);
    bus_publish(w->bus, c->user->topic, c->user->tlen, &e);
}

/* Is a older than (time, session)? Newest login wins; ties by session id. */
static int
s_older(const conn_t *a, int64_t time, const char *session, size_t slen)
{
    if (a->login_wall != time)
        return a->login_wall < time;
    size_t al = strlen(a->session);
    int cmp = memcmp(a->session, session, al < slen ? al : slen);
    return cmp < 0 || (cmp == 0 && al < slen);
}

static void
s_kick(worker_t *w, conn_t *c)
{
    metrics_inc(M_KICKED);
    log_debug("session %s of %s replaced by a newer login", c->session, c->user->name);
    conn_close(w, c, 4001, "session replaced");
}

int
handle_attach(worker_t *w, conn_t *c, const char *user)
{
    route_t *r = route_ref(w->routes, TOPIC_USER, user, strlen(user));
    if (!r)
        return -1;
    c->user = r;
    list_push_tail(&r->members, &c->ulink);
    r->nmembers++;
    w->nsessions++;
    metrics_inc(M_SESSIONS);
    c->login_wall = clock_wall_ms();
    worker_new_id(w, c->session);
    if (!w->opt->sessions_multi) {
        /* older local sessions go now; remote ones by the kick message */
        for (link_t *l = r->members.next; l != &r->members;) {
            conn_t *o = list_entry(l, conn_t, ulink);
            l = l->next;
            if (o != c)
                s_kick(w, o);
        }
    }
    if (r->live)
        handle_route_live(w, r);
    return 0;
}

static void
s_member_free(worker_t *w, member_t *m)
{
    route_t *r = m->route;
    list_unlink(&m->rlink);
    r->nmembers--;
    free(m);
    route_release(w->routes, r);
}

void
handle_detach(worker_t *w, conn_t *c)
{
    while (c->groups) {
        member_t *m = c->groups;
        c->groups = m->next;
        s_member_free(w, m);
    }
    c->ngroups = 0;
    if (!c->user)
        return;
    route_t *r = c->user;
    list_unlink(&c->ulink);
    r->nmembers--;
    w->nsessions--;
    metrics_dec(M_SESSIONS);
    c->user = NULL;
    route_release(w->routes, r);
}

void
handle_route_live(worker_t *w, route_t *r)
{
    size_t n = 0, cap = s_targets_reserve(w, (size_t)r->nmembers);
    if (r->kind == TOPIC_USER) {
        for (link_t *l = r->members.next; l != &r->members && n < cap; l = l->next)
            w->targets[n++] = list_entry(l, conn_t, ulink);
        for (size_t i = 0; i < n; i++) {
            conn_t *c = w->targets[i];
            if (c->state != CONN_PENDING)
                continue;
            conn_open(w, c);
            if (c->state == CONN_OPEN && !w->opt->sessions_multi)
                s_publish_kick(w, c);
        }
        return;
    }
    /* group: ack the joins that waited for the route */
    for (link_t *l = r->members.next; l != &r->members; l = l->next) {
        member_t *m = list_entry(l, member_t, rlink);
        if (m->ack_wanted && n < cap)
            w->targets[n++] = m->conn;
        m->ack_wanted = 0;
    }
    for (size_t i = 0; i < n; i++) {
        conn_t *c = w->targets[i];
        for (member_t *m = c->groups; m; m = m->next)
            if (m->route == r && m->ack_id[0]) {
                metrics_inc(M_ACK_JOINED);
                s_ack(w, c, s_str(m->ack_id, strlen(m->ack_id)), NULL, "joined");
                if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
                    break;
                m->ack_id[0] = '\0';
                break;
            }
    }
}

void
handle_join_timeouts(worker_t *w, route_t *r)
{
    size_t n = 0, cap = s_targets_reserve(w, (size_t)r->nmembers);
    for (link_t *l = r->members.next; l != &r->members && n < cap; l = l->next) {
        member_t *m = list_entry(l, member_t, rlink);
        if (m->ack_wanted && w->now - m->join_ms >= JOIN_MS)
            w->targets[n++] = m->conn;
    }
    for (size_t i = 0; i < n; i++) {
        conn_t *c = w->targets[i];
        for (member_t **pp = &c->groups; *pp; pp = &(*pp)->next) {
            member_t *m = *pp;
            if (m->route != r)
                continue;
            char id[65];
            memcpy(id, m->ack_id, sizeof id);
            *pp = m->next;
            c->ngroups--;
            s_member_free(w, m);            /* the last one frees r */
            handle_error(w, c, CJ_UNAVAILABLE, "the group's route did not come up in time",
                         id[0] ? id : NULL, strlen(id));
            break;
        }
    }
}

/* ---- client frames -------------------------------------------------- */

static int
s_publish_msg(worker_t *w, conn_t *c, env_kind_t kind, cj_frame_t *f, char *mid, pq_t *q)
{
    char topic[TOPIC_MAX];
    size_t tn = kind == ENV_BCAST ? topic_make(topic, TOPIC_BCAST, NULL, 0)
                                  : topic_make(topic, kind == ENV_CHAT ? TOPIC_USER : TOPIC_GROUP,
                                               f->target.p, f->target.n);
    env_t e;
    env_init(&e, kind);
    worker_new_id(w, mid);
    e.mid = env_cstr(mid);
    e.sender = env_cstr(c->user->name);
    if (kind != ENV_BCAST) {
        e.to.p = f->target.p;
        e.to.n = (uint32_t)f->target.n;
    }
    e.msg.p = f->msg;
    e.msg.n = (uint32_t)f->msg_len;
    e.time = clock_wall_ms();
    if (q) {
        e.origin = env_cstr(w->origin);
        e.req = q->req;
    }
    return bus_publish(w->bus, topic, tn, &e);
}

static void
s_chat(worker_t *w, conn_t *c, cj_frame_t *f)
{
    char mid[40];
    pq_t *q = NULL;
    if (!bus_up(w->bus)) {
        handle_error(w, c, CJ_UNAVAILABLE, NULL, f->id.p, f->id.n);
        return;
    }
    if (f->id.p) {
        if (!(q = pending_add(w->pending, PQ_CHAT, w->now + ACK_MS))) {
            handle_error(w, c, CJ_UNAVAILABLE, "out of memory", f->id.p, f->id.n);
            return;
        }
        q->fd = c->fd;
        q->gen = c->gen;
        memcpy(q->id, f->id.p, f->id.n);
        q->id[f->id.n] = '\0';
    }
    if (s_publish_msg(w, c, ENV_CHAT, f, mid, q) < 0) {
        if (q)
            pending_done(w->pending, q);
        handle_error(w, c, CJ_UNAVAILABLE, NULL, f->id.p, f->id.n);
        return;
    }
    if (q) {
        memcpy(q->mid, mid, sizeof q->mid);
        q->seq = bus_seq(w->bus);
    }
    metrics_inc(M_ROUTED_CHAT);
}

static member_t *
s_membership(conn_t *c, const char *g, size_t n)
{
    for (member_t *m = c->groups; m; m = m->next)
        if (m->route->nlen == n && !memcmp(m->route->name, g, n))
            return m;
    return NULL;
}

static void
s_join(worker_t *w, conn_t *c, cj_frame_t *f)
{
    member_t *m = s_membership(c, f->target.p, f->target.n);
    if (!m) {
        if (c->ngroups >= w->opt->max_groups) {
            handle_error(w, c, CJ_TOO_MANY, "over the groups-per-session limit", f->id.p, f->id.n);
            return;
        }
        route_t *r = route_ref(w->routes, TOPIC_GROUP, f->target.p, f->target.n);
        if (!r || !(m = calloc(1, sizeof *m))) {
            if (r)
                route_release(w->routes, r);
            handle_error(w, c, CJ_UNAVAILABLE, "out of memory", f->id.p, f->id.n);
            return;
        }
        m->route = r;
        m->conn = c;
        m->next = c->groups;
        c->groups = m;
        c->ngroups++;
        list_push_tail(&r->members, &m->rlink);
        r->nmembers++;
        m->join_ms = w->now;
    }
    if (m->route->live) {
        metrics_inc(M_ACK_JOINED);
        s_ack(w, c, f->id, NULL, "joined");
        return;
    }
    m->ack_wanted = 1;
    m->join_ms = w->now;
    if (f->id.p) {
        memcpy(m->ack_id, f->id.p, f->id.n);
        m->ack_id[f->id.n] = '\0';
    }
}

static void
s_leave(worker_t *w, conn_t *c, cj_frame_t *f)
{
    for (member_t **pp = &c->groups; *pp; pp = &(*pp)->next) {
        member_t *m = *pp;
        if (m->route->nlen == f->target.n && !memcmp(m->route->name, f->target.p, f->target.n)) {
            *pp = m->next;
            c->ngroups--;
            s_member_free(w, m);
            break;
        }
    }
    metrics_inc(M_ACK_LEFT);
    s_ack(w, c, f->id, NULL, "left");
}

static void
s_group_or_bcast(worker_t *w, conn_t *c, cj_frame_t *f)
{
    char mid[40];
    env_kind_t kind = f->type == CJ_GROUP ? ENV_GROUP : ENV_BCAST;
    if (kind == ENV_GROUP && !s_membership(c, f->target.p, f->target.n)) {
        handle_error(w, c, CJ_NOT_MEMBER, NULL, f->id.p, f->id.n);
        return;
    }
    if (kind == ENV_BCAST && !w->opt->allow_client_broadcast) {
        handle_error(w, c, CJ_FORBIDDEN, "client broadcast is not allowed", f->id.p, f->id.n);
        return;
    }
    if (!bus_up(w->bus) || s_publish_msg(w, c, kind, f, mid, NULL) < 0) {
        handle_error(w, c, CJ_UNAVAILABLE, NULL, f->id.p, f->id.n);
        return;
    }
    metrics_inc(kind == ENV_GROUP ? M_ROUTED_GROUP : M_ROUTED_BCAST);
    if (f->id.p)
        metrics_inc(M_ACK_SENT);
    s_ack(w, c, f->id, mid, "sent");
}

static void
s_presence(worker_t *w, conn_t *c, cj_frame_t *f)
{
    pq_t *q;
    if (!bus_up(w->bus) || !(q = pending_add(w->pending, PQ_PRESENCE, w->now + QUERY_MS))) {
        handle_error(w, c, CJ_UNAVAILABLE, NULL, f->id.p, f->id.n);
        return;
    }
    q->fd = c->fd;
    q->gen = c->gen;
    if (f->id.p) {
        memcpy(q->id, f->id.p, f->id.n);
        q->id[f->id.n] = '\0';
    }
    env_t e;
    env_init(&e, ENV_PRESENCE);
    e.origin = env_cstr(w->origin);
    e.req = q->req;
    e.users_n = (uint32_t)f->nusers;
    for (size_t i = 0; i < f->nusers; i++) {
        e.users[i].p = f->users[i].p;
        e.users[i].n = (uint32_t)f->users[i].n;
    }
    if (bus_publish(w->bus, "s|", 2, &e) < 0) {
        pending_done(w->pending, q);
        handle_error(w, c, CJ_UNAVAILABLE, NULL, f->id.p, f->id.n);
    }
}

void
handle_client(worker_t *w, conn_t *c, const char *text, size_t len)
{
    cj_frame_t f;
    cj_code_t code = cj_parse(text, len, &f);
    if (code != CJ_OK) {
        char sample[48];
        log_debug("session %s: %s: %s", c->session, cj_code_name(code),
                  log_sample(sample, sizeof sample, text, len));
        handle_error(w, c, code, NULL, f.id.p, f.id.n);
    } else {
        switch (f.type) {
        case CJ_CHAT:      s_chat(w, c, &f); break;
        case CJ_JOIN:      s_join(w, c, &f); break;
        case CJ_LEAVE:     s_leave(w, c, &f); break;
        case CJ_GROUP:
        case CJ_BROADCAST: s_group_or_bcast(w, c, &f); break;
        case CJ_PRESENCE:  s_presence(w, c, &f); break;
        }
    }
    cj_frame_clear(&f);
}

/* ---- bus messages --------------------------------------------------- */

static void
s_deliver(worker_t *w, topic_kind_t tk, const char *name, size_t nlen, const env_t *e)
{
    static const char *kinds[] = { [ENV_CHAT] = "chat", [ENV_GROUP] = "group",
                                   [ENV_BCAST] = "broadcast" };
    char mid[40];
    env_str_t sender = e->sender.p ? e->sender : env_cstr("system");
    if (!e->msg.p || e->msg.n == 0
        || !(valid_name(sender.p, sender.n))
        || ((e->kind == ENV_CHAT || e->kind == ENV_GROUP)
            && (!e->to.p || e->to.n != nlen || memcmp(e->to.p, name, nlen)))) {
        log_debug("dropped a malformed %s message", env_kind_name(e->kind));
        return;
    }
    cj_str_t m = { e->mid.p, e->mid.n };
    if (!m.p || !valid_id(m.p, m.n) || m.n >= sizeof mid) {
        m.n = worker_new_id(w, mid);     /* a backend may leave the mid to us */
        m.p = mid;
    }
    /* collect targets */
    size_t n = 0;
    if (e->kind == ENV_BCAST) {
        size_t cap = s_targets_reserve(w, (size_t)w->nsessions);
        for (int tl = TL_IDLE; tl <= TL_PING; tl++)
            for (link_t *l = w->timers[tl].next; l != &w->timers[tl] && n < cap; l = l->next)
                w->targets[n++] = list_entry(l, conn_t, tlink);
    } else {
        route_t *r = route_get(w->routes, tk, name, nlen);
        if (!r)
            return;
        size_t cap = s_targets_reserve(w, (size_t)r->nmembers);
        for (link_t *l = r->members.next; l != &r->members && n < cap; l = l->next)
            w->targets[n++] = tk == TOPIC_USER ? list_entry(l, conn_t, ulink)
                                               : list_entry(l, member_t, rlink)->conn;
    }
    if (n == 0)
        return;
    w->frame.len = 0;
    /* createTime from a backend: only a real RFC 3339 instant (years 1970–9999) */
    int64_t t = e->time > 0 && e->time < 253402300800000LL ? e->time : clock_wall_ms();
    if (cj_render_message(&w->frame, kinds[e->kind], s_str(sender.p, sender.n),
                          s_str(name, nlen), s_str(e->msg.p, e->msg.n), m, t) < 0)
        return;
    w->wire.len = 0;
    if (conn_frame(w, &w->wire, w->frame.data, w->frame.len) < 0)
        return;
    size_t delivered = 0;
    for (size_t i = 0; i < n; i++) {
        conn_t *c = w->targets[i];
        if (c->state == CONN_OPEN && conn_send_frame(w, c, w->wire.data, w->wire.len) == 0)
            delivered++;
    }
    if (e->kind == ENV_CHAT && delivered && e->req && e->origin.p && valid_name(e->origin.p, e->origin.n)) {
        char topic[TOPIC_MAX];
        env_t r;
        env_init(&r, ENV_RCPT);
        r.req = e->req;
        r.mid.p = m.p;
        r.mid.n = (uint32_t)m.n;
        r.status = env_cstr("delivered");
        size_t tn = topic_make(topic, TOPIC_WORKER, e->origin.p, e->origin.n);
        bus_publish(w->bus, topic, tn, &r);
    }
}

static void
s_on_kick(worker_t *w, const char *name, size_t nlen, const env_t *e)
{
    if (w->opt->sessions_multi || s_is_mine(w, e->origin) || !e->session.p)
        return;
    route_t *r = route_get(w->routes, TOPIC_USER, name, nlen);
    if (!r)
        return;
    size_t n = 0, cap = s_targets_reserve(w, (size_t)r->nmembers);
    for (link_t *l = r->members.next; l != &r->members && n < cap; l = l->next)
        w->targets[n++] = list_entry(l, conn_t, ulink);
    for (size_t i = 0; i < n; i++) {
        conn_t *c = w->targets[i];
        if (c->state != CONN_OPEN && c->state != CONN_PENDING)
            continue;
        if (s_older(c, e->time, e->session.p, e->session.n))
            s_kick(w, c);
        else if (c->state == CONN_OPEN)
            s_publish_kick(w, c);       /* ours is newer: the kicker's must go */
    }
}

static void
s_on_receipt(worker_t *w, const env_t *e)
{
    pq_t *q = pending_find(w->pending, e->req);
    int delivered = e->status.n == 9 && !memcmp(e->status.p, "delivered", 9);
    int unavailable = e->status.n == 11 && !memcmp(e->status.p, "unavailable", 11);
    const char *status = delivered ? "delivered" : unavailable ? "unavailable" : "offline";
    if (q && q->kind == PQ_API_SEND) {
        metrics_inc(delivered ? M_ACK_DELIVERED : unavailable ? M_ACK_UNAVAILABLE : M_ACK_OFFLINE);
        api_push_done(w, q->fd, q->gen, q->mid, status);
        pending_done(w->pending, q);
        return;
    }
    if (!q || q->kind != PQ_CHAT)
        return;
    conn_t *c = conn_lookup(w, q->fd, q->gen);
    if (c && unavailable) {
        metrics_inc(M_ACK_UNAVAILABLE);
        handle_error(w, c, CJ_UNAVAILABLE, "the broker is still learning its routes; not sent",
                     q->id, strlen(q->id));
        pending_done(w->pending, q);
        return;
    }
    if (c) {
        metrics_inc(delivered ? M_ACK_DELIVERED : M_ACK_OFFLINE);
        s_ack(w, c, s_str(q->id, strlen(q->id)), q->mid, delivered ? "delivered" : "offline");
    }
    pending_done(w->pending, q);
}

static void
s_on_online(worker_t *w, const env_t *e)
{
    pq_t *q = pending_find(w->pending, e->req);
    if (!q)
        return;
    if (q->kind == PQ_API_ONLINE)
        api_online_done(w, q->fd, q->gen, e->nusers, e->nsessions);
    else if (q->kind == PQ_ONLINE)
        log_debug("cluster online: %lld users, %lld sessions", (long long)e->nusers,
                  (long long)e->nsessions);
    pending_done(w->pending, q);
}

static void
s_on_presence(worker_t *w, const env_t *e)
{
    pq_t *q = pending_find(w->pending, e->req);
    if (q && q->kind == PQ_API_PRESENCE) {
        api_presence_done(w, q->fd, q->gen, e);
        pending_done(w->pending, q);
        return;
    }
    if (!q || q->kind != PQ_PRESENCE)
        return;
    conn_t *c = conn_lookup(w, q->fd, q->gen);
    if (c && e->users_n == e->online_n) {
        cj_str_t users[ENV_USERS_MAX];
        for (uint32_t i = 0; i < e->users_n; i++)
            users[i] = s_str(e->users[i].p, e->users[i].n);
        w->ctl.len = 0;
        if (cj_render_presence(&w->ctl, users, e->online, e->users_n,
                               s_str(q->id[0] ? q->id : NULL, strlen(q->id))) == 0)
            conn_send_text(w, c, w->ctl.data, w->ctl.len);
    }
    pending_done(w->pending, q);
}

void
handle_bus(worker_t *w, const char *topic, size_t tlen, const env_t *e)
{
    topic_kind_t tk;
    const char *name;
    size_t nlen;
    if (topic_parse(topic, tlen, &tk, &name, &nlen) < 0)
        return;
    switch (e->kind) {
    case ENV_CHAT:
        if (tk == TOPIC_USER)
            s_deliver(w, tk, name, nlen, e);
        break;
    case ENV_GROUP:
        if (tk == TOPIC_GROUP)
            s_deliver(w, tk, name, nlen, e);
        break;
    case ENV_BCAST:
        if (tk == TOPIC_BCAST)
            s_deliver(w, tk, name, nlen, e);
        break;
    case ENV_KICK:
        if (tk == TOPIC_USER)
            s_on_kick(w, name, nlen, e);
        break;
    case ENV_PROBE:
        if (!s_is_mine(w, e->origin))
            break;
        if (tk == TOPIC_WORKER)
            bus_probe_back(w->bus, e->req);
        else
            route_probe_back(w->routes, e->req, topic, tlen);
        break;
    case ENV_RCPT:
        if (tk == TOPIC_WORKER)
            s_on_receipt(w, e);
        break;
    case ENV_PRESENCE:
        if (tk == TOPIC_WORKER)
            s_on_presence(w, e);
        break;
    case ENV_ONLINE:
        if (tk == TOPIC_WORKER)
            s_on_online(w, e);
        break;
    default:
        break;
    }
}

/* A chat with no receipt by its deadline is `offline` only if the broker
 * provably processed it: a probe published after it has come back. If not,
 * it may have been lost with a dying broker: `unavailable`, never a false
 * offline. */
static int
s_routed(worker_t *w, const pq_t *q)
{
    return bus_routed(w->bus, q->seq, q->sent_ms);
}

void
handle_expire(worker_t *w)
{
    pq_t *q;
    while ((q = pending_expired(w->pending, w->now))) {
        switch (q->kind) {
        case PQ_API_SEND: {
            int routed = s_routed(w, q);
            metrics_inc(routed ? M_ACK_OFFLINE : M_ACK_UNAVAILABLE);
            api_push_done(w, q->fd, q->gen, q->mid, routed ? "offline" : "unavailable");
            pending_done(w->pending, q);
            continue;
        }
        case PQ_API_ONLINE:
            api_online_done(w, q->fd, q->gen, -1, -1);
            pending_done(w->pending, q);
            continue;
        case PQ_API_PRESENCE:
            api_presence_done(w, q->fd, q->gen, NULL);
            pending_done(w->pending, q);
            continue;
        case PQ_ONLINE:
            pending_done(w->pending, q);
            continue;
        default:
            break;
        }
        conn_t *c = conn_lookup(w, q->fd, q->gen);
        if (c) {
            if (q->kind == PQ_CHAT && s_routed(w, q)) {
                /* the broker routed it and no worker took it: the receiver
                 * had no live session */
                metrics_inc(M_ACK_OFFLINE);
                s_ack(w, c, s_str(q->id, strlen(q->id)), q->mid, "offline");
            } else {
                if (q->kind == PQ_CHAT)
                    metrics_inc(M_ACK_UNAVAILABLE);
                handle_error(w, c, CJ_UNAVAILABLE, NULL, q->id[0] ? q->id : NULL, strlen(q->id));
            }
        }
        pending_done(w->pending, q);
    }
}

/* ---- backend push and queries (HTTP API) ----------------------------- */

int
handle_push(worker_t *w, env_kind_t kind, const char *target, const char *sender,
            const char *msg, size_t msg_len, char *mid, int fd, uint32_t gen)
{
    char topic[TOPIC_MAX];
    size_t tn;
    if (!bus_up(w->bus))
        return -1;
    if (kind == ENV_BCAST)
        tn = topic_make(topic, TOPIC_BCAST, NULL, 0);
    else
        tn = topic_make(topic, kind == ENV_CHAT ? TOPIC_USER : TOPIC_GROUP, target, strlen(target));
    env_t e;
    env_init(&e, kind);
    worker_new_id(w, mid);
    e.mid = env_cstr(mid);
    e.sender = env_cstr(sender ? sender : "system");
    if (kind != ENV_BCAST)
        e.to = env_cstr(target);
    e.msg.p = msg;
    e.msg.n = (uint32_t)msg_len;
    e.time = clock_wall_ms();
    pq_t *q = NULL;
    if (kind == ENV_CHAT) {
        if (!(q = pending_add(w->pending, PQ_API_SEND, w->now + ACK_MS)))
            return -1;
        q->fd = fd;
        q->gen = gen;
        snprintf(q->mid, sizeof q->mid, "%s", mid);
        e.origin = env_cstr(w->origin);
        e.req = q->req;
    }
    if (bus_publish(w->bus, topic, tn, &e) < 0) {
        if (q)
            pending_done(w->pending, q);
        return -1;
    }
    if (q)
        q->seq = bus_seq(w->bus);
    metrics_inc(kind == ENV_CHAT ? M_ROUTED_CHAT : kind == ENV_GROUP ? M_ROUTED_GROUP
                                                                      : M_ROUTED_BCAST);
    if (kind != ENV_CHAT)
        metrics_inc(M_ACK_SENT);
    return 0;
}

int
handle_query(worker_t *w, env_kind_t kind, const char *const *users, size_t n, int fd,
             uint32_t gen)
{
    if (!bus_up(w->bus) || n > ENV_USERS_MAX)
        return -1;
    pq_kind_t pk = fd < 0 ? PQ_ONLINE : kind == ENV_ONLINE ? PQ_API_ONLINE : PQ_API_PRESENCE;
    pq_t *q = pending_add(w->pending, pk, w->now + QUERY_MS);
    if (!q)
        return -1;
    q->fd = fd;
    q->gen = gen;
    env_t e;
    env_init(&e, kind);
    e.origin = env_cstr(w->origin);
    e.req = q->req;
    e.users_n = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        e.users[i] = env_cstr(users[i]);
    if (bus_publish(w->bus, "s|", 2, &e) < 0) {
        pending_done(w->pending, q);
        return -1;
    }
    return 0;
}
