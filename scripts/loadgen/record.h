/* record — what a soak child records, and the file it leaves: written by
 * soak.c at STOP, read by verdict.c (also later, by --verify). The structs
 * are written as they are, so their layout is the file format; change one
 * and change rec_magic too.
 *
 * All times are CLOCK_MONOTONIC µs (one clock for every process on the
 * host). A message's key k is (child << REC_KBITS) | its index in that
 * child's sends: it goes out as the frame's "id" (decimal) and again as "k"
 * inside msg, so the receiving child names the message without relying on
 * the server's mid, and the ack finds its record in O(1).
 *
 * RECORD/soak-<idx>.bin: a rec_hdr_t, then nsend rec_send_t, nrecv
 * rec_recv_t, nival rec_ival_t, then the child's report_t (ctl.h). */
#ifndef LOADGEN_RECORD_H
#define LOADGEN_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define REC_KBITS 40
#define REC_KMASK ((1ull << REC_KBITS) - 1)

/* What answered an id: an ack's status, or an error's code. */
enum { REC_NONE, REC_DELIVERED, REC_OFFLINE, REC_UNAVAIL_ACK, REC_UNAVAIL_ERR, REC_OTHER_ACK,
       REC_OTHER_ERR, REC_KINDS };

typedef struct {
    uint64_t k;
    int64_t t_send, t_ack, t_ack2;      /* the first and the second answer */
    uint32_t sender, receiver, inst;    /* inst: the sending connection's */
    uint8_t status, status2, nans, pad;
    char mid[40];                       /* first answer: the ack's mid, an error's code or an odd
                                         * ack status */
} rec_send_t;

typedef struct {
    uint64_t k, midh;                   /* midh: rec_fnv() of the mid */
    int64_t t;
    uint32_t user, inst;
} rec_recv_t;

/* One connection of a user that got its 101: [t_up, t_close), welcomed at
 * t_open (0: never). Connections that failed before the 101 had no session
 * on the server and are not recorded. */
#define REC_OURS (-1)                   /* code: we reset it (SO_LINGER 0) */
#define REC_FAIL (-2)                   /* code: we gave up on it (handshake timeout) */
typedef struct {
    int64_t t_up, t_open, t_close;      /* t_close INT64_MAX: still open at the end */
    uint32_t user, inst;
    int32_t code;                       /* close code; 0: TCP EOF or reset; REC_OURS; REC_FAIL */
    uint32_t pad;
} rec_ival_t;

typedef struct {
    char magic[8];
    uint64_t nsend, nrecv, nival;
    int64_t t_dump;                     /* when it was written (the end of the run) */
    uint64_t conns;
    int32_t procs, idx;
} rec_hdr_t;

extern const char rec_magic[8];

/* FNV-1a of [p, p + n): how receipts name the mid they came with. */
uint64_t    rec_fnv(const char *p, size_t n);
/* "delivered", "offline", … for an answer kind (REC_*). */
const char *rec_answer_name(unsigned kind);

#endif
