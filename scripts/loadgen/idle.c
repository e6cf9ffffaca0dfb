/* idle — hold the connections (see idle.h). */
#include <inttypes.h>
#include <stdio.h>

#include "cpu.h"
#include "idle.h"
#include "util.h"

void
idle_run(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    int64_t now = clock_now_us();
    int64_t until = cfg->duration > 0 ? now + (int64_t)(cfg->duration * 1e6) : INT64_MAX;
    if (cfg->duration > 0)
        printf("holding %" PRIu64 " connections for %g s\n", run->opened, cfg->duration);
    else
        printf("holding %" PRIu64 " connections until SIGINT/SIGTERM\n", run->opened);
    while (!util_sig && clock_now_us() < until && !run_any_gone(run))
        run_poll(run, until);
    run->held_s = (double)(clock_now_us() - now) / 1e6;
}

int
idle_print(const run_t *run)
{
    const report_t *t = &run->t;
    printf("idle: %" PRIu64 " connected, %" PRIu64 " failed, %" PRIu64 " dropped, held %.1f s, "
           "%" PRIu64 " pings answered\n", t->opened, t->failed, t->dropped, run->held_s, t->pings);
    printf("RESULT mode=idle conns=%" PRIu64 " procs=%d connected=%" PRIu64 " failed=%" PRIu64
           " dropped=%" PRIu64 " connect_s=%.3f conn_per_s=%.0f held_s=%.1f pings=%" PRIu64
           " gen_cpu_s=%.3f\n", run->cfg->conns, run->cfg->procs, t->opened, t->failed, t->dropped,
           run->connect_s, (double)t->opened / run->connect_s, run->held_s, t->pings,
           cpu_generator_s(run));
    return t->failed || t->dropped ? 1 : 0;
}
