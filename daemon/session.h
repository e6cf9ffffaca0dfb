/* session — a user's login on one connection: attach at the upgrade,
 * welcome once the user's route is live, single-session kicks, detach at
 * the end. One registry holds every session of the worker (broadcast and
 * shutdown walk it).
 *
 * Worker process only; calls route, member, bus, reply and conn. A session
 * is owned by its connection (conn->sess) and freed by session_detach(),
 * which the owner calls from conn's on_closed event: memberships and the
 * user route's reference go with it.
 *
 * `welcome` is a promise that the session can send and receive: it is sent
 * only when the user's route is live AND the link to the broker is up; a
 * session that attaches to a live route while the link is down makes the
 * route prove itself again first. Before its welcome a session asks the
 * broker where its stream stands (zwsd-protocol(7) "History and
 * recovery"): a resume (?since=) gets the messages it missed first, each
 * through session_history_item(); session_history_end() then sends the
 * welcome with the stream's epoch and seq (and recovered/missed for a
 * resume). From then on s->pos keeps live delivery free of duplicates. */
#ifndef ZWSD_SESSION_H
#define ZWSD_SESSION_H

#include <stdint.h>

#include "bus.h"
#include "conn.h"
#include "envelope.h"
#include "gate.h"
#include "idgen.h"
#include "list.h"
#include "member.h"
#include "options.h"
#include "push.h"
#include "route.h"

typedef struct sessions sessions_t;

typedef struct session {
    memberset_t groups;
    conn_t     *conn;
    route_t    *user;
    link_t      ulink;          /* in user->members */
    link_t      slink;          /* in the registry */
    int64_t     login_wall;     /* ms since the epoch, orders logins for 4001 */
    gate_ticket_t ticket;       /* gate.h's: the token's deadline, if any */
    uint64_t    hreq;           /* history query awaiting its end, 0 = none */
    char       *since;          /* ?since=EPOCH:SEQ until the query goes */
    route_pos_t pos;            /* the user stream: what it was given */
    char        id[IDGEN_LEN];
} session_t;

sessions_t *sessions_new(conns_t *conns, routes_t *routes, members_t *members, bus_t *bus,
                         push_t *push, idgen_t *ids, const options_t *opt);
void        sessions_destroy(sessions_t **self_p);
int         sessions_count(const sessions_t *self);
/* The registry: a list of session_t by slink. */
link_t     *sessions_all(sessions_t *self);

/* on_upgrade: 0, or -1 (ENOMEM: the conn is dropped). since: the
 * handshake's checked ?since=, or NULL. */
int  session_attach(sessions_t *self, conn_t *c, const char *user, const char *since);
/* on_closed: releases everything the session held; c->sess becomes NULL. */
void session_detach(sessions_t *self, conn_t *c);
/* The user route r came live: welcome its waiting sessions. */
void session_route_live(sessions_t *self, route_t *r);
/* The answer to a session's history query (PQ_HISTORY, for conn c): an
 * item (its frame, rendered by the caller), the end (e: epoch, seq,
 * recovered, missed; NULL when the broker did not answer in time: closed
 * 1013, try again). */
void session_history_item(sessions_t *self, conn_t *c, const char *frame, size_t n);
void session_history_end(sessions_t *self, conn_t *c, const env_t *e);
/* A kick from another worker for user name (single-session mode). */
void session_on_kick(sessions_t *self, const char *name, size_t nlen, const env_t *e);

#endif
