/* handlers — what a worker does with each client frame and bus message.
 *
 * Worker process only. handle_client() takes one complete text message
 * from an open session (after the rate limit); handle_bus() one message
 * from the broker. Both answer through conn_send_text()/bus_publish() and
 * never free a conn. handle_expire() answers requests past their deadline;
 * handle_attach()/handle_detach() add and remove a session from its user's
 * route (single-session kicks included). */
#ifndef ZWSD_HANDLERS_H
#define ZWSD_HANDLERS_H

#include <stddef.h>

#include "conn.h"
#include "envelope.h"

void handle_client(worker_t *w, conn_t *c, const char *text, size_t len);
void handle_error(worker_t *w, conn_t *c, int code, const char *reason, const char *id,
                  size_t id_len);
void handle_bus(worker_t *w, const char *topic, size_t tlen, const env_t *e);
void handle_expire(worker_t *w);
int  handle_attach(worker_t *w, conn_t *c, const char *user);
void handle_detach(worker_t *w, conn_t *c);
void handle_route_live(worker_t *w, route_t *r);
/* Joins of a group whose route is still not live after 5 s: error
 * `unavailable` and the membership is undone (may free r). */
void handle_join_timeouts(worker_t *w, route_t *r);

/* Backend push (HTTP API): publish a chat (target = receiver), group
 * (target = group) or broadcast (target NULL) stamped with sender (a valid
 * name; "system" when NULL), msg being JSON text. mid (40 bytes) receives
 * the message id. For a chat, the outcome arrives later through
 * api_push_done(w, fd, gen, mid, status) with "delivered" or "offline"
 * (or "unavailable" if the broker stopped answering). Returns 0, or -1
 * when the broker is unreachable (answer 503 at once). */
int  handle_push(worker_t *w, env_kind_t kind, const char *target, const char *sender,
                 const char *msg, size_t msg_len, char *mid, int fd, uint32_t gen);
/* Cluster-wide queries for the API: ENV_ONLINE (users NULL) answers
 * through api_online_done(), ENV_PRESENCE through api_presence_done().
 * Returns 0, or -1 when the broker is unreachable. */
int  handle_query(worker_t *w, env_kind_t kind, const char *const *users, size_t n,
                  int fd, uint32_t gen);

#endif
