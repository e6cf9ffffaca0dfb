/* theap — see theap.h. A classic array heap: the parent of index i is
 * (i - 1) / 2; every move writes the node's new pos. */
#include "theap.h"

#include <stdlib.h>

void
theap_init(theap_t *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
}

void
theap_fini(theap_t *h)
{
    free(h->v);
    theap_init(h);
}

int
theap_reserve(theap_t *h, size_t n)
{
    if (n <= h->cap)
        return 0;
    if (n > UINT32_MAX - 1)
        return -1;
    size_t cap = h->cap ? h->cap : 16;
    while (cap < n)
        cap *= 2;
    if (cap > UINT32_MAX - 1)
        cap = UINT32_MAX - 1;
    theap_node_t **v = realloc(h->v, cap * sizeof *v);
    if (!v)
        return -1;
    h->v = v;
    h->cap = (uint32_t)cap;
    return 0;
}

static void
s_put(theap_t *h, uint32_t i, theap_node_t *x)
{
    h->v[i] = x;
    x->pos = i + 1;
}

/* x belongs at i or above it. */
static void
s_up(theap_t *h, uint32_t i, theap_node_t *x)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (h->v[p]->at <= x->at)
            break;
        s_put(h, i, h->v[p]);
        i = p;
    }
    s_put(h, i, x);
}

/* x belongs at i or below it. */
static void
s_down(theap_t *h, uint32_t i, theap_node_t *x)
{
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= h->n)
            break;
        uint32_t m = l + 1 < h->n && h->v[l + 1]->at < h->v[l]->at ? l + 1 : l;
        if (x->at <= h->v[m]->at)
            break;
        s_put(h, i, h->v[m]);
        i = m;
    }
    s_put(h, i, x);
}

int
theap_set(theap_t *h, theap_node_t *x, int64_t at)
{
    if (!x->pos) {
        if (h->n == h->cap && theap_reserve(h, (size_t)h->n + 1) < 0)
            return -1;
        x->at = at;
        s_up(h, h->n++, x);
        return 0;
    }
    int64_t was = x->at;
    x->at = at;
    if (at < was)
        s_up(h, x->pos - 1, x);
    else
        s_down(h, x->pos - 1, x);
    return 0;
}

void
theap_remove(theap_t *h, theap_node_t *x)
{
    if (!x->pos)
        return;
    uint32_t i = x->pos - 1;
    x->pos = 0;
    theap_node_t *last = h->v[--h->n];
    if (i == h->n)
        return;                         /* it was the last one */
    /* the last node fills the hole: it may belong above or below it */
    if (i > 0 && last->at < h->v[(i - 1) / 2]->at)
        s_up(h, i, last);
    else
        s_down(h, i, last);
}

theap_node_t *
theap_min(const theap_t *h)
{
    return h->n ? h->v[0] : NULL;
}

theap_node_t *
theap_pop_due(theap_t *h, int64_t now)
{
    theap_node_t *x = theap_min(h);
    if (!x || x->at > now)
        return NULL;
    theap_remove(h, x);
    return x;
}
