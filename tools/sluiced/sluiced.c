/*  sluiced: the sluice daemon.

    Loads the configuration (built-in defaults, then --config FILE, then the
    fleet's *_URLS environment variables), starts the runtime through the
    public embedding API and waits for SIGTERM or SIGINT. Signals are blocked
    in every thread (the mask is set before any thread starts) and taken
    synchronously here with sigwait, so no handler runs inside the actors.
    On a signal: stop taking work and starting attempts (sluice_drain), let
    the running attempts finish up to the grace period, stop everything (the
    store commits last), exit 0. What did not finish or was held back
    resumes at the next start.

    Exit codes: 0 clean stop, 1 usage, 2 configuration error, 3 could not
    start (e.g. the data directory is held by another sluiced).
*/
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sluice/sluice.h>

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
            "Exit codes: 0 stopped cleanly, 1 usage, 2 configuration error, 3 could not start.\n");
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
    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    fprintf(stderr, "sluiced: %s received, draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sluice_drain(s, -1);
    sluice_destroy(&s);
    fprintf(stderr, "sluiced: stopped\n");
    return 0;
}
