/* hist — a latency histogram in µs (pure). Exact below 128 µs, then 64
 * buckets per power of two (1.6 % wide) up to 2^41 µs; larger values land in
 * the last bucket. A percentile is the midpoint of its bucket, never more
 * than the largest value seen. A zeroed hist_t is empty; it holds no
 * pointers, so it is copied, added up and written to files as it is (the
 * children's reports and the soak records carry it). */
#ifndef LOADGEN_HIST_H
#define LOADGEN_HIST_H

#include <stdint.h>

#define HIST_N (128 + 34 * 64)

typedef struct {
    uint64_t max, sum, n;               /* of every value added */
    uint64_t bucket[HIST_N];
} hist_t;

/* Adds one latency; a negative one counts as 0. */
void     hist_add(hist_t *h, int64_t lat);
/* The q-quantile (0 < q <= 1) of what h holds; 0 when it is empty. */
uint64_t hist_pct(const hist_t *h, double q);
/* Adds every value of r to t. */
void     hist_merge(hist_t *t, const hist_t *r);

#endif
