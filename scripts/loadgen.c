/* zwsd-loadgen — a WebSocket load generator for zwsd (see zwsd-loadgen(1)).
 *
 * One coordinator (the parent) and --procs worker processes (the children).
 * Each child owns a slice of the users, one level-triggered epoll loop, and
 * non-blocking sockets bound to its own loopback source address (127.0.0.2+i:
 * 100k connections would not fit in one address's ~28k ephemeral ports) on
 * source ports it picks itself (s_next_port), and speaks WebSocket through
 * wslay's frame API:
 *   - receiving: one wslay_frame_context per connection whose recv callback
 *     reads the socket itself, once per readable event (the loop is
 *     level-triggered, so a short read means "drained" and no EAGAIN probe is
 *     needed);
 *   - sending: ONE wslay_frame_context per process whose send callback appends
 *     the masked frame to the connection's output buffer; every frame queued
 *     for a connection during one loop turn leaves in a single write() at the
 *     end of the turn. wslay calls the send callback twice per frame (header,
 *     then payload: field notes, wslay #56); a socket write per call would
 *     double the syscalls and, with TCP_NODELAY, the segments.
 * The event API (wslay_event_*) would add a second 4 KiB buffer per
 * connection and a copy of every queued message for nothing we need.
 *
 * The parent never touches a WebSocket: it sequences the phases over one
 * SOCK_SEQPACKET socketpair per child (READY, GO/END, STOP, group rounds) and
 * adds up the children's reports, so every number is printed from one place.
 *
 * Cost, measured on the 2-core VM this was written on (zwsd, 1,000 users):
 * open loop at 20k msgs/s about 20 µs of generator CPU per message, nearly
 * all of it kernel time (a loopback write() runs the receiver's TCP path in
 * the writer's context); closed loop 0.9 µs, since frames then coalesce.
 *
 * Time: payload stamps ("t") are CLOCK_MONOTONIC microseconds, shared by every
 * process on the host, so a receiver in another child computes the latency
 * without any clock exchange.
 *
 * Server frames are classified with a small key scanner (the type, the msg's
 * "t" and "s", an ack's status) instead of a full parse: it runs once per
 * delivered message and must cost less than the server's own work. Rare
 * frames (welcome, error, anything unexpected) go through jansson.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "clock.h"

/* The RFC 6455 sample key: its accept value is known, so the handshake answer
 * is checked with a compare instead of a SHA-1 per connection. The server does
 * not care that every connection offers the same nonce. */
#define WS_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define MAX_PROCS     64
#define MAX_MSG       (16u << 20)   /* reassembled server message cap */
#define MAX_OUT       (16u << 20)   /* unsent bytes per connection before we give up */
#define LOG_LIMIT     20            /* diagnostic lines per process */
#define HIST_N        (128 + 34 * 64)

typedef enum { MODE_IDLE, MODE_CHAT, MODE_GROUP } lg_mode_t;

typedef struct {
    lg_mode_t mode;
    const char *url;
    struct sockaddr_in dst;
    char host[300];             /* Host header: host:port as given */
    uint64_t conns;
    int procs;
    const char *prefix;
    const char *group;
    double connect_rate;
    double duration, warmup, drain, timeout;
    double rate;
    double tick_us;             /* open loop: shortest sleep between send rounds */
    long inflight;
    long size;                  /* pad chat frames to about this many bytes */
    bool ack;
    long count;
    long server_pid;
    struct in_addr src_base;
    bool bind_src;
    int verbose;
} cfg_t;

/* Parent <-> child messages. The first word is the type. */
enum { CTL_READY = 1, CTL_GO, CTL_END, CTL_STOP, CTL_PROGRESS, CTL_GSEND, CTL_GDONE, CTL_REPORT };

typedef struct {
    uint32_t type;
    uint32_t pad;
    int64_t  v[6];
} ctl_msg_t;
/* READY    v0 opened  v1 failed  v2 µs to settle all
 * GO       v0 t0 (start sending)  v1 t1 (window start)  v2 t2 (window end)
 * END      close the window now (the parent got a signal), then drain as usual
 * PROGRESS v0 sent  v1 received  v2 acks
 * GSEND    v0 k (group message index)
 * GDONE    v0 k  v1 latency of the last member  v2 of the first  v3 members */

/* A child's final numbers. Window counters cover [t1, t2); the histogram
 * holds latencies in µs of window receipts (chat) or of every member's copy
 * (group). */
typedef struct {
    uint32_t type, pad;
    uint64_t opened, failed, dropped, pings;
    uint64_t sent, recv, sent_w, recv_w;
    uint64_t ack_delivered, ack_offline, ack_sent, ack_other;
    uint64_t errors, order_err, unexpected;
    uint64_t cpu_w_ns, cpu_ns, window_us;
    uint64_t lat_max, lat_sum, lat_n;
    uint64_t hist[HIST_N];
} report_t;

/* Connection states, in the order a connection passes them. */
enum { ST_NEW, ST_CONNECTING, ST_HANDSHAKE, ST_WELCOME, ST_JOIN, ST_OPEN, ST_CLOSING, ST_CLOSED };
static const char *const st_name[] = {
    "new", "connecting", "handshake", "waiting for welcome", "waiting for join ack", "open",
    "closing", "closed"
};

typedef struct conn {
    int fd;
    uint8_t state;
    uint8_t dirty;              /* on g.dirty */
    uint8_t dead;               /* on g.dead: freed by s_reap() */
    uint8_t want_out;           /* EPOLLOUT armed */
    uint8_t drained;            /* recv callback: the last recv() came short */
    uint8_t eof;
    uint8_t sender;             /* the group sender */
    uint8_t msgop;              /* opcode of the message being reassembled */
    uint64_t user;              /* global user index */
    uint64_t peer;              /* chat target's user index */
    wslay_frame_context_ptr fr;
    uint8_t *pre;               /* handshake bytes, then leftover frame bytes */
    uint32_t prelen, preoff;
    uint8_t *out;
    uint32_t outlen, outoff, outcap;
    uint8_t *msg;
    uint32_t msglen, msgcap;
    uint32_t fgot;              /* payload bytes of the current frame so far */
    uint8_t ctl[128];           /* a control frame split across reads */
    int64_t seq_out;            /* next "s" to send */
    int64_t seq_in;             /* last "s" received */
    int64_t deadline;           /* µs: must be open by then */
} conn_t;

/* The child's state. One child, one loop, so one global. */
static struct {
    const cfg_t *cfg;
    int idx, ep, ctl;
    conn_t *conns;
    uint32_t n;                 /* connections incl. the group sender */
    uint32_t members;           /* user connections */
    uint64_t lo;                /* first user index */
    conn_t **dirty, **dead;
    uint32_t ndirty, ndead;
    wslay_frame_context_ptr tx;
    conn_t *cur;                /* target of the tx send callback */
    uint64_t rng;
    int64_t now;
    /* connecting */
    uint32_t started, opened;
    uint32_t src_ip;            /* host order; 0: let the kernel choose */
    uint16_t port_lo, port_hi, port_next;
    int64_t c0;
    double crate;
    bool ready_sent;
    int64_t next_scan;
    /* chat */
    bool go, running, in_w, finished;
    int64_t t0, t1, t2, cpu_w0, next_progress;
    double rate_local;
    int64_t tick;
    char *sendbuf;              /* chat frame being built: --size + room */
    bool starved;               /* open loop: no connection left to send on */
    uint64_t rr;
    /* group */
    int64_t gk, gk_last, gk_first;
    uint32_t gk_count;
    bool stop;
    unsigned nlog;
    report_t r;
} g;

static volatile sig_atomic_t s_sig;

/* ---------------------------------------------------------------- utils */

static int64_t
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t
s_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A diagnostic line on stderr, at most LOG_LIMIT per process so that 10,000
 * identical failures do not bury the result. */
static void s_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void
s_log(const char *fmt, ...)
{
    if (g.nlog > LOG_LIMIT)
        return;
    if (g.nlog++ == LOG_LIMIT) {
        fprintf(stderr, "zwsd-loadgen[%d]: further messages suppressed\n", g.idx);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zwsd-loadgen[%d]: ", g.idx);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static char *
s_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *
s_user(char *p, const conn_t *c, uint64_t user)
{
    p = stpcpy(p, g.cfg->prefix);
    if (c && c->sender)
        return stpcpy(p, "sender");
    return s_u64(p, user);
}

/* xorshift64*: mask keys need to vary, not to be secret, for a load test. */
static uint64_t
s_rand(void)
{
    g.rng ^= g.rng >> 12;
    g.rng ^= g.rng << 25;
    g.rng ^= g.rng >> 27;
    return g.rng * 2685821657736338717ull;
}

static unsigned
s_hist_index(uint64_t v)
{
    if (v >= (1ull << 41))
        v = (1ull << 41) - 1;
    if (v < 128)
        return (unsigned)v;
    int shift = 63 - __builtin_clzll(v) - 6;
    return 128 + (unsigned)(shift - 1) * 64 + (unsigned)((v >> shift) - 64);
}

/* Representative value of a bucket: its midpoint (1.6 % wide above 128 µs). */
static uint64_t
s_hist_value(unsigned i)
{
    if (i < 128)
        return i;
    unsigned shift = (i - 128) / 64 + 1;
    uint64_t m = (i - 128) % 64 + 64;
    return (m << shift) + ((1ull << shift) >> 1);
}

static void
s_hist_add(report_t *r, int64_t lat)
{
    uint64_t v = lat > 0 ? (uint64_t)lat : 0;
    r->hist[s_hist_index(v)]++;
    r->lat_n++;
    r->lat_sum += v;
    if (v > r->lat_max)
        r->lat_max = v;
}

static uint64_t
s_hist_pct(const report_t *r, double q)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < HIST_N; i++)
        total += r->hist[i];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < HIST_N; i++) {
        acc += r->hist[i];
        if (acc >= want) {
            uint64_t v = s_hist_value(i);
            return v > r->lat_max ? r->lat_max : v;
        }
    }
    return r->lat_max;
}

/* ------------------------------------------------------ tiny JSON scanner */

/* Value of the object key KEY (given with its quotes) in [p, end): a pointer
 * past the ':' and any blanks, or NULL. A quoted KEY followed by ':' can only
 * be a key here: the server's strings (user ids, group names, mids, times)
 * contain no quotes or backslashes. */
static const char *
s_key(const char *p, const char *end, const char *key, size_t klen)
{
    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), key, klen);
        if (!q)
            return NULL;
        q += klen;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        if (q < end && *q == ':') {
            q++;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
                q++;
            return q;
        }
        p = q;
    }
    return NULL;
}

static bool
s_int(const char *v, const char *end, int64_t *out)
{
    if (!v || v >= end)
        return false;
    bool neg = *v == '-';
    if (neg)
        v++;
    if (v >= end || *v < '0' || *v > '9')
        return false;
    int64_t x = 0;
    while (v < end && *v >= '0' && *v <= '9')
        x = x * 10 + (*v++ - '0');
    *out = neg ? -x : x;
    return true;
}

/* Does the string value at V equal LIT (no quotes)? */
static bool
s_str_is(const char *v, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return v && v < end && *v == '"' && (size_t)(end - v) >= n + 2
        && memcmp(v + 1, lit, n) == 0 && v[n + 1] == '"';
}

/* ------------------------------------------------------------ connections */

static void
s_conn_kill(conn_t *c, const char *why, int code)
{
    if (c->dead || c->state == ST_CLOSED)
        return;
    c->dead = 1;
    g.dead[g.ndead++] = c;
    char name[96];
    *s_user(name, c, c->user) = '\0';
    if (c->state == ST_OPEN) {
        g.r.dropped++;
        if (code)
            s_log("%s: dropped by the server: close code %d", name, code);
        else
            s_log("%s: dropped: %s", name, why);
    } else {
        g.r.failed++;
        if (code)
            s_log("%s: failed while %s: close code %d", name, st_name[c->state], code);
        else
            s_log("%s: failed while %s: %s", name, st_name[c->state], why);
    }
}

/* The only place a connection's resources are released (end of a loop turn,
 * never inside a wslay callback). */
static void
s_reap(void)
{
    for (uint32_t i = 0; i < g.ndead; i++) {
        conn_t *c = g.dead[i];
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
        c->state = ST_CLOSED;
    }
    g.ndead = 0;
}

static void
s_epoll_mod(conn_t *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        s_conn_kill(c, strerror(errno), 0);
}

static void
s_out_append(conn_t *c, const void *p, size_t n)
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
                s_conn_kill(c, "server does not read (output buffer full)", 0);
                return;
            }
            uint8_t *o = realloc(c->out, cap);
            if (!o) {
                s_conn_kill(c, "out of memory", 0);
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
        g.dirty[g.ndirty++] = c;
    }
}

/* One write() per connection per loop turn, whatever was queued. */
static void
s_conn_write(conn_t *c)
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
        s_conn_kill(c, w < 0 ? strerror(errno) : "write returned 0", 0);
        return;
    }
    c->outoff = c->outlen = 0;
    if (c->want_out && c->state != ST_CONNECTING) {
        c->want_out = 0;
        s_epoll_mod(c, EPOLLIN);
    }
}

static void
s_flush(void)
{
    for (uint32_t i = 0; i < g.ndirty; i++) {
        conn_t *c = g.dirty[i];
        c->dirty = 0;
        if (!c->dead)
            s_conn_write(c);
    }
    g.ndirty = 0;
}

/* wslay tx callbacks (the shared context): append to g.cur's buffer. */
static ssize_t
s_tx_send(const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)flags;
    (void)ud;
    s_out_append(g.cur, data, len);
    return (ssize_t)len;
}

static int
s_tx_genmask(uint8_t *buf, size_t len, void *ud)
{
    (void)ud;
    while (len) {
        uint64_t r = s_rand();
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

/* Queue one masked frame for C (written at the end of the loop turn). */
static void
s_send_frame(conn_t *c, uint8_t op, const void *p, size_t n)
{
    struct wslay_frame_iocb io = {
        .fin = 1, .opcode = op, .mask = 1,
        .payload_length = n, .data = p, .data_length = n,
    };
    g.cur = c;
    ssize_t r = wslay_frame_send(g.tx, &io);
    if (r != (ssize_t)n)
        s_conn_kill(c, "wslay_frame_send failed", 0);
}

/* ------------------------------------------------------------- messaging */

/* Queue C's next chat message to its peer:
 *   {"receiver":"u7","msg":{"t":<µs>,"s":<seq>[,"p":"xxx…"]}[,"id":"<seq>"]}
 * "p" pads the frame to about --size bytes. */
static void
s_chat_send(conn_t *c)
{
    char *buf = g.sendbuf, *p = buf;
    p = stpcpy(p, "{\"receiver\":\"");
    p = s_user(p, NULL, c->peer);
    p = stpcpy(p, "\",\"msg\":{\"t\":");
    p = s_u64(p, (uint64_t)s_now_us());
    p = stpcpy(p, ",\"s\":");
    p = s_u64(p, (uint64_t)c->seq_out);
    long pad = g.cfg->size - (long)(p - buf) - 9 - (g.cfg->ack ? 30 : 0);
    if (pad > 0) {
        p = stpcpy(p, ",\"p\":\"");
        memset(p, 'x', (size_t)pad);
        p += pad;
        *p++ = '"';
    }
    *p++ = '}';
    if (g.cfg->ack) {
        p = stpcpy(p, ",\"id\":\"");
        p = s_u64(p, (uint64_t)c->seq_out);
        *p++ = '"';
    }
    *p++ = '}';
    c->seq_out++;
    g.r.sent++;
    if (g.in_w)
        g.r.sent_w++;
    s_send_frame(c, WSLAY_TEXT_FRAME, buf, (size_t)(p - buf));
}

static void
s_group_send(conn_t *c, int64_t k)
{
    char buf[384], *p = buf;
    p = stpcpy(p, "{\"type\":\"group\",\"group\":\"");
    p = stpcpy(p, g.cfg->group);
    p = stpcpy(p, "\",\"msg\":{\"t\":");
    p = s_u64(p, (uint64_t)s_now_us());
    p = stpcpy(p, ",\"s\":");
    p = s_u64(p, (uint64_t)k);
    p = stpcpy(p, "},\"id\":\"g");
    p = s_u64(p, (uint64_t)k);
    p = stpcpy(p, "\"}");
    g.r.sent++;
    s_send_frame(c, WSLAY_TEXT_FRAME, buf, (size_t)(p - buf));
}

static void
s_ctl_send(uint32_t type, int64_t a, int64_t b, int64_t c3, int64_t d)
{
    ctl_msg_t m = { .type = type, .v = { a, b, c3, d, 0, 0 } };
    if (send(g.ctl, &m, sizeof m, 0) < 0)
        g.stop = true;      /* the parent is gone */
}

static void
s_conn_opened(conn_t *c)
{
    c->state = ST_OPEN;
    g.opened++;
    g.r.opened++;
}

/* A delivered chat or group message carrying our stamp T and sequence S. */
static void
s_on_data(conn_t *c, int64_t t, int64_t s, bool grp)
{
    int64_t lat = g.now - t;
    if (c->sender) {            /* the group sender's own copy */
        return;
    }
    g.r.recv++;
    if (s != c->seq_in + 1)
        g.r.order_err++;
    c->seq_in = s;
    if (grp) {
        /* CPU from the first delivery to the last completed round: what
         * receiving the fan-out costs the generator (2 syscalls a round) */
        if (g.gk < 0)
            g.cpu_w0 = (int64_t)s_cpu_ns();
        s_hist_add(&g.r, lat);
        if (s > g.gk) {
            g.gk = s;
            g.gk_count = 0;
            g.gk_last = INT64_MIN;
            g.gk_first = INT64_MAX;
        }
        if (s == g.gk) {
            if (lat > g.gk_last)
                g.gk_last = lat;
            if (lat < g.gk_first)
                g.gk_first = lat;
            if (++g.gk_count == g.members) {
                s_ctl_send(CTL_GDONE, s, g.gk_last, g.gk_first, g.gk_count);
                g.r.cpu_w_ns = s_cpu_ns() - (uint64_t)g.cpu_w0;
            }
        }
        return;
    }
    if (g.in_w) {
        g.r.recv_w++;
        s_hist_add(&g.r, lat);
    }
    if (g.running && g.cfg->inflight > 0)
        s_chat_send(c);         /* closed loop: a receipt releases a send */
}

/* Rare frames: welcome, error and anything unrecognised, parsed in full. */
static void
s_on_other(conn_t *c, const char *p, size_t n, const char *type, size_t tlen)
{
    char name[96];
    *s_user(name, c, c->user) = '\0';
    json_error_t jerr;
    json_t *o = json_loadb(p, n, 0, &jerr);
    if (!o || !json_is_object(o)) {
        g.r.unexpected++;
        s_log("%s: unparsable frame: %.*s", name, (int)(n > 200 ? 200 : n), p);
        json_decref(o);
        return;
    }
    if (tlen == 7 && memcmp(type, "welcome", 7) == 0) {
        const char *user = json_string_value(json_object_get(o, "user"));
        if (c->state != ST_WELCOME) {
            g.r.unexpected++;
            s_log("%s: second welcome", name);
        } else if (!user || strcmp(user, name) != 0) {
            s_conn_kill(c, "welcome names another user", 0);
        } else if (g.cfg->mode == MODE_GROUP) {
            char buf[160], *q = buf;
            q = stpcpy(q, "{\"type\":\"join\",\"group\":\"");
            q = stpcpy(q, g.cfg->group);
            q = stpcpy(q, "\",\"id\":\"j\"}");
            c->state = ST_JOIN;
            s_send_frame(c, WSLAY_TEXT_FRAME, buf, (size_t)(q - buf));
        } else {
            s_conn_opened(c);
        }
    } else if (tlen == 5 && memcmp(type, "error", 5) == 0) {
        const char *code = json_string_value(json_object_get(o, "code"));
        const char *reason = json_string_value(json_object_get(o, "reason"));
        g.r.errors++;
        s_log("%s: server error %s (%s)", name, code ? code : "?", reason ? reason : "");
        if (c->state == ST_JOIN)
            s_conn_kill(c, "join refused", 0);
    } else {
        g.r.unexpected++;
        s_log("%s: unexpected frame: %.*s", name, (int)(n > 200 ? 200 : n), p);
    }
    json_decref(o);
}

static void
s_on_text(conn_t *c, const char *p, size_t n)
{
    const char *end = p + n;
    const char *v = s_key(p, end, "\"type\"", 6);
    const char *type = NULL;
    size_t tlen = 0;
    if (v && *v == '"') {
        const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
        if (q) {
            type = v + 1;
            tlen = (size_t)(q - type);
        }
    }
    bool chat = tlen == 4 && memcmp(type, "chat", 4) == 0;
    bool grp = tlen == 5 && memcmp(type, "group", 5) == 0;
    if (chat || grp) {
        const char *m = s_key(p, end, "\"msg\"", 5);
        int64_t t, s;
        if (m && s_int(s_key(m, end, "\"t\"", 3), end, &t)
              && s_int(s_key(m, end, "\"s\"", 3), end, &s)) {
            s_on_data(c, t, s, grp);
            return;
        }
        g.r.unexpected++;
        s_log("message without our stamp: %.*s", (int)(n > 200 ? 200 : n), p);
        return;
    }
    if (tlen == 3 && memcmp(type, "ack", 3) == 0) {
        const char *st = s_key(p, end, "\"status\"", 8);
        if (s_str_is(st, end, "delivered"))
            g.r.ack_delivered++;
        else if (s_str_is(st, end, "offline"))
            g.r.ack_offline++;
        else if (s_str_is(st, end, "sent"))
            g.r.ack_sent++;
        else if (s_str_is(st, end, "joined") && c->state == ST_JOIN)
            s_conn_opened(c);
        else
            g.r.ack_other++;
        return;
    }
    s_on_other(c, p, n, type ? type : "", tlen);
}

static void
s_on_control(conn_t *c, uint8_t op, const uint8_t *p, size_t n)
{
    if (op == WSLAY_PING) {
        g.r.pings++;
        s_send_frame(c, WSLAY_PONG, p, n);
    } else if (op == WSLAY_CONNECTION_CLOSE) {
        int code = n >= 2 ? (p[0] << 8 | p[1]) : 1005;
        s_send_frame(c, WSLAY_CONNECTION_CLOSE, p, n >= 2 ? 2 : 0);
        s_conn_write(c);
        s_conn_kill(c, "close frame", code);
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
        s_conn_kill(c, "bad fragmentation from the server", 0);
        return;
    }
    if (whole && io->fin && op != 0) {
        if (op == WSLAY_TEXT_FRAME)
            s_on_text(c, (const char *)io->data, io->data_length);
        else
            g.r.unexpected++;
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
            s_conn_kill(c, "server message too large", 0);
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
        g.r.unexpected++;
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
            s_conn_kill(c, "WebSocket protocol error from the server", 0);
            return;
        }
        s_on_chunk(c, &io);
    }
    if (c->eof && !c->dead)
        s_conn_kill(c, "connection closed without a close frame", 0);
}

static void
s_handshake_read(conn_t *c)
{
    char buf[4096];
    ssize_t r = recv(c->fd, buf, sizeof buf, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        s_conn_kill(c, r < 0 ? strerror(errno) : "closed during the handshake", 0);
        return;
    }
    if (c->prelen + (size_t)r > 16384) {
        s_conn_kill(c, "response head too long", 0);
        return;
    }
    uint8_t *p = realloc(c->pre, c->prelen + (size_t)r);
    if (!p) {
        s_conn_kill(c, "out of memory", 0);
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
        s_conn_kill(c, why, 0);
        return;
    }
    if (!memmem(p, hlen, WS_ACCEPT, sizeof WS_ACCEPT - 1)) {
        s_conn_kill(c, "wrong or missing Sec-WebSocket-Accept", 0);
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
        s_conn_kill(c, "out of memory", 0);
        return;
    }
    c->state = ST_WELCOME;
    if (c->prelen)
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
        s_conn_kill(c, strerror(err), 0);
        return;
    }
    char req[512], *p = req;
    p = stpcpy(p, "GET /ws/");
    p = s_user(p, c, c->user);
    p = stpcpy(p, " HTTP/1.1\r\nHost: ");
    p = stpcpy(p, g.cfg->host);
    p = stpcpy(p, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    /* s_conn_write() drops EPOLLOUT (armed for the connect) once the
     * request is out, and keeps it while it is not. */
    c->state = ST_HANDSHAKE;
    s_out_append(c, req, (size_t)(p - req));
    if (!c->dead)
        s_conn_write(c);
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
    uint16_t p = g.port_next;
    g.port_next = p >= g.port_hi ? g.port_lo : (uint16_t)(p + 1);
    return p;
}

/* Create C's socket and start a non-blocking connect, bound to this
 * process's source address. A port still in use (one of ours after a
 * wrap-around, or a TIME_WAIT the kernel will not reuse) is skipped.
 * Returns 0, or an errno value. */
static int
s_open_socket(conn_t *c)
{
    const cfg_t *cfg = g.cfg;
    int one = 1, err = EADDRNOTAVAIL;
    for (int tries = 0; tries < 512; tries++) {
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            return errno;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (g.src_ip) {
            struct sockaddr_in src = { .sin_family = AF_INET };
            src.sin_addr.s_addr = htonl(g.src_ip);
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
        if (!g.src_ip || (err != EADDRNOTAVAIL && err != EADDRINUSE))
            return err;
    }
    return err;
}

static void
s_conn_start(conn_t *c)
{
    c->deadline = g.now + (int64_t)(g.cfg->timeout * 1e6);
    c->state = ST_CONNECTING;
    int err = s_open_socket(c);
    if (err) {
        s_conn_kill(c, strerror(err), 0);
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    c->want_out = 1;
    if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        s_conn_kill(c, strerror(errno), 0);
}

static void
s_conn_event(conn_t *c, uint32_t ev)
{
    if (c->dead || c->state == ST_CLOSED)
        return;
    if (c->state == ST_CONNECTING) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            s_connected(c);
        return;
    }
    if ((ev & EPOLLOUT) && c->want_out)
        s_conn_write(c);
    if (c->dead || !(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
        return;
    if (c->state == ST_HANDSHAKE)
        s_handshake_read(c);
    else
        s_frames_read(c);
}

/* ---------------------------------------------------------------- phases */

static void
s_connect_phase(void)
{
    while (g.started < g.n) {
        double allowed = 1.0 + (double)(g.now - g.c0) * g.crate / 1e6;
        if ((double)g.started >= allowed)
            break;
        s_conn_start(&g.conns[g.started++]);
    }
    if (g.now >= g.next_scan) {
        g.next_scan = g.now + 100000;
        for (uint32_t i = 0; i < g.started; i++) {
            conn_t *c = &g.conns[i];
            if (!c->dead && c->state < ST_OPEN && g.now > c->deadline)
                s_conn_kill(c, "timed out", 0);
        }
    }
    if (!g.ready_sent && g.started == g.n && g.opened + g.r.failed == g.n) {
        g.ready_sent = true;
        s_ctl_send(CTL_READY, g.opened, (int64_t)g.r.failed, g.now - g.c0, 0);
    }
}

static conn_t *
s_next_sender(void)
{
    for (uint32_t tries = 0; tries < g.members; tries++) {
        conn_t *c = &g.conns[g.rr++ % g.members];
        if (c->state == ST_OPEN && !c->dead)
            return c;
    }
    return NULL;
}

static void
s_window_close(void)
{
    if (g.in_w) {
        g.r.cpu_w_ns = s_cpu_ns() - (uint64_t)g.cpu_w0;
        int64_t end = g.now < g.t2 ? g.now : g.t2;
        g.r.window_us = end > g.t1 ? (uint64_t)(end - g.t1) : 0;
        g.in_w = false;
    }
}

static void
s_chat_phase(void)
{
    if (!g.go || g.finished)
        return;
    if (!g.running && g.now >= g.t0) {
        g.running = true;
        if (g.cfg->inflight > 0)
            for (uint32_t i = 0; i < g.members; i++)
                for (long k = 0; k < g.cfg->inflight && g.conns[i].state == ST_OPEN; k++)
                    s_chat_send(&g.conns[i]);
    }
    if (g.running && !g.in_w && g.now >= g.t1 && g.now < g.t2) {
        g.in_w = true;
        g.cpu_w0 = (int64_t)s_cpu_ns();
    }
    if (g.running && g.now >= g.t2) {
        s_window_close();
        g.running = false;
        g.finished = true;
        g.next_progress = g.now;
        return;
    }
    if (g.running && g.cfg->inflight <= 0) {
        uint64_t due = (uint64_t)((double)(g.now - g.t0) * g.rate_local / 1e6) + 1;
        while (g.r.sent < due) {
            conn_t *c = s_next_sender();
            g.starved = !c;
            if (!c)
                break;
            s_chat_send(c);
        }
    }
}

static void
s_ctl_read(void)
{
    ctl_msg_t m;
    ssize_t r = recv(g.ctl, &m, sizeof m, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r != (ssize_t)sizeof m) {
        g.stop = true;          /* EOF: the parent is gone */
        return;
    }
    switch (m.type) {
    case CTL_GO:
        g.go = true;
        g.t0 = m.v[0];
        g.t1 = m.v[1];
        g.t2 = m.v[2];
        break;
    case CTL_END:
        if (g.go && g.t2 > g.now)
            g.t2 = g.now;
        break;
    case CTL_GSEND: {
        conn_t *c = &g.conns[g.n - 1];
        if (c->sender && c->state == ST_OPEN && !c->dead)
            s_group_send(c, m.v[0]);
        break;
    }
    case CTL_STOP:
        g.stop = true;
        break;
    }
}

static int64_t
s_timeout_us(void)
{
    int64_t t = 100000;
    if (g.started < g.n)
        t = 1000;
    if (g.go && !g.finished) {
        int64_t next = g.now + t;
        if (!g.running)
            next = g.t0;
        else if (g.cfg->inflight <= 0) {
            next = g.t0 + (int64_t)((double)g.r.sent * 1e6 / g.rate_local);
            if (next < g.now + g.tick)
                next = g.now + g.tick;
            if (g.starved)      /* every sender was dropped: do not spin */
                next = g.now + 10000;
        }
        if (!g.in_w && g.now < g.t1 && g.t1 < next)
            next = g.t1;
        if (g.t2 < next)
            next = g.t2;
        t = next - g.now;
    }
    if (g.finished) {
        int64_t d = g.next_progress - g.now;
        if (d < t)
            t = d;
    }
    return t < 0 ? 0 : t;
}

/* Leave politely: a close frame on every WebSocket, then up to 3 s for the
 * server to answer and close TCP first, so that the TIME_WAIT states land on
 * its side and not on the source ports the next run wants. Whatever is still
 * open then (and every connection that never got its welcome) is reset
 * (SO_LINGER 0) for the same reason. */
static void
s_close_all(void)
{
    static const uint8_t bye[2] = { 1000 >> 8, 1000 & 0xff };
    struct linger rst = { .l_onoff = 1, .l_linger = 0 };
    uint32_t open = 0;
    epoll_ctl(g.ep, EPOLL_CTL_DEL, g.ctl, NULL);
    for (uint32_t i = 0; i < g.n; i++) {
        conn_t *c = &g.conns[i];
        if (c->fd < 0 || c->dead)
            continue;
        if (c->state >= ST_WELCOME && c->state <= ST_OPEN) {
            s_send_frame(c, WSLAY_CONNECTION_CLOSE, bye, 2);
            c->state = ST_CLOSING;
            open++;
        } else {
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
            close(c->fd);
            c->fd = -1;
        }
    }
    s_flush();
    int64_t deadline = s_now_us() + 3000000;
    struct epoll_event evs[512];
    static uint8_t sink[16384];
    while (open && s_now_us() < deadline) {
        int n = epoll_wait(g.ep, evs, 512, 100);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c || c->fd < 0)
                continue;
            if ((evs[i].events & EPOLLOUT) && c->want_out && !c->dead)
                s_conn_write(c);
            ssize_t r = recv(c->fd, sink, sizeof sink, 0);
            if (r > 0 || (r < 0 && errno == EAGAIN))
                continue;
            close(c->fd);
            c->fd = -1;
            open--;
        }
    }
    for (uint32_t i = 0; i < g.n; i++) {
        conn_t *c = &g.conns[i];
        if (c->fd >= 0) {
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
            close(c->fd);
        }
    }
}

static void
s_on_sigterm(int sig)
{
    (void)sig;
    s_sig = 1;
}

/* A child: connect its slice, then obey the parent until STOP; report. */
static int
s_child(const cfg_t *cfg, int idx, int ctl)
{
    memset(&g, 0, sizeof g);
    g.cfg = cfg;
    g.idx = idx;
    g.ctl = ctl;
    g.gk = -1;
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, s_on_sigterm);
    prctl(PR_SET_PDEATHSIG, SIGTERM);

    uint64_t N = cfg->conns, P = (uint64_t)cfg->procs;
    g.lo = N * (uint64_t)idx / P;
    g.members = (uint32_t)(N * (uint64_t)(idx + 1) / P - g.lo);
    g.n = g.members + (cfg->mode == MODE_GROUP && idx == 0);
    g.conns = calloc(g.n, sizeof *g.conns);
    g.dirty = calloc(g.n, sizeof *g.dirty);
    g.dead = calloc(g.n, sizeof *g.dead);
    g.sendbuf = malloc((size_t)cfg->size + 512);
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!g.conns || !g.dirty || !g.dead || g.ep < 0 || !g.sendbuf
        || wslay_frame_context_init(&g.tx, &s_tx_cb, NULL) != 0) {
        s_log("cannot set up: %s", strerror(errno));
        return 1;
    }
    if (getrandom(&g.rng, sizeof g.rng, 0) != sizeof g.rng || !g.rng)
        g.rng = (uint64_t)s_now_us() | 1;
    for (uint32_t i = 0; i < g.n; i++) {
        conn_t *c = &g.conns[i];
        c->fd = -1;
        c->user = g.lo + i;
        c->peer = (c->user + N / 2) % N;
        c->seq_in = -1;
        c->sender = i >= g.members;
    }
    struct epoll_event cev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(g.ep, EPOLL_CTL_ADD, ctl, &cev);
    if (cfg->bind_src) {
        unsigned lo = 32768, hi = 60999;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (f) {
            if (fscanf(f, "%u %u", &lo, &hi) != 2 || lo < 1024 || hi > 65535 || lo >= hi)
                lo = 32768, hi = 60999;
            fclose(f);
        }
        g.src_ip = ntohl(cfg->src_base.s_addr) + (uint32_t)idx;
        g.port_lo = (uint16_t)lo;
        g.port_hi = (uint16_t)hi;
        g.port_next = g.port_lo;
    }
    g.crate = cfg->connect_rate / cfg->procs;
    g.rate_local = cfg->rate * g.members / (double)N;
    g.tick = (int64_t)cfg->tick_us;
    g.now = g.c0 = s_now_us();

    struct epoll_event evs[512];
    while (!g.stop) {
        int64_t to = s_timeout_us();
        struct timespec ts = { .tv_sec = to / 1000000, .tv_nsec = (to % 1000000) * 1000 };
        int n = epoll_pwait2(g.ep, evs, 512, &ts, NULL);
        g.now = s_now_us();
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                s_ctl_read();
            else
                s_conn_event(evs[i].data.ptr, evs[i].events);
        }
        if (s_sig)
            g.stop = true;
        if (!g.ready_sent)
            s_connect_phase();
        s_chat_phase();
        if (g.finished && g.now >= g.next_progress) {
            g.next_progress = g.now + 100000;
            s_ctl_send(CTL_PROGRESS, (int64_t)g.r.sent, (int64_t)g.r.recv,
                       (int64_t)(g.r.ack_delivered + g.r.ack_offline), 0);
        }
        s_flush();
        s_reap();
    }
    s_window_close();
    g.r.type = CTL_REPORT;
    g.r.cpu_ns = s_cpu_ns();
    send(g.ctl, &g.r, sizeof g.r, 0);
    s_close_all();
    return 0;
}

/* ------------------------------------------------------------------ parent */

typedef struct {
    pid_t pid;
    int fd;
    bool ready, reported, gone;
    ctl_msg_t ready_msg, progress;
    report_t rep;
} child_t;

/* The parent's view of one run. */
typedef struct {
    const cfg_t *cfg;
    child_t kids[MAX_PROCS];
    int64_t start;
    uint64_t opened, failed;    /* from the READY messages */
    double connect_s, held_s;
    bool all_ready;             /* every child reported READY, no signal */
    bool lost_child;            /* a child died or did not report */
    /* server CPU (--server-pid) over [m0, m1] */
    pid_t spids[256];
    int nspids;
    int64_t srv0, srv1, m0, m1;
    /* group rounds: the one in flight, then per completed message */
    int64_t gk, g_last, g_first;
    int gdone;
    int64_t *glast, *gfirst;
    long gcomplete, gincomplete;
    report_t t;                 /* the children's reports added up */
} run_t;

static run_t s_run;

static void
s_on_parent_signal(int sig)
{
    (void)sig;
    if (s_sig)
        _exit(130);             /* second signal: give up (children get SIGTERM) */
    s_sig = 1;
}

static void
s_kid_send(run_t *run, int i, uint32_t type, int64_t a, int64_t b, int64_t c3)
{
    if (run->kids[i].gone)
        return;
    ctl_msg_t m = { .type = type, .v = { a, b, c3, 0, 0, 0 } };
    send(run->kids[i].fd, &m, sizeof m, MSG_NOSIGNAL);
}

/* CPU ticks (utime + stime) of --server-pid and its descendants, from /proc.
 * The pids are listed at the first call so that the second reads the same
 * set. */
static int64_t
s_tree_ticks(run_t *run)
{
    if (run->nspids == 0) {
        run->spids[run->nspids++] = (pid_t)run->cfg->server_pid;
        for (int i = 0; i < run->nspids; i++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)run->spids[i],
                     (int)run->spids[i]);
            FILE *f = fopen(path, "r");
            if (!f)
                continue;
            int p;
            while (run->nspids < 256 && fscanf(f, "%d", &p) == 1)
                run->spids[run->nspids++] = p;
            fclose(f);
        }
    }
    int64_t sum = 0;
    for (int i = 0; i < run->nspids; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)run->spids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *q = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            sum += (int64_t)(ut + st);
    }
    return sum;
}

/* Mark the start (or the end) of the span the server's CPU is charged over. */
static void
s_srv_mark(run_t *run, bool end)
{
    int64_t ticks = run->cfg->server_pid ? s_tree_ticks(run) : 0;
    if (end) {
        run->m1 = s_now_us();
        run->srv1 = ticks;
    } else {
        run->m0 = s_now_us();
        run->srv0 = ticks;
    }
}

static double
s_srv_seconds(const run_t *run)
{
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(run->srv1 - run->srv0) / (double)hz : 0;
}

static int
s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t
s_sorted_pct(const int64_t *v, long n, double q)
{
    if (n <= 0)
        return 0;
    long i = (long)(q * (double)n + 0.999999) - 1;
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return v[i];
}

static bool
s_any_gone(const run_t *run)
{
    for (int i = 0; i < run->cfg->procs; i++)
        if (run->kids[i].gone)
            return true;
    return false;
}

/* Wait until UNTIL_US (at most 100 ms) for messages from the children and
 * file them: READY, PROGRESS, the GDONE of the group round in flight, REPORT.
 * A child whose socket reaches EOF is marked gone. */
static void
s_parent_poll(run_t *run, int64_t until_us)
{
    const int P = run->cfg->procs;
    struct pollfd pfd[MAX_PROCS];
    for (int i = 0; i < P; i++) {
        pfd[i].fd = run->kids[i].gone ? -1 : run->kids[i].fd;
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    int64_t to = until_us - s_now_us();
    to = to < 0 ? 0 : to > 100000 ? 100000 : to;
    struct timespec ts = { .tv_sec = to / 1000000, .tv_nsec = (to % 1000000) * 1000 };
    if (ppoll(pfd, (nfds_t)P, &ts, NULL) <= 0)
        return;
    static report_t buf;
    for (int i = 0; i < P; i++) {
        if (!pfd[i].revents)
            continue;
        child_t *k = &run->kids[i];
        ssize_t r = recv(k->fd, &buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r < (ssize_t)sizeof(uint32_t)) {
            k->gone = true;
            if (!k->reported)
                fprintf(stderr, "zwsd-loadgen: process %d ended without a report\n", i);
            continue;
        }
        if (buf.type == CTL_REPORT && r == (ssize_t)sizeof buf) {
            k->rep = buf;
            k->reported = true;
            continue;
        }
        if (r != (ssize_t)sizeof(ctl_msg_t))
            continue;
        const ctl_msg_t *m = (const ctl_msg_t *)&buf;
        if (m->type == CTL_READY) {
            k->ready = true;
            k->ready_msg = *m;
        } else if (m->type == CTL_PROGRESS) {
            k->progress = *m;
        } else if (m->type == CTL_GDONE && m->v[0] == run->gk) {
            run->gdone++;
            if (m->v[1] > run->g_last)
                run->g_last = m->v[1];
            if (m->v[2] < run->g_first)
                run->g_first = m->v[2];
        }
    }
}

/* Fork the children, one socketpair each. Returns 0 or -1. */
static int
s_spawn(run_t *run)
{
    fflush(stdout);
    for (int i = 0; i < run->cfg->procs; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
            perror("zwsd-loadgen: socketpair");
            return -1;
        }
        int sz = (int)sizeof(report_t) * 4;
        setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        pid_t pid = fork();
        if (pid < 0) {
            perror("zwsd-loadgen: fork");
            return -1;
        }
        if (pid == 0) {
            for (int j = 0; j < i; j++)
                close(run->kids[j].fd);
            close(sv[0]);
            _exit(s_child(run->cfg, i, sv[1]));
        }
        close(sv[1]);
        run->kids[i].pid = pid;
        run->kids[i].fd = sv[0];
    }
    return 0;
}

/* Phase 1: every child has every connection open (welcome, and in group
 * mode the join ack) or failed. Returns whether the mode should run. */
static bool
s_wait_ready(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    for (;;) {
        bool all = true;
        for (int i = 0; i < cfg->procs; i++)
            all &= run->kids[i].ready;
        if (all || s_sig || s_any_gone(run))
            break;
        s_parent_poll(run, s_now_us() + 100000);
    }
    run->connect_s = (double)(s_now_us() - run->start) / 1e6;
    for (int i = 0; i < cfg->procs; i++) {
        run->opened += (uint64_t)run->kids[i].ready_msg.v[0];
        run->failed += (uint64_t)run->kids[i].ready_msg.v[1];
    }
    run->all_ready = !s_sig && !s_any_gone(run);
    if (run->all_ready)
        printf("connected %" PRIu64 "/%" PRIu64 " in %.3f s (%.0f conn/s), %" PRIu64 " failed\n",
               run->opened, cfg->conns + (cfg->mode == MODE_GROUP), run->connect_s,
               (double)run->opened / run->connect_s, run->failed);
    else if (s_sig)
        printf("connecting interrupted after %.3f s\n", run->connect_s);
    else
        printf("a worker process died while connecting (after %.3f s)\n", run->connect_s);
    if (run->all_ready && run->opened == 0)
        return false;
    if (run->all_ready && run->failed && cfg->mode != MODE_IDLE) {
        fprintf(stderr, "zwsd-loadgen: %" PRIu64 " connections failed, not measuring\n", run->failed);
        return false;
    }
    return run->all_ready;
}

static void
s_run_idle(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    int64_t now = s_now_us();
    int64_t until = cfg->duration > 0 ? now + (int64_t)(cfg->duration * 1e6) : INT64_MAX;
    if (cfg->duration > 0)
        printf("holding %" PRIu64 " connections for %g s\n", run->opened, cfg->duration);
    else
        printf("holding %" PRIu64 " connections until SIGINT/SIGTERM\n", run->opened);
    while (!s_sig && s_now_us() < until && !s_any_gone(run))
        s_parent_poll(run, until);
    run->held_s = (double)(s_now_us() - now) / 1e6;
}

/* Chat: GO with the phase times, mark the window's edges, then wait until
 * every child's counts say all sent messages arrived (or --drain passed). */
static void
s_run_chat(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const int P = cfg->procs;
    int64_t t0 = s_now_us() + 20000;
    int64_t t1 = t0 + (int64_t)(cfg->warmup * 1e6);
    int64_t t2 = t1 + (int64_t)(cfg->duration * 1e6);
    int64_t drain_until = INT64_MAX;
    for (int i = 0; i < P; i++)
        s_kid_send(run, i, CTL_GO, t0, t1, t2);
    if (cfg->inflight > 0)
        printf("closed loop, %ld in flight per sender: warmup %g s, measuring %g s\n",
               cfg->inflight, cfg->warmup, cfg->duration);
    else
        printf("open loop at %g msgs/s: warmup %g s, measuring %g s\n",
               cfg->rate, cfg->warmup, cfg->duration);
    bool started = false, ended = false;
    while (!s_any_gone(run)) {
        int64_t now = s_now_us();
        if (s_sig && !ended) {  /* cut the window short, but still drain */
            for (int i = 0; i < P; i++)
                s_kid_send(run, i, CTL_END, 0, 0, 0);
            if (started)
                s_srv_mark(run, true);
            ended = started = true;
            printf("interrupted: measure end, draining\n");
            drain_until = now + (int64_t)(cfg->drain * 1e6);
        }
        if (!started && now >= t1) {
            started = true;
            s_srv_mark(run, false);
            printf("measure start\n");
        }
        if (started && !ended && now >= t2) {
            ended = true;
            s_srv_mark(run, true);
            printf("measure end, draining\n");
            drain_until = now + (int64_t)(cfg->drain * 1e6);
        }
        if (ended) {
            int64_t sent = 0, recv = 0, acks = 0;
            bool all = true;
            for (int i = 0; i < P; i++) {
                all &= run->kids[i].progress.type == CTL_PROGRESS;
                sent += run->kids[i].progress.v[0];
                recv += run->kids[i].progress.v[1];
                acks += run->kids[i].progress.v[2];
            }
            if ((all && recv >= sent && (!cfg->ack || acks >= sent)) || now >= drain_until)
                break;
        }
        s_parent_poll(run, !started ? t1 : !ended ? t2 : drain_until);
    }
}

/* Group: one message at a time from the sender (in child 0); a round ends
 * when every child said all its members have it, or after --timeout. */
static int
s_run_group(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const int P = cfg->procs;
    run->glast = calloc((size_t)cfg->count, sizeof *run->glast);
    run->gfirst = calloc((size_t)cfg->count, sizeof *run->gfirst);
    if (!run->glast || !run->gfirst) {
        perror("zwsd-loadgen");
        return -1;
    }
    printf("sending %ld group messages to %" PRIu64 " members, one at a time\n", cfg->count, cfg->conns);
    s_srv_mark(run, false);
    for (int64_t k = 0; k < cfg->count && !s_sig && !s_any_gone(run); k++) {
        run->gk = k;
        run->gdone = 0;
        run->g_last = INT64_MIN;
        run->g_first = INT64_MAX;
        int64_t deadline = s_now_us() + (int64_t)(cfg->timeout * 1e6);
        s_kid_send(run, 0, CTL_GSEND, k, 0, 0);
        while (run->gdone < P && !s_sig && !s_any_gone(run) && s_now_us() < deadline)
            s_parent_poll(run, deadline);
        if (run->gdone == P) {
            run->glast[run->gcomplete] = run->g_last;
            run->gfirst[run->gcomplete] = run->g_first;
            run->gcomplete++;
            if (cfg->verbose)
                printf("group message %" PRId64 ": first member %" PRId64 " us, last %" PRId64 " us\n",
                       k, run->g_first, run->g_last);
        } else if (!s_sig) {
            run->gincomplete++;
            fprintf(stderr, "zwsd-loadgen: group message %" PRId64 " did not reach every member "
                    "within %g s\n", k, cfg->timeout);
        }
    }
    run->gk = -1;
    s_srv_mark(run, true);
    return 0;
}

/* STOP every child, collect the reports (10 s at most), reap, add up. */
static void
s_collect(run_t *run)
{
    const int P = run->cfg->procs;
    for (int i = 0; i < P; i++)
        s_kid_send(run, i, CTL_STOP, 0, 0, 0);
    int64_t give_up = s_now_us() + 10000000;
    for (;;) {
        bool all = true;
        for (int i = 0; i < P; i++)
            all &= run->kids[i].reported || run->kids[i].gone;
        if (all || s_now_us() > give_up)
            break;
        s_parent_poll(run, give_up);
    }
    report_t *t = &run->t;
    memset(t, 0, sizeof *t);
    for (int i = 0; i < P; i++) {
        child_t *k = &run->kids[i];
        int st;
        if (!k->reported) {
            run->lost_child = true;
            kill(k->pid, SIGKILL);
        }
        if (waitpid(k->pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            run->lost_child = true;
        if (!k->reported)
            continue;
        const report_t *r = &k->rep;
        t->opened += r->opened;
        t->failed += r->failed;
        t->dropped += r->dropped;
        t->pings += r->pings;
        t->sent += r->sent;
        t->recv += r->recv;
        t->sent_w += r->sent_w;
        t->recv_w += r->recv_w;
        t->ack_delivered += r->ack_delivered;
        t->ack_offline += r->ack_offline;
        t->ack_sent += r->ack_sent;
        t->ack_other += r->ack_other;
        t->errors += r->errors;
        t->order_err += r->order_err;
        t->unexpected += r->unexpected;
        t->cpu_w_ns += r->cpu_w_ns;
        t->cpu_ns += r->cpu_ns;
        t->window_us = r->window_us > t->window_us ? r->window_us : t->window_us;
        t->lat_max = r->lat_max > t->lat_max ? r->lat_max : t->lat_max;
        t->lat_sum += r->lat_sum;
        t->lat_n += r->lat_n;
        for (unsigned h = 0; h < HIST_N; h++)
            t->hist[h] += r->hist[h];
    }
}

/* The generator's whole CPU: every child's plus the parent's. */
static double
s_gen_total_s(const run_t *run)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)run->t.cpu_ns / 1e9 + (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
        + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int
s_print_idle(const run_t *run)
{
    const report_t *t = &run->t;
    printf("idle: %" PRIu64 " connected, %" PRIu64 " failed, %" PRIu64 " dropped, held %.1f s, "
           "%" PRIu64 " pings answered\n", t->opened, t->failed, t->dropped, run->held_s, t->pings);
    printf("RESULT mode=idle conns=%" PRIu64 " procs=%d connected=%" PRIu64 " failed=%" PRIu64
           " dropped=%" PRIu64 " connect_s=%.3f conn_per_s=%.0f held_s=%.1f pings=%" PRIu64
           " gen_cpu_s=%.3f\n", run->cfg->conns, run->cfg->procs, t->opened, t->failed, t->dropped,
           run->connect_s, (double)t->opened / run->connect_s, run->held_s, t->pings, s_gen_total_s(run));
    return t->failed || t->dropped ? 1 : 0;
}

static int
s_print_chat(const run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const report_t *t = &run->t;
    double win = (double)t->window_us / 1e6;
    double rate = win > 0 ? (double)t->recv_w / win : 0;
    int64_t lost = (int64_t)t->sent - (int64_t)t->recv;
    double gcpu = (double)t->cpu_w_ns / 1e9;
    double gper = t->recv_w ? gcpu * 1e6 / (double)t->recv_w : 0;
    double srv = s_srv_seconds(run), mwin = (double)(run->m1 - run->m0) / 1e6;
    /* the parent's marks and the children's windows differ by a few ms:
     * charge the server's CPU rate over the messages of the children's window */
    double sper = t->recv_w && mwin > 0 ? srv / mwin * win * 1e6 / (double)t->recv_w : 0;
    uint64_t p50 = s_hist_pct(t, .5), p90 = s_hist_pct(t, .9), p99 = s_hist_pct(t, .99);
    uint64_t p999 = s_hist_pct(t, .999);

    printf("chat: sent %" PRIu64 ", received %" PRIu64 "; in the %.3f s window %" PRIu64
           " sent, %" PRIu64 " received = %.1f msgs/s\n", t->sent, t->recv, win, t->sent_w, t->recv_w, rate);
    printf("latency (us): p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64
           "  max %" PRIu64 "  mean %.0f\n", p50, p90, p99, p999, t->lat_max,
           t->lat_n ? (double)t->lat_sum / (double)t->lat_n : 0.0);
    printf("lost %" PRId64 ", out of order %" PRIu64 ", server errors %" PRIu64 ", dropped %" PRIu64,
           lost, t->order_err, t->errors, t->dropped);
    if (cfg->ack)
        printf(", acks delivered %" PRIu64 " offline %" PRIu64, t->ack_delivered, t->ack_offline);
    printf("\ngenerator CPU in the window: %.3f s (%.1f %% of one core), %.2f us per message\n",
           gcpu, win > 0 ? gcpu * 100 / win : 0, gper);
    if (cfg->inflight <= 0 && win > 0 && !t->dropped && (double)t->sent_w < 0.99 * cfg->rate * win)
        fprintf(stderr, "zwsd-loadgen: sent only %.0f msgs/s of the %g asked: the generator "
                "is the bottleneck\n", (double)t->sent_w / win, cfg->rate);
    if (cfg->server_pid)
        printf("server CPU in the window: %.2f s (%.1f %% of one core), %.2f us per delivered message\n",
               srv, mwin > 0 ? srv * 100 / mwin : 0, sper);
    printf("RESULT mode=chat conns=%" PRIu64 " procs=%d connected=%" PRIu64 " failed=%" PRIu64
           " dropped=%" PRIu64 " loop=%s rate_target=%g tick_us=%g inflight=%ld ack=%d size=%ld"
           " warmup_s=%g window_s=%.3f sent=%" PRIu64 " recv=%" PRIu64 " sent_window=%" PRIu64
           " recv_window=%" PRIu64 " msgs_per_s=%.1f p50_us=%" PRIu64 " p90_us=%" PRIu64
           " p99_us=%" PRIu64 " p999_us=%" PRIu64 " max_us=%" PRIu64 " lost=%" PRId64
           " order_errors=%" PRIu64 " errors=%" PRIu64 " acks_delivered=%" PRIu64
           " acks_offline=%" PRIu64 " gen_cpu_s=%.3f gen_cpu_pct=%.1f gen_cpu_us_per_msg=%.2f",
           cfg->conns, cfg->procs, t->opened, t->failed, t->dropped,
           cfg->inflight > 0 ? "closed" : "open", cfg->inflight > 0 ? 0 : cfg->rate, cfg->tick_us,
           cfg->inflight, cfg->ack, cfg->size, cfg->warmup, win, t->sent, t->recv, t->sent_w,
           t->recv_w, rate, p50, p90, p99, p999, t->lat_max, lost, t->order_err, t->errors,
           t->ack_delivered, t->ack_offline, gcpu, win > 0 ? gcpu * 100 / win : 0, gper);
    if (cfg->server_pid)
        printf(" server_cpu_s=%.2f server_cpu_pct=%.1f server_cpu_us_per_msg=%.2f", srv,
               mwin > 0 ? srv * 100 / mwin : 0, sper);
    printf("\n");
    return t->failed || t->dropped || lost || t->order_err || t->errors || t->ack_offline
        || !t->recv_w ? 1 : 0;
}

static int
s_print_group(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const report_t *t = &run->t;
    long n = run->gcomplete;
    int64_t sent = (int64_t)t->sent;
    int64_t lost = sent * (int64_t)cfg->conns - (int64_t)t->recv;
    if (n) {
        qsort(run->glast, (size_t)n, sizeof *run->glast, s_cmp_i64);
        qsort(run->gfirst, (size_t)n, sizeof *run->gfirst, s_cmp_i64);
    }
    int64_t l50 = s_sorted_pct(run->glast, n, .5), l90 = s_sorted_pct(run->glast, n, .9);
    int64_t lmax = n ? run->glast[n - 1] : 0, f50 = s_sorted_pct(run->gfirst, n, .5);
    double srv = s_srv_seconds(run), mwin = (double)(run->m1 - run->m0) / 1e6;
    double sper = t->recv ? srv * 1e6 / (double)t->recv : 0;
    double gper = t->recv ? (double)t->cpu_w_ns / 1e3 / (double)t->recv : 0;

    printf("group: %" PRId64 " messages sent, %ld reached every member, %" PRIu64
           " member deliveries, %" PRId64 " lost\n", sent, n, t->recv, lost);
    printf("time to the last member (us): median %" PRId64 "  p90 %" PRId64 "  max %" PRId64 "\n",
           l50, l90, lmax);
    printf("time to the first member (us): median %" PRId64 "; any member: p50 %" PRIu64
           "  p99 %" PRIu64 "\n", f50, s_hist_pct(t, .5), s_hist_pct(t, .99));
    printf("generator CPU while receiving: %.3f s, %.2f us per member delivery\n",
           (double)t->cpu_w_ns / 1e9, gper);
    if (cfg->server_pid)
        printf("server CPU: %.2f s over %.2f s, %.2f us per member delivery\n", srv, mwin, sper);
    printf("RESULT mode=group members=%" PRIu64 " procs=%d connected=%" PRIu64 " failed=%" PRIu64
           " dropped=%" PRIu64 " count=%ld completed=%ld incomplete=%ld deliveries=%" PRIu64
           " lost=%" PRId64 " order_errors=%" PRIu64 " errors=%" PRIu64 " last_p50_us=%" PRId64
           " last_p90_us=%" PRId64 " last_max_us=%" PRId64 " first_p50_us=%" PRId64
           " member_p50_us=%" PRIu64 " member_p99_us=%" PRIu64 " gen_cpu_s=%.3f"
           " gen_cpu_us_per_delivery=%.2f",
           cfg->conns, cfg->procs, t->opened, t->failed, t->dropped, cfg->count, n,
           run->gincomplete, t->recv, lost, t->order_err, t->errors, l50, l90, lmax, f50,
           s_hist_pct(t, .5), s_hist_pct(t, .99), s_gen_total_s(run), gper);
    if (cfg->server_pid)
        printf(" server_cpu_s=%.2f server_cpu_us_per_delivery=%.2f", srv, sper);
    printf("\n");
    return t->failed || t->dropped || lost || run->gincomplete || t->errors || t->order_err
        || n < cfg->count ? 1 : 0;
}

/* The coordinator: fork, connect, run the mode, collect, print. Returns the
 * exit status. */
static int
s_parent(const cfg_t *cfg)
{
    run_t *run = &s_run;
    run->cfg = cfg;
    run->gk = -1;
    run->start = s_now_us();
    if (s_spawn(run) < 0)
        return 1;
    if (s_wait_ready(run)) {
        if (cfg->mode == MODE_IDLE)
            s_run_idle(run);
        else if (cfg->mode == MODE_CHAT)
            s_run_chat(run);
        else if (s_run_group(run) < 0)
            return 1;
    }
    s_collect(run);
    int rc;
    if (cfg->mode == MODE_IDLE)
        rc = s_print_idle(run);
    else if (cfg->mode == MODE_CHAT)
        rc = s_print_chat(run);
    else
        rc = s_print_group(run);
    free(run->glast);
    free(run->gfirst);
    return rc || run->lost_child || !run->all_ready ? 1 : 0;
}

/* ------------------------------------------------------------------- main */

static void
s_usage(FILE *f)
{
    fprintf(f,
"usage: zwsd-loadgen [options]\n"
"  --url ws://HOST:PORT     server (default ws://127.0.0.1:8080); clients use /ws/<user>\n"
"  --mode idle|chat|group   what to do once connected (default idle)\n"
"  --conns N                user connections (default 1000)\n"
"  --procs P                worker processes, each with N/P connections (default 1)\n"
"  --user-prefix S          users are S0..S(N-1) (default u); group sender: Ssender\n"
"  --connect-rate R         new connections per second, all processes (default 5000)\n"
"  --source-base ADDR|none  process i binds to ADDR+i (default 127.0.0.2 for a loopback\n"
"                           server, none otherwise)\n"
"  --timeout S              per connection: welcome (and join ack) within S seconds;\n"
"                           group: every member within S seconds (default 10)\n"
"  --duration S             idle: hold time, 0 = until SIGINT/SIGTERM (default 10);\n"
"                           chat: measurement window (default 10)\n"
"  --warmup S               chat: sending before the window opens (default 2)\n"
"  --drain S                chat: longest wait for in-flight messages (default 3)\n"
"  --rate R                 chat: open loop, R msgs/s in all (default 1000)\n"
"  --tick US                chat, open loop: sleep at least US microseconds between send\n"
"                           rounds (default 0: every message at its own time; larger\n"
"                           values cost the generator less CPU but make bursts)\n"
"  --inflight K             chat: closed loop, K messages in flight per sender\n"
"  --size BYTES             chat: pad each message frame to about BYTES (default: no\n"
"                           padding, about 60 bytes)\n"
"  --ack                    chat: ask for an ack (\"id\") on every message\n"
"  --group G                group: the group name (default g)\n"
"  --count C                group: messages to send, one at a time (default 20)\n"
"  --server-pid PID         also report the CPU of PID and its descendants\n"
"  -v, --verbose            more output (group: one line per message)\n"
"  -h, --help               this text\n"
"Prints human lines and a final \"RESULT key=value ...\" line. Exit status: 0 success,\n"
"1 connections failed or dropped, messages lost or errors, 2 usage error.\n");
}

static int
s_bad(const char *opt, const char *val)
{
    fprintf(stderr, "zwsd-loadgen: invalid %s: '%s' (see --help)\n", opt, val);
    return 2;
}

static bool
s_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool
s_valid_id(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-", s[i]))
            return false;
    return true;
}

static int
s_parse_url(cfg_t *cfg, const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (slash && strcmp(slash, "/") != 0 && strcmp(slash, "/ws") != 0 && strcmp(slash, "/ws/") != 0)
        return -1;
    if (hl == 0 || hl >= sizeof cfg->host)
        return -1;
    memcpy(cfg->host, h, hl);
    cfg->host[hl] = '\0';
    char name[300];
    strcpy(name, cfg->host);
    const char *port = "80";
    char *colon = strrchr(name, ':');
    if (colon) {
        *colon = '\0';
        port = colon + 1;
    }
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
    if (getaddrinfo(name, port, &hints, &res) != 0)
        return -1;
    memcpy(&cfg->dst, res->ai_addr, sizeof cfg->dst);
    freeaddrinfo(res);
    return 0;
}

int
main(int argc, char **argv)
{
    static cfg_t cfg = {
        .mode = MODE_IDLE, .url = "ws://127.0.0.1:8080", .conns = 1000, .procs = 1,
        .prefix = "u", .group = "g", .connect_rate = 5000, .duration = 10, .warmup = 2,
        .drain = 3, .timeout = 10, .rate = 1000, .count = 20, .size = 0,
    };
    const char *source = NULL;
    enum { O_URL = 256, O_MODE, O_CONNS, O_PROCS, O_PREFIX, O_CRATE, O_SOURCE, O_TIMEOUT,
           O_DURATION, O_WARMUP, O_DRAIN, O_RATE, O_TICK, O_INFLIGHT, O_SIZE, O_ACK, O_GROUP,
           O_COUNT, O_SPID };
    static const struct option opts[] = {
        { "url", required_argument, NULL, O_URL },
        { "mode", required_argument, NULL, O_MODE },
        { "conns", required_argument, NULL, O_CONNS },
        { "procs", required_argument, NULL, O_PROCS },
        { "user-prefix", required_argument, NULL, O_PREFIX },
        { "connect-rate", required_argument, NULL, O_CRATE },
        { "source-base", required_argument, NULL, O_SOURCE },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "duration", required_argument, NULL, O_DURATION },
        { "warmup", required_argument, NULL, O_WARMUP },
        { "drain", required_argument, NULL, O_DRAIN },
        { "rate", required_argument, NULL, O_RATE },
        { "tick", required_argument, NULL, O_TICK },
        { "inflight", required_argument, NULL, O_INFLIGHT },
        { "size", required_argument, NULL, O_SIZE },
        { "ack", no_argument, NULL, O_ACK },
        { "group", required_argument, NULL, O_GROUP },
        { "count", required_argument, NULL, O_COUNT },
        { "server-pid", required_argument, NULL, O_SPID },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool rate_given = false;
    int o;
    double v;
    while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (o) {
        case O_URL:
            cfg.url = optarg;
            break;
        case O_MODE:
            if (!strcmp(optarg, "idle"))
                cfg.mode = MODE_IDLE;
            else if (!strcmp(optarg, "chat"))
                cfg.mode = MODE_CHAT;
            else if (!strcmp(optarg, "group"))
                cfg.mode = MODE_GROUP;
            else
                return s_bad("--mode", optarg);
            break;
        case O_CONNS:
            if (!s_num(optarg, 1, 10000000, &v) || v != (double)(uint64_t)v)
                return s_bad("--conns", optarg);
            cfg.conns = (uint64_t)v;
            break;
        case O_PROCS:
            if (!s_num(optarg, 1, MAX_PROCS, &v) || v != (double)(int)v)
                return s_bad("--procs", optarg);
            cfg.procs = (int)v;
            break;
        case O_PREFIX:
            if (!s_valid_id(optarg, 40))
                return s_bad("--user-prefix", optarg);
            cfg.prefix = optarg;
            break;
        case O_CRATE:
            if (!s_num(optarg, 1, 1e9, &cfg.connect_rate))
                return s_bad("--connect-rate", optarg);
            break;
        case O_SOURCE:
            source = optarg;
            break;
        case O_TIMEOUT:
            if (!s_num(optarg, 0.001, 86400, &cfg.timeout))
                return s_bad("--timeout", optarg);
            break;
        case O_DURATION:
            if (!s_num(optarg, 0, 1e7, &cfg.duration))
                return s_bad("--duration", optarg);
            break;
        case O_WARMUP:
            if (!s_num(optarg, 0, 1e6, &cfg.warmup))
                return s_bad("--warmup", optarg);
            break;
        case O_DRAIN:
            if (!s_num(optarg, 0, 1e6, &cfg.drain))
                return s_bad("--drain", optarg);
            break;
        case O_RATE:
            if (!s_num(optarg, 0.001, 1e9, &cfg.rate))
                return s_bad("--rate", optarg);
            rate_given = true;
            break;
        case O_TICK:
            if (!s_num(optarg, 0, 1e6, &cfg.tick_us))
                return s_bad("--tick", optarg);
            break;
        case O_INFLIGHT:
            if (!s_num(optarg, 1, 1e6, &v) || v != (double)(long)v)
                return s_bad("--inflight", optarg);
            cfg.inflight = (long)v;
            break;
        case O_SIZE:
            if (!s_num(optarg, 0, 16000000, &v) || v != (double)(long)v)
                return s_bad("--size", optarg);
            cfg.size = (long)v;
            break;
        case O_ACK:
            cfg.ack = true;
            break;
        case O_GROUP:
            if (!s_valid_id(optarg, 64))
                return s_bad("--group", optarg);
            cfg.group = optarg;
            break;
        case O_COUNT:
            if (!s_num(optarg, 1, 1e7, &v) || v != (double)(long)v)
                return s_bad("--count", optarg);
            cfg.count = (long)v;
            break;
        case O_SPID:
            if (!s_num(optarg, 1, 4194304, &v) || v != (double)(long)v)
                return s_bad("--server-pid", optarg);
            cfg.server_pid = (long)v;
            break;
        case 'v':
            cfg.verbose++;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        return s_bad("argument", argv[optind]);
    if (s_parse_url(&cfg, cfg.url) < 0)
        return s_bad("--url (want ws://HOST:PORT)", cfg.url);
    if (cfg.conns < (uint64_t)cfg.procs) {
        fprintf(stderr, "zwsd-loadgen: --conns must be at least --procs\n");
        return 2;
    }
    if (rate_given && cfg.inflight > 0) {
        fprintf(stderr, "zwsd-loadgen: --rate and --inflight exclude each other\n");
        return 2;
    }
    if (cfg.mode == MODE_CHAT && cfg.duration <= 0) {
        fprintf(stderr, "zwsd-loadgen: chat needs --duration > 0\n");
        return 2;
    }
    bool loopback = (ntohl(cfg.dst.sin_addr.s_addr) >> 24) == 127;
    if (!source)
        source = loopback ? "127.0.0.2" : "none";
    if (strcmp(source, "none") != 0) {
        if (inet_pton(AF_INET, source, &cfg.src_base) != 1
            || (ntohl(cfg.src_base.s_addr) & 0xff) + (uint32_t)cfg.procs - 1 > 254)
            return s_bad("--source-base", source);
        cfg.bind_src = true;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        uint64_t per = (cfg.conns + (uint64_t)cfg.procs - 1) / (uint64_t)cfg.procs + 1;
        if (rl.rlim_cur != RLIM_INFINITY && per + 32 > (uint64_t)rl.rlim_cur) {
            fprintf(stderr, "zwsd-loadgen: %" PRIu64 " connections per process exceed the open-file "
                    "limit %llu: use --procs %" PRIu64 " or more\n", per, (unsigned long long)rl.rlim_cur,
                    (cfg.conns + rl.rlim_cur - 64) / (rl.rlim_cur - 64));
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = s_on_parent_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    static const char *const mode_name[] = { "idle", "chat", "group" };
    char stamp[CLOCK_RFC3339_LEN];
    clock_rfc3339(clock_wall_ms(), stamp);
    printf("zwsd-loadgen: %s mode=%s url=%s conns=%" PRIu64 " procs=%d prefix=%s connect-rate=%g "
           "source=%s\n", stamp, mode_name[cfg.mode], cfg.url, cfg.conns, cfg.procs, cfg.prefix,
           cfg.connect_rate, source);
    return s_parent(&cfg);
}
