/* config — the syntax of zwsd's config file: bytes in, entries out.
 *
 * Pure: no I/O. options.c reads the file and feeds it here; what each name
 * means is options.c's business. The syntax (zwsd(8) CONFIGURATION FILE):
 *   - one `name = value` per line; a line ends at LF, a CR right before the
 *     LF is dropped, and the last line needs no LF;
 *   - `#` starts a comment that runs to the end of the line (so a value
 *     cannot hold a '#'); blank lines and comment-only lines are skipped;
 *   - spaces and tabs around the name and the value are ignored;
 *   - a line without '=' is a bare name (an entry with value NULL): a flag
 *     such as `allow-client-broadcast`; the caller decides whether its
 *     option needs a value;
 *   - `name =` gives the value "" (the caller reports "needs a value").
 *
 * Incremental: config_feed() takes the input in chunks of any size, down to
 * one byte, and calls on_entry once per entry, in file order, as soon as
 * its line is complete; config_end() ends the input. How the input is cut
 * never changes the entries or the errors.
 *
 * Errors in the bytes themselves stop the parser: a line longer than
 * CONFIG_LINE_MAX bytes, a NUL or another control character (tab and a
 * final CR excepted), a line that starts with '=' (no name), or a name that
 * is not one word of [A-Za-z0-9_.-] (as in `listen 0.0.0.0:80`, where the
 * '=' is missing). config_feed()/config_end() then return -1, and
 * config_error() says what, with a short, escaped sample of the line so
 * the reader sees which option it was; config_line() says where. Later
 * calls return -1 at once. on_entry returns 0 to go on, or -1 to stop
 * (after reporting its own error): then config_feed()/config_end() return
 * -1 too and config_error() is NULL. */
#ifndef ZWSD_CONFIG_H
#define ZWSD_CONFIG_H

#include <stddef.h>

#define CONFIG_LINE_MAX 1024        /* bytes in one line, without CR LF */

typedef struct {
    int         line;               /* 1-based */
    const char *name;               /* never empty; valid during the call */
    const char *value;              /* trimmed; NULL when the line has no '=' */
} config_entry_t;

typedef int (*config_entry_fn)(void *arg, const config_entry_t *e);

typedef struct config config_t;

/* NULL on ENOMEM; the caller owns the parser and destroys it. */
config_t   *config_new(config_entry_fn on_entry, void *arg);
void        config_destroy(config_t **self_p);
/* 0, or -1: a syntax error (config_error()) or on_entry stopped. */
int         config_feed(config_t *self, const char *data, size_t len);
/* End of input: the last line, if it has no LF. 0 or -1 as config_feed(). */
int         config_end(config_t *self);
/* The syntax error as text, NULL when there is none. */
const char *config_error(const config_t *self);
/* The line of the error (or of the last entry when on_entry stopped). */
int         config_line(const config_t *self);

#endif
