/*  test_embed.c: tools/examples/embed_host, the embedding example, run as a
    child process against the mock fleet.

    The services reach embed_host only through the fleet's environment
    variables (STATIC_ANALYZER_URLS, ..., GENERATOR_URLS) pointing at the
    mock's port-0 replicas; its data dir is in a mkdtemp directory. The test
    reads its stdout with a deadline and checks the lines it promises (the
    final pipeline.status event, the task table, the final line) and its exit
    code for a completed, a partial_success and a failed pipeline.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/e2e/e2e.h"

#ifndef EMBED_BIN
#define EMBED_BIN "embed_host-not-built"
#endif

/* The incident fleet, time-scaled, with the options of more (NULL or
   NULL-terminated) added. */
static void s_start_mock(e2e_fx_t *fx, const char *const *more)
{
    e2e_args_t a = {0};
    e2e_args_add(&a, "--fleet");
    e2e_args_add(&a, "incident");
    e2e_args_add(&a, "--time-scale");
    e2e_args_add(&a, "0.02");
    for (int i = 0; more && more[i]; i++) {
        e2e_args_add(&a, "%s", more[i]);
    }
    e2e_fx_start_mock(fx, &a, NULL);
}

typedef struct {
    int code;
    char id[128];
    char event_status[128];
    char final_status[128];
    int tasks;
    int succeeded;
    int failed; /* failed or dead */
} s_out_t;

/* Runs embed_host (as fx->d, its stderr in dir/embed.log) with the mock's
   services in its environment. */
static void s_run_host(e2e_fx_t *fx, const char *generator_urls, s_out_t *out)
{
    static const char *const vars[E2E_NSERVICES] = {"STATIC_ANALYZER_URLS", "DYNAMIC_ANALYZER_URLS",
                                                    "PERF_TESTER_URLS", "AI_ANALYZER_URLS",
                                                    "GENERATOR_URLS"};
    e2e_args_t env = {0};
    for (int s = 0; s < E2E_NSERVICES; s++) {
        const char *urls = fx->mock->joined[s];
        if (s == E2E_GENERATOR && generator_urls) {
            urls = generator_urls;
        }
        e2e_args_add(&env, "%s=%s", vars[s], urls);
    }
    e2e_args_t argv = {0};
    e2e_args_add(&argv, "%s", EMBED_BIN);
    e2e_args_add(&argv, "--data-dir");
    e2e_args_add(&argv, "%s", fx->data);
    e2e_args_add(&argv, "--timeout-ms");
    e2e_args_add(&argv, "30000");
    /* the progress listener stays off: no fixed port in tests */
    e2e_args_add(&argv, "--set");
    e2e_args_add(&argv, "progress/listen=");
    const char *sets[] = {"pipeline/backoff_initial_ms=50", "pipeline/backoff_max_ms=100",
                          "services/generator/connect_timeout_ms=300"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        e2e_args_add(&argv, "--set");
        e2e_args_add(&argv, "%s", sets[i]);
    }
    snprintf(fx->log_d, sizeof(fx->log_d), "%s/embed.log", fx->dir);
    fx->d = e2e_spawn(argv.v, env.v, fx->log_d);
    assert_non_null(fx->d);
    memset(out, 0, sizeof(*out));
    int64_t deadline = e2e_now_ms() + 60000;
    char line[512];
    while (e2e_read_line(fx->d, line, sizeof(line), deadline) == 0) {
        fprintf(stderr, "embed_host: %s\n", line);
        char a[128], b[128], c[128], d[128], e[128];
        if (sscanf(line, "started %127s", a) == 1) {
            snprintf(out->id, sizeof(out->id), "%s", a);
        } else if (sscanf(line, "event pipeline.status seq=%127s pipeline=%127s status=%127s", a, b,
                          c) == 3) {
            assert_string_equal(b, out->id);
            assert_true(atoi(a) > 0);
            snprintf(out->event_status, sizeof(out->event_status), "%s", c);
        } else if (sscanf(line, "task %127s %127s %127s %127s %127s", a, b, c, d, e) == 5) {
            assert_non_null(strstr(a, out->id));
            out->tasks++;
            out->succeeded += !strcmp(d, "succeeded");
            out->failed += !strcmp(d, "failed") || !strcmp(d, "dead");
        } else if (sscanf(line, "pipeline %127s %127s", a, b) == 2) {
            assert_string_equal(a, out->id);
            snprintf(out->final_status, sizeof(out->final_status), "%s", b);
        }
    }
    out->code = e2e_wait_exit(fx->d, deadline);
    if (out->code == -1) {
        out->code = e2e_stop(fx->d, SIGKILL, 1000);
        fail_msg("embed_host did not exit in time");
    }
    e2e_proc_free(&fx->d);
    e2e_args_free(&argv);
    e2e_args_free(&env);
    assert_true(out->id[0] == 'p');
    /* The final event and pipeline.get agree. */
    assert_string_equal(out->event_status, out->final_status);
}

static void test_embed_completed(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_mock(fx, NULL);
    s_out_t out;
    s_run_host(fx, NULL, &out);
    assert_string_equal(out.final_status, "completed");
    assert_int_equal(out.code, 0);
    /* 1 model x 1 template: one generation and four analyses */
    assert_int_equal(out.tasks, 5);
    assert_int_equal(out.succeeded, 5);
    /* the host's data dir holds the store */
    char path[700];
    snprintf(path, sizeof(path), "%s/data/LOCK", fx->dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
}

static void test_embed_partial_success(void **state)
{
    e2e_fx_t *fx = *state;
    /* Every analyzer replica returns a verdict about app 1 ("Model path not
       found", not retried): the generation succeeds, the four analyses
       fail at their first attempt, the pipeline ends partial_success. */
    const char *verdict[] = {"--verdict-app", "1", NULL};
    s_start_mock(fx, verdict);
    s_out_t out;
    s_run_host(fx, NULL, &out);
    assert_int_equal(out.tasks, 5);
    assert_int_equal(out.succeeded, 1);
    assert_int_equal(out.failed, 4);
    assert_string_equal(out.final_status, "partial_success");
    assert_int_equal(out.code, 2);
}

static void test_embed_failed(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_mock(fx, NULL);
    /* A generator URL from the environment where nothing listens: the
       generation fails, nothing else can run, the pipeline fails. */
    int port = e2e_free_port();
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d", port);
    s_out_t out;
    s_run_host(fx, url, &out);
    assert_string_equal(out.final_status, "failed");
    assert_int_equal(out.code, 3);
    assert_int_equal(out.succeeded, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_embed_completed, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_embed_partial_success, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_embed_failed, e2e_fx_setup, e2e_fx_teardown),
    };
    if (getenv("E2E_FILTER")) {
        cmocka_set_test_filter(getenv("E2E_FILTER"));
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
