/* pace — see pace.h. */
#include "pace.h"

#include <errno.h>
#include <time.h>

#include "clock.h"

void
pace_init(pace_t *p, int64_t turn_us)
{
    p->turn_us = turn_us > 0 ? turn_us : 0;
    p->start_us = 0;
    p->busy = 0;
}

int64_t
pace_due(const pace_t *p, int64_t now_us, int64_t cap_us)
{
    if (!p->turn_us || !p->busy)
        return 0;
    int64_t wait = p->start_us + p->turn_us - now_us;
    if (wait > p->turn_us)
        wait = p->turn_us;          /* the clock cannot go back; be safe */
    if (cap_us >= 0 && wait > cap_us)
        wait = cap_us;
    return wait > 0 ? wait : 0;
}

int64_t
pace_wait(pace_t *p, int64_t cap_us)
{
    int64_t wait = pace_due(p, clock_now_us(), cap_us);
    if (!wait)
        return 0;
    struct timespec ts = { (time_t)(wait / 1000000), (long)(wait % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;                           /* a handled signal: sleep the rest */
    return wait;
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
