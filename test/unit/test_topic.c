/* test_topic — proto/topic.c: make/parse round trips for every kind, the
 * '|' terminator that keeps ZeroMQ prefix matching exact, malformed topics
 * and the name length limit. Run: make build/test/test_topic && build/test/test_topic */
#include <criterion/criterion.h>
#include <string.h>

#include "topic.h"
#include "valid.h"

static void
s_round_trip(topic_kind_t kind, const char *name, const char *want)
{
    char buf[TOPIC_MAX];
    memset(buf, 'Z', sizeof buf);
    size_t n = topic_make(buf, kind, name, name ? strlen(name) : 0);
    cr_assert_eq(n, strlen(want), "length of %s", want);
    cr_assert_str_eq(buf, want);            /* also checks the NUL */
    topic_kind_t k = 0;
    const char *p = NULL;
    size_t pn = 99;
    cr_assert_eq(topic_parse(buf, n, &k, &p, &pn), 0, "parse %s", want);
    cr_expect_eq(k, kind);
    if (kind == TOPIC_BCAST || kind == TOPIC_BROKER) {
        cr_expect_eq(pn, 0);
    } else {
        cr_expect_eq(pn, strlen(name));
        cr_expect(p == buf + 2, "name points into the topic");
        cr_expect(memcmp(p, name, pn) == 0);
    }
}

Test(topic, round_trip_every_kind)
{
    s_round_trip(TOPIC_USER, "bob", "u:bob|");
    s_round_trip(TOPIC_GROUP, "team-1", "g:team-1|");
    s_round_trip(TOPIC_WORKER, "host.12345.1", "w:host.12345.1|");
    s_round_trip(TOPIC_BCAST, NULL, "b|");
    s_round_trip(TOPIC_BROKER, NULL, "s|");
    s_round_trip(TOPIC_USER, "a", "u:a|");
    s_round_trip(TOPIC_USER, "alice@example.com", "u:alice@example.com|");
}

Test(topic, bcast_and_broker_ignore_name)
{
    char buf[TOPIC_MAX];
    cr_expect_eq(topic_make(buf, TOPIC_BCAST, "ignored", 7), 2);
    cr_expect_str_eq(buf, "b|");
    cr_expect_eq(topic_make(buf, TOPIC_BROKER, "ignored", 7), 2);
    cr_expect_str_eq(buf, "s|");
}

/* ZeroMQ delivers a message to a subscriber whose subscription is a prefix
 * of the topic. A user's subscription must never be a prefix of another
 * user's topic, and the same for groups. */
Test(topic, terminator_prevents_prefix_match)
{
    char bob[TOPIC_MAX], bobby[TOPIC_MAX], gbob[TOPIC_MAX], bcast[TOPIC_MAX];
    size_t nb = topic_make(bob, TOPIC_USER, "bob", 3);
    size_t nbb = topic_make(bobby, TOPIC_USER, "bobby", 5);
    size_t ng = topic_make(gbob, TOPIC_GROUP, "bob", 3);
    size_t nx = topic_make(bcast, TOPIC_BCAST, NULL, 0);
    cr_assert(nb > 0 && nbb > nb && ng > 0 && nx > 0);
    cr_expect_neq(memcmp(bobby, bob, nb), 0, "\"u:bob|\" is a prefix of \"u:bobby|\"");
    cr_expect_neq(memcmp(gbob, bob, nb), 0, "user topic is a prefix of the group topic");
    cr_expect_neq(memcmp(bob, bcast, nx), 0, "b| is a prefix of a user topic");
    /* without the terminator the property would fail: guard the guard */
    cr_expect_eq(memcmp(bobby, bob, nb - 1), 0, "sanity: u:bob is a prefix of u:bobby");

    /* every pair of short names: a is a prefix-subscription of b only if a == b */
    const char *names[] = { "a", "ab", "abc", "b", "a.b", "a-", "a_", "A", "a@" };
    size_t k = sizeof names / sizeof *names;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            char ti[TOPIC_MAX], tj[TOPIC_MAX];
            size_t ni = topic_make(ti, TOPIC_USER, names[i], strlen(names[i]));
            size_t nj = topic_make(tj, TOPIC_USER, names[j], strlen(names[j]));
            int prefix = ni <= nj && memcmp(tj, ti, ni) == 0;
            cr_expect_eq(prefix, i == j, "%s vs %s", ti, tj);
        }
}

Test(topic, name_length_limit)
{
    char name[128], buf[TOPIC_MAX];
    memset(name, 'n', sizeof name);
    size_t n = topic_make(buf, TOPIC_USER, name, VALID_NAME_MAX);
    cr_expect_eq(n, VALID_NAME_MAX + 3, "a 64-byte name fits");
    cr_expect_eq(buf[n - 1], '|');
    cr_expect_eq(buf[n], '\0');
    size_t n65 = topic_make(buf, TOPIC_USER, name, VALID_NAME_MAX + 1);
    cr_expect_eq(n65, 0, "a 65-byte name must give 0, got %zu", n65);
    size_t n68 = topic_make(buf, TOPIC_USER, name, VALID_NAME_MAX + 4);
    cr_expect_eq(n68, 0, "a 68-byte name must give 0, got %zu", n68);
    cr_expect_eq(topic_make(buf, TOPIC_GROUP, name, 100), 0);
    cr_expect_eq(topic_make(buf, TOPIC_WORKER, name, 65), 0);
    /* an empty name would make "u:|", which topic_parse rejects */
    cr_expect_eq(topic_make(buf, TOPIC_USER, "", 0), 0, "empty name must give 0");
}

static int
s_parse(const char *t, size_t n)
{
    topic_kind_t k;
    const char *p;
    size_t pn;
    return topic_parse(t, n, &k, &p, &pn);
}
#define PARSE(lit) s_parse(lit, sizeof(lit) - 1)

Test(topic, malformed)
{
    cr_expect_eq(s_parse("", 0), -1, "empty");
    cr_expect_eq(PARSE("u"), -1);
    cr_expect_eq(PARSE("|"), -1);
    cr_expect_eq(PARSE("u:bob"), -1, "missing '|'");
    cr_expect_eq(PARSE("u:bob|x"), -1, "bytes after '|'");
    cr_expect_eq(PARSE("u:b|ob|"), -1, "'|' inside");
    cr_expect_eq(PARSE("u:||"), -1, "'|' as name");
    cr_expect_eq(PARSE("u:|"), -1, "empty name");
    cr_expect_eq(PARSE("g:|"), -1, "empty group");
    cr_expect_eq(PARSE("w:|"), -1, "empty origin");
    cr_expect_eq(PARSE("u|"), -1, "user without name");
    cr_expect_eq(PARSE("ubob|"), -1, "missing ':'");
    cr_expect_eq(PARSE("u;bob|"), -1, "wrong separator");
    cr_expect_eq(PARSE("x:bob|"), -1, "unknown kind");
    cr_expect_eq(PARSE("U:bob|"), -1, "kind is case-sensitive");
    cr_expect_eq(PARSE("x|"), -1, "unknown short kind");
    cr_expect_eq(PARSE("b:x|"), -1, "broadcast with a name");
    cr_expect_eq(PARSE("b||"), -1);
    cr_expect_eq(PARSE("s:x|"), -1, "broker with a name");
    cr_expect_eq(PARSE("\0:bob|"), -1, "NUL kind");
}

Test(topic, too_long_rejected)
{
    /* a topic whose name is longer than any valid name cannot be one we made */
    char t[200];
    t[0] = 'u';
    t[1] = ':';
    memset(t + 2, 'a', sizeof t - 2);
    size_t n = 2 + VALID_NAME_MAX;
    t[n] = '|';
    cr_expect_eq(s_parse(t, n + 1), 0, "64-byte name parses");
    t[n] = 'a';
    t[n + 1] = '|';
    cr_expect_eq(s_parse(t, n + 2), -1, "65-byte name must be rejected");
    t[n + 1] = 'a';
    t[150] = '|';
    cr_expect_eq(s_parse(t, 151), -1, "148-byte name must be rejected");
    t[2 + 66] = '|';
    cr_expect_eq(s_parse(t, 2 + 67), -1, "66-byte name must be rejected");
}

Test(topic, parse_reads_only_len)
{
    /* the name is not NUL-terminated in a ZeroMQ frame; len alone counts */
    topic_kind_t k;
    const char *p;
    size_t pn;
    const char frame[] = "g:grp|TRAILING";
    cr_expect_eq(topic_parse(frame, 6, &k, &p, &pn), 0);
    cr_expect_eq(k, TOPIC_GROUP);
    cr_expect_eq(pn, 3);
    cr_expect(memcmp(p, "grp", 3) == 0);
}
