/* member — see member.h. */
#include "member.h"

#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "push.h"
#include "reply.h"

struct member_op {
    member_op_t *next;          /* in the membership's list */
    link_t       qlink;         /* in members->waiting, by time */
    member_t    *m;
    int64_t      t;
    uint8_t      leave;
    char        *since;         /* join: "EPOCH:SEQ" to resume after, or NULL */
    uint64_t     hreq;          /* join: its history query, once sent */
    char         id[65];        /* "" = no answer wanted */
};

struct members {
    routes_t      *routes;
    conns_t       *conns;
    push_t        *push;
    const int64_t *now;
    link_t         waiting;     /* every op, oldest first (one duration) */
};

members_t *
members_new(routes_t *routes, conns_t *conns, push_t *push, const int64_t *now)
{
    members_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->routes = routes;
    self->conns = conns;
    self->push = push;
    self->now = now;
    list_init(&self->waiting);
    return self;
}

void
members_destroy(members_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);      /* memberships belong to sessions, dropped with them */
    *self_p = NULL;
}

static void s_answer(members_t *self, memberset_t *set, member_t *m, int ok);

static member_t *
s_find(const memberset_t *set, cj_str_t g)
{
    for (member_t *m = set->head; m; m = m->next)
        if (m->route->nlen == g.n && !memcmp(m->route->name, g.p, g.n))
            return m;
    return NULL;
}

int
member_of(const memberset_t *set, cj_str_t group)
{
    member_t *m = s_find(set, group);
    return m && !m->leaving;
}

static void
s_free_op(member_op_t *op)
{
    list_unlink(&op->qlink);
    free(op->since);
    free(op);
}

static int
s_push_op(members_t *self, member_t *m, int leave, cj_str_t id, cj_str_t since)
{
    member_op_t *op = calloc(1, sizeof *op);
    if (!op || (since.p && !(op->since = strndup(since.p, since.n)))) {
        free(op);
        return -1;
    }
    op->m = m;
    op->t = *self->now;
    op->leave = (uint8_t)leave;
    if (id.p) {
        memcpy(op->id, id.p, id.n);
        op->id[id.n] = '\0';
    }
    if (m->ops_tail)
        m->ops_tail->next = op;
    else
        m->ops = op;
    m->ops_tail = op;
    list_push_tail(&self->waiting, &op->qlink);
    return 0;
}

/* Unlink m from its set and its route; frees m (and the route, if last). */
static void
s_free(members_t *self, memberset_t *set, member_t *m)
{
    for (member_t **pp = &set->head; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            set->n--;
            break;
        }
    while (m->ops) {
        member_op_t *op = m->ops;
        m->ops = op->next;
        s_free_op(op);
    }
    route_t *r = m->route;
    list_unlink(&m->rlink);
    r->nmembers--;
    free(m);
    route_release(self->routes, r);
}

void
member_join(members_t *self, memberset_t *set, conn_t *c, cj_str_t group, cj_str_t id,
            cj_str_t since, int max, int link_up)
{
    member_t *m = s_find(set, group);
    if (!m) {
        if (set->n >= max) {
            reply_error(self->conns, c, CJ_TOO_MANY, "over the groups-per-session limit", id);
            return;
        }
        route_t *r = route_ref(self->routes, TOPIC_GROUP, group.p, group.n);
        if (!r || !(m = calloc(1, sizeof *m))) {
            route_release(self->routes, r);
            reply_error(self->conns, c, CJ_UNAVAILABLE, "out of memory", id);
            return;
        }
        m->route = r;
        m->conn = c;
        m->set = set;
        m->next = set->head;
        set->head = m;
        set->n++;
        list_push_tail(&r->members, &m->rlink);
        r->nmembers++;
    }
    m->leaving = 0;                     /* a join after a waiting leave wins */
    if (s_push_op(self, m, 0, id, since) < 0) {
        reply_error(self->conns, c, CJ_UNAVAILABLE, "out of memory", id);
        return;
    }
    if (m->route->live && link_up && m->ops == m->ops_tail)
        s_answer(self, set, m, 1);      /* live already: the answer (or its query) now */
    else if (m->route->live)
        route_reprobe(self->routes, m->route);  /* the link was down: prove it again */
}

void
member_leave(members_t *self, memberset_t *set, conn_t *c, cj_str_t group, cj_str_t id)
{
    member_t *m = s_find(set, group);
    if (m && m->ops) {
        m->leaving = 1;                 /* answered after the joins before it */
        cj_str_t none = { NULL, 0 };
        if (s_push_op(self, m, 1, id, none) == 0)
            return;
    }
    if (m)
        s_free(self, set, m);
    metrics_inc(M_ACK_LEFT);
    reply_ack(self->conns, c, id, NULL, "left");
}

/* Answer every op of m: joins with joined (ok) or unavailable; leaves with
 * left. Then the membership ends if it was leaving or its joins failed. A
 * join that resumes (since) first asks the broker for what it missed: the
 * answers stop there until member_history_end() (pos: the end's). */
static void
s_answer_at(members_t *self, memberset_t *set, member_t *m, int ok, const cj_pos_t *pos)
{
    conn_t *c = m->conn;
    while (m->ops) {
        member_op_t *op = m->ops;
        if (ok && !op->leave && op->since && !pos) {
            if (op->hreq)
                return;                 /* its answer is on its way */
            push_waiter_t wt = { PQ_JOIN_HISTORY, c->io.fd, c->io.gen, NULL, 0 };
            if ((op->hreq = push_history(self->push, m->route->topic, m->route->tlen, op->since,
                                         &wt)))
                return;
        }
        m->ops = op->next;
        cj_str_t id = reply_id(op->id);
        if (op->leave) {
            metrics_inc(M_ACK_LEFT);
            reply_ack(self->conns, c, id, NULL, "left");
        } else if (ok) {
            m->joined = 1;
            m->asked = 0;
            metrics_inc(M_ACK_JOINED);
            reply_ack_at(self->conns, c, id, NULL, "joined", op->hreq ? pos : NULL);
            pos = NULL;                 /* a position for that one join only */
        } else {
            reply_error(self->conns, c, CJ_UNAVAILABLE, "the group's route did not come up in time",
                        id);
        }
        s_free_op(op);
    }
    m->ops_tail = NULL;
    if (m->leaving || (!ok && !m->joined))
        s_free(self, set, m);
}

static void
s_answer(members_t *self, memberset_t *set, member_t *m, int ok)
{
    s_answer_at(self, set, m, ok, NULL);
}

/* The membership of conn c whose waiting join sent query req, or NULL. */
static member_t *
s_asking(memberset_t *set, uint64_t req)
{
    for (member_t *m = set ? set->head : NULL; m; m = m->next)
        if (m->ops && !m->ops->leave && m->ops->hreq == req)
            return m;
    return NULL;
}

int
member_history_item(members_t *self, memberset_t *set, uint64_t req, conn_t *c,
                    const char *frame, size_t n)
{
    member_t *m = s_asking(set, req);
    if (!m)
        return -1;
    m->asked = 1;
    return conn_send_frame(self->conns, c, frame, n);
}

void
member_history_end(members_t *self, memberset_t *set, uint64_t req, const env_t *e)
{
    member_t *m = s_asking(set, req);
    if (!m)
        return;
    if (!e || !e->epoch.p) {
        s_answer_at(self, set, m, 0, NULL);     /* the broker did not answer */
        return;
    }
    route_epoch(m->route, e->epoch.p, e->epoch.n);
    route_pos_set(m->route, &m->pos, e->seq);
    cj_pos_t pos = { e->seq, { m->route->epoch, m->route->epoch_len }, e->recovered, e->missed, 0 };
    s_answer_at(self, set, m, 1, &pos);
}


void
member_route_live(members_t *self, route_t *r)
{
    /* s_answer may free m (a waiting leave) but never another member of r;
     * a reference of our own keeps r until the walk is over */
    r->nmembers++;
    for (link_t *l = r->members.next; l != &r->members;) {
        member_t *m = list_entry(l, member_t, rlink);
        l = l->next;
        if (m->ops)
            s_answer(self, m->set, m, 1);
    }
    r->nmembers--;
    route_release(self->routes, r);
}

void
members_tick(members_t *self)
{
    int64_t now = *self->now;
    while (!list_empty(&self->waiting)) {
        member_op_t *op = list_entry(self->waiting.next, member_op_t, qlink);
        if (now - op->t < JOIN_MS)
            break;
        member_t *m = op->m;
        if (m->route->live && !op->hreq) {
            s_answer(self, m->set, m, 1);  /* live, its probe in flight */
            continue;
        }
        /* frees m and every op of it, this one included; may free the
         * route, never another membership */
        s_answer(self, m->set, m, 0);
    }
}

void
member_drop_all(members_t *self, memberset_t *set)
{
    while (set->head)
        s_free(self, set, set->head);
}

int
member_resuming(const member_t *m)
{
    return m->ops && !m->ops->leave && m->ops->hreq;
}
