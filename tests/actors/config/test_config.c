/*  test_config.c: defaults, ZPL loading, errors naming file:line:key, env. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/config/sl_config.h"
#include "proto/sl_services.h"
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
    /* from how each real service reports progress (README) */
    assert_int_equal(st->progress_timeout_ms, 900000);
    assert_int_equal(st->attempt_timeout_ms, 1800000);
    assert_int_equal(st->liveness_grace_ms, 90000);
    assert_int_equal(st->heartbeat_timeout_ms, 120000);
    const sl_service_conf_t *ai = sl_config_service(&cfg, "ai-analyzer");
    assert_int_equal(ai->progress_timeout_ms, 1200000);
    assert_int_equal(sl_config_service(&cfg, "generator")->progress_timeout_ms, 120000);
    assert_int_equal(st->max_in_flight, 2);
    /* one at a time where the service keeps one analysis's state */
    assert_int_equal(sl_config_service(&cfg, "performance-tester")->max_in_flight, 1);
    assert_int_equal(sl_config_service(&cfg, "dynamic-analyzer")->max_in_flight, 1);
    assert_int_equal(sl_config_service(&cfg, "ai-analyzer")->max_in_flight, 2);
    assert_int_equal(sl_config_service(&cfg, "generator")->max_in_flight, 2);
    assert_int_equal(cfg.max_concurrent_tasks, 64);
    assert_int_equal(cfg.max_request_bytes, 1 << 20);
    assert_string_equal(st->op, "static_analyze");
    assert_string_equal(st->protocol, "legacy");
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
                       "        progress_timeout_s = 0\n"
                       "        liveness_grace_s = 0\n"
                       "        heartbeat_timeout_s = 15\n";
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
    assert_int_equal(ai->liveness_grace_ms, 0);
    assert_int_equal(ai->heartbeat_timeout_ms, 15000);
    assert_int_equal(ai->progress_timeout_ms, 0);
}

/* Every service of the declaration, with its declared defaults; the
   built-in configuration is what sl_config_defaults gives. */
static void test_config_services_follow_the_declaration(void **state)
{
    sl_config_t cfg;
    sl_config_defaults(&cfg);
    assert_memory_equal(&cfg, sl_config_builtin(), sizeof(cfg));
    assert_int_equal(cfg.n_services, SL_SVC__COUNT);
    for (int i = 0; i < SL_SVC__COUNT; i++) {
        const sl_service_conf_t *svc = &cfg.services[i];
        assert_string_equal(svc->name, sl_service_name(i));
        assert_string_equal(svc->op, sl_service_op(i));
        assert_int_equal(svc->max_in_flight, sl_service_max_in_flight(i));
        char first[64];
        snprintf(first, sizeof(first), "ws://127.0.0.1:%d", atoi(sl_service_ports(i)));
        assert_string_equal(svc->urls[0], first);
    }
    sl_service_conf_t one;
    sl_config_service_defaults(&one, "ai-analyzer");
    assert_memory_equal(&one, sl_config_service(&cfg, "ai-analyzer"), sizeof(one));
    sl_config_service_defaults(&one, "nope");
    assert_string_equal(one.name, "");
    assert_int_equal(one.n_urls, 0);
    assert_int_equal(one.max_in_flight, 0);
    assert_int_equal(one.attempt_timeout_ms, 0); /* per service: none for an unknown one */
    assert_int_equal(one.liveness_grace_ms, 90000);
    /* the request's bound is the configuration's bound */
    char err[512] = "";
    char text[128];
    snprintf(text, sizeof(text), "pipeline\n    max_concurrent_tasks = %d\n",
             SL_CONFIG_MAX_CONCURRENT_TASKS + 1);
    assert_int_equal(sl_config_load_str(&cfg, text, "t.cfg", err, sizeof(err)), SL_ECONFIG);
    snprintf(text, sizeof(text), "pipeline\n    max_concurrent_tasks = %d\n",
             SL_CONFIG_MAX_CONCURRENT_TASKS);
    assert_int_equal(sl_config_load_str(&cfg, text, "t.cfg", err, sizeof(err)), 0);
}

/* Each bad file names the file, the line and the key, and changes nothing. */
/* services/<name>/tools: a list, spaces around names dropped; "" = none. */
static void test_config_tools_setting(void **state)
{
    sl_config_t cfg;
    sl_config_defaults(&cfg);
    assert_non_null(strstr(sl_config_service(&cfg, "static-analyzer")->tools, "snyk"));
    assert_string_equal(sl_config_service(&cfg, "generator")->tools, "");
    char err[512] = "";
    assert_int_equal(sl_config_load_str(&cfg,
                                        "services\n    static-analyzer\n        tools = \"bandit, "
                                        "My-Scanner\"\n    ai-analyzer\n        tools = \"\"\n",
                                        "t.cfg", err, sizeof(err)),
                     0);
    const char *st = sl_config_service(&cfg, "static-analyzer")->tools;
    assert_string_equal(st, "bandit,My-Scanner");
    assert_true(sl_config_tools_have(st, "my-scanner", 10));
    assert_false(sl_config_tools_have(st, "my-scan", 7));
    assert_false(sl_config_tools_have(st, "", 0));
    assert_string_equal(sl_config_service(&cfg, "ai-analyzer")->tools, "");
}

/* profiles/<name>/: three built in, changed or added by a file, checked
   like every other key. */
static void test_config_profiles(void **state)
{
    (void)state;
    sl_config_t cfg;
    sl_config_defaults(&cfg);
    assert_int_equal(cfg.n_profiles, 3);
    assert_string_equal(sl_config_profile(&cfg, "quick")->tools,
                        "bandit,detect-secrets,pylint,ruff,eslint");
    assert_int_equal(sl_config_profile(&cfg, "deep")->attempt_timeout_ms, 900000);
    assert_null(sl_config_profile(&cfg, "web"));
    char err[512] = "";
    assert_int_equal(sl_config_load_str(&cfg,
                                        "profiles\n    quick\n        task_timeout_s = 90\n"
                                        "    web\n        analyzers = \"dynamic, performance\"\n",
                                        "t.cfg", err, sizeof(err)),
                     0);
    assert_int_equal(cfg.n_profiles, 4);
    assert_int_equal(sl_config_profile(&cfg, "quick")->task_timeout_ms, 90000);
    assert_int_equal(sl_config_profile(&cfg, "quick")->attempt_timeout_ms, 60000);
    const sl_profile_conf_t *web = sl_config_profile(&cfg, "web");
    assert_string_equal(web->analyzers, "dynamic-analyzer,performance-tester");
    assert_string_equal(web->tools, "");
    assert_int_equal(web->attempt_timeout_ms, 0);
    struct {
        const char *text;
        const char *expect;
    } bad[] = {
        {"profiles\n    x\n        analyzers = \"static,zap\"\n",
         "t.cfg:3: profiles/x/analyzers: 'zap' is not an analyzer"},
        {"profiles\n    x\n        speed = 1\n", "t.cfg:3: profiles/x/speed: unknown key"},
        {"profiles\n    Quick\n        tools = \"bandit\"\n",
         "t.cfg:2: profiles/Quick: a profile name is 1 to 63 of a-z 0-9 _ -"},
        {"profiles\n    x\n        task_timeout_s = -1\n",
         "t.cfg:3: profiles/x/task_timeout_s: -1 is out of range"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sl_config_load_str(&cfg, bad[i].text, "t.cfg", err, sizeof(err)),
                         SL_ECONFIG);
        if (!strstr(err, bad[i].expect)) {
            fail_msg("'%s': got '%s'", bad[i].expect, err);
        }
    }
    assert_int_equal(cfg.n_profiles, 4); /* a bad file changes nothing */
}

static void test_config_errors_name_line_and_key(void **state)
{
    struct {
        const char *text;
        const char *expect;
    } cases[] = {
        {"pipeline\n    task_timeout_s = abc\n",
         "t.cfg:2: pipeline/task_timeout_s: expected a whole number"},
        {"pipeline\n    max_attempts = 0\n", "t.cfg:2: pipeline/max_attempts: 0 is out of range"},
        {"sluice\n    shard = 2\n", "t.cfg:2: sluice/shard: unknown key"},
        {"nosuch\n    a = 1\n", "t.cfg:1: nosuch: unknown section"},
        {"services\n    x-analyzer\n        urls = ws://a:1\n",
         "t.cfg:2: services/x-analyzer: unknown service"},
        {"services\n    generator\n        urls = http://a:1\n",
         "t.cfg:3: services/generator/urls: 'http://a:1' is not a ws://"},
        {"services\n    generator\n        protocol = grpc\n",
         "t.cfg:3: services/generator/protocol: expected legacy or mux"},
        {"store\n  nosync = true\n", "t.cfg:2: indent with multiples of 4 spaces"},
        {"store\n    nosync = maybe\n", "t.cfg:2: store/nosync: expected true or false"},
        {"sluice\n    log_level = loud\n", "sluice/log_level: expected debug"},
        {"services\n    static-analyzer\n        tools = \"bandit,rm;rf\"\n",
         "t.cfg:3: services/static-analyzer/tools: 'rm;rf' is not a tool name"},
        {"services\n    static-analyzer\n        tools = \"bandit,a/b\"\n",
         "services/static-analyzer/tools: 'a/b' is not a tool name"},
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

/* ---- the README's key tables are what --print-config prints ------------- */

typedef struct {
    char path[160]; /* "pipeline/max_attempts", "services/generator/urls" */
    char value[1024];
    bool seen;
} s_entry_t;

/* sl_config_write's ZPL output -> path/value pairs (quotes stripped). */
static size_t s_print_config(s_entry_t *out, size_t max)
{
    sl_config_t cfg;
    sl_config_defaults(&cfg);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(sl_config_write(&cfg, f), 0);
    fclose(f);
    char stack[3][64] = {{0}};
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t depth = strspn(line, " ") / 4;
        char *body = line + depth * 4;
        char *eq = strstr(body, " = ");
        assert_true(depth < 3);
        if (!eq) {
            snprintf(stack[depth], sizeof(stack[depth]), "%s", body);
            continue;
        }
        *eq = '\0';
        char *v = eq + 3;
        if (*v == '"') {
            v++;
            v[strlen(v) - 1] = '\0';
        }
        assert_true(n < max);
        s_entry_t *e = &out[n++];
        e->path[0] = '\0';
        for (size_t d = 0; d < depth; d++) {
            snprintf(e->path + strlen(e->path), sizeof(e->path) - strlen(e->path), "%s/", stack[d]);
        }
        snprintf(e->path + strlen(e->path), sizeof(e->path) - strlen(e->path), "%s", body);
        snprintf(e->value, sizeof(e->value), "%s", v);
        e->seen = false;
    }
    free(text);
    return n;
}

static s_entry_t *s_entry(s_entry_t *e, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].path, path) == 0) {
            return &e[i];
        }
    }
    fail_msg("README names '%s', which --print-config does not print", path);
    return NULL;
}

/* The value a README cell states: the first `code` span, else the first
   word. */
static void s_cell_value(const char *cell, char *out, size_t size)
{
    const char *tick = strchr(cell, '`');
    if (tick) {
        size_t n = strcspn(tick + 1, "`");
        snprintf(out, size, "%.*s", (int)n, tick + 1);
    } else {
        cell += strspn(cell, " ");
        snprintf(out, size, "%.*s", (int)strcspn(cell, " |"), cell);
    }
    if (strcmp(out, "\"\"") == 0) {
        out[0] = '\0';
    }
}

/* "static-analyzer `2001,2051`; dynamic-analyzer `2002`" -> the value for
   name, or NULL when the cell does not list services. */
static bool s_cell_for(const char *cell, const char *name, char *out, size_t size)
{
    const char *p = strstr(cell, name);
    if (!p) {
        return false;
    }
    s_cell_value(p + strlen(name), out, size);
    return true;
}

static void test_config_readme_matches_print_config(void **state)
{
    static s_entry_t entries[256];
    size_t n = s_print_config(entries, 256);
    const char *src = getenv("SLUICE_SOURCE_DIR");
    assert_non_null(src);
    char path[512];
    snprintf(path, sizeof(path), "%s/README.md", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    bool in_section = false;
    int rows = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "## ", 3) == 0) {
            in_section = strcmp(line, "## Configuration\n") == 0;
            continue;
        }
        if (!in_section || strncmp(line, "| `", 3) != 0) {
            continue;
        }
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)strcspn(line + 3, "`"), line + 3);
        char *cell = strchr(line + 3 + strlen(key) + 1, '|');
        assert_non_null(cell);
        cell++;
        cell[strcspn(cell, "|")] = '\0';
        char want[1024], got[1024];
        rows++;
        if (strchr(key, '/')) {
            s_entry_t *e = s_entry(entries, n, key);
            s_cell_value(cell, got, sizeof(got));
            if (strcmp(got, e->value) != 0) {
                fail_msg("README %s: default '%s', --print-config '%s'", key, got, e->value);
            }
            e->seen = true;
            continue;
        }
        for (int svc = 0; svc < SL_SVC__COUNT; svc++) {
            snprintf(path, sizeof(path), "services/%s/%s", sl_service_name(svc), key);
            s_entry_t *e = s_entry(entries, n, path);
            snprintf(want, sizeof(want), "%s", e->value);
            if (strcmp(key, "urls") == 0) {
                /* the README lists the ports: "ws://127.0.0.1:2001,..." -> "2001,..." */
                char *o = want;
                for (const char *u = e->value; *u;) {
                    const char *colon = strchr(u + 5, ':');
                    size_t len = strcspn(colon + 1, ",");
                    o += sprintf(o, "%s%.*s", o == want ? "" : ",", (int)len, colon + 1);
                    u = colon + 1 + len + (colon[1 + len] == ',');
                }
            }
            if (!s_cell_for(cell, sl_service_name(svc), got, sizeof(got))) {
                s_cell_value(cell, got, sizeof(got));
            }
            if (strcmp(got, want) != 0) {
                fail_msg("README %s: default '%s', --print-config '%s'", path, got, want);
            }
            e->seen = true;
        }
    }
    fclose(f);
    assert_true(rows > 20);
    for (size_t i = 0; i < n; i++) {
        if (!entries[i].seen) {
            fail_msg("--print-config prints '%s', which the README's tables do not list",
                     entries[i].path);
        }
    }
}

static void s_collect(const char *path, void *arg)
{
    char *out = arg;
    size_t len = strlen(out);
    snprintf(out + len, 1024 - len, "%s%s", len ? " " : "", path);
}

static void test_config_log_format_and_diff(void **state)
{
    sl_config_t *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    char err[256];
    sl_config_defaults(a);
    assert_string_equal(a->log_format, "text");
    *b = *a;
    assert_int_equal(
        sl_config_load_str(b, "sluice\n    log_format = \"yaml\"\n", "t.zpl", err, sizeof(err)),
        SL_ECONFIG);
    assert_non_null(strstr(err, "sluice/log_format"));
    assert_non_null(strstr(err, "expected text or json"));
    assert_string_equal(b->log_format, "text"); /* a bad file changes nothing */

    char paths[1024] = "";
    assert_int_equal(sl_config_diff(a, b, s_collect, paths), 0);
    assert_int_equal(sl_config_load_str(b,
                                        "sluice\n    log_format = \"json\"\n"
                                        "api\n    max_request_bytes = 4096\n"
                                        "services\n    generator\n"
                                        "        urls = \"ws://g:1,ws://g:2\"\n"
                                        "        open_for_s = 5\n",
                                        "t.zpl", err, sizeof(err)),
                     0);
    assert_int_equal(sl_config_diff(a, b, s_collect, paths), 4);
    assert_string_equal(paths, "sluice/log_format api/max_request_bytes services/generator/urls "
                               "services/generator/open_for_s");
    free(a);
    free(b);
}

/* The progress listener's keys: defaults, and the combinations
   sl_config_check refuses (wss:// without a certificate, a certificate
   without wss://). */
static void test_config_progress_listener_keys(void **state)
{
    (void)state;
    sl_config_t *cfg = calloc(1, sizeof *cfg);
    assert_non_null(cfg);
    char err[256];
    sl_config_defaults(cfg);
    assert_string_equal(cfg->progress_path, "");
    assert_int_equal(cfg->progress_max_frame_bytes, 65536);
    assert_int_equal(cfg->progress_max_connections_per_s, 200);
    assert_int_equal(sl_config_check(cfg, err, sizeof err), 0);
    assert_int_equal(sl_config_load_str(cfg,
                                        "progress\n    listen = \"wss://0.0.0.0:8765\"\n"
                                        "    path = \"t0ken\"\n",
                                        "t.cfg", err, sizeof err),
                     SL_ECONFIG);
    assert_non_null(strstr(err, "wss:// needs progress/cert_file"));
    sl_config_defaults(cfg);
    assert_int_equal(sl_config_load_part(cfg,
                                         "progress\n    listen = \"wss://0.0.0.0:8765\"\n"
                                         "    path = \"t0ken\"\n",
                                         "set", err, sizeof err),
                     0);
    assert_string_equal(cfg->progress_path, "t0ken");
    assert_int_equal(sl_config_check(cfg, err, sizeof err), SL_ECONFIG);
    assert_string_equal(err,
                        "progress/listen: wss:// needs progress/cert_file and progress/key_file");
    assert_int_equal(sl_config_load_part(cfg,
                                         "progress\n    cert_file = \"/c.pem\"\n"
                                         "    key_file = \"/k.pem\"\n",
                                         "set", err, sizeof err),
                     0);
    assert_int_equal(sl_config_check(cfg, err, sizeof err), 0);
    assert_int_equal(sl_config_load_part(cfg, "progress\n    listen = \"ws://0.0.0.0:8765\"\n",
                                         "set", err, sizeof err),
                     0);
    assert_int_equal(sl_config_check(cfg, err, sizeof err), SL_ECONFIG);
    assert_non_null(strstr(err, "progress/cert_file: needs a wss:// progress/listen"));
    sl_config_defaults(cfg);
    assert_int_equal(
        sl_config_load_part(cfg, "progress\n    path = \"a?b\"\n", "set", err, sizeof err), 0);
    assert_int_equal(sl_config_check(cfg, err, sizeof err), SL_ECONFIG);
    assert_non_null(strstr(err, "progress/path"));
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_match_design),
        cmocka_unit_test(test_config_loads_values),
        cmocka_unit_test(test_config_services_follow_the_declaration),
        cmocka_unit_test(test_config_readme_matches_print_config),
        cmocka_unit_test(test_config_tools_setting),
        cmocka_unit_test(test_config_profiles),
        cmocka_unit_test(test_config_errors_name_line_and_key),
        cmocka_unit_test(test_config_env_overrides_fleet_urls),
        cmocka_unit_test(test_config_written_config_loads_back),
        cmocka_unit_test(test_config_log_format_and_diff),
        cmocka_unit_test(test_config_progress_listener_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
