/* api_int — private to the API module: api.c, api_http.c and api_routes.c
 * include it, nothing else may. The public contract is api.h.
 *
 * Calls go one way: api.c → api_routes.c → api_http.c, and api.c →
 * api_http.c. api.c owns the connections (api_t, ac_t): accepting,
 * reading, the API key file, timers, writing, freeing, and finding the
 * conn a completion is for. api_routes.c (api_routes.h) owns what each
 * path does: api.c hands it every complete, well-formed, authorized
 * request through api_route(); it answers, or parks the connection in
 * AC_WAIT until a completion answers it. api_http.c (api_http.h) is one
 * connection's HTTP/1.1: it parses the requests out of the conn's input
 * buffer and queues the responses (api_respond(), api_error()).
 *
 * Worker process only, single-threaded. A conn is never freed here: after
 * api_drop() it is AC_DEAD and api_reap() frees it, so a conn pointer stays
 * valid until the end of the loop turn. */
#ifndef ZWSD_API_INT_H
#define ZWSD_API_INT_H

#include <http_parser.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "api_types.h"
#include "buf.h"
#include "httphead.h"
#include "io.h"
#include "options.h"
#include "valid.h"

#define API_HEAD_MAX 8192           /* request line through the empty line */
#define API_KEEP_BUF 4096           /* an empty buffer bigger than this is freed */

typedef enum {
    AC_READ,        /* parsing requests */
    AC_WAIT,        /* a request waits for its completion; input stays buffered */
    AC_CLOSING,     /* the last response is queued: shut down once it is written */
    AC_LINGER,      /* our side shut down: discard input until EOF */
    AC_DEAD,        /* on the reap list */
} ac_state_t;

/* What a conn in AC_WAIT waits for; a completion of another kind is stale. */
typedef enum { WAIT_NONE, WAIT_PUSH, WAIT_ONLINE, WAIT_PRESENCE, WAIT_HISTORY } ac_wait_t;

/* The headers the API looks at (httphead.h kinds); the others are parsed
 * and dropped. */
enum { HDR_AUTHORIZATION = 1, HDR_EXPECT };

enum { TL_API_IDLE, TL_API_LINGER, TL_API_COUNT };

typedef struct ac ac_t;

struct api {
    io_set_t    io;                 /* fd table, timers, dirty (output to
                                     * write, input to resume) and reap */
    const options_t *opt;           /* live: reloads change it */
    const int64_t   *now;
    api_events_t     ev;
    int         winding_down;       /* stop or drain seen: no more keep-alive */
    /* the API key (NULL: no auth), and what it was read from */
    char       *key;
    size_t      key_len;
    char        key_path[PATH_MAX];
    struct stat key_st;
    int64_t     key_check;          /* next stat() of the key file */
    int         key_warned;
    buf_t       body;               /* a response body being rendered */
};

struct ac {
    io_item_t   io;                 /* first: fd, generation (completions), timer */
    api_t      *api;
    uint8_t     state;              /* ac_state_t */
    uint8_t     wait;               /* ac_wait_t, in AC_WAIT */
    uint8_t     resume;             /* parse buffered input and read on */
    uint8_t     blocked;            /* output over S_OUT_HIGH (api.c): not parsing */
    uint8_t     peer_eof;
    http_parser parser;             /* parser.data = this conn */
    buf_t       in;                 /* bytes read and not yet consumed */
    size_t      parsed;             /* of in, fed to the parser */
    size_t      req_start;          /* where the current request begins */
    hh_t        hh;                 /* the current request, as offsets into in */
    uint8_t     head_done, complete, keep, too_large, malformed, oom;
    uint8_t     unauth;             /* refused at the head: no key, a body coming */
    uint8_t     began, cont;        /* api_http.h: restart the timer, send 100 Continue */
    buf_t       body;
    buf_t       out;
    const char *method;             /* for the debug line */
    char        path[48];
    char        hist_user[VALID_NAME_MAX + 1];  /* GET /api/v1/history's user */
    uint8_t     hist_all;           /* ... asked without since */
};

/* The conn's timer and dirty mark (io.h), for every file of the module. */
static inline void
api_timer(ac_t *c, int tl)
{
    io_set_timer(&c->api->io, &c->io, tl);
}

static inline void
api_dirty(ac_t *c)
{
    io_mark_dirty(&c->api->io, &c->io);
}

#endif
