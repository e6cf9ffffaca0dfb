/* group — fan-out to a group's members (see group.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "group.h"
#include "proc.h"
#include "util.h"
#include "ws.h"

/* A child's round: the highest message seen, and for it the slowest and
 * fastest copy and how many members have it. */
static int64_t s_gk = -1, s_gk_last, s_gk_first;
static uint32_t s_gk_count;
static int64_t s_cpu_w0;

void
group_join(conn_t *c)
{
    char buf[160], *q = buf;
    q = stpcpy(q, "{\"type\":\"join\",\"group\":\"");
    q = stpcpy(q, proc.cfg->group);
    q = stpcpy(q, "\",\"id\":\"j\"}");
    c->state = CONN_JOIN;
    ws_send_frame(c, WSLAY_TEXT_FRAME, buf, (size_t)(q - buf));
}

static void
s_send(conn_t *c, int64_t k)
{
    char buf[384], *p = buf;
    p = stpcpy(p, "{\"type\":\"group\",\"group\":\"");
    p = stpcpy(p, proc.cfg->group);
    p = stpcpy(p, "\",\"msg\":{\"t\":");
    p = util_u64(p, (uint64_t)clock_now_us());
    p = stpcpy(p, ",\"s\":");
    p = util_u64(p, (uint64_t)k);
    p = stpcpy(p, "},\"id\":\"g");
    p = util_u64(p, (uint64_t)k);
    p = stpcpy(p, "\"}");
    proc.r.sent++;
    ws_send_frame(c, WSLAY_TEXT_FRAME, buf, (size_t)(p - buf));
}

void
group_on_gsend(int64_t k)
{
    conn_t *c = &proc.conns[proc.n - 1];
    if (c->sender && c->state == CONN_OPEN && !c->dead)
        s_send(c, k);
}

void
group_on_copy(int64_t lat, int64_t s)
{
    /* CPU from the first delivery to the last completed round: what
     * receiving the fan-out costs the generator (2 syscalls a round) */
    if (s_gk < 0)
        s_cpu_w0 = (int64_t)util_cpu_ns();
    hist_add(&proc.r.lat, lat);
    if (s > s_gk) {
        s_gk = s;
        s_gk_count = 0;
        s_gk_last = INT64_MIN;
        s_gk_first = INT64_MAX;
    }
    if (s == s_gk) {
        if (lat > s_gk_last)
            s_gk_last = lat;
        if (lat < s_gk_first)
            s_gk_first = lat;
        if (++s_gk_count == proc.members) {
            proc_send(CTL_GDONE, s, s_gk_last, s_gk_first, s_gk_count);
            proc.r.cpu_w_ns = util_cpu_ns() - (uint64_t)s_cpu_w0;
        }
    }
}

/* ------------------------------------------------------------ coordinator */

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

int
group_run(run_t *run)
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
    cpu_mark(run, false);
    for (int64_t k = 0; k < cfg->count && !util_sig && !run_any_gone(run); k++) {
        run->gk = k;
        run->gdone = 0;
        run->g_last = INT64_MIN;
        run->g_first = INT64_MAX;
        int64_t deadline = clock_now_us() + (int64_t)(cfg->timeout * 1e6);
        run_send(run, 0, CTL_GSEND, k, 0, 0);
        while (run->gdone < P && !util_sig && !run_any_gone(run) && clock_now_us() < deadline)
            run_poll(run, deadline);
        if (run->gdone == P) {
            run->glast[run->gcomplete] = run->g_last;
            run->gfirst[run->gcomplete] = run->g_first;
            run->gcomplete++;
            if (cfg->verbose)
                printf("group message %" PRId64 ": first member %" PRId64 " us, last %" PRId64 " us\n",
                       k, run->g_first, run->g_last);
        } else if (!util_sig) {
            run->gincomplete++;
            fprintf(stderr, "zwsd-loadgen: group message %" PRId64 " did not reach every member "
                    "within %g s\n", k, cfg->timeout);
        }
    }
    run->gk = -1;
    cpu_mark(run, true);
    return 0;
}

int
group_print(run_t *run)
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
    double srv = cpu_server_s(run), mwin = (double)(run->m1 - run->m0) / 1e6;
    double sper = t->recv ? srv * 1e6 / (double)t->recv : 0;
    double gper = t->recv ? (double)t->cpu_w_ns / 1e3 / (double)t->recv : 0;

    printf("group: %" PRId64 " messages sent, %ld reached every member, %" PRIu64
           " member deliveries, %" PRId64 " lost\n", sent, n, t->recv, lost);
    printf("time to the last member (us): median %" PRId64 "  p90 %" PRId64 "  max %" PRId64 "\n",
           l50, l90, lmax);
    printf("time to the first member (us): median %" PRId64 "; any member: p50 %" PRIu64
           "  p99 %" PRIu64 "\n", f50, hist_pct(&t->lat, .5), hist_pct(&t->lat, .99));
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
           hist_pct(&t->lat, .5), hist_pct(&t->lat, .99), cpu_generator_s(run), gper);
    if (cfg->server_pid)
        printf(" server_cpu_s=%.2f server_cpu_us_per_delivery=%.2f", srv, sper);
    printf("\n");
    return t->failed || t->dropped || lost || run->gincomplete || t->errors || t->order_err
        || n < cfg->count ? 1 : 0;
}
