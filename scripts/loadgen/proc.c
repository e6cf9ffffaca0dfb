/* proc — a child's shared state, its log and its messages to the
 * coordinator (see proc.h). */
#include <stdarg.h>
#include <stdio.h>

#include "proc.h"

proc_t proc;

static unsigned s_nlog;

void
proc_log(const char *fmt, ...)
{
    if (s_nlog > LOG_LIMIT)
        return;
    if (s_nlog++ == LOG_LIMIT) {
        fprintf(stderr, "zwsd-loadgen[%d]: further messages suppressed\n", proc.idx);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zwsd-loadgen[%d]: ", proc.idx);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void
proc_send(uint32_t type, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t v[6] = { a, b, c, d, 0, 0 };
    proc_send6(type, v);
}

void
proc_send6(uint32_t type, const int64_t v[6])
{
    if (ctl_send(proc.ctl, type, v, 0) < 0)
        proc.stop = true;       /* the parent is gone */
}
