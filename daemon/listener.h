/* listener — TCP listening sockets for the supervisor to hand to workers.
 *
 * listener_open() parses "ADDR:PORT" (IPv4, or [IPv6]:PORT), creates a
 * non-blocking socket with SO_REUSEPORT (one per worker, so the kernel
 * spreads connections evenly and a respawned worker inherits its own
 * socket with its backlog intact), binds and listens. Returns the fd, or
 * -1 after logging one error line naming the address. */
#ifndef ZWSD_LISTENER_H
#define ZWSD_LISTENER_H

int listener_open(const char *addr, const char *what);

#endif
