/*
 * The PostgreSQL store's webhook outbox: smsverify.outbox, an event a
 * row (schema version 1, its webhook-id since version 3), and
 * smsverify.outbox_lease, one row for the whole store (version 3).
 *
 * An event is inserted by the change it reports, in that change's
 * transaction (sv_store_pg_outbox_add()).  A node takes the next due
 * event in one statement: the lease row locked FOR UPDATE SKIP LOCKED (a
 * node that meets another's take in progress skips, and takes nothing),
 * and only if no lease is in force, the oldest due event is named in it
 * until a time.  So one event is being delivered at a time over all
 * nodes, in the order made; a node that died leaves a lease that is
 * void as soon as the server sees its connection gone.
 * Delivered, the row is deleted; failed, its next attempt is set by
 * sv_rules_outbox_retry_at(), or it is deleted past its three days.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sv_rules.h"
#include "sv_store_pg_impl.h"
#include "sv_webhook.h"


/* the member of $1, as the change being made left it */
static const char  sv_pg_outbox_member_sql[] =
    "SELECT " SV_PG_MEMBER_COLS("m")
    " FROM smsverify.members m WHERE m.id = $1::bigint";

static const char  sv_pg_outbox_insert_sql[] =
    "INSERT INTO smsverify.outbox (type, payload, created_ms,"
    " next_attempt_ms, msg_id)"
    " VALUES ($1::text, $2::text, $3::bigint, $3::bigint, $4::text)";

/*
 * $1 now, $2 the lease's end: the oldest due event, named in the lease
 * if no other is; no row if nothing is due, the lease is in force, or
 * another node is taking one now.  A lease is void when it has passed
 * or when the connection that took it is gone (its nginx was killed).
 */
static const char  sv_pg_outbox_take_sql[] =
    "WITH l AS (SELECT one FROM smsverify.outbox_lease"
    "  WHERE (until_ms <= $1::bigint OR taker_pid IS NULL"
    "   OR NOT EXISTS (SELECT 1 FROM pg_stat_activity"
    "                  WHERE pid = taker_pid))"
    "  FOR UPDATE SKIP LOCKED),"
    " e AS (SELECT id, msg_id, type, payload, created_ms, attempts,"
    "  next_attempt_ms FROM smsverify.outbox"
    "  WHERE EXISTS (SELECT 1 FROM l) AND delivered_ms IS NULL"
    "  AND next_attempt_ms <= $1::bigint ORDER BY id LIMIT 1),"
    " u AS (UPDATE smsverify.outbox_lease SET event_id = e.id,"
    "  until_ms = $2::bigint, taker_pid = pg_backend_pid()"
    "  FROM e WHERE one RETURNING 1)"
    " SELECT e.id, e.msg_id, e.type, e.payload, e.created_ms, e.attempts,"
    " e.next_attempt_ms, (SELECT count(*) FROM u) FROM e";

/* the lease ends if it is still the one of event $1 until $2 */
#define SV_PG_LEASE_END                                                     \
    " UPDATE smsverify.outbox_lease SET event_id = NULL, until_ms = 0,"     \
    " taker_pid = NULL"                                                     \
    " WHERE one AND event_id = $1::bigint AND until_ms = $2::bigint"

static const char  sv_pg_outbox_done_sql[] =
    "WITH d AS (DELETE FROM smsverify.outbox WHERE id = $1::bigint)"
    SV_PG_LEASE_END;

static const char  sv_pg_outbox_row_sql[] =
    "SELECT attempts, created_ms FROM smsverify.outbox"
    " WHERE id = $1::bigint FOR UPDATE";

/* $3 the attempts, $4 the next attempt, or NULL: deleted */
static const char  sv_pg_outbox_failed_sql[] =
    "WITH u AS (UPDATE smsverify.outbox SET attempts = $3::integer,"
    "  next_attempt_ms = $4::bigint"
    "  WHERE id = $1::bigint AND $4::bigint IS NOT NULL),"
    " d AS (DELETE FROM smsverify.outbox"
    "  WHERE id = $1::bigint AND $4::bigint IS NULL)"
    SV_PG_LEASE_END;

static const char  sv_pg_outbox_backlog_sql[] =
    "SELECT count(*) FROM smsverify.outbox WHERE delivered_ms IS NULL";


sv_pg_rc_t
sv_store_pg_outbox_add_member(sv_pgq_t *q, const char *type,
    const sv_member_info_t *m, int64_t now_ms)
{
    sv_pg_rc_t          rc;
    sv_pg_params_t      p;
    sv_outbox_event_t  *ev;

    ev = calloc(1, sizeof(sv_outbox_event_t));
    if (ev == NULL) {
        return sv_store_pg_fail(q->e, "out of memory");
    }

    snprintf(ev->type, sizeof(ev->type), "%s", type);
    ev->len = sv_webhook_body(type, now_ms, m, ev->body);

    if (ev->len == 0 || sv_webhook_msg_id(ev->msg_id) != 0) {
        free(ev);
        return sv_store_pg_fail(q->e, "cannot make the webhook event");
    }

    sv_store_pg_params(&p);
    sv_pg_param_text(&p, ev->type);
    sv_pg_param_text(&p, ev->body);
    sv_pg_param_int64(&p, now_ms);
    sv_pg_param_text(&p, ev->msg_id);

    rc = sv_store_pg_exec(q, sv_pg_outbox_insert_sql, &p, NULL);

    free(ev);

    return rc;
}


sv_pg_rc_t
sv_store_pg_outbox_add(sv_pgq_t *q, const char *type, uint64_t id,
    int64_t now_ms)
{
    PGresult          *res;
    sv_pg_rc_t         rc;
    sv_pg_params_t     p;
    sv_member_info_t  *m;

    m = calloc(1, sizeof(sv_member_info_t));
    if (m == NULL) {
        return sv_store_pg_fail(q->e, "out of memory");
    }

    sv_store_pg_params(&p);
    sv_pg_param_int64(&p, (int64_t) id);

    rc = sv_store_pg_exec(q, sv_pg_outbox_member_sql, &p, &res);
    if (rc != SV_PG_OK) {
        free(m);
        return rc;
    }

    if (PQntuples(res) != 1 || sv_store_pg_member(res, 0, m) != 1) {
        PQclear(res);
        free(m);
        return sv_store_pg_fail(q->e, "the member of a webhook event is not "
                                "of this module's making");
    }

    PQclear(res);

    rc = sv_store_pg_outbox_add_member(q, type, m, now_ms);

    free(m);

    return rc;
}


/* a taken row into ev: 0, or -1 if it is not of this module's making */
static int
sv_pg_outbox_event(const PGresult *res, sv_outbox_event_t *ev)
{
    int64_t      v;
    const char  *body;

    if (sv_pg_int64(res, 0, 0, &v) != 0 || v <= 0
        || sv_store_pg_text(res, 0, 1, ev->msg_id, sizeof(ev->msg_id)) != 0
        || sv_store_pg_text(res, 0, 2, ev->type, sizeof(ev->type)) != 0
        || PQgetisnull(res, 0, 3)
        || sv_pg_int64(res, 0, 4, &ev->created_ms) != 0
        || sv_pg_int64(res, 0, 6, &ev->next_ms) != 0)
    {
        return -1;
    }

    ev->id = (uint64_t) v;

    if (sv_pg_int64(res, 0, 5, &v) != 0 || v < 0 || v > UINT32_MAX) {
        return -1;
    }

    ev->attempts = (unsigned) v;

    body = PQgetvalue(res, 0, 3);
    ev->len = (size_t) PQgetlength(res, 0, 3);

    if (ev->len > SV_OUTBOX_BODY_MAX) {
        return -1;
    }

    memcpy(ev->body, body, ev->len);
    ev->body[ev->len] = '\0';

    return 0;
}


sv_store_rc_t
sv_store_pg_outbox_take(sv_store_t *st, int64_t now_ms, int64_t lease_ms,
    sv_outbox_event_t *ev, char *err, size_t errlen)
{
    PGresult        *res;
    sv_pg_rc_t       rc;
    sv_pg_err_t      e;
    sv_pg_params_t   p;

    ev->found = 0;

    sv_store_pg_params(&p);
    sv_pg_param_int64(&p, now_ms);
    sv_pg_param_int64(&p, now_ms + lease_ms);

    rc = sv_pg_exec(sv_store_pg(st), sv_pg_outbox_take_sql, &p, 0, &res, &e);
    if (rc != SV_PG_OK) {
        return sv_store_pg_rc(rc, &e, err, errlen);
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        return SV_STORE_OK;
    }

    if (sv_pg_outbox_event(res, ev) != 0) {
        PQclear(res);
        snprintf(err, errlen, "a row of smsverify.outbox that is not of this "
                 "module's making");
        return SV_STORE_ERROR;
    }

    PQclear(res);

    ev->found = 1;
    ev->lease_ms = now_ms + lease_ms;

    return SV_STORE_OK;
}


static void
sv_pg_outbox_ours(sv_pg_params_t *p, const sv_outbox_event_t *ev)
{
    sv_store_pg_params(p);
    sv_pg_param_int64(p, (int64_t) ev->id);
    sv_pg_param_int64(p, ev->lease_ms);
}


sv_store_rc_t
sv_store_pg_outbox_done(sv_store_t *st, const sv_outbox_event_t *ev,
    char *err, size_t errlen)
{
    sv_pg_rc_t       rc;
    sv_pg_err_t      e;
    sv_pg_params_t   p;

    sv_pg_outbox_ours(&p, ev);

    rc = sv_pg_exec(sv_store_pg(st), sv_pg_outbox_done_sql, &p, 0, NULL, &e);

    return sv_store_pg_rc(rc, &e, err, errlen);
}


typedef struct {
    sv_outbox_event_t  *ev;
    int64_t             now_ms;
    sv_pgq_t            q;
} sv_pg_failed_arg_t;


static sv_pg_rc_t
sv_pg_outbox_failed_body(sv_pg_txn_t *t, void *arg)
{
    int64_t              attempts, created, next;
    PGresult            *res;
    sv_pg_rc_t           rc;
    sv_pg_params_t       p;
    sv_pg_failed_arg_t  *a = arg;

    a->q.txn = t;
    a->ev->dropped = 0;

    sv_store_pg_params(&p);
    sv_pg_param_int64(&p, (int64_t) a->ev->id);

    rc = sv_store_pg_exec(&a->q, sv_pg_outbox_row_sql, &p, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (PQntuples(res) == 0) {
        /* gone: delivered by a taker after a lease that passed */
        PQclear(res);
        attempts = a->ev->attempts;
        next = -1;

    } else {
        if (sv_pg_int64(res, 0, 0, &attempts) != 0
            || sv_pg_int64(res, 0, 1, &created) != 0
            || attempts < 0 || attempts >= INT32_MAX)
        {
            PQclear(res);
            return sv_store_pg_fail(a->q.e, "a row of smsverify.outbox that "
                                    "is not of this module's making");
        }

        PQclear(res);

        attempts++;
        next = sv_rules_outbox_retry_at(created, (unsigned) attempts,
                                        a->now_ms);
        a->ev->dropped = (next < 0);
    }

    a->ev->attempts = (unsigned) attempts;
    a->ev->next_ms = next;

    sv_pg_outbox_ours(&p, a->ev);
    sv_pg_param_int64(&p, attempts);

    if (next >= 0) {
        sv_pg_param_int64(&p, next);

    } else {
        sv_pg_param_text(&p, NULL);
    }

    return sv_store_pg_exec(&a->q, sv_pg_outbox_failed_sql, &p, NULL);
}


sv_store_rc_t
sv_store_pg_outbox_failed(sv_store_t *st, sv_outbox_event_t *ev,
    int64_t now_ms, char *err, size_t errlen)
{
    sv_pg_rc_t          rc;
    sv_pg_err_t         e;
    sv_pg_failed_arg_t  a;

    memset(&a, 0, sizeof(a));
    a.ev = ev;
    a.now_ms = now_ms;
    a.q.pg = sv_store_pg(st);
    a.q.e = &e;

    rc = sv_pg_transaction(a.q.pg, SV_PG_READ_COMMITTED,
                           sv_pg_outbox_failed_body, &a, &e);

    return sv_store_pg_rc(rc, &e, err, errlen);
}


sv_store_rc_t
sv_store_pg_outbox_backlog(sv_store_t *st, uint64_t *n, char *err,
    size_t errlen)
{
    int64_t         v;
    PGresult       *res;
    sv_pg_rc_t      rc;
    sv_pg_err_t     e;
    sv_pg_params_t  p;

    sv_store_pg_params(&p);

    rc = sv_pg_exec(sv_store_pg(st), sv_pg_outbox_backlog_sql, &p, 0, &res,
                    &e);
    if (rc != SV_PG_OK) {
        return sv_store_pg_rc(rc, &e, err, errlen);
    }

    if (sv_pg_int64(res, 0, 0, &v) != 0 || v < 0) {
        PQclear(res);
        snprintf(err, errlen, "a count of smsverify.outbox that is no count");
        return SV_STORE_ERROR;
    }

    PQclear(res);
    *n = (uint64_t) v;

    return SV_STORE_OK;
}
