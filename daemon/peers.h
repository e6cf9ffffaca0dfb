/* peers — connections per client address, for --max-conns-per-ip: a small
 * hash table of address → count that a worker keeps for its own sockets.
 *
 * Addresses are reduced to a 64-bit key by peers_key(): an IPv4 address (or
 * an IPv4-mapped IPv6 one) counts alone; an IPv6 address counts by its /64
 * prefix, since one IPv6 host usually holds a whole /64 and would otherwise
 * dodge the limit by changing its interface identifier.
 *
 * Entries live in one array and keep their number (1, 2, ...) while their
 * count is above 0, so a connection stores only that number (peers_take)
 * and hands it back when it ends (peers_put); an entry whose count drops to
 * 0 is freed and its number reused. The bucket index is rebuilt as the
 * table grows, never the entries. Buckets are picked by a keyed hash (the
 * seed, random per worker), so a client cannot choose addresses that all
 * land in one bucket.
 *
 * Pure apart from malloc: no I/O, no clock. Any process; single-threaded. */
#ifndef ZWSD_PEERS_H
#define ZWSD_PEERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
    uint64_t key;
    uint32_t count;         /* connections; 0 = entry free */
    uint32_t next;          /* next in its bucket, or in the free list; 0 = end */
} peers_entry_t;

typedef struct {
    peers_entry_t *e;       /* e[0] unused: numbers start at 1 */
    uint32_t       ne, cap; /* entries made (e[1..ne]), room */
    uint32_t       free;    /* first free entry, 0 = none */
    uint32_t      *bucket;  /* first entry of each bucket, 0 = empty */
    uint32_t       nbucket; /* a power of two */
    uint32_t       used;    /* entries with a count */
    uint64_t       seed;
} peers_t;

/* 0, or -1 on ENOMEM. */
int      peers_init(peers_t *p, uint64_t seed);
void     peers_fini(peers_t *p);

/* The key of a peer address: 0 and *key set, or -1 for a family that is
 * neither AF_INET nor AF_INET6 (not counted). */
int      peers_key(const struct sockaddr *sa, socklen_t len, uint64_t *key);
/* Writes the key as text (an IPv4 address, or an IPv6 /64 prefix) into buf
 * of at least PEERS_TEXT_LEN bytes; returns buf. */
#define  PEERS_TEXT_LEN 48
char    *peers_text(uint64_t key, char *buf);

/* One more connection from key: its entry's number (>= 1), and *count is
 * the new count; 0 on ENOMEM (nothing counted). */
uint32_t peers_take(peers_t *p, uint64_t key, uint32_t *count);
/* One connection less on entry id (from peers_take); 0 is ignored. */
void     peers_put(peers_t *p, uint32_t id);
/* Connections counted for key now. */
uint32_t peers_count(const peers_t *p, uint64_t key);
/* Distinct keys with a count. */
static inline uint32_t peers_size(const peers_t *p) { return p->used; }

#endif
