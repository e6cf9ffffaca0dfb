/* session — see session.h. */
#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "client_json.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"

struct sessions {
    conns_t         *conns;
    routes_t        *routes;
    members_t       *members;
    bus_t           *bus;
    push_t          *push;
    idgen_t         *ids;
    const options_t *opt;
    link_t           all;
    int              count;
    buf_t            welcome;
};

sessions_t *
sessions_new(conns_t *conns, routes_t *routes, members_t *members, bus_t *bus, push_t *push,
             idgen_t *ids, const options_t *opt)
{
    sessions_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    *self = (sessions_t){ conns, routes, members, bus, push, ids, opt, { NULL, NULL }, 0, { 0 } };
    list_init(&self->all);
    return self;
}

void
sessions_destroy(sessions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    buf_free(&(*self_p)->welcome);
    free(*self_p);
    *self_p = NULL;
}

int
sessions_count(const sessions_t *self)
{
    return self->count;
}

link_t *
sessions_all(sessions_t *self)
{
    return &self->all;
}

static void
s_publish_kick(sessions_t *self, session_t *s)
{
    env_t e;
    env_init(&e, ENV_KICK);
    e.to = env_cstr(s->user->name);
    e.session = env_cstr(s->id);
    e.time = s->login_wall;
    e.origin = env_cstr(self->ids->origin);
    bus_publish(self->bus, s->user->topic, s->user->tlen, &e);
}

/* Is a older than (time, id)? Newest login wins; ties by session id. */
static int
s_older(const session_t *a, int64_t time, const char *id, size_t n)
{
    if (a->login_wall != time)
        return a->login_wall < time;
    size_t al = strlen(a->id);
    int cmp = memcmp(a->id, id, al < n ? al : n);
    return cmp < 0 || (cmp == 0 && al < n);
}

static void
s_kick(sessions_t *self, session_t *s)
{
    metrics_inc(M_KICKED);
    log_debug("session %s of %s replaced by a newer login", s->id, s->user->name);
    conn_close(self->conns, s->conn, 4001, "session replaced");
}

static void
s_welcome(sessions_t *self, session_t *s, const cj_pos_t *pos)
{
    self->welcome.len = 0;
    if (cj_render_welcome_at(&self->welcome, s->user->name, s->id, pos) < 0) {
        conn_drop(self->conns, s->conn);
        return;
    }
    conn_open(self->conns, s->conn, self->welcome.data, self->welcome.len);
    if (s->conn->state == CONN_OPEN && !self->opt->sessions_multi)
        s_publish_kick(self, s);        /* older logins elsewhere must go */
}

/* The route is live and the link up: ask where the stream stands (and
 * for what a resume missed); the welcome follows the answer. Without a
 * way to ask, welcome now, without a position. */
static void
s_open(sessions_t *self, session_t *s)
{
    if (s->hreq)
        return;                         /* asked already */
    push_waiter_t wt = { PQ_HISTORY, s->conn->io.fd, s->conn->io.gen, NULL, 0 };
    s->hreq = push_history(self->push, s->user->topic, s->user->tlen, s->since, &wt);
    free(s->since);
    s->since = NULL;
    if (!s->hreq)
        s_welcome(self, s, NULL);
}

void
session_history_item(sessions_t *self, conn_t *c, const char *frame, size_t n)
{
    session_t *s = c->sess;
    if (s && s->hreq && conn_send_early(self->conns, c, frame, n) == 0)
        metrics_inc(M_FRAMES_OUT);
}

void
session_history_end(sessions_t *self, conn_t *c, const env_t *e)
{
    session_t *s = c->sess;
    if (!s || !s->hreq || c->state != CONN_PENDING)
        return;
    s->hreq = 0;
    if (!e) {
        log_info("session %s of %s: no history answer in time, closing 1013", s->id,
                 s->user->name);
        conn_close(self->conns, c, 1013, "try again later");
        return;
    }
    route_epoch(s->user, e->epoch.p, e->epoch.n);
    route_pos_set(s->user, &s->pos, e->seq);
    cj_pos_t pos = { e->seq, { s->user->epoch, s->user->epoch_len }, e->recovered, e->missed, 0 };
    if (!e->epoch.p || s->user->epoch_len == 0)
        pos = CJ_POS_NONE;
    s_welcome(self, s, &pos);
}

int
session_attach(sessions_t *self, conn_t *c, const char *user, const char *since)
{
    session_t *s = calloc(1, sizeof *s);
    route_t *r = s ? route_ref(self->routes, TOPIC_USER, user, strlen(user)) : NULL;
    if (!r || (since && !(s->since = strdup(since)))) {
        if (r)
            route_release(self->routes, r);
        free(s);
        return -1;
    }
    s->conn = c;
    s->user = r;
    s->login_wall = clock_wall_ms();
    idgen_next(self->ids, s->id);
    c->sess = s;
    list_push_tail(&r->members, &s->ulink);
    r->nmembers++;
    list_push_tail(&self->all, &s->slink);
    self->count++;
    metrics_inc(M_SESSIONS);
    if (!self->opt->sessions_multi) {
        /* older local sessions go now (closes are deferred: the list holds
         * still); remote ones by the kick message once we are open */
        for (link_t *l = r->members.next; l != &r->members; l = l->next) {
            session_t *o = list_entry(l, session_t, ulink);
            if (o != s && o->conn->state <= CONN_OPEN)
                s_kick(self, o);
        }
    }
    if (r->live && bus_up_topic(self->bus, r->topic, r->tlen))
        s_open(self, s);
    else
        route_reprobe(self->routes, r); /* no-op while it is probing */
    return 0;
}

void
session_detach(sessions_t *self, conn_t *c)
{
    session_t *s = c->sess;
    if (!s)
        return;
    member_drop_all(self->members, &s->groups);
    route_t *r = s->user;
    list_unlink(&s->ulink);
    r->nmembers--;
    list_unlink(&s->slink);
    self->count--;
    metrics_dec(M_SESSIONS);
    route_release(self->routes, r);
    free(s->since);
    free(s);
    c->sess = NULL;
}

void
session_route_live(sessions_t *self, route_t *r)
{
    for (link_t *l = r->members.next; l != &r->members; l = l->next) {
        session_t *s = list_entry(l, session_t, ulink);
        if (s->conn->state == CONN_PENDING)
            s_open(self, s);
    }
}

void
session_on_kick(sessions_t *self, const char *name, size_t nlen, const env_t *e)
{
    if (self->opt->sessions_multi || !e->session.p || !e->origin.p
        || (e->origin.n == strlen(self->ids->origin)
            && !memcmp(e->origin.p, self->ids->origin, e->origin.n)))
        return;
    route_t *r = route_get(self->routes, TOPIC_USER, name, nlen);
    if (!r)
        return;
    for (link_t *l = r->members.next; l != &r->members; l = l->next) {
        session_t *s = list_entry(l, session_t, ulink);
        if (s->conn->state != CONN_OPEN && s->conn->state != CONN_PENDING)
            continue;
        if (s_older(s, e->time, e->session.p, e->session.n))
            s_kick(self, s);
        else if (s->conn->state == CONN_OPEN)
            s_publish_kick(self, s);    /* ours is newer: the kicker's must go */
    }
}
