/* run — the coordinator's children: fork, messages, phase 1, reports (see
 * run.h). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "util.h"

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
            if (run->on_line)
                run->on_line(run, run->cbuf);
            size_t used = (size_t)(nl + 1 - run->cbuf);
            memmove(run->cbuf, nl + 1, run->clen - used);
            run->clen -= used;
        }
        if (run->clen == sizeof run->cbuf - 1)
            run->clen = 0;      /* a line that long is no command */
    }
}

void
run_send(run_t *run, int i, uint32_t type, int64_t a, int64_t b, int64_t c)
{
    if (run->kids[i].gone)
        return;
    int64_t v[6] = { a, b, c, 0, 0, 0 };
    ctl_send(run->kids[i].fd, type, v, MSG_NOSIGNAL);
}

bool
run_any_gone(const run_t *run)
{
    for (int i = 0; i < run->cfg->procs; i++)
        if (run->kids[i].gone)
            return true;
    return false;
}

void
run_poll(run_t *run, int64_t until_us)
{
    const int P = run->cfg->procs;
    struct pollfd pfd[MAX_PROCS + 1];
    for (int i = 0; i < P; i++) {
        pfd[i].fd = run->kids[i].gone ? -1 : run->kids[i].fd;
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    pfd[P] = (struct pollfd){ .fd = run->ctlfd, .events = POLLIN };
    int64_t to = until_us - clock_now_us();
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
        kid_t *k = &run->kids[i];
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

int
run_spawn(run_t *run, run_child_fn child)
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
            _exit(child(run->cfg, i, sv[1]));
        }
        close(sv[1]);
        run->kids[i].pid = pid;
        run->kids[i].fd = sv[0];
    }
    return 0;
}

bool
run_wait_ready(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    for (;;) {
        bool all = true;
        for (int i = 0; i < cfg->procs; i++)
            all &= run->kids[i].ready;
        if (all || util_sig || run_any_gone(run))
            break;
        run_poll(run, clock_now_us() + 100000);
    }
    run->connect_s = (double)(clock_now_us() - run->start) / 1e6;
    for (int i = 0; i < cfg->procs; i++) {
        run->opened += (uint64_t)run->kids[i].ready_msg.v[0];
        run->failed += (uint64_t)run->kids[i].ready_msg.v[1];
    }
    run->all_ready = !util_sig && !run_any_gone(run);
    if (run->all_ready)
        printf("connected %" PRIu64 "/%" PRIu64 " in %.3f s (%.0f conn/s), %" PRIu64 " failed\n",
               run->opened, cfg->conns + (cfg->mode == MODE_GROUP), run->connect_s,
               (double)run->opened / run->connect_s, run->failed);
    else if (util_sig)
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

void
run_collect(run_t *run)
{
    const int P = run->cfg->procs;
    for (int i = 0; i < P; i++)
        run_send(run, i, CTL_STOP, 0, 0, 0);
    int64_t give_up = clock_now_us() + 10000000;
    for (;;) {
        bool all = true;
        for (int i = 0; i < P; i++)
            all &= run->kids[i].reported || run->kids[i].gone;
        if (all || clock_now_us() > give_up)
            break;
        run_poll(run, give_up);
    }
    report_t *t = &run->t;
    memset(t, 0, sizeof *t);
    for (int i = 0; i < P; i++) {
        kid_t *k = &run->kids[i];
        int st;
        if (!k->reported) {
            run->lost_child = true;
            kill(k->pid, SIGKILL);
        }
        if (waitpid(k->pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            run->lost_child = true;
        if (!k->reported)
            continue;
        ctl_report_add(t, &k->rep);
    }
}

void
run_free(run_t *run)
{
    free(run->glast);
    free(run->gfirst);
    run->glast = run->gfirst = NULL;
}
