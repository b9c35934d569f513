/*
 * The store on LMDB: two environments per process, each shared by its
 * threads (MDB_NOTLS) and by the other processes that open the same
 * directory.  Every call is one transaction in each environment it
 * touches, begun and ended in the calling thread; whatever is read is
 * copied out of the map before the transaction ends.
 *
 * dir/members, opened without MDB_NOSYNC: every commit is on disk before
 * it returns, and LMDB's two meta pages keep the last synced commit
 * whole whatever a crash does to the later writes.
 *
 *   members  id (8 bytes BE) -> the member as JSON text
 *   emails   folded email    -> id (8 bytes BE)
 *   phones   phone           -> id (8 bytes BE)
 *   meta     "next_id"       -> id (8 bytes BE)
 *
 * dir/codes, with MDB_NOSYNC unless every commit is to be synced: a
 * power loss may then damage it, which sv_store_check() finds at the
 * next start and answers by starting it afresh.
 *
 *   codes    phone           -> code record
 *   sends    phone           -> send record
 *   tokens   token hash      -> token record
 *
 * A signup commits its member first and consumes its token after: a
 * crash between leaves a token for a phone that is taken, which no
 * signup can use (the phone is checked in the members' commit).
 *
 * Binary records begin with a version byte; integers are little-endian.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/*
 * version 2: version, expires_ms (8), failures (1), then the phone
 * without its NUL; version 1 had no failures byte
 */
#define SV_TOKEN_REC_VERSION  2
#define SV_TOKEN_REC_HEAD_V1  (1 + 8)
#define SV_TOKEN_REC_HEAD     (1 + 8 + 1)
#define SV_TOKEN_REC_MAX      (SV_TOKEN_REC_HEAD + SV_PHONE_MAX)

#define SV_ID_SIZE          8

/* the least room writes leave for sweeps: see sv_check_room() */
#define SV_RESERVE_MIN      (64 * 1024)

#if SV_SEND_LIMIT_MAX > 65535
#error "SV_SEND_LIMIT_MAX does not fit the send record's count"
#endif


enum {
    SV_ENV_MEMBERS = 0,
    SV_ENV_CODES,
    SV_ENV_N
};

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

static const int  sv_db_env[SV_DB_N] = {
    SV_ENV_CODES, SV_ENV_CODES, SV_ENV_CODES,
    SV_ENV_MEMBERS, SV_ENV_MEMBERS, SV_ENV_MEMBERS, SV_ENV_MEMBERS
};

static const char  *sv_env_dirs[SV_ENV_N] = {
    SV_STORE_MEMBERS_DIR, SV_STORE_CODES_DIR
};


typedef struct {
    MDB_env            *env;
    size_t              psize;

    /*
     * Held shared by every transaction, exclusively to adopt a map grown
     * by another process: mdb_env_set_mapsize() needs no live txn.
     */
    pthread_rwlock_t    resize_lock;
    int                 lock_ready;
} sv_env_t;

struct sv_store_s {
    sv_env_t            envs[SV_ENV_N];
    MDB_dbi             dbi[SV_DB_N];
};

/* A transaction in progress and where its error goes. */
typedef struct {
    sv_store_t         *st;
    sv_env_t           *e;
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
    unsigned            failures;       /* signups refused as taken */
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
    p[0] = SV_TOKEN_REC_VERSION;
    sv_put_le(p + 1, (uint64_t) rec->expires_ms, 8);
    p[9] = (uint8_t) rec->failures;
    memcpy(p + SV_TOKEN_REC_HEAD, rec->phone, rec->phone_len);

    return SV_TOKEN_REC_HEAD + rec->phone_len;
}


static int
sv_token_rec_decode(const MDB_val *val, sv_token_rec_t *rec)
{
    size_t          head;
    const uint8_t  *p;

    p = val->mv_data;

    if (val->mv_size == 0) {
        return -1;
    }

    switch (p[0]) {

    case 1:
        head = SV_TOKEN_REC_HEAD_V1;
        break;

    case SV_TOKEN_REC_VERSION:
        head = SV_TOKEN_REC_HEAD;
        break;

    default:
        return -1;
    }

    if (val->mv_size <= head || val->mv_size > head + SV_PHONE_MAX) {
        return -1;
    }

    rec->expires_ms = (int64_t) sv_get_le(p + 1, 8);
    rec->failures = (head == SV_TOKEN_REC_HEAD) ? p[9] : 0;
    rec->phone_len = val->mv_size - head;
    memcpy(rec->phone, p + head, rec->phone_len);

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
sv_txn_begin_locked(sv_env_t *e, unsigned flags, MDB_txn **txn)
{
    int  rc;

    pthread_rwlock_rdlock(&e->resize_lock);

    rc = mdb_txn_begin(e->env, NULL, flags, txn);

    if (rc != MDB_SUCCESS) {
        pthread_rwlock_unlock(&e->resize_lock);
    }

    return rc;
}


static int
sv_adopt_map_size(sv_env_t *e)
{
    int  rc;

    pthread_rwlock_wrlock(&e->resize_lock);
    rc = mdb_env_set_mapsize(e->env, 0);
    pthread_rwlock_unlock(&e->resize_lock);

    return rc;
}


static sv_store_rc_t
sv_txn_begin(sv_txn_t *t, unsigned flags)
{
    int  rc;

    rc = sv_txn_begin_locked(t->e, flags, &t->txn);

    if (rc == MDB_MAP_RESIZED) {
        rc = sv_adopt_map_size(t->e);

        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_env_set_mapsize", -1, rc);
        }

        rc = sv_txn_begin_locked(t->e, flags, &t->txn);
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
    pthread_rwlock_unlock(&t->e->resize_lock);
}


static sv_store_rc_t
sv_txn_commit(sv_txn_t *t)
{
    int  rc;

    /* the txn is freed whatever the result */
    rc = mdb_txn_commit(t->txn);
    pthread_rwlock_unlock(&t->e->resize_lock);

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

    if (mdb_env_info(t->e->env, &info) != MDB_SUCCESS) {
        return SV_STORE_OK;
    }

    reserve = info.me_mapsize / 8;

    if (reserve < SV_RESERVE_MIN) {
        reserve = SV_RESERVE_MIN;
    }

    used = (info.me_last_pgno + 1) * t->e->psize;

    if (used + reserve <= info.me_mapsize) {
        return SV_STORE_OK;
    }

    used -= sv_free_pages(t) * t->e->psize;

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

    if (mdb_txn_begin(t->e->env, NULL, MDB_RDONLY, &txn) != MDB_SUCCESS) {
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


/*
 * Runs body in a write txn of one environment: committed unless the body
 * failed.
 */
static sv_store_rc_t
sv_write(sv_store_t *st, int env, int adds, sv_txn_body_pt body, void *arg,
    char *err, size_t errlen)
{
    sv_txn_t       t = { st, &st->envs[env], NULL, err, errlen, 0 };
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
sv_read(sv_store_t *st, int env, sv_txn_body_pt body, void *arg, char *err,
    size_t errlen)
{
    sv_txn_t       t = { st, &st->envs[env], NULL, err, errlen, 0 };
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


static sv_store_rc_t
sv_phone_taken_txn(sv_txn_t *t, void *arg)
{
    int  rc;

    rc = sv_phone_taken(t, arg);

    return rc < 0 ? SV_STORE_ERROR : rc ? SV_STORE_PHONE_TAKEN : SV_STORE_OK;
}


/* PHONE_TAKEN if a member has the phone, read in the members' part. */
static sv_store_rc_t
sv_member_phone(sv_store_t *st, const char *phone, char *err, size_t errlen)
{
    return sv_read(st, SV_ENV_MEMBERS, sv_phone_taken_txn, (void *) phone,
                   err, errlen);
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

/* dir/sub into buf; 0, or -1 (err set) if it does not fit. */
static int
sv_path(char *buf, size_t size, const char *dir, const char *sub,
    char *err, size_t errlen)
{
    int  n;

    n = snprintf(buf, size, "%s/%s", dir, sub);

    if (n < 0 || (size_t) n >= size) {
        snprintf(err, errlen, "the store's path is too long");
        return -1;
    }

    return 0;
}


static int
sv_exists(const char *path)
{
    struct stat  sb;

    return stat(path, &sb) == 0;
}


static sv_store_rc_t
sv_env_open(sv_store_t *st, int env, const sv_store_conf_t *conf,
    sv_txn_t *t)
{
    int        rc;
    char       path[512];
    MDB_stat   stat;
    unsigned   flags;
    sv_env_t  *e;

    e = &st->envs[env];

    if (sv_path(path, sizeof(path), conf->dir, sv_env_dirs[env], t->err,
                t->errlen)
        != 0)
    {
        return SV_STORE_ERROR;
    }

    /* the workers race here: whoever comes first makes it */

    if (mkdir(path, 0700) != 0 && errno != EEXIST && errno != ENOENT) {
        snprintf(t->err, t->errlen, "mkdir(\"%s\") failed: %s",
                 path, strerror(errno));
        return SV_STORE_ERROR;
    }

    rc = mdb_env_create(&e->env);
    if (rc != MDB_SUCCESS) {
        e->env = NULL;
        return sv_fail(t, "mdb_env_create", -1, rc);
    }

    /* 0 keeps LMDB's default */

    if (conf->map_size) {
        rc = mdb_env_set_mapsize(e->env, conf->map_size);
        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_env_set_mapsize", -1, rc);
        }
    }

    if (conf->max_readers) {
        rc = mdb_env_set_maxreaders(e->env, conf->max_readers);
        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_env_set_maxreaders", -1, rc);
        }
    }

    /* room for the old single environment's databases, dropped on open */

    rc = mdb_env_set_maxdbs(e->env, SV_DB_N + 1);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_env_set_maxdbs", -1, rc);
    }

    flags = MDB_NOTLS;

    /* the members' commits are always synced: see the top of this file */

    if (conf->nosync && env == SV_ENV_CODES) {
        flags |= MDB_NOSYNC;
    }

    rc = mdb_env_open(e->env, path, flags, 0600);
    if (rc != MDB_SUCCESS) {
        snprintf(t->err, t->errlen, "mdb_env_open(\"%s\") failed: %s",
                 path, mdb_strerror(rc));
        return SV_STORE_ERROR;
    }

    if (mdb_env_stat(e->env, &stat) != MDB_SUCCESS) {
        snprintf(t->err, t->errlen, "mdb_env_stat(\"%s\") failed", path);
        return SV_STORE_ERROR;
    }

    e->psize = stat.ms_psize;

    return SV_STORE_OK;
}


/*
 * Opens (creating) the databases of one environment.  In the members'
 * one, the codes' databases that a store of the old layout brought along
 * are dropped: their records are stale and the codes' part has its own.
 */
static sv_store_rc_t
sv_dbs_open(sv_txn_t *t, void *arg)
{
    int       i, rc, env;
    MDB_dbi   dbi;

    env = (int) (t->e - t->st->envs);
    (void) arg;

    for (i = 0; i < SV_DB_N; i++) {

        if (sv_db_env[i] == env) {
            rc = mdb_dbi_open(t->txn, sv_db_names[i], MDB_CREATE,
                              &t->st->dbi[i]);
            if (rc != MDB_SUCCESS) {
                return sv_fail(t, "mdb_dbi_open", i, rc);
            }

            continue;
        }

        rc = mdb_dbi_open(t->txn, sv_db_names[i], 0, &dbi);

        if (rc == MDB_NOTFOUND) {
            continue;
        }

        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_dbi_open", i, rc);
        }

        rc = mdb_drop(t->txn, dbi, 1);
        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_drop", i, rc);
        }
    }

    return SV_STORE_OK;
}


/* A store of the old layout must go through sv_store_check() first. */
static sv_store_rc_t
sv_old_layout(const sv_store_conf_t *conf, char *err, size_t errlen)
{
    char  path[512];

    if (sv_path(path, sizeof(path), conf->dir, "data.mdb", err, errlen)
        != 0)
    {
        return SV_STORE_ERROR;
    }

    if (sv_exists(path)) {
        snprintf(err, errlen, "\"%s\" is a store of the old layout, which "
                 "a start (not a reload) moves to \"%s/" SV_STORE_MEMBERS_DIR
                 "\"", path, conf->dir);
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


sv_store_rc_t
sv_store_open(sv_store_t **stp, const sv_store_conf_t *conf, char *err,
    size_t errlen)
{
    int          env;
    sv_txn_t     t;
    sv_store_t  *st;

    *stp = NULL;

    if (sv_old_layout(conf, err, errlen) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    st = calloc(1, sizeof(sv_store_t));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_STORE_ERROR;
    }

    t.st = st;
    t.txn = NULL;
    t.err = err;
    t.errlen = errlen;

    for (env = 0; env < SV_ENV_N; env++) {
        t.e = &st->envs[env];

        if (pthread_rwlock_init(&t.e->resize_lock, NULL) != 0) {
            snprintf(err, errlen, "pthread_rwlock_init() failed");
            sv_store_close(st);
            return SV_STORE_ERROR;
        }

        t.e->lock_ready = 1;

        if (sv_env_open(st, env, conf, &t) != SV_STORE_OK
            || sv_write(st, env, 0, sv_dbs_open, NULL, err, errlen)
               != SV_STORE_OK)
        {
            sv_store_close(st);
            return SV_STORE_ERROR;
        }
    }

    *stp = st;

    return SV_STORE_OK;
}


void
sv_store_close(sv_store_t *st)
{
    int        env;
    sv_env_t  *e;

    if (st == NULL) {
        return;
    }

    for (env = 0; env < SV_ENV_N; env++) {
        e = &st->envs[env];

        if (e->env) {
            mdb_env_close(e->env);
        }

        if (e->lock_ready) {
            pthread_rwlock_destroy(&e->resize_lock);
        }
    }

    free(st);
}


sv_store_rc_t
sv_store_sync(sv_store_t *st, char *err, size_t errlen)
{
    int  rc;

    rc = mdb_env_sync(st->envs[SV_ENV_CODES].env, 1);

    if (rc != MDB_SUCCESS) {
        snprintf(err, errlen, "mdb_env_sync failed: %s", mdb_strerror(rc));
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


int
sv_store_reader_check(sv_store_t *st)
{
    int  env, dead, total;

    total = 0;

    for (env = 0; env < SV_ENV_N; env++) {
        if (mdb_reader_check(st->envs[env].env, &dead) != MDB_SUCCESS) {
            return -1;
        }

        total += dead;
    }

    return total;
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
    sv_txn_t       t = { st, NULL, NULL, err, errlen, 0 };
    sv_store_rc_t  rc;

    if (sv_bad_phone(&t, s->phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = sv_member_phone(st, s->phone, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    return sv_write(st, SV_ENV_CODES, 1, sv_send_begin_txn, s, err, errlen);
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
    sv_txn_t  t = { st, NULL, NULL, err, errlen, 0 };
    sv_abort_arg_t  a = { phone, stamp_ms };

    if (sv_bad_phone(&t, phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    return sv_write(st, SV_ENV_CODES, 0, sv_send_abort_txn, &a, err, errlen);
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
    sv_txn_t       t = { st, NULL, NULL, err, errlen, 0 };
    sv_code_arg_t  a = { phone, code_hash, expires_ms, attempts };

    if (sv_bad_phone(&t, phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    /*
     * No room check: the provider has sent this code already, and
     * send_begin checked the room; the reserve holds one code a thread.
     */
    return sv_write(st, SV_ENV_CODES, 0, sv_code_put_txn, &a, err, errlen);
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
    tok.failures = 0;
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
    sv_txn_t       t = { st, NULL, NULL, err, errlen, 0 };
    sv_store_rc_t  rc;

    if (sv_bad_phone(&t, c->phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = sv_member_phone(st, c->phone, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    /* a confirm never grows the store: a token takes its code's place */
    return sv_write(st, SV_ENV_CODES, 0, sv_confirm_txn, c, err, errlen);
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

    return sv_read(st, SV_ENV_CODES, sv_token_check_txn, &a, err, errlen);
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
        || sv_put(t, SV_DB_META, "next_id", 7, next, SV_ID_SIZE, 0) != 0)
    {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


/*
 * EMAIL_TAKEN or PHONE_TAKEN if a member has either, OK if neither; in a
 * transaction of the members' part.
 */
static sv_store_rc_t
sv_member_taken(sv_txn_t *t, const sv_member_t *m)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_EMAILS, m->email_key, strlen(m->email_key), &val);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_EMAIL_TAKEN;
    }

    rc = sv_phone_taken(t, m->phone);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_PHONE_TAKEN;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_member_taken_txn(sv_txn_t *t, void *arg)
{
    return sv_member_taken(t, arg);
}


static sv_store_rc_t
sv_signup_txn(sv_txn_t *t, void *arg)
{
    uint64_t       id;
    sv_member_t   *m = arg;
    sv_store_rc_t  rc;

    rc = sv_member_taken(t, m);
    if (rc != SV_STORE_OK) {
        return rc;
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


/* A signup refused as taken counts against its token. */
static sv_store_rc_t
sv_token_fail_txn(sv_txn_t *t, void *arg)
{
    int                 rc;
    size_t              len;
    uint8_t             buf[SV_TOKEN_REC_MAX];
    sv_token_rec_t      rec;
    const sv_member_t  *m = arg;

    rc = sv_token_get(t, m->token_hash, &rec);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_OK;
    }

    if (++rec.failures >= SV_TOKEN_FAILURES_MAX) {
        rc = sv_del(t, SV_DB_TOKENS, m->token_hash, SV_HASH_SIZE);

    } else {
        len = sv_token_rec_encode(&rec, buf);
        rc = sv_put(t, SV_DB_TOKENS, m->token_hash, SV_HASH_SIZE, buf, len,
                    0);
    }

    return rc == 0 ? SV_STORE_OK : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_token_consume_txn(sv_txn_t *t, void *arg)
{
    const sv_member_t  *m = arg;

    return sv_del(t, SV_DB_TOKENS, m->token_hash, SV_HASH_SIZE) == 0
           ? SV_STORE_OK : SV_STORE_ERROR;
}


/*
 * The taken answer, counted against the token.  It is the answer even if
 * the count fails (a full store): the refusal cost no hash, and the
 * member's commit still decides.
 */
static sv_store_rc_t
sv_signup_refused(sv_store_t *st, const sv_member_t *m, sv_store_rc_t taken)
{
    char  ignored[256];

    (void) sv_write(st, SV_ENV_CODES, 0, sv_token_fail_txn, (void *) m,
                    ignored, sizeof(ignored));

    return taken;
}


sv_store_rc_t
sv_store_signup_check(sv_store_t *st, const sv_member_t *m, char *err,
    size_t errlen)
{
    sv_txn_t       t = { st, NULL, NULL, err, errlen, 0 };
    sv_store_rc_t  rc;

    if (sv_bad_phone(&t, m->phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = sv_store_token_check(st, m->token_hash, m->phone, m->now_ms, err,
                              errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    rc = sv_read(st, SV_ENV_MEMBERS, sv_member_taken_txn, (void *) m, err,
                 errlen);

    if (rc == SV_STORE_EMAIL_TAKEN || rc == SV_STORE_PHONE_TAKEN) {
        return sv_signup_refused(st, m, rc);
    }

    return rc;
}


sv_store_rc_t
sv_store_signup(sv_store_t *st, sv_member_t *m, char *err, size_t errlen)
{
    char           ignored[256];
    sv_txn_t       t = { st, NULL, NULL, err, errlen, 0 };
    sv_store_rc_t  rc;

    if (sv_bad_phone(&t, m->phone) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = sv_store_token_check(st, m->token_hash, m->phone, m->now_ms, err,
                              errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    /*
     * The members' commit is synced (no MDB_NOSYNC there) and decides:
     * the token was valid a moment ago, and the phone it proves can get
     * at most one member, so whatever happened to the token since, at
     * most one signup it allowed can succeed.
     */

    rc = sv_write(st, SV_ENV_MEMBERS, 1, sv_signup_txn, m, err, errlen);

    if (rc == SV_STORE_EMAIL_TAKEN || rc == SV_STORE_PHONE_TAKEN) {
        return sv_signup_refused(st, m, rc);
    }

    if (rc != SV_STORE_OK) {
        return rc;
    }

    /*
     * The member exists: a token left behind by a failure here (or by a
     * crash before it) is for a phone that is taken, of no use to anyone.
     */

    (void) sv_write(st, SV_ENV_CODES, 0, sv_token_consume_txn, m, ignored,
                    sizeof(ignored));

    return SV_STORE_OK;
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
sv_members_count_txn(sv_txn_t *t, void *arg)
{
    int              rc;
    MDB_stat         ms;
    sv_stats_arg_t  *a = arg;

    rc = mdb_stat(t->txn, t->st->dbi[SV_DB_MEMBERS], &ms);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_stat", SV_DB_MEMBERS, rc);
    }

    a->stats->members = ms.ms_entries;

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_codes_count_txn(sv_txn_t *t, void *arg)
{
    sv_stats_arg_t  *a = arg;

    return sv_count_pending(t, a->now_ms, &a->stats->codes_pending);
}


sv_store_rc_t
sv_store_stats(sv_store_t *st, int64_t now_ms, sv_store_stats_t *stats,
    char *err, size_t errlen)
{
    sv_stats_arg_t  a = { stats, now_ms };

    if (sv_read(st, SV_ENV_MEMBERS, sv_members_count_txn, &a, err, errlen)
        != SV_STORE_OK)
    {
        return SV_STORE_ERROR;
    }

    return sv_read(st, SV_ENV_CODES, sv_codes_count_txn, &a, err, errlen);
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

    return sv_write(st, SV_ENV_CODES, 0, sv_sweep_txn, &a, err, errlen);
}


/*
 * The check at start.  It runs in a child process: a damaged map can
 * make LMDB read through a wild page number, and a crash of the child is
 * one more sign of damage rather than the end of nginx's master.  The
 * child tells its findings in lines on a pipe: "migrated", then "ok",
 * "in use", "damaged REASON" or "error REASON".
 */

typedef struct {
    int         fd;
    size_t      last_pgno;
} sv_walk_t;


static void
sv_tell(int fd, const char *fmt, ...)
{
    int      n;
    char     line[512];
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, args);
    va_end(args);

    if (n < 0) {
        return;
    }

    if ((size_t) n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }

    line[n++] = '\n';

    (void) write(fd, line, n);
}


/* Syncs a directory, so that a rename in it is on disk. */
static int
sv_sync_dir(const char *path)
{
    int  fd, rc;

    fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd == -1) {
        return -1;
    }

    rc = fsync(fd);
    close(fd);

    return rc;
}


/*
 * 1 if a process has the environment of this lock file open: each holds
 * a shared fcntl() lock on its first byte while it does.
 */
static int
sv_env_in_use(const char *lock)
{
    int           fd, used;
    struct flock  fl;

    fd = open(lock, O_RDWR);
    if (fd == -1) {
        return 0;
    }

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;

    used = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);

    return used;
}


/* The old layout, one environment in dir itself, becomes the members'. */
static int
sv_migrate(const char *dir, int fd)
{
    char  old[512], sub[512], moved[512], lock[512], e[256];

    if (sv_path(old, sizeof(old), dir, "data.mdb", e, sizeof(e)) != 0
        || sv_path(sub, sizeof(sub), dir, SV_STORE_MEMBERS_DIR, e,
                   sizeof(e)) != 0
        || sv_path(moved, sizeof(moved), sub, "data.mdb", e, sizeof(e)) != 0
        || sv_path(lock, sizeof(lock), dir, "lock.mdb", e, sizeof(e)) != 0)
    {
        sv_tell(fd, "error %s", e);
        return -1;
    }

    if (!sv_exists(old)) {
        return 0;
    }

    if (sv_env_in_use(lock)) {
        sv_tell(fd, "error \"%s\" is open in another process (an nginx of "
                "the old layout?): stop it, then start", old);
        return -1;
    }

    if (sv_exists(moved)) {
        sv_tell(fd, "error both \"%s\" and \"%s\" exist: which holds the "
                "members is for a person to say", old, moved);
        return -1;
    }

    if ((mkdir(sub, 0700) != 0 && errno != EEXIST)
        || rename(old, moved) != 0
        || (unlink(lock) != 0 && errno != ENOENT)
        || sv_sync_dir(sub) != 0
        || sv_sync_dir(dir) != 0)
    {
        sv_tell(fd, "error moving \"%s\" to \"%s\" failed: %s", old, moved,
                strerror(errno));
        return -1;
    }

    sv_tell(fd, "migrated");

    return 0;
}


/* Each freelist record: a count, then that many page numbers in range. */
static int
sv_walk_free(MDB_txn *txn, sv_walk_t *w)
{
    int          rc;
    size_t       i, n, pg;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(txn, 0, &cur);
    if (rc != MDB_SUCCESS) {
        sv_tell(w->fd, "damaged the freelist: %s", mdb_strerror(rc));
        return -1;
    }

    while ((rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == MDB_SUCCESS) {

        if (val.mv_size < sizeof(size_t)
            || val.mv_size % sizeof(size_t) != 0)
        {
            break;
        }

        memcpy(&n, val.mv_data, sizeof(size_t));

        if (val.mv_size != (n + 1) * sizeof(size_t)) {
            break;
        }

        for (i = 1; i <= n; i++) {
            memcpy(&pg, (char *) val.mv_data + i * sizeof(size_t),
                   sizeof(size_t));

            if (pg < 2 || pg > w->last_pgno) {
                break;
            }
        }

        if (i <= n) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        sv_tell(w->fd, "damaged the freelist: %s",
                rc == MDB_SUCCESS ? "a record out of shape"
                                  : mdb_strerror(rc));
        return -1;
    }

    return 0;
}


static int
sv_record_sound(int db, const MDB_val *key, const MDB_val *val)
{
    sv_code_rec_t   code;
    sv_send_rec_t   send;
    sv_token_rec_t  token;

    switch (db) {

    case SV_DB_CODES:
        return key->mv_size > 0 && key->mv_size <= SV_PHONE_MAX
               && sv_code_rec_decode(val, &code) == 0;

    case SV_DB_SENDS:
        return key->mv_size > 0 && key->mv_size <= SV_PHONE_MAX
               && sv_send_rec_decode(val, &send) == 0;

    default:
        return key->mv_size == SV_HASH_SIZE
               && sv_token_rec_decode(val, &token) == 0;
    }
}


/* Every record of one database, decoded; a missing database is empty. */
static int
sv_walk_db(MDB_txn *txn, int db, sv_walk_t *w)
{
    int          rc;
    MDB_dbi      dbi;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_dbi_open(txn, sv_db_names[db], 0, &dbi);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(txn, dbi, &cur);
    }

    if (rc != MDB_SUCCESS) {
        sv_tell(w->fd, "damaged \"%s\": %s", sv_db_names[db],
                mdb_strerror(rc));
        return -1;
    }

    while ((rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == MDB_SUCCESS) {
        if (!sv_record_sound(db, &key, &val)) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        sv_tell(w->fd, "damaged \"%s\": %s", sv_db_names[db],
                rc == MDB_SUCCESS ? "a record out of shape"
                                  : mdb_strerror(rc));
        return -1;
    }

    return 0;
}


/* Reads all of the codes' part: "ok", or why it is damaged. */
static void
sv_walk_codes(const char *dir, int fd)
{
    int          rc, db;
    char         path[512], data[512], lock[512], e[256];
    MDB_env     *env;
    MDB_txn     *txn;
    sv_walk_t    w;
    MDB_envinfo  info;

    if (sv_path(path, sizeof(path), dir, SV_STORE_CODES_DIR, e, sizeof(e))
        != 0
        || sv_path(data, sizeof(data), path, "data.mdb", e, sizeof(e)) != 0
        || sv_path(lock, sizeof(lock), path, "lock.mdb", e, sizeof(e)) != 0)
    {
        sv_tell(fd, "error %s", e);
        return;
    }

    if (!sv_exists(data)) {
        sv_tell(fd, "ok");
        return;
    }

    /*
     * Processes that have it open (the workers, when "nginx -s" or a
     * binary upgrade loads the configuration) found it sound when they
     * started, and may be writing: it is theirs.
     */

    if (sv_env_in_use(lock)) {
        sv_tell(fd, "in use");
        return;
    }

    rc = mdb_env_create(&env);
    if (rc != MDB_SUCCESS) {
        sv_tell(fd, "error mdb_env_create failed: %s", mdb_strerror(rc));
        return;
    }

    (void) mdb_env_set_maxdbs(env, SV_DB_N + 1);

    rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS, 0600);

    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH
        || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
    {
        sv_tell(fd, "damaged mdb_env_open: %s", mdb_strerror(rc));
        return;
    }

    if (rc != MDB_SUCCESS) {
        sv_tell(fd, "error mdb_env_open(\"%s\") failed: %s", path,
                mdb_strerror(rc));
        return;
    }

    w.fd = fd;

    if (mdb_env_info(env, &info) != MDB_SUCCESS) {
        sv_tell(fd, "error mdb_env_info failed");
        return;
    }

    w.last_pgno = info.me_last_pgno;

    rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        sv_tell(fd, "damaged mdb_txn_begin: %s", mdb_strerror(rc));
        return;
    }

    if (sv_walk_free(txn, &w) != 0) {
        return;
    }

    for (db = 0; db < SV_DB_N; db++) {
        if (sv_db_env[db] == SV_ENV_CODES && sv_walk_db(txn, db, &w) != 0) {
            return;
        }
    }

    mdb_txn_abort(txn);
    mdb_env_close(env);

    sv_tell(fd, "ok");
}


static void
sv_check_child(const char *dir, sv_store_check_t *chk, int fd)
{
    if (chk->uid != -1 && geteuid() == 0
        && (setgid((gid_t) chk->gid) != 0 || setuid((uid_t) chk->uid) != 0))
    {
        sv_tell(fd, "error setuid(%ld) failed: %s", chk->uid,
                strerror(errno));
        return;
    }

    if (sv_migrate(dir, fd) != 0) {
        return;
    }

    sv_walk_codes(dir, fd);
}


/* Copies src into dst of size bytes, cut short if need be. */
static void
sv_copy(char *dst, size_t size, const char *src)
{
    size_t  n;

    n = strlen(src);

    if (n >= size) {
        n = size - 1;
    }

    memcpy(dst, src, n);
    dst[n] = '\0';
}


/* The child's lines, as far as they go; the last one in last. */
static void
sv_check_read(int fd, sv_store_check_t *chk, char *last, size_t size)
{
    char     buf[2048], *p, *nl;
    size_t   len;
    ssize_t  n;

    len = 0;

    while (len < sizeof(buf) - 1
           && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0)
    {
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            break;
        }

        len += n;
    }

    buf[len] = '\0';
    last[0] = '\0';

    for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';

        if (strcmp(p, "migrated") == 0) {
            chk->migrated = 1;
            continue;
        }

        sv_copy(last, size, p);
    }
}


static sv_store_rc_t
sv_move_aside(const char *dir, sv_store_check_t *chk, char *err,
    size_t errlen)
{
    char        path[512], stamp[32];
    time_t      now;
    struct tm   tm;

    if (sv_path(path, sizeof(path), dir, SV_STORE_CODES_DIR, err, errlen)
        != 0)
    {
        return SV_STORE_ERROR;
    }

    now = time(NULL);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", gmtime_r(&now, &tm));

    if (snprintf(chk->moved_to, sizeof(chk->moved_to), "%s.damaged-%s-%ld",
                 path, stamp, (long) getpid())
        >= (int) sizeof(chk->moved_to))
    {
        snprintf(err, errlen, "the store's path is too long");
        return SV_STORE_ERROR;
    }

    if (rename(path, chk->moved_to) != 0) {
        snprintf(err, errlen, "rename(\"%s\", \"%s\") failed: %s", path,
                 chk->moved_to, strerror(errno));
        return SV_STORE_ERROR;
    }

    (void) sv_sync_dir(dir);

    chk->damaged = 1;

    return SV_STORE_OK;
}


sv_store_rc_t
sv_store_check(const char *dir, sv_store_check_t *chk, char *err,
    size_t errlen)
{
    int    fds[2], status;
    char   last[512];
    pid_t  pid;

    chk->migrated = 0;
    chk->in_use = 0;
    chk->damaged = 0;
    chk->moved_to[0] = '\0';
    chk->reason[0] = '\0';

    if (pipe(fds) != 0) {
        snprintf(err, errlen, "pipe() failed: %s", strerror(errno));
        return SV_STORE_ERROR;
    }

    pid = fork();

    if (pid == -1) {
        snprintf(err, errlen, "fork() failed: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return SV_STORE_ERROR;
    }

    if (pid == 0) {
        close(fds[0]);
        sv_check_child(dir, chk, fds[1]);
        _exit(0);
    }

    close(fds[1]);
    sv_check_read(fds[0], chk, last, sizeof(last));
    close(fds[0]);

    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid() failed: %s", strerror(errno));
            return SV_STORE_ERROR;
        }
    }

    if (WIFSIGNALED(status)) {
        snprintf(chk->reason, sizeof(chk->reason),
                 "reading it killed the reader with signal %d",
                 WTERMSIG(status));
        return sv_move_aside(dir, chk, err, errlen);
    }

    if (strcmp(last, "ok") == 0) {
        return SV_STORE_OK;
    }

    if (strcmp(last, "in use") == 0) {
        chk->in_use = 1;
        return SV_STORE_OK;
    }

    if (strncmp(last, "damaged ", 8) == 0) {
        sv_copy(chk->reason, sizeof(chk->reason), last + 8);
        return sv_move_aside(dir, chk, err, errlen);
    }

    sv_copy(err, errlen, strncmp(last, "error ", 6) == 0
                         ? last + 6 : "the check ended without a word");

    return SV_STORE_ERROR;
}
