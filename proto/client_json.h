/* client_json — the client-facing JSON frames of zwsd-protocol(7).
 *
 * cj_parse() turns one text message into a cj_frame_t, checking every field
 * (protocol.md "Frames"); it returns CJ_OK or the error code to answer with.
 * On any return the caller must cj_frame_clear() the frame; f->id is set
 * whenever the frame carried a valid id (so errors can echo it). Strings in
 * the frame point into f->root (jansson), f->msg is owned by the frame.
 *
 * The cj_render_*() functions append one complete server frame to out and
 * return 0, or -1 on ENOMEM. Names and mids passed in must already be valid
 * (they are emitted without escaping); ids and msg text are emitted as given
 * (msg is already JSON). Pure: no I/O, no globals but a reusable scratch. */
#ifndef ZWSD_CLIENT_JSON_H
#define ZWSD_CLIENT_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define CJ_PRESENCE_MAX 100

typedef enum {
    CJ_OK = 0,
    CJ_BAD_JSON,
    CJ_BAD_REQUEST,
    CJ_UNKNOWN_TYPE,
    CJ_NOT_MEMBER,
    CJ_FORBIDDEN,
    CJ_TOO_MANY,
    CJ_RATE_LIMITED,
    CJ_UNSUPPORTED,
    CJ_UNAVAILABLE,
    CJ_CODE_COUNT
} cj_code_t;

typedef enum {
    CJ_CHAT = 1, CJ_JOIN, CJ_LEAVE, CJ_GROUP, CJ_BROADCAST, CJ_PRESENCE,
} cj_type_t;

typedef struct {
    const char *p;
    size_t      n;
} cj_str_t;

typedef struct {
    cj_type_t type;
    cj_str_t  id;                       /* p == NULL: no (valid) id */
    cj_str_t  target;                   /* chat: receiver; join/leave/group: group */
    char     *msg;                      /* compact JSON text of msg (owned) */
    size_t    msg_len;
    size_t    nusers;                   /* presence */
    cj_str_t  users[CJ_PRESENCE_MAX];
    json_t   *root;
} cj_frame_t;

cj_code_t   cj_parse(const char *text, size_t len, cj_frame_t *f);
void        cj_frame_clear(cj_frame_t *f);
const char *cj_code_name(cj_code_t code);        /* "bad_json", … */

int cj_render_welcome(buf_t *out, const char *user, const char *session);
int cj_render_ack(buf_t *out, cj_str_t id, const char *mid, const char *status);
int cj_render_error(buf_t *out, cj_code_t code, const char *reason, cj_str_t id);
/* chat, group and broadcast: kind is "chat"/"group"/"broadcast"; target is
 * the receiver (chat) or group (group), ignored for broadcast. */
int cj_render_message(buf_t *out, const char *kind, cj_str_t sender, cj_str_t target,
                      cj_str_t msg, cj_str_t mid, int64_t time_ms);
int cj_render_presence(buf_t *out, const cj_str_t *users, const uint8_t *online,
                       size_t n, cj_str_t id);

#endif
