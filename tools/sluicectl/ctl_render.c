/*  ctl_render.c: how sluicectl shows replies and events to a person: tables
    with columns sized to their content, one plain line per event, and the
    live view of `watch` on a terminal (ANSI, redrawn in place).

    Everything reads json_t values through the tolerant ctl_str/ctl_int
    lookups, so a reply with missing or mistyped fields prints "-" where the
    value would be, never crashes. Single-threaded; the live view owns its
    state (ctl_live_new/ctl_live_destroy).
*/
#include "tools/sluicectl/ctl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small helpers ------------------------------------------------------------ */

int ctl_status_exit(const char *status)
{
    if (!status) {
        return -1;
    }
    if (strcmp(status, "completed") == 0) {
        return CTL_EXIT_OK;
    }
    if (strcmp(status, "partial_success") == 0) {
        return CTL_EXIT_PARTIAL;
    }
    if (strcmp(status, "failed") == 0) {
        return CTL_EXIT_FAILED;
    }
    if (strcmp(status, "cancelled") == 0) {
        return CTL_EXIT_CANCELLED;
    }
    return -1;
}

/* Any scalar as text into buf ("-" when absent); borrowed result. */
static const char *s_text(const json_t *obj, const char *key, char *buf, size_t size)
{
    const json_t *v = ctl_get(obj, key);
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(buf, size, "%.1f", json_real_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(buf, size, "%s", json_is_true(v) ? "yes" : "no");
    } else if (v && !json_is_null(v)) {
        char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, size, "%s", dump ? dump : "?");
        free(dump);
    } else {
        snprintf(buf, size, "-");
    }
    return buf;
}

/* A timestamp: epoch ms as UTC ISO-8601, strings as they are. */
static const char *s_time(const json_t *obj, const char *key, char *buf, size_t size)
{
    const json_t *v = ctl_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        time_t t = (time_t)(json_integer_value(v) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, size, "%Y-%m-%d %H:%M:%SZ", &tm);
        return buf;
    }
    return s_text(obj, key, buf, size);
}

/* ---- tables -------------------------------------------------------------------- */

#define S_MAX_COLS 10

typedef struct {
    size_t ncols;
    const char *head[S_MAX_COLS];
    char **cells; /* rows * ncols, owned */
    size_t rows;
    size_t cap;
} s_table_t;

static void s_table_add(s_table_t *t, const char *const *row)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **cells = realloc(t->cells, cap * t->ncols * sizeof(char *));
        if (!cells) {
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->ncols; c++) {
        /* Control bytes from the daemon must not drive the terminal. */
        char *cell = strdup(row[c] ? row[c] : "-");
        for (char *p = cell; p && *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                *p = ' ';
            }
        }
        t->cells[t->rows * t->ncols + c] = cell;
    }
    t->rows++;
}

static void s_cell(FILE *out, const char *text, size_t width, bool last)
{
    if (last) {
        fprintf(out, "%s\n", text);
    } else {
        fprintf(out, "%-*s  ", (int)width, text);
    }
}

static void s_table_print(s_table_t *t, FILE *out)
{
    size_t width[S_MAX_COLS] = {0};
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = strlen(t->head[c]);
        for (size_t r = 0; r < t->rows; r++) {
            const char *cell = t->cells[r * t->ncols + c];
            size_t w = cell ? strlen(cell) : 1;
            width[c] = w > width[c] ? w : width[c];
        }
    }
    for (size_t c = 0; c < t->ncols; c++) {
        s_cell(out, t->head[c], width[c], c + 1 == t->ncols);
    }
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            s_cell(out, cell ? cell : "-", width[c], c + 1 == t->ncols);
        }
    }
    for (size_t i = 0; i < t->rows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    t->cells = NULL;
    t->rows = t->cap = 0;
}

/* ---- replies ---------------------------------------------------------------------- */

static void s_app_label(const json_t *task, char *buf, size_t size)
{
    const char *model = ctl_str(task, "model", NULL);
    const char *tmpl = ctl_str(task, "template", NULL);
    long long app = ctl_int(task, "app_number", -1);
    if (app >= 0) {
        snprintf(buf, size, "%s app %lld", model ? model : "-", app);
    } else if (tmpl) {
        snprintf(buf, size, "%s/%s", model ? model : "-", tmpl);
    } else {
        snprintf(buf, size, "%s", model ? model : "-");
    }
}

void ctl_render_pipeline(FILE *out, const json_t *p)
{
    char b1[64], b2[64], b3[64];
    fprintf(out, "pipeline   %s  %s\n", ctl_str(p, "id", "-"), ctl_str(p, "name", ""));
    fprintf(out, "status     %s (stage %s)\n", ctl_str(p, "status", "-"), ctl_str(p, "stage", "-"));
    fprintf(out, "created    %s  started %s  completed %s\n",
            s_time(p, "created_at", b1, sizeof(b1)), s_time(p, "started_at", b2, sizeof(b2)),
            s_time(p, "completed_at", b3, sizeof(b3)));
    const json_t *counts = ctl_get(p, "counts");
    if (json_is_object(counts)) {
        fprintf(out,
                "tasks      total %lld  succeeded %lld  failed %lld  running %lld  "
                "queued %lld  cancelled %lld  dead %lld\n",
                ctl_int(counts, "total", 0), ctl_int(counts, "succeeded", 0),
                ctl_int(counts, "failed", 0), ctl_int(counts, "running", 0),
                ctl_int(counts, "queued", 0), ctl_int(counts, "cancelled", 0),
                ctl_int(counts, "dead", 0));
    }
    const char *profile = ctl_str(p, "profile", NULL), *esc = ctl_str(p, "escalate", NULL);
    if (profile || esc) {
        fprintf(out, "profile    %s", profile ? profile : "-");
        if (esc) {
            fprintf(out, ", then %s for apps that failed or found more than %lld issues", esc,
                    ctl_int(p, "escalate_threshold", 0));
        }
        fputc('\n', out);
    }
    const char *err = ctl_str(p, "error_message", NULL);
    if (err && *err) {
        fprintf(out, "error      %s\n", err);
    }
    const json_t *tasks = ctl_get(p, "tasks");
    if (!json_is_array(tasks) || json_array_size(tasks) == 0) {
        return;
    }
    fputc('\n', out);
    s_table_t t = {.ncols = 7,
                   .head = {"TASK", "SERVICE", "APP", "STATUS", "ATT", "PROGRESS", "ERROR"}};
    size_t i;
    json_t *task;
    json_array_foreach(tasks, i, task)
    {
        char app[256], att[32], prog[160], note[1024], svc[128];
        s_app_label(task, app, sizeof(app));
        /* an escalated task names the profile it runs */
        snprintf(svc, sizeof(svc), "%s%s%s%s", ctl_str(task, "service", "-"),
                 json_is_true(ctl_get(task, "escalated")) ? " (" : "",
                 json_is_true(ctl_get(task, "escalated")) ? (esc ? esc : "escalated") : "",
                 json_is_true(ctl_get(task, "escalated")) ? ")" : "");
        /* a success that left something out says so where errors go */
        const char *error = ctl_str(task, "error", "");
        const char *warning = ctl_str(task, "warning", "");
        if (!*error && *warning) {
            snprintf(note, sizeof(note), "warning: %s", warning);
            error = note;
        }
        s_text(task, "attempts", att, sizeof(att));
        const json_t *pr = ctl_get(task, "progress");
        long long pct = ctl_int(pr, "pct", -1);
        const char *stage = ctl_str(pr, "stage", NULL);
        if (pct >= 0) {
            snprintf(prog, sizeof(prog), "%s %lld%%", stage ? stage : "-", pct);
        } else if (stage) {
            snprintf(prog, sizeof(prog), "%s", stage); /* the analyzer gave no percentage */
        } else {
            snprintf(prog, sizeof(prog), "-");
        }
        const char *row[] = {
            ctl_str(task, "id", "-"), svc, app, ctl_str(task, "status", "-"), att, prog, error};
        s_table_add(&t, row);
    }
    s_table_print(&t, out);
    /* A timeout says which, with what value, and what to change. */
    json_array_foreach(tasks, i, task)
    {
        const json_t *d = ctl_get(task, "error_detail");
        if (json_is_object(d)) {
            fprintf(out, "\n%s %s: %s\n  suggestion: %s\n", ctl_str(task, "id", "-"),
                    ctl_str(d, "code", "-"), ctl_str(d, "message", ""),
                    ctl_str(d, "suggestion", ""));
        }
    }
}

void ctl_render_pipelines(FILE *out, const json_t *list)
{
    s_table_t t = {.ncols = 5, .head = {"ID", "NAME", "STATUS", "STAGE", "CREATED"}};
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p)
    {
        char created[64];
        const char *row[] = {ctl_str(p, "id", "-"), ctl_str(p, "name", ""),
                             ctl_str(p, "status", "-"), ctl_str(p, "stage", "-"),
                             s_time(p, "created_at", created, sizeof(created))};
        s_table_add(&t, row);
    }
    s_table_print(&t, out);
}

void ctl_render_task(FILE *out, const json_t *task)
{
    if (!json_is_object(task)) {
        ctl_print_json(out, task);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)task, key, v)
    {
        char buf[1024];
        if (json_is_object(v) || json_is_array(v)) {
            char *dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
            fprintf(out, "%-16s %s\n", key, dump ? dump : "?");
            free(dump);
        } else {
            size_t klen = strlen(key);
            bool when = klen > 3 && strcmp(key + klen - 3, "_at") == 0;
            fprintf(out, "%-16s %s\n", key,
                    when ? s_time(task, key, buf, sizeof(buf))
                         : s_text(task, key, buf, sizeof(buf)));
        }
    }
}

void ctl_render_dlq(FILE *out, const json_t *entries)
{
    s_table_t t = {.ncols = 6,
                   .head = {"TASK", "PIPELINE", "SERVICE", "ATTEMPTS", "RETURNS", "ERROR"}};
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        char att[32], ret[32];
        const char *row[] = {ctl_str(e, "task_id", "-"),
                             ctl_str(e, "pipeline_id", "-"),
                             ctl_str(e, "service", "-"),
                             s_text(e, "attempts", att, sizeof(att)),
                             s_text(e, "returns", ret, sizeof(ret)),
                             ctl_str(e, "error", "")};
        s_table_add(&t, row);
    }
    s_table_print(&t, out);
}

/* A replica's tools, "a, b" ("(none)" for an empty list; "?" while the
   replica has not said: null). */
static const char *s_tools_text(const json_t *rep, char *buf, size_t size)
{
    const json_t *tools = ctl_get(rep, "tools");
    if (!json_is_array(tools)) {
        return "?";
    }
    if (json_array_size(tools) == 0) {
        return "(none)";
    }
    buf[0] = '\0';
    size_t i, off = 0;
    json_t *v;
    json_array_foreach(tools, i, v)
    {
        int w = snprintf(buf + off, size - off, "%s%s", i ? ", " : "",
                         json_is_string(v) ? json_string_value(v) : "?");
        if (w < 0 || (size_t)w >= size - off) {
            break;
        }
        off += (size_t)w;
    }
    return buf;
}

void ctl_render_endpoints(FILE *out, const json_t *services)
{
    s_table_t t = {.ncols = 8,
                   .head = {"SERVICE", "REPLICA", "BREAKER", "IN-FLIGHT", "EWMA MS", "CALLS",
                            "FAILURES", "TOOLS"}};
    size_t i, j;
    json_t *svc, *rep;
    json_array_foreach(services, i, svc)
    {
        const json_t *replicas = ctl_get(svc, "replicas");
        if (!json_is_array(replicas) || json_array_size(replicas) == 0) {
            const char *row[] = {ctl_str(svc, "name", "-"), "(none)", "-", "-", "-", "-", "-", "-"};
            s_table_add(&t, row);
            continue;
        }
        json_array_foreach(replicas, j, rep)
        {
            char fl[32], ew[32], ca[32], fa[32], tl[1024], br[64];
            /* a suspect replica missed a pong (README "Liveness") */
            snprintf(br, sizeof(br), "%s%s", ctl_str(rep, "breaker", "-"),
                     json_is_true(ctl_get(rep, "suspect")) ? " suspect" : "");
            const char *row[] = {ctl_str(svc, "name", "-"),
                                 ctl_str(rep, "url", "-"),
                                 br,
                                 s_text(rep, "in_flight", fl, sizeof(fl)),
                                 s_text(rep, "ewma_ms", ew, sizeof(ew)),
                                 s_text(rep, "calls", ca, sizeof(ca)),
                                 s_text(rep, "failures", fa, sizeof(fa)),
                                 s_tools_text(rep, tl, sizeof(tl))};
            s_table_add(&t, row);
        }
    }
    s_table_print(&t, out);
}

void ctl_render_stats(FILE *out, const json_t *reply)
{
    const json_t *api = ctl_get(reply, "api");
    fprintf(out, "api: requests %lld  errors %lld  published %lld\n", ctl_int(api, "requests", 0),
            ctl_int(api, "errors", 0), ctl_int(api, "published", 0));
    const json_t *pushes = ctl_get(reply, "pushes");
    if (json_is_object(pushes)) {
        /* out-of-band progress pushes, README "Pointing an existing fleet" */
        fprintf(out,
                "progress pushes: by id %lld  attributed %lld  unattributed %lld  unknown id "
                "%lld\n",
                ctl_int(pushes, "by_id", 0), ctl_int(pushes, "attributed", 0),
                ctl_int(pushes, "unattributed", 0), ctl_int(pushes, "unknown_id", 0));
    }
    fputc('\n', out);
    s_table_t t = {
        .ncols = 7,
        .head = {"ACTOR", "MSGS IN", "MSGS OUT", "MAILBOX", "HANDLER US", "TIMERS", "RUNNING"}};
    size_t i;
    json_t *a;
    json_array_foreach(ctl_get(reply, "actors"), i, a)
    {
        char b[5][32];
        const char *row[] = {ctl_str(a, "name", "-"),
                             s_text(a, "msgs_in", b[0], 32),
                             s_text(a, "msgs_out", b[1], 32),
                             s_text(a, "mailbox_depth", b[2], 32),
                             s_text(a, "handler_us", b[3], 32),
                             s_text(a, "timers", b[4], 32),
                             json_is_false(ctl_get(a, "running")) ? "no" : "yes"};
        s_table_add(&t, row);
    }
    s_table_print(&t, out);
}

/* ---- events ------------------------------------------------------------------------ */

static void s_clock(const json_t *event, char *buf, size_t size)
{
    long long ts = ctl_int(event, "ts", -1);
    if (ts < 0) {
        snprintf(buf, size, "--:--:--.---");
        return;
    }
    time_t t = (time_t)(ts / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char hms[16];
    strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03lld", hms, ts % 1000);
}

void ctl_render_event_line(FILE *out, const char *topic, const json_t *event)
{
    char clock[32];
    s_clock(event, clock, sizeof(clock));
    fprintf(out, "%lld %s %s", ctl_int(event, "seq", -1), clock, topic);
    /* Every field, in a stable order, so scripts can grep key=value. */
    const char **keys = calloc(json_object_size(event) + 1, sizeof(char *));
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)event, key, v)
    {
        if (keys && strcmp(key, "seq") && strcmp(key, "ts") && strcmp(key, "topic")) {
            keys[n++] = key;
        }
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *k = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = k;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char buf[512];
        const char *text = s_text(event, keys[i], buf, sizeof(buf));
        fprintf(out, " %s=", keys[i]);
        bool quote = strchr(text, ' ') != NULL || *text == '\0';
        fputs(quote ? "\"" : "", out);
        for (const char *p = text; *p; p++) {
            fputc((unsigned char)*p < 0x20 ? ' ' : *p, out);
        }
        fputs(quote ? "\"" : "", out);
    }
    fputc('\n', out);
    free(keys);
}

/* ---- live view --------------------------------------------------------------------- */

#define S_BREAKER_LINES 6
#define S_BAR 20

struct ctl_live {
    char *pipeline_id; /* NULL: every pipeline */
    json_t *tasks;     /* task id -> {service, status, stage, pct, attempt, error, app} */
    char status[32];
    char stage[32];
    char *breakers[S_BREAKER_LINES]; /* ring of recent breaker/health/alert lines */
    size_t nbreakers;
    bool unknown_task; /* an event named a task the last snapshot lacked */
    int lines;         /* drawn last time */
    bool dirty;
    int64_t drawn_at;
};

ctl_live_t *ctl_live_new(const char *pipeline_id)
{
    ctl_live_t *self = calloc(1, sizeof(*self));
    if (!self) {
        return NULL;
    }
    self->tasks = json_object();
    self->pipeline_id = pipeline_id ? strdup(pipeline_id) : NULL;
    if (!self->tasks || (pipeline_id && !self->pipeline_id)) {
        ctl_live_destroy(&self);
        return NULL;
    }
    snprintf(self->status, sizeof(self->status), "-");
    snprintf(self->stage, sizeof(self->stage), "-");
    self->dirty = true;
    return self;
}

void ctl_live_destroy(ctl_live_t **p)
{
    if (!p || !*p) {
        return;
    }
    ctl_live_t *self = *p;
    json_decref(self->tasks);
    free(self->pipeline_id);
    for (size_t i = 0; i < S_BREAKER_LINES; i++) {
        free(self->breakers[i]);
    }
    free(self);
    *p = NULL;
}

/* The view writes daemon strings onto the terminal: no control bytes (an
   ESC would start a sequence the daemon chose), in place. */
static char *s_clean(char *text)
{
    for (char *p = text; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
    return text;
}

static bool s_mine(const ctl_live_t *self, const json_t *obj, const char *key)
{
    const char *id = ctl_str(obj, key, NULL);
    return !self->pipeline_id || (id && strcmp(id, self->pipeline_id) == 0);
}

static json_t *s_task(ctl_live_t *self, const char *raw_id)
{
    char id[128];
    snprintf(id, sizeof(id), "%s", raw_id);
    s_clean(id);
    json_t *t = json_object_get(self->tasks, id);
    if (!t) {
        self->unknown_task = true;
        t = json_object();
        if (json_object_set_new(self->tasks, id, t)) {
            return NULL;
        }
    }
    return t;
}

static void s_set_str(json_t *obj, const char *key, const json_t *from, const char *from_key)
{
    const char *v = json_string_value(ctl_get(from, from_key));
    char *clean = v ? strdup(v) : NULL;
    if (!clean) {
        return;
    }
    s_clean(clean);
    json_object_set_new(obj, key, json_string(clean));
    free(clean);
}

static void s_set_int(json_t *obj, const char *key, const json_t *from, const char *from_key)
{
    const json_t *v = ctl_get(from, from_key);
    if (json_is_number(v)) {
        json_object_set_new(obj, key, json_integer(ctl_int(from, from_key, 0)));
    } else if (json_is_null(v)) {
        json_object_del(obj, key); /* now unknown: no stale value */
    }
}

void ctl_live_snapshot(ctl_live_t *self, const json_t *p)
{
    snprintf(self->status, sizeof(self->status), "%s", ctl_str(p, "status", self->status));
    snprintf(self->stage, sizeof(self->stage), "%s", ctl_str(p, "stage", self->stage));
    s_clean(self->status);
    s_clean(self->stage);
    size_t i;
    json_t *task;
    json_array_foreach(ctl_get(p, "tasks"), i, task)
    {
        const char *id = ctl_str(task, "id", NULL);
        json_t *t = id ? s_task(self, id) : NULL;
        if (!t) {
            continue;
        }
        /* Short: the model is usually the same for every task. */
        char app[256];
        const char *tmpl = ctl_str(task, "template", NULL);
        long long n = ctl_int(task, "app_number", -1);
        if (n >= 0) {
            snprintf(app, sizeof(app), "%s #%lld", tmpl ? tmpl : "app", n);
        } else {
            snprintf(app, sizeof(app), "%s", tmpl ? tmpl : ctl_str(task, "model", ""));
        }
        json_object_set_new(t, "app", json_string(s_clean(app)));
        s_set_str(t, "service", task, "service");
        s_set_str(t, "status", task, "status");
        s_set_int(t, "attempt", task, "attempts");
        s_set_str(t, "error", task, "error");
        const json_t *pr = ctl_get(task, "progress");
        s_set_str(t, "stage", pr, "stage");
        s_set_int(t, "pct", pr, "pct");
    }
    self->unknown_task = false;
    self->dirty = true;
}

bool ctl_live_wants_snapshot(const ctl_live_t *self)
{
    return self->unknown_task;
}

static void s_note(ctl_live_t *self, const char *line)
{
    size_t slot = self->nbreakers % S_BREAKER_LINES;
    free(self->breakers[slot]);
    self->breakers[slot] = strdup(line);
    if (self->breakers[slot]) {
        s_clean(self->breakers[slot]);
    }
    self->nbreakers++;
}

void ctl_live_event(ctl_live_t *self, const char *topic, const json_t *ev)
{
    char clock[32], line[512];
    s_clock(ev, clock, sizeof(clock));
    if (strcmp(topic, "pipeline.status") == 0 || strcmp(topic, "pipeline.stage") == 0) {
        if (s_mine(self, ev, "pipeline_id")) {
            snprintf(self->status, sizeof(self->status), "%s", ctl_str(ev, "status", self->status));
            snprintf(self->stage, sizeof(self->stage), "%s", ctl_str(ev, "stage", self->stage));
            s_clean(self->status);
            s_clean(self->stage);
        }
    } else if (strcmp(topic, "task.status") == 0 || strcmp(topic, "task.progress") == 0) {
        const char *id = ctl_str(ev, "task_id", NULL);
        json_t *t = id && s_mine(self, ev, "pipeline_id") ? s_task(self, id) : NULL;
        if (!t) {
            return;
        }
        s_set_str(t, "service", ev, "service");
        s_set_str(t, "status", ev, "status");
        s_set_int(t, "attempt", ev, "attempt");
        s_set_str(t, "stage", ev, "stage");
        s_set_int(t, "pct", ev, "pct");
        s_set_str(t, "error", ev, "error");
        const json_t *d = ctl_get(ev, "error_detail");
        if (json_is_object(d)) {
            /* a timeout: which, and what to change */
            snprintf(line, sizeof(line), "%s %s %s: %s; suggestion: %s", clock, id,
                     ctl_str(d, "code", "-"), ctl_str(d, "message", ""),
                     ctl_str(d, "suggestion", ""));
            s_note(self, line);
        }
        if (strcmp(topic, "task.status") == 0 && !ctl_get(ev, "pct")) {
            const char *st = ctl_str(ev, "status", "");
            if (strcmp(st, "succeeded") == 0) {
                json_object_set_new(t, "pct", json_integer(100));
            }
        }
    } else if (strcmp(topic, "endpoint.breaker") == 0) {
        snprintf(line, sizeof(line), "%s breaker %s %s: %s -> %s %s", clock,
                 ctl_str(ev, "service", "-"), ctl_str(ev, "replica", "-"), ctl_str(ev, "from", "-"),
                 ctl_str(ev, "to", "-"), ctl_str(ev, "reason", ""));
        s_note(self, line);
    } else if (strcmp(topic, "endpoint.health") == 0) {
        /* Sent only on a change, so each one is worth a line. */
        const json_t *h = ctl_get(ev, "healthy");
        snprintf(line, sizeof(line), "%s health %s %s %s (%s)", clock, ctl_str(ev, "service", "-"),
                 ctl_str(ev, "replica", "-"),
                 json_is_boolean(h) ? (json_is_true(h) ? "healthy" : "unhealthy") : "?",
                 ctl_str(ev, "reason", "-"));
        s_note(self, line);
    } else if (strcmp(topic, "alert") == 0) {
        snprintf(line, sizeof(line), "%s alert %s: %s", clock, ctl_str(ev, "kind", "-"),
                 ctl_str(ev, "message", ""));
        s_note(self, line);
    } else {
        return;
    }
    self->dirty = true;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *s_color(const char *status)
{
    if (strcmp(status, "succeeded") == 0 || strcmp(status, "completed") == 0) {
        return "\x1b[32m";
    }
    if (strcmp(status, "failed") == 0 || strcmp(status, "dead") == 0) {
        return "\x1b[31m";
    }
    if (strcmp(status, "retry_wait") == 0 || strcmp(status, "partial_success") == 0 ||
        strcmp(status, "cancelled") == 0) {
        return "\x1b[33m";
    }
    return "";
}

void ctl_live_draw(ctl_live_t *self, FILE *out, bool force)
{
    int64_t now = ctl_now_ms();
    if (!self->dirty || (!force && now - self->drawn_at < 100)) {
        return;
    }
    size_t n = json_object_size(self->tasks);
    const char **ids = calloc(n + 1, sizeof(char *));
    if (!ids) {
        return;
    }
    size_t k = 0;
    const char *key;
    json_t *t;
    json_object_foreach(self->tasks, key, t)
    {
        ids[k++] = key;
    }
    qsort(ids, k, sizeof(char *), s_cmp_str);
    /* Autowrap off while drawing: a line wider than the terminal is cut at
       its edge instead of wrapping, so a frame is exactly `lines` rows tall
       and the cursor-up below lands on its first row on any width. */
    fprintf(out, "\x1b[?7l");
    if (self->lines > 0) {
        fprintf(out, "\x1b[%dA", self->lines); /* back to the top of the last frame */
    }
    fprintf(out, "\x1b[J");
    int lines = 0;
    fprintf(out, "\x1b[1mpipeline %s\x1b[0m  %s%s\x1b[0m  stage %s  %zu tasks\n",
            self->pipeline_id ? self->pipeline_id : "(all)", s_color(self->status), self->status,
            self->stage, n);
    lines++;
    for (size_t i = 0; i < k; i++) {
        t = json_object_get(self->tasks, ids[i]);
        const char *status = ctl_str(t, "status", "-");
        long long pct = ctl_int(t, "pct", -1);
        pct = pct > 100 ? 100 : pct;
        char bar[S_BAR + 1];
        int fill = pct < 0 ? 0 : (int)(pct * S_BAR / 100);
        char pcts[8] = "  ?";
        if (pct >= 0) {
            snprintf(pcts, sizeof(pcts), "%3lld", pct);
        }
        for (int b = 0; b < S_BAR; b++) {
            bar[b] = b < fill ? '#' : '.';
        }
        bar[S_BAR] = '\0';
        const char *short_id = strrchr(ids[i], '-');
        const char *err = ctl_str(t, "error", "");
        fprintf(out,
                "  %-6.6s %-18.18s %-24.24s %s%-10.10s\x1b[0m [%s] %s%% %-12.12s a%lld %.40s\n",
                short_id ? short_id + 1 : ids[i], ctl_str(t, "service", "-"), ctl_str(t, "app", ""),
                s_color(status), status, bar, pcts, ctl_str(t, "stage", ""),
                ctl_int(t, "attempt", 0), err);
        lines++;
    }
    size_t first = self->nbreakers > S_BREAKER_LINES ? self->nbreakers - S_BREAKER_LINES : 0;
    for (size_t i = first; i < self->nbreakers; i++) {
        const char *line = self->breakers[i % S_BREAKER_LINES];
        fprintf(out, "  %.110s\n", line ? line : "");
        lines++;
    }
    fprintf(out, "\x1b[?7h");
    fflush(out);
    free(ids);
    self->lines = lines;
    self->dirty = false;
    self->drawn_at = now;
}
