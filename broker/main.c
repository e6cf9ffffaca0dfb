/* zwsd-broker — the standalone broker for a cluster of zwsd hosts.
 * Runs in the foreground; see zwsd-broker(8). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"
#include "log.h"
#include "version.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: zwsd-broker [--pub ENDPOINT] [--sub ENDPOINT] [--hwm N] [-v] [-h] [--version]\n"
        "  --pub ENDPOINT  where publishers connect (default tcp://127.0.0.1:7001)\n"
        "  --sub ENDPOINT  where subscribers connect (default tcp://127.0.0.1:7002)\n"
        "  --hwm N         messages queued per publisher and per subscriber,\n"
        "                  1-100000000 (default 100000); past it a lagging\n"
        "                  subscriber loses messages, a publisher is pushed back\n"
        "  -v              more verbose (repeatable)\n"
        "  -h, --help      this help\n"
        "  --version       print the version\n");
}

int
main(int argc, char **argv)
{
    const char *pub = "tcp://127.0.0.1:7001", *sub = "tcp://127.0.0.1:7002";
    int verbose = 0;
    long hwm = BROKER_HWM_DEFAULT;
    char *end;
    static const struct option opts[] = {
        { "pub", required_argument, NULL, 'p' },
        { "sub", required_argument, NULL, 's' },
        { "hwm", required_argument, NULL, 'H' },
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
    log_init("zwsd-broker", verbose);
    /* a standalone broker that starts may be replacing one that died:
     * its subscribers will replay their subscriptions first */
    return broker_run(pub, sub, BROKER_WARMUP_MS, (int)hwm);
}
