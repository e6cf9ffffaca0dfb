/* gate — who may connect to a worker, and for how long: the connection
 * limits at accept (--max-conns-per-ip, --max-conns), the origin allow-list
 * and head limit handed to every handshake (--allowed-origins, --max-head),
 * the demo pages beside the upgrade (--demo, demo.h),
 * the JWT verdict at the upgrade (--jwt-secret-file, --jwt-public-key-file,
 * --jwt-leeway), the token's deadline for the session's whole life, and the
 * `refresh` frame that moves it (zwsd-protocol(7) "Connecting", "Close
 * codes"; zwsd(8) OPTIONS).
 *
 * Worker process only; calls auth (the verdict), theap (deadlines), peers
 * (per-address counts), conn (closes) and metrics; it knows nothing of
 * sessions beyond the gate_ticket_t each one embeds. worker.c owns the gate
 * and calls it from its accept path and its conn events:
 *   accept      gate_accept()   counts the peer; over a limit the conn is
 *                               marked to be refused once its head is in
 *                               (so the client reads the answer, not a
 *                               reset), or closed at once when too many
 *                               wait for a refusal already;
 *   on_upgrade  gate_upgrade()  429/503 for a marked conn, else the JWT:
 *                               401/403 refused, or a deadline;
 *               gate_start()    once the session is attached;
 *   on_closed   gate_forget()   before the session is freed;
 *   on_freed    gate_freed()    every conn, at its reap;
 *   each turn   gate_expire()   closes sessions past their deadline, 4003;
 *   SIGHUP      gate_reload()   the options changed: key file read again.
 * Keys are read at gate_new() and gate_reload() only. Limits are per
 * worker, as every connection is. */
#ifndef ZWSD_GATE_H
#define ZWSD_GATE_H

#include <stdint.h>
#include <sys/socket.h>

#include "client_json.h"
#include "conn.h"
#include "handshake.h"
#include "options.h"
#include "theap.h"

typedef struct gate gate_t;

/* A session's token deadline; embedded in the session, zeroed at birth. */
typedef struct {
    theap_node_t node;          /* in the gate's heap while there is a deadline */
    conn_t      *conn;
} gate_ticket_t;

/* The close code of a session whose token expired (zwsd-protocol(7)). */
#define GATE_CLOSE_EXPIRED 4003

/* opt: the worker's live options (read again by gate_reload()); fd_cap: the
 * fd table's size, from which --max-conns defaults; seed: random, for the
 * per-address table. NULL on failure with why filled: errno is EINVAL when
 * the key file is unusable (a configuration error), ENOMEM otherwise. */
gate_t *gate_new(const options_t *opt, int fd_cap, uint64_t seed, char *why, size_t len);
void    gate_destroy(gate_t **self_p);

/* What conns_set_handshake() takes: lives as long as the gate. */
const handshake_cfg_t *gate_handshake(const gate_t *self);
/* The connection limit in force (--max-conns, or its default). */
int     gate_max_conns(const gate_t *self);
/* After the options changed: origins, head limit, and the key file read
 * again (a file that cannot be read keeps the current key, with a
 * warning); auth turned off drops every session's deadline. */
void    gate_reload(gate_t *self);

/* c was just accepted from sa (NULL when unknown): counts it, and marks it
 * or closes it (conn_drop) when it is over a limit. */
void    gate_accept(gate_t *self, conns_t *cs, conn_t *c, const struct sockaddr *sa,
                    socklen_t salen);
/* on_freed: uncounts c. */
void    gate_freed(gate_t *self, conn_t *c);

/* on_upgrade, before a session is attached: 0 (admitted; *deadline is the
 * wall-clock ms at which the session must end, 0 = never), or 1 with the
 * refusal in u (status, body, headers). */
int     gate_upgrade(gate_t *self, conn_t *c, conn_upgrade_t *u, int64_t *deadline);
/* The session of c is attached: its ticket starts with deadline (from
 * gate_upgrade). 0, or -1 on ENOMEM (then drop the conn). */
int     gate_start(gate_t *self, gate_ticket_t *t, conn_t *c, int64_t deadline);
/* The session ends: its ticket leaves the heap. */
void    gate_forget(gate_t *self, gate_ticket_t *t);

/* A refresh frame from user's session: CJ_OK (the new token's deadline
 * replaces the old one; with auth off nothing changes), or the error code
 * to answer with (unauthorized, forbidden, unavailable) and *reason. */
cj_code_t gate_refresh(gate_t *self, gate_ticket_t *t, const char *user, cj_str_t token,
                       const char **reason);

/* Close with 4003 every session whose deadline passed (wall clock). */
void    gate_expire(gate_t *self, conns_t *cs);

#endif
