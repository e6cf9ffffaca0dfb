/* verdict — the soak's verdict (rules: zwsd-loadgen(1), VERIFICATION),
 * in the coordinator, after run_collect() or for --verify.
 *
 * It reads every child's record file (record.h), sorts the receipts by key
 * and the sessions by user, reads the driver's fault log for the
 * broker-down windows, then judges every id sent: (a) no answer, (b) more
 * than one, (c) delivered but never received, (d) a false offline, (e)
 * unavailable while the broker was up, (f) a duplicate delivery, (g)
 * unavailable yet received, (u) another answer, (x) a delivery to the wrong
 * user; with what excuses each (a session that ended around it, a broker
 * window). It prints the counts, --examples of each violation with
 * everything the records say about it (every violation to
 * RECORD/violations.txt when the records are kept) and the RESULT line.
 * Times are printed as HH:MM:SS.mmm UTC, as scripts/soak.sh stamps zwsd's
 * log. Memory: the records are loaded whole and freed before returning. */
#ifndef LOADGEN_VERDICT_H
#define LOADGEN_VERDICT_H

#include "cfg.h"
#include "run.h"

/* Judges the records in --record and prints the outcome; with --verify the
 * counters come from the records too. Returns the exit status: 1 on any
 * violation, a lost record or no verdict at all (the soak did not start, a
 * child was lost, records missing), else 0. */
int  verdict_print(run_t *run);
/* Removes the children's record files and the directory we made, unless
 * they are to be kept (--record). */
void verdict_cleanup(const cfg_t *cfg);
/* --verify DIR: the verdict on records kept by an earlier soak; takes
 * --conns and --procs from them. Returns the exit status, 2 if DIR holds no
 * soak record. */
int  verdict_verify(cfg_t *cfg, run_t *run);

#endif
