/* topic — ZeroMQ topic names, the first frame of every bus message.
 *
 * ZeroMQ matches subscriptions by prefix, so every topic ends in '|', a byte
 * that no valid name contains: "u:bob|" never matches "u:bobby|".
 *   u:<userId>|   a user's sessions        g:<group>|   a group's members
 *   b|            every worker (broadcast) w:<origin>|  one worker's inbox
 *   s|            the broker itself (presence queries, worker stats)
 * topic_make() writes the topic into buf (TOPIC_MAX bytes), NUL-terminated,
 * and returns its length without the NUL, or 0 if the name is empty or
 * longer than 64 bytes.
 * topic_parse() splits a topic; it returns 0, or -1 if malformed. Pure. */
#ifndef ZWSD_TOPIC_H
#define ZWSD_TOPIC_H

#include <stddef.h>

#define TOPIC_MAX 72            /* "x:" + 64-byte name + "|" + NUL, rounded */
/* The broker's welcome (ZMQ_XPUB_WELCOME_MSG), one frame, to every
 * subscriber that attaches; subscribe to it before connecting. */
#define TOPIC_HELLO "h|"

typedef enum {
    TOPIC_USER   = 'u',
    TOPIC_GROUP  = 'g',
    TOPIC_WORKER = 'w',
    TOPIC_BCAST  = 'b',
    TOPIC_BROKER = 's',
} topic_kind_t;

size_t topic_make(char *buf, topic_kind_t kind, const char *name, size_t len);
int    topic_parse(const char *topic, size_t len, topic_kind_t *kind,
                   const char **name, size_t *name_len);

#endif
