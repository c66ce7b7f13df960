/*  sl_db.c: the LMDB layer under the store actor (see sl_db.h).

    Runs on whichever thread owns the sl_db_t (the store actor's). The
    environment is opened with MDB_NOTLS so the one read transaction we keep
    (reset between reads, renewed on the next) is tied to this object, not to
    the thread's reader slot. LMDB return codes are translated to sl_err codes
    here and nowhere else.
*/
#include "actors/store/sl_db.h"

#include "actors/config/sl_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

struct sl_db_t {
    char *dir;
    int lock_fd;
    MDB_env *env;
    MDB_dbi dbi[SL_DB_COUNT];
    MDB_txn *wtxn;     /* open write transaction, or NULL */
    MDB_txn *rtxn;     /* kept read transaction: reset when idle */
    bool rtxn_live;    /* rtxn is renewed (in use) */
    uint64_t last_seq; /* committed */
    uint64_t txn_seq;  /* last seq inside wtxn */
    uint64_t txn_bytes;
};

static const char *s_names[SL_DB_COUNT] = {"meta",    "pipelines", "tasks", "attempts",
                                           "results", "events",    "dlq",   "quarantine"};

static const uint8_t s_magic[4] = {'S', 'L', 'V', 1};

const char *sl_db_name(unsigned db)
{
    if (db >= SL_DB_COUNT) {
        return NULL;
    }
    return s_names[db];
}

int sl_db_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return SL_ENOTFOUND;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL:
        return SL_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return SL_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return SL_EVERSION;
    case ENOMEM:
        return SL_ENOMEM;
    case EIO:
    case ENOSPC:
    case EACCES:
    case EROFS:
        return SL_EIO;
    default:
        return SL_ELMDB;
    }
}

/* ---- CRC-32 ------------------------------------------------------------------ */

static uint32_t s_crc_table[256];
static int s_crc_ready;

static void s_crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        s_crc_table[i] = c;
    }
    __atomic_store_n(&s_crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t sl_db_crc32(uint32_t crc, const void *p, size_t len)
{
    /* The table is built idempotently; two threads racing write the same
       values, so no lock is needed beyond the release/acquire on the flag. */
    if (!__atomic_load_n(&s_crc_ready, __ATOMIC_ACQUIRE)) {
        s_crc_init();
    }
    const uint8_t *b = p;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc = s_crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* ---- value framing ------------------------------------------------------------ */

static void s_frame(uint8_t *dst, const void *val, size_t vlen)
{
    uint32_t crc = sl_db_crc32(0, val, vlen);
    memcpy(dst, s_magic, 4);
    dst[4] = (uint8_t)crc;
    dst[5] = (uint8_t)(crc >> 8);
    dst[6] = (uint8_t)(crc >> 16);
    dst[7] = (uint8_t)(crc >> 24);
    if (vlen > 0) {
        memcpy(dst + SL_DB_VALUE_HEADER, val, vlen);
    }
}

/* Checks a stored value and returns its payload. Disk bytes are untrusted:
   any mismatch is SL_ECORRUPT, never an abort. */
static int s_unframe(const MDB_val *v, const uint8_t **p, size_t *len)
{
    const uint8_t *b = v->mv_data;
    if (v->mv_size < SL_DB_VALUE_HEADER || memcmp(b, s_magic, 4) != 0) {
        return SL_ECORRUPT;
    }
    uint32_t want =
        (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    size_t n = v->mv_size - SL_DB_VALUE_HEADER;
    if (sl_db_crc32(0, b + SL_DB_VALUE_HEADER, n) != want) {
        return SL_ECORRUPT;
    }
    *p = b + SL_DB_VALUE_HEADER;
    *len = n;
    return 0;
}

static int s_put_raw(sl_db_t *self, unsigned db, const void *key, size_t klen, const void *val,
                     size_t vlen, unsigned flags)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen + SL_DB_VALUE_HEADER, .mv_data = NULL};
    /* MDB_RESERVE lets us frame the value straight into the page instead
       of building header+payload in a temporary buffer. */
    int rc = mdb_put(self->wtxn, self->dbi[db], &k, &v, flags | MDB_RESERVE);
    if (rc != MDB_SUCCESS) {
        return sl_db_err(rc);
    }
    s_frame(v.mv_data, val, vlen);
    self->txn_bytes += vlen;
    return 0;
}

static void s_be64(uint8_t *b, uint64_t x)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)x;
        x >>= 8;
    }
}

static uint64_t s_rd_be64(const uint8_t *b)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x = x << 8 | b[i];
    }
    return x;
}

/* ---- open / close ----------------------------------------------------------- */

static void s_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int s_mkdirs(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        return SL_EINVAL;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] == '/' || path[i] == '\0') {
            char c = path[i];
            path[i] = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                return SL_EIO;
            }
            path[i] = c;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        return SL_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR; /* for the caller's message */
        return SL_EIO;
    }
    return 0;
}

/* Claims the directory: flock is released by the kernel when the holder
   dies, so a stale LOCK file from a killed daemon never blocks a restart. */
static int s_lock_dir(sl_db_t *self, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/LOCK", self->dir) >= (int)sizeof path) {
        return SL_EINVAL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        s_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char buf[32] = {0};
        ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
        long pid = r > 0 ? strtol(buf, NULL, 10) : 0;
        close(fd);
        if (e == EWOULDBLOCK) {
            s_errf(err, errlen, "data directory %s is held by another sluiced (pid %ld)", self->dir,
                   pid);
            return SL_EBUSY;
        }
        s_errf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        return SL_EIO;
    }
    char pidbuf[32];
    int n = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pidbuf, (size_t)n, 0) != n) {
        s_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        return SL_EIO;
    }
    self->lock_fd = fd;
    return 0;
}

/* Reads or creates the schema version and last_seq inside txn. */
static int s_meta_init(sl_db_t *self, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = {.mv_size = 6, .mv_data = "schema"};
    MDB_val v;
    const uint8_t *p;
    size_t n;
    int rc = mdb_get(txn, self->dbi[SL_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t ver[4] = {0, 0, 0, SL_DB_SCHEMA_VERSION};
        self->wtxn = txn;
        rc = s_put_raw(self, SL_DB_META, "schema", 6, ver, 4, 0);
        self->wtxn = NULL;
        if (rc < 0) {
            s_errf(err, errlen, "cannot initialise %s: %s", self->dir, sl_err_msg(rc));
        }
        return rc;
    }
    if (rc != MDB_SUCCESS) {
        s_errf(err, errlen, "cannot read %s: %s", self->dir, mdb_strerror(rc));
        return sl_db_err(rc);
    }
    if (s_unframe(&v, &p, &n) < 0 || n != 4) {
        s_errf(err, errlen, "data directory %s: schema record is corrupt", self->dir);
        return SL_ECORRUPT;
    }
    uint32_t ver = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    if (ver != SL_DB_SCHEMA_VERSION) {
        s_errf(err, errlen, "data directory %s has schema version %u; this sluice reads version %u",
               self->dir, ver, SL_DB_SCHEMA_VERSION);
        return SL_EVERSION;
    }
    k.mv_size = 8;
    k.mv_data = "last_seq";
    rc = mdb_get(txn, self->dbi[SL_DB_META], &k, &v);
    if (rc == MDB_SUCCESS) {
        if (s_unframe(&v, &p, &n) < 0 || n != 8) {
            s_errf(err, errlen, "data directory %s: last_seq record is corrupt", self->dir);
            return SL_ECORRUPT;
        }
        self->last_seq = s_rd_be64(p);
    } else if (rc != MDB_NOTFOUND) {
        return sl_db_err(rc);
    }
    /* Events and last_seq commit together, so they agree; if they ever do
       not, never hand out a seq that is already taken. */
    MDB_cursor *cur = NULL;
    if (mdb_cursor_open(txn, self->dbi[SL_DB_EVENTS], &cur) == MDB_SUCCESS) {
        MDB_val ek, ev;
        if (mdb_cursor_get(cur, &ek, &ev, MDB_LAST) == MDB_SUCCESS && ek.mv_size == 8) {
            uint64_t top = s_rd_be64(ek.mv_data);
            if (top > self->last_seq) {
                self->last_seq = top;
            }
        }
        mdb_cursor_close(cur);
    }
    return 0;
}

int sl_db_open(const sl_db_config_t *cfg, sl_db_t **out, char *err, size_t errlen)
{
    if (!cfg || !cfg->dir || !out) {
        return SL_EINVAL;
    }
    *out = NULL;
    s_errf(err, errlen, "%s", "");
    MDB_txn *txn = NULL;
    int rc;
    sl_db_t *self = calloc(1, sizeof *self);
    if (!self) {
        return SL_ENOMEM;
    }
    self->lock_fd = -1;
    self->dir = strdup(cfg->dir);
    if (!self->dir) {
        rc = SL_ENOMEM;
        goto fail;
    }
    rc = s_mkdirs(self->dir);
    if (rc < 0) {
        s_errf(err, errlen, "cannot create data directory %s: %s", self->dir, strerror(errno));
        goto fail;
    }
    rc = s_lock_dir(self, err, errlen);
    if (rc < 0) {
        goto fail;
    }
    rc = mdb_env_create(&self->env);
    if (rc == MDB_SUCCESS) {
        rc = mdb_env_set_maxdbs(self->env, SL_DB_COUNT);
    }
    if (rc == MDB_SUCCESS) {
        uint64_t size =
            cfg->map_size ? cfg->map_size : (uint64_t)sl_config_builtin()->map_size_mb << 20;
        rc = mdb_env_set_mapsize(self->env, (size_t)size);
    }
    if (rc == MDB_SUCCESS) {
        unsigned flags = MDB_NOTLS | (cfg->nosync ? MDB_NOSYNC : 0);
        rc = mdb_env_open(self->env, self->dir, flags, 0600);
    }
    if (rc != MDB_SUCCESS) {
        s_errf(err, errlen, "cannot open LMDB in %s: %s", self->dir, mdb_strerror(rc));
        rc = sl_db_err(rc);
        goto fail;
    }
    int dead = 0;
    mdb_reader_check(self->env, &dead); /* readers left by a killed process */
    rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    for (unsigned i = 0; rc == MDB_SUCCESS && i < SL_DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, s_names[i], MDB_CREATE, &self->dbi[i]);
    }
    if (rc != MDB_SUCCESS) {
        s_errf(err, errlen, "cannot open databases in %s: %s", self->dir, mdb_strerror(rc));
        rc = sl_db_err(rc);
        goto fail;
    }
    rc = s_meta_init(self, txn, err, errlen);
    if (rc < 0) {
        goto fail;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != MDB_SUCCESS) {
        s_errf(err, errlen, "cannot commit to %s: %s", self->dir, mdb_strerror(rc));
        rc = sl_db_err(rc);
        goto fail;
    }
    *out = self;
    return 0;
fail:
    if (txn) {
        mdb_txn_abort(txn);
    }
    sl_db_close(&self);
    return rc;
}

void sl_db_close(sl_db_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_db_t *self = *p;
    *p = NULL;
    if (self->wtxn) {
        mdb_txn_abort(self->wtxn);
    }
    if (self->rtxn) {
        mdb_txn_abort(self->rtxn);
    }
    if (self->env) {
        mdb_env_close(self->env);
    }
    if (self->lock_fd >= 0) {
        close(self->lock_fd); /* releases the flock */
    }
    free(self->dir);
    free(self);
}

uint64_t sl_db_last_seq(sl_db_t *self)
{
    return self->last_seq;
}

/* ---- writing ---------------------------------------------------------------- */

int sl_db_begin(sl_db_t *self)
{
    if (self->wtxn) {
        return SL_ESTATE;
    }
    int rc = mdb_txn_begin(self->env, NULL, 0, &self->wtxn);
    if (rc != MDB_SUCCESS) {
        self->wtxn = NULL;
        return sl_db_err(rc);
    }
    self->txn_seq = self->last_seq;
    self->txn_bytes = 0;
    return 0;
}

static bool s_user_db(unsigned db)
{
    return db >= SL_DB_PIPELINES && db <= SL_DB_DLQ && db != SL_DB_EVENTS;
}

int sl_db_put(sl_db_t *self, unsigned db, const void *key, size_t klen, const void *val,
              size_t vlen)
{
    if (!self->wtxn) {
        return SL_ESTATE;
    }
    if (!s_user_db(db) || !key || klen == 0 || klen > SL_DB_MAX_KEY || (!val && vlen > 0)) {
        return SL_EINVAL;
    }
    return s_put_raw(self, db, key, klen, val, vlen, 0);
}

int sl_db_del(sl_db_t *self, unsigned db, const void *key, size_t klen)
{
    if (!self->wtxn) {
        return SL_ESTATE;
    }
    if (!s_user_db(db) || !key || klen == 0 || klen > SL_DB_MAX_KEY) {
        return SL_EINVAL;
    }
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_del(self->wtxn, self->dbi[db], &k, NULL);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    return sl_db_err(rc);
}

uint64_t sl_db_next_seq(sl_db_t *self)
{
    return (self->wtxn ? self->txn_seq : self->last_seq) + 1;
}

int sl_db_put_event(sl_db_t *self, uint64_t seq, const void *val, size_t vlen)
{
    if (!self->wtxn) {
        return SL_ESTATE;
    }
    if (seq != self->txn_seq + 1 || (!val && vlen > 0)) {
        return SL_EINVAL;
    }
    uint8_t key[8];
    s_be64(key, seq);
    /* Seqs only grow, so MDB_APPEND skips the tree search. */
    int rc = s_put_raw(self, SL_DB_EVENTS, key, 8, val, vlen, MDB_APPEND);
    if (rc == 0) {
        self->txn_seq = seq;
    }
    return rc;
}

int sl_db_quarantine(sl_db_t *self, unsigned db, const void *key, size_t klen)
{
    if (!self->wtxn) {
        return SL_ESTATE;
    }
    if (db >= SL_DB_COUNT || db == SL_DB_QUARANTINE || !key || klen == 0 || klen > SL_DB_MAX_KEY) {
        return SL_EINVAL;
    }
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v;
    int rc = mdb_get(self->wtxn, self->dbi[db], &k, &v);
    if (rc != MDB_SUCCESS) {
        return sl_db_err(rc);
    }
    uint8_t qkey[SL_DB_MAX_KEY + 1];
    qkey[0] = (uint8_t)db;
    memcpy(qkey + 1, key, klen);
    /* Copy first: v points into a page that the put below may move. */
    uint8_t *raw = malloc(v.mv_size ? v.mv_size : 1);
    if (!raw) {
        return SL_ENOMEM;
    }
    size_t rawlen = v.mv_size;
    memcpy(raw, v.mv_data, rawlen);
    rc = s_put_raw(self, SL_DB_QUARANTINE, qkey, klen + 1, raw, rawlen, 0);
    free(raw);
    if (rc < 0) {
        return rc;
    }
    rc = mdb_del(self->wtxn, self->dbi[db], &k, NULL);
    return sl_db_err(rc);
}

int sl_db_commit(sl_db_t *self)
{
    if (!self->wtxn) {
        return SL_ESTATE;
    }
    int rc = 0;
    if (self->txn_seq != self->last_seq) {
        uint8_t v[8];
        s_be64(v, self->txn_seq);
        rc = s_put_raw(self, SL_DB_META, "last_seq", 8, v, 8, 0);
    }
    if (rc < 0) {
        sl_db_abort(self);
        return rc;
    }
    rc = mdb_txn_commit(self->wtxn);
    self->wtxn = NULL;
    if (rc != MDB_SUCCESS) {
        self->txn_seq = self->last_seq;
        return sl_db_err(rc);
    }
    self->last_seq = self->txn_seq;
    return 0;
}

void sl_db_abort(sl_db_t *self)
{
    if (self->wtxn) {
        mdb_txn_abort(self->wtxn);
        self->wtxn = NULL;
    }
    self->txn_seq = self->last_seq;
    self->txn_bytes = 0;
}

uint64_t sl_db_txn_bytes(sl_db_t *self)
{
    return self->txn_bytes;
}

/* ---- reading ---------------------------------------------------------------- */

static int s_read_begin(sl_db_t *self)
{
    if (self->wtxn) {
        return SL_ESTATE;
    }
    int rc;
    if (self->rtxn) {
        rc = mdb_txn_renew(self->rtxn);
    } else {
        rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &self->rtxn);
        if (rc != MDB_SUCCESS) {
            self->rtxn = NULL;
        }
    }
    if (rc != MDB_SUCCESS) {
        return sl_db_err(rc);
    }
    self->rtxn_live = true;
    return 0;
}

static void s_read_end(sl_db_t *self)
{
    if (self->rtxn_live) {
        mdb_txn_reset(self->rtxn);
        self->rtxn_live = false;
    }
}

int sl_db_get(sl_db_t *self, unsigned db, const void *key, size_t klen, uint8_t **val, size_t *vlen)
{
    if (db >= SL_DB_COUNT || !key || klen == 0 || klen > SL_DB_MAX_KEY + 1 || !val || !vlen) {
        return SL_EINVAL;
    }
    *val = NULL;
    *vlen = 0;
    int rc = s_read_begin(self);
    if (rc < 0) {
        return rc;
    }
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v;
    const uint8_t *p;
    size_t n;
    rc = mdb_get(self->rtxn, self->dbi[db], &k, &v);
    if (rc != MDB_SUCCESS) {
        rc = sl_db_err(rc);
        goto done;
    }
    rc = s_unframe(&v, &p, &n);
    if (rc < 0) {
        goto done;
    }
    if (n > 0) {
        *val = malloc(n);
        if (!*val) {
            rc = SL_ENOMEM;
            goto done;
        }
        memcpy(*val, p, n);
    }
    *vlen = n;
done:
    s_read_end(self);
    return rc;
}

static int s_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int sl_db_scan(sl_db_t *self, unsigned db, const void *prefix, size_t plen, const void *start_after,
               size_t salen, size_t limit, sl_db_row_fn *fn, void *arg, bool *more)
{
    if (db >= SL_DB_COUNT || !fn || (plen > 0 && !prefix) || (salen > 0 && !start_after) ||
        plen > SL_DB_MAX_KEY + 1 || salen > SL_DB_MAX_KEY + 1) {
        return SL_EINVAL;
    }
    if (more) {
        *more = false;
    }
    if (limit == 0) {
        limit = SIZE_MAX;
    }
    int rc = s_read_begin(self);
    if (rc < 0) {
        return rc;
    }
    MDB_cursor *cur = NULL;
    rc = mdb_cursor_open(self->rtxn, self->dbi[db], &cur);
    if (rc != MDB_SUCCESS) {
        rc = sl_db_err(rc);
        goto done;
    }
    MDB_val k, v;
    bool after = salen > 0 && (plen == 0 || s_keycmp(start_after, salen, prefix, plen) >= 0);
    if (after) {
        k.mv_size = salen;
        k.mv_data = (void *)start_after;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_SUCCESS && s_keycmp(k.mv_data, k.mv_size, start_after, salen) == 0) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    } else if (plen > 0) {
        k.mv_size = plen;
        k.mv_data = (void *)prefix;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    size_t good = 0;
    while (rc == MDB_SUCCESS) {
        if (plen > 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)) {
            break;
        }
        const uint8_t *p;
        size_t n;
        int st = s_unframe(&v, &p, &n);
        if (st == 0 && good == limit) {
            if (more) {
                *more = true;
            }
            break;
        }
        int r = st == 0 ? fn(arg, k.mv_data, k.mv_size, p, n, 0)
                        : fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size, st);
        if (st == 0) {
            good++;
        }
        if (r != 0) {
            rc = r < 0 ? r : 0;
            goto close;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    rc = (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) ? 0 : sl_db_err(rc);
close:
    mdb_cursor_close(cur);
done:
    s_read_end(self);
    return rc;
}

uint64_t sl_db_count(sl_db_t *self, unsigned db)
{
    if (db >= SL_DB_COUNT || s_read_begin(self) < 0) {
        return 0;
    }
    MDB_stat st;
    uint64_t n = 0;
    if (mdb_stat(self->rtxn, self->dbi[db], &st) == MDB_SUCCESS) {
        n = st.ms_entries;
    }
    s_read_end(self);
    return n;
}

/* ---- pruning events ---------------------------------------------------------- */

int sl_db_prune_events(sl_db_t *self, size_t max, sl_db_prune_fn *fn, void *arg, size_t *pruned)
{
    if (pruned) {
        *pruned = 0;
    }
    if (!fn) {
        return SL_EINVAL;
    }
    int rc = sl_db_begin(self);
    if (rc < 0) {
        return rc;
    }
    MDB_cursor *cur = NULL;
    size_t n = 0;
    rc = mdb_cursor_open(self->wtxn, self->dbi[SL_DB_EVENTS], &cur);
    if (rc != MDB_SUCCESS) {
        sl_db_abort(self);
        return sl_db_err(rc);
    }
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS && n < max && k.mv_size == 8) {
        uint64_t seq = s_rd_be64(k.mv_data);
        if (seq >= self->last_seq) {
            break; /* the newest event stays */
        }
        const uint8_t *p;
        size_t len;
        int st = s_unframe(&v, &p, &len);
        bool go = st == 0 ? fn(arg, seq, p, len, 0) : fn(arg, seq, v.mv_data, v.mv_size, st);
        if (!go) {
            break;
        }
        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            break;
        }
        n++;
        /* After a delete LMDB's MDB_NEXT yields the row that followed. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        sl_db_abort(self);
        return sl_db_err(rc);
    }
    if (n == 0) {
        sl_db_abort(self);
        return 0;
    }
    rc = sl_db_commit(self);
    if (rc == 0 && pruned) {
        *pruned = n;
    }
    return rc;
}

bool sl_db_has(sl_db_t *self, unsigned db, const void *key, size_t klen)
{
    if (db >= SL_DB_COUNT || !key || klen == 0 || klen > SL_DB_MAX_KEY + 1) {
        return false;
    }
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v;
    if (self->wtxn) {
        return mdb_get(self->wtxn, self->dbi[db], &k, &v) == MDB_SUCCESS;
    }
    if (s_read_begin(self) < 0) {
        return false;
    }
    bool found = mdb_get(self->rtxn, self->dbi[db], &k, &v) == MDB_SUCCESS;
    s_read_end(self);
    return found;
}

uint64_t sl_db_first_seq(sl_db_t *self)
{
    if (s_read_begin(self) < 0) {
        return 0;
    }
    uint64_t seq = 0;
    MDB_cursor *cur = NULL;
    if (mdb_cursor_open(self->rtxn, self->dbi[SL_DB_EVENTS], &cur) == MDB_SUCCESS) {
        MDB_val k, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == MDB_SUCCESS && k.mv_size == 8) {
            seq = s_rd_be64(k.mv_data);
        }
        mdb_cursor_close(cur);
    }
    s_read_end(self);
    return seq;
}
