/* theap — a binary min-heap of deadlines, for timers that end at arbitrary
 * times (a session's token expiry): O(log n) to add, move or remove one,
 * O(1) to see the next one due, and nothing done for timers not yet due.
 * The io.h timer FIFOs are for timers of one fixed duration; this is for
 * the others.
 *
 * Intrusive and pure: the caller embeds a theap_node_t in its own object
 * and owns it; the heap holds only pointers, in one array it grows (no
 * other allocation, no clock, no I/O). A node is in at most one heap; its
 * pos is its index + 1 there, 0 when it is in none, so a zeroed node
 * (calloc) is "not in a heap". The caller must theap_remove() a node
 * before freeing it.
 *
 * Any process; single-threaded. */
#ifndef ZWSD_THEAP_H
#define ZWSD_THEAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t  at;            /* the deadline, in the caller's unit */
    uint32_t pos;           /* index + 1 in the heap, 0 = in none */
} theap_node_t;

typedef struct {
    theap_node_t **v;
    uint32_t       n, cap;
} theap_t;

void theap_init(theap_t *h);
/* Frees the array; the nodes are the caller's (their pos is left as is). */
void theap_fini(theap_t *h);

/* Room for n nodes in all, so that the next theap_set()s of new nodes up
 * to n cannot fail. 0, or -1 on ENOMEM. */
int  theap_reserve(theap_t *h, size_t n);
/* Sets x's deadline to at, adding x if it is in no heap. 0, or -1 on
 * ENOMEM (only when adding; x then stays out). */
int  theap_set(theap_t *h, theap_node_t *x, int64_t at);
/* Takes x out; a no-op when x is in no heap. */
void theap_remove(theap_t *h, theap_node_t *x);
/* The earliest node, or NULL when the heap is empty. */
theap_node_t *theap_min(const theap_t *h);
/* The earliest node if its deadline is <= now, taken out; else NULL. */
theap_node_t *theap_pop_due(theap_t *h, int64_t now);

static inline size_t theap_count(const theap_t *h) { return h->n; }
static inline int    theap_has(const theap_node_t *x) { return x->pos != 0; }

#endif
