/* test_shard — proto/shard.c: the --broker grammar (shards, pairs, the
 * errors), the rendezvous hash's stability, balance and minimal movement
 * when a shard is added. Run: make build/test/test_shard && build/test/test_shard */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "shard.h"

static shard_spec_t spec;
static char why[256];

Test(shard, one_broker)
{
    cr_assert_eq(shard_parse("tcp://10.0.0.1:7001,tcp://10.0.0.1:7002", 1, &spec, why,
                             sizeof why), 0, "%s", why);
    cr_assert_eq(spec.n, 1);
    cr_assert_eq(spec.shard[0].nbrokers, 1);
    cr_assert_str_eq(spec.shard[0].broker[0].pub, "tcp://10.0.0.1:7001");
    cr_assert_str_eq(spec.shard[0].broker[0].sub, "tcp://10.0.0.1:7002");
    cr_assert_eq(shard_of(&spec, "u:bob|", 6), 0);
}

Test(shard, shards_and_pairs)
{
    const char *s = "tcp://a:1,tcp://a:2|tcp://b:1,tcp://b:2;ipc:///run/x/pub,ipc:///run/x/sub";
    cr_assert_eq(shard_parse(s, 1, &spec, why, sizeof why), 0, "%s", why);
    cr_assert_eq(spec.n, 2);
    cr_assert_eq(spec.shard[0].nbrokers, 2);
    cr_assert_str_eq(spec.shard[0].broker[1].pub, "tcp://b:1");
    cr_assert_str_eq(spec.shard[0].broker[1].sub, "tcp://b:2");
    cr_assert_eq(spec.shard[1].nbrokers, 1);
    cr_assert_str_eq(spec.shard[1].broker[0].sub, "ipc:///run/x/sub");
}

Test(shard, publish_only)
{
    cr_assert_eq(shard_parse("tcp://a:1;tcp://b:1|tcp://c:1", 0, &spec, why, sizeof why), 0,
                 "%s", why);
    cr_assert_eq(spec.n, 2);
    cr_assert_eq(spec.shard[0].broker[0].sub[0], '\0');
    /* a SUB given to a publisher is accepted and ignored */
    cr_assert_eq(shard_parse("tcp://a:1,tcp://a:2", 0, &spec, why, sizeof why), 0, "%s", why);
}

Test(shard, refusals)
{
    static const char *bad[] = {
        "", "tcp://a:1", "tcp://a:1,", ",tcp://a:2", "http://a:1,tcp://a:2",
        "tcp://a:1,tcp://a:2;", ";tcp://a:1,tcp://a:2", "tcp://a:1,tcp://a:2,tcp://a:3",
        "tcp://a:1,tcp://a:2|", "tcp://a:1,tcp://a:2|tcp://b:1,tcp://b:2|tcp://c:1,tcp://c:2",
        "tcp://a:1,tcp://a:2|tcp://a:1,tcp://a:3", "tcp://a:1,tcp://a:2;tcp://a:1,tcp://a:3",
        "tcp://a 1,tcp://a:2", "tcp://,tcp://a:2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why[0] = '\0';
        cr_expect_eq(shard_parse(bad[i], 1, &spec, why, sizeof why), -1, "accepted \"%s\"", bad[i]);
        cr_expect_neq(why[0], '\0', "no reason for \"%s\"", bad[i]);
    }
    char many[SHARD_SPEC_MAX] = "";
    for (int i = 0; i <= SHARD_MAX; i++) {
        char one[64];
        snprintf(one, sizeof one, "%stcp://h%d:1,tcp://h%d:2", i ? ";" : "", i, i);
        strcat(many, one);
    }
    cr_expect_eq(shard_parse(many, 1, &spec, why, sizeof why), -1);
}

/* The published formula (zwsd-broker(8)), written out once more here. */
Test(shard, formula)
{
    cr_assert_eq(shard_fnv1a64("", 0), 0xcbf29ce484222325ULL);
    cr_assert_eq(shard_fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL);
    cr_assert_eq(shard_parse("tcp://a:1,tcp://a:2;tcp://b:1,tcp://b:2", 1, &spec, why,
                             sizeof why), 0);
    const char *t = "u:bob|";
    uint64_t th = shard_fnv1a64(t, strlen(t));
    uint64_t s0 = shard_mix64(shard_fnv1a64("tcp://a:1", 9) ^ th);
    uint64_t s1 = shard_mix64(shard_fnv1a64("tcp://b:1", 9) ^ th);
    cr_assert_eq(shard_of(&spec, t, strlen(t)), s1 > s0 ? 1 : 0);
}

/* The order of the shards does not matter; each gets its share; a third
 * shard takes about a third and moves nothing between the first two. */
Test(shard, stable_balanced_minimal)
{
    shard_spec_t two, rev, three;
    cr_assert_eq(shard_parse("tcp://a:1,tcp://a:2;tcp://b:1,tcp://b:2", 1, &two, why, sizeof why), 0);
    cr_assert_eq(shard_parse("tcp://b:1,tcp://b:2;tcp://a:1,tcp://a:2", 1, &rev, why, sizeof why), 0);
    cr_assert_eq(shard_parse("tcp://a:1,tcp://a:2;tcp://b:1,tcp://b:2;tcp://c:1,tcp://c:2", 1,
                             &three, why, sizeof why), 0);
    int count[3] = { 0 }, moved = 0, wrong = 0;
    const int N = 30000;
    for (int i = 0; i < N; i++) {
        char t[32];
        int n = snprintf(t, sizeof t, "u:user%d|", i);
        int a = shard_of(&two, t, (size_t)n), b = shard_of(&rev, t, (size_t)n);
        cr_assert_eq(two.shard[a].name_hash, rev.shard[b].name_hash, "order changed %s", t);
        int c = shard_of(&three, t, (size_t)n);
        count[c]++;
        if (c != 2) {
            moved += c != a;
            wrong += three.shard[c].name_hash != two.shard[a].name_hash;
        }
    }
    cr_expect_eq(moved, 0);
    cr_expect_eq(wrong, 0);
    for (int i = 0; i < 3; i++)
        cr_expect(count[i] > N / 3 - N / 20 && count[i] < N / 3 + N / 20, "shard %d has %d of %d",
                  i, count[i], N);
}
