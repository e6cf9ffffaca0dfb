/* relay — a minimal one-process WebSocket chat relay: the reference floor for zwsd's 1:1 cost.
 *
 * One level-triggered epoll(7) loop in one process, libc and OpenSSL's SHA-1 only. It accepts
 * "GET /ws/<user>" upgrades (RFC 6455; the answer and zwsd's welcome frame
 * {"type":"welcome","user":"<user>"} leave in one write), reads client text frames
 * {"receiver":"<user>","msg":<JSON value>,...}, looks the receiver up in a hash table (its
 * newest connection) and sends it {"type":"chat","sender":...,"receiver":...,"msg":<msg>}
 * with one send(2). That is all a relay must do, so it is what zwsd-loadgen's chat and idle
 * modes need and nothing more: no acks (a chat to nobody is dropped and counted), no groups,
 * no rate limit, no fragmented frames (closed 1003); pings are answered, a close is echoed.
 * Output the socket does not take at once is queued, up to 1 MiB, then the connection closes.
 * Input is read into one shared buffer; only a partial frame or request is kept per connection.
 *
 * usage: zwsd-relay [--listen ADDR:PORT]      default 127.0.0.1:8090; SIGTERM/SIGINT stop it
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define NAME_MAX_LEN 64
#define HEAD_MAX     8192               /* an upgrade request longer than this is refused */
#define PAYLOAD_MAX  65536              /* a longer client frame closes with 1009 */
#define OUT_MAX      (1 << 20)          /* queued output per connection, then close */
#define BUCKETS      (1 << 16)
#define WS_GUID      "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { ST_HANDSHAKE, ST_OPEN };

typedef struct conn {
    int          fd;
    uint8_t      state, dead, registered, ulen;
    struct conn *next;                  /* hash chain of registered users */
    char        *in, *out;              /* a partial request or frame; unsent output */
    uint32_t     inlen, outlen;
    char         user[NAME_MAX_LEN];
} conn_t;

static struct {
    int                   ep, lfd;
    conn_t              **byfd;
    size_t                nfd;
    conn_t               *bucket[BUCKETS];
    conn_t               *dead;         /* closed at the end of the loop turn (via next) */
    uint64_t              relayed, dropped;
    volatile sig_atomic_t stop;
    char                  in[4 * PAYLOAD_MAX];
    char                  frame[PAYLOAD_MAX + 256];
} g;

static void
s_on_signal(int sig)
{
    (void)sig;
    g.stop = 1;
}

/* ---------------------------------------------------------------- registry */

static uint32_t
s_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    while (n--)
        h = (h ^ (uint8_t)*p++) * 16777619u;
    return h & (BUCKETS - 1);
}

static conn_t *
s_find(const char *name, size_t n)
{
    for (conn_t *c = g.bucket[s_hash(name, n)]; c; c = c->next)
        if (c->ulen == n && !memcmp(c->user, name, n) && !c->dead)
            return c;
    return NULL;
}

static void
s_unregister(conn_t *c)
{
    if (!c->registered)
        return;
    for (conn_t **pp = &g.bucket[s_hash(c->user, c->ulen)]; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    c->registered = 0;
}

/* ------------------------------------------------------------- connections */

static void
s_kill(conn_t *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    s_unregister(c);
    c->next = g.dead;                   /* no longer in a hash chain: next is free */
    g.dead = c;
}

static void
s_reap(void)
{
    while (g.dead) {
        conn_t *c = g.dead;
        g.dead = c->next;
        g.byfd[c->fd] = NULL;
        close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
    }
}

static void
s_want_out(conn_t *c, int on)
{
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.fd = c->fd };
    epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* One write; what the socket does not take is queued for EPOLLOUT. */
static void
s_send(conn_t *c, const char *p, size_t n)
{
    if (c->dead)
        return;
    if (!c->outlen) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w == (ssize_t)n)
            return;
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            s_kill(c);
            return;
        }
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        }
        s_want_out(c, 1);
    }
    char *o = c->outlen + n <= OUT_MAX ? realloc(c->out, c->outlen + n) : NULL;
    if (!o) {
        s_kill(c);
        return;
    }
    memcpy(o + c->outlen, p, n);
    c->out = o;
    c->outlen += (uint32_t)n;
}

static void
s_flush(conn_t *c)
{
    ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR)
            s_kill(c);
        return;
    }
    memmove(c->out, c->out + w, c->outlen - (size_t)w);
    c->outlen -= (uint32_t)w;
    if (!c->outlen) {
        free(c->out);
        c->out = NULL;
        s_want_out(c, 0);
    }
}

/* A server frame (unmasked, FIN) of opcode OP around PAYLOAD, built at g.frame + 10 - header. */
static char *
s_frame(int op, size_t n, size_t *total)
{
    char *h = g.frame + 10;             /* the payload starts here */
    if (n < 126) {
        h -= 2;
        h[1] = (char)n;
    } else if (n < 65536) {
        h -= 4;
        h[1] = 126;
        h[2] = (char)(n >> 8);
        h[3] = (char)n;
    } else {
        h -= 10;
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (char)((uint64_t)n >> (56 - 8 * i));
    }
    h[0] = (char)(0x80 | op);
    *total = (size_t)(g.frame + 10 - h) + n;
    return h;
}

static void
s_close_frame(conn_t *c, int code)
{
    g.frame[10] = (char)(code >> 8);
    g.frame[11] = (char)code;
    size_t n;
    char *f = s_frame(8, 2, &n);
    s_send(c, f, n);
    s_kill(c);
}

/* ---------------------------------------------------------------- messages */

static const char *
s_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* The end of the JSON value at P (a string, an object, an array or a scalar), or NULL. */
static const char *
s_value_end(const char *p, const char *end)
{
    int depth = 0;
    for (; p < end; p++) {
        if (*p == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\')
                    p++;
            if (p >= end)
                return NULL;
            if (!depth)
                return p + 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth < 0)
                return p;               /* the scalar before the enclosing close */
            if (!depth)
                return p + 1;
        } else if (!depth && (*p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
            return p;
        }
    }
    return depth ? NULL : p;
}

/* {"receiver":"bob","msg":...}: find both top-level members, relay to bob's connection. */
static void
s_chat(conn_t *c, const char *p, size_t n)
{
    const char *end = p + n, *rcv = NULL, *msg = NULL, *msg_end = NULL;
    size_t rlen = 0;
    p = s_ws(p, end);
    if (p >= end || *p++ != '{')
        return;
    for (;;) {
        p = s_ws(p, end);
        if (p >= end || *p != '"')
            return;
        const char *k = p + 1, *ke = memchr(k, '"', (size_t)(end - k));
        if (!ke)
            return;
        p = s_ws(ke + 1, end);
        if (p >= end || *p++ != ':')
            return;
        const char *v = s_ws(p, end), *ve = s_value_end(v, end);
        if (!ve || ve == v)
            return;
        if (ke - k == 8 && !memcmp(k, "receiver", 8) && *v == '"') {
            rcv = v + 1;
            rlen = (size_t)(ve - v - 2);
        } else if (ke - k == 3 && !memcmp(k, "msg", 3)) {
            msg = v;
            msg_end = ve;
        }
        p = s_ws(ve, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        break;
    }
    conn_t *to = rcv && msg ? s_find(rcv, rlen) : NULL;
    if (!to) {
        g.dropped++;
        return;
    }
    size_t mlen = (size_t)(msg_end - msg);
    if (mlen + rlen + c->ulen + 64 > sizeof g.frame - 10)
        return;
    char *q = g.frame + 10;
    memcpy(q, "{\"type\":\"chat\",\"sender\":\"", 25), q += 25;
    memcpy(q, c->user, c->ulen), q += c->ulen;
    memcpy(q, "\",\"receiver\":\"", 14), q += 14;
    memcpy(q, rcv, rlen), q += rlen;
    memcpy(q, "\",\"msg\":", 8), q += 8;
    memcpy(q, msg, mlen), q += mlen;
    *q++ = '}';
    size_t total;
    char *f = s_frame(1, (size_t)(q - (g.frame + 10)), &total);
    s_send(to, f, total);
    g.relayed++;
}

/* Client frames in P[0..N): returns the bytes consumed (a partial frame stays). */
static size_t
s_frames(conn_t *c, char *p, size_t n)
{
    size_t off = 0;
    while (!c->dead && n - off >= 2) {
        uint8_t *h = (uint8_t *)p + off;
        size_t hl = 2, len = h[1] & 0x7f;
        if (len == 126)
            hl = 4;
        else if (len == 127)
            hl = 10;
        if (n - off < hl + 4)
            break;
        if (len == 126)
            len = (size_t)h[2] << 8 | h[3];
        else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | h[2 + i];
        }
        if (!(h[1] & 0x80) || (h[0] & 0x70)) {
            s_close_frame(c, 1002);     /* unmasked, or reserved bits */
            break;
        }
        if (len > PAYLOAD_MAX) {
            s_close_frame(c, 1009);
            break;
        }
        if (n - off < hl + 4 + len)
            break;
        uint8_t *mask = h + hl, *d = mask + 4;
        for (size_t i = 0; i < len; i++)
            d[i] ^= mask[i & 3];
        off += hl + 4 + len;
        int op = h[0] & 0x0f;
        if (!(h[0] & 0x80) || op == 0) {
            s_close_frame(c, 1003);     /* fragmented messages: not in a minimal relay */
        } else if (op == 1) {
            s_chat(c, (char *)d, len);
        } else if (op == 8) {
            s_close_frame(c, len >= 2 ? d[0] << 8 | d[1] : 1000);
        } else if (op == 9 && len <= 125) {
            size_t total;
            memcpy(g.frame + 10, d, len);
            char *f = s_frame(10, len, &total);
            s_send(c, f, total);
        }
    }
    return off;
}

static int
s_valid_name(const char *p, size_t n)
{
    if (!n || n > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(p[i] >= 'a' && p[i] <= 'z') && !(p[i] >= 'A' && p[i] <= 'Z')
            && !(p[i] >= '0' && p[i] <= '9') && !strchr("_.@-", p[i]))
            return 0;
    return 1;
}

/* The upgrade request in P[0..N): returns the bytes consumed, 0 while incomplete. */
static size_t
s_handshake(conn_t *c, char *p, size_t n)
{
    static const char bad[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    char *e = memmem(p, n, "\r\n\r\n", 4);
    if (!e) {
        if (n > HEAD_MAX)
            s_kill(c);
        return 0;
    }
    if (e - p < 8 || memcmp(p, "GET /ws/", 8))
        goto refuse;
    const char *u = p + 8, *ue = u, *key = NULL;
    size_t klen = 0;
    while (ue < e && *ue != ' ' && *ue != '?')
        ue++;
    if (!s_valid_name(u, (size_t)(ue - u)))
        goto refuse;
    for (char *l = memmem(p, (size_t)(e - p), "\r\n", 2); l && l < e; l = memmem(l + 2, (size_t)(e - l), "\r\n", 2)) {
        if (e - l > 20 && !strncasecmp(l + 2, "sec-websocket-key:", 18)) {
            key = l + 20;
            while (*key == ' ')
                key++;
            const char *ke = memchr(key, '\r', (size_t)(e + 2 - key));
            klen = ke ? (size_t)(ke - key) : 0;
            break;
        }
    }
    if (!key || !klen || klen > 64)
        goto refuse;
    char kg[128];
    unsigned char sha[SHA_DIGEST_LENGTH];
    char acc[64];
    memcpy(kg, key, klen);
    memcpy(kg + klen, WS_GUID, sizeof WS_GUID - 1);
    SHA1((unsigned char *)kg, klen + sizeof WS_GUID - 1, sha);
    EVP_EncodeBlock((unsigned char *)acc, sha, SHA_DIGEST_LENGTH);
    c->ulen = (uint8_t)(ue - u);
    memcpy(c->user, u, c->ulen);
    char out[512];
    int hl = snprintf(out, sizeof out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
    int wl = snprintf(out + hl + 2, sizeof out - (size_t)hl - 2,
                      "{\"type\":\"welcome\",\"user\":\"%.*s\",\"session\":\"relay\"}", (int)c->ulen, c->user);
    out[hl] = (char)0x81;
    out[hl + 1] = (char)wl;             /* < 126: the name is at most 64 bytes */
    s_send(c, out, (size_t)(hl + 2 + wl));
    uint32_t b = s_hash(c->user, c->ulen);
    c->next = g.bucket[b];              /* the newest connection of a user gets its chats */
    g.bucket[b] = c;
    c->registered = 1;
    c->state = ST_OPEN;
    return (size_t)(e + 4 - p);
refuse:
    s_send(c, bad, sizeof bad - 1);
    s_kill(c);
    return n;
}

static void
s_readable(conn_t *c)
{
    size_t have = c->inlen;
    if (have)
        memcpy(g.in, c->in, have);      /* the partial frame first, then what is new */
    ssize_t r = read(c->fd, g.in + have, sizeof g.in - have);
    if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            s_kill(c);
        return;
    }
    size_t n = have + (size_t)r, off = 0;
    if (c->state == ST_HANDSHAKE)
        off = s_handshake(c, g.in, n);
    if (c->state == ST_OPEN)
        off += s_frames(c, g.in + off, n - off);
    if (c->dead)
        return;
    if (off == n) {
        free(c->in);
        c->in = NULL;
        c->inlen = 0;
        return;
    }
    char *keep = realloc(c->in, n - off);
    if (!keep) {
        s_kill(c);
        return;
    }
    memmove(keep, g.in + off, n - off);
    c->in = keep;
    c->inlen = (uint32_t)(n - off);
}

static void
s_accept(void)
{
    for (;;) {
        int fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        conn_t *c = calloc(1, sizeof *c);
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
        if (!c || (size_t)fd >= g.nfd || epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        g.byfd[fd] = c;
    }
}

static int
s_listen(const char *spec)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    struct sockaddr_in a = { .sin_family = AF_INET };
    if (!colon || (size_t)(colon - spec) >= sizeof host)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int
main(int argc, char **argv)
{
    const char *listen_at = "127.0.0.1:8090";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
            listen_at = argv[++i];
        } else {
            fprintf(stderr, "usage: zwsd-relay [--listen ADDR:PORT]   (default 127.0.0.1:8090)\n");
            return !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    g.nfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 22) ? rl.rlim_cur : 1u << 22;
    g.byfd = calloc(g.nfd, sizeof *g.byfd);
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if ((g.lfd = s_listen(listen_at)) < 0 || !g.byfd || g.ep < 0) {
        fprintf(stderr, "zwsd-relay: cannot listen on %s: %s\n", listen_at, strerror(errno));
        return 1;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = g.lfd };
    epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &ev);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "zwsd-relay: listening on %s\n", listen_at);
    struct epoll_event evs[256];
    while (!g.stop) {
        int k = epoll_wait(g.ep, evs, 256, -1);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            if (fd == g.lfd) {
                s_accept();
                continue;
            }
            conn_t *c = g.byfd[fd];
            if (!c || c->dead)
                continue;
            if (evs[i].events & EPOLLOUT)
                s_flush(c);
            if (!c->dead && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                s_readable(c);
        }
        s_reap();
    }
    fprintf(stderr, "zwsd-relay: stopping: %llu chats relayed, %llu dropped (no receiver)\n",
            (unsigned long long)g.relayed, (unsigned long long)g.dropped);
    for (size_t fd = 0; fd < g.nfd; fd++)
        if (g.byfd[fd])
            s_kill(g.byfd[fd]), s_reap();
    return 0;
}
