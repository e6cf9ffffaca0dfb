/* shard — see shard.h. */
#include "shard.h"

#include <stdio.h>
#include <string.h>

uint64_t
shard_fnv1a64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t
shard_mix64(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return z;
}

int
shard_of(const shard_spec_t *spec, const char *topic, size_t tlen)
{
    if (spec->n <= 1)
        return 0;
    uint64_t th = shard_fnv1a64(topic, tlen), best = 0;
    int pick = 0;
    for (int i = 0; i < spec->n; i++) {
        uint64_t s = shard_mix64(spec->shard[i].name_hash ^ th);
        if (i == 0 || s > best) {
            best = s;
            pick = i;
        }
    }
    return pick;
}

static int
s_endpoint(const char *p, size_t n, char *out)
{
    if (n == 0 || n >= SHARD_EP_MAX || (strncmp(p, "tcp://", 6) && strncmp(p, "ipc://", 6))
        || n <= 6)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
            return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* One BROKER: "PUB" or "PUB,SUB". */
static int
s_broker(const char *p, size_t n, int need_sub, shard_broker_t *b, char *why, size_t len)
{
    const char *comma = memchr(p, ',', n);
    size_t pn = comma ? (size_t)(comma - p) : n;
    if (s_endpoint(p, pn, b->pub) < 0) {
        snprintf(why, len, "\"%.*s\" is not a tcp:// or ipc:// endpoint", (int)pn, p);
        return -1;
    }
    b->sub[0] = '\0';
    if (comma) {
        size_t sn = n - pn - 1;
        if (memchr(comma + 1, ',', sn) || s_endpoint(comma + 1, sn, b->sub) < 0) {
            snprintf(why, len, "\"%.*s\" is not PUB,SUB with tcp:// or ipc:// endpoints",
                     (int)n, p);
            return -1;
        }
    } else if (need_sub) {
        snprintf(why, len, "\"%.*s\" names no SUB endpoint (PUB,SUB)", (int)n, p);
        return -1;
    }
    return 0;
}

int
shard_parse(const char *spec, int need_sub, shard_spec_t *out, char *why, size_t len)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) {
        snprintf(why, len, "no broker given");
        return -1;
    }
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (out->n == SHARD_MAX) {
            snprintf(why, len, "more than %d shards", SHARD_MAX);
            return -1;
        }
        shard_t *sh = &out->shard[out->n];
        const char *bar = memchr(p, '|', n);
        size_t an = bar ? (size_t)(bar - p) : n;
        if (s_broker(p, an, need_sub, &sh->broker[0], why, len) < 0)
            return -1;
        sh->nbrokers = 1;
        if (bar) {
            size_t bn = n - an - 1;
            if (memchr(bar + 1, '|', bn)) {
                snprintf(why, len, "a shard is one broker or a pair of two, not more");
                return -1;
            }
            if (s_broker(bar + 1, bn, need_sub, &sh->broker[1], why, len) < 0)
                return -1;
            if (!strcmp(sh->broker[0].pub, sh->broker[1].pub)) {
                snprintf(why, len, "a pair of %s with itself", sh->broker[0].pub);
                return -1;
            }
            sh->nbrokers = 2;
        }
        sh->name_hash = shard_fnv1a64(sh->broker[0].pub, strlen(sh->broker[0].pub));
        for (int i = 0; i < out->n; i++)
            if (!strcmp(out->shard[i].broker[0].pub, sh->broker[0].pub)) {
                snprintf(why, len, "shard %s listed twice", sh->broker[0].pub);
                return -1;
            }
        out->n++;
        if (!end)
            return 0;
        p = end + 1;
    }
}
