/* ctl — the wire between the coordinator and its children: one
 * SOCK_SEQPACKET socketpair per child, one message per packet.
 *
 * The coordinator never touches a WebSocket: it sequences the phases (READY,
 * GO/END, STOP, group rounds, soak resets) and adds up the children's final
 * reports, so every number is printed from one place. Every message is a
 * ctl_msg_t except the final REPORT, which is a whole report_t; the first
 * word of both is the type. */
#ifndef LOADGEN_CTL_H
#define LOADGEN_CTL_H

#include <stdint.h>

#include "hist.h"

enum { CTL_READY = 1, CTL_GO, CTL_END, CTL_STOP, CTL_PROGRESS, CTL_GSEND, CTL_GDONE, CTL_REPORT,
       CTL_RST, CTL_RSTDONE };

typedef struct {
    uint32_t type;
    uint32_t pad;
    int64_t  v[6];
} ctl_msg_t;
/* READY    v0 opened  v1 failed  v2 µs to settle all
 * GO       v0 t0 (start sending)  v1 t1 (window start)  v2 t2 (window end)
 * END      close the window now (the parent got a signal), then drain as usual
 * PROGRESS v0 sent  v1 received  v2 acks
 * GSEND    v0 k (group message index)
 * GDONE    v0 k  v1 latency of the last member  v2 of the first  v3 members
 * soak: PROGRESS v0 sent  v1 received  v2 answered  v3 open  v4 reconnects  v5 welcomes
 *       RST v0 connections to reset;  RSTDONE v0 how many were */

/* A child's final numbers. Window counters cover [t1, t2); the histogram
 * holds latencies in µs of window receipts (chat) or of every member's copy
 * (group). The soak records store it as it is (record.h): its layout is part
 * of that file format, hence the size check in ctl.c. */
typedef struct {
    uint32_t type, pad;
    uint64_t opened, failed, dropped, pings;
    uint64_t sent, recv, sent_w, recv_w;
    uint64_t ack_delivered, ack_offline, ack_sent, ack_other;
    uint64_t errors, order_err, unexpected;
    /* soak: sends skipped (no open connection), first answers, answers to
     * ids we never sent, welcomes after a connection's first, connections we
     * reset, closes of welcomed sessions by close code (1000, 1001, 1011,
     * 1013, 4001, 4008, other) and by TCP EOF/reset, handshakes timed out,
     * records lost to a failed allocation */
    uint64_t s_skipped, s_answered, s_ack_unknown, s_reconnects, s_rst;
    uint64_t s_cl_code[7], s_cl_tcp, s_timeouts, s_rec_lost;
    uint64_t cpu_w_ns, cpu_ns, window_us;
    hist_t lat;
} report_t;

/* Sends one ctl_msg_t of TYPE with V on FD (send(2) FLAGS). Returns 0, or -1
 * when the peer is gone (errno from send). */
int  ctl_send(int fd, uint32_t type, const int64_t v[6], int flags);
/* Adds a child's counters R to the total T (window_us: the longest). */
void ctl_report_add(report_t *t, const report_t *r);

#endif
