/* member — a session's group memberships, and the answers its join and
 * leave frames are owed.
 *
 * Worker process only; calls route (ref/release) and reply. A membership
 * holds a reference on its group's route. Every join or leave frame with an
 * id gets exactly one answer, in the order the frames came:
 *   - join: `joined` once the group's route is live (at once when it is
 *     live already and the link to the broker is up), or error
 *     `unavailable` when it is not live JOIN_MS after the oldest waiting
 *     frame of that membership; a membership no join of which succeeded is
 *     then undone;
 *   - leave: `left`; a leave that comes while joins still wait is answered
 *     after them, in order, and the membership ends then.
 * While a leave waits, the session is no longer a member for `group`
 * frames. member_route_live() and members_tick() take the waiting answers
 * of a route that came live or ran out of time. */
#ifndef ZWSD_MEMBER_H
#define ZWSD_MEMBER_H

#include <stddef.h>
#include <stdint.h>

#include "client_json.h"
#include "conn.h"
#include "envelope.h"
#include "push.h"
#include "route.h"

#define JOIN_MS 5000

typedef struct member member_t;
typedef struct members members_t;
typedef struct member_op member_op_t;

struct member {
    link_t       rlink;         /* in route->members */
    route_t     *route;
    conn_t      *conn;          /* whose session this is */
    struct memberset *set;      /* the session's set it is in */
    member_t    *next;          /* next membership of the same session */
    member_op_t *ops;           /* answers owed, oldest first */
    member_op_t *ops_tail;
    uint8_t      leaving;       /* a leave waits behind joins */
    uint8_t      joined;        /* a join was answered `joined` */
    uint8_t      asked;         /* a resuming join's replay is arriving */
    route_pos_t  pos;           /* the group stream: what it was given */
};

/* A session's memberships. */
typedef struct memberset {
    member_t *head;
    int       n;
} memberset_t;

members_t *members_new(routes_t *routes, conns_t *conns, push_t *push, const int64_t *now);
void       members_destroy(members_t **self_p);
/* The frames; max is --max-groups. link_up: the bus is up now. */
void member_join(members_t *self, memberset_t *set, conn_t *c, cj_str_t group, cj_str_t id,
                 cj_str_t since, int max, int link_up);
void member_leave(members_t *self, memberset_t *set, conn_t *c, cj_str_t group, cj_str_t id);
/* Is the set a member of group (not leaving)? */
int  member_of(const memberset_t *set, cj_str_t group);
void member_route_live(members_t *self, route_t *r);
void members_tick(members_t *self);
/* The answer to a resuming join's history query req (PQ_JOIN_HISTORY, for
 * conn c and its set): an item (a group frame, rendered by the caller:
 * 0 once queued, -1 when no join waits for it), then the end (e NULL: no
 * answer in time, the join fails `unavailable`). */
int  member_history_item(members_t *self, memberset_t *set, uint64_t req, conn_t *c,
                         const char *frame, size_t n);
void member_history_end(members_t *self, memberset_t *set, uint64_t req, const env_t *e);
/* 1 while m's first waiting join waits for its history answer: live group
 * messages are in its replay, not for it now. */
int  member_resuming(const member_t *m);
/* The session ends: every membership goes, no answers. */
void member_drop_all(members_t *self, memberset_t *set);

#endif
