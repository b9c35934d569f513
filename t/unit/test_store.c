/*
 * sv_store on real LMDB files: a fresh directory under /tmp per test.
 *
 * Built with SV_TEST_PG (test_store_on_pg), the same file runs the cases
 * that do not look at LMDB's files against the PostgreSQL store of
 * TEST_NGINX_PG_URI (make unit starts one with t/pg/pg.sh), the schema
 * smsverify dropped before each test; raw_entries() then counts a
 * table's rows.  Without the URI every test is skipped, saying so.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <lmdb.h>

#include "sv_admin.h"
#include "sv_password.h"
#include "sv_store.h"

#ifdef SV_TEST_PG
#include <libpq-fe.h>

/* the LMDB-only cases and their helpers are not run */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif


#define T0          1700000000000LL        /* a wall clock in ms */
#define SEC         1000LL
#define MIN         (60 * SEC)
#define HOUR        (60 * MIN)

#define PHONE_A     "+821012345678"
#define PHONE_B     "+821087654321"
#define PHONE_C     "+14155550123"

#define MAP_SIZE    (8 * 1024 * 1024)


/* for a child process that is a fresh program, not a fork of this one */
static const char  *argv0;


typedef struct {
    char         dir[64];
    sv_store_t  *st;
    char         err[256];
} fx_t;


/*
 * The syncs LMDB asks for, by environment: defined here, these take the
 * place of libc's for liblmdb too (the executable's symbols come first).
 */

static unsigned  syncs_members, syncs_codes;


static void
count_sync(int fd)
{
    char     link[64], path[512];
    ssize_t  n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);

    if (n <= 0) {
        return;
    }

    path[n] = '\0';

    if (strstr(path, "/" SV_STORE_MEMBERS_DIR "/") != NULL) {
        syncs_members++;

    } else if (strstr(path, "/" SV_STORE_CODES_DIR "/") != NULL) {
        syncs_codes++;
    }
}


int
fdatasync(int fd)
{
    count_sync(fd);
    return (int) syscall(SYS_fdatasync, fd);
}


int
fsync(int fd)
{
    count_sync(fd);
    return (int) syscall(SYS_fsync, fd);
}


/*
 * liblmdb's mdb_put, but the puts_to_fail-th call from when it is set
 * fails, once, as a put that finds no room would: a call that fails
 * after it wrote.
 */

static unsigned  puts_to_fail;


int
mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data,
    unsigned int flags)
{
    static int (*real)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *,
                       unsigned int);

    if (real == NULL) {
        *(void **) &real = dlsym(RTLD_NEXT, "mdb_put");
    }

    if (puts_to_fail > 0 && --puts_to_fail == 0) {
        return MDB_TXN_FULL;
    }

    return real(txn, dbi, key, data, flags);
}


/*
 * liblmdb's record reads, counted while counting_reads is set: a cursor
 * opened or a record got.
 */

static int       counting_reads;
static unsigned  record_reads;


int
mdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data)
{
    static int (*real)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *);

    if (real == NULL) {
        *(void **) &real = dlsym(RTLD_NEXT, "mdb_get");
    }

    record_reads += counting_reads;

    return real(txn, dbi, key, data);
}


int
mdb_cursor_open(MDB_txn *txn, MDB_dbi dbi, MDB_cursor **cursor)
{
    static int (*real)(MDB_txn *, MDB_dbi, MDB_cursor **);

    if (real == NULL) {
        *(void **) &real = dlsym(RTLD_NEXT, "mdb_cursor_open");
    }

    record_reads += counting_reads;

    return real(txn, dbi, cursor);
}


/* read txns begun (not renewed) */

static unsigned  read_begins;


int
mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags,
    MDB_txn **txn)
{
    static int (*real)(MDB_env *, MDB_txn *, unsigned int, MDB_txn **);

    if (real == NULL) {
        *(void **) &real = dlsym(RTLD_NEXT, "mdb_txn_begin");
    }

    read_begins += (flags & MDB_RDONLY) != 0;

    return real(env, parent, flags, txn);
}


/* posix_fallocate(), refused with ENOSPC while fallocate_fails is set */

static int  fallocate_fails;


int
posix_fallocate(int fd, off_t offset, off_t len)
{
    static int (*real)(int, off_t, off_t);

    if (real == NULL) {
        *(void **) &real = dlsym(RTLD_NEXT, "posix_fallocate");
    }

    if (fallocate_fails) {
        return ENOSPC;
    }

    return real(fd, offset, len);
}


/* PostgreSQL, for test_store_on_pg. */

#ifdef SV_TEST_PG

static const char  *pg_uri;


static PGresult *
pg_admin(const char *sql)
{
    PGconn    *conn;
    PGresult  *res;

    conn = PQconnectdb(pg_uri);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);

    res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK
        && PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    }

    PQfinish(conn);

    return res;
}


static void
pg_fresh(void)
{
    PQclear(pg_admin("SET client_min_messages = warning;"
                     " DROP SCHEMA IF EXISTS smsverify CASCADE"));
}


/* LMDB's databases as the tables that hold the same records */
static size_t
pg_entries(const char *db)
{
    size_t             i, n;
    char               sql[128];
    PGresult          *res;
    static const char *map[][2] = {
        { "codes", "codes" }, { "sends", "sends" }, { "tokens", "tokens" },
        { "sessions", "sessions" }, { "logins", "login_failures" },
        { "addrs", "address_sends" }, { "days", "daily_sms" },
        { "members", "members" }, { "emails", "members" },
        { "phones", "members" }
    };

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i][0], db) == 0) {
            break;
        }
    }

    assert_true(i < sizeof(map) / sizeof(map[0]));

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM smsverify.%s",
             map[i][1]);

    res = pg_admin(sql);
    n = (size_t) strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    return n;
}

#endif


/* Fixture. */

static void
fx_open(fx_t *f, size_t map_size, int nosync)
{
    sv_store_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
#ifdef SV_TEST_PG
    conf.uri = pg_uri;
#endif
    conf.dir = f->dir;
    conf.map_size = map_size;
    conf.nosync = nosync;
    conf.max_readers = 64;

    f->err[0] = '\0';
    assert_int_equal(sv_store_open(&f->st, &conf, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_non_null(f->st);
}


static void
fx_close(fx_t *f)
{
    sv_store_close(f->st);
    f->st = NULL;
}


static int
setup(void **state)
{
    fx_t  *f;

    f = calloc(1, sizeof(fx_t));
    if (f == NULL) {
        return -1;
    }

    strcpy(f->dir, "/tmp/sv_store_test_XXXXXX");

    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }

#ifdef SV_TEST_PG
    pg_fresh();
#endif

    fx_open(f, MAP_SIZE, 1);
    *state = f;

    return 0;
}


static void
remove_dir(const char *dir)
{
    DIR            *d;
    char            path[512];
    struct dirent  *de;

    d = opendir(dir);

    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            {
                continue;
            }

            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);

            if (unlink(path) != 0) {
                remove_dir(path);
            }
        }

        closedir(d);
    }

    rmdir(dir);
}


static int
teardown(void **state)
{
    fx_t  *f = *state;

    fx_close(f);
    remove_dir(f->dir);
    free(f);

    return 0;
}


/*
 * Raw LMDB, for what the store does not show; the store must be closed.
 * Each database lives in one of the store's two environments.
 */

static void
raw_env_dir(const char *dir, const char *db, char *path, size_t size)
{
    int  codes;

    codes = strcmp(db, "codes") == 0 || strcmp(db, "sends") == 0
            || strcmp(db, "tokens") == 0 || strcmp(db, "sessions") == 0
            || strcmp(db, "logins") == 0 || strcmp(db, "addrs") == 0
            || strcmp(db, "days") == 0;

    snprintf(path, size, "%s/%s", dir,
             codes ? SV_STORE_CODES_DIR : SV_STORE_MEMBERS_DIR);
}


static MDB_env *
raw_open(const char *dir, const char *db)
{
    char      path[256];
    MDB_env  *env;

    raw_env_dir(dir, db, path, sizeof(path));

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 10), 0);
    assert_int_equal(mdb_env_open(env, path, MDB_NOTLS, 0600), 0);

    return env;
}


static MDB_dbi
raw_dbi(MDB_txn *txn, const char *db)
{
    MDB_dbi  dbi;

    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);

    return dbi;
}


static void
raw_put(const char *dir, const char *db, const void *key, size_t klen,
    const void *data, size_t dlen)
{
    MDB_env  *env;
    MDB_txn  *txn;
    MDB_val   k, v;

    env = raw_open(dir, db);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);

    k.mv_data = (void *) key;
    k.mv_size = klen;
    v.mv_data = (void *) data;
    v.mv_size = dlen;

    assert_int_equal(mdb_put(txn, raw_dbi(txn, db), &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}


/* Copies a value out into buf (NUL-terminated); -1 if there is none. */
static int
raw_get(const char *dir, const char *db, const void *key, size_t klen,
    char *buf, size_t size)
{
    int       rc;
    MDB_env  *env;
    MDB_txn  *txn;
    MDB_val   k, v;

    env = raw_open(dir, db);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);

    k.mv_data = (void *) key;
    k.mv_size = klen;

    rc = mdb_get(txn, raw_dbi(txn, db), &k, &v);

    if (rc == 0) {
        assert_true(v.mv_size < size);
        memcpy(buf, v.mv_data, v.mv_size);
        buf[v.mv_size] = '\0';
    }

    mdb_txn_abort(txn);
    mdb_env_close(env);

    return rc == 0 ? (int) v.mv_size : -1;
}


static size_t
raw_entries(const char *dir, const char *db)
{
#ifndef SV_TEST_PG
    MDB_env   *env;
    MDB_txn   *txn;
    MDB_stat   ms;
#endif

#ifdef SV_TEST_PG
    (void) dir;

    return pg_entries(db);
#else
    env = raw_open(dir, db);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, raw_dbi(txn, db), &ms), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);

    return ms.ms_entries;
#endif
}


static void
id_key(uint64_t id, uint8_t *key)
{
    int  i;

    for (i = 0; i < 8; i++) {
        key[i] = (uint8_t) (id >> (8 * (7 - i)));
    }
}


/* Store helpers. */

static void
hash_of(uint8_t *h, int v)
{
    memset(h, v, SV_HASH_SIZE);
}


/* The tokens confirm draws: the hash is given, each draw counted. */

typedef struct {
    const uint8_t  *hash;
    unsigned        drawn;
    int             fail;           /* as if no random bytes */
} token_src_t;


static int
token_new(void *data, uint8_t *token_hash)
{
    token_src_t  *src = data;

    if (src->fail) {
        return -1;
    }

    memcpy(token_hash, src->hash, SV_HASH_SIZE);
    src->drawn++;

    return 0;
}


static unsigned  tokens_drawn;


static sv_store_rc_t
send_at(fx_t *f, const char *phone, int64_t now, int64_t resend,
    unsigned limit, int64_t window, int64_t *retry)
{
    sv_send_t      s;
    sv_store_rc_t  rc;

    memset(&s, 0, sizeof(s));
    s.phone = phone;
    s.now_ms = now;
    s.resend_ms = resend;
    s.limit = limit;
    s.window_ms = window;
    s.retry_after_ms = -1;

    rc = sv_store_send_begin(f->st, &s, f->err, sizeof(f->err));

    if (retry != NULL) {
        *retry = s.retry_after_ms;
    }

    return rc;
}


/* The API's defaults: 30s between sends, 5 sends an hour. */
static sv_store_rc_t
send_default(fx_t *f, const char *phone, int64_t now, int64_t *retry)
{
    return send_at(f, phone, now, 30 * SEC, 5, HOUR, retry);
}


/* A send of the phone alone, counted at stamp, is taken back. */
static sv_store_rc_t
abort_at(fx_t *f, const char *phone, int64_t stamp)
{
    sv_send_t  s;

    memset(&s, 0, sizeof(s));
    s.phone = phone;
    s.now_ms = stamp;

    return sv_store_send_abort(f->st, &s, f->err, sizeof(f->err));
}


static void
put_code(fx_t *f, const char *phone, int h, int64_t expires, unsigned n)
{
    uint8_t  hash[SV_HASH_SIZE];

    hash_of(hash, h);
    assert_int_equal(sv_store_code_put(f->st, phone, hash, expires, n,
                                       SV_PURPOSE_SIGNUP, f->err,
                                       sizeof(f->err)),
                     SV_STORE_OK);
}


/* Counts the tokens drawn in tokens_drawn. */
static sv_store_rc_t
confirm(fx_t *f, const char *phone, int guess, int64_t now, int token,
    int64_t token_expires, unsigned *left)
{
    uint8_t        ghash[SV_HASH_SIZE], thash[SV_HASH_SIZE];
    token_src_t    src = { thash, 0, 0 };
    sv_confirm_t   c;
    sv_store_rc_t  rc;

    hash_of(ghash, guess);
    hash_of(thash, token);

    c.phone = phone;
    c.guess_hash = ghash;
    c.now_ms = now;
    c.token_new = token_new;
    c.token_data = &src;
    c.token_expires_ms = token_expires;
    c.attempts_left = 12345;

    rc = sv_store_confirm(f->st, &c, f->err, sizeof(f->err));
    tokens_drawn += src.drawn;

    if (left != NULL) {
        *left = c.attempts_left;
    }

    return rc;
}


/* A code sent and confirmed: token hash byte 'token' proves the phone. */
static void
verify(fx_t *f, const char *phone, int token, int64_t now)
{
    put_code(f, phone, 0x42, now + 3 * MIN, 5);
    assert_int_equal(confirm(f, phone, 0x42, now, token, now + 30 * MIN,
                             NULL),
                     SV_STORE_OK);
}


static sv_store_rc_t
token_check(fx_t *f, int token, const char *phone, int64_t now)
{
    uint8_t  thash[SV_HASH_SIZE];

    hash_of(thash, token);

    return sv_store_token_check(f->st, thash, phone, SV_PURPOSE_SIGNUP, now,
                                f->err, sizeof(f->err));
}


static sv_store_rc_t
signup(fx_t *f, const char *email, const char *phone, int token,
    int64_t now, uint64_t *id)
{
    static const int  terms[] = { 1, 2 };
    char              key[128];
    size_t            i;
    uint8_t           thash[SV_HASH_SIZE];
    sv_member_t       m;
    sv_store_rc_t     rc;

    for (i = 0; email[i] && i < sizeof(key) - 1; i++) {
        key[i] = (email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32
                                                      : email[i];
    }

    key[i] = '\0';
    hash_of(thash, token);

    memset(&m, 0, sizeof(m));
    m.email = email;
    m.email_key = key;
    m.phone = phone;
    m.nickname = "\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99";   /* Hong Gildong */
    m.password_hash = "$2b$12$abcdefghijklmnopqrstuu"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ012";
    m.terms = terms;
    m.nterms = 2;
    m.now_ms = now;
    m.token_hash = thash;

    rc = sv_store_signup(f->st, &m, f->err, sizeof(f->err));

    if (id != NULL) {
        *id = m.id;
    }

    return rc;
}


/* The check before the hash, for the same member as signup() makes. */
static sv_store_rc_t
signup_check(fx_t *f, const char *email, const char *phone, int token,
    int64_t now)
{
    uint8_t       thash[SV_HASH_SIZE];
    sv_member_t   m;

    hash_of(thash, token);

    memset(&m, 0, sizeof(m));
    m.email = email;
    m.email_key = email;
    m.phone = phone;
    m.now_ms = now;
    m.token_hash = thash;

    return sv_store_signup_check(f->st, &m, f->err, sizeof(f->err));
}


/* Accounts. */

#define WEEK        (7 * 24 * HOUR)
#define DAY         (24 * HOUR)
#define NEW_HASH    "$2b$10$ABCDEFGHIJKLMNOPQRSTUUabcdefghijklmnopqrstuvwxyz012"


static sv_store_rc_t
send_for(fx_t *f, const char *phone, sv_purpose_t purpose, int64_t now)
{
    sv_send_t  s;

    memset(&s, 0, sizeof(s));
    s.phone = phone;
    s.purpose = purpose;
    s.now_ms = now;
    s.resend_ms = 30 * SEC;
    s.limit = 5;
    s.window_ms = HOUR;

    return sv_store_send_begin(f->st, &s, f->err, sizeof(f->err));
}


/* A code of this purpose put and confirmed; c.purpose in *got. */
static sv_store_rc_t
verify_for(fx_t *f, const char *phone, sv_purpose_t purpose, int token,
    int64_t now, sv_purpose_t *got)
{
    uint8_t        ghash[SV_HASH_SIZE], thash[SV_HASH_SIZE];
    token_src_t    src = { thash, 0, 0 };
    sv_confirm_t   c;
    sv_store_rc_t  rc;

    hash_of(ghash, 0x42);
    hash_of(thash, token);
    assert_int_equal(sv_store_code_put(f->st, phone, ghash, now + 3 * MIN, 5,
                                       purpose, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    memset(&c, 0, sizeof(c));
    c.phone = phone;
    c.guess_hash = ghash;
    c.now_ms = now;
    c.token_new = token_new;
    c.token_data = &src;
    c.token_expires_ms = now + 30 * MIN;
    c.purpose = (sv_purpose_t) -1;

    rc = sv_store_confirm(f->st, &c, f->err, sizeof(f->err));

    if (got != NULL) {
        *got = c.purpose;
    }

    return rc;
}


static sv_store_rc_t
token_check_for(fx_t *f, int token, const char *phone, sv_purpose_t purpose,
    int64_t now)
{
    uint8_t  thash[SV_HASH_SIZE];

    hash_of(thash, token);

    return sv_store_token_check(f->st, thash, phone, purpose, now, f->err,
                                sizeof(f->err));
}


static sv_store_rc_t
reset_of(fx_t *f, const char *phone, int token, int64_t now,
    const char *hash, int check_only, uint64_t *id)
{
    uint8_t        thash[SV_HASH_SIZE];
    sv_reset_t     r;
    sv_store_rc_t  rc;

    hash_of(thash, token);

    memset(&r, 0, sizeof(r));
    r.phone = phone;
    r.token_hash = thash;
    r.now_ms = now;
    r.password_hash = hash;
    r.id = 12345;

    rc = check_only ? sv_store_reset_check(f->st, &r, f->err, sizeof(f->err))
                    : sv_store_reset(f->st, &r, f->err, sizeof(f->err));

    if (id != NULL) {
        *id = r.id;
    }

    return rc;
}


static sv_store_rc_t
reset_check(fx_t *f, const char *phone, int token, int64_t now)
{
    return reset_of(f, phone, token, now, NULL, 1, NULL);
}


static sv_store_rc_t
reset(fx_t *f, const char *phone, int token, int64_t now, uint64_t *id)
{
    return reset_of(f, phone, token, now, NEW_HASH, 0, id);
}


static sv_login_t
login_of(const char *account, int64_t now)
{
    sv_login_t  l;

    memset(&l, 0, sizeof(l));
    l.account = account;
    l.now_ms = now;
    l.limit = 5;
    l.window_ms = 15 * MIN;
    l.retry_after_ms = -1;

    return l;
}


static sv_store_rc_t
login_allowed(fx_t *f, const char *account, int64_t now, int64_t *retry)
{
    sv_login_t     l;
    sv_store_rc_t  rc;

    l = login_of(account, now);
    rc = sv_store_login_allowed(f->st, &l, f->err, sizeof(f->err));

    if (retry != NULL) {
        *retry = l.retry_after_ms;
    }

    return rc;
}


static sv_store_rc_t
login_failed(fx_t *f, const char *account, int64_t now)
{
    sv_login_t  l;

    l = login_of(account, now);

    return sv_store_login_failed(f->st, &l, f->err, sizeof(f->err));
}


/* A session of a week, idle after a day, by hash byte h. */
static sv_store_rc_t
session_start(fx_t *f, int h, uint64_t member, uint32_t epoch, int64_t now,
    const char *account)
{
    uint8_t       hash[SV_HASH_SIZE];
    sv_session_t  s;

    hash_of(hash, h);

    memset(&s, 0, sizeof(s));
    s.hash = hash;
    s.member_id = member;
    s.epoch = epoch;
    s.now_ms = now;
    s.expires_ms = now + WEEK;
    s.idle_ms = DAY;
    s.account = account;

    return sv_store_session_start(f->st, &s, f->err, sizeof(f->err));
}


static sv_store_rc_t
session_get(fx_t *f, int h, int64_t now, sv_session_get_t *g)
{
    uint8_t  hash[SV_HASH_SIZE];

    hash_of(hash, h);

    memset(g, 0xff, sizeof(*g));
    g->hash = hash;
    g->now_ms = now;

    return sv_store_session_get(f->st, g, f->err, sizeof(f->err));
}


static sv_store_rc_t
session_touch(fx_t *f, int h, int64_t now)
{
    uint8_t  hash[SV_HASH_SIZE];

    hash_of(hash, h);

    return sv_store_session_touch(f->st, hash, now, f->err, sizeof(f->err));
}


static sv_store_rc_t
session_end(fx_t *f, int h)
{
    uint8_t  hash[SV_HASH_SIZE];

    hash_of(hash, h);

    return sv_store_session_end(f->st, hash, f->err, sizeof(f->err));
}


static sv_member_info_t
member_find(fx_t *f, const char *email_key, const char *phone,
    sv_store_rc_t expect)
{
    sv_member_info_t  m;

    memset(&m, 0xff, sizeof(m));
    assert_int_equal(sv_store_member_find(f->st, email_key, phone, &m,
                                          f->err, sizeof(f->err)),
                     expect);

    return m;
}


/* A member of PHONE_A, "Kim@Example.com": its id. */
static uint64_t
member_a(fx_t *f)
{
    uint64_t  id;

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(signup(f, "Kim@Example.com", PHONE_A, 0x70, T0, &id),
                     SV_STORE_OK);

    return id;
}


static sv_store_stats_t
stats(fx_t *f)
{
    sv_store_stats_t  s;

    memset(&s, 0xff, sizeof(s));
    assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    return s;
}


/* Open, close, reopen. */

static void
test_open_reopen_persists(void **state)
{
    fx_t     *f = *state;
    uint64_t  id;

    fx_close(f);
    fx_open(f, MAP_SIZE, 0);

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, &id),
                     SV_STORE_OK);
    put_code(f, PHONE_B, 0x11, T0 + 3 * MIN, 5);

    fx_close(f);
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(stats(f).members, 1);
    assert_int_equal(stats(f).codes_pending, 1);
    assert_int_equal(confirm(f, PHONE_B, 0x11, T0 + SEC, 0x71, T0 + HOUR,
                             NULL),
                     SV_STORE_OK);
    assert_int_equal(send_default(f, PHONE_A, T0, NULL),
                     SV_STORE_PHONE_TAKEN);
}


static void
test_open_missing_dir(void **state)
{
    fx_t             *f = *state;
    char              dir[128];
    sv_store_t       *st;
    sv_store_conf_t   conf;

    snprintf(dir, sizeof(dir), "%s/missing", f->dir);

    memset(&conf, 0, sizeof(conf));
    conf.dir = dir;
    conf.map_size = MAP_SIZE;
    conf.nosync = 1;
    conf.max_readers = 8;

    st = (sv_store_t *) 1;
    assert_int_equal(sv_store_open(&st, &conf, f->err, sizeof(f->err)),
                     SV_STORE_ERROR);
    assert_null(st);
    assert_non_null(strstr(f->err, "mdb_env_open"));
    assert_non_null(strstr(f->err, "No such file or directory"));
}


static void
test_sync_and_reader_check(void **state)
{
    fx_t  *f = *state;

    put_code(f, PHONE_A, 1, T0 + MIN, 5);
    assert_int_equal(sv_store_sync(f->st, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(sv_store_reader_check(f->st), 0);
}


static void
test_bad_phone(void **state)
{
    fx_t     *f = *state;
    char      long_phone[64];
    uint8_t   hash[SV_HASH_SIZE];

    hash_of(hash, 1);
    assert_int_equal(send_default(f, "", T0, NULL), SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "empty phone"));

    memset(long_phone, '1', sizeof(long_phone) - 1);
    long_phone[sizeof(long_phone) - 1] = '\0';
    assert_int_equal(sv_store_code_put(f->st, long_phone, hash, T0, 5,
                                       SV_PURPOSE_SIGNUP, f->err,
                                       sizeof(f->err)),
                     SV_STORE_ERROR);
}


/* Sends. */

static void
test_send_resend_interval(void **state)
{
    fx_t     *f = *state;
    int64_t   retry;

    assert_int_equal(send_default(f, PHONE_A, T0, &retry), SV_STORE_OK);

    assert_int_equal(send_default(f, PHONE_A, T0 + 10 * SEC, &retry),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(retry, 20 * SEC);

    assert_int_equal(send_default(f, PHONE_A, T0 + 29999, &retry),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(retry, 1);

    /* another phone is not held back */
    assert_int_equal(send_default(f, PHONE_B, T0 + 10 * SEC, &retry),
                     SV_STORE_OK);

    assert_int_equal(send_default(f, PHONE_A, T0 + 30 * SEC, &retry),
                     SV_STORE_OK);
}


static void
test_send_window_limit(void **state)
{
    fx_t     *f = *state;
    int       i;
    int64_t   retry;

    for (i = 0; i < 5; i++) {
        assert_int_equal(send_default(f, PHONE_A, T0 + i * MIN, &retry),
                         SV_STORE_OK);
    }

    assert_int_equal(send_default(f, PHONE_A, T0 + 5 * MIN, &retry),
                     SV_STORE_SEND_LIMIT);
    assert_int_equal(retry, HOUR - 5 * MIN);

    /* the resend interval is checked first */
    assert_int_equal(send_default(f, PHONE_A, T0 + 4 * MIN + SEC, &retry),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(retry, 29 * SEC);

    /* a refused send is not counted */
    assert_int_equal(send_default(f, PHONE_A, T0 + HOUR - 1, &retry),
                     SV_STORE_SEND_LIMIT);
    assert_int_equal(retry, 1);
}


static void
test_send_window_slides(void **state)
{
    fx_t     *f = *state;
    int64_t   retry;

    assert_int_equal(send_at(f, PHONE_A, T0, 0, 2, 10 * MIN, &retry),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + 4 * MIN, 0, 2, 10 * MIN,
                             &retry),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + 9 * MIN, 0, 2, 10 * MIN,
                             &retry),
                     SV_STORE_SEND_LIMIT);
    assert_int_equal(retry, MIN);

    /* the first send leaves the window exactly window_ms after it */
    assert_int_equal(send_at(f, PHONE_A, T0 + 10 * MIN, 0, 2, 10 * MIN,
                             &retry),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + 11 * MIN, 0, 2, 10 * MIN,
                             &retry),
                     SV_STORE_SEND_LIMIT);
    assert_int_equal(retry, 3 * MIN);
}


static void
test_send_resend_longer_than_window(void **state)
{
    fx_t     *f = *state;
    int64_t   retry;

    assert_int_equal(send_at(f, PHONE_A, T0, MIN, 5, 10 * SEC, &retry),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + 20 * SEC, MIN, 5, 10 * SEC,
                             &retry),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(retry, 40 * SEC);
    assert_int_equal(send_at(f, PHONE_A, T0 + MIN, MIN, 5, 10 * SEC, &retry),
                     SV_STORE_OK);
}


static void
test_send_abort_gives_back(void **state)
{
    fx_t     *f = *state;
    int64_t   retry;

    /* abort without any send, or of an unknown stamp, is harmless */
    assert_int_equal(abort_at(f, PHONE_A, T0),
                     SV_STORE_OK);

    assert_int_equal(send_at(f, PHONE_A, T0, 30 * SEC, 2, HOUR, &retry),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + MIN, 30 * SEC, 2, HOUR,
                             &retry),
                     SV_STORE_OK);
    assert_int_equal(abort_at(f, PHONE_A, T0 + 1),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + 2 * MIN, 30 * SEC, 2, HOUR,
                             &retry),
                     SV_STORE_SEND_LIMIT);
    assert_int_equal(retry, HOUR - 2 * MIN);

    /* taking back the last send lifts both the interval and the limit */
    assert_int_equal(abort_at(f, PHONE_A, T0 + MIN),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + MIN + 1, 30 * SEC, 2, HOUR,
                             &retry),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + 2 * MIN, 30 * SEC, 2, HOUR,
                             &retry),
                     SV_STORE_SEND_LIMIT);

    /* the record goes when its last send is taken back */
    assert_int_equal(abort_at(f, PHONE_A, T0 + MIN + 1),
                     SV_STORE_OK);
    assert_int_equal(abort_at(f, PHONE_A, T0),
                     SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "sends"), 0);
    fx_open(f, MAP_SIZE, 1);
}


static void
test_send_limit_max(void **state)
{
    fx_t     *f = *state;
    int       i;
    int64_t   retry;

    for (i = 0; i < SV_SEND_LIMIT_MAX; i++) {
        assert_int_equal(send_at(f, PHONE_A, T0 + i, 0, SV_SEND_LIMIT_MAX,
                                 HOUR, &retry),
                         SV_STORE_OK);
    }

    assert_int_equal(send_at(f, PHONE_A, T0 + i, 0, SV_SEND_LIMIT_MAX, HOUR,
                             &retry),
                     SV_STORE_SEND_LIMIT);
    assert_int_equal(retry, HOUR - i);

    /* a larger limit is SV_SEND_LIMIT_MAX */
    assert_int_equal(send_at(f, PHONE_A, T0 + i, 0, 1000, HOUR, &retry),
                     SV_STORE_SEND_LIMIT);
}


/* Limits by address and the daily budget. */

#define ADDR_X      "192.0.2.1"
#define ADDR_Y      "2001:db8:1:2::/64"

/* T0 is 2023-11-14T22:13:20Z: the next UTC midnight is this far */
#define TO_MIDNIGHT (DAY - (T0 % DAY))

typedef struct {
    const char  *addr;
    unsigned     addr_limit;
    int64_t      addr_window;
    int64_t      addr_keep;
    uint64_t     budget;
} limits_t;


/* The phone at the API's defaults, and l's; *s as sent (for an abort). */
static sv_store_rc_t
send_limited(fx_t *f, const char *phone, int64_t now, const limits_t *l,
    sv_send_t *s)
{
    memset(s, 0, sizeof(*s));
    s->phone = phone;
    s->now_ms = now;
    s->resend_ms = 30 * SEC;
    s->limit = 5;
    s->window_ms = HOUR;
    s->addr = l->addr;
    s->addr_limit = l->addr_limit;
    s->addr_window_ms = l->addr_window;
    s->addr_keep_ms = l->addr_keep;
    s->budget = l->budget;
    s->retry_after_ms = -1;

    return sv_store_send_begin(f->st, s, f->err, sizeof(f->err));
}


static void
phone_n(char *buf, int i)
{
    snprintf(buf, 32, "+82105555%04d", i);
}


static void
test_ip_limit(void **state)
{
    fx_t      *f = *state;
    int        i;
    char       phone[32];
    limits_t   x = { ADDR_X, 3, HOUR, HOUR, 0 };
    limits_t   y = { ADDR_Y, 3, HOUR, HOUR, 0 };
    sv_send_t  s;

    for (i = 0; i < 3; i++) {
        phone_n(phone, i);
        assert_int_equal(send_limited(f, phone, T0 + i * MIN, &x, &s),
                         SV_STORE_OK);
    }

    phone_n(phone, 3);
    assert_int_equal(send_limited(f, phone, T0 + 10 * MIN, &x, &s),
                     SV_STORE_IP_LIMIT);
    assert_int_equal(s.retry_after_ms, HOUR - 10 * MIN);

    /* another address is not held back, nor is the phone counted */
    assert_int_equal(send_limited(f, phone, T0 + 10 * MIN, &y, &s),
                     SV_STORE_OK);

    /* the first send leaves the window an hour after it */
    phone_n(phone, 4);
    assert_int_equal(send_limited(f, phone, T0 + HOUR - 1, &x, &s),
                     SV_STORE_IP_LIMIT);
    assert_int_equal(s.retry_after_ms, 1);
    assert_int_equal(send_limited(f, phone, T0 + HOUR, &x, &s), SV_STORE_OK);
}


/* A refusal counts in no limit: neither the phone's nor the address's. */
static void
test_refusals_count_nothing(void **state)
{
    fx_t      *f = *state;
    int64_t    retry;
    limits_t   x = { ADDR_X, 2, HOUR, HOUR, 10 };
    limits_t   y = { ADDR_Y, 2, HOUR, HOUR, 10 };
    sv_send_t  s;

    assert_int_equal(send_limited(f, PHONE_A, T0, &x, &s), SV_STORE_OK);

    /* the phone's interval refuses: the address and the day not counted */
    assert_int_equal(send_limited(f, PHONE_A, T0 + SEC, &x, &s),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(send_limited(f, PHONE_B, T0 + 2 * SEC, &x, &s),
                     SV_STORE_OK);
    assert_int_equal(send_limited(f, PHONE_C, T0 + 3 * SEC, &x, &s),
                     SV_STORE_IP_LIMIT);

    /* the address refused C: C was not counted, it may go at once */
    assert_int_equal(send_default(f, PHONE_C, T0 + 4 * SEC, &retry),
                     SV_STORE_OK);

    /* A's and B's sends are the day's (the phone-only one has no budget) */
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "days"), 1);
    fx_open(f, MAP_SIZE, 1);

    y.budget = 3;
    assert_int_equal(send_limited(f, "+821011110000", T0 + 5 * SEC, &y, &s),
                     SV_STORE_OK);
    assert_int_equal(send_limited(f, "+821011110001", T0 + 6 * SEC, &y, &s),
                     SV_STORE_BUDGET);
}


/* One count an address, each location its own limit and window. */
static void
test_ip_limit_shared_count(void **state)
{
    fx_t      *f = *state;
    char       phone[32];
    limits_t   counted = { ADDR_X, 0, 0, 2 * HOUR, 0 };   /* no limit */
    limits_t   short_w = { ADDR_X, 2, 10 * MIN, 2 * HOUR, 0 };
    limits_t   long_w = { ADDR_X, 3, 2 * HOUR, 2 * HOUR, 0 };
    sv_send_t  s;

    phone_n(phone, 0);
    assert_int_equal(send_limited(f, phone, T0, &counted, &s), SV_STORE_OK);
    phone_n(phone, 1);
    assert_int_equal(send_limited(f, phone, T0 + 30 * MIN, &short_w, &s),
                     SV_STORE_OK);
    phone_n(phone, 2);
    assert_int_equal(send_limited(f, phone, T0 + 31 * MIN, &short_w, &s),
                     SV_STORE_OK);

    /* two in the short window */
    phone_n(phone, 3);
    assert_int_equal(send_limited(f, phone, T0 + 32 * MIN, &short_w, &s),
                     SV_STORE_IP_LIMIT);
    assert_int_equal(s.retry_after_ms, 8 * MIN);

    /* three in the long one, the first by a location without a limit */
    assert_int_equal(send_limited(f, phone, T0 + 32 * MIN, &long_w, &s),
                     SV_STORE_IP_LIMIT);
    assert_int_equal(s.retry_after_ms, 2 * HOUR - 32 * MIN);

    /* the short window's sends did not drop the first from the record */
    assert_int_equal(send_limited(f, phone, T0 + 41 * MIN, &short_w, &s),
                     SV_STORE_OK);
    phone_n(phone, 4);
    assert_int_equal(send_limited(f, phone, T0 + 2 * HOUR - 1, &long_w, &s),
                     SV_STORE_IP_LIMIT);
}


/* Which limit answers when several would refuse: budget, address, phone. */
static void
test_limits_order(void **state)
{
    fx_t      *f = *state;
    limits_t   x = { ADDR_X, 1, HOUR, HOUR, 1 };
    sv_send_t  s;

    assert_int_equal(send_limited(f, PHONE_A, T0, &x, &s), SV_STORE_OK);

    /* the phone too soon, the address at its limit, the budget spent */
    assert_int_equal(send_limited(f, PHONE_A, T0 + SEC, &x, &s),
                     SV_STORE_BUDGET);
    assert_int_equal(s.retry_after_ms, TO_MIDNIGHT - SEC);
    assert_true(s.budget_first);

    x.budget = 2;
    assert_int_equal(send_limited(f, PHONE_A, T0 + 2 * SEC, &x, &s),
                     SV_STORE_IP_LIMIT);
    assert_int_equal(s.retry_after_ms, HOUR - 2 * SEC);

    x.addr_limit = 2;
    assert_int_equal(send_limited(f, PHONE_A, T0 + 3 * SEC, &x, &s),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(s.retry_after_ms, 27 * SEC);

    /* none of them counted: the phone goes once its interval is over */
    assert_int_equal(send_limited(f, PHONE_A, T0 + 30 * SEC, &x, &s),
                     SV_STORE_OK);
    assert_int_equal(send_limited(f, PHONE_B, T0 + 31 * SEC, &x, &s),
                     SV_STORE_BUDGET);
    assert_false(s.budget_first);
}


static void
test_budget_day(void **state)
{
    fx_t      *f = *state;
    int        i;
    char       phone[32];
    limits_t   b = { NULL, 0, 0, 0, 3 };
    sv_send_t  s;

    for (i = 0; i < 3; i++) {
        phone_n(phone, i);
        assert_int_equal(send_limited(f, phone, T0 + i * SEC, &b, &s),
                         SV_STORE_OK);
        assert_false(s.budget_first);
    }

    /* the first refusal of the day says so, the next ones do not */
    phone_n(phone, 3);
    assert_int_equal(send_limited(f, phone, T0 + MIN, &b, &s),
                     SV_STORE_BUDGET);
    assert_true(s.budget_first);
    assert_int_equal(s.retry_after_ms, TO_MIDNIGHT - MIN);
    assert_int_equal(send_limited(f, phone, T0 + 2 * MIN, &b, &s),
                     SV_STORE_BUDGET);
    assert_false(s.budget_first);

    /* a higher budget lets more go, the same day */
    b.budget = 4;
    assert_int_equal(send_limited(f, phone, T0 + 3 * MIN, &b, &s),
                     SV_STORE_OK);
    phone_n(phone, 4);
    assert_int_equal(send_limited(f, phone, T0 + 4 * MIN, &b, &s),
                     SV_STORE_BUDGET);
    assert_false(s.budget_first);
    assert_int_equal(send_limited(f, phone, T0 + TO_MIDNIGHT - 1, &b, &s),
                     SV_STORE_BUDGET);
    assert_int_equal(s.retry_after_ms, 1);

    /* midnight UTC: a new day, and a first refusal of its own */
    for (i = 5; i < 9; i++) {
        phone_n(phone, i);
        assert_int_equal(send_limited(f, phone, T0 + TO_MIDNIGHT + i, &b, &s),
                         SV_STORE_OK);
    }

    assert_int_equal(send_limited(f, PHONE_A, T0 + TO_MIDNIGHT + 10, &b, &s),
                     SV_STORE_BUDGET);
    assert_true(s.budget_first);
    assert_int_equal(s.retry_after_ms, DAY - 10);
}


/* Every provider failed: the phone, the address and the day get it back. */
static void
test_abort_gives_back_every_limit(void **state)
{
    fx_t      *f = *state;
    limits_t   x = { ADDR_X, 1, HOUR, HOUR, 1 };
    sv_send_t  s, sent;

    assert_int_equal(send_limited(f, PHONE_A, T0, &x, &sent), SV_STORE_OK);
    assert_int_equal(send_limited(f, PHONE_B, T0 + SEC, &x, &s),
                     SV_STORE_BUDGET);

    assert_int_equal(sv_store_send_abort(f->st, &sent, f->err,
                                         sizeof(f->err)),
                     SV_STORE_OK);

    /* the budget and the address have room for B, the phone A for A */
    x.budget = 10;
    assert_int_equal(send_limited(f, PHONE_A, T0 + 2 * SEC, &x, &sent),
                     SV_STORE_OK);
    assert_int_equal(sv_store_send_abort(f->st, &sent, f->err,
                                         sizeof(f->err)),
                     SV_STORE_OK);
    x.budget = 1;
    assert_int_equal(send_limited(f, PHONE_B, T0 + 3 * SEC, &x, &sent),
                     SV_STORE_OK);
    assert_int_equal(send_limited(f, PHONE_C, T0 + 4 * SEC, &x, &s),
                     SV_STORE_BUDGET);

    /* the address's record went with its last send, the phone A's too */
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "addrs"), 1);
    assert_int_equal(raw_entries(f->dir, "sends"), 1);
    fx_open(f, MAP_SIZE, 1);

    /* an abort after the day's record was swept is harmless */
    assert_int_equal(sv_store_sweep(f->st, T0 + 2 * DAY, 0, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(sv_store_send_abort(f->st, &sent, f->err,
                                         sizeof(f->err)),
                     SV_STORE_OK);
}


static void
test_sweep_addrs_days(void **state)
{
    fx_t      *f = *state;
    limits_t   x = { ADDR_X, 5, 10 * MIN, HOUR, 100 };
    limits_t   y = { ADDR_Y, 5, 10 * MIN, 10 * MIN, 100 };
    sv_send_t  s;

    assert_int_equal(send_limited(f, PHONE_A, T0, &x, &s), SV_STORE_OK);
    assert_int_equal(send_limited(f, PHONE_B, T0, &y, &s), SV_STORE_OK);

    /* Y's sends are of no use after 10 min, X's are kept for an hour */
    assert_int_equal(sv_store_sweep(f->st, T0 + 30 * MIN, 0, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "addrs"), 1);
    assert_int_equal(raw_entries(f->dir, "days"), 1);
    fx_open(f, MAP_SIZE, 1);

    /* a new day: yesterday's count goes, today's stays */
    assert_int_equal(send_limited(f, PHONE_C, T0 + TO_MIDNIGHT, &y, &s),
                     SV_STORE_OK);
    assert_int_equal(sv_store_sweep(f->st, T0 + TO_MIDNIGHT + MIN, 0, 100,
                                    f->err, sizeof(f->err)),
                     SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "addrs"), 1);
    assert_int_equal(raw_entries(f->dir, "days"), 1);
    assert_int_equal(raw_get(f->dir, "days", "2023-11-15", 10, f->err,
                             sizeof(f->err)),
                     25);
    assert_int_equal(raw_get(f->dir, "days", "2023-11-14", 10, f->err,
                             sizeof(f->err)),
                     -1);
    fx_open(f, MAP_SIZE, 1);
}


static void
test_send_bad_limits(void **state)
{
    fx_t      *f = *state;
    char       long_addr[80];
    limits_t   l = { ADDR_X, 101, HOUR, HOUR, 0 };
    sv_send_t  s;

    assert_int_equal(send_limited(f, PHONE_A, T0, &l, &s), SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "address limit"));

    l.addr_limit = 5;
    l.addr_keep = MIN;              /* shorter than the window */
    assert_int_equal(send_limited(f, PHONE_A, T0, &l, &s), SV_STORE_ERROR);

    l.addr_limit = 0;
    l.addr_keep = 0;                /* counted, but kept for no time */
    assert_int_equal(send_limited(f, PHONE_A, T0, &l, &s), SV_STORE_ERROR);

    memset(long_addr, 'a', sizeof(long_addr) - 1);
    long_addr[sizeof(long_addr) - 1] = '\0';
    l.addr = long_addr;
    l.addr_keep = HOUR;
    assert_int_equal(send_limited(f, PHONE_A, T0, &l, &s), SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "address key"));

    l.addr = "";
    assert_int_equal(send_limited(f, PHONE_A, T0, &l, &s), SV_STORE_ERROR);

    l.addr = NULL;
    l.budget = 100000001;
    assert_int_equal(send_limited(f, PHONE_A, T0, &l, &s), SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "budget"));

    /* nothing was counted */
    l.budget = 0;
    assert_int_equal(send_limited(f, PHONE_A, T0, &l, &s), SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "addrs"), 0);
    assert_int_equal(raw_entries(f->dir, "days"), 0);
    fx_open(f, MAP_SIZE, 1);
}


/* Codes and confirm. */

static void
test_code_put_replaces(void **state)
{
    fx_t      *f = *state;
    unsigned   left;

    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 5);
    put_code(f, PHONE_A, 0x22, T0 + 3 * MIN, 5);

    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x70, T0 + HOUR, &left),
                     SV_STORE_MISMATCH);
    assert_int_equal(left, 4);
    assert_int_equal(confirm(f, PHONE_A, 0x22, T0, 0x70, T0 + HOUR, NULL),
                     SV_STORE_OK);
}


static void
test_confirm_token(void **state)
{
    fx_t  *f = *state;

    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 5);
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0 + MIN, 0x70,
                             T0 + 30 * MIN, NULL),
                     SV_STORE_OK);

    assert_int_equal(token_check(f, 0x70, PHONE_A, T0 + MIN), SV_STORE_OK);
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0 + 30 * MIN - 1),
                     SV_STORE_OK);
    assert_int_equal(token_check(f, 0x70, PHONE_B, T0 + MIN),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(token_check(f, 0x70, "+8210123456", T0 + MIN),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0 + 30 * MIN),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(token_check(f, 0x71, PHONE_A, T0 + MIN),
                     SV_STORE_NO_TOKEN);
}


static void
test_confirm_mismatch_burnt(void **state)
{
    fx_t      *f = *state;
    unsigned   left;

    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 3);

    assert_int_equal(confirm(f, PHONE_A, 0x12, T0, 0x70, T0 + HOUR, &left),
                     SV_STORE_MISMATCH);
    assert_int_equal(left, 2);
    assert_int_equal(confirm(f, PHONE_A, 0x13, T0, 0x70, T0 + HOUR, &left),
                     SV_STORE_MISMATCH);
    assert_int_equal(left, 1);
    assert_int_equal(confirm(f, PHONE_A, 0x14, T0, 0x70, T0 + HOUR, &left),
                     SV_STORE_BURNT);
    assert_int_equal(left, 0);

    /* burnt: even the right code is gone */
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x70, T0 + HOUR, NULL),
                     SV_STORE_NO_CODE);
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_NO_TOKEN);
}


static void
test_confirm_expired(void **state)
{
    fx_t  *f = *state;

    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 5);

    assert_int_equal(confirm(f, PHONE_A, 0x11, T0 + 3 * MIN, 0x70,
                             T0 + HOUR, NULL),
                     SV_STORE_EXPIRED);
    assert_int_equal(confirm(f, PHONE_A, 0x12, T0 + 4 * MIN, 0x70,
                             T0 + HOUR, NULL),
                     SV_STORE_EXPIRED);
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_NO_TOKEN);

    /* the record stays: an expired guess counts no attempt */
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0 + 3 * MIN - 1, 0x70,
                             T0 + HOUR, NULL),
                     SV_STORE_OK);
}


static void
test_confirm_once(void **state)
{
    fx_t  *f = *state;

    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x70, T0 + HOUR, NULL),
                     SV_STORE_NO_CODE);

    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 5);
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x70, T0 + HOUR, NULL),
                     SV_STORE_OK);
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x71, T0 + HOUR, NULL),
                     SV_STORE_NO_CODE);
    assert_int_equal(token_check(f, 0x71, PHONE_A, T0), SV_STORE_NO_TOKEN);
}


/* A token is drawn for a match and for nothing else. */
static void
test_confirm_draws_token_on_match_only(void **state)
{
    fx_t      *f = *state;
    unsigned   left;

    tokens_drawn = 0;

    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x70, T0 + HOUR, NULL),
                     SV_STORE_NO_CODE);

    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 2);
    assert_int_equal(confirm(f, PHONE_A, 0x12, T0, 0x70, T0 + HOUR, &left),
                     SV_STORE_MISMATCH);
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0 + 3 * MIN, 0x70,
                             T0 + HOUR, NULL),
                     SV_STORE_EXPIRED);
    assert_int_equal(confirm(f, PHONE_A, 0x12, T0, 0x70, T0 + HOUR, &left),
                     SV_STORE_BURNT);
    assert_int_equal(tokens_drawn, 0);

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(tokens_drawn, 1);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);

    /* the phone is taken: no code is even read */
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x71, T0 + HOUR, NULL),
                     SV_STORE_PHONE_TAKEN);
    assert_int_equal(tokens_drawn, 1);
}


/* A token that cannot be drawn fails the match and leaves the code. */
static void
test_confirm_no_token_drawn(void **state)
{
    fx_t           *f = *state;
    uint8_t         ghash[SV_HASH_SIZE], thash[SV_HASH_SIZE];
    token_src_t     src = { thash, 0, 1 };
    sv_confirm_t    c;

    hash_of(ghash, 0x11);
    hash_of(thash, 0x70);
    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 5);

    memset(&c, 0, sizeof(c));
    c.phone = PHONE_A;
    c.guess_hash = ghash;
    c.now_ms = T0;
    c.token_new = token_new;
    c.token_data = &src;
    c.token_expires_ms = T0 + HOUR;

    assert_int_equal(sv_store_confirm(f->st, &c, f->err, sizeof(f->err)),
                     SV_STORE_ERROR);
    assert_string_equal(f->err, "no verification token could be drawn");
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_NO_TOKEN);
    assert_int_equal(stats(f).codes_pending, 1);

    /* the code is as it was: the right guess still matches */
    src.fail = 0;
    assert_int_equal(sv_store_confirm(f->st, &c, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(src.drawn, 1);
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_OK);
}


/* Signup. */

static void
test_phone_taken_after_signup(void **state)
{
    fx_t  *f = *state;

    verify(f, PHONE_A, 0x70, T0);
    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 5);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);

    assert_int_equal(send_default(f, PHONE_A, T0 + HOUR, NULL),
                     SV_STORE_PHONE_TAKEN);
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0 + SEC, 0x71, T0 + HOUR,
                             NULL),
                     SV_STORE_PHONE_TAKEN);
    assert_int_equal(send_default(f, PHONE_B, T0 + HOUR, NULL),
                     SV_STORE_OK);
}


static void
test_signup_consumes_token(void **state)
{
    fx_t  *f = *state;

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_NO_TOKEN);
    assert_int_equal(signup(f, "b@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_NO_TOKEN);
}


static void
test_signup_email_taken(void **state)
{
    fx_t      *f = *state;
    uint64_t   id;

    verify(f, PHONE_A, 0x70, T0);
    verify(f, PHONE_B, 0x71, T0);

    assert_int_equal(signup(f, "Kim@Example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);
    assert_int_equal(signup(f, "kim@example.COM", PHONE_B, 0x71, T0, NULL),
                     SV_STORE_EMAIL_TAKEN);

    /* the refused signup kept its token */
    assert_int_equal(token_check(f, 0x71, PHONE_B, T0), SV_STORE_OK);
    assert_int_equal(signup(f, "lee@example.com", PHONE_B, 0x71, T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 2);
}


static void
test_signup_phone_taken(void **state)
{
    fx_t  *f = *state;

    /* two tokens for one phone, both confirmed before any signup */
    verify(f, PHONE_A, 0x70, T0);
    verify(f, PHONE_A, 0x71, T0);

    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);
    assert_int_equal(signup(f, "b@example.com", PHONE_A, 0x71, T0, NULL),
                     SV_STORE_PHONE_TAKEN);
    assert_int_equal(stats(f).members, 1);
}


static void
test_signup_needs_token(void **state)
{
    fx_t  *f = *state;

    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_NO_TOKEN);

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(signup(f, "a@example.com", PHONE_B, 0x70, T0, NULL),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0 + 30 * MIN,
                            NULL),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(stats(f).members, 0);

    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70,
                            T0 + 30 * MIN - 1, NULL),
                     SV_STORE_OK);
}


static void
test_signup_check(void **state)
{
    fx_t  *f = *state;

    verify(f, PHONE_A, 0x70, T0);

    /* no token, a token for another phone, an expired one */
    assert_int_equal(signup_check(f, "a@example.com", PHONE_A, 0x71, T0),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(signup_check(f, "a@example.com", PHONE_B, 0x70, T0),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(signup_check(f, "a@example.com", PHONE_A, 0x70,
                                  T0 + 30 * MIN),
                     SV_STORE_NO_TOKEN);

    /* a signup that may succeed: the check leaves the token as it was */
    assert_int_equal(signup_check(f, "a@example.com", PHONE_A, 0x70, T0),
                     SV_STORE_OK);
    assert_int_equal(signup_check(f, "a@example.com", PHONE_A, 0x70, T0),
                     SV_STORE_OK);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);

    /* taken: the email first, then the phone */
    verify(f, PHONE_B, 0x71, T0);
    assert_int_equal(signup_check(f, "a@example.com", PHONE_B, 0x71, T0),
                     SV_STORE_EMAIL_TAKEN);
    verify(f, PHONE_C, 0x72, T0);
    assert_int_equal(signup(f, "c@example.com", PHONE_C, 0x72, T0, NULL),
                     SV_STORE_OK);
    assert_int_equal(stats(f).members, 2);
}


/* Taken answers use a token up, whether the check or the signup gave them. */
static void
test_signup_taken_uses_token_up(void **state)
{
    fx_t  *f = *state;
    int    i;

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);
    verify(f, PHONE_B, 0x71, T0);

    for (i = 0; i < SV_TOKEN_FAILURES_MAX - 1; i++) {
        assert_int_equal(signup_check(f, "a@example.com", PHONE_B, 0x71, T0),
                         SV_STORE_EMAIL_TAKEN);
        assert_int_equal(token_check(f, 0x71, PHONE_B, T0), SV_STORE_OK);
    }

    /* the last one a signup's own, as when a race took the email */
    assert_int_equal(signup(f, "A@example.com", PHONE_B, 0x71, T0, NULL),
                     SV_STORE_EMAIL_TAKEN);

    assert_int_equal(token_check(f, 0x71, PHONE_B, T0), SV_STORE_NO_TOKEN);
    assert_int_equal(signup_check(f, "b@example.com", PHONE_B, 0x71, T0),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(signup(f, "b@example.com", PHONE_B, 0x71, T0, NULL),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(stats(f).members, 1);

    /* a fresh token for the phone starts from none */
    verify(f, PHONE_B, 0x72, T0);
    assert_int_equal(signup(f, "b@example.com", PHONE_B, 0x72, T0, NULL),
                     SV_STORE_OK);
}


/* A token record of the first version (no failures byte) still serves. */
static void
test_token_record_v1(void **state)
{
    fx_t     *f = *state;
    uint8_t   rec[1 + 8 + sizeof(PHONE_A) - 1], hash[SV_HASH_SIZE];
    int64_t   expires;
    size_t    i;

    expires = T0 + HOUR;
    rec[0] = 1;

    for (i = 0; i < 8; i++) {
        rec[1 + i] = (uint8_t) (expires >> (8 * i));
    }

    memcpy(rec + 9, PHONE_A, sizeof(PHONE_A) - 1);
    hash_of(hash, 0x70);

    fx_close(f);
    raw_put(f->dir, "tokens", hash, SV_HASH_SIZE, rec, sizeof(rec));
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_OK);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);
}


/* Durability. */

/*
 * With nosync, the codes' commits are not synced; the members' always
 * are, each before its call returns.
 */
static void
test_members_always_synced(void **state)
{
    fx_t      *f = *state;
    unsigned   members;

    syncs_members = 0;
    syncs_codes = 0;

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(send_default(f, PHONE_B, T0, NULL), SV_STORE_OK);
    assert_int_equal(syncs_codes, 0);
    assert_int_equal(syncs_members, 0);

    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);
    assert_true(syncs_members > 0);
    assert_int_equal(syncs_codes, 0);

    /* the timer's sync flushes the codes */
    assert_int_equal(sv_store_sync(f->st, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_true(syncs_codes > 0);

    /* sync=on: every commit of both */
    fx_close(f);
    fx_open(f, MAP_SIZE, 0);
    syncs_codes = 0;
    members = syncs_members;

    put_code(f, PHONE_C, 0x11, T0 + MIN, 5);
    assert_true(syncs_codes > 0);
    assert_int_equal(syncs_members, members);
}


static void
check_store(fx_t *f, sv_store_check_t *chk, sv_store_rc_t expect)
{
    memset(chk, 0, sizeof(*chk));
    chk->uid = -1;
    chk->gid = -1;

    assert_int_equal(sv_store_check(f->dir, chk, f->err, sizeof(f->err)),
                     expect);
}


/* Overwrites len bytes of the codes' data file at offset with garbage. */
static void
scribble_codes(fx_t *f, off_t offset, size_t len)
{
    int      fd;
    char     path[256];
    size_t   i;
    uint8_t  junk[4096];

    for (i = 0; i < sizeof(junk); i++) {
        junk[i] = (uint8_t) (i * 131 + 7);
    }

    snprintf(path, sizeof(path), "%s/" SV_STORE_CODES_DIR "/data.mdb",
             f->dir);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);

    while (len > 0) {
        i = len < sizeof(junk) ? len : sizeof(junk);
        assert_int_equal(pwrite(fd, junk, i, offset), (ssize_t) i);
        offset += i;
        len -= i;
    }

    close(fd);
}


/* A store with a member, and codes, sends and tokens worth losing. */
static void
fill_both(fx_t *f)
{
    int   i;
    char  phone[32];

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);

    for (i = 0; i < 300; i++) {
        snprintf(phone, sizeof(phone), "+8210%08d", i);
        assert_int_equal(send_default(f, phone, T0, NULL), SV_STORE_OK);
        put_code(f, phone, 0x11, T0 + MIN, 5);
    }

    verify(f, PHONE_B, 0x71, T0);

    /* a session and failed logins: records the check reads too */
    assert_int_equal(session_start(f, 0x5a, 1, 0, T0, NULL), SV_STORE_OK);
    assert_int_equal(login_failed(f, "e:b@example.com", T0), SV_STORE_OK);
}


/* After a damaged codes' part: the members as they were, codes afresh. */
static void
assert_members_kept(fx_t *f)
{
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(stats(f).members, 1);
    assert_int_equal(stats(f).codes_pending, 0);
    assert_int_equal(token_check(f, 0x71, PHONE_B, T0), SV_STORE_NO_TOKEN);
    assert_int_equal(send_default(f, PHONE_A, T0, NULL),
                     SV_STORE_PHONE_TAKEN);

    verify(f, PHONE_B, 0x72, T0);
    assert_int_equal(signup(f, "A@example.com", PHONE_B, 0x72, T0, NULL),
                     SV_STORE_EMAIL_TAKEN);
    assert_int_equal(signup(f, "b@example.com", PHONE_B, 0x72, T0, NULL),
                     SV_STORE_OK);
}


static void
test_check_sound_store(void **state)
{
    fx_t              *f = *state;
    sv_store_check_t   chk;

    /* a fresh directory, nothing in it yet */
    fx_close(f);
    remove_dir(f->dir);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    check_store(f, &chk, SV_STORE_OK);
    assert_int_equal(chk.damaged, 0);

    fx_open(f, MAP_SIZE, 1);
    fill_both(f);
    fx_close(f);

    check_store(f, &chk, SV_STORE_OK);
    assert_int_equal(chk.damaged, 0);
    assert_int_equal(chk.migrated, 0);
    assert_int_equal(chk.in_use, 0);

    fx_open(f, MAP_SIZE, 1);
    assert_int_equal(stats(f).codes_pending, 300);
    assert_int_equal(token_check(f, 0x71, PHONE_B, T0), SV_STORE_OK);

    /* open here (as in running workers): theirs, not read */
    check_store(f, &chk, SV_STORE_OK);
    assert_int_equal(chk.in_use, 1);
    assert_int_equal(chk.damaged, 0);
    assert_int_equal(stats(f).codes_pending, 300);
}


/* The whole file garbage, meta pages and all. */
static void
test_check_garbage_file(void **state)
{
    fx_t              *f = *state;
    struct stat        sb;
    sv_store_check_t   chk;

    fill_both(f);
    fx_close(f);

    scribble_codes(f, 0, 64 * 1024);
    check_store(f, &chk, SV_STORE_OK);

    assert_int_equal(chk.damaged, 1);
    assert_non_null(strstr(chk.reason, "mdb_env_open"));
    assert_non_null(strstr(chk.moved_to, "/" SV_STORE_CODES_DIR ".damaged-"));
    assert_int_equal(stat(chk.moved_to, &sb), 0);

    assert_members_kept(f);
}


/* Sound meta pages pointing at pages that are not what they were. */
static void
test_check_damaged_pages(void **state)
{
    fx_t              *f = *state;
    sv_store_check_t   chk;

    fill_both(f);
    fx_close(f);

    scribble_codes(f, 2 * 4096, 6 * 4096);
    check_store(f, &chk, SV_STORE_OK);

    assert_int_equal(chk.damaged, 1);
    assert_true(chk.reason[0] != '\0');

    assert_members_kept(f);
}


/* A store of the one-environment layout: its members move in. */
static void
test_check_migrates(void **state)
{
    fx_t              *f = *state;
    char               path[256], sub[256];
    sv_store_check_t   chk;

    fill_both(f);
    fx_close(f);

    /* the members' part as the whole store once was */
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    snprintf(sub, sizeof(sub), "%s/" SV_STORE_MEMBERS_DIR "/data.mdb",
             f->dir);
    assert_int_equal(rename(sub, path), 0);
    snprintf(sub, sizeof(sub), "%s/" SV_STORE_MEMBERS_DIR "/lock.mdb",
             f->dir);
    assert_int_equal(unlink(sub), 0);

    /* which no worker may open as it is */
    assert_int_equal(sv_store_open(&f->st, &(sv_store_conf_t) {
                                       .dir = f->dir, .map_size = MAP_SIZE,
                                       .nosync = 1, .max_readers = 64 },
                                   f->err, sizeof(f->err)),
                     SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "old layout"));

    /* nor is it moved while another process (an old nginx) has it open */
    {
        MDB_env  *env;
        MDB_txn  *txn;
        MDB_dbi   dbi;
        MDB_val   k = { 3, "abc" }, v = { 3, "xyz" };

        assert_int_equal(mdb_env_create(&env), 0);
        assert_int_equal(mdb_env_set_maxdbs(env, 10), 0);
        assert_int_equal(mdb_env_open(env, f->dir, MDB_NOTLS, 0600), 0);

        /* the old layout had the codes in the same environment */
        assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, "codes", MDB_CREATE, &dbi), 0);
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
        assert_int_equal(mdb_txn_commit(txn), 0);

        check_store(f, &chk, SV_STORE_ERROR);
        assert_non_null(strstr(f->err, "open in another process"));
        mdb_env_close(env);
    }

    check_store(f, &chk, SV_STORE_OK);
    assert_int_equal(chk.migrated, 1);
    assert_int_equal(chk.damaged, 0);

    fx_open(f, MAP_SIZE, 1);
    assert_int_equal(stats(f).members, 1);
    assert_int_equal(signup(f, "A@example.com", PHONE_B, 0x71, T0, NULL),
                     SV_STORE_EMAIL_TAKEN);

    /* the old codes went with the open: the codes' part has its own */
    fx_close(f);
    {
        MDB_env  *env;
        MDB_txn  *txn;
        MDB_dbi   dbi;

        env = raw_open(f->dir, "members");
        assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, "codes", 0, &dbi), MDB_NOTFOUND);
        mdb_txn_abort(txn);
        mdb_env_close(env);
    }

    /* both a store of the old layout and a members' part: a person says */
    fx_close(f);
    {
        MDB_env  *env;
        MDB_txn  *txn;
        MDB_dbi   dbi;

        assert_int_equal(mdb_env_create(&env), 0);
        assert_int_equal(mdb_env_set_maxdbs(env, 10), 0);
        assert_int_equal(mdb_env_open(env, f->dir, MDB_NOTLS, 0600), 0);
        assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, "members", MDB_CREATE, &dbi), 0);
        assert_int_equal(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
    }
    check_store(f, &chk, SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "both"));
}


static void
test_signup_ids(void **state)
{
    fx_t      *f = *state;
    uint64_t   id;

    verify(f, PHONE_A, 0x70, T0);
    verify(f, PHONE_B, 0x71, T0);
    verify(f, PHONE_C, 0x72, T0);

    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 1);
    assert_int_equal(signup(f, "b@example.com", PHONE_B, 0x71, T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 2);

    /* ids survive a reopen */
    fx_close(f);
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(signup(f, "c@example.com", PHONE_C, 0x72, T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 3);
}


static void
test_member_json(void **state)
{
    fx_t      *f = *state;
    char       buf[1024];
    cJSON     *obj, *terms;
    uint8_t    key[8];
    uint64_t   id;

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(signup(f, "Kim@Example.com", PHONE_A, 0x70, T0 + 5,
                            &id),
                     SV_STORE_OK);
    fx_close(f);

    id_key(id, key);
    assert_true(raw_get(f->dir, "members", key, 8, buf, sizeof(buf)) > 0);

    obj = cJSON_Parse(buf);
    assert_non_null(obj);
    assert_int_equal(cJSON_GetObjectItem(obj, "id")->valuedouble, 1);
    assert_string_equal(cJSON_GetObjectItem(obj, "email")->valuestring,
                        "Kim@Example.com");
    assert_string_equal(cJSON_GetObjectItem(obj, "phone")->valuestring,
                        PHONE_A);
    assert_string_equal(cJSON_GetObjectItem(obj, "nickname")->valuestring,
                        "\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99");
    assert_memory_equal(
        cJSON_GetObjectItem(obj, "passwordHash")->valuestring, "$2b$12$", 7);
    assert_true(cJSON_GetObjectItem(obj, "createdAt")->valuedouble
                == (double) (T0 + 5));

    terms = cJSON_GetObjectItem(obj, "terms");
    assert_true(cJSON_IsArray(terms));
    assert_int_equal(cJSON_GetArraySize(terms), 2);
    assert_int_equal(cJSON_GetArrayItem(terms, 0)->valueint, 1);
    assert_int_equal(cJSON_GetArrayItem(terms, 1)->valueint, 2);
    cJSON_Delete(obj);

    /* plain text, exactly as mdb_dump -p shows it */
    assert_non_null(strstr(buf, "\"createdAt\":1700000000005"));
    assert_non_null(strstr(buf, "{\"id\":1,\"email\":\"Kim@Example.com\""));

    assert_int_equal(raw_get(f->dir, "emails", "kim@example.com", 15, buf,
                             sizeof(buf)),
                     8);
    assert_memory_equal(buf, key, 8);
    assert_int_equal(raw_get(f->dir, "phones", PHONE_A, strlen(PHONE_A), buf,
                             sizeof(buf)),
                     8);
    assert_memory_equal(buf, key, 8);
    assert_int_equal(raw_get(f->dir, "meta", "next_id", 7, buf, sizeof(buf)),
                     8);
    id_key(2, key);
    assert_memory_equal(buf, key, 8);

    fx_open(f, MAP_SIZE, 1);
}


static void
test_member_json_no_terms(void **state)
{
    fx_t         *f = *state;
    char          buf[1024];
    uint8_t       key[8], thash[SV_HASH_SIZE];
    sv_member_t   m;

    verify(f, PHONE_A, 0x70, T0);
    hash_of(thash, 0x70);

    memset(&m, 0, sizeof(m));
    m.email = "a\"b@example.com";
    m.email_key = "a\"b@example.com";
    m.phone = PHONE_A;
    m.nickname = "x";
    m.password_hash = "$2b$04$x";
    m.terms = NULL;
    m.nterms = 0;
    m.now_ms = T0;
    m.token_hash = thash;

    assert_int_equal(sv_store_signup(f->st, &m, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    fx_close(f);

    id_key(m.id, key);
    assert_true(raw_get(f->dir, "members", key, 8, buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "\"email\":\"a\\\"b@example.com\""));
    assert_non_null(strstr(buf, "\"terms\":[]"));

    fx_open(f, MAP_SIZE, 1);
}


/* Stats and sweep. */

/*
 * codes_pending is the codes held: put and not yet confirmed, burnt or
 * swept, expired or not; LMDB's own count, kept by each write.
 */
static void
test_stats(void **state)
{
    fx_t              *f = *state;
    unsigned           left;
    sv_store_stats_t   s;

    s = stats(f);
    assert_int_equal(s.codes_pending, 0);
    assert_int_equal(s.members, 0);

    put_code(f, PHONE_A, 0x11, T0 + MIN, 5);
    put_code(f, PHONE_B, 0x11, T0 + 2 * MIN, 2);
    put_code(f, PHONE_C, 0x11, T0 + 3 * MIN, 5);
    assert_int_equal(stats(f).codes_pending, 3);

    /* a code sent again replaces the phone's code */
    put_code(f, PHONE_A, 0x12, T0 + 2 * MIN, 5);
    assert_int_equal(stats(f).codes_pending, 3);

    /* a wrong guess keeps it, an expired guess too */
    assert_int_equal(confirm(f, PHONE_B, 0x13, T0, 0x70, T0 + HOUR, &left),
                     SV_STORE_MISMATCH);
    assert_int_equal(confirm(f, PHONE_C, 0x11, T0 + 3 * MIN, 0x70,
                             T0 + HOUR, NULL),
                     SV_STORE_EXPIRED);
    assert_int_equal(stats(f).codes_pending, 3);

    /* the last attempt burns it */
    assert_int_equal(confirm(f, PHONE_B, 0x13, T0, 0x70, T0 + HOUR, &left),
                     SV_STORE_BURNT);
    assert_int_equal(stats(f).codes_pending, 2);

    /* a match uses it; the signup counts a member */
    assert_int_equal(confirm(f, PHONE_A, 0x12, T0, 0x70, T0 + HOUR, NULL),
                     SV_STORE_OK);
    assert_int_equal(stats(f).codes_pending, 1);
    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_OK);

    s = stats(f);
    assert_int_equal(s.codes_pending, 1);
    assert_int_equal(s.members, 1);

    /* C's code expired, and counts until the sweep deletes it */
    assert_int_equal(sv_store_sweep(f->st, T0 + 3 * MIN, HOUR, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(stats(f).codes_pending, 1);
    assert_int_equal(sv_store_sweep(f->st, T0 + 3 * MIN, 0, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(stats(f).codes_pending, 0);

    /* across a reopen, and in another process's view */
    put_code(f, PHONE_B, 0x11, T0 + MIN, 5);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "codes"), 1);
    fx_open(f, MAP_SIZE, 1);
    assert_int_equal(stats(f).codes_pending, 1);
}


/* Status reads the counts, not the records: a corrupt one does not fail it. */
static void
test_stats_reads_no_record(void **state)
{
    fx_t     *f = *state;
    uint8_t   bad[5] = { 9, 9, 9, 9, 9 };

    put_code(f, PHONE_B, 0x11, T0 + MIN, 5);
    fx_close(f);
    raw_put(f->dir, "codes", PHONE_A, strlen(PHONE_A), bad, sizeof(bad));
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(stats(f).codes_pending, 2);
}


static void
test_sweep(void **state)
{
    fx_t  *f = *state;

    put_code(f, PHONE_A, 0x11, T0 + MIN, 5);
    put_code(f, PHONE_B, 0x11, T0 + 10 * MIN, 5);
    verify(f, PHONE_C, 0x70, T0);
    assert_int_equal(send_at(f, PHONE_A, T0, 30 * SEC, 5, HOUR, NULL),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_B, T0 + 30 * MIN, 30 * SEC, 5, HOUR,
                             NULL),
                     SV_STORE_OK);

    /* within the grace an expired code still answers EXPIRED */
    assert_int_equal(sv_store_sweep(f->st, T0 + 5 * MIN, 5 * MIN, 100,
                                    f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0 + 5 * MIN, 0x71, T0 + HOUR,
                             NULL),
                     SV_STORE_EXPIRED);

    /* the code of A is past its grace, C's token expired, A's sends old */
    assert_int_equal(sv_store_sweep(f->st, T0 + HOUR, 5 * MIN, 100,
                                    f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0 + HOUR, 0x71,
                             T0 + 2 * HOUR, NULL),
                     SV_STORE_NO_CODE);

    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "codes"), 0);
    assert_int_equal(raw_entries(f->dir, "tokens"), 0);
    assert_int_equal(raw_entries(f->dir, "sends"), 1);
    fx_open(f, MAP_SIZE, 1);

    /* B's sends are still counted */
    assert_int_equal(send_at(f, PHONE_B, T0 + 30 * MIN + SEC, 30 * SEC, 5,
                             HOUR, NULL),
                     SV_STORE_RESEND_TOO_SOON);
}


static void
test_sweep_max(void **state)
{
    fx_t  *f = *state;
    int    i;
    char   phone[32];

    for (i = 0; i < 25; i++) {
        snprintf(phone, sizeof(phone), "+8210000%05d", i);
        put_code(f, phone, 0x11, T0, 5);
    }

    put_code(f, PHONE_A, 0x11, T0 + HOUR, 5);

    assert_int_equal(sv_store_sweep(f->st, T0, 0, 0, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(sv_store_sweep(f->st, T0, 0, 10, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "codes"), 16);
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(sv_store_sweep(f->st, T0, 0, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "codes"), 1);
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(stats(f).codes_pending, 1);
}


/* Failures. */

static void
test_map_full(void **state)
{
    fx_t           *f = *state;
    int             i, stored;
    char            phone[32];
    uint8_t         hash[SV_HASH_SIZE];
    sv_store_rc_t   rc;

    fx_close(f);
    fx_open(f, 256 * 1024, 1);

    hash_of(hash, 0x11);
    stored = 0;
    rc = SV_STORE_OK;

    /* as a send does: count it (the room is checked), then the code */

    for (i = 0; i < 100000; i++) {
        snprintf(phone, sizeof(phone), "+8210%08d", i);

        rc = send_default(f, phone, T0, NULL);
        if (rc != SV_STORE_OK) {
            break;
        }

        rc = sv_store_code_put(f->st, phone, hash, T0 + HOUR, 5,
                               SV_PURPOSE_SIGNUP, f->err, sizeof(f->err));
        if (rc != SV_STORE_OK) {
            break;
        }

        stored++;
    }

    assert_int_equal(rc, SV_STORE_FULL);
    assert_true(stored > 0);
    assert_non_null(strstr(f->err, "MDB_MAP_FULL"));
    assert_non_null(strstr(f->err, "store is full: "));

    /* reads still work and show exactly what was committed */
    assert_int_equal(stats(f).codes_pending, stored);
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_NO_TOKEN);

    fx_close(f);
    fx_open(f, 256 * 1024, 1);
    assert_int_equal(stats(f).codes_pending, stored);

    /* deleting makes room again */
    assert_int_equal(sv_store_sweep(f->st, T0 + 2 * HOUR, 0, 1000, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 5);
}


/*
 * A store full of what has expired relieves itself: the write that finds
 * it full sweeps at the write's time, with no grace, and goes through.
 */
static void
test_map_full_relieved(void **state)
{
    fx_t           *f = *state;
    int             i, stored;
    char            phone[32];
    uint8_t         hash[SV_HASH_SIZE];
    sv_store_rc_t   rc;

    fx_close(f);
    fx_open(f, 256 * 1024, 1);

    hash_of(hash, 0x11);
    stored = 0;
    rc = SV_STORE_OK;

    /* codes for a minute, sends counted for a minute */

    for (i = 0; i < 100000; i++) {
        snprintf(phone, sizeof(phone), "+8210%08d", i);

        rc = send_at(f, phone, T0, 30 * SEC, 5, MIN, NULL);
        if (rc != SV_STORE_OK) {
            break;
        }

        rc = sv_store_code_put(f->st, phone, hash, T0 + MIN, 5,
                               SV_PURPOSE_SIGNUP, f->err, sizeof(f->err));
        if (rc != SV_STORE_OK) {
            break;
        }

        stored++;
    }

    assert_int_equal(rc, SV_STORE_FULL);
    assert_int_equal(stats(f).codes_pending, stored);

    /* still full of unexpired codes: the sweep frees nothing */
    assert_int_equal(send_at(f, PHONE_A, T0 + MIN - 1, 30 * SEC, 5, MIN,
                             NULL),
                     SV_STORE_FULL);
    assert_int_equal(stats(f).codes_pending, stored);

    /* all of it expired: the send sweeps and goes through */
    assert_int_equal(send_at(f, PHONE_A, T0 + MIN, 30 * SEC, 5, MIN, NULL),
                     SV_STORE_OK);
    assert_true(stats(f).codes_pending < (uint64_t) stored);
}


static void
test_map_full_signup(void **state)
{
    fx_t           *f = *state;
    int             i;
    char            phone[32], email[64];
    uint8_t         hash[SV_HASH_SIZE];
    uint64_t        id;
    sv_store_rc_t   rc;

    fx_close(f);
    fx_open(f, 256 * 1024, 1);

    rc = SV_STORE_OK;

    for (i = 0; i < 100000; i++) {
        snprintf(phone, sizeof(phone), "+8210%08d", i);
        snprintf(email, sizeof(email), "member%d@example.com", i);

        hash_of(hash, 0x42);
        rc = sv_store_code_put(f->st, phone, hash, T0 + 3 * MIN, 5,
                               SV_PURPOSE_SIGNUP, f->err, sizeof(f->err));
        if (rc == SV_STORE_OK) {
            rc = confirm(f, phone, 0x42, T0, 0x70, T0 + HOUR, NULL);
        }

        if (rc == SV_STORE_OK) {
            rc = signup(f, email, phone, 0x70, T0, &id);
        }

        if (rc != SV_STORE_OK) {
            break;
        }

        assert_int_equal(id, i + 1);
    }

    /* a signup needs more pages than a code: its commit hits the limit */
    assert_int_equal(rc, SV_STORE_FULL);
    assert_non_null(strstr(f->err, "MDB_MAP_FULL"));
    assert_true(i > 0);

    /* no half member: the members, emails and phones agree */
    fx_close(f);
    assert_true(raw_entries(f->dir, "members") > 0);
    assert_int_equal(raw_entries(f->dir, "members"),
                     raw_entries(f->dir, "emails"));
    assert_int_equal(raw_entries(f->dir, "members"),
                     raw_entries(f->dir, "phones"));
    fx_open(f, 256 * 1024, 1);
}


static void
test_corrupt_records(void **state)
{
    fx_t      *f = *state;
    uint8_t    bad[20], hash[SV_HASH_SIZE];

    put_code(f, PHONE_B, 0x11, T0 + MIN, 5);
    fx_close(f);

    memset(bad, 1, sizeof(bad));
    raw_put(f->dir, "codes", PHONE_A, strlen(PHONE_A), bad, sizeof(bad));
    raw_put(f->dir, "sends", PHONE_A, strlen(PHONE_A), bad, 3);
    hash_of(hash, 0x70);
    raw_put(f->dir, "tokens", hash, SV_HASH_SIZE, bad, 5);

    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x71, T0 + HOUR, NULL),
                     SV_STORE_ERROR);
    assert_string_equal(f->err, "corrupt record in \"codes\"");

    assert_int_equal(send_default(f, PHONE_A, T0, NULL), SV_STORE_ERROR);
    assert_string_equal(f->err, "corrupt record in \"sends\"");

    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_ERROR);
    assert_string_equal(f->err, "corrupt record in \"tokens\"");

    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_ERROR);
    assert_string_equal(f->err, "corrupt record in \"tokens\"");

    assert_int_equal(sv_store_sweep(f->st, T0, 0, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_ERROR);

    /* other phones are not affected */
    assert_int_equal(confirm(f, PHONE_B, 0x11, T0, 0x71, T0 + HOUR, NULL),
                     SV_STORE_OK);

    /* a code record of the right size but an unknown version */
    fx_close(f);
    memset(bad, 0, sizeof(bad));
    {
        uint8_t  rec[1 + 4 + 8 + SV_HASH_SIZE];

        memset(rec, 0, sizeof(rec));
        rec[0] = 2;
        raw_put(f->dir, "codes", PHONE_C, strlen(PHONE_C), rec, sizeof(rec));
    }
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(confirm(f, PHONE_C, 0x11, T0, 0x71, T0 + HOUR, NULL),
                     SV_STORE_ERROR);
    assert_string_equal(f->err, "corrupt record in \"codes\"");
}


static void
test_corrupt_meta(void **state)
{
    fx_t     *f = *state;
    uint8_t   bad[3] = { 1, 2, 3 };

    verify(f, PHONE_A, 0x70, T0);
    fx_close(f);
    raw_put(f->dir, "meta", "next_id", 7, bad, sizeof(bad));
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(signup(f, "a@example.com", PHONE_A, 0x70, T0, NULL),
                     SV_STORE_ERROR);
    assert_string_equal(f->err, "corrupt record in \"meta\"");

    /* nothing half-written, the token kept */
    assert_int_equal(stats(f).members, 0);
    assert_int_equal(token_check(f, 0x70, PHONE_A, T0), SV_STORE_OK);
}


/* Concurrency. */

#define RACE_N  50

/*
 * The children of fork() must not use cmocka's asserts (a failure would
 * run the remaining tests in the child): they check and exit instead.
 */
static sv_store_t *
child_open(const char *dir, size_t map_size)
{
    char              err[256];
    sv_store_t       *st;
    sv_store_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.dir = dir;
    conf.map_size = map_size;
    conf.nosync = 1;
    conf.max_readers = 64;

    if (sv_store_open(&st, &conf, err, sizeof(err)) != SV_STORE_OK) {
        fprintf(stderr, "child: %s\n", err);
        return NULL;
    }

    return st;
}


static sv_store_rc_t
child_signup(sv_store_t *st, const char *phone, const char *email, int token)
{
    char            err[256];
    uint8_t         hash[SV_HASH_SIZE], thash[SV_HASH_SIZE];
    token_src_t     src = { thash, 0, 0 };
    sv_member_t     m;
    sv_confirm_t    c;

    hash_of(hash, 0x42);
    hash_of(thash, token);

    if (sv_store_code_put(st, phone, hash, T0 + MIN, 5, SV_PURPOSE_SIGNUP,
                          err, sizeof(err))
        != SV_STORE_OK)
    {
        return SV_STORE_ERROR;
    }

    memset(&c, 0, sizeof(c));
    c.phone = phone;
    c.guess_hash = hash;
    c.now_ms = T0;
    c.token_new = token_new;
    c.token_data = &src;
    c.token_expires_ms = T0 + HOUR;

    if (sv_store_confirm(st, &c, err, sizeof(err)) != SV_STORE_OK) {
        return SV_STORE_ERROR;
    }

    memset(&m, 0, sizeof(m));
    m.email = email;
    m.email_key = email;
    m.phone = phone;
    m.nickname = "racer";
    m.password_hash = "$2b$04$x";
    m.now_ms = T0;
    m.token_hash = thash;

    return sv_store_signup(st, &m, err, sizeof(err));
}


static int
race_child(const char *dir, int k, int start_fd)
{
    int             i, won;
    char            c, phone[32], email[64];
    sv_store_t     *st;
    sv_store_rc_t   rc;

    /* both children open the store, then wait for the start */
    st = child_open(dir, MAP_SIZE);
    if (st == NULL || read(start_fd, &c, 1) < 0) {
        return 100;
    }

    won = 0;

    for (i = 0; i < RACE_N; i++) {
        snprintf(phone, sizeof(phone), "+8210%d%07d", k + 1, i);
        snprintf(email, sizeof(email), "user%02d@example.com", i);

        rc = child_signup(st, phone, email, 0x70 + k);

        if (rc == SV_STORE_OK) {
            won++;

        } else if (rc != SV_STORE_EMAIL_TAKEN) {
            won = 100;
            break;
        }
    }

    sv_store_close(st);

    return won;
}


static void
race_check_members(const char *dir)
{
    int          seen[RACE_N], i;
    char         buf[1024];
    cJSON       *obj;
    MDB_env     *env;
    MDB_txn     *txn;
    MDB_val      k, v;
    uint64_t     id, expect;
    MDB_cursor  *cur;

    memset(seen, 0, sizeof(seen));

    env = raw_open(dir, "members");
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, raw_dbi(txn, "members"), &cur), 0);

    expect = 1;

    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
        assert_int_equal(k.mv_size, 8);
        id = 0;

        for (i = 0; i < 8; i++) {
            id = (id << 8) | ((uint8_t *) k.mv_data)[i];
        }

        /* ids unique and dense, in key order */
        assert_int_equal(id, expect++);

        assert_true(v.mv_size < sizeof(buf));
        memcpy(buf, v.mv_data, v.mv_size);
        buf[v.mv_size] = '\0';

        obj = cJSON_Parse(buf);
        assert_non_null(obj);
        assert_int_equal(cJSON_GetObjectItem(obj, "id")->valuedouble, id);
        assert_int_equal(sscanf(
            cJSON_GetObjectItem(obj, "email")->valuestring,
            "user%d@example.com", &i), 1);
        assert_true(i >= 0 && i < RACE_N);
        seen[i]++;
        cJSON_Delete(obj);
    }

    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);

    for (i = 0; i < RACE_N; i++) {
        assert_int_equal(seen[i], 1);
    }

    assert_int_equal(raw_entries(dir, "emails"), RACE_N);
    assert_int_equal(raw_entries(dir, "phones"), RACE_N);
}


static void
test_two_processes_race(void **state)
{
    fx_t   *f = *state;
    int     k, status, won, fds[2];
    pid_t   pid[2];

    /* LMDB: no environment open across fork() */
    fx_close(f);

    assert_int_equal(pipe(fds), 0);

    for (k = 0; k < 2; k++) {
        pid[k] = fork();
        assert_true(pid[k] >= 0);

        if (pid[k] == 0) {
            close(fds[1]);
            _exit(race_child(f->dir, k, fds[0]));
        }
    }

    close(fds[0]);
    usleep(100 * 1000);
    close(fds[1]);

    won = 0;

    for (k = 0; k < 2; k++) {
        assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
        assert_true(WIFEXITED(status));
        assert_true(WEXITSTATUS(status) <= RACE_N);
        won += WEXITSTATUS(status);
    }

    assert_int_equal(won, RACE_N);
    race_check_members(f->dir);

    fx_open(f, MAP_SIZE, 1);
    assert_int_equal(stats(f).members, RACE_N);
}


#define THREADS     8
#define THREAD_N    40

typedef struct {
    sv_store_t  *st;
    int          k;
    int          failed;
} thread_arg_t;


static void *
thread_main(void *p)
{
    int                i;
    char               phone[32], err[256];
    uint8_t            hash[SV_HASH_SIZE], thash[SV_HASH_SIZE];
    sv_send_t          s;
    token_src_t        src = { thash, 0, 0 };
    sv_confirm_t       c;
    thread_arg_t      *a = p;
    sv_store_stats_t   stats;

    hash_of(hash, 0x42);
    hash_of(thash, 0);

    for (i = 0; i < THREAD_N; i++) {
        snprintf(phone, sizeof(phone), "+8210%02d%06d", a->k, i);
        thash[0] = (uint8_t) a->k;
        thash[1] = (uint8_t) i;

        memset(&s, 0, sizeof(s));
        s.phone = phone;
        s.now_ms = T0;
        s.resend_ms = 30 * SEC;
        s.limit = 5;
        s.window_ms = HOUR;

        memset(&c, 0, sizeof(c));
        c.phone = phone;
        c.guess_hash = hash;
        c.now_ms = T0;
        c.token_new = token_new;
        c.token_data = &src;
        c.token_expires_ms = T0 + HOUR;

        if (sv_store_send_begin(a->st, &s, err, sizeof(err)) != SV_STORE_OK
            || sv_store_code_put(a->st, phone, hash, T0 + MIN, 5,
                                 SV_PURPOSE_SIGNUP, err, sizeof(err))
               != SV_STORE_OK
            || sv_store_stats(a->st, &stats, err, sizeof(err))
               != SV_STORE_OK
            || sv_store_confirm(a->st, &c, err, sizeof(err)) != SV_STORE_OK
            || sv_store_token_check(a->st, thash, phone, SV_PURPOSE_SIGNUP,
                                    T0, err, sizeof(err)) != SV_STORE_OK)
        {
            a->failed++;
        }
    }

    return NULL;
}


static void
test_threads(void **state)
{
    fx_t          *f = *state;
    int            k;
    pthread_t      tid[THREADS];
    thread_arg_t   arg[THREADS];

    for (k = 0; k < THREADS; k++) {
        arg[k].st = f->st;
        arg[k].k = k;
        arg[k].failed = 0;
        assert_int_equal(pthread_create(&tid[k], NULL, thread_main, &arg[k]),
                         0);
    }

    for (k = 0; k < THREADS; k++) {
        assert_int_equal(pthread_join(tid[k], NULL), 0);
        assert_int_equal(arg[k].failed, 0);
    }

    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "sends"), THREADS * THREAD_N);
    assert_int_equal(raw_entries(f->dir, "codes"), 0);
    fx_open(f, MAP_SIZE, 1);
}


static int
grow_child(const char *dir)
{
    int          i;
    char         phone[32], err[256];
    uint8_t      hash[SV_HASH_SIZE];
    sv_store_t  *st;

    st = child_open(dir, 4 * 1024 * 1024);
    if (st == NULL) {
        return 1;
    }

    hash_of(hash, 0x11);

    for (i = 0; i < 3000; i++) {
        snprintf(phone, sizeof(phone), "+8210%08d", i);

        if (sv_store_code_put(st, phone, hash, T0 + HOUR, 5,
                              SV_PURPOSE_SIGNUP, err, sizeof(err))
            != SV_STORE_OK)
        {
            fprintf(stderr, "child: %s\n", err);
            sv_store_close(st);
            return 1;
        }
    }

    sv_store_close(st);

    return 0;
}


/*
 * Another process opens the environment with a larger map and grows the
 * file past ours: our next transaction must adopt the new size.
 */
static void
test_map_grown_by_other_process(void **state)
{
    fx_t           *f = *state;
    int     status;
    pid_t   pid;

    fx_close(f);
    fx_open(f, 128 * 1024, 1);
    put_code(f, PHONE_A, 0x11, T0 + HOUR, 5);

    pid = fork();
    assert_true(pid >= 0);

    /* a fresh process, as another worker is: ours has the env open */
    if (pid == 0) {
        execlp(argv0, argv0, "--grow", f->dir, (char *) NULL);
        _exit(127);
    }

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    assert_int_equal(stats(f).codes_pending, 3001);
    put_code(f, PHONE_B, 0x11, T0 + HOUR, 5);
    assert_int_equal(stats(f).codes_pending, 3002);
}


/* Accounts: purposes. */

static void
test_reset_send_needs_member(void **state)
{
    fx_t  *f = *state;

    /* a reset code for a phone no member has: no send is counted */
    assert_int_equal(send_for(f, PHONE_A, SV_PURPOSE_RESET, T0),
                     SV_STORE_NOT_MEMBER);
    assert_int_equal(send_for(f, PHONE_A, SV_PURPOSE_SIGNUP, T0),
                     SV_STORE_OK);

    member_a(f);

    /* a member's phone: a reset code, never PHONE_TAKEN; limits hold */
    assert_int_equal(send_for(f, PHONE_A, SV_PURPOSE_SIGNUP, T0 + MIN),
                     SV_STORE_PHONE_TAKEN);
    assert_int_equal(send_for(f, PHONE_A, SV_PURPOSE_RESET, T0 + MIN),
                     SV_STORE_OK);
    assert_int_equal(send_for(f, PHONE_A, SV_PURPOSE_RESET, T0 + MIN + SEC),
                     SV_STORE_RESEND_TOO_SOON);
}


static void
test_reset_code_confirm(void **state)
{
    fx_t          *f = *state;
    sv_purpose_t   got;

    member_a(f);

    /* a signup code for a member's phone is PHONE_TAKEN, a reset one not */
    assert_int_equal(verify_for(f, PHONE_A, SV_PURPOSE_SIGNUP, 0x71, T0,
                                &got),
                     SV_STORE_PHONE_TAKEN);
    assert_int_equal(verify_for(f, PHONE_A, SV_PURPOSE_RESET, 0x72, T0,
                                &got),
                     SV_STORE_OK);
    assert_int_equal(got, SV_PURPOSE_RESET);

    /* its token proves the phone for a reset only */
    assert_int_equal(token_check_for(f, 0x72, PHONE_A, SV_PURPOSE_RESET, T0),
                     SV_STORE_OK);
    assert_int_equal(token_check_for(f, 0x72, PHONE_A, SV_PURPOSE_SIGNUP,
                                     T0),
                     SV_STORE_NO_TOKEN);

    /* a signup code of a free phone gives a signup token */
    assert_int_equal(verify_for(f, PHONE_B, SV_PURPOSE_SIGNUP, 0x73, T0,
                                &got),
                     SV_STORE_OK);
    assert_int_equal(got, SV_PURPOSE_SIGNUP);
    assert_int_equal(token_check_for(f, 0x73, PHONE_B, SV_PURPOSE_RESET, T0),
                     SV_STORE_NO_TOKEN);

    /* a member's phone without a code: PHONE_TAKEN, as before resets */
    assert_int_equal(confirm(f, PHONE_A, 0x42, T0, 0x74, T0 + HOUR, NULL),
                     SV_STORE_PHONE_TAKEN);
}


/* A reset token never signs up, a signup token never resets. */
static void
test_purposes_kept_apart(void **state)
{
    fx_t              *f = *state;
    sv_member_info_t   m;

    /* a reset token for a free phone (its member gone since the send) */
    assert_int_equal(verify_for(f, PHONE_B, SV_PURPOSE_RESET, 0x71, T0,
                                NULL),
                     SV_STORE_OK);
    assert_int_equal(signup_check(f, "b@example.com", PHONE_B, 0x71, T0),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(signup(f, "b@example.com", PHONE_B, 0x71, T0, NULL),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(stats(f).members, 0);

    /* a signup token of a member's phone, confirmed before its signup */
    verify(f, PHONE_A, 0x72, T0);
    member_a(f);
    assert_int_equal(token_check(f, 0x72, PHONE_A, T0), SV_STORE_OK);
    assert_int_equal(reset_check(f, PHONE_A, 0x72, T0), SV_STORE_NO_TOKEN);
    assert_int_equal(reset(f, PHONE_A, 0x72, T0, NULL), SV_STORE_NO_TOKEN);

    m = member_find(f, NULL, PHONE_A, SV_STORE_OK);
    assert_int_equal(m.epoch, 0);
    assert_memory_equal(m.password_hash, "$2b$12$", 7);
}


/* Accounts: reset. */

static void
test_reset(void **state)
{
    fx_t              *f = *state;
    uint64_t           id, got;
    sv_member_info_t   m;
    sv_session_get_t   g;

    id = member_a(f);
    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);
    assert_int_equal(session_start(f, 0x52, id, 0, T0, NULL), SV_STORE_OK);

    assert_int_equal(verify_for(f, PHONE_A, SV_PURPOSE_RESET, 0x71, T0,
                                NULL),
                     SV_STORE_OK);

    /* an unknown token, one for another phone, an expired one */
    assert_int_equal(reset_check(f, PHONE_A, 0x79, T0), SV_STORE_NO_TOKEN);
    assert_int_equal(reset_check(f, PHONE_B, 0x71, T0), SV_STORE_NO_TOKEN);
    assert_int_equal(reset_check(f, PHONE_A, 0x71, T0 + 30 * MIN),
                     SV_STORE_NO_TOKEN);
    assert_int_equal(reset(f, PHONE_A, 0x71, T0 + 30 * MIN, NULL),
                     SV_STORE_NO_TOKEN);

    /* the check changes nothing */
    assert_int_equal(reset_check(f, PHONE_A, 0x71, T0), SV_STORE_OK);
    assert_int_equal(reset_check(f, PHONE_A, 0x71, T0), SV_STORE_OK);
    assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_OK);

    got = 0;
    assert_int_equal(reset(f, PHONE_A, 0x71, T0 + MIN, &got), SV_STORE_OK);
    assert_int_equal(got, id);

    m = member_find(f, NULL, PHONE_A, SV_STORE_OK);
    assert_string_equal(m.password_hash, NEW_HASH);
    assert_int_equal(m.epoch, 1);
    assert_string_equal(m.email, "Kim@Example.com");
    assert_int_equal(m.created_ms, T0);

    /* every session of before ends at once; the token is used up */
    assert_int_equal(session_get(f, 0x51, T0 + MIN, &g), SV_STORE_NO_SESSION);
    assert_int_equal(session_get(f, 0x52, T0 + MIN, &g), SV_STORE_NO_SESSION);
    assert_int_equal(reset(f, PHONE_A, 0x71, T0 + MIN, NULL),
                     SV_STORE_NO_TOKEN);

    /* a session of the new epoch is good */
    assert_int_equal(session_start(f, 0x53, id, m.epoch, T0 + MIN, NULL),
                     SV_STORE_OK);
    assert_int_equal(session_get(f, 0x53, T0 + MIN, &g), SV_STORE_OK);

    /* a second reset moves it on again */
    assert_int_equal(verify_for(f, PHONE_A, SV_PURPOSE_RESET, 0x72, T0 + MIN,
                                NULL),
                     SV_STORE_OK);
    assert_int_equal(reset(f, PHONE_A, 0x72, T0 + MIN, NULL), SV_STORE_OK);
    assert_int_equal(member_find(f, NULL, PHONE_A, SV_STORE_OK).epoch, 2);
    assert_int_equal(session_get(f, 0x53, T0 + MIN, &g), SV_STORE_NO_SESSION);
}


static void
test_reset_not_member(void **state)
{
    fx_t  *f = *state;

    /* a reset token for a phone whose member is gone */
    assert_int_equal(verify_for(f, PHONE_B, SV_PURPOSE_RESET, 0x71, T0,
                                NULL),
                     SV_STORE_OK);
    assert_int_equal(reset_check(f, PHONE_B, 0x71, T0), SV_STORE_NOT_MEMBER);
    assert_int_equal(reset(f, PHONE_B, 0x71, T0, NULL), SV_STORE_NOT_MEMBER);
    assert_int_equal(stats(f).members, 0);
}


/* A reset takes its token first: a second reset with it finds none. */
static void
test_reset_takes_token_first(void **state)
{
    fx_t  *f = *state;

    /* the member is gone after the check: the token is used all the same */

    (void) member_a(f);
    assert_int_equal(verify_for(f, PHONE_B, SV_PURPOSE_RESET, 0x73, T0,
                                NULL),
                     SV_STORE_OK);
    assert_int_equal(reset(f, PHONE_B, 0x73, T0, NULL), SV_STORE_NOT_MEMBER);
    assert_int_equal(token_check_for(f, 0x73, PHONE_B, SV_PURPOSE_RESET, T0),
                     SV_STORE_NO_TOKEN);
}


/* The phone a token proves, for smsverify_auth verified: a read. */
static void
test_token_phone(void **state)
{
    fx_t      *f = *state;
    char       phone[SV_STORE_PHONE_MAX + 1];
    uint8_t    thash[SV_HASH_SIZE];

    assert_int_equal(verify_for(f, PHONE_B, SV_PURPOSE_SIGNUP, 0x74, T0,
                                NULL),
                     SV_STORE_OK);
    hash_of(thash, 0x74);

    assert_int_equal(sv_store_token_phone(f->st, thash, SV_PURPOSE_SIGNUP,
                                          T0, phone, f->err,
                                          sizeof(f->err)),
                     SV_STORE_OK);
    assert_string_equal(phone, PHONE_B);

    /* not used up: it still proves the phone to a signup */
    assert_int_equal(token_check_for(f, 0x74, PHONE_B, SV_PURPOSE_SIGNUP, T0),
                     SV_STORE_OK);

    /* another purpose, expired, unknown: none, and no phone given */
    assert_int_equal(sv_store_token_phone(f->st, thash, SV_PURPOSE_RESET, T0,
                                          phone, f->err, sizeof(f->err)),
                     SV_STORE_NO_TOKEN);
    assert_string_equal(phone, "");
    assert_int_equal(sv_store_token_phone(f->st, thash, SV_PURPOSE_SIGNUP,
                                          T0 + 30 * MIN, phone, f->err,
                                          sizeof(f->err)),
                     SV_STORE_NO_TOKEN);
    hash_of(thash, 0x75);
    assert_int_equal(sv_store_token_phone(f->st, thash, SV_PURPOSE_SIGNUP,
                                          T0, phone, f->err,
                                          sizeof(f->err)),
                     SV_STORE_NO_TOKEN);
}


/* A reset's commit is synced as a signup's, whatever sync says. */
static void
test_reset_synced(void **state)
{
    fx_t  *f = *state;

    member_a(f);
    assert_int_equal(verify_for(f, PHONE_A, SV_PURPOSE_RESET, 0x71, T0,
                                NULL),
                     SV_STORE_OK);

    syncs_members = 0;
    syncs_codes = 0;

    assert_int_equal(reset(f, PHONE_A, 0x71, T0, NULL), SV_STORE_OK);
    assert_true(syncs_members > 0);
    assert_int_equal(syncs_codes, 0);

    /* sessions and failures are codes: lazily synced */
    syncs_members = 0;
    assert_int_equal(session_start(f, 0x51, 1, 1, T0, "p:" PHONE_A),
                     SV_STORE_OK);
    assert_int_equal(login_failed(f, "p:" PHONE_A, T0), SV_STORE_OK);
    assert_int_equal(session_touch(f, 0x51, T0 + HOUR), SV_STORE_OK);
    assert_int_equal(syncs_members, 0);
    assert_int_equal(syncs_codes, 0);

    /* and the member is on disk: reopened, the new hash and epoch */
    fx_close(f);
    fx_open(f, MAP_SIZE, 1);
    assert_int_equal(member_find(f, "kim@example.com", NULL,
                                 SV_STORE_OK).epoch, 1);
}


/* Accounts: members. */

static void
test_member_find(void **state)
{
    fx_t              *f = *state;
    uint64_t           id;
    sv_member_info_t   m;

    id = member_a(f);

    m = member_find(f, "kim@example.com", NULL, SV_STORE_OK);
    assert_int_equal(m.id, id);
    assert_string_equal(m.email, "Kim@Example.com");
    assert_string_equal(m.phone, PHONE_A);
    assert_string_equal(m.nickname, "\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99");
    assert_string_equal(m.password_hash, "$2b$12$abcdefghijklmnopqrstuu"
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ012");
    assert_int_equal(m.nterms, 2);
    assert_int_equal(m.terms[0], 1);
    assert_int_equal(m.terms[1], 2);
    assert_int_equal(m.created_ms, T0);
    assert_int_equal(m.epoch, 0);

    m = member_find(f, NULL, PHONE_A, SV_STORE_OK);
    assert_int_equal(m.id, id);

    /* the email key is the folded one: the caller folds */
    member_find(f, "Kim@Example.com", NULL, SV_STORE_NOT_MEMBER);
    member_find(f, "lee@example.com", NULL, SV_STORE_NOT_MEMBER);
    member_find(f, NULL, PHONE_B, SV_STORE_NOT_MEMBER);
}


/* A member as the seed wrote it, without an epoch: of epoch 0. */
static void
test_member_without_epoch(void **state)
{
    fx_t              *f = *state;
    char               buf[1024];
    uint8_t            key[8];
    sv_member_info_t   m;
    static const char  text[] =
        "{\"id\":7,\"email\":\"Old@Example.com\",\"phone\":\"" PHONE_B "\","
        "\"nickname\":\"old\",\"passwordHash\":\"$2b$12$seed\","
        "\"terms\":[1],\"createdAt\":1600000000000}";

    fx_close(f);
    id_key(7, key);
    raw_put(f->dir, "members", key, 8, text, sizeof(text) - 1);
    raw_put(f->dir, "emails", "old@example.com", 15, key, 8);
    raw_put(f->dir, "phones", PHONE_B, strlen(PHONE_B), key, 8);
    fx_open(f, MAP_SIZE, 1);

    m = member_find(f, "old@example.com", NULL, SV_STORE_OK);
    assert_int_equal(m.id, 7);
    assert_int_equal(m.epoch, 0);
    assert_string_equal(m.password_hash, "$2b$12$seed");
    assert_int_equal(m.created_ms, 1600000000000LL);

    /* a reset writes it again, whole, with its epoch */
    assert_int_equal(verify_for(f, PHONE_B, SV_PURPOSE_RESET, 0x71, T0,
                                NULL),
                     SV_STORE_OK);
    assert_int_equal(reset(f, PHONE_B, 0x71, T0, NULL), SV_STORE_OK);
    fx_close(f);

    assert_true(raw_get(f->dir, "members", key, 8, buf, sizeof(buf)) > 0);
    assert_string_equal(buf,
        "{\"id\":7,\"email\":\"Old@Example.com\",\"phone\":\"" PHONE_B "\","
        "\"nickname\":\"old\",\"passwordHash\":\"" NEW_HASH "\","
        "\"terms\":[1],\"createdAt\":1600000000000,\"epoch\":1}");
    fx_open(f, MAP_SIZE, 1);
}


static void
test_member_rehash(void **state)
{
    fx_t              *f = *state;
    uint64_t           id;
    sv_member_info_t   m;

    id = member_a(f);
    m = member_find(f, NULL, PHONE_A, SV_STORE_OK);

    /* only from the hash the login verified: a reset meanwhile wins */
    assert_int_equal(sv_store_member_rehash(f->st, id, "$2b$04$other",
                                            NEW_HASH, f->err,
                                            sizeof(f->err)),
                     SV_STORE_OK);
    assert_string_equal(member_find(f, NULL, PHONE_A,
                                    SV_STORE_OK).password_hash,
                        m.password_hash);

    assert_int_equal(sv_store_member_rehash(f->st, id, m.password_hash,
                                            NEW_HASH, f->err,
                                            sizeof(f->err)),
                     SV_STORE_OK);
    m = member_find(f, NULL, PHONE_A, SV_STORE_OK);
    assert_string_equal(m.password_hash, NEW_HASH);
    assert_int_equal(m.epoch, 0);           /* its sessions live on */

    assert_int_equal(sv_store_member_rehash(f->st, id + 1, NEW_HASH,
                                            NEW_HASH, f->err,
                                            sizeof(f->err)),
                     SV_STORE_NOT_MEMBER);
}


/* Accounts: logins. */

static void
test_login_lock(void **state)
{
    fx_t     *f = *state;
    int       i;
    int64_t   retry;

    for (i = 0; i < 5; i++) {
        assert_int_equal(login_allowed(f, "e:kim@example.com", T0 + i * MIN,
                                       &retry),
                         SV_STORE_OK);
        assert_int_equal(login_failed(f, "e:kim@example.com", T0 + i * MIN),
                         SV_STORE_OK);
    }

    /* locked until the oldest failure leaves the 15 minutes */
    assert_int_equal(login_allowed(f, "e:kim@example.com", T0 + 5 * MIN,
                                   &retry),
                     SV_STORE_LOCKED);
    assert_int_equal(retry, 10 * MIN);

    /* per account, member or not */
    assert_int_equal(login_allowed(f, "e:lee@example.com", T0 + 5 * MIN,
                                   NULL),
                     SV_STORE_OK);
    assert_int_equal(login_allowed(f, "p:" PHONE_A, T0 + 5 * MIN, NULL),
                     SV_STORE_OK);

    assert_int_equal(login_allowed(f, "e:kim@example.com", T0 + 15 * MIN - 1,
                                   &retry),
                     SV_STORE_LOCKED);
    assert_int_equal(retry, 1);
    assert_int_equal(login_allowed(f, "e:kim@example.com", T0 + 15 * MIN,
                                   NULL),
                     SV_STORE_OK);
}


/* A login forgets the account's failures. */
static void
test_login_clears_failures(void **state)
{
    fx_t  *f = *state;
    int    i;

    for (i = 0; i < 4; i++) {
        assert_int_equal(login_failed(f, "p:" PHONE_A, T0), SV_STORE_OK);
        assert_int_equal(login_failed(f, "e:kim@example.com", T0),
                         SV_STORE_OK);
    }

    assert_int_equal(session_start(f, 0x51, 1, 0, T0, "p:" PHONE_A),
                     SV_STORE_OK);

    /* one more failure each: the phone's count started afresh */
    assert_int_equal(login_failed(f, "p:" PHONE_A, T0), SV_STORE_OK);
    assert_int_equal(login_failed(f, "e:kim@example.com", T0), SV_STORE_OK);
    assert_int_equal(login_allowed(f, "p:" PHONE_A, T0, NULL), SV_STORE_OK);
    assert_int_equal(login_allowed(f, "e:kim@example.com", T0, NULL),
                     SV_STORE_LOCKED);
}


static void
test_login_bad_arguments(void **state)
{
    fx_t        *f = *state;
    sv_login_t   l;
    char         long_account[SV_STORE_ACCOUNT_MAX + 2];

    assert_int_equal(login_allowed(f, "kim@example.com", T0, NULL),
                     SV_STORE_ERROR);
    assert_int_equal(login_failed(f, "e:", T0), SV_STORE_ERROR);

    memset(long_account, 'a', sizeof(long_account) - 1);
    long_account[0] = 'e';
    long_account[1] = ':';
    long_account[sizeof(long_account) - 1] = '\0';
    assert_int_equal(login_failed(f, long_account, T0), SV_STORE_ERROR);
    long_account[sizeof(long_account) - 2] = '\0';
    assert_int_equal(login_failed(f, long_account, T0), SV_STORE_OK);

    l = login_of("e:kim@example.com", T0);
    l.limit = 0;
    assert_int_equal(sv_store_login_allowed(f->st, &l, f->err,
                                            sizeof(f->err)),
                     SV_STORE_ERROR);
    l.limit = SV_LOGIN_LIMIT_MAX + 1;
    assert_int_equal(sv_store_login_failed(f->st, &l, f->err,
                                           sizeof(f->err)),
                     SV_STORE_ERROR);

    /* a session without a hash, or ended before it starts */
    {
        sv_session_t  s;

        memset(&s, 0, sizeof(s));
        s.now_ms = T0;
        s.expires_ms = T0 + WEEK;
        s.idle_ms = DAY;
        assert_int_equal(sv_store_session_start(f->st, &s, f->err,
                                                sizeof(f->err)),
                         SV_STORE_ERROR);
    }

    assert_int_equal(reset_of(f, PHONE_A, 0x71, T0, "", 0, NULL),
                     SV_STORE_ERROR);
    assert_int_equal(sv_store_member_rehash(f->st, 1, NEW_HASH, NEW_HASH "x"
                                            "0123456789", f->err,
                                            sizeof(f->err)),
                     SV_STORE_ERROR);
    assert_int_equal(sv_store_code_put(f->st, PHONE_A,
                                       (const uint8_t *) NEW_HASH, T0, 5,
                                       (sv_purpose_t) 7, f->err,
                                       sizeof(f->err)),
                     SV_STORE_ERROR);
}


/* Accounts: sessions. */

static void
test_session_start_get(void **state)
{
    fx_t              *f = *state;
    uint64_t           id;
    sv_session_get_t   g;

    id = member_a(f);
    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);

    assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_OK);
    assert_int_equal(g.member.id, id);
    assert_string_equal(g.member.email, "Kim@Example.com");
    assert_string_equal(g.member.phone, PHONE_A);
    assert_string_equal(g.member.nickname,
                        "\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99");
    assert_int_equal(g.member.nterms, 2);
    assert_int_equal(g.member.created_ms, T0);
    assert_int_equal(g.expires_in_ms, DAY);
    assert_int_equal(g.stale, 0);

    /* unknown, ended */
    assert_int_equal(session_get(f, 0x52, T0, &g), SV_STORE_NO_SESSION);
    assert_int_equal(session_end(f, 0x51), SV_STORE_OK);
    assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_NO_SESSION);
    assert_int_equal(session_end(f, 0x51), SV_STORE_OK);
    assert_int_equal(session_touch(f, 0x51, T0), SV_STORE_OK);
    assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_NO_SESSION);

#ifdef SV_TEST_PG
    /* PostgreSQL's reads wait on the network */
    assert_int_equal(sv_store_reads_wait_free(f->st), 0);
#else
    assert_int_equal(sv_store_reads_wait_free(f->st), 1);
#endif
}


static void
test_session_idle_stale_touch(void **state)
{
    fx_t              *f = *state;
    uint64_t           id;
    sv_session_get_t   g;

    id = member_a(f);
    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);

    /* stale past a tenth of idle: the caller touches it */
    assert_int_equal(session_get(f, 0x51, T0 + DAY / 10, &g), SV_STORE_OK);
    assert_int_equal(g.stale, 0);
    assert_int_equal(session_get(f, 0x51, T0 + DAY / 10 + 1, &g),
                     SV_STORE_OK);
    assert_int_equal(g.stale, 1);
    assert_int_equal(session_touch(f, 0x51, T0 + DAY / 10 + 1), SV_STORE_OK);
    assert_int_equal(session_get(f, 0x51, T0 + DAY / 10 + 1, &g),
                     SV_STORE_OK);
    assert_int_equal(g.stale, 0);

    /* the touch moved the idle end on */
    assert_int_equal(session_get(f, 0x51, T0 + DAY + DAY / 10, &g),
                     SV_STORE_OK);
    assert_int_equal(session_get(f, 0x51, T0 + DAY + DAY / 10 + 1, &g),
                     SV_STORE_NO_SESSION);

    /* idle: a touch does not bring it back (it goes) */
    assert_int_equal(session_touch(f, 0x51, T0 + 2 * DAY), SV_STORE_OK);
    assert_int_equal(session_get(f, 0x51, T0 + DAY, &g), SV_STORE_NO_SESSION);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "sessions"), 0);
    fx_open(f, MAP_SIZE, 1);
}


static void
test_session_expires(void **state)
{
    fx_t              *f = *state;
    int                i;
    uint64_t           id;
    sv_session_get_t   g;

    id = member_a(f);
    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);

    /* used every 20 hours (the last at 160), still over at the week's end */
    for (i = 1; i <= 8; i++) {
        assert_int_equal(session_touch(f, 0x51, T0 + i * 20 * HOUR),
                         SV_STORE_OK);
    }

    assert_int_equal(session_get(f, 0x51, T0 + WEEK - HOUR, &g),
                     SV_STORE_OK);
    assert_int_equal(g.expires_in_ms, HOUR);
    assert_int_equal(session_get(f, 0x51, T0 + WEEK, &g),
                     SV_STORE_NO_SESSION);
}


/* A member deleted (by hand, here): its sessions end. */
static void
test_session_member_gone(void **state)
{
    fx_t              *f = *state;
    uint8_t            key[8];
    uint64_t           id;
    MDB_env           *env;
    MDB_txn           *txn;
    MDB_val            k;
    sv_session_get_t   g;

    id = member_a(f);
    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);
    assert_int_equal(session_start(f, 0x52, id + 1, 0, T0, NULL),
                     SV_STORE_OK);
    assert_int_equal(session_get(f, 0x52, T0, &g), SV_STORE_NO_SESSION);
    fx_close(f);

    id_key(id, key);
    env = raw_open(f->dir, "members");
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    k.mv_data = key;
    k.mv_size = 8;
    assert_int_equal(mdb_del(txn, raw_dbi(txn, "members"), &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    fx_open(f, MAP_SIZE, 1);
    assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_NO_SESSION);
}


/*
 * A fresh process that begins a write transaction in both parts, says
 * so on stdout, and holds them until its stdin ends.
 */
static int
hold_child(const char *dir)
{
    int                 k;
    char                c;
    MDB_env            *envs[2];
    MDB_txn            *txns[2];
    static const char  *parts[2] = { "sessions", "members" };

    for (k = 0; k < 2; k++) {
        envs[k] = raw_open(dir, parts[k]);

        if (mdb_txn_begin(envs[k], NULL, 0, &txns[k]) != 0) {
            return 1;
        }
    }

    if (write(1, "x", 1) != 1) {
        return 1;
    }

    while (read(0, &c, 1) > 0) {
        /* void */
    }

    for (k = 0; k < 2; k++) {
        mdb_txn_abort(txns[k]);
        mdb_env_close(envs[k]);
    }

    return 0;
}


static uint64_t
last_txnid(const char *dir, const char *db)
{
    MDB_env      *env;
    MDB_envinfo   info;

    env = raw_open(dir, db);
    assert_int_equal(mdb_env_info(env, &info), 0);
    mdb_env_close(env);

    return info.me_last_txnid;
}


/*
 * session_get may run on the event loop: it waits for no writer (another
 * process holds both parts' write locks meanwhile) and writes nothing
 * (no new transaction in either part).
 */
static void
test_session_get_reads_only(void **state)
{
    fx_t              *f = *state;
    int                status, to[2], from[2];
    char               c;
    pid_t              pid;
    uint64_t           id, sessions, members;
    sv_session_get_t   g;

    id = member_a(f);
    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);
    fx_close(f);
    sessions = last_txnid(f->dir, "sessions");
    members = last_txnid(f->dir, "members");
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        execlp(argv0, argv0, "--hold", f->dir, (char *) NULL);
        _exit(127);
    }

    close(to[0]);
    close(from[1]);
    assert_int_equal(read(from[0], &c, 1), 1);

    /* the writers hold their locks: a wait here would never end */
    alarm(10);
    assert_int_equal(session_get(f, 0x51, T0 + DAY / 2, &g), SV_STORE_OK);
    assert_int_equal(g.stale, 1);
    assert_int_equal(g.member.id, id);
    assert_int_equal(session_get(f, 0x52, T0, &g), SV_STORE_NO_SESSION);
    alarm(0);

    close(to[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(from[0]);

    fx_close(f);
    assert_true(last_txnid(f->dir, "sessions") == sessions);
    assert_true(last_txnid(f->dir, "members") == members);
    fx_open(f, MAP_SIZE, 1);
}


/* The sweep deletes ended sessions and failures no window needs. */
static void
test_sweep_sessions_logins(void **state)
{
    fx_t              *f = *state;
    uint64_t           id;
    sv_session_get_t   g;

    /* a member there: PostgreSQL stores no session of a member it lacks */
    id = member_a(f);

    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);
    assert_int_equal(session_start(f, 0x52, id, 0, T0, NULL), SV_STORE_OK);
    assert_int_equal(session_touch(f, 0x52, T0 + 20 * HOUR), SV_STORE_OK);
    assert_int_equal(login_failed(f, "e:a@example.com", T0), SV_STORE_OK);
    assert_int_equal(login_failed(f, "e:b@example.com", T0 + 10 * MIN),
                     SV_STORE_OK);

    /* at T0 + 15 min: a's failure has left its window, b's not */
    assert_int_equal(sv_store_sweep(f->st, T0 + 15 * MIN, 0, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "logins"), 1);
    assert_int_equal(raw_entries(f->dir, "sessions"), 2);
    fx_open(f, MAP_SIZE, 1);

    /* a day on: 0x51 idled out, 0x52 was used since */
    assert_int_equal(sv_store_sweep(f->st, T0 + DAY, 0, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "logins"), 0);
    assert_int_equal(raw_entries(f->dir, "sessions"), 1);
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(session_get(f, 0x52, T0 + DAY, &g), SV_STORE_OK);
    assert_int_equal(g.member.id, id);
    assert_int_equal(sv_store_sweep(f->st, T0 + WEEK, 0, 100, f->err,
                                    sizeof(f->err)),
                     SV_STORE_OK);
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "sessions"), 0);
    fx_open(f, MAP_SIZE, 1);
}


/* Records of the accounts that are not what they should be. */
static void
test_corrupt_account_records(void **state)
{
    fx_t              *f = *state;
    uint8_t            hash[SV_HASH_SIZE], key[8];
    sv_session_get_t   g;

    hash_of(hash, 0x51);
    id_key(9, key);

    fx_close(f);
    raw_put(f->dir, "sessions", hash, SV_HASH_SIZE, "short", 5);
    raw_put(f->dir, "logins", "e:a@example.com", 15, "\x09", 1);
    raw_put(f->dir, "members", key, 8, "{\"id\":9}", 8);
    raw_put(f->dir, "emails", "z@example.com", 13, key, 8);
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "sessions"));
    assert_int_equal(login_allowed(f, "e:a@example.com", T0, NULL),
                     SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "logins"));
    member_find(f, "z@example.com", NULL, SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "members"));
}



/* Admin. */

static sv_member_info_t
import_member(uint64_t id, const char *email, const char *phone)
{
    sv_member_info_t  m;

    memset(&m, 0, sizeof(m));
    m.id = id;
    snprintf(m.email, sizeof(m.email), "%s", email);
    snprintf(m.phone, sizeof(m.phone), "%s", phone);
    snprintf(m.nickname, sizeof(m.nickname), "n%llu", (unsigned long long) id);
    snprintf(m.password_hash, sizeof(m.password_hash),
             "$2b$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ012");
    m.terms[0] = 1;
    m.terms[1] = 3;
    m.nterms = 2;
    m.created_ms = T0 - DAY;
    m.epoch = 7;                        /* ignored: an import starts at 0 */

    return m;
}


static sv_store_rc_t
import(fx_t *f, sv_member_info_t *members, size_t n, size_t *bad)
{
    sv_store_rc_t       rc;
    sv_member_import_t  im;

    im.members = members;
    im.n = n;
    im.bad = 12345;

    rc = sv_store_member_import(f->st, &im, f->err, sizeof(f->err));

    if (bad != NULL) {
        *bad = im.bad;
    }

    return rc;
}


static sv_store_rc_t
page(fx_t *f, uint64_t after, size_t limit, sv_member_page_t *p,
    sv_member_info_t *room)
{
    memset(p, 0, sizeof(*p));
    p->after = after;
    p->limit = limit;
    p->members = room;

    return sv_store_member_page(f->st, p, f->err, sizeof(f->err));
}


static sv_store_rc_t
member_delete(fx_t *f, uint64_t id, sv_member_delete_t *d)
{
    memset(d, 0, sizeof(*d));
    d->id = id;
    d->now_ms = T0;

    return sv_store_member_delete(f->st, d, f->err, sizeof(f->err));
}


static void
test_admin_page(void **state)
{
    fx_t              *f = *state;
    uint64_t           id;
    sv_member_page_t   p;
    sv_member_info_t   room[4];

    assert_int_equal(page(f, 0, 4, &p, room), SV_STORE_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.more, 0);

    member_a(f);
    verify(f, PHONE_B, 0x71, T0);
    assert_int_equal(signup(f, "lee@example.com", PHONE_B, 0x71, T0, &id),
                     SV_STORE_OK);
    verify(f, PHONE_C, 0x72, T0);
    assert_int_equal(signup(f, "park@example.com", PHONE_C, 0x72, T0, &id),
                     SV_STORE_OK);

    assert_int_equal(page(f, 0, 2, &p, room), SV_STORE_OK);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.more, 1);
    assert_int_equal(room[0].id, 1);
    assert_int_equal(room[1].id, 2);
    assert_string_equal(room[1].email, "lee@example.com");
    assert_string_equal(room[1].phone, PHONE_B);
    assert_int_equal(room[1].nterms, 2);
    assert_int_equal(room[1].created_ms, T0);

    assert_int_equal(page(f, 2, 2, &p, room), SV_STORE_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.more, 0);
    assert_int_equal(room[0].id, 3);

    /* a page that ends at the last member has no more */
    assert_int_equal(page(f, 0, 3, &p, room), SV_STORE_OK);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.more, 0);

    assert_int_equal(page(f, 3, 4, &p, room), SV_STORE_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(page(f, SV_STORE_ID_MAX, 4, &p, room), SV_STORE_OK);
    assert_int_equal(p.n, 0);
    assert_int_equal(page(f, UINT64_MAX, 4, &p, room), SV_STORE_OK);
    assert_int_equal(p.n, 0);

    /* a gap left by a deletion is skipped */
    {
        sv_member_delete_t  d;

        assert_int_equal(member_delete(f, 2, &d), SV_STORE_OK);
    }
    assert_int_equal(page(f, 1, 1, &p, room), SV_STORE_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(room[0].id, 3);

    assert_int_equal(page(f, 0, 0, &p, room), SV_STORE_ERROR);
    assert_int_equal(page(f, 0, SV_STORE_PAGE_MAX + 1, &p, room),
                     SV_STORE_ERROR);
    assert_int_equal(page(f, 0, 2, &p, NULL), SV_STORE_ERROR);
}


static void
test_admin_get(void **state)
{
    fx_t              *f = *state;
    uint64_t           id;
    sv_member_info_t   m;

    id = member_a(f);

    assert_int_equal(sv_store_member_get(f->st, id, &m, f->err,
                                         sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(m.id, id);
    assert_string_equal(m.email, "Kim@Example.com");
    assert_string_equal(m.phone, PHONE_A);

    assert_int_equal(sv_store_member_get(f->st, id + 1, &m, f->err,
                                         sizeof(f->err)),
                     SV_STORE_NOT_MEMBER);
    assert_int_equal(sv_store_member_get(f->st, 0, &m, f->err,
                                         sizeof(f->err)),
                     SV_STORE_ERROR);
    assert_int_equal(sv_store_member_get(f->st, SV_STORE_ID_MAX + 1, &m,
                                         f->err, sizeof(f->err)),
                     SV_STORE_ERROR);
}


static void
test_admin_delete(void **state)
{
    fx_t                *f = *state;
    uint64_t             id, other;
    sv_session_get_t     g;
    sv_member_delete_t   d;

    id = member_a(f);
    verify(f, PHONE_B, 0x71, T0);
    assert_int_equal(signup(f, "lee@example.com", PHONE_B, 0x71, T0, &other),
                     SV_STORE_OK);
    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);
    assert_int_equal(session_start(f, 0x52, id, 0, T0, NULL), SV_STORE_OK);
    assert_int_equal(session_start(f, 0x53, other, 0, T0, NULL), SV_STORE_OK);

    syncs_members = 0;
    assert_int_equal(member_delete(f, id, &d), SV_STORE_OK);
#ifndef SV_TEST_PG
    assert_true(syncs_members > 0);
#endif

    /* what the member.deleted event is made of */
    assert_int_equal(d.member.id, id);
    assert_string_equal(d.member.email, "Kim@Example.com");
    assert_string_equal(d.member.phone, PHONE_A);

    assert_int_equal(member_delete(f, id, &d), SV_STORE_NOT_MEMBER);
    assert_int_equal(member_delete(f, 99, &d), SV_STORE_NOT_MEMBER);
    assert_int_equal(member_delete(f, 0, &d), SV_STORE_ERROR);

    member_find(f, "kim@example.com", NULL, SV_STORE_NOT_MEMBER);
    member_find(f, NULL, PHONE_A, SV_STORE_NOT_MEMBER);
    assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_NO_SESSION);
    assert_int_equal(session_get(f, 0x52, T0, &g), SV_STORE_NO_SESSION);
    assert_int_equal(session_get(f, 0x53, T0, &g), SV_STORE_OK);
    assert_int_equal(member_find(f, "lee@example.com", NULL,
                                 SV_STORE_OK).id, other);
    assert_int_equal(stats(f).members, 1);

    /* the email and phone are free again; the id is not drawn again */
    verify(f, PHONE_A, 0x72, T0);
    assert_int_equal(signup(f, "KIM@example.com", PHONE_A, 0x72, T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 3);
    assert_int_equal(member_delete(f, 3, &d), SV_STORE_OK);
    verify(f, PHONE_A, 0x73, T0);
    assert_int_equal(signup(f, "kim@example.com", PHONE_A, 0x73, T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 4);

    /* the records are gone, not only unreachable */
    fx_close(f);
    assert_int_equal(raw_entries(f->dir, "sessions"), 1);
    assert_int_equal(raw_entries(f->dir, "members"), 2);
    assert_int_equal(raw_entries(f->dir, "emails"), 2);
    assert_int_equal(raw_entries(f->dir, "phones"), 2);
    fx_open(f, MAP_SIZE, 1);
}


static void
test_admin_import(void **state)
{
    fx_t              *f = *state;
    size_t             bad;
    uint64_t           id;
    sv_member_info_t   m[3], got;

    m[0] = import_member(5, "Five@Example.com", PHONE_B);
    m[1] = import_member(9, "nine@example.com", PHONE_C);

    syncs_members = 0;
    assert_int_equal(import(f, m, 2, NULL), SV_STORE_OK);
#ifndef SV_TEST_PG
    assert_true(syncs_members > 0);
#endif

    assert_int_equal(sv_store_member_get(f->st, 5, &got, f->err,
                                         sizeof(f->err)),
                     SV_STORE_OK);
    assert_string_equal(got.email, "Five@Example.com");
    assert_string_equal(got.phone, PHONE_B);
    assert_string_equal(got.nickname, "n5");
    assert_string_equal(got.password_hash, m[0].password_hash);
    assert_int_equal(got.nterms, 2);
    assert_int_equal(got.terms[1], 3);
    assert_int_equal(got.created_ms, T0 - DAY);
    assert_int_equal(got.epoch, 0);
    assert_int_equal(member_find(f, "five@example.com", NULL,
                                 SV_STORE_OK).id, 5);
    assert_int_equal(member_find(f, NULL, PHONE_C, SV_STORE_OK).id, 9);

    /* a signup after it gets an id above every imported one */
    id = member_a(f);
    assert_int_equal(id, 10);

    /* all or none: the first taken one is named */
    m[0] = import_member(20, "twenty@example.com", "+821020000020");
    m[1] = import_member(9, "x@example.com", "+821020000021");
    assert_int_equal(import(f, m, 2, &bad), SV_STORE_ID_TAKEN);
    assert_int_equal(bad, 1);

    m[1] = import_member(21, "NINE@example.com", "+821020000021");
    assert_int_equal(import(f, m, 2, &bad), SV_STORE_EMAIL_TAKEN);
    assert_int_equal(bad, 1);

    m[1] = import_member(21, "y@example.com", PHONE_A);
    assert_int_equal(import(f, m, 2, &bad), SV_STORE_PHONE_TAKEN);
    assert_int_equal(bad, 1);

    /* within the import too */
    m[1] = import_member(21, "y@example.com", "+821020000021");
    m[2] = import_member(20, "z@example.com", "+821020000022");
    assert_int_equal(import(f, m, 3, &bad), SV_STORE_ID_TAKEN);
    assert_int_equal(bad, 2);
    m[2] = import_member(22, "Y@EXAMPLE.COM", "+821020000022");
    assert_int_equal(import(f, m, 3, &bad), SV_STORE_EMAIL_TAKEN);
    assert_int_equal(bad, 2);
    m[2] = import_member(22, "z@example.com", "+821020000021");
    assert_int_equal(import(f, m, 3, &bad), SV_STORE_PHONE_TAKEN);
    assert_int_equal(bad, 2);

    member_find(f, "twenty@example.com", NULL, SV_STORE_NOT_MEMBER);
    member_find(f, NULL, "+821020000021", SV_STORE_NOT_MEMBER);
    assert_int_equal(stats(f).members, 3);

    /* a refused import moved no id */
    verify(f, "+821020000030", 0x74, T0);
    assert_int_equal(signup(f, "after@example.com", "+821020000030", 0x74,
                            T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 11);

    /* an id below the next keeps it: the next is still above */
    m[0] = import_member(3, "three@example.com", "+821020000003");
    assert_int_equal(import(f, m, 1, NULL), SV_STORE_OK);
    verify(f, "+821020000031", 0x75, T0);
    assert_int_equal(signup(f, "after2@example.com", "+821020000031", 0x75,
                            T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 12);

    /* what the store cannot keep is refused before it is asked */
    assert_int_equal(import(f, m, 0, NULL), SV_STORE_ERROR);
    assert_int_equal(import(f, NULL, 1, NULL), SV_STORE_ERROR);
    m[0] = import_member(0, "a@example.com", "+821020000040");
    assert_int_equal(import(f, m, 1, NULL), SV_STORE_ERROR);
    m[0] = import_member(SV_STORE_ID_MAX + 1, "a@example.com",
                         "+821020000040");
    assert_int_equal(import(f, m, 1, NULL), SV_STORE_ERROR);
    m[0] = import_member(40, "a@example.com", "+821020000040");
    m[1] = import_member(41, "b@example.com", "+821020000041");
    m[1].password_hash[0] = '\0';
    assert_int_equal(import(f, m, 2, &bad), SV_STORE_ERROR);
    assert_int_equal(bad, 1);
    m[1] = import_member(41, "", "+821020000041");
    assert_int_equal(import(f, m, 2, NULL), SV_STORE_ERROR);
    m[1] = import_member(41, "b@example.com", "+821020000041");
    m[1].nterms = SV_STORE_TERMS_MAX + 1;
    assert_int_equal(import(f, m, 2, NULL), SV_STORE_ERROR);
    m[1].nterms = 0;
    m[1].created_ms = -1;
    assert_int_equal(import(f, m, 2, NULL), SV_STORE_ERROR);
    member_find(f, "a@example.com", NULL, SV_STORE_NOT_MEMBER);

    /* kept across a reopen, with its next id */
    fx_close(f);
    fx_open(f, MAP_SIZE, 1);
    assert_int_equal(member_find(f, "three@example.com", NULL,
                                 SV_STORE_OK).id, 3);
    verify(f, "+821020000032", 0x76, T0);
    assert_int_equal(signup(f, "after3@example.com", "+821020000032", 0x76,
                            T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 13);
}


static void
test_admin_limits_clear(void **state)
{
    fx_t     *f = *state;
    int64_t   retry;

    assert_int_equal(send_at(f, PHONE_A, T0, 0, 2, HOUR, NULL), SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + 1, 0, 2, HOUR, NULL),
                     SV_STORE_OK);
    put_code(f, PHONE_A, 0x42, T0 + 3 * MIN, 5);
    assert_int_equal(send_at(f, PHONE_A, T0 + 2, 0, 2, HOUR, &retry),
                     SV_STORE_SEND_LIMIT);
    assert_int_equal(send_at(f, PHONE_B, T0, 0, 2, HOUR, NULL), SV_STORE_OK);
    put_code(f, PHONE_B, 0x43, T0 + 3 * MIN, 5);

    assert_int_equal(sv_store_limits_clear(f->st, PHONE_A, f->err,
                                           sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(confirm(f, PHONE_A, 0x42, T0 + 3, 0x60, T0 + HOUR,
                             NULL),
                     SV_STORE_NO_CODE);
    assert_int_equal(send_at(f, PHONE_A, T0 + 3, 0, 2, HOUR, NULL),
                     SV_STORE_OK);
    assert_int_equal(send_at(f, PHONE_A, T0 + 4, 0, 2, HOUR, NULL),
                     SV_STORE_OK);

    /* another phone keeps its counts and its code */
    assert_int_equal(send_at(f, PHONE_B, T0 + 1, 0, 1, HOUR, NULL),
                     SV_STORE_SEND_LIMIT);
    assert_int_equal(confirm(f, PHONE_B, 0x43, T0 + 3, 0x61, T0 + HOUR,
                             NULL),
                     SV_STORE_OK);

    /* nothing to clear is cleared too; a bad phone is refused */
    assert_int_equal(sv_store_limits_clear(f->st, PHONE_C, f->err,
                                           sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(sv_store_limits_clear(f->st, "", f->err,
                                           sizeof(f->err)),
                     SV_STORE_ERROR);
}


/* An import of more members than a batch of PostgreSQL's holds. */
static void
test_admin_import_many(void **state)
{
    fx_t              *f = *state;
    char               email[64], phone[32];
    size_t             i, n, bad;
    uint64_t           id;
    sv_member_page_t   pg;
    sv_member_info_t  *m, got[1];

    n = 2500;
    m = calloc(n, sizeof(sv_member_info_t));
    assert_non_null(m);

    for (i = 0; i < n; i++) {
        snprintf(email, sizeof(email), "m%zu@example.com", i + 1);
        snprintf(phone, sizeof(phone), "+8210%08zu", 30000000 + i);
        m[i] = import_member(i + 1, email, phone);
    }

    /* the last one takes the first one's email: none is imported */
    snprintf(m[n - 1].email, sizeof(m[n - 1].email), "M1@example.com");
    assert_int_equal(import(f, m, n, &bad), SV_STORE_EMAIL_TAKEN);
    assert_int_equal(bad, n - 1);
    assert_int_equal(stats(f).members, 0);

    snprintf(m[n - 1].email, sizeof(m[n - 1].email), "last@example.com");
    snprintf(m[n - 1].nickname, sizeof(m[n - 1].nickname), "a\"b\\c");
    assert_int_equal(import(f, m, n, NULL), SV_STORE_OK);
    assert_int_equal(stats(f).members, n);

    assert_int_equal(page(f, n - 1, 1, &pg, got), SV_STORE_OK);
    assert_int_equal(pg.n, 1);
    assert_int_equal(got[0].id, n);
    assert_string_equal(got[0].email, "last@example.com");
    assert_string_equal(got[0].nickname, "a\"b\\c");
    assert_int_equal(got[0].nterms, 2);
    assert_int_equal(got[0].terms[1], 3);
    assert_int_equal(got[0].created_ms, T0 - DAY);

    verify(f, PHONE_A, 0x70, T0);
    assert_int_equal(signup(f, "new@example.com", PHONE_A, 0x70, T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, n + 1);

    free(m);
}


/*
 * Members moved as the admin API moves them: export?hashes=1's lines of
 * an LMDB store, imported into this test's store (another LMDB store, or
 * PostgreSQL in test_store_on_pg): the same members, ids and passwords.
 */
static void
test_admin_move(void **state)
{
    fx_t                *f = *state;
    fx_t                 src;
    char                 hash[SV_PASSWORD_HASH_SIZE], *lines, *p, *eol;
    size_t               len, n, i;
    uint64_t             id;
    const char          *field;
    sv_member_page_t     pg;
    sv_store_conf_t      conf;
    sv_member_delete_t   d;
    sv_member_import_t   im;
    static sv_member_info_t  a[8], b[8], in[8];

    memset(&src, 0, sizeof(src));
    strcpy(src.dir, "/tmp/sv_store_move_XXXXXX");
    assert_non_null(mkdtemp(src.dir));

    memset(&conf, 0, sizeof(conf));
    conf.dir = src.dir;
    conf.map_size = MAP_SIZE;
    conf.max_readers = 16;
    assert_int_equal(sv_store_open(&src.st, &conf, src.err, sizeof(src.err)),
                     SV_STORE_OK);

    /* three members with real hashes, the second deleted: a gap */

    verify(&src, PHONE_A, 0x70, T0);
    assert_int_equal(signup(&src, "Kim@Example.com", PHONE_A, 0x70, T0, &id),
                     SV_STORE_OK);
    verify(&src, PHONE_B, 0x71, T0 + SEC);
    assert_int_equal(signup(&src, "gone@example.com", PHONE_B, 0x71,
                            T0 + SEC, &id),
                     SV_STORE_OK);
    verify(&src, PHONE_C, 0x72, T0 + 2 * SEC);
    assert_int_equal(signup(&src, "park@example.com", PHONE_C, 0x72,
                            T0 + 2 * SEC, &id),
                     SV_STORE_OK);
    assert_int_equal(member_delete(&src, 2, &d), SV_STORE_OK);

    assert_int_equal(page(&src, 0, 8, &pg, a), SV_STORE_OK);
    assert_int_equal(pg.n, 2);

    for (i = 0; i < pg.n; i++) {
        assert_int_equal(sv_password_hash("Passw0rd!", 9, 4, hash,
                                          sizeof(hash), src.err,
                                          sizeof(src.err)), 0);
        assert_int_equal(sv_store_member_rehash(src.st, a[i].id,
                                                a[i].password_hash, hash,
                                                src.err, sizeof(src.err)),
                         SV_STORE_OK);
    }

    assert_int_equal(page(&src, 0, 8, &pg, a), SV_STORE_OK);

    /* exported as export?hashes=1 writes it */

    lines = malloc(8 * SV_EXPORT_LINE_MAX);
    assert_non_null(lines);
    len = 0;

    for (i = 0; i < pg.n; i++) {
        n = sv_export_line(&a[i], 1, lines + len, 8 * SV_EXPORT_LINE_MAX - len);
        assert_true(n > 0);
        len += n;
    }

    sv_store_close(src.st);

    /* read back line by line, imported in one call */

    n = 0;

    for (p = lines; p < lines + len; p = eol + 1) {
        eol = strchr(p, '\n');
        assert_non_null(eol);
        assert_int_equal(sv_import_line(p, eol - p, &in[n], &field),
                         SV_LINE_OK);
        n++;
    }

    free(lines);

    im.members = in;
    im.n = n;
    assert_int_equal(sv_store_member_import(f->st, &im, f->err,
                                            sizeof(f->err)),
                     SV_STORE_OK);

    assert_int_equal(page(f, 0, 8, &pg, b), SV_STORE_OK);
    assert_int_equal(pg.n, 2);

    for (i = 0; i < pg.n; i++) {
        assert_int_equal(b[i].id, a[i].id);
        assert_string_equal(b[i].email, a[i].email);
        assert_string_equal(b[i].phone, a[i].phone);
        assert_string_equal(b[i].nickname, a[i].nickname);
        assert_string_equal(b[i].password_hash, a[i].password_hash);
        assert_int_equal(b[i].nterms, a[i].nterms);
        assert_memory_equal(b[i].terms, a[i].terms,
                            a[i].nterms * sizeof(int));

        /* createdAt is kept to the second, as the API writes it */
        assert_int_equal(b[i].created_ms, a[i].created_ms / 1000 * 1000);

        /* the password logs in */
        assert_int_equal(sv_password_verify("Passw0rd!", 9,
                                            b[i].password_hash), 1);
    }

    assert_int_equal(member_find(f, "kim@example.com", NULL,
                                 SV_STORE_OK).id, 1);
    assert_int_equal(member_find(f, NULL, PHONE_C, SV_STORE_OK).id, 3);

    /* a signup after it: above every imported id */
    verify(f, PHONE_B, 0x73, T0);
    assert_int_equal(signup(f, "new@example.com", PHONE_B, 0x73, T0, &id),
                     SV_STORE_OK);
    assert_int_equal(id, 4);

    remove_dir(src.dir);
}

/* The webhook outbox. */

static void
fx_reopen_outbox(fx_t *f)
{
    sv_store_conf_t  conf;

    fx_close(f);

    memset(&conf, 0, sizeof(conf));
#ifdef SV_TEST_PG
    conf.uri = pg_uri;
#endif
    conf.dir = f->dir;
    conf.map_size = MAP_SIZE;
    conf.nosync = 1;
    conf.max_readers = 64;
    conf.outbox = 1;

    assert_int_equal(sv_store_open(&f->st, &conf, f->err, sizeof(f->err)),
                     SV_STORE_OK);
}


static uint64_t
backlog(fx_t *f)
{
    uint64_t  n = 12345;

    assert_int_equal(sv_store_outbox_backlog(f->st, &n, f->err,
                                             sizeof(f->err)),
                     SV_STORE_OK);
    return n;
}


/* the event due at now, taken (lease ms), or found 0 */
static int
take(fx_t *f, int64_t now, int64_t lease, sv_outbox_event_t *ev)
{
    assert_int_equal(sv_store_outbox_take(f->st, now, lease, ev, f->err,
                                          sizeof(f->err)),
                     SV_STORE_OK);
    return ev->found;
}


static void
member_of(fx_t *f, const char *phone, const char *email, int token,
    int64_t now)
{
    verify(f, phone, token, now);
    assert_int_equal(signup(f, email, phone, token, now, NULL), SV_STORE_OK);
}


static void
test_outbox_off(void **state)
{
    fx_t               *f = *state;
    sv_outbox_event_t   ev;

    /* no webhook configured: no event is written */
    member_a(f);
    assert_int_equal(backlog(f), 0);
    assert_int_equal(take(f, T0 + HOUR, 10 * SEC, &ev), 0);
}


static void
test_outbox_events(void **state)
{
    fx_t               *f = *state;
    char                want[64];
    cJSON              *j, *d;
    uint64_t            id;
    sv_outbox_event_t   ev, ev2;

    fx_reopen_outbox(f);

    id = member_a(f);
    assert_int_equal(backlog(f), 1);

    assert_int_equal(take(f, T0, 10 * SEC, &ev), 1);
    assert_string_equal(ev.type, "member.created");
    assert_int_equal(ev.attempts, 0);
    assert_int_equal(ev.created_ms, T0);
    assert_int_equal(strlen(ev.msg_id), SV_OUTBOX_MSG_ID_MAX);
    assert_memory_equal(ev.msg_id, "msg_", 4);
    assert_int_equal(ev.lease_ms, T0 + 10 * SEC);

    j = cJSON_ParseWithLength(ev.body, ev.len);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring,
                        "member.created");
    assert_string_equal(cJSON_GetObjectItem(j, "timestamp")->valuestring,
                        "2023-11-14T22:13:20Z");
    d = cJSON_GetObjectItem(j, "data");
    assert_int_equal(cJSON_GetObjectItem(d, "memberId")->valuedouble, id);
    assert_string_equal(cJSON_GetObjectItem(d, "email")->valuestring,
                        "Kim@Example.com");
    assert_string_equal(cJSON_GetObjectItem(d, "phoneNumber")->valuestring,
                        PHONE_A);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "terms")), 2);
    assert_null(cJSON_GetObjectItem(d, "passwordHash"));
    assert_null(strstr(ev.body, "$2b$"));
    cJSON_Delete(j);

    /* one delivery at a time: the lease holds the others back */
    assert_int_equal(take(f, T0 + SEC, 10 * SEC, &ev2), 0);

    assert_int_equal(sv_store_outbox_done(f->st, &ev, f->err,
                                          sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(backlog(f), 0);
    assert_int_equal(take(f, T0 + SEC, 10 * SEC, &ev2), 0);

    /* a reset's event, of the member as it is now */
    assert_int_equal(verify_for(f, PHONE_A, SV_PURPOSE_RESET, 0x71, T0,
                                NULL),
                     SV_STORE_OK);
    assert_int_equal(reset(f, PHONE_A, 0x71, T0 + MIN, NULL), SV_STORE_OK);
    assert_int_equal(take(f, T0 + MIN, 10 * SEC, &ev2), 1);
    assert_string_equal(ev2.type, "member.password_changed");
    assert_string_not_equal(ev2.msg_id, ev.msg_id);
    snprintf(want, sizeof(want), "\"memberId\":%llu,",
             (unsigned long long) id);
    assert_non_null(strstr(ev2.body, want));
    assert_null(strstr(ev2.body, NEW_HASH));
}


static void
test_outbox_order_retry(void **state)
{
    fx_t               *f = *state;
    char                first[SV_OUTBOX_MSG_ID_MAX + 1];
    sv_outbox_event_t   ev;

    fx_reopen_outbox(f);

    member_of(f, PHONE_A, "a@example.com", 0x70, T0);
    member_of(f, PHONE_B, "b@example.com", 0x71, T0 + 1);
    member_of(f, PHONE_C, "c@example.com", 0x72, T0 + 2);
    assert_int_equal(backlog(f), 3);

    /* the oldest first; it fails: the next ones go meanwhile */
    assert_int_equal(take(f, T0 + 10, 10 * SEC, &ev), 1);
    assert_int_equal(ev.created_ms, T0);
    strcpy(first, ev.msg_id);
    assert_int_equal(sv_store_outbox_failed(f->st, &ev, T0 + 100, f->err,
                                            sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(ev.dropped, 0);
    assert_int_equal(ev.attempts, 1);
    assert_int_equal(ev.next_ms, T0 + 100 + 5 * SEC);

    assert_int_equal(take(f, T0 + 200, 10 * SEC, &ev), 1);
    assert_int_equal(ev.created_ms, T0 + 1);
    assert_int_equal(sv_store_outbox_done(f->st, &ev, f->err,
                                          sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(take(f, T0 + 300, 10 * SEC, &ev), 1);
    assert_int_equal(ev.created_ms, T0 + 2);
    assert_int_equal(sv_store_outbox_done(f->st, &ev, f->err,
                                          sizeof(f->err)),
                     SV_STORE_OK);

    /* the first waits for its time, then comes again under its id */
    assert_int_equal(take(f, T0 + 100 + 5 * SEC - 1, 10 * SEC, &ev), 0);
    assert_int_equal(take(f, T0 + 100 + 5 * SEC, 10 * SEC, &ev), 1);
    assert_string_equal(ev.msg_id, first);
    assert_int_equal(ev.attempts, 1);

    /* and again: 30 s */
    assert_int_equal(sv_store_outbox_failed(f->st, &ev, T0 + 6 * SEC, f->err,
                                            sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(ev.next_ms, T0 + 36 * SEC);
    assert_int_equal(backlog(f), 1);
}


static void
test_outbox_lease_expires(void **state)
{
    fx_t               *f = *state;
    sv_outbox_event_t   ev, late;

    fx_reopen_outbox(f);
    member_a(f);

    assert_int_equal(take(f, T0, 10 * SEC, &ev), 1);
    assert_int_equal(take(f, T0 + 10 * SEC - 1, 10 * SEC, &late), 0);

    /* its taker never came back: it is taken again */
    assert_int_equal(take(f, T0 + 10 * SEC, 10 * SEC, &late), 1);
    assert_int_equal(late.id, ev.id);
    assert_string_equal(late.msg_id, ev.msg_id);

    /* the first taker's failure does not end the second's lease */
    assert_int_equal(sv_store_outbox_failed(f->st, &ev, T0 + 11 * SEC,
                                            f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(take(f, T0 + 17 * SEC, 10 * SEC, &ev), 0);

    assert_int_equal(sv_store_outbox_done(f->st, &late, f->err,
                                          sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(backlog(f), 0);

    /* gone already: done and failed are OK */
    assert_int_equal(sv_store_outbox_done(f->st, &late, f->err,
                                          sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(sv_store_outbox_failed(f->st, &late, T0 + 20 * SEC,
                                            f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(backlog(f), 0);
}


static void
test_outbox_dropped(void **state)
{
    fx_t               *f = *state;
    sv_outbox_event_t   ev;

    fx_reopen_outbox(f);
    member_a(f);

    assert_int_equal(take(f, T0 + 3 * 24 * HOUR - 1, 10 * SEC, &ev), 1);
    assert_int_equal(sv_store_outbox_failed(f->st, &ev,
                                            T0 + 3 * 24 * HOUR - 1, f->err,
                                            sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(ev.dropped, 0);
    assert_int_equal(backlog(f), 1);

    assert_int_equal(take(f, T0 + 3 * 24 * HOUR + 5 * SEC, 10 * SEC, &ev),
                     1);
    assert_int_equal(sv_store_outbox_failed(f->st, &ev,
                                            T0 + 3 * 24 * HOUR + 5 * SEC,
                                            f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(ev.dropped, 1);
    assert_int_equal(ev.attempts, 2);
    assert_int_equal(backlog(f), 0);
    assert_int_equal(take(f, T0 + 4 * 24 * HOUR, 10 * SEC, &ev), 0);
}


/* a taker that died on this host (a zombie first, then reaped) */
static void
test_outbox_dead_taker(void **state)
{
    fx_t               *f = *state;
    pid_t               pid;
    sv_outbox_event_t   ev;

    fx_reopen_outbox(f);
    member_a(f);

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        sv_store_conf_t  conf;
        sv_store_t      *st;
        char             err[256];

        memset(&conf, 0, sizeof(conf));
        conf.dir = f->dir;
        conf.map_size = MAP_SIZE;
        conf.nosync = 1;
        conf.max_readers = 64;
        conf.outbox = 1;

        if (sv_store_open(&st, &conf, err, sizeof(err)) != SV_STORE_OK
            || sv_store_outbox_take(st, T0, HOUR, &ev, err, sizeof(err))
               != SV_STORE_OK
            || !ev.found)
        {
            _exit(1);
        }

        _exit(0);
    }

    /* a zombie until reaped: its lease is void all the same */
    while (kill(pid, 0) == 0) {
        char  path[64], buf[256];
        FILE *in;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        in = fopen(path, "r");
        if (in == NULL) {
            break;
        }
        buf[fread(buf, 1, sizeof(buf) - 1, in)] = '\0';
        fclose(in);
        if (strstr(buf, ") Z") != NULL) {
            break;
        }
        usleep(10000);
    }

    assert_int_equal(take(f, T0 + SEC, HOUR, &ev), 1);

    {
        int  status;

        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    /* ours holds: alive */
    assert_int_equal(take(f, T0 + 2 * SEC, HOUR, &ev), 0);
}


/* Batches. */

typedef enum { OP_PUT, OP_CONFIRM, OP_SEND, OP_TOUCH } op_kind_t;

/* one operation of a batch, as an endpoint's job would be */
typedef struct {
    fx_t            *f;
    op_kind_t        kind;
    const char      *phone;
    int              guess;         /* OP_PUT: the code; OP_CONFIRM: a guess */
    int              token;
    int64_t          now;
    unsigned         left;
    unsigned         runs;
    sv_store_rc_t    rc;
    char             err[256];
    unsigned         fault;         /* its fault-th put fails, once */
} op_t;


static void
op_run(void *data)
{
    op_t           *o = data;
    uint8_t         hash[SV_HASH_SIZE];
    sv_send_t       s;

    o->runs++;

    puts_to_fail = o->fault;
    o->fault = 0;

    switch (o->kind) {

    case OP_PUT:
        hash_of(hash, o->guess);
        o->rc = sv_store_code_put(o->f->st, o->phone, hash, o->now + MIN, 5,
                                  SV_PURPOSE_SIGNUP, o->err, sizeof(o->err));
        break;

    case OP_CONFIRM:
        o->rc = confirm(o->f, o->phone, o->guess, o->now, o->token,
                        o->now + HOUR, &o->left);
        snprintf(o->err, sizeof(o->err), "%s", o->f->err);
        break;

    case OP_SEND:
        memset(&s, 0, sizeof(s));
        s.phone = o->phone;
        s.now_ms = o->now;
        s.resend_ms = 30 * SEC;
        s.limit = 5;
        s.window_ms = MIN;
        o->rc = sv_store_send_begin(o->f->st, &s, o->err, sizeof(o->err));
        break;

    case OP_TOUCH:
        hash_of(hash, o->token);
        o->rc = sv_store_session_touch(o->f->st, hash, o->now, o->err,
                                       sizeof(o->err));
        break;
    }

    puts_to_fail = 0;
}


static void
batch(op_t *o, size_t n)
{
    size_t         i;
    sv_store_op_t  ops[16];

    assert_true(n <= 16);
    memset(ops, 0, sizeof(ops));

    for (i = 0; i < n; i++) {
        ops[i].run = op_run;
        ops[i].data = &o[i];
        o[i].runs = 0;
    }

    sv_store_batch_run(o[0].f->st, ops, n);
}


/*
 * Each operation of a batch gets its own result, and sees what those
 * before it wrote: a second send of a phone is too soon, a confirm of a
 * code put in the same batch finds it.
 */
static void
test_batch_results(void **state)
{
    fx_t      *f = *state;
    unsigned   left;
    op_t       o[] = {
        { f, OP_PUT, PHONE_A, 0x42, 0, T0, 0, 0, 0, "", 0 },
        { f, OP_CONFIRM, PHONE_A, 0x43, 0x70, T0, 0, 0, 0, "", 0 },
        { f, OP_CONFIRM, PHONE_A, 0x42, 0x71, T0, 0, 0, 0, "", 0 },
        { f, OP_SEND, PHONE_B, 0, 0, T0, 0, 0, 0, "", 0 },
        { f, OP_SEND, PHONE_B, 0, 0, T0 + SEC, 0, 0, 0, "", 0 },
        { f, OP_CONFIRM, PHONE_C, 0x42, 0x72, T0, 0, 0, 0, "", 0 },
    };

    batch(o, sizeof(o) / sizeof(o[0]));

    assert_int_equal(o[0].rc, SV_STORE_OK);
    assert_int_equal(o[1].rc, SV_STORE_MISMATCH);
    assert_int_equal(o[1].left, 4);
    assert_int_equal(o[2].rc, SV_STORE_OK);
    assert_int_equal(o[3].rc, SV_STORE_OK);
    assert_int_equal(o[4].rc, SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(o[5].rc, SV_STORE_NO_CODE);
    assert_int_equal(o[0].runs + o[1].runs + o[4].runs, 3);

    /* committed: the token is there, the code gone, the send counted */
    assert_int_equal(token_check(f, 0x71, PHONE_A, T0), SV_STORE_OK);
    assert_int_equal(confirm(f, PHONE_A, 0x42, T0, 0x73, T0 + HOUR, &left),
                     SV_STORE_NO_CODE);
    assert_int_equal(send_at(f, PHONE_B, T0 + 2 * SEC, 30 * SEC, 5, MIN,
                             NULL),
                     SV_STORE_RESEND_TOO_SOON);

    /* a batch of one is a call alone */
    batch(&o[3], 1);
    assert_int_equal(o[3].rc, SV_STORE_RESEND_TOO_SOON);
}


/*
 * One operation that fails (a corrupt record) is undone alone: the
 * others' writes are committed, in one commit and one sync of the codes.
 */
static void
test_batch_one_fails(void **state)
{
    fx_t      *f = *state;
    uint8_t    bad[20];
    unsigned   left, one;
    op_t       o[] = {
        { f, OP_CONFIRM, PHONE_B, 0x43, 0x70, T0, 0, 0, 0, "", 0 },
        { f, OP_CONFIRM, PHONE_A, 0x42, 0x71, T0, 0, 0, 0, "", 0 },
        { f, OP_PUT, PHONE_C, 0x44, 0, T0, 0, 0, 0, "", 0 },
        { f, OP_TOUCH, NULL, 0, 0x55, T0, 0, 0, 0, "", 0 },
    };

    put_code(f, PHONE_B, 0x42, T0 + MIN, 5);
    fx_close(f);

    memset(bad, 1, sizeof(bad));
    raw_put(f->dir, "codes", PHONE_A, strlen(PHONE_A), bad, sizeof(bad));

    /* sync=on: the syncs of a commit alone */
    fx_open(f, MAP_SIZE, 0);

    syncs_codes = 0;
    put_code(f, "+821011110000", 0x11, T0 + MIN, 5);
    one = syncs_codes;
    assert_true(one > 0);

    syncs_codes = 0;
    batch(o, sizeof(o) / sizeof(o[0]));
    assert_int_equal(syncs_codes, one);

    assert_int_equal(o[0].rc, SV_STORE_MISMATCH);
    assert_int_equal(o[0].left, 4);
    assert_int_equal(o[1].rc, SV_STORE_ERROR);
    assert_string_equal(o[1].err, "corrupt record in \"codes\"");
    assert_int_equal(o[2].rc, SV_STORE_OK);
    assert_int_equal(o[3].rc, SV_STORE_OK);
    assert_int_equal(o[0].runs + o[1].runs + o[2].runs, 3);

    /* the others' writes stay */
    fx_close(f);
    fx_open(f, MAP_SIZE, 1);
    assert_int_equal(confirm(f, PHONE_B, 0x43, T0, 0x72, T0 + HOUR, &left),
                     SV_STORE_MISMATCH);
    assert_int_equal(left, 3);
    assert_int_equal(confirm(f, PHONE_C, 0x44, T0, 0x73, T0 + HOUR, NULL),
                     SV_STORE_OK);
    assert_int_equal(confirm(f, PHONE_A, 0x42, T0, 0x74, T0 + HOUR, NULL),
                     SV_STORE_ERROR);
}


/*
 * An operation that fails after it wrote (a match: the code deleted,
 * then the token's put fails) leaves the batch's transaction with half
 * of it: none of the batch is committed, the operations after it are
 * not run in it, and every one runs again alone, each counted once.
 */
static void
test_batch_fails_after_write(void **state)
{
    fx_t      *f = *state;
    unsigned   left;
    op_t       o[] = {
        { f, OP_CONFIRM, PHONE_B, 0x43, 0x70, T0, 0, 0, 0, "", 0 },
        { f, OP_PUT, PHONE_C, 0x44, 0, T0, 0, 0, 0, "", 0 },
        { f, OP_CONFIRM, PHONE_A, 0x42, 0x71, T0, 0, 0, 0, "", 1 },
        { f, OP_CONFIRM, PHONE_B, 0x45, 0x72, T0, 0, 0, 0, "", 0 },
    };

    put_code(f, PHONE_A, 0x42, T0 + MIN, 5);
    put_code(f, PHONE_B, 0x42, T0 + MIN, 5);

    batch(o, sizeof(o) / sizeof(o[0]));

    assert_int_equal(o[0].rc, SV_STORE_MISMATCH);
    assert_int_equal(o[0].left, 4);
    assert_int_equal(o[1].rc, SV_STORE_OK);
    assert_int_equal(o[2].rc, SV_STORE_OK);
    assert_int_equal(o[3].rc, SV_STORE_MISMATCH);
    assert_int_equal(o[3].left, 3);

    /* the last one too: skipped in the batch, then alone */
    assert_int_equal(o[0].runs + o[1].runs + o[2].runs + o[3].runs, 8);

    /* as alone: PHONE_B's guesses counted twice, PHONE_A's code a token */
    assert_int_equal(confirm(f, PHONE_B, 0x46, T0, 0x73, T0 + HOUR, &left),
                     SV_STORE_MISMATCH);
    assert_int_equal(left, 2);
    assert_int_equal(token_check(f, 0x71, PHONE_A, T0), SV_STORE_OK);
    assert_int_equal(confirm(f, PHONE_A, 0x42, T0, 0x74, T0 + HOUR, NULL),
                     SV_STORE_NO_CODE);
    assert_int_equal(confirm(f, PHONE_C, 0x44, T0, 0x75, T0 + HOUR, NULL),
                     SV_STORE_OK);
}


/*
 * An operation that finds the store full runs again alone after the
 * batch, which relieves it as a call alone does; the others are not run
 * twice.
 */
static void
test_batch_full_runs_again(void **state)
{
    fx_t           *f = *state;
    int             i;
    char            phone[32];
    uint8_t         hash[SV_HASH_SIZE];
    op_t            o[] = {
        { f, OP_CONFIRM, PHONE_B, 0x43, 0x70, T0 + MIN, 0, 0, 0, "", 0 },
        { f, OP_SEND, PHONE_A, 0, 0, T0 + MIN, 0, 0, 0, "", 0 },
        { f, OP_CONFIRM, PHONE_C, 0x42, 0x71, T0 + MIN, 0, 0, 0, "", 0 },
    };
    sv_store_rc_t   rc;

    fx_close(f);
    fx_open(f, 256 * 1024, 1);

    put_code(f, PHONE_B, 0x42, T0 + HOUR, 5);
    hash_of(hash, 0x11);

    /* full of codes and sends that expire at T0 + MIN */

    rc = SV_STORE_OK;

    for (i = 0; i < 100000 && rc == SV_STORE_OK; i++) {
        snprintf(phone, sizeof(phone), "+8210%08d", i);

        rc = send_at(f, phone, T0, 30 * SEC, 5, MIN, NULL);

        if (rc == SV_STORE_OK) {
            rc = sv_store_code_put(f->st, phone, hash, T0 + MIN, 5,
                                   SV_PURPOSE_SIGNUP, f->err,
                                   sizeof(f->err));
        }
    }

    assert_int_equal(rc, SV_STORE_FULL);

    batch(o, sizeof(o) / sizeof(o[0]));

    assert_int_equal(o[0].rc, SV_STORE_MISMATCH);
    assert_int_equal(o[0].runs, 1);
    assert_int_equal(o[1].rc, SV_STORE_OK);
    assert_int_equal(o[1].runs, 2);
    assert_int_equal(o[2].rc, SV_STORE_NO_CODE);
    assert_int_equal(o[2].runs, 1);

    /* the mismatch was counted once */
    o[0].guess = 0x44;
    batch(o, 1);
    assert_int_equal(o[0].left, 3);
}


/*
 * Reads for the event loop (confirm_read, send_read): each refusal is
 * the call's own, with the same retry, and changes nothing; what needs a
 * write is left undecided (OK).  Where reads may wait, always OK.
 */

static sv_store_rc_t
confirm_read(fx_t *f, const char *phone, int64_t now)
{
    sv_confirm_t  c;

    memset(&c, 0, sizeof(c));
    c.phone = phone;
    c.now_ms = now;
    c.attempts_left = 12345;

    return sv_store_confirm_read(f->st, &c, f->err, sizeof(f->err));
}


/* send_read of send_limited()'s send: *s with its retry */
static sv_store_rc_t
send_read(fx_t *f, const char *phone, sv_purpose_t purpose, int64_t now,
    const limits_t *l, sv_send_t *s)
{
    memset(s, 0, sizeof(*s));
    s->phone = phone;
    s->purpose = purpose;
    s->now_ms = now;
    s->resend_ms = 30 * SEC;
    s->limit = 5;
    s->window_ms = HOUR;
    s->addr = l->addr;
    s->addr_limit = l->addr_limit;
    s->addr_window_ms = l->addr_window;
    s->addr_keep_ms = l->addr_keep;
    s->budget = l->budget;
    s->retry_after_ms = -1;

    return sv_store_send_read(f->st, s, f->err, sizeof(f->err));
}


/* the read, then the call itself: a refusal is the same, retry and all */
static void
send_read_agrees(fx_t *f, const char *phone, int64_t now, const limits_t *l,
    sv_store_rc_t expect)
{
    sv_send_t      r, s;
    sv_store_rc_t  rc;

    rc = send_read(f, phone, SV_PURPOSE_SIGNUP, now, l, &r);
    assert_int_equal(rc, expect);

    if (rc == SV_STORE_OK) {
        return;
    }

    assert_false(r.budget_first);
    assert_int_equal(send_limited(f, phone, now, l, &s), rc);
    assert_int_equal(s.retry_after_ms, r.retry_after_ms);
}


static void
test_confirm_read(void **state)
{
    fx_t     *f = *state;
    uint8_t   hash[SV_HASH_SIZE];

    tokens_drawn = 0;
    assert_int_equal(confirm_read(f, PHONE_A, T0), SV_STORE_NO_CODE);

    /* a code to guess at is the confirm's, whatever the guess */
    put_code(f, PHONE_A, 0x11, T0 + 3 * MIN, 5);
    assert_int_equal(confirm_read(f, PHONE_A, T0 + 3 * MIN - 1), SV_STORE_OK);
    assert_int_equal(confirm_read(f, PHONE_A, T0 + 3 * MIN),
                     SV_STORE_EXPIRED);
    assert_int_equal(confirm(f, PHONE_A, 0x12, T0 + 3 * MIN, 0x70,
                             T0 + HOUR, NULL),
                     SV_STORE_EXPIRED);
    assert_int_equal(tokens_drawn, 0);

    /* nothing was counted: every attempt is still there */
    assert_int_equal(confirm_read(f, PHONE_A, T0 + 3 * MIN), SV_STORE_EXPIRED);
    {
        unsigned  left;

        assert_int_equal(confirm(f, PHONE_A, 0x12, T0, 0x70, T0 + HOUR,
                                 &left),
                         SV_STORE_MISMATCH);
        assert_int_equal(left, 4);
    }

    /* a member's phone: taken, unless its code is a reset code */
    member_a(f);
    assert_int_equal(confirm_read(f, PHONE_A, T0), SV_STORE_PHONE_TAKEN);
    put_code(f, PHONE_A, 0x13, T0 + 3 * MIN, 5);
    assert_int_equal(confirm_read(f, PHONE_A, T0), SV_STORE_PHONE_TAKEN);
    assert_int_equal(confirm(f, PHONE_A, 0x13, T0, 0x71, T0 + HOUR, NULL),
                     SV_STORE_PHONE_TAKEN);

    hash_of(hash, 0x14);
    assert_int_equal(sv_store_code_put(f->st, PHONE_A, hash, T0 + 3 * MIN, 5,
                                       SV_PURPOSE_RESET, f->err,
                                       sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(confirm_read(f, PHONE_A, T0), SV_STORE_OK);
    assert_int_equal(confirm_read(f, PHONE_A, T0 + 3 * MIN), SV_STORE_EXPIRED);

    assert_int_equal(confirm_read(f, "", T0), SV_STORE_ERROR);
}


static void
test_send_read(void **state)
{
    fx_t      *f = *state;
    int        i;
    char       phone[32];
    limits_t   none = { NULL, 0, 0, 0, 0 };
    limits_t   x = { ADDR_X, 2, HOUR, HOUR, 0 };
    sv_send_t  s;

    /* a send that would pass, and is not counted by the read */
    send_read_agrees(f, PHONE_A, T0, &none, SV_STORE_OK);
    send_read_agrees(f, PHONE_A, T0, &none, SV_STORE_OK);
    assert_int_equal(send_limited(f, PHONE_A, T0, &none, &s), SV_STORE_OK);

    /* the interval, then the window (5 an hour) */
    send_read_agrees(f, PHONE_A, T0 + SEC, &none, SV_STORE_RESEND_TOO_SOON);

    for (i = 1; i < 5; i++) {
        send_read_agrees(f, PHONE_A, T0 + i * MIN, &none, SV_STORE_OK);
        assert_int_equal(send_limited(f, PHONE_A, T0 + i * MIN, &none, &s),
                         SV_STORE_OK);
    }

    send_read_agrees(f, PHONE_A, T0 + 10 * MIN, &none, SV_STORE_SEND_LIMIT);

    /* the address: two phones from it, the third refused */
    for (i = 0; i < 2; i++) {
        phone_n(phone, i);
        assert_int_equal(send_limited(f, phone, T0 + i * MIN, &x, &s),
                         SV_STORE_OK);
    }

    phone_n(phone, 2);
    send_read_agrees(f, phone, T0 + 5 * MIN, &x, SV_STORE_IP_LIMIT);

    /* a phone taken: signup codes refused, a reset code for no member */
    member_a(f);
    assert_int_equal(send_read(f, PHONE_A, SV_PURPOSE_SIGNUP, T0 + DAY,
                               &none, &s),
                     SV_STORE_PHONE_TAKEN);
    assert_int_equal(send_read(f, PHONE_B, SV_PURPOSE_RESET, T0 + DAY,
                               &none, &s),
                     SV_STORE_NOT_MEMBER);
    assert_int_equal(send_read(f, PHONE_A, SV_PURPOSE_RESET, T0 + DAY,
                               &none, &s),
                     SV_STORE_OK);

    s.phone = NULL;
    assert_int_equal(sv_store_send_read(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_ERROR);
}


/*
 * The budget's refusals are send_begin's: each is counted in the day's
 * record (the first of the day is told by it), a write.
 */
static void
test_send_read_budget(void **state)
{
    fx_t      *f = *state;
    int        i;
    char       phone[32];
    limits_t   b = { NULL, 0, 0, 0, 2 };
    sv_send_t  s;

    for (i = 0; i < 2; i++) {
        phone_n(phone, i);
        assert_int_equal(send_limited(f, phone, T0 + i * SEC, &b, &s),
                         SV_STORE_OK);
    }

    phone_n(phone, 2);
    send_read_agrees(f, phone, T0 + MIN, &b, SV_STORE_OK);
    assert_int_equal(send_limited(f, phone, T0 + MIN, &b, &s),
                     SV_STORE_BUDGET);
    assert_true(s.budget_first);

    /* the next refusals of the day too, the phone's limits after them */
    send_read_agrees(f, phone, T0 + 2 * MIN, &b, SV_STORE_OK);
    assert_int_equal(send_limited(f, phone, T0 + 2 * MIN, &b, &s),
                     SV_STORE_BUDGET);
    assert_false(s.budget_first);
    send_read_agrees(f, PHONE_A, T0 + TO_MIDNIGHT, &b, SV_STORE_OK);
    assert_int_equal(send_limited(f, PHONE_A, T0 + TO_MIDNIGHT, &b, &s),
                     SV_STORE_OK);
    send_read_agrees(f, PHONE_A, T0 + TO_MIDNIGHT + SEC, &b,
                     SV_STORE_RESEND_TOO_SOON);
}


/* Where reads may wait (PostgreSQL), the reads decide nothing. */
static void
test_reads_undecided_where_reads_wait(void **state)
{
    fx_t           *f = *state;
    limits_t        none = { NULL, 0, 0, 0, 0 };
    sv_send_t       s;
    sv_store_rc_t   expect;

    assert_int_equal(send_limited(f, PHONE_A, T0, &none, &s), SV_STORE_OK);

    expect = sv_store_reads_wait_free(f->st) ? SV_STORE_RESEND_TOO_SOON
                                             : SV_STORE_OK;
    assert_int_equal(send_read(f, PHONE_A, SV_PURPOSE_SIGNUP, T0 + SEC,
                               &none, &s),
                     expect);

    expect = sv_store_reads_wait_free(f->st) ? SV_STORE_NO_CODE : SV_STORE_OK;
    assert_int_equal(confirm_read(f, PHONE_B, T0), expect);
}


/*
 * The reads may run on the event loop: they wait for no writer (another
 * process holds both parts' write locks meanwhile) and write nothing.
 */
static void
test_loop_reads_wait_for_no_writer(void **state)
{
    fx_t       *f = *state;
    int         status, to[2], from[2];
    char        c;
    pid_t       pid;
    uint64_t    codes, members;
    limits_t    b = { ADDR_X, 3, HOUR, HOUR, 10 };
    sv_send_t   s;

    member_a(f);
    assert_int_equal(send_limited(f, PHONE_B, T0, &b, &s), SV_STORE_OK);
    put_code(f, PHONE_C, 0x11, T0 + MIN, 5);
    fx_close(f);
    codes = last_txnid(f->dir, "codes");
    members = last_txnid(f->dir, "members");
    fx_open(f, MAP_SIZE, 1);

    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        execlp(argv0, argv0, "--hold", f->dir, (char *) NULL);
        _exit(127);
    }

    close(to[0]);
    close(from[1]);
    assert_int_equal(read(from[0], &c, 1), 1);

    alarm(10);
    assert_int_equal(confirm_read(f, PHONE_B, T0), SV_STORE_NO_CODE);
    assert_int_equal(confirm_read(f, PHONE_C, T0 + MIN), SV_STORE_EXPIRED);
    assert_int_equal(confirm_read(f, PHONE_C, T0), SV_STORE_OK);
    assert_int_equal(confirm_read(f, PHONE_A, T0), SV_STORE_PHONE_TAKEN);
    assert_int_equal(send_read(f, PHONE_B, SV_PURPOSE_SIGNUP, T0 + SEC, &b,
                               &s),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(send_read(f, PHONE_C, SV_PURPOSE_SIGNUP, T0 + SEC, &b,
                               &s),
                     SV_STORE_OK);
    alarm(0);

    close(to[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(from[0]);

    fx_close(f);
    assert_true(last_txnid(f->dir, "codes") == codes);
    assert_true(last_txnid(f->dir, "members") == members);
    fx_open(f, MAP_SIZE, 1);
}


/*
 * writemap: the codes' part through a writable map.  Its file is
 * allocated ahead of every write txn, past any page the txn can come to
 * (a page written in a hole of a sparse file on a full disk would be
 * SIGBUS), and never cut to a smaller map under the processes that map
 * it.
 */

static sv_store_rc_t
writemap_open_ahead(fx_t *f, size_t map_size, int writemap, size_t ahead)
{
    sv_store_conf_t  conf;

    memset(&conf, 0, sizeof(conf));
    conf.dir = f->dir;
    conf.map_size = map_size;
    conf.nosync = 1;
    conf.max_readers = 64;
    conf.writemap = writemap;
    conf.writemap_ahead = ahead;

    return sv_store_open(&f->st, &conf, f->err, sizeof(f->err));
}


static void
writemap_open(fx_t *f, size_t map_size, int writemap)
{
    assert_int_equal(writemap_open_ahead(f, map_size, writemap, 0),
                     SV_STORE_OK);
}


/* the bytes of the codes' part in use, as another process sees them */
static size_t
codes_in_use(fx_t *f)
{
    int          status, from[2];
    pid_t        pid;
    size_t       used;
    MDB_env     *env;
    MDB_stat     st;
    MDB_envinfo  info;

    assert_int_equal(pipe(from), 0);

    pid = fork();
    assert_true(pid >= 0);

    if (pid == 0) {
        env = raw_open(f->dir, "codes");
        used = 0;

        if (mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &st) == 0) {
            used = (info.me_last_pgno + 1) * st.ms_psize;
        }

        _exit(write(from[1], &used, sizeof(used)) == sizeof(used) ? 0 : 1);
    }

    close(from[1]);
    assert_int_equal(read(from[0], &used, sizeof(used)), sizeof(used));
    close(from[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);

    return used;
}


static struct stat
codes_file(fx_t *f)
{
    char         path[256];
    struct stat  sb;

    snprintf(path, sizeof(path), "%s/" SV_STORE_CODES_DIR "/data.mdb",
             f->dir);
    assert_int_equal(stat(path, &sb), 0);

    return sb;
}


static off_t
codes_allocated(fx_t *f)
{
    return (off_t) codes_file(f).st_blocks * 512;
}


static void
test_writemap(void **state)
{
    fx_t         *f = *state;
    struct stat   sb;

    fx_close(f);
    writemap_open(f, 1024 * 1024, 1);

    sb = codes_file(f);
    assert_int_equal(sb.st_size, 1024 * 1024);
    assert_true((off_t) sb.st_blocks * 512 >= 1024 * 1024);

    put_code(f, PHONE_A, 0x11, T0 + HOUR, 5);
    assert_int_equal(confirm(f, PHONE_A, 0x12, T0, 0x70, T0 + HOUR, NULL),
                     SV_STORE_MISMATCH);
    assert_int_equal(stats(f).codes_pending, 1);

    /* a smaller map: the file stays, and what it holds */
    fx_close(f);
    writemap_open(f, 512 * 1024, 1);

    assert_int_equal(codes_file(f).st_size, 1024 * 1024);
    assert_int_equal(confirm(f, PHONE_A, 0x11, T0, 0x70, T0 + HOUR, NULL),
                     SV_STORE_OK);

    /* and without writemap again */
    fx_close(f);
    writemap_open(f, MAP_SIZE, 0);
    assert_int_equal(stats(f).codes_pending, 0);
    assert_int_equal(raw_entries(f->dir, "tokens"), 1);
}


/*
 * A large map is not allocated whole: twice what is in use and a step
 * ahead.  As the records grow, every write txn first allocates past
 * where it can come to: the pages in use are always allocated.
 */
static void
test_writemap_follows_use(void **state)
{
    fx_t    *f = *state;
    char     phone[32];
    size_t   used, first;
    unsigned i;

    fx_close(f);
    assert_int_equal(writemap_open_ahead(f, 64 * 1024 * 1024, 1,
                                         256 * 1024),
                     SV_STORE_OK);

    assert_int_equal(codes_file(f).st_size, 64 * 1024 * 1024);
    first = (size_t) codes_allocated(f);
    assert_true(first >= 512 * 1024);
    assert_true(first < 4 * 1024 * 1024);

    for (i = 0; i < 12000; i++) {
        snprintf(phone, sizeof(phone), "+8210%08u", i);
        put_code(f, phone, i & 0xff, T0 + HOUR, 5);

        if (i % 2000 == 1999) {
            used = codes_in_use(f);
            assert_true((size_t) codes_allocated(f) >= 2 * used);
        }
    }

    /* the records outgrew what the open allocated */
    assert_true(codes_in_use(f) > first);
}


/* A disk that cannot hold the next txn's pages refuses the write. */
static void
test_writemap_disk_full(void **state)
{
    fx_t    *f = *state;
    char     phone[32];
    unsigned i;
    sv_store_rc_t  rc;

    fx_close(f);

    fallocate_fails = 1;
    assert_int_equal(writemap_open_ahead(f, 64 * 1024 * 1024, 1,
                                         256 * 1024),
                     SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "cannot allocate"));
    f->st = NULL;
    fallocate_fails = 0;

    assert_int_equal(writemap_open_ahead(f, 64 * 1024 * 1024, 1,
                                         256 * 1024),
                     SV_STORE_OK);

    fallocate_fails = 1;
    rc = SV_STORE_OK;

    for (i = 0; i < 12000 && rc == SV_STORE_OK; i++) {
        uint8_t  hash[SV_HASH_SIZE];

        snprintf(phone, sizeof(phone), "+8210%08u", i);
        hash_of(hash, i & 0xff);
        rc = sv_store_code_put(f->st, phone, hash, T0 + HOUR, 5,
                               SV_PURPOSE_SIGNUP, f->err, sizeof(f->err));
    }

    fallocate_fails = 0;

    assert_int_equal(rc, SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "cannot allocate"));
    assert_non_null(strstr(f->err, "No space left on device"));

    /* the refused code is not there, the ones before it are */
    assert_int_equal(stats(f).codes_pending, i - 1);
    assert_true((size_t) codes_allocated(f) >= codes_in_use(f));

    put_code(f, phone, 0x11, T0 + HOUR, 5);
    assert_int_equal(stats(f).codes_pending, i);
}


/*
 * status's counts come from counters the writes keep, not from a scan
 * of the codes held.  On LMDB no record is read: mdb_stat only, so no
 * cursor is opened and no mdb_get made.  On PostgreSQL, another session
 * holds codes and members locked: a query that read either would wait
 * for the lock until the statement timeout and fail.
 */

static void
stats_scans_nothing(fx_t *f, uint64_t codes)
{
    sv_store_stats_t  s;
#ifdef SV_TEST_PG
    PGconn           *side;
    PGresult         *res;

    side = PQconnectdb(pg_uri);
    assert_int_equal(PQstatus(side), CONNECTION_OK);

    res = PQexec(side, "BEGIN; LOCK TABLE smsverify.codes, smsverify.members"
                       " IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
#endif

    record_reads = 0;
    counting_reads = 1;

    assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    counting_reads = 0;

    assert_int_equal(record_reads, 0);
    assert_int_equal(s.codes_pending, codes);

#ifdef SV_TEST_PG
    PQclear(PQexec(side, "COMMIT"));
    PQfinish(side);
#endif
}


static void
test_stats_scans_nothing(void **state)
{
    fx_t  *f = *state;
    int    i;
    char   phone[32];

    for (i = 0; i < 1010; i++) {
        if (i == 10) {
            stats_scans_nothing(f, 10);
        }

        snprintf(phone, sizeof(phone), "+8210%08d", i);
        put_code(f, phone, 0x11, T0 + HOUR, 5);
    }

    stats_scans_nothing(f, 1010);
}


/*
 * A read renews a read txn an earlier one kept (its reader slot with
 * it) instead of beginning one, and sees what was committed since.
 */
static void
test_reads_keep_their_txns(void **state)
{
    fx_t              *f = *state;
    unsigned           i, before;
    uint64_t           id;
    sv_session_get_t   g;

    id = member_a(f);
    assert_int_equal(session_start(f, 0x51, id, 0, T0, NULL), SV_STORE_OK);

    (void) stats(f);
    assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_OK);

    before = read_begins;

    for (i = 0; i < 100; i++) {
        assert_int_equal(stats(f).codes_pending, 0);
        assert_int_equal(session_get(f, 0x51, T0, &g), SV_STORE_OK);
        assert_int_equal(g.member.id, id);
    }

    assert_int_equal(read_begins, before);

    put_code(f, PHONE_A, 0x11, T0 + HOUR, 5);
    assert_int_equal(stats(f).codes_pending, 1);
    assert_int_equal(session_get(f, 0x52, T0, &g), SV_STORE_NO_SESSION);
    assert_int_equal(read_begins, before);
}


int
main(int argc, char **argv)
{
    const struct CMUnitTest  tests[] = {
#define T(name)  cmocka_unit_test_setup_teardown(name, setup, teardown),
#ifdef SV_TEST_PG
#define L(name)
#else
#define L(name)  T(name)
#endif
        T(test_open_reopen_persists)
        L(test_open_missing_dir)
        L(test_sync_and_reader_check)
        T(test_bad_phone)
        T(test_send_resend_interval)
        T(test_send_window_limit)
        T(test_send_window_slides)
        T(test_send_resend_longer_than_window)
        T(test_send_abort_gives_back)
        T(test_send_limit_max)
        T(test_ip_limit)
        T(test_refusals_count_nothing)
        T(test_ip_limit_shared_count)
        T(test_limits_order)
        T(test_budget_day)
        T(test_abort_gives_back_every_limit)
        L(test_sweep_addrs_days)
        T(test_send_bad_limits)
        T(test_code_put_replaces)
        T(test_confirm_token)
        T(test_confirm_mismatch_burnt)
        T(test_confirm_expired)
        T(test_confirm_once)
        T(test_confirm_draws_token_on_match_only)
        T(test_confirm_no_token_drawn)
        T(test_phone_taken_after_signup)
        T(test_signup_consumes_token)
        T(test_signup_email_taken)
        T(test_signup_phone_taken)
        T(test_signup_needs_token)
        T(test_signup_check)
        T(test_signup_taken_uses_token_up)
        L(test_token_record_v1)
        T(test_signup_ids)
        L(test_member_json)
        L(test_member_json_no_terms)
        T(test_stats)
        L(test_stats_reads_no_record)
        T(test_sweep)
        T(test_sweep_max)
        L(test_map_full)
        L(test_map_full_relieved)
        L(test_map_full_signup)
        L(test_corrupt_records)
        L(test_corrupt_meta)
        L(test_two_processes_race)
        T(test_threads)
        L(test_map_grown_by_other_process)
        L(test_members_always_synced)
        L(test_check_sound_store)
        L(test_check_garbage_file)
        L(test_check_damaged_pages)
        L(test_check_migrates)
        T(test_reset_send_needs_member)
        T(test_reset_code_confirm)
        T(test_purposes_kept_apart)
        T(test_reset)
        T(test_reset_not_member)
        T(test_reset_takes_token_first)
        T(test_token_phone)
        L(test_reset_synced)
        T(test_member_find)
        L(test_member_without_epoch)
        T(test_member_rehash)
        T(test_login_lock)
        T(test_login_clears_failures)
        T(test_login_bad_arguments)
        T(test_session_start_get)
        T(test_session_idle_stale_touch)
        T(test_session_expires)
        L(test_session_member_gone)
        L(test_session_get_reads_only)
        T(test_sweep_sessions_logins)
        L(test_corrupt_account_records)
        T(test_admin_page)
        T(test_admin_get)
        T(test_admin_delete)
        T(test_admin_import)
        T(test_admin_limits_clear)
        T(test_admin_import_many)
        T(test_admin_move)
        T(test_outbox_off)
        T(test_outbox_events)
        T(test_outbox_order_retry)
        T(test_outbox_lease_expires)
        T(test_outbox_dropped)
        L(test_outbox_dead_taker)
        T(test_batch_results)
        L(test_batch_one_fails)
        L(test_batch_fails_after_write)
        L(test_batch_full_runs_again)
        L(test_confirm_read)
        L(test_send_read)
        L(test_send_read_budget)
        T(test_reads_undecided_where_reads_wait)
        L(test_loop_reads_wait_for_no_writer)
        T(test_stats_scans_nothing)
        L(test_writemap)
        L(test_writemap_follows_use)
        L(test_writemap_disk_full)
        L(test_reads_keep_their_txns)
#undef T
#undef L
    };

    argv0 = argv[0];

#ifdef SV_TEST_PG
    pg_uri = getenv("TEST_NGINX_PG_URI");

    if (pg_uri == NULL || pg_uri[0] == '\0') {
        printf("test_store_on_pg: TEST_NGINX_PG_URI unset: skipped (it names"
               " a PostgreSQL; `make unit` starts one with t/pg/pg.sh)\n");
        return 0;
    }
#endif

    if (argc == 3 && strcmp(argv[1], "--grow") == 0) {
        return grow_child(argv[2]);
    }

    if (argc == 3 && strcmp(argv[1], "--hold") == 0) {
        return hold_child(argv[2]);
    }

    return cmocka_run_group_tests(tests, NULL, NULL);
}
