/*  e2e.h: the shared helper of the end-to-end tests (tests/e2e/test_*.c).

    Runs the real programs as child processes on loopback: sluiced, the mock
    analyzer fleet, the embedding example. Every child gets its stdout on a
    pipe (read line by line with a deadline) and its stderr in a log file in
    the test's mkdtemp directory; it is stopped by pid (a signal, then
    waitpid with a deadline, then SIGKILL). Every child is registered
    (tests/tchild.h): e2e_kill_children in a teardown, and an exit handler,
    kill whatever a failed assert left running; a child dies with the test
    process. The API client is a DEALER that
    speaks msgpack; requests are written and replies read as jansson values
    (msgpack bin becomes a JSON string when it is UTF-8), so the tests read
    like the API reference. Single-threaded: call everything from the test
    thread. Nothing here uses sluice's own code: it is an outside client.
    The fixture (e2e_fx_t) is what each test holds: the directory, the mock,
    sluiced and the clients, set up and torn down in one place.
*/
#ifndef E2E_H
#define E2E_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- time, files, ports ---------------------------------------------------- */

int64_t e2e_now_ms(void);  /* CLOCK_MONOTONIC */
int64_t e2e_wall_ms(void); /* CLOCK_REALTIME, as the API's times */
void e2e_nap(int ms);      /* the pause between two polls of a condition */
char *e2e_tmpdir(void);    /* mkdtemp under /tmp; caller frees */
void e2e_rmrf(
    const char *dir);    /* removes a tree made by the test (E2E_KEEP: keeps it, named on stderr) */
int e2e_free_port(void); /* free loopback port below the ephemeral range */
bool e2e_file_contains(const char *path, const char *needle);
int e2e_write_file(const char *path, const char *text);
char *e2e_read_file(const char *path);             /* caller frees; NULL if unreadable */
void e2e_dump(const char *what, const char *path); /* its last 4000 bytes to stderr */

/* ---- argument lists ------------------------------------------------------------ */

typedef struct {
    char *v[512];
    int n;
} e2e_args_t;

void e2e_args_add(e2e_args_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void e2e_args_free(e2e_args_t *a);

/* ---- child processes ------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int out_fd;      /* the child's stdout */
    char buf[16384]; /* stdout bytes read but not yet returned as lines */
    size_t len;
    bool eof;
    bool reaped;
    int status;    /* waitpid status once reaped */
    char log[512]; /* the child's stderr */
} e2e_proc_t;

/* Starts argv[0] with argv (NULL-terminated) and `env` (NULL or "K=V"
   strings added to the environment). stderr goes to log_path (appended).
   NULL if the fork or the pipe failed. */
e2e_proc_t *e2e_spawn(char *const argv[], char *const env[], const char *log_path);

/* The next stdout line (without '\n') by deadline_ms (e2e_now_ms time):
   0, -1 on timeout, -2 at end of output. */
int e2e_read_line(e2e_proc_t *p, char *line, size_t size, int64_t deadline_ms);

/* Reads lines until one starts with prefix: 0 (line holds it), -1, -2. */
int e2e_wait_line(e2e_proc_t *p, const char *prefix, char *line, size_t size, int64_t deadline_ms);

/* Waits for the child to exit by deadline_ms: its exit code (128 + signal
   when killed), or -1 on timeout (the child is left running). */
int e2e_wait_exit(e2e_proc_t *p, int64_t deadline_ms);

/* Sends sig, waits up to grace_ms, then SIGKILL: the exit code as above. */
int e2e_stop(e2e_proc_t *p, int sig, int grace_ms);

/* Stops (SIGTERM, 5 s, SIGKILL) if still running, closes, frees, nulls. */
void e2e_proc_free(e2e_proc_t **p);

/* SIGKILLs and reaps by pid every child still running (one a failed assert
   left behind). For teardowns, after the fixture's own e2e_proc_free. */
void e2e_kill_children(void);

/* ---- the mock analyzer fleet ----------------------------------------------------- */

enum { E2E_STATIC, E2E_DYNAMIC, E2E_PERF, E2E_AI, E2E_GENERATOR, E2E_NSERVICES };

extern const char *const e2e_service_names[E2E_NSERVICES];

typedef struct {
    e2e_proc_t *proc;
    char urls[E2E_NSERVICES][16][64];
    int n[E2E_NSERVICES];
    int control_port;
    char joined[E2E_NSERVICES][1024]; /* "ws://a,ws://b" */
} e2e_mock_t;

/* Starts sluice-mock-analyzer with args (its own argv after the program
   name) plus --control 0, and reads its replica lines up to 'ready'.
   NULL (child stopped) if it is not ready within 10 s. */
e2e_mock_t *e2e_mock_start(const char *bin, const e2e_args_t *args, const char *log_path);

/* One control command ("stats", "down 1234", ...): 0 with the answer line. */
int e2e_mock_control(e2e_mock_t *m, const char *cmd, char *answer, size_t size);
void e2e_mock_stop(e2e_mock_t **m);

/* ---- sluiced ------------------------------------------------------------------------ */

/* Starts sluiced with args and waits for "sluiced: ready" (timeout_ms).
   Returns the child, or NULL with *exit_code set when it exited first (or
   -1 when it neither got ready nor exited in time; it is then killed). */
e2e_proc_t *e2e_sluiced_start(const char *bin, const e2e_args_t *args, const char *log_path,
                              int timeout_ms, int *exit_code);

/* Adds the settings every e2e daemon gets: data dir, API and PUB on ipc://
   paths in dir, the progress listener on gateway_port (0: off), and every
   service's URLs from the mock (a service the mock lacks keeps its default). */
void e2e_sluiced_base_args(e2e_args_t *a, const char *dir, const char *data_dir,
                           const e2e_mock_t *m, int gateway_port);

/* ---- the API client -------------------------------------------------------------------- */

typedef struct {
    void *ctx;
    void *sock;
    uint64_t next_id;
} e2e_api_t;

e2e_api_t *e2e_api_connect(const char *endpoint);
void e2e_api_close(e2e_api_t **api);

/* Sends req (a JSON object, stolen) with a fresh "id" added and returns the
   reply with that id (other replies are dropped), NULL by timeout_ms. */
json_t *e2e_call(e2e_api_t *api, json_t *req, int timeout_ms);

/* json_pack(fmt, ...) then e2e_call; NULL if the pack failed. */
json_t *e2e_callf(e2e_api_t *api, int timeout_ms, const char *fmt, ...);

/* Sends raw bytes as one frame (nframes > 1: the same bytes in several
   frames) and returns the next reply, NULL by timeout_ms. */
json_t *e2e_call_raw(e2e_api_t *api, const void *bytes, size_t len, int nframes, int timeout_ms);

/* JSON <-> msgpack (strings "bin:..." are packed as bin). */
int e2e_pack(const json_t *v, char **out, size_t *len);
json_t *e2e_unpack(const void *bytes, size_t len);

/* reply.ok == true */
bool e2e_ok(const json_t *reply);
/* reply.error.code, or "" */
const char *e2e_err_code(const json_t *reply);

/* ---- the PUB socket ------------------------------------------------------------------------ */

typedef struct {
    void *ctx;
    void *sock;
} e2e_sub_t;

/* A SUB connected to endpoint, subscribed to every topic. */
e2e_sub_t *e2e_sub_connect(const char *endpoint);
void e2e_sub_close(e2e_sub_t **sub);

/* The next event by deadline_ms: its body with "topic" set from the first
   frame (a new reference), or NULL. */
json_t *e2e_sub_next(e2e_sub_t *sub, int64_t deadline_ms);

/* ---- the fixture ------------------------------------------------------------------------- */

/* What an e2e test holds: a mkdtemp directory with sluiced's data dir in
   it, the mock fleet, sluiced, its API client and (when the test connects
   one) a SUB. The teardown stops and frees whatever is set, kills any child
   a failed assert left running and removes the directory. A test program
   with state of its own embeds an e2e_fx_t and calls e2e_fx_init/fini from
   its own setup/teardown. The start functions fail the test (cmocka) when
   the child is not ready in time. */
typedef struct {
    char *dir;          /* the mkdtemp directory */
    char data[512];     /* sluiced's data dir: dir/data */
    char api_ep[600];   /* ipc://dir/api.sock, as e2e_sluiced_base_args sets it */
    char pub_ep[600];   /* ipc://dir/pub.sock, likewise */
    char log_mock[600]; /* the mock's stderr: dir/mock.log */
    char log_d[600];    /* the last sluiced's stderr: dir/sluiced.log until
                           e2e_fx_start_daemon names one per start */
    int gateway;        /* the mock's progress gateway port sluiced is given (0: none) */
    int start_ms;       /* how long sluiced may take to be ready: 15000 */
    int starts;         /* sluiced starts (tries) so far: the N of dir/sluiced.N.log */
    e2e_mock_t *mock;
    e2e_proc_t *d;  /* sluiced (or the program under test) */
    e2e_proc_t *d2; /* a second sluiced, when a test starts one */
    e2e_api_t *api;
    e2e_sub_t *sub;
} e2e_fx_t;

/* Fills a zeroed fx: the directory and the paths. 0, or -1 when the
   directory could not be made. */
int e2e_fx_init(e2e_fx_t *fx);

/* A zeroed block of size bytes whose start is an e2e_fx_t, initialised (a
   test's own fixture struct with the e2e_fx_t as its first member): NULL
   when it could not be made. Caller frees after e2e_fx_fini. */
void *e2e_fx_new(size_t size);

/* Closes the clients, stops sluiced and the mock, kills leftover children,
   dumps the logs when E2E_VERBOSE is set, removes the directory. */
void e2e_fx_fini(e2e_fx_t *fx);

/* cmocka setup/teardown: a new e2e_fx_t in *state, and its end. */
int e2e_fx_setup(void **state);
int e2e_fx_teardown(void **state);

/* Picks a free loopback port for the mock's progress gateway as
   fx->gateway and adds `--gateway ws://127.0.0.1:<port><path>` to args. */
void e2e_fx_add_gateway(e2e_fx_t *fx, e2e_args_t *args, const char *path);

/* Starts the mock (MOCK_BIN) as fx->mock with args (NULL or its options,
   freed here) plus a `--replica spec` for each spec of replicas (NULL or
   NULL-terminated), logging to fx->log_mock. */
void e2e_fx_start_mock(e2e_fx_t *fx, e2e_args_t *args, const char *const *replicas);

/* Starts sluiced (SLUICED_BIN) as fx->d with e2e_sluiced_base_args (fx->dir,
   fx->data, fx->mock, fx->gateway) plus extra's arguments (NULL or
   borrowed), each try logging to a new dir/sluiced.N.log (fx->log_d). With
   a gateway, a start that lost the progress port to a race is tried again
   (three tries). Waits fx->start_ms for ready, then connects fx->api to
   fx->api_ep (closing the former client). */
void e2e_fx_start_daemon_args(e2e_fx_t *fx, const e2e_args_t *extra);

/* The same with `--set s` for each s of sets (NULL or NULL-terminated). */
void e2e_fx_start_daemon(e2e_fx_t *fx, const char *const *sets);

/* Connects fx->sub to fx->pub_ep and pings the API, so the SUB is connected
   before anything the test does next is published. */
void e2e_fx_connect_sub(e2e_fx_t *fx);

/* ---- pipelines ------------------------------------------------------------------------------ */

bool e2e_pstatus_terminal(const char *status);
bool e2e_tstatus_terminal(const char *status);

/* pipeline.get's "pipeline" (a new reference), or NULL. */
json_t *e2e_pipeline_get(e2e_api_t *api, const char *id);

/* Polls pipeline.get until the pipeline's status is terminal: the pipeline
   (new reference), or NULL at deadline_ms. */
json_t *e2e_wait_terminal(e2e_api_t *api, const char *id, int64_t deadline_ms);

/* For a pipeline.start reply (stolen): asserts (cmocka) that it is ok,
   copies its pipeline_id into id (size bytes), and waits as
   e2e_wait_terminal, asserting the pipeline came: a new reference. */
json_t *e2e_wait_started(e2e_api_t *api, json_t *reply, char *id, size_t size, int64_t deadline_ms);

/* Every stored event from seq 1 (events.since paged): a JSON array (new
   reference) and *last_seq, or NULL. */
json_t *e2e_events_all(e2e_api_t *api, uint64_t *last_seq);

/* Number of tasks of pipeline p in status (p as from pipeline.get). */
int e2e_count_tasks(const json_t *p, const char *kind, const char *status);

/* o's string member key, "" when it is absent or not a string. */
const char *e2e_str(const json_t *o, const char *key);

#endif
