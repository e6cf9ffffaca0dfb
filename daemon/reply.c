/* reply — see reply.h. */
#include "reply.h"

#include <string.h>

#include "metrics.h"

static buf_t s_ctl;             /* one worker per process, one frame at a time */

static const char *s_reasons[CJ_CODE_COUNT] = {
    [CJ_BAD_JSON] = "the text is not valid JSON",
    [CJ_BAD_REQUEST] = "missing or invalid field",
    [CJ_UNKNOWN_TYPE] = "unknown type",
    [CJ_NOT_MEMBER] = "not a member of that group",
    [CJ_FORBIDDEN] = "not allowed",
    [CJ_TOO_MANY] = "over the limit",
    [CJ_RATE_LIMITED] = "rate limit exceeded",
    [CJ_UNSUPPORTED] = "binary frames are not supported",
    [CJ_UNAVAILABLE] = "the broker cannot be reached; the message was not sent",
    [CJ_UNAUTHORIZED] = "token refused",
};

cj_str_t
reply_id(const char *s)
{
    cj_str_t id = { s && *s ? s : NULL, s ? strlen(s) : 0 };
    return id;
}

void
reply_error(conns_t *cs, conn_t *c, cj_code_t code, const char *reason, cj_str_t id)
{
    if ((unsigned)code >= CJ_CODE_COUNT)
        return;
    metrics_inc((metric_t)(M_ERR_BASE + code));
    s_ctl.len = 0;
    if (cj_render_error(&s_ctl, code, reason ? reason : s_reasons[code], id) == 0)
        conn_send_text(cs, c, s_ctl.data, s_ctl.len);
}

void
reply_ack(conns_t *cs, conn_t *c, cj_str_t id, const char *mid, const char *status)
{
    reply_ack_at(cs, c, id, mid, status, NULL);
}

void
reply_ack_at(conns_t *cs, conn_t *c, cj_str_t id, const char *mid, const char *status,
             const cj_pos_t *pos)
{
    if (!id.p)
        return;
    s_ctl.len = 0;
    if (cj_render_ack_at(&s_ctl, id, mid, status, pos) == 0)
        conn_send_text(cs, c, s_ctl.data, s_ctl.len);
}

void
reply_presence(conns_t *cs, conn_t *c, const cj_str_t *users, const uint8_t *online, size_t n,
               cj_str_t id)
{
    s_ctl.len = 0;
    if (cj_render_presence(&s_ctl, users, online, n, id) == 0)
        conn_send_text(cs, c, s_ctl.data, s_ctl.len);
}
