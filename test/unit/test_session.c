/* test_session — the session and membership logic of a worker
 * (daemon/session.c, daemon/member.c) over real sockets: each client is one
 * end of a socketpair whose other end a real conns_t serves, upgraded with a
 * real HTTP request; the bus is a real ZeroMQ bus with no broker behind it
 * (publishing goes nowhere), so route liveness is driven by handing the
 * routes the return of their own probe, one event at a time.
 * Run: make build/test/test_session && build/test/test_session */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus.h"
#include "conn.h"
#include "member.h"
#include "metrics.h"
#include "options.h"
#include "route.h"
#include "session.h"

static int64_t     now = 1000000;
static options_t   opt;
static idgen_t     ids = { "00000000000000aa", 0 };
static int         epfd;
static conns_t    *cs;
static bus_t      *bus;
static routes_t   *routes;
static members_t  *members;
static sessions_t *ss;
static push_t      push;
static pending_t  *pq;
#define NOSINCE ((cj_str_t){ NULL, 0 })

static int
s_upgrade(void *arg, conn_t *c, conn_upgrade_t *u)
{
    (void)arg;
    return session_attach(ss, c, u->user, NULL);
}

static void
s_text(void *arg, conn_t *c, const char *t, size_t n)
{
    (void)arg; (void)c; (void)t; (void)n;
}

static void
s_reject(void *arg, conn_t *c, const char *t, size_t n, int refused)
{
    (void)arg; (void)c; (void)t; (void)n; (void)refused;
}

static void
s_closed(void *arg, conn_t *c)
{
    (void)arg;
    session_detach(ss, c);
}

static void
s_noop(void *arg, int shard, const char *topic, size_t tlen, const env_t *e)
{
    (void)arg; (void)shard; (void)topic; (void)tlen; (void)e;
}

static void
s_init(void)
{
    memset(&opt, 0, sizeof opt);
    opt.max_message = 65536;
    opt.max_outbound = 1 << 20;
    opt.max_groups = 4;
    epfd = epoll_create1(0);
    conn_events_t ev = { s_upgrade, s_text, s_reject, s_closed, NULL, NULL };
    static shard_spec_t spec;
    char text[160], why[128];
    snprintf(text, sizeof text, "ipc:///tmp/zwsd-test-session-%d-pub,ipc:///tmp/zwsd-test-session-%d-sub",
             getpid(), getpid());
    cr_assert_eq(shard_parse(text, 1, &spec, why, sizeof why), 0, "%s", why);
    bus_cfg_t bc = { &spec, ids.origin, &now, 1000, s_noop, NULL, NULL };
    cr_assert_not_null(cs = conns_new(epfd, 0, 1024, &opt, &now, &ev));
    cr_assert_not_null(bus = bus_new(&bc));
    cr_assert_not_null(pq = pending_new());
    push = (push_t){ bus, pq, &ids, &now };
    cr_assert_not_null(routes = routes_new(bus, &now));
    cr_assert_not_null(members = members_new(routes, cs, &push, &now));
    cr_assert_not_null(ss = sessions_new(cs, routes, members, bus, &push, &ids, &opt));
}

static void
s_fini(void)
{
    conns_destroy(&cs);
    sessions_destroy(&ss);
    members_destroy(&members);
    routes_destroy(&routes);
    bus_destroy(&bus);
    pending_destroy(&pq);
    close(epfd);
}

TestSuite(session, .init = s_init, .fini = s_fini);

/* One loop turn, as worker.c runs it after the events. */
static void
s_turn(void)
{
    members_tick(members);
    conns_timers(cs);
    conns_settle(cs);
    conns_flush(cs);
    conns_reap(cs);
}

/* A client: the returned fd is ours; the peer is served by cs. */
static int
s_client(const char *user, conn_t **cp)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    conn_t *c = conn_accept(cs, sv[1]);
    cr_assert_not_null(c);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws/%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n", user);
    cr_assert_eq(write(sv[0], req, (size_t)n), n);
    conn_on_ready(cs, c, EPOLLIN);
    s_turn();
    cr_assert_eq(c->state, CONN_PENDING);
    cr_assert_not_null(c->sess);
    *cp = c;
    return sv[0];
}

/* Everything the server wrote so far to fd, as text (frames included). */
static size_t
s_read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return got;
}

/* Count occurrences of s in the n bytes of buf (frames hold binary headers). */
static int
s_count(const char *buf, size_t n, const char *s)
{
    int k = 0;
    size_t sl = strlen(s);
    for (size_t i = 0; i + sl <= n; i++)
        if (!memcmp(buf + i, s, sl))
            k++;
    return k;
}

/* The route's own probe comes back through the "broker". */
static void
s_route_live(topic_kind_t kind, const char *name)
{
    route_t *r = route_get(routes, kind, name, strlen(name));
    cr_assert_not_null(r);
    route_t *live = route_probe_back(routes, r->probe_min, r->topic, r->tlen);
    cr_assert_eq(live, r);
    if (kind == TOPIC_USER)
        session_route_live(ss, r);
    else
        member_route_live(members, r);
    s_turn();
}

Test(session, welcome_only_once_the_route_is_live)
{
    conn_t *c;
    char buf[4096];
    int fd = s_client("bob", &c);
    size_t n = s_read_all(fd, buf, sizeof buf);
    cr_expect_eq(s_count(buf, n, "101 Switching"), 1);
    cr_expect_eq(s_count(buf, n, "welcome"), 0, "no welcome before the route is live");
    s_route_live(TOPIC_USER, "bob");
    cr_expect_eq(c->state, CONN_OPEN);
    n = s_read_all(fd, buf, sizeof buf);
    cr_expect_eq(s_count(buf, n, "\"type\":\"welcome\",\"user\":\"bob\""), 1, "%s", buf);
    cr_expect_eq(sessions_count(ss), 1);
    close(fd);
}

Test(session, a_stale_probe_does_not_make_a_route_live)
{
    conn_t *c;
    int fd = s_client("bob", &c);
    route_t *r = route_get(routes, TOPIC_USER, "bob", 3);
    cr_expect_null(route_probe_back(routes, r->probe_min - 1, r->topic, r->tlen),
                   "a probe older than the subscription proves nothing");
    cr_expect_eq(c->state, CONN_PENDING);
    close(fd);
}

Test(session, newer_login_kicks_the_older_at_the_safe_point)
{
    conn_t *a, *b;
    char buf[4096];
    int fa = s_client("bob", &a);
    s_route_live(TOPIC_USER, "bob");
    route_t *r = route_get(routes, TOPIC_USER, "bob", 3);
    int fb = s_client("bob", &b);
    /* the kick closed a: its close frame 4001 (0x0fa1) went out */
    size_t n = s_read_all(fa, buf, sizeof buf);
    cr_expect(s_count(buf, n, "\x0f\xa1session replaced") == 1, "no 4001 close");
    cr_expect_eq(a->state, CONN_CLOSING);
    cr_expect_null(a->sess, "detached at the settle point");
    cr_expect_eq(r->nmembers, 1);
    /* the route was live, but the link to the broker is not up (no broker
     * here): b waits while the route proves itself again */
    cr_expect_eq(b->state, CONN_PENDING);
    cr_expect(!r->live);
    s_route_live(TOPIC_USER, "bob");
    cr_expect_eq(b->state, CONN_OPEN);
    close(fa);
    close(fb);
}

Test(session, detach_releases_the_routes)
{
    conn_t *c;
    int fd = s_client("bob", &c);
    s_route_live(TOPIC_USER, "bob");
    session_t *s = c->sess;
    member_join(members, &s->groups, c, (cj_str_t){ "g1", 2 }, (cj_str_t){ "j", 1 }, NOSINCE, 4, 1);
    cr_expect_eq(routes_users(routes), 1);
    cr_expect_not_null(route_get(routes, TOPIC_GROUP, "g1", 2));
    conn_close(cs, c, 1000, "bye");
    cr_expect_not_null(c->sess, "nothing detached inside conn_close");
    s_turn();
    cr_expect_null(c->sess);
    cr_expect_eq(routes_users(routes), 0);
    cr_expect_null(route_get(routes, TOPIC_USER, "bob", 3));
    cr_expect_null(route_get(routes, TOPIC_GROUP, "g1", 2));
    cr_expect_eq(sessions_count(ss), 0);
    close(fd);
}

static conn_t *
s_open_client(const char *user, int *fd)
{
    conn_t *c;
    *fd = s_client(user, &c);
    s_route_live(TOPIC_USER, user);
    char buf[4096];
    s_read_all(*fd, buf, sizeof buf);      /* 101 and welcome */
    return c;
}

Test(session, joins_and_leaves_answered_in_order)
{
    int fd;
    conn_t *c = s_open_client("alice", &fd);
    memberset_t *set = &c->sess->groups;
    cj_str_t g = { "room", 4 };
    member_join(members, set, c, g, (cj_str_t){ "a", 1 }, NOSINCE, 4, 1);
    member_join(members, set, c, g, (cj_str_t){ "b", 1 }, NOSINCE, 4, 1);
    member_leave(members, set, c, g, (cj_str_t){ "c", 1 });
    cr_expect(!member_of(set, g), "a waiting leave: no member for group frames");
    member_join(members, set, c, g, (cj_str_t){ "d", 1 }, NOSINCE, 4, 1);
    s_turn();
    char buf[4096];
    cr_expect_eq(s_read_all(fd, buf, sizeof buf), 0, "nothing before the route is live");
    s_route_live(TOPIC_GROUP, "room");
    size_t n = s_read_all(fd, buf, sizeof buf);
    const char *a = strstr(buf, "\"id\":\"a\",\"status\":\"joined\"");
    const char *b = strstr(buf, "\"id\":\"b\",\"status\":\"joined\"");
    const char *cc = strstr(buf, "\"id\":\"c\",\"status\":\"left\"");
    const char *d = strstr(buf, "\"id\":\"d\",\"status\":\"joined\"");
    cr_assert(a && b && cc && d, "four answers: %.*s", (int)n, buf);
    cr_expect(a < b && b < cc && cc < d, "in order");
    cr_expect(member_of(set, g));
    close(fd);
}

Test(session, join_then_leave_ends_the_membership)
{
    int fd;
    conn_t *c = s_open_client("alice", &fd);
    memberset_t *set = &c->sess->groups;
    cj_str_t g = { "room", 4 };
    member_join(members, set, c, g, (cj_str_t){ "a", 1 }, NOSINCE, 4, 1);
    member_leave(members, set, c, g, (cj_str_t){ "b", 1 });
    s_route_live(TOPIC_GROUP, "room");
    char buf[4096];
    size_t n = s_read_all(fd, buf, sizeof buf);
    cr_expect_eq(s_count(buf, n, "joined"), 1);
    cr_expect_eq(s_count(buf, n, "left"), 1);
    cr_expect_eq(set->n, 0);
    cr_expect_null(route_get(routes, TOPIC_GROUP, "room", 4), "the route went with it");
    close(fd);
}

Test(session, join_times_out_unavailable_and_is_undone)
{
    int fd;
    conn_t *c = s_open_client("alice", &fd);
    memberset_t *set = &c->sess->groups;
    member_join(members, set, c, (cj_str_t){ "room", 4 }, (cj_str_t){ "a", 1 }, NOSINCE, 4, 1);
    now += JOIN_MS - 1;
    s_turn();
    char buf[4096];
    cr_expect_eq(s_read_all(fd, buf, sizeof buf), 0, "not yet");
    now += 1;
    s_turn();
    size_t n = s_read_all(fd, buf, sizeof buf);
    cr_expect_eq(s_count(buf, n, "\"code\":\"unavailable\""), 1, "%s", buf);
    cr_expect_eq(s_count(buf, n, "\"id\":\"a\""), 1);
    cr_expect_eq(set->n, 0);
    cr_expect_null(route_get(routes, TOPIC_GROUP, "room", 4));
    close(fd);
}

Test(session, join_over_the_limit_is_too_many)
{
    int fd;
    conn_t *c = s_open_client("alice", &fd);
    memberset_t *set = &c->sess->groups;
    char name[8];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "g%d", i);
        member_join(members, set, c, (cj_str_t){ name, strlen(name) }, (cj_str_t){ name, 2 }, NOSINCE, 4, 1);
    }
    s_turn();
    char buf[4096];
    size_t n = s_read_all(fd, buf, sizeof buf);
    cr_expect_eq(s_count(buf, n, "\"code\":\"too_many\""), 1);
    cr_expect_eq(s_count(buf, n, "\"id\":\"g4\""), 1);
    cr_expect_eq(set->n, 4);
    close(fd);
}
