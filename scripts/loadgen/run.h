/* run — one run as the coordinator (the parent process) sees it: its
 * children, their messages, and what the modes note while they drive them.
 *
 * main.c owns the one run_t (static: it is large) and calls, in order,
 * run_spawn(), run_wait_ready(), the mode's driver (idle.c, chat.c,
 * group.c, soakctl.c), run_collect(), the mode's printer, run_free(). The
 * drivers wait with run_poll(), which files every child message it reads in
 * the run_t; a child whose socket reaches EOF is marked gone, and every
 * driver gives up when run_any_gone(). */
#ifndef LOADGEN_RUN_H
#define LOADGEN_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cfg.h"
#include "ctl.h"

typedef struct {
    pid_t pid;
    int fd;
    bool ready, reported, gone;
    ctl_msg_t ready_msg, progress;
    report_t rep;
} kid_t;

typedef struct run {
    const cfg_t *cfg;
    kid_t kids[MAX_PROCS];
    int64_t start;
    uint64_t opened, failed;    /* from the READY messages */
    double connect_s, held_s;
    bool all_ready;             /* every child reported READY, no signal */
    bool lost_child;            /* a child died or did not report */
    /* server CPU (--server-pid) over [m0, m1]: cpu.c */
    pid_t spids[256];
    int nspids;
    int64_t srv0, srv1, m0, m1;
    /* group rounds: the one in flight, then per completed message (group.c;
     * glast, gfirst freed by run_free) */
    int64_t gk, g_last, g_first;
    int gdone;
    int64_t *glast, *gfirst;
    long gcomplete, gincomplete;
    report_t t;                 /* the children's reports added up (run_collect) */
    /* soak (soakctl.c): the control FIFO and what it asked for; run_poll
     * reads the FIFO and hands each complete line to on_line */
    int ctlfd;
    void (*on_line)(struct run *run, char *line);
    char cbuf[512];
    size_t clen;
    bool c_start, c_stop, c_end, c_pause, c_resume, soak_ran;
    int64_t rst_req;            /* connections to reset, not yet handed out */
    int rst_wait;               /* children yet to answer the RST handed out */
    int64_t rst_n, rst_t0, rst_total, rst_steps;
    bool rst_active;            /* handed out, not all answered */
    int64_t t_go, t_stop, t_end, next_prog;
} run_t;

/* The body of a child: returns its exit status. */
typedef int (*run_child_fn)(const cfg_t *cfg, int idx, int ctl);

/* Forks the children, one socketpair each; each runs CHILD and exits with
 * its status. Returns 0 or -1 (perror). */
int  run_spawn(run_t *run, run_child_fn child);
/* Waits until UNTIL_US (100 ms at most) for messages from the children and
 * the control FIFO, and files them: READY, PROGRESS, the GDONE of the group
 * round in flight, RSTDONE, REPORT. */
void run_poll(run_t *run, int64_t until_us);
/* A ctl message {a, b, c} to child I, unless it is gone. */
void run_send(run_t *run, int i, uint32_t type, int64_t a, int64_t b, int64_t c);
bool run_any_gone(const run_t *run);
/* Phase 1: every child has every connection open (welcome, and in group
 * mode the join ack) or failed; prints the "connected" line. Returns
 * whether the mode should run. */
bool run_wait_ready(run_t *run);
/* STOP every child, collect the reports (10 s at most), reap, add up into
 * run->t; a child that did not report or exit 0 sets lost_child. */
void run_collect(run_t *run);
/* What a run allocated. */
void run_free(run_t *run);

#endif
