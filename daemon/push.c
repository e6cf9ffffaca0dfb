/* push — see push.h. */
#include "push.h"

#include <string.h>

#include "clock.h"

/* What a chat's copy needs besides q->mid and q->req, kept with q. */
typedef struct {
    int64_t  time;
    uint32_t tlen, slen, mlen;          /* then receiver, sender, msg */
} s_kept_t;

static void
s_keep(push_t *p, pq_t *q, const env_t *e)
{
    s_kept_t h = { e->time, e->to.n, e->sender.n, e->msg.n };
    char *b = pending_keep(p->pending, q, sizeof h + h.tlen + h.slen + h.mlen);
    if (!b)
        return;                         /* no copy: silence stays unavailable */
    memcpy(b, &h, sizeof h);
    memcpy(b + sizeof h, e->to.p, h.tlen);
    memcpy(b + sizeof h + h.tlen, e->sender.p, h.slen);
    memcpy(b + sizeof h + h.tlen + h.slen, e->msg.p, h.mlen);
    ack_copyable(&q->ack);
}

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
    if (!tn || !bus_up_topic(p->bus, topic, tn))
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
        q->to_hash = pending_hash(target, tlen);
        e.origin = env_cstr(p->ids->origin);
        e.req = q->req;
    }
    int ticket;
    uint64_t seq;
    if (bus_publish_seq(p->bus, topic, tn, &e, &ticket, &seq) < 0) {
        if (q)
            pending_done(p->pending, q);
        return -1;
    }
    if (q) {
        q->shard = (uint8_t)ticket;
        ack_init(&q->ack, seq, *p->now, q->deadline);
        s_keep(p, q, &e);
        q->deadline = ack_wake(&q->ack, *p->now);
    }
    return 0;
}

int
push_retry(push_t *p, const pq_t *q)
{
    s_kept_t h;
    if (!q->kept || q->kept_len < sizeof h)
        return -1;
    memcpy(&h, q->kept, sizeof h);
    const char *to = q->kept + sizeof h;
    char topic[TOPIC_MAX];
    size_t tn = topic_make(topic, TOPIC_USER, to, h.tlen);
    if (!tn)
        return -1;
    env_t e;
    env_init(&e, ENV_CHAT);
    e.mid = env_cstr(q->mid);
    e.sender.p = to + h.tlen;
    e.sender.n = h.slen;
    e.to.p = to;
    e.to.n = h.tlen;
    e.msg.p = to + h.tlen + h.slen;
    e.msg.n = h.mlen;
    e.time = h.time;                    /* the same message: its createTime */
    e.origin = env_cstr(p->ids->origin);
    e.req = q->req;
    e.retry = 1;
    return bus_publish(p->bus, topic, tn, &e);
}

/* Presence: each user's shard knows whether the user is online, so every
 * shard that owns one of them is asked (the whole list: it answers false
 * for the others) and deliver.c merges the answers (q->due). The online
 * count: every shard, since each counts the users subscribed through it;
 * all must be up (a partial count would be a wrong one). */
int
push_query(push_t *p, env_kind_t kind, const env_str_t *users, size_t n, const push_waiter_t *wt)
{
    if (n > ENV_USERS_MAX)
        return -1;
    int ns = bus_shards(p->bus), ask[SHARD_MAX] = { 0 }, nask = 0;
    if (kind == ENV_PRESENCE) {
        for (size_t i = 0; i < n; i++) {
            char topic[TOPIC_MAX];
            size_t tn = topic_make(topic, TOPIC_USER, users[i].p, users[i].n);
            int sh = tn ? bus_shard_of(p->bus, topic, tn) : 0;
            nask += !ask[sh];
            ask[sh] = 1;
        }
        if (n == 0) {
            ask[0] = 1;
            nask = 1;
        }
        for (int i = 0; i < ns; i++)
            if (ask[i] && !bus_up_for(p->bus, i))
                return -1;
    } else {
        for (int i = 0; i < ns; i++) {
            if (!bus_up_for(p->bus, i))
                return -1;
            ask[i] = 1;
        }
        nask = ns;
    }
    pq_t *q = s_file(p, wt, PUSH_QUERY_MS);
    if (!q)
        return -1;
    /* its longer timeout must not hold up the chats filed behind it */
    pending_park(p->pending, q, q->deadline);
    size_t keep = kind == ENV_PRESENCE ? (n ? n : 1) : 2 * sizeof(int64_t);
    if (nask > 1 && !pending_keep(p->pending, q, keep)) {
        pending_done(p->pending, q);
        return -1;
    }
    if (q->kept)
        memset(q->kept, 0, q->kept_len);   /* the merged online flags */
    env_t e;
    env_init(&e, kind);
    e.origin = env_cstr(p->ids->origin);
    e.req = q->req;
    e.users_n = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        e.users[i] = users[i];
    for (int i = 0; i < ns; i++) {
        if (!ask[i])
            continue;
        if (bus_publish_via(p->bus, i, "s|", 2, &e) < 0) {
            pending_done(p->pending, q);
            return -1;
        }
        q->due++;
    }
    return 0;
}

uint64_t
push_history(push_t *p, const char *stream, size_t slen, const char *since,
             const push_waiter_t *wt)
{
    int shard = bus_shard_of(p->bus, stream, slen);     /* the stream's broker keeps it */
    if (!bus_up_for(p->bus, shard))
        return 0;
    pq_t *q = s_file(p, wt, PUSH_HISTORY_MS);
    if (!q)
        return 0;
    pending_park(p->pending, q, q->deadline);
    env_t e;
    env_init(&e, ENV_HISTORY);
    e.origin = env_cstr(p->ids->origin);
    e.req = q->req;
    e.stream.p = stream;
    e.stream.n = (uint32_t)slen;
    e.since = env_cstr(since);
    uint64_t req = q->req;
    if (bus_publish_via(p->bus, shard, "s|", 2, &e) < 0) {
        pending_done(p->pending, q);
        return 0;
    }
    return req;
}
