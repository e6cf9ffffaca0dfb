/* supervisor — the zwsd main process, in the style of nginx's master.
 *
 * Owns the listening sockets, the runtime lock and a process table: the
 * embedded broker (unless --broker) and one worker per slot, all direct
 * children, forked without exec. Each child closes right after fork what
 * it does not own (the lock, the other children's status sockets, the
 * other slots' listeners), so a dead supervisor's lock is free at once.
 *
 * Respawns a child that dies (at once, then backing off up to 30 s while
 * it keeps crashing), except one that exits 2: that is a configuration
 * error it would meet again, so the supervisor logs one error line, stops
 * the rest gracefully and returns 2. SIGTERM/SIGINT stop the workers
 * (clients get 1001), then the broker, and return 0 within
 * --shutdown-timeout (SIGKILL for stragglers). SIGHUP re-reads the config
 * file here, once, and sends the result to every worker over its status
 * socket (status.h); workers never read the file. SIGUSR2 starts a new
 * generation of workers and drains the old one. Talks to systemd with
 * sd_notify when NOTIFY_SOCKET is set. It does no client I/O.
 * supervisor_run() returns the process exit code (zwsd(8), EXIT STATUS). */
#ifndef ZWSD_SUPERVISOR_H
#define ZWSD_SUPERVISOR_H

#include "options.h"

int supervisor_run(options_t *opt);

#endif
