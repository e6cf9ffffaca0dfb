/* handlers — the HTTP API's way into the worker's core: backend pushes and
 * cluster queries, implemented in worker.c on top of push.h.
 *
 * handle_push(): publish a chat (target = receiver), group (target = group)
 * or broadcast (target NULL) stamped with sender ("system" when NULL), msg
 * being JSON text; mid (40 bytes) receives the message id. For a chat the
 * outcome arrives later through api_push_done(w, fd, gen, mid, status).
 * handle_query(): ENV_ONLINE (users NULL) answers through
 * api_online_done(), ENV_PRESENCE through api_presence_done(); fd < 0 is
 * the worker's own online-count query. Both return 0, or -1 when the broker
 * is unreachable (answer 503 at once). */
#ifndef ZWSD_HANDLERS_H
#define ZWSD_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "worker.h"

int handle_push(worker_t *w, env_kind_t kind, const char *target, const char *sender,
                const char *msg, size_t msg_len, char *mid, int fd, uint32_t gen);
int handle_query(worker_t *w, env_kind_t kind, const char *const *users, size_t n, int fd,
                 uint32_t gen);

#endif
