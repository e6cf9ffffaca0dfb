/* dedup — see dedup.h. */
#include "dedup.h"

#include <stdlib.h>

#include "shard.h"

#define SLOTS (2 * DEDUP_WINDOW)    /* load factor <= 1/2 */

int
dedup_init(dedup_t *d)
{
    d->slot = calloc(SLOTS, sizeof *d->slot);
    d->ring = calloc(DEDUP_WINDOW, sizeof *d->ring);
    d->head = d->n = 0;
    if (!d->slot || !d->ring) {
        dedup_free(d);
        return -1;
    }
    return 0;
}

void
dedup_free(dedup_t *d)
{
    free(d->slot);
    free(d->ring);
    d->slot = d->ring = NULL;
}

uint64_t
dedup_key(const char *p, size_t n, int variant)
{
    uint64_t k = shard_mix64(shard_fnv1a64(p, n) ^ (uint64_t)variant);
    return k ? k : 1;               /* 0 marks an empty slot */
}

static size_t
s_find(const dedup_t *d, uint64_t key)
{
    size_t i = (size_t)key & (SLOTS - 1);
    while (d->slot[i] && d->slot[i] != key)
        i = (i + 1) & (SLOTS - 1);
    return i;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void
s_remove(dedup_t *d, uint64_t key)
{
    size_t i = s_find(d, key);
    if (!d->slot[i])
        return;
    d->slot[i] = 0;
    for (size_t j = (i + 1) & (SLOTS - 1); d->slot[j]; j = (j + 1) & (SLOTS - 1)) {
        size_t home = (size_t)d->slot[j] & (SLOTS - 1);
        /* j's key may move into the hole i unless its home lies in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            d->slot[i] = d->slot[j];
            d->slot[j] = 0;
            i = j;
        }
    }
}

int
dedup_seen(const dedup_t *d, uint64_t key)
{
    key = key ? key : 1;
    return d->slot && d->slot[s_find(d, key)] == key;
}

int
dedup_check(dedup_t *d, uint64_t key)
{
    key = key ? key : 1;
    size_t i = s_find(d, key);
    if (d->slot[i] == key)
        return 1;
    if (d->n == DEDUP_WINDOW) {             /* forget the oldest */
        s_remove(d, d->ring[d->head]);
        d->head = (d->head + 1) & (DEDUP_WINDOW - 1);
        d->n--;
        i = s_find(d, key);
    }
    d->slot[i] = key;
    d->ring[(d->head + d->n) & (DEDUP_WINDOW - 1)] = key;
    d->n++;
    return 0;
}
