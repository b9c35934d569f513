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
 *   members  id (8 bytes BE) -> the member as JSON text, with the epoch
 *                               a reset moves on (its sessions end)
 *   emails   folded email    -> id (8 bytes BE)
 *   phones   phone           -> id (8 bytes BE)
 *   meta     "next_id"       -> id (8 bytes BE)
 *            "next_event"    -> the next webhook event's id (8 bytes BE)
 *            "outbox_lease"  -> the lease of the event being delivered
 *   outbox   event id (8 BE) -> a webhook event, with its next attempt
 *
 * dir/codes, with MDB_NOSYNC unless every commit is to be synced: a
 * power loss may then damage it, which sv_store_check() finds at the
 * next start and answers by starting it afresh.
 *
 *   codes    phone           -> code record (and its purpose)
 *   sends    phone           -> window record of its sends
 *   tokens   token hash      -> token record (and its purpose)
 *   sessions session hash    -> session record: member id and epoch
 *   logins   account key     -> window record of its failed logins
 *   addrs    address key     -> window record of the sends from it
 *   days     "2026-12-01"    -> the budget's count of that UTC day
 *
 * A signup commits its member first and consumes its token after: a
 * crash between leaves a token for a phone that is taken, which no
 * signup can use (the phone is checked in the members' commit).  A reset
 * commits the member's new hash and epoch first, likewise: a crash
 * between leaves a token that can only set a password again.  A session
 * is checked against its member's epoch, so that the reset ends it
 * whatever becomes of the codes' part (sessions are lost with it).
 *
 * A webhook event is written in the members' commit of the change it
 * reports (where the store was opened with conf->outbox), so that a
 * change that was committed always has its event.
 *
 * The records' bytes are sv_record.h's, the decisions sv_rules.h's; this
 * file reads, asks and writes.  The start check is in
 * sv_store_lmdb_check.c.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "sv_record.h"
#include "sv_rules.h"
#include "sv_store_impl.h"
#include "sv_store_lmdb.h"
#include "sv_text.h"
#include "sv_webhook.h"


/* the least room writes leave for sweeps: see sv_check_room() */
#define SV_RESERVE_MIN      (64 * 1024)

/* read txns kept per part, at most: more are ended */
#define SV_KEPT_READERS     64

/* writemap: more than the new records of any one txn take; see below */
#define SV_WRITEMAP_AHEAD   (64 * 1024 * 1024)

const char *const  sv_lmdb_db_names[SV_DB_N] = {
    "codes", "sends", "tokens", "sessions", "logins", "addrs", "days",
    "members", "emails", "phones", "meta", "outbox"
};

const int  sv_lmdb_db_env[SV_DB_N] = {
    SV_ENV_CODES, SV_ENV_CODES, SV_ENV_CODES, SV_ENV_CODES, SV_ENV_CODES,
    SV_ENV_CODES, SV_ENV_CODES,
    SV_ENV_MEMBERS, SV_ENV_MEMBERS, SV_ENV_MEMBERS, SV_ENV_MEMBERS,
    SV_ENV_MEMBERS
};

const char *const  sv_lmdb_env_dirs[SV_ENV_N] = {
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

    /*
     * Read txns kept reset for the next read (MDB_NOTLS: any thread may
     * renew one).  Renewing takes the txn's own reader slot again, where
     * a begin takes the reader table's lock that all processes share
     * and looks for a free slot.
     */
    pthread_mutex_t     kept_lock;
    MDB_txn            *kept[SV_KEPT_READERS];
    unsigned            nkept;

    int                 writemap;
    size_t              ahead;          /* SV_WRITEMAP_AHEAD, or the conf's */
    size_t              allocated;      /* of the file, by this process */
} sv_env_t;

typedef struct {
    sv_store_t          store;          /* first: the ops */
    sv_env_t            envs[SV_ENV_N];
    MDB_dbi             dbi[SV_DB_N];
    int                 outbox;         /* changes write their events */
} sv_lmdb_t;

/* A transaction in progress and where its error goes. */
typedef struct {
    sv_lmdb_t          *st;
    sv_env_t           *e;
    MDB_txn            *txn;
    char               *err;
    size_t              errlen;
    int                 mdb_rc;         /* of the last LMDB failure */
    int                 wrote;          /* a write reached LMDB */
} sv_txn_t;

typedef sv_store_rc_t (*sv_txn_body_pt)(sv_txn_t *t, void *arg);

typedef struct {
    int64_t             now_ms;
    int64_t             grace_ms;
    size_t              left;
} sv_sweep_arg_t;

typedef struct {
    const char         *phone;
    const uint8_t      *hash;
    int64_t             expires_ms;
    unsigned            attempts;
    sv_purpose_t        purpose;
} sv_code_arg_t;

typedef struct {
    const uint8_t      *token_hash;
    const char         *phone;
    sv_purpose_t        purpose;
    int64_t             now_ms;
    char               *phone_out;          /* token_phone */
} sv_token_arg_t;

typedef struct {
    sv_confirm_t       *c;
    int                 taken;          /* a member has the phone */
} sv_confirm_arg_t;

/* Tells whether a record may go; -1 if it is corrupt. */
typedef int (*sv_gone_pt)(const MDB_val *val, int64_t now_ms,
    int64_t grace_ms);


/* Errors. */

static sv_store_rc_t
sv_fail(sv_txn_t *t, const char *what, int db, int rc)
{
    t->mdb_rc = rc;

    if (db < 0) {
        snprintf(t->err, t->errlen, "%s failed: %s", what, mdb_strerror(rc));

    } else {
        snprintf(t->err, t->errlen, "%s(\"%s\") failed: %s",
                 what, sv_lmdb_db_names[db], mdb_strerror(rc));
    }

    return SV_STORE_ERROR;
}


static sv_store_rc_t
sv_corrupt(sv_txn_t *t, int db)
{
    snprintf(t->err, t->errlen, "corrupt record in \"%s\"",
             sv_lmdb_db_names[db]);

    return SV_STORE_ERROR;
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


static sv_store_rc_t sv_writemap_allocate(sv_env_t *e, sv_txn_t *t);
static void sv_txn_abort(sv_txn_t *t);


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

    if (t->e->writemap && !(flags & MDB_RDONLY)
        && sv_writemap_allocate(t->e, t) != SV_STORE_OK)
    {
        sv_txn_abort(t);
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static void
sv_txn_abort(sv_txn_t *t)
{
    mdb_txn_abort(t->txn);
    pthread_rwlock_unlock(&t->e->resize_lock);
}


/* a read txn: a kept one renewed, else begun */
static sv_store_rc_t
sv_read_begin(sv_txn_t *t)
{
    MDB_txn   *txn;
    sv_env_t  *e = t->e;

    txn = NULL;

    pthread_mutex_lock(&e->kept_lock);

    if (e->nkept > 0) {
        txn = e->kept[--e->nkept];
    }

    pthread_mutex_unlock(&e->kept_lock);

    if (txn != NULL) {
        pthread_rwlock_rdlock(&e->resize_lock);

        if (mdb_txn_renew(txn) == MDB_SUCCESS) {
            t->txn = txn;
            return SV_STORE_OK;
        }

        /* MDB_MAP_RESIZED among others: a begin knows what to do */

        pthread_rwlock_unlock(&e->resize_lock);
        mdb_txn_abort(txn);
    }

    return sv_txn_begin(t, MDB_RDONLY);
}


static void
sv_read_end(sv_txn_t *t)
{
    sv_env_t  *e = t->e;

    mdb_txn_reset(t->txn);
    pthread_rwlock_unlock(&e->resize_lock);

    pthread_mutex_lock(&e->kept_lock);

    if (e->nkept < SV_KEPT_READERS) {
        e->kept[e->nkept++] = t->txn;
        t->txn = NULL;
    }

    pthread_mutex_unlock(&e->kept_lock);

    if (t->txn != NULL) {
        mdb_txn_abort(t->txn);
    }
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
 * The batch this thread runs (sv_lmdb_batch_begin): one write txn of the
 * codes' part that the calls of the batch run in, one after the other.
 * Its writer holds the write lock, so they never wait for it again.
 *
 * A call's own nested txn would undo any failing call alone, but costs
 * about as much as the call (a child's page lists are allocated, and
 * merged at its commit).  Most failures write nothing first (a corrupt
 * record, a store full before the write): those answer alone.  A call
 * that fails after a write breaks the batch instead: the txn holds half
 * of that call, so it is aborted, and every call runs again alone.
 */
typedef struct {
    sv_lmdb_t          *st;
    sv_txn_t            parent;
    int                 broken;         /* a call failed after a write */
} sv_batch_t;

static __thread sv_batch_t  sv_batch;


/* 1 if a call on env runs in this thread's batch */
static int
sv_batch_runs(sv_lmdb_t *st, int env)
{
    return sv_batch.st == st && sv_batch.parent.e == &st->envs[env];
}


/* a call of a broken batch: it runs again alone, so not now */
static sv_store_rc_t
sv_batch_skip(sv_txn_t *t)
{
    snprintf(t->err, t->errlen, "a call of the batch failed after a write");
    return SV_STORE_ERROR;
}


/*
 * Runs body in a write txn of one environment: committed unless the body
 * failed.  In a batch, the body runs in the batch's txn.
 */
static sv_store_rc_t
sv_write(sv_lmdb_t *st, int env, int adds, sv_txn_body_pt body, void *arg,
    char *err, size_t errlen)
{
    int            batched;
    sv_txn_t       t = { st, &st->envs[env], NULL, err, errlen, 0, 0 };
    sv_store_rc_t  rc;

    batched = sv_batch_runs(st, env);

    if (batched) {
        if (sv_batch.broken) {
            return sv_batch_skip(&t);
        }

        t.txn = sv_batch.parent.txn;

    } else if (sv_txn_begin(&t, 0) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = adds ? sv_check_room(&t) : SV_STORE_OK;

    if (rc == SV_STORE_OK) {
        rc = body(&t, arg);
    }

    if (batched) {
        if (rc == SV_STORE_ERROR && t.wrote) {
            sv_batch.broken = 1;
        }

    } else if (rc == SV_STORE_ERROR) {
        sv_txn_abort(&t);

    } else if (sv_txn_commit(&t) != SV_STORE_OK) {
        rc = SV_STORE_ERROR;
    }

    if (rc == SV_STORE_ERROR && t.mdb_rc == MDB_MAP_FULL) {
        return SV_STORE_FULL;
    }

    return rc;
}


/*
 * A read sees the store as the calls before it left it: in a batch, that
 * is the batch's txn.
 */
static sv_store_rc_t
sv_read(sv_lmdb_t *st, int env, sv_txn_body_pt body, void *arg, char *err,
    size_t errlen)
{
    sv_txn_t       t = { st, &st->envs[env], NULL, err, errlen, 0, 0 };
    sv_store_rc_t  rc;

    if (sv_batch_runs(st, env)) {
        if (sv_batch.broken) {
            return sv_batch_skip(&t);
        }

        t.txn = sv_batch.parent.txn;

        return body(&t, arg);
    }

    if (sv_read_begin(&t) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    rc = body(&t, arg);

    sv_read_end(&t);

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

    t->wrote = 1;
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

    t->wrote = 1;
    rc = mdb_del(t->txn, t->st->dbi[db], &k, NULL);

    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        sv_fail(t, "mdb_del", db, rc);
        return -1;
    }

    return 0;
}


/* Records in and out: 1 found, 0 not found, -1 error or corrupt record. */

static int
sv_code_get(sv_txn_t *t, const char *phone, sv_code_rec_t *rec)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_CODES, phone, strlen(phone), &val);

    if (rc == 1 && sv_code_rec_decode(val.mv_data, val.mv_size, rec) != 0) {
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


/* A window record of sends (by phone) or failed logins (by account). */
static int
sv_window_get(sv_txn_t *t, int db, const char *key, sv_window_rec_t *rec)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, db, key, strlen(key), &val);

    if (rc == 1 && sv_window_rec_decode(val.mv_data, val.mv_size, rec) != 0)
    {
        sv_corrupt(t, db);
        return -1;
    }

    if (rc == 0) {
        memset(rec, 0, sizeof(sv_window_rec_t));
    }

    return rc;
}


static int
sv_window_store(sv_txn_t *t, int db, const char *key,
    const sv_window_rec_t *rec)
{
    size_t   len;
    uint8_t  buf[SV_WINDOW_REC_MAX];

    len = sv_window_rec_encode(rec, buf);

    return sv_put(t, db, key, strlen(key), buf, len, 0);
}


/* The budget's count of the UTC day of now_ms: all zero if none. */
static int
sv_day_get(sv_txn_t *t, int64_t now_ms, sv_day_rec_t *rec)
{
    int      rc;
    char     key[SV_DAY_KEY_SIZE];
    MDB_val  val;

    sv_rules_day_key(sv_rules_day(now_ms), key);

    rc = sv_get(t, SV_DB_DAYS, key, strlen(key), &val);

    if (rc == 1 && sv_day_rec_decode(val.mv_data, val.mv_size, rec) != 0) {
        sv_corrupt(t, SV_DB_DAYS);
        return -1;
    }

    if (rc == 0) {
        memset(rec, 0, sizeof(sv_day_rec_t));
    }

    return rc;
}


static int
sv_day_store(sv_txn_t *t, const sv_day_rec_t *rec)
{
    char     key[SV_DAY_KEY_SIZE];
    uint8_t  buf[SV_DAY_REC_SIZE];

    sv_rules_day_key(rec->day, key);
    sv_day_rec_encode(rec, buf);

    return sv_put(t, SV_DB_DAYS, key, strlen(key), buf, sizeof(buf), 0);
}


static int
sv_token_get(sv_txn_t *t, const uint8_t *token_hash, sv_token_rec_t *rec)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_TOKENS, token_hash, SV_HASH_SIZE, &val);

    if (rc == 1 && sv_token_rec_decode(val.mv_data, val.mv_size, rec) != 0)
    {
        sv_corrupt(t, SV_DB_TOKENS);
        return -1;
    }

    return rc;
}


static int
sv_token_store(sv_txn_t *t, const uint8_t *token_hash,
    const sv_token_rec_t *rec)
{
    size_t   len;
    uint8_t  buf[SV_TOKEN_REC_MAX];

    len = sv_token_rec_encode(rec, buf);

    return sv_put(t, SV_DB_TOKENS, token_hash, SV_HASH_SIZE, buf, len, 0);
}


static int
sv_session_get(sv_txn_t *t, const uint8_t *hash, sv_session_rec_t *rec)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_SESSIONS, hash, SV_HASH_SIZE, &val);

    if (rc == 1
        && sv_session_rec_decode(val.mv_data, val.mv_size, rec) != 0)
    {
        sv_corrupt(t, SV_DB_SESSIONS);
        return -1;
    }

    return rc;
}


static int
sv_session_store(sv_txn_t *t, const uint8_t *hash,
    const sv_session_rec_t *rec)
{
    uint8_t  buf[SV_SESSION_REC_SIZE];

    sv_session_rec_encode(rec, buf);

    return sv_put(t, SV_DB_SESSIONS, hash, SV_HASH_SIZE, buf, sizeof(buf),
                  0);
}


/* The id an email or a phone is of: 1 found, 0 not, -1 error. */
static int
sv_member_id(sv_txn_t *t, int db, const char *key, uint64_t *id)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, db, key, strlen(key), &val);

    if (rc == 1 && sv_id_decode(val.mv_data, val.mv_size, id) != 0) {
        sv_corrupt(t, db);
        return -1;
    }

    return rc;
}


static int
sv_member_get(sv_txn_t *t, uint64_t id, sv_member_info_t *m)
{
    int      rc;
    uint8_t  key[SV_ID_SIZE];
    MDB_val  val;

    sv_id_encode(id, key);

    rc = sv_get(t, SV_DB_MEMBERS, key, SV_ID_SIZE, &val);

    if (rc == 1
        && (sv_member_decode(val.mv_data, val.mv_size, m) != 0
            || m->id != id))
    {
        sv_corrupt(t, SV_DB_MEMBERS);
        return -1;
    }

    return rc;
}


/* The member read back and changed replaces its record. */
static int
sv_member_rewrite(sv_txn_t *t, const sv_member_info_t *m)
{
    int      rc;
    char    *text;
    size_t   len;
    uint8_t  key[SV_ID_SIZE];

    text = sv_member_info_encode(m, &len);
    if (text == NULL) {
        snprintf(t->err, t->errlen, "cannot build the member JSON");
        return -1;
    }

    sv_id_encode(m->id, key);
    rc = sv_put(t, SV_DB_MEMBERS, key, SV_ID_SIZE, text, len, 0);
    free(text);

    return rc;
}


static int
sv_phone_taken(sv_txn_t *t, const char *phone)
{
    MDB_val  val;

    return sv_get(t, SV_DB_PHONES, phone, strlen(phone), &val);
}


typedef struct {
    const char         *phone;
    int                 taken;          /* out */
} sv_phone_arg_t;


static sv_store_rc_t
sv_phone_taken_txn(sv_txn_t *t, void *arg)
{
    int              rc;
    sv_phone_arg_t  *a = arg;

    rc = sv_phone_taken(t, a->phone);
    a->taken = rc == 1;

    return rc < 0 ? SV_STORE_ERROR : SV_STORE_OK;
}


/* *taken: 1 if a member has the phone, else 0; a read of the members. */
static sv_store_rc_t
sv_phone_member(sv_lmdb_t *st, const char *phone, int *taken, char *err,
    size_t errlen)
{
    sv_phone_arg_t  a = { phone, 0 };
    sv_store_rc_t   rc;

    rc = sv_read(st, SV_ENV_MEMBERS, sv_phone_taken_txn, &a, err, errlen);
    *taken = a.taken;

    return rc;
}


/* Open and close. */

int
sv_lmdb_path(char *buf, size_t size, const char *dir, const char *sub,
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


int
sv_lmdb_exists(const char *path)
{
    struct stat  sb;

    return stat(path, &sb) == 0;
}


/*
 * writemap: the codes' part written through a writable map, where a
 * commit otherwise copies every page it wrote into the file (pwrite).
 * LMDB sets the file to the map's size, a sparse file: a page first
 * written in a hole on a full disk would be SIGBUS, not an error.  So
 * every write txn begins with the file allocated past any page it can
 * come to: it copies each page it changes at most once, so it ends
 * below twice the pages in use, plus the new records of a batch, which
 * SV_WRITEMAP_AHEAD bounds with room to spare.  The disk held is thus
 * in proportion to what the part holds, not SIZE.  And the map is
 * never smaller than the file: shrinking it would cut the file under
 * other processes' maps (the workers of before a reload).
 */

static size_t
sv_writemap_size(const char *path, size_t map_size)
{
    char         data[512 + sizeof("/data.mdb")];
    struct stat  sb;

    snprintf(data, sizeof(data), "%s/data.mdb", path);

    if (stat(data, &sb) == 0 && (size_t) sb.st_size > map_size) {
        return (size_t) sb.st_size;
    }

    return map_size;
}


/* how much of the file a write txn from this state may come to use */
static size_t
sv_writemap_need(sv_env_t *e, const MDB_envinfo *info)
{
    size_t  need;

    need = 2 * (info->me_last_pgno + 1) * e->psize + e->ahead;

    return need < info->me_mapsize ? need : info->me_mapsize;
}


/*
 * Each process allocates before its own write txns, which begin here
 * with the write lock held; at open it only fails the start early.
 * Allocating what another process already did costs little.
 */
static sv_store_rc_t
sv_writemap_allocate(sv_env_t *e, sv_txn_t *t)
{
    int          rc, fd;
    size_t       need, len;
    MDB_envinfo  info;

    if (mdb_env_get_fd(e->env, &fd) != MDB_SUCCESS
        || mdb_env_info(e->env, &info) != MDB_SUCCESS)
    {
        snprintf(t->err, t->errlen, "mdb_env_info() of the codes failed");
        return SV_STORE_ERROR;
    }

    need = sv_writemap_need(e, &info);

    if (need <= e->allocated) {
        return SV_STORE_OK;
    }

    /* a step ahead, so that this is seldom called */

    len = need + e->ahead < info.me_mapsize ? need + e->ahead
                                            : info.me_mapsize;

    rc = posix_fallocate(fd, 0, (off_t) len);
    if (rc != 0) {
        snprintf(t->err, t->errlen, "cannot allocate %zu bytes of the "
                 "codes' data.mdb (writemap=on): %s", len, strerror(rc));
        return SV_STORE_ERROR;
    }

    e->allocated = len;

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_env_open(sv_lmdb_t *st, int env, const sv_store_conf_t *conf,
    sv_txn_t *t)
{
    int        rc, writemap;
    char       path[512];
    size_t     map_size;
    MDB_stat   stat;
    unsigned   flags;
    sv_env_t  *e;

    e = &st->envs[env];

    if (sv_lmdb_path(path, sizeof(path), conf->dir, sv_lmdb_env_dirs[env],
                     t->err, t->errlen)
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

    writemap = (conf->writemap && env == SV_ENV_CODES);
    map_size = writemap ? sv_writemap_size(path, conf->map_size)
                        : conf->map_size;

    /* 0 keeps LMDB's default */

    if (map_size) {
        rc = mdb_env_set_mapsize(e->env, map_size);
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

    if (writemap) {
        flags |= MDB_WRITEMAP;
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
    e->writemap = writemap;
    e->ahead = conf->writemap_ahead ? conf->writemap_ahead
                                    : SV_WRITEMAP_AHEAD;
    e->allocated = 0;

    /* a disk that cannot hold what the part holds fails the start */

    if (writemap && sv_writemap_allocate(e, t) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

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

        if (sv_lmdb_db_env[i] == env) {
            rc = mdb_dbi_open(t->txn, sv_lmdb_db_names[i], MDB_CREATE,
                              &t->st->dbi[i]);
            if (rc != MDB_SUCCESS) {
                return sv_fail(t, "mdb_dbi_open", i, rc);
            }

            continue;
        }

        rc = mdb_dbi_open(t->txn, sv_lmdb_db_names[i], 0, &dbi);

        if (rc == MDB_NOTFOUND) {
            continue;
        }

        if (rc != MDB_SUCCESS) {
            return sv_fail(t, "mdb_dbi_open", i, rc);
        }

        t->wrote = 1;
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

    if (sv_lmdb_path(path, sizeof(path), conf->dir, "data.mdb", err, errlen)
        != 0)
    {
        return SV_STORE_ERROR;
    }

    if (sv_lmdb_exists(path)) {
        snprintf(err, errlen, "\"%s\" is a store of the old layout, which "
                 "a start (not a reload) moves to \"%s/" SV_STORE_MEMBERS_DIR
                 "\"", path, conf->dir);
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static void
sv_lmdb_close(sv_store_t *store)
{
    int         env;
    sv_env_t   *e;
    sv_lmdb_t  *st = (sv_lmdb_t *) store;

    for (env = 0; env < SV_ENV_N; env++) {
        e = &st->envs[env];

        while (e->nkept > 0) {
            mdb_txn_abort(e->kept[--e->nkept]);
        }

        if (e->env) {
            mdb_env_close(e->env);
        }

        if (e->lock_ready) {
            pthread_rwlock_destroy(&e->resize_lock);
            pthread_mutex_destroy(&e->kept_lock);
        }
    }

    free(st);
}


static sv_store_rc_t
sv_lmdb_sync(sv_store_t *store, char *err, size_t errlen)
{
    int         rc;
    sv_lmdb_t  *st = (sv_lmdb_t *) store;

    rc = mdb_env_sync(st->envs[SV_ENV_CODES].env, 1);

    if (rc != MDB_SUCCESS) {
        snprintf(err, errlen, "mdb_env_sync failed: %s", mdb_strerror(rc));
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static int
sv_lmdb_reader_check(sv_store_t *store)
{
    int         env, dead, total;
    sv_lmdb_t  *st = (sv_lmdb_t *) store;

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

/* The records a send's limits read: those it carries. */
static int
sv_send_recs_get(sv_txn_t *t, const sv_send_t *s, sv_send_recs_t *recs)
{
    memset(recs, 0, sizeof(sv_send_recs_t));

    if (sv_window_get(t, SV_DB_SENDS, s->phone, &recs->phone) < 0
        || (s->addr != NULL
            && sv_window_get(t, SV_DB_ADDRS, s->addr, &recs->addr) < 0)
        || (s->budget > 0 && sv_day_get(t, s->now_ms, &recs->day) < 0))
    {
        return -1;
    }

    return 0;
}


static int
sv_send_recs_store(sv_txn_t *t, const sv_send_t *s,
    const sv_send_recs_t *recs)
{
    if (((recs->write & SV_SEND_REC_PHONE)
         && sv_window_store(t, SV_DB_SENDS, s->phone, &recs->phone) != 0)
        || ((recs->write & SV_SEND_REC_ADDR)
            && sv_window_store(t, SV_DB_ADDRS, s->addr, &recs->addr) != 0)
        || ((recs->write & SV_SEND_REC_DAY)
            && sv_day_store(t, &recs->day) != 0))
    {
        return -1;
    }

    return 0;
}


/* Every limit in one transaction: workers racing for the last send. */
static sv_store_rc_t
sv_send_begin_txn(sv_txn_t *t, void *arg)
{
    sv_send_t       *s = arg;
    sv_store_rc_t    verdict;
    sv_send_recs_t   recs;

    if (sv_send_recs_get(t, s, &recs) != 0) {
        return SV_STORE_ERROR;
    }

    verdict = sv_rules_send_limits(&recs, s);

    if (sv_send_recs_store(t, s, &recs) != 0) {
        return SV_STORE_ERROR;
    }

    return verdict;
}


static sv_store_rc_t
sv_lmdb_send_begin(sv_store_t *store, sv_send_t *s, char *err, size_t errlen)
{
    int             taken;
    sv_lmdb_t      *st = (sv_lmdb_t *) store;
    sv_store_rc_t   rc;

    rc = sv_phone_member(st, s->phone, &taken, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    rc = sv_rules_phone_for(s->purpose, taken);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    return sv_write(st, SV_ENV_CODES, 1, sv_send_begin_txn, s, err, errlen);
}


/*
 * send_begin's verdict on the records as read, counted nowhere; a full
 * store is send_begin's to answer (its room is checked before its
 * limits), and so is the budget's refusal: send_begin counts it in the
 * day's record (the first of the day is told by that count).
 */
static sv_store_rc_t
sv_send_read_txn(sv_txn_t *t, void *arg)
{
    sv_send_t       *s = arg;
    sv_store_rc_t    verdict;
    sv_send_recs_t   recs;

    if (sv_check_room(t) != SV_STORE_OK) {
        return SV_STORE_OK;
    }

    if (sv_send_recs_get(t, s, &recs) != 0) {
        return SV_STORE_ERROR;
    }

    verdict = sv_rules_send_limits(&recs, s);

    if (verdict == SV_STORE_BUDGET) {
        s->budget_first = 0;
        return SV_STORE_OK;
    }

    return verdict;
}


static sv_store_rc_t
sv_lmdb_send_read(sv_store_t *store, sv_send_t *s, char *err, size_t errlen)
{
    int             taken;
    sv_lmdb_t      *st = (sv_lmdb_t *) store;
    sv_store_rc_t   rc;

    rc = sv_phone_member(st, s->phone, &taken, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    rc = sv_rules_phone_for(s->purpose, taken);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    return sv_read(st, SV_ENV_CODES, sv_send_read_txn, s, err, errlen);
}


/* A send taken back from a window: the record goes with its last. */
static int
sv_window_abort(sv_txn_t *t, int db, const char *key, int64_t stamp_ms)
{
    int              rc;
    sv_window_rec_t  rec;

    rc = sv_window_get(t, db, key, &rec);
    if (rc <= 0) {
        return rc;
    }

    if (sv_rules_send_abort(&rec, stamp_ms) == 0) {
        return sv_del(t, db, key, strlen(key));
    }

    return sv_window_store(t, db, key, &rec);
}


static sv_store_rc_t
sv_send_abort_txn(sv_txn_t *t, void *arg)
{
    int           rc;
    sv_send_t    *s = arg;
    sv_day_rec_t  day;

    if (sv_window_abort(t, SV_DB_SENDS, s->phone, s->now_ms) < 0
        || (s->addr != NULL
            && sv_window_abort(t, SV_DB_ADDRS, s->addr, s->now_ms) < 0))
    {
        return SV_STORE_ERROR;
    }

    if (s->budget == 0) {
        return SV_STORE_OK;
    }

    rc = sv_day_get(t, s->now_ms, &day);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_OK;
    }

    sv_rules_day_abort(&day);

    return sv_day_store(t, &day) == 0 ? SV_STORE_OK : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_lmdb_send_abort(sv_store_t *store, const sv_send_t *s, char *err,
    size_t errlen)
{
    return sv_write((sv_lmdb_t *) store, SV_ENV_CODES, 0, sv_send_abort_txn,
                    (void *) s, err, errlen);
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
    rec.purpose = a->purpose;

    return sv_code_store(t, a->phone, &rec) == 0 ? SV_STORE_OK
                                                 : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_lmdb_code_put(sv_store_t *store, const char *phone,
    const uint8_t *code_hash, int64_t expires_ms, unsigned attempts,
    sv_purpose_t purpose, char *err, size_t errlen)
{
    sv_code_arg_t  a = { phone, code_hash, expires_ms, attempts, purpose };

    /*
     * No room check: the provider has sent this code already, and
     * send_begin checked the room; the reserve holds one code a thread.
     */
    return sv_write((sv_lmdb_t *) store, SV_ENV_CODES, 0, sv_code_put_txn,
                    &a, err, errlen);
}


/*
 * The code goes and the token the caller draws now takes its place, for
 * what the code was for.
 */
static sv_store_rc_t
sv_confirm_match(sv_txn_t *t, sv_confirm_t *c, sv_purpose_t purpose)
{
    uint8_t         token_hash[SV_HASH_SIZE];
    sv_token_rec_t  tok;

    if (sv_del(t, SV_DB_CODES, c->phone, strlen(c->phone)) != 0) {
        return SV_STORE_ERROR;
    }

    if (c->token_new(c->token_data, token_hash) != 0) {
        snprintf(t->err, t->errlen, "no verification token could be drawn");
        return SV_STORE_ERROR;
    }

    sv_rules_token_new(&tok, c->phone, purpose, c->token_expires_ms);
    c->purpose = purpose;

    return sv_token_store(t, token_hash, &tok) == 0 ? SV_STORE_OK
                                                    : SV_STORE_ERROR;
}


/*
 * The phone's code in rec: OK, or what a confirm answers without one
 * (NO_CODE), or without a guess (PHONE_TAKEN); confirm and confirm_read
 * both begin so.
 */
static sv_store_rc_t
sv_confirm_code(sv_txn_t *t, sv_confirm_arg_t *a, sv_code_rec_t *rec)
{
    int  rc;

    rc = sv_code_get(t, a->c->phone, rec);
    if (rc < 0) {
        return SV_STORE_ERROR;
    }

    if (sv_rules_confirm_taken(rc == 1 ? rec : NULL, a->taken)) {
        return SV_STORE_PHONE_TAKEN;
    }

    return rc == 0 ? SV_STORE_NO_CODE : SV_STORE_OK;
}


static sv_store_rc_t
sv_confirm_txn(sv_txn_t *t, void *arg)
{
    int                rc;
    sv_confirm_t      *c;
    sv_code_rec_t      rec;
    sv_store_rc_t      verdict;
    sv_confirm_arg_t  *a = arg;

    c = a->c;

    verdict = sv_confirm_code(t, a, &rec);
    if (verdict != SV_STORE_OK) {
        return verdict;
    }

    c->purpose = rec.purpose;
    verdict = sv_rules_guess(&rec, c->guess_hash, c->now_ms);

    switch (verdict) {

    case SV_STORE_OK:
        return sv_confirm_match(t, c, rec.purpose);

    case SV_STORE_MISMATCH:
        c->attempts_left = rec.attempts_left;
        rc = sv_code_store(t, c->phone, &rec);
        break;

    case SV_STORE_BURNT:
        c->attempts_left = 0;
        rc = sv_del(t, SV_DB_CODES, c->phone, strlen(c->phone));
        break;

    default:
        return verdict;
    }

    return rc == 0 ? verdict : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_lmdb_confirm(sv_store_t *store, sv_confirm_t *c, char *err, size_t errlen)
{
    sv_lmdb_t         *st = (sv_lmdb_t *) store;
    sv_store_rc_t      rc;
    sv_confirm_arg_t   a = { c, 0 };

    rc = sv_phone_member(st, c->phone, &a.taken, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    /* a confirm never grows the store: a token takes its code's place */
    return sv_write(st, SV_ENV_CODES, 0, sv_confirm_txn, &a, err, errlen);
}


static sv_store_rc_t
sv_confirm_read_txn(sv_txn_t *t, void *arg)
{
    sv_code_rec_t      rec;
    sv_store_rc_t      verdict;
    sv_confirm_arg_t  *a = arg;

    verdict = sv_confirm_code(t, a, &rec);

    if (verdict == SV_STORE_OK && sv_rules_code_expired(&rec, a->c->now_ms)) {
        verdict = SV_STORE_EXPIRED;
    }

    return verdict;
}


/*
 * The confirm's reads, read-only: a code to guess at is the confirm's
 * to decide, in its write transaction.
 */
static sv_store_rc_t
sv_lmdb_confirm_read(sv_store_t *store, sv_confirm_t *c, char *err,
    size_t errlen)
{
    sv_lmdb_t         *st = (sv_lmdb_t *) store;
    sv_store_rc_t      rc;
    sv_confirm_arg_t   a = { c, 0 };

    rc = sv_phone_member(st, c->phone, &a.taken, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    return sv_read(st, SV_ENV_CODES, sv_confirm_read_txn, &a, err, errlen);
}


/* Tokens. */

static sv_store_rc_t
sv_token_check_txn(sv_txn_t *t, void *arg)
{
    int              rc;
    sv_token_rec_t   rec;
    sv_token_arg_t  *a = arg;

    rc = sv_token_get(t, a->token_hash, &rec);
    if (rc < 0) {
        return SV_STORE_ERROR;
    }

    return rc == 1
           && sv_rules_token_valid(&rec, a->phone, a->purpose, a->now_ms)
           ? SV_STORE_OK : SV_STORE_NO_TOKEN;
}


static sv_store_rc_t
sv_lmdb_token_check(sv_store_t *store, const uint8_t *token_hash,
    const char *phone, sv_purpose_t purpose, int64_t now_ms, char *err,
    size_t errlen)
{
    sv_token_arg_t  a = { token_hash, phone, purpose, now_ms, NULL };

    return sv_read((sv_lmdb_t *) store, SV_ENV_CODES, sv_token_check_txn, &a,
                   err, errlen);
}


static sv_store_rc_t
sv_token_phone_txn(sv_txn_t *t, void *arg)
{
    int              rc;
    sv_token_rec_t   rec;
    sv_token_arg_t  *a = arg;

    rc = sv_token_get(t, a->token_hash, &rec);
    if (rc < 0) {
        return SV_STORE_ERROR;
    }

    if (rc != 1 || rec.phone_len > SV_STORE_PHONE_MAX) {
        return SV_STORE_NO_TOKEN;
    }

    memcpy(a->phone_out, rec.phone, rec.phone_len);
    a->phone_out[rec.phone_len] = '\0';

    if (!sv_rules_token_valid(&rec, a->phone_out, a->purpose, a->now_ms)) {
        a->phone_out[0] = '\0';
        return SV_STORE_NO_TOKEN;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_token_phone(sv_store_t *store, const uint8_t *token_hash,
    sv_purpose_t purpose, int64_t now_ms, char *phone, char *err,
    size_t errlen)
{
    sv_token_arg_t  a = { token_hash, NULL, purpose, now_ms, phone };

    return sv_read((sv_lmdb_t *) store, SV_ENV_CODES, sv_token_phone_txn, &a,
                   err, errlen);
}


static sv_store_rc_t sv_outbox_add(sv_txn_t *t, const char *type,
    const sv_member_info_t *m, int64_t now_ms);


/* Members. */

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

    if (sv_id_decode(val.mv_data, val.mv_size, id) != 0 || *id == 0) {
        sv_corrupt(t, SV_DB_META);
        return -1;
    }

    return 0;
}


static sv_store_rc_t
sv_member_put(sv_txn_t *t, const sv_member_t *m, uint64_t id)
{
    int      rc;
    char    *text;
    size_t   len;
    uint8_t  key[SV_ID_SIZE], next[SV_ID_SIZE];

    text = sv_member_encode(m, id, &len);
    if (text == NULL) {
        snprintf(t->err, t->errlen, "cannot build the member JSON");
        return SV_STORE_ERROR;
    }

    sv_id_encode(id, key);
    sv_id_encode(id + 1, next);

    rc = sv_put(t, SV_DB_MEMBERS, key, SV_ID_SIZE, text, len,
                MDB_NOOVERWRITE);

    free(text);

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


/* member.created, of the member as sv_member_put() wrote it */
static sv_store_rc_t
sv_signup_event(sv_txn_t *t, const sv_member_t *m)
{
    size_t             i;
    sv_member_info_t  *info;
    sv_store_rc_t      rc;

    info = calloc(1, sizeof(sv_member_info_t));
    if (info == NULL) {
        snprintf(t->err, t->errlen, "out of memory");
        return SV_STORE_ERROR;
    }

    info->id = m->id;
    snprintf(info->email, sizeof(info->email), "%s", m->email);
    snprintf(info->phone, sizeof(info->phone), "%s", m->phone);
    snprintf(info->nickname, sizeof(info->nickname), "%s", m->nickname);

    for (i = 0; i < m->nterms && i < SV_STORE_TERMS_MAX; i++) {
        info->terms[i] = m->terms[i];
    }

    info->nterms = i;
    info->created_ms = m->now_ms;

    rc = sv_outbox_add(t, "member.created", info, m->now_ms);

    free(info);

    return rc;
}


static sv_store_rc_t
sv_signup_txn(sv_txn_t *t, void *arg)
{
    uint64_t        id;
    sv_member_t    *m = arg;
    sv_store_rc_t   rc;

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

    if (t->st->outbox) {
        return sv_signup_event(t, m);
    }

    return SV_STORE_OK;
}


/* A signup refused as taken counts against its token. */
static sv_store_rc_t
sv_token_refused_txn(sv_txn_t *t, void *arg)
{
    int                 rc;
    sv_token_rec_t      rec;
    const sv_member_t  *m = arg;

    rc = sv_token_get(t, m->token_hash, &rec);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_OK;
    }

    if (sv_rules_token_refused(&rec)) {
        rc = sv_del(t, SV_DB_TOKENS, m->token_hash, SV_HASH_SIZE);

    } else {
        rc = sv_token_store(t, m->token_hash, &rec);
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
sv_signup_refused(sv_lmdb_t *st, const sv_member_t *m, sv_store_rc_t taken)
{
    char  ignored[256];

    (void) sv_write(st, SV_ENV_CODES, 0, sv_token_refused_txn, (void *) m,
                    ignored, sizeof(ignored));

    return taken;
}


static sv_store_rc_t
sv_lmdb_signup_check(sv_store_t *store, const sv_member_t *m, char *err,
    size_t errlen)
{
    sv_lmdb_t      *st = (sv_lmdb_t *) store;
    sv_store_rc_t   rc;

    rc = sv_lmdb_token_check(store, m->token_hash, m->phone,
                             SV_PURPOSE_SIGNUP, m->now_ms, err, errlen);
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


static sv_store_rc_t
sv_lmdb_signup(sv_store_t *store, sv_member_t *m, char *err, size_t errlen)
{
    char            ignored[256];
    sv_lmdb_t      *st = (sv_lmdb_t *) store;
    sv_store_rc_t   rc;

    rc = sv_lmdb_token_check(store, m->token_hash, m->phone,
                             SV_PURPOSE_SIGNUP, m->now_ms, err, errlen);
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


/* Logins. */

static sv_store_rc_t
sv_login_allowed_txn(sv_txn_t *t, void *arg)
{
    sv_login_t      *l = arg;
    sv_login_rec_t   rec;

    if (sv_window_get(t, SV_DB_LOGINS, l->account, &rec) < 0) {
        return SV_STORE_ERROR;
    }

    return sv_rules_login_allowed(&rec, l);
}


static sv_store_rc_t
sv_lmdb_login_allowed(sv_store_t *store, sv_login_t *l, char *err,
    size_t errlen)
{
    return sv_read((sv_lmdb_t *) store, SV_ENV_CODES, sv_login_allowed_txn, l,
                   err, errlen);
}


static sv_store_rc_t
sv_login_failed_txn(sv_txn_t *t, void *arg)
{
    sv_login_t      *l = arg;
    sv_login_rec_t   rec;

    if (sv_window_get(t, SV_DB_LOGINS, l->account, &rec) < 0) {
        return SV_STORE_ERROR;
    }

    sv_rules_login_failed(&rec, l);

    return sv_window_store(t, SV_DB_LOGINS, l->account, &rec) == 0
           ? SV_STORE_OK : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_lmdb_login_failed(sv_store_t *store, sv_login_t *l, char *err,
    size_t errlen)
{
    return sv_write((sv_lmdb_t *) store, SV_ENV_CODES, 1, sv_login_failed_txn,
                    l, err, errlen);
}


/* Members found. */

typedef struct {
    const char         *email_key;      /* or NULL: by phone */
    const char         *phone;
    uint64_t            id;             /* with neither */
    sv_member_info_t   *m;
} sv_find_arg_t;


static sv_store_rc_t
sv_member_find_txn(sv_txn_t *t, void *arg)
{
    int             rc;
    uint64_t        id;
    sv_find_arg_t  *a = arg;

    if (a->email_key != NULL) {
        rc = sv_member_id(t, SV_DB_EMAILS, a->email_key, &id);

    } else if (a->phone != NULL) {
        rc = sv_member_id(t, SV_DB_PHONES, a->phone, &id);

    } else {
        id = a->id;
        rc = 1;
    }

    if (rc == 1) {
        rc = sv_member_get(t, id, a->m);
    }

    return rc < 0 ? SV_STORE_ERROR : rc ? SV_STORE_OK : SV_STORE_NOT_MEMBER;
}


static sv_store_rc_t
sv_lmdb_member_find(sv_store_t *store, const char *email_key,
    const char *phone, sv_member_info_t *m, char *err, size_t errlen)
{
    sv_find_arg_t  a = { email_key, phone, 0, m };

    return sv_read((sv_lmdb_t *) store, SV_ENV_MEMBERS, sv_member_find_txn,
                   &a, err, errlen);
}


typedef struct {
    uint64_t            id;
    const char         *old_hash;
    const char         *new_hash;
} sv_rehash_arg_t;


static sv_store_rc_t
sv_rehash_txn(sv_txn_t *t, void *arg)
{
    int               rc;
    sv_rehash_arg_t  *a = arg;
    sv_member_info_t  m;

    rc = sv_member_get(t, a->id, &m);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_NOT_MEMBER;
    }

    if (!sv_rules_rehash(&m, a->old_hash, a->new_hash)) {
        return SV_STORE_OK;
    }

    return sv_member_rewrite(t, &m) == 0 ? SV_STORE_OK : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_lmdb_member_rehash(sv_store_t *store, uint64_t id, const char *old_hash,
    const char *new_hash, char *err, size_t errlen)
{
    sv_rehash_arg_t  a = { id, old_hash, new_hash };

    return sv_write((sv_lmdb_t *) store, SV_ENV_MEMBERS, 0, sv_rehash_txn,
                    &a, err, errlen);
}


/* Sessions. */

static sv_store_rc_t
sv_session_start_txn(sv_txn_t *t, void *arg)
{
    const sv_session_t  *s = arg;
    sv_session_rec_t     rec;

    sv_rules_session_new(&rec, s);

    if (sv_session_store(t, s->hash, &rec) != 0) {
        return SV_STORE_ERROR;
    }

    if (s->account != NULL
        && sv_del(t, SV_DB_LOGINS, s->account, strlen(s->account)) != 0)
    {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_session_start(sv_store_t *store, const sv_session_t *s, char *err,
    size_t errlen)
{
    return sv_write((sv_lmdb_t *) store, SV_ENV_CODES, 1,
                    sv_session_start_txn, (void *) s, err, errlen);
}


typedef struct {
    const uint8_t      *hash;
    sv_session_rec_t   *rec;
} sv_session_arg_t;


static sv_store_rc_t
sv_session_read_txn(sv_txn_t *t, void *arg)
{
    int                rc;
    sv_session_arg_t  *a = arg;

    rc = sv_session_get(t, a->hash, a->rec);

    return rc < 0 ? SV_STORE_ERROR : rc ? SV_STORE_OK : SV_STORE_NO_SESSION;
}


/*
 * Two read-only transactions, one of each part: neither waits for a
 * writer (LMDB's readers see the last commit), nor writes.
 */
static sv_store_rc_t
sv_lmdb_session_get(sv_store_t *store, sv_session_get_t *g, char *err,
    size_t errlen)
{
    sv_lmdb_t         *st = (sv_lmdb_t *) store;
    sv_store_rc_t      rc;
    sv_find_arg_t      member = { NULL, NULL, 0, &g->member };
    sv_session_rec_t   rec;
    sv_session_arg_t   session = { g->hash, &rec };

    rc = sv_read(st, SV_ENV_CODES, sv_session_read_txn, &session, err,
                 errlen);

    if (rc == SV_STORE_OK && sv_rules_session_ended(&rec, g->now_ms)) {
        rc = SV_STORE_NO_SESSION;
    }

    if (rc == SV_STORE_OK) {
        member.id = rec.member_id;
        rc = sv_read(st, SV_ENV_MEMBERS, sv_member_find_txn, &member, err,
                     errlen);
    }

    if (rc == SV_STORE_OK || rc == SV_STORE_NOT_MEMBER) {
        rc = sv_rules_session_get(&rec, rc == SV_STORE_OK ? &g->member : NULL,
                                  g);
    }

    if (rc != SV_STORE_OK) {
        memset(&g->member, 0, sizeof(sv_member_info_t));
    }

    return rc;
}


typedef struct {
    const uint8_t      *hash;
    int64_t             now_ms;
} sv_touch_arg_t;


static sv_store_rc_t
sv_session_touch_txn(sv_txn_t *t, void *arg)
{
    int                rc;
    sv_touch_arg_t    *a = arg;
    sv_session_rec_t   rec;

    rc = sv_session_get(t, a->hash, &rec);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_OK;
    }

    if (sv_rules_session_touch(&rec, a->now_ms)) {
        rc = sv_session_store(t, a->hash, &rec);

    } else {
        rc = sv_del(t, SV_DB_SESSIONS, a->hash, SV_HASH_SIZE);
    }

    return rc == 0 ? SV_STORE_OK : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_lmdb_session_touch(sv_store_t *store, const uint8_t *hash,
    int64_t now_ms, char *err, size_t errlen)
{
    sv_touch_arg_t  a = { hash, now_ms };

    /* the record keeps its size: no room needed */
    return sv_write((sv_lmdb_t *) store, SV_ENV_CODES, 0,
                    sv_session_touch_txn, &a, err, errlen);
}


static sv_store_rc_t
sv_session_end_txn(sv_txn_t *t, void *arg)
{
    return sv_del(t, SV_DB_SESSIONS, arg, SV_HASH_SIZE) == 0
           ? SV_STORE_OK : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_lmdb_session_end(sv_store_t *store, const uint8_t *hash, char *err,
    size_t errlen)
{
    return sv_write((sv_lmdb_t *) store, SV_ENV_CODES, 0, sv_session_end_txn,
                    (void *) hash, err, errlen);
}


/* Resets. */

static sv_store_rc_t
sv_lmdb_reset_check(sv_store_t *store, const sv_reset_t *r, char *err,
    size_t errlen)
{
    int             taken;
    sv_store_rc_t   rc;

    rc = sv_lmdb_token_check(store, r->token_hash, r->phone,
                             SV_PURPOSE_RESET, r->now_ms, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    rc = sv_phone_member((sv_lmdb_t *) store, r->phone, &taken, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    return taken ? SV_STORE_OK : SV_STORE_NOT_MEMBER;
}


static sv_store_rc_t
sv_reset_txn(sv_txn_t *t, void *arg)
{
    int               rc;
    uint64_t          id;
    sv_reset_t       *r = arg;
    sv_member_info_t  m;

    rc = sv_member_id(t, SV_DB_PHONES, r->phone, &id);

    if (rc == 1) {
        rc = sv_member_get(t, id, &m);
    }

    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_NOT_MEMBER;
    }

    sv_rules_reset(&m, r->password_hash);

    if (sv_member_rewrite(t, &m) != 0) {
        return SV_STORE_ERROR;
    }

    r->id = m.id;

    return sv_outbox_add(t, "member.password_changed", &m, r->now_ms);
}


static sv_store_rc_t
sv_token_delete_txn(sv_txn_t *t, void *arg)
{
    return sv_del(t, SV_DB_TOKENS, arg, SV_HASH_SIZE) == 0
           ? SV_STORE_OK : SV_STORE_ERROR;
}


/* the reset token, if valid, is used up in the same transaction */

static sv_store_rc_t
sv_token_take_txn(sv_txn_t *t, void *arg)
{
    sv_store_rc_t  rc;

    rc = sv_token_check_txn(t, arg);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    return sv_token_delete_txn(t, (void *) ((sv_token_arg_t *) arg)->token_hash);
}


static sv_store_rc_t
sv_lmdb_reset(sv_store_t *store, sv_reset_t *r, char *err, size_t errlen)
{
    sv_lmdb_t       *st = (sv_lmdb_t *) store;
    sv_store_rc_t    rc;
    sv_token_arg_t   a = { r->token_hash, r->phone, SV_PURPOSE_RESET,
                           r->now_ms, NULL };

    /*
     * The token is taken first, in one transaction: of resets racing with
     * one token, one wins.  Then the members' commit, synced, sets the new
     * hash and the epoch that ends every older session, at once.  A
     * failure or a crash between the two leaves the password as it was
     * and the token used: a new code is needed, nothing is half-done.
     */

    rc = sv_write(st, SV_ENV_CODES, 0, sv_token_take_txn, &a, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    return sv_write(st, SV_ENV_MEMBERS, st->outbox, sv_reset_txn, r, err,
                    errlen);
}


/* LMDB's readers never wait: see sv_lmdb_session_get(). */
static int
sv_lmdb_reads_wait_free(sv_store_t *store)
{
    (void) store;

    return 1;
}


/*
 * Stats: LMDB keeps each database's count of records, updated by every
 * write in its transaction; reading it reads no record.
 */

typedef struct {
    int                 db;
    uint64_t           *entries;
} sv_entries_arg_t;


static sv_store_rc_t
sv_entries_txn(sv_txn_t *t, void *arg)
{
    int                rc;
    MDB_stat           ms;
    sv_entries_arg_t  *a = arg;

    rc = mdb_stat(t->txn, t->st->dbi[a->db], &ms);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_stat", a->db, rc);
    }

    *a->entries = ms.ms_entries;

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_stats(sv_store_t *store, sv_store_stats_t *stats, char *err,
    size_t errlen)
{
    sv_lmdb_t         *st = (sv_lmdb_t *) store;
    sv_entries_arg_t   members = { SV_DB_MEMBERS, &stats->members };
    sv_entries_arg_t   codes = { SV_DB_CODES, &stats->codes_pending };

    if (sv_read(st, SV_ENV_MEMBERS, sv_entries_txn, &members, err, errlen)
        != SV_STORE_OK)
    {
        return SV_STORE_ERROR;
    }

    return sv_read(st, SV_ENV_CODES, sv_entries_txn, &codes, err, errlen);
}


/* Sweep. */

static int
sv_code_gone(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_code_rec_t  rec;

    if (sv_code_rec_decode(val->mv_data, val->mv_size, &rec) != 0) {
        return -1;
    }

    return sv_rules_code_gone(&rec, now_ms, grace_ms);
}


static int
sv_token_gone(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_token_rec_t  rec;

    (void) grace_ms;

    if (sv_token_rec_decode(val->mv_data, val->mv_size, &rec) != 0) {
        return -1;
    }

    return sv_rules_token_gone(&rec, now_ms);
}


static int
sv_send_gone(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_send_rec_t  rec;

    (void) grace_ms;

    if (sv_window_rec_decode(val->mv_data, val->mv_size, &rec) != 0) {
        return -1;
    }

    return sv_rules_window_gone(&rec, now_ms);
}


static int
sv_login_gone(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_login_rec_t  rec;

    (void) grace_ms;

    if (sv_window_rec_decode(val->mv_data, val->mv_size, &rec) != 0) {
        return -1;
    }

    return sv_rules_window_gone(&rec, now_ms);
}


static int
sv_day_gone(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_day_rec_t  rec;

    (void) grace_ms;

    if (sv_day_rec_decode(val->mv_data, val->mv_size, &rec) != 0) {
        return -1;
    }

    return sv_rules_day_gone(&rec, now_ms);
}


static int
sv_session_gone(const MDB_val *val, int64_t now_ms, int64_t grace_ms)
{
    sv_session_rec_t  rec;

    (void) grace_ms;

    if (sv_session_rec_decode(val->mv_data, val->mv_size, &rec) != 0) {
        return -1;
    }

    return sv_rules_session_ended(&rec, now_ms);
}


static sv_store_rc_t
sv_sweep_db(sv_txn_t *t, int db, sv_gone_pt gone, sv_sweep_arg_t *a)
{
    int          rc, expired;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(t->txn, t->st->dbi[db], &cur);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_cursor_open", db, rc);
    }

    while (a->left > 0
           && (rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == MDB_SUCCESS)
    {
        expired = gone(&val, a->now_ms, a->grace_ms);

        if (expired < 0) {
            mdb_cursor_close(cur);
            return sv_corrupt(t, db);
        }

        if (!expired) {
            continue;
        }

        /* the cursor moves to the next record; MDB_NEXT then returns it */

        t->wrote = 1;
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

    if (sv_sweep_db(t, SV_DB_CODES, sv_code_gone, a) != SV_STORE_OK
        || sv_sweep_db(t, SV_DB_TOKENS, sv_token_gone, a) != SV_STORE_OK
        || sv_sweep_db(t, SV_DB_SENDS, sv_send_gone, a) != SV_STORE_OK
        || sv_sweep_db(t, SV_DB_ADDRS, sv_send_gone, a) != SV_STORE_OK
        || sv_sweep_db(t, SV_DB_DAYS, sv_day_gone, a) != SV_STORE_OK
        || sv_sweep_db(t, SV_DB_SESSIONS, sv_session_gone, a) != SV_STORE_OK
        || sv_sweep_db(t, SV_DB_LOGINS, sv_login_gone, a) != SV_STORE_OK)
    {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_sweep(sv_store_t *store, int64_t now_ms, int64_t grace_ms,
    size_t max, char *err, size_t errlen)
{
    sv_sweep_arg_t  a = { now_ms, grace_ms, max };

    return sv_write((sv_lmdb_t *) store, SV_ENV_CODES, 0, sv_sweep_txn, &a,
                    err, errlen);
}


/* Admin. */

static sv_store_rc_t
sv_member_page_txn(sv_txn_t *t, void *arg)
{
    int                rc;
    uint8_t            key[SV_ID_SIZE];
    uint64_t           id;
    MDB_val            k, val;
    MDB_cursor        *cur;
    sv_member_info_t  *m;
    sv_member_page_t  *p = arg;

    if (p->after >= SV_STORE_ID_MAX) {
        return SV_STORE_OK;
    }

    rc = mdb_cursor_open(t->txn, t->st->dbi[SV_DB_MEMBERS], &cur);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_cursor_open", SV_DB_MEMBERS, rc);
    }

    sv_id_encode(p->after + 1, key);
    k.mv_data = key;
    k.mv_size = SV_ID_SIZE;

    rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE);

    while (rc == MDB_SUCCESS) {

        if (p->n == p->limit) {
            p->more = 1;
            break;
        }

        m = &p->members[p->n];

        if (sv_member_decode(val.mv_data, val.mv_size, m) != 0
            || sv_id_decode(k.mv_data, k.mv_size, &id) != 0 || m->id != id)
        {
            mdb_cursor_close(cur);
            return sv_corrupt(t, SV_DB_MEMBERS);
        }

        p->n++;
        rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT);
    }

    mdb_cursor_close(cur);

    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        return sv_fail(t, "mdb_cursor_get", SV_DB_MEMBERS, rc);
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_member_page(sv_store_t *store, sv_member_page_t *p, char *err,
    size_t errlen)
{
    return sv_read((sv_lmdb_t *) store, SV_ENV_MEMBERS, sv_member_page_txn,
                   p, err, errlen);
}


static sv_store_rc_t
sv_lmdb_member_get(sv_store_t *store, uint64_t id, sv_member_info_t *m,
    char *err, size_t errlen)
{
    sv_find_arg_t  a = { NULL, NULL, id, m };

    return sv_read((sv_lmdb_t *) store, SV_ENV_MEMBERS, sv_member_find_txn,
                   &a, err, errlen);
}


/* The key of db is deleted if it is still the member's. */
static int
sv_member_key_del(sv_txn_t *t, int db, const char *key, uint64_t id)
{
    int       rc;
    uint64_t  of;

    rc = sv_member_id(t, db, key, &of);

    if (rc <= 0 || of != id) {
        return rc < 0 ? -1 : 0;
    }

    return sv_del(t, db, key, strlen(key));
}


static sv_store_rc_t
sv_member_delete_txn(sv_txn_t *t, void *arg)
{
    int                  rc;
    char                 email_key[SV_STORE_EMAIL_MAX + 1];
    uint8_t              key[SV_ID_SIZE];
    sv_member_delete_t  *d = arg;

    rc = sv_member_get(t, d->id, &d->member);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_NOT_MEMBER;
    }

    sv_email_fold(d->member.email, strlen(d->member.email), email_key);
    sv_id_encode(d->id, key);

    /* the terms are in the member's record: they go with it */

    if (sv_del(t, SV_DB_MEMBERS, key, SV_ID_SIZE) != 0
        || sv_member_key_del(t, SV_DB_EMAILS, email_key, d->id) != 0
        || sv_member_key_del(t, SV_DB_PHONES, d->member.phone, d->id) != 0)
    {
        return SV_STORE_ERROR;
    }

    /* "next_id" is left as it is: the id is never drawn again */

    return sv_outbox_add(t, "member.deleted", &d->member, d->now_ms);
}


/* Every session of the member is deleted. */
static sv_store_rc_t
sv_member_sessions_end_txn(sv_txn_t *t, void *arg)
{
    int                rc;
    MDB_val            key, val;
    MDB_cursor        *cur;
    sv_session_rec_t   rec;
    const uint64_t    *id = arg;

    rc = mdb_cursor_open(t->txn, t->st->dbi[SV_DB_SESSIONS], &cur);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_cursor_open", SV_DB_SESSIONS, rc);
    }

    while ((rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == MDB_SUCCESS) {

        if (sv_session_rec_decode(val.mv_data, val.mv_size, &rec) != 0) {
            mdb_cursor_close(cur);
            return sv_corrupt(t, SV_DB_SESSIONS);
        }

        if (rec.member_id != *id) {
            continue;
        }

        t->wrote = 1;
        rc = mdb_cursor_del(cur, 0);
        if (rc != MDB_SUCCESS) {
            mdb_cursor_close(cur);
            return sv_fail(t, "mdb_cursor_del", SV_DB_SESSIONS, rc);
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        return sv_fail(t, "mdb_cursor_get", SV_DB_SESSIONS, rc);
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_member_delete(sv_store_t *store, sv_member_delete_t *d, char *err,
    size_t errlen)
{
    char            ignored[256];
    sv_lmdb_t      *st = (sv_lmdb_t *) store;
    sv_store_rc_t   rc;

    rc = sv_write(st, SV_ENV_MEMBERS, st->outbox, sv_member_delete_txn, d,
                  err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    /*
     * The member is gone, and with it every session of it: session_get
     * finds no member for them, and the id is never anyone's again.  The
     * records go too, so that nothing of the member is left; a failure
     * here leaves only records the sweep deletes as they end.
     */

    (void) sv_write(st, SV_ENV_CODES, 0, sv_member_sessions_end_txn, &d->id,
                    ignored, sizeof(ignored));

    return SV_STORE_OK;
}


typedef struct {
    sv_member_import_t *im;
    sv_store_rc_t       verdict;        /* a TAKEN, which aborts */
} sv_import_arg_t;


/* One member of the import: TAKEN, or put with its keys. */
static sv_store_rc_t
sv_import_one(sv_txn_t *t, const sv_member_info_t *m)
{
    int               rc;
    char             *text, email_key[SV_STORE_EMAIL_MAX + 1];
    size_t            len;
    uint8_t           key[SV_ID_SIZE];
    MDB_val           val;
    sv_member_info_t  rec;

    sv_id_encode(m->id, key);
    sv_email_fold(m->email, strlen(m->email), email_key);

    rc = sv_get(t, SV_DB_MEMBERS, key, SV_ID_SIZE, &val);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_ID_TAKEN;
    }

    rc = sv_get(t, SV_DB_EMAILS, email_key, strlen(email_key), &val);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_EMAIL_TAKEN;
    }

    rc = sv_phone_taken(t, m->phone);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_PHONE_TAKEN;
    }

    rec = *m;
    rec.epoch = 0;

    text = sv_member_info_encode(&rec, &len);
    if (text == NULL) {
        snprintf(t->err, t->errlen, "cannot build the member JSON");
        return SV_STORE_ERROR;
    }

    rc = sv_put(t, SV_DB_MEMBERS, key, SV_ID_SIZE, text, len,
                MDB_NOOVERWRITE);
    free(text);

    if (rc != 0
        || sv_put(t, SV_DB_EMAILS, email_key, strlen(email_key), key,
                  SV_ID_SIZE, MDB_NOOVERWRITE) != 0
        || sv_put(t, SV_DB_PHONES, m->phone, strlen(m->phone), key,
                  SV_ID_SIZE, MDB_NOOVERWRITE) != 0)
    {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_member_import_txn(sv_txn_t *t, void *arg)
{
    size_t               i;
    uint64_t             next;
    uint8_t              val[SV_ID_SIZE];
    sv_store_rc_t        rc;
    sv_import_arg_t     *a = arg;
    sv_member_import_t  *im = a->im;

    if (sv_next_id(t, &next) != 0) {
        return SV_STORE_ERROR;
    }

    for (i = 0; i < im->n; i++) {
        rc = sv_import_one(t, &im->members[i]);

        if (rc == SV_STORE_ERROR) {
            return rc;
        }

        if (rc != SV_STORE_OK) {

            /* an error to sv_write(), that aborts: all or none */

            a->verdict = rc;
            im->bad = i;
            snprintf(t->err, t->errlen, "member %zu of the import is taken",
                     i + 1);
            return SV_STORE_ERROR;
        }

        if (im->members[i].id >= next) {
            next = im->members[i].id + 1;
        }
    }

    sv_id_encode(next, val);

    if (sv_put(t, SV_DB_META, "next_id", 7, val, SV_ID_SIZE, 0) != 0) {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_member_import(sv_store_t *store, sv_member_import_t *im, char *err,
    size_t errlen)
{
    sv_store_rc_t    rc;
    sv_import_arg_t  a = { im, SV_STORE_OK };

    rc = sv_write((sv_lmdb_t *) store, SV_ENV_MEMBERS, 1,
                  sv_member_import_txn, &a, err, errlen);

    return a.verdict != SV_STORE_OK ? a.verdict : rc;
}


static sv_store_rc_t
sv_limits_clear_txn(sv_txn_t *t, void *arg)
{
    const char  *phone = arg;

    if (sv_del(t, SV_DB_CODES, phone, strlen(phone)) != 0
        || sv_del(t, SV_DB_SENDS, phone, strlen(phone)) != 0)
    {
        return SV_STORE_ERROR;
    }

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_limits_clear(sv_store_t *store, const char *phone, char *err,
    size_t errlen)
{
    return sv_write((sv_lmdb_t *) store, SV_ENV_CODES, 0, sv_limits_clear_txn,
                    (void *) phone, err, errlen);
}


/*
 * The webhook outbox, in the members' part.  Events are keyed by their
 * id in the order they were made; one lease (meta "outbox_lease") names
 * the event being delivered, so that one delivery at a time runs for the
 * whole store and the events go out in order.
 */

static sv_store_rc_t
sv_outbox_put(sv_txn_t *t, uint64_t id, const sv_outbox_event_t *ev)
{
    int       rc;
    size_t    len;
    uint8_t   key[SV_ID_SIZE];
    uint8_t  *rec;

    rec = malloc(SV_OUTBOX_REC_MAX);
    if (rec == NULL) {
        snprintf(t->err, t->errlen, "out of memory");
        return SV_STORE_ERROR;
    }

    len = sv_outbox_rec_encode(ev, rec);

    if (len == 0) {
        free(rec);
        snprintf(t->err, t->errlen, "cannot encode the webhook event");
        return SV_STORE_ERROR;
    }

    sv_id_encode(id, key);
    rc = sv_put(t, SV_DB_OUTBOX, key, SV_ID_SIZE, rec, len, 0);
    free(rec);

    return rc == 0 ? SV_STORE_OK : SV_STORE_ERROR;
}


/*
 * An event of the change being written in t, if webhooks are on: for a
 * member deletion too, given the member as it was (call it in the
 * deletion's members' transaction).
 */
static sv_store_rc_t
sv_outbox_add(sv_txn_t *t, const char *type, const sv_member_info_t *m,
    int64_t now_ms)
{
    int                 rc;
    uint64_t            id;
    MDB_val             val;
    uint8_t             next[SV_ID_SIZE];
    sv_store_rc_t       src;
    sv_outbox_event_t  *ev;

    if (!t->st->outbox) {
        return SV_STORE_OK;
    }

    rc = sv_get(t, SV_DB_META, "next_event", 10, &val);
    if (rc < 0) {
        return SV_STORE_ERROR;
    }

    id = 1;

    if (rc == 1 && (sv_id_decode(val.mv_data, val.mv_size, &id) != 0
                    || id == 0))
    {
        return sv_corrupt(t, SV_DB_META);
    }

    ev = calloc(1, sizeof(sv_outbox_event_t));
    if (ev == NULL) {
        snprintf(t->err, t->errlen, "out of memory");
        return SV_STORE_ERROR;
    }

    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->created_ms = now_ms;
    ev->next_ms = now_ms;
    ev->len = sv_webhook_body(type, now_ms, m, ev->body);

    if (ev->len == 0 || sv_webhook_msg_id(ev->msg_id) != 0) {
        free(ev);
        snprintf(t->err, t->errlen, "cannot make the webhook event");
        return SV_STORE_ERROR;
    }

    src = sv_outbox_put(t, id, ev);
    free(ev);

    if (src != SV_STORE_OK) {
        return src;
    }

    sv_id_encode(id + 1, next);

    return sv_put(t, SV_DB_META, "next_event", 10, next, SV_ID_SIZE, 0) == 0
           ? SV_STORE_OK : SV_STORE_ERROR;
}


/*
 * 0 if no process pid runs on this host any more: gone, or a zombie (a
 * killed worker whose master was killed too waits for a reaper that may
 * be slow to come).
 */
static int
sv_pid_alive(uint32_t pid)
{
    int    n;
    char   path[64], buf[256], *p;
    FILE  *f;

    if (kill((pid_t) pid, 0) == -1 && errno == ESRCH) {
        return 0;
    }

    snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned) pid);

    f = fopen(path, "r");
    if (f == NULL) {
        return 1;               /* no /proc: alive as far as we know */
    }

    n = (int) fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);

    buf[n > 0 ? n : 0] = '\0';

    /* "pid (comm) S ...": the state after the last ")" */
    p = strrchr(buf, ')');

    return !(p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}


/* The lease in force: 1 (in rec), 0 if none, -1 on error. */
static int
sv_lease_get(sv_txn_t *t, int64_t now_ms, sv_lease_rec_t *rec)
{
    int      rc;
    MDB_val  val;

    rc = sv_get(t, SV_DB_META, "outbox_lease", 12, &val);
    if (rc <= 0) {
        return rc;
    }

    if (sv_lease_rec_decode(val.mv_data, val.mv_size, rec) != 0) {
        sv_corrupt(t, SV_DB_META);
        return -1;
    }

    if (rec->until_ms <= now_ms) {
        return 0;
    }

    /* a taker killed on this host leaves its lease to nobody */
    if (rec->pid != 0 && !sv_pid_alive(rec->pid)) {
        return 0;
    }

    return 1;
}


/* The lease ends if it is still the one of ev. */
static sv_store_rc_t
sv_lease_end(sv_txn_t *t, const sv_outbox_event_t *ev)
{
    int             rc;
    MDB_val         val;
    sv_lease_rec_t  rec;

    rc = sv_get(t, SV_DB_META, "outbox_lease", 12, &val);
    if (rc <= 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_OK;
    }

    if (sv_lease_rec_decode(val.mv_data, val.mv_size, &rec) == 0
        && (rec.id != ev->id || rec.until_ms != ev->lease_ms))
    {
        return SV_STORE_OK;
    }

    return sv_del(t, SV_DB_META, "outbox_lease", 12) == 0
           ? SV_STORE_OK : SV_STORE_ERROR;
}


typedef struct {
    int64_t             now_ms;
    int64_t             lease_ms;
    int                 take;           /* 0: only look */
    sv_outbox_event_t  *ev;
} sv_take_arg_t;


static sv_store_rc_t
sv_outbox_take_txn(sv_txn_t *t, void *arg)
{
    int              rc;
    uint8_t          rec[SV_LEASE_REC_SIZE];
    MDB_val          key, val;
    MDB_cursor      *cur;
    sv_take_arg_t   *a = arg;
    sv_lease_rec_t   lease;

    a->ev->found = 0;

    rc = sv_lease_get(t, a->now_ms, &lease);
    if (rc != 0) {
        return rc < 0 ? SV_STORE_ERROR : SV_STORE_OK;
    }

    rc = mdb_cursor_open(t->txn, t->st->dbi[SV_DB_OUTBOX], &cur);
    if (rc != MDB_SUCCESS) {
        return sv_fail(t, "mdb_cursor_open", SV_DB_OUTBOX, rc);
    }

    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
         rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT))
    {
        if (sv_id_decode(key.mv_data, key.mv_size, &a->ev->id) != 0
            || sv_outbox_rec_decode(val.mv_data, val.mv_size, a->ev) != 0)
        {
            mdb_cursor_close(cur);
            return sv_corrupt(t, SV_DB_OUTBOX);
        }

        if (a->ev->next_ms <= a->now_ms) {
            a->ev->found = 1;
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
        return sv_fail(t, "mdb_cursor_get", SV_DB_OUTBOX, rc);
    }

    if (!a->ev->found || !a->take) {
        return SV_STORE_OK;
    }

    lease.id = a->ev->id;
    lease.until_ms = a->now_ms + a->lease_ms;
    lease.pid = (uint32_t) getpid();
    sv_lease_rec_encode(&lease, rec);

    a->ev->lease_ms = lease.until_ms;

    return sv_put(t, SV_DB_META, "outbox_lease", 12, rec, SV_LEASE_REC_SIZE, 0)
           == 0 ? SV_STORE_OK : SV_STORE_ERROR;
}


static sv_store_rc_t
sv_lmdb_outbox_take(sv_store_t *store, int64_t now_ms, int64_t lease_ms,
    sv_outbox_event_t *ev, char *err, size_t errlen)
{
    sv_lmdb_t      *st = (sv_lmdb_t *) store;
    sv_take_arg_t   a = { now_ms, lease_ms, 0, ev };
    sv_store_rc_t   rc;

    /* a look first: the writers' lock (and a sync) only for a delivery */

    rc = sv_read(st, SV_ENV_MEMBERS, sv_outbox_take_txn, &a, err, errlen);
    if (rc != SV_STORE_OK || !ev->found) {
        return rc;
    }

    a.take = 1;

    return sv_write(st, SV_ENV_MEMBERS, 0, sv_outbox_take_txn, &a, err,
                    errlen);
}


static sv_store_rc_t
sv_outbox_done_txn(sv_txn_t *t, void *arg)
{
    uint8_t             key[SV_ID_SIZE];
    sv_outbox_event_t  *ev = arg;

    sv_id_encode(ev->id, key);

    if (sv_del(t, SV_DB_OUTBOX, key, SV_ID_SIZE) != 0) {
        return SV_STORE_ERROR;
    }

    return sv_lease_end(t, ev);
}


static sv_store_rc_t
sv_lmdb_outbox_done(sv_store_t *store, const sv_outbox_event_t *ev,
    char *err, size_t errlen)
{
    return sv_write((sv_lmdb_t *) store, SV_ENV_MEMBERS, 0,
                    sv_outbox_done_txn, (void *) ev, err, errlen);
}


typedef struct {
    sv_outbox_event_t  *ev;
    int64_t             now_ms;
} sv_failed_arg_t;


static sv_store_rc_t
sv_outbox_failed_txn(sv_txn_t *t, void *arg)
{
    int                 rc;
    int64_t             next;
    MDB_val             val;
    uint8_t             key[SV_ID_SIZE];
    sv_failed_arg_t    *a = arg;
    sv_outbox_event_t  *ev;

    ev = malloc(sizeof(sv_outbox_event_t));
    if (ev == NULL) {
        snprintf(t->err, t->errlen, "out of memory");
        return SV_STORE_ERROR;
    }

    sv_id_encode(a->ev->id, key);

    rc = sv_get(t, SV_DB_OUTBOX, key, SV_ID_SIZE, &val);

    if (rc == 1 && sv_outbox_rec_decode(val.mv_data, val.mv_size, ev) != 0) {
        sv_corrupt(t, SV_DB_OUTBOX);
        rc = -1;
    }

    if (rc == 1) {
        ev->attempts++;
        next = sv_rules_outbox_retry_at(ev->created_ms, ev->attempts,
                                        a->now_ms);

        a->ev->attempts = ev->attempts;
        a->ev->next_ms = next;

        if (next < 0) {
            a->ev->dropped = 1;
            rc = sv_del(t, SV_DB_OUTBOX, key, SV_ID_SIZE);

        } else {
            ev->next_ms = next;
            rc = sv_outbox_put(t, a->ev->id, ev) == SV_STORE_OK ? 0 : -1;
        }
    }

    free(ev);

    if (rc < 0) {
        return SV_STORE_ERROR;
    }

    return sv_lease_end(t, a->ev);
}


static sv_store_rc_t
sv_lmdb_outbox_failed(sv_store_t *store, sv_outbox_event_t *ev,
    int64_t now_ms, char *err, size_t errlen)
{
    sv_failed_arg_t  a = { ev, now_ms };

    return sv_write((sv_lmdb_t *) store, SV_ENV_MEMBERS, 0,
                    sv_outbox_failed_txn, &a, err, errlen);
}


static sv_store_rc_t
sv_lmdb_outbox_backlog(sv_store_t *store, uint64_t *n, char *err,
    size_t errlen)
{
    sv_entries_arg_t  a = { SV_DB_OUTBOX, n };

    return sv_read((sv_lmdb_t *) store, SV_ENV_MEMBERS, sv_entries_txn, &a,
                   err, errlen);
}


/* Batches: the codes' part, where the hot calls write. */

static sv_store_rc_t
sv_lmdb_batch_begin(sv_store_t *store, char *err, size_t errlen)
{
    sv_lmdb_t  *st = (sv_lmdb_t *) store;

    if (sv_batch.st != NULL) {
        snprintf(err, errlen, "a batch is running in this thread already");
        return SV_STORE_ERROR;
    }

    sv_batch.parent.st = st;
    sv_batch.parent.e = &st->envs[SV_ENV_CODES];
    sv_batch.parent.txn = NULL;
    sv_batch.parent.err = err;
    sv_batch.parent.errlen = errlen;
    sv_batch.parent.mdb_rc = 0;
    sv_batch.broken = 0;

    if (sv_txn_begin(&sv_batch.parent, 0) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    sv_batch.st = st;

    return SV_STORE_OK;
}


static sv_store_rc_t
sv_lmdb_batch_end(sv_store_t *store, int commit, char *err, size_t errlen)
{
    sv_store_rc_t  rc;

    if (sv_batch.st != (sv_lmdb_t *) store) {
        snprintf(err, errlen, "no batch is running in this thread");
        return SV_STORE_ERROR;
    }

    sv_batch.st = NULL;
    sv_batch.parent.err = err;
    sv_batch.parent.errlen = errlen;

    if (!commit || sv_batch.broken) {
        sv_txn_abort(&sv_batch.parent);

        if (commit) {
            snprintf(err, errlen, "a call of the batch failed after a write");
            return SV_STORE_ERROR;
        }

        return SV_STORE_OK;
    }

    rc = sv_txn_commit(&sv_batch.parent);

    return (rc != SV_STORE_OK && sv_batch.parent.mdb_rc == MDB_MAP_FULL)
           ? SV_STORE_FULL : rc;
}


static const sv_store_ops_t  sv_lmdb_ops = {
    "lmdb",
    sv_lmdb_close,
    sv_lmdb_sync,
    sv_lmdb_reader_check,
    sv_lmdb_send_begin,
    sv_lmdb_send_abort,
    sv_lmdb_code_put,
    sv_lmdb_confirm,
    sv_lmdb_token_check,
    sv_lmdb_token_phone,
    sv_lmdb_signup_check,
    sv_lmdb_signup,
    sv_lmdb_login_allowed,
    sv_lmdb_login_failed,
    sv_lmdb_member_find,
    sv_lmdb_member_rehash,
    sv_lmdb_session_start,
    sv_lmdb_session_get,
    sv_lmdb_session_touch,
    sv_lmdb_session_end,
    sv_lmdb_reset_check,
    sv_lmdb_reset,
    sv_lmdb_reads_wait_free,
    sv_lmdb_stats,
    sv_lmdb_sweep,
    sv_lmdb_member_page,
    sv_lmdb_member_get,
    sv_lmdb_member_delete,
    sv_lmdb_member_import,
    sv_lmdb_limits_clear,

    /* outbox */
    sv_lmdb_outbox_take,
    sv_lmdb_outbox_done,
    sv_lmdb_outbox_failed,
    sv_lmdb_outbox_backlog,

    /* batches */
    sv_lmdb_batch_begin,
    sv_lmdb_batch_end,
    NULL,                               /* confirm_batch: in the txn */
    NULL,                               /* send_batch: in the txn */
    NULL,                               /* abort_batch: in the txn */
    NULL,                               /* code_batch: in the txn */
    NULL,                               /* session_batch: in the txn */

    /* reads for the event loop */
    sv_lmdb_confirm_read,
    sv_lmdb_send_read
};


sv_store_rc_t
sv_store_lmdb_open(sv_store_t **stp, const sv_store_conf_t *conf, char *err,
    size_t errlen)
{
    int         env;
    sv_txn_t    t;
    sv_lmdb_t  *st;

    if (sv_old_layout(conf, err, errlen) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    st = calloc(1, sizeof(sv_lmdb_t));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_STORE_ERROR;
    }

    st->store.ops = &sv_lmdb_ops;
    st->outbox = conf->outbox;

    t.st = st;
    t.txn = NULL;
    t.err = err;
    t.errlen = errlen;

    for (env = 0; env < SV_ENV_N; env++) {
        t.e = &st->envs[env];

        if (pthread_rwlock_init(&t.e->resize_lock, NULL) != 0) {
            snprintf(err, errlen, "pthread_rwlock_init() failed");
            sv_lmdb_close(&st->store);
            return SV_STORE_ERROR;
        }

        if (pthread_mutex_init(&t.e->kept_lock, NULL) != 0) {
            pthread_rwlock_destroy(&t.e->resize_lock);
            snprintf(err, errlen, "pthread_mutex_init() failed");
            sv_lmdb_close(&st->store);
            return SV_STORE_ERROR;
        }

        t.e->lock_ready = 1;

        if (sv_env_open(st, env, conf, &t) != SV_STORE_OK
            || sv_write(st, env, 0, sv_dbs_open, NULL, err, errlen)
               != SV_STORE_OK)
        {
            sv_lmdb_close(&st->store);
            return SV_STORE_ERROR;
        }
    }

    *stp = &st->store;

    return SV_STORE_OK;
}
