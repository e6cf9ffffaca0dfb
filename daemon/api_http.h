/* api_http — one API connection's HTTP/1.1: http-parser fed from the
 * connection's input buffer, the current request kept as offsets into
 * that buffer (httphead.h), the head and body limits, the API key check;
 * and the responses, queued in the conn's output. Private to the API
 * module (api.c and api_routes.c call it; api_int.h defines ac_t).
 *
 * Protocol code, no I/O: bytes in c->in, a verdict out. The worker's
 * timers and the socket stay with api.c, which is told through two flags
 * of the conn what to do after each api_http_feed():
 *   c->began      a request began: restart its 30 s timer;
 *   c->cont       queue "100 Continue" now (the client waits for it before
 *                 sending the body), ahead of the answer to this request.
 *
 * The parser is paused at the end of each request, so the bytes behind it
 * are parsed only after api_http_reset(): pipelined requests are answered
 * strictly in order. Worker process only, single-threaded. */
#ifndef ZWSD_API_HTTP_H
#define ZWSD_API_HTTP_H

#include <stddef.h>

#include "api_int.h"

/* What api_http_feed() found. */
typedef enum {
    AH_MORE,        /* every byte fed was taken: wait for more input */
    AH_REQUEST,     /* a complete request (c->url_*, headers, c->body); parser paused */
    AH_ERROR,       /* refuse with *err and close the connection after it */
} ah_verdict_t;

/* The answer to a request refused while it was read. code and reason are
 * literals needing no JSON escaping. */
typedef struct {
    int         status;             /* 400, 401, 413, 431 or 503 */
    const char *code;               /* "bad_request", "unauthorized", ... */
    const char *reason;
    const char *extra;              /* more header lines, or NULL */
} ah_error_t;

/* A fresh conn's parser (HTTP_REQUEST, parser.data = c). */
void api_http_init(ac_t *c);

/* Feeds the bytes of c->in after c->parsed (there must be some) to the
 * parser, at most up to the end of the head limit (API_HEAD_MAX). Refused:
 * a malformed request (400), a request with a body or "Expect:
 * 100-continue" but without the API key (401, before the body is read and
 * without 100 Continue), a declared or received body over --max-message
 * (413), a head over API_HEAD_MAX (431), out of memory (503). A request
 * without a body and without the key is not refused here: api.c answers it
 * 401 after routing checks the URL, on a connection that stays open. */
ah_verdict_t api_http_feed(ac_t *c, ah_error_t *err);

/* 1 when the current request carries exactly one "Authorization: Bearer
 * <key>" with the configured key (constant-time compare), else 0. Only
 * meaningful once the head is complete and while a key is configured. */
int api_http_authorized(const ac_t *c);

/* Forgets the request just answered: the next one starts where the parser
 * stopped. Big body buffers are freed. */
void api_http_reset(ac_t *c);

/* Queues the response to the current request and moves on: to the next
 * request, or to closing when the request asked for it (or was bad). On
 * ENOMEM the conn is dropped. Nothing happens to an AC_DEAD conn. */
void api_respond(ac_t *c, int status, const char *ctype, const char *extra, const char *body,
                 size_t blen);

/* api_respond() with {"error":code,"reason":reason}; code and reason are
 * literals needing no escaping. extra: more header lines, or NULL. */
void api_error(ac_t *c, int status, const char *code, const char *reason, const char *extra);

/* Ends the connection now, without an answer; api_reap() frees it. */
void api_drop(ac_t *c);

/* Moves the current request and the bytes behind it to the front of c->in,
 * shifting every offset with them. Only between two api_http_feed(). */
void api_http_compact(ac_t *c);

#endif
