/* jscan — a strict, single-pass, non-allocating RFC 8259 JSON scanner.
 *
 * Pure: bytes in, verdict out; no I/O, no globals, no malloc, no recursion
 * (nesting is tracked in a bitset on the stack), so any process may call it
 * on any input. Nothing is copied: spans point into the caller's text, which
 * must outlive them. Used by client_json (client frames), the worker (a bus
 * envelope's msg, validated once on entry with js_valid) and the HTTP API
 * (msg forwarded verbatim).
 *
 * What "valid" means here (RFC 8259, strictly):
 *   - exactly one value of any type, with optional whitespace (space, tab,
 *     LF, CR) around it; nothing else before or after it (no BOM);
 *   - no NaN/Infinity, no leading zeros, no '+', no trailing commas, no
 *     comments, no single quotes;
 *   - strings: no raw byte below 0x20 (so a raw NUL anywhere is invalid),
 *     only the escapes \" \\ \/ \b \f \n \r \t \uXXXX; a \u high surrogate
 *     must be followed at once by a \u low surrogate, and a lone surrogate
 *     escape (high or low) is invalid, so every valid text decodes to UTF-8
 *     (jansson behaves the same). \u0000 is valid JSON and accepted;
 *   - UTF-8 is checked inside strings: overlong forms, encoded surrogates
 *     (ED A0..BF) and anything above U+10FFFF are invalid (outside strings
 *     only ASCII can be valid anyway);
 *   - nesting: at most JS_DEPTH_MAX open arrays/objects; deeper is invalid;
 *   - numbers have no range limit: 1e400 and 2^70 are valid (RFC 8259
 *     grammar) and are forwarded as written; jansson rejects both.
 * Duplicate object keys are valid; js_fields() keeps the last one (jansson's
 * default). Keys are compared after decoding escapes ("\u0074ype" is "type").
 */
#ifndef ZWSD_JSCAN_H
#define ZWSD_JSCAN_H

#include <stddef.h>
#include <sys/types.h>

/* Maximum number of nested arrays/objects: "[[1]]" has depth 2. */
#define JS_DEPTH_MAX 128

typedef enum {
    JS_INVALID = 0,         /* not valid JSON; in a js_span_t: absent */
    JS_STRING,
    JS_NUMBER,
    JS_OBJECT,
    JS_ARRAY,
    JS_TRUE,
    JS_FALSE,
    JS_NULL,
} js_type_t;

/* One value exactly as written: a string span includes its quotes, so any
 * span of a valid text is itself valid JSON and can be forwarded verbatim. */
typedef struct {
    js_type_t   type;
    const char *p;
    size_t      n;
} js_span_t;

/* An object member (key: a JS_STRING span, quotes included, escapes not
 * decoded) or an array element (key.type JS_INVALID, key.p NULL). */
typedef struct {
    js_span_t key;
    js_span_t val;
} js_member_t;

/* Iterator over the members or elements of a top-level value. Opaque. */
typedef struct {
    const char *p;
    const char *end;
    int         state;
    char        close;
} js_iter_t;

/* 1 if p..p+n is exactly one valid JSON value (see above), else 0. This is
 * the check for a msg arriving from the bus before it is sent to clients. */
int js_valid(const char *p, size_t n);

/* Start iterating over the top-level value of p..p+n. Returns the type the
 * value has as far as its first byte tells (JS_OBJECT or JS_ARRAY), or, for
 * a scalar, its type once the whole text has been checked; JS_INVALID when
 * the text cannot be valid. For a container, validity is only known when
 * js_next() returns 0 (the whole text, trailing whitespace included, is
 * valid) or -1 (it is not; discard what earlier members gave). */
js_type_t js_open(js_iter_t *it, const char *p, size_t n);

/* The next member (object) or element (array) in text order: 1 and *m set,
 * 0 at the end of a valid text (and for any scalar), -1 on invalid JSON
 * (sticky: later calls return -1 too). Each value reported is complete and
 * valid at any depth. */
int js_next(js_iter_t *it, js_member_t *m);

/* A wanted key for js_fields(): name is the decoded key, NUL-terminated. */
typedef struct {
    const char *name;       /* in */
    js_span_t   val;        /* out: type JS_INVALID when the key is absent */
} js_field_t;

/* Validate the whole text and, when its top-level value is an object, set
 * fields[i].val to the value of the member named fields[i].name (the last
 * one when a key repeats). Returns the top-level type (JS_OBJECT: fields
 * are set), or JS_INVALID when the text is not valid JSON (fields are all
 * absent). A valid non-object gives its type and leaves every field absent,
 * so a caller tells "not JSON" from "not an object". */
js_type_t js_fields(const char *p, size_t n, js_field_t *fields, size_t nfields);

/* Decode the JSON string span s (quotes included, as js_next gives it) into
 * buf, at most cap bytes, no terminator written. Returns the decoded length,
 * or -1 when s is not one valid JSON string, when the result would exceed
 * cap bytes, or when it would contain a NUL (\u0000). */
ssize_t js_string(js_span_t s, char *buf, size_t cap);

/* 1 if the JSON string span s decodes to exactly the n bytes of lit, else
 * 0 (also when s is not a valid string). Needs no buffer. */
int js_streq(js_span_t s, const char *lit, size_t n);

#endif
