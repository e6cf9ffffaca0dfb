/* test_api_http — the HTTP side of the API (daemon/api.c) on real loopback
 * sockets, with a hand-run loop turn and the owner's callbacks
 * (api_events_t) answered here, as worker.c would. Pipelined requests are fed in
 * every chunking down to one byte and must give byte-identical answers;
 * completions arrive out of band (api_push_done() etc.), stale ones are
 * ignored; limits, keys, lingering close.
 *
 * Nothing here waits for a fixed time: a reader runs loop turns until the
 * responses it expects are complete (Content-Length framed) or the server
 * closed, with S_SAFETY_MS as a net for a broken server only, so the tests
 * hold under sanitizers and on a loaded machine.
 * Run: make build/test/test_api_http && build/test/test_api_http */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "clock.h"

#define S_SAFETY_MS 10000       /* only a broken server is this slow */

/* ---- the owner's callbacks ------------------------------------------ */

static int s_up = 1;
static int s_pushes, s_queries;
static int s_last_fd;
static uint32_t s_last_gen;
static env_kind_t s_last_kind;
static char s_last_target[80], s_last_sender[80], s_last_msg[512];

static int
s_push(void *arg, env_kind_t kind, const char *target, const char *sender,
            const char *msg, size_t msg_len, char *mid, int fd, uint32_t gen)
{
    (void)arg;
    if (!s_up)
        return -1;
    snprintf(mid, 40, "m-%d", ++s_pushes);
    s_last_kind = kind;
    snprintf(s_last_target, sizeof s_last_target, "%s", target ? target : "");
    snprintf(s_last_sender, sizeof s_last_sender, "%s", sender ? sender : "(null)");
    snprintf(s_last_msg, sizeof s_last_msg, "%.*s", (int)msg_len, msg);
    s_last_fd = fd;
    s_last_gen = gen;
    return 0;
}

static int
s_query(void *arg, env_kind_t kind, const char *const *users, size_t n, int fd, uint32_t gen)
{
    (void)arg; (void)kind; (void)users; (void)n;
    if (!s_up)
        return -1;
    s_queries++;
    s_last_fd = fd;
    s_last_gen = gen;
    return 0;
}

static int
s_bus_up(void *arg)
{
    (void)arg;
    return s_up;
}

/* ---- a loop with only the API ---------------------------------------- */

#define TAG_APICONN (5ULL << 40)

static struct {
    api_t    *api;
    int       epfd;
    int       api_fd;           /* the listener */
    int64_t   now;
    options_t opt;
} W;

static void
s_setup_with(const char *key_file)
{
    memset(&W, 0, sizeof W);
    s_up = 1;
    s_pushes = s_queries = 0;
    W.opt.max_message = 4096;
    snprintf(W.opt.api_key_file, sizeof W.opt.api_key_file, "%s", key_file ? key_file : "");
    W.api_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert(bind(W.api_fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(listen(W.api_fd, 16) == 0);
    W.epfd = epoll_create1(EPOLL_CLOEXEC);
    W.now = clock_now_ms();
    cr_assert(W.epfd >= 0);
    api_cfg_t cfg = { W.epfd, TAG_APICONN, 4096, &W.opt, &W.now,
                      { .push = s_push, .query = s_query, .bus_up = s_bus_up } };
    W.api = api_new(&cfg);
}

static void
s_setup(void)
{
    s_setup_with(NULL);
    cr_assert_not_null(W.api);
}

static void
s_teardown(void)
{
    api_destroy(&W.api);
    cr_assert_null(W.api);
    close(W.api_fd);
    close(W.epfd);
}

/* One loop turn as worker.c runs it, for the API only. */
static void
s_turn(void)
{
    struct epoll_event ev[16];
    W.now = clock_now_ms();
    int n = epoll_wait(W.epfd, ev, 16, 0);
    for (int i = 0; i < n; i++)
        if ((ev[i].data.u64 & (0xffULL << 40)) == TAG_APICONN)
            api_on_ready(W.api, (int)(ev[i].data.u64 & 0xffffffffu), ev[i].events);
    api_timers(W.api);
    api_flush(W.api);
    api_reap(W.api);
}

/* A client connected and accepted. */
static int
s_client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    cr_assert(getsockname(W.api_fd, (struct sockaddr *)&a, &len) == 0);
    cr_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    int one = 1;            /* each chunk its own segment, at once */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int before = api_count(W.api);
    int64_t deadline = clock_now_ms() + S_SAFETY_MS;
    while (api_count(W.api) == before && clock_now_ms() < deadline) {
        /* what the worker does for the API listener */
        struct pollfd p = { W.api_fd, POLLIN, 0 };
        poll(&p, 1, 100);
        int cfd = accept4(W.api_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd >= 0)
            api_take(W.api, cfd);
    }
    cr_assert_eq(api_count(W.api), before + 1);
    return fd;
}

/* Sends data in pieces of k bytes, a loop turn after each. */
static void
s_send_chunked(int fd, const char *data, size_t len, size_t k)
{
    for (size_t off = 0; off < len; off += k) {
        size_t n = len - off < k ? len - off : k;
        cr_assert_eq(send(fd, data + off, n, 0), (ssize_t)n);
        s_turn();
    }
    s_turn();
}

/* How many complete final responses the first len bytes of buf hold: a
 * head, then as many body bytes as its Content-Length says (none without
 * one). Interim 1xx responses (100 Continue) are skipped, not counted. */
static int
s_complete(const char *buf, size_t len)
{
    int n = 0;
    size_t pos = 0;
    for (;;) {
        const char *end = memmem(buf + pos, len - pos, "\r\n\r\n", 4);
        if (!end)
            return n;
        const char *h = buf + pos;
        size_t body = (size_t)(end - buf) + 4, clen = 0;
        int interim = end - h > 9 && h[9] == '1';
        for (const char *l = h; l < end;) {
            const char *eol = memmem(l, (size_t)(end - l) + 2, "\r\n", 2);
            if (eol - l > 15 && strncasecmp(l, "Content-Length:", 15) == 0)
                clen = strtoul(l + 15, NULL, 10);   /* stops at the CR */
            l = eol + 2;
        }
        if (len - body < clen)
            return n;
        pos = body + clen;
        if (!interim)
            n++;
    }
}

/* Reads, running loop turns meanwhile, until nresp complete responses have
 * arrived (and, with until_eof, until the server closed), or the server
 * closed, or S_SAFETY_MS passed. buf is NUL-terminated; returns the bytes
 * read, *eof tells whether the server closed. */
static size_t
s_recv(int fd, char *buf, size_t cap, int nresp, int until_eof, int *eof)
{
    size_t len = 0;
    int64_t deadline = clock_now_ms() + S_SAFETY_MS;
    *eof = 0;
    while (!*eof && len < cap - 1 && clock_now_ms() < deadline) {
        if (!until_eof && s_complete(buf, len) >= nresp)
            break;
        s_turn();
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 1) <= 0)
            continue;                   /* 1 ms between turns, not a verdict */
        ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            *eof = 1;
        else if (n > 0)
            len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

/* The server has sent nothing so far. It writes within s_turn() and
 * loopback TCP queues the bytes at the peer before send() returns, so a
 * few turns are enough and nothing is waited for; an answer sent too early
 * would also break the exact comparison of the stream that follows. */
static void
s_assert_silent(int fd, const char *what)
{
    for (int i = 0; i < 4; i++)
        s_turn();
    char ch;
    ssize_t n = recv(fd, &ch, 1, MSG_DONTWAIT | MSG_PEEK);
    cr_assert(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK), "%s (recv %zd)", what, n);
}

/* Whatever the server has sent by now, without waiting. */
static void
s_drain(int fd)
{
    char buf[65536];
    s_turn();
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

/* Runs loop turns until every API connection is freed (or S_SAFETY_MS),
 * giving whatever still waits its completion each turn when complete. */
static void
s_await_freed(int complete)
{
    int64_t deadline = clock_now_ms() + S_SAFETY_MS;
    while (api_count(W.api) > 0 && clock_now_ms() < deadline) {
        if (complete) {
            api_push_done(W.api, s_last_fd, s_last_gen, "m-y", "offline");
            api_online_done(W.api, s_last_fd, s_last_gen, -1, -1);
            api_presence_done(W.api, s_last_fd, s_last_gen, NULL);
        }
        s_turn();
        if (api_count(W.api) > 0)
            poll(NULL, 0, 1);           /* pacing only */
    }
}

#define GROUP_BODY  "{\"group\":\"g\",\"msg\":{\"a\": [1, 2]}}"
#define CHUNKED     "POST /api/v1/send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" \
                    "5\r\n{\"gro\r\n1c\r\nup\":\"g\",\"msg\":{\"a\": [1, 2]}}\r\n0\r\n\r\n"
#define PIPELINE                                                                    \
    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"                                      \
    "POST /api/v1/send HTTP/1.1\r\nHost: x\r\nContent-Length: 33\r\n\r\n" GROUP_BODY \
    "GET /nope?x=1 HTTP/1.1\r\n\r\n"                                                \
    CHUNKED                                                                         \
    "PUT /api/v1/send HTTP/1.1\r\nContent-Length: 0\r\n\r\n"                        \
    "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"

/* One expected response, Content-Length computed. */
static char *
s_resp(char *out, const char *status, const char *ctype, const char *extra, const char *body)
{
    sprintf(out + strlen(out), "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n%s",
            status, ctype, strlen(body), extra, body);
    return out;
}

static char *
s_json(char *out, const char *status, const char *body)
{
    return s_resp(out, status, "application/json", "", body);
}

static char *
s_ok(char *out)
{
    return s_resp(out, "200 OK", "text/plain", "", "ok");
}

TestSuite(api, .init = s_setup, .fini = s_teardown);

Test(api, pipeline_in_every_chunking)
{
    static const char req[] = PIPELINE;
    char want[4096] = "";
    s_ok(want);
    s_json(want, "200 OK", "{\"mid\":\"m-1\",\"status\":\"sent\"}");
    s_json(want, "404 Not Found", "{\"error\":\"not_found\",\"reason\":\"no such path\"}");
    s_json(want, "200 OK", "{\"mid\":\"m-2\",\"status\":\"sent\"}");
    s_resp(want, "405 Method Not Allowed", "application/json", "Allow: POST\r\n",
           "{\"error\":\"method_not_allowed\",\"reason\":\"method not allowed on this path\"}");
    s_resp(want, "200 OK", "text/plain", "Connection: close\r\n", "ok");
    char got[8192];
    for (size_t k = 1; k <= sizeof req - 1; k++) {
        s_pushes = 0;
        int fd = s_client();
        s_send_chunked(fd, req, sizeof req - 1, k);
        int eof;
        size_t n = s_recv(fd, got, sizeof got, 6, 1, &eof);
        cr_assert_str_eq(got, want, "chunks of %zu bytes:\n%s", k, got);
        cr_assert_eq(n, strlen(want));
        cr_assert(eof, "chunks of %zu: not closed after Connection: close", k);
        cr_assert_eq(s_pushes, 2);
        cr_assert_str_eq(s_last_msg, "{\"a\": [1, 2]}", "msg forwarded as written");
        close(fd);
        s_await_freed(0);
        cr_assert_eq(api_count(W.api), 0, "chunks of %zu: connection not freed", k);
    }
}

Test(api, push_waits_for_its_outcome_and_keeps_order)
{
    static const char req[] =
        "POST /api/v1/send HTTP/1.1\r\nContent-Length: 43\r\n\r\n"
        "{\"receiver\":\"bob\",\"msg\":1,\"sender\":\"svc-1\"}"
        "GET /healthz HTTP/1.1\r\n\r\n";
    char got[4096];
    int eof;
    int fd = s_client();
    s_send_chunked(fd, req, sizeof req - 1, sizeof req);
    cr_assert_eq(s_pushes, 1);
    cr_assert_eq(s_last_kind, ENV_CHAT);
    cr_assert_str_eq(s_last_target, "bob");
    cr_assert_str_eq(s_last_sender, "svc-1");
    s_assert_silent(fd, "answered before the outcome");
    /* a completion for another generation of the same fd is ignored */
    api_push_done(W.api, s_last_fd, s_last_gen + 1, "m-1", "delivered");
    api_online_done(W.api, s_last_fd, s_last_gen, 1, 1);   /* not what it waits for */
    s_assert_silent(fd, "answered by a stale completion");
    api_push_done(W.api, s_last_fd, s_last_gen, "m-1", "delivered");
    s_recv(fd, got, sizeof got, 2, 0, &eof);
    char want[1024] = "";
    s_json(want, "200 OK", "{\"mid\":\"m-1\",\"status\":\"delivered\"}");
    cr_assert_str_eq(got, s_ok(want));
    cr_assert(!eof);
    /* offline, and unavailable (503) */
    static const char again[] =
        "POST /api/v1/send HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"receiver\":\"bob\",\"msg\":2}";
    s_send_chunked(fd, again, sizeof again - 1, sizeof again);
    api_push_done(W.api, s_last_fd, s_last_gen, "m-2", "offline");
    s_recv(fd, got, sizeof got, 1, 0, &eof);
    cr_assert(strstr(got, "{\"mid\":\"m-2\",\"status\":\"offline\"}"), "%s", got);
    s_send_chunked(fd, again, sizeof again - 1, sizeof again);
    api_push_done(W.api, s_last_fd, s_last_gen, "m-3", "unavailable");
    s_recv(fd, got, sizeof got, 1, 0, &eof);
    cr_assert(strncmp(got, "HTTP/1.1 503 ", 13) == 0 && strstr(got, "\"unavailable\""), "%s", got);
    close(fd);
}

Test(api, queries_complete_later)
{
    static const char req[] = "GET /api/v1/online HTTP/1.1\r\n\r\n"
                              "GET /api/v1/presence?users=a,b%40c,a HTTP/1.1\r\n\r\n";
    char got[4096];
    int eof;
    int fd = s_client();
    s_send_chunked(fd, req, sizeof req - 1, 7);
    cr_assert_eq(s_queries, 1, "the presence query must wait behind online");
    api_online_done(W.api, s_last_fd, s_last_gen, 3, 5);
    s_recv(fd, got, sizeof got, 1, 0, &eof);
    cr_assert_eq(s_queries, 2);
    env_t e;
    env_init(&e, ENV_PRESENCE);
    e.users_n = e.online_n = 2;
    e.users[0] = env_cstr("a");
    e.users[1] = env_cstr("b@c");
    e.online[0] = 0;                /* env_init() leaves the arrays unset */
    e.online[1] = 1;
    api_presence_done(W.api, s_last_fd, s_last_gen, &e);
    size_t n = strlen(got);
    s_recv(fd, got + n, sizeof got - n, 1, 0, &eof);
    char want[1024] = "";
    s_json(want, "200 OK", "{\"users\":3,\"sessions\":5}");
    cr_assert_str_eq(got, s_json(want, "200 OK", "{\"online\":{\"a\":false,\"b@c\":true}}"));
    /* no answer in time: 503 */
    static const char on[] = "GET /api/v1/online HTTP/1.1\r\n\r\n";
    s_send_chunked(fd, on, sizeof on - 1, sizeof on);
    api_online_done(W.api, s_last_fd, s_last_gen, -1, -1);
    s_recv(fd, got, sizeof got, 1, 0, &eof);
    cr_assert(strncmp(got, "HTTP/1.1 503 ", 13) == 0, "%s", got);
    close(fd);
}

Test(api, broker_down)
{
    static const char req[] =
        "GET /healthz HTTP/1.1\r\n\r\n"
        "POST /api/v1/send HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"broadcast\":true,\"msg\":0}"
        "GET /api/v1/online HTTP/1.1\r\n\r\n";
    char got[4096];
    int eof;
    s_up = 0;
    int fd = s_client();
    s_send_chunked(fd, req, sizeof req - 1, sizeof req);
    s_recv(fd, got, sizeof got, 3, 0, &eof);
    const char *p = got;
    for (int i = 0; i < 3; i++) {
        cr_assert(strncmp(p, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0, "response %d: %s",
                  i, p);
        p = strstr(p + 1, "HTTP/1.1 ");
        cr_assert(i == 2 || p, "only %d responses: %s", i + 1, got);
    }
    cr_assert(strstr(got, "\r\n\r\nunavailable"), "%s", got);
    close(fd);
}

Test(api, body_over_the_limit_413_then_close)
{
    char req[8192];
    char got[4096];
    int eof;
    int n = snprintf(req, sizeof req, "POST /api/v1/send HTTP/1.1\r\nContent-Length: 4097\r\n\r\n");
    memset(req + n, ' ', 4097);
    int fd = s_client();
    s_send_chunked(fd, req, (size_t)n + 4097, 1500);
    s_recv(fd, got, sizeof got, 1, 1, &eof);
    cr_assert(strncmp(got, "HTTP/1.1 413 Content Too Large\r\n", 32) == 0, "%s", got);
    cr_assert(strstr(got, "Connection: close\r\n"));
    cr_assert(eof, "not closed after 413");
    cr_assert_eq(s_pushes, 0);
    close(fd);
    /* exactly the limit is read */
    n = snprintf(req, sizeof req, "POST /api/v1/send HTTP/1.1\r\nContent-Length: 4096\r\n\r\n"
                 "{\"group\":\"g\",\"msg\":1}");
    memset(req + n, ' ', 4096 - 21);
    fd = s_client();
    s_send_chunked(fd, req, (size_t)n + 4096 - 21, 1000);
    s_recv(fd, got, sizeof got, 1, 0, &eof);
    cr_assert(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", got);
    close(fd);
}

Test(api, head_limit_431)
{
    char req[9000];
    char got[4096];
    int eof;
    int n = snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nX: ");
    memset(req + n, 'a', 8200);
    memcpy(req + n + 8200, "\r\n\r\n", 4);
    int fd = s_client();
    s_send_chunked(fd, req, (size_t)n + 8204, 3000);
    s_recv(fd, got, sizeof got, 1, 1, &eof);
    cr_assert(strncmp(got, "HTTP/1.1 431 ", 13) == 0, "%s", got);
    cr_assert(eof);
    close(fd);
}

Test(api, malformed_400_then_close)
{
    static const char *bad[] = {
        "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        "GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET /healthz HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
        "GET http://[::1 HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char got[4096];
        int eof;
        int fd = s_client();
        s_send_chunked(fd, bad[i], strlen(bad[i]), 4);
        s_recv(fd, got, sizeof got, 1, 1, &eof);
        cr_assert(strncmp(got, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "case %zu: %s", i, got);
        cr_assert(strstr(got, "{\"error\":\"bad_request\""), "case %zu: %s", i, got);
        cr_assert(eof, "case %zu: not closed", i);
        close(fd);
    }
}

Test(api, half_close_still_answered)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\n\r\n";
    char got[1024];
    int eof;
    int fd = s_client();
    cr_assert_eq(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    shutdown(fd, SHUT_WR);
    s_recv(fd, got, sizeof got, 1, 1, &eof);
    char want[256] = "";
    cr_assert_str_eq(got, s_ok(want));
    cr_assert(eof);
    close(fd);
    s_await_freed(0);
    cr_assert_eq(api_count(W.api), 0);
}

/* ---- the key ---------------------------------------------------------- */

static char s_keyfile[64];

static void
s_setup_key(void)
{
    snprintf(s_keyfile, sizeof s_keyfile, "/tmp/zwsd-test-key.XXXXXX");
    int fd = mkstemp(s_keyfile);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "k3y-42\r\n", 8), 8);
    close(fd);
    s_setup_with(s_keyfile);
    cr_assert_not_null(W.api);
}

static void
s_teardown_key(void)
{
    unlink(s_keyfile);
    s_teardown();
}

Test(api_key, bearer_required_before_routing, .init = s_setup_key, .fini = s_teardown_key)
{
    static const struct { const char *auth; int ok; } cases[] = {
        { "", 0 }, { "Authorization: Bearer k3y-42\r\n", 1 },
        { "Authorization: bearer    k3y-42  \r\n", 1 }, { "Authorization: Bearer k3y-4\r\n", 0 },
        { "Authorization: Bearer k3y-421\r\n", 0 }, { "Authorization: Bearer k3y-43\r\n", 0 },
        { "Authorization: Basic k3y-42\r\n", 0 }, { "Authorization: Bearerk3y-42\r\n", 0 },
        { "Authorization: Bearer k3y-42\r\nAuthorization: Bearer k3y-42\r\n", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        for (int nope = 0; nope < 2; nope++) {
            char req[512], got[2048];
            int eof;
            int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n%s\r\n",
                             nope ? "/nope" : "/healthz", cases[i].auth);
            int fd = s_client();
            s_send_chunked(fd, req, (size_t)n, (size_t)n);
            s_recv(fd, got, sizeof got, 1, 0, &eof);
            if (cases[i].ok) {
                cr_assert(strncmp(got, nope ? "HTTP/1.1 404 " : "HTTP/1.1 200 ", 13) == 0,
                          "case %zu: %s", i, got);
            } else {
                cr_assert(strncmp(got, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0, "case %zu: %s",
                          i, got);
                cr_assert(strstr(got, "\r\nWWW-Authenticate: Bearer\r\n"), "case %zu: %s", i, got);
                cr_assert(strstr(got, "{\"error\":\"unauthorized\""), "case %zu: %s", i, got);
            }
            close(fd);
        }
    }
}

/* Without the key, a request with a body is refused as soon as its head is
 * read: no 100 Continue, the body is not read (no push), the connection is
 * closed. With the key, 100 Continue comes first. A bodiless request
 * without the key keeps its connection. */
Test(api_key, refused_before_the_body, .init = s_setup_key, .fini = s_teardown_key)
{
    static const char *heads[] = {
        "POST /api/v1/send HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 21\r\n\r\n",
        "POST /api/v1/send HTTP/1.1\r\nAuthorization: Bearer nope\r\n"
        "Expect: 100-continue\r\nContent-Length: 21\r\n\r\n",
        "POST /api/v1/send HTTP/1.1\r\nContent-Length: 21\r\n\r\n{\"group\":\"g\",\"msg\":1}",
        "POST /api/v1/send HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "15\r\n{\"group\":\"g\",\"msg\":1}\r\n0\r\n\r\n",
        "POST /nope HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 21\r\n\r\n",
    };
    char got[2048];
    int eof;
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        for (size_t k = 1; k <= strlen(heads[i]); k += strlen(heads[i]) - 1) {
            int fd = s_client();
            s_send_chunked(fd, heads[i], strlen(heads[i]), k);
            s_recv(fd, got, sizeof got, 1, 1, &eof);
            cr_assert(strncmp(got, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0, "case %zu: %s", i,
                      got);
            cr_assert(strstr(got, "\r\nWWW-Authenticate: Bearer\r\n"), "case %zu: %s", i, got);
            cr_assert(strstr(got, "\r\nConnection: close\r\n"), "case %zu: %s", i, got);
            cr_assert(!strstr(got, "100 Continue"), "case %zu: %s", i, got);
            cr_assert(eof, "case %zu: not closed", i);
            cr_assert_eq(s_pushes, 0, "case %zu: the body was read", i);
            close(fd);
        }
    }
    /* the right key: 100 Continue, then the body is read */
    static const char ok[] = "POST /api/v1/send HTTP/1.1\r\nAuthorization: Bearer k3y-42\r\n"
                             "Expect: 100-continue\r\nContent-Length: 21\r\n\r\n";
    int fd = s_client();
    s_send_chunked(fd, ok, sizeof ok - 1, sizeof ok);
    size_t n = 0;
    int64_t deadline = clock_now_ms() + S_SAFETY_MS;
    got[0] = '\0';
    while (!strstr(got, "\r\n\r\n") && clock_now_ms() < deadline) {
        s_turn();
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t r = poll(&p, 1, 1) > 0 ? recv(fd, got + n, sizeof got - 1 - n, MSG_DONTWAIT) : -1;
        cr_assert_neq(r, 0, "closed before 100 Continue");
        n += r > 0 ? (size_t)r : 0;
        got[n] = '\0';
    }
    cr_assert_str_eq(got, "HTTP/1.1 100 Continue\r\n\r\n");
    s_send_chunked(fd, "{\"group\":\"g\",\"msg\":1}", 21, 21);
    s_recv(fd, got, sizeof got, 1, 0, &eof);
    cr_assert(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", got);
    cr_assert_eq(s_pushes, 1);
    close(fd);
    /* no body, no key: 401 on a connection that stays open */
    static const char two[] = "GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n";
    fd = s_client();
    s_send_chunked(fd, two, sizeof two - 1, sizeof two);
    s_recv(fd, got, sizeof got, 2, 0, &eof);
    cr_assert(!eof && !strstr(got, "Connection: close"), "%s", got);
    cr_assert(strncmp(got, "HTTP/1.1 401 ", 13) == 0 && strstr(got + 13, "HTTP/1.1 401 "), "%s",
              got);
    close(fd);
}

Test(api_key, unreadable_key_file_is_fatal)
{
    s_setup_with("/nonexistent/zwsd.key");
    cr_assert_null(W.api);
    s_teardown();
}

/* ---- hostile input ---------------------------------------------------- */

/* Random mixes of request pieces and random bytes, in random chunks, with
 * completions arriving at random: nothing may crash or leak (run it under
 * `make test-asan`), and every connection ends freed. */
Test(api, random_input_survives)
{
    static const char *pieces[] = {
        "GET /healthz HTTP/1.1\r\n\r\n", "POST /api/v1/send HTTP/1.1\r\n",
        "Content-Length: 26\r\n\r\n{\"receiver\":\"bob\",\"msg\":1}", "Transfer-Encoding: chunked\r\n\r\n",
        "1a\r\n{\"receiver\":\"bob\",\"msg\":1}\r\n0\r\n\r\n", "GET /api/v1/online HTTP/1.1\r\n\r\n",
        "GET /api/v1/presence?users=a,b HTTP/1.1\r\n\r\n", "Expect: 100-continue\r\n",
        "Connection: close\r\n", "Authorization: Bearer x\r\n", "\r\n", "HTTP/1.0\r\n",
        "GET /metrics HTTP/1.1\r\n\r\n", "X: a\r\n b\r\n",
    };
    unsigned seed = 12345;
    char buf[16384];
    for (int iter = 0; iter < 300; iter++) {
        int fd = s_client();
        size_t len = 0;
        int parts = 1 + rand_r(&seed) % 12;
        for (int i = 0; i < parts && len < sizeof buf - 512; i++) {
            if (rand_r(&seed) % 4 == 0) {
                size_t n = (size_t)(rand_r(&seed) % 64);
                for (size_t k = 0; k < n; k++)
                    buf[len++] = (char)rand_r(&seed);
            } else {
                const char *p = pieces[rand_r(&seed) % (sizeof pieces / sizeof *pieces)];
                memcpy(buf + len, p, strlen(p));
                len += strlen(p);
            }
        }
        for (size_t off = 0; off < len;) {
            size_t k = 1 + (size_t)(rand_r(&seed) % 40);
            if (k > len - off)
                k = len - off;
            if (send(fd, buf + off, k, MSG_NOSIGNAL) < 0)
                break;
            off += k;
            s_turn();
            switch (rand_r(&seed) % 4) {       /* completions for whatever waits */
            case 0: api_push_done(W.api, s_last_fd, s_last_gen, "m-x", "delivered"); break;
            case 1: api_online_done(W.api, s_last_fd, s_last_gen, 1, 2); break;
            case 2: api_presence_done(W.api, s_last_fd, s_last_gen, NULL); break;
            default: break;
            }
        }
        s_drain(fd);
        close(fd);
        /* whatever still waits gets its completion; then the conn must go */
        s_await_freed(1);
        cr_assert_eq(api_count(W.api), 0, "iteration %d: connection not freed", iter);
    }
}

/* SIGTERM or rotation: an idle keep-alive connection is closed at once, a
 * busy one gets its answer with Connection: close, then is closed. */
Test(api, stop_closes_idle_now_and_busy_after_the_answer)
{
    static const char push[] =
        "POST /api/v1/send HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"receiver\":\"bob\",\"msg\":1}";
    static const char hz[] = "GET /healthz HTTP/1.1\r\n\r\n";
    char got[2048];
    int eof;
    int idle = s_client();
    s_send_chunked(idle, hz, sizeof hz - 1, sizeof hz);
    s_recv(idle, got, sizeof got, 1, 0, &eof);
    cr_assert(!eof && strstr(got, "\r\n\r\nok"), "%s", got);
    int busy = s_client();
    s_send_chunked(busy, push, sizeof push - 1, sizeof push);
    api_wind_down(W.api);
    s_recv(idle, got, sizeof got, 0, 1, &eof);
    cr_assert(eof, "idle keep-alive connection not closed at stop");
    api_push_done(W.api, s_last_fd, s_last_gen, "m-1", "delivered");
    s_recv(busy, got, sizeof got, 1, 1, &eof);
    cr_assert(strstr(got, "Connection: close\r\n") && strstr(got, "\"delivered\""), "%s", got);
    cr_assert(eof, "busy connection not closed after its answer");
    close(idle);
    close(busy);
    s_await_freed(0);
    cr_assert_eq(api_count(W.api), 0);
}
