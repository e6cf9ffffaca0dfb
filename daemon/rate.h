/* rate — a connection's token bucket (zwsd-protocol(7) "Close codes"):
 * n messages per second, bursts of 2n; 3n refusals in a row (no pause long
 * enough to refill) are abuse. Pure; tokens are kept in thousandths so a
 * rate of n per second refills n tokens per millisecond-thousand exactly. */
#ifndef ZWSD_RATE_H
#define ZWSD_RATE_H

#include <stdint.h>

typedef struct {
    int64_t  tokens;            /* thousandths */
    int64_t  ms;                /* last refill */
    uint32_t refused;           /* refusals since the last message let pass */
} rate_t;

enum { RATE_OK = 1, RATE_REFUSED = 0, RATE_ABUSE = -1 };

void rate_init(rate_t *r, int64_t n, int64_t now);
/* n <= 0: no limit (always RATE_OK). */
int  rate_take(rate_t *r, int64_t n, int64_t now);

#endif
