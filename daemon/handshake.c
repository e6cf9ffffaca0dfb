/* handshake — see handshake.h.
 *
 * http_parser does the HTTP grammar and httphead.h remembers where the
 * interesting parts are, as offsets into self->buf, so the buffer can be
 * realloc'd while the head grows. Each feed appends the new bytes to buf and
 * hands http_parser only those; buf is then cut back to what it consumed, so
 * it holds exactly the head and never the early WebSocket frames behind it. All checks run once, when the empty line has been seen, so the
 * first failure in zwsd-protocol(7)'s order wins whatever order the headers came in. */
#include "handshake.h"

#include <http_parser.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httphead.h"
#include "valid.h"

#define S_BUF_MIN   1024
#define S_WS_GUID   "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  /* RFC 6455 4.2.2 */
#define S_PROTOCOL  "zwsd.v1"

/* The headers the checks look at; every other header is parsed and dropped. */
typedef enum {
    HDR_OTHER = 0,
    HDR_UPGRADE,
    HDR_CONNECTION,
    HDR_VERSION,
    HDR_KEY,
    HDR_ORIGIN,
    HDR_PROTOCOL,
    HDR_AUTHORIZATION,
} hdr_kind_t;

struct handshake {
    http_parser parser;         /* parser.data = self */
    char *buf;                  /* the head bytes consumed so far */
    size_t len, cap;
    hh_t hh;                    /* the target and the headers checked */
    int complete;               /* on_headers_complete ran */

    hs_result_t result;
    int status;
    const char *body;           /* error body, a string literal */
    const char *extra;          /* error extra headers, a string literal or NULL */

    size_t user_off;            /* NUL-terminated in buf after HS_DONE */
    long token_off, origin_off; /* -1 = absent */
    long since_off;             /* -1 = absent */
    const hs_page_t *page;      /* HS_PAGE: what was asked for */
    int head_only;              /* HS_PAGE: by HEAD, no body */
    int protocol;               /* the client offered zwsd.v1 */
    char accept[29];            /* base64 of a SHA-1: 28 chars + NUL */
};

static const char *
s_reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default:  return "Error";
    }
}

/* http_parser callbacks, over self->buf (handshake_feed). */
static int
s_on_url(http_parser *p, const char *at, size_t len)
{
    handshake_t *self = p->data;
    hh_url(&self->hh, (size_t)(at - self->buf), len);
    return 0;
}

static int
s_on_header_field(http_parser *p, const char *at, size_t len)
{
    handshake_t *self = p->data;
    hh_field(&self->hh, (size_t)(at - self->buf), len);
    return 0;
}

/* Too many wanted headers is 431, but only once the head is complete: the
 * parser goes on, so the verdict does not depend on where reads cut. */
static int
s_on_header_value(http_parser *p, const char *at, size_t len)
{
    handshake_t *self = p->data;
    (void)hh_value(&self->hh, self->buf, (size_t)(at - self->buf), len);
    return 0;
}

/* Returning 2 makes http_parser stop right after the empty line, as for an
 * upgrade, whatever the headers say: anything after the head is WebSocket
 * data for the caller, never a body or a second request. */
static int
s_on_headers_complete(http_parser *p)
{
    handshake_t *self = p->data;
    hh_end(&self->hh);
    self->complete = 1;
    return 2;
}

static const http_parser_settings s_settings = {
    .on_url = s_on_url,
    .on_header_field = s_on_header_field,
    .on_header_value = s_on_header_value,
    .on_headers_complete = s_on_headers_complete,
};

handshake_t *
handshake_new(void)
{
    handshake_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->buf = malloc(S_BUF_MIN);
    if (!self->buf) {
        free(self);
        return NULL;
    }
    self->cap = S_BUF_MIN;
    static const char *const names[] = {
        [HDR_UPGRADE - 1] = "upgrade", [HDR_CONNECTION - 1] = "connection",
        [HDR_VERSION - 1] = "sec-websocket-version", [HDR_KEY - 1] = "sec-websocket-key",
        [HDR_ORIGIN - 1] = "origin", [HDR_PROTOCOL - 1] = "sec-websocket-protocol",
        [HDR_AUTHORIZATION - 1] = "authorization",
    };
    http_parser_init(&self->parser, HTTP_REQUEST);
    self->parser.data = self;
    hh_init(&self->hh, names, sizeof names / sizeof *names);
    self->token_off = -1;
    self->origin_off = -1;
    self->since_off = -1;
    return self;
}

void
handshake_destroy(handshake_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    handshake_t *self = *self_p;
    free(self->buf);
    free(self);
    *self_p = NULL;
}

/* Appends n new bytes. The buffer doubles, capped at
 * HANDSHAKE_HEAD_LIMIT, which the caller never lets len pass. */
static int
s_store(handshake_t *self, const char *data, size_t n)
{
    size_t need = self->len + n;
    if (need > self->cap) {
        size_t ncap = self->cap;
        while (ncap < need)
            ncap *= 2;
        if (ncap > HANDSHAKE_HEAD_LIMIT)
            ncap = HANDSHAKE_HEAD_LIMIT;
        char *nbuf = realloc(self->buf, ncap);
        if (!nbuf)
            return -1;
        self->buf = nbuf;
        self->cap = ncap;
    }
    memcpy(self->buf + self->len, data, n);
    self->len = need;
    return 0;
}

/* Records a refusal. */
static hs_result_t
s_fail(handshake_t *self, int status, const char *body, const char *extra)
{
    self->result = HS_FAIL;
    self->status = status;
    self->body = body;
    self->extra = extra;
    return HS_FAIL;
}

/* Whether any header of this kind lists tok: a list header may be repeated,
 * and its instances form one list (RFC 7230 3.2.2). */
static int
s_any_has(const handshake_t *self, hdr_kind_t kind, const char *tok, int ci)
{
    const hh_field_t *f;
    for (size_t i = 0; (f = hh_nth(&self->hh, kind, i)); i++)
        if (hh_list_has(self->buf + f->off, f->len, tok, ci))
            return 1;
    return 0;
}

/* The only header of this kind, OWS trimmed, or NULL when it is absent or
 * repeated. */
static const char *
s_single(const handshake_t *self, hdr_kind_t kind, size_t *n)
{
    const hh_field_t *f = hh_nth(&self->hh, kind, 0);
    if (!f || hh_count(&self->hh, kind) != 1)
        return NULL;
    *n = f->len;
    return hh_trim(self->buf + f->off, n);
}

/* Sec-WebSocket-Key must be base64 of exactly 16 bytes (RFC 6455 4.1). The
 * alphabet is checked here because EVP_DecodeBlock() skips surrounding
 * whitespace; its result counts the '=' padding as decoded zero bytes, so the
 * padding is subtracted to get the real length. */
static int
s_key_valid(const char *k, size_t n)
{
    unsigned char out[24];
    if (n == 0 || n % 4 != 0 || n > 24)
        return 0;
    size_t pad = 0;
    while (pad < 2 && k[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++) {
        char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '+' || c == '/'))
            return 0;
    }
    int r = EVP_DecodeBlock(out, (const unsigned char *)k, (int)n);
    return r >= 0 && (size_t)r - pad == 16;
}

/* Sec-WebSocket-Accept: base64(SHA-1(key + GUID)), RFC 6455 4.2.2. */
static int
s_accept(handshake_t *self, const char *key, size_t n)
{
    char cat[24 + sizeof S_WS_GUID];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    memcpy(cat, key, n);
    memcpy(cat + n, S_WS_GUID, sizeof S_WS_GUID - 1);
    if (!EVP_Digest(cat, n + sizeof S_WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return -1;
    EVP_EncodeBlock((unsigned char *)self->accept, md, 20);
    return 0;
}

static int
s_origin_allowed(const char *o, size_t n, const handshake_cfg_t *cfg)
{
    for (size_t i = 0; i < cfg->norigins; i++) {
        const char *a = cfg->origins[i];
        /* Scheme and host are case-insensitive (RFC 6454 4). */
        if (a && strlen(a) == n && strncasecmp(a, o, n) == 0)
            return 1;
    }
    return 0;
}

/* The page of cfg at exactly this path, or NULL. */
static const hs_page_t *
s_page(const handshake_cfg_t *cfg, const char *path, size_t plen)
{
    for (size_t i = 0; cfg && cfg->pages && i < cfg->npages; i++) {
        const char *pp = cfg->pages[i].path;
        if (pp && strlen(pp) == plen && memcmp(pp, path, plen) == 0)
            return &cfg->pages[i];
    }
    return NULL;
}

/* Runs checks 1-8 on the complete head, in zwsd-protocol(7)'s order, then picks
 * out what the caller needs and NUL-terminates it in place: each terminator
 * lands on the byte after a value ('?', '&', '#', ' ', OWS, CR or LF), which
 * no other value uses. */
static hs_result_t
s_evaluate(handshake_t *self, const handshake_cfg_t *cfg)
{
    const http_parser *p = &self->parser;

    /* 1: the rest of "head parses". */
    if (self->hh.folded)
        return s_fail(self, 400, "obsolete header line folding\n", NULL);
    if (p->http_major < 1 || (p->http_major == 1 && p->http_minor < 1))
        return s_fail(self, 400, "HTTP/1.1 required\n", NULL);
    struct http_parser_url u;
    http_parser_url_init(&u);
    const hh_t *hh = &self->hh;
    if (!hh->url_seen || http_parser_parse_url(self->buf + hh->url_off, hh->url_len, 0, &u) != 0)
        return s_fail(self, 400, "malformed request target\n", NULL);

    /* 2: /ws/<one segment>; the absolute form (RFC 7230 5.3.2) has its path
     * taken the same way. */
    if (!(u.field_set & (1 << UF_PATH)))
        return s_fail(self, 404, "not found\n", NULL);
    const char *path = self->buf + hh->url_off + u.field_data[UF_PATH].off;
    size_t plen = u.field_data[UF_PATH].len;
    const hs_page_t *page = s_page(cfg, path, plen);
    if (page) {
        /* a resource that exists: the wrong method is 405, not check 3's 400 */
        if (p->method != HTTP_GET && p->method != HTTP_HEAD)
            return s_fail(self, 405, "method not allowed\n", "Allow: GET, HEAD\r\n");
        self->page = page;
        self->head_only = p->method == HTTP_HEAD;
        self->result = HS_PAGE;
        self->status = 200;
        return HS_PAGE;
    }
    if (plen < 4 || memcmp(path, "/ws/", 4) != 0 || memchr(path + 4, '/', plen - 4))
        return s_fail(self, 404, "not found\n", NULL);
    const char *user = path + 4;
    size_t ulen = plen - 4;

    /* 3 */
    if (p->method != HTTP_GET)
        return s_fail(self, 400, "method must be GET\n", NULL);

    /* 4: literal, so "%41" is refused rather than decoded. */
    if (!valid_name(user, ulen))
        return s_fail(self, 400, "invalid userId\n", NULL);

    /* 5 */
    if (!s_any_has(self, HDR_UPGRADE, "websocket", 1) || !s_any_has(self, HDR_CONNECTION, "upgrade", 1))
        return s_fail(self, 426, "WebSocket upgrade required\n", "Upgrade: websocket\r\n");

    /* 6 */
    size_t n = 0;
    const char *v = s_single(self, HDR_VERSION, &n);
    if (!v || n != 2 || memcmp(v, "13", 2) != 0)
        return s_fail(self, 426, "unsupported WebSocket version\n", "Sec-WebSocket-Version: 13\r\n");

    /* 7 */
    size_t klen = 0;
    const char *key = s_single(self, HDR_KEY, &klen);
    if (!key || !s_key_valid(key, klen))
        return s_fail(self, 400, "invalid Sec-WebSocket-Key\n", NULL);

    /* 8: several Origin headers cannot all be the browser's; refuse them
     * rather than guess which one to check. */
    const char *origin = NULL;
    size_t olen = 0;
    size_t norigin = hh_count(hh, HDR_ORIGIN);
    const hh_field_t *of = hh_nth(hh, HDR_ORIGIN, 0);
    if (of) {
        olen = of->len;
        origin = hh_trim(self->buf + of->off, &olen);
    }
    if (cfg && cfg->origins && cfg->norigins > 0 && norigin > 0
        && (norigin > 1 || !s_origin_allowed(origin, olen, cfg)))
        return s_fail(self, 403, "origin not allowed\n", NULL);

    if (s_accept(self, key, klen) < 0)
        return s_fail(self, 503, "out of resources\n", NULL);
    self->protocol = s_any_has(self, HDR_PROTOCOL, S_PROTOCOL, 0);

    const char *token = NULL;
    size_t tlen = 0;
    const hh_field_t *af;
    for (size_t i = 0; !token && (af = hh_nth(hh, HDR_AUTHORIZATION, i)); i++)
        token = hh_bearer(self->buf + af->off, af->len, &tlen);
    if (!token && (u.field_set & (1 << UF_QUERY)))
        token = hh_param(self->buf + hh->url_off + u.field_data[UF_QUERY].off,
                              u.field_data[UF_QUERY].len, "token=", &tlen);

    /* since=EPOCH:SEQ, percent-decoded in place (a browser's URLSearchParams
     * writes ':' as %3A), then checked: malformed is 400 */
    char *since = NULL;
    size_t slen = 0;
    const char *sp = NULL;
    if (u.field_set & (1 << UF_QUERY))
        sp = hh_param(self->buf + hh->url_off + u.field_data[UF_QUERY].off,
                           u.field_data[UF_QUERY].len, "since=", &slen);
    if (sp)
        since = self->buf + (sp - self->buf);   /* the same byte, writable */
    if (since) {
        const char *ep;
        size_t el;
        uint64_t sq;
        if (hh_unescape(since, slen, since, &slen) < 0 || !valid_since(since, slen, &ep, &el, &sq))
            return s_fail(self, 400, "{\"error\":\"bad_request\",\"reason\":\"malformed since\"}\n",
                          NULL);
    }

    /* Every offset is taken before the first terminator is written. */
    self->user_off = (size_t)(user - self->buf);
    if (token)
        self->token_off = (long)(token - self->buf);
    if (origin)
        self->origin_off = (long)(origin - self->buf);
    if (since)
        self->since_off = (long)(since - self->buf);
    self->buf[self->user_off + ulen] = '\0';
    if (token)
        self->buf[self->token_off + (long)tlen] = '\0';
    if (origin)
        self->buf[self->origin_off + (long)olen] = '\0';
    if (since)
        self->buf[self->since_off + (long)slen] = '\0';

    self->result = HS_DONE;
    self->status = 101;
    return HS_DONE;
}

/* Parses at most the bytes that keep the head within its limit: a
 * head that has not ended by then is too large whatever follows. http_parser
 * stops at the first byte that cannot be HTTP (a TLS record starts with 0x16,
 * no method does), so garbage fails in the feed that brings it. */
hs_result_t
handshake_feed(handshake_t *self, const char *data, size_t len, size_t *consumed,
               const handshake_cfg_t *cfg)
{
    size_t unused;
    if (!consumed)
        consumed = &unused;
    *consumed = 0;
    if (self->result != HS_MORE || len == 0)
        return self->result;

    size_t max = cfg && cfg->max_head ? cfg->max_head : HANDSHAKE_HEAD_MAX;
    if (max > HANDSHAKE_HEAD_LIMIT)
        max = HANDSHAKE_HEAD_LIMIT;
    if (self->len >= max)               /* the limit shrank under a head (reload) */
        return s_fail(self, 431, "request head too large\n", NULL);
    size_t room = max - self->len;
    size_t n = len < room ? len : room;
    size_t old = self->len;
    if (s_store(self, data, n) < 0)
        return s_fail(self, 503, "out of resources\n", NULL);
    size_t done = http_parser_execute(&self->parser, &s_settings, self->buf + old, n);
    self->len = old + done;             /* the head only: early frames stay the caller's */
    if (HTTP_PARSER_ERRNO(&self->parser) != HPE_OK)
        return s_fail(self, 400, "malformed HTTP request\n", NULL);

    if (self->complete) {
        /* http_parser, not strict, takes any byte after the last CR for
         * the LF: that byte may be the client's first frame */
        if (self->buf[self->len - 1] != '\n')
            return s_fail(self, 400, "malformed HTTP request\n", NULL);
        if (self->hh.overflow)
            return s_fail(self, 431, "too many header fields\n", NULL);
        hs_result_t r = s_evaluate(self, cfg);
        if (r == HS_DONE)
            *consumed = done;
        return r;
    }
    if (done != n)              /* http_parser stops early only on error or at the end */
        return s_fail(self, 400, "malformed HTTP request\n", NULL);
    if (self->len >= max)
        return s_fail(self, 431, "request head too large\n", NULL);
    *consumed = len;
    return HS_MORE;
}

int
handshake_status(const handshake_t *self)
{
    return self->status;
}

const char *
handshake_user(const handshake_t *self)
{
    return self->result == HS_DONE ? self->buf + self->user_off : NULL;
}

const char *
handshake_token(const handshake_t *self)
{
    return self->result == HS_DONE && self->token_off >= 0 ? self->buf + self->token_off : NULL;
}

const char *
handshake_since(const handshake_t *self)
{
    return self->result == HS_DONE && self->since_off >= 0 ? self->buf + self->since_off : NULL;
}

const char *
handshake_origin(const handshake_t *self)
{
    return self->result == HS_DONE && self->origin_off >= 0 ? self->buf + self->origin_off : NULL;
}

/* The head of a page's 200; the body goes apart (handshake_page_body). */
static size_t
s_page_response(const handshake_t *self, char *buf, size_t cap)
{
    const hs_page_t *pg = self->page;
    int r = snprintf(buf, cap,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n"
                     "%s"
                     "\r\n",
                     pg->type ? pg->type : "application/octet-stream", pg->len,
                     pg->headers ? pg->headers : "");
    return r < 0 || (size_t)r >= cap ? 0 : (size_t)r;
}

const void *
handshake_page_body(const handshake_t *self, size_t *len)
{
    int body = self->result == HS_PAGE && !self->head_only;
    *len = body ? self->page->len : 0;
    return body ? self->page->body : NULL;
}

size_t
handshake_response(const handshake_t *self, char *buf, size_t cap)
{
    if (self->result == HS_FAIL)
        return handshake_error_response(self->status, self->body, self->extra, buf, cap);
    if (self->result == HS_PAGE)
        return s_page_response(self, buf, cap);
    if (self->result != HS_DONE)
        return 0;
    int r = snprintf(buf, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "%s"
                     "\r\n",
                     self->accept, self->protocol ? "Sec-WebSocket-Protocol: " S_PROTOCOL "\r\n" : "");
    return r < 0 || (size_t)r >= cap ? 0 : (size_t)r;
}

size_t
handshake_error_response(int status, const char *body, const char *extra_headers, char *buf, size_t cap)
{
    const char *reason = s_reason(status);
    if (!body)
        body = reason;
    size_t blen = strlen(body);
    int nl = blen == 0 || body[blen - 1] != '\n';
    int r = snprintf(buf, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n"
                     "%s"
                     "\r\n"
                     "%s%s",
                     status, reason, body[0] == '{' ? "application/json" : "text/plain",
                     blen + (size_t)nl, extra_headers ? extra_headers : "", body,
                     nl ? "\n" : "");
    return r < 0 || (size_t)r >= cap ? 0 : (size_t)r;
}
