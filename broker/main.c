/* zwsd-broker — the standalone broker for a cluster of zwsd hosts.
 * Runs in the foreground; see zwsd-broker(8). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "curve.h"
#include "history.h"
#include "log.h"
#include "version.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: zwsd-broker [--pub ENDPOINT] [--sub ENDPOINT] [--hwm N] [--turn-us US]\n"
        "                   [--history-size N] [--history-ttl SEC] [--history-memory BYTES]\n"
        "                   [--curve-secret FILE --curve-allow DIR] [-v] [-h] [--version]\n"
        "       zwsd-broker --make-cert BASENAME\n"
        "  --pub ENDPOINT  where publishers connect (default tcp://127.0.0.1:7001)\n"
        "  --sub ENDPOINT  where subscribers connect (default tcp://127.0.0.1:7002)\n"
        "  --hwm N         messages queued per publisher and per subscriber,\n"
        "                  1-100000000 (default 100000); past it a lagging\n"
        "                  subscriber loses messages, a publisher is pushed back\n"
        "  --turn-us US    while busy, start the loop turns on a grid of US microseconds,\n"
        "                  0-10000 (default 1000): what arrives meanwhile is forwarded\n"
        "                  together; 0 forwards each message at once\n"
        "  --history-size N\n"
        "                  messages kept per user and per group stream, 0-1000000\n"
        "                  (default 100; 0 keeps none, and still numbers them)\n"
        "  --history-ttl SEC\n"
        "                  how long a message is kept, 1-86400 (default 300)\n"
        "  --history-memory BYTES\n"
        "                  memory for all of history, 131072-1099511627776\n"
        "                  (default 67108864); past it the oldest messages go first\n"
        "  --curve-secret FILE\n"
        "                  CURVE on both endpoints, with this secret certificate\n"
        "                  (a czmq zcert file); needs --curve-allow\n"
        "  --curve-allow DIR\n"
        "                  the public certificates of the clients let in\n"
        "  --make-cert BASENAME\n"
        "                  write a new certificate, BASENAME and BASENAME_secret\n"
        "  -v              more verbose (repeatable)\n"
        "  -h, --help      this help\n"
        "  --version       print the version\n");
}

/* A --history-* or --turn-us value: a decimal number in lo..hi, else one line and -1. */
static int
s_number(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "zwsd-broker: --%s: '%s' is not a number in %lld-%lld\n", opt, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

/* --make-cert: 0 once both files are written, 1 if they cannot be. */
static int
s_make_cert(const char *base)
{
    char key[CURVE_TXT_LEN + 1], why[512];
    if (curve_make_cert(base, key, why, sizeof why) < 0) {
        fprintf(stderr, "zwsd-broker: --make-cert %s\n", why);
        return 1;
    }
    printf("%s: public certificate (key %s)\n%s_secret: its secret certificate, mode 0600\n",
           base, key, base);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *pub = "tcp://127.0.0.1:7001", *sub = "tcp://127.0.0.1:7002";
    const char *curve_secret = NULL, *curve_allow = NULL, *make_cert = NULL;
    int verbose = 0;
    long hwm = BROKER_HWM_DEFAULT;
    long long turn = BROKER_TURN_US_DEFAULT;
    long long hsize = HIST_SIZE_DEFAULT, httl = HIST_TTL_DEFAULT / 1000,
              hmem = (long long)HIST_MEM_DEFAULT;
    char *end;
    static const struct option opts[] = {
        { "pub", required_argument, NULL, 'p' },
        { "sub", required_argument, NULL, 's' },
        { "hwm", required_argument, NULL, 'H' },
        { "turn-us", required_argument, NULL, 'U' },
        { "history-size", required_argument, NULL, 'S' },
        { "history-ttl", required_argument, NULL, 'T' },
        { "history-memory", required_argument, NULL, 'm' },
        { "curve-secret", required_argument, NULL, 'C' },
        { "curve-allow", required_argument, NULL, 'A' },
        { "make-cert", required_argument, NULL, 'M' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': pub = optarg; break;
        case 's': sub = optarg; break;
        case 'H':
            errno = 0;
            hwm = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || hwm < 1 || hwm > 100000000) {
                fprintf(stderr, "zwsd-broker: --hwm: '%s' is not a number in 1-100000000\n", optarg);
                return 2;
            }
            break;
        case 'U':
            if (s_number("turn-us", optarg, 0, 10000, &turn) < 0)
                return 2;
            break;
        case 'S':
            if (s_number("history-size", optarg, 0, 1000000, &hsize) < 0)
                return 2;
            break;
        case 'T':
            if (s_number("history-ttl", optarg, 1, 86400, &httl) < 0)
                return 2;
            break;
        case 'm':
            if (s_number("history-memory", optarg, (long long)HIST_MEM_MIN, 1LL << 40, &hmem) < 0)
                return 2;
            break;
        case 'C': curve_secret = optarg; break;
        case 'A': curve_allow = optarg; break;
        case 'M': make_cert = optarg; break;
        case 'v': verbose++; break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("zwsd-broker %s\n", ZWSD_VERSION); return 0;
        default:
            fprintf(stderr, "zwsd-broker: unknown or incomplete option '%s' (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zwsd-broker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (make_cert)
        return s_make_cert(make_cert);
    static curve_cert_t cert;               /* a secret: not on the stack */
    char allow[PATH_MAX] = "", why[PATH_MAX + 128];
    int ncerts = 0;
    if (!curve_secret != !curve_allow) {
        fprintf(stderr, "zwsd-broker: --curve-secret and --curve-allow go together\n");
        return 2;
    }
    if (curve_secret && curve_cert_load(curve_secret, 1, &cert, why, sizeof why) < 0) {
        fprintf(stderr, "zwsd-broker: --curve-secret %s\n", why);
        return 2;
    }
    if (curve_allow && curve_allow_check(curve_allow, allow, sizeof allow, &ncerts, why,
                                         sizeof why) < 0) {
        fprintf(stderr, "zwsd-broker: --curve-allow %s\n", why);
        return 2;
    }
    log_init("zwsd-broker", verbose);
    if (curve_secret) {
        char key[CURVE_TXT_LEN + 1];
        curve_key_txt(cert.public_key, key);
        log_info("CURVE: broker public key %s, %d client certificate%s in %s", key, ncerts,
                 ncerts == 1 ? "" : "s", allow);
        if (ncerts == 0)
            log_warnx("no client certificate in %s: every client is refused until one is added",
                      allow);
    } else {
        log_info("CURVE off (no --curve-secret): the endpoints authenticate nobody");
    }
    /* a standalone broker that starts may be replacing one that died:
     * its subscribers will replay their subscriptions first */
    broker_cfg_t cfg;
    broker_cfg_default(&cfg, pub, sub);
    cfg.warmup_ms = BROKER_WARMUP_MS;
    cfg.hwm = (int)hwm;
    cfg.turn_us = (int)turn;
    cfg.history_size = (uint32_t)hsize;
    cfg.history_ttl_ms = httl * 1000;
    cfg.history_memory = (size_t)hmem;
    cfg.curve_cert = curve_secret ? &cert : NULL;
    cfg.curve_allow = allow;
    int rc = broker_run(&cfg);
    explicit_bzero(&cert, sizeof cert);
    return rc;
}
