/*  test_mock.c: sluice-mock-analyzer as a real child process on loopback.

    Each case starts the mock with port 0, reads its URLs from stdout, talks
    to it with the minimal client in mock_ws.c (and receives out-of-band
    progress on the recording gateway), then stops it by pid with SIGTERM and
    checks it exited 0. Times run with --time-scale so cases take
    milliseconds; every wait has a deadline. Every mock is registered with
    tests/tchild.h, so a case that fails before s_mock_stop still has its
    mock killed by pid in the teardown.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/tchild.h"
#include "tests/ttmp.h"
#include "tests/tools/mock_ws.h"

#ifndef MOCK_SOURCE_DIR
#define MOCK_SOURCE_DIR "."
#endif
#ifndef MOCK_BIN
#define MOCK_BIN "sluice-mock-analyzer"
#endif

#define S_MAX_REPLICAS 16

typedef struct {
    pid_t pid;
    int out_fd;
    int count;
    char service[S_MAX_REPLICAS][64];
    int port[S_MAX_REPLICAS];
    int control_port;
} s_mock_t;

static long long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one line from fd before deadline; returns length or -1. */
static int s_read_line(int fd, char *buf, size_t size, long long deadline)
{
    size_t n = 0;
    while (n + 1 < size) {
        long long left = deadline - s_now_ms();
        if (left <= 0) {
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r <= 0) {
            return -1;
        }
        if (ch == '\n') {
            break;
        }
        buf[n++] = ch;
    }
    buf[n] = 0;
    return (int)n;
}

/* Starts the mock with the given arguments (NULL-terminated). Returns 0 once
   it printed "ready", -1 if it exited or did not get ready in 10 s. */
static int s_mock_start(s_mock_t *m, const char *first, ...)
{
    const char *argv[64];
    int argc = 0;
    argv[argc++] = MOCK_BIN;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 62; a = va_arg(ap, const char *)) {
        argv[argc++] = a;
    }
    va_end(ap);
    argv[argc] = NULL;
    memset(m, 0, sizeof *m);
    int pfd[2];
    if (pipe(pfd) != 0) {
        return -1;
    }
    pid_t parent = getpid();
    m->pid = fork();
    if (m->pid == 0) {
        tchild_in_child(parent);
        dup2(pfd[1], STDOUT_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execv(MOCK_BIN, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    m->out_fd = pfd[0];
    if (m->pid < 0) {
        return -1;
    }
    tchild_add(m->pid);
    long long deadline = s_now_ms() + 10000;
    char line[256];
    while (s_read_line(m->out_fd, line, sizeof line, deadline) >= 0) {
        char svc[64], url[128];
        if (strcmp(line, "ready") == 0) {
            return 0;
        }
        if (sscanf(line, "replica %63s %127s", svc, url) == 2 && m->count < S_MAX_REPLICAS) {
            snprintf(m->service[m->count], sizeof m->service[0], "%s", svc);
            m->port[m->count++] = mock_ws_url_port(url);
        } else if (strncmp(line, "control 127.0.0.1:", 18) == 0) {
            m->control_port = atoi(line + 18);
        }
    }
    return -1;
}

/* SIGTERM by pid, wait up to 5 s, SIGKILL fallback. Returns the exit status
   (0 for a clean exit) or -1 if it had to be killed. */
static int s_mock_stop(s_mock_t *m)
{
    if (m->pid <= 0) {
        return -1;
    }
    kill(m->pid, SIGTERM);
    long long deadline = s_now_ms() + 5000;
    int status = 0;
    while (s_now_ms() < deadline) {
        pid_t r = waitpid(m->pid, &status, WNOHANG);
        if (r == m->pid) {
            tchild_forget(m->pid);
            close(m->out_fd);
            m->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL); /* bounded poll of the child's state, not a sync sleep */
    }
    kill(m->pid, SIGKILL);
    waitpid(m->pid, &status, 0);
    tchild_forget(m->pid);
    close(m->out_fd);
    m->pid = 0;
    return -1;
}

/* Sends one control line and returns the answer (caller frees) or NULL. */
static char *s_control(const s_mock_t *m, const char *cmd)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)m->control_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    char line[8192];
    snprintf(line, sizeof line, "%s\n", cmd);
    if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
        close(fd);
        return NULL;
    }
    int n = s_read_line(fd, line, sizeof line, s_now_ms() + 5000);
    close(fd);
    return n >= 0 ? strdup(line) : NULL;
}

/* Receives one text frame and parses it as a JSON object (NULL otherwise). */
static json_t *s_recv_json(mock_ws_t *ws, int timeout_ms)
{
    char *text = NULL;
    int rc = mock_ws_recv(ws, timeout_ms, &text, NULL);
    json_t *j = rc == MOCK_WS_TEXT ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Sends text and expects a frame of the given type. Returns it (caller
   decrefs). */
static json_t *s_roundtrip(mock_ws_t *ws, const char *text, const char *type)
{
    assert_int_equal(mock_ws_send_text(ws, text), 0);
    json_t *j = s_recv_json(ws, 3000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), type);
    return j;
}

/* Reads frames until a close frame; returns the close code (or -1 on EOF /
   timeout). Counts the text frames in *texts if not NULL. */
static int s_expect_close(mock_ws_t *ws, char **reason)
{
    long long deadline = s_now_ms() + 3000;
    while (s_now_ms() < deadline) {
        char *out = NULL;
        int code = 0;
        int rc = mock_ws_recv(ws, 3000, &out, &code);
        if (rc == MOCK_WS_CLOSE) {
            if (reason) {
                *reason = out;
            } else {
                free(out);
            }
            return code;
        }
        free(out);
        if (rc != MOCK_WS_TEXT && rc != MOCK_WS_PONG) {
            return -1;
        }
    }
    return -1;
}

static const char *s_static_req =
    "{\"type\": \"static_analyze\", \"model_slug\": \"test_model-1\", \"app_number\": 1, "
    "\"tools\": [\"bandit\", \"pylint\"], \"id\": \"req-1\", "
    "\"timestamp\": \"2026-11-28T20:55:00+00:00\"}";

/* ---- cases -------------------------------------------------------------- */

static void test_mock_control_frames(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "static-analyzer:127.0.0.1:0", NULL), 0);
    assert_int_equal(m.count, 1);
    assert_string_equal(m.service[0], "static-analyzer");
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);

    /* Python json.dumps separators, key order as captured */
    assert_int_equal(mock_ws_send_text(&ws, "{\"type\": \"ping\", \"id\": \"p0\"}"), 0);
    char *raw = NULL;
    assert_int_equal(mock_ws_recv(&ws, 3000, &raw, NULL), MOCK_WS_TEXT);
    const char *prefix = "{\"type\": \"pong\", \"timestamp\": \"";
    assert_int_equal(strncmp(raw, prefix, strlen(prefix)), 0);
    free(raw);
    json_t *j = s_roundtrip(&ws, "{\"type\": \"ping\", \"id\": \"p1\"}", "pong");
    assert_string_equal(s_str(j, "service"), "static-analyzer");
    assert_non_null(s_str(j, "timestamp"));
    json_decref(j);

    /* the connection stays open after control frames */
    j = s_roundtrip(&ws, "{\"type\": \"health_check\", \"id\": \"h1\"}", "health_response");
    assert_string_equal(s_str(j, "status"), "healthy");
    assert_true(json_is_number(json_object_get(j, "uptime")));
    json_t *tools = json_object_get(j, "available_tools");
    assert_true(json_is_array(tools));
    assert_string_equal(json_string_value(json_array_get(tools, 0)), "bandit");
    /* key order as captured */
    const char *order[] = {"type",   "status",          "service",  "version",
                           "uptime", "available_tools", "timestamp"};
    int k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        assert_true(k < 7);
        assert_string_equal(key, order[k++]);
    }
    json_decref(j);

    j = s_roundtrip(&ws, "{\"type\": \"server_status\", \"id\": \"s1\"}", "error");
    assert_string_equal(s_str(j, "message"), "Unknown message type: server_status");
    json_decref(j);

    j = s_roundtrip(&ws, "not json", "error");
    assert_string_equal(s_str(j, "message"), "Invalid JSON format");
    json_decref(j);

    json_decref(s_roundtrip(&ws, "{\"type\": \"ping\"}", "pong"));
    mock_ws_close(&ws);
    assert_int_equal(s_mock_stop(&m), 0);
}

/* Starts a recording gateway; url gets its ws:// address, path appended. */
static void s_gw_start(mock_gw_t *gw, const char *path, char *url, size_t cap)
{
    assert_int_equal(mock_gw_start(gw), 0);
    snprintf(url, cap, "ws://127.0.0.1:%d%s", gw->port, path);
}

/* Waits for a pushed frame with stage "completed"; returns its index. */
static int s_gw_wait_completed(mock_gw_t *gw, int timeout_ms)
{
    long long deadline = s_now_ms() + timeout_ms;
    int seen = 0;
    while (s_now_ms() < deadline) {
        int n = mock_gw_count(gw);
        for (; seen < n; seen++) {
            char *f = mock_gw_frame(gw, seen);
            json_t *j = f ? json_loads(f, 0, NULL) : NULL;
            bool done = j && s_str(j, "stage") && strcmp(s_str(j, "stage"), "completed") == 0;
            json_decref(j);
            free(f);
            if (done) {
                return seen;
            }
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

static void test_mock_static_analyze(void **state)
{
    mock_gw_t gw;
    char gateway[64];
    s_gw_start(&gw, "", gateway, sizeof gateway);
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "static-analyzer:127.0.0.1:0:latency=2000-3000",
                                  "--gateway", gateway, "--time-scale", "0.01", NULL),
                     0);
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    json_t *j = s_roundtrip(&ws, s_static_req, "status_update");
    assert_string_equal(s_str(j, "stage"), "started");
    assert_string_equal(s_str(j, "analysis_id"), "req-1");
    assert_string_equal(s_str(j, "message"), "Starting static analysis for test_model-1 app 1");
    json_decref(j);

    j = s_recv_json(&ws, 3000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "static_analysis_result");
    assert_string_equal(s_str(j, "status"), "success");
    assert_string_equal(s_str(j, "service"), "static-analyzer");
    assert_null(json_object_get(j, "id")); /* legacy: correlation is by connection */
    json_t *a = json_object_get(j, "analysis");
    assert_string_equal(s_str(a, "model_slug"), "test_model-1");
    assert_int_equal(json_integer_value(json_object_get(a, "app_number")), 1);
    assert_int_equal(json_array_size(json_object_get(a, "tools_used")), 2);
    assert_true(json_is_object(json_object_get(json_object_get(a, "results"), "python")));
    json_t *sum = json_object_get(a, "summary");
    assert_true(json_is_integer(json_object_get(sum, "total_issues_found")));
    assert_string_equal(s_str(sum, "analysis_status"), "completed");
    assert_non_null(s_str(j, "timestamp"));
    json_decref(j);

    char *reason = NULL;
    assert_int_equal(s_expect_close(&ws, &reason), 1000);
    assert_string_equal(reason, "Analysis complete");
    free(reason);
    mock_ws_close(&ws);

    /* out-of-band progress: a new connection per push, id as correlation_id */
    int last = s_gw_wait_completed(&gw, 3000);
    assert_true(last >= 1);
    char *f = mock_gw_frame(&gw, 0);
    j = json_loads(f, 0, NULL);
    free(f);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "progress_update");
    assert_string_equal(s_str(j, "correlation_id"), "req-1");
    assert_string_equal(s_str(j, "stage"), "starting");
    assert_string_equal(s_str(j, "service"), "static-analyzer");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "data"), "app_number")),
                     1);
    json_decref(j);
    pthread_mutex_lock(&gw.mu);
    int conns = gw.connections;
    pthread_mutex_unlock(&gw.mu);
    assert_true(conns >= last + 1);
    assert_int_equal(s_mock_stop(&m), 0);
    mock_gw_stop(&gw);
}

static void test_mock_dynamic_empty_correlation(void **state)
{
    mock_gw_t gw;
    char gateway[64];
    s_gw_start(&gw, "/progress", gateway, sizeof gateway);
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "dynamic-analyzer:127.0.0.1:0", "--gateway",
                                  gateway, "--time-scale", "0.01", NULL),
                     0);
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    json_decref(s_roundtrip(&ws,
                            "{\"type\": \"dynamic_analyze\", \"model_slug\": \"m\", "
                            "\"app_number\": 3, \"target_urls\": [\"http://m-app3_backend:5000\"], "
                            "\"id\": \"d-1\"}",
                            "status_update"));
    json_t *j = s_recv_json(&ws, 3000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "dynamic_analysis_result");
    json_decref(j);
    assert_int_equal(s_expect_close(&ws, NULL), 1000);
    mock_ws_close(&ws);
    assert_true(s_gw_wait_completed(&gw, 3000) >= 0);
    char *f = mock_gw_frame(&gw, 0);
    j = json_loads(f, 0, NULL);
    free(f);
    assert_string_equal(s_str(j, "correlation_id"), ""); /* the fleet's quirk */
    assert_string_equal(s_str(j, "service"), "dynamic-analyzer");
    json_decref(j);
    assert_int_equal(s_mock_stop(&m), 0);
    mock_gw_stop(&gw);
}

/* One legacy analysis: its result frame (caller decrefs). */
static json_t *s_analyze_raw(int port, const char *request, const char *result_type)
{
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, port, 3000), 0);
    assert_int_equal(mock_ws_send_text(&ws, request), 0);
    json_t *j = NULL;
    for (int i = 0; i < 50 && !j; i++) {
        j = s_recv_json(&ws, 3000);
        assert_non_null(j);
        if (strcmp(s_str(j, "type"), result_type) != 0) {
            json_decref(j); /* status_update */
            j = NULL;
        }
    }
    assert_non_null(j);
    assert_int_equal(s_expect_close(&ws, NULL), 1000);
    mock_ws_close(&ws);
    return j;
}

/* The mock reads target URLs only where the real services read them (the
   top level; performance also its legacy target_url), never
   config.target_urls, and records every request as sent. */
static void test_mock_reads_targets_where_the_services_do(void **state)
{
    char dir[256], record[320];
    assert_int_equal(ttmp_make(dir, sizeof dir, "mockrec"), 0);
    snprintf(record, sizeof record, "%s/requests.jsonl", dir);
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "dynamic-analyzer:127.0.0.1:0:targets=required",
                                  "--replica", "performance-tester:127.0.0.1:0:targets=required",
                                  "--replica", "ai-analyzer:127.0.0.1:0", "--record", record,
                                  "--time-scale", "0.01", NULL),
                     0);
    /* the old mistake: URLs inside config reach nothing */
    const char *in_config = "{\"type\": \"dynamic_analyze\", \"model_slug\": \"a_b.c\", "
                            "\"app_number\": 3, \"id\": \"d-1\", \"config\": "
                            "{\"target_urls\": [\"http://127.0.0.1:5003\"]}}";
    json_t *j = s_analyze_raw(m.port[0], in_config, "dynamic_analysis_result");
    assert_string_equal(s_str(j, "status"), "targets_unreachable");
    json_t *urls = json_object_get(json_object_get(j, "analysis"), "target_urls");
    assert_string_equal(json_string_value(json_array_get(urls, 0)),
                        "http://a-b-c-app3_backend:5000"); /* the names it made up */
    json_decref(j);
    /* top-level: tested */
    j = s_analyze_raw(m.port[0],
                      "{\"type\": \"dynamic_analyze\", \"model_slug\": \"m\", \"app_number\": 3, "
                      "\"target_urls\": [\"http://127.0.0.1:5003\"], \"id\": \"d-2\", "
                      "\"config\": {\"template_slug\": \"api_url_shortener\"}}",
                      "dynamic_analysis_result");
    assert_string_equal(s_str(j, "status"), "success");
    urls = json_object_get(json_object_get(j, "analysis"), "target_urls");
    assert_int_equal(json_array_size(urls), 1);
    assert_string_equal(json_string_value(json_array_get(urls, 0)), "http://127.0.0.1:5003");
    json_decref(j);
    /* performance: the legacy single URL alone is enough */
    j = s_analyze_raw(m.port[1],
                      "{\"type\": \"performance_test\", \"model_slug\": \"m\", \"app_number\": 3, "
                      "\"target_url\": \"http://127.0.0.1:5004\", \"users\": 2, \"duration\": 5, "
                      "\"id\": \"p-1\"}",
                      "performance_analysis_result");
    assert_string_equal(s_str(j, "status"), "success");
    urls = json_object_get(json_object_get(j, "analysis"), "target_urls");
    assert_string_equal(json_string_value(json_array_get(urls, 0)), "http://127.0.0.1:5004");
    json_decref(j);
    j = s_analyze_raw(
        m.port[1],
        "{\"type\": \"performance_test\", \"model_slug\": \"m\", \"app_number\": 3, "
        "\"id\": \"p-2\", \"config\": {\"target_urls\": [\"http://127.0.0.1:5004\"]}}",
        "performance_analysis_result");
    assert_string_equal(s_str(j, "status"), "targets_unreachable");
    json_decref(j);
    /* ai without URLs falls back to its own backend name and runs */
    j = s_analyze_raw(m.port[2],
                      "{\"type\": \"ai_analyze\", \"model_slug\": \"m\", \"app_number\": 3, "
                      "\"id\": \"a-1\"}",
                      "ai_analysis_result");
    urls = json_object_get(json_object_get(j, "analysis"), "target_urls");
    assert_string_equal(json_string_value(json_array_get(urls, 0)), "http://m-app3_backend:5000");
    json_decref(j);
    assert_int_equal(s_mock_stop(&m), 0);

    /* every request recorded as sent, in order */
    FILE *f = fopen(record, "r");
    assert_non_null(f);
    char line[4096];
    const char *ids[] = {"d-1", "d-2", "p-1", "p-2", "a-1"};
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *rec = json_loads(line, 0, NULL);
        assert_non_null(rec);
        assert_true(n < 5);
        json_t *frame = json_object_get(rec, "frame");
        assert_string_equal(s_str(frame, "id"), ids[n]);
        assert_non_null(strstr(s_str(rec, "replica"), "ws://127.0.0.1:"));
        if (n == 1) {
            assert_string_equal(s_str(rec, "service"), "dynamic-analyzer");
            assert_string_equal(s_str(json_object_get(frame, "config"), "template_slug"),
                                "api_url_shortener");
        }
        if (n == 2) {
            assert_int_equal(json_integer_value(json_object_get(frame, "users")), 2);
        }
        json_decref(rec);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 5);
    ttmp_remove(dir);
}

static int64_t s_generate(int port, const char *model, const char *id)
{
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, port, 3000), 0);
    char req[256];
    snprintf(req, sizeof req,
             "{\"type\": \"generate\", \"id\": \"%s\", \"model_slug\": \"%s\", "
             "\"template_slug\": \"api_url_shortener\", \"options\": {}}",
             id, model);
    json_t *j = s_roundtrip(&ws, req, "generation_result");
    assert_string_equal(s_str(j, "status"), "success");
    int64_t n = json_integer_value(json_object_get(j, "app_number"));
    json_decref(j);
    assert_int_equal(s_expect_close(&ws, NULL), 1000);
    mock_ws_close(&ws);
    return n;
}

static void test_mock_generator(void **state)
{
    s_mock_t m;
    assert_int_equal(
        s_mock_start(&m, "--replica", "generator:127.0.0.1:0", "--time-scale", "0.01", NULL), 0);
    assert_int_equal(s_generate(m.port[0], "model_a", "g1"), 1);
    assert_int_equal(s_generate(m.port[0], "model_a", "g2"), 2);
    assert_int_equal(s_generate(m.port[0], "model_b", "g3"), 1);
    assert_int_equal(s_mock_stop(&m), 0);
}

/* Opens a connection, sends the static request, returns the connection
   after reading the first frame into *first (NULL if none in wait_ms). */
static void s_start_static(int port, mock_ws_t *ws, json_t **first, int wait_ms)
{
    assert_int_equal(mock_ws_connect(ws, port, 3000), 0);
    assert_int_equal(mock_ws_send_text(ws, s_static_req), 0);
    *first = s_recv_json(ws, wait_ms);
}

/* fault=unreachable: the app is down. The analysis answers as the real
   dynamic service does when none of its URLs answers; the next request of
   fault=unreachable@1 finds the app up. */
static void test_mock_unreachable_app(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica",
                                  "dynamic-analyzer:127.0.0.1:0:fault=unreachable@1",
                                  "--time-scale", "0.01", NULL),
                     0);
    const char *req = "{\"type\": \"dynamic_analyze\", \"model_slug\": \"m\", \"app_number\": 3, "
                      "\"target_urls\": [\"http://127.0.0.1:5003\", \"http://127.0.0.1:8003\"], "
                      "\"id\": \"d-1\"}";
    json_t *j = s_analyze_raw(m.port[0], req, "dynamic_analysis_result");
    assert_string_equal(s_str(j, "status"), "targets_unreachable");
    json_t *a = json_object_get(j, "analysis");
    assert_string_equal(s_str(a, "status"), "targets_unreachable");
    assert_string_equal(s_str(a, "error"),
                        "No targets reachable out of 2 tested. App containers may not be running.");
    assert_string_equal(json_string_value(json_array_get(json_object_get(a, "target_urls"), 1)),
                        "http://127.0.0.1:8003");
    json_decref(j);
    j = s_analyze_raw(m.port[0], req, "dynamic_analysis_result");
    assert_string_equal(s_str(j, "status"), "success");
    json_decref(j);
    assert_int_equal(s_mock_stop(&m), 0);
    (void)state;
}

static void test_mock_faults(void **state)
{
    s_mock_t m;
    assert_int_equal(
        s_mock_start(&m, "--replica",
                     "static-analyzer:127.0.0.1:0:latency=1000:progress=100:fault=hang@1,stall@2,"
                     "disconnect@3,error@4,malformed@5,verdict@6,freeze@7",
                     "--time-scale", "0.01", NULL),
        0);
    int port = m.port[0];
    mock_ws_t ws;
    json_t *j;

    /* 1 hang: nothing at all, but the connection is alive (answers pings) */
    s_start_static(port, &ws, &j, 300);
    assert_null(j);
    assert_int_equal(mock_ws_send_ping(&ws), 0);
    assert_int_equal(mock_ws_recv(&ws, 2000, NULL, NULL), MOCK_WS_PONG);
    /* like the fleet's sequential handler: no JSON answered meanwhile */
    assert_int_equal(mock_ws_send_text(&ws, "{\"type\": \"ping\"}"), 0);
    assert_int_equal(mock_ws_recv(&ws, 300, NULL, NULL), MOCK_WS_TIMEOUT);
    mock_ws_close(&ws);

    /* 2 stall: status_update, then silence past the whole latency */
    s_start_static(port, &ws, &j, 2000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "status_update");
    json_decref(j);
    assert_int_equal(mock_ws_recv(&ws, 300, NULL, NULL), MOCK_WS_TIMEOUT);
    mock_ws_close(&ws);

    /* 3 disconnect: status_update, then the TCP connection ends, no close frame */
    s_start_static(port, &ws, &j, 2000);
    assert_non_null(j);
    json_decref(j);
    assert_int_equal(mock_ws_recv(&ws, 2000, NULL, NULL), MOCK_WS_EOF);
    mock_ws_close(&ws);

    /* 4 error frame */
    s_start_static(port, &ws, &j, 2000);
    json_decref(j);
    j = s_recv_json(&ws, 2000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "error");
    assert_non_null(s_str(j, "message"));
    json_decref(j);
    mock_ws_close(&ws);

    /* 5 malformed: a text frame that is not JSON */
    s_start_static(port, &ws, &j, 2000);
    json_decref(j);
    char *text = NULL;
    assert_int_equal(mock_ws_recv(&ws, 2000, &text, NULL), MOCK_WS_TEXT);
    assert_null(json_loads(text, 0, NULL));
    free(text);
    mock_ws_close(&ws);

    /* 6 verdict: outer success, inner error, like analyze_missing_frames.json */
    s_start_static(port, &ws, &j, 2000);
    json_decref(j);
    j = s_recv_json(&ws, 2000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "status"), "success");
    json_t *a = json_object_get(j, "analysis");
    assert_string_equal(s_str(a, "status"), "error");
    assert_non_null(strstr(s_str(a, "error"), "Model path not found for test_model-1 app1"));
    json_decref(j);
    assert_int_equal(s_expect_close(&ws, NULL), 1000);
    mock_ws_close(&ws);

    /* 7 freeze: nothing sent and pings unanswered */
    s_start_static(port, &ws, &j, 300);
    assert_null(j);
    assert_int_equal(mock_ws_send_ping(&ws), 0);
    assert_int_equal(mock_ws_recv(&ws, 300, NULL, NULL), MOCK_WS_TIMEOUT);
    mock_ws_close(&ws);

    /* 8: no fault */
    s_start_static(port, &ws, &j, 2000);
    json_decref(j);
    j = s_recv_json(&ws, 2000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "static_analysis_result");
    json_decref(j);
    mock_ws_close(&ws);
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_fail_and_verdict_apps(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "ai-analyzer:127.0.0.1:0", "--fail-app", "30",
                                  "--verdict-app", "31", "--time-scale", "0.01", NULL),
                     0);
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    json_decref(s_roundtrip(&ws,
                            "{\"type\": \"ai_analyze\", \"model_slug\": \"g\", \"app_number\": 30, "
                            "\"id\": \"a30\"}",
                            "status_update"));
    json_t *j = s_recv_json(&ws, 3000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "error");
    assert_string_equal(s_str(j, "message"),
                        "Analysis service temporarily unavailable - event loop error");
    json_decref(j);
    mock_ws_close(&ws);

    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    json_decref(s_roundtrip(&ws,
                            "{\"type\": \"ai_analyze\", \"model_slug\": \"g\", \"app_number\": 31, "
                            "\"id\": \"a31\"}",
                            "status_update"));
    j = s_recv_json(&ws, 3000);
    assert_string_equal(s_str(j, "type"), "ai_analysis_result");
    assert_string_equal(s_str(json_object_get(j, "analysis"), "status"), "error");
    json_decref(j);
    mock_ws_close(&ws);
    assert_int_equal(s_mock_stop(&m), 0);
}

/* One analysis of svc ("static_analyze", ...) for app with the tools JSON
   array (NULL = no "tools" key); returns its result frame. */
static json_t *s_analyze(int port, const char *type, int app, const char *tools)
{
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, port, 3000), 0);
    char req[512];
    snprintf(req, sizeof req,
             "{\"type\": \"%s\", \"model_slug\": \"m\", \"app_number\": %d%s%s, \"id\": \"t-%d\"}",
             type, app, tools ? ", \"tools\": " : "", tools ? tools : "", app);
    assert_int_equal(mock_ws_send_text(&ws, req), 0);
    json_t *j = NULL;
    for (int i = 0; i < 4 && !j; i++) {
        j = s_recv_json(&ws, 3000);
        assert_non_null(j);
        if (strcmp(s_str(j, "type"), "status_update") == 0) {
            json_decref(j);
            j = NULL;
        }
    }
    mock_ws_close(&ws);
    assert_non_null(j);
    return j;
}

static json_t *s_health(int port)
{
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, port, 3000), 0);
    json_t *j = s_roundtrip(&ws, "{\"type\": \"health_check\"}", "health_response");
    mock_ws_close(&ws);
    return j;
}

/* "a,b" of a JSON array of strings, for compact asserts. */
static void s_join(const json_t *list, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t k;
    json_t *v;
    json_array_foreach(list, k, v)
    {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "%s%s", k ? "," : "", json_string_value(v));
    }
}

static void test_mock_tools_as_the_real_services(void **state)
{
    s_mock_t m;
    assert_int_equal(
        s_mock_start(&m, "--replica", "static-analyzer:127.0.0.1:0:tools=bandit,snyk", "--replica",
                     "dynamic-analyzer:127.0.0.1:0:tools=curl:partial_app=3", "--replica",
                     "performance-tester:127.0.0.1:0", "--replica", "ai-analyzer:127.0.0.1:0",
                     "--control", "127.0.0.1:0", "--time-scale", "0.01", NULL),
        0);
    char buf[256];
    json_t *h = s_health(m.port[0]);
    s_join(json_object_get(h, "available_tools"), buf, sizeof buf);
    assert_string_equal(buf, "bandit,snyk");
    json_decref(h);
    h = s_health(m.port[2]);
    s_join(json_object_get(h, "available_tools"), buf, sizeof buf);
    assert_string_equal(buf, "ab,locust,aiohttp");
    json_decref(h);

    /* static: what it lacks is skipped, not reported; nothing to run is
       still "success" */
    json_t *j = s_analyze(m.port[0], "static_analyze", 1, "[\"BANDIT\", \"pylint\"]");
    assert_string_equal(s_str(j, "status"), "success");
    s_join(json_object_get(json_object_get(j, "analysis"), "tools_used"), buf, sizeof buf);
    assert_string_equal(buf, "bandit");
    json_decref(j);
    j = s_analyze(m.port[0], "static_analyze", 1, "[\"pylint\"]");
    assert_string_equal(s_str(j, "status"), "success");
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "analysis"), "tools_used")),
                     0);
    json_decref(j);
    j = s_analyze(m.port[0], "static_analyze", 1, NULL);
    s_join(json_object_get(json_object_get(j, "analysis"), "tools_used"), buf, sizeof buf);
    assert_string_equal(buf, "bandit,snyk");
    json_decref(j);

    /* dynamic: nikto ignored, a scanner it lacks "not_available";
       curl-endpoint-tester runs on curl */
    j = s_analyze(m.port[1], "dynamic_analyze", 1,
                  "[\"nikto\", \"zap\", \"curl-endpoint-tester\"]");
    json_t *a = json_object_get(j, "analysis");
    assert_string_equal(s_str(j, "status"), "success");
    s_join(json_object_get(a, "tools_used"), buf, sizeof buf);
    assert_string_equal(buf, "curl-endpoint-tester");
    json_t *tr = json_object_get(a, "tool_results");
    assert_string_equal(s_str(json_object_get(tr, "zap"), "status"), "not_available");
    assert_true(json_is_false(json_object_get(json_object_get(tr, "zap"), "executed")));
    assert_null(json_object_get(tr, "nikto"));
    json_decref(j);
    j = s_analyze(m.port[1], "dynamic_analyze", 3, NULL);
    assert_string_equal(s_str(j, "status"), "partial");
    assert_string_equal(s_str(json_object_get(j, "analysis"), "status"), "partial");
    json_decref(j);

    /* performance: the fleet's other names, and nothing to run = error */
    j = s_analyze(m.port[2], "performance_test", 1, "[\"ab-load-test\"]");
    assert_string_equal(s_str(j, "status"), "success");
    s_join(json_object_get(json_object_get(j, "analysis"), "tools_used"), buf, sizeof buf);
    assert_string_equal(buf, "ab");
    json_decref(j);
    j = s_analyze(m.port[2], "performance_test", 1, "[\"artillery\"]");
    assert_string_equal(s_str(j, "status"), "error");
    a = json_object_get(j, "analysis");
    assert_string_equal(s_str(json_object_get(a, "summary"), "analysis_status"), "tools_failed");
    json_decref(j);

    /* ai: no tool it knows = an error result naming what it has */
    j = s_analyze(m.port[3], "ai_analyze", 1, "[\"nikto\"]");
    assert_string_equal(s_str(j, "status"), "error");
    assert_string_equal(s_str(json_object_get(j, "analysis"), "error"),
                        "No valid analysis tool selected. Available: ['requirements-scanner', "
                        "'code-quality-analyzer']");
    json_decref(j);

    /* the control port changes a replica's tools */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "tools %d pylint,eslint", m.port[0]);
    char *r = s_control(&m, cmd);
    assert_non_null(r);
    assert_int_equal(strncmp(r, "ok tools", 8), 0);
    free(r);
    h = s_health(m.port[0]);
    s_join(json_object_get(h, "available_tools"), buf, sizeof buf);
    assert_string_equal(buf, "pylint,eslint");
    json_decref(h);
    snprintf(cmd, sizeof cmd, "tools %d", m.port[0]);
    free(s_control(&m, cmd));
    h = s_health(m.port[0]);
    assert_int_equal(json_array_size(json_object_get(h, "available_tools")), 0);
    json_decref(h);
    snprintf(cmd, sizeof cmd, "tools %d bad|name", m.port[0]);
    r = s_control(&m, cmd);
    assert_int_equal(strncmp(r, "error", 5), 0);
    free(r);
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_refuse_and_slow(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "static-analyzer:127.0.0.1:0:fault=refuse",
                                  "--replica", "static-analyzer:127.0.0.1:0:fault=slow:slow=30000",
                                  "--time-scale", "0.01", NULL),
                     0);
    mock_ws_t ws;
    assert_true(mock_ws_connect(&ws, m.port[0], 2000) < 0);

    /* slow: the handshake is answered only after ~300 ms */
    assert_int_equal(mock_ws_connect(&ws, m.port[1], 100), -2);
    long long t0 = s_now_ms();
    assert_int_equal(mock_ws_connect(&ws, m.port[1], 3000), 0);
    assert_true(s_now_ms() - t0 >= 200);
    json_decref(s_roundtrip(&ws, "{\"type\": \"ping\"}", "pong"));
    mock_ws_close(&ws);
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_control_down_up(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "static-analyzer:127.0.0.1:0", "--control",
                                  "127.0.0.1:0", "--time-scale", "0.01", NULL),
                     0);
    assert_true(m.control_port > 0);
    char url[64], cmd[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d", m.port[0]);

    /* an open connection is dropped when its replica goes down */
    mock_ws_t open_ws, ws;
    assert_int_equal(mock_ws_connect(&open_ws, m.port[0], 3000), 0);
    snprintf(cmd, sizeof cmd, "down %s", url);
    char *r = s_control(&m, cmd);
    assert_non_null(r);
    assert_int_equal(strncmp(r, "ok down", 7), 0);
    free(r);
    assert_int_equal(mock_ws_recv(&open_ws, 2000, NULL, NULL), MOCK_WS_EOF);
    mock_ws_close(&open_ws);
    assert_true(mock_ws_connect(&ws, m.port[0], 2000) < 0);

    r = s_control(&m, "stats");
    assert_non_null(r);
    assert_int_equal(strncmp(r, "ok ", 3), 0);
    json_t *st = json_loads(r + 3, 0, NULL);
    free(r);
    json_t *rep = json_array_get(json_object_get(st, "replicas"), 0);
    assert_true(json_is_true(json_object_get(rep, "down")));
    assert_true(json_integer_value(json_object_get(rep, "refused")) >= 1);
    assert_int_equal(json_integer_value(json_object_get(rep, "connections")), 1);
    assert_int_equal(json_integer_value(json_object_get(rep, "active")), 0);
    json_decref(st);

    snprintf(cmd, sizeof cmd, "up %d", m.port[0]);
    r = s_control(&m, cmd);
    assert_int_equal(strncmp(r, "ok up", 5), 0);
    free(r);
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    json_decref(s_roundtrip(&ws, "{\"type\": \"ping\"}", "pong"));
    mock_ws_close(&ws);

    /* fault via control: the next request gets an error frame */
    snprintf(cmd, sizeof cmd, "fault %s error@1", url);
    r = s_control(&m, cmd);
    assert_int_equal(strncmp(r, "ok fault", 8), 0);
    free(r);
    json_t *j;
    s_start_static(m.port[0], &ws, &j, 2000);
    json_decref(j);
    j = s_recv_json(&ws, 2000);
    assert_string_equal(s_str(j, "type"), "error");
    json_decref(j);
    mock_ws_close(&ws);

    r = s_control(&m, "bogus");
    assert_int_equal(strncmp(r, "error", 5), 0);
    free(r);
    r = s_control(&m, "down ws://127.0.0.1:1");
    assert_int_equal(strncmp(r, "error", 5), 0);
    free(r);
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_mux_concurrent_and_cancel(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica",
                                  "static-analyzer:127.0.0.1:0:proto=mux:latency=10000:"
                                  "progress=1000:heartbeat=200",
                                  "--time-scale", "0.01", NULL),
                     0);
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    assert_int_equal(mock_ws_send_text(&ws, "{\"type\": \"static_analyze\", \"model_slug\": "
                                            "\"m\", \"app_number\": 1, \"id\": \"a1\"}"),
                     0);
    assert_int_equal(mock_ws_send_text(&ws, "{\"type\": \"static_analyze\", \"model_slug\": "
                                            "\"m\", \"app_number\": 2, \"id\": \"a2\"}"),
                     0);
    assert_int_equal(mock_ws_send_text(&ws, "{\"type\": \"cancel\", \"id\": \"a2\"}"), 0);
    int accepted = 0, progress_a1 = 0, heartbeats = 0, cancelled_a2 = 0, result_a1 = 0,
        result_a2 = 0;
    long long deadline = s_now_ms() + 5000;
    while (!result_a1 && s_now_ms() < deadline) {
        json_t *j = s_recv_json(&ws, 2000);
        if (!j) {
            break;
        }
        const char *type = s_str(j, "type"), *id = s_str(j, "id");
        assert_non_null(type);
        if (strcmp(type, "accepted") == 0) {
            accepted++;
        } else if (strcmp(type, "progress") == 0 && id && strcmp(id, "a1") == 0) {
            progress_a1++;
            assert_true(json_is_number(json_object_get(j, "pct")));
            assert_non_null(s_str(j, "checkpoint"));
        } else if (strcmp(type, "heartbeat") == 0) {
            heartbeats++;
        } else if (strcmp(type, "cancelled") == 0 && id && strcmp(id, "a2") == 0) {
            cancelled_a2++;
        } else if (strcmp(type, "static_analysis_result") == 0) {
            assert_non_null(id);
            if (strcmp(id, "a1") == 0) {
                result_a1++;
            } else {
                result_a2++;
            }
        }
        json_decref(j);
    }
    assert_int_equal(accepted, 2);
    assert_true(progress_a1 >= 2);
    assert_true(heartbeats >= 2);
    assert_int_equal(cancelled_a2, 1);
    assert_int_equal(result_a1, 1);
    assert_int_equal(result_a2, 0);
    /* persistent: the connection is still usable; mux echoes the id */
    json_t *pong = s_roundtrip(&ws, "{\"type\": \"ping\", \"id\": \"p9\"}", "pong");
    assert_string_equal(s_str(pong, "id"), "p9");
    json_decref(pong);
    mock_ws_close(&ws);
    assert_int_equal(s_mock_stop(&m), 0);
}

/* latency=0:progress=0 (sluice-bench endpoint's setting): each id gets its
   result alone, nothing before or after it, also in a burst (several
   frames per writeable callback) and for an id the pre-rendered result
   cannot take as is. */
/* The stages one mux analysis reports (stage indexes from its checkpoints,
   into stages[], up to max) until its result or a close; the result (or
   NULL when the connection closed first). */
static json_t *s_mux_run(mock_ws_t *ws, const char *req, int *stages, int max, int *n)
{
    assert_int_equal(mock_ws_send_text(ws, req), 0);
    *n = 0;
    long long deadline = s_now_ms() + 5000;
    while (s_now_ms() < deadline) {
        json_t *j = s_recv_json(ws, 2000);
        if (!j) {
            return NULL;
        }
        const char *type = s_str(j, "type");
        if (type && strcmp(type, "progress") == 0) {
            const char *cp = strrchr(s_str(j, "checkpoint"), ':');
            assert_non_null(cp);
            if (*n < max) {
                stages[(*n)++] = atoi(cp + 1);
            }
        } else if (type && strcmp(type, "dynamic_analysis_result") == 0) {
            return j;
        }
        json_decref(j);
    }
    fail_msg("no result in time");
    return NULL;
}

/* mux resume: a checkpoint of its own ("<stage>:<index>") skips the stages
   before it and the result says where it resumed; a checkpoint that is not
   its own is ignored; disconnect=N drops the connection once stage N was
   reported. */
static void test_mock_mux_resume(void **state)
{
    (void)state;
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica",
                                  "dynamic-analyzer:127.0.0.1:0:proto=mux:latency=3000:"
                                  "progress=400:fault=disconnect=3@1",
                                  "--control", "127.0.0.1:0", "--time-scale", "0.01", NULL),
                     0);
    mock_ws_t ws;
    int st[16], n = 0;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    json_t *res = s_mux_run(&ws,
                            "{\"type\": \"dynamic_analyze\", \"model_slug\": \"m\", "
                            "\"app_number\": 1, \"id\": \"a1\"}",
                            st, 16, &n);
    assert_null(res); /* dropped after stage 3: starting .. vulnerability_scan */
    assert_int_equal(n, 4);
    assert_int_equal(st[0], 0);
    assert_int_equal(st[n - 1], 3);
    mock_ws_close(&ws);

    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    res = s_mux_run(&ws,
                    "{\"type\": \"dynamic_analyze\", \"model_slug\": \"m\", \"app_number\": 1, "
                    "\"id\": \"a2\", \"resume_from\": \"vulnerability_scan:3\"}",
                    st, 16, &n);
    assert_non_null(res);
    assert_string_equal(s_str(res, "resumed_from"), "vulnerability_scan");
    assert_true(n >= 2);
    assert_int_equal(st[0], 3); /* nothing before the checkpoint again */
    assert_int_equal(st[n - 1], 5);
    json_decref(res);

    /* not its own: run from the start, no resumed_from */
    res = s_mux_run(&ws,
                    "{\"type\": \"dynamic_analyze\", \"model_slug\": \"m\", \"app_number\": 1, "
                    "\"id\": \"a3\", \"resume_from\": \"zap:3\"}",
                    st, 16, &n);
    assert_non_null(res);
    assert_null(json_object_get(res, "resumed_from"));
    assert_int_equal(st[0], 0);
    json_decref(res);
    mock_ws_close(&ws);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "fault %d stall=2%%50,disconnect=0@3", m.port[0]);
    char *r = s_control(&m, cmd);
    assert_int_equal(strncmp(r, "ok", 2), 0);
    free(r);
    const char *bad[] = {"disconnect=", "disconnect=x", "stall=-1", "disconnect=3/x", "error=2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "fault %d %s", m.port[0], bad[i]);
        r = s_control(&m, cmd);
        assert_int_equal(strncmp(r, "error bad fault plan", 20), 0);
        free(r);
    }
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_mux_instant(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica",
                                  "static-analyzer:127.0.0.1:0:proto=mux:latency=0:progress=0",
                                  NULL),
                     0);
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    const char *ids[] = {"i1", "i2", "q\"x", "i4", "i5", "i6"};
    const int n = (int)(sizeof ids / sizeof ids[0]);
    for (int i = 0; i < n; i++) {
        char req[256];
        json_t *r = json_pack("{s:s,s:s,s:i,s:[s],s:s}", "type", "static_analyze", "model_slug",
                              "m", "app_number", i < 2 ? 1 : i, "tools", "bandit", "id", ids[i]);
        char *text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
        snprintf(req, sizeof req, "%s", text);
        free(text);
        json_decref(r);
        assert_int_equal(mock_ws_send_text(&ws, req), 0);
    }
    int got[6] = {0};
    for (int k = 0; k < n; k++) {
        json_t *j = s_recv_json(&ws, 3000);
        assert_non_null(j);
        assert_string_equal(s_str(j, "type"), "static_analysis_result");
        assert_string_equal(s_str(j, "status"), "success");
        const char *id = s_str(j, "id");
        assert_non_null(id);
        int which = -1;
        for (int i = 0; i < n; i++) {
            if (strcmp(id, ids[i]) == 0) {
                which = i;
            }
        }
        assert_true(which >= 0);
        got[which]++;
        json_t *a = json_object_get(j, "analysis");
        assert_int_equal(json_integer_value(json_object_get(a, "app_number")),
                         which < 2 ? 1 : which);
        json_t *used = json_object_get(a, "tools_used");
        assert_int_equal(json_array_size(used), 1);
        assert_string_equal(json_string_value(json_array_get(used, 0)), "bandit");
        assert_non_null(s_str(j, "timestamp"));
        json_decref(j);
    }
    for (int i = 0; i < n; i++) {
        assert_int_equal(got[i], 1);
    }
    /* nothing else: no accepted, progress or heartbeat around the results */
    json_t *extra = s_recv_json(&ws, 300);
    assert_null(extra);
    mock_ws_close(&ws);
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_incident_fleet_and_bad_cli(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--fleet", "incident", NULL), 0);
    assert_int_equal(m.count, 12);
    assert_string_equal(m.service[0], "static-analyzer");
    assert_string_equal(m.service[11], "generator");
    assert_int_equal(s_mock_stop(&m), 0);

    /* bad input exits non-zero and never prints ready */
    assert_int_equal(s_mock_start(&m, "--replica", "static-analyzer:0.0.0.0:0", NULL), -1);
    s_mock_stop(&m);
    assert_int_equal(
        s_mock_start(&m, "--replica", "static-analyzer:127.0.0.1:0:fault=explode", NULL), -1);
    s_mock_stop(&m);
    assert_int_equal(s_mock_start(&m, "--replica", "nosuch:127.0.0.1:0", NULL), -1);
    s_mock_stop(&m);
}

static void test_mock_tls(void **state)
{
    const char *src = getenv("SLUICE_SOURCE_DIR");
    if (!src) {
        src = MOCK_SOURCE_DIR;
    }
    char tls[512], ca[512];
    assert_non_null(src);
    snprintf(tls, sizeof tls,
             "static-analyzer:127.0.0.1:0:tls=%s/tests/data/tls/server.pem,%s/tests/data/tls/"
             "server.key",
             src, src);
    snprintf(ca, sizeof ca, "%s/tests/data/tls/ca.pem", src);
    char slow[600];
    snprintf(slow, sizeof slow, "%s:fault=slow:slow=30000", tls);
    s_mock_t m;
    assert_int_equal(
        s_mock_start(&m, "--replica", tls, "--replica", slow, "--time-scale", "0.01", NULL), 0);
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect_tls(&ws, m.port[0], 3000, ca), 0);
    json_decref(s_roundtrip(&ws, "{\"type\": \"ping\"}", "pong"));
    json_decref(s_roundtrip(&ws, s_static_req, "status_update"));
    json_t *j = s_recv_json(&ws, 3000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "static_analysis_result");
    json_decref(j);
    assert_int_equal(s_expect_close(&ws, NULL), 1000);
    mock_ws_close(&ws);
    /* slow handshake over TLS: the TLS hello is answered only after ~300 ms */
    long long t0 = s_now_ms();
    assert_int_equal(mock_ws_connect_tls(&ws, m.port[1], 3000, ca), 0);
    assert_true(s_now_ms() - t0 >= 200);
    json_decref(s_roundtrip(&ws, "{\"type\": \"ping\"}", "pong"));
    mock_ws_close(&ws);
    /* plain ws to a wss port does not get a WebSocket */
    assert_true(mock_ws_connect(&ws, m.port[0], 1000) < 0);
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_mux_faults(void **state)
{
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica",
                                  "static-analyzer:127.0.0.1:0:proto=mux:latency=30000:"
                                  "progress=100:heartbeat=100:stall_after=1:"
                                  "fault=hang@1,error@2,stall@3",
                                  "--time-scale", "0.01", NULL),
                     0);
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    const char *ids[] = {"h1", "e2", "s3"};
    for (int i = 0; i < 3; i++) {
        char req[160];
        snprintf(req, sizeof req,
                 "{\"type\": \"static_analyze\", \"model_slug\": \"m\", \"app_number\": %d, "
                 "\"id\": \"%s\"}",
                 i + 1, ids[i]);
        assert_int_equal(mock_ws_send_text(&ws, req), 0);
    }
    int h1 = 0, e2_error = 0, s3_progress = 0, s3_late = 0, results = 0;
    long long stalled_at = 0;
    /* Until the error (at the end of the 300 ms latency) plus 100 ms: the
       stall happened long before, so its silence is observed too. */
    long long deadline = s_now_ms() + 5000;
    while (s_now_ms() < deadline) {
        json_t *j = s_recv_json(&ws, 50);
        if (!j) {
            continue;
        }
        const char *type = s_str(j, "type"), *id = s_str(j, "id");
        if (id && strcmp(id, "h1") == 0) {
            h1++;
        } else if (id && strcmp(id, "e2") == 0 && strcmp(type, "error") == 0) {
            e2_error++;
            assert_non_null(s_str(j, "message"));
            deadline = s_now_ms() + 100;
        } else if (id && strcmp(id, "s3") == 0 && strcmp(type, "progress") == 0) {
            s3_progress++;
            stalled_at = s_now_ms();
        } else if (id && strcmp(id, "s3") == 0 && strcmp(type, "heartbeat") == 0 && stalled_at &&
                   s3_progress >= 2) {
            s3_late++;
        }
        if (strstr(type, "_analysis_result")) {
            results++;
        }
        json_decref(j);
    }
    assert_int_equal(h1, 0);          /* hang: nothing at all for that id */
    assert_int_equal(e2_error, 1);    /* error ends that id */
    assert_int_equal(s3_progress, 2); /* starting + stall_after, then silence */
    assert_int_equal(s3_late, 0);     /* no heartbeats once stalled */
    assert_int_equal(results, 0);
    /* the connection itself is alive */
    json_decref(s_roundtrip(&ws, "{\"type\": \"ping\"}", "pong"));
    mock_ws_close(&ws);
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_bad_input(void **state)
{
    /* the gateway points at a closed port: pushes are dropped silently */
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "static-analyzer:127.0.0.1:0", "--gateway",
                                  "ws://127.0.0.1:1/progress", "--time-scale", "0.01", NULL),
                     0);
    /* raw garbage instead of an HTTP upgrade */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)m.port[0])};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (char)(i * 7 + 3);
    }
    send(fd, junk, sizeof junk, MSG_NOSIGNAL);
    close(fd);

    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, m.port[0], 3000), 0);
    /* an oversized message is answered like invalid JSON */
    size_t big = (5u << 20);
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, '[', big);
    huge[big] = 0;
    assert_int_equal(mock_ws_send_text(&ws, huge), 0);
    free(huge);
    json_t *j = s_recv_json(&ws, 5000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "message"), "Invalid JSON format");
    json_decref(j);
    /* a large valid message arrives in several lws chunks and is reassembled */
    size_t pad = 200 * 1024;
    char *large = malloc(pad + 64);
    assert_non_null(large);
    int off = snprintf(large, 64, "{\"type\": \"ping\", \"pad\": \"");
    memset(large + off, 'x', pad);
    strcpy(large + off + pad, "\"}");
    json_decref(s_roundtrip(&ws, large, "pong"));
    free(large);
    /* valid JSON that is not an object, and wrong field types */
    json_decref(s_roundtrip(&ws, "[1, 2, 3]", "error"));
    j = s_roundtrip(&ws, "{\"type\": 5}", "error");
    assert_string_equal(s_str(j, "message"), "Unknown message type: None");
    json_decref(j);
    j = s_roundtrip(&ws,
                    "{\"type\": \"static_analyze\", \"model_slug\": 7, \"app_number\": \"x\", "
                    "\"id\": \"b1\"}",
                    "error");
    assert_non_null(strstr(s_str(j, "message"), "Missing required field"));
    json_decref(j);
    /* the analysis still completes with the gateway unreachable */
    json_decref(s_roundtrip(&ws, s_static_req, "status_update"));
    j = s_recv_json(&ws, 3000);
    assert_non_null(j);
    assert_string_equal(s_str(j, "type"), "static_analysis_result");
    json_decref(j);
    mock_ws_close(&ws);
    assert_int_equal(s_mock_stop(&m), 0);
}

static void test_mock_config_pidfile_quit(void **state)
{
    char dir[] = "/tmp/test_mock_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char conf[256], pidfile[256];
    snprintf(conf, sizeof conf, "%s/fleet.conf", dir);
    snprintf(pidfile, sizeof pidfile, "%s/mock.pid", dir);
    FILE *fp = fopen(conf, "w");
    assert_non_null(fp);
    fputs("# two replicas\n"
          "static-analyzer:127.0.0.1:0:latency=10\n"
          "\n"
          "  performance-tester:127.0.0.1:0:proto=mux   # trailing comment\n",
          fp);
    fclose(fp);
    s_mock_t m;
    assert_int_equal(
        s_mock_start(&m, "--config", conf, "--pidfile", pidfile, "--control", "0", NULL), 0);
    assert_int_equal(m.count, 2);
    assert_string_equal(m.service[1], "performance-tester");
    fp = fopen(pidfile, "r");
    assert_non_null(fp);
    long pid = 0;
    assert_int_equal(fscanf(fp, "%ld", &pid), 1);
    fclose(fp);
    assert_int_equal(pid, (long)m.pid);

    char *r = s_control(&m, "quit");
    assert_non_null(r);
    assert_string_equal(r, "ok bye");
    free(r);
    long long deadline = s_now_ms() + 5000;
    int status = -1;
    pid_t got = 0;
    while (got != m.pid && s_now_ms() < deadline) {
        got = waitpid(m.pid, &status, WNOHANG);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (got != m.pid) {
        s_mock_stop(&m);
    } else {
        tchild_forget(m.pid);
        close(m.out_fd);
        m.pid = 0;
    }
    assert_int_equal(got, pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(access(pidfile, F_OK), -1); /* removed on a clean exit */
    unlink(conf);
    rmdir(dir);
}

/* Returns the control port's stats entry of replica i (caller decrefs). */
static json_t *s_stats_of(const s_mock_t *m, int i)
{
    char *r = s_control(m, "stats");
    assert_non_null(r);
    assert_int_equal(strncmp(r, "ok ", 3), 0);
    json_t *st = json_loads(r + 3, 0, NULL);
    free(r);
    json_t *rep = json_incref(json_array_get(json_object_get(st, "replicas"), (size_t)i));
    json_decref(st);
    assert_non_null(rep);
    return rep;
}

/* Reads frames (answering nothing) until a text frame of the given type;
   counts pongs seen before it. Returns the frame or NULL. */
static json_t *s_recv_type(mock_ws_t *ws, const char *type, int timeout_ms, int *pongs)
{
    long long deadline = s_now_ms() + timeout_ms;
    while (s_now_ms() < deadline) {
        char *text = NULL;
        int rc = mock_ws_recv(ws, (int)(deadline - s_now_ms()) + 1, &text, NULL);
        if (rc == MOCK_WS_PONG && pongs) {
            (*pongs)++;
        }
        json_t *j = rc == MOCK_WS_TEXT ? json_loads(text, 0, NULL) : NULL;
        free(text);
        if (j && s_str(j, "type") && strcmp(s_str(j, "type"), type) == 0) {
            return j;
        }
        json_decref(j);
        if (rc != MOCK_WS_TEXT && rc != MOCK_WS_PONG) {
            return NULL;
        }
    }
    return NULL;
}

static void test_mock_block(void **state)
{
    mock_gw_t gw;
    char gateway[64];
    s_gw_start(&gw, "", gateway, sizeof gateway);
    s_mock_t m;
    /* request 2 blocks the whole replica for 1 s (scaled) at its
       scanning_python stage; request 1 runs alongside on another connection.
       Each push is a connection of its own and one analysis's pushes go one
       at a time, so a cadence faster than a loaded machine connects would
       queue them up behind the result: 100 ms (scaled) gives ~10 pushes per
       analysis, still 2 or more for the block to hold back while it is
       checked. Request 1 lasts 1 s, so it is still running when the block
       begins even if request 2 was slow to start. */
    assert_int_equal(s_mock_start(&m, "--replica",
                                  "static-analyzer:127.0.0.1:0:latency=100000:progress=10000:"
                                  "fault=block=100000/scanning_python@2",
                                  "--gateway", gateway, "--control", "127.0.0.1:0", "--time-scale",
                                  "0.01", NULL),
                     0);
    mock_ws_t other, blocker, late;
    assert_int_equal(mock_ws_connect(&other, m.port[0], 3000), 0);
    json_decref(s_roundtrip(&other, s_static_req, "status_update"));
    assert_int_equal(mock_ws_connect(&blocker, m.port[0], 3000), 0);
    json_decref(s_roundtrip(&blocker, s_static_req, "status_update"));

    long long deadline = s_now_ms() + 3000, blocked_at = 0;
    while (!blocked_at && s_now_ms() < deadline) {
        json_t *rep = s_stats_of(&m, 0);
        if (json_is_true(json_object_get(rep, "blocked"))) {
            blocked_at = s_now_ms();
        }
        json_decref(rep);
    }
    assert_true(blocked_at > 0);
    json_t *rep = s_stats_of(&m, 0);
    json_int_t pushes = json_integer_value(json_object_get(rep, "pushes"));
    json_decref(rep);

    /* the whole replica is stopped: no pong on either connection, no frame,
       no handshake for a new connection, no progress push */
    assert_int_equal(mock_ws_send_ping(&other), 0);
    assert_int_equal(mock_ws_send_ping(&blocker), 0);
    assert_int_equal(mock_ws_recv(&other, 150, NULL, NULL), MOCK_WS_TIMEOUT);
    assert_int_equal(mock_ws_recv(&blocker, 50, NULL, NULL), MOCK_WS_TIMEOUT);
    assert_int_equal(mock_ws_connect(&late, m.port[0], 100), -2);
    rep = s_stats_of(&m, 0);
    bool still_blocked = json_is_true(json_object_get(rep, "blocked"));
    assert_int_equal(json_integer_value(json_object_get(rep, "pushes")), pushes);
    json_decref(rep);
    assert_true(still_blocked); /* the checks above ran inside the block */

    /* then both analyses resume and complete normally: late pongs first */
    int pongs = 0;
    json_t *j = s_recv_type(&blocker, "static_analysis_result", 5000, &pongs);
    assert_non_null(j);
    assert_string_equal(s_str(j, "status"), "success");
    json_decref(j);
    assert_int_equal(pongs, 1);
    assert_true(s_now_ms() - blocked_at >= 700);
    assert_int_equal(s_expect_close(&blocker, NULL), 1000);
    pongs = 0;
    j = s_recv_type(&other, "static_analysis_result", 5000, &pongs);
    assert_non_null(j);
    json_decref(j);
    assert_int_equal(pongs, 1);
    assert_int_equal(s_expect_close(&other, NULL), 1000);
    mock_ws_close(&blocker);
    mock_ws_close(&other);
    assert_true(s_gw_wait_completed(&gw, 3000) >= 0);

    /* served again; the block counted once */
    assert_int_equal(mock_ws_connect(&late, m.port[0], 3000), 0);
    json_decref(s_roundtrip(&late, "{\"type\": \"ping\"}", "pong"));
    mock_ws_close(&late);
    rep = s_stats_of(&m, 0);
    assert_int_equal(json_integer_value(json_object_get(rep, "blocks")), 1);
    assert_true(json_integer_value(json_object_get(rep, "pushes")) > pushes);
    assert_false(json_is_true(json_object_get(rep, "blocked")));
    json_decref(rep);

    /* plans are checked: a stage the service lacks, a bad duration */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "fault %d block=5000/zap_scan", m.port[0]);
    char *r = s_control(&m, cmd);
    assert_non_null(strstr(r, "no stage 'zap_scan'"));
    free(r);
    snprintf(cmd, sizeof cmd, "fault %d block=abc", m.port[0]);
    r = s_control(&m, cmd);
    assert_int_equal(strncmp(r, "error bad fault plan", 20), 0);
    free(r);
    assert_int_equal(s_mock_stop(&m), 0);
    mock_gw_stop(&gw);
}

/* Seconds of the day of a pushed frame's "timestamp" (ISO, microseconds). */
static double s_frame_time(const json_t *j)
{
    const char *ts = s_str(j, "timestamp");
    int h = 0, mi = 0;
    double sec = 0;
    assert_non_null(ts);
    assert_int_equal(sscanf(strchr(ts, 'T') + 1, "%d:%d:%lf", &h, &mi, &sec), 3);
    return h * 3600.0 + mi * 60.0 + sec;
}

/* The pushes recorded so far whose "service" is svc, in order (caller
   decrefs the array). */
static json_t *s_gw_pushes_of(mock_gw_t *gw, const char *svc)
{
    json_t *out = json_array();
    for (int i = 0; i < mock_gw_count(gw); i++) {
        char *f = mock_gw_frame(gw, i);
        json_t *j = f ? json_loads(f, 0, NULL) : NULL;
        free(f);
        if (j && s_str(j, "service") && strcmp(s_str(j, "service"), svc) == 0) {
            json_array_append_new(out, j);
        } else {
            json_decref(j);
        }
    }
    return out;
}

/* Sends an analysis request and reads to the result; the first frame's
   type must be want_first. */
static void s_analyze_to_result(int port, const char *req, const char *result_type,
                                const char *want_first)
{
    mock_ws_t ws;
    assert_int_equal(mock_ws_connect(&ws, port, 3000), 0);
    assert_int_equal(mock_ws_send_text(&ws, req), 0);
    json_t *first = s_recv_json(&ws, 5000);
    assert_non_null(first);
    char *type = strdup(s_str(first, "type"));
    if (strcmp(type, result_type) != 0) {
        json_decref(s_recv_type(&ws, result_type, 5000, NULL));
    }
    json_decref(first);
    mock_ws_close(&ws);
    assert_string_equal(type, want_first);
    free(type);
}

static void test_mock_profile_real(void **state)
{
    mock_gw_t gw;
    char gateway[64];
    s_gw_start(&gw, "", gateway, sizeof gateway);
    s_mock_t m;
    assert_int_equal(s_mock_start(&m, "--replica", "static-analyzer:127.0.0.1:0:profile=real",
                                  "--replica", "dynamic-analyzer:127.0.0.1:0:profile=real",
                                  "--replica", "performance-tester:127.0.0.1:0:profile=real",
                                  "--latency", "40000", "--gateway", gateway, "--time-scale",
                                  "0.01", NULL),
                     0);

    /* static: status_update, then pushes only between phases: the Python
       scan is silent for half the analysis */
    s_analyze_to_result(m.port[0], s_static_req, "static_analysis_result", "status_update");
    assert_true(s_gw_wait_completed(&gw, 3000) >= 0);
    json_t *st = s_gw_pushes_of(&gw, "static-analyzer");
    const char *want[] = {
        "starting",     "scanning_python", "python_completed",    "scanning_js", "js_completed",
        "scanning_css", "scanning_html",   "analyzing_structure", "reporting",   "completed"};
    assert_int_equal(json_array_size(st), 10);
    for (size_t i = 0; i < 10; i++) {
        json_t *p = json_array_get(st, i);
        assert_string_equal(s_str(p, "stage"), want[i]);
        assert_string_equal(s_str(p, "correlation_id"), "req-1");
    }
    double gap = s_frame_time(json_array_get(st, 2)) - s_frame_time(json_array_get(st, 1));
    assert_true(gap >= 0.15); /* half of 400 ms */
    json_decref(st);

    /* dynamic: no status_update (the result comes first), one push,
       "starting" with an empty correlation_id */
    s_analyze_to_result(m.port[1],
                        "{\"type\": \"dynamic_analyze\", \"model_slug\": \"m\", "
                        "\"app_number\": 3, \"id\": \"d-1\"}",
                        "dynamic_analysis_result", "dynamic_analysis_result");
    json_t *dy = s_gw_pushes_of(&gw, "dynamic-analyzer");
    assert_int_equal(json_array_size(dy), 1);
    assert_string_equal(s_str(json_array_get(dy, 0), "stage"), "starting");
    assert_string_equal(s_str(json_array_get(dy, 0), "correlation_id"), "");
    json_decref(dy);

    /* performance: per-tool pushes with an empty id, no starting/completed */
    s_analyze_to_result(m.port[2],
                        "{\"type\": \"performance_test\", \"model_slug\": \"m\", "
                        "\"app_number\": 3, \"id\": \"p-1\"}",
                        "performance_analysis_result", "performance_analysis_result");
    long long deadline = s_now_ms() + 3000;
    json_t *pf = NULL;
    while (s_now_ms() < deadline) {
        json_decref(pf);
        pf = s_gw_pushes_of(&gw, "performance-tester");
        if (json_array_size(pf) == 10) {
            break;
        }
    }
    assert_int_equal(json_array_size(pf), 10);
    assert_string_equal(s_str(json_array_get(pf, 0), "stage"), "checking");
    assert_string_equal(s_str(json_array_get(pf, 9), "stage"), "artillery_complete");
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(s_str(json_array_get(pf, i), "correlation_id"), "");
    }
    json_decref(pf);
    assert_int_equal(s_mock_stop(&m), 0);
    mock_gw_stop(&gw);
}

/* Kills by pid any mock a failed case left running. */
static int s_teardown(void **state)
{
    (void)state;
    tchild_kill_all();
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_mock_control_frames, s_teardown),
        cmocka_unit_test_teardown(test_mock_static_analyze, s_teardown),
        cmocka_unit_test_teardown(test_mock_dynamic_empty_correlation, s_teardown),
        cmocka_unit_test_teardown(test_mock_reads_targets_where_the_services_do, s_teardown),
        cmocka_unit_test_teardown(test_mock_generator, s_teardown),
        cmocka_unit_test_teardown(test_mock_faults, s_teardown),
        cmocka_unit_test_teardown(test_mock_unreachable_app, s_teardown),
        cmocka_unit_test_teardown(test_mock_fail_and_verdict_apps, s_teardown),
        cmocka_unit_test_teardown(test_mock_refuse_and_slow, s_teardown),
        cmocka_unit_test_teardown(test_mock_control_down_up, s_teardown),
        cmocka_unit_test_teardown(test_mock_mux_concurrent_and_cancel, s_teardown),
        cmocka_unit_test_teardown(test_mock_mux_resume, s_teardown),
        cmocka_unit_test_teardown(test_mock_mux_instant, s_teardown),
        cmocka_unit_test_teardown(test_mock_incident_fleet_and_bad_cli, s_teardown),
        cmocka_unit_test_teardown(test_mock_tls, s_teardown),
        cmocka_unit_test_teardown(test_mock_tools_as_the_real_services, s_teardown),
        cmocka_unit_test_teardown(test_mock_mux_faults, s_teardown),
        cmocka_unit_test_teardown(test_mock_bad_input, s_teardown),
        cmocka_unit_test_teardown(test_mock_config_pidfile_quit, s_teardown),
        cmocka_unit_test_teardown(test_mock_block, s_teardown),
        cmocka_unit_test_teardown(test_mock_profile_real, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
