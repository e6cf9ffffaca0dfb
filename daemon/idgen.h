/* idgen — this worker's ids: "<origin>-<n hex>", unique in the cluster
 * (origin is 64 random bits per process). Used for mids and session ids.
 * Header only. */
#ifndef ZWSD_IDGEN_H
#define ZWSD_IDGEN_H

#include <stdint.h>
#include <string.h>

#define IDGEN_LEN 40            /* buffer size an id needs, NUL included */

typedef struct {
    char     origin[17];        /* 16 hex digits */
    uint64_t n;
} idgen_t;

/* Writes a fresh id into buf (IDGEN_LEN bytes); returns its length. By hand,
 * as "%s-%llx" would (lower-case hex, no leading zeros): one per message. */
static inline size_t
idgen_next(idgen_t *g, char *buf)
{
    size_t o = strnlen(g->origin, sizeof g->origin - 1);
    char hex[16], *p = hex + sizeof hex;
    uint64_t n = ++g->n;
    do
        *--p = "0123456789abcdef"[n & 15];
    while (n >>= 4);
    size_t h = (size_t)(hex + sizeof hex - p);
    memcpy(buf, g->origin, o);          /* o + 1 + h <= 16 + 1 + 16 < IDGEN_LEN */
    buf[o] = '-';
    memcpy(buf + o + 1, p, h);
    buf[o + 1 + h] = '\0';
    return o + 1 + h;
}

#endif
