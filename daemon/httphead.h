/* httphead — the request head as both HTTP readers of a worker need it:
 * the WebSocket upgrade (handshake.c) and the API (api_http.c). http-parser
 * does the grammar; its URL and header callbacks hand their pieces to this
 * collector, which keeps the request target and the headers its owner
 * asked for as offsets into the owner's buffer, so the buffer may grow
 * (realloc) or be compacted (hh_shift) while the head is read.
 *
 * The bytes must be contiguous: the owner feeds http-parser from one
 * buffer holding the whole head read so far (a piece of a name or value
 * cut by the end of a read continues at the next offset). A value whose
 * pieces are not adjacent was folded (obs-fold, RFC 7230 3.2.4): `folded`
 * is set and the owner refuses the request with 400.
 *
 * Pure: no allocation, no I/O. At most HH_FIELDS_MAX wanted headers are
 * kept (every other header is parsed and dropped); one more sets
 * `overflow` and hh_value() returns -1, which stops the parser. */
#ifndef ZWSD_HTTPHEAD_H
#define ZWSD_HTTPHEAD_H

#include <stddef.h>
#include <stdint.h>

#define HH_FIELDS_MAX 32

typedef struct {
    uint8_t     kind;           /* 1 + its index in the owner's names */
    uint32_t    off, len;       /* the value as received (OWS included) */
} hh_field_t;

typedef struct {
    const char *const *names;   /* wanted header names, lower case */
    uint8_t     nnames;
    uint8_t     in;             /* inside nothing, a name, or a value */
    uint8_t     folded;         /* a value continued on a folded line */
    uint8_t     overflow;       /* more than HH_FIELDS_MAX wanted headers */
    uint8_t     url_seen;
    uint8_t     nf;
    int16_t     cur;            /* index in f of the value being read, -1 */
    size_t      url_off, url_len;
    size_t      field_off, field_len, value_end;
    hh_field_t  f[HH_FIELDS_MAX];
} hh_t;

/* names[i] (lower case) gets kind i + 1; 0 is every other header. */
void   hh_init(hh_t *h, const char *const *names, size_t nnames);
void   hh_reset(hh_t *h);                   /* the next request: names stay */

/* From http-parser's on_url / on_header_field / on_header_value; off is the
 * piece's offset in base. hh_value: 0, or -1 on overflow. */
void   hh_url(hh_t *h, size_t off, size_t len);
void   hh_field(hh_t *h, size_t off, size_t len);
int    hh_value(hh_t *h, const char *base, size_t off, size_t len);
void   hh_end(hh_t *h);                     /* on_headers_complete */

/* The owner moved its buffer's bytes delta to the front. */
void   hh_shift(hh_t *h, size_t delta);

size_t hh_count(const hh_t *h, int kind);
/* The n-th header of kind (0 = first), or NULL. */
const hh_field_t *hh_nth(const hh_t *h, int kind, size_t n);

/* Small grammar helpers on a value. */
const char *hh_trim(const char *s, size_t *n);            /* OWS both ends */
/* Whether the comma-separated list s[0..n) has the element tok (each
 * element OWS-trimmed); ci: case-insensitively. */
int    hh_list_has(const char *s, size_t n, const char *tok, int ci);
/* The credential of an "Authorization: Bearer X" value (scheme
 * case-insensitive; may be empty), or NULL for another scheme. */
const char *hh_bearer(const char *v, size_t n, size_t *tn);

/* The value of the first parameter name ("since=": with its '=') of the
 * query q[0..qn) (no '?'), up to '&'; NULL when absent. */
const char *hh_param(const char *q, size_t qn, const char *name, size_t *vn);
/* Percent-decodes in[0..n) into out (room for n bytes; out may be in: the
 * decoding never runs ahead), *on the length; '+' stays '+'. 0, or -1 for
 * a '%' not followed by two hex digits, -2 for an escape that decodes to
 * NUL (it would cut a C string short). */
int         hh_unescape(const char *in, size_t n, char *out, size_t *on);

#endif
