/* worker — see worker.h. The loop reads as a list of verbs. */
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
#include "clock.h"
#include "conn.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "pending.h"
#include "route.h"
#include "status.h"

#define RBUF_LEN   (64 * 1024)
#define MAX_EVENTS 512
#define TICK_MS    20

/* epoll data: fds of conns are their own key; the rest are tagged */
#define TAG_LISTEN (1ULL << 40)
#define TAG_BUS    (2ULL << 40)
#define TAG_SIGNAL (3ULL << 40)
#define TAG_API    WORKER_TAG_API
#define TAG_APICONN WORKER_TAG_APICONN
#define TAG_MASK   (0xffULL << 40)

size_t
worker_new_id(worker_t *w, char *buf)
{
    int n = snprintf(buf, 40, "%s-%llx", w->origin, (unsigned long long)++w->seq);
    return n > 0 ? (size_t)n : 0;
}

void
worker_accept(worker_t *w, acceptor_t *a)
{
    while (!w->stopping && !w->draining && !a->paused) {
        int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            a->take(w, fd);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* nginx's answer: stop accepting for a moment, keep serving */
            log_warn("%s (%d connections); pausing accepts for 100 ms", a->what, w->nconns);
            epoll_ctl(w->epfd, EPOLL_CTL_DEL, a->fd, NULL);
            a->paused = 1;
            a->resume_at = w->now + 100;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            log_warn("%s", a->what);
        }
        return;
    }
}

static int
s_epoll_add(worker_t *w, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = { .events = events, .data.u64 = tag | (uint64_t)fd };
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void
worker_accept_resume(worker_t *w, acceptor_t *a)
{
    if (!a->paused || w->now < a->resume_at || w->stopping || w->draining)
        return;
    a->paused = 0;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = a->tag | (uint64_t)a->fd };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, a->fd, &ev) == 0)
        worker_accept(w, a);
}

static void
s_take_conn(worker_t *w, int fd)
{
    conn_accept(w, fd);
}

/* SIGTERM: stop accepting, close every session with 1001 behind what is
 * already queued, and leave once they are gone or the deadline passed. */
static void
s_begin_stop(worker_t *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    w->stop_deadline = w->now + (int64_t)w->opt->shutdown_timeout * 1000 - 500;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->listen_fd, NULL);
    if (w->cfg->api_fd >= 0)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->api_fd, NULL);
    log_info("stopping: closing %d connections", w->nconns);
    for (int fd = 0; fd < w->conns_cap; fd++) {
        conn_t *c = w->conns[fd];
        if (c && c->state != CONN_DEAD)
            conn_close(w, c, 1001, "server shutting down");
    }
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
    w->stop_deadline = w->now + (int64_t)w->opt->shutdown_timeout * 1000;
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->listen_fd, NULL);
    if (w->cfg->api_fd >= 0)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->cfg->api_fd, NULL);
    log_info("draining: %d connections stay until they close (deadline %d s)", w->nconns,
             w->opt->shutdown_timeout);
}

static void
s_reload(worker_t *w)
{
    options_t next;
    if (options_reload(w->opt, &next, NULL, 0) != OPT_RUN) {
        log_warnx("reload: config file has errors; keeping the running settings");
        return;
    }
    *w->opt = next;
    log_set_verbosity(next.verbose);
    log_info("reloaded: max-message %zu, rate-limit %d, max-outbound %zu, max-groups %d",
             next.max_message, next.rate_limit, next.max_outbound, next.max_groups);
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
        case SIGHUP:
            s_reload(w);
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
    if (log_verbosity() < 1 || w->cfg->slot != 0 || w->now < w->next_online_log)
        return;
    w->next_online_log = w->now + 10000;
    handle_query(w, ENV_ONLINE, NULL, 0, -1, 0);
}

static void
s_report(worker_t *w)
{
    if (!w->ready_sent && bus_up(w->bus)) {
        w->ready_sent = 1;
        log_info("worker %d ready", w->cfg->slot);
        status_send(w->cfg->status_fd, STATUS_READY, w->cfg->slot, 0, 0);
    }
}

int
worker_run(worker_cfg_t *cfg)
{
    worker_t w = { 0 };
    int rc = 1, sfd = -1;
    w.cfg = cfg;
    w.opt = &cfg->opt;
    w.now = clock_now_ms();
    signal(SIGPIPE, SIG_IGN);
    metrics_attach(cfg->slot);
    for (int i = 0; i < TL_COUNT; i++)
        list_init(&w.timers[i]);
    list_init(&w.dirty);
    list_init(&w.reap);

    uint64_t rnd;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint64_t)getpid() << 32 ^ (uint64_t)clock_wall_ms();
    snprintf(w.origin, sizeof w.origin, "%016llx", (unsigned long long)rnd);

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    w.conns_cap = rl.rlim_cur > 1048576 ? 1048576 : (int)rl.rlim_cur;
    w.conns = calloc((size_t)w.conns_cap, sizeof *w.conns);
    w.rbuf_len = RBUF_LEN;
    w.rbuf = malloc(w.rbuf_len);
    w.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!w.conns || !w.rbuf || w.epfd < 0) {
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

    if (!(w.pending = pending_new()) || !(w.routes = routes_new(&w))
        || !(w.bus = bus_new(&w)))
        goto done;
    w.ws_listener = (acceptor_t){ cfg->listen_fd, TAG_LISTEN, "accept", s_take_conn, 0, 0 };
    w.api_listener = (acceptor_t){ cfg->api_fd, TAG_API, "api: accept", api_take, 0, 0 };
    if (cfg->api_fd >= 0) {
        if (!(w.api = api_new(&w)) || s_epoll_add(&w, cfg->api_fd, EPOLLIN, TAG_API) < 0) {
            log_err("api setup");
            goto done;
        }
    }
    if (s_epoll_add(&w, cfg->listen_fd, EPOLLIN, TAG_LISTEN) < 0
        || s_epoll_add(&w, bus_fd(w.bus), EPOLLIN | EPOLLET, TAG_BUS) < 0
        || s_epoll_add(&w, sfd, EPOLLIN, TAG_SIGNAL) < 0) {
        log_err("epoll_ctl");
        goto done;
    }
    log_debug("worker %d: inbox %s, broker %s %s", cfg->slot, w.origin, cfg->pub_ep, cfg->sub_ep);

    struct epoll_event ev[MAX_EVENTS];
    int timeout = 0;
    for (;;) {
        int n = epoll_wait(w.epfd, ev, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            log_err("epoll_wait");
            goto done;
        }
        w.now = clock_now_ms();
        for (int i = 0; i < n; i++) {
            uint64_t d = ev[i].data.u64;
            switch (d & TAG_MASK) {
            case TAG_LISTEN: worker_accept(&w, &w.ws_listener); break;
            case TAG_BUS:    break;          /* drained below, every turn */
            case TAG_SIGNAL: s_on_signal(&w, sfd); break;
            case TAG_API:    worker_accept(&w, &w.api_listener); break;
            case TAG_APICONN: api_on_ready(&w, (int)(d & 0xffffffffu), ev[i].events); break;
            default: {
                conn_t *c = w.conns[(int)d];
                if (c)
                    conn_on_ready(&w, c, ev[i].events);
            }
            }
        }
        bus_tick(w.bus);                    /* inbox probe, stats */
        route_tick(w.routes);               /* probes of routes not live */
        handle_expire(&w);                  /* acks and queries past due */
        conn_timers(&w);                    /* handshake, pending, ping, linger */
        if (w.api)
            api_timers(&w);
        s_log_online(&w);
        worker_accept_resume(&w, &w.ws_listener);
        if (w.api)
            worker_accept_resume(&w, &w.api_listener);
        bus_drain(w.bus);                   /* ZMQ_FD is edge-triggered */
        conn_flush_all(&w);                 /* one write per conn per turn */
        if (w.api)
            api_flush(&w);
        conn_reap(&w);                      /* the only place a conn is freed */
        if (w.api)
            api_reap(&w);
        s_report(&w);
        int idle = w.nconns == 0 && (!w.api || api_count(&w) == 0);
        if (w.draining && (idle || w.now >= w.stop_deadline)) {
            w.draining = 0;                 /* deadline: now close like a stop */
            s_begin_stop(&w);
            w.stop_deadline = w.now + 2000;
        }
        if (w.stopping && ((w.nconns == 0 && (!w.api || api_count(&w) == 0))
                           || w.now >= w.stop_deadline))
            break;
        timeout = bus_pending(w.bus) ? 0 : TICK_MS;
    }
    if (w.nconns)
        log_warnx("stopping with %d connections left at the deadline", w.nconns);
    rc = 0;
done:
    for (int fd = 0; w.conns && fd < w.conns_cap; fd++)
        if (w.conns[fd])
            conn_drop(&w, w.conns[fd]);
    conn_reap(&w);
    api_destroy(&w.api);
    bus_destroy(&w.bus);
    routes_destroy(&w.routes);
    pending_destroy(&w.pending);
    free(w.conns);
    free(w.rbuf);
    free(w.targets);
    buf_free(&w.frame);
    buf_free(&w.wire);
    conn_encoder_free(&w);
    buf_free(&w.ctl);
    if (w.epfd >= 0)
        close(w.epfd);
    if (sfd >= 0)
        close(sfd);
    return rc;
}
