/*  mock_ws.c: minimal RFC 6455 client and recording gateway for test_mock.

    The client runs on the test thread with poll() deadlines; the gateway
    runs one thread that polls its listener and connections and only
    records text messages under a mutex.
*/
#define _GNU_SOURCE /* strcasestr */
#include "tests/tools/mock_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/sha.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int s_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int s_ws_write(mock_ws_t *self, const void *buf, size_t len)
{
    if (!self->ssl) {
        return s_send_all(self->fd, buf, len);
    }
    return SSL_write(self->ssl, buf, (int)len) == (int)len ? 0 : -1;
}

/* Reads more bytes into the buffer before deadline. 1 = got bytes, 0 =
   timeout, -1 = EOF/error. */
static int s_fill(mock_ws_t *self, long long deadline)
{
    if (self->len >= sizeof self->buf) {
        return -1;
    }
    long long left = deadline - s_now_ms();
    if (left < 0) {
        left = 0;
    }
    if (!self->ssl || SSL_pending(self->ssl) == 0) {
        struct pollfd p = {.fd = self->fd, .events = POLLIN};
        int rc = poll(&p, 1, (int)left);
        if (rc == 0) {
            return 0;
        }
        if (rc < 0) {
            return errno == EINTR ? 0 : -1;
        }
    }
    ssize_t n;
    if (self->ssl) {
        /* The socket has a receive timeout, so a record split across
           packets cannot block past it. */
        n = SSL_read(self->ssl, self->buf + self->len, (int)(sizeof self->buf - self->len));
    } else {
        n = recv(self->fd, self->buf + self->len, sizeof self->buf - self->len, 0);
    }
    if (n <= 0) {
        return -1;
    }
    self->len += (size_t)n;
    return 1;
}

int mock_ws_url_port(const char *url)
{
    const char *c = url ? strrchr(url, ':') : NULL;
    if (!c) {
        return -1;
    }
    int port = atoi(c + 1);
    return port > 0 && port < 65536 ? port : -1;
}

static int s_tcp(mock_ws_t *self, int port)
{
    memset(self, 0, sizeof *self);
    self->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (self->fd < 0) {
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(self->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(self->fd);
        self->fd = -1;
        return -1;
    }
    return 0;
}

static int s_upgrade(mock_ws_t *self, int port, long long deadline)
{
    char req[256];
    snprintf(req, sizeof req,
             "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n",
             port);
    if (s_ws_write(self, req, strlen(req)) != 0) {
        goto fail;
    }
    while (1) {
        self->buf[self->len < sizeof self->buf ? self->len : sizeof self->buf - 1] = 0;
        char *end = self->len ? strstr((char *)self->buf, "\r\n\r\n") : NULL;
        if (end) {
            if (strncmp((char *)self->buf, "HTTP/1.1 101", 12) != 0) {
                goto fail;
            }
            size_t hdr = (size_t)(end + 4 - (char *)self->buf);
            memmove(self->buf, self->buf + hdr, self->len - hdr);
            self->len -= hdr;
            return 0;
        }
        if (self->len + 1 >= sizeof self->buf || s_fill(self, deadline) <= 0) {
            goto fail;
        }
    }
fail:
    mock_ws_close(self);
    return -2;
}

int mock_ws_connect(mock_ws_t *self, int port, int timeout_ms)
{
    long long deadline = s_now_ms() + timeout_ms;
    if (s_tcp(self, port) != 0) {
        return -1;
    }
    return s_upgrade(self, port, deadline);
}

int mock_ws_connect_tls(mock_ws_t *self, int port, int timeout_ms, const char *ca_pem)
{
    long long deadline = s_now_ms() + timeout_ms;
    if (s_tcp(self, port) != 0) {
        return -1;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(self->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(self->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    self->ssl_ctx = ctx;
    if (!ctx || SSL_CTX_load_verify_locations(ctx, ca_pem, NULL) != 1) {
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    self->ssl = ssl;
    if (!ssl || SSL_set_fd(ssl, self->fd) != 1 || SSL_connect(ssl) != 1) {
        goto fail;
    }
    return s_upgrade(self, port, deadline);
fail:
    ERR_clear_error();
    mock_ws_close(self);
    return -3;
}

static int s_send_frame(mock_ws_t *self, int opcode, const void *data, size_t len)
{
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) {
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
        }
    }
    unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(hdr + h, mask, 4);
    h += 4;
    unsigned char *m = malloc(len ? len : 1);
    if (!m) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        m[i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
    }
    int rc = s_ws_write(self, hdr, h) == 0 && s_ws_write(self, m, len) == 0 ? 0 : -1;
    free(m);
    return rc;
}

int mock_ws_send_text(mock_ws_t *self, const char *text)
{
    return s_send_frame(self, 1, text, strlen(text));
}

int mock_ws_send_ping(mock_ws_t *self)
{
    return s_send_frame(self, 9, "hi", 2);
}

int mock_ws_recv(mock_ws_t *self, int timeout_ms, char **out, int *code)
{
    long long deadline = s_now_ms() + timeout_ms;
    if (out) {
        *out = NULL;
    }
    while (1) {
        if (self->len >= 2) {
            size_t h = 2;
            uint64_t plen = self->buf[1] & 0x7f;
            if (plen == 126 && self->len >= 4) {
                plen = ((uint64_t)self->buf[2] << 8) | self->buf[3];
                h = 4;
            } else if (plen == 127 && self->len >= 10) {
                plen = 0;
                for (int i = 0; i < 8; i++) {
                    plen = (plen << 8) | self->buf[2 + i];
                }
                h = 10;
            } else if (plen >= 126) {
                h = 0; /* need more header */
            }
            if (plen > sizeof self->buf - 16) {
                return MOCK_WS_EOF;
            }
            if (h && self->len >= h + plen) {
                int opcode = self->buf[0] & 0x0f;
                char *payload = malloc(plen + 1);
                if (!payload) {
                    return MOCK_WS_EOF;
                }
                memcpy(payload, self->buf + h, plen);
                payload[plen] = 0;
                memmove(self->buf, self->buf + h + plen, self->len - h - plen);
                self->len -= h + plen;
                if (opcode == 9) {
                    s_send_frame(self, 10, payload, plen);
                    free(payload);
                    continue;
                }
                if (opcode == 10) {
                    free(payload);
                    return MOCK_WS_PONG;
                }
                if (opcode == 8) {
                    int c = plen >= 2 ? ((unsigned char)payload[0] << 8) | (unsigned char)payload[1]
                                      : 1005;
                    if (code) {
                        *code = c;
                    }
                    if (plen >= 2) {
                        memmove(payload, payload + 2, plen - 2);
                        payload[plen - 2] = 0;
                    }
                    if (out) {
                        *out = payload;
                    } else {
                        free(payload);
                    }
                    return MOCK_WS_CLOSE;
                }
                if (out) {
                    *out = payload;
                } else {
                    free(payload);
                }
                return MOCK_WS_TEXT;
            }
        }
        int rc = s_fill(self, deadline);
        if (rc == 0) {
            return MOCK_WS_TIMEOUT;
        }
        if (rc < 0) {
            return MOCK_WS_EOF;
        }
    }
}

void mock_ws_close(mock_ws_t *self)
{
    if (self->ssl) {
        SSL_free(self->ssl);
        self->ssl = NULL;
    }
    if (self->ssl_ctx) {
        SSL_CTX_free(self->ssl_ctx);
        self->ssl_ctx = NULL;
    }
    if (self->fd >= 0) {
        close(self->fd);
    }
    self->fd = -1;
}

/* ---- gateway ------------------------------------------------------------ */

#define S_GW_CONNS 64

typedef struct {
    int fd;
    bool upgraded;
    size_t len;
    unsigned char buf[1 << 16];
} s_gw_conn_t;

static void s_gw_record(mock_gw_t *self, const unsigned char *p, size_t len)
{
    char *s = malloc(len + 1);
    if (!s) {
        return;
    }
    memcpy(s, p, len);
    s[len] = 0;
    pthread_mutex_lock(&self->mu);
    if (self->count < MOCK_GW_MAX) {
        self->frames[self->count++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&self->mu);
    free(s);
}

/* Handles buffered bytes; returns false when the connection should close. */
static bool s_gw_process(mock_gw_t *self, s_gw_conn_t *c)
{
    if (!c->upgraded) {
        c->buf[c->len < sizeof c->buf ? c->len : sizeof c->buf - 1] = 0;
        char *end = strstr((char *)c->buf, "\r\n\r\n");
        if (!end) {
            return c->len + 1 < sizeof c->buf;
        }
        char *key = strcasestr((char *)c->buf, "Sec-WebSocket-Key:");
        if (!key) {
            return false;
        }
        key += 18;
        while (*key == ' ') {
            key++;
        }
        char k[128];
        size_t kl = strcspn(key, "\r\n");
        if (kl > 60) {
            return false;
        }
        snprintf(k, sizeof k, "%.*s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", (int)kl, key);
        unsigned char sha[SHA_DIGEST_LENGTH];
        SHA1((unsigned char *)k, strlen(k), sha);
        unsigned char b64[64];
        EVP_EncodeBlock(b64, sha, SHA_DIGEST_LENGTH);
        char resp[256];
        snprintf(resp, sizeof resp,
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 b64);
        if (s_send_all(c->fd, resp, strlen(resp)) != 0) {
            return false;
        }
        size_t hdr = (size_t)(end + 4 - (char *)c->buf);
        memmove(c->buf, c->buf + hdr, c->len - hdr);
        c->len -= hdr;
        c->upgraded = true;
    }
    while (c->len >= 2) {
        size_t h = 2;
        uint64_t plen = c->buf[1] & 0x7f;
        bool masked = c->buf[1] & 0x80;
        if (plen == 126) {
            if (c->len < 4) {
                return true;
            }
            plen = ((uint64_t)c->buf[2] << 8) | c->buf[3];
            h = 4;
        } else if (plen == 127) {
            return false; /* pushes are small */
        }
        if (masked) {
            h += 4;
        }
        if (plen > sizeof c->buf - 16) {
            return false;
        }
        if (c->len < h + plen) {
            return true;
        }
        unsigned char *p = c->buf + h;
        if (masked) {
            for (uint64_t i = 0; i < plen; i++) {
                p[i] ^= c->buf[h - 4 + (i % 4)];
            }
        }
        int opcode = c->buf[0] & 0x0f;
        if (opcode == 1 || opcode == 2) {
            s_gw_record(self, p, plen);
        } else if (opcode == 8) {
            unsigned char close_frame[4] = {0x88, 0x02, 0x03, 0xe8};
            s_send_all(c->fd, close_frame, sizeof close_frame);
            return false;
        }
        memmove(c->buf, c->buf + h + plen, c->len - h - plen);
        c->len -= h + plen;
    }
    return true;
}

static void *s_gw_thread(void *arg)
{
    mock_gw_t *self = arg;
    s_gw_conn_t *conns = calloc(S_GW_CONNS, sizeof *conns);
    if (!conns) {
        return NULL;
    }
    for (int i = 0; i < S_GW_CONNS; i++) {
        conns[i].fd = -1;
    }
    while (!self->stop) {
        struct pollfd pfd[S_GW_CONNS + 1];
        int map[S_GW_CONNS + 1];
        int n = 0;
        pfd[n].fd = self->listen_fd;
        pfd[n].events = POLLIN;
        map[n++] = -1;
        for (int i = 0; i < S_GW_CONNS; i++) {
            if (conns[i].fd >= 0) {
                pfd[n].fd = conns[i].fd;
                pfd[n].events = POLLIN;
                map[n++] = i;
            }
        }
        if (poll(pfd, (nfds_t)n, 50) <= 0) {
            continue;
        }
        for (int k = 1; k < n; k++) {
            if (!pfd[k].revents) {
                continue;
            }
            s_gw_conn_t *c = &conns[map[k]];
            ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
            if (r <= 0 || !((c->len += (size_t)r), s_gw_process(self, c))) {
                close(c->fd);
                c->fd = -1;
            }
        }
        if (pfd[0].revents & POLLIN) {
            int fd = accept(self->listen_fd, NULL, NULL);
            if (fd < 0) {
                continue;
            }
            int slot = -1;
            for (int i = 0; i < S_GW_CONNS && slot < 0; i++) {
                if (conns[i].fd < 0) {
                    slot = i;
                }
            }
            if (slot < 0) {
                close(fd);
                continue;
            }
            conns[slot].fd = fd;
            conns[slot].len = 0;
            conns[slot].upgraded = false;
            pthread_mutex_lock(&self->mu);
            self->connections++;
            pthread_mutex_unlock(&self->mu);
        }
    }
    for (int i = 0; i < S_GW_CONNS; i++) {
        if (conns[i].fd >= 0) {
            close(conns[i].fd);
        }
    }
    free(conns);
    return NULL;
}

int mock_gw_start(mock_gw_t *self)
{
    memset(self, 0, sizeof *self);
    pthread_mutex_init(&self->mu, NULL);
    self->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (self->listen_fd < 0) {
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(self->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(self->listen_fd, 64) != 0 ||
        getsockname(self->listen_fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(self->listen_fd);
        return -1;
    }
    self->port = ntohs(sa.sin_port);
    if (pthread_create(&self->thread, NULL, s_gw_thread, self) != 0) {
        close(self->listen_fd);
        return -1;
    }
    return 0;
}

int mock_gw_count(mock_gw_t *self)
{
    pthread_mutex_lock(&self->mu);
    int n = self->count;
    pthread_mutex_unlock(&self->mu);
    return n;
}

char *mock_gw_frame(mock_gw_t *self, int i)
{
    char *s = NULL;
    pthread_mutex_lock(&self->mu);
    if (i >= 0 && i < self->count) {
        s = strdup(self->frames[i]);
    }
    pthread_mutex_unlock(&self->mu);
    return s;
}

void mock_gw_stop(mock_gw_t *self)
{
    self->stop = 1;
    pthread_join(self->thread, NULL);
    close(self->listen_fd);
    for (int i = 0; i < self->count; i++) {
        free(self->frames[i]);
    }
    pthread_mutex_destroy(&self->mu);
}
