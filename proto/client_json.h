/* client_json — the client-facing JSON frames of zwsd-protocol(7).
 *
 * cj_parse() turns one text message into a cj_frame_t, checking every field
 * (zwsd-protocol(7) "Frames"); it returns CJ_OK or the error code to answer with.
 * On any return the caller must cj_frame_clear() the frame; f->id is set
 * whenever the frame carried a valid id (so errors can echo it). Parsing is
 * one pass of jscan over the text, with no allocation.
 *
 * Lifetimes: f->msg is the msg value exactly as the client wrote it (a
 * pointer into text, not owned, not NUL-terminated; valid JSON, whitespace
 * and number spelling kept), so text must outlive every use of the frame.
 * id, target and users[] point into text too, or, when the client wrote
 * them with JSON escapes, into f->scratch: a frame must not be copied
 * (struct assignment, memcpy) while they are in use. Duplicate keys: the
 * last one counts (as jansson did). A key containing \u0000 is valid JSON
 * and simply matches no field.
 *
 * The cj_render_*() functions append one complete server frame to out and
 * return 0, or -1 on ENOMEM. Names and mids passed in must already be valid
 * (they are emitted without escaping); ids are escaped (an id may contain
 * '"' and '\\'); msg text is emitted as given (it is already JSON). Pure:
 * no I/O, no globals. */
#ifndef ZWSD_CLIENT_JSON_H
#define ZWSD_CLIENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "valid.h"

#define CJ_PRESENCE_MAX 100
/* Room for every short string decoded from escapes: 100 users, the id and
 * the target, each at most 64 bytes once decoded (longer ones are refused). */
#define CJ_SCRATCH_MAX  (CJ_PRESENCE_MAX * VALID_NAME_MAX + VALID_ID_MAX + VALID_NAME_MAX \
                         + VALID_EPOCH_MAX + 21)

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
    CJ_UNAUTHORIZED,                    /* a refresh whose token is refused */
    CJ_CODE_COUNT
} cj_code_t;

typedef enum {
    CJ_CHAT = 1, CJ_JOIN, CJ_LEAVE, CJ_GROUP, CJ_BROADCAST, CJ_PRESENCE, CJ_REFRESH,
} cj_type_t;

typedef struct {
    const char *p;
    size_t      n;
} cj_str_t;

typedef struct {
    cj_type_t   type;
    cj_str_t    id;                     /* p == NULL: no (valid) id */
    cj_str_t    target;                 /* chat: receiver; join/leave/group: group */
    const char *msg;                    /* msg as written, into text (NULL: none) */
    size_t      msg_len;
    size_t      nusers;                 /* presence, each user once */
    cj_str_t    since;                  /* join: "EPOCH:SEQ" (checked), p NULL: none */
    cj_str_t    token;                  /* refresh: the JWT as written, into text
                                         * (escapes not decoded: a JWT needs none) */
    /* cj_frame_clear() resets the fields above; below is only storage */
    cj_str_t    users[CJ_PRESENCE_MAX];
    char        scratch[CJ_SCRATCH_MAX];    /* decoded escaped strings */
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

/* Where a frame stands in its stream (zwsd-protocol(7) "History and
 * recovery"): "seq" and "epoch" when epoch.p is set; "recovered" when it
 * is 0 or 1; "missed" when recovered is set and missed >= 0. The epoch is
 * escaped (the broker's, 0x21-0x7E, may hold '"'). */
typedef struct {
    uint64_t seq;
    cj_str_t epoch;
    int      recovered;         /* -1: absent */
    int64_t  missed;            /* -1: unknown, absent */
    int      stored;            /* an ack: "stored":true (the chat was kept) */
} cj_pos_t;

#define CJ_POS_NONE ((cj_pos_t){ 0, { NULL, 0 }, -1, -1, 0 })

/* Appends ,"seq":N,"epoch":"E"[,"recovered":B[,"missed":N]] (nothing for
 * pos NULL or no epoch). */
int cj_append_pos(buf_t *out, const cj_pos_t *pos);
/* The same frames with their place in the stream appended (pos NULL: none). */
int cj_render_message_at(buf_t *out, const char *kind, cj_str_t sender, cj_str_t target,
                         cj_str_t msg, cj_str_t mid, int64_t time_ms, const cj_pos_t *pos);
int cj_render_welcome_at(buf_t *out, const char *user, const char *session,
                         const cj_pos_t *pos);
int cj_render_ack_at(buf_t *out, cj_str_t id, const char *mid, const char *status,
                     const cj_pos_t *pos);

#endif
