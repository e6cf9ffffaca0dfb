/* soak — a child in soak mode (--mode soak): the same loop as chat, but
 * connections die and come back, and everything is recorded for the
 * verdict (verdict.c).
 *
 * Every close schedules a reconnect after a randomized backoff, as a client
 * would; every chat carries an id; the child records what it sent, what
 * answered each id, what it received and each session's interval (record.h).
 * At STOP, soak_dump() writes the records to --record; the coordinator joins
 * every child's records (a receiver usually lives in another child).
 * Memory: the records grow by doubling; a failed allocation loses a record
 * and is counted (report_t.s_rec_lost), never fatal. child.c calls these in
 * soak mode only. */
#ifndef LOADGEN_SOAK_H
#define LOADGEN_SOAK_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

/* conn_hooks_t in soak mode: note when and how C ended (killed), then file
 * its interval and schedule its reconnect (reaped). */
void    soak_killed(conn_t *c, const char *why, int code);
void    soak_reaped(conn_t *c);
/* C got its welcome (its state is CONN_OPEN already). */
void    soak_opened(conn_t *c);
/* A GO arrived (the first, or one resuming after "pause"). */
void    soak_go(void);
/* An ack frame [p, p + n) for C; a soak error frame's answer goes straight
 * to soak_answer(). */
void    soak_on_ack(conn_t *c, const char *p, size_t n);
/* The answer STATUS (REC_*) to id [id, id + idlen), with the ack's mid (an
 * error's code, an odd ack's status) [mid, mid + midlen). */
void    soak_answer(conn_t *c, const char *id, size_t idlen, uint8_t status, const char *mid,
                    size_t midlen);
/* A chat frame [p, end) reached C; M is its msg value (NULL: none). */
void    soak_recv(conn_t *c, const char *p, const char *m, const char *end);
/* RST from the coordinator: reset up to N connections; answers RSTDONE. */
void    soak_rst(int64_t n);
/* One loop turn: connects, reconnects due, deadlines, READY, sends,
 * PROGRESS. */
void    soak_tick(void);
/* How long the loop may sleep, µs. */
int64_t soak_timeout_us(void);
/* At STOP: every record to RECORD/soak-<idx>.bin. Returns 0 or -1 (logged). */
int     soak_dump(void);

#endif
