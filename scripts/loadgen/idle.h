/* idle — the idle mode (--mode idle): how many connections the server takes
 * and holds, and what it costs. The children only connect and answer pings;
 * the coordinator holds them for --duration (0: until SIGINT/SIGTERM), then
 * prints the result and the RESULT line. idle_print() returns the exit
 * status: 1 if any connection failed or was dropped. */
#ifndef LOADGEN_IDLE_H
#define LOADGEN_IDLE_H

#include "run.h"

void idle_run(run_t *run);
int  idle_print(const run_t *run);

#endif
