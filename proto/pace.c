/* pace — see pace.h. */
#include "pace.h"

#include <poll.h>
#include <time.h>

#include "clock.h"

#define PACE_FDS_MAX 32         /* a worker's links: 16 shards, each a pair */

void
pace_init(pace_t *p, int64_t turn_us)
{
    p->turn_us = turn_us > 0 ? turn_us : 0;
    p->phase_us = 0;
    p->start_us = 0;
    p->busy = 0;
}

void
pace_set_phase(pace_t *p, int64_t phase_us)
{
    p->phase_us = phase_us > 0 ? phase_us : 0;
}

int64_t
pace_due(const pace_t *p, int64_t now_us, int64_t cap_us)
{
    int64_t t = p->turn_us;
    if (!t || !p->busy)
        return 0;
    /* the first point phase + k*t after start (start on a point: the next) */
    int64_t phase = p->phase_us % t, from = p->start_us - phase;
    int64_t k = from >= 0 ? from / t : -((-from + t - 1) / t);
    int64_t wait = (k + 1) * t + phase - now_us;
    if (wait > t)
        wait = t;                   /* the clock cannot go back; be safe */
    if (cap_us >= 0 && wait > cap_us)
        wait = cap_us;
    return wait > 0 ? wait : 0;
}

int
pace_wait(pace_t *p, int64_t cap_us, const int *fds, int nfds)
{
    int64_t wait = pace_due(p, clock_now_us(), cap_us);
    if (!wait)
        return PACE_NOW;
    struct pollfd pf[PACE_FDS_MAX];
    if (nfds > PACE_FDS_MAX)
        nfds = PACE_FDS_MAX;
    for (int i = 0; i < nfds; i++)
        pf[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    struct timespec ts = { (time_t)(wait / 1000000), (long)(wait % 1000000) * 1000 };
    /* a signal ends it early too: a turn early costs nothing */
    int n = ppoll(nfds > 0 ? pf : NULL, (nfds_t)(nfds > 0 ? nfds : 0), &ts, NULL);
    return n > 0 ? PACE_WOKEN : PACE_SLEPT;
}

void
pace_turn_at(pace_t *p, int busy, int64_t now_us)
{
    p->busy = busy;
    p->start_us = now_us;
}

void
pace_turn(pace_t *p, int busy)
{
    pace_turn_at(p, busy, p->turn_us ? clock_now_us() : 0);
}
