/* conn — see conn.h.
 *
 * Output path: a frame is queued in wslay and at once moved by wslay's send
 * callback into c->out, so c->out is the whole outbound queue (exact
 * accounting for --max-outbound); the socket is written once per loop turn
 * (conn_flush_all), which coalesces every frame of the turn into one
 * write(2) (field notes: the per-write cost dominates).
 *
 * Input path: bytes are read into the worker's shared buffer and fed to
 * wslay through its recv callback. A small scanner follows client frame
 * boundaries, so an open conn with nothing in flight can free its wslay
 * context (≈12 KiB) and keep only this struct. */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_json.h"
#include "handlers.h"
#include "handshake.h"
#include "log.h"
#include "metrics.h"
#include "route.h"

#define HANDSHAKE_MS 10000
#define PENDING_MS   5000
#define IDLE_MS      30000
#define PING_MS      30000
#define LINGER_MS    5000
#define SLOW_MS      30000

static worker_t *s_w;           /* one worker per process; for wslay callbacks */
static uint32_t  s_gen;

static const int64_t s_timeout[TL_COUNT] = {
    [TL_HANDSHAKE] = HANDSHAKE_MS, [TL_PENDING] = PENDING_MS, [TL_IDLE] = IDLE_MS,
    [TL_PING] = PING_MS, [TL_LINGER] = LINGER_MS, [TL_SLOW] = SLOW_MS,
};

static void s_read(worker_t *w, conn_t *c);

void
conn_set_timer(worker_t *w, conn_t *c, int tl)
{
    list_unlink(&c->tlink);
    c->tl = (uint8_t)tl;
    c->t_ms = w->now;
    list_push_tail(&w->timers[tl], &c->tlink);
}

static void
s_mark_dirty(worker_t *w, conn_t *c)
{
    if (!c->dirty && c->state != CONN_DEAD) {
        c->dirty = 1;
        list_push_tail(&w->dirty, &c->dlink);
    }
}

/* ---- wslay callbacks ------------------------------------------------ */

static ssize_t
s_ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    conn_t *c = ud;
    (void)flags;
    if (c->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < c->in_len ? len : c->in_len;
    memcpy(buf, c->in, n);
    c->in += n;
    c->in_len -= n;
    return (ssize_t)n;
}

static ssize_t
s_ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    conn_t *c = ud;
    (void)flags;
    if (buf_append(&c->out, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_NOMEM);
        return -1;
    }
    return (ssize_t)len;
}

/* Token bucket: N per second, bursts of 2N; 3N refusals in a row (no
 * one-second pause lets the bucket refill) close with 1008. */
static int
s_rate_ok(worker_t *w, conn_t *c)
{
    int64_t n = w->opt->rate_limit;
    if (n <= 0)
        return 1;
    int64_t cap = 2 * n * 1000;
    c->rl_tokens += (w->now - c->rl_ms) * n;
    c->rl_ms = w->now;
    if (c->rl_tokens > cap)
        c->rl_tokens = cap;
    if (c->rl_tokens >= 1000) {
        c->rl_tokens -= 1000;
        c->rl_refused = 0;
        return 1;
    }
    if (++c->rl_refused >= 3 * n) {
        metrics_inc(M_CLOSE_RATE);
        conn_close(w, c, 1008, "rate limit abuse");
    } else {
        handle_error(w, c, CJ_RATE_LIMITED, "rate limit exceeded", NULL, 0);
    }
    return 0;
}

static void
s_ws_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *ud)
{
    conn_t *c = ud;
    worker_t *w = s_w;
    (void)ctx;
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
        metrics_inc(M_FRAMES_IN);
        if (c->state != CONN_OPEN || !s_rate_ok(w, c))
            return;
        if (arg->opcode == WSLAY_BINARY_FRAME)
            handle_error(w, c, CJ_UNSUPPORTED, "binary frames are not supported", NULL, 0);
        else
            handle_client(w, c, (const char *)arg->msg, arg->msg_length);
        break;
    case WSLAY_CONNECTION_CLOSE:
        if (c->state < CONN_CLOSING) {
            c->state = CONN_CLOSING;    /* wslay queued the echo already */
            conn_set_timer(w, c, TL_LINGER);
            handle_detach(w, c);
        }
        break;
    default:                            /* ping answered by wslay; pong */
        break;
    }
}

static const struct wslay_event_callbacks s_ws_callbacks = {
    .recv_callback = s_ws_recv,
    .send_callback = s_ws_send,
    .on_msg_recv_callback = s_ws_msg,
};

static int
s_ws_ensure(worker_t *w, conn_t *c)
{
    if (c->ws)
        return 0;
    if (wslay_event_context_server_init(&c->ws, &s_ws_callbacks, c) != 0) {
        c->ws = NULL;
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, w->opt->max_message);
    return 0;
}

/* ---- frame-boundary scanner (client frames are always masked) -------- */

static void
s_scan(conn_t *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (c->sc_left > 0) {
            size_t k = n < c->sc_left ? n : (size_t)c->sc_left;
            c->sc_left -= k;
            p += k;
            n -= k;
            continue;
        }
        c->sc_hdr[c->sc_have++] = *p++;
        n--;
        if (c->sc_have == 2) {
            uint8_t l7 = c->sc_hdr[1] & 0x7f;
            c->sc_need = (uint8_t)(2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0)
                                   + ((c->sc_hdr[1] & 0x80) ? 4 : 0));
        }
        if (c->sc_have < 2 || c->sc_have < c->sc_need)
            continue;
        uint8_t l7 = c->sc_hdr[1] & 0x7f;
        uint64_t len = l7;
        if (l7 == 126)
            len = (uint64_t)c->sc_hdr[2] << 8 | c->sc_hdr[3];
        else if (l7 == 127)
            for (int i = 0; i < 8; i++)
                len = len << 8 | c->sc_hdr[2 + i];
        if ((c->sc_hdr[0] & 0x0f) < 8)           /* data frame: FIN decides */
            c->frag = !(c->sc_hdr[0] & 0x80);
        c->sc_left = len;
        c->sc_have = c->sc_need = 0;
    }
}

static int
s_at_boundary(const conn_t *c)
{
    return c->sc_have == 0 && c->sc_left == 0 && !c->frag;
}

/* ---- lifecycle ------------------------------------------------------ */

conn_t *
conn_accept(worker_t *w, int fd)
{
    if (fd >= w->conns_cap) {
        close(fd);
        return NULL;
    }
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    s_w = w;
    c->fd = fd;
    c->gen = ++s_gen;
    c->state = CONN_HANDSHAKE;
    c->rl_ms = w->now;
    c->rl_tokens = 2LL * w->opt->rate_limit * 1000;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = (uint64_t)fd,
    };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_warn("epoll_ctl");
        close(fd);
        free(c);
        return NULL;
    }
    w->conns[fd] = c;
    w->nconns++;
    conn_set_timer(w, c, TL_HANDSHAKE);
    metrics_inc(M_CONNECTIONS);
    return c;
}

conn_t *
conn_lookup(worker_t *w, int fd, uint32_t gen)
{
    if (fd < 0 || fd >= w->conns_cap)
        return NULL;
    conn_t *c = w->conns[fd];
    return (c && c->gen == gen && c->state != CONN_DEAD) ? c : NULL;
}

void
conn_drop(worker_t *w, conn_t *c)
{
    if (c->state == CONN_DEAD)
        return;
    handle_detach(w, c);
    c->state = CONN_DEAD;
    list_unlink(&c->tlink);
    if (c->dirty)
        list_unlink(&c->dlink);
    c->dirty = 1;                       /* never re-marked */
    list_push_tail(&w->reap, &c->dlink);
}

void
conn_reap(worker_t *w)
{
    while (!list_empty(&w->reap)) {
        conn_t *c = list_entry(w->reap.next, conn_t, dlink);
        list_unlink(&c->dlink);
        close(c->fd);                   /* also leaves epoll */
        w->conns[c->fd] = NULL;
        w->nconns--;
        metrics_dec(M_CONNECTIONS);
        handshake_destroy(&c->hs);
        free(c->early);
        if (c->ws)
            wslay_event_context_free(c->ws);
        buf_free(&c->out);
        free(c);
    }
}

/* ---- output --------------------------------------------------------- */

/* The worker's encoder: a server wslay context that never sees a close,
 * so it keeps no per-connection state; its send callback appends to
 * w->enc_out. Server frames are unmasked, identical for every recipient. */
static ssize_t
s_enc_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    worker_t *w = ud;
    (void)flags;
    if (buf_append(w->enc_out, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_NOMEM);
        return -1;
    }
    return (ssize_t)len;
}

static ssize_t
s_enc_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)buf; (void)len; (void)flags; (void)ud;
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
}

static int
s_encode(worker_t *w, buf_t *out, uint8_t opcode, const char *p, size_t n)
{
    static const struct wslay_event_callbacks cb = { .recv_callback = s_enc_recv,
                                                     .send_callback = s_enc_send };
    if (!w->encoder && wslay_event_context_server_init(
                           (wslay_event_context_ptr *)&w->encoder, &cb, w) != 0) {
        w->encoder = NULL;
        return -1;
    }
    struct wslay_event_msg m = { opcode, (const uint8_t *)p, n };
    w->enc_out = out;
    int rc = wslay_event_queue_msg(w->encoder, &m) || wslay_event_send(w->encoder);
    w->enc_out = NULL;
    return rc ? -1 : 0;
}

int
conn_frame(worker_t *w, buf_t *out, const char *p, size_t n)
{
    return s_encode(w, out, WSLAY_TEXT_FRAME, p, n);
}

void
conn_encoder_free(worker_t *w)
{
    if (w->encoder)
        wslay_event_context_free(w->encoder);
    w->encoder = NULL;
}

int
conn_send_frame(worker_t *w, conn_t *c, const char *frame, size_t n)
{
    if (c->state != CONN_OPEN)
        return -1;
    if (c->out.len + n > w->opt->max_outbound) {
        /* Slow consumer: free the queue now (keep only the rest of a frame
         * the socket took in part), then close 4008 behind it. */
        log_info("session %s of %s: outbound queue over %zu bytes, closing 4008",
                 c->session, c->user ? c->user->name : "?", w->opt->max_outbound);
        c->out.len = c->out_partial < c->out.len ? c->out_partial : c->out.len;
        metrics_inc(M_CLOSE_SLOW);
        conn_close(w, c, 4008, "too slow");
        conn_set_timer(w, c, TL_SLOW);
        return -1;
    }
    if (buf_append(&c->out, frame, n) < 0)
        return -1;
    metrics_inc(M_FRAMES_OUT);
    s_mark_dirty(w, c);
    return 0;
}

int
conn_send_text(worker_t *w, conn_t *c, const char *p, size_t n)
{
    if (c->state != CONN_OPEN)
        return -1;
    w->wire.len = 0;
    if (conn_frame(w, &w->wire, p, n) < 0)
        return -1;
    return conn_send_frame(w, c, w->wire.data, w->wire.len);
}

void
conn_close(worker_t *w, conn_t *c, uint16_t code, const char *reason)
{
    if (c->state == CONN_HANDSHAKE) {
        conn_drop(w, c);
        return;
    }
    if (c->state >= CONN_CLOSING)
        return;
    handle_detach(w, c);
    c->state = CONN_CLOSING;
    conn_set_timer(w, c, TL_LINGER);
    if (s_ws_ensure(w, c) < 0
        || wslay_event_queue_close(c->ws, code, (const uint8_t *)reason, strlen(reason)) != 0
        || wslay_event_send(c->ws) != 0) {
        conn_drop(w, c);
        return;
    }
    s_mark_dirty(w, c);
}

/* Bytes the socket took: advance over whole frames so out_partial always
 * tells how much of the head frame is still owed to the peer. */
static void
s_account(conn_t *c, size_t n)
{
    size_t pos = 0;
    while (pos < n) {
        if (c->out_partial == 0) {
            const uint8_t *h = (const uint8_t *)c->out.data + pos;
            uint8_t l7 = h[1] & 0x7f;
            uint64_t len = l7, hdr = 2;
            if (l7 == 126) {
                len = (uint64_t)h[2] << 8 | h[3];
                hdr = 4;
            } else if (l7 == 127) {
                len = 0;
                for (int i = 0; i < 8; i++)
                    len = len << 8 | h[2 + i];
                hdr = 10;
            }
            c->out_partial = (size_t)(hdr + len);
        }
        size_t k = n - pos < c->out_partial ? n - pos : c->out_partial;
        c->out_partial -= k;
        pos += k;
    }
}

static void
s_flush(worker_t *w, conn_t *c)
{
    if (c->ws && wslay_event_want_write(c->ws))
        wslay_event_send(c->ws);
    while (c->out.len > 0) {
        ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL);
        if (n > 0) {
            s_account(c, (size_t)n);
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;                     /* EPOLLOUT will bring us back */
        conn_drop(w, c);
        return;
    }
    buf_free(&c->out);                  /* idle conns hold no buffer */
    if (!c->ws)
        return;
    if (c->state == CONN_CLOSING && wslay_event_get_close_sent(c->ws)) {
        /* Both closes done: the server closes TCP first (RFC 6455 7.1.1).
         * After a protocol error, half-close and linger for the peer's EOF
         * so our close frame is not lost to an RST. */
        if (wslay_event_get_close_received(c->ws))
            conn_drop(w, c);
        else if (!wslay_event_get_read_enabled(c->ws))
            shutdown(c->fd, SHUT_WR);
        return;
    }
    if (c->state == CONN_OPEN && s_at_boundary(c)
        && wslay_event_get_queued_msg_count(c->ws) == 0) {
        wslay_event_context_free(c->ws);
        c->ws = NULL;
    }
}

void
conn_flush_all(worker_t *w)
{
    while (!list_empty(&w->dirty)) {
        conn_t *c = list_entry(w->dirty.next, conn_t, dlink);
        list_unlink(&c->dlink);
        c->dirty = 0;
        s_flush(w, c);
    }
}

/* ---- input ---------------------------------------------------------- */

static void
s_feed(worker_t *w, conn_t *c, const uint8_t *p, size_t n)
{
    if (s_ws_ensure(w, c) < 0) {
        conn_drop(w, c);
        return;
    }
    s_scan(c, p, n);
    c->in = p;
    c->in_len = n;
    int r = wslay_event_recv(c->ws);
    c->in = NULL;
    c->in_len = 0;
    if (c->state == CONN_DEAD)
        return;
    if (r != 0) {
        conn_drop(w, c);
        return;
    }
    if (!wslay_event_get_read_enabled(c->ws) && c->state < CONN_CLOSING) {
        /* wslay found a protocol error (1002/1007/1009) and queued a close */
        log_debug("session %s: protocol error, closing (%u)", c->session,
                  wslay_event_get_status_code_sent(c->ws));
        handle_detach(w, c);
        c->state = CONN_CLOSING;
        conn_set_timer(w, c, TL_LINGER);
    }
    if (wslay_event_want_write(c->ws) || c->state == CONN_CLOSING)
        s_mark_dirty(w, c);             /* flush decides when TCP closes */
}

static void
s_handshake(worker_t *w, conn_t *c, const char *p, size_t n)
{
    size_t used = 0;
    if (!c->hs && !(c->hs = handshake_new())) {
        conn_drop(w, c);
        return;
    }
    handshake_cfg_t hcfg = { NULL, 0 };
    hs_result_t r = handshake_feed(c->hs, p, n, &used, &hcfg);
    if (r == HS_MORE)
        return;
    char resp[512];
    size_t rn = handshake_response(c->hs, resp, sizeof resp);
    if (r == HS_FAIL) {
        metrics_refused(handshake_status(c->hs));
        if (rn)
            (void)!send(c->fd, resp, rn, MSG_NOSIGNAL);   /* best effort */
        conn_drop(w, c);
        return;
    }
    metrics_inc(M_HANDSHAKES_OK);
    /* The 101 goes first in c->out; out_partial covers it like a frame. */
    if (buf_append(&c->out, resp, rn) < 0) {
        conn_drop(w, c);
        return;
    }
    c->out_partial = rn;
    c->state = CONN_PENDING;
    conn_set_timer(w, c, TL_PENDING);
    s_mark_dirty(w, c);
    const char *user = handshake_user(c->hs);
    if (used < n) {
        /* Frames that came in the same read as the head: kept raw and fed
         * once the route is live, in order, like later ones. */
        if (!(c->early = malloc(n - used))) {
            conn_drop(w, c);
            return;
        }
        memcpy(c->early, p + used, n - used);
        c->early_len = n - used;
    }
    if (handle_attach(w, c, user) < 0) {
        conn_drop(w, c);
        return;
    }
    handshake_destroy(&c->hs);
}

static void
s_read(worker_t *w, conn_t *c)
{
    for (;;) {
        if (c->state == CONN_PENDING || c->state == CONN_DEAD)
            return;                     /* pending: read once the route is live */
        ssize_t n = recv(c->fd, w->rbuf, w->rbuf_len, 0);
        if (n > 0) {
            if (c->state == CONN_HANDSHAKE) {
                s_handshake(w, c, w->rbuf, (size_t)n);
                continue;
            }
            if (c->tl == TL_IDLE || c->tl == TL_PING)
                conn_set_timer(w, c, TL_IDLE);
            s_feed(w, c, (const uint8_t *)w->rbuf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_drop(w, c);                /* EOF or error */
        return;
    }
}

void
conn_on_ready(worker_t *w, conn_t *c, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s_read(w, c);
    if (c->state != CONN_DEAD && (events & EPOLLOUT) && c->out.len > 0)
        s_mark_dirty(w, c);
}

void
conn_open(worker_t *w, conn_t *c)
{
    if (c->state != CONN_PENDING)
        return;
    c->state = CONN_OPEN;
    conn_set_timer(w, c, TL_IDLE);
    w->frame.len = 0;
    if (cj_render_welcome(&w->frame, c->user->name, c->session) < 0
        || conn_send_text(w, c, w->frame.data, w->frame.len) < 0) {
        conn_drop(w, c);
        return;
    }
    if (c->early) {
        char *early = c->early;
        c->early = NULL;
        s_feed(w, c, (const uint8_t *)early, c->early_len);
        free(early);
    }
    s_read(w, c);                       /* edges seen while pending */
}

void
conn_timers(worker_t *w)
{
    for (int tl = 0; tl < TL_COUNT; tl++) {
        link_t *h = &w->timers[tl];
        while (!list_empty(h)) {
            conn_t *c = list_entry(h->next, conn_t, tlink);
            if (c->t_ms + s_timeout[tl] > w->now)
                break;
            switch (tl) {
            case TL_PENDING:
                log_info("session %s: route not live in time, closing 1013", c->session);
                conn_close(w, c, 1013, "try again later");
                break;
            case TL_IDLE:
                w->wire.len = 0;
                if (s_encode(w, &w->wire, WSLAY_PING, NULL, 0) == 0
                    && buf_append(&c->out, w->wire.data, w->wire.len) == 0)
                    s_mark_dirty(w, c);
                conn_set_timer(w, c, TL_PING);
                break;
            default:                    /* handshake, ping, linger, slow */
                conn_drop(w, c);
                break;
            }
            if (c->state != CONN_DEAD && c->tl == tl && h->next == &c->tlink)
                conn_drop(w, c);        /* never spin on one entry */
        }
    }
}
