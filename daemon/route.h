/* route — the topics this worker subscribes for its sessions: one per user
 * it holds ("u:bob|") and one per group its sessions joined ("g:room|").
 *
 * Worker process only. A route exists while it has members and is
 * subscribed exactly once (reference counting). It becomes live when a
 * probe published to its own topic comes back through the broker: from
 * then on, anything published to it reaches this worker. Until then the
 * members wait (sessions for welcome, joins for their ack); probes are
 * re-sent every 250 ms. route_get() returns NULL when there is none. */
#ifndef ZWSD_ROUTE_H
#define ZWSD_ROUTE_H

#include <stdint.h>

#include "list.h"
#include "topic.h"
#include "worker.h"

struct route {
    link_t    members;          /* user: conn->ulink; group: member->rlink */
    int       nmembers;
    uint8_t   live;
    uint8_t   kind;             /* TOPIC_USER or TOPIC_GROUP */
    uint8_t   tlen;             /* topic length */
    uint64_t  probe_req;
    int64_t   probe_ms;
    link_t    plink;            /* in the not-yet-live list */
    char      topic[TOPIC_MAX];  /* "u:bob|", NUL-terminated */
    char      name[65];         /* "bob" */
    size_t    nlen;
};

/* A session's membership of a group. */
struct member {
    link_t     rlink;           /* in route->members */
    route_t   *route;
    conn_t    *conn;
    member_t  *next;            /* next membership of the same conn */
    char       ack_id[65];      /* join id to ack once live; "" = none */
    uint8_t    ack_wanted;
    int64_t    join_ms;
};

routes_t *routes_new(worker_t *w);
void      routes_destroy(routes_t **self_p);
route_t  *route_get(routes_t *self, topic_kind_t kind, const char *name, size_t len);
/* Find or create and subscribe; NULL on ENOMEM. */
route_t  *route_ref(routes_t *self, topic_kind_t kind, const char *name, size_t len);
/* Drop the route if it has no members left (unsubscribes). */
void      route_release(routes_t *self, route_t *r);
/* A probe came back: make the route live and wake its members. */
void      route_probe_back(routes_t *self, uint64_t req, const char *topic, size_t len);
void      route_tick(routes_t *self);       /* re-send probes */
size_t    routes_users(routes_t *self);

#endif
