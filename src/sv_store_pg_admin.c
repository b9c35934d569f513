/*
 * The PostgreSQL store's admin ops (sv_store.h, "Admin"): members read
 * in pages and by id, deleted, imported with their ids; a phone's limits
 * cleared.  The rest of the backend is sv_store_pg.c.
 *
 * A deletion is one transaction: the member's row locked and read (what
 * the member.deleted event is made of), then deleted, its terms and
 * sessions with it (ON DELETE CASCADE).  An import is one transaction:
 * the members inserted a batch at a time, each batch one statement for
 * the members and one for their terms; then the identity set past every
 * imported id, never back.  A batch that inserts fewer members than it
 * holds met a taken id, email or phone (in the table, or in the import):
 * the import is rolled back and run again one member a statement, each
 * inserting it or saying which it is taken by, to answer with the first.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sv_store_pg_impl.h"
#include "sv_text.h"


/* the columns sv_pg_admin_member() reads, from 0 */
#define SV_PG_ADMIN_COLS                                                    \
    "m.id, m.email, m.phone, m.nickname, m.password_hash,"                  \
    " (extract(epoch FROM m.created_at) * 1000)::bigint, m.epoch,"          \
    " array_to_string(ARRAY(SELECT terms_id FROM smsverify.member_terms"    \
    "  WHERE member_id = m.id ORDER BY terms_id), ',')"

#define SV_PG_ADMIN_TERMS_SIZE  (SV_STORE_TERMS_MAX * 12 + 1)


typedef struct {
    sv_pgq_t            q;
    sv_member_delete_t *d;
    int                 outbox;         /* write member.deleted */
    sv_store_rc_t       verdict;
} sv_pg_delete_arg_t;

typedef struct {
    sv_pgq_t            q;
    sv_member_import_t *im;
    int                 one_by_one;     /* finding the first taken one */
    sv_store_rc_t       verdict;
} sv_pg_import_arg_t;

/* a batch of an import: members and terms as array literals */
typedef struct {
    char               *buf;
    size_t              len;
    size_t              size;
    int                 failed;
} sv_pg_array_t;


static sv_store_rc_t
sv_pg_admin_bad_row(char *err, size_t errlen)
{
    snprintf(err, errlen, "a row of smsverify.members that is not of this "
             "module's making");

    return SV_STORE_ERROR;
}


/* "1,2,3" (or "") into the member's terms: 0, or -1 */
static int
sv_pg_admin_terms(const char *s, sv_member_info_t *m)
{
    long   v;
    char  *end;

    m->nterms = 0;

    while (*s) {
        if (m->nterms == SV_STORE_TERMS_MAX) {
            return -1;
        }

        errno = 0;
        v = strtol(s, &end, 10);

        if (errno != 0 || end == s || v < -2147483647L - 1
            || v > 2147483647L || (*end != ',' && *end != '\0'))
        {
            return -1;
        }

        m->terms[m->nterms++] = (int) v;
        s = (*end == ',') ? end + 1 : end;
    }

    return 0;
}


/* The member of a row of SV_PG_ADMIN_COLS: 0, or -1 if it is not one. */
static int
sv_pg_admin_member(const PGresult *res, int row, sv_member_info_t *m)
{
    int64_t  id, epoch;
    char     terms[SV_PG_ADMIN_TERMS_SIZE];

    memset(m, 0, sizeof(sv_member_info_t));

    if (sv_pg_int64(res, row, 0, &id) != 0 || id < 1
        || sv_store_pg_text(res, row, 1, m->email, sizeof(m->email)) != 0
        || sv_store_pg_text(res, row, 2, m->phone, sizeof(m->phone)) != 0
        || sv_store_pg_text(res, row, 3, m->nickname, sizeof(m->nickname))
           != 0
        || sv_store_pg_text(res, row, 4, m->password_hash,
                            sizeof(m->password_hash)) != 0
        || sv_pg_int64(res, row, 5, &m->created_ms) != 0
        || sv_pg_int64(res, row, 6, &epoch) != 0
        || epoch < 0 || epoch > (int64_t) UINT32_MAX
        || sv_store_pg_text(res, row, 7, terms, sizeof(terms)) != 0
        || sv_pg_admin_terms(terms, m) != 0)
    {
        return -1;
    }

    m->id = (uint64_t) id;
    m->epoch = (uint32_t) epoch;

    return 0;
}


static sv_store_rc_t
sv_pg_admin_once(sv_store_t *st, const char *sql, const sv_pg_params_t *p,
    PGresult **res, char *err, size_t errlen)
{
    sv_pg_rc_t   rc;
    sv_pg_err_t  e;
    sv_pgq_t     q = { sv_store_pg(st), NULL, &e };

    rc = sv_store_pg_exec(&q, sql, p, res);

    return sv_store_pg_rc(rc, &e, err, errlen);
}


sv_store_rc_t
sv_store_pg_member_page(sv_store_t *st, sv_member_page_t *page, char *err,
    size_t errlen)
{
    int              i, n;
    PGresult        *res;
    sv_store_rc_t    rc;
    sv_pg_params_t   p;

    if (page->after >= SV_STORE_ID_MAX) {
        return SV_STORE_OK;
    }

    /* one more than the page: whether there are more */

    sv_pg_params_init(&p);
    sv_pg_param_int64(&p, (int64_t) page->after);
    sv_pg_param_int64(&p, (int64_t) page->limit + 1);

    rc = sv_pg_admin_once(st, "SELECT " SV_PG_ADMIN_COLS
                          " FROM smsverify.members m WHERE m.id > $1::bigint"
                          " ORDER BY m.id LIMIT $2::bigint",
                          &p, &res, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    n = PQntuples(res);

    for (i = 0; i < n && (size_t) i < page->limit; i++) {
        if (sv_pg_admin_member(res, i, &page->members[i]) != 0) {
            PQclear(res);
            page->n = 0;
            return sv_pg_admin_bad_row(err, errlen);
        }
    }

    page->n = (size_t) i;
    page->more = ((size_t) n > page->limit);

    PQclear(res);

    return SV_STORE_OK;
}


sv_store_rc_t
sv_store_pg_member_get(sv_store_t *st, uint64_t id, sv_member_info_t *m,
    char *err, size_t errlen)
{
    int              bad;
    PGresult        *res;
    sv_store_rc_t    rc;
    sv_pg_params_t   p;

    sv_pg_params_init(&p);
    sv_pg_param_int64(&p, (int64_t) id);

    rc = sv_pg_admin_once(st, "SELECT " SV_PG_ADMIN_COLS
                          " FROM smsverify.members m WHERE m.id = $1::bigint",
                          &p, &res, err, errlen);
    if (rc != SV_STORE_OK) {
        return rc;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        memset(m, 0, sizeof(sv_member_info_t));
        return SV_STORE_NOT_MEMBER;
    }

    bad = sv_pg_admin_member(res, 0, m);
    PQclear(res);

    return bad ? sv_pg_admin_bad_row(err, errlen) : SV_STORE_OK;
}


static sv_pg_rc_t
sv_pg_delete_body(sv_pg_txn_t *t, void *arg)
{
    int                  bad;
    PGresult            *res;
    sv_pg_rc_t           rc;
    sv_pg_params_t       p;
    sv_pg_delete_arg_t  *a = arg;

    a->q.txn = t;
    a->verdict = SV_STORE_ERROR;

    sv_pg_params_init(&p);
    sv_pg_param_int64(&p, (int64_t) a->d->id);

    rc = sv_store_pg_exec(&a->q, "SELECT " SV_PG_ADMIN_COLS
                          " FROM smsverify.members m WHERE m.id = $1::bigint"
                          " FOR UPDATE OF m", &p, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        a->verdict = SV_STORE_NOT_MEMBER;
        return SV_PG_ROLLBACK;
    }

    bad = sv_pg_admin_member(res, 0, &a->d->member);
    PQclear(res);

    if (bad) {
        return sv_store_pg_fail(a->q.e, "a row of smsverify.members that is "
                                "not of this module's making");
    }

    /* its terms and sessions go with it: ON DELETE CASCADE */

    rc = sv_store_pg_exec(&a->q, "DELETE FROM smsverify.members"
                          " WHERE id = $1::bigint", &p, NULL);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (a->outbox) {
        rc = sv_store_pg_outbox_add_member(&a->q, "member.deleted",
                                           &a->d->member, a->d->now_ms);
        if (rc != SV_PG_OK) {
            return rc;
        }
    }

    a->verdict = SV_STORE_OK;

    return SV_PG_OK;
}


sv_store_rc_t
sv_store_pg_member_delete(sv_store_t *st, sv_member_delete_t *d, char *err,
    size_t errlen)
{
    sv_pg_rc_t          rc;
    sv_pg_err_t         e;
    sv_pg_delete_arg_t  a;

    memset(&a, 0, sizeof(a));
    a.d = d;
    a.outbox = ((sv_store_pg_t *) st)->outbox;
    a.q.pg = sv_store_pg(st);
    a.q.e = &e;

    rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED, sv_pg_delete_body,
                           &a, &e);

    if (rc == SV_PG_OK || rc == SV_PG_ROLLBACK) {
        return a.verdict;
    }

    return sv_store_pg_rc(rc, &e, err, errlen);
}


/*
 * One member inserted with its terms, or nothing if its id, email or
 * phone is taken: the EXISTS see the rows before this statement, so they
 * say which.
 */
static const char  sv_pg_import_sql[] =
    "WITH m AS (INSERT INTO smsverify.members"
    "  (id, email, phone, nickname, password_hash, created_at)"
    "  VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text,"
    "  timestamptz 'epoch' + $6::bigint * interval '1 millisecond')"
    "  ON CONFLICT DO NOTHING RETURNING id, created_at),"
    " t AS (INSERT INTO smsverify.member_terms"
    "  (member_id, terms_id, agreed_at)"
    "  SELECT m.id, x, m.created_at FROM m, unnest($7::integer[]) AS x"
    "  ON CONFLICT DO NOTHING)"
    " SELECT (SELECT id FROM m),"
    " EXISTS (SELECT 1 FROM smsverify.members WHERE id = $1::bigint),"
    " EXISTS (SELECT 1 FROM smsverify.members"
    "  WHERE " SV_PG_EMAIL_FOLD("email") " = $8::text),"
    " EXISTS (SELECT 1 FROM smsverify.members WHERE phone = $3::text)";

/* the members of an import a statement holds */
#define SV_PG_IMPORT_BATCH  1000

static const char  sv_pg_import_batch_sql[] =
    "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[],"
    "  $4::text[], $5::text[], $6::bigint[]) WITH ORDINALITY"
    "  AS v(id, email, phone, nickname, password_hash, created_ms, n)),"
    " m AS (INSERT INTO smsverify.members"
    "  (id, email, phone, nickname, password_hash, created_at)"
    "  SELECT id, email, phone, nickname, password_hash,"
    "  timestamptz 'epoch' + created_ms * interval '1 millisecond'"
    "  FROM v ORDER BY n ON CONFLICT DO NOTHING RETURNING id)"
    " SELECT count(*) FROM m";

static const char  sv_pg_import_terms_sql[] =
    "INSERT INTO smsverify.member_terms (member_id, terms_id, agreed_at)"
    " SELECT t.member_id, t.terms_id, m.created_at"
    " FROM unnest($1::bigint[], $2::integer[]) AS t(member_id, terms_id)"
    " JOIN smsverify.members m ON m.id = t.member_id"
    " ON CONFLICT DO NOTHING";


static void
sv_pg_array_add(sv_pg_array_t *a, const char *s, size_t n)
{
    char    *p;
    size_t   size;

    if (a->failed) {
        return;
    }

    if (a->size - a->len < n + 1) {
        size = (a->size + n + 1) * 2;
        p = realloc(a->buf, size);

        if (p == NULL) {
            a->failed = 1;
            return;
        }

        a->buf = p;
        a->size = size;
    }

    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
}


/* an element of a text[] literal: quoted, '"' and '\\' escaped */
static void
sv_pg_array_text(sv_pg_array_t *a, const char *s)
{
    sv_pg_array_add(a, a->len > 1 ? ",\"" : "\"", a->len > 1 ? 2 : 1);

    for (/* void */; *s; s++) {
        if (*s == '"' || *s == '\\') {
            sv_pg_array_add(a, "\\", 1);
        }

        sv_pg_array_add(a, s, 1);
    }

    sv_pg_array_add(a, "\"", 1);
}


static void
sv_pg_array_int(sv_pg_array_t *a, int64_t v)
{
    char  num[24];
    int   n;

    n = snprintf(num, sizeof(num), a->len > 1 ? ",%lld" : "%lld",
                 (long long) v);
    sv_pg_array_add(a, num, (size_t) n);
}


/* members [from, to) as one statement and their terms as another */
static sv_pg_rc_t
sv_pg_import_batch(sv_pg_import_arg_t *a, size_t from, size_t to)
{
    int                i;
    long               inserted;
    size_t             k, t;
    PGresult          *res;
    sv_pg_rc_t         rc;
    sv_pg_params_t     p;
    sv_pg_array_t      arr[8];
    sv_member_info_t  *m;

    memset(arr, 0, sizeof(arr));

    for (i = 0; i < 8; i++) {
        sv_pg_array_add(&arr[i], "{", 1);
    }

    for (k = from; k < to; k++) {
        m = &a->im->members[k];

        sv_pg_array_int(&arr[0], (int64_t) m->id);
        sv_pg_array_text(&arr[1], m->email);
        sv_pg_array_text(&arr[2], m->phone);
        sv_pg_array_text(&arr[3], m->nickname);
        sv_pg_array_text(&arr[4], m->password_hash);
        sv_pg_array_int(&arr[5], m->created_ms);

        for (t = 0; t < m->nterms; t++) {
            sv_pg_array_int(&arr[6], (int64_t) m->id);
            sv_pg_array_int(&arr[7], m->terms[t]);
        }
    }

    rc = SV_PG_OK;

    for (i = 0; i < 8; i++) {
        sv_pg_array_add(&arr[i], "}", 1);

        if (arr[i].failed) {
            rc = sv_store_pg_fail(a->q.e, "no memory for an import's batch");
        }
    }

    if (rc == SV_PG_OK) {
        sv_pg_params_init(&p);

        for (i = 0; i < 6; i++) {
            sv_pg_param_text(&p, arr[i].buf);
        }

        rc = sv_store_pg_exec(&a->q, sv_pg_import_batch_sql, &p, &res);
    }

    if (rc == SV_PG_OK) {
        inserted = -1;

        if (PQntuples(res) == 1) {
            inserted = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        }

        PQclear(res);

        if (inserted != (long) (to - from)) {

            /* a member was taken: which, the one-by-one run tells */

            a->one_by_one = 1;
            rc = SV_PG_ROLLBACK;
        }
    }

    if (rc == SV_PG_OK && arr[6].len > 2) {
        sv_pg_params_init(&p);
        sv_pg_param_text(&p, arr[6].buf);
        sv_pg_param_text(&p, arr[7].buf);

        rc = sv_store_pg_exec(&a->q, sv_pg_import_terms_sql, &p, NULL);
    }

    for (i = 0; i < 8; i++) {
        free(arr[i].buf);
    }

    return rc;
}


/*
 * The identity's next value past the highest imported id, and never
 * back: an id a deleted member had is not drawn again.
 */
static const char  sv_pg_import_identity_sql[] =
    "SELECT setval(pg_get_serial_sequence('smsverify.members', 'id'),"
    " greatest($1::bigint, coalesce(pg_sequence_last_value("
    "  pg_get_serial_sequence('smsverify.members', 'id')::regclass), 0)))";


static void
sv_pg_import_terms(const sv_member_info_t *m, char *buf, size_t size)
{
    char    *p, *last;
    size_t   i;

    p = buf;
    last = buf + size;

    p += snprintf(p, last - p, "{");

    for (i = 0; i < m->nterms && p < last; i++) {
        p += snprintf(p, last - p, i ? ",%d" : "%d", m->terms[i]);
    }

    if (p < last) {
        snprintf(p, last - p, "}");
    }
}


/* SV_STORE_OK, or the TAKEN that member i is */
static sv_pg_rc_t
sv_pg_import_one(sv_pg_import_arg_t *a, size_t i, sv_store_rc_t *taken)
{
    char               terms[SV_PG_ADMIN_TERMS_SIZE + 2];
    char               email_key[SV_STORE_EMAIL_MAX + 1];
    PGresult          *res;
    sv_pg_rc_t         rc;
    sv_pg_params_t     p;
    sv_member_info_t  *m;

    m = &a->im->members[i];

    sv_email_fold(m->email, strlen(m->email), email_key);
    sv_pg_import_terms(m, terms, sizeof(terms));

    sv_pg_params_init(&p);
    sv_pg_param_int64(&p, (int64_t) m->id);
    sv_pg_param_text(&p, m->email);
    sv_pg_param_text(&p, m->phone);
    sv_pg_param_text(&p, m->nickname);
    sv_pg_param_text(&p, m->password_hash);
    sv_pg_param_int64(&p, m->created_ms);
    sv_pg_param_text(&p, terms);
    sv_pg_param_text(&p, email_key);

    rc = sv_store_pg_exec(&a->q, sv_pg_import_sql, &p, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    *taken = SV_STORE_OK;

    if (PQntuples(res) != 1) {
        rc = sv_store_pg_fail(a->q.e, "an import's insert answered no row");

    } else if (PQgetisnull(res, 0, 0)) {

        if (sv_store_pg_bool(res, 0, 1)) {
            *taken = SV_STORE_ID_TAKEN;

        } else if (sv_store_pg_bool(res, 0, 2)) {
            *taken = SV_STORE_EMAIL_TAKEN;

        } else if (sv_store_pg_bool(res, 0, 3)) {
            *taken = SV_STORE_PHONE_TAKEN;

        } else {
            /* a racer's insert not yet committed: run the import again */
            rc = SV_PG_RETRY;
        }
    }

    PQclear(res);

    return rc;
}


static sv_pg_rc_t
sv_pg_import_body(sv_pg_txn_t *t, void *arg)
{
    size_t               i, to;
    uint64_t             max;
    sv_pg_rc_t           rc;
    sv_store_rc_t        taken;
    sv_pg_params_t       p;
    sv_pg_import_arg_t  *a = arg;

    a->q.txn = t;
    a->verdict = SV_STORE_ERROR;
    max = 0;

    for (i = 0; i < a->im->n; i++) {
        if (a->im->members[i].id > max) {
            max = a->im->members[i].id;
        }
    }

    for (i = 0; i < a->im->n; i = to) {

        if (!a->one_by_one) {
            to = i + SV_PG_IMPORT_BATCH < a->im->n ? i + SV_PG_IMPORT_BATCH
                                                   : a->im->n;

            rc = sv_pg_import_batch(a, i, to);
            if (rc != SV_PG_OK) {
                return rc;
            }

            continue;
        }

        to = i + 1;

        rc = sv_pg_import_one(a, i, &taken);
        if (rc != SV_PG_OK) {
            return rc;
        }

        if (taken != SV_STORE_OK) {
            a->verdict = taken;
            a->im->bad = i;
            return SV_PG_ROLLBACK;
        }
    }

    sv_pg_params_init(&p);
    sv_pg_param_int64(&p, (int64_t) max);

    rc = sv_store_pg_exec(&a->q, sv_pg_import_identity_sql, &p, NULL);
    if (rc != SV_PG_OK) {
        return rc;
    }

    a->verdict = SV_STORE_OK;

    return SV_PG_OK;
}


sv_store_rc_t
sv_store_pg_member_import(sv_store_t *st, sv_member_import_t *im, char *err,
    size_t errlen)
{
    sv_pg_rc_t          rc;
    sv_pg_err_t         e;
    sv_pg_import_arg_t  a;

    memset(&a, 0, sizeof(a));
    a.im = im;
    a.q.pg = sv_store_pg(st);
    a.q.e = &e;

    rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED, sv_pg_import_body,
                           &a, &e);

    if (rc == SV_PG_ROLLBACK && a.verdict == SV_STORE_ERROR
        && a.one_by_one)
    {
        /* a batch met a taken member: again, one member a statement */

        rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED,
                               sv_pg_import_body, &a, &e);
    }

    if (rc == SV_PG_OK || rc == SV_PG_ROLLBACK) {
        return a.verdict;
    }

    return sv_store_pg_rc(rc, &e, err, errlen);
}


sv_store_rc_t
sv_store_pg_limits_clear(sv_store_t *st, const char *phone, char *err,
    size_t errlen)
{
    sv_pg_params_t  p;

    sv_pg_params_init(&p);
    sv_pg_param_text(&p, phone);

    return sv_pg_admin_once(st, "WITH c AS (DELETE FROM smsverify.codes"
                            "  WHERE phone = $1::text)"
                            " DELETE FROM smsverify.sends"
                            " WHERE phone = $1::text", &p, NULL, err, errlen);
}
