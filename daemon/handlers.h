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

#endif
