/* test_handshake — the WebSocket upgrade parser (daemon/handshake.c) against
 * zwsd-protocol(7) "Connecting": every check passing and failing, in order, every
 * chunking of a valid request down to one byte, the head limit, and the
 * response formats. Run: make build/test/test_handshake && build/test/test_handshake */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "handshake.h"

#define KEY     "dGhlIHNhbXBsZSBub25jZQ=="       /* RFC 6455 1.3 */
#define ACCEPT  "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define LINE    "GET /ws/bob HTTP/1.1\r\n"
#define HOST    "Host: chat.example.com\r\n"
#define UPG     "Upgrade: websocket\r\n"
#define CONN    "Connection: Upgrade\r\n"
#define VER     "Sec-WebSocket-Version: 13\r\n"
#define KEYH    "Sec-WebSocket-Key: " KEY "\r\n"
#define STD     HOST UPG CONN KEYH VER
#define REQ(line, hdrs) line hdrs "\r\n"

#define OK_101  "HTTP/1.1 101 Switching Protocols\r\n" \
                "Upgrade: websocket\r\n"               \
                "Connection: Upgrade\r\n"              \
                "Sec-WebSocket-Accept: " ACCEPT "\r\n"

/* The outcome of one handshake, copied out so the object can be destroyed. */
typedef struct {
    hs_result_t r;
    int status;
    size_t consumed;
    char resp[2048];
    size_t resp_len;
    char user[128], token[512], origin[512];
    int has_user, has_token, has_origin;
} out_t;

static void
s_collect(handshake_t *hs, hs_result_t r, size_t consumed, out_t *o)
{
    memset(o, 0, sizeof *o);
    o->r = r;
    o->status = handshake_status(hs);
    o->consumed = consumed;
    o->resp_len = handshake_response(hs, o->resp, sizeof o->resp);
    const char *s;
    if ((s = handshake_user(hs))) {
        o->has_user = 1;
        snprintf(o->user, sizeof o->user, "%s", s);
    }
    if ((s = handshake_token(hs))) {
        o->has_token = 1;
        snprintf(o->token, sizeof o->token, "%s", s);
    }
    if ((s = handshake_origin(hs))) {
        o->has_origin = 1;
        snprintf(o->origin, sizeof o->origin, "%s", s);
    }
}

/* Feeds len bytes in one call. */
static out_t
s_run_cfg(const char *req, size_t len, const handshake_cfg_t *cfg)
{
    out_t o;
    handshake_t *hs = handshake_new();
    cr_assert_not_null(hs);
    size_t consumed = 12345;
    hs_result_t r = handshake_feed(hs, req, len, &consumed, cfg);
    s_collect(hs, r, consumed, &o);
    handshake_destroy(&hs);
    cr_assert_null(hs);
    return o;
}

static out_t
s_run(const char *req)
{
    return s_run_cfg(req, strlen(req), NULL);
}

/* Feeds req in chunks of `chunk` bytes, checking that every feed before the
 * verdict takes all its bytes, and that the head/leftover split adds up. */
static out_t
s_run_chunked(const char *req, size_t len, size_t chunk, size_t head_len, const handshake_cfg_t *cfg)
{
    out_t o;
    handshake_t *hs = handshake_new();
    cr_assert_not_null(hs);
    size_t off = 0, taken = 0, consumed = 0;
    hs_result_t r = HS_MORE;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        r = handshake_feed(hs, req + off, n, &consumed, cfg);
        off += n;
        if (r != HS_MORE)
            break;
        cr_assert_eq(consumed, n, "HS_MORE must take every byte");
        taken += n;
    }
    if (r == HS_DONE) {
        /* The rest of the last feed and what was never fed are the
         * client's early WebSocket data. */
        cr_assert_eq(taken + consumed, head_len, "chunk %zu: head %zu, consumed %zu", chunk,
                     head_len, taken + consumed);
    }
    s_collect(hs, r, consumed, &o);
    handshake_destroy(&hs);
    return o;
}

static void
s_expect_fail(const char *req, int status, const char *body_part)
{
    out_t o = s_run(req);
    cr_assert_eq(o.r, HS_FAIL, "expected FAIL %d for %s", status, req);
    cr_assert_eq(o.status, status, "got %d, want %d for %s", o.status, status, req);
    cr_assert_eq(o.consumed, 0);
    cr_assert_eq(o.has_user, 0);
    cr_assert(o.resp_len > 0);
    cr_assert(strstr(o.resp, "\r\nConnection: close\r\n"), "%s", o.resp);
    if (body_part)
        cr_assert(strstr(o.resp, body_part), "want \"%s\" in %s", body_part, o.resp);
}

static void
s_expect_done(const char *req)
{
    out_t o = s_run(req);
    cr_assert_eq(o.r, HS_DONE, "status %d: %s for %s", o.status, o.resp, req);
    cr_assert_eq(o.status, 101);
    cr_assert_eq(o.consumed, strlen(req));
}

/* ---- the happy path ---- */

Test(handshake, valid_request_and_rfc6455_accept)
{
    const char *req = REQ(LINE, STD);
    out_t o = s_run(req);
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_eq(o.status, 101);
    cr_assert_eq(o.consumed, strlen(req));
    cr_assert_str_eq(o.user, "bob");
    cr_assert_eq(o.has_token, 0);
    cr_assert_eq(o.has_origin, 0);
    cr_assert_str_eq(o.resp, OK_101 "\r\n");
    cr_assert_eq(o.resp_len, strlen(OK_101 "\r\n"));
}

Test(handshake, header_names_case_insensitive_and_values_trimmed)
{
    s_expect_done(REQ(LINE, "host: x\r\nUPGRADE: WebSocket\r\nconnection: upgrade\r\n"
                            "SEC-WEBSOCKET-KEY:   " KEY "  \r\nsec-websocket-version:13\r\n"));
}

Test(handshake, connection_token_list)
{
    s_expect_done(REQ(LINE, HOST UPG "Connection: keep-alive, Upgrade\r\n" KEYH VER));
    s_expect_done(REQ(LINE, HOST UPG "Connection:   keep-alive ,\tUPGRADE  \r\n" KEYH VER));
    s_expect_done(REQ(LINE, HOST UPG "Connection: keep-alive\r\nConnection: upgrade\r\n" KEYH VER));
    s_expect_done(REQ(LINE, HOST "Upgrade: foo/1, websocket\r\n" CONN KEYH VER));
}

Test(handshake, userid_charset_and_length)
{
    s_expect_done(REQ("GET /ws/a.B-c_d@9 HTTP/1.1\r\n", STD));
    s_expect_done(REQ("GET /ws/"
                      "0123456789012345678901234567890123456789012345678901234567890123"
                      " HTTP/1.1\r\n", STD));
    s_expect_fail(REQ("GET /ws/"
                      "01234567890123456789012345678901234567890123456789012345678901234"
                      " HTTP/1.1\r\n", STD), 400, "invalid userId\n");
}

Test(handshake, absolute_form_target)
{
    out_t o = s_run(REQ("GET http://chat.example.com/ws/bob?token=t HTTP/1.1\r\n", STD));
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_str_eq(o.user, "bob");
    cr_assert_str_eq(o.token, "t");
}

Test(handshake, http_1_1_or_later)
{
    s_expect_fail(REQ("GET /ws/bob HTTP/1.0\r\n", STD), 400, "HTTP/1.1");
    s_expect_fail(REQ("GET /ws/bob HTTP/0.9\r\n", STD), 400, "HTTP/1.1");
    s_expect_fail("GET /ws/bob\r\n\r\n", 400, NULL);
}

Test(handshake, obsolete_line_folding_refused)
{
    s_expect_fail(REQ(LINE, HOST UPG "Connection: keep-alive,\r\n Upgrade\r\n" KEYH VER), 400,
                  "folding");
}

/* ---- check 1: parse, size ---- */

Test(handshake, tls_client_hello_fails_on_first_feed)
{
    static const unsigned char hello[] = {
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x1b, 0x9c, 0x00, 0x11,
    };
    for (size_t n = 1; n <= sizeof hello; n++) {
        out_t o = s_run_cfg((const char *)hello, n, NULL);
        cr_assert_eq(o.r, HS_FAIL, "%zu bytes", n);
        cr_assert_eq(o.status, 400);
        cr_assert(strncmp(o.resp, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    }
}

Test(handshake, garbage_fails_on_first_feed)
{
    static const char *const junk[] = {
        "\x00\xff\x13\x37", "\r\n\x01", "hello world\r\n", "GXT / HTTP/1.1\r\n",
        "GET /ws/bob HTTP/1.1\r\nBad Header\r\n", "GET /ws/bob XTTP/1.1\r\n",
        "GET /ws/bob HTTP/1.1\r\nHost: a\x01z\r\n",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        size_t len = i == 0 ? 4 : strlen(junk[i]);
        out_t o = s_run_cfg(junk[i], len, NULL);
        cr_assert_eq(o.r, HS_FAIL, "junk %zu", i);
        cr_assert_eq(o.status, 400, "junk %zu", i);
    }
}

/* Builds a head of exactly `total` bytes, padded with an X-Pad header placed
 * before the key so that the key's offset moves past buffer regrowths. */
static size_t
s_build_head(char *dst, size_t cap, size_t total)
{
    const char *pre = LINE "Origin: https://a.example\r\n" HOST UPG CONN "X-Pad: ";
    const char *post = "\r\n" KEYH VER "\r\n";
    size_t fixed = strlen(pre) + strlen(post);
    cr_assert(total > fixed && total < cap);
    size_t pad = total - fixed;
    memcpy(dst, pre, strlen(pre));
    memset(dst + strlen(pre), 'p', pad);
    memcpy(dst + strlen(pre) + pad, post, strlen(post));
    dst[total] = '\0';
    return total;
}

Test(handshake, head_of_8192_bytes_ok_8193_too_large)
{
    static char head[16384];
    size_t n = s_build_head(head, sizeof head, HANDSHAKE_HEAD_MAX);
    cr_assert_eq(n, 8192);
    out_t o = s_run_cfg(head, n, NULL);
    cr_assert_eq(o.r, HS_DONE, "%d %s", o.status, o.resp);
    cr_assert_eq(o.consumed, 8192);
    cr_assert_str_eq(o.origin, "https://a.example");
    cr_assert_str_eq(o.resp, OK_101 "\r\n");

    /* The same with early frame bytes behind it, in one feed and byte by byte. */
    memcpy(head + n, "\x81\x85\x37\xfa\x21\x3d", 6);
    o = s_run_cfg(head, n + 6, NULL);
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_eq(o.consumed, 8192);
    o = s_run_chunked(head, n + 6, 1, n, NULL);
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_str_eq(o.resp, OK_101 "\r\n");

    n = s_build_head(head, sizeof head, HANDSHAKE_HEAD_MAX + 1);
    o = s_run_cfg(head, n, NULL);
    cr_assert_eq(o.r, HS_FAIL);
    cr_assert_eq(o.status, 431);
    cr_assert(strncmp(o.resp, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
}

/* --max-head: the limit a caller sets, from 1 KiB to HANDSHAKE_HEAD_LIMIT;
 * larger values are capped there, 0 is the default. */
Test(handshake, max_head_is_the_callers)
{
    static char head[HANDSHAKE_HEAD_LIMIT + 4096];
    handshake_cfg_t small = { .max_head = 1024 }, big = { .max_head = HANDSHAKE_HEAD_LIMIT },
                    huge = { .max_head = 10 * HANDSHAKE_HEAD_LIMIT };
    size_t n = s_build_head(head, sizeof head, 1024);
    cr_assert_eq(s_run_cfg(head, n, &small).r, HS_DONE);
    n = s_build_head(head, sizeof head, 1025);
    out_t o = s_run_cfg(head, n, &small);
    cr_assert_eq(o.status, 431);
    o = s_run_chunked(head, n, 7, n, &small);
    cr_assert_eq(o.status, 431);
    /* 9,000 bytes: too large by default, fine with a larger limit */
    n = s_build_head(head, sizeof head, 9000);
    cr_assert_eq(s_run_cfg(head, n, NULL).status, 431);
    cr_assert_eq(s_run_cfg(head, n, &big).r, HS_DONE);
    o = s_run_chunked(head, n, 1000, n, &big);
    cr_assert_eq(o.r, HS_DONE);
    n = s_build_head(head, sizeof head, HANDSHAKE_HEAD_LIMIT);
    cr_assert_eq(s_run_cfg(head, n, &big).r, HS_DONE);
    n = s_build_head(head, sizeof head, HANDSHAKE_HEAD_LIMIT + 1);
    cr_assert_eq(s_run_cfg(head, n, &big).status, 431);
    cr_assert_eq(s_run_cfg(head, n, &huge).status, 431, "capped at HANDSHAKE_HEAD_LIMIT");
    /* the limit shrinks under a head half read (a reload): 431 at the next feed */
    n = s_build_head(head, sizeof head, 4000);
    handshake_t *hs = handshake_new();
    size_t used;
    cr_assert_eq(handshake_feed(hs, head, 2000, &used, NULL), HS_MORE);
    cr_assert_eq(handshake_feed(hs, head + 2000, n - 2000, &used, &small), HS_FAIL);
    cr_assert_eq(handshake_status(hs), 431);
    handshake_destroy(&hs);
}

/* 431 is decided as soon as 8,192 bytes have come without the empty line. */
Test(handshake, too_large_decided_at_byte_8192)
{
    static char head[16384];
    size_t n = s_build_head(head, sizeof head, 12000);
    handshake_t *hs = handshake_new();
    size_t consumed;
    for (size_t i = 0; i < HANDSHAKE_HEAD_MAX - 1; i++)
        cr_assert_eq(handshake_feed(hs, head + i, 1, &consumed, NULL), HS_MORE, "byte %zu", i);
    cr_assert_eq(handshake_feed(hs, head + HANDSHAKE_HEAD_MAX - 1, 1, &consumed, NULL), HS_FAIL);
    cr_assert_eq(handshake_status(hs), 431);
    handshake_destroy(&hs);

    out_t o = s_run_cfg(head, n, NULL);
    cr_assert_eq(o.status, 431);
    /* Endless leading empty lines too. */
    memset(head, '\n', n);
    o = s_run_cfg(head, n, NULL);
    cr_assert_eq(o.status, 431);
}

/* ---- check 2: path ---- */

Test(handshake, path_not_found)
{
    static const char *const lines[] = {
        "GET /ws HTTP/1.1\r\n",     "GET /ws/a/b HTTP/1.1\r\n", "GET / HTTP/1.1\r\n",
        "GET /foo HTTP/1.1\r\n",    "GET /ws/bob/ HTTP/1.1\r\n", "GET /wsbob HTTP/1.1\r\n",
        "GET /WS/bob HTTP/1.1\r\n", "GET /ws?x=/ws/bob HTTP/1.1\r\n", "GET /x/ws/bob HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "%s%s\r\n", lines[i], STD);
        s_expect_fail(req, 404, "HTTP/1.1 404 Not Found\r\n");
    }
}

/* ---- check 3: method ---- */

Test(handshake, method_must_be_get)
{
    s_expect_fail(REQ("POST /ws/bob HTTP/1.1\r\n", STD), 400, "method must be GET\n");
    s_expect_fail(REQ("HEAD /ws/bob HTTP/1.1\r\n", STD), 400, "method must be GET\n");
    s_expect_fail(REQ("PUT /ws/bob HTTP/1.1\r\n", STD "Content-Length: 0\r\n"), 400, "GET");
}

/* ---- check 4: userId ---- */

Test(handshake, userid_invalid)
{
    s_expect_fail(REQ("GET /ws/ HTTP/1.1\r\n", STD), 400, "invalid userId\n");
    s_expect_fail(REQ("GET /ws/%41 HTTP/1.1\r\n", STD), 400, "invalid userId\n");
    s_expect_fail(REQ("GET /ws/b!b HTTP/1.1\r\n", STD), 400, "invalid userId\n");
    s_expect_fail(REQ("GET /ws/?token=x HTTP/1.1\r\n", STD), 400, "invalid userId\n");
}

/* ---- check 5: Upgrade / Connection ---- */

Test(handshake, upgrade_required)
{
    static const char *const hdrs[] = {
        HOST CONN KEYH VER,                                  /* no Upgrade */
        HOST "Upgrade: h2c\r\n" CONN KEYH VER,
        HOST "Upgrade: websockets\r\n" CONN KEYH VER,
        HOST UPG KEYH VER,                                   /* no Connection */
        HOST UPG "Connection: keep-alive\r\n" KEYH VER,
        HOST UPG "Connection: upgrades\r\n" KEYH VER,
        HOST UPG "Connection: keep-alive upgrade\r\n" KEYH VER,
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "%s%s\r\n", LINE, hdrs[i]);
        out_t o = s_run(req);
        cr_assert_eq(o.r, HS_FAIL, "%zu", i);
        cr_assert_eq(o.status, 426, "%zu", i);
        cr_assert(strstr(o.resp, "\r\nUpgrade: websocket\r\n"), "%s", o.resp);
        cr_assert_null(strstr(o.resp, "Sec-WebSocket-Version"));
    }
    out_t o = s_run(REQ(LINE, HOST CONN KEYH VER));
    cr_assert_str_eq(o.resp, "HTTP/1.1 426 Upgrade Required\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: 27\r\n"
                             "Connection: close\r\n"
                             "Upgrade: websocket\r\n"
                             "\r\n"
                             "WebSocket upgrade required\n");
}

/* ---- check 6: version ---- */

Test(handshake, version_13_required)
{
    static const char *const hdrs[] = {
        HOST UPG CONN KEYH,
        HOST UPG CONN KEYH "Sec-WebSocket-Version: 8\r\n",
        HOST UPG CONN KEYH "Sec-WebSocket-Version: 13, 8\r\n",
        HOST UPG CONN KEYH "Sec-WebSocket-Version: 130\r\n",
        HOST UPG CONN KEYH VER VER,
    };
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "%s%s\r\n", LINE, hdrs[i]);
        out_t o = s_run(req);
        cr_assert_eq(o.r, HS_FAIL, "%zu", i);
        cr_assert_eq(o.status, 426, "%zu", i);
        cr_assert(strstr(o.resp, "\r\nSec-WebSocket-Version: 13\r\n\r\n"), "%s", o.resp);
        cr_assert_null(strstr(o.resp, "Upgrade: websocket"));
    }
}

/* ---- check 7: key ---- */

Test(handshake, key_must_be_16_bytes_once)
{
    static const char *const keys[] = {
        "",                                  /* empty */
        "abc",
        "AAAAAAAAAAAAAAAAAAAA",              /* 15 bytes */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",      /* 20 bytes */
        "AAAAAAAAAAAAAAAAAAAAAAAA",          /* 18 bytes: EVP_DecodeBlock says 18 for ==, too */
        "AAAAAAAAAAAAAAAAAAAAAAA=",          /* 17 bytes */
        "AAAAAAAAAAAAAAAAAAAAAA=",           /* not a multiple of 4 */
        "dGhlIHNhbXBsZSBub25jZQ",            /* padding missing */
        "dGhlIHNhbXBsZSBub25j*Q==",          /* not base64 */
        "dGhlIHNhbXBsZSBub2 5jZQ==",         /* inner space */
        "dGhlIHNhbXBsZSBub25jZQ=A",          /* '=' inside */
        "AAAAAAAAAAAAAAAAAAAAAA==AAAA",      /* '=' inside, 28 chars */
        "========================",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "%sSec-WebSocket-Key: %s\r\n%s\r\n", LINE HOST UPG CONN, keys[i], VER);
        s_expect_fail(req, 400, "invalid Sec-WebSocket-Key\n");
    }
    s_expect_fail(REQ(LINE, HOST UPG CONN VER), 400, "invalid Sec-WebSocket-Key\n");
    s_expect_fail(REQ(LINE, HOST UPG CONN KEYH VER KEYH), 400, "invalid Sec-WebSocket-Key\n");
    /* Another valid key gets its own accept. */
    out_t o = s_run(REQ(LINE, HOST UPG CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" VER));
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_null(strstr(o.resp, ACCEPT));
    cr_assert(strstr(o.resp, "Sec-WebSocket-Accept: ICX+Yqv66kxgM0FcWaLWlFLwTAI=\r\n"), "%s", o.resp);
}

/* ---- check 8: origin ---- */

Test(handshake, origin_allow_list)
{
    static const char *const allow[] = { "https://app.example.com", "http://localhost:8080" };
    static const char *const allow_null[] = { "https://app.example.com", "null" };
    handshake_cfg_t cfg = { .origins = allow, .norigins = 2 };
    handshake_cfg_t cfg_null = { .origins = allow_null, .norigins = 2 };
    handshake_cfg_t cfg_empty = { .origins = NULL };
    const char *ok = REQ(LINE, STD "Origin: https://app.example.com\r\n");
    const char *ok_case = REQ(LINE, STD "Origin: HTTPS://App.Example.COM\r\n");
    const char *evil = REQ(LINE, STD "Origin: https://evil.example\r\n");
    const char *prefix = REQ(LINE, STD "Origin: https://app.example.com.evil.example\r\n");
    const char *none = REQ(LINE, STD);
    const char *null = REQ(LINE, STD "Origin: null\r\n");
    const char *two = REQ(LINE, STD "Origin: https://app.example.com\r\nOrigin: https://evil.example\r\n");

    out_t o = s_run_cfg(ok, strlen(ok), &cfg);
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_str_eq(o.origin, "https://app.example.com");
    cr_assert_eq(s_run_cfg(ok_case, strlen(ok_case), &cfg).r, HS_DONE);
    o = s_run_cfg(none, strlen(none), &cfg);
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_eq(o.has_origin, 0);

    o = s_run_cfg(evil, strlen(evil), &cfg);
    cr_assert_eq(o.status, 403);
    cr_assert(strncmp(o.resp, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
    cr_assert_eq(s_run_cfg(prefix, strlen(prefix), &cfg).status, 403);
    cr_assert_eq(s_run_cfg(null, strlen(null), &cfg).status, 403);
    cr_assert_eq(s_run_cfg(two, strlen(two), &cfg).status, 403);
    cr_assert_eq(s_run_cfg(null, strlen(null), &cfg_null).r, HS_DONE);

    /* No allow-list: every origin passes and is reported. */
    o = s_run_cfg(evil, strlen(evil), NULL);
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_str_eq(o.origin, "https://evil.example");
    cr_assert_eq(s_run_cfg(evil, strlen(evil), &cfg_empty).r, HS_DONE);
}

/* ---- first failure wins ---- */

Test(handshake, checks_run_in_protocol_order)
{
    static const char *const allow[] = { "https://app.example.com" };
    handshake_cfg_t cfg = { .origins = allow, .norigins = 1 };
    const char *bad_origin = "Origin: https://evil.example\r\n";
    struct { const char *line, *hdrs; int status; const char *body; } c[] = {
        /* 2 before 3, 4, 5 ... */
        { "POST /foo HTTP/1.1\r\n", HOST, 404, "not found" },
        /* 3 before 4 */
        { "POST /ws/%41 HTTP/1.1\r\n", HOST, 400, "method must be GET" },
        /* 4 before 5 */
        { "GET /ws/%41 HTTP/1.1\r\n", HOST, 400, "invalid userId" },
        /* 5 before 6 */
        { LINE, HOST "Sec-WebSocket-Version: 8\r\n", 426, "Upgrade: websocket" },
        /* 6 before 7 */
        { LINE, HOST UPG CONN "Sec-WebSocket-Key: x\r\n", 426, "Sec-WebSocket-Version: 13" },
        /* 7 before 8 */
        { LINE, HOST UPG CONN VER "Sec-WebSocket-Key: x\r\n", 400, "invalid Sec-WebSocket-Key" },
        /* 8 last, whatever order the headers came in */
        { LINE, VER KEYH CONN UPG HOST, 403, "origin not allowed" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char req[1024];
        snprintf(req, sizeof req, "%s%s%s\r\n", c[i].line, c[i].hdrs, bad_origin);
        out_t o = s_run_cfg(req, strlen(req), &cfg);
        cr_assert_eq(o.r, HS_FAIL, "case %zu", i);
        cr_assert_eq(o.status, c[i].status, "case %zu: %d", i, o.status);
        cr_assert(strstr(o.resp, c[i].body), "case %zu: %s", i, o.resp);
    }
}

/* ---- subprotocols, extensions ---- */

Test(handshake, subprotocol_selection)
{
    const char *sel = "Sec-WebSocket-Protocol: zwsd.v1\r\n";
    out_t o = s_run(REQ(LINE, STD "Sec-WebSocket-Protocol: chat, zwsd.v1 , superchat\r\n"));
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_str_eq(o.resp, OK_101 "Sec-WebSocket-Protocol: zwsd.v1\r\n\r\n");
    o = s_run(REQ(LINE, STD "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: zwsd.v1\r\n"));
    cr_assert(strstr(o.resp, sel));
    o = s_run(REQ(LINE, STD "Sec-WebSocket-Protocol: zwsd.v1\r\n"));
    cr_assert(strstr(o.resp, sel));

    /* not offered */
    o = s_run(REQ(LINE, STD));
    cr_assert_null(strstr(o.resp, "Sec-WebSocket-Protocol"));
    /* only others offered: still 101, no header */
    static const char *const others[] = { "chat, superchat", "zwsd.v2", "zwsd.v10", "ZWSD.V1", "xzwsd.v1", "" };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char req[512];
        snprintf(req, sizeof req, "%s%sSec-WebSocket-Protocol: %s\r\n\r\n", LINE, STD, others[i]);
        o = s_run(req);
        cr_assert_eq(o.r, HS_DONE, "%s", others[i]);
        cr_assert_str_eq(o.resp, OK_101 "\r\n");
    }
}

Test(handshake, extensions_never_accepted)
{
    out_t o = s_run(REQ(LINE, STD "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_null(strstr(o.resp, "Extensions"));
    cr_assert_str_eq(o.resp, OK_101 "\r\n");
}

/* ---- token ---- */

Test(handshake, token_from_query)
{
    out_t o = s_run(REQ("GET /ws/bob?token=abc.def.ghi HTTP/1.1\r\n", STD));
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_str_eq(o.user, "bob");
    cr_assert_str_eq(o.token, "abc.def.ghi");

    o = s_run(REQ("GET /ws/bob?a=1&token=first&token=second HTTP/1.1\r\n", STD));
    cr_assert_str_eq(o.token, "first");
    o = s_run(REQ("GET /ws/bob?mytoken=no&token=yes&x=1 HTTP/1.1\r\n", STD));
    cr_assert_str_eq(o.token, "yes");
    o = s_run(REQ("GET /ws/bob?token=abc#frag HTTP/1.1\r\n", STD));
    cr_assert_str_eq(o.token, "abc");
    o = s_run(REQ("GET /ws/bob?token=%41 HTTP/1.1\r\n", STD));
    cr_assert_str_eq(o.token, "%41");      /* literal, as the userId */
    o = s_run(REQ("GET /ws/bob?token= HTTP/1.1\r\n", STD));
    cr_assert_eq(o.has_token, 1);
    cr_assert_str_eq(o.token, "");
    o = s_run(REQ("GET /ws/bob?tokens=x&token HTTP/1.1\r\n", STD));
    cr_assert_eq(o.has_token, 0);
    o = s_run(REQ(LINE, STD));
    cr_assert_eq(o.has_token, 0);
}

Test(handshake, bearer_wins_over_query_other_schemes_ignored)
{
    out_t o = s_run(REQ("GET /ws/bob?token=query HTTP/1.1\r\n", STD "Authorization: Bearer header.jwt\r\n"));
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_str_eq(o.token, "header.jwt");
    cr_assert_str_eq(o.user, "bob");

    o = s_run(REQ(LINE, STD "authorization:   bearer   tok  \r\n"));
    cr_assert_str_eq(o.token, "tok");

    o = s_run(REQ("GET /ws/bob?token=query HTTP/1.1\r\n", STD "Authorization: Basic Ym9iOnB3\r\n"));
    cr_assert_str_eq(o.token, "query");
    o = s_run(REQ(LINE, STD "Authorization: Basic Ym9iOnB3\r\n"));
    cr_assert_eq(o.has_token, 0);
    o = s_run(REQ("GET /ws/bob?token=query HTTP/1.1\r\n", STD "Authorization: Bearerx\r\n"));
    cr_assert_str_eq(o.token, "query");
    /* The first Bearer among several Authorization headers. */
    o = s_run(REQ(LINE, STD "Authorization: Basic Ym9iOnB3\r\nAuthorization: Bearer b1\r\n"
                            "Authorization: Bearer b2\r\n"));
    cr_assert_str_eq(o.token, "b1");
    /* An empty Bearer still wins: the caller refuses "" as malformed. */
    o = s_run(REQ("GET /ws/bob?token=query HTTP/1.1\r\n", STD "Authorization: Bearer\r\n"));
    cr_assert_eq(o.has_token, 1);
    cr_assert_str_eq(o.token, "");
}

/* ---- chunking ---- */

/* A request with everything in it, plus 6 bytes of an early masked frame. */
#define FULL_HEAD REQ("GET /ws/alice.w@x-1?x=1&token=qq.tok HTTP/1.1\r\n",                  \
                      HOST UPG "Connection: keep-alive, Upgrade\r\n" KEYH VER                \
                      "Origin: https://app.example.com\r\n"                                  \
                      "Sec-WebSocket-Protocol: chat, zwsd.v1\r\n"                            \
                      "Sec-WebSocket-Extensions: permessage-deflate\r\n"                     \
                      "Authorization: Bearer hh.tok\r\n"                                     \
                      "User-Agent: test\r\n")
#define FRAME "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"

Test(handshake, every_chunking_gives_the_same_result)
{
    static const char *const allow[] = { "https://app.example.com" };
    handshake_cfg_t cfg = { .origins = allow, .norigins = 1 };
    const char *req = FULL_HEAD FRAME;
    size_t head_len = strlen(FULL_HEAD);
    size_t len = head_len + sizeof FRAME - 1;

    out_t ref = s_run_cfg(req, len, &cfg);
    cr_assert_eq(ref.r, HS_DONE, "%d %s", ref.status, ref.resp);
    cr_assert_eq(ref.consumed, head_len);
    cr_assert_str_eq(ref.user, "alice.w@x-1");
    cr_assert_str_eq(ref.token, "hh.tok");
    cr_assert_str_eq(ref.origin, "https://app.example.com");
    cr_assert_str_eq(ref.resp, OK_101 "Sec-WebSocket-Protocol: zwsd.v1\r\n\r\n");

    for (size_t chunk = 1; chunk <= len; chunk++) {
        out_t o = s_run_chunked(req, len, chunk, head_len, &cfg);
        cr_assert_eq(o.r, HS_DONE, "chunk %zu", chunk);
        cr_assert_str_eq(o.resp, ref.resp, "chunk %zu", chunk);
        cr_assert_str_eq(o.user, ref.user, "chunk %zu", chunk);
        cr_assert_str_eq(o.token, ref.token, "chunk %zu", chunk);
        cr_assert_str_eq(o.origin, ref.origin, "chunk %zu", chunk);
    }
    /* Two feeds split at every position, so every boundary falls mid-name,
     * mid-value, between CR and LF. */
    for (size_t cut = 1; cut < len; cut++) {
        handshake_t *hs = handshake_new();
        size_t c1 = 0, c2 = 0;
        hs_result_t r = handshake_feed(hs, req, cut, &c1, &cfg);
        if (cut < head_len) {
            cr_assert_eq(r, HS_MORE, "cut %zu", cut);
            cr_assert_eq(c1, cut);
            r = handshake_feed(hs, req + cut, len - cut, &c2, &cfg);
        }
        cr_assert_eq(r, HS_DONE, "cut %zu", cut);
        cr_assert_eq(c1 + c2, head_len, "cut %zu", cut);
        cr_assert_str_eq(handshake_user(hs), "alice.w@x-1");
        cr_assert_str_eq(handshake_token(hs), "hh.tok");
        handshake_destroy(&hs);
    }
}

Test(handshake, failures_are_the_same_byte_by_byte)
{
    const char *req = REQ("GET /ws/bob HTTP/1.1\r\n", HOST UPG CONN KEYH "Sec-WebSocket-Version: 8\r\n");
    out_t ref = s_run(req);
    cr_assert_eq(ref.status, 426);
    out_t o = s_run_chunked(req, strlen(req), 1, strlen(req), NULL);
    cr_assert_eq(o.r, HS_FAIL);
    cr_assert_str_eq(o.resp, ref.resp);
}

/* ---- repeated calls, lifecycle ---- */

Test(handshake, repeated_feeds_return_the_verdict)
{
    const char *req = REQ(LINE, STD);
    handshake_t *hs = handshake_new();
    size_t consumed = 99;
    cr_assert_eq(handshake_feed(hs, req, 0, &consumed, NULL), HS_MORE);
    cr_assert_eq(consumed, 0);
    cr_assert_eq(handshake_status(hs), 0);
    cr_assert_null(handshake_user(hs));
    char buf[512];
    cr_assert_eq(handshake_response(hs, buf, sizeof buf), 0);
    cr_assert_eq(handshake_feed(hs, req, strlen(req), NULL, NULL), HS_DONE);
    cr_assert_eq(handshake_feed(hs, "\x81\x80", 2, &consumed, NULL), HS_DONE);
    cr_assert_eq(consumed, 0);
    cr_assert_str_eq(handshake_user(hs), "bob");
    /* A buffer one byte short of the response and its NUL. */
    size_t n = handshake_response(hs, buf, sizeof buf);
    cr_assert_eq(n, strlen(OK_101 "\r\n"));
    cr_assert_eq(handshake_response(hs, buf, n), 0);
    cr_assert_eq(handshake_response(hs, buf, n + 1), n);
    handshake_destroy(&hs);

    hs = handshake_new();
    cr_assert_eq(handshake_feed(hs, "\x16\x03\x01", 3, &consumed, NULL), HS_FAIL);
    cr_assert_eq(handshake_feed(hs, req, strlen(req), &consumed, NULL), HS_FAIL);
    cr_assert_eq(consumed, 0);
    cr_assert_eq(handshake_status(hs), 400);
    cr_assert_null(handshake_user(hs));
    cr_assert_null(handshake_token(hs));
    handshake_destroy(&hs);
    handshake_destroy(&hs);
    handshake_destroy(NULL);
}

/* ---- error responses ---- */

Test(handshake, error_response_format)
{
    char buf[512];
    size_t n = handshake_error_response(401, "invalid token\n", "WWW-Authenticate: Bearer\r\n", buf, sizeof buf);
    const char *want = "HTTP/1.1 401 Unauthorized\r\n"
                       "Content-Type: text/plain\r\n"
                       "Content-Length: 14\r\n"
                       "Connection: close\r\n"
                       "WWW-Authenticate: Bearer\r\n"
                       "\r\n"
                       "invalid token\n";
    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, strlen(want));

    n = handshake_error_response(403, "userId does not match token", NULL, buf, sizeof buf);
    cr_assert_str_eq(buf, "HTTP/1.1 403 Forbidden\r\n"
                          "Content-Type: text/plain\r\n"
                          "Content-Length: 28\r\n"
                          "Connection: close\r\n"
                          "\r\n"
                          "userId does not match token\n");
    cr_assert_eq(n, strlen(buf));

    n = handshake_error_response(503, NULL, NULL, buf, sizeof buf);
    cr_assert_str_eq(buf, "HTTP/1.1 503 Service Unavailable\r\n"
                          "Content-Type: text/plain\r\n"
                          "Content-Length: 20\r\n"
                          "Connection: close\r\n"
                          "\r\n"
                          "Service Unavailable\n");

    static const struct { int status; const char *reason; } reasons[] = {
        { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
        { 426, "Upgrade Required" }, { 431, "Request Header Fields Too Large" },
        { 503, "Service Unavailable" },
    };
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char want_line[128];
        snprintf(want_line, sizeof want_line, "HTTP/1.1 %d %s\r\n", reasons[i].status, reasons[i].reason);
        handshake_error_response(reasons[i].status, "x\n", NULL, buf, sizeof buf);
        cr_assert(strncmp(buf, want_line, strlen(want_line)) == 0, "%s", buf);
    }

    /* Too small: 0, never a truncated response. */
    n = handshake_error_response(401, "invalid token\n", "WWW-Authenticate: Bearer\r\n", buf, strlen(want));
    cr_assert_eq(n, 0);
    n = handshake_error_response(401, "invalid token\n", "WWW-Authenticate: Bearer\r\n", buf, strlen(want) + 1);
    cr_assert_eq(n, strlen(want));
    cr_assert_eq(handshake_error_response(400, "x", NULL, NULL, 0), 0);
}

Test(handshake, fail_response_has_content_length_of_body)
{
    out_t o = s_run(REQ("GET /ws/%41 HTTP/1.1\r\n", STD));
    cr_assert_str_eq(o.resp, "HTTP/1.1 400 Bad Request\r\n"
                             "Content-Type: text/plain\r\n"
                             "Content-Length: 15\r\n"
                             "Connection: close\r\n"
                             "\r\n"
                             "invalid userId\n");
}

/* ---- ?since=EPOCH:SEQ (history and recovery) ----------------------------- */

static const char *
s_since_of(const char *line)
{
    static char got[128];
    char req[1024];
    snprintf(req, sizeof req, "%s" STD "\r\n", line);
    handshake_t *hs = handshake_new();
    size_t consumed;
    hs_result_t r = handshake_feed(hs, req, strlen(req), &consumed, NULL);
    const char *s = r == HS_DONE ? handshake_since(hs) : NULL;
    snprintf(got, sizeof got, "%s", r == HS_DONE ? (s ? s : "(none)")
                                                  : r == HS_FAIL ? "(fail)" : "(more)");
    if (r == HS_FAIL) {
        char resp[512];
        handshake_response(hs, resp, sizeof resp);
        cr_expect_eq(handshake_status(hs), 400);
        cr_expect(strstr(resp, "Content-Type: application/json\r\n") != NULL, "%s", resp);
        cr_expect(strstr(resp, "\"malformed since\"") != NULL, "%s", resp);
    }
    handshake_destroy(&hs);
    return got;
}

Test(handshake, since_parameter)
{
    cr_expect_str_eq(s_since_of("GET /ws/bob HTTP/1.1\r\n"), "(none)");
    cr_expect_str_eq(s_since_of("GET /ws/bob?since=Ab3.7:42 HTTP/1.1\r\n"), "Ab3.7:42");
    cr_expect_str_eq(s_since_of("GET /ws/bob?token=t&since=Ab3.7%3A0&x=1 HTTP/1.1\r\n"),
                     "Ab3.7:0");
    cr_expect_str_eq(s_since_of("GET /ws/bob?since=a:b:5 HTTP/1.1\r\n"), "a:b:5",
                     "split at the last ':'");
    cr_expect_str_eq(s_since_of("GET /ws/bob?since=Ab3.7:42 HTTP/1.1\r\n"), "Ab3.7:42");
    const char *bad[] = {
        "GET /ws/bob?since= HTTP/1.1\r\n",
        "GET /ws/bob?since=nocolon HTTP/1.1\r\n",
        "GET /ws/bob?since=:5 HTTP/1.1\r\n",
        "GET /ws/bob?since=e: HTTP/1.1\r\n",
        "GET /ws/bob?since=e:-1 HTTP/1.1\r\n",
        "GET /ws/bob?since=e:18446744073709551616 HTTP/1.1\r\n",
        "GET /ws/bob?since=e%2:5 HTTP/1.1\r\n",
        "GET /ws/bob?since=e%20x:5 HTTP/1.1\r\n",
        "GET /ws/bob?since=0123456789012345678901234567890123:5 HTTP/1.1\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_str_eq(s_since_of(bad[i]), "(fail)", "%s", bad[i]);
    cr_expect_str_eq(s_since_of("GET /ws/bob?since=e:18446744073709551615 HTTP/1.1\r\n"),
                     "e:18446744073709551615");
}

/* Pages (--demo): GET and HEAD of a listed path are HS_PAGE, 200, with the
 * page's head and, for GET only, its body; other methods 405 with Allow;
 * unlisted paths and every /ws/ path are checked as before. */
static const hs_page_t s_pages[] = {
    { "/", "text/html; charset=utf-8", "X-Test: 1\r\n", "<p>hi</p>\n", 10 },
    { "/demo.js", "text/javascript", NULL, "x();", 4 },
};
static const handshake_cfg_t s_page_cfg = { .pages = s_pages, .npages = 2 };

Test(handshake, page_get_and_head)
{
    const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for (size_t chunk = 1; chunk <= strlen(get); chunk++) {
        out_t o = s_run_chunked(get, strlen(get), chunk, strlen(get), &s_page_cfg);
        cr_assert_eq(o.r, HS_PAGE, "chunk %zu: %d %s", chunk, o.status, o.resp);
        cr_assert_eq(o.status, 200);
        cr_assert_eq(o.consumed, 0);
        cr_assert_str_eq(o.resp, "HTTP/1.1 200 OK\r\n"
                                 "Content-Type: text/html; charset=utf-8\r\n"
                                 "Content-Length: 10\r\n"
                                 "Connection: close\r\n"
                                 "X-Test: 1\r\n"
                                 "\r\n");
        cr_assert_eq(o.has_user, 0, "a page has no userId");
    }
    handshake_t *hs = handshake_new();
    size_t n = 99;
    cr_assert_eq(handshake_feed(hs, get, strlen(get), NULL, &s_page_cfg), HS_PAGE);
    cr_assert_eq(handshake_feed(hs, "x", 1, NULL, &s_page_cfg), HS_PAGE, "decided: stays");
    const char *body = handshake_page_body(hs, &n);
    cr_assert_eq(n, 10);
    cr_assert(body && memcmp(body, "<p>hi</p>\n", 10) == 0);
    handshake_destroy(&hs);

    /* HEAD: the same Content-Length, no body; the query is not the path */
    hs = handshake_new();
    const char *head = "HEAD /demo.js?v=2 HTTP/1.1\r\n\r\n";
    cr_assert_eq(handshake_feed(hs, head, strlen(head), NULL, &s_page_cfg), HS_PAGE);
    char resp[512];
    cr_assert_gt(handshake_response(hs, resp, sizeof resp), 0);
    cr_assert(strstr(resp, "Content-Length: 4\r\n"), "%s", resp);
    cr_assert(strstr(resp, "Content-Type: text/javascript\r\n"), "%s", resp);
    n = 99;
    cr_assert_null(handshake_page_body(hs, &n));
    cr_assert_eq(n, 0);
    cr_assert_eq(handshake_response(hs, resp, 20), 0, "too small a buffer");
    handshake_destroy(&hs);
}

Test(handshake, page_other_methods_and_paths)
{
    const char *m405[] = { "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
                           "PUT /demo.js HTTP/1.1\r\n\r\n", "OPTIONS / HTTP/1.1\r\n\r\n",
                           "DELETE / HTTP/1.1\r\n\r\n" };
    for (size_t i = 0; i < sizeof m405 / sizeof *m405; i++) {
        out_t o = s_run_cfg(m405[i], strlen(m405[i]), &s_page_cfg);
        cr_assert_eq(o.r, HS_FAIL, "%s", m405[i]);
        cr_assert_eq(o.status, 405, "%s", m405[i]);
        cr_assert(strstr(o.resp, "HTTP/1.1 405 Method Not Allowed\r\n"), "%s", o.resp);
        cr_assert(strstr(o.resp, "Allow: GET, HEAD\r\n"), "%s", o.resp);
    }
    /* not listed, or not exactly: 404 as without pages */
    const char *nf[] = { "GET /index.html HTTP/1.1\r\n\r\n", "GET /demo.js/ HTTP/1.1\r\n\r\n",
                         "GET /DEMO.JS HTTP/1.1\r\n\r\n", "GET //demo.js HTTP/1.1\r\n\r\n",
                         "GET /demo.j HTTP/1.1\r\n\r\n", "POST /x HTTP/1.1\r\n\r\n" };
    for (size_t i = 0; i < sizeof nf / sizeof *nf; i++)
        cr_assert_eq(s_run_cfg(nf[i], strlen(nf[i]), &s_page_cfg).status, 404, "%s", nf[i]);
    /* without pages, / is 404 whatever the method */
    cr_assert_eq(s_run_cfg("GET / HTTP/1.1\r\n\r\n", 18, NULL).status, 404);
    cr_assert_eq(s_run_cfg("POST / HTTP/1.1\r\n\r\n", 19, NULL).status, 404);
    /* check 1 still comes first */
    cr_assert_eq(s_run_cfg("GET / HTTP/1.0\r\n\r\n", 18, &s_page_cfg).status, 400);
    /* and the upgrade beside the pages is untouched */
    const char *up = REQ(LINE, STD);
    out_t o = s_run_cfg(up, strlen(up), &s_page_cfg);
    cr_assert_eq(o.r, HS_DONE);
    cr_assert_str_eq(o.user, "bob");
    size_t n = 99;
    handshake_t *hs = handshake_new();
    cr_assert_eq(handshake_feed(hs, up, strlen(up), NULL, &s_page_cfg), HS_DONE);
    cr_assert_null(handshake_page_body(hs, &n), "an upgrade has no page body");
    cr_assert_eq(n, 0);
    handshake_destroy(&hs);
}
