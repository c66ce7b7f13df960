/*  tchild.h: a test's child processes, stopped by pid however the test ends.

    A failed cmocka assert longjmps out of the test body, past the code that
    would stop a child it started; the test's teardown still runs, and so do
    atexit handlers. So whoever forks registers the child (tchild_add), whoever
    reaps it forgets it (tchild_forget), and tchild_kill_all, called from the
    teardowns and once at exit, SIGKILLs and reaps what is left. A test
    process killed outright (a ctest timeout sends SIGKILL) runs neither: the
    child calls tchild_in_child right after fork so the kernel kills it when
    the test process dies.

    Header-only, for the test thread. The registry is per translation unit:
    include it from one file per program (e2e tests go through e2e.c).
*/
#ifndef TCHILD_H
#define TCHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define TCHILD_MAX 64

static pid_t tchild_pids[TCHILD_MAX];

/* SIGKILLs and reaps every registered child. Teardowns call it; so does exit. */
static inline void tchild_kill_all(void)
{
    for (int i = 0; i < TCHILD_MAX; i++) {
        if (tchild_pids[i] > 0) {
            kill(tchild_pids[i], SIGKILL);
            waitpid(tchild_pids[i], NULL, 0);
            tchild_pids[i] = 0;
        }
    }
}

/* Registers a child the test just forked (pid > 0). */
static inline void tchild_add(pid_t pid)
{
    static bool at_exit;
    if (!at_exit) {
        atexit(tchild_kill_all);
        at_exit = true;
    }
    for (int i = 0; i < TCHILD_MAX; i++) {
        if (tchild_pids[i] <= 0) {
            tchild_pids[i] = pid;
            return;
        }
    }
    /* A child nobody would stop is worse than a failed run. */
    fprintf(stderr, "tchild: more than %d children\n", TCHILD_MAX);
    kill(pid, SIGKILL);
    abort();
}

/* Forgets a child once it is reaped: its pid may be reused. */
static inline void tchild_forget(pid_t pid)
{
    for (int i = 0; i < TCHILD_MAX; i++) {
        if (tchild_pids[i] == pid) {
            tchild_pids[i] = 0;
        }
    }
}

/* In the child, right after fork (parent = getpid() before the fork): dies
   with the test process, also if that died before this call. */
static inline void tchild_in_child(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(127);
    }
}

#endif
