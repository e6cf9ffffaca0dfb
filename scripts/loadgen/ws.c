/* ws — WebSocket upgrade, framing and close (see ws.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"
#include "proto.h"
#include "util.h"
#include "ws.h"

/* The RFC 6455 sample key: its accept value is known, so the handshake answer
 * is checked with a compare instead of a SHA-1 per connection. The server does
 * not care that every connection offers the same nonce. */
#define WS_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define MAX_MSG   (16u << 20)   /* reassembled server message cap */

static wslay_frame_context_ptr s_tx;
static conn_t *s_cur;           /* target of the tx send callback */
static ws_text_fn s_on_text;
static ws_up_fn s_on_up;

/* wslay tx callbacks (the shared context): append to s_cur's buffer. */
static ssize_t
s_tx_send(const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)flags;
    (void)ud;
    conn_out_append(s_cur, data, len);
    return (ssize_t)len;
}

static int
s_tx_genmask(uint8_t *buf, size_t len, void *ud)
{
    (void)ud;
    while (len) {
        uint64_t r = util_rand();
        size_t n = len < 8 ? len : 8;
        memcpy(buf, &r, n);
        buf += n;
        len -= n;
    }
    return 0;
}

static ssize_t
s_tx_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)buf;
    (void)len;
    (void)flags;
    (void)ud;
    return 0;
}

/* wslay rx callback (one context per connection): the handshake leftover
 * first, then the socket, at most one recv() per readable event. */
static ssize_t
s_rx_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
    conn_t *c = ud;
    (void)flags;
    if (c->preoff < c->prelen) {
        size_t n = c->prelen - c->preoff;
        if (n > len)
            n = len;
        memcpy(buf, c->pre + c->preoff, n);
        c->preoff += (uint32_t)n;
        if (c->preoff == c->prelen) {
            free(c->pre);
            c->pre = NULL;
            c->prelen = c->preoff = 0;
        }
        return (ssize_t)n;
    }
    if (c->drained)
        return 0;
    ssize_t r = recv(c->fd, buf, len, 0);
    if (r > 0) {
        if ((size_t)r < len)
            c->drained = 1;
        return r;
    }
    c->drained = 1;
    if (r == 0 || (errno != EAGAIN && errno != EINTR))
        c->eof = 1;
    return 0;
}

static int
s_rx_genmask(uint8_t *buf, size_t len, void *ud)
{
    (void)ud;
    memset(buf, 0, len);
    return 0;
}

static const struct wslay_frame_callbacks s_tx_cb = { s_tx_send, s_tx_recv, s_tx_genmask };
static const struct wslay_frame_callbacks s_rx_cb = { NULL, s_rx_recv, s_rx_genmask };

int
ws_init(ws_text_fn on_text, ws_up_fn on_up)
{
    s_on_text = on_text;
    s_on_up = on_up;
    return wslay_frame_context_init(&s_tx, &s_tx_cb, NULL) != 0 ? -1 : 0;
}

void
ws_send_frame(conn_t *c, uint8_t op, const void *p, size_t n)
{
    struct wslay_frame_iocb io = {
        .fin = 1, .opcode = op, .mask = 1,
        .payload_length = n, .data = p, .data_length = n,
    };
    s_cur = c;
    ssize_t r = wslay_frame_send(s_tx, &io);
    if (r != (ssize_t)n)
        conn_kill(c, "wslay_frame_send failed", 0);
}

static void
s_on_control(conn_t *c, uint8_t op, const uint8_t *p, size_t n)
{
    if (op == WSLAY_PING) {
        proc.r.pings++;
        ws_send_frame(c, WSLAY_PONG, p, n);
    } else if (op == WSLAY_CONNECTION_CLOSE) {
        int code = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
        ws_send_frame(c, WSLAY_CONNECTION_CLOSE, p, n >= 2 ? 2 : 0);
        conn_write(c);
        conn_kill(c, "close frame", code);
    }
}

/* One chunk of a received frame, as wslay_frame_recv hands them out: the
 * common case (a whole unfragmented text frame within the 4 KiB input
 * buffer) is processed in place; anything else is assembled first. */
static void
s_on_chunk(conn_t *c, const struct wslay_frame_iocb *io)
{
    uint8_t op = io->opcode;
    bool first = c->fgot == 0;
    bool whole = first && io->data_length == io->payload_length;
    if (wslay_is_ctrl_frame(op)) {
        const uint8_t *p = io->data;
        size_t n = io->data_length;
        if (!whole) {
            memcpy(c->ctl + c->fgot, io->data, io->data_length);
            c->fgot += (uint32_t)io->data_length;
            if (c->fgot < io->payload_length)
                return;
            p = c->ctl;
            n = c->fgot;
        }
        c->fgot = 0;
        s_on_control(c, op, p, n);
        return;
    }
    if (first && ((op == 0) == (c->msgop == 0))) {
        conn_kill(c, "bad fragmentation from the server", 0);
        return;
    }
    if (whole && io->fin && op != 0) {
        if (op == WSLAY_TEXT_FRAME)
            s_on_text(c, (const char *)io->data, io->data_length);
        else
            proc.r.unexpected++;
        return;
    }
    if (first && op != 0)
        c->msgop = op;
    if (c->msglen + io->data_length > c->msgcap) {
        size_t cap = c->msgcap ? c->msgcap : 1024;
        while (cap < c->msglen + io->data_length)
            cap *= 2;
        uint8_t *m = cap <= MAX_MSG ? realloc(c->msg, cap) : NULL;
        if (!m) {
            conn_kill(c, "server message too large", 0);
            return;
        }
        c->msg = m;
        c->msgcap = (uint32_t)cap;
    }
    memcpy(c->msg + c->msglen, io->data, io->data_length);
    c->msglen += (uint32_t)io->data_length;
    c->fgot += (uint32_t)io->data_length;
    if (c->fgot < io->payload_length)
        return;
    c->fgot = 0;
    if (!io->fin)
        return;
    if (c->msgop == WSLAY_TEXT_FRAME)
        s_on_text(c, (const char *)c->msg, c->msglen);
    else
        proc.r.unexpected++;
    c->msglen = 0;
    c->msgop = 0;
    if (c->msgcap > 65536) {    /* do not keep a rare big buffer */
        free(c->msg);
        c->msg = NULL;
        c->msgcap = 0;
    }
}

static void
s_frames_read(conn_t *c)
{
    c->drained = 0;
    while (!c->dead) {
        struct wslay_frame_iocb io;
        ssize_t r = wslay_frame_recv(c->fr, &io);
        if (r == WSLAY_ERR_WANT_READ)
            break;
        if (r < 0) {
            conn_kill(c, "WebSocket protocol error from the server", 0);
            return;
        }
        s_on_chunk(c, &io);
    }
    if (c->eof && !c->dead)
        conn_kill(c, "connection closed without a close frame", 0);
}

static void
s_handshake_read(conn_t *c)
{
    char buf[4096];
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        conn_kill(c, r < 0 ? strerror(errno) : "closed during the handshake", 0);
        return;
    }
    if (c->prelen + (size_t)r > 16384) {
        conn_kill(c, "response head too long", 0);
        return;
    }
    uint8_t *p = realloc(c->pre, c->prelen + (size_t)r);
    if (!p) {
        conn_kill(c, "out of memory", 0);
        return;
    }
    c->pre = p;
    memcpy(p + c->prelen, buf, (size_t)r);
    c->prelen += (uint32_t)r;
    const uint8_t *e = memmem(p, c->prelen, "\r\n\r\n", 4);
    if (!e)
        return;
    size_t hlen = (size_t)(e - p) + 4;
    if (hlen < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
        char why[160];
        const uint8_t *eol = memchr(p, '\r', hlen);
        int n = (int)(eol - p);         /* eol exists: the head ends in CRLF */
        snprintf(why, sizeof why, "answer \"%.*s\"", n > 100 ? 100 : n, (const char *)p);
        conn_kill(c, why, 0);
        return;
    }
    if (!memmem(p, hlen, WS_ACCEPT, sizeof WS_ACCEPT - 1)) {
        conn_kill(c, "wrong or missing Sec-WebSocket-Accept", 0);
        return;
    }
    c->prelen -= (uint32_t)hlen;
    memmove(p, p + hlen, c->prelen);
    c->preoff = 0;
    if (!c->prelen) {
        free(c->pre);
        c->pre = NULL;
    }
    if (wslay_frame_context_init(&c->fr, &s_rx_cb, c) != 0) {
        conn_kill(c, "out of memory", 0);
        return;
    }
    c->state = CONN_WELCOME;
    c->t_up = proc.now;
    s_on_up(c);
    if (c->prelen && !c->dead)
        s_frames_read(c);
}

static void
s_connected(conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_kill(c, strerror(err), 0);
        return;
    }
    char req[512], *p = req;
    p = stpcpy(p, "GET ");
    p = proto_path(p, c);
    p = stpcpy(p, " HTTP/1.1\r\nHost: ");
    p = stpcpy(p, proc.cfg->host);
    p = stpcpy(p, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    /* conn_write() drops EPOLLOUT (armed for the connect) once the
     * request is out, and keeps it while it is not. */
    c->state = CONN_HANDSHAKE;
    conn_out_append(c, req, (size_t)(p - req));
    if (!c->dead)
        conn_write(c);
}

void
ws_event(conn_t *c, uint32_t ev)
{
    if (c->dead || c->state == CONN_CLOSED)
        return;
    if (c->state == CONN_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            s_connected(c);
        return;
    }
    if ((ev & EPOLLOUT) && c->want_out)
        conn_write(c);
    if (c->dead || !(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (c->state == CONN_HANDSHAKE)
        s_handshake_read(c);
    else
        s_frames_read(c);
}

void
ws_close_all(int ep)
{
    static const uint8_t bye[2] = { 1000 >> 8, 1000 & 0xff };
    struct linger rst = { .l_onoff = 1, .l_linger = 0 };
    uint32_t open = 0;
    for (uint32_t i = 0; i < proc.n; i++) {
        conn_t *c = &proc.conns[i];
        if (c->fd < 0 || c->dead)
            continue;
        if (c->state >= CONN_WELCOME && c->state <= CONN_OPEN) {
            ws_send_frame(c, WSLAY_CONNECTION_CLOSE, bye, 2);
            c->state = CONN_CLOSING;
            open++;
        } else {
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
            close(c->fd);
            c->fd = -1;
        }
    }
    conn_flush();
    int64_t deadline = clock_now_us() + 3000000;
    struct epoll_event evs[512];
    static uint8_t sink[16384];
    while (open && clock_now_us() < deadline) {
        int n = epoll_wait(ep, evs, 512, 100);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c || c->fd < 0)
                continue;
            if ((evs[i].events & EPOLLOUT) && c->want_out && !c->dead)
                conn_write(c);
            ssize_t r = recv(c->fd, sink, sizeof sink, 0);
            if (r > 0 || (r < 0 && errno == EAGAIN))
                continue;
            close(c->fd);
            c->fd = -1;
            open--;
        }
    }
    for (uint32_t i = 0; i < proc.n; i++) {
        conn_t *c = &proc.conns[i];
        if (c->fd >= 0) {
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
            close(c->fd);
        }
    }
}
