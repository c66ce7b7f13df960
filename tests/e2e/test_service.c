/*  test_service.c: sluiced as a systemd service, without systemd.

    The test plays systemd's part: it binds the unix datagram socket that
    $NOTIFY_SOCKET names (a path in the test's temp dir, or an abstract
    name) and reads what a real sluiced sends there: READY=1 once its API
    answers, WATCHDOG=1 at half of $WATCHDOG_USEC, RELOADING=1 then READY=1
    around a SIGHUP, STOPPING=1 on SIGTERM. SIGHUP reloads the config file
    (replica URLs and the log level change; a key that needs a restart is
    named in a warning), and the json log format (sluice/log_format, or
    stderr being the journal's stream, $JOURNAL_STREAM) writes one JSON
    object per line. No mock fleet: the replica URLs point at ports nobody
    listens on, which is all a reload needs. The watchdog's gating of
    WATCHDOG=1 on wedged actors is tested on the actor itself
    (tests/actors/watchdog: sl_watchdog_healthy), since nothing outside
    sluiced can wedge one of its actors.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/e2e/e2e.h"

typedef struct {
    e2e_fx_t e;       /* no mock: sluiced runs on its config file */
    char conf[600];   /* that file */
    char notify[600]; /* the NOTIFY_SOCKET value */
    int nfd;          /* the bound notify socket */
} s_fx_t;

static int s_setup(void **state)
{
    s_fx_t *fx = e2e_fx_new(sizeof(*fx));
    if (!fx) {
        return -1;
    }
    fx->nfd = -1;
    snprintf(fx->conf, sizeof(fx->conf), "%s/sluiced.conf", fx->e.dir);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    s_fx_t *fx = *state;
    if (fx->nfd >= 0) {
        close(fx->nfd);
    }
    e2e_fx_fini(&fx->e);
    free(fx);
    return 0;
}

/* Binds the notify socket: at a path in the temp dir, or (abstract) at a
   name only this test uses. */
static void s_bind_notify(s_fx_t *fx, bool abstract)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    socklen_t len;
    if (abstract) {
        snprintf(fx->notify, sizeof(fx->notify), "@sluice-test-notify-%d-%s", (int)getpid(),
                 strrchr(fx->e.dir, '/') + 1);
        size_t n = strlen(fx->notify);
        memcpy(addr.sun_path, fx->notify, n);
        addr.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        snprintf(fx->notify, sizeof(fx->notify), "%s/notify.sock", fx->e.dir);
        assert_true(strlen(fx->notify) < sizeof(addr.sun_path));
        memcpy(addr.sun_path, fx->notify, strlen(fx->notify) + 1);
        len = (socklen_t)sizeof(addr);
    }
    fx->nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fx->nfd >= 0);
    assert_int_equal(bind(fx->nfd, (struct sockaddr *)&addr, len), 0);
}

/* Reads datagrams until one contains want, by a 15 s deadline; returns how
   many datagrams holding "WATCHDOG=1" came before it. */
static int s_expect_notify(s_fx_t *fx, const char *want)
{
    int64_t deadline = e2e_now_ms() + 15000;
    int beats = 0;
    for (;;) {
        int64_t left = deadline - e2e_now_ms();
        struct pollfd pfd = {.fd = fx->nfd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            fail_msg("no '%s' on the notify socket within 15 s", want);
        }
        char buf[512];
        ssize_t n = recv(fx->nfd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        if (strstr(buf, want)) {
            return beats;
        }
        beats += strstr(buf, "WATCHDOG=1") ? 1 : 0;
    }
}

/* Starts sluiced on the fixture's config file with env (NULL-terminated
   "K=V" list, may be NULL) and extra --set values; waits for its ready
   line and connects the API client. */
static void s_start(s_fx_t *fx, char *const *env, const char *set)
{
    e2e_args_t a = {0};
    e2e_args_add(&a, "%s", SLUICED_BIN);
    e2e_args_add(&a, "--config");
    e2e_args_add(&a, "%s", fx->conf);
    e2e_sluiced_base_args(&a, fx->e.dir, fx->e.data, NULL, 0);
    if (set) {
        e2e_args_add(&a, "--set");
        e2e_args_add(&a, "%s", set);
    }
    fx->e.d = e2e_spawn(a.v, env, fx->e.log_d);
    e2e_args_free(&a);
    assert_non_null(fx->e.d);
    char line[256];
    if (e2e_wait_line(fx->e.d, "sluiced: ready", line, sizeof(line), e2e_now_ms() + 15000) != 0) {
        e2e_dump("sluiced stderr", fx->e.log_d);
        fail_msg("sluiced did not get ready");
    }
    fx->e.api = e2e_api_connect(fx->e.api_ep);
    assert_non_null(fx->e.api);
}

/* The static analyzer's replica URLs in endpoints.list, joined by ",". */
static void s_static_urls(s_fx_t *fx, char *out, size_t size)
{
    json_t *r = e2e_callf(fx->e.api, 5000, "{ss}", "op", "endpoints.list");
    assert_true(e2e_ok(r));
    out[0] = '\0';
    size_t i, k;
    json_t *svc, *rep;
    json_array_foreach(json_object_get(r, "services"), i, svc)
    {
        if (strcmp(json_string_value(json_object_get(svc, "name")), "static-analyzer") != 0) {
            continue;
        }
        json_array_foreach(json_object_get(svc, "replicas"), k, rep)
        {
            size_t len = strlen(out);
            snprintf(out + len, size - len, "%s%s", len ? "," : "",
                     json_string_value(json_object_get(rep, "url")));
        }
    }
    json_decref(r);
}

static void s_write_conf(s_fx_t *fx, const char *text)
{
    assert_int_equal(e2e_write_file(fx->conf, text), 0);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_service_ready_watchdog_stopping(void **state)
{
    s_fx_t *fx = *state;
    s_bind_notify(fx, false);
    s_write_conf(fx, "sluice\n    log_level = \"info\"\n");
    char env_notify[700], *env[] = {env_notify, (char *)"WATCHDOG_USEC=200000", NULL};
    snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", fx->notify);
    s_start(fx, env, NULL);

    /* READY=1 comes first, once the API is up (it answers now) */
    assert_int_equal(s_expect_notify(fx, "READY=1"), 0);
    json_t *pong = e2e_callf(fx->e.api, 5000, "{ss}", "op", "ping");
    assert_true(e2e_ok(pong));
    json_decref(pong);
    /* heartbeats every 100 ms while every actor answers */
    for (int i = 0; i < 3; i++) {
        s_expect_notify(fx, "WATCHDOG=1");
    }
    assert_int_equal(e2e_stop(fx->e.d, SIGTERM, 15000), 0);
    s_expect_notify(fx, "STOPPING=1");
}

static void test_service_abstract_socket(void **state)
{
    s_fx_t *fx = *state;
    s_bind_notify(fx, true);
    s_write_conf(fx, "");
    char env_notify[700], *env[] = {env_notify, NULL};
    snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", fx->notify);
    s_start(fx, env, NULL);
    s_expect_notify(fx, "READY=1");
    assert_int_equal(e2e_stop(fx->e.d, SIGTERM, 15000), 0);
    s_expect_notify(fx, "STOPPING=1");
}

static void test_service_sighup_reload(void **state)
{
    s_fx_t *fx = *state;
    s_bind_notify(fx, false);
    s_write_conf(fx, "sluice\n"
                     "    log_level = \"info\"\n"
                     "services\n"
                     "    static-analyzer\n"
                     "        urls = \"ws://127.0.0.1:9\"\n");
    char env_notify[700], *env[] = {env_notify, NULL};
    snprintf(env_notify, sizeof(env_notify), "NOTIFY_SOCKET=%s", fx->notify);
    s_start(fx, env, NULL);
    s_expect_notify(fx, "READY=1");
    char urls[1024];
    s_static_urls(fx, urls, sizeof(urls));
    assert_string_equal(urls, "ws://127.0.0.1:9");

    /* new replicas, a breaker setting, the log level, and a key that needs
       a restart */
    s_write_conf(fx, "sluice\n"
                     "    log_level = \"warn\"\n"
                     "api\n"
                     "    max_request_bytes = 4096\n"
                     "services\n"
                     "    static-analyzer\n"
                     "        urls = \"ws://127.0.0.1:19,ws://127.0.0.1:29\"\n"
                     "        failure_threshold = 7\n");
    assert_int_equal(kill(fx->e.d->pid, SIGHUP), 0);
    s_expect_notify(fx, "RELOADING=1");
    s_expect_notify(fx, "READY=1");
    s_static_urls(fx, urls, sizeof(urls));
    assert_string_equal(urls, "ws://127.0.0.1:19,ws://127.0.0.1:29");
    char *log = e2e_read_file(fx->e.log_d);
    assert_non_null(log);
    const char *kept = strstr(log, "api/max_request_bytes changed, which needs a restart");
    if (!kept) {
        e2e_dump("sluiced stderr", fx->e.log_d);
    }
    assert_non_null(kept);
    /* said at warning level, on its own line */
    const char *bol = kept;
    while (bol > log && bol[-1] != '\n') {
        bol--;
    }
    assert_non_null(strstr(bol, " WARN "));
    assert_true(strstr(bol, " WARN ") < kept);
    /* breaker settings and URLs were applied, not reported */
    assert_null(strstr(log, "failure_threshold changed"));
    assert_null(strstr(log, "urls changed"));
    /* the new level holds: the info line that ends a reload is not written */
    assert_non_null(strstr(log, "SIGHUP received"));
    assert_null(strstr(log, "sluice: reloaded"));
    free(log);

    /* a bad file changes nothing and the daemon runs on */
    s_write_conf(fx, "services\n    static-analyzer\n        urls = \"http://nope\"\n");
    assert_int_equal(kill(fx->e.d->pid, SIGHUP), 0);
    s_expect_notify(fx, "RELOADING=1");
    s_expect_notify(fx, "READY=1");
    s_static_urls(fx, urls, sizeof(urls));
    assert_string_equal(urls, "ws://127.0.0.1:19,ws://127.0.0.1:29");
    assert_true(e2e_file_contains(fx->e.log_d, "reload refused"));
    assert_true(e2e_file_contains(fx->e.log_d, "is not a ws:// or wss:// URL"));

    assert_int_equal(e2e_stop(fx->e.d, SIGTERM, 15000), 0);
    /* still at warn: the info line of a clean stop was not written */
    assert_false(e2e_file_contains(fx->e.log_d, "sluiced: stopped"));
}

/* Every line of the log parses as a JSON object with the stable fields;
   returns the number of lines and the first line whose msg holds needle
   (a new reference, or NULL). */
static size_t s_check_json_log(const char *path, const char *needle, json_t **found)
{
    char *text = e2e_read_file(path);
    assert_non_null(text);
    size_t lines = 0;
    *found = NULL;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *rec = json_loads(line, 0, &err);
        if (!rec || !json_is_object(rec)) {
            fail_msg("not a JSON object: %s (%s)", line, err.text);
        }
        static const char *strings[] = {"ts", "level", "actor", "msg"};
        for (size_t i = 0; i < 4; i++) {
            if (!json_is_string(json_object_get(rec, strings[i]))) {
                fail_msg("no string '%s' in %s", strings[i], line);
            }
        }
        static const char *ids[] = {"pipeline_id", "task_id", "replica"};
        for (size_t i = 0; i < 3; i++) {
            json_t *v = json_object_get(rec, ids[i]);
            if (!v || !(json_is_null(v) || json_is_string(v))) {
                fail_msg("no '%s' (string or null) in %s", ids[i], line);
            }
        }
        if (!*found && needle && strstr(json_string_value(json_object_get(rec, "msg")), needle)) {
            *found = json_incref(rec);
        }
        json_decref(rec);
        lines++;
    }
    free(text);
    return lines;
}

static void test_service_json_log(void **state)
{
    s_fx_t *fx = *state;
    s_write_conf(fx, "services\n    static-analyzer\n        urls = \"ws://127.0.0.1:9\"\n");
    s_start(fx, NULL, "sluice/log_format=json");
    s_write_conf(fx, "services\n    static-analyzer\n        urls = \"ws://127.0.0.1:19\"\n");
    assert_int_equal(kill(fx->e.d->pid, SIGHUP), 0);
    /* the reload is done once the API shows the new replica */
    char urls[256] = "";
    for (int64_t deadline = e2e_now_ms() + 10000;
         strcmp(urls, "ws://127.0.0.1:19") && e2e_now_ms() < deadline; e2e_nap(20)) {
        s_static_urls(fx, urls, sizeof(urls));
    }
    assert_string_equal(urls, "ws://127.0.0.1:19");
    assert_int_equal(e2e_stop(fx->e.d, SIGTERM, 15000), 0);

    json_t *added = NULL;
    size_t lines = s_check_json_log(fx->e.log_d, "replica ws://127.0.0.1:19 added", &added);
    assert_true(lines > 5);
    assert_non_null(added);
    assert_string_equal(json_string_value(json_object_get(added, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(added, "actor")),
                        "endpoint.static-analyzer");
    assert_string_equal(json_string_value(json_object_get(added, "replica")), "ws://127.0.0.1:19");
    assert_true(json_is_null(json_object_get(added, "pipeline_id")));
    json_decref(added);
}

static void test_service_journald_means_json(void **state)
{
    s_fx_t *fx = *state;
    s_write_conf(fx, "");
    /* stderr is "the journal's stream" when JOURNAL_STREAM names its
       device and inode, as systemd sets it */
    assert_int_equal(e2e_write_file(fx->e.log_d, ""), 0);
    struct stat st;
    assert_int_equal(stat(fx->e.log_d, &st), 0);
    char env_js[128], *env[] = {env_js, NULL};
    snprintf(env_js, sizeof(env_js), "JOURNAL_STREAM=%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    s_start(fx, env, NULL);
    assert_int_equal(e2e_stop(fx->e.d, SIGTERM, 15000), 0);
    json_t *stopped = NULL;
    assert_true(s_check_json_log(fx->e.log_d, "sluiced: stopped", &stopped) > 5);
    assert_non_null(stopped); /* sluiced's own lines too (sluice_log) */
    json_decref(stopped);

    /* a JOURNAL_STREAM inherited by a process whose stderr is elsewhere
       does not count */
    e2e_proc_free(&fx->e.d);
    e2e_api_close(&fx->e.api);
    assert_int_equal(unlink(fx->e.log_d), 0);
    snprintf(env_js, sizeof(env_js), "JOURNAL_STREAM=1:1");
    s_start(fx, env, NULL);
    assert_int_equal(e2e_stop(fx->e.d, SIGTERM, 15000), 0);
    char *text = e2e_read_file(fx->e.log_d);
    assert_non_null(text);
    assert_true(text[0] != '{');
    assert_non_null(strstr(text, " INFO  [main] sluiced: stopped"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_service_ready_watchdog_stopping, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_service_abstract_socket, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_service_sighup_reload, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_service_json_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_service_journald_means_json, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
