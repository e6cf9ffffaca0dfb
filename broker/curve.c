/* curve — see curve.h. Certificates are parsed with czmq's zconfig (the
 * ZPL that zcert_save() writes and zauth's certificate store reads), keys
 * decoded and checked with libzmq's Z85 and curve functions. */
#include "curve.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "log.h"

struct curve_server {
    zactor_t *auth;
    void     *ctx;
    uint8_t   secret_key[CURVE_KEY_LEN];
};

void
curve_key_txt(const uint8_t key[CURVE_KEY_LEN], char out[CURVE_TXT_LEN + 1])
{
    zmq_z85_encode(out, key, CURVE_KEY_LEN);
}

/* One key's text: exactly 40 characters of Z85. zmq_z85_decode() checks
 * the alphabet and returns NULL on a character outside it. */
static int
s_decode(const char *txt, uint8_t key[CURVE_KEY_LEN])
{
    return txt && strlen(txt) == CURVE_TXT_LEN && zmq_z85_decode(key, txt) ? 0 : -1;
}

int
curve_cert_parse(const char *text, size_t len, curve_cert_t *cert, char *why, size_t wlen)
{
    memset(cert, 0, sizeof *cert);
    if (len == 0) {
        snprintf(why, wlen, "empty, not a certificate");
        return -1;
    }
    if (len > CURVE_FILE_MAX || memchr(text, '\0', len)) {
        snprintf(why, wlen, "not a certificate (binary, or larger than %d bytes)", CURVE_FILE_MAX);
        return -1;
    }
    int rc = -1;
    char *pub = NULL, *sec = NULL;
    zchunk_t *chunk = zchunk_new(text, len);
    zconfig_t *root = chunk ? zconfig_chunk_load(chunk) : NULL;
    if (!chunk) {
        snprintf(why, wlen, "%s", strerror(ENOMEM));
        goto done;
    }
    if (!root) {
        snprintf(why, wlen, "not a certificate (not in the ZPL format zcert_save writes)");
        goto done;
    }
    pub = zconfig_get(root, "/curve/public-key", NULL);
    sec = zconfig_get(root, "/curve/secret-key", NULL);
    if (!pub) {
        snprintf(why, wlen, "not a certificate (no curve/public-key)");
        goto done;
    }
    if (s_decode(pub, cert->public_key) < 0) {
        snprintf(why, wlen, "curve/public-key is not %d Z85 characters", CURVE_TXT_LEN);
        goto done;
    }
    if (sec) {
        char derived[CURVE_TXT_LEN + 1];
        if (s_decode(sec, cert->secret_key) < 0) {
            snprintf(why, wlen, "curve/secret-key is not %d Z85 characters", CURVE_TXT_LEN);
            goto done;
        }
        /* the public key this secret key has: a file whose two keys
         * disagree would fail every handshake, obscurely */
        if (zmq_curve_public(derived, sec) < 0 || strcmp(derived, pub)) {
            snprintf(why, wlen, "curve/public-key does not belong to curve/secret-key");
            goto done;
        }
        cert->has_secret = 1;
    }
    rc = 0;
done:
    if (sec)
        explicit_bzero(sec, strlen(sec));   /* zconfig's copy of the secret */
    if (chunk)
        explicit_bzero(zchunk_data(chunk), zchunk_size(chunk));
    zconfig_destroy(&root);
    zchunk_destroy(&chunk);
    if (rc < 0)
        explicit_bzero(cert, sizeof *cert);
    return rc;
}

int
curve_cert_load(const char *path, int need_secret, curve_cert_t *cert, char *why, size_t wlen)
{
    static char buf[CURVE_FILE_MAX + 1];    /* one byte more: too large */
    char what[256] = "";
    size_t n = 0;
    struct stat st;
    int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    memset(cert, 0, sizeof *cert);
    if (!zmq_has("curve")) {
        snprintf(what, sizeof what, "this libzmq has no CURVE support");
        goto done;
    }
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(what, sizeof what, "%s", strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(what, sizeof what, "not a regular file");
        goto done;
    }
    while (n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(what, sizeof what, "%s", strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (curve_cert_parse(buf, n, cert, what, sizeof what) < 0)
        goto done;
    if (need_secret && !cert->has_secret) {
        snprintf(what, sizeof what, "no secret key: a public certificate (give NAME_secret)");
        goto done;
    }
    rc = 0;
done:
    if (rc < 0) {
        snprintf(why, wlen, "%s: %s", path, what);
        explicit_bzero(cert, sizeof *cert);
    }
    explicit_bzero(buf, n);
    if (fd >= 0)
        close(fd);
    return rc;
}

int
curve_client_load(const char *spec, curve_client_t *client, char *why, size_t wlen)
{
    char path[PATH_MAX];
    curve_cert_t server;
    const char *comma = strchr(spec, ',');
    memset(client, 0, sizeof *client);
    if (!comma || comma == spec || !comma[1] || strchr(comma + 1, ',')) {
        snprintf(why, wlen, "'%s' is not CLIENT_SECRET_FILE,BROKER_PUBLIC_FILE", spec);
        return -1;
    }
    if ((size_t)(comma - spec) >= sizeof path) {
        snprintf(why, wlen, "file name too long");
        return -1;
    }
    memcpy(path, spec, (size_t)(comma - spec));
    path[comma - spec] = '\0';
    if (curve_cert_load(path, 1, &client->self, why, wlen) < 0)
        return -1;
    if (curve_cert_load(comma + 1, 0, &server, why, wlen) < 0)
        goto fail;
    if (server.has_secret) {
        snprintf(why, wlen, "%s: holds the broker's secret key, which stays on the broker: "
                 "give its public certificate", comma + 1);
        goto fail;
    }
    memcpy(client->server_key, server.public_key, CURVE_KEY_LEN);
    explicit_bzero(&server, sizeof server);
    client->on = 1;
    return 0;
fail:
    explicit_bzero(&server, sizeof server);
    explicit_bzero(client, sizeof *client);
    return -1;
}

int
curve_client_apply(const curve_client_t *client, void *sock)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, client->server_key, CURVE_KEY_LEN) < 0
        || zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, client->self.public_key, CURVE_KEY_LEN) < 0
        || zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, client->self.secret_key, CURVE_KEY_LEN) < 0)
        return -1;
    return 0;
}

curve_server_t *
curve_server_new(const curve_cert_t *cert, const char *allow_dir, int verbose)
{
    curve_server_t *self = calloc(1, sizeof *self);
    if (!self) {
        log_err("curve");
        return NULL;
    }
    memcpy(self->secret_key, cert->secret_key, CURVE_KEY_LEN);
    /* the broker keeps its own SIGTERM/SIGINT handlers: czmq installs its
     * own in zsys_init() unless told not to */
    zsys_handler_set(NULL);
    if (!(self->ctx = zsys_init())) {
        log_errx("curve: cannot create czmq's ZeroMQ context");
        goto fail;
    }
    /* zauth logs through zsys (with -v: every handshake's verdict, with
     * the client's address and public key): on stderr, like ours */
    zsys_set_logstream(stderr);
    zsys_set_logident("zwsd-broker");
    if (!(self->auth = zactor_new(zauth, NULL))) {
        log_errx("curve: cannot start the zauth actor");
        goto fail;
    }
    /* each command is answered with a signal once applied */
    if ((verbose && (zstr_sendx(self->auth, "VERBOSE", NULL) < 0 || zsock_wait(self->auth) < 0))
        || zstr_sendx(self->auth, "CURVE", allow_dir, NULL) < 0 || zsock_wait(self->auth) < 0) {
        log_errx("curve: the zauth actor does not answer");
        goto fail;
    }
    return self;
fail:
    curve_server_destroy(&self);
    return NULL;
}

void
curve_server_destroy(curve_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    curve_server_t *self = *self_p;
    zactor_destroy(&self->auth);        /* accepts NULL */
    if (self->ctx)
        zsys_shutdown();                /* terminates the context */
    explicit_bzero(self, sizeof *self);
    free(self);
    *self_p = NULL;
}

void *
curve_server_ctx(curve_server_t *self)
{
    return self->ctx;
}

int
curve_server_apply(curve_server_t *self, void *sock)
{
    int on = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &on, sizeof on) < 0
        || zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, self->secret_key, CURVE_KEY_LEN) < 0)
        return -1;
    return 0;
}

static int
s_ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

int
curve_allow_check(const char *dir, char *abs, size_t abslen, int *ncerts, char *why,
                  size_t wlen)
{
    char real[PATH_MAX];
    struct stat st;
    *ncerts = 0;
    if (!realpath(dir, real) || stat(real, &st) < 0) {
        snprintf(why, wlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, wlen, "%s: not a directory", dir);
        return -1;
    }
    if (strlen(real) >= abslen) {
        snprintf(why, wlen, "%s: path too long", dir);
        return -1;
    }
    DIR *d = opendir(real);
    if (!d) {
        snprintf(why, wlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[PATH_MAX];
        if (e->d_name[0] == '.' || s_ends_with(e->d_name, "_secret")
            || snprintf(path, sizeof path, "%s/%s", real, e->d_name) >= (int)sizeof path)
            continue;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            (*ncerts)++;
    }
    closedir(d);
    strcpy(abs, real);
    return 0;
}

int
curve_make_cert(const char *base, char pub[CURVE_TXT_LEN + 1], char *why, size_t wlen)
{
    char secret[256];
    struct stat st;
    /* zcert_save() builds NAME_secret in 256 bytes; "-" is its stdout */
    if (!*base || !strcmp(base, "-") || strlen(base) + strlen("_secret") >= sizeof secret) {
        snprintf(why, wlen, "'%s': not a usable file name (1-248 bytes)", base);
        return -1;
    }
    snprintf(secret, sizeof secret, "%s_secret", base);
    if (lstat(base, &st) == 0 || lstat(secret, &st) == 0) {
        snprintf(why, wlen, "%s: exists already; not overwritten",
                 lstat(base, &st) == 0 ? base : secret);
        return -1;
    }
    zcert_t *cert = zsys_has_curve() ? zcert_new() : NULL;
    if (!cert) {
        snprintf(why, wlen, "cannot make a key pair (libzmq without CURVE?)");
        return -1;
    }
    errno = 0;
    int rc = zcert_save(cert, base);
    if (rc < 0)
        snprintf(why, wlen, "cannot write %s or %s: %s", base, secret,
                 strerror(errno ? errno : EIO));
    else
        snprintf(pub, CURVE_TXT_LEN + 1, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return rc < 0 ? -1 : 0;
}
