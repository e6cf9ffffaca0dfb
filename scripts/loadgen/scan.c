/* scan — key scanner for server frames (see scan.h). */
#include <string.h>

#include "scan.h"

const char *
scan_key(const char *p, const char *end, const char *key, size_t klen)
{
    while (p < end) {
        const char *q = memmem(p, (size_t)(end - p), key, klen);
        if (!q)
            return NULL;
        q += klen;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            q++;
        if (q < end && *q == ':') {
            q++;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
                q++;
            return q;
        }
        p = q;
    }
    return NULL;
}

bool
scan_int(const char *v, const char *end, int64_t *out)
{
    if (!v || v >= end)
        return false;
    bool neg = *v == '-';
    if (neg)
        v++;
    if (v >= end || *v < '0' || *v > '9')
        return false;
    int64_t x = 0;
    while (v < end && *v >= '0' && *v <= '9')
        x = x * 10 + (*v++ - '0');
    *out = neg ? -x : x;
    return true;
}

bool
scan_str_is(const char *v, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    return v && v < end && *v == '"' && (size_t)(end - v) >= n + 2
        && memcmp(v + 1, lit, n) == 0 && v[n + 1] == '"';
}
