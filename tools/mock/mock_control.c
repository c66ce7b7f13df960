/*  mock_control.c: line-oriented TCP control port of the mock fleet.

    One thread polls the listener and up to S_CLIENTS clients with a 100 ms
    timeout so that destroy() is noticed promptly; each complete line is
    handed to sl_mock_fleet_command() (which blocks until the service thread
    answered) and the answer is written back with a newline. Blocking writes
    are fine here: answers are short and the peer is a local test or script.
*/
#include "tools/mock/mock_control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/mock/mock_fleet.h"

#define S_CLIENTS 8
#define S_LINE_MAX 1024

typedef struct {
    int fd;
    size_t len;
    bool overflow;
    char buf[S_LINE_MAX];
} s_client_t;

struct sl_mock_control_t {
    sl_mock_fleet_t *fleet;
    int listen_fd;
    int port;
    atomic_bool stop;
    pthread_t thread;
    bool started;
    s_client_t clients[S_CLIENTS];
};

static void s_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

static void s_answer(sl_mock_control_t *self, s_client_t *cl, const char *line)
{
    char reply[8192];
    if (cl->overflow) {
        snprintf(reply, sizeof reply, "error line too long");
    } else {
        sl_mock_fleet_command(self->fleet, line, reply, sizeof reply);
    }
    size_t n = strlen(reply);
    reply[n < sizeof reply - 1 ? n : sizeof reply - 2] = '\n';
    s_write_all(cl->fd, reply, (n < sizeof reply - 1 ? n : sizeof reply - 2) + 1);
}

/* Reads what is there; answers each complete line. Returns false on EOF. */
static bool s_client_read(sl_mock_control_t *self, s_client_t *cl)
{
    char tmp[512];
    ssize_t n = recv(cl->fd, tmp, sizeof tmp, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    for (ssize_t i = 0; i < n; i++) {
        char ch = tmp[i];
        if (ch == '\n') {
            cl->buf[cl->len] = '\0';
            if (cl->len > 0 && cl->buf[cl->len - 1] == '\r') {
                cl->buf[cl->len - 1] = '\0';
            }
            if (cl->len > 0 || cl->overflow) {
                s_answer(self, cl, cl->buf);
            }
            cl->len = 0;
            cl->overflow = false;
        } else if (cl->len + 1 < sizeof cl->buf) {
            cl->buf[cl->len++] = ch;
        } else {
            cl->overflow = true;
        }
    }
    return true;
}

static void *s_thread(void *arg)
{
    sl_mock_control_t *self = arg;
    while (!atomic_load(&self->stop)) {
        struct pollfd pfd[S_CLIENTS + 1];
        int map[S_CLIENTS + 1];
        int n = 0;
        pfd[n].fd = self->listen_fd;
        pfd[n].events = POLLIN;
        map[n++] = -1;
        for (int i = 0; i < S_CLIENTS; i++) {
            if (self->clients[i].fd >= 0) {
                pfd[n].fd = self->clients[i].fd;
                pfd[n].events = POLLIN;
                map[n++] = i;
            }
        }
        int rc = poll(pfd, (nfds_t)n, 100);
        if (rc <= 0) {
            continue;
        }
        for (int k = 1; k < n; k++) {
            if (pfd[k].revents) {
                s_client_t *cl = &self->clients[map[k]];
                if (!s_client_read(self, cl)) {
                    close(cl->fd);
                    cl->fd = -1;
                }
            }
        }
        if (pfd[0].revents & POLLIN) {
            int fd = accept(self->listen_fd, NULL, NULL);
            if (fd < 0) {
                continue;
            }
            int slot = -1;
            for (int i = 0; i < S_CLIENTS; i++) {
                if (self->clients[i].fd < 0) {
                    slot = i;
                    break;
                }
            }
            if (slot < 0) {
                s_write_all(fd, "error too many control clients\n", 31);
                close(fd);
                continue;
            }
            memset(&self->clients[slot], 0, sizeof self->clients[slot]);
            self->clients[slot].fd = fd;
        }
    }
    return NULL;
}

sl_mock_control_t *sl_mock_control_new(struct sl_mock_fleet_t *fleet, int port)
{
    sl_mock_control_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->fleet = fleet;
    self->listen_fd = -1;
    for (int i = 0; i < S_CLIENTS; i++) {
        self->clients[i].fd = -1;
    }
    atomic_init(&self->stop, false);
    struct sockaddr_in sa;
    socklen_t slen = sizeof sa;
    int one = 1;
    self->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (self->listen_fd < 0) {
        goto fail;
    }
    setsockopt(self->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(self->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(self->listen_fd, 16) != 0 ||
        getsockname(self->listen_fd, (struct sockaddr *)&sa, &slen) != 0) {
        goto fail;
    }
    self->port = ntohs(sa.sin_port);
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        goto fail;
    }
    self->started = true;
    return self;
fail:
    if (self->listen_fd >= 0) {
        close(self->listen_fd);
    }
    free(self);
    return NULL;
}

int sl_mock_control_port(const sl_mock_control_t *self)
{
    return self ? self->port : 0;
}

void sl_mock_control_destroy(sl_mock_control_t **p_self)
{
    if (!p_self || !*p_self) {
        return;
    }
    sl_mock_control_t *self = *p_self;
    atomic_store(&self->stop, true);
    if (self->started) {
        pthread_join(self->thread, NULL);
    }
    for (int i = 0; i < S_CLIENTS; i++) {
        if (self->clients[i].fd >= 0) {
            close(self->clients[i].fd);
        }
    }
    if (self->listen_fd >= 0) {
        close(self->listen_fd);
    }
    free(self);
    *p_self = NULL;
}
