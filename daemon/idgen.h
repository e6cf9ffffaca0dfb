/* idgen — this worker's ids: "<origin>-<n hex>", unique in the cluster
 * (origin is 64 random bits per process). Used for mids and session ids.
 * Header only. */
#ifndef ZWSD_IDGEN_H
#define ZWSD_IDGEN_H

#include <stdint.h>
#include <stdio.h>

#define IDGEN_LEN 40            /* buffer size an id needs, NUL included */

typedef struct {
    char     origin[17];        /* 16 hex digits */
    uint64_t n;
} idgen_t;

/* Writes a fresh id into buf (IDGEN_LEN bytes); returns its length. */
static inline size_t
idgen_next(idgen_t *g, char *buf)
{
    int k = snprintf(buf, IDGEN_LEN, "%s-%llx", g->origin, (unsigned long long)++g->n);
    return k > 0 ? (size_t)k : 0;
}

#endif
