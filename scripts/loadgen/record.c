/* record — the soak record format's constants (see record.h). */
#include "record.h"

const char rec_magic[8] = "ZWSDSK2";

static const char *const s_answer_name[REC_KINDS] = {
    "none", "delivered", "offline", "unavailable", "error unavailable", "other ack", "other error",
};

uint64_t
rec_fnv(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

const char *
rec_answer_name(unsigned kind)
{
    return kind < REC_KINDS ? s_answer_name[kind] : "?";
}
