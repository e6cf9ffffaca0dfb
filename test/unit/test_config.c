/* test_config — the config file's syntax (daemon/config.c, zwsd(8)
 * CONFIGURATION FILE): entries, comments, blank lines, whitespace, CRLF, a
 * last line without LF, bare names and a missing '=', overlong lines, NUL
 * and other control bytes, a callback that stops (how options.c reports an
 * unknown option). Every input is also fed in every chunking down to one
 * byte and split at every position: the transcript must not change.
 * Run: make build/test/test_config && build/test/test_config */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* What one parse produced, as text: "L<line> name=value;" per entry
 * ("name!" for a bare name), then "ok", "stopped L<n>" or
 * "error L<n>: <message>". */
typedef struct {
    char        text[8192];
    size_t      len;
    const char *stop_at;            /* on_entry returns -1 for this name */
} out_t;

static void __attribute__((format(printf, 2, 3)))
s_put(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->text + o->len, sizeof o->text - o->len, fmt, ap);
    va_end(ap);
    cr_assert(k >= 0 && o->len + (size_t)k < sizeof o->text, "transcript overflow");
    o->len += (size_t)k;
}

static int
s_on_entry(void *arg, const config_entry_t *e)
{
    out_t *o = arg;
    cr_assert(e->name && *e->name, "an entry without a name");
    if (e->value)
        s_put(o, "L%d %s=%s;", e->line, e->name, e->value);
    else
        s_put(o, "L%d %s!;", e->line, e->name);
    return o->stop_at && !strcmp(e->name, o->stop_at) ? -1 : 0;
}

/* Parse data[0..len) fed as pieces: first `split` bytes, then chunks of
 * `chunk` bytes (0: all at once). Returns the transcript in o. */
static void
s_parse(const char *data, size_t len, size_t split, size_t chunk, const char *stop_at, out_t *o)
{
    memset(o, 0, sizeof *o);
    o->stop_at = stop_at;
    config_t *c = config_new(s_on_entry, o);
    cr_assert_not_null(c);
    int rc = 0;
    size_t at = 0;
    if (split) {
        rc = config_feed(c, data, split);
        at = split;
    }
    while (rc == 0 && at < len) {
        size_t n = chunk && len - at > chunk ? chunk : len - at;
        rc = config_feed(c, data + at, n);
        at += n;
    }
    if (rc == 0)
        rc = config_end(c);
    if (rc == 0)
        s_put(o, "ok");
    else if (config_error(c))
        s_put(o, "error L%d: %s", config_line(c), config_error(c));
    else
        s_put(o, "stopped L%d", config_line(c));
    /* once failed, it stays failed */
    if (rc != 0) {
        cr_assert_eq(config_feed(c, "a = b\n", 6), -1);
        cr_assert_eq(config_end(c), -1);
    }
    config_destroy(&c);
    cr_assert_null(c);
}

/* The transcript of data, the same for every chunk size from 1 to len and
 * every split point; it must equal want (or, for errors, start with it). */
static void
s_check_n(const char *data, size_t len, const char *want, int prefix, const char *stop_at)
{
    static out_t whole, o;
    s_parse(data, len, 0, 0, stop_at, &whole);
    if (prefix)
        cr_assert(!strncmp(whole.text, want, strlen(want)), "got  %s\nwant %s...", whole.text,
                  want);
    else
        cr_assert_str_eq(whole.text, want);
    for (size_t k = 1; k <= len; k++) {
        s_parse(data, len, 0, k, stop_at, &o);
        cr_assert_str_eq(o.text, whole.text, "chunks of %zu", k);
    }
    for (size_t at = 1; at < len; at++) {
        s_parse(data, len, at, 0, stop_at, &o);
        cr_assert_str_eq(o.text, whole.text, "split at %zu", at);
    }
}

#define CHECK(data, want)        s_check_n(data, sizeof data - 1, want, 0, NULL)
#define CHECK_PREFIX(data, want) s_check_n(data, sizeof data - 1, want, 1, NULL)

Test(config, entries)
{
    CHECK("listen = 127.0.0.1:8080\nworkers = 2\n",
          "L1 listen=127.0.0.1:8080;L2 workers=2;ok");
}

Test(config, empty_input)
{
    CHECK("", "ok");
    out_t o;
    s_parse("", 0, 0, 0, NULL, &o);
    cr_assert_str_eq(o.text, "ok");
}

Test(config, comments_and_blank_lines)
{
    CHECK("# zwsd\n\n   \n\t\n  # indented comment\nworkers = 3 # trailing\n#workers = 4\n"
          "listen=1.2.3.4:5#no space\n",
          "L6 workers=3;L8 listen=1.2.3.4:5;ok");
}

Test(config, whitespace_around_name_and_value)
{
    CHECK("  \t workers \t =  \t 7 \t \n", "L1 workers=7;ok");
    CHECK("workers=7\n", "L1 workers=7;ok");
    /* inner spaces of a value are kept */
    CHECK("runtime-dir = /tmp/a b\n", "L1 runtime-dir=/tmp/a b;ok");
}

Test(config, value_with_equals_sign)
{
    CHECK("broker = a=b,c\n", "L1 broker=a=b,c;ok");
}

Test(config, empty_value)
{
    /* options.c answers "needs a value"; the syntax is fine */
    CHECK("max-groups =\n", "L1 max-groups=;ok");
    CHECK("max-groups =   # nothing\n", "L1 max-groups=;ok");
}

Test(config, bare_name_is_a_flag)
{
    CHECK("allow-client-broadcast\n", "L1 allow-client-broadcast!;ok");
    CHECK("  allow-client-broadcast   # on\n", "L1 allow-client-broadcast!;ok");
}

Test(config, missing_equals_sign)
{
    CHECK("workers = 2\nlisten 0.0.0.0:80\n",
          "L1 workers=2;error L2: expected 'name = value': 'listen 0.0.0.0:80'");
}

Test(config, no_name)
{
    CHECK("= 5\n", "error L1: no option name before '=': '= 5'");
    CHECK("  \t= 5\n", "error L1: no option name before '=': '= 5'");
}

Test(config, bad_name_characters)
{
    CHECK("max groups = 5\n", "error L1: not an option name: 'max groups = 5'");
    CHECK("max$groups = 5\n", "error L1: not an option name: 'max$groups = 5'");
    /* a UTF-8 byte order mark is not silently part of a name */
    CHECK("\xef\xbb\xbfworkers = 2\n",
          "error L1: not an option name: '\\xef\\xbb\\xbfworkers = 2'");
}

Test(config, crlf)
{
    CHECK("workers = 2\r\nlisten = a:1\r\n\r\n# c\r\n", "L1 workers=2;L2 listen=a:1;ok");
    /* the same entries as with LF */
    CHECK("workers = 2\nlisten = a:1\n\n# c\n", "L1 workers=2;L2 listen=a:1;ok");
    /* a CR at the end of input, without its LF */
    CHECK("workers = 2\r", "L1 workers=2;ok");
}

Test(config, cr_inside_a_line)
{
    CHECK("workers = 2\rlisten = x\n",
          "error L1: control character in the line: 'workers = 2\\x0dlisten = x'");
}

Test(config, no_trailing_newline)
{
    CHECK("workers = 2\nlisten = a:1", "L1 workers=2;L2 listen=a:1;ok");
    CHECK("workers = 2\n   ", "L1 workers=2;ok");
    CHECK("# only a comment", "ok");
}

Test(config, nul_byte)
{
    static const char in[] = "workers = 2\nmax-groups = 5\0 0\nlisten = a:1\n";
    s_check_n(in, sizeof in - 1,
              "L1 workers=2;error L2: NUL byte in the line: 'max-groups = 5\\x00 0'", 0, NULL);
    /* the line is rejected, not cut at the NUL */
    static const char only[] = "\0";
    s_check_n(only, 1, "error L1: NUL byte in the line: '\\x00'", 0, NULL);
}

Test(config, other_control_bytes)
{
    CHECK("workers = \x01" "2\n", "error L1: control character in the line: 'workers = \\x012'");
    CHECK("workers = 2\x7f\n", "error L1: control character in the line: 'workers = 2\\x7f'");
    CHECK("# \x1b[31m\n", "error L1: control character in the line: '# \\x1b[31m'");
    /* tabs are blanks; bytes >= 0x80 (UTF-8 paths) are allowed in values */
    CHECK("runtime-dir = /tmp/\xc3\xa9t\xc3\xa9\n", "L1 runtime-dir=/tmp/\xc3\xa9t\xc3\xa9;ok");
}

static char *
s_line_of(size_t n, const char *head, const char *tail)
{
    size_t h = strlen(head), t = strlen(tail);
    char *p = malloc(h + n + t + 1);
    cr_assert_not_null(p);
    memcpy(p, head, h);
    memset(p + h, '1', n - h);
    memcpy(p + n, tail, t + 1);
    return p;
}

Test(config, longest_line)
{
    /* exactly CONFIG_LINE_MAX bytes: fine, with LF, CR LF or at the end */
    const char *tails[] = { "\n", "\r\n", "" };
    for (size_t i = 0; i < 3; i++) {
        char *in = s_line_of(CONFIG_LINE_MAX, "v = ", tails[i]);
        out_t o;
        s_parse(in, strlen(in), 0, 0, NULL, &o);
        cr_assert(!strncmp(o.text, "L1 v=111", 8) && strstr(o.text, ";ok"), "%s", o.text);
        cr_assert_eq(strlen(o.text), strlen("L1 v=;ok") + CONFIG_LINE_MAX - 4);
        s_check_n(in, strlen(in), o.text, 0, NULL);
        free(in);
    }
}

Test(config, overlong_line)
{
    /* one byte more, with LF, CR LF, at the end of input, and as a comment */
    const char *heads[] = { "max-message = ", "max-message = ", "max-message = ", "# " };
    const char *tails[] = { "\nworkers = 2\n", "\r\nworkers = 2\r\n", "", "\n" };
    for (size_t i = 0; i < 4; i++) {
        char *in = s_line_of(CONFIG_LINE_MAX + 1, heads[i], tails[i]);
        char *two = malloc(strlen(in) + 16);
        cr_assert_not_null(two);
        sprintf(two, "workers = 1\n%s", in);      /* and on line 2 */
        char want[256];
        snprintf(want, sizeof want, "L1 workers=1;error L2: line longer than %d bytes: '%s",
                 CONFIG_LINE_MAX, heads[i]);
        s_check_n(two, strlen(two), want, 1, NULL);
        out_t o;
        s_parse(two, strlen(two), 0, 0, NULL, &o);
        cr_assert(strstr(o.text, "...'"), "the sample is cut: %s", o.text);
        cr_assert(!strstr(o.text, "workers=2"), "parsing went on after the error: %s", o.text);
        free(two);
        free(in);
    }
}

Test(config, very_long_input_line)
{
    /* 1 MB without a newline: one error, no growth, no crash */
    size_t n = 1 << 20;
    char *in = malloc(n);
    cr_assert_not_null(in);
    memset(in, 'x', n);
    out_t o;
    for (size_t chunk = 1; chunk <= n; chunk *= 64) {
        s_parse(in, n, 0, chunk, NULL, &o);
        cr_assert(!strncmp(o.text, "error L1: line longer than", 26), "%s", o.text);
    }
    free(in);
}

Test(config, callback_stops_for_unknown_option)
{
    /* options.c stops at an unknown name after printing its own error */
    static const char in[] = "workers = 2\n\ncolour = blue\nlisten = a:1\n";
    s_check_n(in, sizeof in - 1, "L1 workers=2;L3 colour=blue;stopped L3", 0, "colour");
    static const char last[] = "workers = 2\ncolour = blue";
    s_check_n(last, sizeof last - 1, "L1 workers=2;L2 colour=blue;stopped L2", 0, "colour");
}

Test(config, error_sample_escapes_quotes)
{
    CHECK("it's = x\n", "error L1: not an option name: 'it\\x27s = x'");
    CHECK("a\\b = x\n", "error L1: not an option name: 'a\\x5cb = x'");
}

Test(config, line_numbers_count_every_line)
{
    CHECK("\n\n# c\n\r\nworkers = 2\n\n\nlisten = a:1\n", "L5 workers=2;L8 listen=a:1;ok");
}

Test(config, destroy_null)
{
    config_t *c = NULL;
    config_destroy(&c);
    config_destroy(NULL);
}

/* Garbage never crashes the parser and every error names a line. */
Test(config, random_bytes)
{
    static char in[65536];
    unsigned x = 12345;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof in; i++) {
            x = x * 1103515245u + 12345u;
            unsigned char c = (unsigned char)(x >> 16);
            /* mostly printable, some newlines, '=', '#', the odd control byte */
            in[i] = (char)(c < 200 ? ' ' + c % 95 : c < 220 ? '\n' : c < 235 ? '=' : c < 245 ? '#'
                                                                   : c);
        }
        out_t o;
        s_parse(in, sizeof in, 0, 1 + round * 37, NULL, &o);
        cr_assert(strstr(o.text, "ok") || strstr(o.text, "error L"), "%.200s", o.text);
    }
}
