/*
 * What only the PostgreSQL store has to prove, against the server of
 * TEST_NGINX_PG_URI (make unit starts one with t/pg/pg.sh): races between
 * threads, each on a connection of its own, decided by the database; an
 * outage answered UNAVAILABLE at once and nothing changed, then the same
 * store working again; the counts kept by triggers; a schema newer than
 * the module's refused; a login racing a reset.  The schema smsverify is
 * dropped before each test.  Without the URI every test is skipped;
 * without SV_PG_SH (the path of pg.sh) the outage test is.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "sv_clock.h"
#include "sv_pg.h"
#include "sv_store.h"
#include "sv_store_pg_impl.h"


#define T0          1700000000000LL
#define SEC         1000LL
#define MIN         (60 * SEC)
#define HOUR        (60 * MIN)
#define DAY         (24 * HOUR)

#define PHONE_A     "+821012345678"
#define PHONE_B     "+821087654321"

#define THREADS     8
#define ROUNDS      20
#define ATTEMPTS    5

#define HASH        "$2b$12$abcdefghijklmnopqrstuu" \
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ012"
#define NEW_HASH    "$2b$10$ABCDEFGHIJKLMNOPQRSTUU" \
                    "abcdefghijklmnopqrstuvwxyz012"


static const char  *uri;


typedef struct {
    sv_store_t  *st;
    char         err[256];
} fx_t;


static int64_t
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
sleep_ms(long ms)
{
    struct timespec  ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}


/* The tests' own connection, apart from the store's. */

static PGresult *
admin(const char *sql)
{
    PGconn    *conn;
    PGresult  *res;

    conn = PQconnectdb(uri);
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


static long
admin_long(const char *sql)
{
    long       v;
    PGresult  *res;

    res = admin(sql);
    assert_int_equal(PQntuples(res), 1);
    v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    return v;
}


static void
admin_do(const char *sql)
{
    PQclear(admin(sql));
}


static void
pg_sh(const char *cmd)
{
    char  line[1024];

    snprintf(line, sizeof(line), "'%s' %s >/dev/null 2>&1",
             getenv("SV_PG_SH"), cmd);

    if (system(line) != 0) {
        fail_msg("%s failed", line);
    }
}


/* Fixture. */

static int
setup(void **state)
{
    fx_t             *f;
    sv_store_conf_t   conf;

    admin_do("SET client_min_messages = warning;"
             " DROP SCHEMA IF EXISTS smsverify CASCADE");

    f = calloc(1, sizeof(fx_t));
    if (f == NULL) {
        return -1;
    }

    memset(&conf, 0, sizeof(conf));
    conf.uri = uri;

    if (sv_store_open(&f->st, &conf, f->err, sizeof(f->err)) != SV_STORE_OK)
    {
        free(f);
        return -1;
    }

    *state = f;

    return 0;
}


static int
teardown(void **state)
{
    fx_t  *f = *state;

    sv_store_close(f->st);
    free(f);

    return 0;
}


/* Store helpers. */

static void
hash_of(uint8_t *h, int v)
{
    memset(h, v, SV_HASH_SIZE);
}


static int
token_new(void *data, uint8_t *token_hash)
{
    memcpy(token_hash, data, SV_HASH_SIZE);

    return 0;
}


static sv_store_rc_t
put_code(sv_store_t *st, const char *phone, int h, sv_purpose_t purpose,
    char *err, size_t errlen)
{
    uint8_t  hash[SV_HASH_SIZE];

    hash_of(hash, h);

    return sv_store_code_put(st, phone, hash, T0 + 3 * MIN, ATTEMPTS,
                             purpose, err, errlen);
}


static sv_store_rc_t
confirm(sv_store_t *st, const char *phone, int guess, int token,
    unsigned *left, char *err, size_t errlen)
{
    uint8_t        ghash[SV_HASH_SIZE], thash[SV_HASH_SIZE];
    sv_confirm_t   c;
    sv_store_rc_t  rc;

    hash_of(ghash, guess);
    hash_of(thash, token);

    memset(&c, 0, sizeof(c));
    c.phone = phone;
    c.guess_hash = ghash;
    c.now_ms = T0;
    c.token_new = token_new;
    c.token_data = thash;
    c.token_expires_ms = T0 + 30 * MIN;

    rc = sv_store_confirm(st, &c, err, errlen);

    if (left != NULL) {
        *left = c.attempts_left;
    }

    return rc;
}


/* a phone verified: token byte h proves it */
static void
verify(fx_t *f, const char *phone, int token, sv_purpose_t purpose)
{
    assert_int_equal(put_code(f->st, phone, 0x42, purpose, f->err,
                              sizeof(f->err)), SV_STORE_OK);
    assert_int_equal(confirm(f->st, phone, 0x42, token, NULL, f->err,
                             sizeof(f->err)), SV_STORE_OK);
}


static sv_store_rc_t
signup(sv_store_t *st, const char *email, const char *phone, int token,
    uint64_t *id, char *err, size_t errlen)
{
    static const int  terms[] = { 1 };
    uint8_t           thash[SV_HASH_SIZE];
    sv_member_t       m;
    sv_store_rc_t     rc;

    hash_of(thash, token);

    memset(&m, 0, sizeof(m));
    m.email = email;
    m.email_key = email;
    m.phone = phone;
    m.nickname = "kim";
    m.password_hash = HASH;
    m.terms = terms;
    m.nterms = 1;
    m.now_ms = T0;
    m.token_hash = thash;

    rc = sv_store_signup(st, &m, err, errlen);

    if (id != NULL) {
        *id = m.id;
    }

    return rc;
}


static sv_store_rc_t
send_one(sv_store_t *st, const char *phone, unsigned limit, char *err,
    size_t errlen)
{
    sv_send_t  s;

    memset(&s, 0, sizeof(s));
    s.phone = phone;
    s.now_ms = T0;
    s.resend_ms = 0;
    s.limit = limit;
    s.window_ms = HOUR;
    s.addr = "192.0.2.1";
    s.addr_keep_ms = DAY;
    s.budget = 1000;

    return sv_store_send_begin(st, &s, err, errlen);
}


/* Threads started together, each doing its part once. */

typedef struct race_s  race_t;

typedef sv_store_rc_t (*race_pt)(race_t *r, int k);

struct race_s {
    sv_store_t         *st;
    pthread_barrier_t   barrier;
    race_pt             run;
    int                 round;
    sv_store_rc_t       rc[THREADS];
    unsigned            left[THREADS];
    char                err[THREADS][256];
};

typedef struct {
    race_t             *r;
    int                 k;
} race_arg_t;


static void *
race_main(void *p)
{
    race_arg_t  *a = p;

    pthread_barrier_wait(&a->r->barrier);
    a->r->rc[a->k] = a->r->run(a->r, a->k);

    /*
     * a thread's exit closes its connection, which voids an outbox lease
     * it took: every thread stays until all have run
     */
    pthread_barrier_wait(&a->r->barrier);

    return NULL;
}


static void
race(race_t *r, sv_store_t *st, race_pt run, int round)
{
    int         k;
    pthread_t   tid[THREADS];
    race_arg_t  arg[THREADS];

    r->st = st;
    r->run = run;
    r->round = round;
    assert_int_equal(pthread_barrier_init(&r->barrier, NULL, THREADS), 0);

    for (k = 0; k < THREADS; k++) {
        arg[k].r = r;
        arg[k].k = k;
        assert_int_equal(pthread_create(&tid[k], NULL, race_main, &arg[k]),
                         0);
    }

    for (k = 0; k < THREADS; k++) {
        assert_int_equal(pthread_join(tid[k], NULL), 0);
    }

    pthread_barrier_destroy(&r->barrier);
}


static int
race_count(const race_t *r, sv_store_rc_t rc)
{
    int  k, n;

    for (k = 0, n = 0; k < THREADS; k++) {
        n += r->rc[k] == rc;
    }

    return n;
}


static void
race_fail_on_error(const race_t *r)
{
    int  k;

    for (k = 0; k < THREADS; k++) {
        if (r->rc[k] == SV_STORE_ERROR || r->rc[k] == SV_STORE_UNAVAILABLE) {
            fail_msg("thread %d: rc %d: %s", k, r->rc[k], r->err[k]);
        }
    }
}


/* Two signups with one email: each its own phone and token. */

static sv_store_rc_t
signup_email_run(race_t *r, int k)
{
    char  phone[32];

    snprintf(phone, sizeof(phone), "+8210%04d%04d", r->round, k);

    return signup(r->st, "kim@example.com", phone, 0x10 + k, NULL,
                  r->err[k], sizeof(r->err[k]));
}


static void
test_race_signup_email(void **state)
{
    fx_t    *f = *state;
    int      round, k;
    char     phone[32], sql[128];
    race_t   r;

    for (round = 0; round < ROUNDS; round++) {
        for (k = 0; k < THREADS; k++) {
            snprintf(phone, sizeof(phone), "+8210%04d%04d", round, k);
            verify(f, phone, 0x10 + k, SV_PURPOSE_SIGNUP);
        }

        race(&r, f->st, signup_email_run, round);
        race_fail_on_error(&r);

        assert_int_equal(race_count(&r, SV_STORE_OK), 1);
        assert_int_equal(race_count(&r, SV_STORE_EMAIL_TAKEN), THREADS - 1);

        /* the losers' tokens are kept, a refusal counted on each */
        assert_int_equal(admin_long("SELECT count(*) FROM smsverify.tokens"
                                    " WHERE failures = 1"), THREADS - 1);

        admin_do("DELETE FROM smsverify.members");
        admin_do("DELETE FROM smsverify.tokens");
    }

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM smsverify.members");
    assert_int_equal(admin_long(sql), 0);
}


/* Two signups with one token: each its own email. */

static sv_store_rc_t
signup_token_run(race_t *r, int k)
{
    char  email[64];

    snprintf(email, sizeof(email), "kim%d.%d@example.com", r->round, k);

    return signup(r->st, email, PHONE_A, 0x70, NULL, r->err[k],
                  sizeof(r->err[k]));
}


static void
test_race_signup_token(void **state)
{
    fx_t    *f = *state;
    int      round;
    race_t   r;

    for (round = 0; round < ROUNDS; round++) {
        verify(f, PHONE_A, 0x70, SV_PURPOSE_SIGNUP);

        race(&r, f->st, signup_token_run, round);
        race_fail_on_error(&r);

        /* the winner used the token up: the others find none */
        assert_int_equal(race_count(&r, SV_STORE_OK), 1);
        assert_int_equal(race_count(&r, SV_STORE_NO_TOKEN), THREADS - 1);
        assert_int_equal(admin_long("SELECT count(*) FROM smsverify.members"),
                         1);
        assert_int_equal(admin_long("SELECT count(*) FROM smsverify.tokens"),
                         0);
        assert_int_equal(admin_long("SELECT count(*)"
                                    " FROM smsverify.member_terms"), 1);

        admin_do("DELETE FROM smsverify.members");
    }
}


/* Confirms of one code at once: every guess counts. */

static sv_store_rc_t
confirm_wrong_run(race_t *r, int k)
{
    return confirm(r->st, PHONE_A, 0x01, 0x70, &r->left[k], r->err[k],
                   sizeof(r->err[k]));
}


static sv_store_rc_t
confirm_right_run(race_t *r, int k)
{
    return confirm(r->st, PHONE_A, 0x42, 0x10 + k, &r->left[k], r->err[k],
                   sizeof(r->err[k]));
}


static void
test_race_confirm(void **state)
{
    fx_t      *f = *state;
    int        round, k;
    race_t     r;
    unsigned   seen;

    for (round = 0; round < ROUNDS; round++) {
        assert_int_equal(put_code(f->st, PHONE_A, 0x42, SV_PURPOSE_SIGNUP,
                                  f->err, sizeof(f->err)), SV_STORE_OK);

        race(&r, f->st, confirm_wrong_run, round);
        race_fail_on_error(&r);

        /* ATTEMPTS guesses were counted, each leaving a different count */
        assert_int_equal(race_count(&r, SV_STORE_MISMATCH), ATTEMPTS - 1);
        assert_int_equal(race_count(&r, SV_STORE_BURNT), 1);
        assert_int_equal(race_count(&r, SV_STORE_NO_CODE),
                         THREADS - ATTEMPTS);

        seen = 0;
        for (k = 0; k < THREADS; k++) {
            if (r.rc[k] == SV_STORE_MISMATCH) {
                assert_true(r.left[k] >= 1 && r.left[k] < ATTEMPTS);
                assert_false(seen & (1u << r.left[k]));
                seen |= 1u << r.left[k];
            }
        }

        assert_int_equal(admin_long("SELECT count(*) FROM smsverify.codes"),
                         0);

        /* and of matches at once, one */
        assert_int_equal(put_code(f->st, PHONE_A, 0x42, SV_PURPOSE_SIGNUP,
                                  f->err, sizeof(f->err)), SV_STORE_OK);

        race(&r, f->st, confirm_right_run, round);
        race_fail_on_error(&r);

        assert_int_equal(race_count(&r, SV_STORE_OK), 1);
        assert_int_equal(race_count(&r, SV_STORE_NO_CODE), THREADS - 1);
        assert_int_equal(admin_long("SELECT count(*) FROM smsverify.tokens"),
                         1);

        admin_do("DELETE FROM smsverify.tokens");
    }
}


/* Sends to a phone it has none of yet: the limit holds. */

static sv_store_rc_t
send_run(race_t *r, int k)
{
    return send_one(r->st, PHONE_B, 3, r->err[k], sizeof(r->err[k]));
}


static void
test_race_sends(void **state)
{
    fx_t    *f = *state;
    int      round;
    race_t   r;

    for (round = 0; round < ROUNDS; round++) {
        race(&r, f->st, send_run, round);
        race_fail_on_error(&r);

        assert_int_equal(race_count(&r, SV_STORE_OK), 3);
        assert_int_equal(race_count(&r, SV_STORE_SEND_LIMIT), THREADS - 3);
        assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                    " FROM smsverify.sends"), 3);
        assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                    " FROM smsverify.address_sends"),
                         3 * (round + 1));
        assert_int_equal(admin_long("SELECT sent FROM smsverify.daily_sms"),
                         3 * (round + 1));

        admin_do("DELETE FROM smsverify.sends");
    }
}


/* Failed logins of an account that had none: each is counted. */

static sv_store_rc_t
login_failed_run(race_t *r, int k)
{
    sv_login_t  l;

    memset(&l, 0, sizeof(l));
    l.account = "e:kim@example.com";
    l.now_ms = T0 + r->round * HOUR + k;
    l.limit = 100;
    l.window_ms = 15 * MIN;

    return sv_store_login_failed(r->st, &l, r->err[k], sizeof(r->err[k]));
}


static void
test_race_login_failures(void **state)
{
    fx_t    *f = *state;
    int      round;
    race_t   r;

    for (round = 0; round < ROUNDS; round++) {
        race(&r, f->st, login_failed_run, round);
        race_fail_on_error(&r);

        assert_int_equal(race_count(&r, SV_STORE_OK), THREADS);
        assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                    " FROM smsverify.login_failures"),
                         THREADS);

        admin_do("DELETE FROM smsverify.login_failures");
    }
}


/*
 * The counts are kept by triggers, whoever writes: the store's threads,
 * each on its connection (its own slot), and the application.
 */

static sv_store_rc_t
codes_run(race_t *r, int k)
{
    int            i;
    char           phone[32];
    sv_store_rc_t  rc;

    for (i = 0, rc = SV_STORE_OK; i < 10 && rc == SV_STORE_OK; i++) {
        snprintf(phone, sizeof(phone), "+8210%04d%04d", k, i);
        rc = put_code(r->st, phone, 0x42, SV_PURPOSE_SIGNUP, r->err[k],
                      sizeof(r->err[k]));
    }

    /* again: a code replaced is not one more */
    for (i = 0; i < 10 && rc == SV_STORE_OK; i++) {
        snprintf(phone, sizeof(phone), "+8210%04d%04d", k, i);
        rc = put_code(r->st, phone, 0x43, SV_PURPOSE_SIGNUP, r->err[k],
                      sizeof(r->err[k]));
    }

    for (i = 0; i < 3 && rc == SV_STORE_OK; i++) {
        snprintf(phone, sizeof(phone), "+8210%04d%04d", k, i);
        rc = confirm(r->st, phone, 0x43, 0x10 + k * 3 + i, NULL, r->err[k],
                     sizeof(r->err[k]));
    }

    return rc;
}


static void
test_stats_counts(void **state)
{
    fx_t              *f = *state;
    race_t             r;
    sv_store_stats_t   s;

    race(&r, f->st, codes_run, 0);
    race_fail_on_error(&r);

    assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(s.codes_pending, THREADS * 7);
    assert_int_equal(s.members, 0);

    /* the sweep's deletions, and members the application writes */
    assert_int_equal(sv_store_sweep(f->st, T0 + HOUR, 0, 5, f->err,
                                    sizeof(f->err)), SV_STORE_OK);
    admin_do("INSERT INTO smsverify.members (email, phone, nickname,"
             " password_hash) VALUES ('a@example.com', '+15550001', 'a', 'h'),"
             " ('b@example.com', '+15550002', 'b', 'h')");
    assert_int_equal(signup(f->st, "c@example.com", "+821000000000", 0x10,
                            NULL, f->err, sizeof(f->err)), SV_STORE_OK);

    assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(s.codes_pending, THREADS * 7 - 5);
    assert_int_equal(s.members, 3);

    admin_do("DELETE FROM smsverify.members WHERE phone = '+15550001'");
    assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(s.members, 2);
    assert_int_equal(s.codes_pending,
                     admin_long("SELECT count(*) FROM smsverify.codes"));

    /* a count is a few rows, whatever the store holds */
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.counts"),
                     2 * 16);
}


/*
 * The sweep, table by table as the LMDB store's: what no limit needs any
 * more goes, at most max rows in all, and what is still needed stays.
 */
static void
test_sweep_tables(void **state)
{
    fx_t  *f = *state;

    /* T0: a send (phone, address, day), a code, an old day's count */
    assert_int_equal(send_one(f->st, PHONE_A, 5, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(put_code(f->st, PHONE_B, 0x42, SV_PURPOSE_SIGNUP, f->err,
                              sizeof(f->err)), SV_STORE_OK);
    admin_do("INSERT INTO smsverify.daily_sms (day, sent)"
             " VALUES ('2023-11-13', 3)");

    /* half an hour on: the code (expired at T0 + 3 min) only, max 1 */
    assert_int_equal(sv_store_sweep(f->st, T0 + 30 * MIN, 0, 1, f->err,
                                    sizeof(f->err)), SV_STORE_OK);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.codes"), 0);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.daily_sms"),
                     2);

    /* then the day before T0's (2023-11-14); the windows are needed */
    assert_int_equal(sv_store_sweep(f->st, T0 + 30 * MIN, 0, 100, f->err,
                                    sizeof(f->err)), SV_STORE_OK);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.daily_sms"),
                     1);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sends"), 1);
    assert_int_equal(admin_long("SELECT count(*)"
                                " FROM smsverify.address_sends"), 1);

    /* two days on: the phone's window and the address's kept day end */
    assert_int_equal(sv_store_sweep(f->st, T0 + 2 * DAY, 0, 100, f->err,
                                    sizeof(f->err)), SV_STORE_OK);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sends"), 0);
    assert_int_equal(admin_long("SELECT count(*)"
                                " FROM smsverify.address_sends"), 0);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.daily_sms"),
                     0);
}


/* A login that read the member before a reset leaves no session. */

static sv_store_rc_t
session_start(fx_t *f, int h, uint64_t id, uint32_t epoch)
{
    uint8_t       hash[SV_HASH_SIZE];
    sv_session_t  s;

    hash_of(hash, h);

    memset(&s, 0, sizeof(s));
    s.hash = hash;
    s.member_id = id;
    s.epoch = epoch;
    s.now_ms = T0;
    s.expires_ms = T0 + DAY;
    s.idle_ms = HOUR;

    return sv_store_session_start(f->st, &s, f->err, sizeof(f->err));
}


static sv_store_rc_t
session_get(fx_t *f, int h)
{
    uint8_t           hash[SV_HASH_SIZE];
    sv_session_get_t  g;

    hash_of(hash, h);

    memset(&g, 0, sizeof(g));
    g.hash = hash;
    g.now_ms = T0 + MIN;

    return sv_store_session_get(f->st, &g, f->err, sizeof(f->err));
}


static void
test_login_racing_reset(void **state)
{
    fx_t              *f = *state;
    uint8_t            thash[SV_HASH_SIZE];
    uint64_t           id;
    sv_reset_t         rs;
    sv_member_info_t   m;

    verify(f, PHONE_A, 0x70, SV_PURPOSE_SIGNUP);
    assert_int_equal(signup(f->st, "kim@example.com", PHONE_A, 0x70, &id,
                            f->err, sizeof(f->err)), SV_STORE_OK);

    /* a login found the member (epoch 0) and started a session */
    assert_int_equal(sv_store_member_find(f->st, "kim@example.com", NULL, &m,
                                          f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(m.epoch, 0);
    assert_int_equal(session_start(f, 0x51, id, m.epoch), SV_STORE_OK);
    assert_int_equal(session_get(f, 0x51), SV_STORE_OK);

    /* the password is reset: the session goes, in the reset's commit */
    verify(f, PHONE_A, 0x71, SV_PURPOSE_RESET);
    hash_of(thash, 0x71);
    memset(&rs, 0, sizeof(rs));
    rs.phone = PHONE_A;
    rs.token_hash = thash;
    rs.now_ms = T0;
    rs.password_hash = NEW_HASH;
    assert_int_equal(sv_store_reset(f->st, &rs, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(rs.id, id);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sessions"),
                     0);

    /* a login that checked the old password before it finishes late */
    assert_int_equal(session_start(f, 0x52, id, m.epoch), SV_STORE_OK);
    assert_int_equal(session_get(f, 0x52), SV_STORE_NO_SESSION);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sessions"),
                     0);

    /* one that saw the new one logs in */
    assert_int_equal(session_start(f, 0x53, id, m.epoch + 1), SV_STORE_OK);
    assert_int_equal(session_get(f, 0x53), SV_STORE_OK);

    /* a session row of an older epoch (written by hand) is no session */
    admin_do("UPDATE smsverify.sessions SET epoch = 0");
    assert_int_equal(session_get(f, 0x53), SV_STORE_NO_SESSION);
}


/* A schema newer than the module's is refused; nothing is changed. */

static void
test_schema_newer(void **state)
{
    fx_t              *f = *state;
    sv_store_t        *st;
    sv_store_conf_t    conf;
    sv_store_stats_t   s;

    assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(admin_long("SELECT value::int FROM smsverify.meta"
                                " WHERE key = 'schema_version'"), 3);

    admin_do("UPDATE smsverify.meta SET value = '4'"
             " WHERE key = 'schema_version'");

    /* a node that starts now: open does not connect, a call refuses */
    memset(&conf, 0, sizeof(conf));
    conf.uri = uri;
    assert_int_equal(sv_store_open(&st, &conf, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    assert_int_equal(sv_store_stats(st, &s, f->err, sizeof(f->err)),
                     SV_STORE_ERROR);
    assert_non_null(strstr(f->err, "version 4, newer than this module's 3"));
    assert_int_equal(put_code(st, PHONE_A, 0x42, SV_PURPOSE_SIGNUP, f->err,
                              sizeof(f->err)), SV_STORE_ERROR);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.codes"), 0);
    assert_int_equal(admin_long("SELECT value::int FROM smsverify.meta"
                                " WHERE key = 'schema_version'"), 4);

    sv_store_close(st);
}


/*
 * A database of version 1 with rows in it (a module of that version ran
 * against it) is taken to the current version by the first connection:
 * the counts start from what the tables hold (version 2), the outbox's
 * lease row is there (version 3).
 */
static void
test_schema_upgrade(void **state)
{
    fx_t               *f = *state;
    const char *const  *stmt;
    sv_store_stats_t    s;
    sv_member_info_t    m;

    admin_do("CREATE SCHEMA smsverify");

    for (stmt = sv_pg_schema_steps[0]; *stmt != NULL; stmt++) {
        admin_do(*stmt);
    }

    admin_do("INSERT INTO smsverify.meta VALUES ('schema_version', '1')");
    admin_do("INSERT INTO smsverify.members (email, phone, nickname,"
             " password_hash) VALUES ('Kim@Example.com', '" PHONE_A "',"
             " 'kim', '" HASH "')");
    admin_do("INSERT INTO smsverify.codes (phone, code_hash, attempts_left,"
             " expires_ms) VALUES ('" PHONE_B "', '\\x00', 5, 0)");

    assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(admin_long("SELECT value::int FROM smsverify.meta"
                                " WHERE key = 'schema_version'"),
                     SV_PG_SCHEMA_VERSION);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.outbox_lease"
                                " WHERE event_id IS NULL AND until_ms = 0"),
                     1);
    assert_int_equal(s.members, 1);
    assert_int_equal(s.codes_pending, 1);

    assert_int_equal(sv_store_member_find(f->st, "kim@example.com", NULL, &m,
                                          f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_string_equal(m.email, "Kim@Example.com");
    assert_int_equal(m.epoch, 0);

    /* the old code is swept, and counted out */
    assert_int_equal(sv_store_sweep(f->st, T0, 0, 10, f->err,
                                    sizeof(f->err)), SV_STORE_OK);
    assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(s.codes_pending, 0);
}


/* An outage: UNAVAILABLE at once, nothing changed, then back. */

static void
test_outage(void **state)
{
    fx_t              *f = *state;
    int                i;
    int64_t            t0;
    sv_store_rc_t      rc;
    sv_store_stats_t   s;

    if (getenv("SV_PG_SH") == NULL) {
        print_message("SV_PG_SH (the path of t/pg/pg.sh) unset:"
                      " no outage test\n");
        skip();
    }

    assert_int_equal(send_one(f->st, PHONE_A, 5, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    pg_sh("kill");

    for (i = 0; i < 3; i++) {
        t0 = now_ms();
        f->err[0] = '\0';
        assert_int_equal(send_one(f->st, PHONE_A, 5, f->err,
                                  sizeof(f->err)), SV_STORE_UNAVAILABLE);
        assert_true(now_ms() - t0 < 1000);
        assert_true(f->err[0] != '\0');
        assert_null(strstr(f->err, PHONE_A));

        assert_int_equal(put_code(f->st, PHONE_A, 0x42, SV_PURPOSE_SIGNUP,
                                  f->err, sizeof(f->err)),
                         SV_STORE_UNAVAILABLE);
        assert_int_equal(confirm(f->st, PHONE_A, 0x42, 0x70, NULL, f->err,
                                 sizeof(f->err)), SV_STORE_UNAVAILABLE);
        assert_int_equal(sv_store_stats(f->st, &s, f->err, sizeof(f->err)),
                         SV_STORE_UNAVAILABLE);
    }

    pg_sh("start");

    /* the same store, once sv_pg tries again (it waits a second) */
    t0 = now_ms();

    do {
        sleep_ms(100);
        rc = sv_store_stats(f->st, &s, f->err, sizeof(f->err));
    } while (rc == SV_STORE_UNAVAILABLE && now_ms() - t0 < 10000);

    assert_int_equal(rc, SV_STORE_OK);
    assert_int_equal(s.codes_pending, 0);

    /* the refused sends counted nothing: one was counted before */
    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.sends"), 1);
    assert_int_equal(send_one(f->st, PHONE_A, 5, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.sends"), 2);
}


/*
 * The outbox: threads, each with a connection of its own as nodes have,
 * take at once; one gets the oldest event, the others nothing; then the
 * next, in order.
 */

static sv_outbox_event_t  race_events[THREADS];

static sv_store_rc_t
outbox_take_run(race_t *r, int k)
{
    return sv_store_outbox_take(r->st, T0 + MIN, 30 * 1000, &race_events[k],
                                r->err[k], sizeof(r->err[k]));
}


static void
test_race_outbox_take(void **state)
{
    fx_t             *f = *state;
    int               round, k, got;
    char              phone[32], email[64];
    uint64_t          ids[4], last;
    sv_store_t       *ob;
    sv_store_conf_t   conf;
    race_t            r;

    memset(&conf, 0, sizeof(conf));
    conf.uri = uri;
    conf.outbox = 1;
    assert_int_equal(sv_store_open(&ob, &conf, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    for (k = 0; k < 4; k++) {
        snprintf(phone, sizeof(phone), "+82107000%04d", k);
        snprintf(email, sizeof(email), "hook%d@example.com", k);
        verify(f, phone, 0x30 + k, SV_PURPOSE_SIGNUP);
        assert_int_equal(signup(ob, email, phone, 0x30 + k, &ids[k], f->err,
                                sizeof(f->err)), SV_STORE_OK);
    }

    /* a signup of the store without outbox writes none */
    verify(f, "+821070009999", 0x3f, SV_PURPOSE_SIGNUP);
    assert_int_equal(signup(f->st, "none@example.com", "+821070009999", 0x3f,
                            NULL, f->err, sizeof(f->err)), SV_STORE_OK);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.outbox"), 4);

    last = 0;

    for (round = 0; round < 4; round++) {
        memset(race_events, 0, sizeof(race_events));
        race(&r, ob, outbox_take_run, round);
        race_fail_on_error(&r);

        got = -1;
        for (k = 0; k < THREADS; k++) {
            if (race_events[k].found) {
                assert_int_equal(got, -1);
                got = k;
            }
        }

        assert_true(got >= 0);
        assert_true(race_events[got].id > last);
        last = race_events[got].id;
        assert_non_null(strstr(race_events[got].body, "\"memberId\":"));

        {
            char  want[64];

            snprintf(want, sizeof(want), "\"memberId\":%llu,",
                     (unsigned long long) ids[round]);
            assert_non_null(strstr(race_events[got].body, want));
        }

        assert_int_equal(sv_store_outbox_done(ob, &race_events[got], f->err,
                                              sizeof(f->err)),
                         SV_STORE_OK);
    }

    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.outbox"), 0);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.outbox_lease"
                                " WHERE event_id IS NULL"), 1);

    sv_store_close(ob);
}


/*
 * Batches of confirms (sv_store_batch_run() with typed ops): each answered
 * as alone, in pipelines whose round trips sv_pg counts.
 */

#define BATCH_MAX   64

typedef struct {
    sv_store_t             *st;
    sv_confirm_t            c;
    uint8_t                 ghash[SV_HASH_SIZE];
    uint8_t                 thash[SV_HASH_SIZE];
    sv_store_confirm_op_t   op;
    sv_store_rc_t           rc;
    char                    err[256];
    int                     runs;
} bop_t;


static void
bop_run(void *data)
{
    bop_t  *b = data;

    b->runs++;
    sv_store_confirm_op(b->st, &b->op);
}


static void
bop_set(bop_t *b, sv_store_t *st, const char *phone, int guess, int token)
{
    memset(b, 0, sizeof(bop_t));
    b->st = st;
    hash_of(b->ghash, guess);
    hash_of(b->thash, token);

    b->c.phone = phone;
    b->c.guess_hash = b->ghash;
    b->c.now_ms = T0;
    b->c.token_new = token_new;
    b->c.token_data = b->thash;
    b->c.token_expires_ms = T0 + 30 * MIN;

    b->op.c = &b->c;
    b->op.rc = &b->rc;
    b->op.err = b->err;
    b->op.errlen = sizeof(b->err);

    b->rc = (sv_store_rc_t) -1;
}


static void
bop_batch(bop_t *b, size_t n)
{
    size_t         i;
    sv_store_op_t  ops[BATCH_MAX];

    assert_true(n <= BATCH_MAX);
    memset(ops, 0, sizeof(ops));

    for (i = 0; i < n; i++) {
        ops[i].run = bop_run;
        ops[i].data = &b[i];
        ops[i].confirm = &b[i].op;
    }

    sv_store_batch_run(b[0].st, ops, n);
}


static uint64_t
trips(fx_t *f)
{
    return sv_pg_round_trips(sv_store_pg(f->st));
}


static void
put_code_at(sv_store_t *st, const char *phone, int h, unsigned attempts,
    int64_t expires_ms, sv_purpose_t purpose)
{
    char     err[256];
    uint8_t  hash[SV_HASH_SIZE];

    hash_of(hash, h);

    if (sv_store_code_put(st, phone, hash, expires_ms, attempts, purpose,
                          err, sizeof(err))
        != SV_STORE_OK)
    {
        fail_msg("code_put: %s", err);
    }
}


static long
attempts_of(const char *phone)
{
    char  sql[2048];

    snprintf(sql, sizeof(sql), "SELECT coalesce((SELECT attempts_left"
             " FROM smsverify.codes WHERE phone = '%s'), -1)", phone);

    return admin_long(sql);
}


static long
tokens_of(const char *phone, int token)
{
    char  sql[2048];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM smsverify.tokens"
             " WHERE phone = '%s'"
             " AND token_hash = decode(repeat('%02x', %d), 'hex')", phone,
             token, SV_HASH_SIZE);

    return admin_long(sql);
}


/* the statements prepared on this thread's connection: none to come */
static void
warm(fx_t *f)
{
    verify(f, "+821099999999", 0x77, SV_PURPOSE_SIGNUP);
    assert_int_equal(confirm(f->st, "+821099999999", 0x42, 0x77, NULL,
                             f->err, sizeof(f->err)), SV_STORE_NO_CODE);
    put_code_at(f->st, "+821099999999", 0x42, 1, T0 + MIN,
                SV_PURPOSE_SIGNUP);
    assert_int_equal(confirm(f->st, "+821099999999", 0x41, 0x77, NULL,
                             f->err, sizeof(f->err)), SV_STORE_BURNT);
}


/*
 * Each confirm of a batch answers as it would alone: a wrong guess, the
 * last one (burnt), no code, an expired one, a member's phone, a reset
 * code of a member's phone, a match with its own token; two guesses at
 * one phone see each other, in order; and all in two round trips.
 */
static void
test_batch_answers(void **state)
{
    fx_t      *f = *state;
    int        i;
    bop_t      b[10];
    uint64_t   t;

    warm(f);

    put_code_at(f->st, "+821000000000", 0x42, 5, T0 + MIN, SV_PURPOSE_SIGNUP);
    put_code_at(f->st, "+821000000001", 0x42, 1, T0 + MIN, SV_PURPOSE_SIGNUP);
    put_code_at(f->st, "+821000000003", 0x42, 5, T0, SV_PURPOSE_SIGNUP);
    put_code_at(f->st, "+821000000004", 0x42, 5, T0 + MIN, SV_PURPOSE_RESET);
    put_code_at(f->st, "+821000000007", 0x42, 5, T0 + MIN, SV_PURPOSE_SIGNUP);

    /* members of 5 (a signup code) and 6 (a reset code) */
    verify(f, "+821000000005", 0x55, SV_PURPOSE_SIGNUP);
    assert_int_equal(signup(f->st, "a@example.com", "+821000000005", 0x55,
                            NULL, f->err, sizeof(f->err)), SV_STORE_OK);
    verify(f, "+821000000006", 0x56, SV_PURPOSE_SIGNUP);
    assert_int_equal(signup(f->st, "b@example.com", "+821000000006", 0x56,
                            NULL, f->err, sizeof(f->err)), SV_STORE_OK);
    put_code_at(f->st, "+821000000005", 0x42, 5, T0 + MIN, SV_PURPOSE_SIGNUP);
    put_code_at(f->st, "+821000000006", 0x42, 5, T0 + MIN, SV_PURPOSE_RESET);

    bop_set(&b[0], f->st, "+821000000000", 0x41, 0x60);
    bop_set(&b[1], f->st, "+821000000001", 0x41, 0x61);
    bop_set(&b[2], f->st, "+821000000002", 0x41, 0x62);
    bop_set(&b[3], f->st, "+821000000003", 0x41, 0x63);
    bop_set(&b[4], f->st, "+821000000004", 0x42, 0x64);
    bop_set(&b[5], f->st, "+821000000005", 0x42, 0x65);
    bop_set(&b[6], f->st, "+821000000006", 0x41, 0x66);
    bop_set(&b[7], f->st, "+821000000007", 0x41, 0x67);
    bop_set(&b[8], f->st, "+821000000007", 0x42, 0x68);
    bop_set(&b[9], f->st, "+821000000000", 0x41, 0x69);

    t = trips(f);
    bop_batch(b, 10);
    assert_int_equal(trips(f) - t, 2);

    for (i = 0; i < 10; i++) {
        assert_int_equal(b[i].runs, 0);
    }

    assert_int_equal(b[0].rc, SV_STORE_MISMATCH);
    assert_int_equal(b[0].c.attempts_left, 4);
    assert_int_equal(b[1].rc, SV_STORE_BURNT);
    assert_int_equal(b[1].c.attempts_left, 0);
    assert_int_equal(b[2].rc, SV_STORE_NO_CODE);
    assert_int_equal(b[3].rc, SV_STORE_EXPIRED);
    assert_int_equal(b[4].rc, SV_STORE_OK);
    assert_int_equal(b[4].c.purpose, SV_PURPOSE_RESET);
    assert_int_equal(b[5].rc, SV_STORE_PHONE_TAKEN);
    assert_int_equal(b[6].rc, SV_STORE_MISMATCH);
    assert_int_equal(b[6].c.attempts_left, 4);
    assert_int_equal(b[6].c.purpose, SV_PURPOSE_RESET);
    assert_int_equal(b[7].rc, SV_STORE_MISMATCH);
    assert_int_equal(b[7].c.attempts_left, 4);
    assert_int_equal(b[8].rc, SV_STORE_OK);
    assert_int_equal(b[8].c.purpose, SV_PURPOSE_SIGNUP);
    assert_int_equal(b[9].rc, SV_STORE_MISMATCH);
    assert_int_equal(b[9].c.attempts_left, 3);

    /* what they wrote: as many attempts, codes and tokens */
    assert_int_equal(attempts_of("+821000000000"), 3);
    assert_int_equal(attempts_of("+821000000001"), -1);
    assert_int_equal(attempts_of("+821000000003"), 5);
    assert_int_equal(attempts_of("+821000000004"), -1);
    assert_int_equal(attempts_of("+821000000005"), 5);
    assert_int_equal(attempts_of("+821000000006"), 4);
    assert_int_equal(attempts_of("+821000000007"), -1);
    assert_int_equal(tokens_of("+821000000004", 0x64), 1);
    assert_int_equal(tokens_of("+821000000007", 0x68), 1);
    assert_int_equal(tokens_of("+821000000007", 0x67), 0);

    /* the tokens are of the codes' purposes */
    assert_int_equal(sv_store_token_check(f->st, b[4].thash,
                                          "+821000000004", SV_PURPOSE_RESET,
                                          T0, f->err, sizeof(f->err)),
                     SV_STORE_OK);
    assert_int_equal(sv_store_token_check(f->st, b[8].thash,
                                          "+821000000007", SV_PURPOSE_SIGNUP,
                                          T0, f->err, sizeof(f->err)),
                     SV_STORE_OK);
}


/* 50 wrong guesses: one round trip; 50 matches: two; one alone: one. */
static void
test_batch_round_trips(void **state)
{
    fx_t      *f = *state;
    int        i;
    char       phones[50][32];
    bop_t      b[50];
    uint64_t   t;

    warm(f);

    for (i = 0; i < 50; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210100%05d", i);
        put_code_at(f->st, phones[i], 0x42, 5, T0 + MIN, SV_PURPOSE_SIGNUP);
        bop_set(&b[i], f->st, phones[i], 0x41, 0x10);
    }

    t = trips(f);
    bop_batch(b, 50);
    assert_int_equal(trips(f) - t, 1);

    for (i = 0; i < 50; i++) {
        assert_int_equal(b[i].rc, SV_STORE_MISMATCH);
        assert_int_equal(b[i].c.attempts_left, 4);
        assert_int_equal(b[i].runs, 0);
        assert_int_equal(attempts_of(phones[i]), 4);
    }

    for (i = 0; i < 50; i++) {
        bop_set(&b[i], f->st, phones[i], 0x42, 0x80 + i);
    }

    t = trips(f);
    bop_batch(b, 50);
    assert_int_equal(trips(f) - t, 2);

    for (i = 0; i < 50; i++) {
        assert_int_equal(b[i].rc, SV_STORE_OK);
        assert_int_equal(tokens_of(phones[i], 0x80 + i), 1);
    }

    /* a batch of one is the confirm alone: a wrong guess, one trip */
    put_code_at(f->st, phones[0], 0x42, 5, T0 + MIN, SV_PURPOSE_SIGNUP);
    bop_set(&b[0], f->st, phones[0], 0x41, 0x10);

    t = trips(f);
    bop_batch(b, 1);
    assert_int_equal(trips(f) - t, 1);
    assert_int_equal(b[0].rc, SV_STORE_MISMATCH);
    assert_int_equal(b[0].runs, 1);
}


/* a connection of the test's own, for locks held across statements */
static PGconn *
admin_conn(void)
{
    PGconn  *conn;

    conn = PQconnectdb(uri);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);

    return conn;
}


static void
conn_do(PGconn *conn, const char *sql)
{
    PGresult  *res;

    res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_COMMAND_OK
        && PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    }

    PQclear(res);
}


/*
 * A failing confirm answers only itself: one whose code is not of the
 * module's making (ERROR), one whose row another transaction holds past
 * the statement timeout (UNAVAILABLE); those around them as alone.
 */
static void
test_batch_one_fails(void **state)
{
    fx_t             *f = *state;
    int               i;
    bop_t             b[5];
    PGconn           *conn;
    sv_store_t       *st;
    sv_store_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.uri = uri;
    conf.statement_timeout_ms = 300;
    assert_int_equal(sv_store_open(&st, &conf, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    for (i = 0; i < 5; i++) {
        char  phone[32];

        snprintf(phone, sizeof(phone), "+8210200%05d", i);
        put_code_at(st, phone, 0x42, 5, T0 + MIN, SV_PURPOSE_SIGNUP);
    }

    admin_do("UPDATE smsverify.codes SET code_hash = '\\x0102'"
             " WHERE phone = '+821020000001'");

    conn = admin_conn();
    conn_do(conn, "BEGIN");
    conn_do(conn, "SELECT * FROM smsverify.codes"
            " WHERE phone = '+821020000003' FOR UPDATE");

    bop_set(&b[0], st, "+821020000000", 0x41, 0x10);
    bop_set(&b[1], st, "+821020000001", 0x41, 0x11);
    bop_set(&b[2], st, "+821020000002", 0x42, 0x12);
    bop_set(&b[3], st, "+821020000003", 0x41, 0x13);
    bop_set(&b[4], st, "+821020000004", 0x41, 0x14);

    bop_batch(b, 5);

    conn_do(conn, "ROLLBACK");
    PQfinish(conn);

    assert_int_equal(b[0].rc, SV_STORE_MISMATCH);
    assert_int_equal(b[0].c.attempts_left, 4);
    assert_int_equal(b[1].rc, SV_STORE_ERROR);
    assert_non_null(strstr(b[1].err, "codes"));
    assert_int_equal(b[2].rc, SV_STORE_OK);
    assert_int_equal(b[3].rc, SV_STORE_UNAVAILABLE);
    assert_non_null(strstr(b[3].err, "57014"));
    assert_int_equal(b[4].rc, SV_STORE_MISMATCH);
    assert_int_equal(b[4].c.attempts_left, 4);

    assert_int_equal(attempts_of("+821020000000"), 4);
    assert_int_equal(attempts_of("+821020000001"), 5);
    assert_int_equal(attempts_of("+821020000002"), -1);
    assert_int_equal(attempts_of("+821020000003"), 5);
    assert_int_equal(attempts_of("+821020000004"), 4);
    assert_int_equal(tokens_of("+821020000002", 0x12), 1);

    /* the connection serves on: the held one, free now, alone */
    bop_set(&b[3], st, "+821020000003", 0x41, 0x13);
    bop_batch(&b[3], 1);
    assert_int_equal(b[3].rc, SV_STORE_MISMATCH);
    assert_int_equal(b[3].c.attempts_left, 4);

    sv_store_close(st);
}


/*
 * Batches from two connections (two nodes) on one code: every attempt
 * counted once, and of the matches one.
 */

#define RACE_BATCH  8

typedef struct {
    sv_store_t          *st;
    pthread_barrier_t   *barrier;
    int                  right;         /* the batch's last guess right */
    int                  token;
    bop_t                b[RACE_BATCH];
} batch_race_t;


static void *
batch_race_main(void *p)
{
    int            i;
    batch_race_t  *r = p;

    for (i = 0; i < RACE_BATCH; i++) {
        bop_set(&r->b[i], r->st, PHONE_A,
                r->right && i == RACE_BATCH - 1 ? 0x42 : 0x41, r->token);
    }

    pthread_barrier_wait(r->barrier);
    bop_batch(r->b, RACE_BATCH);

    return NULL;
}


static void
batch_race(sv_store_t *st, batch_race_t *r, int right)
{
    int                 k;
    pthread_t           tid[2];
    pthread_barrier_t   barrier;

    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);

    for (k = 0; k < 2; k++) {
        r[k].st = st;
        r[k].barrier = &barrier;
        r[k].right = right;
        r[k].token = 0x20 + k;
        assert_int_equal(pthread_create(&tid[k], NULL, batch_race_main,
                                        &r[k]), 0);
    }

    for (k = 0; k < 2; k++) {
        assert_int_equal(pthread_join(tid[k], NULL), 0);
    }

    pthread_barrier_destroy(&barrier);
}


static void
test_race_batches(void **state)
{
    fx_t          *f = *state;
    int            round, k, i, ok, burnt, none, wrong;
    bop_t         *b;
    unsigned       seen;
    batch_race_t   r[2];

    for (round = 0; round < ROUNDS; round++) {

        /* wrong guesses only: 5 attempts, 16 guesses */

        put_code_at(f->st, PHONE_A, 0x42, ATTEMPTS, T0 + MIN,
                    SV_PURPOSE_SIGNUP);
        batch_race(f->st, r, 0);

        seen = 0;
        wrong = burnt = none = 0;

        for (k = 0; k < 2; k++) {
            for (i = 0; i < RACE_BATCH; i++) {
                b = &r[k].b[i];

                switch (b->rc) {
                case SV_STORE_MISMATCH:
                    assert_true(b->c.attempts_left >= 1
                                && b->c.attempts_left < ATTEMPTS);
                    assert_false(seen & (1u << b->c.attempts_left));
                    seen |= 1u << b->c.attempts_left;
                    wrong++;
                    break;
                case SV_STORE_BURNT:
                    burnt++;
                    break;
                case SV_STORE_NO_CODE:
                    none++;
                    break;
                default:
                    fail_msg("batch %d op %d: rc %d: %s", k, i, b->rc,
                             b->err);
                }
            }
        }

        assert_int_equal(wrong, ATTEMPTS - 1);
        assert_int_equal(burnt, 1);
        assert_int_equal(none, 2 * RACE_BATCH - ATTEMPTS);
        assert_int_equal(attempts_of(PHONE_A), -1);

        /* each batch ends with the right guess: 20 attempts */

        put_code_at(f->st, PHONE_A, 0x42, 20, T0 + MIN, SV_PURPOSE_SIGNUP);
        batch_race(f->st, r, 1);

        seen = 0;
        ok = wrong = none = 0;

        for (k = 0; k < 2; k++) {
            for (i = 0; i < RACE_BATCH; i++) {
                b = &r[k].b[i];

                switch (b->rc) {
                case SV_STORE_MISMATCH:
                    assert_true(b->c.attempts_left >= 1
                                && b->c.attempts_left < 20);
                    assert_false(seen & (1u << b->c.attempts_left));
                    seen |= 1u << b->c.attempts_left;
                    wrong++;
                    break;
                case SV_STORE_OK:
                    assert_int_equal(i, RACE_BATCH - 1);
                    ok++;
                    break;
                case SV_STORE_NO_CODE:
                    none++;
                    break;
                default:
                    fail_msg("batch %d op %d: rc %d: %s", k, i, b->rc,
                             b->err);
                }
            }
        }

        /* the guesses before the match counted; the later ones, none */
        assert_int_equal(ok, 1);
        assert_int_equal(wrong + none + ok, 2 * RACE_BATCH);
        assert_true(wrong >= RACE_BATCH - 1);
        assert_int_equal(attempts_of(PHONE_A), -1);
        assert_int_equal(admin_long("SELECT count(*) FROM smsverify.tokens"
                                    " WHERE phone = '" PHONE_A "'"), 1);
        admin_do("DELETE FROM smsverify.tokens");
    }
}


/*
 * The database killed while a batch is in flight (one transaction, held
 * at a row another transaction locked): nothing of it was committed,
 * every confirm answers UNAVAILABLE at once, and nothing of theirs is in
 * the database when it is back.  (A pipeline of one transaction a
 * statement, lost midway, answers those whose sync came: test_pg.c.)
 */

static void *
kill_later(void *p)
{
    (void) p;

    sleep_ms(500);
    pg_sh("kill");

    return NULL;
}


static void
test_batch_outage(void **state)
{
    fx_t           *f = *state;
    int             i;
    bop_t           b[6];
    char            phones[6][32];
    PGconn         *conn;
    int64_t         t0;
    pthread_t       tid;
    sv_store_rc_t   rc;

    if (getenv("SV_PG_SH") == NULL) {
        print_message("SV_PG_SH (the path of t/pg/pg.sh) unset:"
                      " no outage test\n");
        skip();
    }

    warm(f);

    for (i = 0; i < 6; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210300%05d", i);
        put_code_at(f->st, phones[i], 0x42, 5, T0 + MIN, SV_PURPOSE_SIGNUP);
        bop_set(&b[i], f->st, phones[i], i == 1 ? 0x42 : 0x41, 0x30 + i);
    }

    conn = admin_conn();
    conn_do(conn, "BEGIN");
    conn_do(conn, "SELECT * FROM smsverify.codes"
            " WHERE phone = '+821030000003' FOR UPDATE");

    assert_int_equal(pthread_create(&tid, NULL, kill_later, NULL), 0);
    t0 = now_ms();
    bop_batch(b, 6);
    assert_int_equal(pthread_join(tid, NULL), 0);
    PQfinish(conn);

    assert_true(now_ms() - t0 < 3000);

    for (i = 0; i < 6; i++) {
        assert_int_equal(b[i].rc, SV_STORE_UNAVAILABLE);
        assert_true(b[i].err[0] != '\0');
        assert_int_equal(b[i].runs, 0);
    }

    pg_sh("start");

    t0 = now_ms();

    do {
        sleep_ms(100);
        bop_set(&b[0], f->st, "+821099999998", 0x41, 0x10);
        bop_batch(b, 1);
        rc = b[0].rc;
    } while (rc == SV_STORE_UNAVAILABLE && now_ms() - t0 < 10000);

    assert_int_equal(rc, SV_STORE_NO_CODE);

    for (i = 0; i < 6; i++) {
        assert_int_equal(attempts_of(phones[i]), 5);
    }
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.tokens"
                                " WHERE phone LIKE '+8210300%'"), 0);
}


/* Batches of sends. */

typedef struct {
    sv_store_t             *st;
    sv_send_t               s;
    sv_store_send_op_t      op;
    sv_store_rc_t           rc;
    char                    err[256];
    int                     runs;
} sop_t;


static void
sop_run(void *data)
{
    sop_t  *o = data;

    o->runs++;
    sv_store_send_op(o->st, &o->op);
}


/* a send of phone from addr, at most limit in an hour, budget 1000 */
static void
sop_set(sop_t *o, sv_store_t *st, const char *phone, const char *addr,
    unsigned limit, int64_t now_ms)
{
    memset(o, 0, sizeof(sop_t));
    o->st = st;

    o->s.phone = phone;
    o->s.purpose = SV_PURPOSE_SIGNUP;
    o->s.now_ms = now_ms;
    o->s.limit = limit;
    o->s.window_ms = HOUR;
    o->s.addr = addr;
    o->s.addr_keep_ms = DAY;
    o->s.budget = 1000;

    o->op.s = &o->s;
    o->op.rc = &o->rc;
    o->op.err = o->err;
    o->op.errlen = sizeof(o->err);

    o->rc = (sv_store_rc_t) -1;
}


static void
sop_batch(sop_t *o, size_t n)
{
    size_t         i;
    sv_store_op_t  ops[BATCH_MAX];

    assert_true(n <= BATCH_MAX);
    memset(ops, 0, sizeof(ops));

    for (i = 0; i < n; i++) {
        ops[i].run = sop_run;
        ops[i].data = &o[i];
        ops[i].send = &o[i].op;
    }

    sv_store_batch_run(o[0].st, ops, n);
}


/* the statements of sends prepared on this thread's connection */
static void
warm_sends(fx_t *f)
{
    sop_t  o[2];

    sop_set(&o[0], f->st, "+821099999990", "198.51.100.1", 5, T0);
    sop_set(&o[1], f->st, "+821099999991", "198.51.100.1", 5, T0);
    sop_batch(o, 2);
    assert_int_equal(o[0].rc, SV_STORE_OK);
    assert_int_equal(o[1].rc, SV_STORE_OK);
}


/*
 * A send alone: 5 round trips (BEGIN, the locks, the read, the write,
 * COMMIT), its code 1 more.  A batch of N sends: N + 1 for them all,
 * each answered and counted as alone, none run alone.
 */
static void
test_send_batch_round_trips(void **state)
{
    fx_t      *f = *state;
    int        i;
    char       phones[40][32];
    sop_t      o[40];
    uint64_t   t;

    warm_sends(f);
    put_code_at(f->st, "+821099999990", 0x42, 5, T0 + MIN,
                SV_PURPOSE_SIGNUP);

    sop_set(&o[0], f->st, "+821099999992", "198.51.100.1", 5, T0);
    t = trips(f);
    sop_batch(o, 1);
    assert_int_equal(o[0].rc, SV_STORE_OK);
    assert_int_equal(o[0].runs, 1);
    assert_int_equal(trips(f) - t, 5);

    t = trips(f);
    put_code_at(f->st, "+821099999992", 0x42, 5, T0 + MIN,
                SV_PURPOSE_SIGNUP);
    assert_int_equal(trips(f) - t, 1);

    for (i = 0; i < 40; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210400%05d", i);
        sop_set(&o[i], f->st, phones[i], "198.51.100.2", 5, T0 + i);
    }

    t = trips(f);
    sop_batch(o, 40);
    assert_int_equal(trips(f) - t, 41);

    for (i = 0; i < 40; i++) {
        assert_int_equal(o[i].rc, SV_STORE_OK);
        assert_int_equal(o[i].runs, 0);
    }

    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sends"
                                " WHERE phone LIKE '+8210400%'"), 40);
    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.address_sends"
                                " WHERE address = '198.51.100.2'"), 40);
    assert_int_equal(admin_long("SELECT sent FROM smsverify.daily_sms"),
                     43);
}


/*
 * The limits hold within a batch as between sends alone: of 12 sends of
 * one phone (at most 3 an hour) 3 pass, the others SEND_LIMIT; of an
 * address's at most 4, 4; a member's phone is taken for a signup; the
 * budget's last send passes and the next is BUDGET.
 */
static void
test_send_batch_limits(void **state)
{
    fx_t      *f = *state;
    int        i, ok;
    char       phones[8][32];
    sop_t      o[20];

    warm_sends(f);

    for (i = 0; i < 12; i++) {
        sop_set(&o[i], f->st, PHONE_A, NULL, 3, T0 + i);
    }

    sop_batch(o, 12);

    for (i = 0; i < 12; i++) {
        assert_int_equal(o[i].rc, i < 3 ? SV_STORE_OK : SV_STORE_SEND_LIMIT);
        assert_int_equal(o[i].runs, 0);
    }

    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.sends"
                                " WHERE phone = '" PHONE_A "'"), 3);

    for (i = 0; i < 8; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210500%05d", i);
        sop_set(&o[i], f->st, phones[i], "198.51.100.7", 5, T0 + i);
        o[i].s.addr_limit = 4;
        o[i].s.addr_window_ms = HOUR;
    }

    sop_batch(o, 8);

    for (i = 0, ok = 0; i < 8; i++) {
        assert_int_equal(o[i].rc, i < 4 ? SV_STORE_OK : SV_STORE_IP_LIMIT);
        ok += o[i].rc == SV_STORE_OK;
    }

    assert_int_equal(ok, 4);
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sends"
                                " WHERE phone LIKE '+8210500%'"), 4);

    /* a member's phone, then the budget: 3 + 4 + 2 sent today */
    verify(f, PHONE_B, 0x55, SV_PURPOSE_SIGNUP);
    assert_int_equal(signup(f->st, "a@example.com", PHONE_B, 0x55, NULL,
                            f->err, sizeof(f->err)), SV_STORE_OK);

    sop_set(&o[0], f->st, PHONE_B, NULL, 5, T0);
    sop_set(&o[1], f->st, "+821060000001", NULL, 5, T0);
    sop_set(&o[2], f->st, "+821060000002", NULL, 5, T0);
    sop_set(&o[3], f->st, "+821060000003", NULL, 5, T0);
    o[1].s.budget = 10;
    o[2].s.budget = 10;
    o[3].s.budget = 10;

    sop_batch(o, 4);

    assert_int_equal(o[0].rc, SV_STORE_PHONE_TAKEN);
    assert_int_equal(o[1].rc, SV_STORE_OK);
    assert_int_equal(o[2].rc, SV_STORE_BUDGET);
    assert_int_equal(o[2].s.budget_first, 1);
    assert_int_equal(o[3].rc, SV_STORE_BUDGET);
    assert_int_equal(o[3].s.budget_first, 0);
    assert_int_equal(admin_long("SELECT sent FROM smsverify.daily_sms"), 10);
    assert_int_equal(admin_long("SELECT refused FROM smsverify.daily_sms"),
                     2);
}


/* another connection holds a phone's send lock, in a transaction */
static PGconn *
hold_send_lock(const char *phone)
{
    char     sql[256];
    PGconn  *conn;

    conn = admin_conn();
    conn_do(conn, "BEGIN");
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock("
             SV_PG_LOCK_PHONE ", hashtext('%s'))", phone);
    conn_do(conn, sql);

    return conn;
}


/*
 * A failing send answers only itself: one whose row is not of the
 * module's making (ERROR), one whose lock another transaction holds past
 * the statement timeout (UNAVAILABLE); those around it as alone, in
 * the same round trips, and the connection serves on.
 */
static void
test_send_batch_one_fails(void **state)
{
    fx_t             *f = *state;
    int               i;
    char              phones[5][32];
    sop_t             o[5];
    PGconn           *conn;
    uint64_t          t;
    sv_store_t       *st, *own;
    sv_store_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.uri = uri;
    conf.statement_timeout_ms = 300;
    assert_int_equal(sv_store_open(&st, &conf, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    own = f->st;
    f->st = st;
    warm_sends(f);

    for (i = 0; i < 5; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210700%05d", i);
        sop_set(&o[i], st, phones[i], "198.51.100.9", 5, T0);
    }

    admin_do("INSERT INTO smsverify.sends (phone, stamps_ms, keep_until_ms)"
             " VALUES ('+821070000001', '{1,NULL}', 0)");

    conn = hold_send_lock("+821070000003");

    t = trips(f);
    sop_batch(o, 5);
    assert_int_equal(trips(f) - t, 6);

    conn_do(conn, "ROLLBACK");
    PQfinish(conn);

    assert_int_equal(o[0].rc, SV_STORE_OK);
    assert_int_equal(o[1].rc, SV_STORE_ERROR);
    assert_non_null(strstr(o[1].err, "sends"));
    assert_int_equal(o[2].rc, SV_STORE_OK);
    assert_int_equal(o[3].rc, SV_STORE_UNAVAILABLE);
    assert_non_null(strstr(o[3].err, "57014"));
    assert_int_equal(o[4].rc, SV_STORE_OK);

    for (i = 0; i < 5; i++) {
        assert_int_equal(o[i].runs, 0);
    }

    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sends"
                                " WHERE phone LIKE '+8210700%'"
                                " AND cardinality(stamps_ms) = 1"), 3);
    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.address_sends"
                                " WHERE address = '198.51.100.9'"), 3);

    /* the held one, free now: in a batch again, with another */
    sop_set(&o[0], st, phones[3], "198.51.100.9", 5, T0);
    sop_set(&o[1], st, "+821070000009", "198.51.100.9", 5, T0);
    sop_batch(o, 2);
    assert_int_equal(o[0].rc, SV_STORE_OK);
    assert_int_equal(o[1].rc, SV_STORE_OK);
    assert_int_equal(o[0].runs, 0);

    f->st = own;
    sv_store_close(st);
}


static void
aop_run(void *data)
{
    sop_t  *o = data;

    o->runs++;
    sv_store_abort_op(o->st, &o->op);
}


/* the sends of o taken back, as a batch of aborts */
static void
aop_batch(sop_t *o, size_t n)
{
    size_t         i;
    sv_store_op_t  ops[BATCH_MAX];

    assert_true(n <= BATCH_MAX);
    memset(ops, 0, sizeof(ops));

    for (i = 0; i < n; i++) {
        o[i].rc = (sv_store_rc_t) -1;
        o[i].runs = 0;
        ops[i].run = aop_run;
        ops[i].data = &o[i];
        ops[i].abort = &o[i].op;
    }

    sv_store_batch_run(o[0].st, ops, n);
}


/* the statements of sends and their aborts prepared */
static void
warm_aborts(fx_t *f)
{
    sop_t  o[2];

    warm_sends(f);
    sop_set(&o[0], f->st, "+821099999980", "198.51.100.1", 5, T0);
    sop_set(&o[1], f->st, "+821099999981", "198.51.100.1", 5, T0);
    sop_batch(o, 2);
    aop_batch(o, 2);
    assert_int_equal(o[0].rc, SV_STORE_OK);
    assert_int_equal(o[1].rc, SV_STORE_OK);
}


/*
 * A batch's sends taken back (every provider failed): N aborts in N + 1
 * round trips, none run alone, each send's stamps and the day's count
 * back as they were; one whose row is not of the module's making fails
 * alone (ERROR), the others as alone.
 */
static void
test_abort_batch(void **state)
{
    fx_t      *f = *state;
    int        i;
    char       phones[20][32];
    sop_t      o[20];
    uint64_t   t;
    long       sent;

    warm_aborts(f);
    sent = admin_long("SELECT sent FROM smsverify.daily_sms");

    for (i = 0; i < 20; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210800%05d", i);
        sop_set(&o[i], f->st, phones[i], "198.51.100.3", 5, T0 + i);
    }

    /* the first one sent before: one stamp of it stays */
    sop_batch(o, 1);
    assert_int_equal(o[0].rc, SV_STORE_OK);
    o[0].s.now_ms = T0 + MIN;

    sop_batch(o, 20);
    for (i = 0; i < 20; i++) {
        assert_int_equal(o[i].rc, SV_STORE_OK);
    }
    assert_int_equal(admin_long("SELECT sent FROM smsverify.daily_sms"),
                     sent + 21);

    t = trips(f);
    aop_batch(o, 20);
    assert_int_equal(trips(f) - t, 21);

    for (i = 0; i < 20; i++) {
        assert_int_equal(o[i].rc, SV_STORE_OK);
        assert_int_equal(o[i].runs, 0);
    }

    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sends"
                                " WHERE phone LIKE '+8210800%'"), 1);
    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.sends"
                                " WHERE phone = '+821080000000'"), 1);
    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.address_sends"
                                " WHERE address = '198.51.100.3'"), 1);
    assert_int_equal(admin_long("SELECT sent FROM smsverify.daily_sms"),
                     sent + 1);

    /* again sent, then taken back with a row of another's making */
    for (i = 1; i < 5; i++) {
        sop_set(&o[i], f->st, phones[i], "198.51.100.3", 5, T0 + i);
    }
    sop_batch(&o[1], 4);

    admin_do("UPDATE smsverify.sends SET stamps_ms = '{1,NULL}'"
             " WHERE phone = '+821080000002'");

    t = trips(f);
    aop_batch(&o[1], 4);
    assert_int_equal(trips(f) - t, 5);

    assert_int_equal(o[1].rc, SV_STORE_OK);
    assert_int_equal(o[2].rc, SV_STORE_ERROR);
    assert_non_null(strstr(o[2].err, "sends"));
    assert_int_equal(o[3].rc, SV_STORE_OK);
    assert_int_equal(o[4].rc, SV_STORE_OK);

    for (i = 1; i < 5; i++) {
        assert_int_equal(o[i].runs, 0);
    }

    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sends"
                                " WHERE phone LIKE '+8210800%'"), 2);
    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.address_sends"
                                " WHERE address = '198.51.100.3'"), 2);
}


/*
 * Batches from two connections (two nodes) on the same phones, in
 * opposite orders: no deadlock, and the limit exact over both.
 */

typedef struct {
    sv_store_t          *st;
    pthread_barrier_t   *barrier;
    int                  reverse;
    sop_t                o[BATCH_MAX];
} send_race_t;

#define SEND_RACE  16


static void *
send_race_main(void *p)
{
    int           i, k;
    send_race_t  *r = p;
    static const char *const  phones[2] = { PHONE_A, PHONE_B };

    for (i = 0; i < SEND_RACE; i++) {
        k = (i + r->reverse) % 2;
        sop_set(&r->o[i], r->st, phones[k], "198.51.100.5", 5, T0);
    }

    pthread_barrier_wait(r->barrier);
    sop_batch(r->o, SEND_RACE);

    return NULL;
}


static void
test_send_batch_race(void **state)
{
    fx_t               *f = *state;
    int                 i, j, ok, round;
    pthread_t           tid[2];
    send_race_t         r[2];
    pthread_barrier_t   barrier;

    for (round = 0; round < 5; round++) {
        pthread_barrier_init(&barrier, NULL, 2);

        for (j = 0; j < 2; j++) {
            memset(&r[j], 0, sizeof(send_race_t));
            r[j].st = f->st;
            r[j].barrier = &barrier;
            r[j].reverse = j;
            assert_int_equal(pthread_create(&tid[j], NULL, send_race_main,
                                            &r[j]), 0);
        }

        for (j = 0; j < 2; j++) {
            assert_int_equal(pthread_join(tid[j], NULL), 0);
        }

        pthread_barrier_destroy(&barrier);

        for (j = 0, ok = 0; j < 2; j++) {
            for (i = 0; i < SEND_RACE; i++) {
                if (r[j].o[i].rc != SV_STORE_SEND_LIMIT) {
                    assert_int_equal(r[j].o[i].rc, SV_STORE_OK);
                    ok++;
                }
            }
        }

        assert_int_equal(ok, 10);
        assert_int_equal(admin_long("SELECT sum(cardinality(stamps_ms))"
                                    " FROM smsverify.sends"), 10);

        admin_do("DELETE FROM smsverify.sends");
    }
}


/*
 * The database killed while a batch waits on its fourth send (a lock
 * held): the three before it are committed and answered OK, the others
 * UNAVAILABLE, at once, and nothing of theirs is in the store.
 */
static void
test_send_batch_outage(void **state)
{
    fx_t           *f = *state;
    int             i;
    char            phones[6][32];
    sop_t           o[6];
    PGconn         *conn;
    int64_t         t0;
    pthread_t       tid;
    sv_store_rc_t   rc;

    if (getenv("SV_PG_SH") == NULL) {
        print_message("SV_PG_SH (the path of t/pg/pg.sh) unset:"
                      " no outage test\n");
        skip();
    }

    warm_sends(f);

    for (i = 0; i < 6; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210800%05d", i);
        sop_set(&o[i], f->st, phones[i], "198.51.100.8", 5, T0);
    }

    conn = hold_send_lock(phones[3]);

    assert_int_equal(pthread_create(&tid, NULL, kill_later, NULL), 0);
    t0 = now_ms();
    sop_batch(o, 6);
    assert_int_equal(pthread_join(tid, NULL), 0);
    PQfinish(conn);

    assert_true(now_ms() - t0 < 3000);

    for (i = 0; i < 6; i++) {
        assert_int_equal(o[i].rc, i < 3 ? SV_STORE_OK : SV_STORE_UNAVAILABLE);
        assert_true(o[i].rc == SV_STORE_OK || o[i].err[0] != '\0');
    }

    pg_sh("start");

    t0 = now_ms();

    do {
        sleep_ms(100);
        sop_set(&o[0], f->st, "+821099999993", NULL, 5, T0);
        sop_batch(o, 1);
        rc = o[0].rc;
    } while (rc == SV_STORE_UNAVAILABLE && now_ms() - t0 < 10000);

    assert_int_equal(rc, SV_STORE_OK);

    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.sends"
                                " WHERE phone LIKE '+8210800%'"), 3);
    assert_int_equal(admin_long("SELECT cardinality(stamps_ms)"
                                " FROM smsverify.address_sends"
                                " WHERE address = '198.51.100.8'"), 3);
}


/* Batches of codes. */

typedef struct {
    sv_store_t             *st;
    uint8_t                 hash[SV_HASH_SIZE];
    sv_store_code_op_t      op;
    sv_store_rc_t           rc;
    char                    err[256];
    int                     runs;
} cop_t;


static void
cop_run(void *data)
{
    cop_t  *o = data;

    o->runs++;
    sv_store_code_op(o->st, &o->op);
}


static void
cop_set(cop_t *o, sv_store_t *st, const char *phone, int h)
{
    memset(o, 0, sizeof(cop_t));
    o->st = st;
    hash_of(o->hash, h);

    o->op.phone = phone;
    o->op.code_hash = o->hash;
    o->op.expires_ms = T0 + MIN;
    o->op.attempts = 5;
    o->op.purpose = SV_PURPOSE_SIGNUP;
    o->op.rc = &o->rc;
    o->op.err = o->err;
    o->op.errlen = sizeof(o->err);

    o->rc = (sv_store_rc_t) -1;
}


static void
cop_batch(cop_t *o, size_t n)
{
    size_t         i;
    sv_store_op_t  ops[BATCH_MAX];

    assert_true(n <= BATCH_MAX);
    memset(ops, 0, sizeof(ops));

    for (i = 0; i < n; i++) {
        ops[i].run = cop_run;
        ops[i].data = &o[i];
        ops[i].code = &o[i].op;
    }

    sv_store_batch_run(o[0].st, ops, n);
}


static long
code_is(const char *phone, int h)
{
    char  sql[2048];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM smsverify.codes"
             " WHERE phone = '%s' AND attempts_left = 5"
             " AND code_hash = decode(repeat('%02x', %d), 'hex')", phone, h,
             SV_HASH_SIZE);

    return admin_long(sql);
}


/*
 * A batch's codes: one round trip for 30; two of one phone, the later
 * stays; one whose row another transaction holds past the statement
 * timeout is UNAVAILABLE alone, the others put.
 */
static void
test_code_batch(void **state)
{
    fx_t             *f = *state;
    int               i;
    char              phones[30][32];
    cop_t             o[30];
    PGconn           *conn;
    uint64_t          t;
    sv_store_t       *st, *own;
    sv_store_conf_t   conf;

    warm(f);

    for (i = 0; i < 30; i++) {
        snprintf(phones[i], sizeof(phones[i]), "+8210900%05d", i);
        cop_set(&o[i], f->st, phones[i], 0x20 + i);
    }

    cop_set(&o[29], f->st, phones[0], 0x70);

    t = trips(f);
    cop_batch(o, 30);
    assert_int_equal(trips(f) - t, 1);

    for (i = 0; i < 30; i++) {
        assert_int_equal(o[i].rc, SV_STORE_OK);
        assert_int_equal(o[i].runs, 0);
    }

    for (i = 1; i < 29; i++) {
        assert_int_equal(code_is(phones[i], 0x20 + i), 1);
    }

    assert_int_equal(code_is(phones[0], 0x70), 1);

    memset(&conf, 0, sizeof(conf));
    conf.uri = uri;
    conf.statement_timeout_ms = 300;
    assert_int_equal(sv_store_open(&st, &conf, f->err, sizeof(f->err)),
                     SV_STORE_OK);

    /* its code_put prepared on its connection */
    own = f->st;
    f->st = st;
    put_code_at(st, "+821099999998", 0x42, 5, T0 + MIN, SV_PURPOSE_SIGNUP);

    conn = admin_conn();
    conn_do(conn, "BEGIN");
    conn_do(conn, "SELECT * FROM smsverify.codes"
            " WHERE phone = '+821090000002' FOR UPDATE");

    for (i = 0; i < 4; i++) {
        cop_set(&o[i], st, phones[i], 0x50 + i);
    }

    t = trips(f);
    cop_batch(o, 4);
    assert_int_equal(trips(f) - t, 1);

    conn_do(conn, "ROLLBACK");
    PQfinish(conn);

    for (i = 0; i < 4; i++) {
        assert_int_equal(o[i].rc, i == 2 ? SV_STORE_UNAVAILABLE
                                         : SV_STORE_OK);
        assert_int_equal(code_is(phones[i], i == 2 ? 0x22 : 0x50 + i), 1);
    }

    assert_non_null(strstr(o[2].err, "57014"));

    f->st = own;
    sv_store_close(st);
}


/* a session's use of a batch, as the guard's lookup or a logout makes it */
typedef struct {
    sv_store_t              *st;
    uint8_t                  hash[SV_HASH_SIZE];
    sv_session_get_t         get;
    sv_store_session_op_t    op;
    sv_store_rc_t            rc;
    char                     err[256];
    int                      runs;
} uop_t;


static void
uop_run(void *data)
{
    uop_t  *u = data;

    u->runs++;
    sv_store_session_op(u->st, &u->op);
}


/* a lookup of the session h; with end set, its end instead */
static void
uop_set(uop_t *u, sv_store_t *st, int h, int end)
{
    memset(u, 0, sizeof(uop_t));
    u->st = st;
    hash_of(u->hash, h);

    u->get.hash = u->hash;
    u->op.hash = u->hash;
    u->op.get = end ? NULL : &u->get;
    u->op.rc = &u->rc;
    u->op.err = u->err;
    u->op.errlen = sizeof(u->err);

    u->rc = (sv_store_rc_t) -1;
}


static void
uop_batch(uop_t *u, size_t n)
{
    size_t         i;
    sv_store_op_t  ops[BATCH_MAX];

    assert_true(n <= BATCH_MAX);
    memset(ops, 0, sizeof(ops));

    for (i = 0; i < n; i++) {
        ops[i].run = uop_run;
        ops[i].data = &u[i];
        ops[i].session = &u[i].op;
    }

    sv_store_batch_run(u[0].st, ops, n);
}


/* the session h of the member id, last used at last_ms, idle after an hour */
static void
session_used_at(fx_t *f, int h, uint64_t id, int64_t last_ms)
{
    uint8_t       hash[SV_HASH_SIZE];
    sv_session_t  s;

    hash_of(hash, h);

    memset(&s, 0, sizeof(s));
    s.hash = hash;
    s.member_id = id;
    s.now_ms = last_ms;
    s.expires_ms = last_ms + DAY;
    s.idle_ms = HOUR;

    assert_int_equal(sv_store_session_start(f->st, &s, f->err,
                                            sizeof(f->err)), SV_STORE_OK);
}


static int64_t
last_used_of(int h)
{
    char  sql[2048];

    snprintf(sql, sizeof(sql), "SELECT coalesce((SELECT last_used_ms"
             " FROM smsverify.sessions"
             " WHERE session_hash = decode(repeat('%02x', %d), 'hex')), -1)",
             h, SV_HASH_SIZE);

    return admin_long(sql);
}


/*
 * A batch's session uses: 16 lookups (8 stale), one of a session that is
 * not there, one whose get ran already (its touch only) and one logout,
 * in two round trips: the lookups and the end in one, the touches in
 * one more.  Each answers as alone: the member, NO_SESSION, the end done,
 * the stale ones' last use moved on and no other's.  A session row not
 * of the module's making fails its lookup alone.
 */
static void
test_session_batch(void **state)
{
    fx_t      *f = *state;
    int        i;
    uop_t      u[19];
    int64_t    now, old;
    uint64_t   id, t;

    verify(f, PHONE_A, 0x70, SV_PURPOSE_SIGNUP);
    assert_int_equal(signup(f->st, "kim@example.com", PHONE_A, 0x70, &id,
                            f->err, sizeof(f->err)), SV_STORE_OK);

    now = sv_clock_ms();
    old = now - 10 * MIN;

    for (i = 0; i < 18; i++) {
        session_used_at(f, 0x40 + i, id, i % 2 ? now : old);
    }

    /* the statements prepared on this thread's connection: none to come */
    uop_set(&u[0], f->st, 0x40, 0);
    sv_store_session_op(f->st, &u[0].op);
    assert_int_equal(u[0].rc, SV_STORE_OK);
    assert_true(last_used_of(0x40) >= now);
    uop_set(&u[0], f->st, 0x3f, 1);
    sv_store_session_op(f->st, &u[0].op);
    assert_int_equal(u[0].rc, SV_STORE_OK);

    for (i = 0; i < 16; i++) {
        uop_set(&u[i], f->st, 0x40 + i, 0);
    }

    uop_set(&u[16], f->st, 0x30, 0);

    /* its get ran on the loop, found it stale: only its touch is left */
    uop_set(&u[17], f->st, 0x50, 0);
    u[17].op.looked = 1;
    u[17].rc = SV_STORE_OK;
    u[17].get.now_ms = now;
    u[17].get.stale = 1;

    uop_set(&u[18], f->st, 0x51, 1);

    t = trips(f);
    uop_batch(u, 19);
    assert_int_equal(trips(f) - t, 2);

    for (i = 0; i < 16; i++) {
        assert_int_equal(u[i].runs, 0);
        assert_int_equal(u[i].rc, SV_STORE_OK);
        assert_int_equal(u[i].get.member.id, id);
        assert_string_equal(u[i].get.member.email, "kim@example.com");
        assert_int_equal(u[i].get.stale, i > 0 && i % 2 == 0);
        assert_true(u[i].get.now_ms >= now);

        if (i % 2) {
            assert_int_equal(last_used_of(0x40 + i), now);

        } else {
            assert_true(last_used_of(0x40 + i) >= now);
        }
    }

    assert_int_equal(u[16].rc, SV_STORE_NO_SESSION);
    assert_int_equal(u[16].get.member.id, 0);
    assert_int_equal(u[17].rc, SV_STORE_OK);
    assert_int_equal(last_used_of(0x50), now);
    assert_int_equal(u[18].rc, SV_STORE_OK);
    assert_int_equal(last_used_of(0x51), -1);

    /* nothing stale: one round trip; a bad row fails alone */
    admin_do("UPDATE smsverify.sessions SET epoch = -1"
             " WHERE session_hash = decode(repeat('43', 32), 'hex')");

    for (i = 0; i < 4; i++) {
        uop_set(&u[i], f->st, 0x41 + i, 0);
    }

    t = trips(f);
    uop_batch(u, 4);
    assert_int_equal(trips(f) - t, 1);

    for (i = 0; i < 4; i++) {
        assert_int_equal(u[i].runs, 0);
        assert_int_equal(u[i].rc, i == 2 ? SV_STORE_ERROR : SV_STORE_OK);
    }

    assert_non_null(strstr(u[2].err, "smsverify.sessions"));
    assert_int_equal(u[2].get.member.id, 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
#define T(name)  cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_race_signup_email),
        T(test_race_signup_token),
        T(test_race_confirm),
        T(test_race_sends),
        T(test_race_login_failures),
        T(test_stats_counts),
        T(test_sweep_tables),
        T(test_login_racing_reset),
        T(test_schema_newer),
        T(test_schema_upgrade),
        T(test_outage),
        T(test_race_outbox_take),
        T(test_batch_answers),
        T(test_batch_round_trips),
        T(test_batch_one_fails),
        T(test_race_batches),
        T(test_batch_outage),
        T(test_send_batch_round_trips),
        T(test_send_batch_limits),
        T(test_send_batch_one_fails),
        T(test_send_batch_race),
        T(test_send_batch_outage),
        T(test_abort_batch),
        T(test_code_batch),
        T(test_session_batch),
#undef T
    };

    uri = getenv("TEST_NGINX_PG_URI");

    if (uri == NULL || uri[0] == '\0') {
        printf("test_store_pg: TEST_NGINX_PG_URI unset: skipped (it names"
               " a PostgreSQL; `make unit` starts one with t/pg/pg.sh)\n");
        return 0;
    }

    return cmocka_run_group_tests(tests, NULL, NULL);
}
