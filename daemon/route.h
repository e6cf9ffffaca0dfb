/* route — the topics this worker subscribes for its sessions: one per user
 * it holds ("u:bob|") and one per group its sessions joined ("g:room|").
 *
 * Worker process only; calls only the bus. A route exists while it has
 * members and is subscribed exactly once (reference counting: route_ref()
 * and route_release(), which drops a route left without members). It is
 * live once a probe published to its own topic came back through the
 * broker: from then on, anything published to it reaches this worker.
 * Until then its members wait (sessions for welcome, joins for their ack)
 * and route_tick() re-sends its probe every 250 ms. route_probe_back()
 * returns the route a returning probe made live, for the owner to wake its
 * members; route_reprobe() makes a live route prove itself again (the link
 * to the broker was down when a new member came). */
#ifndef ZWSD_ROUTE_H
#define ZWSD_ROUTE_H

#include <stdint.h>

#include "bus.h"
#include "list.h"
#include "topic.h"
#include "valid.h"

typedef struct routes routes_t;

typedef struct route {
    link_t    members;          /* user: session->ulink; group: member->rlink */
    int       nmembers;         /* kept by the owner of the members */
    uint8_t   live;
    uint8_t   kind;             /* TOPIC_USER or TOPIC_GROUP */
    uint8_t   tlen;             /* topic length */
    uint64_t  probe_min;        /* first probe of this subscription */
    int64_t   probe_ms;
    link_t    plink;            /* in the not-yet-live list */
    char      topic[TOPIC_MAX]; /* "u:bob|", NUL-terminated */
    char      name[65];         /* "bob" */
    uint8_t   nlen;
    /* the stream's epoch as the last message or history answer gave it;
     * epoch_gen counts its changes, so a member's position (route_pos_t)
     * taken under an older epoch is known stale */
    uint8_t   epoch_len;
    uint32_t  epoch_gen;
    char      epoch[VALID_EPOCH_MAX + 1];
} route_t;

/* A member's place in its route's stream: the highest seq it was given,
 * under which epoch generation. */
typedef struct {
    uint64_t  seq;
    uint32_t  gen;
} route_pos_t;

routes_t *routes_new(bus_t *bus, const int64_t *now);
void      routes_destroy(routes_t **self_p);
route_t  *route_get(routes_t *self, topic_kind_t kind, const char *name, size_t len);
/* Find, or create and subscribe; NULL on ENOMEM or a bad name. */
route_t  *route_ref(routes_t *self, topic_kind_t kind, const char *name, size_t len);
/* Drop the route if it has no members left (unsubscribes). */
void      route_release(routes_t *self, route_t *r);
route_t  *route_probe_back(routes_t *self, uint64_t req, const char *topic, size_t len);
void      route_reprobe(routes_t *self, route_t *r);
void      route_tick(routes_t *self);       /* re-send probes */
size_t    routes_users(routes_t *self);

/* History (zwsd-protocol(7) "History and recovery"), pure on the route: */
/* The stream's epoch is now epoch[0..n) (from a message or an answer). */
void      route_epoch(route_t *r, const char *epoch, size_t n);
/* May a member at *pos take message seq of the current epoch? Never one at
 * or below what it had under the same epoch (no duplicate); *pos moves on
 * when it may. seq 0 (an unnumbered message): always, *pos untouched. */
int       route_pos_take(const route_t *r, route_pos_t *pos, uint64_t seq);
/* *pos is seq under the current epoch. */
void      route_pos_set(const route_t *r, route_pos_t *pos, uint64_t seq);

#endif
