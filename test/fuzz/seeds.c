/* seeds — writes the seed corpora of test/fuzz/ (make fuzz-seeds):
 * DIR/<target>/<name> for handshake, wsframe, client_json and envelope.
 * Hand-made valid and edge inputs: real upgrade requests, masked client
 * frames, the frames of zwsd-protocol(7), and envelopes from env_encode().
 * It only writes its own names, so the reproducers kept beside them stay
 * (lenient-final-cr, chunked-431-vs-400, missed-without-recovered...).
 * Run: make fuzz-seeds, or build/fuzz/seeds DIR */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "envelope.h"

static const char *s_dir;
static int s_count;

static void
s_write(const char *target, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", s_dir, target);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", s_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    s_count++;
}

/* ---- stream targets: the split header of fuzz.h ----------------------- */

typedef struct {
    unsigned char b[16384];
    size_t n;
} seed_t;

/* Header: flags (high nibble) and cuts, each an offset into the stream. */
static void
s_head(seed_t *s, unsigned flags, size_t ncuts, const unsigned *cuts)
{
    s->n = 0;
    s->b[s->n++] = (unsigned char)(flags << 4 | ncuts);
    for (size_t i = 0; i < ncuts; i++) {
        s->b[s->n++] = (unsigned char)(cuts[i] >> 8);
        s->b[s->n++] = (unsigned char)cuts[i];
    }
}

static void
s_add(seed_t *s, const void *p, size_t n)
{
    if (s->n + n > sizeof s->b)
        abort();
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void
s_adds(seed_t *s, const char *str)
{
    s_add(s, str, strlen(str));
}

/* ---- handshake -------------------------------------------------------- */

#define KEY  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define UPG  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
#define VER  "Sec-WebSocket-Version: 13\r\n"
#define HOST "Host: localhost:8080\r\n"

static void
s_hs(const char *name, unsigned flags, size_t ncuts, const unsigned *cuts, const char *req)
{
    seed_t s;
    s_head(&s, flags, ncuts, cuts);
    s_adds(&s, req);
    s_write("handshake", name, s.b, s.n);
}

static void
s_handshakes(void)
{
    static const unsigned c3[] = { 1, 21, 60 }, c5[] = { 4, 5, 16, 17, 100 };
    const char *ok = "GET /ws/bob HTTP/1.1\r\n" HOST UPG KEY VER "\r\n";
    s_hs("ok-basic", 0, 0, NULL, ok);
    s_hs("ok-split", 2, 3, c3, ok);
    s_hs("ok-split-crlf", 0, 5, c5, ok);
    s_hs("ok-token-query", 0, 0, NULL,
         "GET /ws/alice?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln&v=1 HTTP/1.1\r\n"
         HOST UPG KEY VER "\r\n");
    s_hs("ok-bearer-origin-protocol", 1, 0, NULL,
         "GET /ws/bob HTTP/1.1\r\n" HOST "upgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
         "sec-websocket-key:   x3JJHMbDL1EzLkh9GBhXDw==  \r\nsec-websocket-version: 13\r\n"
         "Origin: https://EXAMPLE.com\r\nSec-WebSocket-Protocol: chat, zwsd.v1\r\n"
         "Authorization: Bearer tok.en\r\nUser-Agent: seeds\r\n\r\n");
    s_hs("ok-absolute-form", 0, 0, NULL,
         "GET http://localhost:8080/ws/u_1.x@y-z?token= HTTP/1.1\r\n" UPG KEY VER "\r\n");
    s_hs("ok-lf-only", 0, 0, NULL,
         "GET /ws/bob HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n");
    s_hs("ok-repeated-lists", 0, 0, NULL,
         "GET /ws/bob HTTP/1.1\r\nUpgrade: h2c\r\nUpgrade: websocket\r\nConnection: close\r\n"
         "Connection: upgrade\r\n" KEY VER "\r\n");
    {
        seed_t s;                               /* frames the client sent early */
        static const unsigned c[] = { 150 };
        s_head(&s, 0, 1, c);
        s_adds(&s, ok);
        static const unsigned char frame[] = { 0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2,
                                               'l' ^ 3, 'l' ^ 4, 'o' ^ 1 };
        s_add(&s, frame, sizeof frame);
        s_write("handshake", "ok-early-frame", s.b, s.n);
    }
    s_hs("fail-http10", 0, 0, NULL, "GET /ws/bob HTTP/1.0\r\n" UPG KEY VER "\r\n");
    s_hs("fail-post", 0, 0, NULL, "POST /ws/bob HTTP/1.1\r\n" UPG KEY VER "\r\n");
    s_hs("fail-path", 0, 0, NULL, "GET /ws/bob/x HTTP/1.1\r\n" UPG KEY VER "\r\n");
    s_hs("fail-user-escaped", 0, 0, NULL, "GET /ws/b%41b HTTP/1.1\r\n" UPG KEY VER "\r\n");
    s_hs("fail-no-upgrade", 0, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" KEY VER "\r\n");
    s_hs("fail-version", 0, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" UPG KEY
         "Sec-WebSocket-Version: 8\r\n\r\n");
    s_hs("fail-key", 0, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" UPG VER
         "Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n");
    s_hs("fail-two-keys", 0, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" UPG VER KEY KEY "\r\n");
    s_hs("fail-origin", 1, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" UPG KEY VER
         "Origin: https://evil.example\r\n\r\n");
    s_hs("fail-two-origins", 1, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" UPG KEY VER
         "Origin: https://example.com\r\nOrigin: https://example.com\r\n\r\n");
    s_hs("fail-folded", 0, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" UPG KEY
         "Sec-WebSocket-Version: 1\r\n 3\r\n\r\n");
    s_hs("folded-empty-first-line", 0, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" UPG KEY
         "Sec-WebSocket-Version:\r\n 13\r\n\r\n");
    {
        static const unsigned char tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc };
        seed_t s;
        s_head(&s, 0, 0, NULL);
        s_add(&s, tls, sizeof tls);
        s_write("handshake", "fail-tls", s.b, s.n);
    }
    {
        seed_t s;                               /* 431: the head passes 8 KiB */
        static const unsigned c[] = { 4000, 8300 };
        s_head(&s, 0, 2, c);
        s_adds(&s, "GET /ws/bob HTTP/1.1\r\n" UPG KEY VER "X-Pad: ");
        for (int i = 0; i < 8300; i++)
            s_adds(&s, "a");
        s_adds(&s, "\r\n\r\n");
        s_write("handshake", "fail-too-large", s.b, s.n);
    }
    s_hs("more-partial", 0, 0, NULL, "GET /ws/bob HTTP/1.1\r\n" UPG);
    /* flag 1 gives pages (--demo): GET and HEAD of one, 405, a near miss */
    static const unsigned pc[] = { 3, 9 };
    s_hs("page-get", 1, 2, pc, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    s_hs("page-head-query", 1, 0, NULL, "HEAD /demo.js?v=1 HTTP/1.1\r\n\r\n");
    s_hs("page-405", 1, 0, NULL, "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
    s_hs("page-miss", 1, 0, NULL, "GET /demo.js/ HTTP/1.1\r\n\r\n");
}

/* ---- wsframe: masked client frames ------------------------------------ */

static const unsigned char s_mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* A frame: b0, the length in its minimal form unless form is 126/127,
 * masked unless unmasked, then the payload (NULL: n bytes of 'x'). */
static void
s_frame(seed_t *s, unsigned char b0, const void *payload, size_t n, int form, int unmasked)
{
    unsigned char h[14];
    size_t k = 0;
    unsigned char m = unmasked ? 0 : 0x80;
    if (!form)
        form = n < 126 ? 0 : n < 65536 ? 126 : 127;
    h[k++] = b0;
    if (!form) {
        h[k++] = (unsigned char)(m | n);
    } else {
        h[k++] = (unsigned char)(m | form);
        for (int i = form == 126 ? 1 : 7; i >= 0; i--)
            h[k++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    if (!unmasked) {
        memcpy(h + k, s_mask, 4);
        k += 4;
    }
    s_add(s, h, k);
    const unsigned char *pl = payload;
    for (size_t i = 0; i < n && s->n < sizeof s->b; i++) {
        unsigned char b = pl ? pl[i] : 'x';
        s->b[s->n++] = unmasked ? b : b ^ s_mask[i & 3];
    }
}

static void
s_close(seed_t *s, unsigned code, const char *reason, size_t rn)
{
    unsigned char pl[125];
    pl[0] = (unsigned char)(code >> 8);
    pl[1] = (unsigned char)code;
    memcpy(pl + 2, reason, rn);
    s_frame(s, 0x88, pl, 2 + rn, 0, 0);
}

static void
s_wsframes(void)
{
    seed_t s;
    static const unsigned c2[] = { 1, 7 }, c4[] = { 3, 9, 10, 40 }, c1[] = { 2 };

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0x81, "hello", 5, 0, 0);
    s_write("wsframe", "ok-text", s.b, s.n);

    s_head(&s, 3, 4, c4);                      /* flags: wsf_sent() with 3 frames */
    s_frame(&s, 0x01, "frag", 4, 0, 0);
    s_frame(&s, 0x89, "ping", 4, 0, 0);
    s_frame(&s, 0x00, "men", 3, 0, 0);
    s_frame(&s, 0x80, "ted", 3, 0, 0);
    s_write("wsframe", "ok-fragmented-ping", s.b, s.n);

    s_head(&s, 1, 2, c2);
    s_frame(&s, 0x82, NULL, 300, 0, 0);
    s_write("wsframe", "ok-binary-126", s.b, s.n);

    s_head(&s, 2, 1, c1);
    s_frame(&s, 0x82, NULL, 65536, 0, 0);
    s.n = 1 + 2 + 14 + 200;                     /* the header and a little payload */
    s_write("wsframe", "ok-binary-127-partial", s.b, s.n);

    s_head(&s, 0, 2, c2);
    s_frame(&s, 0x81, "hi", 2, 0, 0);
    s_close(&s, 1000, "bye \xc3\xa9", 6);
    s_frame(&s, 0x81, "after", 5, 0, 0);
    s_write("wsframe", "ok-close-1000", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0x88, NULL, 0, 0, 0);
    s_write("wsframe", "ok-close-empty", s.b, s.n);

    s_head(&s, 0, 1, c1);
    s_close(&s, 4999, "\xf0\x9f\x98\x80", 4);
    s_write("wsframe", "ok-close-4999-emoji", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0x88, "\x03", 1, 0, 0);
    s_write("wsframe", "bad-close-1-byte", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_close(&s, 1005, "", 0);
    s_write("wsframe", "bad-close-1005", s.b, s.n);

    s_head(&s, 0, 2, c2);
    s_close(&s, 1001, "\xe2\x82", 2);
    s_write("wsframe", "bad-close-utf8-cut", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_close(&s, 1001, "\xed\xa0\x80", 3);
    s_write("wsframe", "bad-close-surrogate", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0x81, "x", 1, 0, 1);
    s_write("wsframe", "bad-unmasked", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0xc1, "x", 1, 0, 0);
    s_write("wsframe", "bad-rsv1", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0x83, "x", 1, 0, 0);
    s_write("wsframe", "bad-opcode-3", s.b, s.n);

    s_head(&s, 0, 1, c1);
    s_frame(&s, 0x81, NULL, 10, 126, 0);
    s_write("wsframe", "bad-len-not-minimal", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0x09, "p", 1, 0, 0);
    s_write("wsframe", "bad-ping-fin0", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0x80, "c", 1, 0, 0);
    s_write("wsframe", "bad-continuation", s.b, s.n);

    s_head(&s, 0, 0, NULL);
    s_frame(&s, 0x01, "a", 1, 0, 0);
    s_frame(&s, 0x81, "b", 1, 0, 0);
    s_write("wsframe", "bad-text-in-fragment", s.b, s.n);
}

/* ---- client_json ------------------------------------------------------ */

static void
s_json(const char *name, const char *text)
{
    s_write("client_json", name, text, strlen(text));
}

static void
s_client_json(void)
{
    s_json("chat", "{\"receiver\":\"bob\",\"msg\":\"hi bob\",\"id\":\"1\"}");
    s_json("chat-typed", "{\"type\":\"chat\",\"receiver\":\"bob\",\"msg\":{\"progress\":[40,1.5e3,null,true]}}");
    s_json("join", "{\"type\":\"join\",\"group\":\"team-1\",\"id\":\"j\\\"1\"}");
    s_json("leave", "{\"type\":\"leave\",\"group\":\"team-1\"}");
    s_json("group", "{\"type\":\"group\",\"group\":\"team-1\",\"msg\":[1,2,3],\"id\":\"g\\\\\"}");
    s_json("broadcast", "{\"type\":\"broadcast\",\"msg\":\"all\"}");
    s_json("presence", "{\"type\":\"presence\",\"users\":[\"bob\",\"alice\",\"bob\",\"b\\u006fb2\"],\"id\":\"p\"}");
    s_json("escapes", " {\"\\u0074ype\":\"chat\",\"receiver\":\"\\u0062ob\",\"msg\":\"\\ud83d\\ude00\\n\",\"id\":\"\\u0031\"} ");
    s_json("duplicate-keys", "{\"receiver\":\"x\",\"receiver\":\"bob\",\"msg\":1,\"msg\":2}");
    s_json("nul-key", "{\"type\\u0000\":\"x\",\"receiver\":\"bob\",\"msg\":0}");
    s_json("unknown-type", "{\"type\":\"Chat\",\"id\":\"u\"}");
    s_json("bad-id", "{\"type\":\"join\",\"group\":\"g\",\"id\":\"has space\"}");
    s_json("bad-json", "{\"receiver\":\"bob\",\"msg\":01}");
    s_json("bad-utf8", "{\"receiver\":\"bob\",\"msg\":\"\xc0\xaf\"}");
    s_json("lone-surrogate", "{\"receiver\":\"bob\",\"msg\":\"\\ud800\"}");
    s_json("not-object", "[\"receiver\",\"bob\"]");
    s_json("big-number", "{\"receiver\":\"bob\",\"msg\":1e400}");
    s_json("long-name", "{\"receiver\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"msg\":1}");
    {
        char t[4096];
        size_t n = 0;
        n += (size_t)sprintf(t + n, "{\"type\":\"presence\",\"users\":[");
        for (int i = 0; i < 101; i++)
            n += (size_t)sprintf(t + n, "%s\"u%d\"", i ? "," : "", i);
        sprintf(t + n, "]}");
        s_json("presence-101", t);
        n = (size_t)sprintf(t, "{\"receiver\":\"bob\",\"msg\":");
        for (int i = 0; i < 128; i++)
            t[n++] = '[';
        for (int i = 0; i < 128; i++)
            t[n++] = ']';
        sprintf(t + n, "}");
        s_json("depth-128", t);             /* 129 with the object: invalid */
    }
}

/* ---- envelope: env_encode() of each kind ------------------------------ */

static void
s_env(const char *name, const env_t *e)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (env_encode(e, &sb) < 0)
        abort();
    s_write("envelope", name, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void
s_envelopes(void)
{
    static env_t e;
    env_init(&e, ENV_CHAT);
    e.mid = env_cstr("m-0001");
    e.sender = env_cstr("alice");
    e.to = env_cstr("bob");
    e.msg = env_cstr("{\"progress\":40}");
    e.origin = env_cstr("w1.42");
    e.time = 1700000000123;
    e.req = 7;
    s_env("chat", &e);

    env_init(&e, ENV_GROUP);
    e.to = env_cstr("team");
    e.msg = env_cstr("\"hi\"");
    s_env("group", &e);

    env_init(&e, ENV_BCAST);
    e.msg = env_cstr("[]");
    e.sender = env_cstr("system");
    s_env("broadcast", &e);

    env_init(&e, ENV_KICK);
    e.to = env_cstr("bob");
    e.session = env_cstr("s-123");
    e.time = -1;
    s_env("kick", &e);

    env_init(&e, ENV_PROBE);
    e.origin = env_cstr("w0");
    e.req = UINT64_C(9223372036854775807);
    s_env("probe", &e);

    env_init(&e, ENV_RCPT);
    e.mid = env_cstr("m");
    e.status = env_cstr("delivered");
    e.req = 1;
    s_env("receipt", &e);

    env_init(&e, ENV_PRESENCE);
    e.users_n = ENV_USERS_MAX;
    for (uint32_t i = 0; i < e.users_n; i++)
        e.users[i] = env_cstr(i % 2 ? "bob" : "alice");
    s_env("presence-query", &e);

    env_init(&e, ENV_PRESENCE);
    e.online_n = 3;
    e.online[0] = 1;
    e.online[2] = 1;
    e.req = 3;
    s_env("presence-reply", &e);

    env_init(&e, ENV_STATS);
    e.nusers = 10;
    e.nsessions = 0;
    e.origin = env_cstr("w3");
    s_env("stats", &e);

    env_init(&e, ENV_ONLINE);
    e.nusers = INT64_MAX;
    e.nsessions = 1;
    s_env("online", &e);

    env_init(&e, ENV_CHAT);
    e.msg = env_cstr("");
    e.to = env_cstr("");
    s_env("chat-empty-strings", &e);

    /* hand-made: key order, unknown key, str8 for a short string, the lie
     * env_check() exists for, nesting, trailing byte */
    static const unsigned char reorder[] = {
        0x83, 0xa4, 'k', 'i', 'n', 'd', 0xd9, 0x04, 'c', 'h', 'a', 't',
        0xa1, 'x', 0x92, 0xc0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xa1, 'v', 0x01 };
    s_write("envelope", "reordered-unknown-key", reorder, sizeof reorder);
    static const unsigned char lie[] = { 0x82, 0xa4, 'k', 'i', 'n', 'd', 0xa4, 'c', 'h', 'a', 't',
                                         0xa5, 'u', 's', 'e', 'r', 's', 0xdd, 0xff, 0xff, 0xff, 0xff };
    s_write("envelope", "bad-array-count-lie", lie, sizeof lie);
    unsigned char deep[64];
    size_t n = 0;
    deep[n++] = 0x82;
    memcpy(deep + n, "\xa4kind\xa5group\xa1x", 13);
    n += 13;
    for (int i = 0; i < 40; i++)
        deep[n++] = 0x91;
    deep[n++] = 0xc0;
    s_write("envelope", "deep-nesting", deep, n);
    static const unsigned char retry[] = {      /* a chat sent again (ENVELOPE.md) */
        0x84, 0xa4, 'k', 'i', 'n', 'd', 0xa4, 'c', 'h', 'a', 't', 0xa3, 'r', 'e', 'q', 0x05,
        0xa3, 'm', 'i', 'd', 0xa1, 'm', 0xa5, 'r', 'e', 't', 'r', 'y', 0xc3 };
    s_write("envelope", "chat-retry", retry, sizeof retry);
    static const unsigned char trailing[] = { 0x81, 0xa4, 'k', 'i', 'n', 'd', 0xa4, 'k', 'i', 'c', 'k', 0x00 };
    s_write("envelope", "bad-trailing-byte", trailing, sizeof trailing);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seeds DIR\n");
        return 2;
    }
    s_dir = argv[1];
    if (mkdir(s_dir, 0755) < 0 && errno != EEXIST) {
        perror(s_dir);
        return 1;
    }
    s_handshakes();
    s_wsframes();
    s_client_json();
    s_envelopes();
    printf("seeds: %d files in %s\n", s_count, s_dir);
    return 0;
}
