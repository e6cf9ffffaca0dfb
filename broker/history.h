/* history — the broker's bounded store of recent messages per stream, and
 * the sequencer that numbers them (zwsd-protocol(7) "History and recovery").
 *
 * Broker process only; pure: no I/O, no clock (every call that needs the
 * time takes now_ms, which must be monotonic, clock_now_ms()), no ZeroMQ,
 * single-threaded. A stream is any name of 1–HIST_STREAM_MAX bytes (the
 * broker uses the topic, "u:bob|" or "g:team|"); its messages are numbered
 * seq 1, 2, 3, … under an epoch, in the order hist_append() saw them.
 *
 * Ownership: hist_new() returns NULL on bad configuration (EINVAL) or ENOMEM;
 * the caller owns the store and frees it, and every message it holds, with
 * hist_destroy(). hist_append() copies the payload; hist_since() lends the
 * stored bytes to its callback for the duration of the call only.
 *
 * What is kept. Each stream keeps its newest cfg.size messages, none older
 * than cfg.ttl_ms, and the whole store (messages, stream records and their
 * rings, the table, malloc's overhead as glibc charges it) stays within
 * cfg.mem_cap bytes: past the cap, the stream records that hold no message
 * go first (the one emptied longest ago first), then the oldest messages of
 * the whole store, one at a time, whichever stream they belong to. A
 * stream's held messages are always the contiguous run ending at its last
 * seq.
 *
 * Epochs. A stream record outlives its messages and keeps the numbering
 * going; it is dropped only for memory. Epoch = "<run_id>.<gen>": run_id is
 * the caller's per-run random string (a restarted broker has lost all
 * history, so all its epochs are new), gen a counter of the stream's hash
 * bucket (one of 4,096) that goes up each time a record of that bucket is
 * dropped. A new record takes its bucket's gen, so a stream recreated after a
 * drop never reuses an epoch, while a stream never seen (or seen and dropped)
 * reports the epoch its first message will get and seq 0 (hist_last()), so
 * that a welcome sent before that message does not contradict it. The cost:
 * a client that was told seq 0 on gen k while an unrelated record of the same
 * bucket was dropped hears recovered:false (safe, never a false "true"). */
#ifndef ZWSD_HISTORY_H
#define ZWSD_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define HIST_STREAM_MAX   255           /* bytes of a stream name */
#define HIST_EPOCH_MAX    32            /* zwsd-protocol(7): 1–32 bytes 0x21–0x7E */
#define HIST_RUN_ID_MAX   11            /* + "." + 20 digits of gen = 32 */
#define HIST_SIZE_DEFAULT 100
#define HIST_TTL_DEFAULT  300000        /* ms */
#define HIST_MEM_DEFAULT  ((size_t)64 << 20)
#define HIST_MEM_MIN      ((size_t)128 << 10)

typedef struct hist hist_t;

typedef struct {
    uint32_t size;              /* messages kept per stream; 0: none (numbering only) */
    int64_t  ttl_ms;            /* a message is dropped once older than this; 0: never;
                                   at most 2^31 - 1 (24 days) */
    size_t   mem_cap;           /* bytes for everything; ≥ HIST_MEM_MIN */
    uint64_t seed[2];           /* SipHash key of the table: random, secret (stream
                                   names come from clients; a known key lets them
                                   choose names that collide) */
} hist_cfg_t;

/* A position in a stream: its epoch (NUL-terminated) and a seq. */
typedef struct {
    uint64_t seq;
    size_t   epoch_len;
    char     epoch[HIST_EPOCH_MAX + 1];
} hist_pos_t;

/* The verdict of hist_since(). */
typedef struct {
    int        recovered;       /* 1: the replay left no gap after the asked seq */
    int64_t    missed;          /* messages above the asked seq no longer held; -1 unknown */
    size_t     replayed;        /* callbacks made */
    hist_pos_t last;            /* the stream's current epoch and last seq (for welcome) */
} hist_result_t;

typedef struct {
    size_t   messages;          /* held */
    size_t   payload;           /* their payload bytes */
    size_t   bytes;             /* everything, the number the cap bounds */
    size_t   streams;           /* records, with or without messages */
    size_t   empty;             /* records holding only their numbering */
    uint64_t appended;
    uint64_t evicted_size, evicted_ttl, evicted_memory;   /* messages, by reason */
    uint64_t dropped;           /* stream records dropped (for memory) */
} hist_stats_t;

/* One held message, oldest first. Return 0 to go on, anything else to stop.
 * payload lives in the store: valid during the call; the callback must not
 * call hist_ functions on the same store. */
typedef int (*hist_each_fn)(void *arg, uint64_t seq, const void *payload, size_t len);

/* Defaults: size 100, TTL 300 s, cap 64 MiB, seed zero (set it). */
void    hist_cfg_default(hist_cfg_t *cfg);
/* run_id: 1–HIST_RUN_ID_MAX bytes in 0x21–0x7E other than ':' and '.'. */
hist_t *hist_new(const hist_cfg_t *cfg, const char *run_id);
void    hist_destroy(hist_t **self_p);

/* Number the next message of stream, keep a copy of payload, evict what the
 * bounds require (this message included, if it alone exceeds the cap).
 * Fills *pos with the seq and epoch assigned. Returns 0, or -1 with EINVAL
 * (bad name, payload ≥ 4 GiB) or ENOMEM (no record could be made: nothing
 * numbered). When only the copy fails, the seq is still assigned and the
 * stream's older messages are dropped too (counted as memory evictions), so
 * that what it holds stays gap-free: a resume then says recovered:false. */
int     hist_append(hist_t *self, const char *stream, size_t stream_len,
                    const void *payload, size_t payload_len, int64_t now_ms,
                    hist_pos_t *pos);

/* The stream's epoch and last seq (0 when it has none); never creates a
 * record. With no other hist_ call in between, the next hist_append() to the
 * stream assigns seq + 1 under this epoch: a caller may build the final bytes
 * (seq and epoch inside) first and append those. Returns 0, -1 (EINVAL). */
int     hist_last(const hist_t *self, const char *stream, size_t stream_len,
                  hist_pos_t *pos);

/* Replay the stream after position epoch:after_seq and judge the replay.
 * On the current epoch with after_seq ≤ the last seq: cb for each held
 * message with seq > after_seq, oldest first; recovered when after_seq + 1 is
 * held or after_seq is the last seq (EPOCH:0: recovered while nothing was
 * evicted yet), else missed = messages above after_seq no longer held.
 * Otherwise (another epoch, or a seq never issued): cb for every held
 * message, recovered 0, missed -1 (unknown). An unknown stream has its
 * hist_last() epoch and seq 0. Applies the TTL first. cb may be NULL (the
 * verdict only); when it stops the walk, res->replayed says how far it got
 * and the caller goes on later with after_seq = the last seq it took (the
 * verdict of the first call is the one that counts). Returns 0, or -1
 * (EINVAL: bad stream name). */
int     hist_since(hist_t *self, const char *stream, size_t stream_len,
                   const char *epoch, size_t epoch_len, uint64_t after_seq,
                   int64_t now_ms, hist_each_fn cb, void *arg, hist_result_t *res);

/* Drop the messages older than the TTL; for the broker's timer. Ages are
 * kept modulo 2^32 ms: some hist_ call must come at least every 24 days. */
void    hist_expire(hist_t *self, int64_t now_ms);
void    hist_stats(const hist_t *self, hist_stats_t *st);

/* Parse "EPOCH:SEQ" (a client's since): EPOCH 1–32 bytes in 0x21–0x7E,
 * SEQ 1–20 decimal digits ≤ 2^64 - 1; split at the last ':'. On success
 * points *epoch into s and returns 0; -1 when malformed. */
int     hist_parse_since(const char *s, size_t len, const char **epoch,
                         size_t *epoch_len, uint64_t *seq);

#endif
