/* options — see options.h. One table drives getopt_long, the config file
 * and --help, so the three can never disagree. */
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "curve.h"
#include "version.h"

typedef int (*opt_set_fn)(options_t *o, const char *v);

/* Why the last setter refused its value, when it knows more than "invalid"
 * (a key file); printed after the one error line's option name. */
static char s_why[160];

typedef struct {
    const char *name;
    int         has_arg;            /* 0 = flag */
    opt_set_fn  set;
    const char *arg;                /* for --help */
    const char *help;
} opt_def_t;

static int
s_parse_size(const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

static int
s_addr_ok(const char *v)
{
    const char *colon = strrchr(v, ':');
    long long port;
    return colon && colon != v && s_parse_size(colon + 1, 1, 65535, &port) == 0;
}

static int
s_copy(char *dst, size_t len, const char *v)
{
    if (strlen(v) >= len)
        return -1;
    strcpy(dst, v);
    return 0;
}

static int s_listen(options_t *o, const char *v)
{ return s_addr_ok(v) ? s_copy(o->listen, sizeof o->listen, v) : -1; }
static int s_workers(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 1, 256, &n)) return -1; o->workers = (int)n; return 0; }
static int
s_broker(options_t *o, const char *v)
{
    static shard_spec_t spec;           /* 16 KB: not on the stack */
    if (shard_parse(v, 1, &spec, s_why, sizeof s_why) < 0)
        return -1;
    return s_copy(o->broker, sizeof o->broker, v);
}
/* Both files must be certificates, the first with its secret key, now
 * (each worker loads them again at its start). */
static int
s_broker_curve(options_t *o, const char *v)
{
    static curve_client_t keys;         /* a secret: not on the stack */
    int rc = curve_client_load(v, &keys, s_why, sizeof s_why);
    explicit_bzero(&keys, sizeof keys);
    return rc < 0 ? -1 : s_copy(o->broker_curve, sizeof o->broker_curve, v);
}
static int s_runtime(options_t *o, const char *v)
{ return *v == '/' ? s_copy(o->runtime_dir, sizeof o->runtime_dir, v) : -1; }
static int s_max_message(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 64, 16777216, &n)) return -1; o->max_message = (size_t)n; return 0; }
static int
s_sessions(options_t *o, const char *v)
{
    if (!strcmp(v, "single")) o->sessions_multi = 0;
    else if (!strcmp(v, "multi")) o->sessions_multi = 1;
    else return -1;
    return 0;
}
static int s_api_listen(options_t *o, const char *v)
{ return (!strcmp(v, "off") || s_addr_ok(v)) ? s_copy(o->api_listen, sizeof o->api_listen, v) : -1; }
static int
s_api_key(options_t *o, const char *v)
{
    char why[128];
    return options_check_key_file(v, why, sizeof why) == 0
           ? s_copy(o->api_key_file, sizeof o->api_key_file, v) : -1;
}
static int
s_bool(int *dst, const char *v)
{
    if (!v || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1")) *dst = 1;
    else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0")) *dst = 0;
    else return -1;
    return 0;
}
static int s_client_bcast(options_t *o, const char *v) { return s_bool(&o->allow_client_broadcast, v); }
static int
s_demo(options_t *o, const char *v)
{
    if (!strcmp(v, "on")) o->demo = 1;
    else if (!strcmp(v, "off")) o->demo = 0;
    else return -1;
    return 0;
}
static int s_max_groups(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 0, 100000, &n)) return -1; o->max_groups = (int)n; return 0; }
static int s_rate(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 0, 10000000, &n)) return -1; o->rate_limit = (int)n; return 0; }
static int s_max_out(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 4096, 1LL << 30, &n)) return -1; o->max_outbound = (size_t)n; return 0; }
static int s_bus_hwm(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 1, 100000000, &n)) return -1; o->bus_hwm = (int)n; return 0; }
static int s_bus_batch(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 0, 100000, &n)) return -1; o->bus_batch_us = (int)n; return 0; }
static int s_turn(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 0, 10000, &n)) return -1; o->turn_us = (int)n; return 0; }
static int s_hist_size(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 0, 1000000, &n)) return -1; o->history_size = (int)n; return 0; }
static int s_hist_ttl(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 1, 86400, &n)) return -1; o->history_ttl = (int)n; return 0; }
/* 128 KiB (history.h HIST_MEM_MIN) to 1 TiB */
static int s_hist_mem(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 131072, 1LL << 40, &n)) return -1; o->history_memory = (size_t)n; return 0; }
static int s_shutdown(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 1, 3600, &n)) return -1; o->shutdown_timeout = (int)n; return 0; }
static int s_config(options_t *o, const char *v) { return s_copy(o->config, sizeof o->config, v); }

/* A JWT key file must hold a key auth.c accepts, now (workers read it
 * again at their start and on reload). */
static int
s_jwt_file(char *dst, size_t len, auth_kind_t kind, const char *v)
{
    char why[128];
    auth_t *a = auth_load(kind, v, why, sizeof why);
    if (!a) {
        snprintf(s_why, sizeof s_why, "%s", why);
        return -1;
    }
    auth_destroy(&a);
    return s_copy(dst, len, v);
}
static int s_jwt_secret(options_t *o, const char *v)
{ return s_jwt_file(o->jwt_secret_file, sizeof o->jwt_secret_file, AUTH_SECRET, v); }
static int s_jwt_pubkey(options_t *o, const char *v)
{ return s_jwt_file(o->jwt_public_key_file, sizeof o->jwt_public_key_file, AUTH_PUBLIC_KEY, v); }
static int s_jwt_leeway(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 0, 600, &n)) return -1; o->jwt_leeway = (int)n; return 0; }
static int
s_origins(options_t *o, const char *v)
{
    char buf[sizeof o->allowed_origins];
    const char *list[OPTIONS_ORIGINS_MAX];
    if (options_split_origins(v, buf, sizeof buf, list, OPTIONS_ORIGINS_MAX) < 0)
        return -1;
    return s_copy(o->allowed_origins, sizeof o->allowed_origins, v);
}
static int s_hs_timeout(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 1, 3600, &n)) return -1; o->handshake_timeout = (int)n; return 0; }
static int s_max_head(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 1024, 65536, &n)) return -1; o->max_head = (size_t)n; return 0; }
static int s_per_ip(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 0, 1048576, &n)) return -1; o->max_conns_per_ip = (int)n; return 0; }
static int s_max_conns(options_t *o, const char *v)
{ long long n; if (s_parse_size(v, 0, 1048576, &n)) return -1; o->max_conns = (int)n; return 0; }
static int s_verbose(options_t *o, const char *v)
{ long long n; if (!v) { o->verbose++; return 0; } if (s_parse_size(v, 0, 9, &n)) return -1; o->verbose = (int)n; return 0; }

static const opt_def_t s_opts[] = {
    { "listen", 1, s_listen, "ADDR:PORT", "WebSocket listener (default 0.0.0.0:8080)" },
    { "workers", 1, s_workers, "N", "worker processes (default: number of cores)" },
    { "broker", 1, s_broker, "PUB,SUB[;PUB,SUB...]", "external brokers, one PUB,SUB pair of endpoints per shard (default: embedded broker)" },
    { "broker-curve", 1, s_broker_curve, "CERT,BROKER_CERT", "CURVE to the external broker: our secret certificate, its public one" },
    { "runtime-dir", 1, s_runtime, "DIR", "ipc sockets and lock file (default /run/zwsd)" },
    { "max-message", 1, s_max_message, "BYTES", "largest client message (default 65536)" },
    { "sessions", 1, s_sessions, "single|multi", "sessions per user (default single)" },
    { "api-listen", 1, s_api_listen, "ADDR:PORT|off", "HTTP API listener (default 127.0.0.1:8081)" },
    { "api-key-file", 1, s_api_key, "FILE", "require Authorization: Bearer <key> on the API" },
    { "allow-client-broadcast", 0, s_client_bcast, NULL, "let clients send broadcast frames" },
    { "demo", 1, s_demo, "on|off", "serve the demo chat page at / on the WebSocket listener (default off)" },
    { "max-groups", 1, s_max_groups, "N", "groups per session (default 256)" },
    { "rate-limit", 1, s_rate, "N", "messages/s per connection, bursts of 2N, 0 = off (default 1000)" },
    { "max-outbound", 1, s_max_out, "BYTES", "outbound queue per connection before close 4008 (default 1048576)" },
    { "bus-hwm", 1, s_bus_hwm, "N", "messages ZeroMQ queues per peer on the bus (default 100000)" },
    { "bus-batch-us", 1, s_bus_batch, "US", "hold bus messages up to US microseconds to send them in bursts (default 0: once per loop turn)" },
    { "turn-us", 1, s_turn, "US", "a busy worker or embedded broker starts its loop turns on a grid of US microseconds, 0-10000 (default 1000)" },
    { "history-size", 1, s_hist_size, "N", "embedded broker: messages kept per user and group stream, 0 = none (default 100)" },
    { "history-ttl", 1, s_hist_ttl, "SEC", "embedded broker: how long a message is kept, 1-86400 (default 300)" },
    { "history-memory", 1, s_hist_mem, "BYTES", "embedded broker: memory for all history (default 67108864)" },
    { "shutdown-timeout", 1, s_shutdown, "SEC", "graceful stop deadline (default 10)" },
    { "jwt-secret-file", 1, s_jwt_secret, "FILE", "require JWTs signed HS256 with this secret (default: auth off)" },
    { "jwt-public-key-file", 1, s_jwt_pubkey, "FILE", "require JWTs signed RS256/ES256, verified with this PEM public key" },
    { "jwt-leeway", 1, s_jwt_leeway, "SEC", "clock skew allowed on exp and nbf (default 30)" },
    { "allowed-origins", 1, s_origins, "LIST", "comma-separated Origins allowed to connect, * = any (default *)" },
    { "handshake-timeout", 1, s_hs_timeout, "SEC", "time for a client to send its request head (default 10)" },
    { "max-head", 1, s_max_head, "BYTES", "largest request head, then 431 (default 8192)" },
    { "max-conns-per-ip", 1, s_per_ip, "N", "connections per client address per worker, then 429; 0 = off (default 256)" },
    { "max-conns", 1, s_max_conns, "N", "connections per worker, then 503 (default: from the open-file limit)" },
    { "config", 1, s_config, "FILE", "read options from FILE (name = value lines)" },
    { "verbose", 2, s_verbose, NULL, NULL },    /* -v; "verbose = N" in a config file */
};
#define NOPTS (sizeof s_opts / sizeof *s_opts)

void
options_usage(FILE *out)
{
    fprintf(out, "usage: zwsd [options]\n");
    for (size_t i = 0; i < NOPTS; i++) {
        if (!s_opts[i].help)
            continue;
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", s_opts[i].name, s_opts[i].arg ? " " : "",
                 s_opts[i].arg ? s_opts[i].arg : "");
        fprintf(out, "  %-32s %s\n", left, s_opts[i].help);
    }
    fprintf(out, "  %-32s %s\n", "-v", "more verbose (repeatable)");
    fprintf(out, "  %-32s %s\n", "-h, --help", "this help");
    fprintf(out, "  %-32s %s\n", "--version", "print the version");
}

static void
s_defaults(options_t *o)
{
    memset(o, 0, sizeof *o);
    strcpy(o->listen, "0.0.0.0:8080");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = n > 0 ? (int)(n > 256 ? 256 : n) : 1;
    o->max_message = 65536;
    strcpy(o->api_listen, "127.0.0.1:8081");
    o->max_groups = 256;
    o->rate_limit = 1000;
    o->max_outbound = 1048576;
    o->shutdown_timeout = 10;
    o->bus_hwm = 100000;
    o->bus_batch_us = 0;
    o->turn_us = 1000;
    o->history_size = 100;
    o->history_ttl = 300;
    o->history_memory = (size_t)64 << 20;
    o->jwt_leeway = 30;
    strcpy(o->allowed_origins, "*");
    o->handshake_timeout = 10;
    o->max_head = 8192;
    o->max_conns_per_ip = 256;
}

static void
s_default_runtime(options_t *o)
{
    const char *rd = getenv("RUNTIME_DIRECTORY"), *xdg = getenv("XDG_RUNTIME_DIR");
    if (o->runtime_dir[0])
        return;
    if (rd && *rd == '/')
        snprintf(o->runtime_dir, sizeof o->runtime_dir, "%.*s", (int)strcspn(rd, ":"), rd);
    else if (geteuid() == 0)
        strcpy(o->runtime_dir, "/run/zwsd");
    else if (xdg && *xdg == '/')
        snprintf(o->runtime_dir, sizeof o->runtime_dir, "%s/zwsd", xdg);
    else
        snprintf(o->runtime_dir, sizeof o->runtime_dir, "/tmp/zwsd-%u", (unsigned)geteuid());
}

static const opt_def_t *
s_find(const char *name, size_t *idx)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (!strcmp(s_opts[i].name, name)) {
            *idx = i;
            return &s_opts[i];
        }
    return NULL;
}

/* One entry of the config file (config.h did the syntax): known, has the
 * value it needs, and the value is valid. Lines set on the command line
 * (cli_mask) are checked but not applied, so flags win. */
typedef struct {
    options_t          *o;
    const char         *path;
    unsigned long long  cli_mask;
} file_ctx_t;

static int
s_file_entry(void *arg, const config_entry_t *e)
{
    file_ctx_t *f = arg;
    size_t idx;
    const opt_def_t *d = s_find(e->name, &idx);
    if (!d || !strcmp(e->name, "config")) {
        fprintf(stderr, "zwsd: %s:%d: unknown option '%s'\n", f->path, e->line, e->name);
        return -1;
    }
    if (d->has_arg == 1 && (!e->value || !*e->value)) {
        fprintf(stderr, "zwsd: %s:%d: option '%s' needs a value\n", f->path, e->line, e->name);
        return -1;
    }
    /* validated even when the command line overrides it: a bad value
     * anywhere is an error */
    options_t tmp = *f->o;
    s_why[0] = '\0';
    if (d->set(&tmp, e->value) < 0) {
        fprintf(stderr, "zwsd: %s:%d: invalid value '%s' for option '%s'%s%s\n", f->path, e->line,
                e->value ? e->value : "", e->name, s_why[0] ? ": " : "", s_why);
        return -1;
    }
    if (!(f->cli_mask & (1ULL << idx)))
        *f->o = tmp;
    return 0;
}

/* Apply the config file at path. Returns OPT_RUN, or OPT_USAGE after one
 * line on stderr naming the file, the line and the option. */
static int
s_load_file(options_t *o, const char *path, unsigned long long cli_mask)
{
    file_ctx_t ctx = { o, path, cli_mask };
    config_t *cfg = NULL;
    int rc = OPT_USAGE, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "zwsd: --config %s: %s\n", path, strerror(errno));
        return OPT_USAGE;
    }
    if (!(cfg = config_new(s_file_entry, &ctx))) {
        fprintf(stderr, "zwsd: --config %s: %s\n", path, strerror(errno));
        goto done;
    }
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "zwsd: --config %s: %s\n", path, strerror(errno));
            goto done;
        }
        if (config_feed(cfg, chunk, (size_t)n) < 0)
            goto syntax;
    }
    if (config_end(cfg) < 0)
        goto syntax;
    rc = OPT_RUN;
    goto done;
syntax:
    if (config_error(cfg))      /* else s_file_entry said what */
        fprintf(stderr, "zwsd: %s:%d: %s\n", path, config_line(cfg), config_error(cfg));
done:
    config_destroy(&cfg);
    close(fd);
    return rc;
}

/* The command line, kept so SIGHUP can re-apply it on top of the file. */
static struct {
    const opt_def_t *def;
    const char      *val;
} s_cli[256];
static size_t s_ncli;

/* Validated when parsed, but a value naming a file (--api-key-file) may
 * have gone bad since: then it is an error, never silently the default
 * (that would turn the API key off on a reload). OPT_RUN or OPT_USAGE. */
static int
s_apply_cli(options_t *o)
{
    for (size_t i = 0; i < s_ncli; i++) {
        s_why[0] = '\0';
        if (s_cli[i].def->set(o, s_cli[i].val) < 0) {
            fprintf(stderr, "zwsd: invalid value '%s' for option --%s%s%s\n",
                    s_cli[i].val ? s_cli[i].val : "", s_cli[i].def->name, s_why[0] ? ": " : "",
                    s_why);
            return OPT_USAGE;
        }
    }
    return OPT_RUN;
}

/* Do two ADDR:PORT listeners take the same port (one of them on every
 * address, or both on the same one)? SO_REUSEPORT would let both bind. */
static int
s_same_listener(const char *a, const char *b)
{
    const char *pa = strrchr(a, ':'), *pb = strrchr(b, ':');
    if (!pa || !pb || strcmp(pa, pb))
        return 0;
    size_t na = (size_t)(pa - a), nb = (size_t)(pb - b);
    int any_a = (na == 7 && !memcmp(a, "0.0.0.0", 7)) || (na == 4 && !memcmp(a, "[::]", 4));
    int any_b = (nb == 7 && !memcmp(b, "0.0.0.0", 7)) || (nb == 4 && !memcmp(b, "[::]", 4));
    return any_a || any_b || (na == nb && !memcmp(a, b, na));
}

/* Settings that are each valid but not together. OPT_RUN or OPT_USAGE. */
static int
s_check(const options_t *o)
{
    if (strcmp(o->api_listen, "off") && s_same_listener(o->listen, o->api_listen)) {
        fprintf(stderr, "zwsd: --listen %s and --api-listen %s take the same port\n", o->listen,
                o->api_listen);
        return OPT_USAGE;
    }
    if (o->broker_curve[0] && !o->broker[0]) {
        fprintf(stderr, "zwsd: --broker-curve needs an external broker (--broker tcp://...): "
                "the embedded broker's ipc:// sockets are guarded by the runtime directory's "
                "mode 0700\n");
        return OPT_USAGE;
    }
    if (o->jwt_secret_file[0] && o->jwt_public_key_file[0]) {
        fprintf(stderr, "zwsd: --jwt-secret-file and --jwt-public-key-file exclude each other\n");
        return OPT_USAGE;
    }
    return OPT_RUN;
}

int
options_load(options_t *o, int argc, char **argv)
{
    struct option lopts[NOPTS + 3];
    size_t n = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        if (!strcmp(s_opts[i].name, "verbose"))
            continue;
        lopts[n++] = (struct option){ s_opts[i].name,
                                      s_opts[i].has_arg ? required_argument : no_argument,
                                      NULL, (int)(256 + i) };
    }
    lopts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    lopts[n++] = (struct option){ "version", no_argument, NULL, 'V' };
    lopts[n] = (struct option){ NULL, 0, NULL, 0 };

    options_t check;
    s_defaults(&check);
    unsigned long long mask = 0;
    int c;
    opterr = 0;
    optind = 1;
    s_ncli = 0;
    while ((c = getopt_long(argc, argv, ":vh", lopts, NULL)) != -1) {
        size_t idx;
        const opt_def_t *d;
        if (c == 'h') {
            options_usage(stdout);
            return OPT_EXIT;
        }
        if (c == 'V') {
            printf("zwsd %s\n", ZWSD_VERSION);
            return OPT_EXIT;
        }
        if (c == ':') {
            fprintf(stderr, "zwsd: option '%s' needs a value\n", argv[optind - 1]);
            return OPT_USAGE;
        }
        if (c == 'v') {
            d = s_find("verbose", &idx);
        } else if (c >= 256) {
            idx = (size_t)(c - 256);
            d = &s_opts[idx];
        } else {
            fprintf(stderr, "zwsd: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return OPT_USAGE;
        }
        const char *val = c == 'v' ? NULL : optarg;
        s_why[0] = '\0';
        if (d->set(&check, val) < 0) {
            fprintf(stderr, "zwsd: invalid value '%s' for option --%s%s%s\n", val ? val : "",
                    d->name, s_why[0] ? ": " : "", s_why);
            return OPT_USAGE;
        }
        if (s_ncli == sizeof s_cli / sizeof *s_cli) {
            fprintf(stderr, "zwsd: too many options\n");
            return OPT_USAGE;
        }
        s_cli[s_ncli].def = d;
        s_cli[s_ncli++].val = val;
        mask |= 1ULL << idx;
    }
    if (optind < argc) {
        fprintf(stderr, "zwsd: unexpected argument '%s'\n", argv[optind]);
        return OPT_USAGE;
    }
    s_defaults(o);
    if (check.config[0]) {
        strcpy(o->config, check.config);
        if (s_load_file(o, o->config, mask) != OPT_RUN)
            return OPT_USAGE;
    }
    if (s_apply_cli(o) != OPT_RUN || s_check(o) != OPT_RUN)
        return OPT_USAGE;
    o->from_cli = mask;
    s_default_runtime(o);
    return OPT_RUN;
}

int
options_reload(const options_t *cur, options_t *next, char *restart, size_t len)
{
    options_t fresh;
    s_defaults(&fresh);
    strcpy(fresh.config, cur->config);
    if (cur->config[0] && s_load_file(&fresh, cur->config, cur->from_cli) != OPT_RUN)
        return OPT_USAGE;
    if (s_apply_cli(&fresh) != OPT_RUN || s_check(&fresh) != OPT_RUN)
        return OPT_USAGE;
    s_default_runtime(&fresh);
    if (restart && len) {
        restart[0] = '\0';
        struct { const char *name; int differs; } r[] = {
            { "listen", strcmp(fresh.listen, cur->listen) != 0 },
            { "workers", fresh.workers != cur->workers },
            { "broker", strcmp(fresh.broker, cur->broker) != 0 },
            { "broker-curve", strcmp(fresh.broker_curve, cur->broker_curve) != 0 },
            { "runtime-dir", strcmp(fresh.runtime_dir, cur->runtime_dir) != 0 },
            { "api-listen", strcmp(fresh.api_listen, cur->api_listen) != 0 },
            { "bus-hwm", fresh.bus_hwm != cur->bus_hwm },
            { "history-size", fresh.history_size != cur->history_size },
            { "history-ttl", fresh.history_ttl != cur->history_ttl },
            { "history-memory", fresh.history_memory != cur->history_memory },
        };
        for (size_t i = 0; i < sizeof r / sizeof *r; i++)
            if (r[i].differs) {
                size_t n = strlen(restart);
                snprintf(restart + n, len - n, "%s%s", n ? ", " : "", r[i].name);
            }
    }
    /* what needs a restart keeps its running value */
    memcpy(fresh.listen, cur->listen, sizeof fresh.listen);
    fresh.workers = cur->workers;
    memcpy(fresh.broker, cur->broker, sizeof fresh.broker);
    memcpy(fresh.broker_curve, cur->broker_curve, sizeof fresh.broker_curve);
    memcpy(fresh.runtime_dir, cur->runtime_dir, sizeof fresh.runtime_dir);
    memcpy(fresh.api_listen, cur->api_listen, sizeof fresh.api_listen);
    fresh.bus_hwm = cur->bus_hwm;
    fresh.history_size = cur->history_size;
    fresh.history_ttl = cur->history_ttl;
    fresh.history_memory = cur->history_memory;
    fresh.from_cli = cur->from_cli;
    *next = fresh;
    return OPT_RUN;
}

void
options_embedded(const options_t *o, char *pub, char *sub, size_t len)
{
    /* an ipc:// path longer than sun_path (107 bytes) fails at bind anyway */
    if (snprintf(pub, len, "ipc://%.200s/pub", o->runtime_dir) < 0
        || snprintf(sub, len, "ipc://%.200s/sub", o->runtime_dir) < 0)
        pub[0] = sub[0] = '\0';
}

int
options_brokers(const options_t *o, shard_spec_t *out)
{
    char why[256], pub[SHARD_EP_MAX], sub[SHARD_EP_MAX], spec[2 * SHARD_EP_MAX];
    if (o->broker[0])
        return shard_parse(o->broker, 1, out, why, sizeof why);
    options_embedded(o, pub, sub, sizeof pub);
    snprintf(spec, sizeof spec, "%s,%s", pub, sub);
    return shard_parse(spec, 1, out, why, sizeof why);     /* one shard, the embedded broker */
}

int
options_check_key_file(const char *path, char *why, size_t len)
{
    char buf[OPTIONS_KEY_MAX + 3];      /* the key, CR LF, one byte too many */
    size_t n = 0;
    ssize_t r = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, len, "%s", strerror(errno));
        return -1;
    }
    while (n < sizeof buf) {
        if ((r = read(fd, buf + n, sizeof buf - n)) > 0)
            n += (size_t)r;
        else if (r == 0 || errno != EINTR)
            break;
    }
    int rc = -1;
    /* as the API reads it (api.c): one trailing LF, then one CR, are not
     * part of the key */
    size_t k = n;
    if (k > 0 && buf[k - 1] == '\n')
        k--;
    if (k > 0 && buf[k - 1] == '\r')
        k--;
    if (r < 0)
        snprintf(why, len, "%s", strerror(errno));
    else if (n == sizeof buf || k > OPTIONS_KEY_MAX)
        snprintf(why, len, "longer than %d bytes", OPTIONS_KEY_MAX);
    else if (k == 0)
        snprintf(why, len, "empty");
    else
        rc = 0;
    explicit_bzero(buf, sizeof buf);    /* a secret: no copy left on the stack */
    close(fd);
    return rc;
}

int
options_split_origins(const char *list, char *buf, size_t buflen, const char **v, size_t max)
{
    size_t n = 0, used = 0;
    const char *p = list;
    for (;;) {
        p += strspn(p, " \t");
        size_t len = strcspn(p, ","), k = len;
        while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if (k == 0 || k > OPTIONS_ORIGIN_MAX || n == max || used + k + 1 > buflen)
            return -1;
        for (size_t i = 0; i < k; i++)
            if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
                return -1;
        if (k == 1 && p[0] == '*') {
            /* any origin: only on its own */
            return n == 0 && !p[len] ? 0 : -1;
        }
        memcpy(buf + used, p, k);
        buf[used + k] = '\0';
        v[n++] = buf + used;
        used += k + 1;
        if (!p[len])
            return (int)n;
        p += len + 1;
    }
}
