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
} sv_store_pg_t;

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

/* a boolean field: 1 true, 0 false or NULL */
int sv_store_pg_bool(const PGresult *res, int row, int col);

#endif /* SV_STORE_PG_IMPL_H */
