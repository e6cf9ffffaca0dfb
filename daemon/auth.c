/* auth — see auth.h.
 *
 * A token is read twice: here, with jscan, for its structure, its header
 * (alg, typ, crit) and its claims (exp, nbf, sub); then by libjwt, which
 * only verifies the signature over the bytes as sent and must agree on the
 * algorithm. Every claim used comes from our own reading of the payload,
 * the bytes the signature covers. */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <jwt.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "jscan.h"

struct auth {
    jwt_alg_t      alg;
    const char    *alg_name;
    unsigned char *key;
    size_t         len;
};

/* Decoded parts are at most 3/4 of the token. */
#define S_PART_MAX (AUTH_TOKEN_MAX / 4 * 3 + 3)

static const char *const s_names[AUTH_VERDICTS] = {
    [AUTH_OK] = "ok", [AUTH_MISSING] = "missing", [AUTH_MALFORMED] = "malformed",
    [AUTH_ALG_NONE] = "alg_none", [AUTH_ALG] = "algorithm", [AUTH_SIGNATURE] = "signature",
    [AUTH_EXPIRED] = "expired", [AUTH_NOT_YET] = "not_yet_valid", [AUTH_SUBJECT] = "subject",
    [AUTH_NOMEM] = "internal",
};

static const char *const s_reasons[AUTH_VERDICTS] = {
    [AUTH_OK] = "ok", [AUTH_MISSING] = "token missing", [AUTH_MALFORMED] = "token malformed",
    [AUTH_ALG_NONE] = "unsigned token (alg none)", [AUTH_ALG] = "wrong token algorithm",
    [AUTH_SIGNATURE] = "bad token signature", [AUTH_EXPIRED] = "token expired",
    [AUTH_NOT_YET] = "token not yet valid", [AUTH_SUBJECT] = "token is for another user",
    [AUTH_NOMEM] = "out of resources",
};

int
auth_status(auth_verdict_t v)
{
    switch (v) {
    case AUTH_OK:      return 0;
    case AUTH_SUBJECT: return 403;
    case AUTH_NOMEM:   return 503;
    default:           return 401;
    }
}

const char *
auth_name(auth_verdict_t v)
{
    return (unsigned)v < AUTH_VERDICTS ? s_names[v] : "internal";
}

const char *
auth_reason(auth_verdict_t v)
{
    return (unsigned)v < AUTH_VERDICTS ? s_reasons[v] : "internal error";
}

const char *
auth_alg(const auth_t *self)
{
    return self->alg_name;
}

/* ---- keys ----------------------------------------------------------- */

/* The algorithm a PEM public key verifies: RS256 for RSA of 2048 bits or
 * more, ES256 for P-256; JWT_ALG_INVAL (why filled) otherwise. */
static jwt_alg_t
s_pem_alg(const void *pem, size_t len, char *why, size_t whylen)
{
    jwt_alg_t alg = JWT_ALG_INVAL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    char group[64] = "";
    if (!pk) {
        snprintf(why, whylen, "not a PEM public key (BEGIN PUBLIC KEY)");
    } else if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(pk) < 2048)
            snprintf(why, whylen, "RSA key of %d bits: RS256 needs 2048 or more",
                     EVP_PKEY_get_bits(pk));
        else
            alg = JWT_ALG_RS256;
    } else if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
        if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           NULL) == 1
            && !strcmp(group, "prime256v1"))
            alg = JWT_ALG_ES256;
        else
            snprintf(why, whylen, "EC key on curve %s: ES256 needs P-256",
                     group[0] ? group : "?");
    } else {
        snprintf(why, whylen, "neither an RSA nor an EC public key");
    }
    EVP_PKEY_free(pk);
    BIO_free(bio);
    return alg;
}

auth_t *
auth_new(auth_kind_t kind, const void *key, size_t len, char *why, size_t whylen)
{
    jwt_alg_t alg = JWT_ALG_INVAL;
    if (kind == AUTH_SECRET) {
        if (len < AUTH_SECRET_MIN)
            snprintf(why, whylen, "secret of %zu bytes: HS256 needs %d or more", len,
                     AUTH_SECRET_MIN);
        else if (len > AUTH_KEY_FILE_MAX)
            snprintf(why, whylen, "longer than %d bytes", AUTH_KEY_FILE_MAX);
        else
            alg = JWT_ALG_HS256;
    } else if (len > AUTH_KEY_FILE_MAX) {
        snprintf(why, whylen, "longer than %d bytes", AUTH_KEY_FILE_MAX);
    } else {
        alg = s_pem_alg(key, len, why, whylen);
    }
    if (alg == JWT_ALG_INVAL)
        return NULL;
    auth_t *self = calloc(1, sizeof *self);
    if (!self || !(self->key = malloc(len))) {
        free(self);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    memcpy(self->key, key, len);
    self->len = len;
    self->alg = alg;
    self->alg_name = jwt_alg_str(alg);
    return self;
}

auth_t *
auth_load(auth_kind_t kind, const char *path, char *why, size_t whylen)
{
    static char buf[AUTH_KEY_FILE_MAX + 1];     /* one byte too many: too long */
    size_t n = 0;
    ssize_t r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return NULL;
    }
    while (n < sizeof buf) {
        if ((r = read(fd, buf + n, sizeof buf - n)) > 0)
            n += (size_t)r;
        else if (r == 0 || errno != EINTR)
            break;
    }
    close(fd);
    auth_t *self = NULL;
    if (r < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
    } else if (n == sizeof buf) {
        snprintf(why, whylen, "longer than %d bytes", AUTH_KEY_FILE_MAX);
    } else {
        size_t k = n;
        if (kind == AUTH_SECRET && k > 0 && buf[k - 1] == '\n')
            k--;
        if (kind == AUTH_SECRET && k > 0 && buf[k - 1] == '\r')
            k--;
        self = auth_new(kind, buf, k, why, whylen);
    }
    OPENSSL_cleanse(buf, sizeof buf);           /* a secret: no copy left behind */
    return self;
}

void
auth_destroy(auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_t *self = *self_p;
    OPENSSL_cleanse(self->key, self->len);
    free(self->key);
    free(self);
    *self_p = NULL;
}

/* ---- tokens --------------------------------------------------------- */

/* base64url without padding (RFC 7515 2) of p[0..n) into out (NULL: only
 * checked); the length decoded, or -1 when a byte is outside the alphabet
 * or n is impossible. */
static ssize_t
s_b64url(const char *p, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t k = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)p[i], v;
        if (c >= 'A' && c <= 'Z')      v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '-')             v = 62;
        else if (c == '_')             v = 63;
        else                           return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out)
                out[k] = (char)(acc >> bits & 0xff);
            k++;
        }
    }
    return (ssize_t)k;
}

/* A NumericDate (RFC 7519 2: seconds, maybe fractional) as ms; -1 when the
 * span is not a number of a sane size. */
static int
s_date(js_span_t v, int64_t *ms)
{
    char num[40];
    if (v.type != JS_NUMBER || v.n >= sizeof num)
        return -1;
    memcpy(num, v.p, v.n);
    num[v.n] = '\0';
    double d = strtod(num, NULL);
    if (!isfinite(d) || d > 9.0e12 || d < -9.0e12)     /* ms must fit, with room */
        return -1;
    *ms = (int64_t)floor(d * 1000.0);
    return 0;
}

typedef struct {
    int     has_exp, has_nbf;
    int64_t exp, nbf;
    char    sub[65];                /* a userId at most; longer never matches */
    ssize_t sub_len;                /* -1: absent or too long */
} s_claims_t;

/* Header checks: alg must be the key's, typ JWT if present, no crit. */
static auth_verdict_t
s_header(const auth_t *a, const char *h, size_t n)
{
    js_field_t f[3] = { { "alg", { 0 } }, { "typ", { 0 } }, { "crit", { 0 } } };
    if (js_fields(h, n, f, 3) != JS_OBJECT || f[0].val.type != JS_STRING)
        return AUTH_MALFORMED;
    char alg[16], typ[8];
    ssize_t an = js_string(f[0].val, alg, sizeof alg - 1);
    if (an >= 0)
        alg[an] = '\0';
    if (an >= 0 && !strcasecmp(alg, "none"))
        return AUTH_ALG_NONE;
    if (an < 0 || strcmp(alg, a->alg_name) != 0)
        return AUTH_ALG;
    if (f[1].val.type != JS_INVALID) {
        ssize_t tn = f[1].val.type == JS_STRING ? js_string(f[1].val, typ, sizeof typ - 1) : -1;
        if (tn < 0)
            return AUTH_MALFORMED;
        typ[tn] = '\0';
        if (strcasecmp(typ, "JWT") != 0)
            return AUTH_MALFORMED;
    }
    /* RFC 7515 4.1.11: extensions we do not understand must not pass */
    if (f[2].val.type != JS_INVALID)
        return AUTH_MALFORMED;
    return AUTH_OK;
}

static auth_verdict_t
s_claims(const char *p, size_t n, s_claims_t *c)
{
    js_field_t f[3] = { { "exp", { 0 } }, { "nbf", { 0 } }, { "sub", { 0 } } };
    if (js_fields(p, n, f, 3) != JS_OBJECT)
        return AUTH_MALFORMED;
    if ((c->has_exp = f[0].val.type != JS_INVALID) && s_date(f[0].val, &c->exp) < 0)
        return AUTH_MALFORMED;
    if ((c->has_nbf = f[1].val.type != JS_INVALID) && s_date(f[1].val, &c->nbf) < 0)
        return AUTH_MALFORMED;
    c->sub_len = -1;
    if (f[2].val.type != JS_INVALID) {
        if (f[2].val.type != JS_STRING)
            return AUTH_MALFORMED;
        c->sub_len = js_string(f[2].val, c->sub, sizeof c->sub - 1);
    }
    return AUTH_OK;
}

/* libjwt's verdict on the signature (the whole token, NUL-terminated). */
static auth_verdict_t
s_signature(const auth_t *a, const char *token, size_t n)
{
    static char copy[AUTH_TOKEN_MAX + 1];
    memcpy(copy, token, n);
    copy[n] = '\0';
    jwt_t *jwt = NULL;
    int r = jwt_decode(&jwt, copy, a->key, (int)a->len);
    if (r == ENOMEM)
        return AUTH_NOMEM;
    if (r != 0 || !jwt)
        return AUTH_SIGNATURE;
    /* it read the header itself: it must have verified what we checked */
    jwt_alg_t alg = jwt_get_alg(jwt);
    jwt_free(jwt);
    return alg == a->alg ? AUTH_OK : AUTH_ALG;
}

auth_verdict_t
auth_check(const auth_t *a, const char *token, size_t n, const char *user, int64_t now_ms,
           int64_t leeway_ms, int64_t *exp_ms)
{
    static char head[S_PART_MAX], body[S_PART_MAX];    /* one worker per process */
    *exp_ms = 0;
    if (!token)
        return AUTH_MISSING;
    if (n == 0 || n > AUTH_TOKEN_MAX)
        return AUTH_MALFORMED;
    /* JWS compact serialization: exactly three parts */
    const char *end = token + n;
    const char *d1 = memchr(token, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)))
        return AUTH_MALFORMED;
    ssize_t hn = s_b64url(token, (size_t)(d1 - token), head);
    ssize_t bn = s_b64url(d1 + 1, (size_t)(d2 - d1 - 1), body);
    if (hn <= 0 || bn <= 0 || s_b64url(d2 + 1, (size_t)(end - d2 - 1), NULL) < 0)
        return AUTH_MALFORMED;
    auth_verdict_t v;
    s_claims_t c;
    if ((v = s_header(a, head, (size_t)hn)) != AUTH_OK
        || (v = s_claims(body, (size_t)bn, &c)) != AUTH_OK
        || (v = s_signature(a, token, n)) != AUTH_OK)
        return v;
    if (c.has_exp && now_ms >= c.exp + leeway_ms)
        return AUTH_EXPIRED;
    if (c.has_nbf && now_ms < c.nbf - leeway_ms)
        return AUTH_NOT_YET;
    if (c.sub_len < 0 || strlen(user) != (size_t)c.sub_len || memcmp(user, c.sub, (size_t)c.sub_len))
        return AUTH_SUBJECT;
    *exp_ms = c.has_exp ? c.exp : 0;
    return AUTH_OK;
}
