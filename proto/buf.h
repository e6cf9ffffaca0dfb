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
void buf_consume(buf_t *b, size_t n);
void buf_free(buf_t *b);

#endif
