/* util — what both kinds of zwsd-loadgen process (the coordinator and its
 * children) share: the clocks, a decimal writer, the generator of mask keys
 * and backoffs, and the signal flag. Nothing here fails or allocates.
 *
 * Time: payload stamps ("t") are CLOCK_MONOTONIC microseconds, shared by
 * every process on the host, so a receiver in another child computes the
 * latency without any clock exchange. */
#ifndef LOADGEN_UTIL_H
#define LOADGEN_UTIL_H

#include <signal.h>
#include <stdint.h>

#include "clock.h"              /* clock_now_us(): the monotonic clock */

/* Set by the process's SIGINT/SIGTERM handler (main.c in the coordinator,
 * child.c in a child), read by its loops. */
extern volatile sig_atomic_t util_sig;

/* CLOCK_MONOTONIC, µs. */
/* This process's CPU time (CLOCK_PROCESS_CPUTIME_ID), ns. */
uint64_t util_cpu_ns(void);
/* Writes v in decimal at p, without a NUL (at most 20 bytes); returns the
 * end of what it wrote. */
char    *util_u64(char *p, uint64_t v);
/* xorshift64*: mask keys and backoffs need to vary, not to be secret.
 * util_rand_seed() seeds it from getrandom(2), else from the clock; a child
 * calls it once before the first util_rand(). */
void     util_rand_seed(void);
uint64_t util_rand(void);

#endif
