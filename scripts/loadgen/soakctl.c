/* soakctl — the coordinator's side of a soak (see soakctl.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soakctl.h"
#include "util.h"

#define SOAK_WAIT_US 3600000000ll   /* the longest wait for the driver's next command */

/* A line from the control FIFO: start, pause, resume, rst [N], stop, end. */
static void
s_command(run_t *run, char *line)
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

void
soakctl_open(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    run->on_line = s_command;
    /* O_RDWR: a FIFO we also hold for writing never reads as EOF (or polls
     * as POLLHUP) between two writers */
    if (cfg->control && (run->ctlfd = open(cfg->control, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
        fprintf(stderr, "zwsd-loadgen: cannot open %s: %s; running without it\n", cfg->control,
                strerror(errno));
}

/* Field J of the children's last PROGRESS, added up. */
static int64_t
s_sum(const run_t *run, int j)
{
    int64_t v = 0;
    for (int i = 0; i < run->cfg->procs; i++)
        if (run->kids[i].progress.type == CTL_PROGRESS)
            v += run->kids[i].progress.v[j];
    return v;
}

static void
s_progress(const run_t *run)
{
    int64_t now = clock_now_us();
    printf("progress t=%.0f open=%" PRId64 "/%" PRIu64 " sent=%" PRId64 " answered=%" PRId64
           " received=%" PRId64 " reconnects=%" PRId64 " reset=%" PRId64 "\n",
           run->t_go && now > run->t_go ? (double)(now - run->t_go) / 1e6 : 0.0, s_sum(run, 3),
           run->cfg->conns, s_sum(run, 0), s_sum(run, 2), s_sum(run, 1),
           s_sum(run, 4), s_sum(run, 5));
}

/* Hand a pending "rst N" out: each child resets its share of the users. */
static void
s_rst_out(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const uint64_t N = cfg->conns, P = (uint64_t)cfg->procs;
    uint64_t want = run->rst_req > (int64_t)N ? N : (uint64_t)run->rst_req, given = 0;
    run->rst_req = 0;
    run->rst_n = 0;
    run->rst_wait = 0;
    run->rst_t0 = clock_now_us();
    for (uint64_t i = 0; i < P; i++) {
        uint64_t share = i == P - 1 ? want - given : want * (N * (i + 1) / P - N * i / P) / N;
        given += share;
        if (run->kids[i].gone)
            continue;
        run_send(run, (int)i, CTL_RST, (int64_t)share, 0, 0);
        run->rst_wait++;
    }
    run->rst_steps++;
    run->rst_active = true;
}

/* One wait of the soak's parent, until UNTIL at most: RST requests out and
 * their completion in, a progress line every second. */
static void
s_turn(run_t *run, int64_t until)
{
    int64_t now = clock_now_us();
    if (run->rst_req && !run->rst_active)
        s_rst_out(run);
    if (run->rst_active && run->rst_wait <= 0) {
        run->rst_active = false;
        run->rst_total += run->rst_n;
        printf("soak: reset %" PRId64 " connections (%.1f ms)\n", run->rst_n,
               (double)(now - run->rst_t0) / 1e3);
    }
    if (now >= run->next_prog) {
        if (run->next_prog)
            s_progress(run);
        run->next_prog = now + 1000000;
    }
    run_poll(run, until < run->next_prog ? until : run->next_prog);
}

static bool
s_going(const run_t *run)
{
    return !util_sig && !run_any_gone(run);
}

void
soakctl_run(run_t *run)
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
        int64_t until = clock_now_us() + SOAK_WAIT_US;
        while (!run->c_start && !run->c_stop && !run->c_end && s_going(run) && clock_now_us() < until)
            s_turn(run, until);
    }
    int64_t t0 = clock_now_us() + 20000;
    run->t_go = t0;
    for (int i = 0; i < cfg->procs; i++)
        run_send(run, i, CTL_GO, t0, t0, INT64_MAX);
    int64_t until = cfg->duration > 0 ? t0 + (int64_t)(cfg->duration * 1e6) : t0 + SOAK_WAIT_US;
    printf("soak: sending %g chats/s over %" PRIu64 " users, each with an id\n", cfg->rate, cfg->conns);
    bool paused = false;
    while (!run->c_stop && !run->c_end && s_going(run) && clock_now_us() < until) {
        if (run->c_pause && !paused) {
            for (int i = 0; i < cfg->procs; i++)
                run_send(run, i, CTL_END, 0, 0, 0);
            printf("soak: paused\n");
            paused = true;
        }
        if (run->c_resume && paused) {
            int64_t t = clock_now_us() + 20000;
            for (int i = 0; i < cfg->procs; i++)
                run_send(run, i, CTL_GO, t, t, INT64_MAX);
            printf("soak: resumed\n");
            paused = false;
        }
        run->c_pause = run->c_resume = false;
        s_turn(run, until);
    }
    for (int i = 0; i < cfg->procs; i++)
        run_send(run, i, CTL_END, 0, 0, 0);
    run->t_stop = clock_now_us();
    printf("soak: sending stopped after %.1f s; %g s of grace for answers and deliveries\n",
           (double)(run->t_stop - t0) / 1e6, cfg->grace);
    until = run->t_stop + (int64_t)(cfg->grace * 1e6);
    while (s_going(run) && clock_now_us() < until)
        s_turn(run, until);
    int64_t s0 = clock_now_us();
    until = s0 + (int64_t)(cfg->settle * 1e6);
    while (s_going(run) && (s_sum(run, 3) < (int64_t)cfg->conns || run->rst_active)
           && clock_now_us() < until)
        s_turn(run, until);
    int64_t open = s_sum(run, 3);
    printf("soak: %s: %" PRId64 "/%" PRIu64 " connections open (%.1f s after the grace)\n",
           open == (int64_t)cfg->conns ? "settled" : "not settled", open, cfg->conns,
           (double)(clock_now_us() - s0) / 1e6);
    if (run->ctlfd >= 0 && !run->c_end) {
        printf("soak: waiting for \"end\" on %s\n", cfg->control);
        until = clock_now_us() + SOAK_WAIT_US;
        while (!run->c_end && s_going(run) && clock_now_us() < until)
            s_turn(run, until);
    }
    run->t_end = clock_now_us();
}
