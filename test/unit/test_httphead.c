/* test_httphead — the head collector (daemon/httphead.c) behind http-parser,
 * fed whole and one byte at a time: the same target and wanted headers come
 * out, folding and overflow are flagged, offsets survive hh_shift(). */
#include <criterion/criterion.h>
#include <http_parser.h>
#include <stdio.h>
#include <string.h>

#include "httphead.h"

enum { K_HOST = 1, K_AUTH };
static const char *const names[] = { "host", "authorization" };

typedef struct {
    http_parser p;
    hh_t hh;
    char buf[8192];
    size_t len;
    int done;
} rd_t;

static int
s_url(http_parser *p, const char *at, size_t n)
{
    rd_t *r = p->data;
    hh_url(&r->hh, (size_t)(at - r->buf), n);
    return 0;
}

static int
s_field(http_parser *p, const char *at, size_t n)
{
    rd_t *r = p->data;
    hh_field(&r->hh, (size_t)(at - r->buf), n);
    return 0;
}

static int
s_value(http_parser *p, const char *at, size_t n)
{
    rd_t *r = p->data;
    return hh_value(&r->hh, r->buf, (size_t)(at - r->buf), n) < 0;
}

static int
s_complete(http_parser *p)
{
    rd_t *r = p->data;
    hh_end(&r->hh);
    r->done = 1;
    return 2;
}

static const http_parser_settings S = {
    .on_url = s_url, .on_header_field = s_field, .on_header_value = s_value,
    .on_headers_complete = s_complete,
};

/* Feeds req in pieces of k bytes, each appended to the buffer first. */
static int
s_read(rd_t *r, const char *req, size_t k)
{
    memset(r, 0, sizeof *r);
    http_parser_init(&r->p, HTTP_REQUEST);
    r->p.data = r;
    hh_init(&r->hh, names, 2);
    size_t n = strlen(req);
    for (size_t off = 0; off < n && !r->done; off += k) {
        size_t m = n - off < k ? n - off : k;
        memcpy(r->buf + r->len, req + off, m);
        size_t got = http_parser_execute(&r->p, &S, r->buf + r->len, m);
        r->len += got;
        if (HTTP_PARSER_ERRNO(&r->p) != HPE_OK)
            return -1;
    }
    return r->done ? 0 : -1;
}

static void
s_val(const rd_t *r, int kind, size_t nth, const char *want)
{
    const hh_field_t *f = hh_nth(&r->hh, kind, nth);
    cr_assert_not_null(f, "kind %d #%zu missing", kind, nth);
    size_t n = f->len;
    const char *v = hh_trim(r->buf + f->off, &n);
    cr_assert_eq(n, strlen(want));
    cr_assert(memcmp(v, want, n) == 0, "got %.*s", (int)n, v);
}

Test(httphead, whole_and_byte_at_a_time)
{
    static const char req[] =
        "GET /ws/bob?token=x HTTP/1.1\r\nHost: a.example\r\nX-Other: 1\r\n"
        "AUTHORIZATION:  Bearer  k1 \r\nauthorization: Basic zz\r\n\r\n";
    for (size_t k = 1; k <= sizeof req; k++) {
        rd_t r;
        cr_assert_eq(s_read(&r, req, k), 0, "chunks of %zu", k);
        cr_assert_eq(r.hh.url_len, strlen("/ws/bob?token=x"));
        cr_assert(memcmp(r.buf + r.hh.url_off, "/ws/bob?token=x", r.hh.url_len) == 0);
        cr_assert_eq(hh_count(&r.hh, K_HOST), 1);
        cr_assert_eq(hh_count(&r.hh, K_AUTH), 2);
        s_val(&r, K_HOST, 0, "a.example");
        s_val(&r, K_AUTH, 0, "Bearer  k1");
        s_val(&r, K_AUTH, 1, "Basic zz");
        cr_assert(!r.hh.folded && !r.hh.overflow);
    }
}

Test(httphead, folded_value_is_flagged)
{
    rd_t r;
    cr_assert_eq(s_read(&r, "GET / HTTP/1.1\r\nHost: a\r\n  b\r\n\r\n", 1), 0);
    cr_assert(r.hh.folded);
}

Test(httphead, overflow_stops_the_parser)
{
    char req[4096];
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HH_FIELDS_MAX; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "Host: h%d\r\n", i);
    snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    rd_t r;
    cr_assert_eq(s_read(&r, req, 7), -1);
    cr_assert(r.hh.overflow);
    cr_assert_eq(r.hh.nf, HH_FIELDS_MAX);
}

Test(httphead, shift_keeps_offsets)
{
    rd_t r;
    cr_assert_eq(s_read(&r, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n", 3), 0);
    memmove(r.buf, r.buf + 4, r.len - 4);
    hh_shift(&r.hh, 4);
    cr_assert(memcmp(r.buf + r.hh.url_off, "/x", 2) == 0);
    s_val(&r, K_HOST, 0, "h");
    hh_reset(&r.hh);
    cr_assert_eq(r.hh.nf, 0);
    cr_assert_eq(r.hh.url_len, 0);
    cr_assert_eq(r.hh.nnames, 2, "names stay");
}

Test(httphead, helpers)
{
    size_t tn;
    const char *t = hh_bearer(" bearer\tabc ", 12, &tn);
    cr_assert(t && tn == 3 && memcmp(t, "abc", 3) == 0);
    t = hh_bearer("Bearer", 6, &tn);
    cr_assert(t && tn == 0, "an empty credential is given, for the caller to refuse");
    cr_assert_null(hh_bearer("Bearerx y", 9, &tn));
    cr_assert_null(hh_bearer("Basic x", 7, &tn));
    cr_assert(hh_list_has("keep-alive, Upgrade", 19, "upgrade", 1));
    cr_assert(!hh_list_has("keep-alive, Upgrade", 19, "upgrade", 0));
    cr_assert(!hh_list_has("upgraded", 8, "upgrade", 1));
}

Test(httphead, query_parameters_and_percent_decoding)
{
    size_t n;
    const char *v = hh_param("token=t&since=e%3A5&x", 21, "since=", &n);
    cr_assert(v && n == 5 && memcmp(v, "e%3A5", 5) == 0);
    cr_assert_null(hh_param("sincex=1", 8, "since=", &n));
    cr_assert_null(hh_param(NULL, 0, "a=", &n));
    char out[16];
    size_t on;
    cr_assert_eq(hh_unescape("e%3A5+", 6, out, &on), 0);
    cr_assert(on == 4 && memcmp(out, "e:5+", 4) == 0);
    cr_assert_eq(hh_unescape("a%2", 3, out, &on), -1);
    cr_assert_eq(hh_unescape("a%zz", 4, out, &on), -1);
    cr_assert_eq(hh_unescape("a%00", 4, out, &on), -2);
    char inplace[] = "x%41y";
    cr_assert_eq(hh_unescape(inplace, 5, inplace, &on), 0);
    cr_assert(on == 3 && memcmp(inplace, "xAy", 3) == 0);
}
