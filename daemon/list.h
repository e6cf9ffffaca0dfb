/* list — intrusive doubly linked lists (header only).
 *
 * A list is a sentinel link_t whose prev/next point to itself when empty;
 * an element embeds a link_t and is unlinked in O(1). The timer lists of a
 * worker are FIFOs of this kind: entries join at the tail with a timestamp,
 * so the head is always the next to expire (czmq zloop's tickets). */
#ifndef ZWSD_LIST_H
#define ZWSD_LIST_H

#include <stddef.h>

typedef struct link {
    struct link *prev, *next;
} link_t;

#define list_entry(l, type, member) ((type *)((char *)(l) - offsetof(type, member)))

static inline void list_init(link_t *h) { h->prev = h->next = h; }
static inline int  list_empty(const link_t *h) { return h->next == h; }
static inline int  list_linked(const link_t *l) { return l->next != NULL; }

static inline void
list_unlink(link_t *l)
{
    if (l->next) {
        l->prev->next = l->next;
        l->next->prev = l->prev;
    }
    l->prev = l->next = NULL;
}

static inline void
list_push_tail(link_t *h, link_t *l)
{
    l->prev = h->prev;
    l->next = h;
    h->prev->next = l;
    h->prev = l;
}

#endif
