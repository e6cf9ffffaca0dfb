/* buf — a growable byte buffer for frames being built or queued.
 *
 * The owner embeds a buf_t (zeroed = empty, no allocation) and frees it with
 * buf_free(). Functions returning int give 0, or -1 on ENOMEM with the buffer
 * unchanged. buf_consume() drops bytes from the front; the memory is kept. */
#ifndef ZWSD_BUF_H
#define ZWSD_BUF_H

#include <stddef.h>

typedef struct {
    char  *data;
    size_t len;
    size_t cap;
} buf_t;

int  buf_reserve(buf_t *b, size_t extra);
int  buf_append(buf_t *b, const void *p, size_t n);
int  buf_appends(buf_t *b, const char *s);          /* NUL-terminated string */
int  buf_appendf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* v in decimal (a leading '-' for a negative i64): what "%llu" / "%lld"
 * write, without printf's parsing on paths that run per message. */
int  buf_append_u64(buf_t *b, unsigned long long v);
int  buf_append_i64(buf_t *b, long long v);
void buf_consume(buf_t *b, size_t n);
void buf_free(buf_t *b);

/* A free list of emptied buffers, so that many short-lived buffers (a
 * connection's output, emptied at every flush) do not cost a malloc and
 * a free each time, while an idle owner holds no memory. buf_pool_give()
 * keeps b's memory when it has room and the buffer is at most max_cap
 * bytes, else frees it; b is left empty either way. buf_pool_take() gives
 * an empty b a kept buffer, if there is one. */
#define BUF_POOL_MAX 64
typedef struct {
    buf_t  kept[BUF_POOL_MAX];
    int    n;
    size_t max_cap;
} buf_pool_t;

void buf_pool_give(buf_pool_t *pool, buf_t *b);
void buf_pool_take(buf_pool_t *pool, buf_t *b);
void buf_pool_free(buf_pool_t *pool);

#endif
