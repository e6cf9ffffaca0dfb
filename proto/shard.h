/* shard — the broker tier's layout, as --broker spells it, and which shard
 * a topic belongs to.
 *
 *   SPEC   := SHARD [ ";" SHARD ]...          at most SHARD_MAX shards
 *   SHARD  := BROKER [ "|" BROKER ]           a broker, or a pair of them
 *   BROKER := PUB [ "," SUB ]                 tcp:// or ipc:// endpoints
 *
 * zwsd needs both endpoints of every broker; zwsd-send only publishes and
 * takes PUB alone (a SUB given is ignored). A shard's name is its first
 * broker's PUB endpoint exactly as written, so every daemon and backend
 * must spell the endpoints the same way; the order of the shards does not
 * matter.
 *
 * Every topic belongs to one shard by rendezvous (highest random weight)
 * hashing: the shard whose name scores highest for the topic, where
 *   score(name, topic) = mix64(fnv1a64(name) ^ fnv1a64(topic))
 * over the topic's bytes as on the wire ("u:bob|"), mix64 being
 * splitmix64's finalizer; a tie goes to the shard listed first. Adding a
 * shard moves only the topics it now wins. Pure functions, no allocation. */
#ifndef ZWSD_SHARD_H
#define ZWSD_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_MAX     16
#define SHARD_EP_MAX  256       /* one endpoint, NUL included */
#define SHARD_SPEC_MAX (SHARD_MAX * 2 * 2 * SHARD_EP_MAX)

typedef struct {
    char pub[SHARD_EP_MAX], sub[SHARD_EP_MAX];
} shard_broker_t;

typedef struct {
    int            nbrokers;    /* 1, or 2 for a pair (primary first) */
    shard_broker_t broker[2];
    uint64_t       name_hash;   /* fnv1a64 of broker[0].pub */
} shard_t;

typedef struct {
    int     n;
    shard_t shard[SHARD_MAX];
} shard_spec_t;

/* Parses spec into out. need_sub: every broker must name its SUB endpoint.
 * 0, or -1 with why (a sentence without the flag's name) filled. Two
 * shards with the same name are refused: they would split nothing. */
int      shard_parse(const char *spec, int need_sub, shard_spec_t *out, char *why, size_t len);
/* The shard (index into spec->shard) topic belongs to. */
int      shard_of(const shard_spec_t *spec, const char *topic, size_t tlen);
uint64_t shard_fnv1a64(const void *p, size_t n);
uint64_t shard_mix64(uint64_t z);

#endif
