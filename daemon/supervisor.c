/* supervisor — see supervisor.h. */
#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "status.h"
#include "worker.h"

#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  30000
#define STABLE_MS       10000

typedef enum { ROLE_BROKER, ROLE_WORKER } role_t;

typedef struct {
    role_t   role;
    int      slot;
    pid_t    pid;               /* 0: not running */
    int      gen;               /* worker generation (SIGUSR2) */
    int      status_fd;         /* supervisor's end of the status pair */
    int      ready;
    int64_t  started;
    int64_t  respawn_at;        /* 0: none scheduled */
    int64_t  backoff;
    int      opt_pending;       /* reloaded settings not sent yet (queue full) */
} child_t;

typedef struct {
    options_t *opt;
    pid_t      pid;             /* the supervisor's, for children to check */
    char       pub[256], sub[256];  /* the embedded broker's */
    shard_spec_t brokers;       /* what workers connect to (options_brokers) */
    char       brokers_text[SHARD_SPEC_MAX + 64];  /* for logs */
    int        epfd, sfd;
    int        lock_fd;         /* runtime lock (runtime.h) */
    int       *listen_fds;      /* per slot */
    int       *api_fds;         /* per slot, or NULL when --api-listen off */
    child_t    broker;
    child_t   *workers;         /* current generation, per slot */
    child_t   *old;             /* draining generation (SIGUSR2), or NULL */
    int        gen;
    int        broker_starts;   /* how often the embedded broker was started */
    int        stopping;
    int64_t    stop_deadline;
    int        announced;       /* "ready:" logged, READY=1 sent */
    uint64_t   watchdog_usec;
    int64_t    next_watchdog, next_status;
    int        exit_code;
    int        config_error;    /* a child exited 2: stop, then exit 2 */
} sup_t;

static void s_begin_stop(sup_t *s);

/* In a child, right after fork: close every fd of the supervisor's that
 * this child does not own. A fork without exec keeps them all (O_CLOEXEC
 * acts at exec only): a child would hold the runtime lock, so that after
 * kill -9 of the supervisor a new zwsd could not take it while orphans
 * live, and its siblings' status sockets and listeners. A worker keeps its
 * own slot's listener, API listener and status fd; the broker keeps none. */
static void
s_close_inherited(sup_t *s, child_t *ch)
{
    close(s->epfd);
    close(s->sfd);
    close(s->lock_fd);
    for (int i = 0; i < s->opt->workers; i++) {
        child_t *peers[2] = { &s->workers[i], s->old ? &s->old[i] : NULL };
        for (int g = 0; g < 2; g++)
            if (peers[g] && peers[g] != ch && peers[g]->status_fd >= 0)
                close(peers[g]->status_fd);
        if (ch->role == ROLE_WORKER && i == ch->slot)
            continue;
        close(s->listen_fds[i]);
        if (s->api_fds)
            close(s->api_fds[i]);
    }
}

static void
s_child_exec(sup_t *s, child_t *ch)
{
    /* in the child: only what this process needs survives */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* the supervisor alone reads the config file and hands the result down
     * (status.h): a SIGHUP to the process group must not stop a child */
    signal(SIGHUP, SIG_IGN);
    s_close_inherited(s, ch);
    /* never outlive the supervisor, even one killed with SIGKILL; if it
     * died before prctl took effect, we are already orphaned: leave */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != s->pid)
        exit(0);
    if (ch->role == ROLE_BROKER) {
        prctl(PR_SET_NAME, "zwsd-broker");
        log_set_role("zwsd-broker");
        /* a respawned broker warms up: workers are replaying subscriptions */
        broker_cfg_t bc;
        broker_cfg_default(&bc, s->pub, s->sub);
        bc.warmup_ms = s->broker_starts > 1 ? BROKER_WARMUP_MS : 0;
        bc.hwm = s->opt->bus_hwm;
        bc.turn_us = s->opt->turn_us;
        bc.history_size = (uint32_t)s->opt->history_size;
        bc.history_ttl_ms = (int64_t)s->opt->history_ttl * 1000;
        bc.history_memory = s->opt->history_memory;
        exit(broker_run(&bc));
    }
    prctl(PR_SET_NAME, "zwsd-worker");
    log_set_role("zwsd-worker");
    worker_cfg_t cfg = { 0 };
    cfg.slot = ch->slot;
    cfg.listen_fd = s->listen_fds[ch->slot];
    cfg.api_fd = s->api_fds ? s->api_fds[ch->slot] : -1;
    cfg.status_fd = ch->status_fd;
    cfg.opt = *s->opt;
    cfg.brokers = s->brokers;
    char why[128];
    if (cfg.api_fd >= 0 && cfg.opt.api_key_file[0]
        && options_check_key_file(cfg.opt.api_key_file, why, sizeof why) < 0) {
        /* it was fine when the options were parsed, and has changed since:
         * a configuration error (exit 2), which is not respawned */
        log_errx("--api-key-file %s: %s", cfg.opt.api_key_file, why);
        exit(2);
    }
    char cwhy[PATH_MAX + 128];
    if (cfg.opt.broker_curve[0]
        && curve_client_load(cfg.opt.broker_curve, &cfg.curve, cwhy, sizeof cwhy) < 0) {
        log_errx("--broker-curve %s", cwhy);      /* as for the API key: exit 2 */
        exit(2);
    }
    exit(worker_run(&cfg));
}

static int
s_spawn(sup_t *s, child_t *ch)
{
    int sp[2] = { -1, -1 };
    if (ch->role == ROLE_WORKER && status_pair(sp) < 0) {
        log_err("socketpair");
        return -1;
    }
    if (ch->role == ROLE_BROKER)
        s->broker_starts++;
    pid_t pid = fork();
    if (pid < 0) {
        log_err("fork");
        if (sp[0] >= 0) {
            close(sp[0]);
            close(sp[1]);
        }
        return -1;
    }
    if (pid == 0) {
        if (sp[0] >= 0) {
            close(sp[0]);
            ch->status_fd = sp[1];
        }
        s_child_exec(s, ch);
    }
    ch->pid = pid;
    ch->started = clock_now_ms();
    ch->respawn_at = 0;
    ch->opt_pending = 0;                    /* forked with the current settings */
    ch->ready = ch->role == ROLE_BROKER;
    if (sp[0] >= 0) {
        close(sp[1]);
        ch->status_fd = sp[0];
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ch };
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, sp[0], &ev);
    }
    log_debug("started %s %d (pid %d)", ch->role == ROLE_BROKER ? "broker" : "worker",
              ch->slot, (int)pid);
    return 0;
}

static child_t *
s_find(sup_t *s, pid_t pid)
{
    if (s->broker.pid == pid)
        return &s->broker;
    for (int i = 0; i < s->opt->workers; i++) {
        if (s->workers[i].pid == pid)
            return &s->workers[i];
        if (s->old && s->old[i].pid == pid)
            return &s->old[i];
    }
    return NULL;
}

static void
s_reaped(sup_t *s, pid_t pid, int status)
{
    child_t *ch = s_find(s, pid);
    if (!ch)
        return;
    const char *what = ch->role == ROLE_BROKER ? "broker" : "worker";
    int64_t now = clock_now_ms();
    int is_old = s->old && ch >= s->old && ch < s->old + s->opt->workers;
    if (ch->status_fd > 0) {
        close(ch->status_fd);
        ch->status_fd = -1;
    }
    ch->pid = 0;
    ch->ready = 0;
    if (s->stopping || is_old) {
        log_info("%s %d (pid %d) exited", what, ch->slot, (int)pid);
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        /* nginx's rule: exit 2 is a configuration error; a respawned child
         * would meet it again, forever. Stop the rest gracefully, exit 2. */
        log_errx("%s %d (pid %d) exited with status 2 (configuration error); not respawning, "
                 "stopping", what, ch->slot, (int)pid);
        s->config_error = 1;
        s_begin_stop(s);
        return;
    }
    if (WIFSIGNALED(status))
        log_warnx("%s %d (pid %d) killed by signal %d; respawning", what, ch->slot, (int)pid,
                  WTERMSIG(status));
    else
        log_warnx("%s %d (pid %d) exited with status %d; respawning", what, ch->slot,
                  (int)pid, WEXITSTATUS(status));
    if (ch->role == ROLE_WORKER)
        metrics_reset_slot(ch->slot);
    metrics_attach(-1);
    metrics_inc(ch->role == ROLE_BROKER ? M_BROKER_RESTARTS : M_WORKER_RESTARTS);
    /* first death after a stable run: at once; a crash loop backs off */
    if (now - ch->started >= STABLE_MS)
        ch->backoff = 0;
    else
        ch->backoff = ch->backoff ? ch->backoff * 2 : BACKOFF_MIN_MS;
    if (ch->backoff > BACKOFF_MAX_MS)
        ch->backoff = BACKOFF_MAX_MS;
    ch->respawn_at = now + ch->backoff;
    if (ch->backoff >= 1000)
        log_warnx("%s %d is crashing; next try in %lld ms", what, ch->slot,
                  (long long)ch->backoff);
}

static void
s_signal_all(sup_t *s, int sig, int include_broker)
{
    for (int i = 0; i < s->opt->workers; i++) {
        if (s->workers[i].pid)
            kill(s->workers[i].pid, sig);
        if (s->old && s->old[i].pid)
            kill(s->old[i].pid, sig);
    }
    if (include_broker && s->broker.pid)
        kill(s->broker.pid, sig);
}

static int
s_workers_alive(sup_t *s)
{
    int n = 0;
    for (int i = 0; i < s->opt->workers; i++)
        n += (s->workers[i].pid != 0) + (s->old && s->old[i].pid != 0);
    return n;
}

static void
s_begin_stop(sup_t *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    s->stop_deadline = clock_now_ms() + (int64_t)s->opt->shutdown_timeout * 1000;
    log_info("stopping (deadline %d s)", s->opt->shutdown_timeout);
    sd_notify(0, "STOPPING=1");
    s_signal_all(s, SIGTERM, 0);            /* the broker last: workers flush */
}

/* Hands the current settings to one worker. A full queue (EAGAIN) is
 * retried from s_tick(); a worker that is gone needs nothing: its successor
 * is forked with the current settings. */
static void
s_push_options(sup_t *s, child_t *ch)
{
    ch->opt_pending = 0;
    if (!ch->pid || ch->status_fd < 0)
        return;
    if (status_send_options(ch->status_fd, s->opt) == 0)
        return;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        ch->opt_pending = 1;
    else if (errno != EPIPE && errno != ECONNRESET && errno != ECONNREFUSED)
        log_warn("reload: cannot send the settings to worker %d (pid %d)", ch->slot,
                 (int)ch->pid);
}

static void
s_push_options_all(sup_t *s, int pending_only)
{
    for (int i = 0; i < s->opt->workers; i++) {
        child_t *peers[2] = { &s->workers[i], s->old ? &s->old[i] : NULL };
        for (int g = 0; g < 2; g++)
            if (peers[g] && (!pending_only || peers[g]->opt_pending))
                s_push_options(s, peers[g]);
    }
}

/* SIGHUP: the config file is read here, once, and the result sent to every
 * worker (status.h), so no two processes can read different versions. */
static void
s_reload(sup_t *s)
{
    options_t next;
    char restart[256];
    sd_notify(0, "RELOADING=1");
    if (options_reload(s->opt, &next, restart, sizeof restart) != OPT_RUN) {
        log_warnx("reload: invalid settings (see above); nothing changed");
    } else {
        *s->opt = next;
        log_set_verbosity(next.verbose);
        log_info("reloaded %s", s->opt->config[0] ? s->opt->config : "(no config file)");
        if (restart[0])
            log_warnx("reload: changed settings that need a restart: %s", restart);
        s_push_options_all(s, 0);
    }
    if (s->announced)                       /* else READY=1 comes with the workers */
        sd_notify(0, "READY=1");
}

static void
s_rotate(sup_t *s)
{
    if (s->old || s->stopping) {
        log_warnx("rotation ignored: one is already running");
        return;
    }
    log_info("rotating workers: new generation %d", s->gen + 1);
    s->old = s->workers;
    s->workers = calloc((size_t)s->opt->workers, sizeof *s->workers);
    if (!s->workers) {
        s->workers = s->old;
        s->old = NULL;
        return;
    }
    s->gen++;
    /* all slots first: a child closes every other slot's status fd */
    for (int i = 0; i < s->opt->workers; i++)
        s->workers[i] = (child_t){ .role = ROLE_WORKER, .slot = i, .gen = s->gen, .status_fd = -1 };
    for (int i = 0; i < s->opt->workers; i++)
        s_spawn(s, &s->workers[i]);
}

static void
s_on_status(sup_t *s, child_t *ch)
{
    status_msg_t m;
    int r;
    while ((r = status_recv(ch->status_fd, &m)) == 1) {
        if (m.kind == STATUS_READY) {
            ch->ready = 1;
            /* a new generation took over this slot: the old one drains */
            if (s->old && s->old[ch->slot].pid && ch->gen == s->gen) {
                log_info("worker %d (pid %d) listens; old worker (pid %d) drains", ch->slot,
                         (int)ch->pid, (int)s->old[ch->slot].pid);
                kill(s->old[ch->slot].pid, SIGUSR1);
            }
        }
    }
    if (r < 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, ch->status_fd, NULL);
        close(ch->status_fd);
        ch->status_fd = -1;
    }
}

static void
s_check_ready(sup_t *s)
{
    if (s->announced)
        return;
    for (int i = 0; i < s->opt->workers; i++)
        if (!s->workers[i].ready)
            return;
    s->announced = 1;
    log_info("ready: %d workers on %s, api %s, broker %s", s->opt->workers,
             s->opt->listen, s->opt->api_listen, s->brokers_text);
    sd_notifyf(0, "READY=1\nSTATUS=%d workers on %s\nMAINPID=%d", s->opt->workers,
               s->opt->listen, (int)getpid());
}

static void
s_tick(sup_t *s)
{
    int64_t now = clock_now_ms();
    if (!s->stopping) {
        if (!s->broker.pid && s->broker.respawn_at && now >= s->broker.respawn_at)
            s_spawn(s, &s->broker);
        for (int i = 0; i < s->opt->workers; i++) {
            child_t *ch = &s->workers[i];
            if (!ch->pid && ch->respawn_at && now >= ch->respawn_at)
                s_spawn(s, ch);
        }
    }
    s_push_options_all(s, 1);
    if (s->old) {
        int left = 0;
        for (int i = 0; i < s->opt->workers; i++)
            left += s->old[i].pid != 0;
        if (!left) {
            free(s->old);
            s->old = NULL;
            log_info("rotation done");
        }
    }
    if (s->watchdog_usec && now >= s->next_watchdog) {
        sd_notify(0, "WATCHDOG=1");
        s->next_watchdog = now + (int64_t)(s->watchdog_usec / 2000);
    }
    if (s->announced && now >= s->next_status) {
        s->next_status = now + 2000;
        sd_notifyf(0, "STATUS=%lld connections, %lld sessions, %lld users, %d workers",
                   (long long)metrics_sum(M_CONNECTIONS), (long long)metrics_sum(M_SESSIONS),
                   (long long)metrics_sum(M_USERS), s->opt->workers);
    }
}

static void
s_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    log_info("open-file limit %llu per process", (unsigned long long)rl.rlim_cur);
}

/* Whether the link to an external broker is CURVE, and with which key:
 * the one whose certificate the broker's --curve-allow directory needs. */
static void
s_log_curve(const options_t *opt, int embedded)
{
    static curve_client_t keys;         /* a secret: not on the stack */
    char why[PATH_MAX + 128], key[CURVE_TXT_LEN + 1];
    if (!opt->broker_curve[0]) {
        if (!embedded)
            log_info("broker link: plain ZeroMQ (no --broker-curve): unauthenticated, "
                     "unencrypted");
        return;
    }
    if (curve_client_load(opt->broker_curve, &keys, why, sizeof why) < 0) {
        log_warnx("--broker-curve %s", why);    /* the workers will say so and exit 2 */
        return;
    }
    curve_key_txt(keys.self.public_key, key);
    explicit_bzero(&keys, sizeof keys);
    log_info("broker link: CURVE, this host's public key %s", key);
}

int
supervisor_run(options_t *opt)
{
    sup_t s = { 0 };
    s.opt = opt;
    s.pid = getpid();
    s.exit_code = 1;
    s.lock_fd = -1;
    int embedded = opt->broker[0] == '\0';
    options_embedded(opt, s.pub, s.sub, sizeof s.pub);
    if (options_brokers(opt, &s.brokers) < 0) {
        log_errx("--broker %s: not a broker list", opt->broker);   /* options_load checked it */
        return 2;
    }
    if (embedded)
        snprintf(s.brokers_text, sizeof s.brokers_text, "%s %s", s.pub, s.sub);
    else
        snprintf(s.brokers_text, sizeof s.brokers_text, "%.16000s (%d shard%s)", opt->broker,
                 s.brokers.n, s.brokers.n > 1 ? "s" : "");
    log_info("zwsd starting: listen %s, %d workers, api %s, %s broker %s, bus hwm %d",
             opt->listen, opt->workers, opt->api_listen, embedded ? "embedded" : "external",
             s.brokers_text, opt->bus_hwm);
    s_log_curve(opt, embedded);
    if (opt->jwt_secret_file[0] || opt->jwt_public_key_file[0])
        log_info("auth on: clients need a JWT verified with %s %s, leeway %d s",
                 opt->jwt_secret_file[0] ? "the HS256 secret in" : "the public key in",
                 opt->jwt_secret_file[0] ? opt->jwt_secret_file : opt->jwt_public_key_file,
                 opt->jwt_leeway);
    else
        log_info("auth off: no JWT key configured; any userId may connect");
    s_raise_nofile();
    signal(SIGPIPE, SIG_IGN);

    if ((s.lock_fd = runtime_lock(opt->runtime_dir, embedded)) < 0)
        return 1;
    s.listen_fds = calloc((size_t)opt->workers, sizeof *s.listen_fds);
    s.workers = calloc((size_t)opt->workers, sizeof *s.workers);
    if (!s.listen_fds || !s.workers)
        return 1;
    for (int i = 0; i < opt->workers; i++)
        if ((s.listen_fds[i] = listener_open(opt->listen, "--listen")) < 0)
            return 1;
    if (strcmp(opt->api_listen, "off") != 0) {
        if (!(s.api_fds = calloc((size_t)opt->workers, sizeof *s.api_fds)))
            return 1;
        for (int i = 0; i < opt->workers; i++)
            if ((s.api_fds[i] = listener_open(opt->api_listen, "--api-listen")) < 0)
                return 1;
    }
    metrics_init(opt->workers);
    metrics_attach(-1);

    sigset_t mask;
    sigemptyset(&mask);
    int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR2 };
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&mask, sigs[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    s.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    s.epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.sfd, &ev);

    if (sd_watchdog_enabled(0, &s.watchdog_usec) <= 0)
        s.watchdog_usec = 0;

    /* every slot before the first fork: a child closes the others' status fds */
    s.broker = (child_t){ .role = ROLE_BROKER, .slot = 0, .status_fd = -1 };
    for (int i = 0; i < opt->workers; i++)
        s.workers[i] = (child_t){ .role = ROLE_WORKER, .slot = i, .status_fd = -1 };
    if (embedded && s_spawn(&s, &s.broker) < 0)
        goto done;
    for (int i = 0; i < opt->workers; i++)
        if (s_spawn(&s, &s.workers[i]) < 0)
            goto done;

    for (;;) {
        struct epoll_event evs[16];
        int n = epoll_wait(s.epfd, evs, 16, 50);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr) {
                s_on_status(&s, evs[i].data.ptr);
                continue;
            }
            struct signalfd_siginfo si;
            while (read(s.sfd, &si, sizeof si) == sizeof si) {
                switch (si.ssi_signo) {
                case SIGTERM:
                case SIGINT:  s_begin_stop(&s); break;
                case SIGHUP:  s_reload(&s); break;
                case SIGUSR2: s_rotate(&s); break;
                default: break;
                }
            }
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                s_reaped(&s, pid, status);
        }
        s_check_ready(&s);
        s_tick(&s);
        if (s.stopping) {
            int64_t now = clock_now_ms();
            if (!s_workers_alive(&s) && s.broker.pid && !s.broker.respawn_at) {
                kill(s.broker.pid, SIGTERM);
                s.broker.respawn_at = -1;   /* marks "TERM sent" */
            }
            if (!s_workers_alive(&s) && !s.broker.pid) {
                s.exit_code = s.config_error ? 2 : 0;
                break;
            }
            if (now >= s.stop_deadline) {
                log_warnx("shutdown deadline passed; killing what is left");
                s_signal_all(&s, SIGKILL, 1);
                while (waitpid(-1, NULL, 0) > 0)
                    ;
                s.exit_code = s.config_error ? 2 : 0;
                break;
            }
        }
    }
    log_info("stopped");
done:
    if (s.exit_code == 1) {
        s_signal_all(&s, SIGKILL, 1);
        while (waitpid(-1, NULL, 0) > 0)
            ;
    }
    if (s.lock_fd >= 0)
        close(s.lock_fd);
    free(s.listen_fds);
    free(s.api_fds);
    free(s.workers);
    free(s.old);
    return s.exit_code;
}
