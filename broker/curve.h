/* curve — ZeroMQ CURVE on the bus: certificates, the broker's server side
 * (czmq's zauth actor with an allow-list directory) and the clients' side
 * (a worker's bus, zwsd-send).
 *
 * Certificates are czmq zcert files, as zcert_save(3) and
 * `zwsd-broker --make-cert NAME` write them: NAME holds the public key,
 * NAME_secret the public and the secret key, each 40 Z85 characters under
 * "curve" (public-key = "...", secret-key = "..."). A secret certificate
 * whose two keys do not belong together is refused. Loading and checking
 * creates no ZeroMQ context, so any process may do it before it forks (the
 * zwsd supervisor checks --broker-curve so; each worker loads it again at
 * its start).
 *
 * The server side is for the broker process alone, after fork:
 * curve_server_new() starts zauth, a thread that answers ZeroMQ's ZAP
 * requests in czmq's own context (zsys_init()), then gives it the allow
 * directory. The broker creates its sockets in curve_server_ctx() and
 * applies curve_server_apply() to each before it binds: CURVE sockets of a
 * context without a ZAP handler let every client in (libzmq 4.3 without
 * ZMQ_ZAP_ENFORCE_DOMAIN), which is why the actor comes first. zauth
 * re-reads the directory when its listing changes (a file added, removed,
 * resized), at the next handshake, and ignores files ending in _secret.
 * A client whose key is not there is refused at its handshake: its socket
 * never attaches, so it can neither publish nor subscribe; libzmq keeps
 * retrying, so adding its certificate lets it in without a restart.
 *
 * Return values: 0 or -1 with why filled with one phrase that names the
 * file (at most wlen bytes); curve_server_new() returns NULL on failure,
 * logged. Certificates are plain values: nothing to free, but they hold
 * secrets: explicit_bzero() them once used. The caller owns the server and
 * destroys it after closing every socket it created in its context:
 * curve_server_destroy() ends the actor and terminates that context. */
#ifndef ZWSD_CURVE_H
#define ZWSD_CURVE_H

#include <stddef.h>
#include <stdint.h>

#define CURVE_KEY_LEN   32          /* bytes of a key */
#define CURVE_TXT_LEN   40          /* its Z85 text */
#define CURVE_FILE_MAX  65536       /* larger files are not certificates */

typedef struct {
    uint8_t public_key[CURVE_KEY_LEN];
    uint8_t secret_key[CURVE_KEY_LEN];  /* zeros unless has_secret */
    int     has_secret;
} curve_cert_t;

/* A certificate from text (a whole file, len bytes; pure: no I/O). */
int  curve_cert_parse(const char *text, size_t len, curve_cert_t *cert, char *why, size_t wlen);
/* The certificate in path; need_secret: refuse a public certificate. */
int  curve_cert_load(const char *path, int need_secret, curve_cert_t *cert, char *why,
                     size_t wlen);
/* key as 40 Z85 characters and a NUL. */
void curve_key_txt(const uint8_t key[CURVE_KEY_LEN], char out[CURVE_TXT_LEN + 1]);

/* The client side: its own certificate and the broker's public key, from
 * "CLIENT_SECRET_FILE,BROKER_PUBLIC_FILE" (zwsd --broker-curve, zwsd-send
 * --curve). The broker's file must be a public certificate: one holding a
 * secret key is refused, since the broker's secret belongs on the broker
 * alone. on is 1 once loaded; a zeroed curve_client_t means no CURVE. */
typedef struct {
    int          on;
    curve_cert_t self;                  /* with its secret key */
    uint8_t      server_key[CURVE_KEY_LEN];
} curve_client_t;

int  curve_client_load(const char *spec, curve_client_t *client, char *why, size_t wlen);
/* Make a libzmq socket a CURVE client; before it connects. 0, or -1 (errno). */
int  curve_client_apply(const curve_client_t *client, void *sock);

/* The broker's side. allow_dir: an absolute directory (curve_allow_check). */
typedef struct curve_server curve_server_t;

curve_server_t *curve_server_new(const curve_cert_t *cert, const char *allow_dir, int verbose);
void            curve_server_destroy(curve_server_t **self_p);
void           *curve_server_ctx(curve_server_t *self);     /* czmq's context */
/* Make a socket of that context a CURVE server; before it binds. 0 / -1 (errno). */
int             curve_server_apply(curve_server_t *self, void *sock);

/* --curve-allow: dir must be a directory; abs receives its absolute path
 * (abslen bytes, PATH_MAX is enough) and ncerts the number of regular
 * files in it that zauth reads (the names not ending in _secret). */
int  curve_allow_check(const char *dir, char *abs, size_t abslen, int *ncerts, char *why,
                       size_t wlen);

/* A new key pair saved as base (public, mode 0644 less the umask) and
 * base_secret (0600), like zcert_save(); an existing file is never
 * overwritten. pub receives the public key's text. */
int  curve_make_cert(const char *base, char pub[CURVE_TXT_LEN + 1], char *why, size_t wlen);

#endif
