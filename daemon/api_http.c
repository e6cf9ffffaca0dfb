/* api_http — reading the requests of one API connection (api_http.h).
 *
 * Every byte read from an API connection stays in its own buffer (c->in)
 * until its request is answered, so the request line and the headers the
 * API looks at are kept as offsets into that buffer by the collector
 * handshake.c uses too (httphead.h); a body is copied out (chunked pieces
 * are not adjacent). */
#include "api_http.h"

#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "log.h"

/* ---- http_parser callbacks ------------------------------------------- */

static size_t
s_off(const ac_t *c, const char *at)
{
    return (size_t)(at - c->in.data);
}

static int
s_on_message_begin(http_parser *p)
{
    ac_t *c = p->data;
    c->began = 1;                       /* a request has 30 s to arrive (api.c) */
    return 0;
}

static int
s_on_url(http_parser *p, const char *at, size_t len)
{
    ac_t *c = p->data;
    hh_url(&c->hh, s_off(c, at), len);
    return 0;
}

static int
s_on_header_field(http_parser *p, const char *at, size_t len)
{
    ac_t *c = p->data;
    hh_field(&c->hh, s_off(c, at), len);
    return 0;
}

/* Too many Authorization/Expect lines is a malformed request. */
static int
s_on_header_value(http_parser *p, const char *at, size_t len)
{
    ac_t *c = p->data;
    if (hh_value(&c->hh, c->in.data, s_off(c, at), len) == 0)
        return 0;
    c->malformed = 1;
    return -1;
}

/* The head is complete: the last moment to refuse a request before its body
 * is read. Without the key, a request that has a body or waits for "100
 * Continue" is refused now (401, no 100 Continue, the body is never
 * buffered); a declared body over the limit likewise (413). A client that
 * waits for "100 Continue" (curl does, for bodies over 1 KiB) is then
 * owed it: api.c queues it behind the responses already queued. */
static int
s_on_headers_complete(http_parser *p)
{
    ac_t *c = p->data;
    c->head_done = 1;
    hh_end(&c->hh);
    size_t ne = hh_count(&c->hh, HDR_EXPECT);
    const hh_field_t *ex = ne ? hh_nth(&c->hh, HDR_EXPECT, ne - 1) : NULL;  /* the last */
    int expects = ex && ex->len == 12
                  && strncasecmp(c->in.data + ex->off, "100-continue", 12) == 0
                  && p->http_major == 1 && p->http_minor >= 1;
    int has_body = (p->flags & F_CHUNKED)
                   || (p->content_length != ULLONG_MAX && p->content_length > 0);
    if (c->api->key && (expects || has_body) && !api_http_authorized(c)) {
        c->unauth = 1;
        return -1;                      /* stops the parser */
    }
    if (p->content_length != ULLONG_MAX && p->content_length > c->api->opt->max_message) {
        c->too_large = 1;
        return -1;
    }
    if (expects)
        c->cont = 1;
    return 0;
}

static int
s_on_body(http_parser *p, const char *at, size_t len)
{
    ac_t *c = p->data;
    if (c->body.len + len > c->api->opt->max_message) {
        c->too_large = 1;
        return -1;
    }
    if (buf_append(&c->body, at, len) < 0) {
        c->oom = 1;
        return -1;
    }
    return 0;
}

/* Pausing makes http_parser_execute() return right after this request's
 * last byte: the next one is parsed only once this one is answered. */
static int
s_on_message_complete(http_parser *p)
{
    ac_t *c = p->data;
    c->complete = 1;
    c->keep = http_should_keep_alive(p) && !p->upgrade;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings s_settings = {
    .on_message_begin = s_on_message_begin,
    .on_url = s_on_url,
    .on_header_field = s_on_header_field,
    .on_header_value = s_on_header_value,
    .on_headers_complete = s_on_headers_complete,
    .on_body = s_on_body,
    .on_message_complete = s_on_message_complete,
};

/* ---- the API key ----------------------------------------------------- */

/* Only the length can leak through timing; CRYPTO_memcmp() looks at every
 * byte. */
int
api_http_authorized(const ac_t *c)
{
    const api_t *a = c->api;
    size_t tn = 0;
    const hh_field_t *f = hh_count(&c->hh, HDR_AUTHORIZATION) == 1
                          ? hh_nth(&c->hh, HDR_AUTHORIZATION, 0) : NULL;
    const char *t = f ? hh_bearer(c->in.data + f->off, f->len, &tn) : NULL;
    if (!a->key || !t || tn != a->key_len)
        return 0;
    return CRYPTO_memcmp(t, a->key, a->key_len) == 0;
}

/* ---- feeding --------------------------------------------------------- */

void
api_http_init(ac_t *c)
{
    static const char *const names[] = {
        [HDR_AUTHORIZATION - 1] = "authorization", [HDR_EXPECT - 1] = "expect",
    };
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    hh_init(&c->hh, names, sizeof names / sizeof *names);
}

static ah_verdict_t
s_refuse(ah_error_t *err, int status, const char *code, const char *reason, const char *extra)
{
    err->status = status;
    err->code = code;
    err->reason = reason;
    err->extra = extra;
    return AH_ERROR;
}

ah_verdict_t
api_http_feed(ac_t *c, ah_error_t *err)
{
    size_t limit = API_HEAD_MAX + c->api->opt->max_message + 65536;  /* head, body, framing */
    size_t feed = c->in.len - c->parsed;
    if (!c->head_done && feed > API_HEAD_MAX - (c->parsed - c->req_start))
        feed = API_HEAD_MAX - (c->parsed - c->req_start);  /* the head must end within it */
    size_t n = http_parser_execute(&c->parser, &s_settings, c->in.data + c->parsed, feed);
    c->parsed += n;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        return AH_REQUEST;
    }
    if (e != HPE_OK || c->malformed || c->hh.folded) {
        if (c->oom)
            return s_refuse(err, 503, "unavailable", "out of memory", NULL);
        if (c->unauth)
            return s_refuse(err, 401, "unauthorized", "missing or wrong API key",
                            "WWW-Authenticate: Bearer\r\n");
        if (c->too_large)
            return s_refuse(err, 413, "too_large", "body over the message limit", NULL);
        return s_refuse(err, 400, "bad_request", "malformed HTTP request", NULL);
    }
    if (!c->head_done && c->parsed - c->req_start >= API_HEAD_MAX)
        return s_refuse(err, 431, "too_large", "request head over 8192 bytes", NULL);
    if (c->parsed - c->req_start > limit)
        return s_refuse(err, 413, "too_large", "request over the message limit", NULL);
    return AH_MORE;
}

/* ---- between requests ------------------------------------------------ */

void
api_http_reset(ac_t *c)
{
    c->req_start = c->parsed;
    hh_reset(&c->hh);
    c->head_done = c->complete = c->too_large = c->malformed = c->oom = c->unauth = 0;
    c->began = c->cont = 0;
    c->body.len = 0;
    if (c->body.cap > API_KEEP_BUF)
        buf_free(&c->body);
}

void
api_http_compact(ac_t *c)
{
    size_t k = c->req_start;
    if (k == 0)
        return;
    memmove(c->in.data, c->in.data + k, c->in.len - k);
    c->in.len -= k;
    c->parsed -= k;
    c->req_start = 0;
    hh_shift(&c->hh, k);
}

/* ---- responses ------------------------------------------------------- */

static const char *
s_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default:  return "Error";
    }
}

/* Ends the connection now; it is freed in api_reap(). */
void
api_drop(ac_t *c)
{
    if (c->state == AC_DEAD)
        return;
    c->state = AC_DEAD;
    io_kill(&c->api->io, &c->io);
}

/* Forgets the request just answered. */
static void
s_req_reset(ac_t *c)
{
    api_http_reset(c);
    c->wait = WAIT_NONE;
    c->method = NULL;
    c->path[0] = '\0';
}

/* Queues the response to the current request and moves on: to the next
 * request, or to closing when the request asked for it (or was bad). */
void
api_respond(ac_t *c, int status, const char *ctype, const char *extra,
            const char *body, size_t blen)
{
    if (c->state == AC_DEAD)
        return;
    int http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    if (c->api->winding_down)
        c->keep = 0;                    /* backends reconnect, to a worker that stays */
    const char *conn = !c->keep ? "Connection: close\r\n"
                     : http10 ? "Connection: keep-alive\r\n" : "";
    if (buf_appendf(&c->out,
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                    status, s_reason(status), ctype, blen, extra ? extra : "", conn) < 0
        || (c->parser.method != HTTP_HEAD && buf_append(&c->out, body, blen) < 0)) {
        log_warnx("api: out of memory for a response; dropping the connection");
        api_drop(c);
        return;
    }
    log_debug("api %s %s -> %d", c->method ? c->method : "-", c->path[0] ? c->path : "-", status);
    s_req_reset(c);
    api_timer(c, TL_API_IDLE);
    c->state = c->keep ? AC_READ : AC_CLOSING;
    api_dirty(c);
}

/* {"error":code,"reason":reason}; code and reason are literals needing no
 * escaping. */
void
api_error(ac_t *c, int status, const char *code, const char *reason,
          const char *extra)
{
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"reason\":\"%s\"}", code, reason);
    api_respond(c, status, "application/json", extra, body, (size_t)n);
}
