/* runtime — the runtime directory: created 0700 (or checked: ours and not
 * writable by others), locked through RUNTIME/zwsd.pid with flock so a
 * second daemon on the same directory exits 1, and cleared of the ipc
 * sockets a killed daemon left. Supervisor only. runtime_lock() returns
 * the lock fd (keep it open for the process's life) or -1 after logging.
 * O_CLOEXEC does not help a fork without exec: the caller closes the fd in
 * every child, or an orphan would keep the lock after the supervisor died. */
#ifndef ZWSD_RUNTIME_H
#define ZWSD_RUNTIME_H

int runtime_lock(const char *dir, int embedded);

#endif
