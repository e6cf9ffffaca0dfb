/* group — the group mode (--mode group): the time a group message takes to
 * reach every member, both sides of it.
 *
 * In a child: after its welcome every user connection joins --group and is
 * open once the join is acked; child 0 also holds the sender (user
 * "<prefix>sender", the last entry of its table), which joins too. On GSEND
 * k the sender sends group message k; each member's copy adds its latency
 * to the report's histogram, and when all of this child's members have
 * message k the child answers GDONE with the latencies of the last and the
 * first. The sender's own copy is not counted (child.c drops it).
 *
 * In the coordinator: group_run() sends the messages one at a time, each
 * once the previous one reached every member (GDONE from every child) or
 * --timeout passed; group_print() prints the result and the RESULT line and
 * returns the exit status. */
#ifndef LOADGEN_GROUP_H
#define LOADGEN_GROUP_H

#include <stdint.h>

#include "conn.h"
#include "run.h"

/* Child: C got its welcome: send the join (C waits in CONN_JOIN). */
void group_join(conn_t *c);
/* Child: GSEND k from the coordinator. */
void group_on_gsend(int64_t k);
/* Child: a member got its copy of group message S, LAT µs after it was sent. */
void group_on_copy(int64_t lat, int64_t s);

/* Coordinator: the run after phase 1 (0, or -1 on ENOMEM: perror), and its
 * result. */
int  group_run(run_t *run);
int  group_print(run_t *run);

#endif
