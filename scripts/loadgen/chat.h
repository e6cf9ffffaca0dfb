/* chat — the chat mode (--mode chat): 1:1 throughput and latency, both
 * sides of it.
 *
 * In a child: user i sends to user (i + N/2) mod N, open loop (--rate: this
 * child's share, each message at its own time, or in rounds --tick apart)
 * or closed loop (--inflight K: K messages per sender at GO, then one more
 * per receipt). Each message carries its send time "t" and the sender's
 * sequence "s"; the receiver counts it, checks the order and, inside the
 * measurement window [t1, t2) of the GO, adds its latency to the report's
 * histogram. After t2 the child reports PROGRESS every 100 ms so the
 * coordinator knows when everything sent has arrived.
 *
 * In the coordinator: chat_run() sends GO with the phase times, marks the
 * window's edges for the server's CPU and waits for the drain; chat_print()
 * prints the result and the RESULT line and returns the exit status.
 *
 * Cost, measured on the 2-core VM this was written on (zwsd, 1,000 users):
 * open loop at 20k msgs/s about 20 µs of generator CPU per message, nearly
 * all of it kernel time (a loopback write() runs the receiver's TCP path in
 * the writer's context); closed loop 0.9 µs, since frames then coalesce. */
#ifndef LOADGEN_CHAT_H
#define LOADGEN_CHAT_H

#include <stdint.h>

#include "conn.h"
#include "run.h"

/* Child: allocates the frame buffer. Returns 0, or -1 (ENOMEM). */
int     chat_init(void);
/* Queues C's next chat to its peer. */
void    chat_send(conn_t *c);
/* A chat of ours reached C, LAT µs after it was sent. */
void    chat_on_receipt(conn_t *c, int64_t lat);
/* One loop turn: start, window edges, open-loop sends, PROGRESS. */
void    chat_tick(void);
/* T (µs) shortened to chat's next deadline; may be negative (none left). */
int64_t chat_timeout_us(int64_t t);
/* Closes the window if it is open (a signal or STOP came first). */
void    chat_window_close(void);

/* Coordinator: the run after phase 1, and its result. */
void    chat_run(run_t *run);
int     chat_print(const run_t *run);

#endif
