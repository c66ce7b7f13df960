/*  ctl_submit.c: `sluicectl submit`: builds a pipeline.start request from
    flags or from a JSON file in the seed's start-request shape, sends it,
    prints the pipeline id, and with --wait/--watch follows the pipeline to
    its final status.

    The request is assembled as a JSON object and encoded generically, so a
    request file's every field reaches the daemon with its JSON type intact;
    the daemon (actors/pipeline/sl_plan.c) is the one validator. Main thread only.
*/
#include "tools/sluicectl/ctl.h"

#include <stdlib.h>
#include <string.h>

#include "proto/sl_services.h"

static const char s_usage[] =
    "usage: sluicectl submit [request flags | --file REQUEST.json] [--wait | --watch]\n"
    "\n"
    "Starts a pipeline and prints its id.\n"
    "\n"
    "request flags (repeatable ones marked *):\n"
    "  --name NAME                 a label for the pipeline\n"
    "  --model M *                 generate apps with model M (with --template)\n"
    "  --template T *              ... from template T (models x templates apps)\n"
    "  --existing-app MODEL:N *    analyze existing app N of MODEL (no generation)\n"
    "  --analyzer A *              an analyzer with all of its tools (static-analyzer,\n"
    "                              dynamic-analyzer, performance-tester, ai-analyzer;\n"
    "                              or static, dynamic, performance, ai): its requests\n"
    "                              carry no tools list, the fleet's \"all tools\"\n"
    "  --tool T *                  a single tool (bandit, zap, snyk, ab-load-test, ...),\n"
    "                              sent to the analyzer whose tools setting lists it;\n"
    "                              neither = every analyzer with every tool\n"
    "  --profile P                 a scan profile: quick, standard, deep or one of\n"
    "                              the daemon's profiles/<name> (its analyzers, tools\n"
    "                              and timeouts; --tool picks among its analyzers)\n"
    "  --then P                    escalate: run profile P for each app whose first\n"
    "                              scan failed or found issues above the threshold\n"
    "  --escalate-threshold N      issues an app's first scan may find without\n"
    "                              escalating (default 0)\n"
    "  --no-analysis               generation only\n"
    "  --target-url TEMPLATE *     URL of a running app, {model} and {app} expanded\n"
    "  --max-concurrent N          analysis tasks at once (N=1: one at a time)\n"
    "  --sequential                analysis tasks one at a time (parallel: false)\n"
    "  --task-timeout S, --stage-timeout S, --pipeline-timeout S   seconds\n"
    "  --max-attempts N            attempts per task, the first included\n"
    "  --file REQUEST.json         the request as JSON: {name?, generation: {mode,\n"
    "                              models, templates, existing_apps}, analysis:\n"
    "                              {enabled, analyzers, tools, options: {parallel,\n"
    "                              max_concurrent_tasks, target_urls}}, timeouts?,\n"
    "                              retry?} (or the same under \"config\"); --name,\n"
    "                              timeouts and --max-attempts may still be given\n"
    "following:\n"
    "  --wait                      poll until the pipeline is final, print the task\n"
    "                              table; exit 0/2/3/4 as below\n"
    "  --watch                     the same, showing live progress (see watch --help)\n"
    "  --poll MS                   --wait's polling interval (default 1000)\n"
    "  --wait-timeout S            give up waiting after S seconds (exit 5)\n"
    "\n"
    "exit: 0 submitted (or completed), 1 usage, 2 partial_success, 3 failed,\n"
    "      4 cancelled, 5 daemon unreachable or wait timeout, 6 daemon error.\n";

/* Appends an --analyzer value: its service name when it is one of the
   declaration's analyzers or their aliases (proto/sl_services.def, the
   daemon's too), else as given, for the daemon to refuse by name. */
static void s_add_analyzer(json_t *analyzers, const char *value)
{
    int svc = sl_service_parse_alias(value, strlen(value));
    const char *name = svc >= 0 && svc < SL_SVC_ANALYZERS ? sl_service_name(svc) : value;
    json_array_append_new(analyzers, json_string(name));
}

static bool s_seconds(const char *s, double *out)
{
    char *end = NULL;
    double d = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || !(d > 0) || d > 1e9) {
        return false;
    }
    *out = d;
    return true;
}

/* Puts key: value into obj[section] (created as an object when missing). */
static void s_set_in(json_t *obj, const char *section, const char *key, json_t *value)
{
    json_t *sect = json_object_get(obj, section);
    if (!json_is_object(sect)) {
        sect = json_object();
        json_object_set_new(obj, section, sect);
    }
    json_object_set_new(sect, key, value);
}

/* Reads a request file into the {name?, config: {generation, analysis},
   timeouts?, retry?} parts of req. */
static int s_load_file(json_t *req, const char *path)
{
    json_error_t jerr;
    json_t *file = json_load_file(path, 0, &jerr);
    if (!file) {
        return ctl_usage_error("submit", "%s:%d: %s", path, jerr.line, jerr.text);
    }
    if (!json_is_object(file)) {
        json_decref(file);
        return ctl_usage_error("submit", "%s: the request must be a JSON object", path);
    }
    const json_t *cfg = json_object_get(file, "config");
    const json_t *from = json_is_object(cfg) ? cfg : file;
    json_t *config = json_object();
    const char *parts[] = {"generation", "analysis"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(from, parts[i]);
        if (v) {
            json_object_set(config, parts[i], v);
        }
    }
    json_object_set_new(req, "config", config);
    const char *extra[] = {"name", "timeouts", "retry"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(file, extra[i]);
        if (v) {
            json_object_set(req, extra[i], v);
        }
    }
    json_decref(file);
    if (!json_object_get(config, "generation")) {
        return ctl_usage_error("submit", "%s: no \"generation\" section", path);
    }
    return CTL_EXIT_OK;
}

typedef struct {
    json_t *req;
    json_t *models, *templates, *apps, *analyzers, *tools, *urls;
    const char *file;
    const char *profile, *then; /* analysis.profile, analysis.escalate */
    long long threshold;        /* analysis.escalate_threshold, -1 = not given */
    bool no_analysis, sequential, wait, watch;
    long long max_concurrent;
    long long poll_ms;
    double wait_s;
} s_submit_t;

static int s_parse(s_submit_t *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        double secs = 0;
        long long n = 0;
        if (strcmp(opt, "--wait") == 0) {
            s->wait = true, takes = false;
        } else if (strcmp(opt, "--watch") == 0) {
            s->watch = true, takes = false;
        } else if (strcmp(opt, "--no-analysis") == 0) {
            s->no_analysis = true, takes = false;
        } else if (strcmp(opt, "--sequential") == 0) {
            s->sequential = true, takes = false;
        } else if (!val) {
            return ctl_usage_error("submit", "'%s' is not an option or needs a value", opt);
        } else if (strcmp(opt, "--name") == 0) {
            json_object_set_new(s->req, "name", json_string(val));
        } else if (strcmp(opt, "--file") == 0) {
            s->file = val;
        } else if (strcmp(opt, "--model") == 0) {
            json_array_append_new(s->models, json_string(val));
        } else if (strcmp(opt, "--template") == 0) {
            json_array_append_new(s->templates, json_string(val));
        } else if (strcmp(opt, "--existing-app") == 0) {
            const char *colon = strrchr(val, ':');
            if (!colon || colon == val || !ctl_parse_int(colon + 1, 0, 2147483647, &n)) {
                return ctl_usage_error("submit", "--existing-app wants MODEL:N, not '%s'", val);
            }
            json_array_append_new(s->apps,
                                  json_pack("{s:s%,s:I}", "model", val, (size_t)(colon - val),
                                            "app_number", (json_int_t)n));
        } else if (strcmp(opt, "--profile") == 0) {
            s->profile = val;
        } else if (strcmp(opt, "--then") == 0) {
            s->then = val;
        } else if (strcmp(opt, "--escalate-threshold") == 0) {
            if (!ctl_parse_int(val, 0, 2147483647, &s->threshold)) {
                return ctl_usage_error("submit", "--escalate-threshold wants 0 or more, not '%s'",
                                       val);
            }
        } else if (strcmp(opt, "--analyzer") == 0) {
            s_add_analyzer(s->analyzers, val);
        } else if (strcmp(opt, "--tool") == 0) {
            json_array_append_new(s->tools, json_string(val));
        } else if (strcmp(opt, "--target-url") == 0) {
            json_array_append_new(s->urls, json_string(val));
        } else if (strcmp(opt, "--max-concurrent") == 0) {
            if (!ctl_parse_int(val, 1, 100000, &s->max_concurrent)) {
                return ctl_usage_error("submit", "--max-concurrent wants 1..100000, not '%s'", val);
            }
        } else if (strcmp(opt, "--task-timeout") == 0 || strcmp(opt, "--stage-timeout") == 0 ||
                   strcmp(opt, "--pipeline-timeout") == 0) {
            if (!s_seconds(val, &secs)) {
                return ctl_usage_error("submit", "%s wants seconds above 0, not '%s'", opt, val);
            }
            char key[16];
            snprintf(key, sizeof(key), "%.*s", (int)(strchr(opt + 2, '-') - (opt + 2)), opt + 2);
            s_set_in(s->req, "timeouts", key,
                     secs == (long long)secs ? json_integer((json_int_t)secs) : json_real(secs));
        } else if (strcmp(opt, "--max-attempts") == 0) {
            if (!ctl_parse_int(val, 1, 100, &n)) {
                return ctl_usage_error("submit", "--max-attempts wants 1..100, not '%s'", val);
            }
            s_set_in(s->req, "retry", "max_attempts", json_integer(n));
        } else if (strcmp(opt, "--poll") == 0) {
            if (!ctl_parse_int(val, 1, 3600000, &s->poll_ms)) {
                return ctl_usage_error("submit", "--poll wants milliseconds, not '%s'", val);
            }
        } else if (strcmp(opt, "--wait-timeout") == 0) {
            if (!s_seconds(val, &s->wait_s)) {
                return ctl_usage_error("submit", "--wait-timeout wants seconds, not '%s'", val);
            }
        } else {
            return ctl_usage_error("submit", "unknown option '%s'", opt);
        }
        i += takes ? 1 : 0;
    }
    return CTL_EXIT_OK;
}

/* Builds config {generation, analysis} from the flags. */
static int s_from_flags(s_submit_t *s)
{
    json_t *gen = json_object();
    if (json_array_size(s->apps) > 0) {
        if (json_array_size(s->models) || json_array_size(s->templates)) {
            json_decref(gen);
            return ctl_usage_error("submit",
                                   "--existing-app cannot be mixed with --model/--template");
        }
        json_object_set_new(gen, "mode", json_string("existing"));
        json_object_set(gen, "existing_apps", s->apps);
    } else if (json_array_size(s->models) && json_array_size(s->templates)) {
        json_object_set_new(gen, "mode", json_string("generate"));
        json_object_set(gen, "models", s->models);
        json_object_set(gen, "templates", s->templates);
    } else {
        json_decref(gen);
        return ctl_usage_error("submit", "needs --model and --template, --existing-app, or "
                                         "--file");
    }
    json_t *ana = json_object();
    json_object_set_new(ana, "enabled", json_boolean(!s->no_analysis));
    if (json_array_size(s->analyzers)) {
        json_object_set(ana, "analyzers", s->analyzers);
    }
    json_object_set(ana, "tools", s->tools);
    json_t *opts = json_object();
    json_object_set_new(opts, "parallel", json_boolean(!s->sequential && s->max_concurrent != 1));
    if (s->max_concurrent > 0) {
        json_object_set_new(opts, "max_concurrent_tasks", json_integer(s->max_concurrent));
    }
    if (json_array_size(s->urls)) {
        json_object_set(opts, "target_urls", s->urls);
    }
    json_object_set_new(ana, "options", opts);
    json_t *config = json_object();
    json_object_set_new(config, "generation", gen);
    json_object_set_new(config, "analysis", ana);
    json_object_set_new(s->req, "config", config);
    return CTL_EXIT_OK;
}

/* --profile, --then and --escalate-threshold into config.analysis (over a
   file's). */
static int s_profiles(s_submit_t *s)
{
    if (!s->profile && !s->then && s->threshold < 0) {
        return CTL_EXIT_OK;
    }
    if (s->threshold >= 0 && !s->then) {
        return ctl_usage_error("submit", "--escalate-threshold needs --then PROFILE");
    }
    json_t *config = json_object_get(s->req, "config");
    json_t *ana = json_object_get(config, "analysis");
    if (!json_is_object(ana)) {
        ana = json_object();
        json_object_set_new(config, "analysis", ana);
    }
    if (s->profile) {
        json_object_set_new(ana, "profile", json_string(s->profile));
    }
    if (s->then) {
        json_object_set_new(ana, "escalate", json_string(s->then));
    }
    if (s->threshold >= 0) {
        json_object_set_new(ana, "escalate_threshold", json_integer(s->threshold));
    }
    return CTL_EXIT_OK;
}

int ctl_cmd_submit(ctl_t *self, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv, s_usage)) {
        return CTL_EXIT_OK;
    }
    s_submit_t s = {.req = json_object(),
                    .models = json_array(),
                    .templates = json_array(),
                    .apps = json_array(),
                    .analyzers = json_array(),
                    .tools = json_array(),
                    .urls = json_array(),
                    .threshold = -1,
                    .poll_ms = 1000};
    int rc = s_parse(&s, argc, argv);
    if (rc == CTL_EXIT_OK && s.file) {
        if (json_array_size(s.models) || json_array_size(s.templates) || json_array_size(s.apps) ||
            json_array_size(s.analyzers) || json_array_size(s.tools) || json_array_size(s.urls) ||
            s.no_analysis || s.sequential || s.max_concurrent) {
            rc = ctl_usage_error("submit", "--file cannot be combined with generation or "
                                           "analysis flags");
        } else {
            /* Flags given before the file was read (name, timeouts, retry)
               win over the file's. */
            json_t *flags = json_deep_copy(s.req);
            rc = s_load_file(s.req, s.file);
            if (rc == CTL_EXIT_OK) {
                const char *key;
                json_t *v;
                json_object_foreach(flags, key, v)
                {
                    json_t *have = json_object_get(s.req, key);
                    if (json_is_object(have) && json_is_object(v)) {
                        json_object_update(have, v);
                    } else {
                        json_object_set(s.req, key, v);
                    }
                }
            }
            json_decref(flags);
        }
    } else if (rc == CTL_EXIT_OK) {
        rc = s_from_flags(&s);
    }
    if (rc == CTL_EXIT_OK) {
        rc = s_profiles(&s);
    }
    if (rc == CTL_EXIT_OK && s.wait && s.watch) {
        rc = ctl_usage_error("submit", "--wait and --watch are alternatives");
    }
    char id[256] = "";
    if (rc == CTL_EXIT_OK) {
        json_object_set_new(s.req, "op", json_string("pipeline.start"));
        if (!json_object_get(s.req, "name")) {
            json_object_set_new(s.req, "name", json_string(""));
        }
        ctl_reply_t reply;
        rc = ctl_call(self, s.req, &reply);
        const char *pid = ctl_str(reply.json, "pipeline_id", NULL);
        if (rc == CTL_EXIT_OK && (!pid || !*pid || strlen(pid) >= sizeof(id))) {
            fprintf(stderr, "sluicectl: submit: the reply holds no pipeline_id\n");
            rc = CTL_EXIT_DAEMON;
        } else if (rc == CTL_EXIT_OK) {
            snprintf(id, sizeof(id), "%s", pid);
        }
        if (self->json && reply.json && !(rc == CTL_EXIT_OK && (s.wait || s.watch))) {
            ctl_print_json(stdout, reply.json);
        } else if (rc == CTL_EXIT_OK) {
            printf("%s\n", id);
            fflush(stdout);
        }
        ctl_reply_clear(&reply);
    }
    if (rc == CTL_EXIT_OK && (s.wait || s.watch)) {
        rc =
            ctl_follow(self, id, s.watch, s.watch ? 0 : (int)s.poll_ms, (int64_t)(s.wait_s * 1000));
    }
    json_decref(s.req);
    json_decref(s.models);
    json_decref(s.templates);
    json_decref(s.apps);
    json_decref(s.analyzers);
    json_decref(s.tools);
    json_decref(s.urls);
    return rc;
}
