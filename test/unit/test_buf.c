/* test_buf — proto/buf.c: the growable byte buffer. Zeroed is empty,
 * reserve/append grow geometrically, consume drops from the front and keeps
 * the memory, free resets. Run: make build/test/test_buf && build/test/test_buf */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

Test(buf, zeroed_is_empty_and_free_is_safe)
{
    buf_t b = { 0 };
    cr_expect_null(b.data);
    buf_free(&b);                       /* free of an empty buffer */
    cr_expect_null(b.data);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(b.cap, 0);
    buf_consume(&b, 0);                 /* consume on an empty buffer */
    buf_consume(&b, 10);
    cr_expect_eq(b.len, 0);
}

Test(buf, reserve)
{
    buf_t b = { 0 };
    cr_assert_eq(buf_reserve(&b, 0), 0);
    cr_expect_eq(b.len, 0);
    cr_assert_eq(buf_reserve(&b, 1), 0);
    cr_assert_not_null(b.data);
    cr_expect_geq(b.cap, 1);
    cr_expect_eq(b.len, 0, "reserve does not change len");
    size_t cap = b.cap;
    char *data = b.data;
    cr_assert_eq(buf_reserve(&b, cap), 0, "exactly the capacity: no realloc");
    cr_expect_eq(b.cap, cap);
    cr_expect_eq(b.data, data);
    cr_assert_eq(buf_reserve(&b, cap + 1), 0);
    cr_expect_geq(b.cap, cap + 1);
    cr_assert_eq(buf_reserve(&b, 1000000), 0);
    cr_expect_geq(b.cap - b.len, 1000000);
    memset(b.data, 0x5a, 1000000);      /* the space is really there (valgrind) */
    buf_free(&b);
}

Test(buf, reserve_counts_from_len)
{
    buf_t b = { 0 };
    cr_assert_eq(buf_append(&b, "0123456789", 10), 0);
    cr_assert_eq(buf_reserve(&b, b.cap - 10 + 1), 0);
    cr_expect_geq(b.cap - b.len, b.cap >= 11 ? 1 : 0);
    size_t want = 5000;
    cr_assert_eq(buf_reserve(&b, want), 0);
    cr_expect_geq(b.cap - b.len, want);
    cr_expect(memcmp(b.data, "0123456789", 10) == 0, "content kept across growth");
    buf_free(&b);
}

/* A request larger than memory can hold must give -1 and leave the buffer
 * as it was (buf.h), not loop or free the data. The timeouts turn a hang into
 * a failure. */
Test(buf, reserve_over_half_address_space_fails_cleanly, .timeout = 3)
{
    buf_t b = { 0 };
    cr_assert_eq(buf_append(&b, "abc", 3), 0);
    size_t cap = b.cap;
    cr_expect_eq(buf_reserve(&b, SIZE_MAX / 2 + 1), -1);
    cr_expect_eq(b.cap, cap);
    cr_expect_eq(b.len, 3);
    /* the buffer must still be usable: append, read back, free */
    cr_assert_eq(buf_append(&b, "d", 1), 0);
    cr_expect(b.len == 4 && memcmp(b.data, "abcd", 4) == 0);
    buf_free(&b);
}

Test(buf, reserve_near_size_max_fails_cleanly, .timeout = 3)
{
    buf_t b = { 0 };
    cr_assert_eq(buf_append(&b, "abc", 3), 0);
    cr_expect_eq(buf_reserve(&b, SIZE_MAX - 1), -1);
    cr_expect_eq(buf_append(&b, "x", SIZE_MAX - 1), -1);
    cr_expect_eq(b.len, 3);
    cr_expect(memcmp(b.data, "abc", 3) == 0);
    buf_free(&b);
}

Test(buf, reserve_too_big_for_memory_fails_cleanly, .timeout = 3)
{
    /* 2^56: no overflow in the doubling, realloc itself fails */
    buf_t b = { 0 };
    cr_assert_eq(buf_append(&b, "abc", 3), 0);
    char *data = b.data;
    size_t cap = b.cap;
    cr_expect_eq(buf_reserve(&b, (size_t)1 << 56), -1);
    cr_expect_eq(b.data, data);
    cr_expect_eq(b.cap, cap);
    cr_expect(b.len == 3 && memcmp(b.data, "abc", 3) == 0);
    buf_free(&b);
}

Test(buf, append_and_appends)
{
    buf_t b = { 0 };
    cr_assert_eq(buf_append(&b, "hello", 5), 0);
    cr_assert_eq(buf_appends(&b, ", "), 0);
    cr_assert_eq(buf_append(&b, "world!!!", 5), 0);
    cr_assert_eq(buf_append(&b, NULL, 0), 0, "zero bytes, NULL pointer");
    cr_assert_eq(buf_appends(&b, ""), 0);
    cr_assert_eq(b.len, 12);
    cr_expect(memcmp(b.data, "hello, world", 12) == 0);
    cr_assert_eq(buf_append(&b, "a\0b", 3), 0, "binary data");
    cr_expect_eq(b.len, 15);
    cr_expect(memcmp(b.data + 12, "a\0b", 3) == 0);
    buf_free(&b);
    cr_expect_null(b.data);
    cr_expect_eq(b.len, 0);
    cr_expect_eq(b.cap, 0);
    /* usable again after free */
    cr_assert_eq(buf_appends(&b, "again"), 0);
    cr_expect(b.len == 5 && memcmp(b.data, "again", 5) == 0);
    buf_free(&b);
}

/* buf_append_u64/i64 write what printf's %llu / %lld would, at the edges
 * (0, one digit, powers of ten, the type's limits) and in between. */
Test(buf, append_decimal_as_printf)
{
    static const unsigned long long u[] = { 0, 1, 9, 10, 99, 100, 4294967295ULL, 4294967296ULL,
                                            9999999999999999999ULL, 10000000000000000000ULL,
                                            ULLONG_MAX };
    static const long long i[] = { 0, 1, -1, 9, -9, 10, -10, 123456789, -123456789,
                                   LLONG_MAX, LLONG_MIN, LLONG_MIN + 1 };
    char want[32];
    for (size_t k = 0; k < sizeof u / sizeof *u; k++) {
        buf_t b = { 0 };
        cr_assert_eq(buf_append(&b, "x", 1), 0);
        cr_assert_eq(buf_append_u64(&b, u[k]), 0);
        int n = snprintf(want, sizeof want, "x%llu", u[k]);
        cr_expect(b.len == (size_t)n && !memcmp(b.data, want, b.len), "%llu", u[k]);
        buf_free(&b);
    }
    for (size_t k = 0; k < sizeof i / sizeof *i; k++) {
        buf_t b = { 0 };
        cr_assert_eq(buf_append_i64(&b, i[k]), 0);
        int n = snprintf(want, sizeof want, "%lld", i[k]);
        cr_expect(b.len == (size_t)n && !memcmp(b.data, want, b.len), "%lld", i[k]);
        buf_free(&b);
    }
    for (unsigned long long v = 1; v < ULLONG_MAX / 3; v = v * 3 + 1) {
        buf_t b = { 0 };
        cr_assert_eq(buf_append_u64(&b, v), 0);
        int n = snprintf(want, sizeof want, "%llu", v);
        cr_expect(b.len == (size_t)n && !memcmp(b.data, want, b.len), "%llu", v);
        buf_free(&b);
    }
}

Test(buf, append_many_grows_and_keeps_bytes)
{
    buf_t b = { 0 };
    for (int i = 0; i < 100000; i++) {
        unsigned char c = (unsigned char)(i * 7);
        cr_assert_eq(buf_append(&b, &c, 1), 0);
        cr_assert_leq(b.len, b.cap);
    }
    cr_assert_eq(b.len, 100000);
    for (int i = 0; i < 100000; i++)
        cr_assert_eq((unsigned char)b.data[i], (unsigned char)(i * 7), "byte %d", i);
    buf_free(&b);
}

Test(buf, append_large_in_one_go)
{
    buf_t b = { 0 };
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i % 251);
    cr_assert_eq(buf_append(&b, "x", 1), 0);
    cr_assert_eq(buf_append(&b, big, sizeof big), 0);
    cr_assert_eq(b.len, sizeof big + 1);
    cr_expect(memcmp(b.data + 1, big, sizeof big) == 0);
    buf_free(&b);
}

Test(buf, consume)
{
    buf_t b = { 0 };
    cr_assert_eq(buf_appends(&b, "abcdefgh"), 0);
    size_t cap = b.cap;
    buf_consume(&b, 0);
    cr_expect_eq(b.len, 8);
    cr_expect(memcmp(b.data, "abcdefgh", 8) == 0);
    buf_consume(&b, 3);
    cr_assert_eq(b.len, 5);
    cr_expect(memcmp(b.data, "defgh", 5) == 0);
    cr_expect_eq(b.cap, cap, "memory is kept");
    buf_consume(&b, 4);
    cr_assert_eq(b.len, 1);
    cr_expect_eq(b.data[0], 'h');
    buf_consume(&b, 1);                 /* exactly all */
    cr_expect_eq(b.len, 0);
    cr_expect_not_null(b.data, "memory is kept");
    cr_expect_eq(b.cap, cap);
    cr_assert_eq(buf_appends(&b, "xyz"), 0);
    buf_consume(&b, 1000);              /* more than all */
    cr_expect_eq(b.len, 0);
    cr_assert_eq(buf_appends(&b, "after"), 0);
    cr_expect(b.len == 5 && memcmp(b.data, "after", 5) == 0, "append after consuming all");
    buf_consume(&b, SIZE_MAX);
    cr_expect_eq(b.len, 0);
    buf_free(&b);
}

Test(buf, interleaved_append_consume)
{
    /* a queue: what comes out is what went in, in order */
    buf_t b = { 0 };
    unsigned next_in = 0, next_out = 0;
    for (int round = 0; round < 2000; round++) {
        unsigned char chunk[97];
        size_t n = (size_t)(round * 31 % 97);
        for (size_t i = 0; i < n; i++)
            chunk[i] = (unsigned char)(next_in++);
        cr_assert_eq(buf_append(&b, chunk, n), 0);
        size_t take = (size_t)(round * 17 % 89);
        if (take > b.len)
            take = b.len;
        for (size_t i = 0; i < take; i++)
            cr_assert_eq((unsigned char)b.data[i], (unsigned char)(next_out + i));
        next_out += (unsigned)take;
        buf_consume(&b, take);
    }
    cr_expect_eq(b.len, next_in - next_out);
    buf_free(&b);
}

Test(buf, pool_keeps_small_buffers_and_frees_big_ones)
{
    buf_pool_t pool = { .max_cap = 4096 };
    buf_t a = { 0 }, b = { 0 };
    cr_assert_eq(buf_append(&a, "hello", 5), 0);
    char *kept = a.data;
    buf_pool_give(&pool, &a);
    cr_assert(a.data == NULL && a.len == 0 && a.cap == 0, "given away: empty");
    cr_assert_eq(pool.n, 1);
    buf_pool_take(&pool, &b);
    cr_assert_eq(b.data, kept, "the kept buffer comes back");
    cr_assert_eq(b.len, 0);
    cr_assert_eq(pool.n, 0);
    buf_pool_take(&pool, &b);                       /* not empty of memory: no-op */
    cr_assert_eq(b.data, kept);
    cr_assert_eq(buf_reserve(&b, 8192), 0);
    buf_pool_give(&pool, &b);                       /* too big to keep */
    cr_assert_eq(pool.n, 0);
    cr_assert_null(b.data);
    for (int i = 0; i < BUF_POOL_MAX + 3; i++) {
        buf_t t = { 0 };
        cr_assert_eq(buf_append(&t, "x", 1), 0);
        buf_pool_give(&pool, &t);
    }
    cr_assert_eq(pool.n, BUF_POOL_MAX, "bounded");
    buf_pool_free(&pool);
    cr_assert_eq(pool.n, 0);
}
