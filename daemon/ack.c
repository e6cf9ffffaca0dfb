/* ack — see ack.h. */
#include "ack.h"

#include <string.h>

void
ack_link_probe_back(ack_link_t *l, uint64_t seq, int64_t now)
{
    /* probes come back every 100 ms or more often; a longer silence means
     * the broker or our connection to it went away and came back, and what
     * was in flight then (a chat, its receipt) may be lost */
    if (l->last_back && now - l->last_back > ACK_GAP_MS)
        l->disturbed_at = now;
    l->last_back = now;
    if (seq > l->confirmed)
        l->confirmed = seq;
}

void
ack_link_hello(ack_link_t *l, int64_t now)
{
    l->disturbed_at = now;
}

int
ack_link_up(const ack_link_t *l, int64_t now)
{
    return l->last_back && now - l->last_back <= ACK_ALIVE_MS;
}

int
ack_link_ever_up(const ack_link_t *l)
{
    return l->last_back != 0;
}

int
ack_link_routed(const ack_link_t *l, uint64_t seq, int64_t sent_ms, int64_t now)
{
    return l->last_back && l->confirmed > seq && l->disturbed_at < sent_ms
           && now - l->last_back <= ACK_GAP_MS;
}

int
ack_link_calm(const ack_link_t *l, int64_t now, int64_t window)
{
    return l->last_back && now - l->last_back <= ACK_GAP_MS && now - l->disturbed_at >= window;
}

int
ack_link_reproven(const ack_link_t *l, int64_t now)
{
    return l->last_back && l->last_back > l->disturbed_at && now - l->last_back <= ACK_GAP_MS;
}

void
ack_init(ack_t *a, uint64_t seq, int64_t now, int64_t deadline)
{
    memset(a, 0, sizeof *a);
    a->seq = seq;
    a->sent_ms = now;
    a->deadline = deadline;
}

void
ack_copyable(ack_t *a)
{
    a->copyable = 1;
}

static ack_verdict_t
s_decide(ack_t *a, ack_verdict_t v)
{
    a->verdict = (uint8_t)v;
    return v;
}

ack_verdict_t
ack_receipt(ack_t *a, ack_rcpt_t r)
{
    if (a->verdict != ACK_PENDING)
        return ACK_PENDING;             /* decided already: nothing new */
    switch (r) {
    case ACK_RCPT_DELIVERED:
        return s_decide(a, ACK_DELIVERED);
    case ACK_RCPT_NOSESSION:
        a->nosession = 1;
        return ACK_PENDING;
    case ACK_RCPT_OFFLINE:
        /* after a copy, the first may still have reached a session whose
         * receipt is lost or late: the deadline weighs it (ack.h) */
        if (!a->retried)
            return s_decide(a, ACK_OFFLINE);
        a->offline = 1;
        return ACK_PENDING;
    case ACK_RCPT_UNAVAILABLE:
        /* a broker still learning routes did not forward the copy; the
         * first may still be answered */
        return a->retried ? ACK_PENDING : s_decide(a, ACK_UNAVAILABLE);
    }
    return ACK_PENDING;
}

/* When the next copy is due, or -1 for none: the first at ACK_RETRY_MS, a
 * second at ACK_RETRY2_MS if the first found no session. */
static int64_t
s_copy_due(const ack_t *a)
{
    if (!a->copyable)
        return -1;
    if (a->retried == 0)
        return a->sent_ms + ACK_RETRY_MS;
    if (a->retried == 1 && (a->offline || a->nosession))
        return a->sent_ms + ACK_RETRY2_MS;
    return -1;
}

ack_verdict_t
ack_tick(ack_t *a, const ack_link_t *l, int64_t now)
{
    if (a->verdict != ACK_PENDING)
        return ACK_PENDING;
    if (now < a->deadline) {
        int64_t due = s_copy_due(a);
        if (due < 0 || now < due || now > a->sent_ms + ACK_RETRY_LAST_MS
            || !ack_link_reproven(l, now))
            return ACK_PENDING;
        a->retried++;
        return ACK_RETRY;
    }
    /* Silence from every subscriber is not `offline`: a worker that got it
     * would have said delivered or nosession. Only a nosession answer, or
     * the broker's offline to the copy, over a link that proves the chat
     * went through undisturbed, is. */
    if ((a->nosession || a->offline) && ack_link_routed(l, a->seq, a->sent_ms, now))
        return s_decide(a, ACK_OFFLINE);
    return s_decide(a, ACK_UNAVAILABLE);
}

int64_t
ack_wake(const ack_t *a, int64_t now)
{
    if (a->verdict != ACK_PENDING)
        return INT64_MAX;
    int64_t t = s_copy_due(a);
    if (t >= 0 && now < a->sent_ms + ACK_RETRY_LAST_MS) {
        if (t <= now)
            t = now + ACK_RECHECK_MS;   /* waiting for the link */
        return t < a->deadline ? t : a->deadline;
    }
    return a->deadline > now ? a->deadline : now + 1;
}

const char *
ack_verdict_name(ack_verdict_t v)
{
    switch (v) {
    case ACK_DELIVERED:   return "delivered";
    case ACK_OFFLINE:     return "offline";
    case ACK_UNAVAILABLE: return "unavailable";
    default:              return NULL;
    }
}

static const char *const s_rcpt[] = {
    [ACK_RCPT_DELIVERED] = "delivered",
    [ACK_RCPT_OFFLINE] = "offline",
    [ACK_RCPT_NOSESSION] = "nosession",
    [ACK_RCPT_UNAVAILABLE] = "unavailable",
};

int
ack_rcpt_parse(const char *s, uint32_t n, ack_rcpt_t *out)
{
    for (size_t i = 0; s && i < sizeof s_rcpt / sizeof s_rcpt[0]; i++)
        if (strlen(s_rcpt[i]) == n && !memcmp(s_rcpt[i], s, n)) {
            *out = (ack_rcpt_t)i;
            return 0;
        }
    return -1;
}

const char *
ack_rcpt_name(ack_rcpt_t r)
{
    return (unsigned)r < sizeof s_rcpt / sizeof s_rcpt[0] ? s_rcpt[r] : "offline";
}
