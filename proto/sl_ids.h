/*  sl_ids.h: pipeline and task ids, shard routing, store database ids, and
    the mailbox names the actors find each other by.

    The rules are in docs/internals.md: a pipeline id is `p` + 12 hex digits
    of wall-clock ms + 6 hex digits of a per-process counter mixed with
    randomness (ids grow with time, so LMDB appends); a task id is
    `<pipeline_id>-t<4 digits>`; the shard of either is FNV-1a 32 of the
    pipeline id modulo the shard count. An attempt's wire id (the request
    `id` and so the pushes' `correlation_id`) is `<task_id>-a<attempt>-`
    followed by 16 hex digits from the kernel's random source, so that
    nobody who can reach the progress listener can guess a live attempt's
    id. Thread-safe.
*/
#ifndef SL_IDS_H
#define SL_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_IDS_MAX 96          /* room for any id sluice makes, with the NUL */
#define SL_IDS_PIPELINE_LEN 19 /* "p" + 12 + 6 hex digits */

/* Store database ids (docs/internals.md). */
enum {
    SL_IDS_DB_META = 0,
    SL_IDS_DB_PIPELINES = 1,
    SL_IDS_DB_TASKS = 2,
    SL_IDS_DB_ATTEMPTS = 3,
    SL_IDS_DB_RESULTS = 4,
    SL_IDS_DB_EVENTS = 5,
    SL_IDS_DB_DLQ = 6
};

/* Mailbox names (docs/internals.md, "Actors"): one actor each, plus one
   "pipeline.<shard>" per shard and one "endpoint.<service>" per service. */
#define SL_IDS_STORE "store"
#define SL_IDS_API "api"
#define SL_IDS_PROGRESS "progress"
#define SL_IDS_WATCHDOG "watchdog"
#define SL_IDS_PIPELINE_PREFIX "pipeline."
#define SL_IDS_ENDPOINT_PREFIX "endpoint."

/* Writes "pipeline.<shard>" into out: 0, or SL_ETOOBIG when it does not fit
   (out then holds a cut name). */
int sl_ids_pipeline_mailbox(char *out, size_t size, int shard);

/* Writes "endpoint.<service>" into out: 0, SL_EINVAL for a NULL or empty
   service, or SL_ETOOBIG when it does not fit. */
int sl_ids_endpoint_mailbox(char *out, size_t size, const char *service);

/* Writes a fresh pipeline id into out (size >= 20). */
void sl_ids_new_pipeline(char *out, size_t size, int64_t wall_ms);

/* True for a well-formed pipeline id ("p" + 18 lowercase hex digits). */
bool sl_ids_pipeline_valid(const char *id);

/* Length of the pipeline part of a pipeline or task id (up to "-t"). */
size_t sl_ids_pipeline_len(const char *id);

/* Shard in [0, shards) of a pipeline id or of a task id. */
int sl_ids_shard_of(const char *id, int shards);

#define SL_IDS_ATTEMPT_RANDOM 16 /* hex digits of an attempt wire id's random part */

/* Writes a fresh attempt wire id "<task_id>-a<attempt>-<16 hex>" into out:
   0, SL_EINVAL for a NULL or empty task id, SL_ETOOBIG when it does not
   fit. */
int sl_ids_attempt_wire(char *out, size_t size, const char *task_id, uint64_t attempt);

/* Parses a wire id made by sl_ids_attempt_wire: the task id (into task,
   cut to fit) and the attempt number. 0, or SL_EINVAL when id is not one. */
int sl_ids_attempt_parse(const char *id, char *task, size_t task_size, uint64_t *attempt);

#endif
