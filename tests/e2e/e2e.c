/*  e2e.c: child processes, the mock fleet, sluiced, an API client and the
    shared fixture for the end-to-end tests (see e2e.h). Runs on the test
    thread only; the fixture's start functions fail the test via cmocka.
*/
#define _GNU_SOURCE
#include "e2e.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <zmq.h>

#include "tests/tchild.h"
#include "tests/tpack.h"
#include "tests/ttmp.h"

const char *const e2e_service_names[E2E_NSERVICES] = {
    "static-analyzer", "dynamic-analyzer", "performance-tester", "ai-analyzer", "generator"};

/* ---- time, files, ports ---------------------------------------------------- */

int64_t e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t e2e_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void e2e_nap(int ms)
{
    poll(NULL, 0, ms);
}

char *e2e_tmpdir(void)
{
    char buf[64];
    return ttmp_make(buf, sizeof(buf), "sluice-e2e") == 0 ? strdup(buf) : NULL;
}

void e2e_rmrf(const char *dir)
{
    if (getenv("E2E_KEEP")) {
        fprintf(stderr, "e2e: kept %s\n", dir);
        return;
    }
    ttmp_remove(dir);
}

void e2e_dump(const char *what, const char *path)
{
    char *text = e2e_read_file(path);
    if (text && *text) {
        size_t n = strlen(text);
        fprintf(stderr, "---- %s (last 4000 bytes) ----\n%s\n", what,
                n > 4000 ? text + n - 4000 : text);
    }
    free(text);
}

const char *e2e_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* A listening port in the ephemeral range can be taken by an outgoing
   connection: a peer that keeps connecting to it while nobody listens
   (the mock's progress pushes during a restart) walks the ephemeral ports
   and may connect to itself on exactly that port. So ports come from
   below the kernel's ephemeral range, checked free with bind. */
int e2e_free_port(void)
{
    int lo = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        int a = 0, b = 0;
        if (fscanf(f, "%d %d", &a, &b) == 2 && a > 2048) {
            lo = a;
        }
        fclose(f);
    }
    static unsigned seed;
    if (!seed) {
        seed = (unsigned)getpid() ^ (unsigned)e2e_wall_ms();
    }
    int base = lo > 12000 ? lo - 10000 : 1024;
    for (int tries = 0; tries < 200; tries++) {
        int port = base + (int)(rand_r(&seed) % (unsigned)(lo - base));
        if (s_port_free(port)) {
            return port;
        }
    }
    /* fall back to whatever the kernel gives */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        port = ntohs(sa.sin_port);
    }
    close(fd);
    return port;
}

char *e2e_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    size_t n;
    while (text && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *grown = realloc(text, cap * 2);
            if (!grown) {
                free(text);
                text = NULL;
                break;
            }
            text = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (text) {
        text[len] = '\0';
    }
    return text;
}

bool e2e_file_contains(const char *path, const char *needle)
{
    char *text = e2e_read_file(path);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

int e2e_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        return -1;
    }
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

/* ---- argument lists ------------------------------------------------------------ */

void e2e_args_add(e2e_args_t *a, const char *fmt, ...)
{
    if (a->n >= (int)(sizeof(a->v) / sizeof(a->v[0])) - 1) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) >= 0) {
        a->v[a->n++] = s;
        a->v[a->n] = NULL;
    }
    va_end(ap);
}

void e2e_args_free(e2e_args_t *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->v[i]);
    }
    a->n = 0;
    a->v[0] = NULL;
}

/* ---- child processes ------------------------------------------------------------- */

e2e_proc_t *e2e_spawn(char *const argv[], char *const env[], const char *log_path)
{
    e2e_proc_t *p = calloc(1, sizeof(*p));
    int fds[2];
    if (!p || pipe2(fds, O_CLOEXEC) != 0) {
        free(p);
        return NULL;
    }
    snprintf(p->log, sizeof(p->log), "%s", log_path ? log_path : "/dev/null");
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        free(p);
        return NULL;
    }
    if (pid == 0) {
        tchild_in_child(parent);
        dup2(fds[1], STDOUT_FILENO);
        int log = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log >= 0) {
            dup2(log, STDERR_FILENO);
        }
        for (int i = 0; env && env[i]; i++) {
            putenv(env[i]);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execv(argv[0], argv);
        fprintf(stderr, "e2e: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    tchild_add(pid);
    close(fds[1]);
    p->pid = pid;
    p->out_fd = fds[0];
    fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
    return p;
}

int e2e_read_line(e2e_proc_t *p, char *line, size_t size, int64_t deadline_ms)
{
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl || (p->eof && p->len > 0) || p->len == sizeof(p->buf)) {
            size_t n = nl ? (size_t)(nl - p->buf) : p->len;
            size_t copy = n < size - 1 ? n : size - 1;
            memcpy(line, p->buf, copy);
            line[copy] = '\0';
            size_t used = nl ? n + 1 : n;
            memmove(p->buf, p->buf + used, p->len - used);
            p->len -= used;
            return 0;
        }
        if (p->eof) {
            return -2;
        }
        int64_t left = deadline_ms - e2e_now_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd pfd = {.fd = p->out_fd, .events = POLLIN};
        int rc = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (rc < 0 && errno != EINTR) {
            return -2;
        }
        if (rc <= 0) {
            continue;
        }
        ssize_t n = read(p->out_fd, p->buf + p->len, sizeof(p->buf) - p->len);
        if (n > 0) {
            p->len += (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            p->eof = true;
        }
    }
}

int e2e_wait_line(e2e_proc_t *p, const char *prefix, char *line, size_t size, int64_t deadline_ms)
{
    for (;;) {
        int rc = e2e_read_line(p, line, size, deadline_ms);
        if (rc) {
            return rc;
        }
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            return 0;
        }
    }
}

static int s_code(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

int e2e_wait_exit(e2e_proc_t *p, int64_t deadline_ms)
{
    if (p->reaped) {
        return s_code(p->status);
    }
    /* A pidfd turns "the child exited" into a pollable event. */
    int pfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    for (;;) {
        int status = 0;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            tchild_forget(p->pid);
            p->reaped = true;
            p->status = status;
            break;
        }
        if (r < 0 && errno != EINTR) {
            tchild_forget(p->pid);
            p->reaped = true; /* not our child any more: treat as gone */
            p->status = 0xff00;
            break;
        }
        int64_t left = deadline_ms - e2e_now_ms();
        if (left <= 0) {
            if (pfd >= 0) {
                close(pfd);
            }
            return -1;
        }
        if (pfd >= 0) {
            struct pollfd w = {.fd = pfd, .events = POLLIN};
            poll(&w, 1, (int)(left > 1000 ? 1000 : left));
        } else {
            e2e_nap(10);
        }
    }
    if (pfd >= 0) {
        close(pfd);
    }
    return s_code(p->status);
}

int e2e_stop(e2e_proc_t *p, int sig, int grace_ms)
{
    if (!p->reaped) {
        kill(p->pid, sig);
    }
    int code = e2e_wait_exit(p, e2e_now_ms() + grace_ms);
    if (code == -1) {
        kill(p->pid, SIGKILL);
        code = e2e_wait_exit(p, e2e_now_ms() + 10000);
    }
    return code;
}

void e2e_proc_free(e2e_proc_t **pp)
{
    if (!pp || !*pp) {
        return;
    }
    e2e_proc_t *p = *pp;
    if (!p->reaped) {
        e2e_stop(p, SIGTERM, 5000);
    }
    close(p->out_fd);
    free(p);
    *pp = NULL;
}

void e2e_kill_children(void)
{
    tchild_kill_all();
}

/* ---- the mock analyzer fleet ----------------------------------------------------- */

e2e_mock_t *e2e_mock_start(const char *bin, const e2e_args_t *args, const char *log_path)
{
    e2e_mock_t *m = calloc(1, sizeof(*m));
    if (!m) {
        return NULL;
    }
    e2e_args_t argv = {0};
    e2e_args_add(&argv, "%s", bin);
    for (int i = 0; i < args->n; i++) {
        e2e_args_add(&argv, "%s", args->v[i]);
    }
    e2e_args_add(&argv, "--control");
    e2e_args_add(&argv, "127.0.0.1:0");
    m->proc = e2e_spawn(argv.v, NULL, log_path);
    e2e_args_free(&argv);
    if (!m->proc) {
        free(m);
        return NULL;
    }
    int64_t deadline = e2e_now_ms() + 10000;
    char line[512];
    for (;;) {
        if (e2e_read_line(m->proc, line, sizeof(line), deadline)) {
            e2e_mock_stop(&m);
            return NULL;
        }
        if (strcmp(line, "ready") == 0) {
            break;
        }
        char svc[64], url[64];
        if (sscanf(line, "replica %63s %63s", svc, url) == 2) {
            for (int s = 0; s < E2E_NSERVICES; s++) {
                if (strcmp(svc, e2e_service_names[s]) == 0 && m->n[s] < 16) {
                    snprintf(m->urls[s][m->n[s]++], 64, "%s", url);
                    size_t len = strlen(m->joined[s]);
                    snprintf(m->joined[s] + len, sizeof(m->joined[s]) - len, "%s%s", len ? "," : "",
                             url);
                }
            }
        }
        char host[64];
        int port = 0;
        if (sscanf(line, "control %63[^:]:%d", host, &port) == 2) {
            m->control_port = port;
        }
    }
    return m;
}

int e2e_mock_control(e2e_mock_t *m, const char *cmd, char *answer, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)m->control_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = -1;
    char out[512];
    int n = snprintf(out, sizeof(out), "%s\n", cmd);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, out, (size_t)n) == n) {
        size_t len = 0;
        int64_t deadline = e2e_now_ms() + 5000;
        while (len < size - 1) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int64_t left = deadline - e2e_now_ms();
            if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
                break;
            }
            ssize_t r = read(fd, answer + len, size - 1 - len);
            if (r <= 0) {
                break;
            }
            len += (size_t)r;
            answer[len] = '\0';
            if (memchr(answer, '\n', len)) {
                rc = 0;
                break;
            }
        }
        answer[len] = '\0';
    }
    close(fd);
    return rc;
}

void e2e_mock_stop(e2e_mock_t **mp)
{
    if (!mp || !*mp) {
        return;
    }
    e2e_proc_free(&(*mp)->proc);
    free(*mp);
    *mp = NULL;
}

/* ---- sluiced ------------------------------------------------------------------------ */

e2e_proc_t *e2e_sluiced_start(const char *bin, const e2e_args_t *args, const char *log_path,
                              int timeout_ms, int *exit_code)
{
    e2e_args_t argv = {0};
    e2e_args_add(&argv, "%s", bin);
    for (int i = 0; i < args->n; i++) {
        e2e_args_add(&argv, "%s", args->v[i]);
    }
    e2e_proc_t *p = e2e_spawn(argv.v, NULL, log_path);
    e2e_args_free(&argv);
    if (exit_code) {
        *exit_code = -1;
    }
    if (!p) {
        return NULL;
    }
    int64_t deadline = e2e_now_ms() + timeout_ms;
    char line[256];
    int rc = e2e_wait_line(p, "sluiced: ready", line, sizeof(line), deadline);
    if (rc == 0) {
        return p;
    }
    int code = rc == -2 ? e2e_wait_exit(p, e2e_now_ms() + 5000) : -1;
    if (code == -1) {
        e2e_stop(p, SIGKILL, 1000);
    }
    if (exit_code) {
        *exit_code = code;
    }
    e2e_proc_free(&p);
    return NULL;
}

void e2e_sluiced_base_args(e2e_args_t *a, const char *dir, const char *data_dir,
                           const e2e_mock_t *m, int gateway_port)
{
    e2e_args_add(a, "--set");
    e2e_args_add(a, "sluice/data_dir=%s", data_dir);
    e2e_args_add(a, "--set");
    e2e_args_add(a, "api/endpoint=ipc://%s/api.sock", dir);
    e2e_args_add(a, "--set");
    e2e_args_add(a, "api/pub=ipc://%s/pub.sock", dir);
    e2e_args_add(a, "--set");
    if (gateway_port > 0) {
        e2e_args_add(a, "progress/listen=ws://127.0.0.1:%d", gateway_port);
    } else {
        e2e_args_add(a, "progress/listen=");
    }
    for (int s = 0; m && s < E2E_NSERVICES; s++) {
        if (m->n[s]) {
            e2e_args_add(a, "--set");
            e2e_args_add(a, "services/%s/urls=%s", e2e_service_names[s], m->joined[s]);
        }
    }
}

/* ---- JSON <-> msgpack (msgpack-c; tests/tpack.h packs) ------------------------ */

int e2e_pack(const json_t *v, char **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    tpack_json(&pk, v);
    *out = sb.data; /* malloc'd by the sbuffer: caller frees */
    *len = sb.size;
    return *out ? 0 : -1;
}

json_t *e2e_unpack(const void *bytes, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    json_t *v = NULL;
    if (msgpack_unpack_next(&u, bytes, len, &off) == MSGPACK_UNPACK_SUCCESS) {
        v = tpack_unpack(&u.data, 0);
    }
    msgpack_unpacked_destroy(&u);
    return v;
}

/* ---- the API client -------------------------------------------------------------------- */

e2e_api_t *e2e_api_connect(const char *endpoint)
{
    e2e_api_t *api = calloc(1, sizeof(*api));
    if (!api) {
        return NULL;
    }
    api->ctx = zmq_ctx_new();
    api->sock = api->ctx ? zmq_socket(api->ctx, ZMQ_DEALER) : NULL;
    int zero = 0;
    if (!api->sock || zmq_setsockopt(api->sock, ZMQ_LINGER, &zero, sizeof(zero)) ||
        zmq_connect(api->sock, endpoint)) {
        e2e_api_close(&api);
        return NULL;
    }
    api->next_id = 1;
    return api;
}

void e2e_api_close(e2e_api_t **pa)
{
    if (!pa || !*pa) {
        return;
    }
    e2e_api_t *api = *pa;
    if (api->sock) {
        zmq_close(api->sock);
    }
    if (api->ctx) {
        zmq_ctx_term(api->ctx);
    }
    free(api);
    *pa = NULL;
}

/* The next reply frame by deadline, decoded; NULL on timeout. */
static json_t *s_recv(e2e_api_t *api, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - e2e_now_ms();
        if (left <= 0) {
            return NULL;
        }
        zmq_pollitem_t item = {.socket = api->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, (long)left) <= 0) {
            continue;
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, api->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            continue;
        }
        json_t *v = e2e_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg));
        while (zmq_msg_more(&msg)) { /* replies are one frame; drop extras */
            zmq_msg_close(&msg);
            zmq_msg_init(&msg);
            zmq_msg_recv(&msg, api->sock, ZMQ_DONTWAIT);
        }
        zmq_msg_close(&msg);
        if (v) {
            return v;
        }
    }
}

json_t *e2e_call(e2e_api_t *api, json_t *req, int timeout_ms)
{
    if (!req) {
        return NULL;
    }
    uint64_t id = api->next_id++;
    json_object_set_new(req, "id", json_integer((json_int_t)id));
    char *buf = NULL;
    size_t len = 0;
    int rc = e2e_pack(req, &buf, &len);
    json_decref(req);
    if (rc || zmq_send(api->sock, buf, len, 0) < 0) {
        free(buf);
        return NULL;
    }
    free(buf);
    int64_t deadline = e2e_now_ms() + timeout_ms;
    for (;;) {
        json_t *reply = s_recv(api, deadline);
        if (!reply) {
            return NULL;
        }
        json_t *rid = json_object_get(reply, "id");
        if (json_is_integer(rid) && (uint64_t)json_integer_value(rid) == id) {
            return reply;
        }
        json_decref(reply); /* a late answer to an earlier, timed-out call */
    }
}

json_t *e2e_callf(e2e_api_t *api, int timeout_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_error_t err;
    json_t *req = json_vpack_ex(&err, 0, fmt, ap);
    va_end(ap);
    if (!req) {
        fprintf(stderr, "e2e: json_pack(%s): %s\n", fmt, err.text);
        return NULL;
    }
    return e2e_call(api, req, timeout_ms);
}

json_t *e2e_call_raw(e2e_api_t *api, const void *bytes, size_t len, int nframes, int timeout_ms)
{
    for (int i = 0; i < nframes; i++) {
        if (zmq_send(api->sock, bytes, len, i + 1 < nframes ? ZMQ_SNDMORE : 0) < 0) {
            return NULL;
        }
    }
    return s_recv(api, e2e_now_ms() + timeout_ms);
}

bool e2e_ok(const json_t *reply)
{
    return reply && json_is_true(json_object_get(reply, "ok"));
}

const char *e2e_err_code(const json_t *reply)
{
    const char *code = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
    return code ? code : "";
}

/* ---- the PUB socket ------------------------------------------------------------------------ */

e2e_sub_t *e2e_sub_connect(const char *endpoint)
{
    e2e_sub_t *sub = calloc(1, sizeof(*sub));
    if (!sub) {
        return NULL;
    }
    sub->ctx = zmq_ctx_new();
    sub->sock = sub->ctx ? zmq_socket(sub->ctx, ZMQ_SUB) : NULL;
    int zero = 0;
    if (!sub->sock || zmq_setsockopt(sub->sock, ZMQ_LINGER, &zero, sizeof(zero)) ||
        zmq_setsockopt(sub->sock, ZMQ_SUBSCRIBE, "", 0) || zmq_connect(sub->sock, endpoint)) {
        e2e_sub_close(&sub);
        return NULL;
    }
    return sub;
}

void e2e_sub_close(e2e_sub_t **ps)
{
    if (!ps || !*ps) {
        return;
    }
    if ((*ps)->sock) {
        zmq_close((*ps)->sock);
    }
    if ((*ps)->ctx) {
        zmq_ctx_term((*ps)->ctx);
    }
    free(*ps);
    *ps = NULL;
}

json_t *e2e_sub_next(e2e_sub_t *sub, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - e2e_now_ms();
        if (left <= 0) {
            return NULL;
        }
        zmq_pollitem_t item = {.socket = sub->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, (long)left) <= 0) {
            continue;
        }
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        json_t *ev = NULL;
        if (zmq_msg_recv(&topic, sub->sock, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&topic) &&
            zmq_msg_recv(&body, sub->sock, 0) >= 0) {
            ev = e2e_unpack(zmq_msg_data(&body), zmq_msg_size(&body));
            if (ev && json_is_object(ev)) {
                json_object_set_new(ev, "topic",
                                    json_stringn(zmq_msg_data(&topic), zmq_msg_size(&topic)));
            }
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
        if (ev) {
            return ev;
        }
    }
}

/* ---- pipelines ------------------------------------------------------------------------------ */

bool e2e_pstatus_terminal(const char *s)
{
    return s && (!strcmp(s, "completed") || !strcmp(s, "partial_success") || !strcmp(s, "failed") ||
                 !strcmp(s, "cancelled"));
}

bool e2e_tstatus_terminal(const char *s)
{
    return s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled") ||
                 !strcmp(s, "dead"));
}

json_t *e2e_pipeline_get(e2e_api_t *api, const char *id)
{
    json_t *r = e2e_callf(api, 5000, "{ss ss}", "op", "pipeline.get", "pipeline_id", id);
    json_t *p = e2e_ok(r) ? json_incref(json_object_get(r, "pipeline")) : NULL;
    json_decref(r);
    return p;
}

json_t *e2e_wait_terminal(e2e_api_t *api, const char *id, int64_t deadline_ms)
{
    for (;;) {
        json_t *p = e2e_pipeline_get(api, id);
        if (p && e2e_pstatus_terminal(json_string_value(json_object_get(p, "status")))) {
            return p;
        }
        json_decref(p);
        if (e2e_now_ms() >= deadline_ms) {
            return NULL;
        }
        e2e_nap(20);
    }
}

json_t *e2e_wait_started(e2e_api_t *api, json_t *reply, char *id, size_t size, int64_t deadline_ms)
{
    assert_true(e2e_ok(reply));
    snprintf(id, size, "%s", e2e_str(reply, "pipeline_id"));
    json_decref(reply);
    json_t *p = e2e_wait_terminal(api, id, deadline_ms);
    assert_non_null(p);
    return p;
}

json_t *e2e_events_all(e2e_api_t *api, uint64_t *last_seq)
{
    json_t *all = json_array();
    uint64_t seq = 0;
    for (int page = 0; page < 10000; page++) {
        json_t *r = e2e_callf(api, 5000, "{ss sI sI}", "op", "events.since", "seq", (json_int_t)seq,
                              "limit", (json_int_t)1000);
        if (!e2e_ok(r)) {
            json_decref(r);
            json_decref(all);
            return NULL;
        }
        json_array_extend(all, json_object_get(r, "events"));
        uint64_t last = (uint64_t)json_integer_value(json_object_get(r, "last_seq"));
        bool more = json_is_true(json_object_get(r, "more"));
        size_t n = json_array_size(json_object_get(r, "events"));
        json_decref(r);
        seq = last;
        if (!more || n == 0) {
            break;
        }
    }
    if (last_seq) {
        *last_seq = seq;
    }
    return all;
}

int e2e_count_tasks(const json_t *p, const char *kind, const char *status)
{
    int n = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(p, "tasks"), i, t)
    {
        const char *k = json_string_value(json_object_get(t, "kind"));
        const char *s = json_string_value(json_object_get(t, "status"));
        if ((!kind || (k && !strcmp(k, kind))) && (!status || (s && !strcmp(s, status)))) {
            n++;
        }
    }
    return n;
}

/* ---- the fixture ------------------------------------------------------------------------- */

/* MOCK_BIN and SLUICED_BIN are compile definitions of every e2e target
   (tests/e2e/CMakeLists.txt), this file included. */

int e2e_fx_init(e2e_fx_t *fx)
{
    if (!(fx->dir = e2e_tmpdir())) {
        return -1;
    }
    snprintf(fx->data, sizeof(fx->data), "%s/data", fx->dir);
    snprintf(fx->api_ep, sizeof(fx->api_ep), "ipc://%s/api.sock", fx->dir);
    snprintf(fx->pub_ep, sizeof(fx->pub_ep), "ipc://%s/pub.sock", fx->dir);
    snprintf(fx->log_mock, sizeof(fx->log_mock), "%s/mock.log", fx->dir);
    snprintf(fx->log_d, sizeof(fx->log_d), "%s/sluiced.log", fx->dir);
    fx->start_ms = 15000;
    return 0;
}

void e2e_fx_fini(e2e_fx_t *fx)
{
    e2e_api_close(&fx->api);
    e2e_sub_close(&fx->sub);
    e2e_proc_free(&fx->d2);
    e2e_proc_free(&fx->d);
    e2e_mock_stop(&fx->mock);
    e2e_kill_children();
    if (getenv("E2E_VERBOSE")) {
        e2e_dump(fx->log_d, fx->log_d);
        e2e_dump(fx->log_mock, fx->log_mock);
    }
    e2e_rmrf(fx->dir);
    free(fx->dir);
    fx->dir = NULL;
}

void *e2e_fx_new(size_t size)
{
    e2e_fx_t *fx = calloc(1, size);
    if (!fx || e2e_fx_init(fx) != 0) {
        free(fx);
        return NULL;
    }
    return fx;
}

int e2e_fx_setup(void **state)
{
    e2e_fx_t *fx = e2e_fx_new(sizeof(*fx));
    *state = fx;
    return fx ? 0 : -1;
}

int e2e_fx_teardown(void **state)
{
    e2e_fx_t *fx = *state;
    e2e_fx_fini(fx);
    free(fx);
    return 0;
}

void e2e_fx_add_gateway(e2e_fx_t *fx, e2e_args_t *args, const char *path)
{
    fx->gateway = e2e_free_port();
    assert_true(fx->gateway > 0);
    e2e_args_add(args, "--gateway");
    e2e_args_add(args, "ws://127.0.0.1:%d%s", fx->gateway, path ? path : "");
}

void e2e_fx_start_mock(e2e_fx_t *fx, e2e_args_t *args, const char *const *replicas)
{
    e2e_args_t m = {0};
    for (int i = 0; args && i < args->n; i++) {
        e2e_args_add(&m, "%s", args->v[i]);
    }
    for (int i = 0; replicas && replicas[i]; i++) {
        e2e_args_add(&m, "--replica");
        e2e_args_add(&m, "%s", replicas[i]);
    }
    if (args) {
        e2e_args_free(args);
    }
    fx->mock = e2e_mock_start(MOCK_BIN, &m, fx->log_mock);
    e2e_args_free(&m);
    if (!fx->mock) {
        e2e_dump("mock stderr", fx->log_mock);
    }
    assert_non_null(fx->mock);
}

void e2e_fx_start_daemon_args(e2e_fx_t *fx, const e2e_args_t *extra)
{
    assert_null(fx->d); /* a former sluiced is stopped and freed first */
    int code = -1;
    for (int tries = 0; tries < 3 && !fx->d; tries++) {
        /* one log per start, so a line found in it is this daemon's */
        snprintf(fx->log_d, sizeof(fx->log_d), "%s/sluiced.%d.log", fx->dir, fx->starts++);
        e2e_args_t a = {0};
        e2e_sluiced_base_args(&a, fx->dir, fx->data, fx->mock, fx->gateway);
        for (int i = 0; extra && i < extra->n; i++) {
            e2e_args_add(&a, "%s", extra->v[i]);
        }
        fx->d = e2e_sluiced_start(SLUICED_BIN, &a, fx->log_d, fx->start_ms, &code);
        e2e_args_free(&a);
        if (!fx->d && fx->gateway > 0 && e2e_file_contains(fx->log_d, "progress")) {
            continue; /* the progress port was taken meanwhile */
        }
        break;
    }
    if (!fx->d) {
        fprintf(stderr, "sluiced did not start (exit %d)\n", code);
        e2e_dump("sluiced stderr", fx->log_d);
    }
    assert_non_null(fx->d);
    e2e_api_close(&fx->api);
    fx->api = e2e_api_connect(fx->api_ep);
    assert_non_null(fx->api);
}

void e2e_fx_start_daemon(e2e_fx_t *fx, const char *const *sets)
{
    e2e_args_t a = {0};
    for (int i = 0; sets && sets[i]; i++) {
        e2e_args_add(&a, "--set");
        e2e_args_add(&a, "%s", sets[i]);
    }
    e2e_fx_start_daemon_args(fx, &a);
    e2e_args_free(&a);
}

void e2e_fx_connect_sub(e2e_fx_t *fx)
{
    fx->sub = e2e_sub_connect(fx->pub_ep);
    assert_non_null(fx->sub);
    /* the SUB connects while this request is answered */
    json_t *pong = e2e_callf(fx->api, 5000, "{ss}", "op", "ping");
    assert_true(e2e_ok(pong));
    json_decref(pong);
}
