/* valid — see valid.h. */
#include "valid.h"

int
valid_name(const char *s, size_t len)
{
    if (len < 1 || len > VALID_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '.' || c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

int
valid_id(const char *s, size_t len)
{
    if (len < 1 || len > VALID_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e)
            return 0;
    }
    return 1;
}

int
valid_since(const char *s, size_t len, const char **epoch, size_t *epoch_len, uint64_t *seq)
{
    size_t colon = len;
    while (colon > 0 && s[colon - 1] != ':')
        colon--;
    if (colon < 2 || colon - 1 > VALID_EPOCH_MAX || len - colon < 1 || len - colon > 20)
        return 0;
    for (size_t i = 0; i < colon - 1; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return 0;
    uint64_t v = 0;
    for (size_t i = colon; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *epoch = s;
    *epoch_len = colon - 1;
    *seq = v;
    return 1;
}
