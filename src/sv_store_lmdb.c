/*
 * The store on LMDB: one environment per process, shared by its threads
 * (MDB_NOTLS) and by the other processes that open the same directory.
 * Every call is one transaction begun and ended in the calling thread;
 * whatever is read is copied out of the map before the transaction ends.
 *
 * Named databases:
 *
 *   codes    phone           -> code record
 *   sends    phone           -> send record
 *   tokens   token hash      -> token record
 *   members  id (8 bytes BE) -> the member as JSON text
 *   emails   folded email    -> id (8 bytes BE)
 *   phones   phone           -> id (8 bytes BE)
 *   meta     "next_id"       -> id (8 bytes BE)
 *
 * Binary records begin with a version byte; integers are little-endian.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <lmdb.h>
#include <openssl/crypto.h>

#include "sv_store.h"


#define SV_REC_VERSION      1

/* E.164 has at most 15 digits; anything much longer is not a phone */
#define SV_PHONE_MAX        32

/* version, attempts_left (4), expires_ms (8), hash */
#define SV_CODE_REC_SIZE    (1 + 4 + 8 + SV_HASH_SIZE)

/* version, count (2), keep_until_ms (8), then count stamps of 8 bytes */
#define SV_SEND_REC_HEAD    (1 + 2 + 8)
#define SV_SEND_REC_MAX     (SV_SEND_REC_HEAD + 8 * SV_SEND_LIMIT_MAX)

/* version, expires_ms (8), then the phone without its NUL */
#define SV_TOKEN_REC_HEAD   (1 + 8)
#define SV_TOKEN_REC_MAX    (SV_TOKEN_REC_HEAD + SV_PHONE_MAX)

#define SV_ID_SIZE          8

/* the least room writes leave for sweeps: see sv_check_room() */
#define SV_RESERVE_MIN      (64 * 1024)

#if SV_SEND_LIMIT_MAX > 65535
#error "SV_SEND_LIMIT_MAX does not fit the send record's count"
#endif


enum {
    SV_DB_CODES = 0,
    SV_DB_SENDS,
    SV_DB_TOKENS,
    SV_DB_MEMBERS,
    SV_DB_EMAILS,
    SV_DB_PHONES,
    SV_DB_META,
    SV_DB_N
};

static const char  *sv_db_names[SV_DB_N] = {
    "codes", "sends", "tokens", "members", "emails", "phones", "meta"
};


struct sv_store_s {
    MDB_env            *env;
    MDB_dbi             dbi[SV_DB_N];
    int                 nosync;
    size_t              psize;

    /*
     * Held shared by every transaction, exclusively to adopt a map grown
     * by another process: mdb_env_set_mapsize() needs no live txn.
     */
    pthread_rwlock_t    resize_lock;
};

/* A transaction in progress and where its error goes. */
typedef struct {
    sv_store_t         *st;
    MDB_txn            *txn;
    char               *err;
    size_t              errlen;
    int                 mdb_rc;         /* of the last LMDB failure */
} sv_txn_t;

typedef sv_store_rc_t (*sv_txn_body_pt)(sv_txn_t *t, void *arg);

typedef struct {
    uint8_t             hash[SV_HASH_SIZE];
    int64_t             expires_ms;
    uint32_t            attempts_left;
} sv_code_rec_t;

typedef struct {
    int64_t             keep_until_ms;
    unsigned            count;
    int64_t             stamps[SV_SEND_LIMIT_MAX];
} sv_send_rec_t;

typedef struct {
    int64_t             expires_ms;
    size_t              phone_len;
    char                phone[SV_PHONE_MAX];
} sv_token_rec_t;

typedef struct {
    sv_store_stats_t   *stats;
    int64_t             now_ms;
} sv_stats_arg_t;

typedef struct {
    int64_t             now_ms;
    int64_t             grace_ms;
    size_t              left;
} sv_sweep_arg_t;

typedef struct {
    const char         *phone;
    int64_t             stamp_ms;
} sv_abort_arg_t;

typedef struct {
    const char         *phone;
    const uint8_t      *hash;
    int64_t             expires_ms;
    unsigned            attempts;
} sv_code_arg_t;

typedef struct {
    const uint8_t      *token_hash;
    const char         *phone;
    int64_t             now_ms;
} sv_token_arg_t;

/* Tells whether a record may go; -1 if it is corrupt. */
typedef int (*sv_expired_pt)(const MDB_val *val, int64_t now_ms,
    int64_t grace_ms);


/* Little-endian and big-endian integers, whatever the host. */

static void
sv_put_le(uint8_t *p, uint64_t v, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        p[i] = (uint8_t) (v >> (8 * i));
    }
}


static uint64_t
sv_get_le(const uint8_t *p, size_t n)
{
    size_t    i;
    uint64_t  v;

    v = 0;

    for (i = 0; i < n; i++) {
        v |= (uint64_t) p[i] << (8 * i);
    }

    return v;
}


static void
sv_id_encode(uint64_t id, uint8_t *p)
{
    size_t  i;

    for (i = 0; i < SV_ID_SIZE; i++) {
        p[i] = (uint8_t) (id >> (8 * (SV_ID_SIZE - 1 - i)));
    }
}


static int
sv_id_decode(const MDB_val *val, uint64_t *id)
{
    size_t          i;
    const uint8_t  *p;

    if (val->mv_size != SV_ID_SIZE) {
        return -1;
    }

    p = val->mv_data;
    *id = 0;

    for (i = 0; i < SV_ID_SIZE; i++) {
        *id = (*id << 8) | p[i];
    }

    return 0;
}


/* Records. */

static void
sv_code_rec_encode(const sv_code_rec_t *rec, uint8_t *p)
{
    p[0] = SV_REC_VERSION;
    sv_put_le(p + 1, rec->attempts_left, 4);
    sv_put_le(p + 5, (uint64_t) rec->expires_ms, 8);
    memcpy(p + 13, rec->hash, SV_HASH_SIZE);
}


static int
sv_code_rec_decode(const MDB_val *val, sv_code_rec_t *rec)
{
    const uint8_t  *p;

    p = val->mv_data;

    if (val->mv_size != SV_CODE_REC_SIZE || p[0] != SV_REC_VERSION) {
        return -1;
    }

    rec->attempts_left = (uint32_t) sv_get_le(p + 1, 4);
    rec->expires_ms = (int64_t) sv_get_le(p + 5, 8);
    memcpy(rec->hash, p + 13, SV_HASH_SIZE);

    return 0;
}


static size_t
sv_send_rec_encode(const sv_send_rec_t *rec, uint8_t *p)
{
    unsigned  i;

    p[0] = SV_REC_VERSION;
    sv_put_le(p + 1, rec->count, 2);
    sv_put_le(p + 3, (uint64_t) rec->keep_until_ms, 8);

    for (i = 0; i < rec->count; i++) {
        sv_put_le(p + SV_SEND_REC_HEAD + 8 * i, (uint64_t) rec->stamps[i], 8);
    }

    return SV_SEND_REC_HEAD + 8 * rec->count;
}


static int
sv_send_rec_decode(const MDB_val *val, sv_send_rec_t *rec)
{
    unsigned        i;
    const uint8_t  *p;

    p = val->mv_data;

    if (val->mv_size < SV_SEND_REC_HEAD || p[0] != SV_REC_VERSION) {
        return -1;
    }

    rec->count = (unsigned) sv_get_le(p + 1, 2);

    if (rec->count > SV_SEND_LIMIT_MAX
        || val->mv_size != SV_SEND_REC_HEAD + 8 * (size_t) rec->count)
    {
        return -1;
    }

    rec->keep_until_ms = (int64_t) sv_get_le(p + 3, 8);

    for (i = 0; i < rec->count; i++) {
        rec->stamps[i] = (int64_t) sv_get_le(p + SV_SEND_REC_HEAD + 8 * i, 8);
    }

    return 0;
}


static size_t
sv_token_rec_encode(const sv_token_rec_t *rec, uint8_t *p)
{
    p[0] = SV_REC_VERSION;
    sv_put_le(p + 1, (uint64_t) rec->expires_ms, 8);
    memcpy(p + SV_TOKEN_REC_HEAD, rec->phone, rec->phone_len);

    return SV_TOKEN_REC_HEAD + rec->phone_len;
}


static int
sv_token_rec_decode(const MDB_val *val, sv_token_rec_t *rec)
{
    const uint8_t  *p;

    p = val->mv_data;

    if (val->mv_size <= SV_TOKEN_REC_HEAD || val->mv_size > SV_TOKEN_REC_MAX
        || p[0] != SV_REC_VERSION)
    {
        return -1;
    }

    rec->expires_ms = (int64_t) sv_get_le(p + 1, 8);
    rec->phone_len = val->mv_size - SV_TOKEN_REC_HEAD;
    memcpy(rec->phone, p + SV_TOKEN_REC_HEAD, rec->phone_len);

    return 0;
}


/* Errors. */

static sv_store_rc_t
sv_fail(sv_txn_t *t, const char *what, int db, int rc)
{
    t->mdb_rc = rc;

    if (db < 0) {
        snprintf(t->err, t->errlen, "%s failed: %s", what, mdb_strerror(rc));

    } else {
        snprintf(t->err, t->errlen, "%s(\"%s\") failed: %s",
                 what, sv_db_names[db], mdb_strerror(rc));
    }

    return SV_STORE_ERROR;
}


static sv_store_rc_t
sv_corrupt(sv_txn_t *t, int db)
{
    snprintf(t->err, t->errlen, "corrupt record in \"%s\"", sv_db_names[db]);

    return SV_STORE_ERROR;
}


static sv_store_rc_t
sv_bad_phone(sv_txn_t *t, const char *phone)
{
    if (phone == NULL || phone[0] == '\0') {
        snprintf(t->err, t->errlen, "empty phone");
        return SV_STORE_ERROR;
    }

    if (strlen(phone) > SV_PHONE_MAX) {
        snprintf(t->err, t->errlen, "phone longer than %d bytes",
                 SV_PHONE_MAX);
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


/* Transactions. */

static int
sv_txn_begin_locked(sv_store_t *st, unsigned flags, MDB_txn **txn)
{
    int  rc;

    pthread_rwlock_rdlock(&st->resize_lock);

    rc = mdb_txn_begin(st->env, NULL, flags, txn);

    if (rc != MDB_SUCCESS) {
        pthread_rwlock_unlock(&st->resize_lock);
    }

    return rc;
}


static int
sv_adopt_map_size(sv_store_t *st)
{
    int  rc;

    pthread_rwlock_wrlock(&st->resize_lock);
    rc = mdb_env_set_mapsize(st->env, 0);
    pthread_rwlock_unlock(&st->resize_lock);

    return rc;
}


static sv_store_rc_t
sv_txn_begin(sv_txn_t *t, unsigned flags)
{
    int  rc;

    rc = sv_txn_begin_locked(t->st, flags, &t->txn);

    if (rc == MDB_MAP_RESIZED) {
        rc = sv_adopt_map_size(t->st);

        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_env_set_mapsize", -1, rc);
        }

        rc = sv_txn_begin_locked(t->st, flags, &t->txn);
    }

    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_txn_begin", -1, rc);
    }

    return SV_STORE_OK;
}


static void
sv_txn_abort(sv_txn_t *t)
{
    mdb_txn_abort(t->txn);
    pthread_rwlock_unlock(&t->st->resize_lock);
}


static sv_store_rc_t
sv_txn_commit(sv_txn_t *t)
{
    int  rc;

    /* the txn is freed whatever the result */
    rc = mdb_txn_commit(t->txn);
    pthread_rwlock_unlock(&t->st->resize_lock);

    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_txn_commit", -1, rc);
    }

    return SV_STORE_OK;
}


static size_t sv_free_pages(sv_txn_t *t);


/*
 * Writes that add records stop short of the map's end (an eighth of it,
 * at least SV_RESERVE_MIN), counting freed pages as room: a map full to
 * the last page could not even copy the pages a sweep deletes from.
 */
static sv_store_rc_t
sv_check_room(sv_txn_t *t)
{
    size_t       used, reserve;
    MDB_envinfo  info;

    if (mdb_env_info(t->st->env, &info) != MDB_SUCCESS) {
        return SV_STORE_OK;
    }

    reserve = info.me_mapsize / 8;

    if (reserve < SV_RESERVE_MIN) {
        reserve = SV_RESERVE_MIN;
    }

    used = (info.me_last_pgno + 1) * t->st->psize;

    if (used + reserve <= info.me_mapsize) {
        return SV_STORE_OK;
    }

    used -= sv_free_pages(t) * t->st->psize;

    if (used + reserve <= info.me_mapsize) {
        return SV_STORE_OK;
    }

    t->mdb_rc = MDB_MAP_FULL;
    snprintf(t->err, t->errlen,
             "store is full: %zu of %zu bytes in use, the rest is kept for "
             "sweeping (MDB_MAP_FULL ahead)", used, info.me_mapsize);

    return SV_STORE_ERROR;
}


/*
 * Pages in LMDB's freelist (database 0: each record a count, then pgnos).
 * LMDB opens no cursor on it in a write txn, so a read txn looks at the
 * last commit, which is what the caller's write txn started from; the
 * caller's shared hold of resize_lock already keeps the map still.
 */
static size_t
sv_free_pages(sv_txn_t *t)
{
    size_t       n;
    MDB_txn     *txn;
    MDB_val      key, val;
    MDB_cursor  *cur;

    if (mdb_txn_begin(t->st->env, NULL, MDB_RDONLY, &txn) != MDB_SUCCESS) {
        return 0;
    }

    n = 0;

    if (mdb_cursor_open(txn, 0, &cur) == MDB_SUCCESS) {

        while (mdb_cursor_get(cur, &key, &val, MDB_NEXT) == MDB_SUCCESS) {
            if (val.mv_size >= sizeof(size_t)) {
                n += *(size_t *) val.mv_data;
            }
        }

        mdb_cursor_close(cur);
    }

    mdb_txn_abort(txn);

    return n;
}


/* Runs body in a write txn: committed unless the body failed. */
static sv_store_rc_t
sv_write(sv_store_t *st, int adds, sv_txn_body_pt body, void *arg,
    char *err, size_t errlen)
{
    sv_txn_t       t = { st, NULL, err, errlen, 0 };
    sv_store_rc_t  rc;

    if (sv_txn_begin(&t, 0) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = adds ? sv_check_room(&t) : SV_STORE_OK;

    if (rc == SV_STORE_OK) {
        rc = body(&t, arg);
    }

    if (rc == SV_STORE_ERROR) {
        sv_txn_abort(&t);

    } else if (sv_txn_commit(&t) != SV_STORE_OK) {
        rc = SV_STORE_ERROR;
    }

    if (rc == SV_STORE_ERROR && t.mdb_rc == MDB_MAP_FULL) {
        return SV_STORE_FULL;
    }

    return rc;
}


static sv_store_rc_t
sv_read(sv_store_t *st, sv_txn_body_pt body, void *arg, char *err,
    size_t errlen)
{
    sv_txn_t       t = { st, NULL, err, errlen, 0 };
    sv_store_rc_t  rc;

    if (sv_txn_begin(&t, MDB_RDONLY) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = body(&t, arg);
    sv_txn_abort(&t);

    return rc;
}


/* Single operations: 1 found, 0 not found, -1 error (err is set). */

static int
sv_get(sv_txn_t *t, int db, const void *key, size_t klen, MDB_val *val)
{
    int      rc;
    MDB_val  k;

    k.mv_data = (void *) key;
    k.mv_size = klen;

    rc = mdb_get(t->txn, t->st->dbi[db], &k, val);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc != MDB_SUCCESS) {
        sv_fail(t, "mdb_get", db, rc);
        return -1;
    }

    return 1;
}


static int
sv_put(sv_txn_t *t, int db, const void *key, size_t klen, const void *data,
    size_t dlen, unsigned flags)
{
    int      rc;
    MDB_val  k, v;

    k.mv_data = (void *) key;
    k.mv_size = klen;
    v.mv_data = (void *) data;
    v.mv_size = dlen;

    rc = mdb_put(t->txn, t->st->dbi[db], &k, &v, flags);

    if (rc != MDB_SUCCESS) {
        sv_fail(t, "mdb_put", db, rc);
        return -1;
    }

    return 0;
}


static int
sv_del(sv_txn_t *t, int db, const void *key, size_t klen)
{
    int      rc;
    MDB_val  k;

    k.mv_data = (void *) key;
    k.mv_size = klen;

    rc = mdb_del(t->txn, t->st->dbi[db], &k, NULL);

    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        sv_fail(t, "mdb_del", db, rc);
        return -1;
    }

    return 0;
}


static int
sv_phone_taken(sv_txn_t *t, const char *phone)
{
    MDB_val  val;

    return sv_get(t, SV_DB_PHONES, phone, strlen(phone), &val);
}


/* 1 found, 0 not found, -1 error or corrupt record. */
static int
sv_code_get(sv_txn_t *t, const char *phone, sv_code_rec_t *rec)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_CODES, phone, strlen(phone), &val);

    if (rc == 1 && sv_code_rec_decode(&val, rec) != 0) {
        sv_corrupt(t, SV_DB_CODES);
        return -1;
    }

    return rc;
}


static int
sv_code_store(sv_txn_t *t, const char *phone, const sv_code_rec_t *rec)
{
    uint8_t  buf[SV_CODE_REC_SIZE];

    sv_code_rec_encode(rec, buf);

    return sv_put(t, SV_DB_CODES, phone, strlen(phone), buf, sizeof(buf), 0);
}


static int
sv_send_get(sv_txn_t *t, const char *phone, sv_send_rec_t *rec)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_SENDS, phone, strlen(phone), &val);

    if (rc == 1 && sv_send_rec_decode(&val, rec) != 0) {
        sv_corrupt(t, SV_DB_SENDS);
        return -1;
    }

    return rc;
}


static int
sv_send_store(sv_txn_t *t, const char *phone, const sv_send_rec_t *rec)
{
    size_t   len;
    uint8_t  buf[SV_SEND_REC_MAX];

    len = sv_send_rec_encode(rec, buf);

    return sv_put(t, SV_DB_SENDS, phone, strlen(phone), buf, len, 0);
}


static int
sv_token_get(sv_txn_t *t, const uint8_t *token_hash, sv_token_rec_t *rec)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_TOKENS, token_hash, SV_HASH_SIZE, &val);

    if (rc == 1 && sv_token_rec_decode(&val, rec) != 0) {
        sv_corrupt(t, SV_DB_TOKENS);
        return -1;
    }

    return rc;
}


/* 1 if the token is unexpired and for the phone, 0 if not, -1 on error. */
static int
sv_token_valid(sv_txn_t *t, const uint8_t *token_hash, const char *phone,
    int64_t now_ms)
{
    int             rc;
    sv_token_rec_t  rec;

    rc = sv_token_get(t, token_hash, &rec);

    if (rc != 1) {
        return rc;
    }

    return now_ms < rec.expires_ms
           && rec.phone_len == strlen(phone)
           && memcmp(rec.phone, phone, rec.phone_len) == 0;
}


/* Open and close. */

static sv_store_rc_t
sv_env_open(sv_store_t *st, const sv_store_conf_t *conf, sv_txn_t *t)
{
    int       rc;
    MDB_stat  stat;
    unsigned  flags;

    rc = mdb_env_create(&st->env);
    if (rc != MDB_SUCCESS) {
        st->env = NULL;
        return sv_fail(t, "mdb_env_create", -1, rc);
    }

    /* 0 keeps LMDB's default */

    if (conf->map_size) {
        rc = mdb_env_set_mapsize(st->env, conf->map_size);
        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_env_set_mapsize", -1, rc);
        }
    }

    if (conf->max_readers) {
        rc = mdb_env_set_maxreaders(st->env, conf->max_readers);
        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_env_set_maxreaders", -1, rc);
        }
    }

    rc = mdb_env_set_maxdbs(st->env, SV_DB_N + 1);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_env_set_maxdbs", -1, rc);
    }

    flags = MDB_NOTLS;

    if (conf->nosync) {
        flags |= MDB_NOSYNC;
    }

    rc = mdb_env_open(st->env, conf->dir, flags, 0600);
    if (rc != MDB_SUCCESS) {
        snprintf(t->err, t->errlen, "mdb_env_open(\"%s\") failed: %s",
                 conf->dir, mdb_strerror(rc));
        return SV_STORE_ERROR;
    }

    if (mdb_env_stat(st->env, &stat) != MDB_SUCCESS) {
        snprintf(t->err, t->errlen, "mdb_env_stat(\"%s\") failed",
                 conf->dir);
        return SV_STORE_ERROR;
    }

    st->psize = stat.ms_psize;

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_dbs_open(sv_txn_t *t, void *arg)
{
    int  i, rc;

    (void) arg;

    for (i = 0; i < SV_DB_N; i++) {
        rc = mdb_dbi_open(t->txn, sv_db_names[i], MDB_CREATE,
                          &t->st->dbi[i]);
        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_dbi_open", i, rc);
        }
    }

    return SV_STORE_OK;
}


sv_store_rc_t
sv_store_open(sv_store_t **stp, const sv_store_conf_t *conf, char *err,
    size_t errlen)
{
    sv_txn_t     t;
    sv_store_t  *st;

    *stp = NULL;

    st = calloc(1, sizeof(sv_store_t));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_STORE_ERROR;
    }

    if (pthread_rwlock_init(&st->resize_lock, NULL) != 0) {
        snprintf(err, errlen, "pthread_rwlock_init() failed");
        free(st);
        return SV_STORE_ERROR;
    }

    st->nosync = conf->nosync;

    t.st = st;
    t.txn = NULL;
    t.err = err;
    t.errlen = errlen;

    if (sv_env_open(st, conf, &t) != SV_STORE_OK
        || sv_write(st, 0, sv_dbs_open, NULL, err, errlen) != SV_STORE_OK)
    {
        sv_store_close(st);
        return SV_STORE_ERROR;
    }

    *stp = st;

    return SV_STORE_OK;
}


void
sv_store_close(sv_store_t *st)
{
    if (st == NULL) {
        return;
    }

    if (st->env) {
        mdb_env_close(st->env);
    }

    pthread_rwlock_destroy(&st->resize_lock);
    free(st);
}


sv_store_rc_t
sv_store_sync(sv_store_t *st, char *err, size_t errlen)
{
    int  rc;

    rc = mdb_env_sync(st->env, 1);

    if (rc != MDB_SUCCESS) {
        snprintf(err, errlen, "mdb_env_sync failed: %s", mdb_strerror(rc));
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


int
sv_store_reader_check(sv_store_t *st)
{
    int  dead;

    if (mdb_reader_check(st->env, &dead) != MDB_SUCCESS) {
        return -1;
    }

    return dead;
}


/* Sends. */

/* Keeps the stamps that the window or the resend interval still needs. */
static void
sv_send_prune(sv_send_rec_t *rec, int64_t now_ms, int64_t horizon_ms)
{
    unsigned  i, n;

    n = 0;

    for (i = 0; i < rec->count; i++) {
        if (now_ms - rec->stamps[i] < horizon_ms) {
            rec->stamps[n++] = rec->stamps[i];
        }
    }

    rec->count = n;
}


/* How many stamps are in the window; the oldest of them goes to *oldest. */
static unsigned
sv_send_in_window(const sv_send_rec_t *rec, int64_t now_ms,
    int64_t window_ms, int64_t *oldest)
{
    unsigned  i, n;

    n = 0;
    *oldest = now_ms;

    for (i = 0; i < rec->count; i++) {
        if (now_ms - rec->stamps[i] < window_ms) {
            if (n == 0 || rec->stamps[i] < *oldest) {
                *oldest = rec->stamps[i];
            }

            n++;
        }
    }

    return n;
}


/* The last stamp, unless the clock went back since. */
static int64_t
sv_send_newest(const sv_send_rec_t *rec)
{
    unsigned  i;
    int64_t   newest;

    newest = rec->stamps[0];

    for (i = 1; i < rec->count; i++) {
        if (rec->stamps[i] > newest) {
            newest = rec->stamps[i];
        }
    }

    return newest;
}


static void
sv_send_append(sv_send_rec_t *rec, const sv_send_t *s)
{
    int64_t  keep;

    if (rec->count == SV_SEND_LIMIT_MAX) {
        memmove(&rec->stamps[0], &rec->stamps[1],
                (SV_SEND_LIMIT_MAX - 1) * sizeof(int64_t));
        rec->count--;
    }

    rec->stamps[rec->count++] = s->now_ms;

    keep = s->now_ms + (s->resend_ms > s->window_ms ? s->resend_ms
                                                    : s->window_ms);

    if (keep > rec->keep_until_ms) {
        rec->keep_until_ms = keep;
    }
}


static sv_store_rc_t
sv_send_begin_txn(sv_txn_t *t, void *arg)
{
    int            rc;
    int64_t        oldest, newest;
    unsigned       limit;
    sv_send_t      *s = arg;
    sv_send_rec_t  rec;

    rc = sv_phone_taken(t, s->phone);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_PHONE_TAKEN;
    }

    rc = sv_send_get(t, s->phone, &rec);
    if (rc < 0) {
        return SV_STORE_ERROR;
    }

    if (rc == 0) {
        memset(&rec, 0, sizeof(sv_send_rec_t));
    }

    sv_send_prune(&rec, s->now_ms, s->resend_ms > s->window_ms
                                   ? s->resend_ms : s->window_ms);

    if (rec.count > 0) {
        newest = sv_send_newest(&rec);

        if (s->now_ms - newest < s->resend_ms) {
            s->retry_after_ms = newest + s->resend_ms - s->now_ms;
            return SV_STORE_RESEND_TOO_SOON;
        }
    }

    limit = s->limit < SV_SEND_LIMIT_MAX ? s->limit : SV_SEND_LIMIT_MAX;

    if (sv_send_in_window(&rec, s->now_ms, s->window_ms, &oldest) >= limit) {
        s->retry_after_ms = oldest + s->window_ms - s->now_ms;
        return SV_STORE_SEND_LIMIT;
    }

    sv_send_append(&rec, s);

    return sv_send_store(t, s->phone, &rec) == 0 ? SV_STORE_OK
                                                 : SV_STORE_ERROR;
}


sv_store_rc_t
sv_store_send_begin(sv_store_t *st, sv_send_t *s, char *err, size_t errlen)
{
    sv_txn_t  t = { st, NULL, err, errlen, 0 };

    if (sv_bad_phone(&t, s->phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    return sv_write(st, 1, sv_send_begin_txn, s, err, errlen);
}


static sv_store_rc_t
sv_send_abort_txn(sv_txn_t *t, void *arg)
{
    int             rc;
    unsigned        i;
    sv_send_rec_t   rec;
    sv_abort_arg_t  *a = arg;

    rc = sv_send_get(t, a->phone, &rec);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_OK;
    }

    for (i = rec.count; i-- > 0; /* void */) {
        if (rec.stamps[i] == a->stamp_ms) {
            memmove(&rec.stamps[i], &rec.stamps[i + 1],
                    (rec.count - i - 1) * sizeof(int64_t));
            rec.count--;
            break;
        }
    }

    if (rec.count == 0) {
        rc = sv_del(t, SV_DB_SENDS, a->phone, strlen(a->phone));

    } else {
        rc = sv_send_store(t, a->phone, &rec);
    }

    return rc == 0 ? SV_STORE_OK : SV_STORE_ERROR;
}


sv_store_rc_t
sv_store_send_abort(sv_store_t *st, const char *phone, int64_t stamp_ms,
    char *err, size_t errlen)
{
    sv_txn_t  t = { st, NULL, err, errlen, 0 };
    sv_abort_arg_t  a = { phone, stamp_ms };

    if (sv_bad_phone(&t, phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    return sv_write(st, 0, sv_send_abort_txn, &a, err, errlen);
}


/* Codes. */

static sv_store_rc_t
sv_code_put_txn(sv_txn_t *t, void *arg)
{
    sv_code_arg_t  *a = arg;
    sv_code_rec_t   rec;

    memcpy(rec.hash, a->hash, SV_HASH_SIZE);
    rec.expires_ms = a->expires_ms;
    rec.attempts_left = a->attempts;

    return sv_code_store(t, a->phone, &rec) == 0 ? SV_STORE_OK
                                                 : SV_STORE_ERROR;
}


sv_store_rc_t
sv_store_code_put(sv_store_t *st, const char *phone,
    const uint8_t *code_hash, int64_t expires_ms, unsigned attempts,
    char *err, size_t errlen)
{
    sv_txn_t       t = { st, NULL, err, errlen, 0 };
    sv_code_arg_t  a = { phone, code_hash, expires_ms, attempts };

    if (sv_bad_phone(&t, phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    /*
     * No room check: the provider has sent this code already, and
     * send_begin checked the room; the reserve holds one code a thread.
     */
    return sv_write(st, 0, sv_code_put_txn, &a, err, errlen);
}


static sv_store_rc_t
sv_confirm_match(sv_txn_t *t, const sv_confirm_t *c)
{
    size_t          len;
    uint8_t         buf[SV_TOKEN_REC_MAX];
    sv_token_rec_t  tok;

    if (sv_del(t, SV_DB_CODES, c->phone, strlen(c->phone)) != 0) {
        return SV_STORE_ERROR;
    }

    tok.expires_ms = c->token_expires_ms;
    tok.phone_len = strlen(c->phone);
    memcpy(tok.phone, c->phone, tok.phone_len);

    len = sv_token_rec_encode(&tok, buf);

    if (sv_put(t, SV_DB_TOKENS, c->token_hash, SV_HASH_SIZE, buf, len, 0)
        != 0)
    {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_confirm_mismatch(sv_txn_t *t, sv_confirm_t *c, sv_code_rec_t *rec)
{
    if (rec->attempts_left > 0) {
        rec->attempts_left--;
    }

    c->attempts_left = rec->attempts_left;

    if (rec->attempts_left == 0) {
        return sv_del(t, SV_DB_CODES, c->phone, strlen(c->phone)) == 0
               ? SV_STORE_BURNT : SV_STORE_ERROR;
    }

    return sv_code_store(t, c->phone, rec) == 0 ? SV_STORE_MISMATCH
                                                : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_confirm_txn(sv_txn_t *t, void *arg)
{
    int            rc;
    sv_confirm_t   *c = arg;
    sv_code_rec_t  rec;

    rc = sv_phone_taken(t, c->phone);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_PHONE_TAKEN;
    }

    rc = sv_code_get(t, c->phone, &rec);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_NO_CODE;
    }

    if (c->now_ms >= rec.expires_ms) {
        return SV_STORE_EXPIRED;
    }

    if (CRYPTO_memcmp(rec.hash, c->guess_hash, SV_HASH_SIZE) == 0) {
        return sv_confirm_match(t, c);
    }

    return sv_confirm_mismatch(t, c, &rec);
}


sv_store_rc_t
sv_store_confirm(sv_store_t *st, sv_confirm_t *c, char *err, size_t errlen)
{
    sv_txn_t  t = { st, NULL, err, errlen, 0 };

    if (sv_bad_phone(&t, c->phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    /* a confirm never grows the store: a token takes its code's place */
    return sv_write(st, 0, sv_confirm_txn, c, err, errlen);
}


/* Tokens. */

static sv_store_rc_t
sv_token_check_txn(sv_txn_t *t, void *arg)
{
    int             rc;
    sv_token_arg_t  *a = arg;

    rc = sv_token_valid(t, a->token_hash, a->phone, a->now_ms);
    if (rc < 0) {
        return SV_STORE_ERROR;
    }

    return rc ? SV_STORE_OK : SV_STORE_NO_TOKEN;
}


sv_store_rc_t
sv_store_token_check(sv_store_t *st, const uint8_t *token_hash,
    const char *phone, int64_t now_ms, char *err, size_t errlen)
{
    sv_token_arg_t  a = { token_hash, phone, now_ms };

    return sv_read(st, sv_token_check_txn, &a, err, errlen);
}


/* Members. */

static int
sv_json_add_string(cJSON *obj, const char *name, const char *value)
{
    return value != NULL && cJSON_AddStringToObject(obj, name, value) != NULL;
}


static int
sv_json_add_terms(cJSON *obj, const int *terms, size_t n)
{
    size_t  i;
    cJSON  *arr, *item;

    arr = cJSON_AddArrayToObject(obj, "terms");
    if (arr == NULL) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        item = cJSON_CreateNumber(terms[i]);
        if (item == NULL) {
            return 0;
        }

        cJSON_AddItemToArray(arr, item);
    }

    return 1;
}


/* The member as JSON text (malloc()ed), NULL if out of memory. */
static char *
sv_member_json(const sv_member_t *m, uint64_t id)
{
    char   *text;
    cJSON  *obj;

    obj = cJSON_CreateObject();
    if (obj == NULL) {
        return NULL;
    }

    text = NULL;

    /* doubles hold ids and millisecond times exactly up to 2^53 */

    if (cJSON_AddNumberToObject(obj, "id", (double) id) != NULL
        && sv_json_add_string(obj, "email", m->email)
        && sv_json_add_string(obj, "phone", m->phone)
        && sv_json_add_string(obj, "nickname", m->nickname)
        && sv_json_add_string(obj, "passwordHash", m->password_hash)
        && sv_json_add_terms(obj, m->terms, m->nterms)
        && cJSON_AddNumberToObject(obj, "createdAt", (double) m->now_ms)
           != NULL)
    {
        text = cJSON_PrintUnformatted(obj);
    }

    cJSON_Delete(obj);

    return text;
}


static int
sv_next_id(sv_txn_t *t, uint64_t *id)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_META, "next_id", 7, &val);
    if (rc <= 0) {
        *id = 1;
        return rc;
    }

    if (sv_id_decode(&val, id) != 0 || *id == 0) {
        sv_corrupt(t, SV_DB_META);
        return -1;
    }

    return 0;
}


static sv_store_rc_t
sv_member_put(sv_txn_t *t, const sv_member_t *m, uint64_t id)
{
    int      rc;
    char    *json;
    uint8_t  key[SV_ID_SIZE], next[SV_ID_SIZE];

    json = sv_member_json(m, id);
    if (json == NULL) {
        snprintf(t->err, t->errlen, "cannot build the member JSON");
        return SV_STORE_ERROR;
    }

    sv_id_encode(id, key);
    sv_id_encode(id + 1, next);

    rc = sv_put(t, SV_DB_MEMBERS, key, SV_ID_SIZE, json, strlen(json),
                MDB_NOOVERWRITE);

    free(json);

    if (rc != 0
        || sv_put(t, SV_DB_EMAILS, m->email_key, strlen(m->email_key),
                  key, SV_ID_SIZE, MDB_NOOVERWRITE) != 0
        || sv_put(t, SV_DB_PHONES, m->phone, strlen(m->phone),
                  key, SV_ID_SIZE, MDB_NOOVERWRITE) != 0
        || sv_put(t, SV_DB_META, "next_id", 7, next, SV_ID_SIZE, 0) != 0
        || sv_del(t, SV_DB_TOKENS, m->token_hash, SV_HASH_SIZE) != 0)
    {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_signup_txn(sv_txn_t *t, void *arg)
{
    int           rc;
    uint64_t      id;
    MDB_val       val;
    sv_member_t  *m = arg;

    rc = sv_token_valid(t, m->token_hash, m->phone, m->now_ms);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_NO_TOKEN;
    }

    rc = sv_get(t, SV_DB_EMAILS, m->email_key, strlen(m->email_key), &val);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_EMAIL_TAKEN;
    }

    rc = sv_phone_taken(t, m->phone);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_PHONE_TAKEN;
    }

    if (sv_next_id(t, &id) != 0) {
        return SV_STORE_ERROR;
    }

    if (sv_member_put(t, m, id) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    m->id = id;

    return SV_STORE_OK;
}


sv_store_rc_t
sv_store_signup(sv_store_t *st, sv_member_t *m, char *err, size_t errlen)
{
    sv_txn_t       t = { st, NULL, err, errlen, 0 };
    sv_store_rc_t  rc;

    if (sv_bad_phone(&t, m->phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = sv_write(st, 1, sv_signup_txn, m, err, errlen);

    /* without MDB_NOSYNC the commit itself was synced */

    if (rc == SV_STORE_OK && st->nosync) {
        return sv_store_sync(st, err, errlen);
    }

    return rc;
}


/* Stats. */

static int
sv_code_pending(const MDB_val *val, int64_t now_ms)
{
    sv_code_rec_t  rec;

    if (sv_code_rec_decode(val, &rec) != 0) {
        return -1;
    }

    return now_ms < rec.expires_ms;
}


static sv_store_rc_t
sv_count_pending(sv_txn_t *t, int64_t now_ms, uint64_t *n)
{
    int          rc, pending;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(t->txn, t->st->dbi[SV_DB_CODES], &cur);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_cursor_open", SV_DB_CODES, rc);
    }

    *n = 0;

    while ((rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == MDB_SUCCESS) {
        pending = sv_code_pending(&val, now_ms);

        if (pending < 0) {
            mdb_cursor_close(cur);
            return sv_corrupt(t, SV_DB_CODES);
        }

        *n += pending;
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        return sv_fail(t, "mdb_cursor_get", SV_DB_CODES, rc);
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_stats_txn(sv_txn_t *t, void *arg)
{
    int              rc;
    MDB_stat         ms;
    sv_stats_arg_t  *a = arg;

    rc = mdb_stat(t->txn, t->st->dbi[SV_DB_MEMBERS], &ms);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_stat", SV_DB_MEMBERS, rc);
    }

    a->stats->members = ms.ms_entries;

    return sv_count_pending(t, a->now_ms, &a->stats->codes_pending);
}


sv_store_rc_t
sv_store_stats(sv_store_t *st, int64_t now_ms, sv_store_stats_t *stats,
    char *err, size_t errlen)
{
    sv_stats_arg_t  a = { stats, now_ms };

    return sv_read(st, sv_stats_txn, &a, err, errlen);
}


/* Sweep. */

static int
sv_code_expired(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_code_rec_t  rec;

    if (sv_code_rec_decode(val, &rec) != 0) {
        return -1;
    }

    return rec.expires_ms + grace_ms <= now_ms;
}


static int
sv_token_expired(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_token_rec_t  rec;

    (void) grace_ms;

    if (sv_token_rec_decode(val, &rec) != 0) {
        return -1;
    }

    return rec.expires_ms <= now_ms;
}


static int
sv_send_expired(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_send_rec_t  rec;

    (void) grace_ms;

    if (sv_send_rec_decode(val, &rec) != 0) {
        return -1;
    }

    return rec.keep_until_ms <= now_ms;
}


static sv_store_rc_t
sv_sweep_db(sv_txn_t *t, int db, sv_expired_pt expired, sv_sweep_arg_t *a)
{
    int          rc, gone;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(t->txn, t->st->dbi[db], &cur);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_cursor_open", db, rc);
    }

    while (a->left > 0
           && (rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == MDB_SUCCESS)
    {
        gone = expired(&val, a->now_ms, a->grace_ms);

        if (gone < 0) {
            mdb_cursor_close(cur);
            return sv_corrupt(t, db);
        }

        if (!gone) {
            continue;
        }

        /* the cursor moves to the next record; MDB_NEXT then returns it */

        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            mdb_cursor_close(cur);
            return sv_fail(t, "mdb_cursor_del", db, rc);
        }

        a->left--;
    }

    mdb_cursor_close(cur);

    if (a->left > 0 && rc != MDB_NOTFOUND) {
        return sv_fail(t, "mdb_cursor_get", db, rc);
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_sweep_txn(sv_txn_t *t, void *arg)
{
    sv_sweep_arg_t  *a = arg;

    if (sv_sweep_db(t, SV_DB_CODES, sv_code_expired, a) != SV_STORE_OK
        || sv_sweep_db(t, SV_DB_TOKENS, sv_token_expired, a) != SV_STORE_OK
        || sv_sweep_db(t, SV_DB_SENDS, sv_send_expired, a) != SV_STORE_OK)
    {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


sv_store_rc_t
sv_store_sweep(sv_store_t *st, int64_t now_ms, int64_t grace_ms, size_t max,
    char *err, size_t errlen)
{
    sv_sweep_arg_t  a = { now_ms, grace_ms, max };

    return sv_write(st, 0, sv_sweep_txn, &a, err, errlen);
}
