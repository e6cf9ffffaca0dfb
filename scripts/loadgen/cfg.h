/* cfg — zwsd-loadgen's options, as main.c parsed and checked them
 * (zwsd-loadgen(1)). main() owns the one cfg_t; every other module reads it
 * through a const pointer and never changes it (--verify alone, in
 * verdict.c, fills in what the records say before judging them). */
#ifndef LOADGEN_CFG_H
#define LOADGEN_CFG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_PROCS 64

typedef enum { MODE_IDLE, MODE_CHAT, MODE_GROUP, MODE_SOAK } lg_mode_t;
/* the server's protocol (--proto; proto.h) */
typedef enum { PROTO_ZWSD, PROTO_NCHAN } lg_proto_t;

typedef struct {
    lg_mode_t mode;
    lg_proto_t proto;
    const char *url;
    struct sockaddr_in dst;
    char host[300];             /* Host header: host:port as given */
    uint64_t conns;
    int procs;
    const char *prefix;
    const char *group;
    double connect_rate;
    double duration, warmup, drain, timeout;
    double rate;
    double tick_us;             /* open loop: shortest sleep between send rounds */
    long inflight;
    long size;                  /* pad chat frames to about this many bytes */
    bool ack;
    long count;
    long server_pid;
    struct in_addr src_base;
    bool bind_src;
    int verbose;
    /* soak */
    const char *control;        /* FIFO of commands (start, rst N, stop, end) */
    const char *faults;         /* the driver's fault log, read at the end */
    const char *record;         /* where the children leave their records */
    const char *verify;         /* --verify DIR: judge the records in DIR, connect nothing */
    bool keep_record;           /* --record given (or --verify): keep the files */
    double grace;               /* after the last send: answers still owed */
    double settle;              /* then: longest wait for every connection to be open */
    double broker_grace;        /* a broker-down window lasts this long past "broker-up" */
    long backoff_min, backoff_max;  /* ms, reconnect delay */
    long examples;              /* printed per violation kind */
} cfg_t;

#endif
