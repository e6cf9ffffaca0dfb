/* bench-bus — what the bus hop alone costs: publisher -> zwsd-broker -> subscriber, no WebSocket.
 *
 * The parent forks two processes against a running zwsd-broker (scripts/bench-bus.sh starts
 * one on ipc:// in a temp dir and passes its pid):
 *   subscriber  a SUB socket set up as a worker's (SNDHWM 0, RCVHWM 100000), subscribed to
 *               "u:b00000|" .. "u:b<N-1>|"; waits on ZMQ_FD with poll(2) and drains with
 *               ZMQ_DONTWAIT as a worker's epoll loop does, decodes every envelope with the
 *               project's env_decode() and checks its sequence number;
 *   publisher   a PUB socket set up as a worker's (SNDHWM 100000, XPUB_NODROP), sending chats
 *               of --size bytes (the msgpack envelope, encoded with env_encode(); 120 by
 *               default), chat i to user i mod N, each to its own user topic. Open loop at
 *               --rate R chats/s: each ZeroMQ message leaves at its own time (clock_nanosleep
 *               to an absolute deadline, 1 us timer slack), late ones at once. --rate 0 is
 *               saturation: a closed loop that keeps --window chats in flight (the subscriber
 *               hands credit back through a pipe, once per window/2 chats).
 * --batch K puts K chats in one ZeroMQ message: the topic of the first chat's user, then one
 * frame of K x (2-byte big-endian length, envelope); K = 1 is exactly today's bus message.
 * The subscriber stamps nothing back: no receipts travel (a worker's chat also draws one).
 *
 * After a sync message has come through (every subscription is live in the broker), the
 * publisher runs --warmup seconds; then the parent samples, at both edges of a --duration
 * window, the subscriber's received count and, for the broker, the subscriber and the
 * publisher: utime+stime from /proc/PID/stat and voluntary+nonvoluntary context switches
 * summed over /proc/PID/task/TID/status (every thread, ZeroMQ's I/O threads included).
 * Reported per chat received in the window: CPU of broker + subscriber (the hop), the
 * publisher's separately (it includes its pacing), context switches the same way, latency
 * (send to decode, CLOCK_MONOTONIC, chats received in the window), and chats lost after a
 * --drain. Output: one table row (--header prints the header) and one "BENCH bus" line.
 *
 * For the broker's own scaling (scripts/bench-broker.sh): --sockets S spreads the users over
 * S SUB sockets in the subscriber process, as a host's workers would (user i on socket
 * i mod S), each subscribing its own marker topic "u:zsync<k>|" after its users; the sync
 * is complete when every marker has come through, which proves the broker has seen every
 * subscription (one pipe per socket, in order; the broker forwards a chat on a user topic
 * only once its table holds that user). Up to 9,999,999 users ("u:b0000000|"… once over
 * 99,999). The BENCH line also reports how long subscribing took (first subscribe to sync)
 * and the broker's VmRSS (/proc/PID/status): before the subscriber connects, after the
 * sync and --settle more seconds with no traffic (the broker hands freed memory back every
 * 2 s), its VmHWM then, and at the end of the window; and the subscriber's VmRSS (the
 * SUB sockets' own copies of the subscriptions); and the broker's CPU time (utime+stime
 * since it started) at the sync: for a fresh broker, what taking the subscriptions cost.
 * --active M sends the chats round-robin to the first M users only (all N are subscribed):
 * a big table with a small working set.
 *
 * usage: bench-bus --pub EP --sub EP --broker-pid PID [--rate R] [--batch K] [--users N]
 *                  [--size B] [--warmup S] [--duration S] [--window W] [--drain S]
 *                  [--sockets S] [--settle S] [--active M] [--header]
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "envelope.h"
#include "topic.h"

#define HIST_N    200000        /* 1-us latency buckets; the last one holds anything slower */
#define SYNC_PREFIX "u:zsync"     /* + the socket's number + "|": one marker per SUB socket */
#define SOCKETS_MAX 64
#define BATCH_MAX 64
#define HWM       100000        /* the workers' PUB SNDHWM and default --bus-hwm */

typedef struct {
    const char *pub_ep, *sub_ep;
    pid_t       broker;
    long        rate, batch, users, active, size, window, sockets;
    double      warmup, duration, drain, settle;
} cfg_t;

/* Shared between the parent and its two children (MAP_SHARED, before fork). */
typedef struct {
    _Atomic uint64_t sent, recv;        /* chats published / received and decoded */
    _Atomic uint64_t zsent;             /* ZeroMQ messages published */
    _Atomic int      subscribed, synced, in_window, stop_pub, stop_sub, pub_waiting, go;
    _Atomic uint64_t synced_mask;       /* bit k: socket k's marker came through */
    int64_t          t_sub0, t_sub1;    /* subscriber: first and last subscribe, ns */
    uint64_t         wakeups, blocked, behind;         /* publisher */
    uint64_t         gaps, disorder, bad;               /* subscriber */
    uint64_t         hist[HIST_N];
} shm_t;

typedef struct {
    uint64_t ticks, cs;
} sample_t;

static shm_t *S;
static const cfg_t *C;
static volatile sig_atomic_t s_interrupted;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_interrupted = 1;
}

static int64_t
s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
s_sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !s_interrupted) {
    }
}

static int
s_setint(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof v);
}

/* ------------------------------------------------------------------ /proc */

/* utime+stime of the whole process (every thread, living or gone) from /proc/PID/stat and
 * voluntary+nonvoluntary context switches of every living thread; -1 if PID is gone. */
static int
s_sample(pid_t pid, sample_t *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');        /* comm may hold spaces; fields follow its ')' */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &ut, &st) != 2)
        return -1;
    out->ticks = ut + st;
    out->cs = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.')
            continue;
        char tpath[384], line[128];
        snprintf(tpath, sizeof tpath, "%s/%s/status", path, de->d_name);
        FILE *t = fopen(tpath, "r");
        if (!t)
            continue;                   /* a thread that just ended */
        while (fgets(line, sizeof line, t)) {
            unsigned long long v;
            if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1
                || sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                out->cs += v;
        }
        fclose(t);
    }
    closedir(d);
    return 0;
}

/* FIELD ("VmRSS:", "VmHWM:") of /proc/PID/status in kB; -1 if PID is gone. */
static long
s_status_kb(pid_t pid, const char *field)
{
    char path[64], line[128];
    long kb = -1;
    size_t n = strlen(field);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n)) {
            kb = atol(line + n);
            break;
        }
    fclose(f);
    return kb;
}

/* -------------------------------------------------------------- publisher */

typedef struct {
    void            *sock;
    msgpack_sbuffer  sb;
    char             msg[1024];         /* the JSON string "xxx…" that pads the envelope */
    long             pad;
    char            *frame;             /* K x (length, envelope) */
} pub_t;

/* User i's name: fixed width, 5 digits up to 99,999 users (as ever), else 7. */
static int
s_user_name(char *buf, size_t size, uint64_t i)
{
    return snprintf(buf, size, C->users > 99999 ? "b%07" PRIu64 : "b%05" PRIu64, i);
}

static size_t
s_user_topic(char *buf, uint64_t i)
{
    char name[24];
    int n = s_user_name(name, sizeof name, i);
    return topic_make(buf, TOPIC_USER, name, (size_t)n);
}

/* Socket k's marker topic, "u:zsync<k>|". */
static size_t
s_sync_topic(char *buf, long k)
{
    return (size_t)snprintf(buf, TOPIC_MAX, SYNC_PREFIX "%ld|", k);
}

static uint64_t
s_all_synced(void)
{
    return C->sockets >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << C->sockets) - 1;
}

/* Encode chat SEQ (to user SEQ mod N, stamped T_US) into P->sb, replacing what was there.
 * Every field has a fixed width, so every envelope has the same size. */
static void
s_encode(pub_t *p, uint64_t seq, int64_t t_us, int64_t wall_ms)
{
    char mid[40], to[24];
    snprintf(mid, sizeof mid, "%016" PRIx64 "%016" PRIx64, seq, (uint64_t)t_us);
    s_user_name(to, sizeof to, seq % (uint64_t)C->active);
    env_t e;
    env_init(&e, ENV_CHAT);
    e.mid = env_cstr(mid);
    e.sender = env_cstr("benchpub");
    e.origin = env_cstr("benchpub");
    e.to = env_cstr(to);
    e.msg = (env_str_t){ p->msg, (uint32_t)(p->pad + 2) };
    e.time = wall_ms;
    e.req = 1u << 31;                   /* a receipt wanted, as a client's chat with an id */
    p->sb.size = 0;
    env_encode(&e, &p->sb);
}

/* The padding that makes the envelope --size bytes (or the nearest above). */
static int
s_fit(pub_t *p)
{
    for (p->pad = 0; p->pad < (long)sizeof p->msg - 3; p->pad++) {
        p->msg[0] = '"';
        memset(p->msg + 1, 'x', (size_t)p->pad);
        p->msg[p->pad + 1] = '"';
        s_encode(p, 0, 0, 1800000000000);
        if ((long)p->sb.size >= C->size)
            return 0;
    }
    return -1;
}

/* Send one frame, waiting while the PUB's queue is full (NODROP: EAGAIN, not a drop). */
static int
s_send(void *sock, const void *data, size_t n, int flags)
{
    while (zmq_send(sock, data, n, flags | ZMQ_DONTWAIT) < 0) {
        if (errno != EAGAIN || atomic_load(&S->stop_pub))
            return -1;
        S->blocked++;
        zmq_pollitem_t it = { sock, 0, ZMQ_POLLOUT, 0 };
        zmq_poll(&it, 1, 100);
    }
    return 0;
}

/* One ZeroMQ message of K chats, stamped now. */
static int
s_publish(pub_t *p, uint64_t seq, long k)
{
    char topic[TOPIC_MAX];
    size_t tn = s_user_topic(topic, seq % (uint64_t)C->active);
    int64_t t_us = s_now_ns() / 1000;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    if (k == 1) {
        s_encode(p, seq, t_us, wall_ms);
        if (s_send(p->sock, topic, tn, ZMQ_SNDMORE) < 0 || s_send(p->sock, p->sb.data, p->sb.size, 0) < 0)
            return -1;
    } else {
        size_t off = 0;
        for (long i = 0; i < k; i++) {
            s_encode(p, seq + (uint64_t)i, t_us, wall_ms);
            p->frame[off] = (char)(p->sb.size >> 8);
            p->frame[off + 1] = (char)(p->sb.size & 0xff);
            memcpy(p->frame + off + 2, p->sb.data, p->sb.size);
            off += 2 + p->sb.size;
        }
        if (s_send(p->sock, topic, tn, ZMQ_SNDMORE) < 0 || s_send(p->sock, p->frame, off, 0) < 0)
            return -1;
    }
    atomic_fetch_add(&S->sent, (uint64_t)k);
    atomic_fetch_add(&S->zsent, 1);
    return 0;
}

/* Closed loop: wait until at most --window chats are in flight. Whoever flips pub_waiting
 * from 1 to 0 owns the wake-up: the subscriber then writes one byte to the pipe, and the
 * publisher reads it whether it slept on it or not. */
static int64_t
s_inflight(long k)
{
    return (int64_t)(atomic_load(&S->sent) - atomic_load(&S->recv)) + k;
}

static void
s_await_credit(int rfd, long k)
{
    char b;
    while (!atomic_load(&S->stop_pub) && s_inflight(k) > C->window) {
        atomic_store(&S->pub_waiting, 1);
        struct pollfd pf = { rfd, POLLIN, 0 };
        if (s_inflight(k) > C->window && poll(&pf, 1, 100) > 0) {
            if (read(rfd, &b, 1) == 1)
                S->wakeups++;
        } else if (atomic_exchange(&S->pub_waiting, 0) == 0 && read(rfd, &b, 1) < 0) {
            return;                     /* the subscriber flipped it: its byte is on the way */
        }
    }
}

static int
s_pub_main(int rfd)
{
    pub_t p = { 0 };
    msgpack_sbuffer_init(&p.sb);
    if (s_fit(&p) < 0 || !(p.frame = malloc((size_t)C->batch * (p.sb.size + 2)))) {
        fprintf(stderr, "bench-bus: cannot build a %ld-byte envelope\n", C->size);
        return 1;
    }
    prctl(PR_SET_TIMERSLACK, 1000UL);   /* 1 us, not 50: open-loop sends at their own time */
    void *ctx = zmq_ctx_new();
    p.sock = zmq_socket(ctx, ZMQ_PUB);
    s_setint(p.sock, ZMQ_SNDHWM, HWM);
    s_setint(p.sock, ZMQ_XPUB_NODROP, 1);
    s_setint(p.sock, ZMQ_LINGER, 3000);
    if (zmq_connect(p.sock, C->pub_ep) < 0) {
        fprintf(stderr, "bench-bus: connect %s: %s\n", C->pub_ep, zmq_strerror(errno));
        return 1;
    }
    /* Sync: until one comes through to every marker, the broker's subscribe-all may not have
     * reached our PUB yet, or the subscriber's subscriptions the broker. */
    while (!atomic_load(&S->synced) && !atomic_load(&S->stop_pub)) {
        s_encode(&p, 0, 0, 0);
        uint64_t mask = atomic_load(&S->synced_mask);
        for (long k = 0; k < C->sockets; k++) {
            char st[TOPIC_MAX];
            if (mask & (uint64_t)1 << k)
                continue;
            zmq_send(p.sock, st, s_sync_topic(st, k), ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(p.sock, p.sb.data, p.sb.size, ZMQ_DONTWAIT);
        }
        s_sleep_s(0.02);
    }
    while (!atomic_load(&S->go) && !atomic_load(&S->stop_pub))   /* the parent's --settle */
        s_sleep_s(0.005);
    uint64_t seq = 0;
    int64_t interval = C->rate ? (int64_t)(1e9 * (double)C->batch / (double)C->rate) : 0;
    int64_t next = s_now_ns();
    while (!atomic_load(&S->stop_pub)) {
        if (!C->rate) {
            s_await_credit(rfd, C->batch);
        } else {
            int64_t now = s_now_ns();
            if (now < next) {
                struct timespec ts = { (time_t)(next / 1000000000), (long)(next % 1000000000) };
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                S->wakeups++;
                continue;
            }
            if (now - next > 1000000000) {      /* more than 1 s behind: drop the backlog */
                S->behind++;
                next = now;
            }
            next += interval;
        }
        if (atomic_load(&S->stop_pub) || s_publish(&p, seq, C->batch) < 0)
            break;
        seq += (uint64_t)C->batch;
    }
    zmq_close(p.sock);                  /* the linger sends what is queued */
    zmq_ctx_term(ctx);
    msgpack_sbuffer_destroy(&p.sb);
    free(p.frame);
    return 0;
}

/* ------------------------------------------------------------- subscriber */

/* The next seq expected on each socket. With one socket it is exact (gaps are counted);
 * with several, a socket sees an increasing subsequence, so only disorder is. */
static uint64_t s_expect[SOCKETS_MAX];

static uint64_t
s_hex(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 4 | (uint64_t)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
    return v;
}

static void
s_chat(const char *data, size_t n, int64_t now_us, long k)
{
    env_t e;
    if (env_decode(data, n, &e) < 0 || e.kind != ENV_CHAT || !e.mid.p || e.mid.n != 32) {
        S->bad++;
        return;
    }
    uint64_t seq = s_hex(e.mid.p, 16);
    int64_t lat = now_us - (int64_t)s_hex(e.mid.p + 16, 16);
    if (seq > s_expect[k] && C->sockets == 1)
        S->gaps += seq - s_expect[k];
    else if (seq < s_expect[k])
        S->disorder++;
    s_expect[k] = seq + 1;
    if (atomic_load_explicit(&S->in_window, memory_order_relaxed))
        S->hist[lat < 0 ? 0 : lat >= HIST_N ? HIST_N - 1 : lat]++;
}

/* Count N chats in, and hand the publisher its credit if it waits for it. */
static void
s_received(uint64_t n, int wfd)
{
    uint64_t r = atomic_fetch_add(&S->recv, n) + n;
    if (atomic_load_explicit(&S->pub_waiting, memory_order_relaxed)
        && (int64_t)(atomic_load(&S->sent) - r) <= C->window / 2
        && atomic_exchange(&S->pub_waiting, 0) == 1) {
        char b = 1;
        if (write(wfd, &b, 1) < 0)
            S->bad++;
    }
}

static void
s_sub_message(zmq_msg_t *topic, zmq_msg_t *env, int wfd, long sock)
{
    size_t tn = zmq_msg_size(topic), n = zmq_msg_size(env);
    const char *t = zmq_msg_data(topic), *d = zmq_msg_data(env);
    char st[TOPIC_MAX];
    if (tn > strlen(SYNC_PREFIX) && !memcmp(t, SYNC_PREFIX, strlen(SYNC_PREFIX))) {
        if (tn != s_sync_topic(st, sock) || memcmp(t, st, tn)) {
            S->bad++;                   /* another socket's marker: a routing error */
            return;
        }
        if ((atomic_fetch_or(&S->synced_mask, (uint64_t)1 << sock) | (uint64_t)1 << sock)
            == s_all_synced())
            atomic_store(&S->synced, 1);
        return;
    }
    if (tn < 3 || memcmp(t, "u:", 2)) {
        S->bad++;                       /* nothing else is published */
        return;
    }
    int64_t now_us = s_now_ns() / 1000;
    if (C->batch == 1) {
        s_chat(d, n, now_us, sock);
        s_received(1, wfd);
        return;
    }
    uint64_t k = 0;
    for (size_t off = 0; off + 2 <= n; k++) {
        size_t len = (size_t)(uint8_t)d[off] << 8 | (uint8_t)d[off + 1];
        if (off + 2 + len > n) {
            S->bad++;
            break;
        }
        s_chat(d + off + 2, len, now_us, sock);
        off += 2 + len;
    }
    s_received(k, wfd);
}

/* Drain socket K of what it has. */
static void
s_sub_drain(void *sock, long k, int wfd, zmq_msg_t *t, zmq_msg_t *e)
{
    while (zmq_msg_recv(t, sock, ZMQ_DONTWAIT) >= 0) {
        if (!zmq_msg_more(t)) {         /* one frame: only the broker's welcome "h|" */
            if (zmq_msg_size(t) != strlen(TOPIC_HELLO)
                || memcmp(zmq_msg_data(t), TOPIC_HELLO, strlen(TOPIC_HELLO)))
                S->bad++;
            continue;
        }
        if (zmq_msg_recv(e, sock, 0) < 0) {
            S->bad++;
            continue;
        }
        s_sub_message(t, e, wfd, k);
    }
}

static int
s_sub_main(int wfd)
{
    void *ctx = zmq_ctx_new();
    void *socks[SOCKETS_MAX];
    struct pollfd pf[SOCKETS_MAX];
    long ns = C->sockets;
    for (long k = 0; k < ns; k++) {
        void *sock = socks[k] = zmq_socket(ctx, ZMQ_SUB);
        s_setint(sock, ZMQ_SNDHWM, 0);  /* subscriptions are never dropped (libzmq #4064) */
        s_setint(sock, ZMQ_RCVHWM, HWM);
        s_setint(sock, ZMQ_LINGER, 0);
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, TOPIC_HELLO, strlen(TOPIC_HELLO));
        if (zmq_connect(sock, C->sub_ep) < 0) {
            fprintf(stderr, "bench-bus: connect %s: %s\n", C->sub_ep, zmq_strerror(errno));
            return 1;
        }
    }
    char topic[TOPIC_MAX];
    S->t_sub0 = s_now_ns();
    for (long i = 0; i < C->users; i++)
        zmq_setsockopt(socks[i % ns], ZMQ_SUBSCRIBE, topic, s_user_topic(topic, (uint64_t)i));
    for (long k = 0; k < ns; k++)       /* each socket's last one */
        zmq_setsockopt(socks[k], ZMQ_SUBSCRIBE, topic, s_sync_topic(topic, k));
    S->t_sub1 = s_now_ns();
    atomic_store(&S->subscribed, 1);
    for (long k = 0; k < ns; k++) {
        size_t sz = sizeof pf[k].fd;
        zmq_getsockopt(socks[k], ZMQ_FD, &pf[k].fd, &sz);
        pf[k].events = POLLIN;
    }
    zmq_msg_t t, e;
    zmq_msg_init(&t);
    zmq_msg_init(&e);
    while (!atomic_load(&S->stop_sub)) {
        /* a worker's turn: drain what is there, then sleep in poll(2) on every ZMQ_FD */
        for (long k = 0; k < ns; k++)
            s_sub_drain(socks[k], k, wfd, &t, &e);
        int ready = 0;
        for (long k = 0; k < ns && !ready; k++) {
            int ev = 0;
            size_t sz = sizeof ev;
            zmq_getsockopt(socks[k], ZMQ_EVENTS, &ev, &sz);
            ready = ev & ZMQ_POLLIN;
        }
        if (!ready)
            poll(pf, (nfds_t)ns, 100);
    }
    zmq_msg_close(&t);
    zmq_msg_close(&e);
    for (long k = 0; k < ns; k++)
        zmq_close(socks[k]);
    zmq_ctx_term(ctx);
    return 0;
}

/* ----------------------------------------------------------------- parent */

static void
s_usage(int rc)
{
    fprintf(rc ? stderr : stdout,
            "usage: bench-bus --pub EP --sub EP --broker-pid PID [--rate R] [--batch K] [--users N]\n"
            "                 [--size B] [--warmup S] [--duration S] [--window W] [--drain S]\n"
            "                 [--sockets S] [--settle S] [--active M] [--header]\n"
            "  --rate 0 = saturation (closed loop, W chats in flight). Defaults: rate 20000, batch 1,\n"
            "  1000 users, 120-byte envelopes, 1 s warmup, 5 s window, window 4096, drain 3 s,\n"
            "  1 SUB socket, 0 s settle (quiet time after the sync, before the broker's memory is read),\n"
            "  chats to all N users (--active M: to the first M only).\n");
    exit(rc);
}

static void
s_header(void)
{
    printf("%-8s %5s %9s %9s | %8s %8s %8s | %7s %7s | %8s %6s %6s | %7s %8s %6s\n",
           "chats/s", "batch", "got/s", "zmq/s", "broker", "sub", "hop", "hop", "pub", "pub",
           "pub", "burst", "p50", "p99", "lost");
    printf("%-8s %5s %9s %9s | %8s %8s %8s | %7s %7s | %8s %6s %6s | %7s %8s %6s\n",
           "offered", "K", "", "", "us/chat", "us/chat", "us/chat", "cs/chat", "cs/zmsg",
           "us/chat", "cs/cht", "", "us", "us", "");
}

static uint64_t
s_pct(const uint64_t *h, uint64_t total, double q)
{
    uint64_t acc = 0, want = (uint64_t)(q * (double)total);
    for (int i = 0; i < HIST_N; i++)
        if ((acc += h[i]) >= want && acc)
            return (uint64_t)i;
    return HIST_N - 1;
}

static int
s_sample3(sample_t out[3], pid_t sub, pid_t pub)
{
    return s_sample(C->broker, &out[0]) | s_sample(sub, &out[1]) | s_sample(pub, &out[2]);
}

static int
s_dead(pid_t sub, pid_t pub)
{
    return waitpid(sub, NULL, WNOHANG) != 0 || waitpid(pub, NULL, WNOHANG) != 0
           || kill(C->broker, 0) < 0 || s_interrupted;
}

int
main(int argc, char **argv)
{
    static cfg_t cfg = { .rate = 20000, .batch = 1, .users = 1000, .size = 120, .window = 4096,
                         .warmup = 1, .duration = 5, .drain = 3, .sockets = 1 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--header")) { s_header(); return 0; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) s_usage(0);
        if (!v) s_usage(2);
        i++;
        if (!strcmp(a, "--pub")) cfg.pub_ep = v;
        else if (!strcmp(a, "--sub")) cfg.sub_ep = v;
        else if (!strcmp(a, "--broker-pid")) cfg.broker = (pid_t)atol(v);
        else if (!strcmp(a, "--rate")) cfg.rate = atol(v);
        else if (!strcmp(a, "--batch")) cfg.batch = atol(v);
        else if (!strcmp(a, "--users")) cfg.users = atol(v);
        else if (!strcmp(a, "--size")) cfg.size = atol(v);
        else if (!strcmp(a, "--window")) cfg.window = atol(v);
        else if (!strcmp(a, "--warmup")) cfg.warmup = atof(v);
        else if (!strcmp(a, "--duration")) cfg.duration = atof(v);
        else if (!strcmp(a, "--drain")) cfg.drain = atof(v);
        else if (!strcmp(a, "--sockets")) cfg.sockets = atol(v);
        else if (!strcmp(a, "--active")) cfg.active = atol(v);
        else if (!strcmp(a, "--settle")) cfg.settle = atof(v);
        else s_usage(2);
    }
    if (!cfg.pub_ep || !cfg.sub_ep || cfg.broker <= 0 || cfg.rate < 0 || cfg.batch < 1
        || cfg.batch > BATCH_MAX || cfg.users < 1 || cfg.users > 9999999 || cfg.size < 60
        || cfg.size > 900 || cfg.window < cfg.batch * 2 || cfg.duration <= 0
        || cfg.sockets < 1 || cfg.sockets > SOCKETS_MAX || cfg.settle < 0 || cfg.active < 0
        || cfg.active > cfg.users)
        s_usage(2);
    if (!cfg.active)
        cfg.active = cfg.users;
    C = &cfg;
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int pfd[2];
    if (S == MAP_FAILED || pipe(pfd) < 0) {
        perror("bench-bus");
        return 1;
    }
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    fflush(stdout);
    long rss_before = s_status_kb(cfg.broker, "VmRSS:"), rss_subs = -1, hwm_subs = -1;
    long rss_end = -1, sub_rss = -1;
    sample_t at_sync = { 0, 0 };        /* the broker's CPU until every subscription was in */
    pid_t sub = fork();
    if (sub == 0)
        _exit(s_sub_main(pfd[1]));
    while (!atomic_load(&S->subscribed) && waitpid(sub, NULL, WNOHANG) == 0)
        s_sleep_s(0.001);
    pid_t pub = fork();
    if (pub == 0)
        _exit(s_pub_main(pfd[0]));

    int rc = 1;
    sample_t a[3], b[3];
    uint64_t r0 = 0, r1 = 0, s0 = 0, s1 = 0, z0 = 0, z1 = 0, w0 = 0, w1 = 0;
    /* 10 s, and 1 s more per 10,000 subscriptions for the broker to take them in */
    int64_t t0 = s_now_ns(), ta, tb, tsync, limit = (10 + cfg.users / 10000) * (int64_t)1000000000;
    while (!atomic_load(&S->synced) && !s_dead(sub, pub) && s_now_ns() - t0 < limit)
        s_sleep_s(0.005);
    if (!atomic_load(&S->synced)) {
        fprintf(stderr, "bench-bus: no sync message came through the broker to every socket in"
                " %lld s\n", (long long)(limit / 1000000000));
        goto out;
    }
    tsync = s_now_ns();
    s_sample(cfg.broker, &at_sync);
    s_sleep_s(cfg.settle);
    rss_subs = s_status_kb(cfg.broker, "VmRSS:");
    hwm_subs = s_status_kb(cfg.broker, "VmHWM:");
    sub_rss = s_status_kb(sub, "VmRSS:");
    atomic_store(&S->go, 1);
    s_sleep_s(cfg.warmup);
    ta = s_now_ns();
    atomic_store(&S->in_window, 1);
    if (s_sample3(a, sub, pub) < 0)
        goto gone;
    r0 = atomic_load(&S->recv), s0 = atomic_load(&S->sent), z0 = atomic_load(&S->zsent);
    w0 = S->wakeups;
    s_sleep_s(cfg.duration);
    if (s_sample3(b, sub, pub) < 0)
        goto gone;
    r1 = atomic_load(&S->recv), s1 = atomic_load(&S->sent), z1 = atomic_load(&S->zsent);
    w1 = S->wakeups;
    tb = s_now_ns();
    rss_end = s_status_kb(cfg.broker, "VmRSS:");
    atomic_store(&S->in_window, 0);
    if (s_interrupted)
        goto gone;
    atomic_store(&S->stop_pub, 1);
    waitpid(pub, NULL, 0);
    pub = 0;
    for (int64_t t = s_now_ns(); atomic_load(&S->recv) < atomic_load(&S->sent)
         && s_now_ns() - t < (int64_t)(cfg.drain * 1e9) && !s_interrupted;)
        s_sleep_s(0.01);
    rc = 0;
gone:
    if (rc)
        fprintf(stderr, "bench-bus: the broker or a child went away (or interrupted)\n");
out:
    atomic_store(&S->stop_pub, 1);
    atomic_store(&S->stop_sub, 1);
    if (pub > 0)
        waitpid(pub, NULL, 0);
    waitpid(sub, NULL, 0);
    if (rc)
        return rc;

    long hz = sysconf(_SC_CLK_TCK);
    double win = (double)(tb - ta) / 1e9, got = (double)(r1 - r0), zm = (double)(z1 - z0);
    double us = 1e6 / (double)hz / (got > 0 ? got : 1);
    double brk = (double)(b[0].ticks - a[0].ticks) * us, sb = (double)(b[1].ticks - a[1].ticks) * us;
    double pubu = (double)(b[2].ticks - a[2].ticks) * 1e6 / (double)hz / (double)(s1 - s0 ? s1 - s0 : 1);
    double hcs = (double)(b[0].cs - a[0].cs + b[1].cs - a[1].cs) / (got > 0 ? got : 1);
    double pcs = (double)(b[2].cs - a[2].cs) / (double)(s1 - s0 ? s1 - s0 : 1);
    double burst = (w1 - w0) ? zm / (double)(w1 - w0) : zm;
    uint64_t n = 0;
    for (int i = 0; i < HIST_N; i++)
        n += S->hist[i];
    uint64_t p50 = s_pct(S->hist, n, 0.50), p99 = s_pct(S->hist, n, 0.99), mx = 0;
    for (int i = HIST_N - 1; i >= 0; i--)
        if (S->hist[i]) { mx = (uint64_t)i; break; }
    uint64_t lost = atomic_load(&S->sent) - atomic_load(&S->recv);
    char off[16], bst[16];
    snprintf(off, sizeof off, "%ld", cfg.rate);
    snprintf(bst, sizeof bst, "%.1f", burst);   /* at saturation it waits for credit instead */
    printf("%-8s %5ld %9.0f %9.0f | %8.2f %8.2f %8.2f | %7.2f %7.2f | %8.2f %6.2f %6s | %7" PRIu64
           " %8" PRIu64 " %6" PRIu64 "\n", cfg.rate ? off : "max", cfg.batch, got / win, zm / win,
           brk, sb, brk + sb, hcs, hcs * got / (zm > 0 ? zm : 1), pubu, pcs, cfg.rate ? bst : "-",
           p50, p99, lost);
    printf("BENCH bus rate=%ld batch=%ld users=%ld size=%ld window_s=%.2f chats_per_s=%.0f "
           "zmq_msgs_per_s=%.0f broker_cpu_us_per_chat=%.2f sub_cpu_us_per_chat=%.2f "
           "hop_cpu_us_per_chat=%.2f broker_cpu_ms=%.0f sub_cpu_ms=%.0f hop_cs_per_chat=%.3f "
           "broker_cs_per_chat=%.3f sub_cs_per_chat=%.3f pub_cpu_us_per_chat=%.2f pub_cs_per_chat=%.3f "
           "pub_msgs_per_wakeup=%.2f pub_blocked=%" PRIu64 " pub_behind=%" PRIu64 " p50_us=%" PRIu64
           " p99_us=%" PRIu64 " max_us=%" PRIu64 " sent=%" PRIu64 " recv=%" PRIu64 " lost=%" PRIu64
           " gaps=%" PRIu64 " disorder=%" PRIu64 " bad=%" PRIu64 " sockets=%ld active=%ld subscribe_s=%.3f"
           " subscribe_call_s=%.3f broker_rss_kb_before=%ld broker_rss_kb_subscribed=%ld"
           " broker_hwm_kb_subscribed=%ld broker_rss_kb_end=%ld sub_rss_kb_subscribed=%ld"
           " broker_cpu_ms_at_sync=%.0f\n",
           cfg.rate, cfg.batch, cfg.users, cfg.size, win, got / win, zm / win, brk, sb, brk + sb,
           brk * got / 1000, sb * got / 1000, hcs,
           (double)(b[0].cs - a[0].cs) / (got > 0 ? got : 1),
           (double)(b[1].cs - a[1].cs) / (got > 0 ? got : 1), pubu, pcs, burst, S->blocked,
           S->behind, p50, p99, mx, atomic_load(&S->sent), atomic_load(&S->recv), lost, S->gaps,
           S->disorder, S->bad, cfg.sockets, cfg.active, (double)(tsync - S->t_sub0) / 1e9,
           (double)(S->t_sub1 - S->t_sub0) / 1e9, rss_before, rss_subs, hwm_subs, rss_end,
           sub_rss, (double)at_sync.ticks * 1000 / (double)hz);
    return lost || S->bad || S->disorder ? 1 : 0;
}
