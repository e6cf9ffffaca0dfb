/* fuzz_handshake — daemon/handshake.c through its public API (handshake.h).
 *
 * Input: the fz_splits() header (fuzz.h), then the bytes a client sends.
 * Flags: bit 0 configures an Origin allow-list and two pages (--demo's
 * "/" and "/demo.js"), bit 1 adds a run fed one
 * byte at a time. The stream is parsed fed whole, split at the chosen
 * points, and (bit 1) byte by byte; every run must reach the same verdict,
 * status, head length, userId, token, origin and response. Each feed obeys
 * the contract on *consumed, a decided handshake stays decided, the
 * response fits exactly the size it reports, and what HS_DONE returns is
 * what the request carried.
 * Run: make fuzz FUZZ_TARGETS=handshake, or build/fuzz/fuzz_handshake DIR */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "handshake.h"
#include "valid.h"

static const char *const s_origins[] = { "https://example.com", "http://localhost:8080" };
static const hs_page_t s_pages[] = {
    { "/", "text/html", "X-A: 1\r\n", "<p>page</p>\n", 12 },
    { "/demo.js", "text/javascript", NULL, "x();", 4 },
};
static const handshake_cfg_t s_cfg = { .origins = s_origins, .norigins = 2,
                                       .pages = s_pages, .npages = 2 };

/* What one run ended with; strings are copies (the parser is gone). */
typedef struct {
    hs_result_t r;
    int status;
    size_t head;            /* DONE: the head's length in the stream */
    char *user, *token, *origin;
    char *resp;
    size_t resp_len;
} run_t;

static char *
s_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int
s_streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* s occurs in p[0..n). */
static int
s_inside(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return k == 0 || memmem(p, n, s, k) != NULL;
}

/* A value as returned: OWS trimmed, within one line. */
static int
s_clean(const char *s)
{
    size_t n = strlen(s);
    return !strpbrk(s, "\r\n")
           && (n == 0 || (s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t'));
}

/* Nothing of an upgrade is returned. */
static int
s_upgrade_none(const run_t *out)
{
    return !out->user && !out->token && !out->origin;
}

/* The response into a heap buffer of exactly the size needed, so ASan
 * catches a write past it; one byte less must be refused. */
static void
s_response(const handshake_t *hs, run_t *out)
{
    char probe[4096];
    size_t n = handshake_response(hs, probe, sizeof probe);
    FZ_CHECK(n > 0 && n < sizeof probe && strlen(probe) == n);
    char *exact = malloc(n + 1);
    FZ_CHECK(exact != NULL);
    FZ_CHECK(handshake_response(hs, exact, n + 1) == n);
    FZ_CHECK(memcmp(exact, probe, n + 1) == 0);
    FZ_CHECK(handshake_response(hs, exact, n) == 0);
    memcpy(exact, probe, n + 1);
    out->resp = exact;
    out->resp_len = n;
    char line[32];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", out->status);
    FZ_CHECK(strncmp(exact, line, strlen(line)) == 0);
    FZ_CHECK(n >= 4 && (strstr(exact, "\r\n\r\n") != NULL));
}

/* handshake_error_response() with a body from the request: Content-Length
 * must count what follows the head exactly. */
static void
s_error_response(const char *body)
{
    char buf[HANDSHAKE_HEAD_MAX + 512];
    size_t n = handshake_error_response(401, body, "WWW-Authenticate: Bearer\r\n", buf, sizeof buf);
    FZ_CHECK(n > 0 && strlen(buf) == n);
    const char *end = strstr(buf, "\r\n\r\n");
    const char *cl = strstr(buf, "Content-Length: ");
    FZ_CHECK(end && cl && cl < end);
    FZ_CHECK(strtoul(cl + 16, NULL, 10) == n - (size_t)(end + 4 - buf));
}

/* Feeds p[0..len) cut at cuts[] (plus a final empty feed) and records the
 * outcome. step 1: one byte per feed instead. */
static void
s_run(const uint8_t *p, size_t len, const size_t *cuts, size_t ncuts, int step,
      const handshake_cfg_t *cfg, run_t *out)
{
    handshake_t *hs = handshake_new();
    FZ_CHECK(hs != NULL);
    hs_result_t r = HS_MORE;
    size_t at = 0, head = 0;
    size_t nfeeds = step ? len + 1 : ncuts + 2;     /* the last one is empty */
    for (size_t f = 0; f < nfeeds; f++) {
        size_t end = step ? (f < len ? f + 1 : len) : f < ncuts ? cuts[f] : len;
        size_t n = end - at, used = (size_t)-1;
        hs_result_t was = r;
        r = handshake_feed(hs, (const char *)p + at, n, &used, cfg);
        if (was != HS_MORE) {                   /* decided: stays, takes nothing */
            FZ_CHECK(r == was && used == 0);
        } else if (r == HS_MORE) {
            FZ_CHECK(used == n);
        } else if (r == HS_DONE) {
            FZ_CHECK(used > 0 && used <= n);
            head = at + used;
        } else {
            FZ_CHECK((r == HS_FAIL || r == HS_PAGE) && used == 0 && n > 0);
        }
        at = end;
    }
    if (r != HS_MORE)
        FZ_CHECK(handshake_feed(hs, "x", 1, NULL, cfg) == r);

    out->r = r;
    out->status = handshake_status(hs);
    out->head = head;
    out->user = s_dup(handshake_user(hs));
    out->token = s_dup(handshake_token(hs));
    out->origin = s_dup(handshake_origin(hs));
    switch (r) {
    case HS_MORE:
        FZ_CHECK(out->status == 0 && !out->user && !out->token && !out->origin);
        char b[256];
        FZ_CHECK(handshake_response(hs, b, sizeof b) == 0);
        break;
    case HS_FAIL:
        FZ_CHECK(out->status == 400 || out->status == 403 || out->status == 404
                 || out->status == 426 || out->status == 431 || out->status == 503
                 || (cfg && cfg->pages && out->status == 405));
        FZ_CHECK(!out->user && !out->token && !out->origin);
        s_response(hs, out);
        break;
    case HS_PAGE: {
        /* only with pages, for a path the request names; the body is the
         * page's for GET, none for HEAD, and Content-Length is the page's */
        FZ_CHECK(cfg && cfg->pages && out->status == 200 && s_upgrade_none(out));
        s_response(hs, out);
        size_t bn = 99;
        const void *body = handshake_page_body(hs, &bn);
        int found = 0;
        for (size_t i = 0; i < cfg->npages; i++) {
            char cl[48];
            snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", cfg->pages[i].len);
            if (s_inside(p, len, cfg->pages[i].path) && strstr(out->resp, cl)
                && (body == NULL ? bn == 0 : body == cfg->pages[i].body && bn == cfg->pages[i].len))
                found = 1;
        }
        FZ_CHECK(found);
        break;
    }
    case HS_DONE:
        FZ_CHECK(out->status == 101);
        /* The head ends with its empty line. Known and reported: http_parser
         * (not built strict) takes any byte after the last CR for the LF, so
         * "...\r\n\r\x81" is a head and the frame's first byte is lost
         * (corpus: lenient-final-cr). */
        FZ_CHECK(head > 0 && head <= HANDSHAKE_HEAD_MAX
                 && (p[head - 1] == '\n' || (head >= 2 && p[head - 2] == '\r')));
        FZ_CHECK(out->user && valid_name(out->user, strlen(out->user)));
        char path[VALID_NAME_MAX + 8];
        snprintf(path, sizeof path, "/ws/%s", out->user);
        FZ_CHECK(s_inside(p, head, path));
        FZ_CHECK(!out->token || (s_inside(p, head, out->token) && s_clean(out->token)));
        FZ_CHECK(!out->origin || (s_inside(p, head, out->origin) && s_clean(out->origin)));
        if (cfg && out->origin) {
            int ok = 0;
            for (size_t i = 0; i < cfg->norigins; i++)
                ok |= strcasecmp(out->origin, cfg->origins[i]) == 0;
            FZ_CHECK(ok);
        }
        s_response(hs, out);
        const char *acc = strstr(out->resp, "\r\nSec-WebSocket-Accept: ");
        FZ_CHECK(acc && strspn(acc + 24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789+/") == 27
                 && strncmp(acc + 51, "=\r\n", 3) == 0);      /* base64 of 20 bytes */
        s_error_response(out->token ? out->token : out->user);
        break;
    }
    handshake_destroy(&hs);
    FZ_CHECK(hs == NULL);
}

/* Known and reported (corpus: chunked-431-vs-400): past HH_FIELDS_MAX
 * wanted headers handshake.c stops the parser with 431 at the first piece
 * of the next wanted value, but http_parser hands a value over only at its
 * end or at the end of a read, so a bad byte later in that value gives 400
 * when it came in the same read, 431 when the read ended before it. Both
 * refuse; only the status depends on how the bytes were cut. */
static int
s_known_status_split(const run_t *a, const run_t *b)
{
    return a->r == HS_FAIL && b->r == HS_FAIL && a->status != b->status
           && (a->status == 400 || a->status == 431) && (b->status == 400 || b->status == 431);
}

static void
s_same(const run_t *a, const run_t *b)
{
    if (s_known_status_split(a, b))
        return;
    FZ_CHECK(a->r == b->r && a->status == b->status && a->head == b->head);
    FZ_CHECK(s_streq(a->user, b->user) && s_streq(a->token, b->token)
             && s_streq(a->origin, b->origin));
    FZ_CHECK(a->resp_len == b->resp_len && s_streq(a->resp, b->resp));
}

static void
s_free(run_t *r)
{
    free(r->user);
    free(r->token);
    free(r->origin);
    free(r->resp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len, cuts[FZ_CUTS_MAX], ncuts;
    unsigned flags;
    const uint8_t *p = fz_splits(data, size, &len, cuts, &ncuts, &flags);
    if (!p)
        return 0;
    const handshake_cfg_t *cfg = flags & 1 ? &s_cfg : NULL;
    run_t whole = { 0 }, split = { 0 }, bytes = { 0 };
    s_run(p, len, NULL, 0, 0, cfg, &whole);
    s_run(p, len, cuts, ncuts, 0, cfg, &split);
    s_same(&whole, &split);
    if (flags & 2) {
        s_run(p, len, NULL, 0, 1, cfg, &bytes);
        s_same(&whole, &bytes);
        s_free(&bytes);
    }
    s_free(&whole);
    s_free(&split);
    return 0;
}
