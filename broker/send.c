/* zwsd-send — push one message into a zwsd cluster over ZeroMQ: connect a
 * PUB to the broker's publish endpoint, wait until the broker's XSUB has
 * subscribed us (so the message is not dropped), send topic + envelope.
 * The reference client of the backend path in zwsd-protocol(7). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "curve.h"
#include "envelope.h"
#include "shard.h"
#include "topic.h"
#include "valid.h"
#include "version.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: zwsd-send [--broker PUB[;PUB...]] (--to USER | --group G | --broadcast)\n"
        "                 --msg JSON [--sender NAME] [--curve SECRET,PUBLIC]\n"
        "  --broker PUB[|PUB][;PUB[|PUB]...]\n"
        "                     the brokers' publish endpoints, one (or a pair) per\n"
        "                     shard, spelt as the daemons' --broker\n"
        "                     (default ipc://RUNTIME/pub)\n"
        "  --to USER          deliver to every session of USER\n"
        "  --group G          deliver to every member of group G\n"
        "  --broadcast        deliver to every session\n"
        "  --msg JSON         the message, any JSON value\n"
        "  --sender NAME      sender shown to clients (default system)\n"
        "  --curve SECRET,PUBLIC\n"
        "                     CURVE to the broker: our secret certificate, the\n"
        "                     broker's public one (czmq zcert files)\n"
        "  -h, --help         this help\n"
        "  --version          print the version\n");
}

static void
s_default_endpoint(char *buf, size_t len)
{
    const char *rd = getenv("RUNTIME_DIRECTORY"), *xdg = getenv("XDG_RUNTIME_DIR");
    if (rd && *rd == '/')
        snprintf(buf, len, "ipc://%s/pub", rd);
    else if (geteuid() == 0)
        snprintf(buf, len, "ipc:///run/zwsd/pub");
    else if (xdg && *xdg == '/')
        snprintf(buf, len, "ipc://%s/zwsd/pub", xdg);
    else
        snprintf(buf, len, "ipc:///tmp/zwsd-%u/pub", (unsigned)geteuid());
}

/* The monitor reported a failed handshake: say which, as the event's
 * first frame tells (uint16 event, uint32 value). Without --curve, a CURVE
 * broker's refusal reads as a mechanism mismatch or, when the broker hangs
 * up first, as no detail at all; with it, so does a wrong broker key. */
static void
s_handshake_failed(void *mon, const char *endpoint, int curve)
{
    uint8_t ev[6] = { 0 };
    uint16_t kind;
    uint32_t value;
    zmq_recv(mon, ev, sizeof ev, 0);
    memcpy(&kind, ev, sizeof kind);
    memcpy(&value, ev + 2, sizeof value);
    if (kind == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        fprintf(stderr, "zwsd-send: the broker at %s refused our CURVE key (ZAP status %u): "
                "its --curve-allow directory has no certificate with our public key\n",
                endpoint, (unsigned)value);
    else if (!curve)
        fprintf(stderr, "zwsd-send: the handshake with the broker at %s failed: it wants "
                "CURVE (give --curve)\n", endpoint);
    else
        fprintf(stderr, "zwsd-send: the CURVE handshake with the broker at %s failed: is the "
                "--curve broker certificate its own, and does it run with --curve-secret?\n",
                endpoint);
}

int
main(int argc, char **argv)
{
    static char spec_text[SHARD_SPEC_MAX];
    static shard_spec_t spec;
    char endpoint[SHARD_EP_MAX] = "", backup[SHARD_EP_MAX] = "";    /* a pair's */
    const char *to = NULL, *group = NULL, *msg = NULL, *sender = "system", *curve_spec = NULL;
    static curve_client_t curve;        /* a secret: not on the stack */
    int bcast = 0, c;
    static const struct option opts[] = {
        { "broker", required_argument, NULL, 'b' }, { "to", required_argument, NULL, 't' },
        { "group", required_argument, NULL, 'g' }, { "broadcast", no_argument, NULL, 'B' },
        { "msg", required_argument, NULL, 'm' }, { "sender", required_argument, NULL, 's' },
        { "curve", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': snprintf(spec_text, sizeof spec_text, "%s", optarg); break;
        case 't': to = optarg; break;
        case 'g': group = optarg; break;
        case 'B': bcast = 1; break;
        case 'm': msg = optarg; break;
        case 's': sender = optarg; break;
        case 'c': curve_spec = optarg; break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("zwsd-send %s\n", ZWSD_VERSION); return 0;
        default:
            fprintf(stderr, "zwsd-send: unknown or incomplete option '%s'\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zwsd-send: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if ((!!to + !!group + bcast) != 1) {
        fprintf(stderr, "zwsd-send: give exactly one of --to, --group, --broadcast\n");
        return 2;
    }
    const char *name = to ? to : group;
    if (name && !valid_name(name, strlen(name))) {
        fprintf(stderr, "zwsd-send: invalid name '%s'\n", name);
        return 2;
    }
    if (!valid_name(sender, strlen(sender))) {
        fprintf(stderr, "zwsd-send: invalid --sender '%s'\n", sender);
        return 2;
    }
    char why[8192];
    if (curve_spec && curve_client_load(curve_spec, &curve, why, sizeof why) < 0) {
        fprintf(stderr, "zwsd-send: --curve %s\n", why);
        return 2;
    }
    json_error_t jerr;
    json_t *j = msg ? json_loads(msg, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr) : NULL;
    if (!j) {
        fprintf(stderr, "zwsd-send: --msg must be valid JSON%s%s\n", msg ? ": " : "",
                msg ? jerr.text : " (missing)");
        return 2;
    }
    char *compact = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    char topic[TOPIC_MAX], mid[48];
    size_t tn = bcast ? topic_make(topic, TOPIC_BCAST, NULL, 0)
                      : topic_make(topic, to ? TOPIC_USER : TOPIC_GROUP, name, strlen(name));
    if (!spec_text[0]) {
        s_default_endpoint(endpoint, sizeof endpoint);
    } else {
        /* the topic's shard, as every daemon computes it (shard.h) */
        char swhy[512];
        if (shard_parse(spec_text, 0, &spec, swhy, sizeof swhy) < 0) {
            fprintf(stderr, "zwsd-send: --broker %s: %s\n", spec_text, swhy);
            free(compact);
            return 2;
        }
        const shard_t *sh = &spec.shard[shard_of(&spec, topic, tn)];
        snprintf(endpoint, sizeof endpoint, "%s", sh->broker[0].pub);
        if (sh->nbrokers > 1)
            snprintf(backup, sizeof backup, "%s", sh->broker[1].pub);
    }
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
        rnd = (uint64_t)getpid();
    snprintf(mid, sizeof mid, "%016llx-1", (unsigned long long)rnd);
    env_t e;
    env_init(&e, bcast ? ENV_BCAST : to ? ENV_CHAT : ENV_GROUP);
    e.mid = env_cstr(mid);
    e.sender = env_cstr(sender);
    e.to = env_cstr(name);
    e.msg = env_cstr(compact);
    e.time = clock_wall_ms();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    env_encode(&e, &sb);

    /* XPUB (not PUB) so we see the broker's subscribe-all arrive: until
     * then a PUB would drop the message silently. */
    int rc = 1, zero = 0;
    void *ctx = zmq_ctx_new(), *mon = NULL;
    void *s = zmq_socket(ctx, ZMQ_XPUB);
    zmq_setsockopt(s, ZMQ_LINGER, &(int){ 5000 }, sizeof(int));
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
    if (curve.on && curve_client_apply(&curve, s) < 0) {
        fprintf(stderr, "zwsd-send: --curve: %s\n", zmq_strerror(errno));
        goto done;
    }
    explicit_bzero(&curve, sizeof curve);
    /* a failed handshake is final (a key or --curve mismatch): say so at
     * once rather than wait for the broker until the deadline */
    mon = zmq_socket(ctx, ZMQ_PAIR);
    if (zmq_socket_monitor(s, "inproc://zwsd-send.monitor", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                           | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                           | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) < 0
        || zmq_connect(mon, "inproc://zwsd-send.monitor") < 0) {
        fprintf(stderr, "zwsd-send: socket monitor: %s\n", zmq_strerror(errno));
        goto done;
    }
    /* every broker's subscribe-all, not only the first (a pair sends two) */
    zmq_setsockopt(s, ZMQ_XPUB_VERBOSE, &(int){ 1 }, sizeof(int));
    if (zmq_connect(s, endpoint) < 0 || (backup[0] && zmq_connect(s, backup) < 0)) {
        fprintf(stderr, "zwsd-send: %s%s%s: %s\n", endpoint, backup[0] ? " | " : "", backup,
                zmq_strerror(errno));
        goto done;
    }
    zmq_pollitem_t it[2] = { { s, 0, ZMQ_POLLIN, 0 }, { mon, 0, ZMQ_POLLIN, 0 } };
    if (zmq_poll(it, 2, 5000) <= 0) {
        fprintf(stderr, "zwsd-send: no broker at %s%s%s within 5 s\n", endpoint,
                backup[0] ? " or " : "", backup);
        goto done;
    }
    if (!(it[0].revents & ZMQ_POLLIN)) {
        s_handshake_failed(mon, endpoint, curve_spec != NULL);
        goto done;
    }
    char sub[64];
    zmq_recv(s, sub, sizeof sub, 0);
    /* a pair: the other broker gets it too if it attaches soon; one that
     * is down does not hold the message up (its partner carries it) */
    if (backup[0] && zmq_poll(it, 1, 500) > 0)
        zmq_recv(s, sub, sizeof sub, 0);
    if (zmq_send(s, topic, tn, ZMQ_SNDMORE) < 0 || zmq_send(s, sb.data, sb.size, 0) < 0) {
        fprintf(stderr, "zwsd-send: send: %s\n", zmq_strerror(errno));
        goto done;
    }
    printf("%s\n", mid);
    rc = 0;
done:
    zmq_close(s);
    if (mon)
        zmq_close(mon);
    zmq_ctx_term(ctx);
    msgpack_sbuffer_destroy(&sb);
    free(compact);
    return rc;
}
