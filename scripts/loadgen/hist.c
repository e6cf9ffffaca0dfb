/* hist — the latency histogram (see hist.h). */
#include "hist.h"

static unsigned
s_index(uint64_t v)
{
    if (v >= (1ull << 41))
        v = (1ull << 41) - 1;
    if (v < 128)
        return (unsigned)v;
    int shift = 63 - __builtin_clzll(v) - 6;
    return 128 + (unsigned)(shift - 1) * 64 + (unsigned)((v >> shift) - 64);
}

/* Representative value of a bucket: its midpoint (1.6 % wide above 128 µs). */
static uint64_t
s_value(unsigned i)
{
    if (i < 128)
        return i;
    unsigned shift = (i - 128) / 64 + 1;
    uint64_t m = (i - 128) % 64 + 64;
    return (m << shift) + ((1ull << shift) >> 1);
}

void
hist_add(hist_t *h, int64_t lat)
{
    uint64_t v = lat > 0 ? (uint64_t)lat : 0;
    h->bucket[s_index(v)]++;
    h->n++;
    h->sum += v;
    if (v > h->max)
        h->max = v;
}

uint64_t
hist_pct(const hist_t *h, double q)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < HIST_N; i++)
        total += h->bucket[i];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(q * (double)total + 0.999999);
    if (want < 1)
        want = 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < HIST_N; i++) {
        acc += h->bucket[i];
        if (acc >= want) {
            uint64_t v = s_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

void
hist_merge(hist_t *t, const hist_t *r)
{
    t->max = r->max > t->max ? r->max : t->max;
    t->sum += r->sum;
    t->n += r->n;
    for (unsigned i = 0; i < HIST_N; i++)
        t->bucket[i] += r->bucket[i];
}
