/* handshake — parse and validate one WebSocket upgrade request (RFC 6455).
 *
 * Runs in each worker, once per accepted connection, only until the upgrade
 * is decided; then the worker destroys it. Pure: bytes in, verdict out, no
 * sockets, no clock, no logging (the 10 s handshake timeout and the JWT
 * checks, rows 9-10 of zwsd-protocol(7) "Connecting", belong to the caller).
 *
 * Ownership: the caller owns the handshake_t from handshake_new() and frees it
 * with handshake_destroy(). It copies only the request head (at most
 * HANDSHAKE_HEAD_MAX bytes, in a buffer that starts at 1 KiB and grows); the
 * caller keeps its own read buffer and any bytes past the head. Strings
 * returned by handshake_user(), _token() and _origin() point into the object
 * and live until handshake_destroy().
 *
 * Use: feed every read with handshake_feed() until it returns HS_DONE or
 * HS_FAIL, write handshake_response(), then
 *   - HS_FAIL: close the connection after the response is written;
 *   - HS_DONE: check the JWT (handshake_token()) if auth is on; on refusal send
 *     handshake_error_response(401 or 403, ...) and close; otherwise send the
 *     101 response and hand the bytes after *consumed to the WebSocket layer.
 *
 * Checks run once the whole head has arrived, in zwsd-protocol(7)'s order, first
 * failure wins: 1 head parses, HTTP/1.1 or later, <= cfg->max_head bytes (8,192
 * by default; 400/431);
 * 2 path is /ws/<one segment> (404); 3 method GET (400); 4 userId passes
 * valid_name(), taken literally (400); 5 Upgrade: websocket and Connection:
 * upgrade tokens (426 + "Upgrade: websocket"); 6 Sec-WebSocket-Version: 13
 * (426 + "Sec-WebSocket-Version: 13"); 7 Sec-WebSocket-Key present once, base64
 * of 16 bytes (400); 8 Origin on the allow-list when one is configured (403).
 * Bytes that cannot start an HTTP request (a TLS ClientHello, garbage) fail
 * with 400 in the very feed that brings them, without waiting for more.
 *
 * Pages (zwsd(8) --demo): when cfg lists pages, a request whose path (the
 * query aside) is exactly one of theirs is not an upgrade: check 2 gives
 * HS_PAGE for GET and HEAD, and 405 with "Allow: GET, HEAD" for any other
 * method; check 1 still comes first. Every other path is checked as above. */
#ifndef ZWSD_HANDSHAKE_H
#define ZWSD_HANDSHAKE_H

#include <stddef.h>

/* Request line through the empty line, inclusive (zwsd-protocol(7), check 1):
 * the default limit, and the largest one a caller may set (--max-head). */
#define HANDSHAKE_HEAD_MAX   8192
#define HANDSHAKE_HEAD_LIMIT 65536

typedef struct handshake handshake_t;

/* HS_PAGE: a GET or HEAD of one of cfg's pages (above): write
 * handshake_response() and handshake_page_body(), then close. */
typedef enum { HS_MORE = 0, HS_DONE = 1, HS_FAIL = -1, HS_PAGE = 2 } hs_result_t;

/* A page answered instead of an upgrade, 200 with these bytes. */
typedef struct {
    const char *path;            /* "/", "/demo.js": compared exactly, literally */
    const char *type;            /* its Content-Type */
    const char *headers;         /* extra header lines, each "Name: value\r\n"; or NULL */
    const void *body;
    size_t      len;
} hs_page_t;

typedef struct {
    const char *const *origins;  /* Origin allow-list; NULL/0 = every origin allowed */
    size_t norigins;
    size_t max_head;             /* head limit; 0 = HANDSHAKE_HEAD_MAX, at most _LIMIT */
    const hs_page_t *pages;      /* served beside /ws/<user>; NULL/0 = none (404) */
    size_t npages;
} handshake_cfg_t;

/* A fresh parser. Caller owns it. NULL on ENOMEM. */
handshake_t *handshake_new(void);

/* Frees *self_p and everything returned from it. Accepts NULL and *self_p ==
 * NULL; sets *self_p = NULL. */
void handshake_destroy(handshake_t **self_p);

/* Append bytes just read. Only these new bytes are parsed, so a client that
 * sends one byte at a time costs O(n) in total.
 *   HS_MORE: need more; *consumed = len (all taken).
 *   HS_DONE: a valid upgrade; *consumed = how many of THESE bytes belonged to
 *            the head (the rest are WebSocket frames the client sent early,
 *            the caller keeps them).
 *   HS_FAIL: refuse; *consumed = 0; handshake_status() gives the HTTP
 *            status and handshake_response() the answer to send before
 *            closing.
 *   HS_PAGE: a page request; *consumed = 0 (what follows its head is
 *            never read: the answer says Connection: close).
 * Calling again after DONE/FAIL/PAGE returns the same, with *consumed = 0;
 * len 0 returns the current state. consumed may be NULL. cfg may be NULL
 * (no allow-list, no pages); it is read only while the call runs, but a
 * page it lists must outlive the handshake_t (handshake_page_body()). */
hs_result_t handshake_feed(handshake_t *self, const char *data, size_t len, size_t *consumed,
                           const handshake_cfg_t *cfg);

/* 101 after DONE; 200 after PAGE; 400/403/404/405/426/431 after FAIL, or 503
 * when memory ran out (environment trouble, not the client's fault); 0 while
 * HS_MORE. */
int handshake_status(const handshake_t *self);

/* NUL-terminated userId, valid after HS_DONE (NULL before). */
const char *handshake_user(const handshake_t *self);

/* The JWT or NULL, valid after HS_DONE: "Authorization: Bearer X" (scheme
 * case-insensitive, the first such header) wins over ?token=X (the first
 * "token" parameter, value up to '&', not percent-decoded); other schemes are
 * ignored. A present but empty credential gives "", which the caller refuses
 * as malformed, so an empty Bearer never falls back to the query. */
const char *handshake_token(const handshake_t *self);

/* The resume position of ?since=EPOCH:SEQ (the first "since" parameter,
 * percent-decoded, checked: a malformed one fails the handshake with 400
 * and a JSON body) or NULL, valid after HS_DONE. */
const char *handshake_since(const handshake_t *self);

/* The Origin header (first one, OWS trimmed) or NULL, valid after HS_DONE. */
const char *handshake_origin(const handshake_t *self);

/* The full HTTP response: "101 Switching Protocols" with Upgrade, Connection,
 * Sec-WebSocket-Accept and, when the client offered zwsd.v1,
 * Sec-WebSocket-Protocol: zwsd.v1 (never Sec-WebSocket-Extensions); or the
 * error for HS_FAIL; or, for HS_PAGE, the head of the 200 ("200 OK",
 * Content-Type, Content-Length of the page's body, HEAD included, Connection:
 * close, the page's extra headers), its body apart. Writes a trailing NUL
 * too. Returns the bytes written, not counting the NUL; 0 if cap is too small
 * or the handshake is still HS_MORE. */
size_t handshake_response(const handshake_t *self, char *buf, size_t cap);

/* The body to send after the head for HS_PAGE, *len its size: the page's
 * bytes for GET; NULL and 0 for HEAD and every other result. */
const void *handshake_page_body(const handshake_t *self, size_t *len);

/* An error response for refusals decided later by the caller (401 auth, 403,
 * 503): "HTTP/1.1 <status> <reason>", Content-Type, Content-Length,
 * Connection: close, plus extra_headers (each "Name: value\r\n", may be NULL),
 * then body (NULL = the reason phrase; a '\n' is appended when missing).
 * Writes a trailing NUL too. Returns bytes written, not counting the NUL; 0 if
 * cap is too small. A body that starts with '{' goes as application/json,
 * any other as text/plain. */
size_t handshake_error_response(int status, const char *body, const char *extra_headers, char *buf,
                                size_t cap);

#endif
