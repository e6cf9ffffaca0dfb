/* test_jscan — proto/jscan.c: a valid and an invalid corpus (RFC 8259 edge
 * cases: numbers, escapes, surrogates, UTF-8, control bytes, NUL, depth),
 * every proper prefix of a valid text, byte-exact member spans, js_fields
 * (duplicates, non-objects), js_string / js_streq, and a differential run
 * against jansson over generated and mutated texts with a fixed seed.
 * Run: make build/test/test_jscan && build/test/test_jscan */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

TestSuite(jscan);

/* Check on an exact-length heap copy, so a read past n is caught (ASan). */
static int
s_valid_n(const char *text, size_t n)
{
    char *copy = malloc(n ? n : 1);
    cr_assert_not_null(copy);
    memcpy(copy, text, n);
    int v = js_valid(copy, n);
    free(copy);
    return v;
}

static int
s_valid(const char *text)
{
    return s_valid_n(text, strlen(text));
}

/* ---- corpus ------------------------------------------------------------- */

static const char *s_good[] = {
    "0", "-0", "1", "-1", "10", "1.5", "-1.5e10", "1e5", "1E5", "1e+5", "1e-5", "0.0", "0e0",
    "123456789012345678901234567890", "1e400", "-1e-400", "0.1",
    "\"\"", "\"a\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u0000\"", "\"\\u0041\\u00e9\\u20AC\"",
    "\"\\ud83d\\ude00\"", "\"\\uD800\\uDC00\"", "\"\\uDBFF\\uDFFF\"", "\"\\uffff\"", "\"\\ue000\"",
    "\"\x7f\"", "\"caf\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xf4\x8f\xbf\xbf\"",
    "\"\xc2\x80\"", "\"\xdf\xbf\"", "\"\xe0\xa0\x80\"", "\"\xed\x9f\xbf\"", "\"\xee\x80\x80\"",
    "\"\xf0\x90\x80\x80\"",
    "true", "false", "null", "[]", "{}", "[[]]", "[{}]", "{\"a\":{}}",
    "[1,2,3]", "{\"a\":1,\"b\":[true,false,null]}", " \t\r\n[ 1 , 2 ] \t\r\n",
    "{ \"a\" : 1 }", "{\"a\":1,\"a\":2}", "{\"\":0}", "{\"\\u0000\":1}", "[\"\\u0000\"]",
    "{\"a\":[{\"b\":[{\"c\":\"d\"}]}]}",
};

static const char *s_bad[] = {
    "", " ", "\t\n", "x", "nul", "tru", "nulll", "True", "NULL", "NaN", "-NaN", "Infinity",
    "-Infinity", "+1", "01", "-01", "00", "1.", ".5", "-", "1e", "1e+", "1.e5", "0x10", "1_000",
    "- 1", "1 2", "\"", "\"abc", "'a'", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\U0041\"",
    "\"\\\"", "\"\\a\"", "\"\\0\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"",
    "\"\\ud83d\\ud83d\"", "\"\\ud83dx\"", "\"\\ud83d\\\"", "\"\t\"", "\"\n\"", "\"\x01\"",
    "\"\x1f\"", "\"\x80\"", "\"\xbf\"", "\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xc2\"", "\"\xc2\x41\"",
    "\"\xe0\x80\x80\"", "\"\xe0\x9f\xbf\"", "\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"", "\"\xe2\x82\"",
    "\"\xf0\x80\x80\x80\"", "\"\xf0\x8f\xbf\xbf\"", "\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"",
    "\"\xf8\x88\x80\x80\x80\"", "\"\xff\"", "\"\xfe\"", "\xef\xbb\xbf{}", "[", "]", "[1", "[1,",
    "[1,]", "[,1]", "[,]", "[1 2]", "[1:2]", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}",
    "{\"a\":1,}", "{,\"a\":1}", "{\"a\":1 \"b\":2}", "{a:1}", "{'a':1}", "{1:1}", "{null:1}",
    "{\"a\":1]", "[1}", "{}}", "[]]", "{} {}", "[] x", "1 x", "/*c*/1", "1 // c", "[1]/**/",
    "{\"a\":\"b\"\"c\"}", "\"a\"\"b\"", "[\"\xe2\x82\xac\"x]", "trUe", "[tru]", "[-]",
    "[1.5.5]", "[1e5e5]", "[--1]",
};

Test(jscan, good_corpus)
{
    for (size_t i = 0; i < sizeof s_good / sizeof *s_good; i++)
        cr_expect(s_valid(s_good[i]), "should be valid: %s", s_good[i]);
}

Test(jscan, bad_corpus)
{
    for (size_t i = 0; i < sizeof s_bad / sizeof *s_bad; i++)
        cr_expect(!s_valid(s_bad[i]), "should be invalid: %s", s_bad[i]);
}

Test(jscan, nul_bytes_are_invalid_anywhere)
{
    const char *texts[] = { "[1,2]", "\"ab\"", "{\"a\":1}", "true", "12" };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        size_t n = strlen(texts[i]);
        char buf[32];
        for (size_t at = 0; at <= n; at++) {        /* NUL inserted at every offset */
            memcpy(buf, texts[i], at);
            buf[at] = '\0';
            memcpy(buf + at + 1, texts[i] + at, n - at);
            cr_expect(!s_valid_n(buf, n + 1), "%s with NUL at %zu", texts[i], at);
        }
    }
}

Test(jscan, every_raw_control_byte_in_a_string_is_invalid)
{
    for (int c = 0; c < 0x20; c++) {
        char buf[3] = { '"', (char)c, '"' };
        cr_expect(!s_valid_n(buf, 3), "byte 0x%02x", c);
        char arr[5] = { '[', '"', (char)c, '"', ']' };
        cr_expect(!s_valid_n(arr, 5), "byte 0x%02x in an array", c);
    }
    for (int c = 0x20; c < 0x80; c++) {
        char buf[3] = { '"', (char)c, '"' };
        cr_expect_eq(s_valid_n(buf, 3), c != '"' && c != '\\', "byte 0x%02x", c);
    }
}

Test(jscan, long_strings_checked_at_every_offset)
{
    /* strings are scanned 8 bytes at a time: put each kind of byte at every
     * offset of a longer string, including the word boundaries */
    const struct { const char *b; size_t n; int ok; } put[] = {
        { "\x00", 1, 0 }, { "\x1f", 1, 0 }, { "\x7f", 1, 1 }, { "\x80", 1, 0 }, { "\xff", 1, 0 },
        { "\\", 1, 0 }, { "\\n", 2, 1 }, { "\\u00e9", 6, 1 }, { "\xc3\xa9", 2, 1 },
        { "\xed\xa0\x80", 3, 0 }, { "\x20", 1, 1 }, { "\x21", 1, 1 }, { "\x5b", 1, 1 },
        { "\x5d", 1, 1 }, { "\"", 1, 0 },
    };
    for (size_t i = 0; i < sizeof put / sizeof *put; i++)
        for (size_t at = 1; at < 34; at++) {
            char buf[64];
            memset(buf, 'a', sizeof buf);
            buf[0] = '"';
            memcpy(buf + at, put[i].b, put[i].n);
            buf[40] = '"';
            cr_expect_eq(s_valid_n(buf, 41), put[i].ok, "byte(s) %zu at %zu", i, at);
        }
}

Test(jscan, every_proper_prefix_of_a_container_is_invalid)
{
    /* the scanner is one-shot: a cut text must never pass */
    for (size_t i = 0; i < sizeof s_good / sizeof *s_good; i++) {
        const char *t = s_good[i];
        size_t n = strlen(t);
        while (n && strchr(" \t\r\n", t[n - 1]))
            n--;                                    /* a prefix without the trailing blanks is valid */
        if (t[0] >= '0' && t[0] <= '9')
            continue;                               /* "12" has the valid prefix "1" */
        if (t[0] == '-')
            continue;
        for (size_t k = 0; k < n; k++)
            cr_expect(!s_valid_n(t, k), "prefix %zu of %s", k, t);
    }
}

/* ---- depth -------------------------------------------------------------- */

static char *
s_nest(size_t depth, char open, char close, size_t *len)
{
    char *s = malloc(2 * depth + 1);
    cr_assert_not_null(s);
    memset(s, open, depth);
    memset(s + depth, close, depth);
    *len = 2 * depth;
    return s;
}

Test(jscan, depth_limit)
{
    size_t n;
    for (size_t d = JS_DEPTH_MAX - 1; d <= JS_DEPTH_MAX + 1; d++) {
        char *s = s_nest(d, '[', ']', &n);
        cr_expect_eq(js_valid(s, n), d <= JS_DEPTH_MAX, "depth %zu", d);
        js_iter_t it;
        js_member_t m;
        cr_assert_eq(js_open(&it, s, n), JS_ARRAY);
        int rc = js_next(&it, &m);
        if (d == 1)
            cr_expect_eq(rc, 0);
        else
            cr_expect_eq(rc, d <= JS_DEPTH_MAX ? 1 : -1, "iterated, depth %zu", d);
        free(s);
    }
    /* objects count the same: {"a":{"a":...}} */
    char buf[16 * (JS_DEPTH_MAX + 2)];
    for (size_t d = JS_DEPTH_MAX; d <= JS_DEPTH_MAX + 1; d++) {
        size_t off = 0;
        for (size_t i = 0; i < d; i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "{\"a\":");
        buf[off++] = '1';
        for (size_t i = 0; i < d; i++)
            buf[off++] = '}';
        cr_expect_eq(js_valid(buf, off), d <= JS_DEPTH_MAX, "object depth %zu", d);
    }
}

Test(jscan, hostile_depth_does_not_recurse)
{
    size_t n;
    char *s = s_nest(1000000, '[', ']', &n);
    cr_expect(!js_valid(s, n));
    cr_expect(!js_valid(s, n / 2));
    free(s);
    /* many siblings at the limit are fine: depth is not a count */
    size_t d = JS_DEPTH_MAX - 1, k = 1000, off = 0;
    char *w = malloc(k * (2 * d + 1) + 2);
    cr_assert_not_null(w);
    w[off++] = '[';
    for (size_t i = 0; i < k; i++) {
        if (i)
            w[off++] = ',';
        memset(w + off, '[', d);
        memset(w + off + d, ']', d);
        off += 2 * d;
    }
    w[off++] = ']';
    cr_expect(js_valid(w, off));
    free(w);
}

/* ---- iteration and spans ------------------------------------------------ */

static void
s_expect_span(js_span_t s, js_type_t type, const char *want, const char *what)
{
    cr_expect_eq(s.type, type, "%s type", what);
    cr_assert_not_null(s.p, "%s missing", what);
    cr_expect(s.n == strlen(want) && !memcmp(s.p, want, s.n), "%s: got '%.*s', want '%s'",
              what, (int)s.n, s.p, want);
}

Test(jscan, object_members_are_byte_exact)
{
    const char *t = " { \"a\" : [1, 2] ,\"b\\u0041\":\"x\\n\" ,\n\"c\":{ } ,\"d\":-1.5e3,"
                    "\"e\":true,\"f\":false,\"g\":null } ";
    const struct { const char *key, *val; js_type_t type; } want[] = {
        { "\"a\"", "[1, 2]", JS_ARRAY },     { "\"b\\u0041\"", "\"x\\n\"", JS_STRING },
        { "\"c\"", "{ }", JS_OBJECT },       { "\"d\"", "-1.5e3", JS_NUMBER },
        { "\"e\"", "true", JS_TRUE },        { "\"f\"", "false", JS_FALSE },
        { "\"g\"", "null", JS_NULL },
    };
    js_iter_t it;
    js_member_t m;
    cr_assert_eq(js_open(&it, t, strlen(t)), JS_OBJECT);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        cr_assert_eq(js_next(&it, &m), 1, "member %zu", i);
        s_expect_span(m.key, JS_STRING, want[i].key, "key");
        s_expect_span(m.val, want[i].type, want[i].val, "value");
        cr_expect(js_valid(m.val.p, m.val.n), "a value span is JSON on its own");
    }
    cr_expect_eq(js_next(&it, &m), 0);
    cr_expect_eq(js_next(&it, &m), 0, "the end is sticky");
}

Test(jscan, array_elements_are_byte_exact)
{
    const char *t = "[ \"a\" ,{\"k\":[]},  3 ,[ ]]";
    const char *want[] = { "\"a\"", "{\"k\":[]}", "3", "[ ]" };
    js_iter_t it;
    js_member_t m;
    cr_assert_eq(js_open(&it, t, strlen(t)), JS_ARRAY);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(js_next(&it, &m), 1);
        cr_expect_eq(m.key.type, JS_INVALID);
        cr_expect_null(m.key.p);
        cr_expect(m.val.n == strlen(want[i]) && !memcmp(m.val.p, want[i], m.val.n));
    }
    cr_expect_eq(js_next(&it, &m), 0);
}

Test(jscan, iteration_errors)
{
    const char *bad[] = { "{\"a\":1,}", "{\"a\":1} x", "[1,2", "{\"a\" 1}", "[1 2]", "{1:2}",
                          "[1,,2]", "{\"a\":[}", "[\"\\ud800\"]", "{\"a\":1}}", "{", "[" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        js_iter_t it;
        js_member_t m;
        js_type_t t = js_open(&it, bad[i], strlen(bad[i]));
        cr_assert(t == JS_OBJECT || t == JS_ARRAY, "%s", bad[i]);
        int rc, guard = 0;
        while ((rc = js_next(&it, &m)) > 0 && guard++ < 10)
            ;
        cr_expect_eq(rc, -1, "%s", bad[i]);
        cr_expect_eq(js_next(&it, &m), -1, "errors are sticky: %s", bad[i]);
    }
    js_iter_t z;
    js_member_t m;
    memset(&z, 0, sizeof z);
    cr_expect_eq(js_next(&z, &m), -1, "a zeroed iterator is invalid");
}

Test(jscan, open_scalars_and_garbage)
{
    js_iter_t it;
    js_member_t m;
    cr_expect_eq(js_open(&it, " 3 ", 3), JS_NUMBER);
    cr_expect_eq(js_next(&it, &m), 0);
    cr_expect_eq(js_open(&it, "\"s\"", 3), JS_STRING);
    cr_expect_eq(js_open(&it, "null", 4), JS_NULL);
    cr_expect_eq(js_open(&it, "true", 4), JS_TRUE);
    cr_expect_eq(js_open(&it, "false", 5), JS_FALSE);
    cr_expect_eq(js_open(&it, "3 4", 3), JS_INVALID);
    cr_expect_eq(js_next(&it, &m), -1);
    cr_expect_eq(js_open(&it, "", 0), JS_INVALID);
    cr_expect_eq(js_open(&it, "  ", 2), JS_INVALID);
    cr_expect_eq(js_open(&it, "nope", 4), JS_INVALID);
}

/* ---- js_fields ---------------------------------------------------------- */

Test(jscan, fields_pick_last_duplicate)
{
    js_field_t f[] = { { "a", { 0 } }, { "b", { 0 } }, { "type", { 0 } }, { "zz", { 0 } } };
    const char *t = "{\"a\":1,\"b\":\"x\",\"a\":[2],\"t\\u0079pe\":\"chat\",\"other\":{}}";
    cr_assert_eq(js_fields(t, strlen(t), f, 4), JS_OBJECT);
    s_expect_span(f[0].val, JS_ARRAY, "[2]", "a");
    s_expect_span(f[1].val, JS_STRING, "\"x\"", "b");
    s_expect_span(f[2].val, JS_STRING, "\"chat\"", "type (escaped key)");
    cr_expect_eq(f[3].val.type, JS_INVALID);
    cr_expect_null(f[3].val.p);
}

Test(jscan, fields_tell_invalid_from_non_object)
{
    js_field_t f[] = { { "a", { 0 } } };
    cr_expect_eq(js_fields("[1]", 3, f, 1), JS_ARRAY);
    cr_expect_eq(f[0].val.type, JS_INVALID);
    cr_expect_eq(js_fields("[1", 2, f, 1), JS_INVALID);
    cr_expect_eq(js_fields("\"a\"", 3, f, 1), JS_STRING);
    cr_expect_eq(js_fields("7", 1, f, 1), JS_NUMBER);
    cr_expect_eq(js_fields("", 0, f, 1), JS_INVALID);
    /* a member seen before a later syntax error is not reported */
    cr_expect_eq(js_fields("{\"a\":1,}", 8, f, 1), JS_INVALID);
    cr_expect_eq(f[0].val.type, JS_INVALID);
    cr_expect_null(f[0].val.p);
    cr_expect_eq(js_fields("{\"a\":1} {}", 10, f, 1), JS_INVALID);
    cr_expect_eq(js_fields("{}", 2, f, 0), JS_OBJECT);
}

/* ---- js_string and js_streq --------------------------------------------- */

static js_span_t
S(const char *s)
{
    js_span_t r = { JS_STRING, s, strlen(s) };
    return r;
}

Test(jscan, string_decoding)
{
    const struct { const char *in; const char *out; size_t n; } cases[] = {
        { "\"\"", "", 0 },
        { "\"abc\"", "abc", 3 },
        { "\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d", 7 },
        { "\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5 },
        { "\"\\u0041\\u00e9\\u20ac\"", "A\xc3\xa9\xe2\x82\xac", 6 },
        { "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4 },
        { "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4 },
        { "\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"", "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 11 },
        { "\"caf\xc3\xa9\"", "caf\xc3\xa9", 5 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[64];
        ssize_t n = js_string(S(cases[i].in), buf, sizeof buf);
        cr_assert_eq(n, (ssize_t)cases[i].n, "%s: length %zd", cases[i].in, n);
        cr_expect(!memcmp(buf, cases[i].out, cases[i].n), "%s", cases[i].in);
        /* the exact capacity fits, one byte less does not */
        cr_expect_eq(js_string(S(cases[i].in), buf, cases[i].n), (ssize_t)cases[i].n);
        if (cases[i].n)
            cr_expect_eq(js_string(S(cases[i].in), buf, cases[i].n - 1), -1, "%s", cases[i].in);
        cr_expect(js_streq(S(cases[i].in), cases[i].out, cases[i].n), "%s", cases[i].in);
        if (cases[i].n) {
            cr_expect(!js_streq(S(cases[i].in), cases[i].out, cases[i].n - 1));
            char other[64];
            memcpy(other, cases[i].out, cases[i].n);
            other[cases[i].n - 1] ^= 1;
            cr_expect(!js_streq(S(cases[i].in), other, cases[i].n));
        }
    }
}

Test(jscan, string_refusals)
{
    char buf[64];
    const char *bad[] = { "\"a\\u0000b\"", "\"\\u0000\"", "abc", "\"abc", "abc\"", "\"a\"b\"",
                          "\"\\x\"", "\"\\ud800\"", "\"\x01\"", "\"\xff\"", "\"", "", "1", "[]" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(js_string(S(bad[i]), buf, sizeof buf), -1, "%s", bad[i]);
    js_span_t none = { JS_INVALID, NULL, 0 };
    cr_expect_eq(js_string(none, buf, sizeof buf), -1);
    cr_expect(!js_streq(none, "", 0));
    cr_expect_eq(js_string(S("\"abc\""), buf, 0), -1);
    cr_expect_eq(js_string(S("\"\""), NULL, 0), 0);
    /* streq compares decoded bytes, a NUL included */
    cr_expect(js_streq(S("\"a\\u0000b\""), "a\0b", 3));
    cr_expect(!js_streq(S("\"ab\""), "ab\0", 3));
    cr_expect(!js_streq(S("\"\\x\""), "x", 1));
}

/* ---- differential against jansson --------------------------------------- */

/* xorshift64*: a fixed seed, so a failure replays. */
static uint64_t s_rng = 0x5eed2026c0ffeeULL;

static uint32_t
s_rand(uint32_t n)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (uint32_t)((s_rng * 0x2545F4914F6CDD1DULL) >> 32) % n;
}

typedef struct {
    char  *p;
    size_t n, cap;
} gbuf_t;

static void
s_put(gbuf_t *g, const char *s, size_t n)
{
    if (g->n + n > g->cap) {
        g->cap = (g->n + n) * 2 + 64;
        g->p = realloc(g->p, g->cap);
        cr_assert_not_null(g->p);
    }
    memcpy(g->p + g->n, s, n);
    g->n += n;
}

static void
s_puts(gbuf_t *g, const char *s)
{
    s_put(g, s, strlen(s));
}

static void
s_gen_ws(gbuf_t *g)
{
    static const char *ws[] = { "", "", "", " ", "\n", "\t", "\r\n  " };
    s_puts(g, ws[s_rand(7)]);
}

static void
s_gen_string(gbuf_t *g)
{
    static const char *parts[] = {
        "a", "Z", "0", " ", "~", "\x7f", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
        "\\u0041", "\\u00e9", "\\u0000", "\\uFFFF", "\\ud83d\\ude00", "\\uDBFF\\uDFFF", "\xc3\xa9",
        "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf", "id", "type",
    };
    s_puts(g, "\"");
    for (uint32_t i = 0, n = s_rand(6); i < n; i++)
        s_puts(g, parts[s_rand(sizeof parts / sizeof *parts)]);
    s_puts(g, "\"");
}

/* Numbers within jansson's range (it refuses integers beyond int64 and
 * reals that overflow a double; jscan does not, see the disagreements). */
static void
s_gen_number(gbuf_t *g)
{
    char b[64];
    int n = 0;
    if (s_rand(3) == 0)
        b[n++] = '-';
    if (s_rand(4) == 0)
        b[n++] = '0';
    else
        n += snprintf(b + n, sizeof b - (size_t)n, "%u", 1 + s_rand(99999));
    if (s_rand(3) == 0)
        n += snprintf(b + n, sizeof b - (size_t)n, ".%u", s_rand(1000));
    if (s_rand(4) == 0)
        n += snprintf(b + n, sizeof b - (size_t)n, "%s%s%u", s_rand(2) ? "e" : "E",
                      (const char *[]){ "", "+", "-" }[s_rand(3)], s_rand(30));
    s_put(g, b, (size_t)n);
}

static void
s_gen_value(gbuf_t *g, int depth)
{
    uint32_t k = s_rand(depth > 6 ? 6 : 9);
    s_gen_ws(g);
    switch (k) {
    case 0: s_puts(g, "true"); break;
    case 1: s_puts(g, "false"); break;
    case 2: s_puts(g, "null"); break;
    case 3: case 4: s_gen_number(g); break;
    case 5: s_gen_string(g); break;
    case 6: case 7: {
        s_puts(g, "[");
        for (uint32_t i = 0, n = s_rand(5); i < n; i++) {
            if (i)
                s_puts(g, ",");
            s_gen_value(g, depth + 1);
        }
        s_gen_ws(g);
        s_puts(g, "]");
        break;
    }
    default: {
        s_puts(g, "{");
        for (uint32_t i = 0, n = s_rand(5); i < n; i++) {
            if (i)
                s_puts(g, ",");
            s_gen_ws(g);
            s_gen_string(g);
            s_gen_ws(g);
            s_puts(g, ":");
            s_gen_value(g, depth + 1);
        }
        s_gen_ws(g);
        s_puts(g, "}");
        break;
    }
    }
    s_gen_ws(g);
}

static void
s_mutate(gbuf_t *g)
{
    static const char pick[] = "\"\\{}[],:0123-eE.+ tfnu\x00\x01\x1f\x7f\x80\xbf\xc0\xc3\xed\xf0\xf4\xff";
    size_t at = g->n ? s_rand((uint32_t)g->n) : 0;
    char c = s_rand(4) ? pick[s_rand(sizeof pick - 1)] : (char)s_rand(256);
    switch (s_rand(5)) {
    case 0:                                     /* replace */
        if (g->n)
            g->p[at] = c;
        break;
    case 1:                                     /* delete */
        if (g->n) {
            memmove(g->p + at, g->p + at + 1, g->n - at - 1);
            g->n--;
        }
        break;
    case 2:                                     /* insert */
        s_put(g, "", 1);
        memmove(g->p + at + 1, g->p + at, g->n - at - 1);
        g->p[at] = c;
        break;
    case 3:                                     /* truncate */
        g->n = at;
        break;
    default:                                    /* flip a bit */
        if (g->n)
            g->p[at] ^= (char)(1 << s_rand(8));
        break;
    }
}

/* Nesting depth of a parsed jansson value. */
static int
s_depth(json_t *j)
{
    int d = 0;
    size_t i;
    const char *k;
    json_t *v;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            int c = s_depth(v);
            d = c > d ? c : d;
        }
        return d + 1;
    }
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            int c = s_depth(v);
            d = c > d ? c : d;
        }
        return d + 1;
    }
    return 0;
}

/* A valid object: each member's value span, parsed on its own, equals what
 * jansson holds for that key (the last duplicate is the one it keeps). */
static void
s_check_spans(const char *p, size_t n, json_t *root)
{
    js_iter_t it;
    js_member_t m[64];
    size_t k = 0;
    if (js_open(&it, p, n) != JS_OBJECT)
        return;
    while (k < 64 && js_next(&it, &m[k]) > 0)
        k++;
    for (size_t i = 0; i < k; i++) {
        char key[256];
        ssize_t kn = js_string(m[i].key, key, sizeof key - 1);
        if (kn < 0)
            continue;                           /* a key with \u0000: jansson refuses it */
        key[kn] = '\0';
        int last = 1;
        for (size_t j = i + 1; j < k; j++)
            last &= !js_streq(m[j].key, key, (size_t)kn);
        if (!last || strlen(key) != (size_t)kn)
            continue;
        json_error_t err;
        json_t *v = json_loadb(m[i].val.p, m[i].val.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        cr_assert_not_null(v, "span '%.*s' of '%.*s': %s", (int)m[i].val.n, m[i].val.p, (int)n, p,
                           err.text);
        cr_expect(json_equal(v, json_object_get(root, key)), "span '%.*s' of key %s",
                  (int)m[i].val.n, m[i].val.p, key);
        json_decref(v);
    }
}

/* jscan against jansson 2.14 (JSON_DECODE_ANY | JSON_ALLOW_NUL). Deliberate
 * disagreements, each checked rather than skipped:
 *   - jansson refuses integers beyond int64 ("too big integer") and reals
 *     beyond a double ("real number overflow"): RFC 8259 grammar allows them;
 *   - jansson refuses \u0000 in object keys ("NUL byte in object key not
 *     supported"): valid JSON, jscan accepts it;
 *   - jansson nests up to 2048 deep, jscan up to JS_DEPTH_MAX;
 *   - jansson takes a raw NUL byte right after the value for the end of the
 *     text ("1\0" passes, "1\0x" does not); jscan refuses every raw NUL. */
static int
s_known_disagreement(const char *p, size_t n, int ours, const json_error_t *err, json_t *theirs)
{
    if (ours)
        return strstr(err->text, "too big") || strstr(err->text, "overflow")
               || strstr(err->text, "NUL byte in object key");
    return s_depth(theirs) > JS_DEPTH_MAX || memchr(p, '\0', n);
}

static void
s_differ(const char *p, size_t n, size_t *nvalid, size_t *nknown)
{
    json_error_t err;
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    int ours = js_valid(p, n), theirs = j != NULL;
    if (ours != theirs) {
        cr_expect(s_known_disagreement(p, n, ours, &err, j), "jscan %d, jansson %d (%s) on '%.*s'",
                  ours, theirs, theirs ? "" : err.text, (int)n, p);
        ++*nknown;
    }
    /* the iterator and js_fields agree with js_valid */
    js_iter_t it;
    js_member_t m;
    js_type_t t = js_open(&it, p, n);
    int rc = t == JS_INVALID ? -1 : 0;
    if (t == JS_OBJECT || t == JS_ARRAY)
        while ((rc = js_next(&it, &m)) > 0)
            ;
    cr_expect_eq(rc == 0, ours, "js_open/js_next vs js_valid on '%.*s'", (int)n, p);
    cr_expect_eq(js_fields(p, n, NULL, 0) != JS_INVALID, ours, "js_fields on '%.*s'", (int)n, p);
    if (ours && theirs) {
        s_check_spans(p, n, j);
        ++*nvalid;
    }
    json_decref(j);
}

Test(jscan, differential_against_jansson)
{
    gbuf_t g = { 0 };
    size_t nvalid = 0, nknown = 0, total = 60000;
    for (size_t i = 0; i < total; i++) {
        g.n = 0;
        s_gen_value(&g, 0);
        uint32_t muts = s_rand(3) ? s_rand(4) : 0;  /* a third stay valid */
        for (uint32_t k = 0; k < muts; k++)
            s_mutate(&g);
        char *copy = malloc(g.n ? g.n : 1);     /* exact length, for ASan */
        cr_assert_not_null(copy);
        memcpy(copy, g.p, g.n);
        s_differ(copy, g.n, &nvalid, &nknown);
        free(copy);
    }
    cr_log_info("differential: %zu texts, %zu valid, %zu known disagreements", total, nvalid,
                nknown);
    /* the run must exercise both sides */
    cr_expect_gt(nvalid, total / 4, "valid: %zu", nvalid);
    cr_expect_lt(nvalid, total * 9 / 10, "valid: %zu", nvalid);
    free(g.p);
}

Test(jscan, known_disagreements_with_jansson)
{
    size_t nvalid = 0, nknown = 0;
    const char *texts[] = { "9223372036854775808", "[-9223372036854775809]", "1e309",
                            "{\"a\\u0000\":1}" };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        cr_expect(js_valid(texts[i], strlen(texts[i])), "%s", texts[i]);
        s_differ(texts[i], strlen(texts[i]), &nvalid, &nknown);
    }
    cr_expect_eq(nknown, 4);
    size_t n;
    char *deep = s_nest(JS_DEPTH_MAX + 1, '[', ']', &n);
    s_differ(deep, n, &nvalid, &nknown);
    cr_expect_eq(nknown, 5);
    free(deep);
    s_differ("1\0", 2, &nvalid, &nknown);      /* "{}\0" jansson refuses */
    cr_expect_eq(nknown, 6);
}
