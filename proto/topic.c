/* topic — see topic.h. */
#include "topic.h"

#include <string.h>

#include "valid.h"

size_t
topic_make(char *buf, topic_kind_t kind, const char *name, size_t len)
{
    if (kind == TOPIC_BCAST || kind == TOPIC_BROKER) {
        buf[0] = (char)kind;
        buf[1] = '|';
        buf[2] = '\0';
        return 2;
    }
    if (len == 0 || len > VALID_NAME_MAX)
        return 0;
    buf[0] = (char)kind;
    buf[1] = ':';
    memcpy(buf + 2, name, len);
    buf[2 + len] = '|';
    buf[3 + len] = '\0';
    return len + 3;
}

int
topic_parse(const char *t, size_t len, topic_kind_t *kind, const char **name,
            size_t *name_len)
{
    if (len < 2 || t[len - 1] != '|')
        return -1;
    switch (t[0]) {
    case TOPIC_BCAST:
    case TOPIC_BROKER:
        if (len != 2)
            return -1;
        *kind = (topic_kind_t)t[0];
        *name = t + 1;
        *name_len = 0;
        return 0;
    case TOPIC_USER:
    case TOPIC_GROUP:
    case TOPIC_WORKER:
        if (len < 4 || len - 3 > VALID_NAME_MAX || t[1] != ':' || memchr(t + 2, '|', len - 3))
            return -1;
        *kind = (topic_kind_t)t[0];
        *name = t + 2;
        *name_len = len - 3;
        return 0;
    default:
        return -1;
    }
}
