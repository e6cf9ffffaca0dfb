/* api_routes — what each API path does, and how a parked request is
 * answered once the broker has spoken. Private to the API module: api.c
 * calls it, it answers through api_http.h. Paths and bodies:
 * zwsd-protocol(7) "Backend push (HTTP)". */
#ifndef ZWSD_API_ROUTES_H
#define ZWSD_API_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "api_int.h"

/* Answers (or parks in AC_WAIT) one complete, authorized request whose URL
 * has the path path (plen bytes) and the query query (qlen bytes, NULL when
 * there is none): 404 for an unknown path, 405 for the wrong method. */
void api_route(ac_t *c, const char *path, size_t plen, const char *query, size_t qlen);

/* The completions, for a conn api.c found waiting for exactly this kind:
 * a 1:1 push's outcome; cluster counts (users < 0: no answer, 503);
 * presence (e NULL: no answer, 503). */
void api_routes_push_done(ac_t *c, const char *mid, const char *status);
void api_routes_online_done(ac_t *c, int64_t users, int64_t sessions);
void api_routes_presence_done(ac_t *c, const env_t *e);
/* GET /api/v1/history: one frame of the stream (as a client gets it), then
 * the end (e NULL or not "done": 503). */
void api_routes_history_item(ac_t *c, const char *frame, size_t n);
void api_routes_history_done(ac_t *c, const env_t *e);

#endif
