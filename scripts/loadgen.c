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
 *
 * Soak mode (--mode soak, the "soak" section below) keeps the same loop but
 * lets connections die and come back: every close schedules a reconnect after
 * a randomized backoff, every chat carries an id, and each child records what
 * it sent, what was answered and what it received. At the end the children
 * write those records to files and the parent joins them (a receiver usually
 * lives in another child) against the driver's fault log and counts every
 * answer that was missing, doubled or untrue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/stat.h>
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

typedef enum { MODE_IDLE, MODE_CHAT, MODE_GROUP, MODE_SOAK } lg_mode_t;

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
    /* soak */
    const char *control;        /* FIFO of commands (start, rst N, stop, end) */
    const char *faults;         /* the driver's fault log, read at the end */
    const char *record;         /* where the children leave their records */
    const char *verify;         /* --verify DIR: judge the records in DIR, connect nothing */
    bool keep_record;           /* --record given (or --verify): keep the files */
    double grace;               /* after the last send: answers still owed */
    double settle;              /* then: longest wait for every connection to be open */
    double broker_grace;        /* a broker-down window lasts this long past "broker-up" */
    long backoff_min, backoff_max;  /* ms, reconnect delay */
    long examples;              /* printed per violation kind */
} cfg_t;

/* Parent <-> child messages. The first word is the type. */
enum { CTL_READY = 1, CTL_GO, CTL_END, CTL_STOP, CTL_PROGRESS, CTL_GSEND, CTL_GDONE, CTL_REPORT,
       CTL_RST, CTL_RSTDONE };

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
 * GDONE    v0 k  v1 latency of the last member  v2 of the first  v3 members
 * soak: PROGRESS v0 sent  v1 received  v2 answered  v3 open  v4 reconnects  v5 welcomes
 *       RST v0 connections to reset;  RSTDONE v0 how many were */

/* A child's final numbers. Window counters cover [t1, t2); the histogram
 * holds latencies in µs of window receipts (chat) or of every member's copy
 * (group). */
typedef struct {
    uint32_t type, pad;
    uint64_t opened, failed, dropped, pings;
    uint64_t sent, recv, sent_w, recv_w;
    uint64_t ack_delivered, ack_offline, ack_sent, ack_other;
    uint64_t errors, order_err, unexpected;
    /* soak: sends skipped (no open connection), first answers, answers to
     * ids we never sent, welcomes after a connection's first, connections we
     * reset, closes of welcomed sessions by close code (1000, 1001, 1011,
     * 1013, 4001, 4008, other) and by TCP EOF/reset, handshakes timed out,
     * records lost to a failed allocation */
    uint64_t s_skipped, s_answered, s_ack_unknown, s_reconnects, s_rst;
    uint64_t s_cl_code[7], s_cl_tcp, s_timeouts, s_rec_lost;
    uint64_t cpu_w_ns, cpu_ns, window_us;
    uint64_t lat_max, lat_sum, lat_n;
    uint64_t hist[HIST_N];
} report_t;

/* soak: what answered an id (an ack's status, or an error's code). */
enum { A_NONE, A_DELIVERED, A_OFFLINE, A_UNAVAIL_ACK, A_UNAVAIL_ERR, A_OTHER_ACK, A_OTHER_ERR,
       A_KINDS };

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
    /* soak: the n-th connection of this user (1, 2, …), when it got its 101
     * and its welcome, when and how it ended, when to try again */
    uint32_t inst;
    uint8_t ours;               /* we reset it */
    uint8_t fails;              /* attempts in a row that never got a welcome */
    int32_t close_code;
    int64_t t_up, t_open, t_close, retry_at;
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
    /* soak */
    struct soak_send *ss;
    struct soak_recv *sr;
    struct soak_ival *si;
    size_t nss, capss, nsr, capsr, nsi, capsi;
    uint32_t nopen;
    uint64_t attempts;          /* sends due so far, made or skipped */
    int64_t next_scan_soak;
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

static void s_soak_killed(conn_t *c, const char *why, int code);
static void s_soak_reaped(conn_t *c);

static void
s_conn_kill(conn_t *c, const char *why, int code)
{
    if (c->dead || c->state == ST_CLOSED || c->state == ST_NEW)
        return;
    c->dead = 1;
    g.dead[g.ndead++] = c;
    if (g.cfg->mode == MODE_SOAK) {
        s_soak_killed(c, why, code);
        return;
    }
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
        if (g.cfg->mode == MODE_SOAK)
            s_soak_reaped(c);
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
    if (g.cfg->mode == MODE_SOAK) {
        c->t_open = g.now;
        c->fails = 0;
        g.nopen++;
        if (c->inst > 1)
            g.r.s_reconnects++;
    }
}

static void s_soak_answer(conn_t *c, const char *id, size_t idlen, uint8_t status,
                          const char *mid, size_t midlen);
static void s_soak_recv(conn_t *c, const char *p, const char *m, const char *end);

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
        const char *id = json_string_value(json_object_get(o, "id"));
        if (g.cfg->mode == MODE_SOAK && id) {
            bool unavail = code && strcmp(code, "unavailable") == 0;
            s_soak_answer(c, id, strlen(id), unavail ? A_UNAVAIL_ERR : A_OTHER_ERR,
                          code ? code : "?", code ? strlen(code) : 1);
            if (!unavail)
                s_log("%s: server error %s (%s) for id %s", name, code ? code : "?",
                      reason ? reason : "", id);
            json_decref(o);
            return;
        }
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
    if (chat && g.cfg->mode == MODE_SOAK) {
        s_soak_recv(c, p, s_key(p, end, "\"msg\"", 5), end);
        return;
    }
    if (tlen == 3 && memcmp(type, "ack", 3) == 0 && g.cfg->mode == MODE_SOAK) {
        const char *st = s_key(p, end, "\"status\"", 8);
        const char *id = s_key(p, end, "\"id\"", 4);
        const char *mid = s_key(p, end, "\"mid\"", 5);
        const char *ide = id && *id == '"' ? memchr(id + 1, '"', (size_t)(end - id - 1)) : NULL;
        const char *mide = mid && *mid == '"' ? memchr(mid + 1, '"', (size_t)(end - mid - 1)) : NULL;
        uint8_t status = s_str_is(st, end, "delivered") ? A_DELIVERED
                       : s_str_is(st, end, "offline") ? A_OFFLINE
                       : s_str_is(st, end, "unavailable") ? A_UNAVAIL_ACK : A_OTHER_ACK;
        if (!ide) {
            g.r.unexpected++;
            s_log("ack without an id: %.*s", (int)(n > 200 ? 200 : n), p);
            return;
        }
        if (status == A_OTHER_ACK) {    /* keep the odd status itself for the report */
            mid = st;
            mide = st && *st == '"' ? memchr(st + 1, '"', (size_t)(end - st - 1)) : NULL;
        }
        s_soak_answer(c, id + 1, (size_t)(ide - id - 1), status, mide ? mid + 1 : "",
                      mide ? (size_t)(mide - mid - 1) : 0);
        return;
    }
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
    c->t_up = g.now;
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

/* ------------------------------------------------------------------ soak */

/* What a soak child records, all times in CLOCK_MONOTONIC µs (one clock for
 * every process on the host). A message's key k is (child << SOAK_KBITS) |
 * its index in that child's sends: it goes out as the frame's "id" (decimal)
 * and again as "k" inside msg, so the receiving child names the message
 * without relying on the server's mid, and the ack finds its record in O(1). */
#define SOAK_KBITS 40
#define SOAK_KMASK ((1ull << SOAK_KBITS) - 1)

static const char *const s_answer_name[A_KINDS] = {
    "none", "delivered", "offline", "unavailable", "error unavailable", "other ack", "other error",
};

typedef struct soak_send {
    uint64_t k;
    int64_t t_send, t_ack, t_ack2;      /* the first and the second answer */
    uint32_t sender, receiver, inst;    /* inst: the sending connection's */
    uint8_t status, status2, nans, pad;
    char mid[40];                       /* first answer: the ack's mid, an error's code or an odd
                                         * ack status */
} soak_send_t;

typedef struct soak_recv {
    uint64_t k, midh;                   /* midh: FNV-1a of the mid */
    int64_t t;
    uint32_t user, inst;
} soak_recv_t;

/* One connection of a user that got its 101: [t_up, t_close), welcomed at
 * t_open (0: never). Connections that failed before the 101 had no session
 * on the server and are not recorded. */
#define SOAK_OURS (-1)                  /* code: we reset it (SO_LINGER 0) */
#define SOAK_FAIL (-2)                  /* code: we gave up on it (handshake timeout) */
typedef struct soak_ival {
    int64_t t_up, t_open, t_close;      /* t_close INT64_MAX: still open at the end */
    uint32_t user, inst;
    int32_t code;                       /* close code; 0: TCP EOF or reset; SOAK_OURS; SOAK_FAIL */
    uint32_t pad;
} soak_ival_t;

/* RECORD/soak-<idx>.bin: this header, the sends, receipts and sessions,
 * then the child's report_t. */
typedef struct {
    char magic[8];
    uint64_t nsend, nrecv, nival;
    int64_t t_dump;                     /* when it was written (the end of the run) */
    uint64_t conns;
    int32_t procs, idx;
} soak_hdr_t;

static const char s_soak_magic[8] = "ZWSDSK2";

static uint64_t
s_fnv(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The slot for element n of a doubling array of sz-byte elements, or NULL
 * (counted: the verdict is then incomplete). */
static void *
s_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4096;
        void *p = realloc(*arr, nc * sz);
        if (!p) {
            g.r.s_rec_lost++;
            return NULL;
        }
        *arr = p;
        *cap = nc;
    }
    return (char *)*arr + n * sz;
}

static void
s_ctl_send6(uint32_t type, const int64_t v[6])
{
    ctl_msg_t m = { .type = type };
    memcpy(m.v, v, sizeof m.v);
    if (send(g.ctl, &m, sizeof m, 0) < 0)
        g.stop = true;
}

/* Closes that every soak sees by the thousand: counted, not logged. */
static bool
s_soak_routine(const char *why, int code)
{
    static const char *const ok[] = {
        "connection closed without a close frame", "closed during the handshake", "timed out",
        "reset by us",
    };
    if (code == 1000 || code == 1001 || code == 1013 || code == 4001)
        return true;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcmp(why, ok[i]) == 0)
            return true;
    return strcmp(why, strerror(ECONNRESET)) == 0 || strcmp(why, strerror(ECONNREFUSED)) == 0
        || strcmp(why, strerror(EPIPE)) == 0 || strncmp(why, "answer \"HTTP/1.1 503", 20) == 0;
}

/* s_conn_kill() in soak mode: note when and how C ended. */
static void
s_soak_killed(conn_t *c, const char *why, int code)
{
    static const int codes[6] = { 1000, 1001, 1011, 1013, 4001, 4008 };
    c->t_close = g.now;
    c->close_code = c->ours ? SOAK_OURS : code ? code : strcmp(why, "timed out") == 0 ? SOAK_FAIL : 0;
    if (c->state == ST_OPEN) {
        g.nopen--;
        if (!c->ours && code) {
            unsigned i = 0;
            while (i < 6 && codes[i] != code)
                i++;
            g.r.s_cl_code[i]++;
        } else if (!c->ours) {
            g.r.s_cl_tcp++;
        }
    } else if (!c->ours) {
        g.r.failed++;
        if (c->close_code == SOAK_FAIL)
            g.r.s_timeouts++;
    }
    if (!s_soak_routine(why, code)) {
        char name[96];
        *s_user(name, c, c->user) = '\0';
        s_log("%s (connection #%u, %s): %s%s%.0d", name, c->inst, st_name[c->state], why,
              code ? ": close code " : "", code);
    }
}

/* s_reap() in soak mode: file C's interval, then schedule its reconnect
 * after a randomized backoff, as a client would: [min, max] ms after a
 * session ended, growing (to 4x max, 5 s at most) while attempts keep
 * failing before their welcome. */
static void
s_soak_reaped(conn_t *c)
{
    if (c->t_up) {
        soak_ival_t *v = s_grow((void **)&g.si, &g.capsi, g.nsi, sizeof *v);
        if (v) {
            *v = (soak_ival_t){ c->t_up, c->t_open, c->t_close, (uint32_t)c->user, c->inst,
                                c->close_code, 0 };
            g.nsi++;
        }
    }
    if (!c->t_open && c->fails < 8)
        c->fails++;
    long lo = g.cfg->backoff_min, hi = g.cfg->backoff_max;
    if (c->fails > 1)
        hi <<= c->fails - 1 < 2 ? c->fails - 1 : 2;
    if (hi > 5000)
        hi = 5000;
    if (hi <= lo)
        hi = lo + 1;
    c->retry_at = g.now + (lo + (int64_t)(s_rand() % (uint64_t)(hi - lo))) * 1000;
    c->state = ST_NEW;
    c->dead = c->want_out = c->drained = c->eof = c->msgop = c->ours = 0;
    c->fgot = 0;
    c->t_up = c->t_open = 0;
    c->seq_in = -1;
}

static void
s_soak_start(conn_t *c)
{
    c->inst++;
    c->close_code = 0;
    c->t_close = 0;
    s_conn_start(c);
}

/* Queue C's next chat: {"receiver":"u7","msg":{"t":…,"s":…,"k":K},"id":"K"}. */
static void
s_soak_chat(conn_t *c)
{
    soak_send_t *s = s_grow((void **)&g.ss, &g.capss, g.nss, sizeof *s);
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->k = (uint64_t)g.idx << SOAK_KBITS | g.nss;
    s->t_send = g.now;
    s->sender = (uint32_t)c->user;
    s->receiver = (uint32_t)c->peer;
    s->inst = c->inst;
    g.nss++;
    char buf[256], *p = buf;
    p = stpcpy(p, "{\"receiver\":\"");
    p = s_user(p, NULL, c->peer);
    p = stpcpy(p, "\",\"msg\":{\"t\":");
    p = s_u64(p, (uint64_t)g.now);
    p = stpcpy(p, ",\"s\":");
    p = s_u64(p, (uint64_t)c->seq_out);
    p = stpcpy(p, ",\"k\":");
    p = s_u64(p, s->k);
    p = stpcpy(p, "},\"id\":\"");
    p = s_u64(p, s->k);
    p = stpcpy(p, "\"}");
    c->seq_out++;
    g.r.sent++;
    s_send_frame(c, WSLAY_TEXT_FRAME, buf, (size_t)(p - buf));
}

/* An ack or an error naming id: the first answer is kept whole, a second
 * one's status and time too (a third only counts). */
static void
s_soak_answer(conn_t *c, const char *id, size_t idlen, uint8_t status, const char *mid,
              size_t midlen)
{
    uint64_t k = 0;
    bool ok = idlen > 0 && idlen <= 19;
    for (size_t i = 0; ok && i < idlen; i++) {
        ok = id[i] >= '0' && id[i] <= '9';
        k = k * 10 + (uint64_t)(id[i] - '0');
    }
    if (!ok || (k >> SOAK_KBITS) != (uint64_t)g.idx || (k & SOAK_KMASK) >= g.nss) {
        char name[96];
        *s_user(name, c, c->user) = '\0';
        g.r.s_ack_unknown++;
        s_log("%s: answer for an id we did not send: %.*s", name, (int)(idlen > 64 ? 64 : idlen), id);
        return;
    }
    soak_send_t *s = &g.ss[k & SOAK_KMASK];
    if (s->nans == 0) {
        s->status = status;
        s->t_ack = g.now;
        size_t n = midlen < sizeof s->mid - 1 ? midlen : sizeof s->mid - 1;
        memcpy(s->mid, mid, n);
        s->mid[n] = '\0';
        g.r.s_answered++;
    } else if (s->nans == 1) {
        s->status2 = status;
        s->t_ack2 = g.now;
    }
    if (s->nans < 255)
        s->nans++;
}

/* A chat that reached C: P the frame, M its msg value. */
static void
s_soak_recv(conn_t *c, const char *p, const char *m, const char *end)
{
    int64_t k, sq;
    if (!m || !s_int(s_key(m, end, "\"k\"", 3), end, &k) || k < 0) {
        g.r.unexpected++;
        s_log("chat without our key: %.*s", (int)(end - p > 200 ? 200 : end - p), p);
        return;
    }
    const char *mid = s_key(p, end, "\"mid\"", 5);
    const char *mide = mid && *mid == '"' ? memchr(mid + 1, '"', (size_t)(end - mid - 1)) : NULL;
    soak_recv_t *r = s_grow((void **)&g.sr, &g.capsr, g.nsr, sizeof *r);
    if (!r)
        return;
    r->k = (uint64_t)k;
    r->midh = mide ? s_fnv(mid + 1, (size_t)(mide - mid - 1)) : 0;
    r->t = g.now;
    r->user = (uint32_t)c->user;
    r->inst = c->inst;
    g.nsr++;
    g.r.recv++;
    /* one sender per receiver and "s" counts per sender across its
     * reconnects: a step back is a reordering (reported, not a violation) */
    if (s_int(s_key(m, end, "\"s\"", 3), end, &sq)) {
        if (sq <= c->seq_in)
            g.r.order_err++;
        c->seq_in = sq;
    }
}

/* Reset up to N of our connections (open ones first): SO_LINGER {1, 0}
 * makes the close in s_reap() send an RST; each then reconnects. */
static void
s_soak_rst(int64_t n)
{
    struct linger rst = { .l_onoff = 1, .l_linger = 0 };
    int64_t done = 0;
    uint32_t start = g.n ? (uint32_t)(s_rand() % g.n) : 0;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < g.n && done < n; i++) {
            conn_t *c = &g.conns[(start + i) % g.n];
            if (c->dead || c->fd < 0 || c->state == ST_NEW || c->state >= ST_CLOSING)
                continue;
            if ((pass == 0) != (c->state == ST_OPEN))
                continue;
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
            c->ours = 1;
            s_conn_kill(c, "reset by us", 0);
            done++;
        }
    }
    g.r.s_rst += (uint64_t)done;
    s_ctl_send(CTL_RSTDONE, done, 0, 0, 0);
}

/* One loop turn of a soak child: the first connects (at --connect-rate),
 * reconnects that are due, handshake deadlines, READY, sends, progress. */
static void
s_soak_tick(void)
{
    while (g.started < g.n) {
        double allowed = 1.0 + (double)(g.now - g.c0) * g.crate / 1e6;
        if ((double)g.started >= allowed)
            break;
        s_soak_start(&g.conns[g.started++]);
    }
    if (g.now >= g.next_scan_soak) {
        g.next_scan_soak = g.now + 10000;
        for (uint32_t i = 0; i < g.started; i++) {
            conn_t *c = &g.conns[i];
            if (c->dead)
                continue;
            if (c->state == ST_NEW && g.now >= c->retry_at)
                s_soak_start(c);
            else if (c->state > ST_NEW && c->state < ST_OPEN && g.now > c->deadline)
                s_conn_kill(c, "timed out", 0);
        }
    }
    int64_t ready_by = g.c0 + (int64_t)(((double)g.n / g.crate + g.cfg->timeout) * 1e6);
    if (!g.ready_sent && g.started == g.n && (g.nopen == g.n || g.now > ready_by)) {
        g.ready_sent = true;
        s_ctl_send(CTL_READY, g.nopen, (int64_t)g.r.failed, g.now - g.c0, 0);
    }
    if (g.go && g.now >= g.t0 && g.now < g.t2) {
        uint64_t due = (uint64_t)((double)(g.now - g.t0) * g.rate_local / 1e6) + 1;
        while (g.attempts < due) {
            g.attempts++;
            conn_t *c = s_next_sender();
            if (c)
                s_soak_chat(c);
            else
                g.r.s_skipped++;
        }
    }
    if (g.now >= g.next_progress) {
        g.next_progress = g.now + 500000;
        int64_t v[6] = { (int64_t)g.r.sent, (int64_t)g.r.recv, (int64_t)g.r.s_answered, g.nopen,
                         (int64_t)g.r.s_reconnects, (int64_t)g.r.s_rst };
        s_ctl_send6(CTL_PROGRESS, v);
    }
}

static int64_t
s_soak_timeout_us(void)
{
    int64_t t = g.started < g.n ? 1000 : 10000;
    if (g.go && g.now < g.t2 && g.rate_local > 0) {
        int64_t next = g.t0 + (int64_t)((double)g.attempts * 1e6 / g.rate_local);
        if (next - g.now < t)
            t = next - g.now;
    }
    return t < 0 ? 0 : t;
}

/* At STOP: every record to RECORD/soak-<idx>.bin, the connections still
 * open as intervals that never closed. Returns 0 or -1 (logged). */
static int
s_soak_dump(void)
{
    for (uint32_t i = 0; i < g.n; i++) {
        conn_t *c = &g.conns[i];
        if (c->dead || !c->t_up || c->state < ST_WELCOME || c->state > ST_OPEN)
            continue;
        soak_ival_t *v = s_grow((void **)&g.si, &g.capsi, g.nsi, sizeof *v);
        if (!v)
            break;
        *v = (soak_ival_t){ c->t_up, c->t_open, INT64_MAX, (uint32_t)c->user, c->inst, 0, 0 };
        g.nsi++;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/soak-%d.bin", g.cfg->record, g.idx);
    FILE *f = fopen(path, "w");
    if (!f) {
        s_log("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    soak_hdr_t h = { .nsend = g.nss, .nrecv = g.nsr, .nival = g.nsi, .t_dump = s_now_us(),
                     .conns = g.cfg->conns, .procs = g.cfg->procs, .idx = g.idx };
    memcpy(h.magic, s_soak_magic, sizeof h.magic);
    bool ok = fwrite(&h, sizeof h, 1, f) == 1
        && fwrite(g.ss, sizeof *g.ss, g.nss, f) == g.nss
        && fwrite(g.sr, sizeof *g.sr, g.nsr, f) == g.nsr
        && fwrite(g.si, sizeof *g.si, g.nsi, f) == g.nsi
        && fwrite(&g.r, sizeof g.r, 1, f) == 1;
    if (fclose(f) != 0 || !ok) {
        s_log("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
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
    case CTL_GO:                /* soak: again after an END to resume */
        g.go = true;
        g.attempts = 0;
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
    case CTL_RST:
        s_soak_rst(m.v[0]);
        break;
    }
}

static int64_t
s_timeout_us(void)
{
    if (g.cfg->mode == MODE_SOAK)
        return s_soak_timeout_us();
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
        if (cfg->mode == MODE_SOAK) {
            s_soak_tick();
            s_flush();
            s_reap();
            continue;
        }
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
    if (cfg->mode == MODE_SOAK && s_soak_dump() < 0)
        g.r.s_rec_lost++;
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
    /* soak: the control FIFO and what it asked for */
    int ctlfd;
    char cbuf[512];
    size_t clen;
    bool c_start, c_stop, c_end, c_pause, c_resume, soak_ran;
    int64_t rst_req;            /* connections to reset, not yet handed out */
    int rst_wait;               /* children yet to answer the RST handed out */
    int64_t rst_n, rst_t0, rst_total, rst_steps;
    bool rst_active;            /* handed out, not all answered */
    int64_t t_go, t_stop, t_end, next_prog;
} run_t;

static run_t s_run;

static void s_report_add(report_t *t, const report_t *r);

static void s_soak_command(run_t *run, char *line);

/* Whatever the control FIFO has: complete lines are commands. */
static void
s_ctl_input(run_t *run)
{
    for (;;) {
        ssize_t r = read(run->ctlfd, run->cbuf + run->clen, sizeof run->cbuf - 1 - run->clen);
        if (r <= 0)
            return;
        run->clen += (size_t)r;
        char *nl;
        while ((nl = memchr(run->cbuf, '\n', run->clen))) {
            *nl = '\0';
            s_soak_command(run, run->cbuf);
            size_t used = (size_t)(nl + 1 - run->cbuf);
            memmove(run->cbuf, nl + 1, run->clen - used);
            run->clen -= used;
        }
        if (run->clen == sizeof run->cbuf - 1)
            run->clen = 0;      /* a line that long is no command */
    }
}

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
    struct pollfd pfd[MAX_PROCS + 1];
    for (int i = 0; i < P; i++) {
        pfd[i].fd = run->kids[i].gone ? -1 : run->kids[i].fd;
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    pfd[P] = (struct pollfd){ .fd = run->ctlfd, .events = POLLIN };
    int64_t to = until_us - s_now_us();
    to = to < 0 ? 0 : to > 100000 ? 100000 : to;
    struct timespec ts = { .tv_sec = to / 1000000, .tv_nsec = (to % 1000000) * 1000 };
    if (ppoll(pfd, (nfds_t)P + 1, &ts, NULL) <= 0)
        return;
    if (pfd[P].revents)
        s_ctl_input(run);
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
        } else if (m->type == CTL_RSTDONE) {
            run->rst_wait--;
            run->rst_n += m->v[0];
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
    if (run->all_ready && run->failed && cfg->mode != MODE_IDLE && cfg->mode != MODE_SOAK) {
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
        s_report_add(t, &k->rep);
    }
}

/* Add a child's counters to the total T. */
static void
s_report_add(report_t *t, const report_t *r)
{
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
    t->s_skipped += r->s_skipped;
    t->s_answered += r->s_answered;
    t->s_ack_unknown += r->s_ack_unknown;
    t->s_reconnects += r->s_reconnects;
    t->s_rst += r->s_rst;
    for (unsigned j = 0; j < 7; j++)
        t->s_cl_code[j] += r->s_cl_code[j];
    t->s_cl_tcp += r->s_cl_tcp;
    t->s_timeouts += r->s_timeouts;
    t->s_rec_lost += r->s_rec_lost;
    t->cpu_w_ns += r->cpu_w_ns;
    t->cpu_ns += r->cpu_ns;
    t->window_us = r->window_us > t->window_us ? r->window_us : t->window_us;
    t->lat_max = r->lat_max > t->lat_max ? r->lat_max : t->lat_max;
    t->lat_sum += r->lat_sum;
    t->lat_n += r->lat_n;
    for (unsigned h = 0; h < HIST_N; h++)
        t->hist[h] += r->hist[h];
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

/* ----------------------------------------------------------- soak: parent */

/* A line from the control FIFO: start, pause, resume, rst [N], stop, end. */
static void
s_soak_command(run_t *run, char *line)
{
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
        p[--n] = '\0';
    if (!*p)
        return;
    if (!strcmp(p, "start")) {
        run->c_start = true;
    } else if (!strcmp(p, "stop")) {
        run->c_stop = true;
    } else if (!strcmp(p, "end")) {
        run->c_end = true;
    } else if (!strcmp(p, "pause")) {
        run->c_pause = true;
    } else if (!strcmp(p, "resume")) {
        run->c_resume = true;
    } else if (!strncmp(p, "rst", 3) && (p[3] == '\0' || p[3] == ' ')) {
        char *e = NULL;
        long long v = p[3] ? strtoll(p + 4, &e, 10) : (long long)run->cfg->conns;
        if (p[3] && (*e || v <= 0)) {
            fprintf(stderr, "zwsd-loadgen: control: bad command '%s'\n", p);
            return;
        }
        run->rst_req += v;
    } else {
        fprintf(stderr, "zwsd-loadgen: control: unknown command '%s'\n", p);
    }
}

/* Field J of the children's last PROGRESS, added up. */
static int64_t
s_soak_sum(const run_t *run, int j)
{
    int64_t v = 0;
    for (int i = 0; i < run->cfg->procs; i++)
        if (run->kids[i].progress.type == CTL_PROGRESS)
            v += run->kids[i].progress.v[j];
    return v;
}

static void
s_soak_progress(const run_t *run)
{
    int64_t now = s_now_us();
    printf("progress t=%.0f open=%" PRId64 "/%" PRIu64 " sent=%" PRId64 " answered=%" PRId64
           " received=%" PRId64 " reconnects=%" PRId64 " reset=%" PRId64 "\n",
           run->t_go && now > run->t_go ? (double)(now - run->t_go) / 1e6 : 0.0, s_soak_sum(run, 3),
           run->cfg->conns, s_soak_sum(run, 0), s_soak_sum(run, 2), s_soak_sum(run, 1),
           s_soak_sum(run, 4), s_soak_sum(run, 5));
}

/* Hand a pending "rst N" out: each child resets its share of the users. */
static void
s_soak_rst_out(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const uint64_t N = cfg->conns, P = (uint64_t)cfg->procs;
    uint64_t want = run->rst_req > (int64_t)N ? N : (uint64_t)run->rst_req, given = 0;
    run->rst_req = 0;
    run->rst_n = 0;
    run->rst_wait = 0;
    run->rst_t0 = s_now_us();
    for (uint64_t i = 0; i < P; i++) {
        uint64_t share = i == P - 1 ? want - given : want * (N * (i + 1) / P - N * i / P) / N;
        given += share;
        if (run->kids[i].gone)
            continue;
        s_kid_send(run, (int)i, CTL_RST, (int64_t)share, 0, 0);
        run->rst_wait++;
    }
    run->rst_steps++;
    run->rst_active = true;
}

/* One wait of the soak's parent, until UNTIL at most: RST requests out and
 * their completion in, a progress line every second. */
static void
s_soak_turn(run_t *run, int64_t until)
{
    int64_t now = s_now_us();
    if (run->rst_req && !run->rst_active)
        s_soak_rst_out(run);
    if (run->rst_active && run->rst_wait <= 0) {
        run->rst_active = false;
        run->rst_total += run->rst_n;
        printf("soak: reset %" PRId64 " connections (%.1f ms)\n", run->rst_n,
               (double)(now - run->rst_t0) / 1e3);
    }
    if (now >= run->next_prog) {
        if (run->next_prog)
            s_soak_progress(run);
        run->next_prog = now + 1000000;
    }
    s_parent_poll(run, until < run->next_prog ? until : run->next_prog);
}

#define SOAK_WAIT_US 3600000000ll   /* the longest wait for the driver's next command */

static bool
s_soak_going(const run_t *run)
{
    return !s_sig && !s_any_gone(run);
}

/* Soak: ready → (start) → send until --duration or "stop" → grace → settle
 * → ("end"). The verdict comes after s_collect(). */
static void
s_run_soak(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    if (run->opened < cfg->conns) {
        printf("soak: only %" PRIu64 " of %" PRIu64 " connections opened; not starting\n",
               run->opened, cfg->conns);
        return;
    }
    run->soak_ran = true;
    printf("soak: ready: %" PRIu64 " connections open\n", run->opened);
    if (run->ctlfd >= 0) {
        printf("soak: waiting for \"start\" on %s\n", cfg->control);
        int64_t until = s_now_us() + SOAK_WAIT_US;
        while (!run->c_start && !run->c_stop && !run->c_end && s_soak_going(run) && s_now_us() < until)
            s_soak_turn(run, until);
    }
    int64_t t0 = s_now_us() + 20000;
    run->t_go = t0;
    for (int i = 0; i < cfg->procs; i++)
        s_kid_send(run, i, CTL_GO, t0, t0, INT64_MAX);
    int64_t until = cfg->duration > 0 ? t0 + (int64_t)(cfg->duration * 1e6) : t0 + SOAK_WAIT_US;
    printf("soak: sending %g chats/s over %" PRIu64 " users, each with an id\n", cfg->rate, cfg->conns);
    bool paused = false;
    while (!run->c_stop && !run->c_end && s_soak_going(run) && s_now_us() < until) {
        if (run->c_pause && !paused) {
            for (int i = 0; i < cfg->procs; i++)
                s_kid_send(run, i, CTL_END, 0, 0, 0);
            printf("soak: paused\n");
            paused = true;
        }
        if (run->c_resume && paused) {
            int64_t t = s_now_us() + 20000;
            for (int i = 0; i < cfg->procs; i++)
                s_kid_send(run, i, CTL_GO, t, t, INT64_MAX);
            printf("soak: resumed\n");
            paused = false;
        }
        run->c_pause = run->c_resume = false;
        s_soak_turn(run, until);
    }
    for (int i = 0; i < cfg->procs; i++)
        s_kid_send(run, i, CTL_END, 0, 0, 0);
    run->t_stop = s_now_us();
    printf("soak: sending stopped after %.1f s; %g s of grace for answers and deliveries\n",
           (double)(run->t_stop - t0) / 1e6, cfg->grace);
    until = run->t_stop + (int64_t)(cfg->grace * 1e6);
    while (s_soak_going(run) && s_now_us() < until)
        s_soak_turn(run, until);
    int64_t s0 = s_now_us();
    until = s0 + (int64_t)(cfg->settle * 1e6);
    while (s_soak_going(run) && (s_soak_sum(run, 3) < (int64_t)cfg->conns || run->rst_active)
           && s_now_us() < until)
        s_soak_turn(run, until);
    int64_t open = s_soak_sum(run, 3);
    printf("soak: %s: %" PRId64 "/%" PRIu64 " connections open (%.1f s after the grace)\n",
           open == (int64_t)cfg->conns ? "settled" : "not settled", open, cfg->conns,
           (double)(s_now_us() - s0) / 1e6);
    if (run->ctlfd >= 0 && !run->c_end) {
        printf("soak: waiting for \"end\" on %s\n", cfg->control);
        until = s_now_us() + SOAK_WAIT_US;
        while (!run->c_end && s_soak_going(run) && s_now_us() < until)
            s_soak_turn(run, until);
    }
    run->t_end = s_now_us();
}

/* ------------------------------------------------------ soak: the verdict */

/* Rules (zwsd-loadgen(1), VERIFICATION): */
#define SOAK_ACK_WAIT_US   3000000  /* (a) an answer is owed once the sender stayed open this long */
#define SOAK_PRE_US        1000000  /* (c) a receiver session that ended this long before the send */
#define SOAK_POST_US       1000000  /*     or this long after the ack excuses a missing delivery */
#define SOAK_OFF_MARGIN_US  500000  /* (d) the receiver's session must outlive the ack by this much */
#define SOAK_LATE_US       1000000  /* answers slower than this are counted (the protocol's 1 s) */
#define SOAK_EX_MAX        50

enum { V_UNANSWERED, V_MULTI, V_DELIVERED, V_OFFLINE, V_UNAVAIL, V_DUP, V_UNAVAIL_RECV,
       V_UNEXPECTED, V_MISROUTED, V_KINDS };
static const char *const s_vkey[V_KINDS] = {
    "unanswered", "multiple", "delivered_not_received", "false_offline", "unavailable_broker_up",
    "duplicate", "unavailable_received", "unexpected_answer", "misrouted",
};
static const char *const s_vdesc[V_KINDS] = {
    "(a) no answer, though the sending connection stayed open 3 s",
    "(b) more than one answer",
    "(c) delivered, but that mid never reached the receiver, and no session of it ended around then",
    "(d) offline, but the receiver got it or was open (welcomed) from before the send to after the ack",
    "(e) unavailable, but the broker was up from the send to the answer",
    "(f) the same message more than once on one connection",
    "(g) unavailable (\"the message was not sent\"), yet the receiver got it",
    "(u) an answer other than delivered, offline or unavailable",
    "(x) received by a user it was not sent to",
};

typedef struct {
    const soak_send_t *s;
    char note[240];
} soak_ex_t;

typedef struct {
    const cfg_t *cfg;
    soak_send_t *s;
    soak_recv_t *r;
    soak_ival_t *iv;
    size_t ns, nr, ni;
    size_t *uoff;               /* user u's sessions: iv[uoff[u]] .. iv[uoff[u + 1] - 1], by t_up */
    int64_t (*win)[2];          /* broker down: [killed, reachable + --broker-grace] */
    size_t nwin, capwin;
    int64_t off;                /* CLOCK_REALTIME - CLOCK_MONOTONIC, µs */
    FILE *vf;                   /* every violation, when the records are kept */
    uint64_t v[V_KINDS];
    soak_ex_t ex[V_KINDS][SOAK_EX_MAX];
} soak_db_t;

/* Read every child's records into db; with REP, add their counters to it
 * and note the earliest end (offline --verify). Returns 0 or -1. */
static int
s_soak_load(soak_db_t *db, int procs, const char *dir, report_t *rep, int64_t *t_end)
{
    for (int i = 0; i < procs; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/soak-%d.bin", dir, i);
        FILE *f = fopen(path, "r");
        soak_hdr_t h;
        if (!f || fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, s_soak_magic, sizeof h.magic)) {
            fprintf(stderr, "zwsd-loadgen: cannot read %s\n", path);
            if (f)
                fclose(f);
            return -1;
        }
        void *a = realloc(db->s, (db->ns + h.nsend + 1) * sizeof *db->s);
        void *b = a ? realloc(db->r, (db->nr + h.nrecv + 1) * sizeof *db->r) : NULL;
        void *c = b ? realloc(db->iv, (db->ni + h.nival + 1) * sizeof *db->iv) : NULL;
        if (a)
            db->s = a;
        if (b)
            db->r = b;
        if (c)
            db->iv = c;
        static report_t r;
        bool ok = c && fread(db->s + db->ns, sizeof *db->s, h.nsend, f) == h.nsend
                    && fread(db->r + db->nr, sizeof *db->r, h.nrecv, f) == h.nrecv
                    && fread(db->iv + db->ni, sizeof *db->iv, h.nival, f) == h.nival
                    && fread(&r, sizeof r, 1, f) == 1;
        fclose(f);
        if (ok && rep) {
            s_report_add(rep, &r);
            if (!*t_end || h.t_dump < *t_end)
                *t_end = h.t_dump;
        }
        if (!ok) {
            fprintf(stderr, "zwsd-loadgen: %s: short or out of memory\n", path);
            return -1;
        }
        db->ns += h.nsend;
        db->nr += h.nrecv;
        db->ni += h.nival;
    }
    return 0;
}

/* The driver's fault log: "<wall µs> <event> …" lines. broker-down opens a
 * window, the next broker-up closes it (--broker-grace later); other events
 * are the driver's business. Returns the number of lines read, -1 if none. */
static long
s_soak_faults(soak_db_t *db, const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    char line[512];
    long n = 0;
    while (fgets(line, sizeof line, f)) {
        long long w;
        char ev[64];
        if (sscanf(line, "%lld %63s", &w, ev) != 2)
            continue;
        n++;
        int64_t t = (int64_t)w - db->off;
        if (!strcmp(ev, "broker-down")) {
            if (db->nwin == db->capwin) {
                size_t nc = db->capwin ? db->capwin * 2 : 64;
                void *p = realloc(db->win, nc * sizeof *db->win);
                if (!p)
                    break;
                db->win = p;
                db->capwin = nc;
            }
            db->win[db->nwin][0] = t;
            db->win[db->nwin][1] = INT64_MAX;
            db->nwin++;
        } else if (!strcmp(ev, "broker-up") && db->nwin && db->win[db->nwin - 1][1] == INT64_MAX) {
            db->win[db->nwin - 1][1] = t + (int64_t)(db->cfg->broker_grace * 1e6);
        }
    }
    fclose(f);
    return n;
}

static int
s_cmp_recv(const void *a, const void *b)
{
    const soak_recv_t *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->inst != y->inst)
        return x->inst < y->inst ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}

static int
s_cmp_ival(const void *a, const void *b)
{
    const soak_ival_t *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return (x->t_up > y->t_up) - (x->t_up < y->t_up);
}

/* First receipt of key k (db->nr if none). */
static size_t
s_recv_lb(const soak_db_t *db, uint64_t k)
{
    size_t lo = 0, hi = db->nr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (db->r[mid].k < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const soak_ival_t *
s_ival(const soak_db_t *db, uint32_t u, uint32_t inst)
{
    if (u >= db->cfg->conns)
        return NULL;
    for (size_t i = db->uoff[u]; i < db->uoff[u + 1]; i++)
        if (db->iv[i].inst == inst)
            return &db->iv[i];
    return NULL;
}

/* Did a session of user u (one that got its 101) end within [a, b]? */
static bool
s_closed_between(const soak_db_t *db, uint32_t u, int64_t a, int64_t b)
{
    for (size_t i = db->uoff[u]; u < db->cfg->conns && i < db->uoff[u + 1]; i++)
        if (db->iv[i].t_close != INT64_MAX && db->iv[i].t_close >= a && db->iv[i].t_close <= b)
            return true;
    return false;
}

/* Did the server end a session of user u (a close code, or TCP EOF/reset:
 * its worker died or drained) within [a, b]? */
static bool
s_server_closed_between(const soak_db_t *db, uint32_t u, int64_t a, int64_t b)
{
    for (size_t i = db->uoff[u]; u < db->cfg->conns && i < db->uoff[u + 1]; i++)
        if (db->iv[i].t_close != INT64_MAX && db->iv[i].t_close >= a && db->iv[i].t_close <= b
            && db->iv[i].code >= 0)
            return true;
    return false;
}

/* Was one welcomed session of user u open from before a to after b? */
static bool
s_open_through(const soak_db_t *db, uint32_t u, int64_t a, int64_t b)
{
    for (size_t i = db->uoff[u]; u < db->cfg->conns && i < db->uoff[u + 1]; i++)
        if (db->iv[i].t_open && db->iv[i].t_open < a && db->iv[i].t_close > b)
            return true;
    return false;
}

static bool
s_broker_down(const soak_db_t *db, int64_t a, int64_t b)
{
    for (size_t i = 0; i < db->nwin; i++)
        if (db->win[i][0] <= b && db->win[i][1] >= a)
            return true;
    return false;
}

/* HH:MM:SS.mmm UTC of monotonic time t: the soak script stamps zwsd's log
 * lines the same way. */
static const char *
s_wall(const soak_db_t *db, int64_t t, char buf[16])
{
    if (t == INT64_MAX)
        return strcpy(buf, "(open)");
    int64_t w = t + db->off;
    time_t sec = (time_t)(w / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, 16, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(w % 1000000 / 1000));
    return buf;
}

static const char *
s_how(const soak_ival_t *v, char buf[48])
{
    if (v->t_close == INT64_MAX)
        return strcpy(buf, "open at the end");
    if (v->code > 0)
        snprintf(buf, 48, "close code %d", v->code);
    else
        strcpy(buf, v->code == SOAK_OURS ? "reset by us" : v->code == SOAK_FAIL
               ? "no welcome in time" : "TCP EOF/reset from the server");
    return buf;
}

static void
s_soak_session(FILE *f, const soak_db_t *db, const char *role, const soak_ival_t *v)
{
    char a[16], b[16], c[16], how[48];
    fprintf(f, "      %s %s%u session #%u: 101 %s, welcome %s, ended %s (%s)\n", role,
            db->cfg->prefix, v->user, v->inst, s_wall(db, v->t_up, a),
            v->t_open ? s_wall(db, v->t_open, b) : "none", s_wall(db, v->t_close, c), s_how(v, how));
}

/* Everything the records say about message s, for a person to follow up. */
static void
s_soak_describe(FILE *f, const soak_db_t *db, int kind, const soak_send_t *s, const char *note)
{
    char a[16], b[16];
    const char *px = db->cfg->prefix;
    fprintf(f, "  [%s] id %" PRIu64 " %s%u -> %s%u sent %s", s_vkey[kind], s->k, px, s->sender, px,
            s->receiver, s_wall(db, s->t_send, a));
    if (s->nans)
        fprintf(f, ", %s at %s (+%.1f ms)%s%s", s_answer_name[s->status], s_wall(db, s->t_ack, b),
                (double)(s->t_ack - s->t_send) / 1e3, s->mid[0] ? " mid " : "", s->mid);
    else
        fprintf(f, ", no answer");
    if (s->nans > 1)
        fprintf(f, ", then %s at %s (%u answers)", s_answer_name[s->status2], s_wall(db, s->t_ack2, a),
                s->nans);
    if (note && *note)
        fprintf(f, ": %s", note);
    fputc('\n', f);
    const soak_ival_t *sv = s_ival(db, s->sender, s->inst);
    if (sv)
        s_soak_session(f, db, "sender", sv);
    int64_t t1 = s->nans ? s->t_ack : s->t_send;
    int shown = 0;
    uint32_t ru = s->receiver;
    for (size_t i = db->uoff[ru]; ru < db->cfg->conns && i < db->uoff[ru + 1]; i++) {
        const soak_ival_t *v = &db->iv[i];
        if (v->t_close >= s->t_send - 3000000 && v->t_up <= t1 + 3000000 && shown++ < 6)
            s_soak_session(f, db, "receiver", v);
    }
    if (!shown)
        fprintf(f, "      receiver %s%u: no session within 3 s of the send and the answer\n", px,
                s->receiver);
    size_t j = s_recv_lb(db, s->k);
    for (int n = 0; j < db->nr && db->r[j].k == s->k && n < 4; j++, n++)
        fprintf(f, "      received by %s%u on session #%u at %s\n", px, db->r[j].user, db->r[j].inst,
                s_wall(db, db->r[j].t, a));
}

static void s_soak_violation(soak_db_t *db, int kind, const soak_send_t *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
s_soak_violation(soak_db_t *db, int kind, const soak_send_t *s, const char *fmt, ...)
{
    char note[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    uint64_t n = db->v[kind]++;
    if (n < (uint64_t)db->cfg->examples && n < SOAK_EX_MAX) {
        db->ex[kind][n].s = s;
        memcpy(db->ex[kind][n].note, note, sizeof note);
    }
    if (db->vf)
        s_soak_describe(db->vf, db, kind, s, note);
}

/* Join every child's records and judge each id; print the outcome. Returns
 * the exit status. */
static int
s_print_soak(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const report_t *t = &run->t;
    static soak_db_t db;
    db.cfg = cfg;
    struct timespec rt, mt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mt);
    db.off = ((int64_t)rt.tv_sec - (int64_t)mt.tv_sec) * 1000000 + (rt.tv_nsec - mt.tv_nsec) / 1000;
    bool offline = cfg->verify != NULL;
    if (offline)
        run->soak_ran = true;
    if (!run->soak_ran || run->lost_child
        || s_soak_load(&db, cfg->procs, cfg->record, offline ? &run->t : NULL, &run->t_end) < 0) {
        printf("soak: no verdict (%s)\n", !run->soak_ran ? "the soak did not start"
               : run->lost_child ? "a worker process was lost" : "records missing");
        printf("RESULT mode=soak conns=%" PRIu64 " procs=%d verdict=none\n", cfg->conns, cfg->procs);
        return 1;
    }
    long flines = s_soak_faults(&db, cfg->faults);
    if (cfg->faults && flines < 0)
        fprintf(stderr, "zwsd-loadgen: cannot read the fault log %s: every unavailable counts as "
                "a violation\n", cfg->faults);
    if (cfg->keep_record) {
        char path[4096];
        snprintf(path, sizeof path, "%s/violations.txt", cfg->record);
        db.vf = fopen(path, "w");
    }
    qsort(db.r, db.nr, sizeof *db.r, s_cmp_recv);
    qsort(db.iv, db.ni, sizeof *db.iv, s_cmp_ival);
    db.uoff = calloc(cfg->conns + 1, sizeof *db.uoff);
    if (!db.uoff) {
        perror("zwsd-loadgen");
        return 1;
    }
    for (size_t i = 0; i < db.ni; i++)
        if (db.iv[i].user < cfg->conns)
            db.uoff[db.iv[i].user + 1]++;
    for (uint64_t u = 0; u < cfg->conns; u++)
        db.uoff[u + 1] += db.uoff[u];

    uint64_t cnt[A_KINDS] = { 0 }, received = 0, matched = 0, late = 0, ex_unans = 0, ex_deliv = 0;
    uint64_t unav_win = 0, unav_recv = 0, seconds = 0, e_rclosed = 0, e_young = 0;
    int64_t maxlat = 0;
    for (size_t i = 0; i < db.ns; i++) {
        const soak_send_t *s = &db.s[i];
        uint64_t mh = s->mid[0] ? s_fnv(s->mid, strlen(s->mid)) : 0;
        bool got = false, got_mid = false;
        unsigned dup = 0, mis = 0;
        for (size_t j = s_recv_lb(&db, s->k); j < db.nr && db.r[j].k == s->k; j++) {
            matched++;
            if (db.r[j].user != s->receiver) {
                mis++;
                continue;
            }
            got = true;
            got_mid |= s->status == A_DELIVERED && db.r[j].midh == mh;
            if (j > 0 && db.r[j - 1].k == s->k && db.r[j - 1].user == db.r[j].user
                && db.r[j - 1].inst == db.r[j].inst)
                dup++;
        }
        received += got;
        if (dup)
            s_soak_violation(&db, V_DUP, s, "%u extra copies", dup);
        if (mis)
            s_soak_violation(&db, V_MISROUTED, s, "%u copies at other users", mis);
        cnt[s->nans ? s->status : A_NONE]++;
        if (!s->nans) {
            const soak_ival_t *sv = s_ival(&db, s->sender, s->inst);
            int64_t end = sv && sv->t_close < run->t_end ? sv->t_close : run->t_end;
            if (end - s->t_send >= SOAK_ACK_WAIT_US)
                s_soak_violation(&db, V_UNANSWERED, s, "%s",
                                 got ? "the receiver got it" : "not received");
            else
                ex_unans++;
            continue;
        }
        int64_t lat = s->t_ack - s->t_send;
        late += lat > SOAK_LATE_US;
        maxlat = lat > maxlat ? lat : maxlat;
        if (s->nans > 1) {
            seconds++;
            s_soak_violation(&db, V_MULTI, s, "%s first, %s %.1f ms later", s_answer_name[s->status],
                             s_answer_name[s->status2], (double)(s->t_ack2 - s->t_ack) / 1e3);
        }
        switch (s->status) {
        case A_DELIVERED:
            if (got_mid)
                break;
            if (got)
                s_soak_violation(&db, V_DELIVERED, s, "received, but not with the acked mid");
            else if (s_closed_between(&db, s->receiver, s->t_send - SOAK_PRE_US,
                                      s->t_ack + SOAK_POST_US))
                ex_deliv++;
            else
                s_soak_violation(&db, V_DELIVERED, s, "never received");
            break;
        case A_OFFLINE:
            if (got)
                s_soak_violation(&db, V_OFFLINE, s, "yet the receiver got it");
            else if (s_open_through(&db, s->receiver, s->t_send, s->t_ack + SOAK_OFF_MARGIN_US))
                s_soak_violation(&db, V_OFFLINE, s, "the receiver was open throughout");
            break;
        case A_UNAVAIL_ACK:
        case A_UNAVAIL_ERR: {
            unav_recv += got;
            bool down = s_broker_down(&db, s->t_send, s->t_ack);
            if (got)
                s_soak_violation(&db, V_UNAVAIL_RECV, s, "broker %s", down ? "down around it" : "up");
            if (down) {
                unav_win++;
                break;
            }
            /* what a reader needs first: did the receiver's worker go away
             * meanwhile, or was the sender's session brand new? */
            bool rc = s_server_closed_between(&db, s->receiver, s->t_send - SOAK_PRE_US, s->t_ack);
            const soak_ival_t *sv = s_ival(&db, s->sender, s->inst);
            int64_t age = sv && sv->t_open ? s->t_send - sv->t_open : -1;
            e_rclosed += rc;
            e_young += !rc && age >= 0 && age < 1000000;
            s_soak_violation(&db, V_UNAVAIL, s, "%s; %s; the receiver %s at the send; sender "
                             "welcomed %.1f ms before the send", got ? "received" : "not received",
                             rc ? "the server ended a receiver session within [send - 1 s, answer]"
                                : "the server ended no receiver session around it",
                             s_open_through(&db, s->receiver, s->t_send, s->t_send)
                                 ? "had a welcomed session" : "had no session (offline)",
                             (double)age / 1e3);
            break;
        }
        default:
            s_soak_violation(&db, V_UNEXPECTED, s, "%s", s->mid);
        }
    }
    uint64_t viol = 0;
    for (int k = 0; k < V_KINDS; k++)
        viol += db.v[k];

    printf("soak: %zu chats sent with an id (%" PRIu64 " skipped: no open connection to send on), "
           "%" PRIu64 " answered, %" PRIu64 " received\n", db.ns, t->s_skipped, db.ns - cnt[A_NONE],
           received);
    printf("answers: delivered %" PRIu64 ", offline %" PRIu64 ", unavailable %" PRIu64 " (ack %" PRIu64
           ", error %" PRIu64 "), other ack %" PRIu64 ", other error %" PRIu64 ", none %" PRIu64
           "; slower than 1 s: %" PRIu64 ", slowest %.1f ms\n", cnt[A_DELIVERED], cnt[A_OFFLINE],
           cnt[A_UNAVAIL_ACK] + cnt[A_UNAVAIL_ERR], cnt[A_UNAVAIL_ACK], cnt[A_UNAVAIL_ERR],
           cnt[A_OTHER_ACK], cnt[A_OTHER_ERR], cnt[A_NONE], late, (double)maxlat / 1e3);
    printf("sessions: %" PRIu64 " welcomes (%" PRIu64 " after a reconnect); ended by the server: "
           "1000 %" PRIu64 ", 1001 %" PRIu64 ", 1011 %" PRIu64 ", 1013 %" PRIu64 ", 4001 %" PRIu64
           ", 4008 %" PRIu64 ", other codes %" PRIu64 ", TCP EOF/reset %" PRIu64 "; %" PRIu64
           " attempts failed before the welcome (%" PRIu64 " timed out); %" PRIu64 " reset by us in %"
           PRId64 " steps\n", t->opened, t->s_reconnects, t->s_cl_code[0], t->s_cl_code[1],
           t->s_cl_code[2], t->s_cl_code[3], t->s_cl_code[4], t->s_cl_code[5], t->s_cl_code[6],
           t->s_cl_tcp, t->failed, t->s_timeouts, t->s_rst, run->rst_steps);
    printf("fault log: %s, %zu broker-down windows (each until broker-up + %g s)\n",
           cfg->faults ? cfg->faults : "none", db.nwin, cfg->broker_grace);
    printf("not violations: %" PRIu64 " unanswered whose sending connection closed within 3 s; %"
           PRIu64 " delivered but not received, a receiver session having ended within [send - 1 s, "
           "ack + 1 s]; %" PRIu64 " unavailable within a broker-down window (%" PRIu64 " of all "
           "unavailable were received anyway); %" PRIu64 " receipts out of order\n", ex_unans,
           ex_deliv, unav_win, unav_recv, t->order_err);
    if (db.nr > matched || t->s_ack_unknown || t->unexpected || t->errors || t->s_rec_lost)
        printf("odd: %zu receipts of ids never sent, %" PRIu64 " answers to ids never sent, %" PRIu64
               " unexpected frames, %" PRIu64 " errors without an id, %" PRIu64 " records lost\n",
               db.nr - matched, t->s_ack_unknown, t->unexpected, t->errors, t->s_rec_lost);
    printf("violations: %" PRIu64 "\n", viol);
    for (int k = 0; k < V_KINDS; k++) {
        printf("  %8" PRIu64 "  %s\n", db.v[k], s_vdesc[k]);
        if (k == V_UNAVAIL && db.v[k])
            printf("            of which %" PRIu64 " while the server ended a session of the receiver "
                   "(worker killed or draining), %" PRIu64 " others sent < 1 s after the sender's "
                   "welcome, %" PRIu64 " neither\n", e_rclosed, e_young, db.v[k] - e_rclosed - e_young);
        for (uint64_t e = 0; e < db.v[k] && e < (uint64_t)cfg->examples && e < SOAK_EX_MAX; e++)
            s_soak_describe(stdout, &db, k, db.ex[k][e].s, db.ex[k][e].note);
    }
    if (db.vf) {
        fclose(db.vf);
        printf("every violation: %s/violations.txt\n", cfg->record);
    }
    printf("RESULT mode=soak conns=%" PRIu64 " procs=%d rate=%g sent=%zu skipped=%" PRIu64
           " answered=%" PRIu64 " received=%" PRIu64 " delivered=%" PRIu64 " offline=%" PRIu64
           " unavailable=%" PRIu64 " unavailable_ack=%" PRIu64 " unavailable_error=%" PRIu64
           " other_answers=%" PRIu64 " unanswered=%" PRIu64 " late_answers=%" PRIu64
           " max_answer_ms=%.1f welcomes=%" PRIu64 " reconnects=%" PRIu64 " reset_by_us=%" PRIu64
           " broker_windows=%zu excused_unanswered=%" PRIu64 " excused_delivered=%" PRIu64
           " unavailable_in_window=%" PRIu64 " order_errors=%" PRIu64 " second_answers=%" PRIu64
           " records_lost=%" PRIu64 " unavailable_receiver_closed=%" PRIu64
           " unavailable_young_sender=%" PRIu64 " violations=%" PRIu64,
           cfg->conns, cfg->procs, cfg->rate, db.ns, t->s_skipped, db.ns - cnt[A_NONE], received,
           cnt[A_DELIVERED], cnt[A_OFFLINE], cnt[A_UNAVAIL_ACK] + cnt[A_UNAVAIL_ERR],
           cnt[A_UNAVAIL_ACK], cnt[A_UNAVAIL_ERR], cnt[A_OTHER_ACK] + cnt[A_OTHER_ERR], cnt[A_NONE],
           late, (double)maxlat / 1e3, t->opened, t->s_reconnects, t->s_rst, db.nwin, ex_unans,
           ex_deliv, unav_win, t->order_err, seconds, t->s_rec_lost, e_rclosed, e_young, viol);
    for (int k = 0; k < V_KINDS; k++)
        printf(" v_%s=%" PRIu64, s_vkey[k], db.v[k]);
    printf("\n");
    free(db.s);
    free(db.r);
    free(db.iv);
    free(db.uoff);
    free(db.win);
    return viol || t->s_rec_lost ? 1 : 0;
}

/* Remove the children's record files (and the directory we made). */
static void
s_soak_cleanup(const cfg_t *cfg)
{
    if (cfg->keep_record)
        return;
    for (int i = 0; i < cfg->procs; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/soak-%d.bin", cfg->record, i);
        unlink(path);
    }
    rmdir(cfg->record);
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
    run->ctlfd = -1;
    if (s_spawn(run) < 0)
        return 1;
    /* O_RDWR: a FIFO we also hold for writing never reads as EOF (or polls
     * as POLLHUP) between two writers */
    if (cfg->mode == MODE_SOAK && cfg->control
        && (run->ctlfd = open(cfg->control, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
        fprintf(stderr, "zwsd-loadgen: cannot open %s: %s; running without it\n", cfg->control,
                strerror(errno));
    if (s_wait_ready(run)) {
        if (cfg->mode == MODE_IDLE)
            s_run_idle(run);
        else if (cfg->mode == MODE_CHAT)
            s_run_chat(run);
        else if (cfg->mode == MODE_SOAK)
            s_run_soak(run);
        else if (s_run_group(run) < 0)
            return 1;
    }
    if (!run->t_end)
        run->t_end = s_now_us();
    s_collect(run);
    int rc;
    if (cfg->mode == MODE_IDLE)
        rc = s_print_idle(run);
    else if (cfg->mode == MODE_CHAT)
        rc = s_print_chat(run);
    else if (cfg->mode == MODE_SOAK)
        rc = s_print_soak(run);
    else
        rc = s_print_group(run);
    if (cfg->mode == MODE_SOAK)
        s_soak_cleanup(cfg);
    free(run->glast);
    free(run->gfirst);
    return rc || run->lost_child || !run->all_ready ? 1 : 0;
}

/* --verify DIR: the verdict on records kept by an earlier soak. */
static int
s_verify_only(cfg_t *cfg)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/soak-0.bin", cfg->verify);
    FILE *f = fopen(path, "r");
    soak_hdr_t h;
    if (!f || fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, s_soak_magic, sizeof h.magic)
        || h.procs < 1 || h.procs > MAX_PROCS || !h.conns) {
        fprintf(stderr, "zwsd-loadgen: %s: not a soak record\n", path);
        if (f)
            fclose(f);
        return 2;
    }
    fclose(f);
    cfg->mode = MODE_SOAK;
    cfg->record = cfg->verify;
    cfg->keep_record = true;
    cfg->conns = h.conns;
    cfg->procs = h.procs;
    cfg->rate = 0;              /* not recorded: RESULT says rate=0 */
    setvbuf(stdout, NULL, _IOLBF, 0);
    s_run.cfg = cfg;
    return s_print_soak(&s_run);
}

/* ------------------------------------------------------------------- main */

static void
s_usage(FILE *f)
{
    fprintf(f,
"usage: zwsd-loadgen [options]\n"
"  --url ws://HOST:PORT     server (default ws://127.0.0.1:8080); clients use /ws/<user>\n"
"  --mode idle|chat|group|soak  what to do once connected (default idle)\n"
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
"soak (chat at --rate with an id on every message while connections come and go;\n"
"every answer is checked; --duration S: send for S s, 0 = until \"stop\"):\n"
"  --control FIFO           read commands: start, pause, resume, rst [N], stop, end\n"
"  --faults FILE            the driver's fault log (\"<wall µs> broker-down|broker-up\")\n"
"  --broker-grace S         a broker-down window ends S s after broker-up (default 1)\n"
"  --grace S                after the last send, wait S s for answers (default 5)\n"
"  --settle S               then up to S s for every connection to be open (default 30)\n"
"  --backoff MIN:MAX        reconnect after MIN..MAX ms, randomized (default 50:500)\n"
"  --record DIR             keep the records and violations.txt in DIR\n"
"  --examples K             print K examples per violation kind (default 3)\n"
"  --verify DIR             judge the records a soak left in DIR (--record) again, with\n"
"                           --faults and the rules as they are now; connects nothing\n"
"  -v, --verbose            more output (group: one line per message)\n"
"  -h, --help               this text\n"
"Prints human lines and a final \"RESULT key=value ...\" line. Exit status: 0 success,\n"
"1 connections failed or dropped, messages lost or errors (soak: any violation),\n"
"2 usage error.\n");
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
        .grace = 5, .settle = 30, .broker_grace = 1, .backoff_min = 50, .backoff_max = 500,
        .examples = 3,
    };
    const char *source = NULL;
    enum { O_URL = 256, O_MODE, O_CONNS, O_PROCS, O_PREFIX, O_CRATE, O_SOURCE, O_TIMEOUT,
           O_DURATION, O_WARMUP, O_DRAIN, O_RATE, O_TICK, O_INFLIGHT, O_SIZE, O_ACK, O_GROUP,
           O_COUNT, O_SPID, O_CONTROL, O_FAULTS, O_RECORD, O_GRACE, O_SETTLE, O_BGRACE,
           O_BACKOFF, O_EXAMPLES, O_VERIFY };
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
        { "control", required_argument, NULL, O_CONTROL },
        { "faults", required_argument, NULL, O_FAULTS },
        { "record", required_argument, NULL, O_RECORD },
        { "grace", required_argument, NULL, O_GRACE },
        { "settle", required_argument, NULL, O_SETTLE },
        { "broker-grace", required_argument, NULL, O_BGRACE },
        { "backoff", required_argument, NULL, O_BACKOFF },
        { "examples", required_argument, NULL, O_EXAMPLES },
        { "verify", required_argument, NULL, O_VERIFY },
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
            else if (!strcmp(optarg, "soak"))
                cfg.mode = MODE_SOAK;
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
        case O_CONTROL:
            cfg.control = optarg;
            break;
        case O_FAULTS:
            cfg.faults = optarg;
            break;
        case O_RECORD:
            cfg.record = optarg;
            cfg.keep_record = true;
            break;
        case O_GRACE:
            if (!s_num(optarg, 0, 3600, &cfg.grace))
                return s_bad("--grace", optarg);
            break;
        case O_SETTLE:
            if (!s_num(optarg, 0, 3600, &cfg.settle))
                return s_bad("--settle", optarg);
            break;
        case O_BGRACE:
            if (!s_num(optarg, 0, 3600, &cfg.broker_grace))
                return s_bad("--broker-grace", optarg);
            break;
        case O_BACKOFF: {
            char *e;
            cfg.backoff_min = strtol(optarg, &e, 10);
            if (*e != ':' || cfg.backoff_min < 0)
                return s_bad("--backoff (want MIN:MAX in ms)", optarg);
            cfg.backoff_max = strtol(e + 1, &e, 10);
            if (*e || cfg.backoff_max < cfg.backoff_min || cfg.backoff_max > 60000)
                return s_bad("--backoff (want MIN:MAX in ms)", optarg);
            break;
        }
        case O_VERIFY:
            cfg.verify = optarg;
            break;
        case O_EXAMPLES:
            if (!s_num(optarg, 0, 50, &v) || v != (double)(long)v)
                return s_bad("--examples", optarg);
            cfg.examples = (long)v;
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
    if (cfg.mode == MODE_SOAK && cfg.inflight > 0) {
        fprintf(stderr, "zwsd-loadgen: soak sends open loop (--rate), not --inflight\n");
        return 2;
    }
    if (cfg.mode == MODE_SOAK && cfg.conns > SOAK_KMASK) {
        fprintf(stderr, "zwsd-loadgen: --conns too large for soak\n");
        return 2;
    }
    if (cfg.verify)
        return s_verify_only(&cfg);
    static char recdir[] = "/tmp/zwsd-loadgen-soak.XXXXXX";
    if (cfg.mode == MODE_SOAK && !cfg.record && !(cfg.record = mkdtemp(recdir))) {
        perror("zwsd-loadgen: mkdtemp");
        return 1;
    }
    if (cfg.mode == MODE_SOAK && cfg.keep_record && mkdir(cfg.record, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "zwsd-loadgen: cannot create %s: %s\n", cfg.record, strerror(errno));
        return 1;
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

    static const char *const mode_name[] = { "idle", "chat", "group", "soak" };
    char stamp[CLOCK_RFC3339_LEN];
    clock_rfc3339(clock_wall_ms(), stamp);
    printf("zwsd-loadgen: %s mode=%s url=%s conns=%" PRIu64 " procs=%d prefix=%s connect-rate=%g "
           "source=%s\n", stamp, mode_name[cfg.mode], cfg.url, cfg.conns, cfg.procs, cfg.prefix,
           cfg.connect_rate, source);
    return s_parent(&cfg);
}
