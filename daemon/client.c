/* client — see client.h. */
#include "client.h"

#include "topic.h"

#include <string.h>

#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "session.h"

static session_t *
s_sess(conn_t *c)
{
    return c->sess;
}

static push_waiter_t
s_waiter(conn_t *c, pq_kind_t kind, cj_str_t id)
{
    push_waiter_t wt = { id.p || kind == PQ_PRESENCE ? kind : 0, c->io.fd, c->io.gen, id.p, id.n };
    return wt;
}

static void
s_chat(client_t *cl, conn_t *c, const cj_frame_t *f)
{
    char mid[IDGEN_LEN];
    route_t *u = s_sess(c)->user;
    push_waiter_t wt = s_waiter(c, PQ_CHAT, f->id);
    if (push_message(cl->push, ENV_CHAT, f->target.p, f->target.n, u->name, u->nlen, f->msg,
                     f->msg_len, mid, &wt) < 0) {
        reply_error(cl->conns, c, CJ_UNAVAILABLE, NULL, f->id);
        return;
    }
    metrics_inc(M_ROUTED_CHAT);
}

static void
s_join(client_t *cl, conn_t *c, const cj_frame_t *f)
{
    char topic[TOPIC_MAX];
    size_t tn = topic_make(topic, TOPIC_GROUP, f->target.p, f->target.n);
    member_join(cl->members, &s_sess(c)->groups, c, f->target, f->id, f->since,
                cl->opt->max_groups, tn && bus_up_topic(cl->push->bus, topic, tn));
}

static void
s_leave(client_t *cl, conn_t *c, const cj_frame_t *f)
{
    member_leave(cl->members, &s_sess(c)->groups, c, f->target, f->id);
}

static void
s_group_or_bcast(client_t *cl, conn_t *c, const cj_frame_t *f)
{
    char mid[IDGEN_LEN];
    session_t *s = s_sess(c);
    env_kind_t kind = f->type == CJ_GROUP ? ENV_GROUP : ENV_BCAST;
    if (kind == ENV_GROUP && !member_of(&s->groups, f->target)) {
        reply_error(cl->conns, c, CJ_NOT_MEMBER, NULL, f->id);
        return;
    }
    if (kind == ENV_BCAST && !cl->opt->allow_client_broadcast) {
        reply_error(cl->conns, c, CJ_FORBIDDEN, "client broadcast is not allowed", f->id);
        return;
    }
    if (push_message(cl->push, kind, f->target.p, kind == ENV_BCAST ? 0 : f->target.n,
                     s->user->name, s->user->nlen, f->msg, f->msg_len, mid, NULL) < 0) {
        reply_error(cl->conns, c, CJ_UNAVAILABLE, NULL, f->id);
        return;
    }
    metrics_inc(kind == ENV_GROUP ? M_ROUTED_GROUP : M_ROUTED_BCAST);
    if (f->id.p)
        metrics_inc(M_ACK_SENT);
    reply_ack(cl->conns, c, f->id, mid, "sent");
}

static void
s_presence(client_t *cl, conn_t *c, const cj_frame_t *f)
{
    env_str_t users[CJ_PRESENCE_MAX];
    for (size_t i = 0; i < f->nusers; i++) {
        users[i].p = f->users[i].p;
        users[i].n = (uint32_t)f->users[i].n;
    }
    push_waiter_t wt = s_waiter(c, PQ_PRESENCE, f->id);
    if (push_query(cl->push, ENV_PRESENCE, users, f->nusers, &wt) < 0)
        reply_error(cl->conns, c, CJ_UNAVAILABLE, NULL, f->id);
}

/* A fresh token for this session: its deadline moves, or the old one
 * stands and the client hears why. */
static void
s_refresh(client_t *cl, conn_t *c, const cj_frame_t *f)
{
    session_t *s = s_sess(c);
    const char *reason;
    cj_code_t code = gate_refresh(cl->gate, &s->ticket, s->user->name, f->token, &reason);
    if (code != CJ_OK)
        reply_error(cl->conns, c, code, reason, f->id);
    else
        reply_ack(cl->conns, c, f->id, NULL, "refreshed");
}

void
client_on_text(client_t *cl, conn_t *c, const char *text, size_t len)
{
    cj_frame_t f;
    cj_code_t code = cj_parse(text, len, &f);
    if (!s_sess(c)) {
        cj_frame_clear(&f);
        return;
    }
    if (code != CJ_OK) {
        char sample[48];
        log_debug("session %s: %s: %s", s_sess(c)->id, cj_code_name(code),
                  log_sample(sample, sizeof sample, text, len));
        reply_error(cl->conns, c, code, NULL, f.id);
    } else {
        switch (f.type) {
        case CJ_CHAT:      s_chat(cl, c, &f); break;
        case CJ_JOIN:      s_join(cl, c, &f); break;
        case CJ_LEAVE:     s_leave(cl, c, &f); break;
        case CJ_GROUP:
        case CJ_BROADCAST: s_group_or_bcast(cl, c, &f); break;
        case CJ_PRESENCE:  s_presence(cl, c, &f); break;
        case CJ_REFRESH:   s_refresh(cl, c, &f); break;
        }
    }
    cj_frame_clear(&f);
}

void
client_on_reject(client_t *cl, conn_t *c, const char *text, size_t len, int refused)
{
    if (!refused) {
        reply_error(cl->conns, c, CJ_UNSUPPORTED, NULL, (cj_str_t){ NULL, 0 });
        return;
    }
    /* parsed only for its id: an error carries the id the client gave */
    cj_frame_t f;
    cj_parse(text, len, &f);
    reply_error(cl->conns, c, CJ_RATE_LIMITED, NULL, f.id);
    cj_frame_clear(&f);
}
