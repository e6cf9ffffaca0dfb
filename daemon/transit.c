/* transit — see transit.h. */
#include "transit.h"

#include <string.h>

static size_t
s_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;        /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return (size_t)(h % TRANSIT_SLOTS);
}

int64_t
transit_late(transit_t *t, const char *origin, size_t n, int64_t sent_wall, int64_t now_wall)
{
    if (!origin || n == 0 || n >= sizeof t->slot[0].origin)
        return 0;
    transit_slot_t *s = &t->slot[s_hash(origin, n)];
    if (strlen(s->origin) != n || memcmp(s->origin, origin, n)) {
        memcpy(s->origin, origin, n);
        s->origin[n] = '\0';
        s->min_cur = s->min_prev = INT64_MAX;
        s->window_start = now_wall;
    }
    if (now_wall - s->window_start >= TRANSIT_WINDOW && s->min_cur != INT64_MAX) {
        s->min_prev = s->min_cur;               /* a window with samples ends */
        s->min_cur = INT64_MAX;
        s->window_start = now_wall;
    }
    int64_t delay = now_wall - sent_wall;
    int64_t base = s->min_cur < s->min_prev ? s->min_cur : s->min_prev;
    if (delay < s->min_cur)
        s->min_cur = delay;
    return base == INT64_MAX || delay <= base ? 0 : delay - base;
}
