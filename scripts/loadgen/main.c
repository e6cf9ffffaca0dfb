/* zwsd-loadgen — a WebSocket load generator for zwsd (see zwsd-loadgen(1)).
 *
 * One coordinator (this process) and --procs children. Each child owns a
 * slice of the users, one epoll loop and their connections, and speaks
 * WebSocket (child.c and below); the coordinator never touches a WebSocket:
 * it sequences the phases over one socketpair per child (ctl.h) and adds up
 * the children's reports, so every number is printed from one place.
 *
 * This file: the options, the process setup (open-file limit, signals, the
 * header line), then the run: fork the children, wait until they are
 * connected, drive the mode, collect, print. Exit status: 0 success, 1 a
 * failed run (connections failed or dropped, messages lost, errors, a soak
 * violation), 2 a usage error.
 *
 * The modules (scripts/loadgen/), each calling only those after it on its
 * line or below; events come up only through what their owner registered
 * (conn's hooks and ws's text handler from child.c, the FIFO's line handler
 * from soakctl.c, the child's body from here):
 *   coordinator  main.c -> idle.c chat.c group.c soakctl.c verdict.c
 *                       -> run.c cpu.c -> ctl.c record.c util.c
 *   child        child.c -> chat.c group.c soak.c -> ws.c -> proto.c -> conn.c
 *                        -> proc.c -> ctl.c record.c scan.c hist.c util.c
 * chat.c and group.c hold both sides of their mode, the child's and the
 * coordinator's; soak's are soak.c (child), soakctl.c and verdict.c
 * (coordinator). cfg.h is the options; record.h the soak record files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "chat.h"
#include "child.h"
#include "clock.h"
#include "group.h"
#include "idle.h"
#include "record.h"
#include "run.h"
#include "soakctl.h"
#include "util.h"
#include "verdict.h"

static run_t s_run;

static void
s_on_parent_signal(int sig)
{
    (void)sig;
    if (util_sig)
        _exit(130);             /* second signal: give up (children get SIGTERM) */
    util_sig = 1;
}

/* The coordinator: fork, connect, run the mode, collect, print. Returns the
 * exit status. */
static int
s_parent(const cfg_t *cfg)
{
    run_t *run = &s_run;
    run->cfg = cfg;
    run->gk = -1;
    run->start = clock_now_us();
    run->ctlfd = -1;
    if (run_spawn(run, child_main) < 0)
        return 1;
    if (cfg->mode == MODE_SOAK)
        soakctl_open(run);
    if (run_wait_ready(run)) {
        if (cfg->mode == MODE_IDLE)
            idle_run(run);
        else if (cfg->mode == MODE_CHAT)
            chat_run(run);
        else if (cfg->mode == MODE_SOAK)
            soakctl_run(run);
        else if (group_run(run) < 0)
            return 1;
    }
    if (!run->t_end)
        run->t_end = clock_now_us();
    run_collect(run);
    int rc;
    if (cfg->mode == MODE_IDLE)
        rc = idle_print(run);
    else if (cfg->mode == MODE_CHAT)
        rc = chat_print(run);
    else if (cfg->mode == MODE_SOAK)
        rc = verdict_print(run);
    else
        rc = group_print(run);
    if (cfg->mode == MODE_SOAK)
        verdict_cleanup(cfg);
    run_free(run);
    return rc || run->lost_child || !run->all_ready ? 1 : 0;
}

static void
s_usage(FILE *f)
{
    fprintf(f,
"usage: zwsd-loadgen [options]\n"
"  --url ws://HOST:PORT     server (default ws://127.0.0.1:8080)\n"
"  --proto zwsd|nchan       the server's protocol (default zwsd): zwsd clients use\n"
"                           /ws/<user> and are ready at the welcome; nchan (nginx,\n"
"                           scripts/nchan.conf.in) clients use /ps/<user>/<peer> in chat\n"
"                           mode (subscribe to <user>, publish to <peer>), /sub/<user> in\n"
"                           idle mode, are ready at the 101 and get our frames back as\n"
"                           sent; nchan: idle and chat modes only, no --ack\n"
"  --mode idle|chat|group|soak  what to do once connected (default idle)\n"
"  --conns N                user connections (default 1000)\n"
"  --procs P                worker processes, each with N/P connections (default 1)\n"
"  --user-prefix S          users are S0..S(N-1) (default u); group sender: Ssender\n"
"  --connect-rate R         new connections per second, all processes (default 5000)\n"
"  --source-base ADDR|none  process i binds to ADDR+i (default 127.0.0.2 for a loopback\n"
"                           server, none otherwise)\n"
"  --timeout S              per connection: welcome (and join ack) within S seconds;\n"
"                           group: every member within S seconds (default 10)\n"
"  --duration S             idle: hold time, 0 = until SIGINT/SIGTERM (default 10);\n"
"                           chat: measurement window (default 10)\n"
"  --warmup S               chat: sending before the window opens (default 2)\n"
"  --drain S                chat: longest wait for in-flight messages (default 3)\n"
"  --rate R                 chat: open loop, R msgs/s in all (default 1000)\n"
"  --tick US                chat, open loop: sleep at least US microseconds between send\n"
"                           rounds (default 0: every message at its own time; larger\n"
"                           values cost the generator less CPU but make bursts)\n"
"  --inflight K             chat: closed loop, K messages in flight per sender\n"
"  --size BYTES             chat: pad each message frame to about BYTES (default: no\n"
"                           padding, about 60 bytes)\n"
"  --ack                    chat: ask for an ack (\"id\") on every message\n"
"  --group G                group: the group name (default g)\n"
"  --count C                group: messages to send, one at a time (default 20)\n"
"  --server-pid PID         also report the CPU of PID and its descendants\n"
"soak (chat at --rate with an id on every message while connections come and go;\n"
"every answer is checked; --duration S: send for S s, 0 = until \"stop\"):\n"
"  --control FIFO           read commands: start, pause, resume, rst [N], stop, end\n"
"  --faults FILE            the driver's fault log (\"<wall µs> broker-down|broker-up\")\n"
"  --broker-grace S         a broker-down window ends S s after broker-up (default 1)\n"
"  --grace S                after the last send, wait S s for answers (default 5)\n"
"  --settle S               then up to S s for every connection to be open (default 30)\n"
"  --backoff MIN:MAX        reconnect after MIN..MAX ms, randomized (default 50:500)\n"
"  --record DIR             keep the records and violations.txt in DIR\n"
"  --examples K             print K examples per violation kind (default 3)\n"
"  --verify DIR             judge the records a soak left in DIR (--record) again, with\n"
"                           --faults and the rules as they are now; connects nothing\n"
"  -v, --verbose            more output (group: one line per message)\n"
"  -h, --help               this text\n"
"Prints human lines and a final \"RESULT key=value ...\" line. Exit status: 0 success,\n"
"1 connections failed or dropped, messages lost or errors (soak: any violation),\n"
"2 usage error.\n");
}

static int
s_bad(const char *opt, const char *val)
{
    fprintf(stderr, "zwsd-loadgen: invalid %s: '%s' (see --help)\n", opt, val);
    return 2;
}

static bool
s_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool
s_valid_id(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@-", s[i]))
            return false;
    return true;
}

static int
s_parse_url(cfg_t *cfg, const char *url)
{
    if (strncmp(url, "ws://", 5) != 0)
        return -1;
    const char *h = url + 5, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (slash && strcmp(slash, "/") != 0 && strcmp(slash, "/ws") != 0 && strcmp(slash, "/ws/") != 0)
        return -1;
    if (hl == 0 || hl >= sizeof cfg->host)
        return -1;
    memcpy(cfg->host, h, hl);
    cfg->host[hl] = '\0';
    char name[300];
    strcpy(name, cfg->host);
    const char *port = "80";
    char *colon = strrchr(name, ':');
    if (colon) {
        *colon = '\0';
        port = colon + 1;
    }
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
    if (getaddrinfo(name, port, &hints, &res) != 0)
        return -1;
    memcpy(&cfg->dst, res->ai_addr, sizeof cfg->dst);
    freeaddrinfo(res);
    return 0;
}

int
main(int argc, char **argv)
{
    static cfg_t cfg = {
        .mode = MODE_IDLE, .url = "ws://127.0.0.1:8080", .conns = 1000, .procs = 1,
        .prefix = "u", .group = "g", .connect_rate = 5000, .duration = 10, .warmup = 2,
        .drain = 3, .timeout = 10, .rate = 1000, .count = 20, .size = 0,
        .grace = 5, .settle = 30, .broker_grace = 1, .backoff_min = 50, .backoff_max = 500,
        .examples = 3,
    };
    const char *source = NULL;
    enum { O_URL = 256, O_MODE, O_CONNS, O_PROCS, O_PREFIX, O_CRATE, O_SOURCE, O_TIMEOUT,
           O_DURATION, O_WARMUP, O_DRAIN, O_RATE, O_TICK, O_INFLIGHT, O_SIZE, O_ACK, O_GROUP,
           O_COUNT, O_SPID, O_CONTROL, O_FAULTS, O_RECORD, O_GRACE, O_SETTLE, O_BGRACE,
           O_BACKOFF, O_EXAMPLES, O_VERIFY, O_PROTO };
    static const struct option opts[] = {
        { "url", required_argument, NULL, O_URL },
        { "mode", required_argument, NULL, O_MODE },
        { "proto", required_argument, NULL, O_PROTO },
        { "conns", required_argument, NULL, O_CONNS },
        { "procs", required_argument, NULL, O_PROCS },
        { "user-prefix", required_argument, NULL, O_PREFIX },
        { "connect-rate", required_argument, NULL, O_CRATE },
        { "source-base", required_argument, NULL, O_SOURCE },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "duration", required_argument, NULL, O_DURATION },
        { "warmup", required_argument, NULL, O_WARMUP },
        { "drain", required_argument, NULL, O_DRAIN },
        { "rate", required_argument, NULL, O_RATE },
        { "tick", required_argument, NULL, O_TICK },
        { "inflight", required_argument, NULL, O_INFLIGHT },
        { "size", required_argument, NULL, O_SIZE },
        { "ack", no_argument, NULL, O_ACK },
        { "group", required_argument, NULL, O_GROUP },
        { "count", required_argument, NULL, O_COUNT },
        { "server-pid", required_argument, NULL, O_SPID },
        { "control", required_argument, NULL, O_CONTROL },
        { "faults", required_argument, NULL, O_FAULTS },
        { "record", required_argument, NULL, O_RECORD },
        { "grace", required_argument, NULL, O_GRACE },
        { "settle", required_argument, NULL, O_SETTLE },
        { "broker-grace", required_argument, NULL, O_BGRACE },
        { "backoff", required_argument, NULL, O_BACKOFF },
        { "examples", required_argument, NULL, O_EXAMPLES },
        { "verify", required_argument, NULL, O_VERIFY },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool rate_given = false;
    int o;
    double v;
    while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (o) {
        case O_URL:
            cfg.url = optarg;
            break;
        case O_MODE:
            if (!strcmp(optarg, "idle"))
                cfg.mode = MODE_IDLE;
            else if (!strcmp(optarg, "chat"))
                cfg.mode = MODE_CHAT;
            else if (!strcmp(optarg, "group"))
                cfg.mode = MODE_GROUP;
            else if (!strcmp(optarg, "soak"))
                cfg.mode = MODE_SOAK;
            else
                return s_bad("--mode", optarg);
            break;
        case O_PROTO:
            if (!strcmp(optarg, "zwsd"))
                cfg.proto = PROTO_ZWSD;
            else if (!strcmp(optarg, "nchan"))
                cfg.proto = PROTO_NCHAN;
            else
                return s_bad("--proto", optarg);
            break;
        case O_CONNS:
            if (!s_num(optarg, 1, 10000000, &v) || v != (double)(uint64_t)v)
                return s_bad("--conns", optarg);
            cfg.conns = (uint64_t)v;
            break;
        case O_PROCS:
            if (!s_num(optarg, 1, MAX_PROCS, &v) || v != (double)(int)v)
                return s_bad("--procs", optarg);
            cfg.procs = (int)v;
            break;
        case O_PREFIX:
            if (!s_valid_id(optarg, 40))
                return s_bad("--user-prefix", optarg);
            cfg.prefix = optarg;
            break;
        case O_CRATE:
            if (!s_num(optarg, 1, 1e9, &cfg.connect_rate))
                return s_bad("--connect-rate", optarg);
            break;
        case O_SOURCE:
            source = optarg;
            break;
        case O_TIMEOUT:
            if (!s_num(optarg, 0.001, 86400, &cfg.timeout))
                return s_bad("--timeout", optarg);
            break;
        case O_DURATION:
            if (!s_num(optarg, 0, 1e7, &cfg.duration))
                return s_bad("--duration", optarg);
            break;
        case O_WARMUP:
            if (!s_num(optarg, 0, 1e6, &cfg.warmup))
                return s_bad("--warmup", optarg);
            break;
        case O_DRAIN:
            if (!s_num(optarg, 0, 1e6, &cfg.drain))
                return s_bad("--drain", optarg);
            break;
        case O_RATE:
            if (!s_num(optarg, 0.001, 1e9, &cfg.rate))
                return s_bad("--rate", optarg);
            rate_given = true;
            break;
        case O_TICK:
            if (!s_num(optarg, 0, 1e6, &cfg.tick_us))
                return s_bad("--tick", optarg);
            break;
        case O_INFLIGHT:
            if (!s_num(optarg, 1, 1e6, &v) || v != (double)(long)v)
                return s_bad("--inflight", optarg);
            cfg.inflight = (long)v;
            break;
        case O_SIZE:
            if (!s_num(optarg, 0, 16000000, &v) || v != (double)(long)v)
                return s_bad("--size", optarg);
            cfg.size = (long)v;
            break;
        case O_ACK:
            cfg.ack = true;
            break;
        case O_GROUP:
            if (!s_valid_id(optarg, 64))
                return s_bad("--group", optarg);
            cfg.group = optarg;
            break;
        case O_COUNT:
            if (!s_num(optarg, 1, 1e7, &v) || v != (double)(long)v)
                return s_bad("--count", optarg);
            cfg.count = (long)v;
            break;
        case O_SPID:
            if (!s_num(optarg, 1, 4194304, &v) || v != (double)(long)v)
                return s_bad("--server-pid", optarg);
            cfg.server_pid = (long)v;
            break;
        case O_CONTROL:
            cfg.control = optarg;
            break;
        case O_FAULTS:
            cfg.faults = optarg;
            break;
        case O_RECORD:
            cfg.record = optarg;
            cfg.keep_record = true;
            break;
        case O_GRACE:
            if (!s_num(optarg, 0, 3600, &cfg.grace))
                return s_bad("--grace", optarg);
            break;
        case O_SETTLE:
            if (!s_num(optarg, 0, 3600, &cfg.settle))
                return s_bad("--settle", optarg);
            break;
        case O_BGRACE:
            if (!s_num(optarg, 0, 3600, &cfg.broker_grace))
                return s_bad("--broker-grace", optarg);
            break;
        case O_BACKOFF: {
            char *e;
            cfg.backoff_min = strtol(optarg, &e, 10);
            if (*e != ':' || cfg.backoff_min < 0)
                return s_bad("--backoff (want MIN:MAX in ms)", optarg);
            cfg.backoff_max = strtol(e + 1, &e, 10);
            if (*e || cfg.backoff_max < cfg.backoff_min || cfg.backoff_max > 60000)
                return s_bad("--backoff (want MIN:MAX in ms)", optarg);
            break;
        }
        case O_VERIFY:
            cfg.verify = optarg;
            break;
        case O_EXAMPLES:
            if (!s_num(optarg, 0, 50, &v) || v != (double)(long)v)
                return s_bad("--examples", optarg);
            cfg.examples = (long)v;
            break;
        case 'v':
            cfg.verbose++;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        return s_bad("argument", argv[optind]);
    if (s_parse_url(&cfg, cfg.url) < 0)
        return s_bad("--url (want ws://HOST:PORT)", cfg.url);
    if (cfg.conns < (uint64_t)cfg.procs) {
        fprintf(stderr, "zwsd-loadgen: --conns must be at least --procs\n");
        return 2;
    }
    if (rate_given && cfg.inflight > 0) {
        fprintf(stderr, "zwsd-loadgen: --rate and --inflight exclude each other\n");
        return 2;
    }
    if (cfg.mode == MODE_CHAT && cfg.duration <= 0) {
        fprintf(stderr, "zwsd-loadgen: chat needs --duration > 0\n");
        return 2;
    }
    /* nchan answers a publisher nothing and has no groups */
    if (cfg.proto == PROTO_NCHAN && (cfg.ack || cfg.mode == MODE_GROUP || cfg.mode == MODE_SOAK
                                     || cfg.verify)) {
        fprintf(stderr, "zwsd-loadgen: --proto nchan: idle and chat modes only, without --ack\n");
        return 2;
    }
    if (cfg.mode == MODE_SOAK && cfg.inflight > 0) {
        fprintf(stderr, "zwsd-loadgen: soak sends open loop (--rate), not --inflight\n");
        return 2;
    }
    if (cfg.mode == MODE_SOAK && cfg.conns > REC_KMASK) {
        fprintf(stderr, "zwsd-loadgen: --conns too large for soak\n");
        return 2;
    }
    if (cfg.verify)
        return verdict_verify(&cfg, &s_run);
    static char recdir[] = "/tmp/zwsd-loadgen-soak.XXXXXX";
    if (cfg.mode == MODE_SOAK && !cfg.record && !(cfg.record = mkdtemp(recdir))) {
        perror("zwsd-loadgen: mkdtemp");
        return 1;
    }
    if (cfg.mode == MODE_SOAK && cfg.keep_record && mkdir(cfg.record, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "zwsd-loadgen: cannot create %s: %s\n", cfg.record, strerror(errno));
        return 1;
    }
    bool loopback = (ntohl(cfg.dst.sin_addr.s_addr) >> 24) == 127;
    if (!source)
        source = loopback ? "127.0.0.2" : "none";
    if (strcmp(source, "none") != 0) {
        if (inet_pton(AF_INET, source, &cfg.src_base) != 1
            || (ntohl(cfg.src_base.s_addr) & 0xff) + (uint32_t)cfg.procs - 1 > 254)
            return s_bad("--source-base", source);
        cfg.bind_src = true;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        uint64_t per = (cfg.conns + (uint64_t)cfg.procs - 1) / (uint64_t)cfg.procs + 1;
        if (rl.rlim_cur != RLIM_INFINITY && per + 32 > (uint64_t)rl.rlim_cur) {
            fprintf(stderr, "zwsd-loadgen: %" PRIu64 " connections per process exceed the open-file "
                    "limit %llu: use --procs %" PRIu64 " or more\n", per, (unsigned long long)rl.rlim_cur,
                    (cfg.conns + rl.rlim_cur - 64) / (rl.rlim_cur - 64));
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = s_on_parent_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    static const char *const mode_name[] = { "idle", "chat", "group", "soak" };
    static const char *const proto_name[] = { "zwsd", "nchan" };
    char stamp[CLOCK_RFC3339_LEN];
    clock_rfc3339(clock_wall_ms(), stamp);
    printf("zwsd-loadgen: %s mode=%s proto=%s url=%s conns=%" PRIu64 " procs=%d prefix=%s "
           "connect-rate=%g source=%s\n", stamp, mode_name[cfg.mode], proto_name[cfg.proto], cfg.url,
           cfg.conns, cfg.procs, cfg.prefix, cfg.connect_rate, source);
    return s_parent(&cfg);
}
