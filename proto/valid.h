/* valid — validation of names and ids that arrive from clients and backends.
 *
 * valid_name(): a userId or group name: 1–64 bytes of [A-Za-z0-9_.@-],
 * taken literally (no decoding). valid_id(): a client-chosen frame id:
 * 1–64 bytes, each in 0x21–0x7E. Both are pure and return 1 or 0. */
#ifndef ZWSD_VALID_H
#define ZWSD_VALID_H

#include <stddef.h>
#include <stdint.h>

#define VALID_NAME_MAX 64
#define VALID_ID_MAX   64

#define VALID_EPOCH_MAX 32

int valid_name(const char *s, size_t len);
int valid_id(const char *s, size_t len);
/* A resume position "EPOCH:SEQ" (zwsd-protocol(7) "History and
 * recovery"): EPOCH 1-32 bytes in 0x21-0x7E, SEQ 1-20 decimal digits up to
 * 2^64 - 1, split at the last ':'. 1 with *epoch pointing into s, else 0. */
int valid_since(const char *s, size_t len, const char **epoch, size_t *epoch_len,
                uint64_t *seq);

#endif
