/* reply — control frames to one client: ack, error, presence answer.
 *
 * Worker process only. Each renders the frame (client_json) into a scratch
 * buffer of this module and queues it with conn_send_text(); a conn that
 * cannot take it (closing, or over its cap: then closed 4008) is skipped.
 * reply_ack() does nothing without an id (acks answer frames with an id). */
#ifndef ZWSD_REPLY_H
#define ZWSD_REPLY_H

#include <stdint.h>

#include "client_json.h"
#include "conn.h"

/* reason NULL: the code's standard text. Counts the error in metrics. */
void reply_error(conns_t *cs, conn_t *c, cj_code_t code, const char *reason, cj_str_t id);
void reply_ack(conns_t *cs, conn_t *c, cj_str_t id, const char *mid, const char *status);
/* The same with the stream's position (a `joined` ack: zwsd-protocol(7)). */
void reply_ack_at(conns_t *cs, conn_t *c, cj_str_t id, const char *mid, const char *status,
                  const cj_pos_t *pos);
void reply_presence(conns_t *cs, conn_t *c, const cj_str_t *users, const uint8_t *online,
                    size_t n, cj_str_t id);
/* A C string as a cj_str_t; "" and NULL give no id. */
cj_str_t reply_id(const char *s);

#endif
