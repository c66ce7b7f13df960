/*  sl_log.h: leveled logging to stderr.

    One line per call: time, level, the calling actor's name (or the thread's
    label), the message. Thread-safe (one write(2) per line). The level is
    process-wide and defaults to SL_LOG_INFO, or SLUICE_LOG=debug|info|warn|error.
*/
#ifndef SL_LOG_H
#define SL_LOG_H

typedef enum { SL_LOG_DEBUG = 0, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR, SL_LOG_OFF } sl_log_level_t;

void sl_log_set_level(sl_log_level_t level);
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
