/* cpu — CPU accounting in the coordinator: the server's (--server-pid and
 * its descendants, from /proc, between two marks) and the generator's own
 * (every child's report plus the coordinator itself). Both share the
 * machine's cores, so the printers show both. */
#ifndef LOADGEN_CPU_H
#define LOADGEN_CPU_H

#include <stdbool.h>

#include "run.h"

/* Marks the start (END false) or the end of the span the server's CPU is
 * charged over: the time and, with --server-pid, its CPU ticks. The pids are
 * listed at the first mark so that the second reads the same set. */
void   cpu_mark(run_t *run, bool end);
/* The server's CPU seconds between the two marks (0 without --server-pid). */
double cpu_server_s(const run_t *run);
/* The generator's whole CPU, s: the children's (run->t, after run_collect)
 * plus the coordinator's. */
double cpu_generator_s(const run_t *run);

#endif
