/* status — the supervisor's channel to each worker: a SOCK_SEQPACKET pair
 * per worker, one end each, made by status_pair() before the fork.
 *
 * Worker → supervisor, small datagrams: "ready" once the worker's broker
 * route is live, and periodic counts for sd_notify STATUS=. A lost report
 * is harmless (the next one supersedes it).
 *
 * Supervisor → worker: the settings after a SIGHUP, the whole options_t in
 * one datagram (~17 KB; status_pair() makes sure the socket buffer holds
 * several), so the config file is read once, by the supervisor, and every
 * worker runs with the same result. The newest one is what counts.
 *
 * Both ends are non-blocking (MSG_DONTWAIT); each side closes its own end. */
#ifndef ZWSD_STATUS_H
#define ZWSD_STATUS_H

#include <stdint.h>

#include "options.h"

typedef enum { STATUS_READY = 1, STATUS_COUNTS, STATUS_OPTIONS } status_kind_t;

typedef struct {
    int32_t kind;
    int32_t slot;
    int64_t conns;
    int64_t users;
} status_msg_t;

/* sp[0] for the supervisor, sp[1] for the worker, both SOCK_CLOEXEC
 * (which a fork without exec ignores: the supervisor closes what a child
 * does not own). 0, or -1 with errno set. */
int status_pair(int sp[2]);

int status_send(int fd, status_kind_t kind, int slot, int64_t conns, int64_t users);
int status_recv(int fd, status_msg_t *m);   /* 1 = got one, 0 = none, -1 = closed */

/* Supervisor → worker. 0, or -1 with errno set (EAGAIN: the worker's queue
 * is full; send again later). */
int status_send_options(int fd, const options_t *o);
/* Worker: the next settings datagram into o; 1 = got one, 0 = none now,
 * -1 = the supervisor's end is gone. Datagrams of another kind or size are
 * skipped. */
int status_recv_options(int fd, options_t *o);

#endif
