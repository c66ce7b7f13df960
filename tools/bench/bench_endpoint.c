/*  bench_endpoint.c: `sluice-bench endpoint`, attempts per second through
    one endpoint actor against the mock fleet with instant results.

    Starts sluice-mock-analyzer as a child process (loopback, ephemeral
    ports, stopped by pid), spawns one endpoint actor per protocol (legacy: a
    connection per attempt; mux: one connection per replica) and keeps a
    window of attempts outstanding from a port on the main thread for a
    fixed time. Prints attempts/s and CPU per attempt: of the endpoint
    actor's thread and of its lws I/O thread (each thread's own CPU time
    from /proc/self/task, found as the threads the spawn added), of the
    whole process (actor + I/O thread + this driver) and of the mock (a
    separate process). The runtime's handler time is wall-clock time inside
    the actor's handlers: on a loaded 2-core machine it includes time the
    thread spent preempted, so it is printed only as a cross-check.
*/
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actors/endpoint/sl_endpoint.h"
#include "proto/sl_catalog.h"
#include "proto/sl_outcome.h"
#include "runtime/sl_actor.h"
#include "runtime/sl_log.h"
#include "tools/bench/bench.h"

#define S_REPLICAS_MAX 8

static int64_t s_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double s_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

typedef struct {
    pid_t pid;
    int fd;
    int n;
    char url[S_REPLICAS_MAX * 2][128];
} s_mock_t;

/* The mock sits next to this binary in the build tree (tools/). */
static void s_mock_path(const char *argv0, char *buf, size_t size)
{
    const char *env = getenv("SLUICE_MOCK");
    if (env) {
        snprintf(buf, size, "%s", env);
        return;
    }
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
        }
        snprintf(buf, size, "%s/sluice-mock-analyzer", self);
        if (access(buf, X_OK) == 0) {
            return;
        }
    }
    (void)argv0;
    snprintf(buf, size, "sluice-mock-analyzer");
}

static int s_mock_start(s_mock_t *m, const char *path, int replicas)
{
    memset(m, 0, sizeof *m);
    int pfd[2];
    if (pipe(pfd) != 0) {
        return -1;
    }
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)path;
    static char specs[S_REPLICAS_MAX * 2][96];
    for (int i = 0; i < replicas * 2 && argc < 60; i++) {
        snprintf(specs[i], sizeof specs[i], "static:127.0.0.1:0:latency=0:progress=0%s",
                 i < replicas ? "" : ":proto=mux:heartbeat=60000");
        argv[argc++] = "--replica";
        argv[argc++] = specs[i];
    }
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(path, argv);
        execvp(path, argv);
        _exit(127);
    }
    close(pfd[1]);
    m->pid = pid;
    m->fd = pfd[0];
    char buf[8192];
    size_t have = 0;
    int64_t deadline = s_us() + 10 * 1000000;
    while (s_us() < deadline) {
        struct pollfd p = {m->fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        ssize_t got = read(m->fd, buf + have, sizeof buf - 1 - have);
        if (got <= 0) {
            break;
        }
        have += (size_t)got;
        buf[have] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = '\0';
            char svc[64], url[128];
            if (sscanf(buf, "replica %63s %127s", svc, url) == 2 && m->n < S_REPLICAS_MAX * 2) {
                snprintf(m->url[m->n++], sizeof m->url[0], "%s", url);
            } else if (strncmp(buf, "ready", 5) == 0) {
                return 0;
            }
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have - used + 1);
            have -= used;
        }
    }
    return -1;
}

static void s_mock_stop(s_mock_t *m)
{
    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        int64_t deadline = s_us() + 3000000;
        while (waitpid(m->pid, NULL, WNOHANG) == 0) {
            if (s_us() > deadline) {
                kill(m->pid, SIGKILL);
                waitpid(m->pid, NULL, 0);
                break;
            }
            struct timespec ts = {0, 5000000};
            nanosleep(&ts, NULL);
        }
        close(m->fd);
        m->pid = 0;
    }
}

/* CPU seconds from a /proc stat file (utime + stime; 0 when unreadable). */
static double s_stat_cpu_s(const char *path)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f) {
        return 0;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) {
        return 0;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds a child has used so far (all its threads). */
static double s_child_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return s_stat_cpu_s(path);
}

/* CPU seconds one of our threads has used so far: schedstat's run time in
   ns when the kernel keeps it, else stat's clock ticks. */
static double s_thread_cpu_s(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
    FILE *f = fopen(path, "r");
    unsigned long long ns = 0;
    if (f) {
        int got = fscanf(f, "%llu", &ns);
        fclose(f);
        if (got == 1 && ns > 0) {
            return (double)ns / 1e9;
        }
    }
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    return s_stat_cpu_s(path);
}

#define S_TIDS_MAX 256

/* Our threads' ids; returns how many (at most max). */
static int s_tids(pid_t *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && n < max && (e = readdir(d)) != NULL) {
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
            out[n++] = (pid_t)atoi(e->d_name);
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static void s_tid_comm(pid_t tid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(buf, (int)size, f)) {
            buf[0] = '\0';
        }
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
}

/* The threads a spawn added (given the ids before it): the endpoint
   actor's own and its lws I/O thread ("sl-wsio"); libzmq's background
   threads ("ZMQbg/...") may start with the first socket and are not the
   endpoint's. 0 when not found. */
static void s_endpoint_tids(const pid_t *before, int n_before, pid_t *actor, pid_t *io)
{
    pid_t now[S_TIDS_MAX];
    int n = s_tids(now, S_TIDS_MAX);
    *actor = *io = 0;
    for (int i = 0; i < n; i++) {
        bool old = false;
        for (int k = 0; k < n_before && !old; k++) {
            old = before[k] == now[i];
        }
        if (old) {
            continue;
        }
        char comm[32];
        s_tid_comm(now[i], comm, sizeof comm);
        if (strncmp(comm, "sl-wsio", 7) == 0) {
            *io = now[i];
        } else if (strncmp(comm, "ZMQbg", 5) != 0) {
            *actor = now[i];
        }
    }
}

static pid_t s_mock_pid;

static int s_send_start(sl_port_t *port, const char *to, uint64_t seq)
{
    char task[48];
    snprintf(task, sizeof task, "pbench-t%08llu", (unsigned long long)seq);
    sl_attempt_start_t st = {0};
    st.task_id = task;
    st.pipeline_id = "pbench";
    st.attempt = 1;
    st.op = "static_analyze";
    st.model = "bench_model";
    st.app_number = 1;
    /* One tool: a small result, so the figures measure the endpoint rather
       than JSON volume. */
    char *tool = "bandit";
    st.tools.v = &tool;
    st.tools.n = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = sl_attempt_start_encode(&st, &buf, &len);
    if (rc == 0) {
        rc = sl_port_send(port, to, SL_MSG_ATTEMPT_START, buf, len);
    }
    free(buf);
    return rc;
}

/* One run's figures, per attempt where it says so. */
typedef struct {
    double rate, actor_us, io_us, process_us, mock_us;
} s_figures_t;

static int s_run(sl_rt_t *rt, const char *proto, const char *const *urls, int n, double seconds,
                 int window, s_figures_t *fig)
{
    memset(fig, 0, sizeof *fig);
    sl_endpoint_config_t cfg;
    sl_endpoint_config_defaults(&cfg, "static-analyzer");
    cfg.replicas = urls;
    cfg.n_replicas = (size_t)n;
    cfg.protocol = strcmp(proto, "mux") == 0 ? SL_ENDPOINT_MUX : SL_ENDPOINT_LEGACY;
    cfg.max_in_flight = (uint32_t)window;
    cfg.queue_max = (uint32_t)window * 4;
    cfg.progress_timeout_ms = 0;
    cfg.breaker.failure_threshold = 1000000; /* measure, do not trip */
    cfg.breaker.failure_rate_pct = 100;
    sl_actor_t *ep = NULL;
    pid_t before[S_TIDS_MAX];
    int n_before = s_tids(before, S_TIDS_MAX);
    int rc = sl_endpoint_spawn(rt, &cfg, &ep);
    if (rc) {
        fprintf(stderr, "endpoint: spawn failed: %s\n", sl_err_name(rc));
        return 1;
    }
    pid_t actor_tid = 0, io_tid = 0;
    s_endpoint_tids(before, n_before, &actor_tid, &io_tid);
    sl_port_t *port = sl_port_new(rt, "bench");
    if (!port) {
        sl_actor_destroy(&ep);
        return 1;
    }
    const char *to = "endpoint.static-analyzer";
    uint64_t seq = 0, done = 0, failed = 0, outstanding = 0;
    /* Warm-up: one attempt opens connections and fills caches. */
    s_send_start(port, to, seq++);
    outstanding++;
    sl_actor_stats_t st0;
    int64_t t0 = s_us();
    double c0 = s_cpu_s(), m0 = s_child_cpu_s(s_mock_pid);
    double a0 = 0, i0 = 0;
    bool measuring = false;
    int64_t end = t0 + (int64_t)(seconds * 1e6);
    int64_t hard_end = end + 10 * 1000000;
    uint64_t base_done = 0;
    while (s_us() < hard_end) {
        bool timeup = measuring && s_us() >= end;
        while (!timeup && outstanding < (uint64_t)window) {
            if (s_send_start(port, to, seq++) != 0) {
                break;
            }
            outstanding++;
        }
        if (timeup && outstanding == 0) {
            break;
        }
        sl_msg_t *m = NULL;
        if (sl_port_recv(port, 100, &m) != 0) {
            continue;
        }
        if (m->type == SL_MSG_ATTEMPT_RESULT) {
            outstanding--;
            done++;
            uint64_t outcome = 0;
            sl_attempt_result_t r = {0};
            if (sl_attempt_result_decode(m->body, m->body_len, &r) == 0) {
                outcome = r.outcome;
                if (!sl_outcome_succeeded((int)outcome) && failed < 3) {
                    fprintf(stderr, "  %s: %s (%s)\n", proto, sl_outcome_name((int)outcome),
                            r.error ? r.error : "");
                }
                sl_attempt_result_clear(&r);
            }
            if (!sl_outcome_succeeded((int)outcome)) {
                failed++;
            }
            if (!measuring) {
                measuring = true;
                base_done = done;
                sl_actor_stats(ep, &st0);
                t0 = s_us();
                c0 = s_cpu_s();
                m0 = s_child_cpu_s(s_mock_pid);
                a0 = actor_tid ? s_thread_cpu_s(actor_tid) : 0;
                i0 = io_tid ? s_thread_cpu_s(io_tid) : 0;
                end = t0 + (int64_t)(seconds * 1e6);
                hard_end = end + 10 * 1000000;
            }
        }
        sl_msg_destroy(&m);
    }
    int64_t t1 = s_us();
    double c1 = s_cpu_s(), m1 = s_child_cpu_s(s_mock_pid);
    double a1 = actor_tid ? s_thread_cpu_s(actor_tid) : 0;
    double i1 = io_tid ? s_thread_cpu_s(io_tid) : 0;
    sl_actor_stats_t st1;
    sl_actor_stats(ep, &st1);
    uint64_t n_att = done - base_done;
    double secs = (double)(t1 - t0) / 1e6;
    double per = n_att ? 1e6 / (double)n_att : 0.0; /* seconds -> us per attempt */
    printf("endpoint %-6s replicas=%d window=%d: %llu attempts in %.2f s = %.0f attempts/s, "
           "failed %llu; CPU us/attempt: actor thread %.1f, I/O thread %.1f, process %.1f, "
           "mock %.1f; actor handler wall %.1f us/attempt; %.1f actor messages/attempt\n",
           proto, n, window, (unsigned long long)n_att, secs, n_att / (secs > 0 ? secs : 1),
           (unsigned long long)failed, (a1 - a0) * per, (i1 - i0) * per, (c1 - c0) * per,
           (m1 - m0) * per,
           n_att ? (double)(st1.handler_ns - st0.handler_ns) / 1e3 / (double)n_att : 0.0,
           n_att ? (double)(st1.msgs_in - st0.msgs_in) / (double)n_att : 0.0);
    fflush(stdout);
    fig->rate = n_att / (secs > 0 ? secs : 1);
    fig->actor_us = (a1 - a0) * per;
    fig->io_us = (i1 - i0) * per;
    fig->process_us = (c1 - c0) * per;
    fig->mock_us = (m1 - m0) * per;
    sl_port_destroy(&port);
    sl_actor_destroy(&ep);
    return outstanding == 0 ? 0 : 1;
}

/* Prints the range of each figure over the runs of one protocol. */
static void s_summary(const char *proto, const s_figures_t *f, int k)
{
    if (k < 2) {
        return;
    }
    s_figures_t lo = f[0], hi = f[0];
#define S_RANGE(field)                                                                             \
    do {                                                                                           \
        lo.field = f[i].field < lo.field ? f[i].field : lo.field;                                  \
        hi.field = f[i].field > hi.field ? f[i].field : hi.field;                                  \
    } while (0)
    for (int i = 1; i < k; i++) {
        S_RANGE(rate);
        S_RANGE(actor_us);
        S_RANGE(io_us);
        S_RANGE(process_us);
        S_RANGE(mock_us);
    }
#undef S_RANGE
    printf("endpoint %-6s %d runs: %.0f-%.0f attempts/s; CPU us/attempt: actor thread %.1f-%.1f, "
           "I/O thread %.1f-%.1f, process %.1f-%.1f, mock %.1f-%.1f\n",
           proto, k, lo.rate, hi.rate, lo.actor_us, hi.actor_us, lo.io_us, hi.io_us, lo.process_us,
           hi.process_us, lo.mock_us, hi.mock_us);
}

int sl_bench_endpoint(int argc, char **argv)
{
    double seconds = 3;
    int replicas = 2, wl = 64, wm = 512, repeats = 1;
    const char *mode = "both";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else if (strcmp(argv[i], "--replicas") == 0 && i + 1 < argc) {
            replicas = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--window-legacy") == 0 && i + 1 < argc) {
            wl = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--window-mux") == 0 && i + 1 < argc) {
            wm = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            mode = argv[++i];
        } else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc) {
            repeats = atoi(argv[++i]);
        } else {
            printf("usage: sluice-bench endpoint [--seconds S] [--replicas N] [-k repeats]\n"
                   "       [--mode legacy|mux|both] [--window-legacy W] [--window-mux W]\n"
                   "  defaults: 3 s, 2 replicas per protocol, 1 run, windows 64 and 512 attempts\n"
                   "  -k N: N runs per protocol (on one mock), then each figure's range\n"
                   "  the mock is found next to this binary or in $SLUICE_MOCK\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (replicas < 1 || replicas > S_REPLICAS_MAX || seconds <= 0 || wl < 1 || wm < 1 ||
        repeats < 1 || repeats > 20) {
        fprintf(stderr, "endpoint: bad options\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    char path[600];
    s_mock_path(argv[0], path, sizeof path);
    s_mock_t mock;
    if (s_mock_start(&mock, path, replicas) != 0 || mock.n != replicas * 2) {
        fprintf(stderr, "endpoint: cannot start the mock (%s)\n", path);
        s_mock_stop(&mock);
        return 1;
    }
    s_mock_pid = mock.pid;
    sl_log_set_level(SL_LOG_WARN); /* two info lines per attempt would be the benchmark */
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    int rc = rt ? 0 : 1;
    const char *urls[S_REPLICAS_MAX];
    s_figures_t legacy[20], mux[20];
    for (int k = 0; rt && k < repeats; k++) {
        if (strcmp(mode, "mux") != 0) {
            for (int i = 0; i < replicas; i++) {
                urls[i] = mock.url[i];
            }
            rc |= s_run(rt, "legacy", urls, replicas, seconds, wl, &legacy[k]);
        }
        if (strcmp(mode, "legacy") != 0) {
            for (int i = 0; i < replicas; i++) {
                urls[i] = mock.url[replicas + i];
            }
            rc |= s_run(rt, "mux", urls, replicas, seconds, wm, &mux[k]);
        }
    }
    if (rt && strcmp(mode, "mux") != 0) {
        s_summary("legacy", legacy, repeats);
    }
    if (rt && strcmp(mode, "legacy") != 0) {
        s_summary("mux", mux, repeats);
    }
    sl_rt_destroy(&rt);
    s_mock_stop(&mock);
    return rc;
}
