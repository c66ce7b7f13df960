/*  sl_services.h: the fleet's services (declared in proto/sl_services.def).

    Plain constant data and pure look-ups: no I/O, no state, any thread. Its
    own tiny library (sl_services, like sl_err) so the mock fleet can share
    the table without sluice's wire code. Strings are static storage.
*/
#ifndef SL_SERVICES_H
#define SL_SERVICES_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
#define SL_SERVICE(id, name, alias, op, result, env, ports, tools, targets, mif, prog, att)        \
    SL_SVC_##id,
#include "proto/sl_services.def"
#undef SL_SERVICE
    SL_SVC__COUNT
} sl_service_t;

/* The analyzers come first in the declaration; the generator is last. */
#define SL_SVC_ANALYZERS SL_SVC_GENERATOR

/* "static-analyzer", ...; "unknown" out of range. */
const char *sl_service_name(int svc);
/* Short alias: "static", "dynamic", "performance", "ai", "generator";
   "unknown" out of range. */
const char *sl_service_alias(int svc);
/* Request "type": "static_analyze", "dynamic_analyze", "performance_test",
   "ai_analyze", "generate"; NULL out of range. */
const char *sl_service_op(int svc);
/* Result frame "type": "static_analysis_result", ...,
   "performance_analysis_result", "generation_result"; NULL out of range. */
const char *sl_service_result_type(int svc);
/* The fleet's environment variable with the replica URLs
   ("STATIC_ANALYZER_URLS"); NULL out of range. */
const char *sl_service_env(int svc);
/* Default replica ports on 127.0.0.1, space-separated ("2001 2051");
   "" out of range. */
const char *sl_service_ports(int svc);
/* Built-in tool names, space-separated; "" for the generator and out of
   range. */
const char *sl_service_tools(int svc);
/* True for the analyzers that test a running app (they get target URLs). */
bool sl_service_needs_targets(int svc);
/* Default analyses per replica at a time (services/<name>/max_in_flight);
   0 out of range. */
int sl_service_max_in_flight(int svc);
/* Default legacy stall timeout (progress_timeout_s) and attempt timeout
   (attempt_timeout_s) in seconds, from how the real service reports
   progress; 0 out of range. */
int sl_service_progress_timeout_s(int svc);
int sl_service_attempt_timeout_s(int svc);

/* Service name (s, len bytes, need not be NUL-terminated) -> sl_service_t,
   or SL_ENOTFOUND (SL_EINVAL for NULL s). sl_service_parse_alias also
   accepts the alias. */
int sl_service_parse(const char *s, size_t len);
int sl_service_parse_alias(const char *s, size_t len);
/* The op ("dynamic_analyze") -> sl_service_t, or SL_ENOTFOUND. */
int sl_service_of_op(const char *op, size_t len);
/* The analyzer whose built-in tools include tool, or SL_ENOTFOUND. */
int sl_service_of_tool(const char *tool, size_t len);
/* True if the space-separated list contains the word (tool, len). */
bool sl_service_words_have(const char *list, const char *word, size_t len);

#endif
