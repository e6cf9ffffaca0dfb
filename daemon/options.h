/* options — zwsd's settings: defaults, command-line flags, config file.
 *
 * Supervisor process; workers get a copy through fork. options_load()
 * fills o from defaults, then the --config file (if any), then the command
 * line, which wins. It returns OPT_RUN, OPT_EXIT (help or version printed),
 * or OPT_USAGE after printing one line naming the bad option to stderr (the
 * caller exits 2, nothing started). The config file's syntax is config.c's;
 * the meaning of each name is here. options_reload() re-reads the config
 * file for SIGHUP into a fresh copy, keeping command-line values; only the
 * supervisor calls it, and hands the result to the workers (status.h). */
#ifndef ZWSD_OPTIONS_H
#define ZWSD_OPTIONS_H

#include <limits.h>
#include <stdio.h>
#include <stddef.h>

#include "shard.h"

enum { OPT_RUN = 0, OPT_EXIT = 1, OPT_USAGE = 2 };

typedef struct {
    char   listen[128];             /* --listen ADDR:PORT */
    int    workers;                 /* --workers N */
    char   broker[SHARD_SPEC_MAX];  /* --broker PUB,SUB[;PUB,SUB...]; empty = embedded */
    char   broker_curve[PATH_MAX];  /* --broker-curve SECRET_FILE,PUBLIC_FILE:
                                     * CURVE keys for the bus (restart only) */
    char   runtime_dir[PATH_MAX];   /* --runtime-dir */
    size_t max_message;             /* --max-message BYTES */
    int    sessions_multi;          /* --sessions single|multi */
    char   api_listen[128];         /* --api-listen ADDR:PORT | off */
    char   api_key_file[PATH_MAX];  /* --api-key-file */
    int    allow_client_broadcast;  /* --allow-client-broadcast */
    int    demo;                    /* --demo on|off: the demo page at / (demo.h);
                                     * a reload applies it */
    int    max_groups;              /* --max-groups N */
    int    rate_limit;              /* --rate-limit N (0 = off) */
    size_t max_outbound;            /* --max-outbound BYTES */
    int    shutdown_timeout;        /* --shutdown-timeout SEC */
    int    bus_hwm;                 /* --bus-hwm N: messages ZeroMQ queues per
                                     * peer on the bus (restart only) */
    int    bus_batch_us;            /* --bus-batch-us US: the bus's flush window */
    int    turn_us;                 /* --turn-us US: a busy loop's turn interval (pace.h) */
    /* history kept by the embedded broker (zwsd-broker(8)); restart only,
     * and without effect with --broker (that broker has its own flags) */
    int    history_size;            /* --history-size N: messages per stream */
    int    history_ttl;             /* --history-ttl SEC */
    size_t history_memory;          /* --history-memory BYTES, all streams */
    /* who may connect (gate.h, auth.h); every one applies on reload */
    char   jwt_secret_file[PATH_MAX];     /* --jwt-secret-file: HS256 */
    char   jwt_public_key_file[PATH_MAX]; /* --jwt-public-key-file: RS256/ES256 */
    int    jwt_leeway;              /* --jwt-leeway SEC: clock skew on exp, nbf */
    char   allowed_origins[2048];   /* --allowed-origins LIST; "*" = any */
    int    handshake_timeout;       /* --handshake-timeout SEC */
    size_t max_head;                /* --max-head BYTES: request head */
    int    max_conns_per_ip;        /* --max-conns-per-ip N, per worker; 0 = off */
    int    max_conns;               /* --max-conns N, per worker; 0 = from the fd limit */
    char   config[PATH_MAX];        /* --config FILE */
    int    verbose;                 /* -v, repeatable */
    /* which options came from the command line (bit per option index) */
    unsigned long long from_cli;
} options_t;

int  options_load(options_t *o, int argc, char **argv);
/* restart (may be NULL) receives the names of settings the file changes
 * that only a restart applies, comma-separated ("" when none). */
int  options_reload(const options_t *cur, options_t *next, char *restart, size_t len);
void options_usage(FILE *out);
/* The broker tier (shard.h): --broker's, or the embedded broker's ipc://
 * endpoints under runtime_dir as one shard. 0, or -1 (cannot happen for
 * options that options_load() accepted). */
int  options_brokers(const options_t *o, shard_spec_t *out);
/* The embedded broker's endpoints under runtime_dir. */
void options_embedded(const options_t *o, char *pub, char *sub, size_t len);

/* Is path a usable --api-key-file: readable, and a key of 1 to
 * OPTIONS_KEY_MAX bytes once one trailing LF (or CR LF) is dropped, as the
 * API reads it? Checked when the option is parsed, and again by each
 * worker at its start, since the file may have changed since (a failure
 * there is a configuration error: exit 2). 0, or -1 with why filled. */
#define OPTIONS_KEY_MAX 4096
int  options_check_key_file(const char *path, char *why, size_t len);

/* --allowed-origins: "*" alone (any origin: returns 0, nothing in v), or a
 * comma-separated list of origins, each 1 to OPTIONS_ORIGIN_MAX bytes of
 * visible ASCII, blanks around the commas ignored, at most max of them.
 * Copies each, NUL-terminated, into buf and points v[i] at it; returns
 * how many, or -1 when the list is invalid or does not fit. */
#define OPTIONS_ORIGINS_MAX 64
#define OPTIONS_ORIGIN_MAX  255
int  options_split_origins(const char *list, char *buf, size_t buflen, const char **v,
                           size_t max);

#endif
