/*
 * The store on PostgreSQL (API.md section 6), over sv_pg: every node that
 * names the same database shares it.  The tables are sv_pg_schema.c's;
 * the decisions sv_rules.h's, as the LMDB store takes them, on records
 * read from rows.
 *
 * Races are the database's to decide, in one of three ways:
 *
 *   - a transaction that first takes advisory locks on the keys of the
 *     rows it will read and write (sends and failed logins: rows that
 *     may not exist yet, which no row lock could hold), always in one
 *     order, then reads them in a statement of its own and writes back;
 *
 *   - a transaction that locks an existing row (SELECT ... FOR UPDATE:
 *     the token a signup or a reset uses up), decides, writes;
 *
 *   - for a confirm, the cheapest: one statement that counts a wrong
 *     guess's attempt on the code as it is when its write comes (the
 *     database locks the row and sees a racer's committed change), and
 *     answers the code as it was when the statement began; a match is
 *     written by a second statement only if the code is still what was
 *     read (its hash, attempts, expiry, purpose), with no transaction
 *     around them.  A racer's write in between makes it change nothing,
 *     and the confirm runs again: every attempt is counted, and of two
 *     matches one.  The guess's comparison is the database's there
 *     (bytea <>: hashes keyed with the module's secret, which no
 *     timing of it gives away); the answers are still sv_rules.h's.
 *
 * Single statements (code_put, session_start, rehash) decide in
 * themselves.  Every statement is constant SQL with parameters; none is
 * built from input.
 *
 * Round trips: a confirm 1 (a wrong guess counted, or no code, an
 * expired one, a taken phone) or 2 (a match or the last attempt: its
 * write after); a batch's confirms as many for them all
 * (sv_pg_confirm_batch(): pipelines, one transaction each, one more
 * round trip where a statement failed); a send 5 (BEGIN, the limits'
 * locks, their read, their write, COMMIT; 4 for a refusal), a batch's
 * n sends n + 1 for them all (sv_pg_send_batch(): each its own
 * transaction, one's end and the next's start in one pipeline), a signup 4
 * (BEGIN, the token locked, the member with its terms and the token's
 * deletion in one statement, COMMIT) after its check's 1.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sv_rules.h"
#include "sv_store_pg_impl.h"


/*
 * A confirm whose code another confirm changed between its read and its
 * write reads again.  Each change is an attempt counted or the code gone,
 * so a confirm loses at most as many times as the code has attempts
 * (and the code's resends): this bound is never met but by a fault.
 */
#define SV_PG_CONFIRM_ROUNDS  64

/* "{" and up to SV_WINDOW_MAX comma-separated int64s, "}" */
#define SV_PG_STAMPS_SIZE     (SV_WINDOW_MAX * 21 + 3)

#define SV_PG_TERMS_SIZE      (SV_STORE_TERMS_MAX * 12 + 3)

/* a session has ended (sv_rules_session_ended()) at the time $n */
#define SV_PG_SESSION_ENDED(now)                                            \
    "(" now " >= expires_ms OR " now " - last_used_ms >= idle_ms)"

#define SV_PG_MEMBER_BY_EMAIL                                               \
    SV_PG_EMAIL_FOLD("email") " = $1::text"

#define SV_PG_TOKEN_COLS                                                    \
    "t.phone, t.expires_ms, t.failures, t.purpose"


/* Helpers (sv_store_pg_impl.h). */

void
sv_store_pg_params(sv_pg_params_t *p)
{
    sv_pg_params_init(p);
    sv_pg_params_prepared(p);
}


sv_pg_rc_t
sv_store_pg_exec(sv_pgq_t *q, const char *sql, const sv_pg_params_t *p,
    PGresult **res)
{
    if (q->txn != NULL) {
        return sv_pg_txn_exec(q->txn, sql, p, 0, res);
    }

    return sv_pg_exec(q->pg, sql, p, 0, res, q->e);
}


long
sv_store_pg_changed(const PGresult *res)
{
    char        *end;
    long         n;
    const char  *s;

    s = PQcmdTuples((PGresult *) res);

    errno = 0;
    n = strtol(s, &end, 10);

    if (errno != 0 || end == s || n < 0) {
        return 0;
    }

    return n;
}


sv_store_rc_t
sv_store_pg_rc(sv_pg_rc_t rc, const sv_pg_err_t *e, char *err, size_t errlen)
{
    if (rc == SV_PG_OK) {
        return SV_STORE_OK;
    }

    snprintf(err, errlen, "%s", e->text[0] ? e->text : "database error");

    return rc == SV_PG_UNAVAILABLE ? SV_STORE_UNAVAILABLE : SV_STORE_ERROR;
}


sv_pg_rc_t
sv_store_pg_fail(sv_pg_err_t *e, const char *what)
{
    e->sqlstate[0] = '\0';
    e->constraint[0] = '\0';
    snprintf(e->text, sizeof(e->text), "%s", what);

    return SV_PG_ERROR;
}


const char *
sv_store_pg_purpose_text(sv_purpose_t purpose)
{
    return purpose == SV_PURPOSE_RESET ? "reset" : "signup";
}


int
sv_store_pg_purpose(const char *text, sv_purpose_t *purpose)
{
    if (strcmp(text, "signup") == 0) {
        *purpose = SV_PURPOSE_SIGNUP;
        return 0;
    }

    if (strcmp(text, "reset") == 0) {
        *purpose = SV_PURPOSE_RESET;
        return 0;
    }

    return -1;
}


int
sv_store_pg_text(const PGresult *res, int row, int col, char *buf,
    size_t size)
{
    int  len;

    if (row >= PQntuples(res) || col >= PQnfields(res)
        || PQgetisnull(res, row, col))
    {
        return -1;
    }

    len = PQgetlength(res, row, col);

    if ((size_t) len >= size) {
        return -1;
    }

    memcpy(buf, PQgetvalue(res, row, col), len);
    buf[len] = '\0';

    return 0;
}


int
sv_store_pg_bool(const PGresult *res, int row, int col)
{
    return row < PQntuples(res) && col < PQnfields(res)
           && !PQgetisnull(res, row, col)
           && PQgetvalue(res, row, col)[0] == 't';
}


/* Fields and records. */

static int
sv_pg_null(const PGresult *res, int col)
{
    return PQntuples(res) < 1 || PQgetisnull(res, 0, col);
}


/* an int8/int4 field in [min, max] */
static int
sv_pg_int_in(const PGresult *res, int row, int col, int64_t min,
    int64_t max, int64_t *v)
{
    return sv_pg_int64(res, row, col, v) == 0 && *v >= min && *v <= max
           ? 0 : -1;
}


/*
 * An array of integers in its text form ("{1,2,3}") into out: the count,
 * or -1 if it is not one or holds more than max.
 */
static int
sv_pg_ints_parse(const char *s, int64_t *out, unsigned max)
{
    char      *end;
    unsigned   n;

    if (*s++ != '{') {
        return -1;
    }

    if (strcmp(s, "}") == 0) {
        return 0;
    }

    for (n = 0; /* void */ ; n++) {
        if (n == max) {
            return -1;
        }

        errno = 0;
        out[n] = strtoll(s, &end, 10);

        if (errno != 0 || end == s) {
            return -1;
        }

        if (strcmp(end, "}") == 0) {
            return (int) n + 1;
        }

        if (*end != ',') {
            return -1;
        }

        s = end + 1;
    }
}


/* integers as an array's text, for a parameter */
static void
sv_pg_ints_text(const int64_t *v, unsigned n, char *buf, size_t size)
{
    size_t    len;
    unsigned  i;

    len = snprintf(buf, size, "{");

    for (i = 0; i < n && len < size; i++) {
        len += snprintf(buf + len, size - len, "%s%" PRId64,
                        i ? "," : "", v[i]);
    }

    if (len < size) {
        snprintf(buf + len, size - len, "}");
    }
}


/*
 * A window record from (stamps_ms, keep_until_ms) at col: 1 if the row
 * was there, 0 if not (rec all zero), -1 if it is not a record.
 */
static int
sv_pg_window(const PGresult *res, int col, sv_window_rec_t *rec)
{
    int         n;
    int64_t     keep;
    const char *s;

    memset(rec, 0, sizeof(sv_window_rec_t));

    if (sv_pg_null(res, col)) {
        return 0;
    }

    s = PQgetvalue(res, 0, col);
    n = sv_pg_ints_parse(s, rec->stamps, SV_WINDOW_MAX);

    if (n < 0 || sv_pg_int64(res, 0, col + 1, &keep) != 0) {
        memset(rec, 0, sizeof(sv_window_rec_t));
        return -1;
    }

    rec->count = n;
    rec->keep_until_ms = keep;

    return 1;
}


static void
sv_pg_window_text(const sv_window_rec_t *rec, char *buf)
{
    sv_pg_ints_text(rec->stamps, rec->count, buf, SV_PG_STAMPS_SIZE);
}


/*
 * A token from SV_PG_TOKEN_COLS at col: 1 if there, 0 if not, -1 if it
 * is not a token.
 */
static int
sv_pg_token(const PGresult *res, int col, sv_token_rec_t *rec)
{
    int64_t  v;
    char     phone[SV_STORE_PHONE_MAX + 1], purpose[16];

    memset(rec, 0, sizeof(sv_token_rec_t));

    if (sv_pg_null(res, col)) {
        return 0;
    }

    if (sv_store_pg_text(res, 0, col, phone, sizeof(phone)) != 0
        || sv_pg_int64(res, 0, col + 1, &rec->expires_ms) != 0
        || sv_pg_int_in(res, 0, col + 2, 0, UINT32_MAX, &v) != 0
        || sv_store_pg_text(res, 0, col + 3, purpose, sizeof(purpose)) != 0
        || sv_store_pg_purpose(purpose, &rec->purpose) != 0)
    {
        return -1;
    }

    rec->failures = (unsigned) v;
    rec->phone_len = strlen(phone);
    memcpy(rec->phone, phone, rec->phone_len);

    return 1;
}


int
sv_store_pg_member(const PGresult *res, int col, sv_member_info_t *m)
{
    int      i, n;
    int64_t  v, terms[SV_STORE_TERMS_MAX];
    char     text[SV_PG_TERMS_SIZE];

    memset(m, 0, sizeof(sv_member_info_t));

    if (sv_pg_null(res, col)) {
        return 0;
    }

    if (sv_pg_int_in(res, 0, col, 1, INT64_MAX, &v) != 0) {
        return -1;
    }

    m->id = (uint64_t) v;

    if (sv_store_pg_text(res, 0, col + 1, m->email, sizeof(m->email)) != 0
        || sv_store_pg_text(res, 0, col + 2, m->phone, sizeof(m->phone)) != 0
        || sv_store_pg_text(res, 0, col + 3, m->nickname,
                            sizeof(m->nickname)) != 0
        || sv_store_pg_text(res, 0, col + 4, m->password_hash,
                            sizeof(m->password_hash)) != 0
        || sv_pg_int64(res, 0, col + 5, &m->created_ms) != 0
        || sv_pg_int_in(res, 0, col + 6, 0, UINT32_MAX, &v) != 0
        || sv_store_pg_text(res, 0, col + 7, text, sizeof(text)) != 0)
    {
        return -1;
    }

    m->epoch = (uint32_t) v;

    n = sv_pg_ints_parse(text, terms, SV_STORE_TERMS_MAX);
    if (n < 0) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        m->terms[i] = (int) terms[i];
    }

    m->nterms = n;

    return 1;
}


static void
sv_pg_bool_param(sv_pg_params_t *p, int v)
{
    sv_pg_param_text(p, v ? "t" : "f");
}


sv_store_rc_t
sv_store_pg_once(sv_store_t *st, const char *sql, const sv_pg_params_t *p,
    PGresult **res, char *err, size_t errlen)
{
    sv_pg_rc_t   rc;
    sv_pg_err_t  e;
    sv_pgq_t     q = { sv_store_pg(st), NULL, &e };

    rc = sv_store_pg_exec(&q, sql, p, res);

    return sv_store_pg_rc(rc, &e, err, errlen);
}


static sv_store_rc_t
sv_pg_bad_row(const char *table, char *err, size_t errlen)
{
    snprintf(err, errlen, "a row of smsverify.%s that is not of this "
             "module's making", table);

    return SV_STORE_ERROR;
}


static sv_pg_rc_t
sv_pg_bad_row_txn(sv_pgq_t *q, const char *table)
{
    char  what[128];

    snprintf(what, sizeof(what), "a row of smsverify.%s that is not of "
             "this module's making", table);

    return sv_store_pg_fail(q->e, what);
}


sv_store_rc_t
sv_store_pg_verdict(sv_pg_rc_t rc, sv_store_rc_t verdict, const sv_pg_err_t *e,
    char *err, size_t errlen)
{
    if (rc == SV_PG_OK || rc == SV_PG_ROLLBACK) {
        return verdict;
    }

    return sv_store_pg_rc(rc, e, err, errlen);
}


/* Open and close. */

static void
sv_pg_close(sv_store_t *st)
{
    sv_pg_destroy(sv_store_pg(st));
    free(st);
}


/* Sends. */

typedef struct {
    sv_send_t          *s;
    sv_store_rc_t       verdict;
    char                day[SV_DAY_KEY_SIZE];
    sv_send_recs_t      recs;
    int                 had;            /* SV_SEND_REC_*: rows there */
    sv_pgq_t            q;
} sv_send_arg_t;


/*
 * The limits' keys locked for the transaction, in one order (the day,
 * the address, the phone: no two sends wait for each other in a cycle),
 * whether or not their rows exist yet: two first sends of a phone meet
 * here, not at an insert.  A NULL key ($2 no address, $3 no budget) is
 * not locked.
 */
static const char  sv_pg_send_lock_sql[] =
    "SELECT pg_advisory_xact_lock(" SV_PG_LOCK_DAY ", hashtext($3::text)),"
    " pg_advisory_xact_lock(" SV_PG_LOCK_ADDRESS ", hashtext($2::text)),"
    " pg_advisory_xact_lock(" SV_PG_LOCK_PHONE ", hashtext($1::text))";

/* in a statement after the lock's: it sees what the last holder wrote */
static const char  sv_pg_send_read_sql[] =
    "SELECT EXISTS (SELECT 1 FROM smsverify.members WHERE phone = $1::text),"
    " p.stamps_ms::text, p.keep_until_ms, a.stamps_ms::text, a.keep_until_ms,"
    " d.sent, d.refused"
    " FROM (VALUES (1)) AS v"
    " LEFT JOIN smsverify.sends p ON p.phone = $1::text"
    " LEFT JOIN smsverify.address_sends a ON a.address = $2::text"
    " LEFT JOIN smsverify.daily_sms d ON d.day = $3::date";

/* the rows that changed, each written if its flag says so */
static const char  sv_pg_send_write_sql[] =
    "WITH p AS (INSERT INTO smsverify.sends (phone, stamps_ms, keep_until_ms)"
    "  SELECT $1::text, $2::bigint[], $3::bigint WHERE $4::boolean"
    "  ON CONFLICT (phone) DO UPDATE SET stamps_ms = EXCLUDED.stamps_ms,"
    "  keep_until_ms = EXCLUDED.keep_until_ms),"
    " a AS (INSERT INTO smsverify.address_sends"
    "  (address, stamps_ms, keep_until_ms)"
    "  SELECT $5::text, $6::bigint[], $7::bigint WHERE $8::boolean"
    "  ON CONFLICT (address) DO UPDATE SET stamps_ms = EXCLUDED.stamps_ms,"
    "  keep_until_ms = EXCLUDED.keep_until_ms)"
    " INSERT INTO smsverify.daily_sms (day, sent, refused)"
    "  SELECT $9::date, $10::integer, $11::bigint WHERE $12::boolean"
    "  ON CONFLICT (day) DO UPDATE SET sent = EXCLUDED.sent,"
    "  refused = EXCLUDED.refused";


static void
sv_send_keys(sv_pg_params_t *p, const sv_send_arg_t *a)
{
    sv_store_pg_params(p);
    sv_pg_param_text(p, a->s->phone);
    sv_pg_param_text(p, a->s->addr);
    sv_pg_param_text(p, a->s->budget > 0 ? a->day : NULL);
}


static int sv_send_parse(sv_send_arg_t *a, const PGresult *res,
    int *taken);


static sv_pg_rc_t
sv_send_read(sv_send_arg_t *a, int *taken)
{
    int             rc;
    PGresult       *res;
    sv_pg_rc_t      prc;
    sv_pg_params_t  p;

    memset(&a->recs, 0, sizeof(sv_send_recs_t));
    a->had = 0;

    sv_send_keys(&p, a);

    prc = sv_store_pg_exec(&a->q, sv_pg_send_lock_sql, &p, NULL);
    if (prc != SV_PG_OK) {
        return prc;
    }

    prc = sv_store_pg_exec(&a->q, sv_pg_send_read_sql, &p, &res);
    if (prc != SV_PG_OK) {
        return prc;
    }

    rc = sv_send_parse(a, res, taken);

    PQclear(res);

    if (rc < 0) {
        return sv_pg_bad_row_txn(&a->q, "sends");
    }

    return SV_PG_OK;
}


/* the read's row into a->recs and a->had: 0, or -1 for a bad row */
static int
sv_send_parse(sv_send_arg_t *a, const PGresult *res, int *taken)
{
    int             rc, day_there;
    int64_t         sent, refused;
    sv_send_t      *s = a->s;

    memset(&a->recs, 0, sizeof(sv_send_recs_t));
    a->had = 0;

    *taken = sv_store_pg_bool(res, 0, 0);

    rc = sv_pg_window(res, 1, &a->recs.phone);
    if (rc > 0) {
        a->had |= SV_SEND_REC_PHONE;
    }

    if (rc >= 0) {
        rc = sv_pg_window(res, 3, &a->recs.addr);
        if (rc > 0) {
            a->had |= SV_SEND_REC_ADDR;
        }
    }

    day_there = rc >= 0 && !sv_pg_null(res, 5);

    if (day_there
        && (sv_pg_int_in(res, 0, 5, 0, INT32_MAX, &sent) != 0
            || sv_pg_int_in(res, 0, 6, 0, INT64_MAX, &refused) != 0))
    {
        rc = -1;
    }

    if (rc < 0) {
        return -1;
    }

    if (day_there) {
        a->recs.day.day = sv_rules_day(s->now_ms);
        a->recs.day.sent = (uint64_t) sent;
        a->recs.day.refused = (uint64_t) refused;
        a->had |= SV_SEND_REC_DAY;
    }

    return 0;
}


/* the write's parameters; phone and addr hold the windows' text */
static void
sv_send_write_params(sv_send_arg_t *a, sv_pg_params_t *p, char *phone,
    char *addr)
{
    unsigned         w;
    sv_send_t       *s = a->s;

    w = a->recs.write;

    sv_pg_window_text(&a->recs.phone, phone);
    sv_pg_window_text(&a->recs.addr, addr);

    sv_store_pg_params(p);

    sv_pg_param_text(p, s->phone);
    sv_pg_param_text(p, phone);
    sv_pg_param_int64(p, a->recs.phone.keep_until_ms);
    sv_pg_bool_param(p, w & SV_SEND_REC_PHONE);

    sv_pg_param_text(p, s->addr);
    sv_pg_param_text(p, addr);
    sv_pg_param_int64(p, a->recs.addr.keep_until_ms);
    sv_pg_bool_param(p, (w & SV_SEND_REC_ADDR) && s->addr != NULL);

    sv_pg_param_text(p, a->day);
    sv_pg_param_int64(p, (int64_t) a->recs.day.sent);
    sv_pg_param_int64(p, (int64_t) a->recs.day.refused);
    sv_pg_bool_param(p, w & SV_SEND_REC_DAY);
}


static sv_pg_rc_t
sv_send_write(sv_send_arg_t *a)
{
    sv_pg_params_t   p;
    char             phone[SV_PG_STAMPS_SIZE], addr[SV_PG_STAMPS_SIZE];

    sv_send_write_params(a, &p, phone, addr);

    return sv_store_pg_exec(&a->q, sv_pg_send_write_sql, &p, NULL);
}


static sv_pg_rc_t
sv_send_begin_body(sv_pg_txn_t *t, void *arg)
{
    int             taken;
    sv_pg_rc_t      rc;
    sv_send_arg_t  *a = arg;

    a->q.txn = t;
    a->verdict = SV_STORE_ERROR;

    rc = sv_send_read(a, &taken);
    if (rc != SV_PG_OK) {
        return rc;
    }

    a->verdict = sv_rules_phone_for(a->s->purpose, taken);
    if (a->verdict != SV_STORE_OK) {
        return SV_PG_ROLLBACK;
    }

    a->verdict = sv_rules_send_limits(&a->recs, a->s);

    if (a->recs.write == 0) {
        return SV_PG_ROLLBACK;
    }

    return sv_send_write(a);
}


static sv_store_rc_t
sv_pg_send_begin(sv_store_t *st, sv_send_t *s, char *err, size_t errlen)
{
    sv_pg_rc_t     rc;
    sv_pg_err_t    e;
    sv_send_arg_t  a;

    memset(&a, 0, sizeof(a));
    a.s = s;
    a.q.pg = sv_store_pg(st);
    a.q.e = &e;
    sv_rules_day_key(sv_rules_day(s->now_ms), a.day);

    rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED, sv_send_begin_body,
                           &a, &e);

    return sv_store_pg_verdict(rc, a.verdict, &e, err, errlen);
}


/*
 * The send taken back: each window updated, or deleted with its last
 * stamp; the day's count, if it has one.
 */
static const char  sv_pg_send_abort_sql[] =
    "WITH p AS (UPDATE smsverify.sends SET stamps_ms = $2::bigint[],"
    "  keep_until_ms = $3::bigint WHERE phone = $1::text AND $4::boolean),"
    " pd AS (DELETE FROM smsverify.sends"
    "  WHERE phone = $1::text AND $5::boolean),"
    " a AS (UPDATE smsverify.address_sends SET stamps_ms = $7::bigint[],"
    "  keep_until_ms = $8::bigint WHERE address = $6::text AND $9::boolean),"
    " ad AS (DELETE FROM smsverify.address_sends"
    "  WHERE address = $6::text AND $10::boolean)"
    " UPDATE smsverify.daily_sms SET sent = $12::integer"
    "  WHERE day = $11::date AND $13::boolean";


static void
sv_abort_window(sv_pg_params_t *p, const char *key, sv_window_rec_t *rec,
    int there, int64_t stamp_ms, char *text)
{
    unsigned  left;

    left = there ? sv_rules_send_abort(rec, stamp_ms) : 0;

    sv_pg_window_text(rec, text);

    sv_pg_param_text(p, key);
    sv_pg_param_text(p, text);
    sv_pg_param_int64(p, rec->keep_until_ms);
    sv_pg_bool_param(p, there && left > 0);
    sv_pg_bool_param(p, there && left == 0);
}


/* the abort's write (sv_pg_send_abort_sql) of the send as read */
static void
sv_send_abort_params(sv_send_arg_t *a, sv_pg_params_t *p, char *phone,
    char *addr)
{
    sv_store_pg_params(p);

    sv_abort_window(p, a->s->phone, &a->recs.phone,
                    a->had & SV_SEND_REC_PHONE, a->s->now_ms, phone);
    sv_abort_window(p, a->s->addr, &a->recs.addr,
                    a->had & SV_SEND_REC_ADDR, a->s->now_ms, addr);

    sv_rules_day_abort(&a->recs.day);

    sv_pg_param_text(p, a->day);
    sv_pg_param_int64(p, (int64_t) a->recs.day.sent);
    sv_pg_bool_param(p, a->had & SV_SEND_REC_DAY);
}


static sv_pg_rc_t
sv_send_abort_body(sv_pg_txn_t *t, void *arg)
{
    int             taken;
    sv_pg_rc_t      rc;
    sv_send_arg_t  *a = arg;
    sv_pg_params_t  p;
    char            phone[SV_PG_STAMPS_SIZE], addr[SV_PG_STAMPS_SIZE];

    a->q.txn = t;
    a->verdict = SV_STORE_OK;

    rc = sv_send_read(a, &taken);
    if (rc != SV_PG_OK) {
        return rc;
    }

    sv_send_abort_params(a, &p, phone, addr);

    return sv_store_pg_exec(&a->q, sv_pg_send_abort_sql, &p, NULL);
}


static sv_store_rc_t
sv_pg_send_abort(sv_store_t *st, const sv_send_t *s, char *err,
    size_t errlen)
{
    sv_pg_rc_t     rc;
    sv_send_t      copy;
    sv_pg_err_t    e;
    sv_send_arg_t  a;

    copy = *s;

    memset(&a, 0, sizeof(a));
    a.s = &copy;
    a.q.pg = sv_store_pg(st);
    a.q.e = &e;
    sv_rules_day_key(sv_rules_day(s->now_ms), a.day);

    rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED, sv_send_abort_body,
                           &a, &e);

    return sv_store_pg_verdict(rc, a.verdict, &e, err, errlen);
}


/*
 * A batch's sends (sv_pg_send_batch()), and likewise its sends taken
 * back (sv_pg_abort_batch(): the same locks and read, then the abort's
 * write, which every abort makes).  Each send keeps a transaction
 * of its own with the statements it has alone (BEGIN, the limits' locks,
 * their read, the write if the rules want one, COMMIT or ROLLBACK): a
 * send that fails answers alone, and a transaction holds the locks of
 * one send only, taken in the one order of every send (the day, the
 * address, the phone), so no two nodes wait for each other in a cycle
 * and a batch holds no lock across its sends.  What the sends share is
 * the round trips: one pipeline carries the write and the end of one
 * send's transaction and the BEGIN, locks and read of the next's, each
 * statement with its sync point (in a transaction block a sync commits
 * nothing; a statement that fails leaves its transaction aborted, its
 * COMMIT is a ROLLBACK, and the next BEGIN is a transaction anew).  The
 * rules decide between the pipelines, as alone: n sends take n + 1
 * round trips, not 4 or 5 each.  A pipeline after the first goes on
 * with the transaction on the same connection (sv_pg_pipeline_more());
 * the locks' and the read's statements are prepared by the first, on an
 * idle connection, so that no prepare meets an aborted transaction.
 * A send met by a serialization failure or a deadlock, or whose
 * transaction a lost connection took before its COMMIT went, runs again
 * alone (sv_pg_send_begin(): retried and reconnected as alone); one
 * whose COMMIT went unanswered is UNAVAILABLE, its outcome unknown, as
 * alone.
 */

typedef struct {
    sv_store_send_op_t     *op;
    sv_send_arg_t           a;
    sv_pg_params_t          keys;
    sv_pg_params_t          w;
    char                    phone[SV_PG_STAMPS_SIZE];
    char                    addr[SV_PG_STAMPS_SIZE];
    int                     again;
} sv_send_item_t;


static void
sv_send_piped_clear(sv_pg_stmt_t *q, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        PQclear(q[i].res);
        q[i].res = NULL;
    }
}


/*
 * x's BEGIN, locks and read answered (q[0] to q[2]): 1 if its write
 * follows, else 0 and x is answered or runs again alone.  An abort
 * always writes.
 */
static int
sv_send_piped_read(sv_pg_stmt_t *q, sv_send_item_t *x, int abort)
{
    int                  taken, go;
    size_t               i;
    sv_store_send_op_t  *op = x->op;

    go = 0;

    for (i = 0; i < 3; i++) {
        if (q[i].rc == SV_PG_RETRY) {
            x->again = 1;
            goto done;
        }

        if (q[i].rc != SV_PG_OK) {
            *op->rc = sv_store_pg_rc(q[i].rc, &q[i].e, op->err, op->errlen);
            goto done;
        }
    }

    if (sv_send_parse(&x->a, q[2].res, &taken) != 0) {
        *op->rc = sv_pg_bad_row("sends", op->err, op->errlen);
        goto done;
    }

    if (abort) {
        x->a.verdict = SV_STORE_OK;
        sv_send_abort_params(&x->a, &x->w, x->phone, x->addr);
        go = 1;
        goto done;
    }

    *op->rc = sv_rules_phone_for(x->a.s->purpose, taken);
    if (*op->rc != SV_STORE_OK) {
        goto done;
    }

    *op->rc = sv_rules_send_limits(&x->a.recs, x->a.s);

    if (x->a.recs.write != 0) {
        x->a.verdict = *op->rc;
        sv_send_write_params(&x->a, &x->w, x->phone, x->addr);
        go = 1;
    }

done:

    sv_send_piped_clear(q, 3);

    return go;
}


/* x's write (w) and COMMIT (c) answered */
static void
sv_send_piped_end(sv_pg_stmt_t *w, sv_pg_stmt_t *c, sv_send_item_t *x)
{
    sv_store_send_op_t  *op = x->op;

    if (w->rc == SV_PG_RETRY || c->rc == SV_PG_RETRY) {
        x->again = 1;

    } else if (w->rc != SV_PG_OK) {
        *op->rc = sv_store_pg_rc(w->rc, &w->e, op->err, op->errlen);

    } else if (c->rc != SV_PG_OK) {
        *op->rc = sv_store_pg_rc(c->rc, &c->e, op->err, op->errlen);

    } else if (strcmp(PQcmdStatus(c->res), "COMMIT") != 0) {
        snprintf(op->err, op->errlen, "the send's transaction was rolled"
                 " back");
        *op->rc = SV_STORE_ERROR;

    } else {
        *op->rc = x->a.verdict;
    }

    sv_send_piped_clear(w, 1);
    sv_send_piped_clear(c, 1);
}


static sv_store_rc_t
sv_pg_send_alone(sv_store_t *st, sv_store_send_op_t *op, int abort)
{
    return abort ? sv_pg_send_abort(st, op->s, op->err, op->errlen)
                 : sv_pg_send_begin(st, op->s, op->err, op->errlen);
}


/* a batch's send_begin, or with abort its send_abort */
static void
sv_pg_sends_piped(sv_store_t *st, sv_store_send_op_t *const *ops, size_t n,
    int abort)
{
    int              writing, stopped;
    size_t           i, k, r;
    sv_pg_t         *pg;
    sv_pg_rc_t       rc;
    sv_pg_err_t      e;
    sv_pg_stmt_t     q[5];
    sv_send_item_t  *it, *x, *prev;

    pg = sv_store_pg(st);

    it = calloc(n, sizeof(sv_send_item_t));
    if (it == NULL) {
        for (i = 0; i < n; i++) {
            *ops[i]->rc = sv_pg_send_alone(st, ops[i], abort);
        }
        return;
    }

    for (i = 0; i < n; i++) {
        it[i].op = ops[i];
        it[i].a.s = ops[i]->s;
        sv_rules_day_key(sv_rules_day(ops[i]->s->now_ms), it[i].a.day);
    }

    prev = NULL;
    writing = 0;
    stopped = 0;

    for (i = 0; i <= n && !stopped; i++) {
        memset(q, 0, sizeof(q));
        k = 0;

        if (prev != NULL) {
            if (writing) {
                q[k].sql = abort ? sv_pg_send_abort_sql
                                 : sv_pg_send_write_sql;
                q[k++].p = &prev->w;
            }
            q[k++].sql = writing ? "COMMIT" : "ROLLBACK";
        }

        r = k;

        if (i < n) {
            x = &it[i];
            sv_send_keys(&x->keys, &x->a);
            q[k++].sql = "BEGIN ISOLATION LEVEL READ COMMITTED";
            q[k].sql = sv_pg_send_lock_sql;
            q[k++].p = &x->keys;
            q[k].sql = sv_pg_send_read_sql;
            q[k++].p = &x->keys;
        }

        rc = (prev == NULL) ? sv_pg_pipeline(pg, q, k, 0, &e)
                            : sv_pg_pipeline_more(pg, q, k, &e);

        if (prev != NULL) {
            if (writing) {
                sv_send_piped_end(&q[0], &q[1], prev);
            } else {
                sv_send_piped_clear(q, 1);
            }
        }

        if (i == n) {
            break;
        }

        if (rc != SV_PG_OK) {
            /* nothing of it[i] committed: it and those after, alone */
            sv_send_piped_clear(&q[r], 3);
            stopped = 1;
            break;
        }

        writing = sv_send_piped_read(&q[r], &it[i], abort);
        prev = &it[i];
    }

    if (stopped) {
        /* no transaction of the batch's may stay open on the connection */
        sv_pg_disconnect(pg);

        for ( ; i < n; i++) {
            it[i].again = 1;
        }
    }

    for (i = 0; i < n; i++) {
        if (it[i].again) {
            *it[i].op->rc = sv_pg_send_alone(st, it[i].op, abort);
        }
    }

    free(it);
}


static void
sv_pg_send_batch(sv_store_t *st, sv_store_send_op_t *const *ops, size_t n)
{
    sv_pg_sends_piped(st, ops, n, 0);
}


static void
sv_pg_abort_batch(sv_store_t *st, sv_store_send_op_t *const *ops, size_t n)
{
    sv_pg_sends_piped(st, ops, n, 1);
}


/* Codes. */

static const char  sv_pg_code_put_sql[] =
    "INSERT INTO smsverify.codes"
    " (phone, code_hash, attempts_left, expires_ms, purpose)"
    " VALUES ($1::text, $2::bytea, $3::integer, $4::bigint, $5::text)"
    " ON CONFLICT (phone) DO UPDATE SET code_hash = EXCLUDED.code_hash,"
    " attempts_left = EXCLUDED.attempts_left,"
    " expires_ms = EXCLUDED.expires_ms, purpose = EXCLUDED.purpose";


static void
sv_code_put_params(sv_pg_params_t *p, const char *phone,
    const uint8_t *code_hash, int64_t expires_ms, unsigned attempts,
    sv_purpose_t purpose)
{
    sv_store_pg_params(p);
    sv_pg_param_text(p, phone);
    sv_pg_param_bytes(p, code_hash, SV_HASH_SIZE);
    sv_pg_param_int64(p, attempts);
    sv_pg_param_int64(p, expires_ms);
    sv_pg_param_text(p, sv_store_pg_purpose_text(purpose));
}


static sv_store_rc_t
sv_pg_code_put(sv_store_t *st, const char *phone, const uint8_t *code_hash,
    int64_t expires_ms, unsigned attempts, sv_purpose_t purpose, char *err,
    size_t errlen)
{
    sv_pg_params_t  p;

    sv_code_put_params(&p, phone, code_hash, expires_ms, attempts, purpose);

    return sv_store_pg_once(st, sv_pg_code_put_sql, &p, NULL, err, errlen);
}


static void
sv_pg_code_alone(sv_store_t *st, sv_store_code_op_t *op)
{
    *op->rc = sv_pg_code_put(st, op->phone, op->code_hash, op->expires_ms,
                             op->attempts, op->purpose, op->err, op->errlen);
}


/*
 * A batch's codes: each code_put one statement in a transaction of its
 * own, as alone, all in one pipeline (a sync point after each): one
 * round trip for them all, one that fails failing alone, in the batch's
 * order (two codes of one phone: the later stays, as one after the
 * other).  One met by a serialization failure or a deadlock is put again
 * alone; one whose sync point did not answer is UNAVAILABLE, as alone.
 */
static void
sv_pg_code_batch(sv_store_t *st, sv_store_code_op_t *const *ops, size_t n)
{
    size_t               i;
    sv_pg_err_t          e;
    sv_pg_stmt_t        *q;
    sv_pg_params_t      *p;
    sv_store_code_op_t  *op;

    q = calloc(n, sizeof(sv_pg_stmt_t));
    p = calloc(n, sizeof(sv_pg_params_t));

    if (q == NULL || p == NULL) {
        free(q);
        free(p);

        for (i = 0; i < n; i++) {
            sv_pg_code_alone(st, ops[i]);
        }
        return;
    }

    for (i = 0; i < n; i++) {
        op = ops[i];
        sv_code_put_params(&p[i], op->phone, op->code_hash, op->expires_ms,
                           op->attempts, op->purpose);
        q[i].sql = sv_pg_code_put_sql;
        q[i].p = &p[i];
    }

    (void) sv_pg_pipeline(sv_store_pg(st), q, n, 0, &e);

    for (i = 0; i < n; i++) {
        PQclear(q[i].res);

        if (q[i].rc == SV_PG_RETRY) {
            sv_pg_code_alone(st, ops[i]);
            continue;
        }

        *ops[i]->rc = sv_store_pg_rc(q[i].rc, &q[i].e, ops[i]->err,
                                     ops[i]->errlen);
    }

    free(q);
    free(p);
}


/* the code as read ($1 to $5): a write that finds it changed does nothing */
#define SV_PG_CODE_AS_READ                                                  \
    " WHERE phone = $1::text AND code_hash = $2::bytea"                     \
    " AND attempts_left = $3::integer AND expires_ms = $4::bigint"          \
    " AND purpose = $5::text"

/* SV_HASH_SIZE, as SQL spells it */
#define SV_PG_HASH_SIZE_TEXT  "32"

typedef char  sv_pg_hash_size_is_32[SV_HASH_SIZE == 32 ? 1 : -1];

/*
 * A guess ($2) that is wrong, at the time $3, of the phone's code c where
 * the member m has not its phone taken (sv_rules_guess(),
 * sv_rules_confirm_taken()): it costs an attempt.  A code whose hash is
 * not of the module's making is left alone (its confirm is ERROR).
 */
#define SV_PG_GUESS_WRONG                                                   \
    " c.phone = $1::text AND c.code_hash <> $2::bytea"                      \
    " AND octet_length(c.code_hash) = " SV_PG_HASH_SIZE_TEXT                \
    " AND c.expires_ms > $3::bigint"                                        \
    " AND (c.purpose = 'reset' OR NOT m.taken)"

/*
 * One statement for every guess: a wrong one's attempt counted on the
 * code as it is when the write comes (d), but for the last attempt, and
 * the code and the phone's member as the statement began, for the other
 * answers (no code, expired, taken, a match, the last attempt: the
 * code's deletion, as a match's, is a second statement, which changes
 * nothing if the code is no longer as read).  Where a racer changed the
 * code since it was read and the write did not apply, the confirm runs
 * again.  No DELETE here: the codes' statement triggers (the counts)
 * would fire for every guess.
 */
static const char  sv_pg_confirm_guess_sql[] =
    "WITH m AS (SELECT EXISTS (SELECT 1 FROM smsverify.members"
    "  WHERE phone = $1::text) AS taken),"
    " d AS (UPDATE smsverify.codes c SET attempts_left = c.attempts_left - 1"
    "  FROM m WHERE" SV_PG_GUESS_WRONG " AND c.attempts_left > 1"
    "  RETURNING c.attempts_left, c.purpose)"
    " SELECT c.code_hash, c.attempts_left, c.expires_ms, c.purpose, m.taken,"
    " (SELECT attempts_left FROM d), (SELECT purpose FROM d)"
    " FROM m LEFT JOIN smsverify.codes c ON c.phone = $1::text";

static const char  sv_pg_confirm_burnt_sql[] =
    "DELETE FROM smsverify.codes" SV_PG_CODE_AS_READ;

static const char  sv_pg_confirm_match_sql[] =
    "WITH c AS (DELETE FROM smsverify.codes" SV_PG_CODE_AS_READ
    "  RETURNING phone, purpose)"
    " INSERT INTO smsverify.tokens"
    " (token_hash, phone, expires_ms, failures, purpose)"
    " SELECT $6::bytea, phone, $7::bigint, 0, purpose FROM c";


/* what a guess statement's answer leaves to do */
typedef enum {
    SV_GUESS_DONE = 0,          /* the answer is the confirm's */
    SV_GUESS_MATCH,             /* the match to write, if still as read */
    SV_GUESS_BURN,              /* the last attempt: the code deleted, ... */
                                /* ... if still as read */
    SV_GUESS_AGAIN              /* a racer changed the code: again */
} sv_guess_e;


/* 1 if a code was read (rec), 0 if the phone has none, -1 if bad */
static int
sv_confirm_code(const PGresult *res, sv_code_rec_t *rec, int *taken)
{
    size_t   len;
    int64_t  v;
    char     purpose[16];

    memset(rec, 0, sizeof(sv_code_rec_t));

    if (PQntuples(res) != 1 || PQnfields(res) != 7) {
        return -1;
    }

    *taken = sv_store_pg_bool(res, 0, 4);

    if (sv_pg_null(res, 0)) {
        return 0;
    }

    len = SV_HASH_SIZE;

    if (sv_pg_bytes(res, 0, 0, rec->hash, &len) != 0 || len != SV_HASH_SIZE
        || sv_pg_int_in(res, 0, 1, 0, UINT32_MAX, &v) != 0
        || sv_pg_int64(res, 0, 2, &rec->expires_ms) != 0
        || sv_store_pg_text(res, 0, 3, purpose, sizeof(purpose)) != 0
        || sv_store_pg_purpose(purpose, &rec->purpose) != 0)
    {
        return -1;
    }

    rec->attempts_left = (uint32_t) v;

    return 1;
}


/* the purpose at col: 0, or -1 if it is not one */
static int
sv_confirm_purpose(const PGresult *res, int col, sv_purpose_t *purpose)
{
    char  text[16];

    if (sv_store_pg_text(res, 0, col, text, sizeof(text)) != 0) {
        return -1;
    }

    return sv_store_pg_purpose(text, purpose);
}


/*
 * The guess statement's answer for c: the confirm's answer in *rc (DONE),
 * or the code as read in *old for a match to write, or AGAIN.
 */
static sv_guess_e
sv_confirm_guessed(const PGresult *res, sv_confirm_t *c, sv_code_rec_t *old,
    sv_store_rc_t *rc, char *err, size_t errlen)
{
    int            found, taken;
    int64_t        v;
    sv_code_rec_t  rec;

    found = sv_confirm_code(res, &rec, &taken);

    if (found < 0) {
        *rc = sv_pg_bad_row("codes", err, errlen);
        return SV_GUESS_DONE;
    }

    /* a wrong guess, counted: what the write found is the answer */

    if (!sv_pg_null(res, 5)) {
        if (sv_pg_int_in(res, 0, 5, 1, UINT32_MAX, &v) != 0
            || sv_confirm_purpose(res, 6, &c->purpose) != 0)
        {
            *rc = sv_pg_bad_row("codes", err, errlen);
            return SV_GUESS_DONE;
        }

        c->attempts_left = (unsigned) v;
        *rc = SV_STORE_MISMATCH;
        return SV_GUESS_DONE;
    }

    /* nothing written: the code as the statement began decides */

    if (sv_rules_confirm_taken(found ? &rec : NULL, taken)) {
        *rc = SV_STORE_PHONE_TAKEN;
        return SV_GUESS_DONE;
    }

    if (!found) {
        *rc = SV_STORE_NO_CODE;
        return SV_GUESS_DONE;
    }

    *old = rec;
    c->purpose = rec.purpose;

    switch (sv_rules_guess(&rec, c->guess_hash, c->now_ms)) {

    case SV_STORE_EXPIRED:
        *rc = SV_STORE_EXPIRED;
        return SV_GUESS_DONE;

    case SV_STORE_OK:
        return SV_GUESS_MATCH;

    case SV_STORE_BURNT:
        return SV_GUESS_BURN;

    default:
        /* wrong, but the code was no longer as read when the write came */
        return SV_GUESS_AGAIN;
    }
}


static void
sv_confirm_guess_params(sv_pg_params_t *p, const sv_confirm_t *c)
{
    sv_store_pg_params(p);
    sv_pg_param_text(p, c->phone);
    sv_pg_param_bytes(p, c->guess_hash, SV_HASH_SIZE);
    sv_pg_param_int64(p, c->now_ms);
}


/*
 * The write a match or the last attempt asks for, if the code is still
 * as read (old): the match's token drawn now, on a match only.  ERROR if
 * none could be drawn.
 */
static sv_store_rc_t
sv_confirm_write_params(sv_pg_params_t *p, sv_confirm_t *c,
    const sv_code_rec_t *old, int burn, uint8_t *token_hash, char *err,
    size_t errlen)
{
    if (!burn && c->token_new(c->token_data, token_hash) != 0) {
        snprintf(err, errlen, "no verification token could be drawn");
        return SV_STORE_ERROR;
    }

    sv_store_pg_params(p);
    sv_pg_param_text(p, c->phone);
    sv_pg_param_bytes(p, old->hash, SV_HASH_SIZE);
    sv_pg_param_int64(p, old->attempts_left);
    sv_pg_param_int64(p, old->expires_ms);
    sv_pg_param_text(p, sv_store_pg_purpose_text(old->purpose));

    if (!burn) {
        sv_pg_param_bytes(p, token_hash, SV_HASH_SIZE);
        sv_pg_param_int64(p, c->token_expires_ms);
    }

    return SV_STORE_OK;
}


/* the answer of a write that applied */
static sv_store_rc_t
sv_confirm_written(sv_confirm_t *c, int burn)
{
    if (burn) {
        c->attempts_left = 0;
        return SV_STORE_BURNT;
    }

    return SV_STORE_OK;
}


/* One guess statement and, for a match or the last attempt, its write. */
static sv_store_rc_t
sv_confirm_round(sv_store_t *st, sv_confirm_t *c, int *done, char *err,
    size_t errlen)
{
    uint8_t          token_hash[SV_HASH_SIZE];
    PGresult        *res;
    sv_guess_e       g;
    sv_code_rec_t    old;
    sv_store_rc_t    rc;
    sv_pg_params_t   p;

    *done = 1;

    sv_confirm_guess_params(&p, c);

    rc = sv_store_pg_once(st, sv_pg_confirm_guess_sql, &p, &res, err,
                          errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    g = sv_confirm_guessed(res, c, &old, &rc, err, errlen);
    PQclear(res);

    if (g == SV_GUESS_DONE) {
        return rc;
    }

    if (g == SV_GUESS_AGAIN) {
        *done = 0;
        return SV_STORE_ERROR;
    }

    rc = sv_confirm_write_params(&p, c, &old, g == SV_GUESS_BURN, token_hash,
                                 err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    rc = sv_store_pg_once(st, g == SV_GUESS_BURN ? sv_pg_confirm_burnt_sql
                                                 : sv_pg_confirm_match_sql,
                          &p, &res, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    *done = sv_store_pg_changed(res) == 1;
    PQclear(res);

    return sv_confirm_written(c, g == SV_GUESS_BURN);
}


static sv_store_rc_t
sv_pg_confirm(sv_store_t *st, sv_confirm_t *c, char *err, size_t errlen)
{
    int            done;
    unsigned       round;
    sv_store_rc_t  rc;

    for (round = 0; round < SV_PG_CONFIRM_ROUNDS; round++) {
        rc = sv_confirm_round(st, c, &done, err, errlen);

        if (done) {
            return rc;
        }
    }

    snprintf(err, errlen, "the code changed under %d confirms in a row",
             SV_PG_CONFIRM_ROUNDS);

    return SV_STORE_ERROR;
}


/*
 * A batch's confirms: each one's round as sv_confirm_round() makes it,
 * the guesses of all in one pipeline, the writes of the matches and last
 * attempts in a second.
 * Each pipeline is one transaction (one commit, one answer for all); if
 * a statement of it fails, nothing of it is applied, and it runs again
 * with each statement a transaction of its own, so that the failure is
 * that one's alone.  The guesses go in the order of their phones: two
 * nodes' batches lock the codes they have in common in the same order,
 * and never wait for each other in a circle.  A confirm whose code a
 * racer changed, or whose statement met a serialization failure, runs
 * again alone.
 */
typedef struct {
    sv_store_confirm_op_t  *op;
    sv_pg_params_t          p;
    sv_code_rec_t           old;
    uint8_t                 token_hash[SV_HASH_SIZE];
    size_t                  stmt;       /* the i-th statement's confirm */
    int                     burn;
    int                     again;
} sv_confirm_item_t;


/* qsort() has no argument for it: the batch this thread sorts */
static __thread sv_store_confirm_op_t *const  *sv_confirm_sorting;

static int
sv_confirm_by_phone(const void *a, const void *b)
{
    int            d;
    const size_t  *i = a, *j = b;

    d = strcmp(sv_confirm_sorting[*i]->c->phone,
               sv_confirm_sorting[*j]->c->phone);

    return d != 0 ? d : (*i > *j) - (*i < *j);
}


/* in one transaction if all go, else each alone: one more round trip */
static void
sv_confirm_pipe(sv_store_t *st, sv_pg_stmt_t *q, size_t n)
{
    sv_pg_err_t  e;

    if (sv_pg_pipeline(sv_store_pg(st), q, n, 1, &e) == SV_PG_ROLLBACK) {
        (void) sv_pg_pipeline(sv_store_pg(st), q, n, 0, &e);
    }
}


/* what a statement of the pipeline answered, for its confirm */
static sv_guess_e
sv_confirm_piped(sv_pg_stmt_t *q, sv_confirm_item_t *it, int match)
{
    sv_guess_e              g;
    sv_store_rc_t           rc;
    sv_store_confirm_op_t  *op;

    op = it->op;

    if (q->rc == SV_PG_RETRY) {
        return SV_GUESS_AGAIN;
    }

    if (q->rc != SV_PG_OK) {
        *op->rc = sv_store_pg_rc(q->rc, &q->e, op->err, op->errlen);
        return SV_GUESS_DONE;
    }

    if (match) {
        g = sv_store_pg_changed(q->res) == 1 ? SV_GUESS_DONE : SV_GUESS_AGAIN;
        *op->rc = sv_confirm_written(op->c, it->burn);

    } else {
        g = sv_confirm_guessed(q->res, op->c, &it->old, &rc, op->err,
                               op->errlen);
        *op->rc = rc;
    }

    PQclear(q->res);
    q->res = NULL;

    return g;
}


static void
sv_pg_confirm_batch(sv_store_t *st, sv_store_confirm_op_t *const *ops,
    size_t n)
{
    size_t              i, k, *order;
    sv_guess_e          g;
    sv_pg_stmt_t       *q;
    sv_confirm_item_t  *it, *x;

    q = calloc(n, sizeof(sv_pg_stmt_t));
    it = calloc(n, sizeof(sv_confirm_item_t));
    order = calloc(n, sizeof(size_t));

    if (q == NULL || it == NULL || order == NULL) {
        free(q);
        free(it);
        free(order);

        for (i = 0; i < n; i++) {
            *ops[i]->rc = sv_pg_confirm(st, ops[i]->c, ops[i]->err,
                                        ops[i]->errlen);
        }
        return;
    }

    /* every guess, in the order of their phones */

    for (i = 0; i < n; i++) {
        order[i] = i;
    }

    sv_confirm_sorting = ops;
    qsort(order, n, sizeof(size_t), sv_confirm_by_phone);

    for (k = 0; k < n; k++) {
        x = &it[order[k]];
        x->op = ops[order[k]];
        sv_confirm_guess_params(&x->p, x->op->c);
        q[k].sql = sv_pg_confirm_guess_sql;
        q[k].p = &x->p;
        it[k].stmt = order[k];
    }

    sv_confirm_pipe(st, q, n);

    /* the matches' writes, in the same order */

    k = 0;

    for (i = 0; i < n; i++) {
        x = &it[it[i].stmt];
        g = sv_confirm_piped(&q[i], x, 0);

        if (g == SV_GUESS_AGAIN) {
            x->again = 1;
            continue;
        }

        if (g == SV_GUESS_DONE) {
            continue;
        }

        x->burn = g == SV_GUESS_BURN;

        if (sv_confirm_write_params(&x->p, x->op->c, &x->old, x->burn,
                                    x->token_hash, x->op->err,
                                    x->op->errlen)
            != SV_STORE_OK)
        {
            *x->op->rc = SV_STORE_ERROR;
            continue;
        }

        /* q[k] and it[k].stmt, k <= i, are read already */

        it[k].stmt = it[i].stmt;
        memset(&q[k], 0, sizeof(sv_pg_stmt_t));
        q[k].sql = x->burn ? sv_pg_confirm_burnt_sql
                           : sv_pg_confirm_match_sql;
        q[k].p = &x->p;
        k++;
    }

    if (k > 0) {
        sv_confirm_pipe(st, q, k);

        for (i = 0; i < k; i++) {
            x = &it[it[i].stmt];

            if (sv_confirm_piped(&q[i], x, 1) == SV_GUESS_AGAIN) {
                x->again = 1;
            }
        }
    }

    for (i = 0; i < n; i++) {
        if (it[i].again) {
            *it[i].op->rc = sv_pg_confirm(st, it[i].op->c, it[i].op->err,
                                          it[i].op->errlen);
        }
    }

    free(q);
    free(it);
    free(order);
}


/* Tokens. */

static const char  sv_pg_token_sql[] =
    "SELECT " SV_PG_TOKEN_COLS " FROM smsverify.tokens t"
    " WHERE t.token_hash = $1::bytea";


/* the token of this hash: 1 found, 0 not; ERROR in *rc */
static int
sv_token_read(sv_store_t *st, const uint8_t *token_hash, sv_token_rec_t *rec,
    sv_store_rc_t *rc, char *err, size_t errlen)
{
    int              found;
    PGresult        *res;
    sv_pg_params_t   p;

    sv_store_pg_params(&p);
    sv_pg_param_bytes(&p, token_hash, SV_HASH_SIZE);

    *rc = sv_store_pg_once(st, sv_pg_token_sql, &p, &res, err, errlen);
    if (*rc != SV_STORE_OK) {
        return 0;
    }

    found = sv_pg_token(res, 0, rec);
    PQclear(res);

    if (found < 0) {
        *rc = sv_pg_bad_row("tokens", err, errlen);
        return 0;
    }

    return found;
}


static sv_store_rc_t
sv_pg_token_check(sv_store_t *st, const uint8_t *token_hash,
    const char *phone, sv_purpose_t purpose, int64_t now_ms, char *err,
    size_t errlen)
{
    int             found;
    sv_store_rc_t   rc;
    sv_token_rec_t  rec;

    found = sv_token_read(st, token_hash, &rec, &rc, err, errlen);

    if (rc != SV_STORE_OK) {
        return rc;
    }

    return found && sv_rules_token_valid(&rec, phone, purpose, now_ms)
           ? SV_STORE_OK : SV_STORE_NO_TOKEN;
}


static sv_store_rc_t
sv_pg_token_phone(sv_store_t *st, const uint8_t *token_hash,
    sv_purpose_t purpose, int64_t now_ms, char *phone, char *err,
    size_t errlen)
{
    int             found;
    sv_store_rc_t   rc;
    sv_token_rec_t  rec;

    found = sv_token_read(st, token_hash, &rec, &rc, err, errlen);

    if (rc != SV_STORE_OK || !found) {
        return rc != SV_STORE_OK ? rc : SV_STORE_NO_TOKEN;
    }

    memcpy(phone, rec.phone, rec.phone_len);
    phone[rec.phone_len] = '\0';

    if (!sv_rules_token_valid(&rec, phone, purpose, now_ms)) {
        phone[0] = '\0';
        return SV_STORE_NO_TOKEN;
    }

    return SV_STORE_OK;
}


/* Signups. */

typedef struct {
    sv_member_t        *m;
    sv_store_rc_t       verdict;
    sv_token_rec_t      tok;
    sv_pgq_t            q;
    int                 outbox;         /* write member.created */
} sv_signup_arg_t;


static const char  sv_pg_token_lock_sql[] =
    "SELECT " SV_PG_TOKEN_COLS " FROM smsverify.tokens t"
    " WHERE t.token_hash = $1::bytea FOR UPDATE";

/* which of $1 (folded email) and $2 (phone) a member has */
#define SV_PG_TAKEN_COLS                                                    \
    " EXISTS (SELECT 1 FROM smsverify.members"                              \
    "  WHERE " SV_PG_EMAIL_FOLD("email") " = $1::text),"                    \
    " EXISTS (SELECT 1 FROM smsverify.members WHERE phone = $2::text)"

static const char  sv_pg_taken_sql[] =
    "SELECT" SV_PG_TAKEN_COLS;

/*
 * The member, if neither its email nor its phone is taken (no id is
 * drawn then), with its terms, and its token deleted; then the id, or
 * NULL and what is taken.  A racer's member committed meanwhile makes
 * ON CONFLICT do nothing, unseen by the EXISTS of this statement's
 * snapshot: sv_signup_taken() looks again.
 */
static const char  sv_pg_signup_sql[] =
    "WITH m AS (INSERT INTO smsverify.members"
    "  (email, phone, nickname, password_hash, created_at)"
    "  SELECT $3::text, $2::text, $4::text, $5::text,"
    "  timestamptz 'epoch' + $6::bigint * interval '1 millisecond'"
    "  WHERE NOT EXISTS (SELECT 1 FROM smsverify.members"
    "   WHERE " SV_PG_EMAIL_FOLD("email") " = $1::text)"
    "  AND NOT EXISTS (SELECT 1 FROM smsverify.members"
    "   WHERE phone = $2::text)"
    "  ON CONFLICT DO NOTHING RETURNING id, created_at),"
    " t AS (INSERT INTO smsverify.member_terms"
    "  (member_id, terms_id, agreed_at)"
    "  SELECT m.id, x, m.created_at FROM m, unnest($7::integer[]) AS x"
    "  ON CONFLICT DO NOTHING),"
    " d AS (DELETE FROM smsverify.tokens WHERE token_hash = $8::bytea"
    "  AND EXISTS (SELECT 1 FROM m))"
    " SELECT (SELECT id FROM m)," SV_PG_TAKEN_COLS;


/* EMAIL_TAKEN or PHONE_TAKEN from the booleans at col, or OK */
static sv_store_rc_t
sv_taken(const PGresult *res, int col)
{
    if (sv_store_pg_bool(res, 0, col)) {
        return SV_STORE_EMAIL_TAKEN;
    }

    if (sv_store_pg_bool(res, 0, col + 1)) {
        return SV_STORE_PHONE_TAKEN;
    }

    return SV_STORE_OK;
}


static void
sv_taken_params(sv_pg_params_t *p, const sv_member_t *m)
{
    sv_store_pg_params(p);
    sv_pg_param_text(p, m->email_key);
    sv_pg_param_text(p, m->phone);
}


/*
 * A signup refused as taken counts against its token, locked by the
 * caller's transaction (rec as read): updated, or deleted when used up.
 */
static sv_pg_rc_t
sv_token_refused(sv_pgq_t *q, const uint8_t *token_hash, sv_token_rec_t *rec)
{
    int             gone;
    sv_pg_params_t  p;

    gone = sv_rules_token_refused(rec);

    sv_store_pg_params(&p);
    sv_pg_param_bytes(&p, token_hash, SV_HASH_SIZE);

    if (gone) {
        return sv_store_pg_exec(q, "DELETE FROM smsverify.tokens"
                                " WHERE token_hash = $1::bytea", &p, NULL);
    }

    sv_pg_param_int64(&p, rec->failures);

    return sv_store_pg_exec(q, "UPDATE smsverify.tokens"
                            " SET failures = $2::integer"
                            " WHERE token_hash = $1::bytea", &p, NULL);
}


/* the token locked: 1 there, 0 not (rec all zero) */
static sv_pg_rc_t
sv_token_lock(sv_pgq_t *q, const uint8_t *token_hash, sv_token_rec_t *rec,
    int *found)
{
    PGresult        *res;
    sv_pg_rc_t       rc;
    sv_pg_params_t   p;

    sv_store_pg_params(&p);
    sv_pg_param_bytes(&p, token_hash, SV_HASH_SIZE);

    rc = sv_store_pg_exec(q, sv_pg_token_lock_sql, &p, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    *found = sv_pg_token(res, 0, rec);
    PQclear(res);

    return *found < 0 ? sv_pg_bad_row_txn(q, "tokens") : SV_PG_OK;
}


static sv_pg_rc_t
sv_token_refused_body(sv_pg_txn_t *t, void *arg)
{
    int               found;
    sv_pg_rc_t        rc;
    sv_signup_arg_t  *a = arg;

    a->q.txn = t;

    rc = sv_token_lock(&a->q, a->m->token_hash, &a->tok, &found);
    if (rc != SV_PG_OK || !found) {
        return rc;
    }

    return sv_token_refused(&a->q, a->m->token_hash, &a->tok);
}


static sv_store_rc_t
sv_pg_signup_check(sv_store_t *st, const sv_member_t *m, char *err,
    size_t errlen)
{
    int               found;
    PGresult         *res;
    sv_pg_err_t       e;
    sv_store_rc_t     rc;
    sv_pg_params_t    p;
    sv_token_rec_t    tok;
    sv_signup_arg_t   a;

    sv_taken_params(&p, m);
    sv_pg_param_bytes(&p, m->token_hash, SV_HASH_SIZE);

    rc = sv_store_pg_once(st,
        "SELECT " SV_PG_TOKEN_COLS "," SV_PG_TAKEN_COLS
        " FROM (VALUES (1)) AS v"
        " LEFT JOIN smsverify.tokens t ON t.token_hash = $3::bytea",
        &p, &res, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    found = sv_pg_token(res, 0, &tok);
    rc = sv_taken(res, 4);
    PQclear(res);

    if (found < 0) {
        return sv_pg_bad_row("tokens", err, errlen);
    }

    if (!found
        || !sv_rules_token_valid(&tok, m->phone, SV_PURPOSE_SIGNUP,
                                 m->now_ms))
    {
        return SV_STORE_NO_TOKEN;
    }

    if (rc != SV_STORE_OK) {
        /* the answer even if the count fails: the signup still decides */
        memset(&a, 0, sizeof(a));
        a.m = (sv_member_t *) m;
        a.q.pg = sv_store_pg(st);
        a.q.e = &e;
        (void) sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED,
                                 sv_token_refused_body, &a, &e);
    }

    return rc;
}


/* after an insert that did nothing: what the racer took, seen now */
static sv_pg_rc_t
sv_signup_taken(sv_signup_arg_t *a)
{
    PGresult        *res;
    sv_pg_rc_t       rc;
    sv_pg_params_t   p;

    sv_taken_params(&p, a->m);

    rc = sv_store_pg_exec(&a->q, sv_pg_taken_sql, &p, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    a->verdict = sv_taken(res, 0);
    PQclear(res);

    /* neither: the racer's member went again; try again */
    return a->verdict == SV_STORE_OK ? SV_PG_RETRY : SV_PG_OK;
}


static sv_pg_rc_t
sv_signup_insert(sv_signup_arg_t *a, int64_t *id)
{
    size_t           i;
    int64_t          terms[SV_STORE_TERMS_MAX];
    PGresult        *res;
    sv_pg_rc_t       rc;
    sv_member_t     *m = a->m;
    sv_pg_params_t   p;
    char             text[SV_PG_TERMS_SIZE];

    for (i = 0; i < m->nterms && i < SV_STORE_TERMS_MAX; i++) {
        terms[i] = m->terms[i];
    }

    sv_pg_ints_text(terms, i, text, sizeof(text));

    sv_taken_params(&p, m);
    sv_pg_param_text(&p, m->email);
    sv_pg_param_text(&p, m->nickname);
    sv_pg_param_text(&p, m->password_hash);
    sv_pg_param_int64(&p, m->now_ms);
    sv_pg_param_text(&p, text);
    sv_pg_param_bytes(&p, m->token_hash, SV_HASH_SIZE);

    rc = sv_store_pg_exec(&a->q, sv_pg_signup_sql, &p, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    *id = 0;

    if (!sv_pg_null(res, 0) && sv_pg_int_in(res, 0, 0, 1, INT64_MAX, id) != 0)
    {
        PQclear(res);
        return sv_pg_bad_row_txn(&a->q, "members");
    }

    a->verdict = *id ? SV_STORE_OK : sv_taken(res, 1);
    PQclear(res);

    if (*id == 0 && a->verdict == SV_STORE_OK) {
        return sv_signup_taken(a);
    }

    return SV_PG_OK;
}


static sv_pg_rc_t
sv_signup_body(sv_pg_txn_t *t, void *arg)
{
    int               found;
    int64_t           id;
    sv_pg_rc_t        rc;
    sv_signup_arg_t  *a = arg;

    a->q.txn = t;
    a->verdict = SV_STORE_ERROR;

    rc = sv_token_lock(&a->q, a->m->token_hash, &a->tok, &found);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (!found
        || !sv_rules_token_valid(&a->tok, a->m->phone, SV_PURPOSE_SIGNUP,
                                 a->m->now_ms))
    {
        a->verdict = SV_STORE_NO_TOKEN;
        return SV_PG_ROLLBACK;
    }

    rc = sv_signup_insert(a, &id);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (a->verdict != SV_STORE_OK) {
        return sv_token_refused(&a->q, a->m->token_hash, &a->tok);
    }

    a->m->id = (uint64_t) id;

    if (a->outbox) {
        return sv_store_pg_outbox_add(&a->q, "member.created", a->m->id,
                                      a->m->now_ms);
    }

    return SV_PG_OK;
}


static sv_store_rc_t
sv_pg_signup(sv_store_t *st, sv_member_t *m, char *err, size_t errlen)
{
    sv_pg_rc_t       rc;
    sv_pg_err_t      e;
    sv_signup_arg_t  a;

    memset(&a, 0, sizeof(a));
    a.m = m;
    a.q.pg = sv_store_pg(st);
    a.q.e = &e;
    a.outbox = ((sv_store_pg_t *) st)->outbox;

    rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED, sv_signup_body, &a,
                           &e);

    return sv_store_pg_verdict(rc, a.verdict, &e, err, errlen);
}


/* Logins. */

static const char  sv_pg_login_read_sql[] =
    "SELECT stamps_ms::text, keep_until_ms FROM smsverify.login_failures"
    " WHERE account = $1::text";

/* as a send's: the account's key locked, whether or not it has a row */
static const char  sv_pg_login_lock_sql[] =
    "SELECT pg_advisory_xact_lock(" SV_PG_LOCK_ACCOUNT ", hashtext($1::text))";

static const char  sv_pg_login_write_sql[] =
    "INSERT INTO smsverify.login_failures (account, stamps_ms, keep_until_ms)"
    " VALUES ($1::text, $2::bigint[], $3::bigint)"
    " ON CONFLICT (account) DO UPDATE SET stamps_ms = EXCLUDED.stamps_ms,"
    " keep_until_ms = EXCLUDED.keep_until_ms";


static sv_store_rc_t
sv_pg_login_allowed(sv_store_t *st, sv_login_t *l, char *err, size_t errlen)
{
    int              rc;
    PGresult        *res;
    sv_store_rc_t    src;
    sv_pg_params_t   p;
    sv_login_rec_t   rec;

    sv_store_pg_params(&p);
    sv_pg_param_text(&p, l->account);

    src = sv_store_pg_once(st, sv_pg_login_read_sql, &p, &res, err, errlen);
    if (src != SV_STORE_OK) {
        return src;
    }

    rc = sv_pg_window(res, 0, &rec);
    PQclear(res);

    if (rc < 0) {
        return sv_pg_bad_row("login_failures", err, errlen);
    }

    return sv_rules_login_allowed(&rec, l);
}


typedef struct {
    sv_login_t         *l;
    sv_pgq_t            q;
} sv_login_arg_t;


static sv_pg_rc_t
sv_login_failed_body(sv_pg_txn_t *t, void *arg)
{
    int              there;
    PGresult        *res;
    sv_pg_rc_t       rc;
    sv_login_arg_t  *a = arg;
    sv_pg_params_t   p;
    sv_login_rec_t   rec;
    char             text[SV_PG_STAMPS_SIZE];

    a->q.txn = t;

    sv_store_pg_params(&p);
    sv_pg_param_text(&p, a->l->account);

    rc = sv_store_pg_exec(&a->q, sv_pg_login_lock_sql, &p, NULL);
    if (rc != SV_PG_OK) {
        return rc;
    }

    rc = sv_store_pg_exec(&a->q, sv_pg_login_read_sql, &p, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    there = sv_pg_window(res, 0, &rec);
    PQclear(res);

    if (there < 0) {
        return sv_pg_bad_row_txn(&a->q, "login_failures");
    }

    sv_rules_login_failed(&rec, a->l);
    sv_pg_window_text(&rec, text);

    sv_pg_param_text(&p, text);
    sv_pg_param_int64(&p, rec.keep_until_ms);

    return sv_store_pg_exec(&a->q, sv_pg_login_write_sql, &p, NULL);
}


static sv_store_rc_t
sv_pg_login_failed(sv_store_t *st, sv_login_t *l, char *err, size_t errlen)
{
    sv_pg_rc_t      rc;
    sv_pg_err_t     e;
    sv_login_arg_t  a = { l, { sv_store_pg(st), NULL, &e } };

    rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED, sv_login_failed_body,
                           &a, &e);

    return sv_store_pg_rc(rc, &e, err, errlen);
}


/* Members. */

static sv_store_rc_t
sv_pg_member_find(sv_store_t *st, const char *email_key, const char *phone,
    sv_member_info_t *m, char *err, size_t errlen)
{
    int              found;
    PGresult        *res;
    sv_store_rc_t    rc;
    sv_pg_params_t   p;

    sv_store_pg_params(&p);

    if (email_key != NULL) {
        sv_pg_param_text(&p, email_key);
        rc = sv_store_pg_once(st, "SELECT " SV_PG_MEMBER_COLS("m")
                        " FROM smsverify.members m"
                        " WHERE " SV_PG_EMAIL_FOLD("m.email") " = $1::text",
                        &p, &res, err, errlen);

    } else {
        sv_pg_param_text(&p, phone);
        rc = sv_store_pg_once(st, "SELECT " SV_PG_MEMBER_COLS("m")
                        " FROM smsverify.members m"
                        " WHERE m.phone = $1::text",
                        &p, &res, err, errlen);
    }

    if (rc != SV_STORE_OK) {
        return rc;
    }

    found = sv_store_pg_member(res, 0, m);
    PQclear(res);

    if (found < 0) {
        return sv_pg_bad_row("members", err, errlen);
    }

    return found ? SV_STORE_OK : SV_STORE_NOT_MEMBER;
}


static sv_store_rc_t
sv_pg_member_rehash(sv_store_t *st, uint64_t id, const char *old_hash,
    const char *new_hash, char *err, size_t errlen)
{
    int              there;
    PGresult        *res;
    sv_store_rc_t    rc;
    sv_pg_params_t   p;

    if (id > INT64_MAX) {
        return SV_STORE_NOT_MEMBER;
    }

    sv_store_pg_params(&p);
    sv_pg_param_int64(&p, (int64_t) id);
    sv_pg_param_text(&p, old_hash);
    sv_pg_param_text(&p, new_hash);

    /* a reset meanwhile changed the hash: the reset wins */
    rc = sv_store_pg_once(st,
        "WITH u AS (UPDATE smsverify.members SET password_hash = $3::text"
        "  WHERE id = $1::bigint AND password_hash = $2::text)"
        " SELECT EXISTS (SELECT 1 FROM smsverify.members"
        "  WHERE id = $1::bigint)",
        &p, &res, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    there = sv_store_pg_bool(res, 0, 0);
    PQclear(res);

    return there ? SV_STORE_OK : SV_STORE_NOT_MEMBER;
}


/* Sessions. */

/*
 * Stored only if the member's epoch is still the one the login saw,
 * under a share lock on the member: a reset that moved it on first
 * leaves nothing to insert, and one that comes after waits for this
 * statement and then deletes what it inserted.  The account's failures
 * go in the same statement.
 */
static const char  sv_pg_session_start_sql[] =
    "WITH f AS (DELETE FROM smsverify.login_failures"
    "  WHERE account = $7::text)"
    " INSERT INTO smsverify.sessions (session_hash, member_id, epoch,"
    " created_ms, last_used_ms, expires_ms, idle_ms)"
    " SELECT $1::bytea, m.id, m.epoch, $4::bigint, $5::bigint, $6::bigint,"
    " $8::bigint"
    " FROM (SELECT id, epoch FROM smsverify.members"
    "  WHERE id = $2::bigint AND epoch = $3::bigint FOR SHARE) AS m"
    " ON CONFLICT (session_hash) DO UPDATE SET"
    " member_id = EXCLUDED.member_id, epoch = EXCLUDED.epoch,"
    " created_ms = EXCLUDED.created_ms,"
    " last_used_ms = EXCLUDED.last_used_ms,"
    " expires_ms = EXCLUDED.expires_ms, idle_ms = EXCLUDED.idle_ms";


static sv_store_rc_t
sv_pg_session_start(sv_store_t *st, const sv_session_t *s, char *err,
    size_t errlen)
{
    sv_pg_params_t    p;
    sv_session_rec_t  rec;

    if (s->member_id > INT64_MAX) {
        snprintf(err, errlen, "a member id out of range");
        return SV_STORE_ERROR;
    }

    sv_rules_session_new(&rec, s);

    sv_store_pg_params(&p);
    sv_pg_param_bytes(&p, s->hash, SV_HASH_SIZE);
    sv_pg_param_int64(&p, (int64_t) rec.member_id);
    sv_pg_param_int64(&p, rec.epoch);
    sv_pg_param_int64(&p, rec.created_ms);
    sv_pg_param_int64(&p, rec.last_used_ms);
    sv_pg_param_int64(&p, rec.expires_ms);
    sv_pg_param_text(&p, s->account);
    sv_pg_param_int64(&p, rec.idle_ms);

    return sv_store_pg_once(st, sv_pg_session_start_sql, &p, NULL, err,
                            errlen);
}


static const char  sv_pg_session_get_sql[] =
    "SELECT s.member_id, s.epoch, s.created_ms, s.last_used_ms,"
    " s.expires_ms, s.idle_ms, " SV_PG_MEMBER_COLS("m")
    " FROM smsverify.sessions s"
    " LEFT JOIN smsverify.members m ON m.id = s.member_id"
    " WHERE s.session_hash = $1::bytea";


/* 1 if a session was read, 0 if none, -1 if bad */
static int
sv_session_rec(const PGresult *res, sv_session_rec_t *rec)
{
    int64_t  id, epoch;

    memset(rec, 0, sizeof(sv_session_rec_t));

    if (sv_pg_null(res, 0)) {
        return 0;
    }

    if (sv_pg_int_in(res, 0, 0, 1, INT64_MAX, &id) != 0
        || sv_pg_int_in(res, 0, 1, 0, UINT32_MAX, &epoch) != 0
        || sv_pg_int64(res, 0, 2, &rec->created_ms) != 0
        || sv_pg_int64(res, 0, 3, &rec->last_used_ms) != 0
        || sv_pg_int64(res, 0, 4, &rec->expires_ms) != 0
        || sv_pg_int64(res, 0, 5, &rec->idle_ms) != 0)
    {
        return -1;
    }

    rec->member_id = (uint64_t) id;
    rec->epoch = (uint32_t) epoch;

    return 1;
}


/* what the session's row (or none) in res says of it, as in g */
static sv_store_rc_t
sv_pg_session_answer(PGresult *res, sv_session_get_t *g, char *err,
    size_t errlen)
{
    int               found, member;
    sv_store_rc_t     rc;
    sv_session_rec_t  rec;

    found = sv_session_rec(res, &rec);
    member = found > 0 ? sv_store_pg_member(res, 6, &g->member) : 0;

    if (found < 0 || member < 0) {
        memset(&g->member, 0, sizeof(sv_member_info_t));
        return sv_pg_bad_row(found < 0 ? "sessions" : "members", err,
                             errlen);
    }

    if (!found) {
        return SV_STORE_NO_SESSION;
    }

    rc = sv_rules_session_get(&rec, member ? &g->member : NULL, g);

    if (rc != SV_STORE_OK) {
        memset(&g->member, 0, sizeof(sv_member_info_t));
    }

    return rc;
}


static void
sv_session_hash_params(sv_pg_params_t *p, const uint8_t *hash)
{
    sv_store_pg_params(p);
    sv_pg_param_bytes(p, hash, SV_HASH_SIZE);
}


static sv_store_rc_t
sv_pg_session_get(sv_store_t *st, sv_session_get_t *g, char *err,
    size_t errlen)
{
    PGresult        *res;
    sv_store_rc_t    rc;
    sv_pg_params_t   p;

    memset(&g->member, 0, sizeof(sv_member_info_t));

    sv_session_hash_params(&p, g->hash);

    rc = sv_store_pg_once(st, sv_pg_session_get_sql, &p, &res, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    rc = sv_pg_session_answer(res, g, err, errlen);
    PQclear(res);

    return rc;
}


/*
 * A use moves the last use on (never back); an ended session is deleted
 * instead: the two conditions exclude each other, and each is checked
 * again on the row as a racer left it.
 */
static const char  sv_pg_session_touch_sql[] =
    "WITH u AS (UPDATE smsverify.sessions"
    "  SET last_used_ms = greatest(last_used_ms, $2::bigint)"
    "  WHERE session_hash = $1::bytea"
    "  AND NOT " SV_PG_SESSION_ENDED("$2::bigint") ")"
    " DELETE FROM smsverify.sessions WHERE session_hash = $1::bytea"
    " AND " SV_PG_SESSION_ENDED("$2::bigint");


static void
sv_session_touch_params(sv_pg_params_t *p, const uint8_t *hash,
    int64_t now_ms)
{
    sv_session_hash_params(p, hash);
    sv_pg_param_int64(p, now_ms);
}


static sv_store_rc_t
sv_pg_session_touch(sv_store_t *st, const uint8_t *hash, int64_t now_ms,
    char *err, size_t errlen)
{
    sv_pg_params_t  p;

    sv_session_touch_params(&p, hash, now_ms);

    return sv_store_pg_once(st, sv_pg_session_touch_sql, &p, NULL, err,
                            errlen);
}


static const char  sv_pg_session_end_sql[] =
    "DELETE FROM smsverify.sessions WHERE session_hash = $1::bytea";


static sv_store_rc_t
sv_pg_session_end(sv_store_t *st, const uint8_t *hash, char *err,
    size_t errlen)
{
    sv_pg_params_t  p;

    sv_session_hash_params(&p, hash);

    return sv_store_pg_once(st, sv_pg_session_end_sql, &p, NULL, err,
                            errlen);
}


/* a lookup's (or an end's) statement of a batch; 0 if it has none */
static int
sv_pg_session_stmt(sv_store_session_op_t *op, sv_pg_stmt_t *q,
    sv_pg_params_t *p)
{
    if (op->get == NULL) {
        sv_session_hash_params(p, op->hash);
        q->sql = sv_pg_session_end_sql;

    } else if (!op->looked) {
        memset(&op->get->member, 0, sizeof(sv_member_info_t));
        sv_session_hash_params(p, op->get->hash);
        q->sql = sv_pg_session_get_sql;

    } else {
        return 0;
    }

    q->p = p;

    return 1;
}


/* its answer; one met by a serialization failure or deadlock runs alone */
static void
sv_pg_session_answered(sv_store_t *st, sv_store_session_op_t *op,
    sv_pg_stmt_t *q)
{
    if (q->rc == SV_PG_RETRY) {
        *op->rc = op->get == NULL
                  ? sv_pg_session_end(st, op->hash, op->err, op->errlen)
                  : sv_pg_session_get(st, op->get, op->err, op->errlen);

    } else if (q->rc == SV_PG_OK && op->get != NULL) {
        *op->rc = sv_pg_session_answer(q->res, op->get, op->err,
                                       op->errlen);

    } else {
        *op->rc = sv_store_pg_rc(q->rc, &q->e, op->err, op->errlen);
    }

    PQclear(q->res);
    q->res = NULL;
}


/* the n statements q, each its own transaction, in one round trip */
static void
sv_pg_sessions_piped(sv_store_t *st, sv_pg_stmt_t *q, size_t n)
{
    sv_pg_err_t  e;

    if (n > 0) {
        (void) sv_pg_pipeline(sv_store_pg(st), q, n, 0, &e);
    }
}


/*
 * A batch's session uses: the lookups and ends, each one statement in a
 * transaction of its own, as alone, in one pipeline (a sync point after
 * each): one round trip for them all, one that fails failing alone.
 * Then the last uses of the sessions found stale, likewise in one more
 * (a failed one costs its session a little of its idle time only).
 */
static void
sv_pg_session_batch(sv_store_t *st, sv_store_session_op_t *const *ops,
    size_t n)
{
    size_t                  i, k;
    sv_pg_stmt_t           *q;
    sv_pg_params_t         *p;
    sv_store_session_op_t  *op, **of;

    q = calloc(n, sizeof(sv_pg_stmt_t));
    p = calloc(n, sizeof(sv_pg_params_t));
    of = calloc(n, sizeof(sv_store_session_op_t *));

    if (q == NULL || p == NULL || of == NULL) {
        free(q);
        free(p);
        free(of);

        for (i = 0; i < n; i++) {
            sv_store_session_op(st, ops[i]);
        }
        return;
    }

    for (i = 0, k = 0; i < n; i++) {
        if (sv_pg_session_stmt(ops[i], &q[k], &p[k])) {
            of[k++] = ops[i];
        }
    }

    sv_pg_sessions_piped(st, q, k);

    for (i = 0; i < k; i++) {
        sv_pg_session_answered(st, of[i], &q[i]);
    }

    memset(q, 0, n * sizeof(sv_pg_stmt_t));

    for (i = 0, k = 0; i < n; i++) {
        op = ops[i];

        if (op->get != NULL && *op->rc == SV_STORE_OK && op->get->stale) {
            sv_session_touch_params(&p[k], op->hash, op->get->now_ms);
            q[k].sql = sv_pg_session_touch_sql;
            q[k].p = &p[k];
            k++;
        }
    }

    sv_pg_sessions_piped(st, q, k);

    for (i = 0; i < k; i++) {
        PQclear(q[i].res);
    }

    free(q);
    free(p);
    free(of);
}


/* Resets. */

static sv_store_rc_t
sv_pg_reset_check(sv_store_t *st, const sv_reset_t *r, char *err,
    size_t errlen)
{
    int              found, taken;
    PGresult        *res;
    sv_store_rc_t    rc;
    sv_pg_params_t   p;
    sv_token_rec_t   tok;

    sv_store_pg_params(&p);
    sv_pg_param_bytes(&p, r->token_hash, SV_HASH_SIZE);
    sv_pg_param_text(&p, r->phone);

    rc = sv_store_pg_once(st,
        "SELECT " SV_PG_TOKEN_COLS ","
        " EXISTS (SELECT 1 FROM smsverify.members WHERE phone = $2::text)"
        " FROM (VALUES (1)) AS v"
        " LEFT JOIN smsverify.tokens t ON t.token_hash = $1::bytea",
        &p, &res, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    found = sv_pg_token(res, 0, &tok);
    taken = sv_store_pg_bool(res, 0, 4);
    PQclear(res);

    if (found < 0) {
        return sv_pg_bad_row("tokens", err, errlen);
    }

    if (!found
        || !sv_rules_token_valid(&tok, r->phone, SV_PURPOSE_RESET, r->now_ms))
    {
        return SV_STORE_NO_TOKEN;
    }

    return taken ? SV_STORE_OK : SV_STORE_NOT_MEMBER;
}


typedef struct {
    sv_reset_t         *r;
    sv_store_rc_t       verdict;
    sv_pgq_t            q;
    int                 outbox;         /* write member.password_changed */
} sv_reset_arg_t;


/*
 * The token used up and the member's new hash and epoch, in one
 * statement: NOT_MEMBER uses the token too, as the LMDB store does.
 */
static const char  sv_pg_reset_sql[] =
    "WITH d AS (DELETE FROM smsverify.tokens WHERE token_hash = $1::bytea)"
    " UPDATE smsverify.members SET password_hash = $3::text,"
    " epoch = epoch + 1 WHERE phone = $2::text RETURNING id";


static sv_pg_rc_t
sv_reset_member(sv_reset_arg_t *a, int64_t *id)
{
    PGresult        *res;
    sv_pg_rc_t       rc;
    sv_pg_params_t   p;

    sv_store_pg_params(&p);
    sv_pg_param_bytes(&p, a->r->token_hash, SV_HASH_SIZE);
    sv_pg_param_text(&p, a->r->phone);
    sv_pg_param_text(&p, a->r->password_hash);

    rc = sv_store_pg_exec(&a->q, sv_pg_reset_sql, &p, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    *id = 0;

    if (PQntuples(res) == 1
        && sv_pg_int_in(res, 0, 0, 1, INT64_MAX, id) != 0)
    {
        rc = sv_pg_bad_row_txn(&a->q, "members");
    }

    PQclear(res);

    return rc;
}


static sv_pg_rc_t
sv_reset_body(sv_pg_txn_t *t, void *arg)
{
    int              found;
    int64_t          id;
    sv_pg_rc_t       rc;
    sv_reset_arg_t  *a = arg;
    sv_pg_params_t   p;
    sv_token_rec_t   tok;

    a->q.txn = t;
    a->verdict = SV_STORE_ERROR;

    rc = sv_token_lock(&a->q, a->r->token_hash, &tok, &found);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (!found
        || !sv_rules_token_valid(&tok, a->r->phone, SV_PURPOSE_RESET,
                                 a->r->now_ms))
    {
        a->verdict = SV_STORE_NO_TOKEN;
        return SV_PG_ROLLBACK;
    }

    rc = sv_reset_member(a, &id);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (id == 0) {
        a->verdict = SV_STORE_NOT_MEMBER;
        return SV_PG_OK;
    }

    /* a statement of its own: it sees a session a login just committed */
    sv_store_pg_params(&p);
    sv_pg_param_int64(&p, id);

    rc = sv_store_pg_exec(&a->q, "DELETE FROM smsverify.sessions"
                          " WHERE member_id = $1::bigint", &p, NULL);
    if (rc != SV_PG_OK) {
        return rc;
    }

    a->r->id = (uint64_t) id;
    a->verdict = SV_STORE_OK;

    if (a->outbox) {
        return sv_store_pg_outbox_add(&a->q, "member.password_changed",
                                      a->r->id, a->r->now_ms);
    }

    return SV_PG_OK;
}


static sv_store_rc_t
sv_pg_reset(sv_store_t *st, sv_reset_t *r, char *err, size_t errlen)
{
    sv_pg_rc_t      rc;
    sv_pg_err_t     e;
    sv_reset_arg_t  a;

    memset(&a, 0, sizeof(a));
    a.r = r;
    a.q.pg = sv_store_pg(st);
    a.q.e = &e;
    a.outbox = ((sv_store_pg_t *) st)->outbox;

    rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED, sv_reset_body, &a,
                           &e);

    return sv_store_pg_verdict(rc, a.verdict, &e, err, errlen);
}


/* Stats: the counts' slots, summed (sv_pg_schema.c, version 2). */

static sv_store_rc_t
sv_pg_stats(sv_store_t *st, sv_store_stats_t *stats, char *err,
    size_t errlen)
{
    int64_t         codes, members;
    PGresult       *res;
    sv_store_rc_t   rc;
    sv_pg_params_t  p;

    sv_store_pg_params(&p);

    rc = sv_store_pg_once(st,
        "SELECT coalesce(sum(value) FILTER (WHERE name = 'codes'), 0),"
        " coalesce(sum(value) FILTER (WHERE name = 'members'), 0)"
        " FROM smsverify.counts", &p, &res, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    if (sv_pg_int_in(res, 0, 0, 0, INT64_MAX, &codes) != 0
        || sv_pg_int_in(res, 0, 1, 0, INT64_MAX, &members) != 0)
    {
        PQclear(res);
        return sv_pg_bad_row("counts", err, errlen);
    }

    PQclear(res);

    stats->codes_pending = (uint64_t) codes;
    stats->members = (uint64_t) members;

    return SV_STORE_OK;
}


/* Sweep. */

/*
 * What each table keeps no longer, in the LMDB store's order, at most
 * $2 rows a statement: $1 is the time (the day, for daily_sms), the
 * outer condition checked again on a row a racer renewed meanwhile.
 */
static const char *const  sv_pg_sweep_sql[] = {

    /* sv_rules_code_gone(): $1 is now less the grace */
    "DELETE FROM smsverify.codes WHERE expires_ms <= $1::bigint"
    " AND phone IN (SELECT phone FROM smsverify.codes"
    "  WHERE expires_ms <= $1::bigint LIMIT $2::bigint)",

    "DELETE FROM smsverify.tokens WHERE expires_ms <= $1::bigint"
    " AND token_hash IN (SELECT token_hash FROM smsverify.tokens"
    "  WHERE expires_ms <= $1::bigint LIMIT $2::bigint)",

    "DELETE FROM smsverify.sends WHERE keep_until_ms <= $1::bigint"
    " AND phone IN (SELECT phone FROM smsverify.sends"
    "  WHERE keep_until_ms <= $1::bigint LIMIT $2::bigint)",

    "DELETE FROM smsverify.address_sends WHERE keep_until_ms <= $1::bigint"
    " AND address IN (SELECT address FROM smsverify.address_sends"
    "  WHERE keep_until_ms <= $1::bigint LIMIT $2::bigint)",

    "DELETE FROM smsverify.daily_sms WHERE day < $1::date"
    " AND day IN (SELECT day FROM smsverify.daily_sms"
    "  WHERE day < $1::date LIMIT $2::bigint)",

    "DELETE FROM smsverify.sessions"
    " WHERE " SV_PG_SESSION_ENDED("$1::bigint")
    " AND session_hash IN (SELECT session_hash FROM smsverify.sessions"
    "  WHERE expires_ms <= $1::bigint"
    "  OR last_used_ms + idle_ms <= $1::bigint LIMIT $2::bigint)",

    "DELETE FROM smsverify.login_failures WHERE keep_until_ms <= $1::bigint"
    " AND account IN (SELECT account FROM smsverify.login_failures"
    "  WHERE keep_until_ms <= $1::bigint LIMIT $2::bigint)",

    NULL
};

#define SV_PG_SWEEP_CODES  0
#define SV_PG_SWEEP_DAYS   4


static sv_store_rc_t
sv_pg_sweep(sv_store_t *st, int64_t now_ms, int64_t grace_ms, size_t max,
    char *err, size_t errlen)
{
    int              i;
    long             n;
    char             day[SV_DAY_KEY_SIZE];
    size_t           left;
    PGresult        *res;
    sv_store_rc_t    rc;
    sv_pg_params_t   p;

    sv_rules_day_key(sv_rules_day(now_ms), day);

    for (i = 0, left = max; sv_pg_sweep_sql[i] != NULL && left > 0; i++) {
        sv_store_pg_params(&p);

        if (i == SV_PG_SWEEP_DAYS) {
            sv_pg_param_text(&p, day);

        } else {
            sv_pg_param_int64(&p, i == SV_PG_SWEEP_CODES ? now_ms - grace_ms
                                                         : now_ms);
        }

        sv_pg_param_int64(&p, left > INT64_MAX ? INT64_MAX : (int64_t) left);

        rc = sv_store_pg_once(st, sv_pg_sweep_sql[i], &p, &res, err, errlen);
        if (rc != SV_STORE_OK) {
            return rc;
        }

        n = sv_store_pg_changed(res);
        PQclear(res);

        left -= (size_t) n < left ? (size_t) n : left;
    }

    return SV_STORE_OK;
}


static const sv_store_ops_t  sv_pg_ops = {
    "postgresql",
    sv_pg_close,
    NULL,                               /* sync: every commit is the db's */
    NULL,                               /* reader_check */
    sv_pg_send_begin,
    sv_pg_send_abort,
    sv_pg_code_put,
    sv_pg_confirm,
    sv_pg_token_check,
    sv_pg_token_phone,
    sv_pg_signup_check,
    sv_pg_signup,
    sv_pg_login_allowed,
    sv_pg_login_failed,
    sv_pg_member_find,
    sv_pg_member_rehash,
    sv_pg_session_start,
    sv_pg_session_get,
    sv_pg_session_touch,
    sv_pg_session_end,
    sv_pg_reset_check,
    sv_pg_reset,
    NULL,                               /* reads wait on the network */
    sv_pg_stats,
    sv_pg_sweep,

    /* admin: sv_store_pg_admin.c */
    sv_store_pg_member_page,
    sv_store_pg_member_get,
    sv_store_pg_member_delete,
    sv_store_pg_member_import,
    sv_store_pg_limits_clear,
    /* outbox: sv_store_pg_outbox.c */
    sv_store_pg_outbox_take,
    sv_store_pg_outbox_done,
    sv_store_pg_outbox_failed,
    sv_store_pg_outbox_backlog,

    /* batches: each call its own transaction, as alone; confirms piped */
    NULL,
    NULL,
    sv_pg_confirm_batch,
    sv_pg_send_batch,
    sv_pg_abort_batch,
    sv_pg_code_batch,
    sv_pg_session_batch,

    NULL,                               /* confirm_read: reads wait */
    NULL                                /* send_read */
};


sv_store_rc_t
sv_store_pg_open(sv_store_t **stp, const sv_store_conf_t *conf, char *err,
    size_t errlen)
{
    sv_pg_err_t     e;
    sv_pg_conf_t    pc;
    sv_store_pg_t  *st;

    st = calloc(1, sizeof(sv_store_pg_t));
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return SV_STORE_ERROR;
    }

    memset(&pc, 0, sizeof(pc));
    pc.uri = conf->uri;
    pc.statement_timeout_ms = conf->statement_timeout_ms;
    pc.connect_timeout_s = conf->connect_timeout_s;

    if (sv_pg_create(&st->pg, &pc, &e) != SV_PG_OK) {
        snprintf(err, errlen, "%s", e.text);
        free(st);
        return SV_STORE_ERROR;
    }

    st->store.ops = &sv_pg_ops;
    st->outbox = conf->outbox;
    *stp = &st->store;

    return SV_STORE_OK;
}
