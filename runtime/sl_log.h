/*  sl_log.h: leveled logging to stderr.

    One line per call: time, level, the calling actor's name (or the thread's
    label), the message. Thread-safe (one write(2) per line). The level is
    process-wide and defaults to SL_LOG_INFO, or SLUICE_LOG=debug|info|warn|error.

    Two formats, process-wide: text (the default) and json, one JSON object
    per line with the stable fields ts, level, actor, msg, pipeline_id,
    task_id, replica (the last three null unless the message names one: a
    pipeline id "p" + 18 hex digits, a task id "<pipeline id>-tNNNN", a
    ws:// or wss:// URL), for journald and log shippers.
*/
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stddef.h>

typedef enum {
    SL_LOG_DEBUG = 0,
    SL_LOG_INFO,
    SL_LOG_WARN,
    SL_LOG_ERROR,
    SL_LOG_OFF
} sl_log_level_t;

typedef enum { SL_LOG_TEXT = 0, SL_LOG_JSON } sl_log_format_t;

void sl_log_set_level(sl_log_level_t level);

/* Any thread; takes effect from the next line. */
void sl_log_set_format(sl_log_format_t format);
sl_log_format_t sl_log_get_format(void);

/* Parses "text", "json"; SL_EINVAL otherwise. */
int sl_log_parse_format(const char *text, sl_log_format_t *out);

/* Writes one record of the json format for (level, actor, msg) into out
   (size bytes, >= 64), newline included, truncating msg so the line stays
   valid JSON. Returns the length. For sl_log and its tests. */
size_t sl_log_json_line(char *out, size_t size, sl_log_level_t level, const char *actor,
                        const char *msg);
sl_log_level_t sl_log_get_level(void);

/* Parses "debug", "info", "warn", "error", "off"; SL_EINVAL otherwise. */
int sl_log_parse_level(const char *text, sl_log_level_t *out);

/* Names the calling thread in log lines (the runtime sets actor names). The
   string is copied (truncated to 31 bytes). */
void sl_log_set_thread_label(const char *label);

void sl_log(sl_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)

#endif
