/* httphead — see httphead.h. */
#include "httphead.h"

#include <string.h>
#include <strings.h>

enum { IN_NONE = 0, IN_FIELD, IN_VALUE };

void
hh_init(hh_t *h, const char *const *names, size_t nnames)
{
    memset(h, 0, sizeof *h);
    h->names = names;
    h->nnames = (uint8_t)nnames;
    h->cur = -1;
}

void
hh_reset(hh_t *h)
{
    hh_init(h, h->names, h->nnames);
}

void
hh_url(hh_t *h, size_t off, size_t len)
{
    if (!h->url_seen) {
        h->url_off = off;
        h->url_seen = 1;
    }
    h->url_len += len;
}

void
hh_field(hh_t *h, size_t off, size_t len)
{
    if (h->in != IN_FIELD) {
        h->field_off = off;
        h->field_len = 0;
        h->in = IN_FIELD;
    }
    h->field_len += len;
}

static int
s_classify(const hh_t *h, const char *base)
{
    const char *name = base + h->field_off;
    for (int i = 0; i < h->nnames; i++)
        if (strlen(h->names[i]) == h->field_len
            && strncasecmp(name, h->names[i], h->field_len) == 0)
            return i + 1;
    return 0;
}

/* http-parser calls on_header_value at least once per header (len 0 for an
 * empty value), so the name is complete when its value starts. */
int
hh_value(hh_t *h, const char *base, size_t off, size_t len)
{
    if (h->in != IN_VALUE) {
        h->in = IN_VALUE;
        h->value_end = off;
        h->cur = -1;
        int kind = s_classify(h, base);
        if (kind) {
            if (h->nf == HH_FIELDS_MAX) {
                h->overflow = 1;
                return -1;
            }
            h->cur = (int16_t)h->nf;
            h->f[h->nf++] = (hh_field_t){ (uint8_t)kind, (uint32_t)off, 0 };
        }
    }
    if (off != h->value_end)
        h->folded = 1;
    h->value_end = off + len;
    if (h->cur >= 0)
        h->f[h->cur].len += (uint32_t)len;
    return 0;
}

void
hh_end(hh_t *h)
{
    h->in = IN_NONE;
    h->cur = -1;
}

void
hh_shift(hh_t *h, size_t delta)
{
    if (h->url_seen)
        h->url_off -= delta;
    if (h->in != IN_NONE) {
        h->field_off -= delta;
        h->value_end = h->value_end >= delta ? h->value_end - delta : 0;
    }
    for (int i = 0; i < h->nf; i++)
        h->f[i].off -= (uint32_t)delta;
}

size_t
hh_count(const hh_t *h, int kind)
{
    size_t n = 0;
    for (int i = 0; i < h->nf; i++)
        n += h->f[i].kind == kind;
    return n;
}

const hh_field_t *
hh_nth(const hh_t *h, int kind, size_t n)
{
    for (int i = 0; i < h->nf; i++)
        if (h->f[i].kind == kind && n-- == 0)
            return &h->f[i];
    return NULL;
}

static int
s_ows(char c)
{
    return c == ' ' || c == '\t';
}

const char *
hh_trim(const char *s, size_t *n)
{
    while (*n && s_ows(s[0])) {
        s++;
        (*n)--;
    }
    while (*n && s_ows(s[*n - 1]))
        (*n)--;
    return s;
}

int
hh_list_has(const char *s, size_t n, const char *tok, int ci)
{
    size_t tlen = strlen(tok);
    while (n > 0) {
        const char *comma = memchr(s, ',', n);
        size_t elen = comma ? (size_t)(comma - s) : n;
        size_t tn = elen;
        const char *e = hh_trim(s, &tn);
        if (tn == tlen && (ci ? strncasecmp(e, tok, tlen) : strncmp(e, tok, tlen)) == 0)
            return 1;
        if (!comma)
            break;
        s += elen + 1;
        n -= elen + 1;
    }
    return 0;
}

const char *
hh_bearer(const char *v, size_t n, size_t *tn)
{
    v = hh_trim(v, &n);
    if (n < 6 || strncasecmp(v, "bearer", 6) != 0 || (n > 6 && !s_ows(v[6])))
        return NULL;
    *tn = n - 6;
    return hh_trim(v + 6, tn);
}

const char *
hh_param(const char *q, size_t qn, const char *name, size_t *vn)
{
    size_t k = strlen(name);
    while (q && qn > 0) {
        const char *amp = memchr(q, '&', qn);
        size_t pn = amp ? (size_t)(amp - q) : qn;
        if (pn >= k && memcmp(q, name, k) == 0) {
            *vn = pn - k;
            return q + k;
        }
        if (!amp)
            break;
        q += pn + 1;
        qn -= pn + 1;
    }
    return NULL;
}

static int
s_hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int
hh_unescape(const char *in, size_t n, char *out, size_t *on)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[k++] = in[i];
            continue;
        }
        int hi = i + 2 < n ? s_hex(in[i + 1]) : -1;
        int lo = hi >= 0 ? s_hex(in[i + 2]) : -1;
        if (lo < 0)
            return -1;
        if ((hi << 4 | lo) == 0)
            return -2;
        out[k++] = (char)(hi << 4 | lo);
        i += 2;
    }
    *on = k;
    return 0;
}
