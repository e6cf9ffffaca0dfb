/* rate — see rate.h. */
#include "rate.h"

void
rate_init(rate_t *r, int64_t n, int64_t now)
{
    r->tokens = 2 * n * 1000;
    r->ms = now;
    r->refused = 0;
}

int
rate_take(rate_t *r, int64_t n, int64_t now)
{
    if (n <= 0)
        return RATE_OK;
    int64_t cap = 2 * n * 1000;
    r->tokens += (now - r->ms) * n;
    r->ms = now;
    if (r->tokens > cap)
        r->tokens = cap;
    if (r->tokens >= 1000) {
        r->tokens -= 1000;
        r->refused = 0;
        return RATE_OK;
    }
    return ++r->refused >= 3 * n ? RATE_ABUSE : RATE_REFUSED;
}
