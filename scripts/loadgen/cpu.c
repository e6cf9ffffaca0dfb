/* cpu — server and generator CPU (see cpu.h). */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cpu.h"
#include "util.h"

/* CPU ticks (utime + stime) of --server-pid and its descendants. */
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

void
cpu_mark(run_t *run, bool end)
{
    int64_t ticks = run->cfg->server_pid ? s_tree_ticks(run) : 0;
    if (end) {
        run->m1 = clock_now_us();
        run->srv1 = ticks;
    } else {
        run->m0 = clock_now_us();
        run->srv0 = ticks;
    }
}

double
cpu_server_s(const run_t *run)
{
    long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (double)(run->srv1 - run->srv0) / (double)hz : 0;
}

double
cpu_generator_s(const run_t *run)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)run->t.cpu_ns / 1e9 + (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6
        + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}
