/*  bench.h: the subcommands of sluice-bench.

    Each subcommand lives in its own file tools/bench/bench_<name>.c and
    exports one function `int sl_bench_<name>(int argc, char **argv)` (argv[0]
    is the subcommand name) returning a process exit code. To add one: write
    the file, add it (and any library it needs) to sluice-bench in
    tools/CMakeLists.txt, and add its row to the table in bench_main.c.
*/
#ifndef SL_BENCH_H
#define SL_BENCH_H

typedef int(sl_bench_fn)(int argc, char **argv);

sl_bench_fn sl_bench_runtime;
sl_bench_fn sl_bench_endpoint;
sl_bench_fn sl_bench_store;
sl_bench_fn sl_bench_recovery;

#endif
