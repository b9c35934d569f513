#ifndef SV_STORE_PG_IMPL_H
#define SV_STORE_PG_IMPL_H

/*
 * The PostgreSQL store's insides, for the files that implement its ops
 * (sv_store_pg.c, and the admin and outbox ops in files of their own):
 * the backend's structure, a way to run a statement either alone or in
 * a transaction's body, and the helpers every op needs to turn sv_pg's
 * answers into the store's.
 *
 * sv_pg_t keeps one connection per pool thread; the store holds no
 * state of its own but the sv_pg_t, so every op may run in any thread.
 */

#include "sv_pg.h"
#include "sv_store_impl.h"


typedef struct {
    sv_store_t          store;          /* first: the ops */
    sv_pg_t            *pg;
    int                 outbox;         /* changes write their events */
} sv_store_pg_t;

/*
 * The namespaces of the transactions' advisory locks (the two-key form:
 * namespace, hashtext(key)), for a row that may not exist yet.  A
 * transaction takes them in this order; a new kind takes a new number.
 */
#define SV_PG_LOCK_DAY      "1398165505"        /* daily_sms */
#define SV_PG_LOCK_ADDRESS  "1398165506"        /* address_sends */
#define SV_PG_LOCK_PHONE    "1398165507"        /* sends */
#define SV_PG_LOCK_ACCOUNT  "1398165508"        /* login_failures */

#define sv_store_pg(st)  (((sv_store_pg_t *) (st))->pg)

/*
 * Where a statement runs: alone (txn NULL: sv_pg_exec(), its own
 * transaction) or in a transaction's body.
 */
typedef struct {
    sv_pg_t            *pg;
    sv_pg_txn_t        *txn;
    sv_pg_err_t        *e;
} sv_pgq_t;

/*
 * Parameters for a statement of constant text, prepared on each
 * connection once (sv_pg_params_prepared()): every statement of the
 * store's is one.
 */
void sv_store_pg_params(sv_pg_params_t *p);

/* sv_pg_exec() or sv_pg_txn_exec(), as q says; results in text */
sv_pg_rc_t sv_store_pg_exec(sv_pgq_t *q, const char *sql,
    const sv_pg_params_t *p, PGresult **res);

/* the rows a statement changed (PQcmdTuples), 0 if it says none */
long sv_store_pg_changed(const PGresult *res);

/*
 * sv_pg's answer as the store's: OK is OK, UNAVAILABLE is UNAVAILABLE
 * (nothing was changed), anything else ERROR; but for OK, err gets the
 * sentence of e (which never holds a parameter's value).
 */
sv_store_rc_t sv_store_pg_rc(sv_pg_rc_t rc, const sv_pg_err_t *e, char *err,
    size_t errlen);

/*
 * ERROR with what in e (for a body or an op that found a result not of
 * the schema's making): what is a sentence without values.
 */
sv_pg_rc_t sv_store_pg_fail(sv_pg_err_t *e, const char *what);

/* a purpose as the schema spells it, and back (-1: unknown text) */
const char *sv_store_pg_purpose_text(sv_purpose_t purpose);
int sv_store_pg_purpose(const char *text, sv_purpose_t *purpose);

/*
 * A text field of a result into buf (size bytes with the NUL): 0, or -1
 * for NULL or a value that does not fit.
 */
int sv_store_pg_text(const PGresult *res, int row, int col, char *buf,
    size_t size);

/* One statement alone, its answer mapped; *res (if res) only on OK. */
sv_store_rc_t sv_store_pg_once(sv_store_t *st, const char *sql,
    const sv_pg_params_t *p, PGresult **res, char *err, size_t errlen);

/*
 * A transaction's answer, for a body that leaves the store's answer in
 * verdict and returns OK to commit it or ROLLBACK: verdict, or what
 * sv_store_pg_rc() makes of a failure.
 */
sv_store_rc_t sv_store_pg_verdict(sv_pg_rc_t rc, sv_store_rc_t verdict,
    const sv_pg_err_t *e, char *err, size_t errlen);

/* the columns of a member, of the table m, as sv_store_pg_member() reads */
#define SV_PG_MEMBER_COLS(m)                                                \
    m ".id, " m ".email, " m ".phone, " m ".nickname, "                     \
    m ".password_hash,"                                                     \
    " (extract(epoch FROM " m ".created_at) * 1000)::bigint, "              \
    m ".epoch,"                                                             \
    " ARRAY(SELECT terms_id FROM smsverify.member_terms"                    \
    "  WHERE member_id = " m ".id ORDER BY terms_id)::text"

/*
 * The member whose SV_PG_MEMBER_COLS begin at col of row 0: 1, 0 if they
 * are NULL (no member: m all zero), -1 if it is not one.
 */
int sv_store_pg_member(const PGresult *res, int col, sv_member_info_t *m);

/* a boolean field: 1 true, 0 false or NULL */
int sv_store_pg_bool(const PGresult *res, int row, int col);


/* admin: sv_store_pg_admin.c, the ops of sv_store.h's "Admin" */
sv_store_rc_t sv_store_pg_member_page(sv_store_t *st, sv_member_page_t *p,
    char *err, size_t errlen);
sv_store_rc_t sv_store_pg_member_get(sv_store_t *st, uint64_t id,
    sv_member_info_t *m, char *err, size_t errlen);
sv_store_rc_t sv_store_pg_member_delete(sv_store_t *st,
    sv_member_delete_t *d, char *err, size_t errlen);
sv_store_rc_t sv_store_pg_member_import(sv_store_t *st,
    sv_member_import_t *im, char *err, size_t errlen);
sv_store_rc_t sv_store_pg_limits_clear(sv_store_t *st, const char *phone,
    char *err, size_t errlen);


/* outbox: sv_store_pg_outbox.c, the ops of sv_store.h's outbox */

/*
 * In the transaction q of a change to a member, where the store writes
 * events (outbox set): its webhook event of this type, made at now_ms,
 * of the member m (a deletion: as it was), or of the member id as q sees
 * it now.
 */
sv_pg_rc_t sv_store_pg_outbox_add_member(sv_pgq_t *q, const char *type,
    const sv_member_info_t *m, int64_t now_ms);
sv_pg_rc_t sv_store_pg_outbox_add(sv_pgq_t *q, const char *type,
    uint64_t id, int64_t now_ms);

sv_store_rc_t sv_store_pg_outbox_take(sv_store_t *st, int64_t now_ms,
    int64_t lease_ms, sv_outbox_event_t *ev, char *err, size_t errlen);
sv_store_rc_t sv_store_pg_outbox_done(sv_store_t *st,
    const sv_outbox_event_t *ev, char *err, size_t errlen);
sv_store_rc_t sv_store_pg_outbox_failed(sv_store_t *st,
    sv_outbox_event_t *ev, int64_t now_ms, char *err, size_t errlen);
sv_store_rc_t sv_store_pg_outbox_backlog(sv_store_t *st, uint64_t *n,
    char *err, size_t errlen);

#endif /* SV_STORE_PG_IMPL_H */
