/* status — see status.h. */
#include "status.h"

#include <errno.h>
#include <sys/socket.h>

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
