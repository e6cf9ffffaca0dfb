/* buf — see buf.h. */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
buf_reserve(buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX - b->len)
        return -1;
    size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
buf_append(buf_t *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int
buf_appends(buf_t *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

/* v's digits, '-' first when neg, written backwards from end: their start */
static char *
s_decimal(char *end, unsigned long long v, int neg)
{
    char *p = end;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    if (neg)
        *--p = '-';
    return p;
}

int
buf_append_u64(buf_t *b, unsigned long long v)
{
    char d[21], *p = s_decimal(d + sizeof d, v, 0);     /* 2^64 - 1 has 20 digits */
    return buf_append(b, p, (size_t)(d + sizeof d - p));
}

int
buf_append_i64(buf_t *b, long long v)
{
    /* -v overflows for LLONG_MIN; 0 - (unsigned) v does not */
    char d[21], *p = s_decimal(d + sizeof d, v < 0 ? 0ULL - (unsigned long long)v
                                                   : (unsigned long long)v, v < 0);
    return buf_append(b, p, (size_t)(d + sizeof d - p));
}

int
buf_appendf(buf_t *b, const char *fmt, ...)
{
    for (size_t room = 128;;) {
        if (buf_reserve(b, room) < 0)
            return -1;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return 0;
        }
        room = (size_t)n + 1;           /* too small: once more, with room */
    }
}

void
buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void
buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void
buf_pool_give(buf_pool_t *pool, buf_t *b)
{
    if (b->data && b->cap <= pool->max_cap && pool->n < BUF_POOL_MAX) {
        pool->kept[pool->n++] = (buf_t){ b->data, 0, b->cap };
        *b = (buf_t){ 0 };
        return;
    }
    buf_free(b);
}

void
buf_pool_take(buf_pool_t *pool, buf_t *b)
{
    if (!b->data && pool->n > 0)
        *b = pool->kept[--pool->n];
}

void
buf_pool_free(buf_pool_t *pool)
{
    while (pool->n > 0)
        buf_free(&pool->kept[--pool->n]);
}
