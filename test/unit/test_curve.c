/* test_curve — broker/curve.c: zcert certificates parsed from text and
 * loaded from files (public and secret, keys that are not Z85 or do not
 * belong together, files that are no certificate), the client's
 * "SECRET,PUBLIC" pair (the broker's secret refused), --make-cert's files
 * and modes, the allow directory's check, and the real thing: a zauth-run
 * CURVE server lets an allowed client's message through and refuses the
 * others at their handshake (as the client's socket monitor reports).
 * Run: make build/test/test_curve && build/test/test_curve */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "curve.h"

static char dir[64];                /* /tmp/zwcurveXXXXXX */
static char why[PATH_MAX + 256];

static void
s_init(void)
{
    snprintf(dir, sizeof dir, "/tmp/zwcurveXXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    why[0] = '\0';
}

static void
s_fini(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(curve, .init = s_init, .fini = s_fini);

/* dir/name, written with text */
static const char *
s_write(const char *name, const char *text, size_t len)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}

/* A certificate as zcert_save() writes it; sec NULL: the public one. */
static int
s_cert_text(char *buf, size_t len, const char *pub, const char *sec)
{
    return snprintf(buf, len,
                    "#   ****  Generated on 2026-11-25 12:00:00 by CZMQ  ****\n"
                    "#   ZeroMQ CURVE %sCertificate\n\nmetadata\ncurve\n"
                    "    public-key = \"%s\"\n%s%s%s",
                    sec ? "**Secret** " : "Public ", pub, sec ? "    secret-key = \"" : "",
                    sec ? sec : "", sec ? "\"\n" : "");
}

static void
s_keypair(char pub[41], char sec[41])
{
    cr_assert_eq(zmq_curve_keypair(pub, sec), 0);
}

static int
s_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

Test(curve, parses_secret_and_public_certificates)
{
    char pub[41], sec[41], text[512], txt[41];
    uint8_t key[32];
    curve_cert_t c;
    s_keypair(pub, sec);
    int n = s_cert_text(text, sizeof text, pub, sec);
    cr_assert_eq(curve_cert_parse(text, (size_t)n, &c, why, sizeof why), 0, "%s", why);
    cr_expect_eq(c.has_secret, 1);
    zmq_z85_decode(key, pub);
    cr_expect_arr_eq(c.public_key, key, 32);
    zmq_z85_decode(key, sec);
    cr_expect_arr_eq(c.secret_key, key, 32);
    curve_key_txt(c.public_key, txt);
    cr_expect_str_eq(txt, pub);

    n = s_cert_text(text, sizeof text, pub, NULL);
    cr_assert_eq(curve_cert_parse(text, (size_t)n, &c, why, sizeof why), 0, "%s", why);
    cr_expect_eq(c.has_secret, 0);
    cr_expect(s_zero(c.secret_key, 32));
    /* no comments, no metadata: ZPL all the same */
    n = snprintf(text, sizeof text, "curve\n    public-key = \"%s\"\n", pub);
    cr_expect_eq(curve_cert_parse(text, (size_t)n, &c, why, sizeof why), 0, "%s", why);
}

/* Each refusal names what is wrong, and leaves no key behind. */
static void
s_refused(const char *text, size_t len, const char *expect)
{
    curve_cert_t c;
    memset(&c, 0xa5, sizeof c);
    why[0] = '\0';
    cr_expect_eq(curve_cert_parse(text, len, &c, why, sizeof why), -1, "accepted: %s", text);
    cr_expect(strstr(why, expect), "why '%s' lacks '%s'", why, expect);
    cr_expect(s_zero((const uint8_t *)&c, sizeof c), "a refused certificate is zeroed");
}

Test(curve, refuses_what_is_not_a_certificate)
{
    char pub[41], sec[41], pub2[41], sec2[41], text[512], bad[41];
    s_keypair(pub, sec);
    s_keypair(pub2, sec2);
    s_refused("", 0, "empty");
    s_refused("curve\n\0    public-key = \"x\"\n", 28, "binary");
    s_refused("metadata\ncurve\n", 15, "no curve/public-key");
    s_refused("myhost.example\n", 15, "not a certificate");
    s_refused("curve\n   public-key = \"abc\"\n", 28, "not in the ZPL format");  /* 3 spaces */
    int n = snprintf(text, sizeof text, "curve\n    public-key = \"%.39s\"\n", pub);
    s_refused(text, (size_t)n, "public-key is not 40 Z85");
    snprintf(bad, sizeof bad, "%s", pub);
    bad[7] = '~';                       /* not in the Z85 alphabet */
    n = s_cert_text(text, sizeof text, bad, NULL);
    s_refused(text, (size_t)n, "public-key is not 40 Z85");
    snprintf(bad, sizeof bad, "%s", sec);
    bad[5] = '~';
    n = s_cert_text(text, sizeof text, pub, bad);
    s_refused(text, (size_t)n, "secret-key is not 40 Z85");
    /* two valid keys of different pairs */
    n = s_cert_text(text, sizeof text, pub, sec2);
    s_refused(text, (size_t)n, "does not belong");
    char *big = malloc(CURVE_FILE_MAX + 1);
    cr_assert_not_null(big);
    memset(big, '#', CURVE_FILE_MAX + 1);
    s_refused(big, CURVE_FILE_MAX + 1, "larger than");
    free(big);
}

Test(curve, loads_files_and_names_them_in_errors)
{
    char pub[41], sec[41], text[512];
    curve_cert_t c;
    s_keypair(pub, sec);
    int n = s_cert_text(text, sizeof text, pub, sec);
    const char *p = s_write("a_secret", text, (size_t)n);
    cr_assert_eq(curve_cert_load(p, 1, &c, why, sizeof why), 0, "%s", why);
    cr_expect_eq(c.has_secret, 1);
    n = s_cert_text(text, sizeof text, pub, NULL);
    p = s_write("a", text, (size_t)n);
    cr_expect_eq(curve_cert_load(p, 0, &c, why, sizeof why), 0, "%s", why);
    /* a public certificate where the secret one is needed */
    cr_expect_eq(curve_cert_load(p, 1, &c, why, sizeof why), -1);
    cr_expect(strstr(why, p) && strstr(why, "no secret key"), "%s", why);
    cr_expect(s_zero((const uint8_t *)&c, sizeof c));
    /* missing, a directory, not a certificate */
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    cr_expect_eq(curve_cert_load(missing, 0, &c, why, sizeof why), -1);
    cr_expect(strstr(why, missing) && strstr(why, "No such file"), "%s", why);
    cr_expect_eq(curve_cert_load(dir, 0, &c, why, sizeof why), -1);
    cr_expect(strstr(why, "not a regular file"), "%s", why);
    p = s_write("hostname", "myhost\n", 7);
    cr_expect_eq(curve_cert_load(p, 0, &c, why, sizeof why), -1);
    cr_expect(strstr(why, "not a certificate"), "%s", why);
}

Test(curve, client_pair_wants_our_secret_and_the_brokers_public_certificate)
{
    char cpub[41], csec[41], bpub[41], bsec[41], text[512], spec[3 * PATH_MAX];
    char cs[PATH_MAX], cp[PATH_MAX], bs[PATH_MAX], bp[PATH_MAX];
    curve_client_t cl;
    uint8_t key[32];
    s_keypair(cpub, csec);
    s_keypair(bpub, bsec);
    int n = s_cert_text(text, sizeof text, cpub, csec);
    snprintf(cs, sizeof cs, "%s", s_write("client_secret", text, (size_t)n));
    n = s_cert_text(text, sizeof text, cpub, NULL);
    snprintf(cp, sizeof cp, "%s", s_write("client", text, (size_t)n));
    n = s_cert_text(text, sizeof text, bpub, bsec);
    snprintf(bs, sizeof bs, "%s", s_write("broker_secret", text, (size_t)n));
    n = s_cert_text(text, sizeof text, bpub, NULL);
    snprintf(bp, sizeof bp, "%s", s_write("broker", text, (size_t)n));

    snprintf(spec, sizeof spec, "%s,%s", cs, bp);
    cr_assert_eq(curve_client_load(spec, &cl, why, sizeof why), 0, "%s", why);
    cr_expect_eq(cl.on, 1);
    zmq_z85_decode(key, bpub);
    cr_expect_arr_eq(cl.server_key, key, 32);
    zmq_z85_decode(key, csec);
    cr_expect_arr_eq(cl.self.secret_key, key, 32);

    /* the broker's secret has no business on a client host */
    snprintf(spec, sizeof spec, "%s,%s", cs, bs);
    cr_expect_eq(curve_client_load(spec, &cl, why, sizeof why), -1);
    cr_expect(strstr(why, "secret key") && strstr(why, bs), "%s", why);
    cr_expect_eq(cl.on, 0);
    snprintf(spec, sizeof spec, "%s,%s", cp, bp);        /* no secret of ours */
    cr_expect_eq(curve_client_load(spec, &cl, why, sizeof why), -1);
    cr_expect(strstr(why, "no secret key"), "%s", why);
    const char *malformed[] = { "", "a", ",b", "a,", "a,b,c" };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        cr_expect_eq(curve_client_load(malformed[i], &cl, why, sizeof why), -1, "%s",
                     malformed[i]);
        cr_expect(strstr(why, "CLIENT_SECRET_FILE,BROKER_PUBLIC_FILE"), "%s", why);
    }
}

Test(curve, make_cert_writes_a_pair_and_never_overwrites)
{
    char base[PATH_MAX], secret[PATH_MAX + 8], pub[41];
    curve_cert_t c, s;
    struct stat st;
    snprintf(base, sizeof base, "%s/host", dir);
    snprintf(secret, sizeof secret, "%s_secret", base);
    mode_t old = umask(022);
    cr_assert_eq(curve_make_cert(base, pub, why, sizeof why), 0, "%s", why);
    cr_assert_eq(stat(secret, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600, "secret mode %o", st.st_mode & 0777);
    cr_assert_eq(stat(base, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0644, "public mode %o", st.st_mode & 0777);
    umask(old);
    cr_assert_eq(curve_cert_load(base, 0, &c, why, sizeof why), 0, "%s", why);
    cr_assert_eq(curve_cert_load(secret, 1, &s, why, sizeof why), 0, "%s", why);
    cr_expect_eq(c.has_secret, 0, "the public file holds no secret");
    cr_expect_arr_eq(c.public_key, s.public_key, 32);
    char txt[41];
    curve_key_txt(c.public_key, txt);
    cr_expect_str_eq(txt, pub);
    /* again: refused, both files as they were */
    cr_expect_eq(curve_make_cert(base, pub, why, sizeof why), -1);
    cr_expect(strstr(why, "exists already"), "%s", why);
    cr_assert_eq(curve_cert_load(secret, 1, &c, why, sizeof why), 0, "%s", why);
    cr_expect_arr_eq(c.secret_key, s.secret_key, 32);
    unlink(base);                       /* the secret alone is enough to refuse */
    cr_expect_eq(curve_make_cert(base, pub, why, sizeof why), -1);
    cr_expect(strstr(why, secret), "%s", why);
    cr_expect_eq(curve_make_cert("-", pub, why, sizeof why), -1);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_expect_eq(curve_make_cert(longname, pub, why, sizeof why), -1);
}

Test(curve, allow_dir_is_a_directory_and_counts_public_certificates)
{
    char abs[PATH_MAX], sub[PATH_MAX + 8], rel[PATH_MAX];
    int n = -1;
    s_write("a", "x", 1);
    s_write("b", "x", 1);
    s_write("a_secret", "x", 1);        /* zauth skips these */
    s_write(".hidden", "x", 1);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    cr_assert_eq(curve_allow_check(dir, abs, sizeof abs, &n, why, sizeof why), 0, "%s", why);
    cr_expect_eq(n, 2);
    cr_expect_str_eq(abs, dir);
    /* relative, through a "..": the absolute path of the same directory */
    cr_assert_eq(chdir(sub), 0);
    snprintf(rel, sizeof rel, "../");
    cr_assert_eq(curve_allow_check(rel, abs, sizeof abs, &n, why, sizeof why), 0, "%s", why);
    cr_expect_str_eq(abs, dir);
    const char *file = s_write("c", "x", 1);
    cr_expect_eq(curve_allow_check(file, abs, sizeof abs, &n, why, sizeof why), -1);
    cr_expect(strstr(why, "not a directory"), "%s", why);
    snprintf(sub, sizeof sub, "%s/none", dir);
    cr_expect_eq(curve_allow_check(sub, abs, sizeof abs, &n, why, sizeof why), -1);
    cr_expect(strstr(why, "No such file"), "%s", why);
}

/* ---- the handshake, end to end in one process --------------------------- */

/* A client socket in its own context, with keys (NULL: plain), a monitor
 * for failed handshakes, connected to ep. */
typedef struct {
    void *ctx, *sock, *mon;
} s_client_t;

static void
s_client_open(s_client_t *c, const curve_client_t *keys, const char *ep)
{
    static int n;
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://mon%d", n++);
    c->ctx = zmq_ctx_new();
    c->sock = zmq_socket(c->ctx, ZMQ_PUSH);
    c->mon = zmq_socket(c->ctx, ZMQ_PAIR);
    cr_assert(c->ctx && c->sock && c->mon);
    int zero = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->mon, ZMQ_LINGER, &zero, sizeof zero);
    if (keys)
        cr_assert_eq(curve_client_apply(keys, c->sock), 0);
    cr_assert_eq(zmq_socket_monitor(c->sock, mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                                    | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                    | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                    | ZMQ_EVENT_HANDSHAKE_SUCCEEDED), 0);
    cr_assert_eq(zmq_connect(c->mon, mon), 0);
    cr_assert_eq(zmq_connect(c->sock, ep), 0);
}

/* The next monitor event (5 s at most): its kind and value. */
static uint16_t
s_client_event(s_client_t *c, uint32_t *value)
{
    zmq_pollitem_t it = { c->mon, 0, ZMQ_POLLIN, 0 };
    cr_assert_eq(zmq_poll(&it, 1, 5000), 1, "no handshake event within 5 s");
    uint8_t ev[6];
    uint16_t kind;
    cr_assert_eq(zmq_recv(c->mon, ev, sizeof ev, 0), 6);
    memcpy(&kind, ev, 2);
    memcpy(value, ev + 2, 4);
    char ep[256];
    zmq_recv(c->mon, ep, sizeof ep, 0);
    return kind;
}

static void
s_client_close(s_client_t *c)
{
    zmq_close(c->mon);
    zmq_close(c->sock);
    zmq_ctx_term(c->ctx);
}

static void
s_pair(const char *name, curve_cert_t *secret, curve_cert_t *public)
{
    char base[PATH_MAX], sec[PATH_MAX + 8], pub[41];
    snprintf(base, sizeof base, "%s/%s", dir, name);
    snprintf(sec, sizeof sec, "%s_secret", base);
    cr_assert_eq(curve_make_cert(base, pub, why, sizeof why), 0, "%s", why);
    cr_assert_eq(curve_cert_load(sec, 1, secret, why, sizeof why), 0, "%s", why);
    if (public)
        cr_assert_eq(curve_cert_load(base, 0, public, why, sizeof why), 0, "%s", why);
}

Test(curve, zauth_server_lets_allowed_keys_in_and_refuses_the_rest)
{
    char allow[128], base[PATH_MAX], ep[PATH_MAX + 16], pub[41];
    curve_cert_t broker, broker_pub, good, bad;
    curve_client_t gk = { .on = 1 }, bk = { .on = 1 }, wrong_server = { .on = 1 };
    snprintf(allow, sizeof allow, "%s/allow", dir);
    cr_assert_eq(mkdir(allow, 0700), 0);
    s_pair("broker", &broker, &broker_pub);
    s_pair("bad", &bad, NULL);
    snprintf(base, sizeof base, "%s/good", allow);      /* its public file: allowed */
    cr_assert_eq(curve_make_cert(base, pub, why, sizeof why), 0, "%s", why);
    char gsec[PATH_MAX + 8];
    snprintf(gsec, sizeof gsec, "%s_secret", base);
    cr_assert_eq(curve_cert_load(gsec, 1, &good, why, sizeof why), 0, "%s", why);
    gk.self = good;
    bk.self = bad;
    memcpy(gk.server_key, broker_pub.public_key, 32);
    memcpy(bk.server_key, broker_pub.public_key, 32);
    wrong_server.self = good;
    memcpy(wrong_server.server_key, bad.public_key, 32);

    curve_server_t *srv = curve_server_new(&broker, allow, 0);
    cr_assert_not_null(srv);
    void *pull = zmq_socket(curve_server_ctx(srv), ZMQ_PULL);
    cr_assert_not_null(pull);
    int zero = 0;
    zmq_setsockopt(pull, ZMQ_LINGER, &zero, sizeof zero);
    cr_assert_eq(curve_server_apply(srv, pull), 0);
    snprintf(ep, sizeof ep, "ipc://%s/ep", dir);
    cr_assert_eq(zmq_bind(pull, ep), 0);

    /* not allowed: refused by zauth (ZAP 400), as the client is told */
    s_client_t c;
    uint32_t v = 0;
    s_client_open(&c, &bk, ep);
    cr_expect_eq(s_client_event(&c, &v), ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    cr_expect_eq(v, 400);
    zmq_send(c.sock, "bad", 3, ZMQ_DONTWAIT);           /* queued, never delivered */
    s_client_close(&c);
    /* plain ZeroMQ to a CURVE server: the mechanisms differ (the client
     * is told so, or that the server hung up: whichever side reads the
     * other's greeting first) */
    s_client_open(&c, NULL, ep);
    uint16_t k = s_client_event(&c, &v);
    cr_expect((k == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
               && v == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
              || k == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, "event 0x%x 0x%x", k, v);
    zmq_send(c.sock, "plain", 5, ZMQ_DONTWAIT);
    s_client_close(&c);
    /* allowed: attached, and its message is the first the server gets */
    s_client_open(&c, &gk, ep);
    cr_expect_eq(s_client_event(&c, &v), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    cr_assert_eq(zmq_send(c.sock, "good", 4, 0), 4);
    zmq_pollitem_t it = { pull, 0, ZMQ_POLLIN, 0 };
    cr_assert_eq(zmq_poll(&it, 1, 5000), 1, "the allowed client's message did not arrive");
    char got[16] = "";
    cr_expect_eq(zmq_recv(pull, got, sizeof got, 0), 4);
    cr_expect_str_eq(got, "good");
    s_client_close(&c);
    /* an allowed key that expects another server key never gets in: the
     * server cannot read its hello and hangs up */
    s_client_open(&c, &wrong_server, ep);
    zmq_send(c.sock, "wrong", 5, ZMQ_DONTWAIT);
    cr_expect_neq(s_client_event(&c, &v), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_client_close(&c);

    /* nothing else ever arrived: a last allowed message is next */
    s_client_open(&c, &gk, ep);
    cr_expect_eq(s_client_event(&c, &v), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    cr_assert_eq(zmq_send(c.sock, "last", 4, 0), 4);
    cr_assert_eq(zmq_poll(&it, 1, 5000), 1);
    memset(got, 0, sizeof got);
    cr_expect_eq(zmq_recv(pull, got, sizeof got, 0), 4);
    cr_expect_str_eq(got, "last");
    s_client_close(&c);
    zmq_close(pull);
    curve_server_destroy(&srv);
    cr_expect_null(srv);
}
