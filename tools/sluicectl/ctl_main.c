/*  ctl_main.c: sluicectl, the command-line client of sluiced.

    Parses the global options (anywhere on the line), picks the command, and
    runs it on the main thread with one ctl_t session. The usage text below
    is the reference for the global options and the exit codes; each command
    documents its own flags in `sluicectl COMMAND --help`.
*/
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/sluicectl/ctl.h"

volatile int ctl_interrupted;

static const char s_usage[] =
    "usage: sluicectl [global options] COMMAND [args]\n"
    "\n"
    "commands:\n"
    "  submit ...            start a pipeline (flags or --file); --wait / --watch\n"
    "  get ID                pipeline summary and per-task table\n"
    "  list                  pipelines [--status S] [--limit N]\n"
    "  watch [ID]            live events (progress bars on a terminal)\n"
    "  cancel ID             cancel a pipeline\n"
    "  task TASK_ID          one task record\n"
    "  result TASK_ID        the analyzer's raw JSON result [--attempt N] [-o FILE]\n"
    "  dlq list|retry TASK_ID|retry --all|drop TASK_ID\n"
    "  endpoints             replicas, breaker states, in-flight, latency\n"
    "  stats                 daemon counters\n"
    "  ping                  is the daemon there?\n"
    "  `sluicectl COMMAND --help` describes each one.\n"
    "\n"
    "global options:\n"
    "  --api ENDPOINT        the daemon's API (env SLUICE_API; default " CTL_DEFAULT_API ")\n"
    "  --pub ENDPOINT        the daemon's events (env SLUICE_PUB; default " CTL_DEFAULT_PUB ")\n"
    "  --timeout MS          deadline of each request (default 10000)\n"
    "  --curve-server-key FILE  the daemon's public certificate, when it requires\n"
    "                        CURVE (env SLUICE_CURVE_SERVER_KEY)\n"
    "  --curve-client FILE   this client's secret certificate, allowed by the\n"
    "                        daemon (env SLUICE_CURVE_CLIENT); a key the daemon\n"
    "                        does not allow gets no reply (exit 5)\n"
    "  --json                print the daemon's replies as JSON (bin as base64;\n"
    "                        a result's JSON text embedded)\n"
    "  --help                this text\n"
    "\n"
    "exit codes:\n"
    "  0  success (submit --wait / watch ID: pipeline completed)\n"
    "  1  usage error (bad flags, unreadable request file)\n"
    "  2  pipeline ended partial_success   (submit --wait/--watch, watch ID)\n"
    "  3  pipeline ended failed\n"
    "  4  pipeline ended cancelled\n"
    "  5  daemon unreachable: no reply within --timeout (or --wait-timeout passed)\n"
    "  6  the daemon answered an error (code and message on stderr) or a malformed\n"
    "     reply, or dropped a request too big to read\n"
    "  130 interrupted (SIGINT) while waiting or watching\n";

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sluicectl: %s%s", cmd ? cmd : "", cmd ? ": " : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see sluicectl %s%s--help)\n", cmd ? cmd : "", cmd ? " " : "");
    return CTL_EXIT_USAGE;
}

bool ctl_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    if (!s || !*s) {
        return false;
    }
    long long v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static void s_on_sigint(int sig)
{
    ctl_interrupted = 1;
}

static const struct {
    const char *name;
    int (*fn)(ctl_t *, int, char **);
} s_commands[] = {
    {"submit", ctl_cmd_submit}, {"get", ctl_cmd_get},       {"list", ctl_cmd_list},
    {"watch", ctl_cmd_watch},   {"cancel", ctl_cmd_cancel}, {"task", ctl_cmd_task},
    {"result", ctl_cmd_result}, {"dlq", ctl_cmd_dlq},       {"endpoints", ctl_cmd_endpoints},
    {"stats", ctl_cmd_stats},   {"ping", ctl_cmd_ping},
};

int main(int argc, char **argv)
{
    ctl_t ctl = {.api = getenv("SLUICE_API"),
                 .pub = getenv("SLUICE_PUB"),
                 .timeout_ms = CTL_DEFAULT_TIMEOUT_MS,
                 .tty = isatty(STDOUT_FILENO)};
    if (!ctl.api || !*ctl.api) {
        ctl.api = CTL_DEFAULT_API;
    }
    if (!ctl.pub || !*ctl.pub) {
        ctl.pub = CTL_DEFAULT_PUB;
    }
    const char *curve_server = getenv("SLUICE_CURVE_SERVER_KEY");
    const char *curve_client = getenv("SLUICE_CURVE_CLIENT");
    /* The command's argv: everything but the global options. */
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    if (!args) {
        return CTL_EXIT_USAGE;
    }
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long ms = 0;
        if (strcmp(a, "--json") == 0) {
            ctl.json = true;
        } else if (n == 0 && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(s_usage, stdout);
            free(args);
            return CTL_EXIT_OK;
        } else if (strcmp(a, "--curve-server-key") == 0 || strcmp(a, "--curve-client") == 0) {
            if (!val) {
                free(args);
                return ctl_usage_error(NULL, "%s needs a value", a);
            }
            *(strcmp(a, "--curve-client") == 0 ? &curve_client : &curve_server) = val;
            i++;
        } else if (strcmp(a, "--api") == 0 || strcmp(a, "--pub") == 0 ||
                   strcmp(a, "--timeout") == 0) {
            if (!val) {
                free(args);
                return ctl_usage_error(NULL, "%s needs a value", a);
            }
            if (strcmp(a, "--api") == 0) {
                ctl.api = val;
            } else if (strcmp(a, "--pub") == 0) {
                ctl.pub = val;
            } else if (ctl_parse_int(val, 1, 86400000, &ms)) {
                ctl.timeout_ms = (int)ms;
            } else {
                free(args);
                return ctl_usage_error(NULL, "--timeout wants milliseconds, not '%s'", val);
            }
            i++;
        } else if (n == 0 && a[0] == '-') {
            free(args);
            return ctl_usage_error(NULL, "unknown option '%s'", a);
        } else {
            args[n++] = argv[i];
        }
    }
    if (n == 0) {
        free(args);
        fputs(s_usage, stderr);
        return CTL_EXIT_USAGE;
    }
    if (ctl_curve_setup(&ctl, curve_server, curve_client) != CTL_EXIT_OK) {
        free(args);
        return CTL_EXIT_USAGE;
    }
    int rc = -1;
    for (size_t c = 0; c < sizeof(s_commands) / sizeof(s_commands[0]); c++) {
        if (strcmp(args[0], s_commands[c].name) == 0) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_handler = s_on_sigint;
            sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: waits return EINTR */
            signal(SIGPIPE, SIG_IGN);
            rc = s_commands[c].fn(&ctl, n, args);
            break;
        }
    }
    if (rc < 0) {
        rc = ctl_usage_error(NULL, "unknown command '%s'", args[0]);
    }
    ctl_close(&ctl);
    free(args);
    return rc;
}
