/* dedup — the messages a worker has seen lately, by a 64-bit key, for a
 * pair of brokers that both deliver every message (bus.h): the first copy
 * is taken, the second dropped.
 *
 * A fixed window of the last DEDUP_WINDOW keys, oldest forgotten first:
 * both copies of a message come within a fraction of a second, far inside
 * it at any rate a worker sustains. Open addressing with a FIFO ring of the
 * keys in insertion order; no allocation after dedup_init(). Pure. */
#ifndef ZWSD_DEDUP_H
#define ZWSD_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#define DEDUP_WINDOW 32768      /* keys remembered (a power of two) */

typedef struct {
    uint64_t *slot;             /* 2 * DEDUP_WINDOW, 0 = empty */
    uint64_t *ring;             /* DEDUP_WINDOW keys, oldest at head */
    size_t    head, n;
} dedup_t;

int  dedup_init(dedup_t *d);    /* 0, or -1 on ENOMEM */
void dedup_free(dedup_t *d);
/* 1 if key was seen within the window; else remembers it and returns 0. */
int  dedup_check(dedup_t *d, uint64_t key);
int  dedup_seen(const dedup_t *d, uint64_t key);    /* without remembering */
uint64_t dedup_key(const char *p, size_t n, int variant);

#endif
