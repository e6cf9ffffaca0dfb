/* seen — see seen.h. Per origin, a ring of 2-bit states indexed by req
 * modulo SEEN_WINDOW, covering [hi - SEEN_WINDOW, hi): hi is one past the
 * newest req recorded, so every req at or above it was never handled. */
#include "seen.h"

#include <stdlib.h>
#include <string.h>

struct seen_origin {
    uint64_t hi;                    /* every req handled so far is below */
    uint64_t floor;                 /* below it, forgotten */
    int64_t  used_ms;               /* last put */
    uint8_t  n;
    char     origin[64];
    uint8_t  bits[SEEN_WINDOW / 4];
};

static unsigned
s_bits_get(const seen_origin_t *o, uint64_t req)
{
    uint32_t i = (uint32_t)(req % SEEN_WINDOW);
    return (o->bits[i / 4] >> (i % 4 * 2)) & 3u;
}

static void
s_bits_set(seen_origin_t *o, uint64_t req, unsigned v)
{
    uint32_t i = (uint32_t)(req % SEEN_WINDOW);
    unsigned sh = i % 4 * 2;
    o->bits[i / 4] = (uint8_t)((o->bits[i / 4] & ~(3u << sh)) | (v << sh));
}

static int
s_is(const seen_origin_t *o, const char *origin, size_t n)
{
    return o && o->n == n && !memcmp(o->origin, origin, n);
}

static seen_origin_t *
s_find(const seen_t *s, const char *origin, size_t n)
{
    if (s_is(s->last, origin, n))
        return s->last;
    for (int i = 0; i < SEEN_ORIGINS; i++)
        if (s_is(s->slot[i], origin, n))
            return s->slot[i];
    return NULL;
}

/* Was anything forgotten recently enough to matter (seen.h)? */
static int
s_forgot_lately(const seen_t *s, int64_t now)
{
    return s->forgot && now - s->forgot_ms < SEEN_IDLE_MS;
}

static void
s_forget(seen_t *s, int64_t when)
{
    if (!s->forgot || when > s->forgot_ms)
        s->forgot_ms = when;
    s->forgot = 1;
}

/* A slot for a new origin: an empty one, else the one quiet longest if it
 * has been quiet SEEN_IDLE_MS; NULL when every slot is busy (or ENOMEM). */
static seen_origin_t *
s_claim(seen_t *s, const char *origin, size_t n, uint64_t req, int64_t now)
{
    int pick = -1;
    for (int i = 0; i < SEEN_ORIGINS && pick < 0; i++)
        if (!s->slot[i])
            pick = i;
    if (pick < 0) {
        int64_t oldest = now - SEEN_IDLE_MS;
        for (int i = 0; i < SEEN_ORIGINS; i++)
            if (s->slot[i]->used_ms <= oldest) {
                oldest = s->slot[i]->used_ms;
                pick = i;
            }
        if (pick < 0)
            return NULL;
        s_forget(s, s->slot[pick]->used_ms);
        if (s->last == s->slot[pick])
            s->last = NULL;
    } else if (!(s->slot[pick] = malloc(sizeof *s->slot[pick]))) {
        return NULL;
    }
    seen_origin_t *o = s->slot[pick];
    memset(o->bits, 0, sizeof o->bits);
    o->n = (uint8_t)n;
    memcpy(o->origin, origin, n);
    /* what this worker may have forgotten of this origin lies below its
     * first req now, unless nothing was forgotten lately */
    o->floor = s_forgot_lately(s, now) ? req : 0;
    o->hi = req;
    o->used_ms = now;
    return o;
}

void
seen_put(seen_t *s, const char *origin, size_t n, uint64_t req, seen_state_t st, int64_t now)
{
    if (!req || !origin || n == 0 || n > sizeof s->slot[0]->origin)
        return;
    seen_origin_t *o = s_find(s, origin, n);
    if (!o && !(o = s_claim(s, origin, n, req, now))) {
        s_forget(s, now);
        return;
    }
    s->last = o;
    o->used_ms = now;
    if (req >= o->hi) {
        /* the window slides: the positions of reqs leaving it are reused */
        if (req - o->hi >= SEEN_WINDOW)
            memset(o->bits, 0, sizeof o->bits);
        else
            for (uint64_t r = o->hi; r < req; r++)
                s_bits_set(o, r, SEEN_NONE);
        o->hi = req + 1;
    } else if (req < o->floor || o->hi - req > SEEN_WINDOW) {
        return;                         /* older than the window: seen_get says unknown */
    }
    s_bits_set(o, req, (unsigned)st & 3u);
}

seen_state_t
seen_get(const seen_t *s, const char *origin, size_t n, uint64_t req, int64_t now)
{
    if (!req || !origin || n == 0 || n > sizeof s->slot[0]->origin)
        return SEEN_UNKNOWN;
    const seen_origin_t *o = s_find(s, origin, n);
    if (!o)
        return s_forgot_lately(s, now) ? SEEN_UNKNOWN : SEEN_NONE;
    if (req >= o->hi)
        return SEEN_NONE;
    if (req < o->floor || o->hi - req > SEEN_WINDOW)
        return SEEN_UNKNOWN;
    return (seen_state_t)s_bits_get(o, req);
}

void
seen_free(seen_t *s)
{
    for (int i = 0; i < SEEN_ORIGINS; i++) {
        free(s->slot[i]);
        s->slot[i] = NULL;
    }
    s->last = NULL;
}
