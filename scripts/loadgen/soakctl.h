/* soakctl — the soak as the coordinator runs it: the control FIFO's
 * commands, resets handed out to the children, a progress line a second, and
 * the phases
 *     ready -> ("start") -> send until --duration or "stop" -> --grace
 *           -> --settle (every connection open again) -> ("end").
 * The driver (scripts/soak.sh) writes commands to --control, one a line:
 * start, pause, resume, rst [N], stop, end. The verdict comes after
 * run_collect(), in verdict.c. */
#ifndef LOADGEN_SOAKCTL_H
#define LOADGEN_SOAKCTL_H

#include "run.h"

/* Opens --control, if given, and routes its lines to the command parser.
 * A FIFO that cannot be opened is reported; the soak then runs without it. */
void soakctl_open(run_t *run);
/* The soak after phase 1; sets soak_ran once it started sending. */
void soakctl_run(run_t *run);

#endif
