/* test_io — the I/O layer (daemon/io.c) one step at a time, on real fds
 * in a real epoll set: registration and generations, timer FIFOs, the
 * dirty/later lists, and reaping at the safe point. */
#include <criterion/criterion.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"

static io_set_t S;
static int64_t now;
static int epfd;
static const int64_t timeouts[2] = { 100, 1000 };

static void
s_setup(void)
{
    now = 1000;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    cr_assert(epfd >= 0);
    cr_assert_eq(io_init(&S, epfd, 7ULL << 40, 1024, &now, timeouts, 2), 0);
}

/* Items live on each test's stack: every test reaps its own. */
static void
s_teardown(void)
{
    io_fini(&S);
    close(epfd);
}

static int
s_fd(void)
{
    int sv[2];
    cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    close(sv[1]);
    return sv[0];
}

TestSuite(io, .init = s_setup, .fini = s_teardown);

Test(io, add_lookup_and_generations)
{
    io_item_t a = { 0 };
    int fd = s_fd();
    cr_assert_eq(io_add(&S, &a, fd, EPOLLIN), 0);
    cr_assert_eq(S.count, 1);
    cr_assert_eq(io_get(&S, fd), &a);
    cr_assert_eq(io_lookup(&S, fd, a.gen), &a);
    cr_assert_null(io_lookup(&S, fd, a.gen + 1), "a reused fd's old generation finds nothing");
    cr_assert_null(io_get(&S, -1));
    cr_assert_null(io_get(&S, 1024));
    io_kill(&S, &a);
    cr_assert_null(io_lookup(&S, fd, a.gen), "a dead item is not live");
    cr_assert_eq(io_get(&S, fd), &a, "still in the table until reaped");
    cr_assert_eq(io_next_dead(&S), &a);
    cr_assert_null(io_get(&S, fd));
    cr_assert_eq(S.count, 0);
    cr_assert_null(io_next_dead(&S), "handed back once");
}

Test(io, refuses_fd_outside_the_table)
{
    io_item_t a = { 0 };
    cr_assert_eq(io_add(&S, &a, 1024, EPOLLIN), -1);
    cr_assert_eq(io_add(&S, &a, -1, EPOLLIN), -1);
    cr_assert_eq(S.count, 0);
}

Test(io, timers_expire_in_order_and_once)
{
    io_item_t a = { 0 }, b = { 0 };
    cr_assert_eq(io_add(&S, &a, s_fd(), EPOLLIN), 0);
    cr_assert_eq(io_add(&S, &b, s_fd(), EPOLLIN), 0);
    io_set_timer(&S, &a, 0);
    now += 10;
    io_set_timer(&S, &b, 0);
    cr_assert_null(io_expired(&S, 0));
    now = 1000 + 100;
    cr_assert_eq(io_expired(&S, 0), &a);
    cr_assert_eq(a.tl, IO_TL_NONE, "taken off its list");
    cr_assert_null(io_expired(&S, 0), "b has 10 ms to go");
    now += 10;
    cr_assert_eq(io_expired(&S, 0), &b);
    io_set_timer(&S, &a, 1);
    io_set_timer(&S, &a, 0);                /* moves it, restarts it */
    cr_assert_eq(a.tl, 0);
    now += 99;
    cr_assert_null(io_expired(&S, 0));
    cr_assert_null(io_expired(&S, 1));
    io_kill(&S, &a);
    now += 10000;
    cr_assert_null(io_expired(&S, 0), "a killed item leaves its timer list");
    io_kill(&S, &b);
    cr_assert_eq(io_next_dead(&S), &a);
    cr_assert_eq(io_next_dead(&S), &b);
}

Test(io, dirty_once_later_and_kill)
{
    io_item_t a = { 0 }, b = { 0 };
    cr_assert_eq(io_add(&S, &a, s_fd(), EPOLLIN), 0);
    cr_assert_eq(io_add(&S, &b, s_fd(), EPOLLIN), 0);
    io_mark_dirty(&S, &a);
    io_mark_dirty(&S, &a);
    io_mark_dirty(&S, &b);
    cr_assert_eq(io_next_dirty(&S), &a);
    io_mark_dirty(&S, &a);                  /* while serviced: not queued again */
    io_later(&S, &a);
    cr_assert_eq(io_next_dirty(&S), &b);
    io_clean(&b);
    cr_assert_null(io_next_dirty(&S), "a waits for the next flush");
    io_flush_end(&S);
    cr_assert_eq(io_next_dirty(&S), &a);
    io_clean(&a);
    io_mark_dirty(&S, &a);
    io_kill(&S, &a);
    cr_assert_null(io_next_dirty(&S), "a killed item leaves the dirty list");
    io_mark_dirty(&S, &a);
    cr_assert_null(io_next_dirty(&S), "and is never marked again");
    cr_assert_eq(io_next_dead(&S), &a);
    io_kill(&S, &b);
    io_kill(&S, &b);
    cr_assert_eq(io_next_dead(&S), &b);
    cr_assert_null(io_next_dead(&S), "killed twice, reaped once");
}
