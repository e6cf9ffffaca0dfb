/* conn — see conn.h.
 *
 * Output path: a frame is queued in wslay and at once moved by wslay's send
 * callback into c->out, so c->out is the whole outbound queue (exact
 * accounting for --max-outbound, wslay's automatic pongs included); the
 * socket is written once per loop turn (conns_flush), which coalesces every
 * frame of the turn into one write(2).
 *
 * Input path: bytes are read into a shared buffer and fed to wslay through
 * its recv callback. A small scanner (wsframe.h) sees them first: it follows
 * client frame boundaries, so an open conn with nothing in flight can free
 * its wslay context (~12 KiB) and keep only this struct; it refuses frames
 * that break RFC 6455 before wslay sees them; and it takes the client's
 * close frame, which wslay never sees, so conn.c answers it. */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handshake.h"
#include "log.h"
#include "metrics.h"
#include "wsenc.h"

/* wslay's callbacks get the conn; they reach the set through this (one
 * worker per process, one set per worker). */
conns_t *conn__set;


/* Appends to the output queue, in a kept buffer when it was empty; what
 * the queue holds is the zwsd_outbound_bytes gauge. */
int
conn__out(conns_t *cs, conn_t *c, const void *p, size_t n)
{
    size_t cap = c->out.cap;
    buf_pool_take(&cs->pool, &c->out);
    int rc = buf_append(&c->out, p, n);
    metrics_add(M_OUTBOUND_BYTES, (int64_t)c->out.cap - (int64_t)cap);
    return rc;
}

void
conn__out_release(conns_t *cs, conn_t *c)
{
    metrics_add(M_OUTBOUND_BYTES, -(int64_t)c->out.cap);
    buf_pool_give(&cs->pool, &c->out);
}

void
conn__set_timer(conns_t *cs, conn_t *c, int tl)
{
    io_set_timer(&cs->io, &c->io, tl);
}

void
conn__mark_dirty(conns_t *cs, conn_t *c)
{
    io_mark_dirty(&cs->io, &c->io);
}

/* Queue c for conns_settle(); 0, or -1 on ENOMEM. */
static int
s_settle_later(conns_t *cs, conn_t *c)
{
    if (c->settle)
        return 0;
    if (cs->nsettle == cs->settle_cap) {
        size_t cap = cs->settle_cap ? cs->settle_cap * 2 : 64;
        conn_t **v = realloc(cs->settle, cap * sizeof *v);
        if (!v)
            return -1;
        cs->settle = v;
        cs->settle_cap = cap;
    }
    cs->settle[cs->nsettle++] = c;
    c->settle = 1;
    return 0;
}

/* A session conn leaves PENDING/OPEN: report it at the safe point. If the
 * queue cannot grow, report now (the rare ENOMEM path may re-enter, but
 * never leaks a session). */
static void
s_left_session(conns_t *cs, conn_t *c)
{
    if (c->sess && !c->reported && s_settle_later(cs, c) < 0) {
        c->reported = 1;
        cs->ev.on_closed(cs->ev.arg, c);
    }
}

/* ---- wslay callbacks ------------------------------------------------ */

/* Reads what conn__feed() put in the set's in/in_len: one conn is fed at a
 * time, so the source need not live in every conn. */
static ssize_t
s_ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    conns_t *cs = conn__set;
    (void)flags;
    (void)ud;
    if (cs->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < cs->in_len ? len : cs->in_len;
    memcpy(buf, cs->in, n);
    cs->in += n;
    cs->in_len -= n;
    return (ssize_t)n;
}

static ssize_t
s_ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    conn_t *c = ud;
    (void)flags;
    if (conn__out(conn__set, c, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_NOMEM);
        return -1;
    }
    return (ssize_t)len;
}

/* Every text, binary and ping message counts (rate.h); abuse closes 1008.
 * Returns 1 when the message may pass. */
static int
s_rate_ok(conns_t *cs, conn_t *c)
{
    int r = rate_take(&c->rl, cs->opt->rate_limit, conn__now(cs));
    if (r == RATE_ABUSE) {
        metrics_inc(M_CLOSE_RATE);
        conn_close(cs, c, 1008, "rate limit abuse");
    }
    return r == RATE_OK;
}

/* A whole text or binary message, from wslay or the fast path. */
static void
s_message(conns_t *cs, conn_t *c, int binary, const char *msg, size_t len)
{
    metrics_inc(M_FRAMES_IN);
    if (c->state != CONN_OPEN)
        return;
    if (!s_rate_ok(cs, c)) {
        if (c->state == CONN_OPEN)
            cs->ev.on_reject(cs->ev.arg, c, msg, len, 1);
    } else if (binary) {
        cs->ev.on_reject(cs->ev.arg, c, msg, len, 0);
    } else {
        cs->ev.on_text(cs->ev.arg, c, msg, len);
    }
}

static void
s_ws_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    conn_t *c = ud;
    conns_t *cs = conn__set;
    (void)ctx;
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
        s_message(cs, c, arg->opcode == WSLAY_BINARY_FRAME, (const char *)arg->msg,
                  arg->msg_length);
        break;
    case WSLAY_PING:
        /* wslay queued the pong already; it counts against the output cap
         * (s_flush) and the ping against the rate limit, so a ping flood
         * from a client that never reads ends in 4008 or 1008 */
        if (c->state == CONN_OPEN)
            s_rate_ok(cs, c);
        break;
    default:                            /* pong; a client's close never */
        break;                          /* reaches wslay (s_feed) */
    }
}

static const struct wslay_event_callbacks s_ws_callbacks = {
    .recv_callback = s_ws_recv,
    .send_callback = s_ws_send,
    .on_msg_recv_callback = s_ws_msg,
};

static int
s_ws_ensure(conns_t *cs, conn_t *c)
{
    if (c->ws)
        return 0;
    if (wslay_event_context_server_init(&c->ws, &s_ws_callbacks, c) != 0) {
        c->ws = NULL;
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, cs->opt->max_message);
    return 0;
}

/* ---- lifecycle ------------------------------------------------------ */

conn_t *
conn_accept(conns_t *cs, int fd)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c || io_add(&cs->io, &c->io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
        if (c && fd < cs->io.cap)
            log_warn("epoll_ctl");
        close(fd);
        free(c);
        return NULL;
    }
    c->state = CONN_HANDSHAKE;
    rate_init(&c->rl, cs->opt->rate_limit, conn__now(cs));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn__set_timer(cs, c, TL_HANDSHAKE);
    metrics_inc(M_CONNECTIONS);
    return c;
}

void
conn_drop(conns_t *cs, conn_t *c)
{
    if (c->state == CONN_DEAD)
        return;
    c->state = CONN_DEAD;
    s_left_session(cs, c);
    io_kill(&cs->io, &c->io);
}

/* ---- output --------------------------------------------------------- */

int
conn__encode(conns_t *cs, buf_t *out, uint8_t opcode, const char *p, size_t n)
{
    return wsenc_frame(&cs->enc, out, opcode, p, n);
}

static int s_queue(conns_t *cs, conn_t *c, const char *frame, size_t n);

/* Slow consumer: free the queue now (keep only the rest of a frame the
 * socket took in part), then close 4008 behind it. */
static void
s_too_slow(conns_t *cs, conn_t *c)
{
    log_info("connection %d: outbound queue over %zu bytes, closing 4008", c->io.fd,
             cs->opt->max_outbound);
    size_t keep = c->out_partial < c->out.len ? c->out_partial : c->out.len;
    buf_t rest = { 0 };
    if (keep > 0 && buf_append(&rest, c->out.data, keep) < 0) {
        conn_drop(cs, c);               /* cannot even end the frame */
        return;
    }
    conn__out_release(cs, c);           /* the queue's memory goes now */
    c->out = rest;
    metrics_add(M_OUTBOUND_BYTES, (int64_t)rest.cap);
    metrics_inc(M_CLOSE_SLOW);
    conn_close(cs, c, 4008, "too slow");
    if (c->state == CONN_CLOSING)
        conn__set_timer(cs, c, TL_SLOW);
}

int
conn_send_early(conns_t *cs, conn_t *c, const char *frame, size_t n)
{
    return c->state == CONN_PENDING ? s_queue(cs, c, frame, n) : -1;
}

int
conn_send_frame(conns_t *cs, conn_t *c, const char *frame, size_t n)
{
    return c->state == CONN_OPEN ? s_queue(cs, c, frame, n) : -1;
}

static int
s_queue(conns_t *cs, conn_t *c, const char *frame, size_t n)
{
    if (c->out.len + n > cs->opt->max_outbound) {
        s_too_slow(cs, c);
        return -1;
    }
    if (conn__out(cs, c, frame, n) < 0)
        return -1;
    metrics_inc(M_FRAMES_OUT);
    conn__mark_dirty(cs, c);
    return 0;
}

int
conn_send_text(conns_t *cs, conn_t *c, const char *p, size_t n)
{
    if (c->state != CONN_OPEN)
        return -1;
    cs->wire.len = 0;
    if (conn__encode(cs, &cs->wire, WSLAY_TEXT_FRAME, p, n) < 0)
        return -1;
    return conn_send_frame(cs, c, cs->wire.data, cs->wire.len);
}

void
conn_close(conns_t *cs, conn_t *c, uint16_t code, const char *reason)
{
    if (c->state == CONN_HANDSHAKE) {
        conn_drop(cs, c);
        return;
    }
    if (c->state >= CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    s_left_session(cs, c);
    conn__set_timer(cs, c, TL_LINGER);
    if (s_ws_ensure(cs, c) < 0
        || wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, strlen(reason)) != 0
        || wslay_event_send(c->ws) != 0) {
        conn_drop(cs, c);
        return;
    }
    conn__mark_dirty(cs, c);
}

/* Bytes the socket took: advance over whole frames so out_partial always
 * tells how much of the head frame is still owed to the peer. */
static void
s_account(conn_t *c, size_t n)
{
    c->out_partial = wsf_sent(c->out_partial, (const uint8_t *)c->out.data, c->out.len, n);
}

void
conn__flush(conns_t *cs, conn_t *c)
{
    if (c->ws && wslay_event_want_write(c->ws))
        wslay_event_send(c->ws);
    if (c->state == CONN_OPEN && c->out.len > cs->opt->max_outbound) {
        s_too_slow(cs, c);              /* pongs piled up: every byte counts */
        if (c->state == CONN_DEAD)
            return;
    }
    while (c->out.len > 0) {
        ssize_t n = send(c->io.fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n > 0) {
            s_account(c, (size_t)n);
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;                     /* EPOLLOUT will bring us back */
        conn_drop(cs, c);
        return;
    }
    conn__out_release(cs, c);           /* idle conns hold no buffer */
    if (c->state == CONN_PAGE) {
        if (c->io.tl != TL_LINGER) {    /* the page is out: see s_page() */
            shutdown(c->io.fd, SHUT_WR);
            conn__set_timer(cs, c, TL_LINGER);
            conn__read(cs, c, 0);       /* an EOF that came already ends it now */
        }
        return;
    }
    if (!c->ws)
        return;
    if (c->state == CONN_CLOSING && wslay_event_get_close_sent(c->ws)) {
        /* Both closes done: the server closes TCP first (RFC 6455 7.1.1).
         * After a protocol error, half-close and linger for the peer's EOF
         * so our close frame is not lost to an RST. */
        if (wsf_close_seen(&c->sc))
            conn_drop(cs, c);
        else if (!wslay_event_get_read_enabled(c->ws))
            shutdown(c->io.fd, SHUT_WR);
        return;
    }
    if (c->state == CONN_OPEN && wsf_at_boundary(&c->sc)
        && wslay_event_get_queued_msg_count(c->ws) == 0) {
        wslay_event_context_free(c->ws);
        c->ws = NULL;
    }
}

/* ---- input ---------------------------------------------------------- */

/* An idle open conn that got only whole text frames (the common case)
 * needs no wslay context: unmask, check and hand them over here. Returns
 * 1 when it did (wsframe.h, wsf_texts). */
static int
s_fast(conns_t *cs, conn_t *c, const uint8_t *p, size_t n)
{
    size_t lens[16], good;
    if (c->ws || c->state != CONN_OPEN || !wsf_at_boundary(&c->sc))
        return 0;
    if (n > cs->fast_cap) {
        uint8_t *f = realloc(cs->fast, n);
        if (!f)
            return 0;
        cs->fast = f;
        cs->fast_cap = n;
    }
    size_t k = wsf_texts(p, n, cs->opt->max_message, cs->fast, lens, 16);
    if (k == 0 || wsf_scan(&c->sc, p, n, &good) != 0)
        return 0;                       /* the scanner agrees: it cannot fail here */
    const char *m = (const char *)cs->fast;
    for (size_t i = 0; i < k && c->state == CONN_OPEN; m += lens[i++])
        s_message(cs, c, 0, m, lens[i]);
    return 1;
}

void
conn__feed(conns_t *cs, conn_t *c, const uint8_t *p, size_t n)
{
    if (s_fast(cs, c, p, n))
        return;
    if (s_ws_ensure(cs, c) < 0) {
        conn_drop(cs, c);
        return;
    }
    size_t good;
    if (c->state == CONN_CLOSING && wslay_event_get_close_sent(c->ws)) {
        /* our close is out: nothing the peer sends matters but its close
         * (wslay would queue a pong per ping behind ours, unbounded) */
        wsf_scan(&c->sc, p, n, &good);
        if (wsf_close_seen(&c->sc))
            conn_drop(cs, c);
        return;
    }
    /* The scanner sees the bytes first: wslay gets only those before a
     * frame that breaks RFC 6455 or is the client's close, so those close
     * codes are ours (wsframe.h). */
    uint16_t bad = wsf_scan(&c->sc, p, n, &good);
    cs->in = p;
    cs->in_len = good;
    int r = wslay_event_recv(c->ws);
    cs->in = NULL;
    cs->in_len = 0;
    if (c->state == CONN_DEAD)
        return;
    if (r != 0) {
        conn_drop(cs, c);
        return;
    }
    if (!wslay_event_get_read_enabled(c->ws) && c->state < CONN_CLOSING) {
        /* wslay found a protocol error (1002/1007/1009) and queued a close */
        log_debug("connection %d: protocol error, closing (%u)", c->io.fd,
                  wslay_event_get_status_code_sent(c->ws));
        c->state = CONN_CLOSING;
        s_left_session(cs, c);
        conn__set_timer(cs, c, TL_LINGER);
    }
    if (bad) {
        /* Fail the connection (RFC 6455 7.1.7): our close with the
         * scanner's code, unless one is under way already (an error wslay
         * found before the bad frame keeps its own), and no more reading,
         * so s_flush half-closes once the close frame is out. */
        log_debug("connection %d: protocol error, closing (%u)", c->io.fd, bad);
        conn_close(cs, c, bad, bad == 1007 ? "invalid UTF-8" : "protocol error");
        if (c->state == CONN_DEAD)
            return;
        wslay_event_shutdown_read(c->ws);
    } else if (wsf_close_seen(&c->sc)) {
        /* The client's close, whole and valid: answered with its code, or
         * none for none (5.5.1; the reason is not echoed), unless our close
         * is under way already; s_flush ends TCP once ours is out. */
        conn_close(cs, c, wsf_close_code(&c->sc), "");
        if (c->state == CONN_DEAD)
            return;
    }
    /* wslay queues a pong per ping, in its own queue until the flush: a
     * client that floods pings and never reads is a slow consumer like
     * any other */
    if (c->state == CONN_OPEN
        && c->out.len + wslay_event_get_queued_msg_length(c->ws) > cs->opt->max_outbound)
        s_too_slow(cs, c);
    if (c->state == CONN_DEAD)
        return;
    if (wslay_event_want_write(c->ws) || c->state == CONN_CLOSING)
        conn__mark_dirty(cs, c);            /* flush decides when TCP closes */
}

/* The owner refused the upgrade (on_upgrade): its answer replaces the 101,
 * which is still only queued, and the connection ends. */
static void
s_refuse(conns_t *cs, conn_t *c, const conn_upgrade_t *u)
{
    char resp[512];
    size_t rn = handshake_error_response(u->status, u->body, u->headers, resp, sizeof resp);
    metrics_refused(u->status);
    c->out.len = 0;
    c->out_partial = 0;
    if (rn)
        (void)!send(c->io.fd, resp, rn, MSG_NOSIGNAL);   /* best effort, as for HS_FAIL */
    conn_drop(cs, c);
}

/* A page instead of an upgrade (handshake.h HS_PAGE, --demo): the whole
 * answer is queued and the conn only waits for it to be written (30 s), then
 * half-closes and reads until the client's EOF (5 s, conn__flush), so
 * request bytes left unread never turn the close into a reset that could
 * cut the answer short. */
static void
s_page(conns_t *cs, conn_t *c, const char *head, size_t hn)
{
    size_t bn;
    const void *body = handshake_page_body(c->hs, &bn);     /* the table's, not hs's */
    handshake_destroy(&c->hs);
    if (hn == 0 || conn__out(cs, c, head, hn) < 0 || (bn && conn__out(cs, c, body, bn) < 0)) {
        conn_drop(cs, c);
        return;
    }
    c->out_partial = c->out.len;        /* no frames in it: s_account must not parse */
    c->state = CONN_PAGE;
    conn__set_timer(cs, c, TL_SLOW);
    conn__mark_dirty(cs, c);
}

static void
s_handshake(conns_t *cs, conn_t *c, const char *p, size_t n)
{
    size_t used = 0;
    if (!c->hs && !(c->hs = handshake_new())) {
        conn_drop(cs, c);
        return;
    }
    hs_result_t r = handshake_feed(c->hs, p, n, &used, cs->hcfg);
    if (r == HS_MORE)
        return;
    char resp[1024];
    size_t rn = handshake_response(c->hs, resp, sizeof resp);
    if (r == HS_PAGE) {
        s_page(cs, c, resp, rn);
        return;
    }
    if (r == HS_FAIL) {
        metrics_refused(handshake_status(c->hs));
        if (rn)
            (void)!send(c->io.fd, resp, rn, MSG_NOSIGNAL);   /* best effort */
        conn_drop(cs, c);
        return;
    }
    /* The 101 goes first in c->out; out_partial covers it like a frame. */
    if (conn__out(cs, c, resp, rn) < 0) {
        conn_drop(cs, c);
        return;
    }
    c->out_partial = rn;
    c->state = CONN_PENDING;
    conn__set_timer(cs, c, TL_PENDING);
    conn__mark_dirty(cs, c);
    if (used < n) {
        /* Frames that came in the same read as the head: kept raw and fed
         * once the session is open, in order, like later ones. */
        if (!(c->early = malloc(n - used))) {
            conn_drop(cs, c);
            return;
        }
        memcpy(c->early, p + used, n - used);
        c->early_len = n - used;
    }
    conn_upgrade_t u = { handshake_user(c->hs), handshake_token(c->hs), handshake_since(c->hs),
                         0, NULL, NULL };
    int verdict = cs->ev.on_upgrade(cs->ev.arg, c, &u);
    if (verdict > 0) {
        s_refuse(cs, c, &u);
        return;
    }
    if (verdict < 0) {
        conn_drop(cs, c);
        return;
    }
    metrics_inc(M_HANDSHAKES_OK);
    handshake_destroy(&c->hs);
}

void
conn__read(conns_t *cs, conn_t *c, uint32_t events)
{
    /* A short read drained the socket: data that comes later raises a new
     * edge, so the recv that would say EAGAIN is saved (one syscall per
     * message at moderate rates). Not when the peer closed: its EOF may
     * already be behind the data, with no edge to come (nginx does the
     * same with EPOLLRDHUP). events 0: not known, read to EAGAIN. */
    int short_ok = events && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR));
    for (;;) {
        if (c->state == CONN_PENDING || c->state == CONN_DEAD)
            return;                     /* pending: read once open */
        ssize_t n = recv(c->io.fd, cs->rbuf, RBUF_LEN, 0);
        if (n > 0) {
            int drained = short_ok && (size_t)n < RBUF_LEN;
            if (c->state == CONN_HANDSHAKE)
                s_handshake(cs, c, cs->rbuf, (size_t)n);
            else if (c->state != CONN_PAGE) {   /* past a page's request: ignored */
                if (c->io.tl == TL_IDLE || c->io.tl == TL_PING)
                    conn__set_timer(cs, c, TL_IDLE);
                conn__feed(cs, c, (const uint8_t *)cs->rbuf, (size_t)n);
            }
            if (drained)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n == 0 && c->state == CONN_PAGE && c->out.len > 0)
            return;                     /* the client is done: the answer is not */
        conn_drop(cs, c);               /* EOF or error */
        return;
    }
}

void
conn_on_ready(conns_t *cs, conn_t *c, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        conn__read(cs, c, events);
    if (c->state != CONN_DEAD && (events & EPOLLOUT) && c->out.len > 0)
        conn__mark_dirty(cs, c);
}

void
conn_open(conns_t *cs, conn_t *c, const char *welcome, size_t n)
{
    if (c->state != CONN_PENDING)
        return;
    c->state = CONN_OPEN;
    conn__set_timer(cs, c, TL_IDLE);
    if (conn_send_text(cs, c, welcome, n) < 0 || s_settle_later(cs, c) < 0) {
        conn_drop(cs, c);
        return;
    }
}

