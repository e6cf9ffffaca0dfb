/* status — small datagrams from workers to the supervisor over a
 * SOCK_SEQPACKET pair: "ready" once a worker's broker route is live, and
 * periodic counts for sd_notify STATUS=. Both ends non-blocking; a lost
 * report is harmless (the next one supersedes it). */
#ifndef ZWSD_STATUS_H
#define ZWSD_STATUS_H

#include <stdint.h>

typedef enum { STATUS_READY = 1, STATUS_COUNTS } status_kind_t;

typedef struct {
    int32_t kind;
    int32_t slot;
    int64_t conns;
    int64_t users;
} status_msg_t;

int status_send(int fd, status_kind_t kind, int slot, int64_t conns, int64_t users);
int status_recv(int fd, status_msg_t *m);   /* 1 = got one, 0 = none, -1 = closed */

#endif
