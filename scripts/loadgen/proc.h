/* proc — the state of one child process that more than one of its modules
 * needs, and the child's two ways out: the log and the coordinator's socket.
 *
 * A child owns a slice of the users and runs one loop (child.c), so this is
 * one global, `proc`, zeroed and filled by child_main() before its loop
 * starts. Each field names who writes it; everyone else only reads. State
 * that one module needs stays static in that module (the connection lists
 * in conn.c, the wslay context in ws.c, the chat window in chat.c, the group
 * round in group.c, the soak records in soak.c). The coordinator never reads
 * or writes `proc`. */
#ifndef LOADGEN_PROC_H
#define LOADGEN_PROC_H

#include <stdbool.h>
#include <stdint.h>

#include "cfg.h"
#include "ctl.h"

#define LOG_LIMIT 20            /* diagnostic lines per process */

struct conn;

typedef struct {
    const cfg_t *cfg;           /* child.c: set once */
    int idx;                    /* child.c: this child's index, 0 .. procs-1 */
    int ctl;                    /* child.c: the socket to the coordinator */
    bool stop;                  /* leave the loop: STOP, a signal, or the coordinator gone */
    int64_t now;                /* child.c: µs (clock_now_us), once per loop turn */
    report_t r;                 /* counted by every module; sent by child.c at the end */
    /* child.c: the connection table (conn.h), the user connections first,
     * then in group mode the sender (child 0 only) */
    struct conn *conns;
    uint32_t n;                 /* connections incl. the group sender */
    uint32_t members;           /* user connections */
    /* connecting: child.c, or soak.c in soak mode */
    uint32_t started, opened;
    int64_t c0;                 /* when the first connect was allowed */
    double crate;               /* connects per second for this child */
    bool ready_sent;
    /* child.c, from the last GO; chat.c and soak.c send by it */
    bool go;
    int64_t t0, t1, t2;
    double rate_local;          /* this child's share of --rate */
} proc_t;

extern proc_t proc;

/* A diagnostic line on stderr, "zwsd-loadgen[IDX]: ...", at most LOG_LIMIT
 * per process so that 10,000 identical failures do not bury the result. */
void proc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A message to the coordinator ({a, b, c, d, 0, 0}, or all six values). If
 * it cannot be sent the coordinator is gone: proc.stop is set. */
void proc_send(uint32_t type, int64_t a, int64_t b, int64_t c, int64_t d);
void proc_send6(uint32_t type, const int64_t v[6]);

#endif
