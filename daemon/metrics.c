/* metrics — see metrics.h. */
#include "metrics.h"

#include <string.h>
#include <sys/mman.h>

#include "log.h"

static int64_t (*s_rows)[M_COUNT];  /* slots + 1 rows; the last is the supervisor's */
static int s_slots;
static int64_t *s_mine;
static int64_t s_dummy[M_COUNT];

int
metrics_init(int slots)
{
    size_t len = sizeof(int64_t) * M_COUNT * (size_t)(slots + 1);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        log_warn("metrics: mmap");
        return -1;
    }
    s_rows = p;
    s_slots = slots;
    s_mine = s_rows[slots];
    return 0;
}

void
metrics_attach(int slot)
{
    if (!s_rows)
        s_mine = s_dummy;
    else
        s_mine = s_rows[slot < 0 || slot >= s_slots ? s_slots : slot];
}

void metrics_inc(metric_t m) { if (s_mine) s_mine[m]++; }
void metrics_dec(metric_t m) { if (s_mine) s_mine[m]--; }
void metrics_set(metric_t m, int64_t v) { if (s_mine) s_mine[m] = v; }

void
metrics_refused(int status)
{
    switch (status) {
    case 400: metrics_inc(M_REFUSED_400); break;
    case 401: metrics_inc(M_REFUSED_401); break;
    case 403: metrics_inc(M_REFUSED_403); break;
    case 404: metrics_inc(M_REFUSED_404); break;
    case 426: metrics_inc(M_REFUSED_426); break;
    case 431: metrics_inc(M_REFUSED_431); break;
    case 503: metrics_inc(M_REFUSED_503); break;
    default:  metrics_inc(M_REFUSED_OTHER); break;
    }
}

int64_t
metrics_sum(metric_t m)
{
    int64_t sum = 0;
    for (int i = 0; s_rows && i <= s_slots; i++)
        sum += s_rows[i][m];
    return sum;
}

int64_t
metrics_get(int slot, metric_t m)
{
    return s_rows && slot >= 0 && slot <= s_slots ? s_rows[slot][m] : 0;
}

int
metrics_slots(void)
{
    return s_slots;
}

void
metrics_reset_slot(int slot)
{
    /* a dead worker's gauges must not linger; its counters stay summed in
     * the supervisor row so totals never go backwards */
    if (!s_rows || slot < 0 || slot >= s_slots)
        return;
    s_rows[slot][M_CONNECTIONS] = 0;
    s_rows[slot][M_SESSIONS] = 0;
    s_rows[slot][M_BUS_UP] = 0;
    s_rows[slot][M_USERS] = 0;
    for (int m = 0; m < M_COUNT; m++) {
        if (m == M_CONNECTIONS || m == M_SESSIONS || m == M_BUS_UP || m == M_USERS)
            continue;
        s_rows[s_slots][m] += s_rows[slot][m];
        s_rows[slot][m] = 0;
    }
}
