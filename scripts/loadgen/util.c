/* util — clocks, decimals, xorshift64*, the signal flag (see util.h). */
#include <sys/random.h>
#include <time.h>

#include "util.h"

volatile sig_atomic_t util_sig;

static uint64_t s_rng;

uint64_t
util_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *
util_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

void
util_rand_seed(void)
{
    if (getrandom(&s_rng, sizeof s_rng, 0) != sizeof s_rng || !s_rng)
        s_rng = (uint64_t)clock_now_us() | 1;
}

uint64_t
util_rand(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ull;
}
