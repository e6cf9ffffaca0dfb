/* seq — the broker as sequencer: it numbers the chat and group messages it
 * routes, keeps them in the history store (history.h), and answers the
 * history queries workers send to "s|" (ENVELOPE.md "History and recovery
 * on the bus"; zwsd-protocol(7) "History and recovery").
 *
 * Broker process only, single-threaded; no ZeroMQ here: what goes out goes
 * through the send function the owner registered (broker.c publishes on
 * its XPUB), so the module is tested with arrays.
 *
 * Stamping. For a chat on "u:<to>|" or a group message on "g:<to>|" (the
 * envelope decodes, its kind matches the topic's, its `to` is the topic's
 * name, and a worker would show it: seq_is_stream_msg()), seq_stamp()
 * takes the stream's next seq under its epoch, writes both into the
 * envelope (env_stamp(): a publisher's own are replaced, every other byte
 * is kept), and a mid and a time when the publisher left them out (or gave
 * ones a worker would replace), so that every replay shows the message as
 * it was first delivered; it appends exactly those bytes to the stream and
 * lends them to the caller, who forwards them. Anything else is not the
 * module's business: the caller forwards it untouched.
 *
 * Answers. seq_query() answers one query with history items (one per held
 * message after `since`, oldest first: the stored bytes as a bin) and a
 * history end (status "done", the stream's epoch and last seq, recovered,
 * missed), or an end with status "error" for a malformed query, all on
 * "w:<origin>|". Each send may report that it would block (the owner paces
 * against the subscriber's queue, its high-water mark): the answer then
 * waits in a queue of answers in progress, one FIFO per origin, and
 * seq_tick() goes on with it on later loop turns, from the last item sent.
 * What was routed in between is not lost to it: the replay picks up the
 * messages numbered meanwhile, and the end, sent last, carries the last seq
 * at the time it is sent and a verdict covering every step. So, whenever
 * it ends, the subscriber has seen every message of the stream numbered up
 * to the end's seq before the end (live or as an item), and every later one
 * after it. An origin whose answers make no progress for SEQ_STALL_MS (its
 * worker is stopped or stuck) loses them: logged, counted; the worker never
 * hears of those queries and must time them out.
 *
 * Ownership: seq_new() returns NULL on bad bounds (EINVAL), ENOMEM, or when
 * getrandom() fails; the caller destroys it with seq_destroy(), which frees
 * the store and the answers in progress. */
#ifndef ZWSD_SEQ_H
#define ZWSD_SEQ_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "history.h"
#include "topic.h"

#define SEQ_QUEUE_MAX 8192          /* answers in progress, all origins */
#define SEQ_STALL_MS  10000         /* an origin this long without progress loses them */

typedef struct seq seq_t;

/* Publish one two-frame message (topic, data). Returns 0, or -1 when it
 * would block: nothing was sent, the caller tries again later. */
typedef int (*seq_send_fn)(void *arg, const char *topic, size_t topic_len,
                           const void *data, size_t len);

typedef struct {
    hist_stats_t hist;
    uint64_t     stamped;           /* messages numbered */
    uint64_t     queries;           /* history queries read */
    uint64_t     malformed;         /* of which answered "error" */
    uint64_t     items;             /* history items sent */
    uint64_t     paused;            /* answers that had to wait for a later turn */
    uint64_t     abandoned;         /* answers dropped: stalled origin, queue full, ENOMEM */
    size_t       in_progress;       /* answers waiting now */
} seq_stats_t;

/* size: messages kept per stream (0: numbering only); ttl_ms; memory: the
 * store's cap (≥ HIST_MEM_MIN). The SipHash key and the run id of the
 * epochs (11 base62 characters) come from getrandom(). */
seq_t *seq_new(uint32_t size, int64_t ttl_ms, size_t memory, seq_send_fn send, void *arg);
void   seq_destroy(seq_t **self_p);

/* Decode data, the envelope of a message on a topic of kind and name (as
 * topic_parse() split it), into e, and say whether it is a message of that
 * stream: 1 for a chat on a user topic or a group message on a group topic
 * whose `to` is the name (a valid_name()), with what a worker needs to show
 * it (a msg that is valid JSON, a valid sender or none), else 0 (e holds
 * what decoded, or kind ENV_NONE when nothing did). Pure. */
int    seq_is_stream_msg(topic_kind_t kind, const char *name, size_t name_len,
                         const char *data, size_t len, env_t *e);

/* Number data (seq_is_stream_msg() said 1 and decoded it into e) in the
 * stream named by its topic, keep it, and point *out at the stamped bytes
 * to forward (valid until the next seq_ call). *stored, when not NULL, says whether the store
 * holds it (not with size 0, nor when it alone exceeds the memory cap).
 * Returns 0, or -1 when nothing could be numbered (out of memory, logged):
 * the caller forwards data untouched. */
int    seq_stamp(seq_t *self, const char *topic, size_t topic_len, const char *data,
                 size_t len, const env_t *e, int64_t now_ms, const char **out,
                 size_t *out_len, int *stored);

/* A history query q (decoded from "s|"): answered as far as the sends go
 * now, the rest by seq_tick(). A query without a valid origin has nowhere
 * to go and is only counted malformed. */
void   seq_query(seq_t *self, const env_t *q, int64_t now_ms);

/* Once per loop turn: go on with answers in progress, expire history about
 * once a second. Returns the answers still in progress: while there are
 * some, the caller turns its loop again soon (a millisecond) rather than
 * waiting for traffic. */
size_t seq_tick(seq_t *self, int64_t now_ms);

void   seq_stats(const seq_t *self, seq_stats_t *st);

#endif
