/* fuzz — what every libFuzzer target in test/fuzz/ shares.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput() (declared here, for
 * -Wmissing-prototypes) and states its invariants with FZ_CHECK: a broken
 * one prints the condition and aborts, which libFuzzer reports as a crash
 * and saves the input (as it does for ASan and UBSan reports). FZ_CHECK
 * does not depend on NDEBUG, unlike assert().
 *
 * Split points: the stream targets (handshake, wsframe) start their input
 * with a small header the fuzzer mutates like any other byte, so it chooses
 * where reads end. fz_splits() reads it: byte 0's low nibble is the number
 * k of split points, then k big-endian 16-bit offsets, each taken modulo
 * the stream's length + 1; the rest is the stream. It returns the stream
 * and fills cuts[] with the sorted offsets (duplicates allowed: an empty
 * read). Byte 0's high nibble is left to the target (flags). */
#ifndef ZWSD_FUZZ_H
#define ZWSD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FZ_CUTS_MAX 15

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(c) ((c) ? (void)0 : fz_fail(#c, __FILE__, __LINE__))

static inline void
fz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

/* The stream after the split header; *ncuts offsets into it in cuts[],
 * ascending, each <= *len. NULL when the input is too short for its header. */
static inline const uint8_t *
fz_splits(const uint8_t *data, size_t size, size_t *len, size_t cuts[FZ_CUTS_MAX],
          size_t *ncuts, unsigned *flags)
{
    if (size < 1)
        return NULL;
    size_t k = data[0] & 0x0f;
    *flags = data[0] >> 4;
    if (size < 1 + 2 * k)
        return NULL;
    const uint8_t *p = data + 1 + 2 * k;
    *len = size - 1 - 2 * k;
    for (size_t i = 0; i < k; i++) {
        size_t c = ((size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]) % (*len + 1);
        size_t j = i;
        for (; j > 0 && cuts[j - 1] > c; j--)   /* insertion sort, k <= 15 */
            cuts[j] = cuts[j - 1];
        cuts[j] = c;
    }
    *ncuts = k;
    return p;
}

#endif
