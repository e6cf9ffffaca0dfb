/* test_peers — connections per client address (daemon/peers.c): keys of
 * IPv4, IPv4-mapped and IPv6 (/64) addresses and their text, counting up
 * and down, stable entry numbers while the table grows, reuse of freed
 * entries, and a random run against a plain array.
 * Run: make build/test/test_peers && build/test/test_peers */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "peers.h"

static uint64_t
s_key4(const char *a)
{
    struct sockaddr_in in = { .sin_family = AF_INET };
    cr_assert_eq(inet_pton(AF_INET, a, &in.sin_addr), 1);
    uint64_t k;
    cr_assert_eq(peers_key((struct sockaddr *)&in, sizeof in, &k), 0);
    return k;
}

static uint64_t
s_key6(const char *a)
{
    struct sockaddr_in6 in = { .sin6_family = AF_INET6 };
    cr_assert_eq(inet_pton(AF_INET6, a, &in.sin6_addr), 1);
    uint64_t k;
    cr_assert_eq(peers_key((struct sockaddr *)&in, sizeof in, &k), 0);
    return k;
}

Test(peers, keys)
{
    char t[PEERS_TEXT_LEN];
    cr_assert_str_eq(peers_text(s_key4("192.0.2.7"), t), "192.0.2.7");
    cr_assert_neq(s_key4("192.0.2.7"), s_key4("192.0.2.8"));
    /* a mapped IPv4 address is that IPv4 address */
    cr_assert_eq(s_key6("::ffff:192.0.2.7"), s_key4("192.0.2.7"));
    /* IPv6 counts by /64: the interface identifier does not matter */
    cr_assert_eq(s_key6("2001:db8:1:2::1"), s_key6("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    cr_assert_neq(s_key6("2001:db8:1:2::1"), s_key6("2001:db8:1:3::1"));
    cr_assert_str_eq(peers_text(s_key6("2001:db8:1:2::99"), t), "2001:db8:1:2::/64");
    cr_assert_neq(s_key6("::1"), s_key4("0.0.0.1"));
    /* short or foreign addresses are not counted */
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    uint64_t k;
    cr_assert_eq(peers_key((struct sockaddr *)&un, sizeof un, &k), -1);
    struct sockaddr_in in = { .sin_family = AF_INET };
    cr_assert_eq(peers_key((struct sockaddr *)&in, 4, &k), -1);
}

Test(peers, counts_up_and_down)
{
    peers_t p;
    cr_assert_eq(peers_init(&p, 42), 0);
    uint64_t a = s_key4("10.0.0.1"), b = s_key4("10.0.0.2");
    uint32_t n, id1 = peers_take(&p, a, &n);
    cr_assert_eq(n, 1);
    uint32_t id2 = peers_take(&p, a, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(id1, id2, "one entry per address");
    uint32_t idb = peers_take(&p, b, &n);
    cr_assert_eq(n, 1);
    cr_assert_neq(idb, id1);
    cr_assert_eq(peers_count(&p, a), 2);
    cr_assert_eq(peers_size(&p), 2);
    peers_put(&p, id1);
    cr_assert_eq(peers_count(&p, a), 1);
    peers_put(&p, id1);
    cr_assert_eq(peers_count(&p, a), 0);
    cr_assert_eq(peers_size(&p), 1, "an address without connections is forgotten");
    peers_put(&p, id1);                     /* once too often: ignored */
    peers_put(&p, 0);
    cr_assert_eq(peers_count(&p, b), 1);
    /* the freed entry is reused */
    uint32_t idc = peers_take(&p, s_key4("10.0.0.3"), &n);
    cr_assert_eq(idc, id1);
    peers_fini(&p);
}

/* Entry numbers stay valid while the buckets are rebuilt around them. */
Test(peers, numbers_survive_growth)
{
    enum { N = 5000 };
    peers_t p;
    cr_assert_eq(peers_init(&p, 7), 0);
    static uint32_t ids[N];
    uint32_t n;
    for (uint32_t i = 0; i < N; i++) {
        ids[i] = peers_take(&p, 0xffffffff00000000ULL | i, &n);
        cr_assert_neq(ids[i], 0);
        cr_assert_eq(n, 1);
    }
    cr_assert_gt(p.nbucket, 64, "the index grew");
    for (uint32_t i = 0; i < N; i++) {
        cr_assert_eq(peers_take(&p, 0xffffffff00000000ULL | i, &n), ids[i]);
        cr_assert_eq(n, 2);
    }
    for (uint32_t i = 0; i < N; i += 2) {
        peers_put(&p, ids[i]);
        peers_put(&p, ids[i]);
    }
    for (uint32_t i = 0; i < N; i++)
        cr_assert_eq(peers_count(&p, 0xffffffff00000000ULL | i), i % 2 ? 2u : 0u);
    cr_assert_eq(peers_size(&p), N / 2);
    peers_fini(&p);
}

Test(peers, random_against_a_plain_array)
{
    enum { K = 97 };
    peers_t p;
    cr_assert_eq(peers_init(&p, 99), 0);
    uint32_t ref[K] = { 0 }, held[K][64], nheld[K] = { 0 };
    srand(3);
    for (int step = 0; step < 50000; step++) {
        int k = rand() % K;
        uint64_t key = (uint64_t)k * 0x9e3779b97f4a7c15ULL;
        if (rand() % 2 && nheld[k] < 64) {
            uint32_t n, id = peers_take(&p, key, &n);
            cr_assert_neq(id, 0);
            cr_assert_eq(n, ++ref[k]);
            held[k][nheld[k]++] = id;
        } else if (nheld[k]) {
            peers_put(&p, held[k][--nheld[k]]);
            ref[k]--;
        }
        cr_assert_eq(peers_count(&p, key), ref[k]);
    }
    uint32_t used = 0;
    for (int k = 0; k < K; k++)
        used += ref[k] > 0;
    cr_assert_eq(peers_size(&p), used);
    peers_fini(&p);
}
