/* test_valid — proto/valid.c: userId/group names (1–64 of [A-Za-z0-9_.@-])
 * and client ids (1–64 bytes of 0x21–0x7E), byte by byte and at the length
 * boundaries. Run: make build/test/test_valid && build/test/test_valid */
#include <criterion/criterion.h>
#include <string.h>

#include "valid.h"

static int
s_name_allowed(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '_' || c == '.' || c == '@' || c == '-';
}

Test(valid_name, every_allowed_class)
{
    const char *ok[] = { "bob", "BOB", "0123456789", "a_b", "a.b", "a@b", "a-b",
                         "_", ".", "@", "-", "x", "alice@example.com", "A-z_0.9@" };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_expect_eq(valid_name(ok[i], strlen(ok[i])), 1, "\"%s\" should be valid", ok[i]);
    const char all[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-";
    /* 66 characters: too long as one name, so check in two halves */
    cr_expect_eq(valid_name(all, 33), 1);
    cr_expect_eq(valid_name(all + 33, 33), 1);
}

Test(valid_name, every_byte_alone)
{
    /* all 256 byte values as a one-byte name, and inside a valid name */
    for (unsigned c = 0; c < 256; c++) {
        char one[1] = { (char)c };
        char mid[5] = { 'a', 'b', (char)c, 'c', 'd' };
        int want = s_name_allowed(c);
        cr_expect_eq(valid_name(one, 1), want, "byte 0x%02x alone", c);
        cr_expect_eq(valid_name(mid, 5), want, "byte 0x%02x inside", c);
    }
}

Test(valid_name, length_boundaries)
{
    char s[200];
    memset(s, 'a', sizeof s);
    cr_expect_eq(valid_name(s, 0), 0, "empty");
    cr_expect_eq(valid_name("", 0), 0, "empty string");
    cr_expect_eq(valid_name(s, 1), 1);
    cr_expect_eq(valid_name(s, 63), 1);
    cr_expect_eq(valid_name(s, 64), 1);
    cr_expect_eq(valid_name(s, 65), 0);
    cr_expect_eq(valid_name(s, 200), 0);
    cr_expect_eq(valid_name(s, (size_t)-1), 0, "huge length, no read");
}

Test(valid_name, forbidden_bytes)
{
    const struct { const char *s; size_t n; const char *what; } bad[] = {
        { "bo b", 4, "space" },
        { "bob|", 4, "pipe (topic terminator)" },
        { "a/b", 3, "slash" },
        { "a%20b", 5, "percent (no decoding)" },
        { "bo\0b", 4, "NUL inside" },
        { "bob\0", 4, "NUL at end" },
        { "\0bob", 4, "NUL at start" },
        { "b\xc3\xb6" "b", 4, "UTF-8 o-umlaut" },
        { "\xe2\x82\xac", 3, "UTF-8 euro" },
        { "\xf0\x9f\x98\x80", 4, "UTF-8 emoji" },
        { "\xff", 1, "0xff" },
        { "a:b", 3, "colon" },
        { "a+b", 3, "plus" },
        { "a\tb", 3, "tab" },
        { "a\nb", 3, "newline" },
        { "a\"b", 3, "quote" },
        { "a\\b", 3, "backslash" },
        { "a\x7f", 2, "DEL" },
        { "a~", 2, "tilde" },
        { "a?b", 3, "question mark" },
        { "a#b", 3, "hash" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(valid_name(bad[i].s, bad[i].n), 0, "%s should be rejected", bad[i].what);
}

Test(valid_name, only_len_bytes_are_read)
{
    /* a forbidden byte just past len does not matter */
    cr_expect_eq(valid_name("bob|", 3), 1);
    cr_expect_eq(valid_name("bob bob", 3), 1);
}

Test(valid_id, every_byte)
{
    for (unsigned c = 0; c < 256; c++) {
        char one[1] = { (char)c };
        char mid[3] = { 'x', (char)c, 'y' };
        int want = c >= 0x21 && c <= 0x7e;
        cr_expect_eq(valid_id(one, 1), want, "byte 0x%02x alone", c);
        cr_expect_eq(valid_id(mid, 3), want, "byte 0x%02x inside", c);
    }
}

Test(valid_id, edges_and_specials)
{
    cr_expect_eq(valid_id("\x20", 1), 0, "space 0x20");
    cr_expect_eq(valid_id("\x21", 1), 1, "0x21 '!'");
    cr_expect_eq(valid_id("\x7e", 1), 1, "0x7e '~'");
    cr_expect_eq(valid_id("\x7f", 1), 0, "DEL 0x7f");
    cr_expect_eq(valid_id("a\"b", 3), 1, "double quote allowed");
    cr_expect_eq(valid_id("a\\b", 3), 1, "backslash allowed");
    cr_expect_eq(valid_id("'|/%{}:", 7), 1);
    cr_expect_eq(valid_id("a\0b", 3), 0, "NUL inside");
    cr_expect_eq(valid_id("\xc3\xa9", 2), 0, "UTF-8");
}

Test(valid_id, length_boundaries)
{
    char s[100];
    memset(s, '!', sizeof s);
    cr_expect_eq(valid_id(s, 0), 0);
    cr_expect_eq(valid_id(s, 1), 1);
    cr_expect_eq(valid_id(s, 64), 1);
    cr_expect_eq(valid_id(s, 65), 0);
    cr_expect_eq(valid_id(s, 100), 0);
}
