/*  sd_notify.c: systemd's notification datagrams (see sd_notify.h).

    The protocol is small and stable (sd_notify(3), "NOTIFY_SOCKET"), so
    sluiced speaks it itself instead of linking libsystemd: one
    SOCK_DGRAM|SOCK_CLOEXEC socket per message, sendto the address, close.
    An abstract address ('@' in the variable) is the name with a leading
    NUL byte and a length that excludes any trailing NUL.
*/
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sld_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path) {
        return 1;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path)) {
        errno = EINVAL;
        return -1;
    }
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@') {
        addr.sun_path[0] = '\0';
    }
    socklen_t alen =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(state) ? 0 : -1;
}

int64_t sld_watchdog_interval_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    if (!usec || !*usec) {
        return 0;
    }
    if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid()) {
        return 0; /* meant for another process (e.g. a wrapper's child) */
    }
    char *end = NULL;
    errno = 0;
    unsigned long long us = strtoull(usec, &end, 10);
    if (errno || *end != '\0' || us == 0) {
        return 0;
    }
    int64_t ms = (int64_t)(us / 2000); /* half the interval, in ms */
    return ms > 0 ? ms : 1;
}
