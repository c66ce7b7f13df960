/*  mock_main.c: sluice-mock-analyzer, a fleet of fake analyzer services.

    Parses the command line into replica configurations, starts the fleet
    (mock_fleet.c) on the main thread, prints the bound URLs for the caller
    to read back, and services it until SIGTERM/SIGINT or a `quit` on the
    control port. The usage text below is the reference for every flag.
*/
#include <errno.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/sl_err.h"
#include "tools/mock/mock_fleet.h"

#define S_REPLICAS_MAX 256

static const char *s_usage =
    "usage: sluice-mock-analyzer [options]\n"
    "\n"
    "Simulates the analyzer fleet (static-analyzer, dynamic-analyzer,\n"
    "performance-tester, ai-analyzer, generator) on 127.0.0.1, one WebSocket\n"
    "port per replica, with latency, progress and injected faults.\n"
    "\n"
    "replicas:\n"
    "  --replica SERVICE:127.0.0.1:PORT[:key=value]...   (repeatable; PORT 0 = any)\n"
    "      proto=legacy|mux        wire protocol (default legacy)\n"
    "      latency=MIN[-MAX]       analysis duration in ms, uniform (default 200-500)\n"
    "      progress=MS             progress cadence (default 100; 0 = first/last only)\n"
    "      heartbeat=MS            mux heartbeat interval (default 1000)\n"
    "      fault=PLAN              fault plan, see below\n"
    "      slow=MS                 handshake delay of the slow fault (default 3000)\n"
    "      stall_after=N           progress frames before stall/disconnect (default 2)\n"
    "      partial=on|off          mux progress carries a partial result (default off)\n"
    "      profile=uniform|real    uniform: a stage every progress ms; real: each real\n"
    "                              service's own pushes and silences (legacy)\n"
    "      cid=id|empty            legacy progress correlation_id (default: id for\n"
    "                              static/ai/generator, empty for dynamic/performance)\n"
    "      seed=N                  PRNG seed (latency and probabilistic faults)\n"
    "      fail_app=N              requests for app N get an error frame (repeatable)\n"
    "      verdict_app=N           requests for app N get 'Model path not found'\n"
    "      partial_app=N           requests for app N get an outer 'partial' result\n"
    "      tools=A,B,...           the replica's tools (health_response available_tools;\n"
    "                              requested tools it lacks are skipped, as the real\n"
    "                              services do; empty = none; default per service)\n"
    "      tls=CERT,KEY            serve wss:// with these PEM files\n"
    "  --config FILE               one replica spec per line (# comments)\n"
    "  --fleet incident            4 static, 3 dynamic, 2 performance, 2 ai, 1 generator\n"
    "  --base-port N               ports for --fleet: N, N+1, ... (default 0 = any)\n"
    "\n"
    "defaults for every replica (a replica's own key wins):\n"
    "  --proto legacy|mux  --latency MIN[-MAX]  --progress MS  --heartbeat MS\n"
    "  --profile uniform|real\n"
    "  --fault PLAN  --seed N  --fail-app N  --verdict-app N  (last two repeatable)\n"
    "\n"
    "fleet:\n"
    "  --gateway URL               push legacy progress_update frames to ws://HOST:PORT/PATH\n"
    "                              (a new connection per frame, like the real fleet)\n"
    "  --time-scale F              multiply every time by F (e.g. 0.01 in tests)\n"
    "  --control [127.0.0.1:]PORT  line-based control port (PORT 0 = any)\n"
    "  --pidfile PATH              write the process id\n"
    "  --verbose                   log connections and requests to stderr\n"
    "  --record FILE               append every request received to FILE, one JSON line\n"
    "                              {\"replica\", \"service\", \"frame\"} (the frame as sent)\n"
    "  --help\n"
    "\n"
    "fault PLAN: comma-separated items NAME (every request), NAME@N (the N-th\n"
    "  request, 1-based), NAME%P (each request with probability P percent).\n"
    "  Request faults: ok hang freeze stall disconnect error malformed verdict\n"
    "  block unreachable.\n"
    "  Connection faults (counted per connection): refuse slow.\n"
    "  hang: nothing sent; freeze: nothing sent and the socket is no longer read\n"
    "  (pings unanswered); stall: stall_after progress frames then silence;\n"
    "  disconnect: stall_after progress frames then TCP drop (no close frame);\n"
    "  stall=N, disconnect=N: once stage N (0 = the first) was reported instead.\n"
    "  error: error frame; malformed: a non-JSON text frame; verdict: outer\n"
    "  success with analysis.status error; refuse: closed right after accept;\n"
    "  slow: no handshake answer for slow ms.\n"
    "  block[=MS][/STAGE]: when the analysis reaches STAGE (default the first)\n"
    "  the whole replica stops for MS (default 12000): no pongs, no frames, no\n"
    "  pushes, no handshakes; then it resumes and completes normally.\n"
    "  unreachable: the app is down: the analysis runs, its result has outer\n"
    "  and inner status targets_unreachable (as dynamic and performance answer).\n"
    "mux resume: a request's resume_from naming one of the mock's checkpoints\n"
    "  (\"<stage>:<index>\") skips the stages before it; the result says\n"
    "  \"resumed_from\": \"<stage>\".\n"
    "\n"
    "output (stdout): 'replica SERVICE URL' per replica, 'control 127.0.0.1:PORT',\n"
    "  then 'ready'.\n"
    "control commands (one per line, one answer line 'ok ...' / 'error ...'):\n"
    "  down URL | up URL | fault URL PLAN | stats | ping | quit\n"
    "  (URL may be the full ws:// URL or just the port)\n";

static sl_mock_fleet_t *s_fleet;

static void s_on_signal(int sig)
{
    (void)sig;
    sl_mock_fleet_stop(s_fleet);
}

typedef struct {
    const char *specs[S_REPLICAS_MAX];
    char *owned[S_REPLICAS_MAX]; /* specs read from --config, freed at exit */
    int count;
    /* globals applied to every replica before its own keys */
    const char *proto, *latency, *progress, *heartbeat, *profile, *fault, *seed;
    const char *fail_apps[SL_MOCK_APPS_MAX], *verdict_apps[SL_MOCK_APPS_MAX];
    int fail_count, verdict_count;
} s_args_t;

static int s_add_spec(s_args_t *a, const char *spec, char *owned)
{
    if (a->count >= S_REPLICAS_MAX) {
        fprintf(stderr, "sluice-mock-analyzer: too many replicas (max %d)\n", S_REPLICAS_MAX);
        free(owned);
        return -1;
    }
    a->owned[a->count] = owned;
    a->specs[a->count++] = spec;
    return 0;
}

static int s_read_config(s_args_t *a, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "sluice-mock-analyzer: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[2048];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        p[strcspn(p, "\r\n#")] = '\0';
        size_t n = strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            p[--n] = '\0';
        }
        if (n == 0) {
            continue;
        }
        char *copy = strdup(p);
        rc = copy ? s_add_spec(a, copy, copy) : -1;
    }
    fclose(fp);
    return rc;
}

/* Builds one replica conf: service defaults, then the globals, then the
   spec's own keys. */
static int s_build_replica(const s_args_t *a, const char *spec, sl_mock_replica_conf_t *out)
{
    char svc_name[64], err[256] = "";
    size_t n = strcspn(spec, ":");
    if (n == 0 || n >= sizeof svc_name) {
        fprintf(stderr, "sluice-mock-analyzer: bad replica '%s'\n", spec);
        return -1;
    }
    memcpy(svc_name, spec, n);
    svc_name[n] = '\0';
    sl_service_t svc;
    if (sl_mock_service_parse(svc_name, &svc) != 0) {
        fprintf(stderr, "sluice-mock-analyzer: unknown service '%s'\n", svc_name);
        return -1;
    }
    sl_mock_replica_conf_defaults(out, svc);
    char global[1024];
    snprintf(global, sizeof global, "%s:127.0.0.1:0", svc_name);
#define S_GLOBAL(key, val)                                                                         \
    do {                                                                                           \
        if ((val) && strlen(global) + strlen(key) + strlen(val) + 3 < sizeof global) {             \
            strcat(global, ":" key "=");                                                           \
            strcat(global, (val));                                                                 \
        }                                                                                          \
    } while (0)
    S_GLOBAL("proto", a->proto);
    S_GLOBAL("latency", a->latency);
    S_GLOBAL("progress", a->progress);
    S_GLOBAL("heartbeat", a->heartbeat);
    S_GLOBAL("profile", a->profile);
    S_GLOBAL("fault", a->fault);
    S_GLOBAL("seed", a->seed);
    for (int i = 0; i < a->fail_count; i++) {
        S_GLOBAL("fail_app", a->fail_apps[i]);
    }
    for (int i = 0; i < a->verdict_count; i++) {
        S_GLOBAL("verdict_app", a->verdict_apps[i]);
    }
#undef S_GLOBAL
    if (sl_mock_replica_conf_parse(out, global, err, sizeof err) != 0) {
        fprintf(stderr, "sluice-mock-analyzer: bad default option: %s\n", err);
        return -1;
    }
    if (sl_mock_replica_conf_parse(out, spec, err, sizeof err) != 0) {
        fprintf(stderr, "sluice-mock-analyzer: bad replica '%s': %s\n", spec, err);
        return -1;
    }
    return 0;
}

static int s_parse_control(const char *s, int *port)
{
    const char *p = s;
    if (strncmp(p, "127.0.0.1:", 10) == 0) {
        p += 10;
    } else if (strchr(p, ':')) {
        return -1;
    }
    char *end = NULL;
    long v = strtol(p, &end, 10);
    if (end == p || *end != '\0' || v < 0 || v > 65535) {
        return -1;
    }
    *port = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    static s_args_t a;
    static sl_mock_replica_conf_t confs[S_REPLICAS_MAX];
    sl_mock_fleet_conf_t fc;
    memset(&fc, 0, sizeof fc);
    fc.time_scale = 1.0;
    const char *pidfile = NULL, *fleet_preset = NULL;
    long base_port = 0;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            fputs(s_usage, stdout);
            return 0;
        } else if (strcmp(opt, "--verbose") == 0) {
            fc.verbose = true;
            takes = false;
        } else if (!val) {
            fprintf(stderr, "sluice-mock-analyzer: %s needs a value (see --help)\n", opt);
            goto done;
        } else if (strcmp(opt, "--replica") == 0) {
            if (s_add_spec(&a, val, NULL) != 0) {
                goto done;
            }
        } else if (strcmp(opt, "--config") == 0) {
            if (s_read_config(&a, val) != 0) {
                goto done;
            }
        } else if (strcmp(opt, "--fleet") == 0) {
            if (strcmp(val, "incident") != 0) {
                fprintf(stderr, "sluice-mock-analyzer: unknown fleet '%s' (incident)\n", val);
                goto done;
            }
            fleet_preset = val;
        } else if (strcmp(opt, "--base-port") == 0) {
            char *end = NULL;
            base_port = strtol(val, &end, 10);
            if (*end != '\0' || base_port < 0 || base_port > 65535 - 16) {
                fprintf(stderr, "sluice-mock-analyzer: bad --base-port '%s'\n", val);
                goto done;
            }
        } else if (strcmp(opt, "--gateway") == 0) {
            snprintf(fc.gateway, sizeof fc.gateway, "%s", val);
        } else if (strcmp(opt, "--record") == 0) {
            snprintf(fc.record, sizeof fc.record, "%s", val);
        } else if (strcmp(opt, "--time-scale") == 0) {
            char *end = NULL;
            fc.time_scale = strtod(val, &end);
            if (*end != '\0' || !(fc.time_scale > 0.0) || fc.time_scale > 1000.0) {
                fprintf(stderr, "sluice-mock-analyzer: bad --time-scale '%s'\n", val);
                goto done;
            }
        } else if (strcmp(opt, "--control") == 0) {
            if (s_parse_control(val, &fc.control_port) != 0) {
                fprintf(stderr, "sluice-mock-analyzer: bad --control '%s'\n", val);
                goto done;
            }
            fc.control = true;
        } else if (strcmp(opt, "--pidfile") == 0) {
            pidfile = val;
        } else if (strcmp(opt, "--proto") == 0) {
            a.proto = val;
        } else if (strcmp(opt, "--latency") == 0) {
            a.latency = val;
        } else if (strcmp(opt, "--progress") == 0) {
            a.progress = val;
        } else if (strcmp(opt, "--heartbeat") == 0) {
            a.heartbeat = val;
        } else if (strcmp(opt, "--profile") == 0) {
            a.profile = val;
        } else if (strcmp(opt, "--fault") == 0) {
            a.fault = val;
        } else if (strcmp(opt, "--seed") == 0) {
            a.seed = val;
        } else if (strcmp(opt, "--fail-app") == 0 || strcmp(opt, "--verdict-app") == 0) {
            bool fail = opt[2] == 'f';
            int *n = fail ? &a.fail_count : &a.verdict_count;
            if (*n >= SL_MOCK_APPS_MAX) {
                fprintf(stderr, "sluice-mock-analyzer: too many %s\n", opt);
                goto done;
            }
            (fail ? a.fail_apps : a.verdict_apps)[(*n)++] = val;
        } else {
            fprintf(stderr, "sluice-mock-analyzer: unknown option '%s' (see --help)\n", opt);
            goto done;
        }
        if (takes) {
            i++;
        }
    }

    /* The incident fleet: one replica for each default port of each service
       (proto/sl_services.def), so as many as the real fleet runs. */
    static char preset_specs[16][64];
    int n_preset = 0;
    for (int svc = 0; fleet_preset && svc < SL_SVC__COUNT; svc++) {
        for (const char *p = sl_service_ports(svc); *p; p += strspn(p, " ")) {
            size_t len = strcspn(p, " ");
            p += len;
            if (len == 0) {
                continue;
            }
            if (n_preset == 16) {
                fprintf(stderr, "sluice-mock-analyzer: the incident fleet has over 16 replicas\n");
                goto done;
            }
            snprintf(preset_specs[n_preset], sizeof preset_specs[n_preset], "%s:127.0.0.1:%ld",
                     sl_service_name(svc), base_port ? base_port + n_preset : 0);
            if (s_add_spec(&a, preset_specs[n_preset++], NULL) != 0) {
                goto done;
            }
        }
    }
    if (a.count == 0) {
        fprintf(stderr, "sluice-mock-analyzer: no replicas (use --replica or --fleet; --help)\n");
        goto done;
    }
    for (int k = 0; k < a.count; k++) {
        if (s_build_replica(&a, a.specs[k], &confs[k]) != 0) {
            goto done;
        }
    }

    lws_set_log_level(fc.verbose ? (LLL_ERR | LLL_WARN | LLL_USER) : LLL_ERR, NULL);
    signal(SIGPIPE, SIG_IGN);
    s_fleet = sl_mock_fleet_new(&fc, confs, a.count);
    if (!s_fleet) {
        fprintf(stderr, "sluice-mock-analyzer: out of memory\n");
        rc = 1;
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int err = sl_mock_fleet_start(s_fleet);
    if (err != 0) {
        fprintf(stderr, "sluice-mock-analyzer: start failed: %s (%s)\n", sl_err_msg(err),
                err == SL_ECONFIG ? "bad --gateway URL" : "port in use or bad TLS files?");
        rc = 1;
        goto done;
    }
    if (pidfile) {
        FILE *fp = fopen(pidfile, "w");
        if (!fp) {
            fprintf(stderr, "sluice-mock-analyzer: cannot write %s: %s\n", pidfile,
                    strerror(errno));
            rc = 1;
            goto done;
        }
        fprintf(fp, "%ld\n", (long)getpid());
        fclose(fp);
    }
    sl_mock_fleet_print(s_fleet, stdout);
    sl_mock_fleet_run(s_fleet);
    rc = 0;
done:
    if (s_fleet) {
        /* Signals may still arrive; stop pointing the handler at freed memory. */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        sl_mock_fleet_t *f = s_fleet;
        s_fleet = NULL;
        sl_mock_fleet_destroy(&f);
    }
    if (pidfile && rc == 0) {
        unlink(pidfile);
    }
    for (int k = 0; k < a.count; k++) {
        free(a.owned[k]);
    }
    return rc;
}
