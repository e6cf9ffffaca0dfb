/* wsframe — see wsframe.h. */
#include "wsframe.h"

size_t
wsf_header_len(const uint8_t *h)
{
    uint8_t l7 = h[1] & 0x7f;
    return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}

uint64_t
wsf_payload_len(const uint8_t *h)
{
    uint8_t l7 = h[1] & 0x7f;
    uint64_t len = l7;
    if (l7 == 126)
        len = (uint64_t)h[2] << 8 | h[3];
    if (l7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
    }
    return len;
}

uint16_t
wsf_check(const uint8_t *hdr, int frag_open)
{
    uint8_t op = hdr[0] & 0x0f, fin = hdr[0] & 0x80;
    uint64_t len = wsf_payload_len(hdr);
    if (hdr[0] & 0x70)                          /* RSV1-3: no extension */
        return 1002;
    if (!(hdr[1] & 0x80))                       /* clients must mask */
        return 1002;
    if ((hdr[1] & 0x7f) == 127 && (hdr[2] & 0x80))
        return 1002;
    if (op >= 8) {
        if (op > 10 || !fin || len > 125 || (op == 8 && len == 1))
            return 1002;
        return 0;
    }
    if (op > 2)
        return 1002;                            /* reserved data opcodes */
    if (op == 0 && !frag_open)
        return 1002;                            /* continuation of nothing */
    if (op != 0 && frag_open)
        return 1002;                            /* a new message inside one */
    return 0;
}

int
wsf_scan(wsf_scan_t *s, const uint8_t *p, size_t n, size_t *bad_at)
{
    const uint8_t *start = p;
    size_t hdr_at = 0;
    while (n > 0) {
        if (s->left > 0) {
            size_t k = n < s->left ? n : (size_t)s->left;
            s->left -= k;
            p += k;
            n -= k;
            continue;
        }
        if (s->have == 0)
            hdr_at = (size_t)(p - start);
        s->hdr[s->have++] = *p++;
        n--;
        if (s->have == 2)
            s->need = (uint8_t)wsf_header_len(s->hdr);
        if (s->have < 2 || s->have < s->need)
            continue;
        uint16_t bad = wsf_check(s->hdr, s->frag);
        if (bad) {
            *bad_at = hdr_at;
            return bad;
        }
        if ((s->hdr[0] & 0x0f) < 8)             /* data frame: FIN decides */
            s->frag = !(s->hdr[0] & 0x80);
        if ((s->hdr[0] & 0x0f) == 8)
            s->close_seen = 1;
        s->left = wsf_payload_len(s->hdr);
        s->have = s->need = 0;
    }
    return 0;
}

int
wsf_at_boundary(const wsf_scan_t *s)
{
    return s->have == 0 && s->left == 0 && !s->frag;
}
