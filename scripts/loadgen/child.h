/* child — one of zwsd-loadgen's worker processes (--procs of them), from
 * fork to exit.
 *
 * A child owns the users lo .. lo + members - 1 (an equal slice of --conns;
 * child 0 also holds the group sender in group mode) and runs one
 * level-triggered epoll loop over their connections and its socket to the
 * coordinator. Each loop turn reads the events (ws_event, the ctl socket),
 * runs the mode's turn (connect pacing and chat_tick, or soak_tick), writes
 * what the turn queued (conn_flush) and frees what died (conn_reap).
 * child.c is the owner of the child's modules: it sets up proc (proc.h),
 * hands conn its hooks and ws its text handler, and classifies every server
 * text frame (chat, group, ack, welcome, error) for the mode.
 *
 * It obeys the coordinator until STOP (or a signal, or the coordinator's
 * end), then sends its report_t, writes its soak records, and closes every
 * connection politely (ws_close_all). SIGINT is ignored (the coordinator
 * decides); SIGTERM, also sent when the coordinator dies, ends the loop. */
#ifndef LOADGEN_CHILD_H
#define LOADGEN_CHILD_H

#include "cfg.h"

/* The child IDX of cfg->procs, talking to the coordinator on CTL. Returns
 * the process's exit status: 0, or 1 if it could not set up (logged). */
int child_main(const cfg_t *cfg, int idx, int ctl);

#endif
