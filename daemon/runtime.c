/* runtime — see runtime.h. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int
runtime_lock(const char *dir, int embedded)
{
    struct stat st;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        log_err("cannot create runtime directory %s", dir);
        return -1;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        log_errx("runtime directory %s is not a directory", dir);
        return -1;
    }
    if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        log_errx("runtime directory %s must belong to uid %u and not be writable by others",
                 dir, (unsigned)geteuid());
        return -1;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/zwsd.pid", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_err("cannot open %s", path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        log_errx("another zwsd (pid %s) holds %s", pid[0] ? pid : "?", path);
        close(fd);
        return -1;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        log_warn("cannot write %s", path);
    if (embedded) {
        /* stale sockets of a killed daemon; we hold the lock, so no live one */
        const char *names[] = { "pub", "sub" };
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            if (unlink(path) == 0)
                log_info("removed stale socket %s", path);
        }
    }
    return fd;
}
