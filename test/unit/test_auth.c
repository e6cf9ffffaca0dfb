/* test_auth — the JWT verdict (daemon/auth.c), every row of the auth matrix
 * of zwsd-protocol(7): tokens are made here with libjwt itself, HS256 with
 * a secret, RS256 and ES256 with keys OpenSSL generates at test time; a
 * fixed clock, so exp, nbf and the leeway are exact.
 * Run: make build/test/test_auth && build/test/test_auth */
#include <criterion/criterion.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"

#define NOW    1800000000000LL          /* ms: 2027-01-15 */
#define NOW_S  (NOW / 1000)
#define LEEWAY 30000

static const char s_secret[] = "0123456789abcdef0123456789abcdef";     /* 32 bytes */

/* ---- making tokens and keys ------------------------------------------ */

/* A token for grants (JSON) signed with alg and key; caller frees. */
static char *
s_make(jwt_alg_t alg, const void *key, size_t len, const char *grants)
{
    jwt_t *j = NULL;
    cr_assert_eq(jwt_new(&j), 0);
    cr_assert_eq(jwt_add_grants_json(j, grants), 0, "grants %s", grants);
    cr_assert_eq(jwt_set_alg(j, alg, key, (int)len), 0);
    char *t = jwt_encode_str(j);
    cr_assert_not_null(t);
    jwt_free(j);
    return t;
}

/* One signature character changed, staying in the alphabet. */
static void
s_flip(char *t)
{
    char *c = t + strlen(t) - 2;
    *c = *c == 'A' ? 'B' : 'A';
}

static char *
s_hs(const char *grants)
{
    return s_make(JWT_ALG_HS256, s_secret, strlen(s_secret), grants);
}

/* base64url of s, no padding. */
static void
s_b64(const char *s, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(s), k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        out[k++] = a[v >> 18 & 63];
        out[k++] = a[v >> 12 & 63];
        if (i + 1 < n) out[k++] = a[v >> 6 & 63];
        if (i + 2 < n) out[k++] = a[v & 63];
    }
    out[k] = '\0';
}

/* A token from raw header and payload JSON, with sig as its third part;
 * out has room for 4096 bytes. */
static void
s_raw(const char *header, const char *payload, const char *sig, char *out)
{
    char h[1024], p[1024];
    s_b64(header, h);
    s_b64(payload, p);
    snprintf(out, 4096, "%.1000s.%.1000s.%.1000s", h, p, sig);
}

typedef struct {
    char  *priv, *pub;              /* PEM */
    size_t priv_len, pub_len;
} s_pair_t;

static char *
s_pem(EVP_PKEY *k, int pub, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    cr_assert(pub ? PEM_write_bio_PUBKEY(b, k) : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0,
                                                                          NULL, NULL));
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

static s_pair_t
s_pair(EVP_PKEY *k)
{
    cr_assert_not_null(k);
    s_pair_t p;
    p.priv = s_pem(k, 0, &p.priv_len);
    p.pub = s_pem(k, 1, &p.pub_len);
    EVP_PKEY_free(k);
    return p;
}

static s_pair_t s_rsa, s_rsa2, s_ec;
static auth_t *s_hs_auth, *s_rs_auth, *s_es_auth;

static void
s_keys(void)
{
    char why[128];
    s_rsa = s_pair(EVP_RSA_gen(2048));
    s_rsa2 = s_pair(EVP_RSA_gen(2048));
    s_ec = s_pair(EVP_EC_gen("P-256"));
    cr_assert_not_null(s_hs_auth = auth_new(AUTH_SECRET, s_secret, strlen(s_secret), why,
                                            sizeof why), "%s", why);
    cr_assert_not_null(s_rs_auth = auth_new(AUTH_PUBLIC_KEY, s_rsa.pub, s_rsa.pub_len, why,
                                            sizeof why), "%s", why);
    cr_assert_not_null(s_es_auth = auth_new(AUTH_PUBLIC_KEY, s_ec.pub, s_ec.pub_len, why,
                                            sizeof why), "%s", why);
}

static void
s_hs_only(void)
{
    char why[128];
    cr_assert_not_null(s_hs_auth = auth_new(AUTH_SECRET, s_secret, strlen(s_secret), why,
                                            sizeof why), "%s", why);
}

static auth_verdict_t
s_check(const auth_t *a, const char *t, const char *user, int64_t *exp)
{
    int64_t e;
    return auth_check(a, t, t ? strlen(t) : 0, user, NOW, LEEWAY, exp ? exp : &e);
}

static auth_verdict_t
s_check_hs(const char *grants, const char *user)
{
    char *t = s_hs(grants);
    auth_verdict_t v = s_check(s_hs_auth, t, user, NULL);
    free(t);
    return v;
}

static char *
s_grants(const char *fmt, long long a)
{
    static char g[256];
    snprintf(g, sizeof g, fmt, a);
    return g;
}

/* ---- HS256 ------------------------------------------------------------ */

TestSuite(hs256, .init = s_hs_only);

Test(hs256, good_token_gives_its_exp)
{
    char *t = s_hs(s_grants("{\"sub\":\"bob\",\"exp\":%lld}", NOW_S + 60));
    int64_t exp = -1;
    cr_assert_eq(s_check(s_hs_auth, t, "bob", &exp), AUTH_OK);
    cr_assert_eq(exp, (NOW_S + 60) * 1000);
    cr_assert_str_eq(auth_alg(s_hs_auth), "HS256");
    free(t);
}

Test(hs256, exp_is_optional)
{
    int64_t exp = -1;
    char *t = s_hs("{\"sub\":\"bob\"}");
    cr_assert_eq(s_check(s_hs_auth, t, "bob", &exp), AUTH_OK);
    cr_assert_eq(exp, 0, "no exp, no deadline");
    free(t);
}

Test(hs256, missing_and_empty)
{
    cr_assert_eq(s_check(s_hs_auth, NULL, "bob", NULL), AUTH_MISSING);
    cr_assert_eq(auth_status(AUTH_MISSING), 401);
    cr_assert_eq(s_check(s_hs_auth, "", "bob", NULL), AUTH_MALFORMED);
}

Test(hs256, malformed)
{
    char t[4096], sig[] = "c2ln";
    const char *bad[] = { "abc", "a.b", "a.b.c.d", "a..c", ".b.c", "e30.e30",
                          "e30.e30.c2ln.", "e3=0.e30.c2ln", "e30.e30.c2l*", "e 0.e30.c2ln" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(s_check(s_hs_auth, bad[i], "bob", NULL), AUTH_MALFORMED, "%s", bad[i]);
    const char *cases[][2] = {
        { "not json", "{\"sub\":\"bob\"}" },
        { "[\"alg\",\"HS256\"]", "{\"sub\":\"bob\"}" },
        { "{\"typ\":\"JWT\"}", "{\"sub\":\"bob\"}" },                   /* no alg */
        { "{\"alg\":256}", "{\"sub\":\"bob\"}" },
        { "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", "{\"sub\":\"bob\"}" },
        { "{\"alg\":\"HS256\",\"typ\":1}", "{\"sub\":\"bob\"}" },
        { "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{\"sub\":\"bob\"}" },
        { "{\"alg\":\"HS256\"}", "not json" },
        { "{\"alg\":\"HS256\"}", "[1,2]" },
        { "{\"alg\":\"HS256\"}", "{\"sub\":\"bob\",\"exp\":\"tomorrow\"}" },
        { "{\"alg\":\"HS256\"}", "{\"sub\":\"bob\",\"nbf\":null}" },
        { "{\"alg\":\"HS256\"}", "{\"sub\":\"bob\",\"exp\":1e400}" },
        { "{\"alg\":\"HS256\"}", "{\"sub\":42}" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s_raw(cases[i][0], cases[i][1], sig, t);
        cr_assert_eq(s_check(s_hs_auth, t, "bob", NULL), AUTH_MALFORMED, "%s . %s", cases[i][0],
                     cases[i][1]);
    }
    /* too long: a valid signature does not save it */
    static char big[AUTH_TOKEN_MAX + 100];
    char grants[AUTH_TOKEN_MAX];
    snprintf(grants, sizeof grants, "{\"sub\":\"bob\",\"pad\":\"%07000d\"}", 0);
    char *tok = s_hs(grants);
    cr_assert_gt(strlen(tok), AUTH_TOKEN_MAX);
    snprintf(big, sizeof big, "%s", tok);
    cr_assert_eq(s_check(s_hs_auth, big, "bob", NULL), AUTH_MALFORMED);
    free(tok);
}

Test(hs256, bad_signature)
{
    char *t = s_hs("{\"sub\":\"bob\"}");
    s_flip(t);                              /* one signature byte off */
    cr_assert_eq(s_check(s_hs_auth, t, "bob", NULL), AUTH_SIGNATURE);
    free(t);
    const char other[] = "another secret, also 32 bytes lo";
    t = s_make(JWT_ALG_HS256, other, strlen(other), "{\"sub\":\"bob\"}");
    cr_assert_eq(s_check(s_hs_auth, t, "bob", NULL), AUTH_SIGNATURE);
    free(t);
    /* the payload changed under a good signature */
    char *good = s_hs("{\"sub\":\"bob\"}"), forged[2048], p[256];
    s_b64("{\"sub\":\"eve\"}", p);
    char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
    snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(d1 - good), good, p, d2);
    cr_assert_eq(s_check(s_hs_auth, forged, "eve", NULL), AUTH_SIGNATURE);
    free(good);
    cr_assert_eq(auth_status(AUTH_SIGNATURE), 401);
}

Test(hs256, alg_none)
{
    char t[4096];
    s_raw("{\"alg\":\"none\"}", "{\"sub\":\"bob\"}", "", t);
    cr_assert_eq(s_check(s_hs_auth, t, "bob", NULL), AUTH_ALG_NONE);
    s_raw("{\"alg\":\"None\",\"typ\":\"JWT\"}", "{\"sub\":\"bob\"}", "", t);
    cr_assert_eq(s_check(s_hs_auth, t, "bob", NULL), AUTH_ALG_NONE);
    /* as libjwt makes one */
    jwt_t *j;
    jwt_new(&j);
    jwt_add_grant(j, "sub", "bob");
    char *u = jwt_encode_str(j);
    jwt_free(j);
    cr_assert_eq(s_check(s_hs_auth, u, "bob", NULL), AUTH_ALG_NONE);
    free(u);
    cr_assert_eq(auth_status(AUTH_ALG_NONE), 401);
}

Test(hs256, other_algorithms)
{
    char *t = s_make(JWT_ALG_HS512, s_secret, strlen(s_secret), "{\"sub\":\"bob\"}");
    cr_assert_eq(s_check(s_hs_auth, t, "bob", NULL), AUTH_ALG);
    free(t);
    char raw[4096];
    s_raw("{\"alg\":\"RS256\"}", "{\"sub\":\"bob\"}", "c2ln", raw);
    cr_assert_eq(s_check(s_hs_auth, raw, "bob", NULL), AUTH_ALG);
    s_raw("{\"alg\":\"hs256\"}", "{\"sub\":\"bob\"}", "c2ln", raw);
    cr_assert_eq(s_check(s_hs_auth, raw, "bob", NULL), AUTH_ALG, "names are case-sensitive");
    s_raw("{\"alg\":\"HS256HS256HS256HS256\"}", "{\"sub\":\"bob\"}", "c2ln", raw);
    cr_assert_eq(s_check(s_hs_auth, raw, "bob", NULL), AUTH_ALG);
}

Test(hs256, expired_with_leeway)
{
    /* exp passed 29 s ago: within the 30 s leeway */
    cr_assert_eq(s_check_hs(s_grants("{\"sub\":\"bob\",\"exp\":%lld}", NOW_S - 29), "bob"),
                 AUTH_OK);
    /* exactly at exp + leeway it is over */
    cr_assert_eq(s_check_hs(s_grants("{\"sub\":\"bob\",\"exp\":%lld}", NOW_S - 30), "bob"),
                 AUTH_EXPIRED);
    cr_assert_eq(s_check_hs(s_grants("{\"sub\":\"bob\",\"exp\":%lld}", NOW_S - 3600), "bob"),
                 AUTH_EXPIRED);
    cr_assert_eq(auth_status(AUTH_EXPIRED), 401);
    /* no leeway */
    char *t = s_hs(s_grants("{\"sub\":\"bob\",\"exp\":%lld}", NOW_S - 1));
    int64_t e;
    cr_assert_eq(auth_check(s_hs_auth, t, strlen(t), "bob", NOW, 0, &e), AUTH_EXPIRED);
    free(t);
    /* a NumericDate may be fractional */
    cr_assert_eq(s_check_hs("{\"sub\":\"bob\",\"exp\":1799999970.5}", "bob"), AUTH_OK);
    cr_assert_eq(s_check_hs("{\"sub\":\"bob\",\"exp\":1.7e9}", "bob"), AUTH_EXPIRED);
}

Test(hs256, not_yet_valid_with_leeway)
{
    cr_assert_eq(s_check_hs(s_grants("{\"sub\":\"bob\",\"nbf\":%lld}", NOW_S + 29), "bob"),
                 AUTH_OK);
    cr_assert_eq(s_check_hs(s_grants("{\"sub\":\"bob\",\"nbf\":%lld}", NOW_S + 31), "bob"),
                 AUTH_NOT_YET);
    cr_assert_eq(s_check_hs(s_grants("{\"sub\":\"bob\",\"nbf\":%lld}", NOW_S - 100), "bob"),
                 AUTH_OK);
    cr_assert_eq(auth_status(AUTH_NOT_YET), 401);
}

Test(hs256, subject)
{
    cr_assert_eq(s_check_hs("{\"sub\":\"alice\"}", "bob"), AUTH_SUBJECT);
    cr_assert_eq(s_check_hs("{\"sub\":\"bobby\"}", "bob"), AUTH_SUBJECT);
    cr_assert_eq(s_check_hs("{\"sub\":\"bo\"}", "bob"), AUTH_SUBJECT);
    cr_assert_eq(s_check_hs("{\"name\":\"bob\"}", "bob"), AUTH_SUBJECT, "no sub");
    char longsub[200];
    snprintf(longsub, sizeof longsub, "{\"sub\":\"%080d\"}", 0);
    cr_assert_eq(s_check_hs(longsub, "bob"), AUTH_SUBJECT);
    cr_assert_eq(s_check_hs("{\"sub\":\"b\\u006fb\"}", "bob"), AUTH_OK, "escapes decode");
    cr_assert_eq(auth_status(AUTH_SUBJECT), 403);
}

Test(hs256, order_of_checks)
{
    /* expired and for another user: the time is found first (401) */
    cr_assert_eq(s_check_hs(s_grants("{\"sub\":\"eve\",\"exp\":%lld}", NOW_S - 100), "bob"),
                 AUTH_EXPIRED);
    /* a bad signature beats everything in the claims */
    char *t = s_hs(s_grants("{\"sub\":\"eve\",\"exp\":%lld}", NOW_S - 100));
    s_flip(t);
    cr_assert_eq(s_check(s_hs_auth, t, "bob", NULL), AUTH_SIGNATURE);
    free(t);
}

/* The refresh frame's token is a span of the frame, not NUL-terminated. */
Test(hs256, token_is_a_span)
{
    char *t = s_hs("{\"sub\":\"bob\"}");
    size_t n = strlen(t);
    char buf[2048];
    snprintf(buf, sizeof buf, "%s\",\"id\":\"1\"}", t);
    int64_t e;
    cr_assert_eq(auth_check(s_hs_auth, buf, n, "bob", NOW, LEEWAY, &e), AUTH_OK);
    cr_assert_eq(auth_check(s_hs_auth, buf, n + 1, "bob", NOW, LEEWAY, &e), AUTH_MALFORMED);
    cr_assert_eq(auth_check(s_hs_auth, buf, n - 1, "bob", NOW, LEEWAY, &e), AUTH_SIGNATURE);
    free(t);
}

Test(hs256, names_and_reasons)
{
    for (int v = 0; v < AUTH_VERDICTS; v++) {
        cr_assert(auth_name((auth_verdict_t)v)[0]);
        cr_assert(auth_reason((auth_verdict_t)v)[0]);
    }
    cr_assert_str_eq(auth_name(AUTH_EXPIRED), "expired");
    cr_assert_eq(auth_status(AUTH_OK), 0);
    cr_assert_eq(auth_status(AUTH_NOMEM), 503);
}

/* ---- keys ------------------------------------------------------------- */

Test(keys, secret_rules)
{
    char why[128];
    auth_t *a = auth_new(AUTH_SECRET, "short", 5, why, sizeof why);
    cr_assert_null(a);
    cr_assert(strstr(why, "32"), "%s", why);
    a = auth_new(AUTH_SECRET, s_secret, 31, why, sizeof why);
    cr_assert_null(a);
    a = auth_new(AUTH_SECRET, s_secret, 32, why, sizeof why);
    cr_assert_not_null(a);
    auth_destroy(&a);
    cr_assert_null(a);
    auth_destroy(&a);                       /* NULL is fine */
}

Test(keys, file_drops_one_newline)
{
    char path[] = "/tmp/zwsd-test-auth-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, s_secret, 32), 32);
    cr_assert_eq(write(fd, "\r\n", 2), 2);
    close(fd);
    char why[128];
    auth_t *a = auth_load(AUTH_SECRET, path, why, sizeof why);
    cr_assert_not_null(a, "%s", why);
    char *t = s_hs("{\"sub\":\"bob\"}");
    int64_t e;
    cr_assert_eq(auth_check(a, t, strlen(t), "bob", NOW, LEEWAY, &e), AUTH_OK);
    free(t);
    auth_destroy(&a);
    unlink(path);
    cr_assert_null(auth_load(AUTH_SECRET, path, why, sizeof why));
    cr_assert(strstr(why, "No such file"), "%s", why);
}

Test(keys, public_key_rules)
{
    char why[128];
    s_pair_t small = s_pair(EVP_RSA_gen(1024));
    cr_assert_null(auth_new(AUTH_PUBLIC_KEY, small.pub, small.pub_len, why, sizeof why));
    cr_assert(strstr(why, "2048"), "%s", why);
    s_pair_t p384 = s_pair(EVP_EC_gen("P-384"));
    cr_assert_null(auth_new(AUTH_PUBLIC_KEY, p384.pub, p384.pub_len, why, sizeof why));
    cr_assert(strstr(why, "P-256"), "%s", why);
    /* a private key does not belong there */
    cr_assert_null(auth_new(AUTH_PUBLIC_KEY, p384.priv, p384.priv_len, why, sizeof why));
    cr_assert_null(auth_new(AUTH_PUBLIC_KEY, "not a key", 9, why, sizeof why));
    cr_assert(strstr(why, "PEM"), "%s", why);
    free(small.priv); free(small.pub); free(p384.priv); free(p384.pub);
}

/* ---- RS256 and ES256 --------------------------------------------------- */

TestSuite(pubkey, .init = s_keys, .timeout = 60);

Test(pubkey, rs256)
{
    cr_assert_str_eq(auth_alg(s_rs_auth), "RS256");
    char *t = s_make(JWT_ALG_RS256, s_rsa.priv, s_rsa.priv_len,
                     s_grants("{\"sub\":\"bob\",\"exp\":%lld}", NOW_S + 10));
    int64_t exp;
    cr_assert_eq(s_check(s_rs_auth, t, "bob", &exp), AUTH_OK);
    cr_assert_eq(exp, (NOW_S + 10) * 1000);
    cr_assert_eq(s_check(s_rs_auth, t, "alice", NULL), AUTH_SUBJECT);
    cr_assert_eq(s_check(s_es_auth, t, "bob", NULL), AUTH_ALG, "an EC key verifies ES256 only");
    cr_assert_eq(s_check(s_hs_auth, t, "bob", NULL), AUTH_ALG);
    free(t);
    /* signed by another RSA key */
    t = s_make(JWT_ALG_RS256, s_rsa2.priv, s_rsa2.priv_len, "{\"sub\":\"bob\"}");
    cr_assert_eq(s_check(s_rs_auth, t, "bob", NULL), AUTH_SIGNATURE);
    free(t);
    t = s_make(JWT_ALG_RS512, s_rsa.priv, s_rsa.priv_len, "{\"sub\":\"bob\"}");
    cr_assert_eq(s_check(s_rs_auth, t, "bob", NULL), AUTH_ALG);
    free(t);
}

Test(pubkey, es256)
{
    cr_assert_str_eq(auth_alg(s_es_auth), "ES256");
    char *t = s_make(JWT_ALG_ES256, s_ec.priv, s_ec.priv_len,
                     s_grants("{\"sub\":\"bob\",\"nbf\":%lld}", NOW_S - 10));
    cr_assert_eq(s_check(s_es_auth, t, "bob", NULL), AUTH_OK);
    cr_assert_eq(s_check(s_rs_auth, t, "bob", NULL), AUTH_ALG);
    s_flip(t);
    cr_assert_eq(s_check(s_es_auth, t, "bob", NULL), AUTH_SIGNATURE);
    free(t);
    t = s_make(JWT_ALG_ES256, s_ec.priv, s_ec.priv_len,
               s_grants("{\"sub\":\"bob\",\"exp\":%lld}", NOW_S - 60));
    cr_assert_eq(s_check(s_es_auth, t, "bob", NULL), AUTH_EXPIRED);
    free(t);
}

/* The classic confusion: HS256 "signed" with the public key as its secret
 * would pass a verifier that lets the token pick the algorithm. */
Test(pubkey, hmac_with_the_public_key_is_refused)
{
    char *t = s_make(JWT_ALG_HS256, s_rsa.pub, s_rsa.pub_len, "{\"sub\":\"bob\"}");
    cr_assert_eq(s_check(s_rs_auth, t, "bob", NULL), AUTH_ALG);
    free(t);
    t = s_make(JWT_ALG_HS256, s_ec.pub, s_ec.pub_len, "{\"sub\":\"bob\"}");
    cr_assert_eq(s_check(s_es_auth, t, "bob", NULL), AUTH_ALG);
    free(t);
    char raw[4096];
    s_raw("{\"alg\":\"none\"}", "{\"sub\":\"bob\"}", "", raw);
    cr_assert_eq(s_check(s_rs_auth, raw, "bob", NULL), AUTH_ALG_NONE);
}
