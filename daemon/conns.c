/* conns — the connection set of a worker (conn.h): the fd table, the timer
 * FIFOs and the reap list; see conn.h for the contract. */
#include "conn_int.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "handshake.h"
#include "log.h"
#include "metrics.h"

static const int64_t s_timeout[TL_COUNT] = {
    [TL_HANDSHAKE] = HANDSHAKE_MS, [TL_PENDING] = PENDING_MS, [TL_IDLE] = IDLE_MS,
    [TL_PING] = PING_MS, [TL_LINGER] = LINGER_MS, [TL_SLOW] = SLOW_MS,
};

conns_t *
conns_new(int epfd, int cap, const options_t *opt, const int64_t *now, const conn_events_t *ev)
{
    conns_t *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->epfd = epfd;
    cs->opt = opt;
    cs->now = now;
    cs->ev = *ev;
    cs->cap = cap;
    for (int i = 0; i < TL_COUNT; i++)
        list_init(&cs->timers[i]);
    list_init(&cs->dirty);
    list_init(&cs->reap);
    cs->by_fd = calloc((size_t)cap, sizeof *cs->by_fd);
    cs->rbuf = malloc(RBUF_LEN);
    if (!cs->by_fd || !cs->rbuf) {
        conns_destroy(&cs);
        return NULL;
    }
    conn__set = cs;
    return cs;
}

void
conns_destroy(conns_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    conns_t *cs = *self_p;
    for (int fd = 0; cs->by_fd && fd < cs->cap; fd++)
        if (cs->by_fd[fd])
            conn_drop(cs, cs->by_fd[fd]);
    conns_reap(cs);
    free(cs->by_fd);
    free(cs->rbuf);
    free(cs->settle);
    wsenc_free(&cs->enc);
    buf_free(&cs->wire);
    if (conn__set == cs)
        conn__set = NULL;
    free(cs);
    *self_p = NULL;
}

int
conns_count(const conns_t *self)
{
    return self->count;
}

conn_t *
conns_get(conns_t *self, int fd)
{
    return fd >= 0 && fd < self->cap ? self->by_fd[fd] : NULL;
}

conn_t *
conns_lookup(conns_t *self, int fd, uint32_t gen)
{
    conn_t *c = conns_get(self, fd);
    return (c && c->gen == gen && c->state != CONN_DEAD) ? c : NULL;
}

void
conns_close_all(conns_t *self, uint16_t code, const char *reason)
{
    for (int fd = 0; fd < self->cap; fd++) {
        conn_t *c = self->by_fd[fd];
        if (c && c->state != CONN_DEAD)
            conn_close(self, c, code, reason);
    }
}

void
conns_reap(conns_t *cs)
{
    conns_settle(cs);                   /* every session hears of its end first */
    while (!list_empty(&cs->reap)) {
        conn_t *c = list_entry(cs->reap.next, conn_t, dlink);
        list_unlink(&c->dlink);
        close(c->fd);                   /* also leaves epoll */
        cs->by_fd[c->fd] = NULL;
        cs->count--;
        metrics_dec(M_CONNECTIONS);
        handshake_destroy(&c->hs);
        free(c->early);
        if (c->ws)
            wslay_event_context_free(c->ws);
        buf_free(&c->out);
        free(c);
    }
}

void
conns_timers(conns_t *cs)
{
    int64_t now = s_now(cs);
    for (int tl = 0; tl < TL_COUNT; tl++) {
        link_t *h = &cs->timers[tl];
        while (!list_empty(h)) {
            conn_t *c = list_entry(h->next, conn_t, tlink);
            if (c->t_ms + s_timeout[tl] > now)
                break;
            switch (tl) {
            case TL_PENDING:
                log_info("connection %d: session not live in time, closing 1013", c->fd);
                conn_close(cs, c, 1013, "try again later");
                break;
            case TL_IDLE:
                cs->wire.len = 0;
                if (conn__encode(cs, &cs->wire, WSLAY_PING, NULL, 0) == 0
                    && c->out.len + cs->wire.len <= cs->opt->max_outbound
                    && buf_append(&c->out, cs->wire.data, cs->wire.len) == 0)
                    conn__mark_dirty(cs, c);
                conn__set_timer(cs, c, TL_PING);
                break;
            default:                    /* handshake, ping, linger, slow */
                conn_drop(cs, c);
                break;
            }
            if (c->state != CONN_DEAD && c->tl == tl && h->next == &c->tlink)
                conn_drop(cs, c);       /* never spin on one entry */
        }
    }
}
