/*  test_plan.c: start-request validation, the tool table, URL expansion and
    the retry backoff (actors/pipeline/sl_plan.h). Pure functions, one thread.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "actors/pipeline/sl_pipeline.h"
#include "actors/pipeline/sl_plan.h"
#include "tests/actors/pipeline/pl_testutil.h"

/* Parses json against d (NULL: the built-in defaults). */
static int s_parse_d(const sl_plan_defaults_t *d, const char *json, sl_plan_t **plan, char *err,
                     size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(pl_json_to_mp(json, &buf, &len), 0);
    int rc = sl_plan_parse(buf, len, d, plan, err, errlen);
    free(buf);
    return rc;
}

static int s_parse(const char *json, sl_plan_t **plan, char *err, size_t errlen)
{
    return s_parse_d(NULL, json, plan, err, errlen);
}

/* The request must fail against d with SL_EINVAL and a message mentioning
   `field`. */
static void s_bad_d(const sl_plan_defaults_t *d, const char *json, const char *field)
{
    sl_plan_t *plan = (sl_plan_t *)1;
    char err[256];
    int rc = s_parse_d(d, json, &plan, err, sizeof(err));
    if (rc != SL_EINVAL || plan != NULL || !strstr(err, field)) {
        fail_msg("request %s: rc %d, err '%s', wanted a message naming '%s'", json, rc, err, field);
    }
}

static void s_bad(const char *json, const char *field)
{
    s_bad_d(NULL, json, field);
}

static void test_plan_seed_shape(void **state)
{
    /* The incident report's own request, top-level shape. */
    sl_plan_t *plan = NULL;
    char err[256];
    assert_int_equal(
        s_parse("{\"generation\": {\"mode\": \"generate\", \"models\": "
                "[\"google_gemini-3-flash-preview-20251217\"], \"templates\": "
                "[\"api_url_shortener\"]}, \"analysis\": {\"enabled\": true, \"tools\": "
                "[\"bandit\", \"eslint\", \"curl\"], \"options\": {\"parallel\": false}}}",
                &plan, err, sizeof(err)),
        0);
    assert_false(plan->existing);
    assert_int_equal(plan->models.n, 1);
    assert_int_equal(plan->templates.n, 1);
    assert_true(plan->analysis);
    assert_true(plan->services[SL_SVC_STATIC]);
    assert_true(plan->services[SL_SVC_DYNAMIC]);
    assert_false(plan->services[SL_SVC_PERFORMANCE]);
    assert_false(plan->services[SL_SVC_AI]);
    assert_int_equal(plan->tools[SL_SVC_STATIC].n, 2);
    assert_string_equal(plan->tools[SL_SVC_DYNAMIC].v[0], "curl");
    assert_int_equal(plan->ana_limit, 1); /* parallel: false */
    assert_int_equal(plan->gen_limit, sl_config_builtin()->max_concurrent_tasks);
    assert_int_equal(sl_plan_analyzers(plan), 2);
    assert_int_equal(sl_plan_task_bound(plan), 3);
    assert_int_equal(plan->timeouts.task_ms, 3600000);
    assert_int_equal(plan->retry.max_attempts, 3);
    assert_string_equal(plan->name, "");
    sl_plan_destroy(&plan);
    assert_null(plan);
    sl_plan_destroy(&plan);
}

static void test_plan_config_shape(void **state)
{
    sl_plan_t *plan = NULL;
    char err[256];
    assert_int_equal(
        s_parse("{\"op\": \"pipeline.start\", \"name\": \"nightly\", \"config\": {\"generation\": "
                "{\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m1\", \"app_number\": "
                "29}, {\"model\": \"m1\", \"app_number\": 30}]}, \"analysis\": {\"enabled\": true, "
                "\"tools\": [], \"options\": {\"max_concurrent_tasks\": 5, \"target_urls\": "
                "[\"http://{model}-app{app}_backend:5000\"]}}}, \"timeouts\": {\"task\": 90, "
                "\"stage\": 1.5, \"attempt\": 30}, \"retry\": {\"max_attempts\": 5, \"initial\": "
                "0.5, \"coefficient\": 3, \"max\": 10}}",
                &plan, err, sizeof(err)),
        0);
    assert_string_equal(plan->name, "nightly");
    assert_true(plan->existing);
    assert_int_equal(plan->napps, 2);
    assert_int_equal(plan->apps[1].app_number, 30);
    for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
        assert_true(plan->services[s]); /* empty tools = every analyzer */
        assert_int_equal(plan->tools[s].n, 0);
    }
    assert_int_equal(plan->ana_limit, 5);
    assert_int_equal(plan->target_urls.n, 1);
    assert_int_equal(plan->timeouts.task_ms, 90000);
    assert_int_equal(plan->timeouts.stage_ms, 1500);
    assert_int_equal(plan->timeouts.pipeline_ms, 7200000);
    assert_int_equal(plan->timeouts.attempt_ms, 30000);
    assert_int_equal(plan->retry.max_attempts, 5);
    assert_int_equal(plan->retry.initial_ms, 500);
    assert_int_equal(plan->retry.max_ms, 10000);
    assert_true(plan->retry.coefficient == 3.0);
    assert_int_equal(sl_plan_task_bound(plan), 8);
    sl_plan_destroy(&plan);
}

static void test_plan_rejects_every_bad_field(void **state)
{
    const char *G = "\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"]}";
    char buf[1024];
    s_bad("[1, 2]", "request");
    s_bad("{}", "config: required");
    s_bad("{\"name\": \"n\", \"analysis\": {}}", "config: required");
    s_bad("{\"config\": 5}", "config");
    s_bad("{\"config\": {}}", "config.generation");
    s_bad("{\"name\": 5, \"generation\": {}}", "name");
    s_bad("{\"generation\": 1}", "generation");
    s_bad("{\"generation\": {\"mode\": \"sometimes\"}}", "generation.mode");
    s_bad("{\"generation\": {\"mode\": 1}}", "generation.mode");
    s_bad("{\"generation\": {\"templates\": [\"t\"]}}", "generation.models");
    s_bad("{\"generation\": {\"models\": [], \"templates\": [\"t\"]}}", "generation.models");
    s_bad("{\"generation\": {\"models\": \"m\", \"templates\": [\"t\"]}}", "generation.models");
    s_bad("{\"generation\": {\"models\": [\"m\", \"\"], \"templates\": [\"t\"]}}",
          "generation.models[1]");
    s_bad("{\"generation\": {\"models\": [\"m\", 7], \"templates\": [\"t\"]}}",
          "generation.models[1]");
    s_bad("{\"generation\": {\"models\": [\"m\"]}}", "generation.templates");
    s_bad("{\"generation\": {\"models\": [\"m\"], \"templates\": [null]}}",
          "generation.templates[0]");
    s_bad("{\"generation\": {\"mode\": \"existing\"}, \"analysis\": {}}",
          "generation.existing_apps");
    s_bad("{\"generation\": {\"mode\": \"existing\", \"existing_apps\": []}, \"analysis\": {}}",
          "generation.existing_apps");
    s_bad("{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [5]}, \"analysis\": {}}",
          "generation.existing_apps[0]");
    s_bad("{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"app_number\": 1}]}, "
          "\"analysis\": {}}",
          "generation.existing_apps[0].model");
    s_bad("{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m\"}]}, "
          "\"analysis\": {}}",
          "generation.existing_apps[0].app_number");
    s_bad("{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m\", "
          "\"app_number\": -1}]}, \"analysis\": {}}",
          "generation.existing_apps[0].app_number");
    s_bad("{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m\", "
          "\"app_number\": \"3\"}]}, \"analysis\": {}}",
          "app_number");
    s_bad("{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m\", "
          "\"app_number\": 3}]}, \"analysis\": {\"enabled\": false}}",
          "analysis.enabled");
    s_bad("{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"], \"options\": 3}}",
          "generation.options");
    s_bad("{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"], \"options\": "
          "{\"parallel\": \"yes\"}}}",
          "generation.options.parallel");
    s_bad("{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"], \"options\": "
          "{\"max_concurrent_tasks\": 0}}}",
          "generation.options.max_concurrent_tasks");
    snprintf(buf, sizeof(buf), "{%s, \"analysis\": []}", G);
    s_bad(buf, "analysis");
    snprintf(buf, sizeof(buf), "{%s, \"analysis\": {\"enabled\": 1}}", G);
    s_bad(buf, "analysis.enabled");
    snprintf(buf, sizeof(buf), "{%s, \"analysis\": {\"tools\": [\"bandit\", \"hammer\"]}}", G);
    s_bad(buf, "analysis.tools[1]");
    snprintf(buf, sizeof(buf), "{%s, \"analysis\": {\"tools\": \"bandit\"}}", G);
    s_bad(buf, "analysis.tools");
    snprintf(buf, sizeof(buf), "{%s, \"analysis\": {\"options\": {\"target_urls\": [1]}}}", G);
    s_bad(buf, "analysis.options.target_urls[0]");
    char urls[700] = "";
    for (int i = 0; i < 65; i++) {
        strcat(urls, i ? ",\"u\"" : "\"u\"");
    }
    char big[1024];
    snprintf(big, sizeof(big), "{%s, \"analysis\": {\"options\": {\"target_urls\": [%s]}}}", G,
             urls);
    s_bad(big, "analysis.options.target_urls");
    snprintf(buf, sizeof(buf), "{%s, \"analysis\": {\"options\": {\"max_concurrent_tasks\": 1.5}}}",
             G);
    s_bad(buf, "analysis.options.max_concurrent_tasks");
    snprintf(buf, sizeof(buf), "{%s, \"config\": 1}", G);
    s_bad(buf, "config");
    snprintf(buf, sizeof(buf), "{%s, \"timeouts\": 60}", G);
    s_bad(buf, "timeouts");
    snprintf(buf, sizeof(buf), "{%s, \"timeouts\": {\"taks\": 60}}", G);
    s_bad(buf, "taks");
    snprintf(buf, sizeof(buf), "{%s, \"timeouts\": {\"task\": 0}}", G);
    s_bad(buf, "timeouts.task");
    snprintf(buf, sizeof(buf), "{%s, \"timeouts\": {\"stage\": -5}}", G);
    s_bad(buf, "timeouts.stage");
    snprintf(buf, sizeof(buf), "{%s, \"timeouts\": {\"pipeline\": \"1h\"}}", G);
    s_bad(buf, "timeouts.pipeline");
    snprintf(buf, sizeof(buf), "{%s, \"timeouts\": {\"attempt\": 1e12}}", G);
    s_bad(buf, "timeouts.attempt");
    snprintf(buf, sizeof(buf), "{%s, \"retry\": {\"max_attempts\": 0}}", G);
    s_bad(buf, "retry.max_attempts");
    snprintf(buf, sizeof(buf), "{%s, \"retry\": {\"coefficient\": 0.5}}", G);
    s_bad(buf, "retry.coefficient");
    snprintf(buf, sizeof(buf), "{%s, \"retry\": {\"initial\": 10, \"max\": 5}}", G);
    s_bad(buf, "retry.max");
    snprintf(buf, sizeof(buf), "{%s, \"retry\": {\"tries\": 5}}", G);
    s_bad(buf, "tries");
}

static void test_plan_rejects_garbage_bytes(void **state)
{
    sl_plan_t *plan = (sl_plan_t *)1;
    char err[128];
    const uint8_t trunc[] = {0x82, 0xa4, 'n', 'a'};
    assert_true(sl_plan_parse(trunc, sizeof(trunc), NULL, &plan, err, sizeof(err)) < 0);
    assert_null(plan);
    const uint8_t huge[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    assert_true(sl_plan_parse(huge, sizeof(huge), NULL, &plan, err, sizeof(err)) < 0);
    assert_true(sl_plan_parse(NULL, 0, NULL, &plan, NULL, 0) < 0);
    assert_null(plan);
}

static void test_plan_limits_task_count(void **state)
{
    sl_plan_defaults_t d;
    sl_plan_defaults_init(&d);
    d.max_tasks = 10;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(pl_json_to_mp("{\"generation\": {\"models\": [\"a\", \"b\"], \"templates\": "
                                   "[\"x\", \"y\"]}, \"analysis\": {\"enabled\": true}}",
                                   &buf, &len),
                     0);
    sl_plan_t *plan = NULL;
    char err[256];
    /* 4 generations x (1 + 4 analyzers) = 20 > 10 */
    assert_int_equal(sl_plan_parse(buf, len, &d, &plan, err, sizeof(err)), SL_EINVAL);
    assert_non_null(strstr(err, "exceed"));
    d.max_tasks = 20;
    assert_int_equal(sl_plan_parse(buf, len, &d, &plan, err, sizeof(err)), 0);
    sl_plan_destroy(&plan);
    free(buf);
}

static void test_plan_tool_table(void **state)
{
    const char *tools[][2] = {{"bandit", "static-analyzer"},
                              {"html-validator", "static-analyzer"},
                              {"detect-secrets", "static-analyzer"},
                              {"zap", "dynamic-analyzer"},
                              {"curl-endpoint-tester", "dynamic-analyzer"},
                              {"snyk", "static-analyzer"},
                              {"ab-load-test", "performance-tester"},
                              {"requirements-checker", "ai-analyzer"},
                              {"artillery", "performance-tester"},
                              {"ab", "performance-tester"},
                              {"requirements-scanner", "ai-analyzer"},
                              {"code-quality-analyzer", "ai-analyzer"}};
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
        int svc = sl_service_of_tool(tools[i][0], strlen(tools[i][0]));
        assert_string_equal(sl_service_name(svc), tools[i][1]);
    }
    assert_int_equal(sl_service_of_tool("hammer", 6), SL_ENOTFOUND);
    /* the real dynamic service has no nikto: asking for it is refused */
    assert_int_equal(sl_service_of_tool("nikto", 5), SL_ENOTFOUND);
    size_t n = 0;
    for (const char *t = sl_service_tools(SL_SVC_STATIC); *t; t += strspn(t, " ")) {
        t += strcspn(t, " ");
        n++;
    }
    assert_int_equal(n, 15);
    assert_string_equal(sl_service_op(SL_SVC_PERFORMANCE), "performance_test");
    assert_string_equal(sl_service_op(SL_SVC_GENERATOR), "generate");
    assert_int_equal(sl_service_parse("ai-analyzer", 11), SL_SVC_AI);
    assert_false(sl_service_needs_targets(SL_SVC_STATIC));
    assert_true(sl_service_needs_targets(SL_SVC_DYNAMIC));
    assert_string_equal(sl_service_name(99), "unknown");
}

/* The tool table is the configuration's (services/<name>/tools), names
   compare without case; an analyzer named without tools runs with all of
   them (no tools listed, so the request carries no "tools" key). */
static void test_plan_tools_from_config_and_analyzers(void **state)
{
    sl_plan_defaults_t d;
    sl_plan_defaults_init(&d);
    snprintf(d.tools[SL_SVC_STATIC], sizeof(d.tools[SL_SVC_STATIC]), "bandit,My-Scanner");
    const char *gen = "\"generation\": {\"mode\": \"existing\", \"existing_apps\": "
                      "[{\"model\": \"m\", \"app_number\": 1}]}";
    char json[512];
    uint8_t *buf = NULL;
    size_t len = 0;
    sl_plan_t *plan = NULL;
    char err[256];

    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"tools\": [\"my-scanner\"]}}", gen);
    assert_int_equal(pl_json_to_mp(json, &buf, &len), 0);
    assert_int_equal(sl_plan_parse(buf, len, &d, &plan, err, sizeof(err)), 0);
    assert_true(plan->services[SL_SVC_STATIC]);
    assert_false(plan->services[SL_SVC_DYNAMIC]);
    assert_string_equal(plan->tools[SL_SVC_STATIC].v[0], "my-scanner");
    sl_plan_destroy(&plan);
    free(buf);

    /* pylint is built in, but this configuration's static-analyzer lacks it */
    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"tools\": [\"pylint\"]}}", gen);
    s_bad_d(&d, json, "analysis.tools[0]: unknown tool 'pylint'");

    snprintf(json, sizeof(json),
             "{%s, \"analysis\": {\"analyzers\": [\"static-analyzer\", \"dynamic\"], "
             "\"tools\": [\"zap\"]}}",
             gen);
    assert_int_equal(pl_json_to_mp(json, &buf, &len), 0);
    assert_int_equal(sl_plan_parse(buf, len, NULL, &plan, err, sizeof(err)), 0);
    assert_true(plan->services[SL_SVC_STATIC]);
    assert_int_equal(plan->tools[SL_SVC_STATIC].n, 0); /* all its tools */
    assert_true(plan->services[SL_SVC_DYNAMIC]);
    assert_int_equal(plan->tools[SL_SVC_DYNAMIC].n, 1);
    assert_false(plan->services[SL_SVC_PERFORMANCE]);
    assert_false(plan->services[SL_SVC_AI]);
    sl_plan_destroy(&plan);
    free(buf);

    const char *bad[] = {"[\"generator\"]", "[\"hammer\"]", "\"static\"", "[3]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(json, sizeof(json), "{%s, \"analysis\": {\"analyzers\": %s}}", gen, bad[i]);
        s_bad(json, "analysis.analyzers");
    }
}

static void test_plan_expands_target_urls(void **state)
{
    char *u = sl_plan_expand_url("http://{model}-app{app}_backend:5000/{app}", "gpt", 30, 0, 0);
    assert_string_equal(u, "http://gpt-app30_backend:5000/30");
    free(u);
    u = sl_plan_expand_url("{nothing}", "m", 1, 0, 0);
    assert_string_equal(u, "{nothing}");
    free(u);
    /* the fleet's compose names: '/', '_', '.' -> '-' in {model_safe} */
    u = sl_plan_expand_url("http://{model_safe}-app{app}_backend:{backend_port}|{frontend_port}|"
                           "{model}",
                           "openai/gpt_4.1", 7, 5007, 8007);
    assert_string_equal(u, "http://openai-gpt-4-1-app7_backend:5007|8007|openai/gpt_4.1");
    free(u);
    /* unknown ports stay as written (the plan refuses such templates) */
    u = sl_plan_expand_url("{backend_port}{frontend_port}{app}{app}{model_saf", "m", 42, 0, -1);
    assert_string_equal(u, "{backend_port}{frontend_port}4242{model_saf");
    free(u);
}

/* existing_apps entries carry what the running-app analyzers need; each
   service's options are kept for its requests. */
static void test_plan_existing_app_details_and_options(void **state)
{
    sl_plan_t *plan = NULL;
    char err[256];
    assert_int_equal(
        s_parse("{\"generation\": {\"mode\": \"existing\", \"existing_apps\": ["
                "{\"model\": \"a/b_c\", \"app_number\": 3, \"template\": \"api_url_shortener\","
                " \"target_urls\": [\"http://h:{backend_port}\"], \"ports\": {\"backend\": 5003,"
                " \"frontend\": 8003}}, {\"model\": \"m\", \"app_number\": 1}]}, "
                "\"analysis\": {\"options\": {\"target_urls\": [\"http://{model_safe}-app{app}\"],"
                " \"performance\": {\"users\": 5, \"duration\": 20, \"ab\": {\"requests\": 9}},"
                " \"ai\": {\"gemini_model\": \"x/y\"}}}}",
                &plan, err, sizeof(err)),
        0);
    assert_int_equal(plan->napps, 2);
    const sl_plan_app_t *a = sl_plan_app_find(plan, "a/b_c", 3);
    assert_non_null(a);
    assert_string_equal(a->tmpl, "api_url_shortener");
    assert_int_equal(a->target_urls.n, 1);
    assert_int_equal(a->backend_port, 5003);
    assert_int_equal(a->frontend_port, 8003);
    a = sl_plan_app_find(plan, "m", 1);
    assert_null(a->tmpl);
    assert_int_equal(a->target_urls.n, 0);
    assert_int_equal(a->backend_port, 0);
    assert_null(sl_plan_app_find(plan, "m", 2));
    assert_true(plan->options[SL_SVC_PERFORMANCE].len > 0);
    assert_true(plan->options[SL_SVC_AI].len > 0);
    assert_int_equal(plan->options[SL_SVC_STATIC].len, 0);
    sl_mp_reader_t r, v;
    sl_mp_reader_init(&r, plan->options[SL_SVC_PERFORMANCE].ptr,
                      plan->options[SL_SVC_PERFORMANCE].len);
    assert_int_equal(sl_mp_reader_find(&r, "users", &v), 0);
    int64_t users;
    assert_int_equal(sl_mp_read_int(&v, &users), 0);
    assert_int_equal(users, 5);
    sl_plan_destroy(&plan);

    /* bad details name their field */
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"model\": \"m\", \"app_number\": 1, \"template\": 3}", "existing_apps[0].template"},
        {"{\"model\": \"m\", \"app_number\": 1, \"target_urls\": \"http://x\"}",
         "existing_apps[0].target_urls"},
        {"{\"model\": \"m\", \"app_number\": 1, \"ports\": {\"backend\": 70000}}",
         "existing_apps[0].ports.backend"},
        {"{\"model\": \"m\", \"app_number\": 1, \"ports\": {\"api\": 5000}}",
         "existing_apps[0].ports: unknown key 'api'"},
        {"{\"model\": \"m\", \"app_number\": 1, \"target_urls\": [\"http://h:{frontend_port}\"],"
         " \"ports\": {\"backend\": 5000}}",
         "existing_apps[0].target_urls[0]: uses {frontend_port}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [%s]}}",
                 bad[i].json);
        assert_int_equal(s_parse(buf, &plan, err, sizeof(err)), SL_EINVAL);
        if (!strstr(err, bad[i].field)) {
            fail_msg("case %zu: '%s' does not name '%s'", i, err, bad[i].field);
        }
    }
    /* generate mode never knows ports; performance load settings are checked */
    static const struct {
        const char *options, *field;
    } bad_opts[] = {
        {"\"target_urls\": [\"http://{model}:{backend_port}\"]", "uses {backend_port}"},
        {"\"performance\": {\"users\": 0}", "analysis.options.performance.users"},
        {"\"performance\": {\"duration\": \"60\"}", "analysis.options.performance.duration"},
        {"\"ai\": [1]", "analysis.options.ai: must be a map"},
    };
    for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"]}, "
                 "\"analysis\": {\"options\": {%s}}}",
                 bad_opts[i].options);
        assert_int_equal(s_parse(buf, &plan, err, sizeof(err)), SL_EINVAL);
        if (!strstr(err, bad_opts[i].field)) {
            fail_msg("case %zu: '%s' does not name '%s'", i, err, bad_opts[i].field);
        }
    }
}

static void test_plan_backoff_bounds(void **state)
{
    sl_retry_policy_t p = {3, 2000, 2.0, 60000, 0, 0};
    assert_int_equal(sl_retry_cap_ms(&p, 1), 2000);
    assert_int_equal(sl_retry_cap_ms(&p, 2), 4000);
    assert_int_equal(sl_retry_cap_ms(&p, 5), 32000);
    assert_int_equal(sl_retry_cap_ms(&p, 6), 60000);
    assert_int_equal(sl_retry_cap_ms(&p, 1000), 60000);
    uint64_t rng = 42;
    for (uint32_t retry = 1; retry <= 8; retry++) {
        int64_t cap = sl_retry_cap_ms(&p, retry), lo = INT64_MAX, hi = -1;
        for (int i = 0; i < 2000; i++) {
            int64_t d = sl_retry_backoff_ms(&p, retry, &rng);
            assert_true(d >= 0 && d <= cap);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* Full jitter spreads over the whole interval. */
        assert_true(lo < cap / 10);
        assert_true(hi > cap - cap / 10);
    }
    sl_retry_policy_t zero = {3, 0, 2.0, 0, 0, 0};
    assert_int_equal(sl_retry_backoff_ms(&zero, 3, &rng), 0);
    /* A seed of 0 still produces numbers. */
    uint64_t z = 0;
    (void)sl_retry_backoff_ms(&p, 1, &z);
    assert_true(z != 0);
}

/* Embedders and tests get sluiced's defaults: the configuration's key table
   is the one place they are written. */
/* Scan profiles: the built-in three, a configured one, explicit tools
   within a profile, contradictions, and escalation. */
static void test_plan_profiles(void **state)
{
    (void)state;
    const char *gen = "\"generation\": {\"mode\": \"existing\", \"existing_apps\": "
                      "[{\"model\": \"m\", \"app_number\": 1}]}";
    char json[768];
    sl_plan_t *plan = NULL;
    char err[256];

    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"profile\": \"quick\"}}", gen);
    assert_int_equal(s_parse(json, &plan, err, sizeof(err)), 0);
    assert_string_equal(plan->profile, "quick");
    assert_null(plan->escalate);
    assert_true(plan->services[SL_SVC_STATIC]);
    assert_false(plan->services[SL_SVC_DYNAMIC]);
    assert_false(plan->services[SL_SVC_PERFORMANCE]);
    assert_int_equal(plan->tools[SL_SVC_STATIC].n, 5);
    assert_string_equal(plan->tools[SL_SVC_STATIC].v[0], "bandit");
    assert_int_equal(plan->timeouts.attempt_ms, 60000);
    assert_int_equal(plan->timeouts.progress_ms, 60000);
    assert_int_equal(plan->timeouts.task_ms, 180000);
    assert_int_equal(plan->timeouts.stage_ms, 1800000); /* not a profile's */
    assert_int_equal(sl_plan_esc_analyzers(plan), 0);
    sl_plan_destroy(&plan);

    /* standard adds a load test: the performance tester with two tools */
    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"profile\": \"standard\"}}", gen);
    assert_int_equal(s_parse(json, &plan, err, sizeof(err)), 0);
    assert_true(plan->services[SL_SVC_PERFORMANCE]);
    assert_int_equal(plan->tools[SL_SVC_PERFORMANCE].n, 2);
    assert_false(plan->services[SL_SVC_DYNAMIC]);
    sl_plan_destroy(&plan);

    /* quick, then deep: every analyzer with all its tools, deep's timeouts;
       the request's own timeouts win over both profiles' */
    snprintf(json, sizeof(json),
             "{%s, \"analysis\": {\"profile\": \"quick\", \"escalate\": \"deep\", "
             "\"escalate_threshold\": 3}, \"timeouts\": {\"progress\": 7}}",
             gen);
    assert_int_equal(s_parse(json, &plan, err, sizeof(err)), 0);
    assert_string_equal(plan->escalate, "deep");
    assert_int_equal(plan->escalate_threshold, 3);
    assert_int_equal(sl_plan_esc_analyzers(plan), 4);
    for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
        assert_true(plan->esc_services[s]);
        assert_int_equal(plan->esc_tools[s].n, 0);
    }
    assert_int_equal(plan->esc_timeouts.attempt_ms, 900000);
    assert_int_equal(plan->esc_timeouts.task_ms, 3600000);
    assert_int_equal(plan->esc_timeouts.progress_ms, 7000);
    assert_int_equal(plan->timeouts.progress_ms, 7000);
    assert_int_equal(plan->timeouts.attempt_ms, 60000);
    assert_int_equal(sl_plan_task_bound(plan), 5); /* 1 quick + 4 deep */
    sl_plan_destroy(&plan);

    /* explicit tools win, among the profile's analyzers */
    snprintf(json, sizeof(json),
             "{%s, \"analysis\": {\"profile\": \"quick\", \"tools\": [\"semgrep\"]}}", gen);
    assert_int_equal(s_parse(json, &plan, err, sizeof(err)), 0);
    assert_true(plan->services[SL_SVC_STATIC]);
    assert_int_equal(plan->tools[SL_SVC_STATIC].n, 1);
    assert_string_equal(plan->tools[SL_SVC_STATIC].v[0], "semgrep");
    assert_int_equal(plan->timeouts.attempt_ms, 60000);
    sl_plan_destroy(&plan);

    snprintf(json, sizeof(json),
             "{%s, \"analysis\": {\"profile\": \"quick\", \"tools\": [\"bandit\", \"zap\"]}}", gen);
    s_bad(json, "analysis.tools[1]: tool 'zap' runs on dynamic-analyzer, which profile 'quick' "
                "does not run (its analyzers: static-analyzer)");
    snprintf(json, sizeof(json),
             "{%s, \"analysis\": {\"profile\": \"quick\", \"analyzers\": [\"static\"]}}", gen);
    s_bad(json, "analysis.analyzers: give analyzers or a profile, not both");
    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"profile\": \"fast\"}}", gen);
    s_bad(json, "analysis.profile: unknown profile 'fast' (known: quick, standard, deep");
    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"profile\": 3}}", gen);
    s_bad(json, "analysis.profile: must be a profile's name");
    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"escalate\": \"deeper\"}}", gen);
    s_bad(json, "analysis.escalate: unknown profile 'deeper'");
    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"escalate_threshold\": 2}}", gen);
    s_bad(json, "analysis.escalate_threshold: needs analysis.escalate");
    snprintf(json, sizeof(json),
             "{%s, \"analysis\": {\"escalate\": \"deep\", \"escalate_threshold\": -1}}", gen);
    s_bad(json, "analysis.escalate_threshold: must be an integer from 0");
    snprintf(json, sizeof(json),
             "{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"]}, "
             "\"analysis\": {\"enabled\": false, \"escalate\": \"deep\"}}");
    s_bad(json, "analysis.escalate: analysis is disabled");

    /* a profile of the configuration; its tools are checked when used */
    sl_config_t cfg;
    sl_config_defaults(&cfg);
    assert_int_equal(sl_config_load_str(&cfg,
                                        "profiles\n    web\n        analyzers = \"dynamic\"\n"
                                        "        tools = \"locust\"\n"
                                        "        attempt_timeout_s = 42\n"
                                        "    broken\n        tools = \"nikto\"\n",
                                        "t", err, sizeof(err)),
                     0);
    sl_plan_defaults_t d;
    sl_plan_defaults_from_config(&d, &cfg);
    uint8_t *buf = NULL;
    size_t len = 0;
    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"profile\": \"web\"}}", gen);
    assert_int_equal(pl_json_to_mp(json, &buf, &len), 0);
    assert_int_equal(sl_plan_parse(buf, len, &d, &plan, err, sizeof(err)), 0);
    assert_true(plan->services[SL_SVC_DYNAMIC]);
    assert_int_equal(plan->tools[SL_SVC_DYNAMIC].n, 0); /* all of dynamic's */
    assert_true(plan->services[SL_SVC_PERFORMANCE]);
    assert_string_equal(plan->tools[SL_SVC_PERFORMANCE].v[0], "locust");
    assert_int_equal(plan->timeouts.attempt_ms, 42000);
    assert_int_equal(plan->timeouts.progress_ms, 0); /* the service's */
    sl_plan_destroy(&plan);
    free(buf);

    /* escalating to it from quick: its 0s keep quick's, also when a
       restart parses the request again over the stored, resolved terms */
    snprintf(json, sizeof(json),
             "{%s, \"analysis\": {\"profile\": \"quick\", \"escalate\": \"web\"}, "
             "\"timeouts\": {\"stage\": 99}}",
             gen);
    assert_int_equal(pl_json_to_mp(json, &buf, &len), 0);
    assert_int_equal(sl_plan_parse(buf, len, &d, &plan, err, sizeof(err)), 0);
    sl_plan_timeouts_t esc = plan->esc_timeouts;
    assert_int_equal(esc.attempt_ms, 42000);
    assert_int_equal(esc.progress_ms, 60000);
    assert_int_equal(esc.task_ms, 180000);
    assert_int_equal(esc.stage_ms, 99000);
    sl_plan_defaults_t stored = d;
    stored.timeouts = plan->timeouts;
    sl_plan_destroy(&plan);
    assert_int_equal(sl_plan_parse(buf, len, &stored, &plan, err, sizeof(err)), 0);
    assert_memory_equal(&plan->esc_timeouts, &esc, sizeof(esc));
    sl_plan_destroy(&plan);
    free(buf);

    snprintf(json, sizeof(json), "{%s, \"analysis\": {\"profile\": \"broken\"}}", gen);
    s_bad_d(&d, json, "analysis.profile: profile 'broken' names tool 'nikto'");
}

static void test_plan_defaults_are_the_configs(void **state)
{
    (void)state;
    const sl_config_t *cfg = sl_config_builtin();
    sl_plan_defaults_t d;
    sl_plan_defaults_init(&d);
    assert_int_equal(d.max_concurrent_tasks, cfg->max_concurrent_tasks);
    assert_int_equal(d.max_concurrent_tasks, 64);
    assert_int_equal(d.timeouts.task_ms, cfg->task_timeout_ms);
    assert_int_equal(d.timeouts.stage_ms, cfg->stage_timeout_ms);
    assert_int_equal(d.timeouts.pipeline_ms, cfg->pipeline_timeout_ms);
    assert_int_equal(d.retry.max_attempts, cfg->max_attempts);
    assert_int_equal(d.retry.initial_ms, cfg->backoff_initial_ms);
    assert_int_equal(d.retry.max_ms, cfg->backoff_max_ms);
    assert_true(d.retry.coefficient == cfg->backoff_coefficient);
    sl_pipeline_config_t pc;
    sl_pipeline_config_init(&pc);
    assert_memory_equal(&pc.defaults, &d, sizeof(d));
    /* a request accepts what the configuration accepts, no more */
    char buf[256];
    sl_plan_t *plan = NULL;
    char err[256];
    snprintf(buf, sizeof(buf),
             "{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"], "
             "\"options\": {\"max_concurrent_tasks\": %d}}}",
             SL_CONFIG_MAX_CONCURRENT_TASKS);
    assert_int_equal(s_parse(buf, &plan, err, sizeof(err)), 0);
    assert_int_equal(plan->gen_limit, SL_CONFIG_MAX_CONCURRENT_TASKS);
    sl_plan_destroy(&plan);
    snprintf(buf, sizeof(buf),
             "{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"], "
             "\"options\": {\"max_concurrent_tasks\": %d}}}",
             SL_CONFIG_MAX_CONCURRENT_TASKS + 1);
    assert_int_equal(s_parse(buf, &plan, err, sizeof(err)), SL_EINVAL);
    assert_null(plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_defaults_are_the_configs),
        cmocka_unit_test(test_plan_profiles),
        cmocka_unit_test(test_plan_existing_app_details_and_options),
        cmocka_unit_test(test_plan_seed_shape),
        cmocka_unit_test(test_plan_tools_from_config_and_analyzers),
        cmocka_unit_test(test_plan_config_shape),
        cmocka_unit_test(test_plan_rejects_every_bad_field),
        cmocka_unit_test(test_plan_rejects_garbage_bytes),
        cmocka_unit_test(test_plan_limits_task_count),
        cmocka_unit_test(test_plan_tool_table),
        cmocka_unit_test(test_plan_expands_target_urls),
        cmocka_unit_test(test_plan_backoff_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
