/* worker — see worker.h. The loop reads as a list of verbs; the modules
 * are created and wired here, and nowhere else. */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "bus.h"
#include "client.h"
#include "clock.h"
#include "conn.h"
#include "deliver.h"
#include "gate.h"
#include "handshake.h"
#include "log.h"
#include "member.h"
#include "metrics.h"
#include "pace.h"
#include "pending.h"
#include "push.h"
#include "route.h"
#include "session.h"
#include "status.h"

#define MAX_EVENTS 512
#define TICK_MS    20
#define STALL_MS   500      /* a loop turn this long: the process stalled */

/* epoll data: fds of conns are their own key; the rest are tagged */
#define TAG_LISTEN (1ULL << 40)
#define TAG_BUS    (2ULL << 40)
#define TAG_SIGNAL (3ULL << 40)
#define TAG_STATUS (6ULL << 40)     /* settings from the supervisor */
#define TAG_API    (4ULL << 40)
#define TAG_APICONN (5ULL << 40)
#define TAG_MASK   (0xffULL << 40)

struct worker;

/* A listening socket of the worker. s_accept() takes connections until
 * EAGAIN and hands each fd to take(); on EMFILE and the like it takes the
 * listener out of epoll for 100 ms and keeps serving (nginx's answer),
 * logging once per episode, and s_accept_resume(), called every turn,
 * puts it back. */
typedef struct acceptor {
    int           fd;
    uint64_t      tag;              /* epoll data: tag | fd */
    const char   *what;             /* for log lines */
    void        (*take)(void *arg, int fd, const struct sockaddr *peer, socklen_t len);
    void         *arg;
    int           paused;
    int           episode;          /* paused since the last accept that worked */
    int64_t       resume_at;
} acceptor_t;

typedef struct worker {
    worker_cfg_t *cfg;
    options_t    *opt;              /* live options (the supervisor sends reloads) */
    int           epfd;
    int           stopping;         /* SIGTERM seen: closing every session */
    int           draining;         /* SIGUSR1 (rotation): no new sessions */
    int64_t       now;              /* clock_now_ms() at the top of the turn */
    int           conns_cap;        /* the fd table's size */
    api_t        *api;              /* NULL when --api-listen off */
    bus_t        *bus;
    struct core  *core;             /* the modules */
} worker_t;

struct core {
    idgen_t     ids;
    conns_t    *conns;
    routes_t   *routes;
    members_t  *members;
    sessions_t *sessions;
    gate_t     *gate;               /* limits, origins, JWT, token deadlines */
    pending_t  *pending;
    push_t      push;
    client_t    client;
    deliver_t   deliver;
    acceptor_t  ws_listener;        /* --listen */
    acceptor_t  api_listener;       /* --api-listen (fd -1: off) */
    int64_t     stop_deadline;
    int64_t     next_online_log;
    int         ready_sent;
};

/* ---- accepting -------------------------------------------------------- */

static void
s_accept(worker_t *w, acceptor_t *a)
{
    while (!w->stopping && !w->draining && !a->paused) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = accept4(a->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            a->episode = 0;
            a->take(a->arg, fd, (struct sockaddr *)&peer, plen);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* nginx's answer: stop accepting for a moment, keep serving;
             * one log line per episode, not one per retry */
            if (!a->episode)
                log_warn("%s; pausing accepts, retrying every 100 ms", a->what);
            a->episode = 1;
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, a->fd, NULL);
            a->paused = 1;
            a->resume_at = w->now + 100;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            log_warn("%s", a->what);
        }
        return;
    }
}

static void
s_accept_resume(worker_t *w, acceptor_t *a)
{
    if (!a->paused || w->now < a->resume_at || w->stopping || w->draining)
        return;
    a->paused = 0;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = a->tag | (uint64_t)a->fd };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, a->fd, &ev) == 0)
        s_accept(w, a);
}

/* The per-address and per-worker limits are the gate's. */
static void
s_take_conn(void *arg, int fd, const struct sockaddr *peer, socklen_t len)
{
    struct core *k = ((worker_t *)arg)->core;
    conn_t *c = conn_accept(k->conns, fd);
    if (c)
        gate_accept(k->gate, k->conns, c, peer, len);
}

static void
s_take_api(void *arg, int fd, const struct sockaddr *peer, socklen_t len)
{
    (void)peer;
    (void)len;
    api_take(*(api_t **)arg, fd);
}

static int
s_epoll_add(worker_t *w, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = { .events = events, .data.u64 = tag | (uint64_t)fd };
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- the callbacks that wire the modules ------------------------------ */

/* The gate first (limits, then the JWT): a refusal is answered instead of
 * the 101; an admitted session carries its token's deadline. */
static int
s_on_upgrade(void *arg, conn_t *c, conn_upgrade_t *u)
{
    struct core *k = ((worker_t *)arg)->core;
    int64_t deadline;
    if (gate_upgrade(k->gate, c, u, &deadline))
        return 1;
    if (session_attach(k->sessions, c, u->user, u->since) < 0)
        return -1;
    return gate_start(k->gate, &c->sess->ticket, c, deadline);
}

static void
s_on_text(void *arg, conn_t *c, const char *text, size_t len)
{
    client_on_text(&((worker_t *)arg)->core->client, c, text, len);
}

static void
s_on_reject(void *arg, conn_t *c, const char *text, size_t len, int refused)
{
    client_on_reject(&((worker_t *)arg)->core->client, c, text, len, refused);
}

static void
s_on_closed(void *arg, conn_t *c)
{
    struct core *k = ((worker_t *)arg)->core;
    if (c->sess)
        gate_forget(k->gate, &c->sess->ticket);
    session_detach(k->sessions, c);
}

static void
s_on_freed(void *arg, conn_t *c)
{
    gate_freed(((worker_t *)arg)->core->gate, c);
}

/* Completions for the API (deliver.h); arg is &w->api, NULL when off. */
static void
s_api_push_done(void *arg, int fd, uint32_t gen, const char *mid, const char *status)
{
    api_push_done(*(api_t **)arg, fd, gen, mid, status);
}

static void
s_api_online_done(void *arg, int fd, uint32_t gen, int64_t users, int64_t sessions)
{
    api_online_done(*(api_t **)arg, fd, gen, users, sessions);
}

static void
s_api_presence_done(void *arg, int fd, uint32_t gen, const env_t *e)
{
    api_presence_done(*(api_t **)arg, fd, gen, e);
}

static void
s_api_history_item(void *arg, int fd, uint32_t gen, const char *frame, size_t n)
{
    api_history_item(*(api_t **)arg, fd, gen, frame, n);
}

static void
s_api_history_done(void *arg, int fd, uint32_t gen, const env_t *e)
{
    api_history_done(*(api_t **)arg, fd, gen, e);
}

static int
s_api_history(void *arg, const char *user, const char *since, int fd, uint32_t gen)
{
    worker_t *w = arg;
    char topic[TOPIC_MAX];
    size_t tn = topic_make(topic, TOPIC_USER, user, strlen(user));
    push_waiter_t wt = { PQ_API_HISTORY, fd, gen, NULL, 0 };
    return tn && push_history(&w->core->push, topic, tn, since, &wt) ? 0 : -1;
}

/* What the HTTP API asks of the core (api_events_t). */
static int
s_api_push(void *arg, env_kind_t kind, const char *target, const char *sender,
           const char *msg, size_t msg_len, char *mid, int fd, uint32_t gen)
{
    worker_t *w = arg;
    const char *s = sender ? sender : "system";
    push_waiter_t wt = { kind == ENV_CHAT ? PQ_API_SEND : 0, fd, gen, NULL, 0 };
    if (push_message(&w->core->push, kind, target, target ? strlen(target) : 0, s, strlen(s),
                     msg, msg_len, mid, &wt) < 0)
        return -1;
    metrics_inc(kind == ENV_CHAT ? M_ROUTED_CHAT : kind == ENV_GROUP ? M_ROUTED_GROUP
                                                                      : M_ROUTED_BCAST);
    if (kind != ENV_CHAT)
        metrics_inc(M_ACK_SENT);
    return 0;
}

static int
s_query(worker_t *w, env_kind_t kind, const char *const *users, size_t n, int fd, uint32_t gen)
{
    env_str_t u[ENV_USERS_MAX];
    if (n > ENV_USERS_MAX)
        return -1;
    for (size_t i = 0; i < n; i++)
        u[i] = env_cstr(users[i]);
    pq_kind_t pk = fd < 0 ? PQ_ONLINE : kind == ENV_ONLINE ? PQ_API_ONLINE : PQ_API_PRESENCE;
    push_waiter_t wt = { pk, fd, gen, NULL, 0 };
    return push_query(&w->core->push, kind, u, n, &wt);
}

static int
s_api_query(void *arg, env_kind_t kind, const char *const *users, size_t n, int fd,
            uint32_t gen)
{
    return s_query(arg, kind, users, n, fd, gen);
}

static int
s_api_bus_up(void *arg)
{
    return bus_up(((worker_t *)arg)->bus);
}

/* ---- signals, stop, rotation -------------------------------------------- */

/* SIGTERM: stop accepting, close every session with 1001 behind what is
 * already queued, and leave once they are gone or the deadline passed. */
static void
s_begin_stop(worker_t *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    w->core->stop_deadline = w->now + (int64_t)w->opt->shutdown_timeout * 1000 - 500;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->listen_fd, NULL);
    if (w->cfg->api_fd >= 0)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->api_fd, NULL);
    api_wind_down(w->api);
    log_info("stopping: closing %d connections", conns_count(w->core->conns));
    conns_close_all(w->core->conns, 1001, "server shutting down");
}

/* SIGUSR1, sent by the supervisor during a rotation once this slot's new
 * worker listens: accept nothing more, let the sessions end by themselves,
 * and close the rest with 1001 at the shutdown deadline. */
static void
s_begin_drain(worker_t *w)
{
    if (w->stopping || w->draining)
        return;
    w->draining = 1;
    w->core->stop_deadline = w->now + (int64_t)w->opt->shutdown_timeout * 1000;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->listen_fd, NULL);
    if (w->cfg->api_fd >= 0)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->api_fd, NULL);
    api_wind_down(w->api);
    log_info("draining: %d connections stay until they close (deadline %d s)",
             conns_count(w->core->conns), w->opt->shutdown_timeout);
}

/* The status fd is readable: settings the supervisor sends after SIGHUP
 * (status.h). It read the config file once for every worker; the worker
 * never reads it. Each datagram is one reload, applied and logged in
 * order. If the supervisor's end is gone, the fd leaves epoll (PDEATHSIG
 * stops this worker). */
static void
s_reload(worker_t *w)
{
    static options_t next;          /* 17 KB: not on the stack */
    int r;
    while ((r = status_recv_options(w->cfg->status_fd, &next)) == 1) {
        *w->opt = next;
        log_set_verbosity(next.verbose);
        gate_reload(w->core->gate);
        log_info("reloaded: max-message %zu, rate-limit %d, max-outbound %zu, max-groups %d",
                 next.max_message, next.rate_limit, next.max_outbound, next.max_groups);
    }
    if (r < 0)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->status_fd, NULL);
}

static void
s_on_signal(worker_t *w, int sfd)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == sizeof si) {
        switch (si.ssi_signo) {
        case SIGTERM:
        case SIGINT:
            s_begin_stop(w);
            break;
        case SIGHUP:                /* the supervisor reloads: see s_reload() */
            break;
        case SIGUSR1:
            s_begin_drain(w);
            break;
        default:
            break;
        }
    }
}

/* Cluster-wide counts in the debug log, from the first worker only. */
static void
s_log_online(worker_t *w)
{
    if (log_verbosity() < 1 || w->cfg->slot != 0 || w->now < w->core->next_online_log)
        return;
    w->core->next_online_log = w->now + 10000;
    s_query(w, ENV_ONLINE, NULL, 0, -1, 0);
}

static void
s_report(worker_t *w)
{
    if (!w->core->ready_sent && bus_up(w->bus)) {
        w->core->ready_sent = 1;
        log_info("worker %d ready", w->cfg->slot);
        status_send(w->cfg->status_fd, STATUS_READY, w->cfg->slot, 0, 0);
    }
}

/* ---- setup -------------------------------------------------------------- */

static int
s_core_new(worker_t *w, struct core *k)
{
    uint64_t rnd;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint64_t)getpid() << 32 ^ (uint64_t)clock_wall_ms();
    snprintf(k->ids.origin, sizeof k->ids.origin, "%016llx", (unsigned long long)rnd);

    conn_events_t ev = { .on_upgrade = s_on_upgrade, .on_text = s_on_text,
                         .on_reject = s_on_reject, .on_closed = s_on_closed, .arg = w,
                         .on_freed = s_on_freed };
    char why[PATH_MAX + 200];
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd ^= (uint64_t)clock_now_us();
    if (!(k->gate = gate_new(w->opt, w->conns_cap, rnd, why, sizeof why))) {
        int config = errno == EINVAL;
        log_errx("%s", why);
        return config ? -2 : -1;
    }
    bus_cfg_t bc = { &w->cfg->brokers, k->ids.origin, &w->now, w->opt->bus_hwm,
                     deliver_on_message, &k->deliver, &w->cfg->curve };
    if (!(k->conns = conns_new(w->epfd, 0, w->conns_cap, w->opt, &w->now, &ev))
        || !(k->pending = pending_new()) || !(w->bus = bus_new(&bc))
        || !(k->routes = routes_new(w->bus, &w->now))
        || !(k->members = members_new(k->routes, k->conns, &k->push, &w->now))
        || !(k->sessions = sessions_new(k->conns, k->routes, k->members, w->bus, &k->push,
                                        &k->ids, w->opt)))
        return -1;
    k->push = (push_t){ w->bus, k->pending, &k->ids, &w->now };
    k->client = (client_t){ k->conns, k->members, &k->push, w->opt, k->gate };
    conns_set_handshake(k->conns, gate_handshake(k->gate));
    k->deliver = (deliver_t){ .conns = k->conns, .sessions = k->sessions, .members = k->members,
                              .routes = k->routes, .bus = w->bus, .pending = k->pending,
                              .ids = &k->ids, .now = &w->now,
                              .api = { s_api_push_done, s_api_online_done, s_api_presence_done,
                                       s_api_history_item, s_api_history_done, &w->api } };
    k->ws_listener = (acceptor_t){ w->cfg->listen_fd, TAG_LISTEN, "accept", s_take_conn, w,
                                   0, 0, 0 };
    k->api_listener = (acceptor_t){ w->cfg->api_fd, TAG_API, "api: accept", s_take_api, &w->api,
                                    0, 0, 0 };
    return 0;
}

static void
s_core_destroy(worker_t *w, struct core *k)
{
    conns_destroy(&k->conns);       /* sessions detach on the way out */
    gate_destroy(&k->gate);         /* after the conns: each is uncounted */
    api_destroy(&w->api);
    sessions_destroy(&k->sessions);
    members_destroy(&k->members);
    routes_destroy(&k->routes);
    bus_destroy(&w->bus);
    pending_destroy(&k->pending);
    deliver_free(&k->deliver);
}

static int
s_idle(worker_t *w)
{
    return conns_count(w->core->conns) == 0 && api_count(w->api) == 0;
}

int
worker_run(worker_cfg_t *cfg)
{
    worker_t w = { 0 };
    struct core k = { 0 };
    int rc = 1, sfd = -1;
    w.cfg = cfg;
    w.opt = &cfg->opt;
    w.core = &k;
    w.now = clock_now_ms();
    signal(SIGPIPE, SIG_IGN);
    metrics_attach(cfg->slot);

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    w.conns_cap = rl.rlim_cur > 1048576 ? 1048576 : (int)rl.rlim_cur;
    w.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w.epfd < 0) {
        log_err("worker setup");
        goto done;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    int setup = s_core_new(&w, &k);
    if (setup < 0) {
        if (setup == -2) {
            rc = 2;                 /* a key file gone bad since it was checked */
            goto done;
        }
        log_errx("worker setup failed");
        goto done;
    }
    if (cfg->api_fd >= 0) {
        api_cfg_t ac = { w.epfd, TAG_APICONN, w.conns_cap, w.opt, &w.now,
                         { .push = s_api_push, .query = s_api_query, .bus_up = s_api_bus_up,
                           .history = s_api_history, .arg = &w } };
        if (!(w.api = api_new(&ac)) || s_epoll_add(&w, cfg->api_fd, EPOLLIN, TAG_API) < 0) {
            log_err("api setup");
            goto done;
        }
    }
    int bfds[SHARD_MAX * 2], nb = bus_fds(w.bus, bfds, SHARD_MAX * 2), bad = 0;
    for (int i = 0; i < nb; i++)
        bad |= s_epoll_add(&w, bfds[i], EPOLLIN | EPOLLET, TAG_BUS) < 0;
    if (bad || s_epoll_add(&w, cfg->listen_fd, EPOLLIN, TAG_LISTEN) < 0
        || s_epoll_add(&w, sfd, EPOLLIN, TAG_SIGNAL) < 0
        || s_epoll_add(&w, cfg->status_fd, EPOLLIN, TAG_STATUS) < 0) {
        log_err("epoll_ctl");
        goto done;
    }
    for (int i = 0; i < cfg->brokers.n; i++)
        log_debug("worker %d: inbox %s, broker %s %s", cfg->slot, k.ids.origin,
                  cfg->brokers.shard[i].broker[0].pub, cfg->brokers.shard[i].broker[0].sub);

    struct epoll_event ev[MAX_EVENTS];
    struct timespec timeout = { 0, 0 };
    pace_t pace;
    pace_init(&pace, w.opt->turn_us);
    for (;;) {
        pace.turn_us = w.opt->turn_us;      /* reloadable */
        /* busy: the next turn starts at the next point of the turn_us grid
         * (pace.h), never later than a timer is due; what the bus brings
         * meanwhile is written out at once in a turn that reads no client
         * (their edges wait in epoll for the grid's turn) */
        int paced = pace_wait(&pace, timeout.tv_sec * 1000000 + timeout.tv_nsec / 1000, bfds, nb);
        int n = 0;
        if (paced != PACE_WOKEN) {
            if (paced == PACE_SLEPT)
                timeout = (struct timespec){ 0, 0 };
            n = epoll_pwait2(w.epfd, ev, MAX_EVENTS, &timeout, NULL);
            if (n < 0 && errno != EINTR) {
                log_err("epoll_wait");
                goto done;
            }
        }
        pace_turn(&pace, n > 0 || paced == PACE_WOKEN);
        int64_t before = w.now;
        w.now = clock_now_ms();
        if (w.now - before > STALL_MS)
            bus_stalled(w.bus);             /* stopped or starved: what is queued is late */
        for (int i = 0; i < n; i++) {
            uint64_t d = ev[i].data.u64;
            switch (d & TAG_MASK) {
            case TAG_LISTEN: s_accept(&w, &k.ws_listener); break;
            case TAG_BUS:    break;          /* drained below, every turn */
            case TAG_SIGNAL: s_on_signal(&w, sfd); break;
            case TAG_STATUS: s_reload(&w); break;
            case TAG_API:    s_accept(&w, &k.api_listener); break;
            case TAG_APICONN: api_on_ready(w.api, (int)(d & 0xffffffffu), ev[i].events); break;
            default: {
                conn_t *c = conns_get(k.conns, (int)d);
                if (c)
                    conn_on_ready(k.conns, c, ev[i].events);
            }
            }
        }
        bus_tick(w.bus, sessions_count(k.sessions), (int64_t)routes_users(k.routes));
        route_tick(k.routes);               /* probes of routes not live */
        members_tick(k.members);            /* joins not live in time */
        deliver_expire(&k.deliver);         /* acks and queries past due */
        conns_timers(k.conns);              /* handshake, pending, ping, linger */
        gate_expire(k.gate, k.conns);       /* sessions whose token expired: 4003 */
        api_timers(w.api);
        s_log_online(&w);
        s_accept_resume(&w, &k.ws_listener);
        if (w.api)
            s_accept_resume(&w, &k.api_listener);
        bus_drain(w.bus);                   /* ZMQ_FD is edge-triggered */
        if (deliver_confirmed(&k.deliver))  /* receipts leave before their chats */
            bus_flush(w.bus, clock_now_us(), 0);
        conns_settle(k.conns);              /* deferred opens and closes */
        conns_flush(k.conns);               /* one write per conn per turn */
        api_flush(w.api);
        conns_reap(k.conns);                /* the only place a conn is freed */
        api_reap(w.api);
        s_report(&w);
        if (w.draining && (s_idle(&w) || w.now >= k.stop_deadline)) {
            w.draining = 0;                 /* deadline: now close like a stop */
            s_begin_stop(&w);
            k.stop_deadline = w.now + 2000;
        }
        if (w.stopping && (s_idle(&w) || w.now >= k.stop_deadline))
            break;
        /* last: everything this turn published leaves in one burst */
        int64_t wait_us = bus_flush(w.bus, clock_now_us(), w.opt->bus_batch_us);
        if (bus_pending(w.bus))
            wait_us = 0;
        else if (wait_us < 0 || wait_us > TICK_MS * 1000)
            wait_us = TICK_MS * 1000;
        timeout = (struct timespec){ wait_us / 1000000, wait_us % 1000000 * 1000 };
    }
    bus_flush(w.bus, clock_now_us(), 0);    /* what the last turn published */
    if (conns_count(k.conns))
        log_warnx("stopping with %d connections left at the deadline", conns_count(k.conns));
    rc = 0;
done:
    s_core_destroy(&w, &k);
    if (w.epfd >= 0)
        close(w.epfd);
    if (sfd >= 0)
        close(sfd);
    return rc;
}
