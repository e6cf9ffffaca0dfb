/* push — see push.h. */
#include "push.h"

#include <string.h>

#include "clock.h"

static pq_t *
s_file(push_t *p, const push_waiter_t *wt, int64_t ms)
{
    pq_t *q = pending_add(p->pending, wt->kind, *p->now + ms);
    if (!q)
        return NULL;
    q->fd = wt->fd;
    q->gen = wt->gen;
    if (wt->id && wt->id_len < sizeof q->id) {
        memcpy(q->id, wt->id, wt->id_len);
        q->id[wt->id_len] = '\0';
    }
    return q;
}

int
push_message(push_t *p, env_kind_t kind, const char *target, size_t tlen, const char *sender,
             size_t slen, const char *msg, size_t msg_len, char *mid, const push_waiter_t *wt)
{
    char topic[TOPIC_MAX];
    size_t tn = kind == ENV_BCAST ? topic_make(topic, TOPIC_BCAST, NULL, 0)
                                  : topic_make(topic, kind == ENV_CHAT ? TOPIC_USER : TOPIC_GROUP,
                                               target, tlen);
    if (!tn || !bus_up(p->bus))
        return -1;
    env_t e;
    env_init(&e, kind);
    size_t mn = idgen_next(p->ids, mid);
    e.mid.p = mid;
    e.mid.n = (uint32_t)mn;
    e.sender.p = sender;
    e.sender.n = (uint32_t)slen;
    if (kind != ENV_BCAST) {
        e.to.p = target;
        e.to.n = (uint32_t)tlen;
    }
    e.msg.p = msg;
    e.msg.n = (uint32_t)msg_len;
    e.time = clock_wall_ms();
    pq_t *q = NULL;
    if (kind == ENV_CHAT && wt && wt->kind) {
        if (!(q = s_file(p, wt, PUSH_ACK_MS)))
            return -1;
        memcpy(q->mid, mid, mn + 1);
        e.origin = env_cstr(p->ids->origin);
        e.req = q->req;
    }
    if (bus_publish(p->bus, topic, tn, &e) < 0) {
        if (q)
            pending_done(p->pending, q);
        return -1;
    }
    if (q)
        ack_init(&q->ack, bus_seq(p->bus), *p->now, q->deadline);
    return 0;
}

int
push_query(push_t *p, env_kind_t kind, const env_str_t *users, size_t n, const push_waiter_t *wt)
{
    if (!bus_up(p->bus) || n > ENV_USERS_MAX)
        return -1;
    pq_t *q = s_file(p, wt, PUSH_QUERY_MS);
    if (!q)
        return -1;
    env_t e;
    env_init(&e, kind);
    e.origin = env_cstr(p->ids->origin);
    e.req = q->req;
    e.users_n = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        e.users[i] = users[i];
    if (bus_publish(p->bus, "s|", 2, &e) < 0) {
        pending_done(p->pending, q);
        return -1;
    }
    return 0;
}
