/*  test_config.c: defaults, ZPL loading, errors naming file:line:key, env. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/config/sl_config.h"
#include "runtime/sl_err.h"

static void test_config_defaults_match_design(void **state)
{
    sl_config_t cfg;
    sl_config_defaults(&cfg);
    assert_string_equal(cfg.data_dir, "./sluice-data");
    assert_string_equal(cfg.api_endpoint, "tcp://127.0.0.1:5570");
    assert_string_equal(cfg.pub_endpoint, "tcp://127.0.0.1:5571");
    assert_string_equal(cfg.progress_listen, "ws://127.0.0.1:8765");
    assert_int_equal(cfg.task_timeout_ms, 3600 * 1000);
    assert_int_equal(cfg.stage_timeout_ms, 1800 * 1000);
    assert_int_equal(cfg.pipeline_timeout_ms, 7200 * 1000);
    assert_int_equal(cfg.stuck_after_ms, 60 * 1000);
    assert_int_equal(cfg.max_attempts, 3);
    sl_service_conf_t *st = sl_config_service(&cfg, "static-analyzer");
    assert_non_null(st);
    assert_int_equal(st->n_urls, 4);
    assert_string_equal(st->urls[0], "ws://127.0.0.1:2001");
    assert_string_equal(st->urls[3], "ws://127.0.0.1:2056");
    assert_int_equal(st->connect_timeout_ms, 10000);
    assert_int_equal(st->progress_timeout_ms, 120000);
    assert_int_equal(st->attempt_timeout_ms, 900000);
    assert_int_equal(st->max_in_flight, 2);
    assert_int_equal(sl_config_service(&cfg, "dynamic-analyzer")->n_urls, 3);
    assert_int_equal(sl_config_service(&cfg, "performance-tester")->n_urls, 2);
    assert_int_equal(sl_config_service(&cfg, "ai-analyzer")->n_urls, 2);
    assert_non_null(sl_config_service(&cfg, "generator"));
}

static void test_config_loads_values(void **state)
{
    sl_config_t cfg;
    sl_config_defaults(&cfg);
    char err[512] = "";
    const char *text = "# a comment\n"
                       "sluice\n"
                       "    data_dir = \"/tmp/x\"\n"
                       "    shards = 3\n"
                       "pipeline\n"
                       "    task_timeout_s = 10\n"
                       "    backoff_coefficient = 1.5\n"
                       "store\n"
                       "    nosync = true\n"
                       "services\n"
                       "    ai-analyzer\n"
                       "        urls = \"ws://h1:1,wss://h2:2/path\"\n"
                       "        protocol = mux\n"
                       "        progress_timeout_s = 0\n";
    assert_int_equal(sl_config_load_str(&cfg, text, "t.cfg", err, sizeof(err)), 0);
    assert_string_equal(cfg.data_dir, "/tmp/x");
    assert_int_equal(cfg.shards, 3);
    assert_int_equal(cfg.task_timeout_ms, 10000);
    assert_true(cfg.backoff_coefficient > 1.49 && cfg.backoff_coefficient < 1.51);
    assert_true(cfg.nosync);
    sl_service_conf_t *ai = sl_config_service(&cfg, "ai-analyzer");
    assert_int_equal(ai->n_urls, 2);
    assert_string_equal(ai->urls[1], "wss://h2:2/path");
    assert_string_equal(ai->protocol, "mux");
    assert_int_equal(ai->progress_timeout_ms, 0);
}

/* Each bad file names the file, the line and the key, and changes nothing. */
static void test_config_errors_name_line_and_key(void **state)
{
    struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"pipeline\n    task_timeout_s = abc\n", "t.cfg:2: pipeline/task_timeout_s: expected a whole number"},
        {"pipeline\n    max_attempts = 0\n", "t.cfg:2: pipeline/max_attempts: 0 is out of range"},
        {"sluice\n    shard = 2\n", "t.cfg:2: sluice/shard: unknown key"},
        {"nosuch\n    a = 1\n", "t.cfg:1: nosuch: unknown section"},
        {"services\n    x-analyzer\n        urls = ws://a:1\n", "t.cfg:2: services/x-analyzer: unknown service"},
        {"services\n    generator\n        urls = http://a:1\n", "t.cfg:3: services/generator/urls: 'http://a:1' is not a ws://"},
        {"services\n    generator\n        protocol = grpc\n", "t.cfg:3: services/generator/protocol: expected legacy or mux"},
        {"store\n  nosync = true\n", "t.cfg:2: indent with multiples of 4 spaces"},
        {"store\n    nosync = maybe\n", "t.cfg:2: store/nosync: expected true or false"},
        {"sluice\n    log_level = loud\n", "sluice/log_level: expected debug"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_config_t cfg, before;
        sl_config_defaults(&cfg);
        before = cfg;
        char err[512] = "";
        int rc = sl_config_load_str(&cfg, cases[i].text, "t.cfg", err, sizeof(err));
        assert_int_equal(rc, SL_ECONFIG);
        if (strstr(err, cases[i].expect) == NULL) {
            fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].expect);
        }
        assert_memory_equal(&cfg, &before, sizeof(cfg));
    }
}

static void test_config_env_overrides_fleet_urls(void **state)
{
    sl_config_t cfg;
    sl_config_defaults(&cfg);
    char err[512] = "";
    setenv("STATIC_ANALYZER_URLS", "ws://a:2001,ws://b:2001", 1);
    setenv("PERF_TESTER_URLS", "ws://p:2003", 1);
    assert_int_equal(sl_config_apply_env(&cfg, err, sizeof(err)), 0);
    sl_service_conf_t *st = sl_config_service(&cfg, "static-analyzer");
    assert_int_equal(st->n_urls, 2);
    assert_string_equal(st->urls[1], "ws://b:2001");
    assert_int_equal(sl_config_service(&cfg, "performance-tester")->n_urls, 1);

    setenv("AI_ANALYZER_URLS", "ftp://nope", 1);
    sl_config_t before = cfg;
    assert_int_equal(sl_config_apply_env(&cfg, err, sizeof(err)), SL_ECONFIG);
    assert_non_null(strstr(err, "AI_ANALYZER_URLS"));
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    unsetenv("STATIC_ANALYZER_URLS");
    unsetenv("PERF_TESTER_URLS");
    unsetenv("AI_ANALYZER_URLS");
}

static void test_config_written_config_loads_back(void **state)
{
    sl_config_t cfg, back;
    sl_config_defaults(&cfg);
    cfg.shards = 5;
    sl_config_service(&cfg, "generator")->queue_timeout_ms = 7000;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(sl_config_write(&cfg, f), 0);
    fclose(f);
    sl_config_defaults(&back);
    char err[512] = "";
    int rc = sl_config_load_str(&back, buf, "written", err, sizeof(err));
    if (rc) {
        fail_msg("%s", err);
    }
    free(buf);
    assert_int_equal(back.shards, 5);
    assert_int_equal(sl_config_service(&back, "generator")->queue_timeout_ms, 7000);
    assert_memory_equal(&cfg, &back, sizeof(cfg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_match_design),
        cmocka_unit_test(test_config_loads_values),
        cmocka_unit_test(test_config_errors_name_line_and_key),
        cmocka_unit_test(test_config_env_overrides_fleet_urls),
        cmocka_unit_test(test_config_written_config_loads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
