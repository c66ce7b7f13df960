/*  sl_db.h: sluice's LMDB layer, pure and synchronous.

    One LMDB environment in the data directory with the named databases of
    docs/internals.md (meta, pipelines, tasks, attempts, results, events, dlq)
    plus `quarantine`, where corrupted values are moved. The store actor is
    its only user: an sl_db_t belongs to one thread (the store's), and at most
    one write transaction is open at a time. Nothing here sends messages or
    knows msgpack; the actor builds event bodies and calls in.

    Design notes
    - The data directory is claimed with an exclusive flock(2) on a `LOCK`
      file (separate from LMDB's own lock.mdb) holding the owner's pid, so a
      second daemon on the same directory is refused with SL_EBUSY naming the
      pid instead of silently sharing the environment.
    - meta holds `schema` (u32, big-endian) and `last_seq` (u64, big-endian).
      A directory written by another schema version is refused (SL_EVERSION).
    - Every stored value carries an 8-byte header: 3 magic bytes "SLV", a
      format byte (1) and the CRC-32 (IEEE) of the payload, little-endian.
      Readers only ever see the payload. A value whose header or CRC does not
      match is reported as SL_ECORRUPT and can be moved to `quarantine` (key:
      one byte of the source db id + the original key) by a write
      transaction; nothing here aborts on bad bytes from disk.
    - Events are keyed by their seq as u64 big-endian, so they append in
      order. Seqs are gapless: sl_db_put_event only accepts the next seq of
      the open transaction, and last_seq is written in the same transaction.
*/
#ifndef SL_DB_H
#define SL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sl_ids.h"
#include "runtime/sl_err.h"

/* Named databases; the numbers are the `db` field of STORE_WRITE ops,
   STORE_GET and STORE_SCAN, fixed by the contract in proto/sl_ids.h. The
   quarantine db is the store's own. */
enum {
    SL_DB_META = SL_IDS_DB_META,
    SL_DB_PIPELINES = SL_IDS_DB_PIPELINES,
    SL_DB_TASKS = SL_IDS_DB_TASKS,
    SL_DB_ATTEMPTS = SL_IDS_DB_ATTEMPTS,
    SL_DB_RESULTS = SL_IDS_DB_RESULTS,
    SL_DB_EVENTS = SL_IDS_DB_EVENTS,
    SL_DB_DLQ = SL_IDS_DB_DLQ,
    SL_DB_QUARANTINE = SL_IDS_DB_DLQ + 1,
    SL_DB_COUNT
};

#define SL_DB_SCHEMA_VERSION 1u
#define SL_DB_MAX_KEY 500    /* bytes; LMDB's limit is 511, quarantine adds 1 */
#define SL_DB_VALUE_HEADER 8 /* bytes added in front of every stored value */

typedef struct sl_db_t sl_db_t;

typedef struct {
    const char *dir;   /* data directory; created (0700) if missing */
    uint64_t map_size; /* bytes; 0 = the store/map_size_mb default */
    bool nosync;       /* MDB_NOSYNC: faster, loses the last commits on a crash */
} sl_db_config_t;

/* "pipelines" etc.; NULL for an unknown id. */
const char *sl_db_name(unsigned db);

/* Opens (creating when missing) the data directory. Returns 0 and *out
   (caller owns, sl_db_close), or
     SL_EBUSY     the directory is held by another live process,
     SL_EVERSION  it was written by another schema version,
     SL_ECORRUPT  its meta values are corrupt,
     SL_EIO / SL_ELMDB / SL_ENOMEM / SL_EINVAL.
   On failure a one-line explanation naming the directory (and the holder's
   pid for SL_EBUSY) is written to err (may be NULL). */
int sl_db_open(const sl_db_config_t *cfg, sl_db_t **out, char *err, size_t errlen);

/* Aborts an open write transaction, closes the environment, releases the
   directory lock. Accepts NULL; nulls *p. */
void sl_db_close(sl_db_t **p);

/* Last committed event seq (0 when none). */
uint64_t sl_db_last_seq(sl_db_t *self);

/* ---- writing: one transaction at a time ----------------------------------- */

/* Opens the write transaction. SL_ESTATE if one is open already. */
int sl_db_begin(sl_db_t *self);

/* Puts (val non-NULL or vlen 0) a value in db (1..6, not meta/events/
   quarantine). key: 1..SL_DB_MAX_KEY bytes. SL_ESTATE without a
   transaction, SL_EINVAL for a bad db or key, SL_EFULL when the map is
   full, SL_ELMDB otherwise. After an error the transaction must be aborted. */
int sl_db_put(sl_db_t *self, unsigned db, const void *key, size_t klen, const void *val,
              size_t vlen);

/* Deletes a key; a missing key is not an error. Errors as sl_db_put. */
int sl_db_del(sl_db_t *self, unsigned db, const void *key, size_t klen);

/* The seq the next sl_db_put_event must use (last seq of this transaction
   + 1). Without a transaction: last committed seq + 1. */
uint64_t sl_db_next_seq(sl_db_t *self);

/* Stores an event body under seq, which must equal sl_db_next_seq
   (SL_EINVAL otherwise, so seqs cannot have gaps). */
int sl_db_put_event(sl_db_t *self, uint64_t seq, const void *val, size_t vlen);

/* Moves a (corrupt) value's raw bytes from db to quarantine and deletes it
   from db, inside the open transaction. SL_ENOTFOUND if it is gone. */
int sl_db_quarantine(sl_db_t *self, unsigned db, const void *key, size_t klen);

/* Commits (with last_seq when events were added): 0, or SL_EFULL (map
   full), SL_EIO, SL_ELMDB; after a failed commit nothing of the
   transaction is stored. Without a transaction: SL_ESTATE. */
int sl_db_commit(sl_db_t *self);

/* Drops the open transaction (no-op without one). */
void sl_db_abort(sl_db_t *self);

/* Bytes (payload) put in the open transaction so far. */
uint64_t sl_db_txn_bytes(sl_db_t *self);

/* ---- reading: from the last committed state -------------------------------- */

/* Copies the payload of key in db (0..7) to *val (caller owns, free(); NULL
   when vlen is 0). SL_ENOTFOUND, SL_ECORRUPT (header/CRC mismatch),
   SL_EINVAL, SL_ESTATE while a write transaction is open, SL_ELMDB. */
int sl_db_get(sl_db_t *self, unsigned db, const void *key, size_t klen, uint8_t **val,
              size_t *vlen);

/* Called per row of a scan with borrowed bytes (valid during the call).
   status 0: val is the payload; SL_ECORRUPT: val is the raw stored bytes.
   Return 0 to go on, > 0 to stop (not an error), < 0 to stop with that
   error. */
typedef int(sl_db_row_fn)(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen, int status);

/* Visits, in key order, the rows of db whose key starts with prefix (plen 0:
   every row) and is greater than start_after (salen 0: from the prefix's
   start), at most limit good rows (0 = no limit; corrupt rows are passed
   to fn but not counted). *more (may be NULL) says whether a further row matched after the
   last one visited. Returns 0, the callback's error, SL_EINVAL, SL_ESTATE,
   SL_ELMDB. */
int sl_db_scan(sl_db_t *self, unsigned db, const void *prefix, size_t plen, const void *start_after,
               size_t salen, size_t limit, sl_db_row_fn *fn, void *arg, bool *more);

/* ---- pruning events ---------------------------------------------------------- */

/* Asked for the oldest events in seq order: return true to delete this
   one, false to keep it (which ends the prune: only a prefix goes). val is
   the payload (status 0) or the raw stored bytes (SL_ECORRUPT). */
typedef bool(sl_db_prune_fn)(void *arg, uint64_t seq, const uint8_t *val, size_t vlen, int status);

/* Deletes, in one write transaction of its own, the oldest events while fn
   says so: at most max, never the newest event (so the first kept seq is
   always known and the kept events stay gapless). last_seq is untouched.
   *pruned (may be NULL) gets the count. SL_ESTATE while a write transaction
   is open; SL_EFULL, SL_ELMDB (then nothing was deleted). */
int sl_db_prune_events(sl_db_t *self, size_t max, sl_db_prune_fn *fn, void *arg, size_t *pruned);

/* Whether key is in db, seen from the transaction sl_db_prune_events has
   open (from the last committed state outside one). */
bool sl_db_has(sl_db_t *self, unsigned db, const void *key, size_t klen);

/* The seq of the oldest kept event; 0 when there is none (or on error). */
uint64_t sl_db_first_seq(sl_db_t *self);

/* Rows in db (0..7), from the last committed state; 0 on error. */
uint64_t sl_db_count(sl_db_t *self, unsigned db);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of p[0..len), continuing
   from crc (0 to start). */
uint32_t sl_db_crc32(uint32_t crc, const void *p, size_t len);

/* Translates an LMDB return code into an sl_err code (0 stays 0). */
int sl_db_err(int rc);

#endif
