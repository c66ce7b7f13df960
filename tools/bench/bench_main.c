/*  bench_main.c: sluice-bench, the benchmark driver. Dispatches to one
    subcommand from the table below; each runs on the main thread and prints
    its figures. Not a test: numbers depend on the machine. */
#include <stdio.h>
#include <string.h>

#include "tools/bench/bench.h"

/* The one table of subcommands. */
static const struct {
    const char *name;
    sl_bench_fn *fn;
    const char *help;
} s_commands[] = {
    {"runtime", sl_bench_runtime, "actor messaging and request/reply next to raw libzmq inproc"},
    {"endpoint", sl_bench_endpoint, "endpoint actor against the mock analyzers"},
    {"store", sl_bench_store, "store actor group commit"},
    {"recovery", sl_bench_recovery, "daemon restart and recovery"},
};

static void s_usage(FILE *out)
{
    fprintf(out, "usage: sluice-bench <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(s_commands) / sizeof(s_commands[0]); i++) {
        fprintf(out, "  %-10s %s\n", s_commands[i].name, s_commands[i].help);
    }
    fprintf(out, "\n'sluice-bench <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(s_commands) / sizeof(s_commands[0]); i++) {
        if (strcmp(argv[1], s_commands[i].name) == 0) {
            return s_commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "sluice-bench: unknown command '%s'\n\n", argv[1]);
    s_usage(stderr);
    return 2;
}
