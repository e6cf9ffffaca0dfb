/* test_subtable — broker/subtable.c: per-user subscriber counts from raw XPUB
 * subscription messages (only valid user topics count, never below zero),
 * lookups by name, and worker session stats that expire after 3 s.
 * Run: make build/test/test_subtable && build/test/test_subtable */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "subtable.h"

static subtable_t *t;

static void
s_init(void)
{
    t = subtable_new();
    cr_assert_not_null(t);
}

static void
s_fini(void)
{
    subtable_destroy(&t);
    cr_expect_null(t);
}

TestSuite(subtable, .init = s_init, .fini = s_fini);

/* Apply one XPUB message: byte 1/0, then the topic (len bytes, may hold NUL). */
static void
s_apply_n(int sub, const char *topic, size_t len)
{
    unsigned char msg[256];
    cr_assert_lt(len, sizeof msg);
    msg[0] = (unsigned char)sub;
    memcpy(msg + 1, topic, len);
    subtable_apply(t, msg, len + 1);
}

static void
s_sub(const char *topic)
{
    s_apply_n(1, topic, strlen(topic));
}

static void
s_unsub(const char *topic)
{
    s_apply_n(0, topic, strlen(topic));
}

static int
s_count(const char *name)
{
    return subtable_user_count(t, name, strlen(name));
}

Test(subtable, subscribe_unsubscribe_counts)
{
    cr_expect_eq(s_count("bob"), 0);
    cr_expect_eq(subtable_users(t), 0);
    s_sub("u:bob|");
    cr_expect_eq(s_count("bob"), 1);
    cr_expect_eq(subtable_users(t), 1);
    s_sub("u:bob|");
    s_sub("u:bob|");
    cr_expect_eq(s_count("bob"), 3);
    cr_expect_eq(subtable_users(t), 1, "one user, three subscribers");
    s_unsub("u:bob|");
    cr_expect_eq(s_count("bob"), 2);
    s_unsub("u:bob|");
    s_unsub("u:bob|");
    cr_expect_eq(s_count("bob"), 0);
    cr_expect_eq(subtable_users(t), 0);
}

Test(subtable, names_are_exact)
{
    s_sub("u:bob|");
    s_sub("u:bobby|");
    s_sub("u:bobby|");
    cr_expect_eq(s_count("bob"), 1);
    cr_expect_eq(s_count("bobby"), 2);
    cr_expect_eq(s_count("bo"), 0);
    cr_expect_eq(s_count("Bob"), 0, "case-sensitive");
    cr_expect_eq(subtable_user_count(t, "bobby", 3), 1, "len counts, not the NUL");
    cr_expect_eq(subtable_users(t), 2);
}

Test(subtable, never_negative)
{
    s_unsub("u:ghost|");
    s_unsub("u:ghost|");
    cr_expect_eq(s_count("ghost"), 0);
    cr_expect_eq(subtable_users(t), 0);
    s_sub("u:ghost|");
    cr_expect_eq(s_count("ghost"), 1, "earlier extra unsubscribes must not be owed");
    s_unsub("u:ghost|");
    s_unsub("u:ghost|");
    cr_expect_eq(s_count("ghost"), 0);
    s_sub("u:ghost|");
    cr_expect_eq(s_count("ghost"), 1);
}

Test(subtable, non_user_topics_ignored)
{
    const char *topics[] = { "g:bob|", "w:bob|", "b|", "s|", "g:team|" };
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
        s_sub(topics[i]);
    cr_expect_eq(subtable_users(t), 0);
    cr_expect_eq(s_count("bob"), 0);
    cr_expect_eq(s_count("team"), 0);
    s_sub("u:bob|");
    s_unsub("g:bob|");                  /* must not touch the user's count */
    s_unsub("w:bob|");
    cr_expect_eq(s_count("bob"), 1);
}

Test(subtable, malformed_and_invalid_ignored)
{
    const char *topics[] = { "u:bob", "u:|", "u:b b|", "u:b|b|", "u:bob/x|", "u:b%20|",
                             "u:\xc3\xa9|", "ubob|", "u;bob|", "x:bob|", "", "u",
                             "u:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|" };
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++)
        s_sub(topics[i]);
    s_apply_n(1, "u:bo\0b|", 7);        /* NUL inside the name */
    cr_expect_eq(subtable_users(t), 0);
    cr_expect_eq(s_count("bo"), 0);
    cr_expect_eq(s_count("b"), 0);

    /* first byte other than 0/1 */
    unsigned char m2[] = "\x02u:bob|";
    subtable_apply(t, m2, sizeof m2 - 1);
    unsigned char mff[] = "\xffu:bob|";
    subtable_apply(t, mff, sizeof mff - 1);
    cr_expect_eq(s_count("bob"), 0);
    /* empty and one-byte messages */
    subtable_apply(t, (const unsigned char *)"", 0);
    subtable_apply(t, (const unsigned char *)"\x01", 1);
    subtable_apply(t, (const unsigned char *)"\x00", 1);
    cr_expect_eq(subtable_users(t), 0);

    /* the 64-byte limit: 64 counts */
    s_sub("u:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|");
    cr_expect_eq(s_count("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 1);
    cr_expect_eq(subtable_users(t), 1);
}

Test(subtable, user_count_bad_lookups)
{
    s_sub("u:bob|");
    char big[200];
    memset(big, 'b', sizeof big);
    cr_expect_eq(subtable_user_count(t, big, sizeof big), 0, "over 64 bytes");
    cr_expect_eq(subtable_user_count(t, "", 0), 0, "empty");
    /* a name with a NUL is not bob (the broker looks up names parsed from
     * any publisher's topic, e.g. "u:bob\0x|") */
    cr_expect_eq(subtable_user_count(t, "bob\0x", 5), 0, "\"bob\\0x\" must not count as bob");
}

Test(subtable, users_count_many)
{
    char topic[80];
    for (int i = 0; i < 500; i++) {
        snprintf(topic, sizeof topic, "u:user%d|", i);
        s_sub(topic);
        if (i % 2)
            s_sub(topic);
    }
    cr_expect_eq(subtable_users(t), 500);
    for (int i = 0; i < 500; i += 3) {
        snprintf(topic, sizeof topic, "u:user%d|", i);
        s_unsub(topic);
    }
    /* i%3==0 and even: gone (167 multiples of 3 in 0..499, 84 of them even) */
    cr_expect_eq(subtable_users(t), 500 - 84);
    cr_expect_eq(s_count("user3"), 1);
    cr_expect_eq(s_count("user6"), 0);
    cr_expect_eq(s_count("user7"), 2);
}

Test(subtable, sessions_sum_and_update)
{
    cr_expect_eq(subtable_sessions(t, 1000), 0, "no stats yet");
    subtable_stats(t, "w1", 2, 5, 1000);
    subtable_stats(t, "w2", 2, 7, 1000);
    subtable_stats(t, "w3", 2, 0, 1000);
    cr_expect_eq(subtable_sessions(t, 1000), 12);
    subtable_stats(t, "w1", 2, 10, 1500);         /* replaces, not adds */
    cr_expect_eq(subtable_sessions(t, 1500), 17);
    /* len counts: "w1x" with len 2 is w1 */
    subtable_stats(t, "w1x", 2, 1, 1600);
    cr_expect_eq(subtable_sessions(t, 1600), 8);
}

Test(subtable, stats_expire_after_3s)
{
    subtable_stats(t, "old", 3, 5, 10000);
    subtable_stats(t, "new", 3, 7, 12000);
    cr_expect_eq(subtable_sessions(t, 10000), 12);
    cr_expect_eq(subtable_sessions(t, 13000), 12, "exactly 3 s: still counted");
    cr_expect_eq(subtable_sessions(t, 13001), 7, "old expired");
    cr_expect_eq(subtable_sessions(t, 15000), 7);
    cr_expect_eq(subtable_sessions(t, 15001), 0, "new expired");
    /* expired entries are gone, not just skipped */
    cr_expect_eq(subtable_sessions(t, 10000), 0);
    /* a worker that reports again counts again */
    subtable_stats(t, "old", 3, 4, 20000);
    cr_expect_eq(subtable_sessions(t, 20000), 4);
}

Test(subtable, refresh_keeps_alive)
{
    for (int64_t now = 0; now <= 30000; now += 1000) {
        subtable_stats(t, "w", 1, 3, now);
        cr_assert_eq(subtable_sessions(t, now + 2999), 3, "at %lld", (long long)now);
    }
    cr_expect_eq(subtable_sessions(t, 33001), 0);
}

Test(subtable, stats_bad_origins_ignored)
{
    char big[100];
    memset(big, 'o', sizeof big);
    subtable_stats(t, "", 0, 5, 0);
    subtable_stats(t, big, 65, 5, 0);
    cr_expect_eq(subtable_sessions(t, 0), 0);
    subtable_stats(t, big, 64, 5, 0);
    cr_expect_eq(subtable_sessions(t, 0), 5);
}

Test(subtable, many_workers_expire_together)
{
    char origin[32];
    for (int i = 0; i < 200; i++) {
        int n = snprintf(origin, sizeof origin, "host.%d.1", i);
        subtable_stats(t, origin, (size_t)n, i, i < 100 ? 0 : 2000);
    }
    cr_expect_eq(subtable_sessions(t, 2000), 199 * 200 / 2);
    cr_expect_eq(subtable_sessions(t, 3001), (100 + 199) * 100 / 2, "first 100 expired");
    cr_expect_eq(subtable_sessions(t, 5001), 0);
}

Test(subtable, destroy_null_safe, .init = NULL, .fini = NULL)
{
    subtable_t *n = NULL;
    subtable_destroy(&n);
    subtable_destroy(NULL);
    subtable_t *s = subtable_new();
    cr_assert_not_null(s);
    unsigned char m[] = "\x01u:x|";
    subtable_apply(s, m, sizeof m - 1);
    subtable_stats(s, "w", 1, 1, 0);
    subtable_destroy(&s);               /* with content: no leak (valgrind) */
    cr_expect_null(s);
}
