/* test_idgen — daemon/idgen.h: ids are "<origin>-<n hex>", as
 * snprintf("%s-%llx") wrote them before idgen_next() formatted by hand, and
 * never repeat. Run: make build/test/test_idgen && build/test/test_idgen */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "idgen.h"

static void
s_expect_as_printf(idgen_t *g)
{
    char want[IDGEN_LEN + 8], got[IDGEN_LEN];
    memset(got, 0x55, sizeof got);
    unsigned long long n = (unsigned long long)g->n + 1;
    int k = snprintf(want, sizeof want, "%s-%llx", g->origin, n);
    size_t len = idgen_next(g, got);
    cr_expect(len == (size_t)k && len < IDGEN_LEN, "length %zu for n %llx", len, n);
    cr_expect_str_eq(got, want);
    cr_expect_eq(g->n, n);
}

Test(idgen, formats_as_printf_at_every_width)
{
    idgen_t g = { "0123456789abcdef", 0 };
    for (int i = 0; i < 300; i++)       /* 1 .. 0x12c: one, two and three digits */
        s_expect_as_printf(&g);
    for (int shift = 4; shift < 64; shift += 4) {
        g.n = (1ULL << shift) - 2;      /* each width's last value and the next's first */
        s_expect_as_printf(&g);
        s_expect_as_printf(&g);
    }
    g.n = UINT64_MAX - 1;               /* the widest id: 16 + 1 + 16 characters */
    s_expect_as_printf(&g);
}

Test(idgen, short_origin_and_distinct_ids)
{
    idgen_t g = { "aa", 0 };            /* the origin is copied up to its NUL */
    char a[IDGEN_LEN], b[IDGEN_LEN];
    idgen_next(&g, a);
    idgen_next(&g, b);
    cr_expect_str_eq(a, "aa-1");
    cr_expect_str_eq(b, "aa-2");
}
