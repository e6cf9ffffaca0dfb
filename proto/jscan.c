/* jscan — see jscan.h. One forward pass over the bytes. Containers are
 * tracked by a depth counter and a bitset (1 = object) instead of recursion,
 * so hostile nesting costs 16 bytes of stack, not a stack overflow. */
#include "jscan.h"

#include <stdint.h>
#include <string.h>

/* Byte classes inside a string. S_U2…S_F4 are UTF-8 lead bytes; s_utf8[]
 * gives the range allowed for the byte after each lead (this is where
 * overlongs, encoded surrogates and > U+10FFFF are refused) and how many
 * continuation bytes follow in all. */
enum { S_OK, S_QUOTE, S_BSL, S_CTL, S_BAD, S_U2, S_E0, S_U3, S_ED, S_F0, S_U4, S_F4 };

static const uint8_t s_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,     /* 0x00 controls */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,     /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x20 '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,     /* 0x50 '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x70 (DEL is allowed) */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,     /* 0x80 continuation as lead */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,     /* 0x90 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,     /* 0xA0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,     /* 0xB0 */
    4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,     /* 0xC0 C0/C1: overlong */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,     /* 0xD0 */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,     /* 0xE0 E0, ED special */
    9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* 0xF0 F0, F4 special, F5+ bad */
};

static const struct {
    uint8_t lo, hi, ncont;
} s_utf8[] = {
    [S_U2] = { 0x80, 0xBF, 1 }, [S_E0] = { 0xA0, 0xBF, 2 }, [S_U3] = { 0x80, 0xBF, 2 },
    [S_ED] = { 0x80, 0x9F, 2 }, [S_F0] = { 0x90, 0xBF, 3 }, [S_U4] = { 0x80, 0xBF, 3 },
    [S_F4] = { 0x80, 0x8F, 3 },
};

/* Iterator states; a zeroed iterator is an invalid one. */
enum { IT_ERR = 0, IT_FIRST, IT_MORE, IT_DONE };

static const char *
s_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int
s_hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The 4 hex digits at p (the caller checked 4 bytes are there), or -1. */
static long
s_hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = s_hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* A \u escape at p (pointing at the backslash): the code point it encodes,
 * a surrogate pair taken together; *len gets the bytes it spans (6 or 12).
 * -1 when malformed or a lone surrogate. */
static long
s_uescape(const char *p, const char *end, size_t *len)
{
    if (end - p < 6)
        return -1;
    long hi = s_hex4(p + 2);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return -1;
    *len = 6;
    if (hi < 0xD800 || hi > 0xDBFF)
        return hi;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
        return -1;
    long lo = s_hex4(p + 8);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    *len = 12;
    return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
}

/* Are the 8 bytes at q all plain string bytes (0x20–0x7F, not '"' or '\\')?
 * Word at a time: (v - 0x01..) & ~v & 0x80.. is nonzero exactly when some
 * byte of v is zero (and (x - 0x20..) & ~x when some byte is below 0x20);
 * borrows may mark extra bytes, but never when none qualifies. */
static int
s_plain8(const unsigned char *q)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t x;
    memcpy(&x, q, 8);
    uint64_t qu = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    uint64_t bad = ((x - ones * 0x20) & ~x) | ((qu - ones) & ~qu) | ((bs - ones) & ~bs) | x;
    return !(bad & highs);
}

/* The string token at p (*p == '"'): the byte after its closing quote, or
 * NULL when it is not a valid string. */
static const char *
s_string(const char *p, const char *end)
{
    const unsigned char *q = (const unsigned char *)p + 1;
    const unsigned char *e = (const unsigned char *)end;
    for (;;) {
        while (e - q >= 8 && s_plain8(q))
            q += 8;
        while (q < e && s_class[*q] == S_OK)
            q++;
        if (q == e)
            return NULL;
        unsigned k = s_class[*q];
        if (k == S_QUOTE)
            return (const char *)q + 1;
        if (k == S_BSL) {
            if (e - q < 2)
                return NULL;
            switch (q[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                q += 2;
                continue;
            case 'u': {
                size_t len;
                if (s_uescape((const char *)q, end, &len) < 0)
                    return NULL;
                q += len;
                continue;
            }
            default:
                return NULL;
            }
        }
        if (k < S_U2)           /* S_CTL, S_BAD */
            return NULL;
        size_t nc = s_utf8[k].ncont;
        if ((size_t)(e - q) <= nc || q[1] < s_utf8[k].lo || q[1] > s_utf8[k].hi)
            return NULL;
        for (size_t i = 2; i <= nc; i++)
            if ((q[i] & 0xC0) != 0x80)
                return NULL;
        q += nc + 1;
    }
}

static const char *
s_number(const char *p, const char *end)
{
    if (*p == '-')
        p++;
    if (p == end)
        return NULL;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (p < end && *p == '.') {
        p++;
        if (p == end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || *p < '0' || *p > '9')
            return NULL;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *
s_literal(const char *p, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && !memcmp(p, lit, n) ? p + n : NULL;
}

/* A key and its colon at p (whitespace before the key already skipped):
 * the byte after the colon, or NULL. */
static const char *
s_key(const char *p, const char *end)
{
    if (p == end || *p != '"' || !(p = s_string(p, end)))
        return NULL;
    p = s_ws(p, end);
    return p < end && *p == ':' ? p + 1 : NULL;
}

static js_type_t
s_type(char c)
{
    switch (c) {
    case '"': return JS_STRING;
    case '{': return JS_OBJECT;
    case '[': return JS_ARRAY;
    case 't': return JS_TRUE;
    case 'f': return JS_FALSE;
    case 'n': return JS_NULL;
    default:  return JS_NUMBER;
    }
}

/* One complete value starting at or after whitespace at p, inside `depth`
 * containers already open: the byte after it, or NULL when invalid. The
 * loop alternates "scan a value" and "after a value: close containers or
 * step past a comma (and the next key)". */
static const char *
s_value(const char *p, const char *end, int depth)
{
    uint64_t objs[(JS_DEPTH_MAX + 63) / 64];        /* bit d: container d is an object */
    int d = 0;

    for (;;) {
        p = s_ws(p, end);
        if (p == end)
            return NULL;
        switch (*p) {
        case '{':
        case '[': {
            int obj = *p == '{';
            if (depth + d >= JS_DEPTH_MAX)
                return NULL;
            if (obj)
                objs[d / 64] |= (uint64_t)1 << (d % 64);
            else
                objs[d / 64] &= ~((uint64_t)1 << (d % 64));
            d++;
            p = s_ws(p + 1, end);
            if (p < end && *p == (obj ? '}' : ']')) {
                p++;
                d--;
                break;                              /* an empty container is a value */
            }
            if (obj && !(p = s_key(p, end)))
                return NULL;
            continue;                               /* its first value */
        }
        case '"': p = s_string(p, end); break;
        case 't': p = s_literal(p, end, "true", 4); break;
        case 'f': p = s_literal(p, end, "false", 5); break;
        case 'n': p = s_literal(p, end, "null", 4); break;
        default:  p = s_number(p, end); break;
        }
        if (!p)
            return NULL;
        for (;;) {
            if (d == 0)
                return p;
            p = s_ws(p, end);
            if (p == end)
                return NULL;
            int obj = (int)(objs[(d - 1) / 64] >> ((d - 1) % 64) & 1);
            if (*p == ',') {
                p++;
                if (obj && !(p = s_key(s_ws(p, end), end)))
                    return NULL;
                break;                              /* the next value */
            }
            if (*p != (obj ? '}' : ']'))
                return NULL;
            p++;
            d--;
        }
    }
}

int
js_valid(const char *p, size_t n)
{
    const char *end = p + n;
    const char *q = s_value(p, end, 0);
    return q && s_ws(q, end) == end;
}

js_type_t
js_open(js_iter_t *it, const char *p, size_t n)
{
    const char *end = p + n;
    it->end = end;
    it->state = IT_ERR;
    p = s_ws(p, end);
    if (p == end)
        return JS_INVALID;
    js_type_t t = s_type(*p);
    if (t == JS_OBJECT || t == JS_ARRAY) {
        it->p = p + 1;
        it->close = t == JS_OBJECT ? '}' : ']';
        it->state = IT_FIRST;
        return t;
    }
    const char *q = s_value(p, end, 0);
    if (!q || s_ws(q, end) != end)
        return JS_INVALID;
    it->p = end;
    it->state = IT_DONE;
    return t;
}

int
js_next(js_iter_t *it, js_member_t *m)
{
    if (it->state == IT_DONE)
        return 0;
    if (it->state != IT_FIRST && it->state != IT_MORE)
        return -1;
    const char *end = it->end;
    const char *p = s_ws(it->p, end);
    if (p == end)
        goto fail;
    if (*p == it->close) {
        if (s_ws(p + 1, end) != end)
            goto fail;
        it->p = end;
        it->state = IT_DONE;
        return 0;
    }
    if (it->state == IT_MORE) {
        if (*p != ',')
            goto fail;
        p = s_ws(p + 1, end);
    }
    m->key.type = JS_INVALID;
    m->key.p = NULL;
    m->key.n = 0;
    if (it->close == '}') {
        const char *k = p;
        if (p == end || *p != '"' || !(p = s_string(p, end)))
            goto fail;
        m->key.type = JS_STRING;
        m->key.p = k;
        m->key.n = (size_t)(p - k);
        p = s_ws(p, end);
        if (p == end || *p != ':')
            goto fail;
        p = s_ws(p + 1, end);
    }
    const char *v = p;
    if (!(p = s_value(v, end, 1)))          /* v == end fails in there */
        goto fail;
    m->val.type = s_type(*v);
    m->val.p = v;
    m->val.n = (size_t)(p - v);
    it->p = p;
    it->state = IT_MORE;
    return 1;
fail:
    it->state = IT_ERR;
    return -1;
}

/* Does the key span (a valid string token) decode to name? The common case,
 * a key without escapes (esc 0), is a first-byte check and a strncmp: the
 * key holds no NUL, so name matches when it has exactly n more bytes. */
static int
s_key_is(js_span_t key, int esc, const char *name)
{
    const char *in = key.p + 1;
    size_t n = key.n - 2;
    if (esc)
        return js_streq(key, name, strlen(name));
    return n ? in[0] == name[0] && !strncmp(in, name, n) && name[n] == '\0' : name[0] == '\0';
}

js_type_t
js_fields(const char *p, size_t n, js_field_t *fields, size_t nfields)
{
    js_iter_t it;
    js_member_t m;
    int rc = 0;
    for (size_t i = 0; i < nfields; i++)
        fields[i].val = (js_span_t){ JS_INVALID, NULL, 0 };
    js_type_t t = js_open(&it, p, n);
    if (t != JS_OBJECT) {
        while (t == JS_ARRAY && (rc = js_next(&it, &m)) > 0)
            ;
        return t == JS_ARRAY && rc < 0 ? JS_INVALID : t;
    }
    while ((rc = js_next(&it, &m)) > 0) {
        int esc = memchr(m.key.p + 1, '\\', m.key.n - 2) != NULL;
        for (size_t i = 0; i < nfields; i++)
            if (s_key_is(m.key, esc, fields[i].name)) {
                fields[i].val = m.val;          /* a later duplicate overwrites */
                break;
            }
    }
    if (rc < 0) {
        for (size_t i = 0; i < nfields; i++)
            fields[i].val = (js_span_t){ JS_INVALID, NULL, 0 };
        return JS_INVALID;
    }
    return JS_OBJECT;
}

/* Decode one character of a valid string's body at *pp (not the closing
 * quote) into out as UTF-8, advancing *pp: the number of bytes written. A
 * raw byte is passed through alone (multi-byte UTF-8 comes one byte a call:
 * the scan has already checked it). */
static size_t
s_unit(const char **pp, const char *end, char out[4])
{
    const char *p = *pp;
    if (*p != '\\') {
        out[0] = *p;
        *pp = p + 1;
        return 1;
    }
    char c = p[1];
    *pp = p + 2;
    switch (c) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default:  out[0] = c; return 1;             /* " \ / */
    }
    size_t len = 6;
    long cp = s_uescape(p, end, &len);          /* validated: cannot fail */
    *pp = p + len;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Is s exactly one valid string token? */
static int
s_is_string(js_span_t s)
{
    return s.p && s.n >= 2 && s.p[0] == '"' && s_string(s.p, s.p + s.n) == s.p + s.n;
}

ssize_t
js_string(js_span_t s, char *buf, size_t cap)
{
    if (!s_is_string(s))
        return -1;
    const char *p = s.p + 1;
    const char *end = s.p + s.n - 1;            /* the closing quote */
    if (!memchr(p, '\\', (size_t)(end - p))) {
        size_t n = (size_t)(end - p);           /* no escapes: no NUL either */
        if (n > cap)
            return -1;
        if (n)
            memcpy(buf, p, n);                  /* buf may be NULL when cap is 0 */
        return (ssize_t)n;
    }
    size_t len = 0;
    while (p < end) {
        char u[4];
        size_t k = s_unit(&p, end, u);
        if ((k == 1 && u[0] == '\0') || k > cap - len)
            return -1;
        memcpy(buf + len, u, k);
        len += k;
    }
    return (ssize_t)len;
}

int
js_streq(js_span_t s, const char *lit, size_t n)
{
    if (!s_is_string(s))
        return 0;
    const char *p = s.p + 1;
    const char *end = s.p + s.n - 1;
    size_t off = 0;
    while (p < end) {
        char u[4];
        size_t k = s_unit(&p, end, u);
        if (k > n - off || memcmp(lit + off, u, k))
            return 0;
        off += k;
    }
    return off == n;
}
