/* test_demo — the demo page's table (daemon/demo.c): every page has a path,
 * a type, the security headers and its embedded bytes, and the handshake
 * serves each of them through it. The bytes themselves are compared with
 * demo/ by test/e2e/test_50_demo.py. Run: make build/test/test_demo &&
 * build/test/test_demo */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

Test(demo, table)
{
    size_t n = 0;
    const hs_page_t *p = demo_pages(&n);
    cr_assert_eq(n, 4);
    cr_assert_eq(demo_pages(&n), p, "one table for the process");
    const char *want[] = { "/", "/demo.css", "/demo.js", "/favicon.svg" };
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(p[i].path, want[i]);
        cr_assert(p[i].type && *p[i].type, "%s", p[i].path);
        cr_assert(p[i].body && p[i].len > 100, "%s: %zu bytes", p[i].path, p[i].len);
        cr_assert(strstr(p[i].headers, "Cache-Control: no-cache\r\n"));
        cr_assert(strstr(p[i].headers, "X-Content-Type-Options: nosniff\r\n"));
        cr_assert(strstr(p[i].headers, "Content-Security-Policy: default-src 'self'; "
                                       "connect-src 'self' ws: wss:"));
    }
    cr_assert(memcmp(p[0].body, "<!doctype html>", 15) == 0);
}

Test(demo, served_by_the_handshake)
{
    size_t n = 0;
    handshake_cfg_t cfg = { .pages = demo_pages(&n) };
    cfg.npages = n;
    for (size_t i = 0; i < n; i++) {
        char req[128], resp[1024];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", cfg.pages[i].path);
        handshake_t *hs = handshake_new();
        cr_assert_eq(handshake_feed(hs, req, strlen(req), NULL, &cfg), HS_PAGE, "%s", req);
        size_t rn = handshake_response(hs, resp, sizeof resp), bn = 0;
        cr_assert_gt(rn, 0);
        cr_assert_lt(rn, 512, "the head fits conn.c's buffer with room to spare");
        cr_assert_eq(handshake_page_body(hs, &bn), cfg.pages[i].body);
        cr_assert_eq(bn, cfg.pages[i].len);
        handshake_destroy(&hs);
    }
}
