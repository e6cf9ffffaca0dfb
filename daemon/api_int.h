/* api_int — private to the API module: api.c, api_http.c and api_routes.c
 * include it, nothing else may. The public contract is api.h.
 *
 * api.c owns the connections (api_t, ac_t): accepting, reading, the API
 * key file, timers, writing, freeing. api_http.c (api_http.h) parses the
 * requests out of a conn's input buffer. api_routes.c owns what
 * each path does: api.c hands it every complete, well-formed, authorized
 * request through api_route(), and it answers with api_respond() /
 * api_error(), or parks the connection in AC_WAIT until a completion
 * (api_push_done() etc., also in api_routes.c) answers it.
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

#include "api.h"
#include "buf.h"
#include "list.h"

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
typedef enum { WAIT_NONE, WAIT_PUSH, WAIT_ONLINE, WAIT_PRESENCE } ac_wait_t;

/* The headers the API looks at; the others are parsed and dropped. */
typedef enum { HDR_OTHER, HDR_AUTHORIZATION, HDR_EXPECT } hdr_kind_t;

/* Where the parser is inside a header line (a name or value may come in
 * several pieces, one per feed). */
typedef enum { IN_NONE, IN_FIELD, IN_VALUE } in_t;

enum { TL_API_IDLE, TL_API_LINGER, TL_API_COUNT };

typedef struct ac ac_t;

struct api {
    worker_t   *w;
    ac_t      **conns;              /* by fd */
    int         cap;
    int         count;
    link_t      timers[TL_API_COUNT];
    link_t      dirty;              /* output to write or input to resume */
    link_t      reap;
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
    api_t      *api;
    int         fd;
    uint32_t    gen;                /* tells reused fds apart (completions) */
    uint8_t     state;              /* ac_state_t */
    uint8_t     wait;               /* ac_wait_t, in AC_WAIT */
    uint8_t     tl;                 /* timer list */
    uint8_t     dirty;              /* in api->dirty (or being serviced) */
    uint8_t     resume;             /* parse buffered input and read on */
    uint8_t     blocked;            /* output over S_OUT_HIGH (api.c): not parsing */
    uint8_t     peer_eof;
    link_t      tlink;
    link_t      dlink;              /* in api->dirty or api->reap */
    int64_t     t_ms;
    http_parser parser;             /* parser.data = this conn */
    buf_t       in;                 /* bytes read and not yet consumed */
    size_t      parsed;             /* of in, fed to the parser */
    size_t      req_start;          /* where the current request begins */
    /* the current request, as offsets into in */
    size_t      url_off, url_len;
    size_t      field_off, field_len;
    size_t      value_end;
    uint8_t     in_hdr;             /* in_t */
    uint8_t     cur_hdr;            /* hdr_kind_t of the value being read */
    uint8_t     nauth;
    uint8_t     head_done, complete, keep, too_large, malformed, oom;
    uint8_t     unauth;             /* refused at the head: no key, a body coming */
    uint8_t     began, cont;        /* api_http.h: restart the timer, send 100 Continue */
    size_t      auth_off, auth_len, expect_off, expect_len;
    buf_t       body;
    buf_t       out;
    const char *method;             /* for the debug line */
    char        path[48];
};

/* ---- api.c, for api_routes.c ----------------------------------------- */


/* Queues the response to the current request and moves on: to the next
 * request, or to closing when the request asked for it (or was bad). On
 * ENOMEM the conn is dropped. Nothing happens to an AC_DEAD conn. */
void api_respond(worker_t *w, ac_t *c, int status, const char *ctype, const char *extra,
                 const char *body, size_t blen);

/* api_respond() with {"error":code,"reason":reason}; code and reason are
 * literals needing no escaping. extra: more header lines, or NULL. */
void api_error(worker_t *w, ac_t *c, int status, const char *code, const char *reason,
               const char *extra);

/* Ends the connection now, without an answer; api_reap() frees it. */
void api_drop(ac_t *c);

/* ---- api_routes.c, for api.c ----------------------------------------- */

/* Answers (or parks in AC_WAIT) one complete, authorized request whose URL
 * has the path path (plen bytes) and the query query (qlen bytes, NULL when
 * there is none): 404 for an unknown path, 405 for the wrong method. */
void api_route(worker_t *w, ac_t *c, const char *path, size_t plen, const char *query,
               size_t qlen);

#endif
