/* api_types — what the HTTP API's owner and the API's own files share:
 * the callbacks the owner registers and the configuration api_new() takes
 * (api.h has the functions). A header of types only, so the API's private
 * files (api_int.h) need not include api.h. */
#ifndef ZWSD_API_TYPES_H
#define ZWSD_API_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "options.h"

typedef struct api api_t;

/* The owner's side. push(): publish a chat (target = receiver), group
 * (target = group) or broadcast (target NULL) stamped with sender ("system"
 * when NULL), msg being JSON text; mid (40 bytes) receives the message id;
 * a chat's outcome comes back through api_push_done(fd, gen). query():
 * ENV_ONLINE (users NULL) or ENV_PRESENCE, answered through
 * api_online_done() / api_presence_done(). Both return 0, or -1 when the
 * broker is unreachable (answered 503 at once). bus_up(): /healthz. */
typedef struct {
    int  (*push)(void *arg, env_kind_t kind, const char *target, const char *sender,
                 const char *msg, size_t msg_len, char *mid, int fd, uint32_t gen);
    int  (*query)(void *arg, env_kind_t kind, const char *const *users, size_t n, int fd,
                  uint32_t gen);
    int  (*bus_up)(void *arg);
    /* GET /api/v1/history: ask for user's stream after since ("EPOCH:SEQ",
     * checked) or all it holds (NULL); answered by api_history_item() and
     * api_history_done(). 0, or -1 (unavailable). */
    int  (*history)(void *arg, const char *user, const char *since, int fd, uint32_t gen);
    void  *arg;
} api_events_t;

typedef struct {
    int              epfd;
    uint64_t         tag;           /* epoll data of a connection: tag | fd */
    int              cap;           /* the fd table's size */
    const options_t *opt;           /* live options, read at each use */
    const int64_t   *now;           /* the loop's clock */
    api_events_t     ev;
} api_cfg_t;

#endif
