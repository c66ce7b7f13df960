/*  sluiced: the sluice daemon.

    Loads the configuration (built-in defaults, then --config FILE, then the
    fleet's *_URLS environment variables), starts the runtime through the
    public embedding API and waits for SIGTERM, SIGINT or SIGHUP. Signals
    are blocked in every thread (the mask is set before any thread starts)
    and taken synchronously here with sigtimedwait, so no handler runs
    inside the actors. On SIGTERM/SIGINT: stop taking work and starting
    attempts (sluice_drain), let the running attempts finish up to the
    grace period, stop everything (the store commits last), exit 0. What
    did not finish or was held back resumes at the next start. On SIGHUP:
    sluice_reload with the same file, which applies what can change and
    logs what needs a restart.

    Under systemd (Type=notify, tools/packaging/systemd/sluiced.service) it
    sends READY=1 once the API is up and, when the unit sets WatchdogSec,
    WATCHDOG=1 every half interval but only while sluice_healthy() says the
    watchdog actor finds every actor answering: a wedged actor stops the
    heartbeat, and systemd restarts the daemon as it does after exit 70.

    Exit codes: 0 clean stop, 1 usage, 2 configuration error, 3 could not
    start (e.g. the data directory is held by another sluiced).
*/
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sluice/sluice.h>

#include "sd_notify.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: sluiced [--config FILE] [--set SECTION/KEY=VALUE]... [--print-config]\n"
            "       sluiced --check-config FILE\n"
            "\n"
            "Runs sluice: analysis pipelines against analyzer services, brought to an\n"
            "honest end. With no file every key has its built-in default (data in\n"
            "./sluice-data, API tcp://127.0.0.1:5570, PUB tcp://127.0.0.1:5571, progress\n"
            "listener ws://127.0.0.1:8765). STATIC_ANALYZER_URLS, DYNAMIC_ANALYZER_URLS,\n"
            "PERF_TESTER_URLS, AI_ANALYZER_URLS and GENERATOR_URLS override the services.\n"
            "\n"
            "  --config FILE         load a ZPL config file over the defaults\n"
            "  --set KEY=VALUE       set one key, e.g. --set sluice/data_dir=/tmp/d\n"
            "  --check-config FILE   validate FILE, name the bad key and line, exit\n"
            "  --print-config        print the effective configuration and exit\n"
            "  --help                this text\n"
            "\n"
            "SIGTERM/SIGINT drain and stop; SIGHUP reloads the config file (what cannot\n"
            "change without a restart is named in a warning). Under systemd: Type=notify,\n"
            "WATCHDOG=1 while every actor answers (tools/packaging/systemd/sluiced.service).\n"
            "\n"
            "Exit codes: 0 stopped cleanly, 1 usage, 2 configuration error, 3 could not start,\n"
            "70 an actor died or wedged.\n");
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_notify(const char *state)
{
    if (sld_notify(state) < 0) {
        sluice_log(SLUICE_LOG_WARN, "sluiced: cannot notify systemd (%s): %s", state,
                   strerror(errno));
    }
}

/* WATCHDOG=1 only while the runtime is healthy; says once when it stops
   and when it resumes. */
static void s_heartbeat(sluice_t *s, bool *withheld)
{
    if (sluice_healthy(s)) {
        if (*withheld) {
            sluice_log(SLUICE_LOG_WARN, "sluiced: every actor answers again; systemd watchdog "
                                        "heartbeat resumed");
            *withheld = false;
        }
        s_notify("WATCHDOG=1");
    } else if (!*withheld) {
        sluice_log(SLUICE_LOG_ERROR,
                   "sluiced: the watchdog reports an actor late or wedged: withholding the "
                   "systemd watchdog heartbeat (systemd restarts sluiced unless it recovers)");
        *withheld = true;
    }
}

static void s_reload(sluice_t *s, const char *config)
{
    char state[64];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%" PRId64,
             (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
    s_notify(state);
    sluice_log(SLUICE_LOG_INFO, "sluiced: SIGHUP received, reloading %s",
               config ? config : "(no config file: defaults, --set, environment)");
    int rc = sluice_reload(s, config);
    if (rc < 0) {
        sluice_log(SLUICE_LOG_ERROR, "sluiced: reload refused, still running as before: %s",
                   sluice_error(s));
    } else if (rc > 0) {
        sluice_log(SLUICE_LOG_WARN, "sluiced: reload applied except what %s", sluice_error(s));
    }
    s_notify("READY=1\nSTATUS=running");
}

/* Takes signals until SIGTERM or SIGINT (returned); beats the systemd
   watchdog in between and reloads on SIGHUP. */
static int s_serve(sluice_t *s, const sigset_t *set, const char *config)
{
    int64_t beat_ms = sld_watchdog_interval_ms();
    int64_t next = s_now_ms();
    bool withheld = false;
    for (;;) {
        int sig = 0;
        if (beat_ms > 0) {
            int64_t now = s_now_ms();
            if (now >= next) {
                s_heartbeat(s, &withheld);
                next = now + beat_ms;
            }
            int64_t left = next - now;
            struct timespec wait = {(time_t)(left / 1000), (long)(left % 1000) * 1000000};
            sig = sigtimedwait(set, NULL, &wait);
            if (sig < 0) {
                continue; /* EAGAIN: time to beat; EINTR: again */
            }
        } else if (sigwait(set, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            s_reload(s, config);
            continue;
        }
        return sig;
    }
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    bool print_config = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--check-config") && i + 1 < argc) {
            char err[512] = "";
            int rc = sluice_check_config(argv[i + 1], err, sizeof(err));
            if (rc) {
                fprintf(stderr, "sluiced: %s\n", err);
                return 2;
            }
            printf("%s: ok\n", argv[i + 1]);
            return 0;
        }
    }
    /* Block the stop signals before any thread exists: every thread inherits
       the mask, and only sigwait below ever takes them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    sluice_t *s = sluice_new(NULL);
    if (!s) {
        fprintf(stderr, "sluiced: out of memory\n");
        return 3;
    }
    int code = 0;
    for (int i = 1; i < argc && code == 0; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
            if (sluice_load_config(s, config)) {
                fprintf(stderr, "sluiced: %s\n", sluice_error(s));
                code = 2;
            }
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            char key[256];
            if (!eq || (size_t)(eq - kv) >= sizeof(key)) {
                fprintf(stderr, "sluiced: --set wants KEY=VALUE, got '%s'\n", kv);
                code = 1;
                break;
            }
            /* a copy of the key: argv stays as given (ps shows it) */
            memcpy(key, kv, (size_t)(eq - kv));
            key[eq - kv] = '\0';
            if (sluice_set(s, key, eq + 1)) {
                fprintf(stderr, "sluiced: --set %s: %s\n", key, sluice_error(s));
                code = 2;
            }
        } else if (!strcmp(argv[i], "--print-config")) {
            print_config = true;
        } else {
            fprintf(stderr, "sluiced: unknown argument '%s'\n", argv[i]);
            s_usage(stderr);
            code = 1;
        }
    }
    if (code == 0 && sluice_apply_env(s)) {
        fprintf(stderr, "sluiced: %s\n", sluice_error(s));
        code = 2;
    }
    if (code == 0 && print_config) {
        sluice_write_config(s, stdout);
        sluice_destroy(&s);
        return 0;
    }
    if (code == 0 && sluice_start(s)) {
        fprintf(stderr, "sluiced: %s\n", sluice_error(s));
        code = 3;
    }
    if (code) {
        sluice_destroy(&s);
        return code;
    }
    printf("sluiced: ready (pid %d)\n", (int)getpid());
    fflush(stdout);
    s_notify("READY=1\nSTATUS=running");
    int sig = s_serve(s, &stop, config);
    s_notify("STOPPING=1");
    sluice_log(SLUICE_LOG_INFO, "sluiced: %s received, draining",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sluice_drain(s, -1);
    sluice_destroy(&s);
    sluice_log(SLUICE_LOG_INFO, "sluiced: stopped");
    return 0;
}
