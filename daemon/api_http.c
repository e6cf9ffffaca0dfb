/* api_http — reading the requests of one API connection (api_http.h).
 *
 * Every byte read from an API connection stays in its own buffer (c->in)
 * until its request is answered, so the request line and the headers the
 * API looks at are kept as offsets into that buffer, as handshake.c does;
 * a body is copied out (chunked pieces are not adjacent). */
#include "api_http.h"

#include <http_parser.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

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
    if (c->url_len == 0)
        c->url_off = s_off(c, at);
    c->url_len += len;
    return 0;
}

static int
s_on_header_field(http_parser *p, const char *at, size_t len)
{
    ac_t *c = p->data;
    if (c->in_hdr != IN_FIELD) {
        c->field_off = s_off(c, at);
        c->field_len = 0;
        c->in_hdr = IN_FIELD;
    }
    c->field_len += len;
    return 0;
}

static int
s_field_is(const ac_t *c, const char *name)
{
    size_t n = strlen(name);
    return c->field_len == n && strncasecmp(c->in.data + c->field_off, name, n) == 0;
}

/* Called at least once per header (len 0 for an empty value). The pieces of
 * one value are adjacent in c->in unless the value was folded (obs-fold),
 * which RFC 7230 3.2.4 lets a server refuse with 400. */
static int
s_on_header_value(http_parser *p, const char *at, size_t len)
{
    ac_t *c = p->data;
    size_t off = s_off(c, at);
    if (c->in_hdr != IN_VALUE) {
        c->in_hdr = IN_VALUE;
        c->value_end = off;
        c->cur_hdr = HDR_OTHER;
        if (s_field_is(c, "authorization")) {
            c->cur_hdr = HDR_AUTHORIZATION;
            c->auth_off = off;
            c->auth_len = 0;
            if (c->nauth < 2)
                c->nauth++;
        } else if (s_field_is(c, "expect")) {
            c->cur_hdr = HDR_EXPECT;
            c->expect_off = off;
            c->expect_len = 0;
        }
    }
    if (off != c->value_end)
        c->malformed = 1;
    c->value_end = off + len;
    if (c->cur_hdr == HDR_AUTHORIZATION)
        c->auth_len += len;
    else if (c->cur_hdr == HDR_EXPECT)
        c->expect_len += len;
    return 0;
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
    c->in_hdr = IN_NONE;
    int expects = c->expect_len == 12
                  && strncasecmp(c->in.data + c->expect_off, "100-continue", 12) == 0
                  && p->http_major == 1 && p->http_minor >= 1;
    int has_body = (p->flags & F_CHUNKED)
                   || (p->content_length != ULLONG_MAX && p->content_length > 0);
    if (c->api->key && (expects || has_body) && !api_http_authorized(c)) {
        c->unauth = 1;
        return -1;                      /* stops the parser */
    }
    if (p->content_length != ULLONG_MAX && p->content_length > c->api->w->opt->max_message) {
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
    if (c->body.len + len > c->api->w->opt->max_message) {
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

/* The credential of an "Authorization: Bearer X" value, or NULL. */
static const char *
s_bearer(const char *v, size_t n, size_t *tn)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n < 7 || strncasecmp(v, "bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t'))
        return NULL;
    v += 6;
    n -= 6;
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    *tn = n;
    return v;
}

/* Only the length can leak through timing; CRYPTO_memcmp() looks at every
 * byte. */
int
api_http_authorized(const ac_t *c)
{
    const api_t *a = c->api;
    size_t tn = 0;
    const char *t = c->nauth == 1 ? s_bearer(c->in.data + c->auth_off, c->auth_len, &tn) : NULL;
    if (!a->key || !t || tn != a->key_len)
        return 0;
    return CRYPTO_memcmp(t, a->key, a->key_len) == 0;
}

/* ---- feeding --------------------------------------------------------- */

void
api_http_init(ac_t *c)
{
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
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
    size_t limit = API_HEAD_MAX + c->api->w->opt->max_message + 65536;  /* head, body, framing */
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
    if (e != HPE_OK || c->malformed) {
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
    c->url_off = c->url_len = 0;
    c->field_off = c->field_len = c->value_end = 0;
    c->in_hdr = IN_NONE;
    c->cur_hdr = HDR_OTHER;
    c->nauth = 0;
    c->head_done = c->complete = c->too_large = c->malformed = c->oom = c->unauth = 0;
    c->began = c->cont = 0;
    c->auth_off = c->auth_len = c->expect_off = c->expect_len = 0;
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
    if (c->url_len)
        c->url_off -= k;
    if (c->in_hdr != IN_NONE) {
        c->field_off -= k;
        c->value_end = c->value_end >= k ? c->value_end - k : 0;
    }
    if (c->nauth)
        c->auth_off -= k;
    if (c->cur_hdr == HDR_EXPECT || c->expect_len)
        c->expect_off = c->expect_off >= k ? c->expect_off - k : 0;
}
