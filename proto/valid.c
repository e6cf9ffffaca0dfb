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
