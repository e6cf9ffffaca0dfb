/* handshake — see handshake.h.
 *
 * http_parser does the HTTP grammar; this file keeps the head's bytes and
 * remembers where the interesting parts are, as offsets into self->buf, so the
 * buffer can be realloc'd while the head grows. Each feed hands http_parser
 * only the new bytes; the bytes it consumed are appended to buf after it
 * returns, so buf holds exactly the head and never the early WebSocket frames
 * behind it. All checks run once, when the empty line has been seen, so the
 * first failure in zwsd-protocol(7)'s order wins whatever order the headers came in. */
#include "handshake.h"

#include <http_parser.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* One interesting header: its value as an offset into buf. uint16_t is enough
 * because the head never exceeds HANDSHAKE_HEAD_MAX. */
typedef struct {
    uint8_t kind;               /* hdr_kind_t */
    uint16_t off, len;
} hdr_t;

/* Where the parser is inside a header line, to tell a name or value that
 * continues in the next feed from a new one. */
typedef enum { IN_NONE = 0, IN_FIELD, IN_VALUE } in_t;

struct handshake {
    http_parser parser;         /* parser.data = self */
    char *buf;                  /* the head bytes consumed so far */
    size_t len, cap;
    const char *chunk;          /* the caller's bytes, during http_parser_execute() only */

    size_t url_off, url_len;
    int url_seen;

    in_t in;
    size_t field_off, field_len; /* name of the header being read */
    size_t value_end;           /* where the current value's last piece ended */
    int cur;                    /* index in hdrs of the current value, -1 if dropped */
    hdr_t *hdrs;
    size_t nhdrs, hdrs_cap;

    int complete;               /* on_headers_complete ran */
    int folded;                 /* obs-fold seen: RFC 7230 3.2.4 lets us refuse it */
    int oom;                    /* a callback could not allocate */

    hs_result_t result;
    int status;
    const char *body;           /* error body, a string literal */
    const char *extra;          /* error extra headers, a string literal or NULL */

    size_t user_off;            /* NUL-terminated in buf after HS_DONE */
    long token_off, origin_off; /* -1 = absent */
    int protocol;               /* the client offered zwsd.v1 */
    char accept[29];            /* base64 of a SHA-1: 28 chars + NUL */
};

static const char *
s_reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default:  return "Error";
    }
}

/* The byte at stream offset off: already in buf, or still in the caller's
 * chunk during http_parser_execute(). Only header names are read this way. */
static char
s_byte(const handshake_t *self, size_t off)
{
    return off < self->len ? self->buf[off] : self->chunk[off - self->len];
}

static size_t
s_off(const handshake_t *self, const char *at)
{
    return self->len + (size_t)(at - self->chunk);
}

/* name is lower case. */
static int
s_field_is(const handshake_t *self, const char *name)
{
    size_t n = strlen(name);
    if (self->field_len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s_byte(self, self->field_off + i);
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != name[i])
            return 0;
    }
    return 1;
}

static hdr_kind_t
s_classify(const handshake_t *self)
{
    static const struct { const char *name; hdr_kind_t kind; } known[] = {
        { "upgrade", HDR_UPGRADE },
        { "connection", HDR_CONNECTION },
        { "sec-websocket-version", HDR_VERSION },
        { "sec-websocket-key", HDR_KEY },
        { "origin", HDR_ORIGIN },
        { "sec-websocket-protocol", HDR_PROTOCOL },
        { "authorization", HDR_AUTHORIZATION },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (s_field_is(self, known[i].name))
            return known[i].kind;
    return HDR_OTHER;
}

/* http_parser callbacks. A URL, name or value cut by the end of a feed comes
 * in several pieces; since every feed continues the same byte stream, the
 * pieces are adjacent offsets, except for an obsolete folded value, whose
 * pieces have the CRLF between them. */
static int
s_on_url(http_parser *p, const char *at, size_t len)
{
    handshake_t *self = p->data;
    if (!self->url_seen) {
        self->url_off = s_off(self, at);
        self->url_seen = 1;
    }
    self->url_len += len;
    return 0;
}

static int
s_on_header_field(http_parser *p, const char *at, size_t len)
{
    handshake_t *self = p->data;
    if (self->in != IN_FIELD) {
        self->field_off = s_off(self, at);
        self->field_len = 0;
        self->in = IN_FIELD;
    }
    self->field_len += len;
    return 0;
}

/* http_parser calls this at least once per header, with len 0 for an empty
 * value, so the name is always complete here when a value starts. */
static int
s_on_header_value(http_parser *p, const char *at, size_t len)
{
    handshake_t *self = p->data;
    size_t off = s_off(self, at);
    if (self->in != IN_VALUE) {
        self->in = IN_VALUE;
        self->value_end = off;
        self->cur = -1;
        hdr_kind_t kind = s_classify(self);
        if (kind != HDR_OTHER) {
            if (self->nhdrs == self->hdrs_cap) {
                size_t ncap = self->hdrs_cap ? self->hdrs_cap * 2 : 8;
                hdr_t *n = realloc(self->hdrs, ncap * sizeof *n);
                if (!n) {
                    self->oom = 1;
                    return 1;   /* stops the parser */
                }
                self->hdrs = n;
                self->hdrs_cap = ncap;
            }
            self->cur = (int)self->nhdrs;
            self->hdrs[self->nhdrs++] = (hdr_t){ .kind = (uint8_t)kind, .off = (uint16_t)off, .len = 0 };
        }
    }
    if (off != self->value_end)
        self->folded = 1;
    self->value_end = off + len;
    if (self->cur >= 0)
        self->hdrs[self->cur].len = (uint16_t)(self->hdrs[self->cur].len + len);
    return 0;
}

/* Returning 2 makes http_parser stop right after the empty line, as for an
 * upgrade, whatever the headers say: anything after the head is WebSocket
 * data for the caller, never a body or a second request. */
static int
s_on_headers_complete(http_parser *p)
{
    handshake_t *self = p->data;
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
    http_parser_init(&self->parser, HTTP_REQUEST);
    self->parser.data = self;
    self->cur = -1;
    self->token_off = -1;
    self->origin_off = -1;
    return self;
}

void
handshake_destroy(handshake_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    handshake_t *self = *self_p;
    free(self->hdrs);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

/* Appends the n bytes http_parser consumed. The buffer doubles, capped at
 * HANDSHAKE_HEAD_MAX, which the caller never lets len pass. */
static int
s_store(handshake_t *self, const char *data, size_t n)
{
    size_t need = self->len + n;
    if (need > self->cap) {
        size_t ncap = self->cap;
        while (ncap < need)
            ncap *= 2;
        if (ncap > HANDSHAKE_HEAD_MAX)
            ncap = HANDSHAKE_HEAD_MAX;
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

/* Records a refusal. The parse state is no longer needed: free it now, since
 * the caller still holds the object while the error response is written. */
static hs_result_t
s_fail(handshake_t *self, int status, const char *body, const char *extra)
{
    self->result = HS_FAIL;
    self->status = status;
    self->body = body;
    self->extra = extra;
    free(self->hdrs);
    self->hdrs = NULL;
    self->nhdrs = self->hdrs_cap = 0;
    return HS_FAIL;
}

static int
s_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims optional whitespace (RFC 7230 OWS) from both ends of s[0..*n). */
static const char *
s_trim(const char *s, size_t *n)
{
    while (*n && s_ows(s[0])) {
        s++;
        (*n)--;
    }
    while (*n && s_ows(s[*n - 1]))
        (*n)--;
    return s;
}

/* Whether the comma-separated list s[0..n) has the element tok, elements
 * trimmed of OWS; ci: compare case-insensitively. */
static int
s_list_has(const char *s, size_t n, const char *tok, int ci)
{
    size_t tlen = strlen(tok);
    while (n > 0) {
        const char *comma = memchr(s, ',', n);
        size_t elen = comma ? (size_t)(comma - s) : n;
        size_t tn = elen;
        const char *e = s_trim(s, &tn);
        if (tn == tlen && (ci ? strncasecmp(e, tok, tlen) : strncmp(e, tok, tlen)) == 0)
            return 1;
        if (!comma)
            break;
        s += elen + 1;
        n -= elen + 1;
    }
    return 0;
}

/* Whether any header of this kind lists tok: a list header may be repeated,
 * and its instances form one list (RFC 7230 3.2.2). */
static int
s_any_has(const handshake_t *self, hdr_kind_t kind, const char *tok, int ci)
{
    for (size_t i = 0; i < self->nhdrs; i++)
        if (self->hdrs[i].kind == kind
            && s_list_has(self->buf + self->hdrs[i].off, self->hdrs[i].len, tok, ci))
            return 1;
    return 0;
}

/* The only header of this kind, OWS trimmed, or NULL when it is absent or
 * repeated. */
static const char *
s_single(const handshake_t *self, hdr_kind_t kind, size_t *n)
{
    const char *v = NULL;
    for (size_t i = 0; i < self->nhdrs; i++) {
        if (self->hdrs[i].kind != kind)
            continue;
        if (v)
            return NULL;
        v = self->buf + self->hdrs[i].off;
        *n = self->hdrs[i].len;
    }
    return v ? s_trim(v, n) : NULL;
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

/* The credential of an "Authorization: Bearer X" value, or NULL for another
 * scheme. */
static const char *
s_bearer(const char *v, size_t n, size_t *tn)
{
    v = s_trim(v, &n);
    if (n < 6 || strncasecmp(v, "bearer", 6) != 0 || (n > 6 && !s_ows(v[6])))
        return NULL;
    *tn = n - 6;
    return s_trim(v + 6, tn);
}

/* The value of the first "token" parameter of the query q[0..n), or NULL. */
static const char *
s_query_token(const char *q, size_t n, size_t *tn)
{
    while (n > 0) {
        const char *amp = memchr(q, '&', n);
        size_t plen = amp ? (size_t)(amp - q) : n;
        if (plen >= 6 && memcmp(q, "token=", 6) == 0) {
            *tn = plen - 6;
            return q + 6;
        }
        if (!amp)
            break;
        q += plen + 1;
        n -= plen + 1;
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
    if (self->folded)
        return s_fail(self, 400, "obsolete header line folding\n", NULL);
    if (p->http_major < 1 || (p->http_major == 1 && p->http_minor < 1))
        return s_fail(self, 400, "HTTP/1.1 required\n", NULL);
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (!self->url_seen || http_parser_parse_url(self->buf + self->url_off, self->url_len, 0, &u) != 0)
        return s_fail(self, 400, "malformed request target\n", NULL);

    /* 2: /ws/<one segment>; the absolute form (RFC 7230 5.3.2) has its path
     * taken the same way. */
    if (!(u.field_set & (1 << UF_PATH)))
        return s_fail(self, 404, "not found\n", NULL);
    const char *path = self->buf + self->url_off + u.field_data[UF_PATH].off;
    size_t plen = u.field_data[UF_PATH].len;
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
    size_t norigin = 0;
    for (size_t i = 0; i < self->nhdrs; i++) {
        if (self->hdrs[i].kind != HDR_ORIGIN)
            continue;
        if (norigin++ == 0) {
            olen = self->hdrs[i].len;
            origin = s_trim(self->buf + self->hdrs[i].off, &olen);
        }
    }
    if (cfg && cfg->origins && cfg->norigins > 0 && norigin > 0
        && (norigin > 1 || !s_origin_allowed(origin, olen, cfg)))
        return s_fail(self, 403, "origin not allowed\n", NULL);

    if (s_accept(self, key, klen) < 0)
        return s_fail(self, 503, "out of resources\n", NULL);
    self->protocol = s_any_has(self, HDR_PROTOCOL, S_PROTOCOL, 0);

    const char *token = NULL;
    size_t tlen = 0;
    for (size_t i = 0; i < self->nhdrs && !token; i++)
        if (self->hdrs[i].kind == HDR_AUTHORIZATION)
            token = s_bearer(self->buf + self->hdrs[i].off, self->hdrs[i].len, &tlen);
    if (!token && (u.field_set & (1 << UF_QUERY)))
        token = s_query_token(self->buf + self->url_off + u.field_data[UF_QUERY].off,
                              u.field_data[UF_QUERY].len, &tlen);

    /* Every offset is taken before the first terminator is written. */
    self->user_off = (size_t)(user - self->buf);
    if (token)
        self->token_off = (long)(token - self->buf);
    if (origin)
        self->origin_off = (long)(origin - self->buf);
    self->buf[self->user_off + ulen] = '\0';
    if (token)
        self->buf[self->token_off + (long)tlen] = '\0';
    if (origin)
        self->buf[self->origin_off + (long)olen] = '\0';

    free(self->hdrs);
    self->hdrs = NULL;
    self->nhdrs = self->hdrs_cap = 0;
    self->result = HS_DONE;
    self->status = 101;
    return HS_DONE;
}

/* Parses at most the bytes that keep the head within HANDSHAKE_HEAD_MAX: a
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

    size_t room = HANDSHAKE_HEAD_MAX - self->len;
    size_t n = len < room ? len : room;
    self->chunk = data;
    size_t done = http_parser_execute(&self->parser, &s_settings, data, n);
    self->chunk = NULL;
    if (self->oom)
        return s_fail(self, 503, "out of resources\n", NULL);
    if (HTTP_PARSER_ERRNO(&self->parser) != HPE_OK)
        return s_fail(self, 400, "malformed HTTP request\n", NULL);
    if (s_store(self, data, done) < 0)
        return s_fail(self, 503, "out of resources\n", NULL);

    if (self->complete) {
        hs_result_t r = s_evaluate(self, cfg);
        if (r == HS_DONE)
            *consumed = done;
        return r;
    }
    if (done != n)              /* http_parser stops early only on error or at the end */
        return s_fail(self, 400, "malformed HTTP request\n", NULL);
    if (self->len == HANDSHAKE_HEAD_MAX)
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
handshake_origin(const handshake_t *self)
{
    return self->result == HS_DONE && self->origin_off >= 0 ? self->buf + self->origin_off : NULL;
}

size_t
handshake_response(const handshake_t *self, char *buf, size_t cap)
{
    if (self->result == HS_FAIL)
        return handshake_error_response(self->status, self->body, self->extra, buf, cap);
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
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "Connection: close\r\n"
                     "%s"
                     "\r\n"
                     "%s%s",
                     status, reason, blen + (size_t)nl, extra_headers ? extra_headers : "", body,
                     nl ? "\n" : "");
    return r < 0 || (size_t)r >= cap ? 0 : (size_t)r;
}
