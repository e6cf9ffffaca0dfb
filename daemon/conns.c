/* conns — the connection set of a worker (conn.h): its creation, lookup,
 * timers, the safe point (conns_settle), the flush and the reap; conn.c
 * holds what one connection does. */
#include "conn.h"

#include <stdlib.h>
#include <wslay/wslay.h>

#include "handshake.h"
#include "log.h"
#include "metrics.h"

static const int64_t s_timeout[TL_COUNT] = {
    [TL_HANDSHAKE] = HANDSHAKE_MS, [TL_PENDING] = PENDING_MS, [TL_IDLE] = IDLE_MS,
    [TL_PING] = PING_MS, [TL_LINGER] = LINGER_MS, [TL_SLOW] = SLOW_MS,
};

conns_t *
conns_new(int epfd, uint64_t tag, int cap, const options_t *opt, const int64_t *now,
          const conn_events_t *ev)
{
    conns_t *cs = calloc(1, sizeof *cs);
    if (!cs)
        return NULL;
    cs->opt = opt;
    cs->now = now;
    cs->ev = *ev;
    cs->pool.max_cap = 16384;
    if (io_init(&cs->io, epfd, tag, cap, now, s_timeout, TL_COUNT) < 0
        || !(cs->rbuf = malloc(RBUF_LEN))) {
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
    for (int fd = 0; fd < cs->io.cap; fd++)
        if (cs->io.by_fd[fd])
            conn_drop(cs, (conn_t *)cs->io.by_fd[fd]);
    conns_reap(cs);
    io_fini(&cs->io);
    free(cs->rbuf);
    free(cs->settle);
    free(cs->fast);
    buf_pool_free(&cs->pool);
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
    return self->io.count;
}

conn_t *
conns_get(conns_t *self, int fd)
{
    return (conn_t *)io_get(&self->io, fd);
}

conn_t *
conns_lookup(conns_t *self, int fd, uint32_t gen)
{
    return (conn_t *)io_lookup(&self->io, fd, gen);
}

void
conns_close_all(conns_t *self, uint16_t code, const char *reason)
{
    for (int fd = 0; fd < self->io.cap; fd++) {
        conn_t *c = (conn_t *)self->io.by_fd[fd];
        if (c && c->state != CONN_DEAD)
            conn_close(self, c, code, reason);
    }
}

void
conns_reap(conns_t *cs)
{
    conns_settle(cs);                   /* every session hears of its end first */
    io_item_t *it;
    while ((it = io_next_dead(&cs->io))) {
        conn_t *c = (conn_t *)it;
        metrics_dec(M_CONNECTIONS);
        if (cs->ev.on_freed)
            cs->ev.on_freed(cs->ev.arg, c);
        handshake_destroy(&c->hs);
        free(c->early);
        if (c->ws)
            wslay_event_context_free(c->ws);
        conn__out_release(cs, c);
        free(c);
    }
}

void
conns_set_handshake(conns_t *cs, const handshake_cfg_t *cfg)
{
    cs->hcfg = cfg;
}

void
conns_timers(conns_t *cs)
{
    /* one duration per FIFO, so a reload may change it in place: the list
     * stays ordered by when each conn joined it */
    if (cs->opt->handshake_timeout > 0)
        cs->io.timeout[TL_HANDSHAKE] = (int64_t)cs->opt->handshake_timeout * 1000;
    for (int tl = 0; tl < TL_COUNT; tl++) {
        io_item_t *it;
        while ((it = io_expired(&cs->io, tl))) {
            conn_t *c = (conn_t *)it;
            switch (tl) {
            case TL_PENDING:
                log_info("connection %d: session not live in time, closing 1013", c->io.fd);
                conn_close(cs, c, 1013, "try again later");
                break;
            case TL_IDLE:
                cs->wire.len = 0;
                if (conn__encode(cs, &cs->wire, WSLAY_PING, NULL, 0) == 0
                    && c->out.len + cs->wire.len <= cs->opt->max_outbound
                    && conn__out(cs, c, cs->wire.data, cs->wire.len) == 0)
                    conn__mark_dirty(cs, c);
                conn__set_timer(cs, c, TL_PING);
                break;
            case TL_HANDSHAKE:          /* slowloris, or just slow */
                metrics_inc(M_LIMIT_HS_TIMEOUT);
                log_debug("connection %d: no request head within the handshake timeout",
                          c->io.fd);
                conn_drop(cs, c);
                break;
            default:                    /* ping, linger, slow */
                conn_drop(cs, c);
                break;
            }
        }
    }
}

void
conns_settle(conns_t *cs)
{
    /* handlers run here may queue more (a kick, a slow consumer): loop
     * until the queue is empty */
    for (size_t i = 0; i < cs->nsettle; i++) {
        conn_t *c = cs->settle[i];
        c->settle = 0;
        if (c->sess && !c->reported && c->state >= CONN_CLOSING) {
            c->reported = 1;
            cs->ev.on_closed(cs->ev.arg, c);
            continue;
        }
        if (c->state != CONN_OPEN)
            continue;
        if (c->early) {
            /* frames that came with the HTTP head, in order, before later ones */
            char *early = c->early;
            size_t n = c->early_len;
            c->early = NULL;
            conn__feed(cs, c, (const uint8_t *)early, n);
            free(early);
        }
        conn__read(cs, c, 0);               /* edges seen while pending */
    }
    cs->nsettle = 0;
}

int
conns_frame(conns_t *cs, buf_t *out, const char *p, size_t n)
{
    return conn__encode(cs, out, WSLAY_TEXT_FRAME, p, n);
}

void
conns_flush(conns_t *cs)
{
    io_item_t *it;
    while ((it = io_next_dirty(&cs->io))) {
        io_clean(it);
        conn__flush(cs, (conn_t *)it);
    }
}
