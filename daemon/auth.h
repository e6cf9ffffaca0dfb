/* auth — the JWT verdict of zwsd-protocol(7) "Connecting", checks 9 and 10:
 * may this token open (or keep) a session of this userId, and until when?
 *
 * Any process (the supervisor checks key files when it parses options, each
 * worker checks tokens). auth_check() is pure apart from libjwt, which
 * verifies the signature: token, userId and the wall clock in, a verdict
 * and the token's exp out; no I/O, no logging, no allocation but libjwt's.
 * auth_load() is the one function that reads a file.
 *
 * Keys: a secret (--jwt-secret-file) verifies HS256 tokens only; a PEM
 * public key (--jwt-public-key-file) verifies RS256 tokens if it is an RSA
 * key of at least 2048 bits, ES256 tokens if it is a P-256 EC key; nothing
 * else is accepted (RFC 7518 3.2-3.4 minimums: a secret of at least 32
 * bytes). The algorithm of a token must be the key's: its header is read
 * here, before libjwt sees it, so `alg: none` and an HMAC forged with a
 * public key as its secret are refused whatever libjwt would do with them.
 *
 * Ownership: auth_new()/auth_load() return an auth_t the caller owns and
 * frees with auth_destroy(); it keeps its own copy of the key, wiped when
 * freed. */
#ifndef ZWSD_AUTH_H
#define ZWSD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_MAX    8192      /* longer tokens are malformed */
#define AUTH_SECRET_MIN   32        /* bytes of an HS256 secret */
#define AUTH_KEY_FILE_MAX 16384     /* bytes of a key file */

typedef struct auth auth_t;

typedef enum { AUTH_SECRET = 1, AUTH_PUBLIC_KEY } auth_kind_t;

/* In the order auth_check() finds them; the first one found is the answer. */
typedef enum {
    AUTH_OK = 0,
    AUTH_MISSING,           /* 401: no token at all */
    AUTH_MALFORMED,         /* 401: not three base64url parts of JSON objects,
                             * an ill-typed claim, typ not JWT, crit present */
    AUTH_ALG_NONE,          /* 401: alg none (an unsigned token) */
    AUTH_ALG,               /* 401: an algorithm other than the key's */
    AUTH_SIGNATURE,         /* 401: the signature does not verify */
    AUTH_EXPIRED,           /* 401: exp passed, beyond the leeway */
    AUTH_NOT_YET,           /* 401: nbf in the future, beyond the leeway */
    AUTH_SUBJECT,           /* 403: sub missing or not the userId */
    AUTH_NOMEM,             /* 503: out of memory (not the client's fault) */
    AUTH_VERDICTS
} auth_verdict_t;

/* A verifier for key[0..len) (a secret's bytes, or PEM text). NULL with why
 * filled (a short phrase) when the key is unusable, or on ENOMEM. */
auth_t *auth_new(auth_kind_t kind, const void *key, size_t len, char *why, size_t whylen);
/* The same from a file: a secret is the file's bytes less one trailing LF
 * (or CR LF), as --api-key-file is read. */
auth_t *auth_load(auth_kind_t kind, const char *path, char *why, size_t whylen);
void    auth_destroy(auth_t **self_p);

/* "HS256", "RS256" or "ES256": what the key verifies. */
const char *auth_alg(const auth_t *self);

/* The verdict on token[0..n) (NULL: none was sent; need not be
 * NUL-terminated) for userId user at now_ms (wall clock, ms since the
 * epoch), with leeway_ms of clock skew allowed both ways on exp and nbf.
 * On AUTH_OK, *exp_ms is the token's exp in ms since the epoch, or 0 when
 * it has none; the caller adds the leeway to make a deadline. */
auth_verdict_t auth_check(const auth_t *self, const char *token, size_t n, const char *user,
                          int64_t now_ms, int64_t leeway_ms, int64_t *exp_ms);

int         auth_status(auth_verdict_t v);      /* 0, 401, 403 or 503 */
const char *auth_name(auth_verdict_t v);        /* "expired", ...: metrics, logs */
const char *auth_reason(auth_verdict_t v);      /* "token expired", ...: answers */

#endif
