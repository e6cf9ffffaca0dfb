/* ctl — coordinator <-> child messages (see ctl.h). */
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "ctl.h"

/* report_t is written to and read from soak record files: a new field or a
 * new order changes the file format (and record.h's magic must follow). */
_Static_assert(sizeof(report_t) == 8 + 36 * 8 + HIST_N * 8, "report_t layout");
_Static_assert(offsetof(report_t, lat) == 8 + 33 * 8, "report_t layout");

int
ctl_send(int fd, uint32_t type, const int64_t v[6], int flags)
{
    ctl_msg_t m = { .type = type };
    memcpy(m.v, v, sizeof m.v);
    return send(fd, &m, sizeof m, flags) < 0 ? -1 : 0;
}

void
ctl_report_add(report_t *t, const report_t *r)
{
    t->opened += r->opened;
    t->failed += r->failed;
    t->dropped += r->dropped;
    t->pings += r->pings;
    t->sent += r->sent;
    t->recv += r->recv;
    t->sent_w += r->sent_w;
    t->recv_w += r->recv_w;
    t->ack_delivered += r->ack_delivered;
    t->ack_offline += r->ack_offline;
    t->ack_sent += r->ack_sent;
    t->ack_other += r->ack_other;
    t->errors += r->errors;
    t->order_err += r->order_err;
    t->unexpected += r->unexpected;
    t->s_skipped += r->s_skipped;
    t->s_answered += r->s_answered;
    t->s_ack_unknown += r->s_ack_unknown;
    t->s_reconnects += r->s_reconnects;
    t->s_rst += r->s_rst;
    for (unsigned j = 0; j < 7; j++)
        t->s_cl_code[j] += r->s_cl_code[j];
    t->s_cl_tcp += r->s_cl_tcp;
    t->s_timeouts += r->s_timeouts;
    t->s_rec_lost += r->s_rec_lost;
    t->cpu_w_ns += r->cpu_w_ns;
    t->cpu_ns += r->cpu_ns;
    t->window_us = r->window_us > t->window_us ? r->window_us : t->window_us;
    hist_merge(&t->lat, &r->lat);
}
