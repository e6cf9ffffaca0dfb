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
#include "envelope.h"
#include "topic.h"
#include "valid.h"
#include "version.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "usage: zwsd-send [--broker ENDPOINT] (--to USER | --group G | --broadcast)\n"
        "                 --msg JSON [--sender NAME]\n"
        "  --broker ENDPOINT  the broker's publish endpoint (default ipc://RUNTIME/pub)\n"
        "  --to USER          deliver to every session of USER\n"
        "  --group G          deliver to every member of group G\n"
        "  --broadcast        deliver to every session\n"
        "  --msg JSON         the message, any JSON value\n"
        "  --sender NAME      sender shown to clients (default system)\n"
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

int
main(int argc, char **argv)
{
    char endpoint[512] = "";
    const char *to = NULL, *group = NULL, *msg = NULL, *sender = "system";
    int bcast = 0, c;
    static const struct option opts[] = {
        { "broker", required_argument, NULL, 'b' }, { "to", required_argument, NULL, 't' },
        { "group", required_argument, NULL, 'g' }, { "broadcast", no_argument, NULL, 'B' },
        { "msg", required_argument, NULL, 'm' }, { "sender", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': snprintf(endpoint, sizeof endpoint, "%s", optarg); break;
        case 't': to = optarg; break;
        case 'g': group = optarg; break;
        case 'B': bcast = 1; break;
        case 'm': msg = optarg; break;
        case 's': sender = optarg; break;
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
    json_error_t jerr;
    json_t *j = msg ? json_loads(msg, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr) : NULL;
    if (!j) {
        fprintf(stderr, "zwsd-send: --msg must be valid JSON%s%s\n", msg ? ": " : "",
                msg ? jerr.text : " (missing)");
        return 2;
    }
    char *compact = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!endpoint[0])
        s_default_endpoint(endpoint, sizeof endpoint);

    char topic[TOPIC_MAX], mid[48];
    size_t tn = bcast ? topic_make(topic, TOPIC_BCAST, NULL, 0)
                      : topic_make(topic, to ? TOPIC_USER : TOPIC_GROUP, name, strlen(name));
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
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_XPUB);
    zmq_setsockopt(s, ZMQ_LINGER, &(int){ 5000 }, sizeof(int));
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
    if (zmq_connect(s, endpoint) < 0) {
        fprintf(stderr, "zwsd-send: %s: %s\n", endpoint, zmq_strerror(errno));
        goto done;
    }
    zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll(&it, 1, 5000) <= 0) {
        fprintf(stderr, "zwsd-send: no broker at %s within 5 s\n", endpoint);
        goto done;
    }
    char sub[64];
    zmq_recv(s, sub, sizeof sub, 0);
    if (zmq_send(s, topic, tn, ZMQ_SNDMORE) < 0 || zmq_send(s, sb.data, sb.size, 0) < 0) {
        fprintf(stderr, "zwsd-send: send: %s\n", zmq_strerror(errno));
        goto done;
    }
    printf("%s\n", mid);
    rc = 0;
done:
    zmq_close(s);
    zmq_ctx_term(ctx);
    msgpack_sbuffer_destroy(&sb);
    free(compact);
    return rc;
}
