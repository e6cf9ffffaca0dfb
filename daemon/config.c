/* config — see config.h. Bytes collect in a line buffer until LF (or the
 * end of input); a complete line is checked, trimmed and split there, so
 * the chunking of the input cannot matter. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_MAX 40               /* bytes of a bad line quoted in an error */

struct config {
    config_entry_fn on_entry;
    void           *arg;
    int             line;           /* of the line being collected */
    int             failed;         /* a syntax error or on_entry stopped */
    size_t          len;
    char            buf[CONFIG_LINE_MAX + 2];  /* the line, its CR, and a NUL */
    char            err[256];       /* what, and the sample */
};

config_t *
config_new(config_entry_fn on_entry, void *arg)
{
    config_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->on_entry = on_entry;
    self->arg = arg;
    self->line = 1;
    return self;
}

void
config_destroy(config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

/* The first SAMPLE_MAX bytes of p, quoted, with non-printable bytes as \xHH
 * (Redis's setProtocolError habit), so an error line stays one clean line. */
static void
s_sample(char *out, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    out[o++] = '\'';
    for (size_t i = 0; i < n && i < SAMPLE_MAX && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (n > SAMPLE_MAX && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '\'';
    out[o] = '\0';
}

static int
s_fail(config_t *self, const char *what, const char *p, size_t n)
{
    char sample[SAMPLE_MAX * 4 + 8];
    s_sample(sample, sizeof sample, p, n);
    snprintf(self->err, sizeof self->err, "%s: %s", what, sample);
    self->failed = 1;
    return -1;
}

static int
s_too_long(config_t *self, const char *p, size_t n)
{
    char what[48];
    snprintf(what, sizeof what, "line longer than %d bytes", CONFIG_LINE_MAX);
    return s_fail(self, what, p, n);
}

static int
s_blank(char c)
{
    return c == ' ' || c == '\t';
}

static int
s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '-' || c == '_' || c == '.';
}

/* One complete line in buf[0..len) without its LF: check, cut the comment,
 * trim, split at the first '=', hand the entry on. */
static int
s_line(config_t *self)
{
    char *p = self->buf;
    size_t n = self->len;
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n > CONFIG_LINE_MAX)
        return s_too_long(self, p, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\0')
            return s_fail(self, "NUL byte in the line", p, n);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return s_fail(self, "control character in the line", p, n);
    }
    char *hash = memchr(p, '#', n);
    if (hash)
        n = (size_t)(hash - p);
    while (n > 0 && s_blank(p[n - 1]))
        n--;
    while (n > 0 && s_blank(*p)) {
        p++;
        n--;
    }
    if (n == 0)
        return 0;
    p[n] = '\0';
    char *eq = memchr(p, '=', n), *value = NULL;
    size_t name_len = eq ? (size_t)(eq - p) : n;
    while (name_len > 0 && s_blank(p[name_len - 1]))
        name_len--;
    if (name_len == 0)
        return s_fail(self, "no option name before '='", p, n);
    for (size_t i = 0; i < name_len; i++)
        if (!s_name_char(p[i]))
            return s_fail(self, eq ? "not an option name" : "expected 'name = value'", p, n);
    if (eq) {
        value = eq + 1;
        while (s_blank(*value))
            value++;
    }
    p[name_len] = '\0';
    config_entry_t e = { self->line, p, value };
    if (self->on_entry(self->arg, &e) < 0) {
        self->failed = 1;
        self->err[0] = '\0';
        return -1;
    }
    return 0;
}

int
config_feed(config_t *self, const char *data, size_t len)
{
    if (self->failed)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\n') {
            int rc = s_line(self);
            if (rc < 0)
                return -1;
            self->len = 0;
            self->line++;
            continue;
        }
        /* room for the longest line and its CR; one byte more is an error,
         * reported with what was collected */
        if (self->len == CONFIG_LINE_MAX + 1)
            return s_too_long(self, self->buf, self->len);
        self->buf[self->len++] = c;
    }
    return 0;
}

int
config_end(config_t *self)
{
    if (self->failed)
        return -1;
    if (self->len == 0)
        return 0;
    int rc = s_line(self);
    self->len = 0;
    return rc;
}

const char *
config_error(const config_t *self)
{
    return self->failed && self->err[0] ? self->err : NULL;
}

int
config_line(const config_t *self)
{
    return self->line;
}
