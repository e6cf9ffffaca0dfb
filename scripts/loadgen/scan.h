/* scan — the small key scanner that classifies server frames (pure).
 *
 * It runs once per delivered message and must cost less than the server's
 * own work, so it does not parse: it finds a quoted key followed by ':' and
 * reads the value there. That is sound for zwsd's frames because the
 * server's strings (user ids, group names, mids, times) contain no quotes or
 * backslashes; the msg object is the generator's own. Rare frames (welcome,
 * error, anything unexpected) go through jansson instead (child.c). Every
 * function takes the bytes [p, end) and reads nothing outside them. */
#ifndef LOADGEN_SCAN_H
#define LOADGEN_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of key KEY (given with its quotes, KLEN bytes) in [p, end): a
 * pointer past the ':' and any blanks, or NULL. */
const char *scan_key(const char *p, const char *end, const char *key, size_t klen);
/* The decimal integer at v (NULL allowed: false) into *out. */
bool        scan_int(const char *v, const char *end, int64_t *out);
/* Is the string value at v (NULL allowed: false) exactly "LIT"? */
bool        scan_str_is(const char *v, const char *end, const char *lit);

#endif
