/* peers — see peers.h. Chained buckets over a stable entry array. */
#include "peers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_V4 0xffffffff00000000ULL     /* high half of an IPv4 key */

int
peers_init(peers_t *p, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->nbucket = 64;
    if (!(p->bucket = calloc(p->nbucket, sizeof *p->bucket)))
        return -1;
    return 0;
}

void
peers_fini(peers_t *p)
{
    free(p->e);
    free(p->bucket);
    memset(p, 0, sizeof *p);
}

int
peers_key(const struct sockaddr *sa, socklen_t len, uint64_t *key)
{
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        *key = S_V4 | ntohl(in->sin_addr.s_addr);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        uint64_t k = 0;
        if (!memcmp(a, mapped, sizeof mapped)) {
            for (int i = 12; i < 16; i++)
                k = k << 8 | a[i];
            *key = S_V4 | k;
            return 0;
        }
        for (int i = 0; i < 8; i++)
            k = k << 8 | a[i];
        *key = k;
        return 0;
    }
    return -1;
}

char *
peers_text(uint64_t key, char *buf)
{
    if ((key & S_V4) == S_V4) {
        struct in_addr a = { htonl((uint32_t)key) };
        if (!inet_ntop(AF_INET, &a, buf, PEERS_TEXT_LEN))
            strcpy(buf, "?");
        return buf;
    }
    struct in6_addr a;
    memset(&a, 0, sizeof a);
    for (int i = 0; i < 8; i++)
        a.s6_addr[i] = (uint8_t)(key >> (56 - 8 * i));
    if (!inet_ntop(AF_INET6, &a, buf, PEERS_TEXT_LEN - 3))
        strcpy(buf, "?");
    else
        strcat(buf, "/64");
    return buf;
}

/* A keyed mix (two rounds of the murmur3 finalizer around the seed): the
 * bucket of a key cannot be told without the seed. */
static uint32_t
s_bucket(const peers_t *p, uint64_t key)
{
    uint64_t h = key ^ p->seed;
    for (int r = 0; r < 2; r++) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        h ^= h >> 33;
        h += p->seed >> 1 | 1;
    }
    return (uint32_t)h & (p->nbucket - 1);
}

static uint32_t
s_find(const peers_t *p, uint64_t key)
{
    for (uint32_t id = p->bucket[s_bucket(p, key)]; id; id = p->e[id].next)
        if (p->e[id].key == key)
            return id;
    return 0;
}

/* Twice the buckets, every entry with a count linked again. */
static int
s_grow_buckets(peers_t *p)
{
    uint32_t n = p->nbucket * 2;
    uint32_t *b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    free(p->bucket);
    p->bucket = b;
    p->nbucket = n;
    for (uint32_t id = 1; id <= p->ne; id++) {
        if (!p->e[id].count)
            continue;
        uint32_t h = s_bucket(p, p->e[id].key);
        p->e[id].next = b[h];
        b[h] = id;
    }
    return 0;
}

/* A free entry's number, from the free list or a new one; 0 on ENOMEM. */
static uint32_t
s_alloc(peers_t *p)
{
    if (p->free) {
        uint32_t id = p->free;
        p->free = p->e[id].next;
        return id;
    }
    if (p->ne + 1 >= p->cap) {
        if (p->cap >= UINT32_MAX / 2)
            return 0;
        uint32_t cap = p->cap ? p->cap * 2 : 64;
        peers_entry_t *e = realloc(p->e, (size_t)cap * sizeof *e);
        if (!e)
            return 0;
        p->e = e;
        p->cap = cap;
    }
    return ++p->ne;
}

uint32_t
peers_take(peers_t *p, uint64_t key, uint32_t *count)
{
    uint32_t id = s_find(p, key);
    if (!id) {
        if (p->used >= p->nbucket && s_grow_buckets(p) < 0)
            return 0;
        if (!(id = s_alloc(p)))
            return 0;
        uint32_t h = s_bucket(p, key);
        p->e[id] = (peers_entry_t){ key, 0, p->bucket[h] };
        p->bucket[h] = id;
        p->used++;
    }
    *count = ++p->e[id].count;
    return id;
}

void
peers_put(peers_t *p, uint32_t id)
{
    if (!id || id > p->ne || !p->e[id].count)
        return;
    if (--p->e[id].count)
        return;
    /* the last connection of this key: unlink the entry and free it */
    uint32_t *link = &p->bucket[s_bucket(p, p->e[id].key)];
    while (*link != id)
        link = &p->e[*link].next;
    *link = p->e[id].next;
    p->e[id].next = p->free;
    p->free = id;
    p->used--;
}

uint32_t
peers_count(const peers_t *p, uint64_t key)
{
    uint32_t id = s_find(p, key);
    return id ? p->e[id].count : 0;
}
