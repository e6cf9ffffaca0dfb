/* status — see status.h. */
#include "status.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

typedef struct {
    int32_t   kind;                 /* STATUS_OPTIONS */
    int32_t   pad;
    options_t opt;
} status_opt_msg_t;

/* Enough for several settings datagrams queued at once (a burst of
 * SIGHUPs): a SEQPACKET datagram larger than the send buffer fails with
 * EMSGSIZE, and the default (net.core.wmem_default) may be set low. */
#define STATUS_SNDBUF ((int)(8 * sizeof(status_opt_msg_t)))

int
status_pair(int sp[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return -1;
    int have = 0;
    socklen_t len = sizeof have;
    if (getsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &have, &len) == 0 && have < STATUS_SNDBUF) {
        int want = STATUS_SNDBUF;
        setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &want, sizeof want);  /* best effort */
    }
    return 0;
}

int
status_send(int fd, status_kind_t kind, int slot, int64_t conns, int64_t users)
{
    status_msg_t m = { kind, slot, conns, users };
    return send(fd, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof m ? 0 : -1;
}

int
status_recv(int fd, status_msg_t *m)
{
    ssize_t n = recv(fd, m, sizeof *m, MSG_DONTWAIT);
    if (n == sizeof *m)
        return 1;
    if (n == 0)
        return -1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    return n < 0 ? -1 : 0;
}

int
status_send_options(int fd, const options_t *o)
{
    static status_opt_msg_t m;      /* 17 KB: not on the stack */
    memset(&m, 0, sizeof m);
    m.kind = STATUS_OPTIONS;
    m.opt = *o;
    ssize_t n = send(fd, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == (ssize_t)sizeof m)
        return 0;
    if (n >= 0)
        errno = EMSGSIZE;
    return -1;
}

int
status_recv_options(int fd, options_t *o)
{
    static status_opt_msg_t m;
    for (;;) {
        /* MSG_TRUNC: n is the datagram's real size, so a short or long one
         * is recognised and skipped */
        ssize_t n = recv(fd, &m, sizeof m, MSG_DONTWAIT | MSG_TRUNC);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        if (n == (ssize_t)sizeof m && m.kind == STATUS_OPTIONS) {
            *o = m.opt;
            return 1;
        }
    }
}
