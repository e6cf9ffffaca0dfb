/* proto — what differs between zwsd and nchan (see proto.h). */
#include <string.h>

#include "proc.h"
#include "proto.h"
#include "scan.h"

char *
proto_path(char *p, const conn_t *c)
{
    if (proc.cfg->proto == PROTO_ZWSD) {
        p = stpcpy(p, "/ws/");
        return conn_user_name(p, c, c->user);
    }
    if (proc.cfg->mode != MODE_CHAT) {
        p = stpcpy(p, "/sub/");
        return conn_user_name(p, c, c->user);
    }
    p = stpcpy(p, "/ps/");
    p = conn_user_name(p, c, c->user);
    *p++ = '/';
    return conn_user_name(p, NULL, c->peer);
}

bool
proto_greets(void)
{
    return proc.cfg->proto == PROTO_ZWSD;
}

const char *
proto_type(const char *p, const char *end, size_t *tlen)
{
    *tlen = 0;
    if (proc.cfg->proto == PROTO_NCHAN) {
        *tlen = 4;
        return "chat";
    }
    const char *v = scan_key(p, end, "\"type\"", 6);
    if (!v || *v != '"')
        return NULL;
    const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
    if (!q)
        return NULL;
    *tlen = (size_t)(q - v - 1);
    return v + 1;
}
