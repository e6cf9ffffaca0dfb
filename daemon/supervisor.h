/* supervisor — the zwsd main process, in the style of nginx's master.
 *
 * Owns the listening sockets, the runtime lock and a process table: the
 * embedded broker (unless --broker) and one worker per slot, all direct
 * children. Respawns a child that dies (at once, then backing off up to
 * 30 s while it keeps crashing); SIGTERM/SIGINT stop the workers (clients
 * get 1001), then the broker, and exit 0 within --shutdown-timeout
 * (SIGKILL for stragglers); SIGHUP reloads the config file; SIGUSR2
 * starts a new generation of workers and drains the old one. Talks to
 * systemd with sd_notify when NOTIFY_SOCKET is set. It does no client I/O.
 * supervisor_run() returns the process exit code (operations.md). */
#ifndef ZWSD_SUPERVISOR_H
#define ZWSD_SUPERVISOR_H

#include "options.h"

int supervisor_run(options_t *opt);

#endif
