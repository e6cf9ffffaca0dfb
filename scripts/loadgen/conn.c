/* conn — sockets, output and the end of a child's connections (see
 * conn.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "proc.h"
#include "util.h"

static const char *const s_state_name[] = {
    "new", "connecting", "handshake", "waiting for welcome", "waiting for join ack", "open",
    "closing", "closed"
};

static int s_ep = -1;
static const conn_hooks_t *s_hooks;
static conn_t **s_dirty, **s_dead;
static uint32_t s_ndirty, s_ndead;
static uint64_t s_rr;                   /* conn_next_open()'s position */
static uint32_t s_src_ip;               /* host order; 0: let the kernel choose */
static uint16_t s_port_lo, s_port_hi, s_port_next;

int
conn_init(int ep, uint32_t src_ip, const conn_hooks_t *hooks)
{
    s_ep = ep;
    s_hooks = hooks;
    s_dirty = calloc(proc.n, sizeof *s_dirty);
    s_dead = calloc(proc.n, sizeof *s_dead);
    if (!s_dirty || !s_dead)
        return -1;
    if (src_ip) {
        unsigned lo = 32768, hi = 60999;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (f) {
            if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo < 1024 || hi > 65535 || lo >= hi)
                lo = 32768, hi = 60999;
            fclose(f);
        }
        s_src_ip = src_ip;
        s_port_lo = (uint16_t)lo;
        s_port_hi = (uint16_t)hi;
        s_port_next = s_port_lo;
    }
    return 0;
}

const char *
conn_state_name(unsigned state)
{
    return state < sizeof s_state_name / sizeof *s_state_name ? s_state_name[state] : "?";
}

char *
conn_user_name(char *p, const conn_t *c, uint64_t user)
{
    p = stpcpy(p, proc.cfg->prefix);
    if (c && c->sender)
        return stpcpy(p, "sender");
    return util_u64(p, user);
}

void
conn_kill(conn_t *c, const char *why, int code)
{
    if (c->dead || c->state == CONN_CLOSED || c->state == CONN_NEW)
        return;
    c->dead = 1;
    s_dead[s_ndead++] = c;
    s_hooks->killed(c, why, code);
}

void
conn_reap(void)
{
    for (uint32_t i = 0; i < s_ndead; i++) {
        conn_t *c = s_dead[i];
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        wslay_frame_context_free(c->fr);
        c->fr = NULL;
        free(c->pre);
        free(c->out);
        free(c->msg);
        c->pre = c->out = c->msg = NULL;
        c->prelen = c->preoff = c->outlen = c->outoff = c->outcap = c->msglen = c->msgcap = 0;
        c->state = CONN_CLOSED;
        if (s_hooks->reaped)
            s_hooks->reaped(c);
    }
    s_ndead = 0;
}

static void
s_epoll_mod(conn_t *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(s_ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        conn_kill(c, strerror(errno), 0);
}

void
conn_out_append(conn_t *c, const void *p, size_t n)
{
    if (c->outlen + n > c->outcap) {
        if (c->outoff) {
            memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
            c->outlen -= c->outoff;
            c->outoff = 0;
        }
        if (c->outlen + n > c->outcap) {
            size_t cap = c->outcap ? c->outcap : 256;
            while (cap < c->outlen + n)
                cap *= 2;
            if (cap > MAX_OUT) {
                conn_kill(c, "server does not read (output buffer full)", 0);
                return;
            }
            uint8_t *o = realloc(c->out, cap);
            if (!o) {
                conn_kill(c, "out of memory", 0);
                return;
            }
            c->out = o;
            c->outcap = (uint32_t)cap;
        }
    }
    memcpy(c->out + c->outlen, p, n);
    c->outlen += (uint32_t)n;
    if (!c->dirty) {
        c->dirty = 1;
        s_dirty[s_ndirty++] = c;
    }
}

void
conn_write(conn_t *c)
{
    while (c->outoff < c->outlen) {
        ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w > 0) {
            c->outoff += (uint32_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            if (!c->want_out) {
                c->want_out = 1;
                s_epoll_mod(c, EPOLLIN | EPOLLOUT);
            }
            return;
        }
        conn_kill(c, w < 0 ? strerror(errno) : "write returned 0", 0);
        return;
    }
    c->outoff = c->outlen = 0;
    if (c->want_out && c->state != CONN_CONNECTING) {
        c->want_out = 0;
        s_epoll_mod(c, EPOLLIN);
    }
}

void
conn_flush(void)
{
    for (uint32_t i = 0; i < s_ndirty; i++) {
        conn_t *c = s_dirty[i];
        c->dirty = 0;
        if (!c->dead)
            conn_write(c);
    }
    s_ndirty = 0;
}

/* Next source port of this process's address, cycling through the kernel's
 * ephemeral range. Choosing the port ourselves matters at scale: left to
 * itself, connect() searches the range (odd ports first) and checks every
 * candidate against all established sockets, which at 15k+ connections per
 * address costs milliseconds per connect (measured: 96 % of the generator's
 * CPU at 100k connections over 6 addresses). */
static uint16_t
s_next_port(void)
{
    uint16_t p = s_port_next;
    s_port_next = p >= s_port_hi ? s_port_lo : (uint16_t)(p + 1);
    return p;
}

/* Create C's socket and start a non-blocking connect, bound to this
 * process's source address. A port still in use (one of ours after a
 * wrap-around, or a TIME_WAIT the kernel will not reuse) is skipped.
 * Returns 0, or an errno value. */
static int
s_open_socket(conn_t *c)
{
    const cfg_t *cfg = proc.cfg;
    int one = 1, err = EADDRNOTAVAIL;
    for (int tries = 0; tries < 512; tries++) {
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            return errno;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (s_src_ip) {
            struct sockaddr_in src = { .sin_family = AF_INET };
            src.sin_addr.s_addr = htonl(s_src_ip);
            src.sin_port = htons(s_next_port());
            setsockopt(c->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) {
                err = errno;
                close(c->fd);
                c->fd = -1;
                if (err == EADDRINUSE)
                    continue;
                return err;
            }
        }
        if (connect(c->fd, (const struct sockaddr *)&cfg->dst, sizeof cfg->dst) == 0
            || errno == EINPROGRESS)
            return 0;
        err = errno;
        close(c->fd);
        c->fd = -1;
        if (!s_src_ip || (err != EADDRNOTAVAIL && err != EADDRINUSE))
            return err;
    }
    return err;
}

void
conn_start(conn_t *c)
{
    c->deadline = proc.now + (int64_t)(proc.cfg->timeout * 1e6);
    c->state = CONN_CONNECTING;
    int err = s_open_socket(c);
    if (err) {
        conn_kill(c, strerror(err), 0);
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    c->want_out = 1;
    if (epoll_ctl(s_ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        conn_kill(c, strerror(errno), 0);
}

conn_t *
conn_next_open(void)
{
    for (uint32_t tries = 0; tries < proc.members; tries++) {
        conn_t *c = &proc.conns[s_rr++ % proc.members];
        if (c->state == CONN_OPEN && !c->dead)
            return c;
    }
    return NULL;
}
