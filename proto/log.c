/* log — see log.h. Formats into one buffer and writes it with a single
 * write(2), so lines from several processes sharing stderr do not interleave. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char s_role[32] = "zwsd";
static int s_verbosity;

void
log_init(const char *role, int verbosity)
{
    log_set_role(role);
    s_verbosity = verbosity;
}

void
log_set_role(const char *role)
{
    snprintf(s_role, sizeof s_role, "%s", role);
}

void
log_set_verbosity(int verbosity)
{
    s_verbosity = verbosity;
}

int
log_verbosity(void)
{
    return s_verbosity;
}

static void
s_vlog(int prio, int with_errno, const char *fmt, va_list ap)
{
    int saved = errno;
    char line[1024];
    int n = snprintf(line, sizeof line, "<%d>%s[%d]: ", prio, s_role, (int)getpid());
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof line) {
        int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n >= sizeof line - 2)
        n = (int)sizeof line - 2;
    if (with_errno && (size_t)n < sizeof line - 2) {
        int m = snprintf(line + n, sizeof line - (size_t)n, ": %s", strerror(saved));
        if (m > 0)
            n += m;
        if ((size_t)n >= sizeof line - 2)
            n = (int)sizeof line - 2;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;    /* nowhere left to report a failing stderr */
    errno = saved;
}

#define LOG_FN(name, prio, with_errno, cond)         \
    void name(const char *fmt, ...)                  \
    {                                                \
        if (!(cond))                                 \
            return;                                  \
        va_list ap;                                  \
        va_start(ap, fmt);                           \
        s_vlog(prio, with_errno, fmt, ap);           \
        va_end(ap);                                  \
    }

LOG_FN(log_err, 3, 1, 1)
LOG_FN(log_errx, 3, 0, 1)
LOG_FN(log_warn, 4, 1, 1)
LOG_FN(log_warnx, 4, 0, 1)
LOG_FN(log_info, 6, 0, 1)
LOG_FN(log_debug, 7, 0, s_verbosity > 0)

char *
log_sample(char *dst, size_t dstlen, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;
    if (dstlen == 0)
        return dst;
    for (i = 0; i < len && i + 1 < dstlen; i++)
        dst[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
    dst[i] = '\0';
    return dst;
}
