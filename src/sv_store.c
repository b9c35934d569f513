/*
 * The store's calls: the arguments checked once for every backend, the
 * backend's function called, and a full store relieved.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sv_clock.h"
#include "sv_store_impl.h"


/* the records a sweep of a full store may delete */
#define SV_RELIEF_SWEEP_MAX  10000


/*
 * The batch this thread runs, if any, and whether the operation running
 * in it met a full store: a sweep inside the batch would not free what
 * the batch's own commit has not, so the operation runs again after it.
 */
static __thread sv_store_t  *sv_batch_store;
static __thread int          sv_batch_full;


static int
sv_phone_fits(const char *phone, char *err, size_t errlen)
{
    if (phone == NULL || phone[0] == '\0') {
        snprintf(err, errlen, "empty phone");
        return 0;
    }

    if (strlen(phone) > SV_STORE_PHONE_MAX) {
        snprintf(err, errlen, "phone longer than %d bytes",
                 SV_STORE_PHONE_MAX);
        return 0;
    }

    return 1;
}


static int
sv_purpose_fits(sv_purpose_t purpose, char *err, size_t errlen)
{
    if (purpose != SV_PURPOSE_SIGNUP && purpose != SV_PURPOSE_RESET) {
        snprintf(err, errlen, "unknown purpose %d", (int) purpose);
        return 0;
    }

    return 1;
}


static int
sv_account_fits(const char *account, char *err, size_t errlen)
{
    size_t  len;

    if (account == NULL
        || (strncmp(account, "e:", 2) != 0 && strncmp(account, "p:", 2) != 0))
    {
        snprintf(err, errlen, "an account key is \"e:\" or \"p:\" and more");
        return 0;
    }

    len = strlen(account);

    if (len < 3 || len > SV_STORE_ACCOUNT_MAX) {
        snprintf(err, errlen, "account key of %zu bytes, not 3 to %d", len,
                 SV_STORE_ACCOUNT_MAX);
        return 0;
    }

    return 1;
}


static int
sv_password_hash_fits(const char *hash, char *err, size_t errlen)
{
    size_t  len;

    len = hash ? strlen(hash) : 0;

    if (len == 0 || len > SV_STORE_HASH_MAX) {
        snprintf(err, errlen, "password hash of %zu bytes, not 1 to %d", len,
                 SV_STORE_HASH_MAX);
        return 0;
    }

    return 1;
}


static int
sv_given(const void *p, const char *what, char *err, size_t errlen)
{
    if (p == NULL) {
        snprintf(err, errlen, "no %s", what);
        return 0;
    }

    return 1;
}


static int
sv_login_fits(const sv_login_t *l, char *err, size_t errlen)
{
    if (!sv_account_fits(l->account, err, errlen)) {
        return 0;
    }

    if (l->limit == 0 || l->limit > SV_LOGIN_LIMIT_MAX || l->window_ms <= 0)
    {
        snprintf(err, errlen, "login limit %u in %lld ms, not 1 to %d in "
                 "some time", l->limit, (long long) l->window_ms,
                 SV_LOGIN_LIMIT_MAX);
        return 0;
    }

    return 1;
}


/* A send's address and budget: in their bounds, or not given. */
static int
sv_send_fits(const sv_send_t *s, char *err, size_t errlen)
{
    size_t  len;

    if (!sv_phone_fits(s->phone, err, errlen)
        || !sv_purpose_fits(s->purpose, err, errlen))
    {
        return 0;
    }

    if (s->budget > SV_BUDGET_MAX) {
        snprintf(err, errlen, "budget %llu over %d",
                 (unsigned long long) s->budget, SV_BUDGET_MAX);
        return 0;
    }

    if (s->addr == NULL) {
        return 1;
    }

    len = strlen(s->addr);

    if (len == 0 || len > SV_STORE_ADDR_MAX) {
        snprintf(err, errlen, "address key of %zu bytes, not 1 to %d", len,
                 SV_STORE_ADDR_MAX);
        return 0;
    }

    if (s->addr_keep_ms <= 0
        || (s->addr_limit > 0
            && (s->addr_limit > SV_SEND_LIMIT_MAX || s->addr_window_ms <= 0
                || s->addr_window_ms > s->addr_keep_ms)))
    {
        snprintf(err, errlen, "address limit %u in %lld ms, kept %lld ms: "
                 "not 1 to %d in a window no longer than kept",
                 s->addr_limit, (long long) s->addr_window_ms,
                 (long long) s->addr_keep_ms, SV_SEND_LIMIT_MAX);
        return 0;
    }

    return 1;
}


/*
 * After SV_STORE_FULL: what has expired is swept at now_ms, with no
 * grace.  1 if the call is worth another try.
 */
static int
sv_store_relieved(sv_store_t *st, int64_t now_ms)
{
    char  ignored[256];

    if (sv_batch_store == st) {
        sv_batch_full = 1;
        return 0;
    }

    return st->ops->sweep(st, now_ms, 0, SV_RELIEF_SWEEP_MAX, ignored,
                          sizeof(ignored))
           == SV_STORE_OK;
}


sv_store_rc_t
sv_store_open(sv_store_t **st, const sv_store_conf_t *conf, char *err,
    size_t errlen)
{
    *st = NULL;

    if (conf->uri != NULL && conf->uri[0] != '\0') {
        return sv_store_pg_open(st, conf, err, errlen);
    }

    if (conf->dir == NULL || conf->dir[0] == '\0') {
        snprintf(err, errlen, "no store is configured");
        return SV_STORE_ERROR;
    }

    return sv_store_lmdb_open(st, conf, err, errlen);
}


void
sv_store_close(sv_store_t *st)
{
    if (st != NULL) {
        st->ops->close(st);
    }
}


sv_store_rc_t
sv_store_sync(sv_store_t *st, char *err, size_t errlen)
{
    return st->ops->sync ? st->ops->sync(st, err, errlen) : SV_STORE_OK;
}


int
sv_store_reader_check(sv_store_t *st)
{
    return st->ops->reader_check ? st->ops->reader_check(st) : 0;
}


sv_store_rc_t
sv_store_send_begin(sv_store_t *st, sv_send_t *s, char *err, size_t errlen)
{
    sv_store_rc_t  rc;

    if (!sv_send_fits(s, err, errlen)) {
        return SV_STORE_ERROR;
    }

    rc = st->ops->send_begin(st, s, err, errlen);

    if (rc == SV_STORE_FULL && sv_store_relieved(st, s->now_ms)) {
        rc = st->ops->send_begin(st, s, err, errlen);
    }

    return rc;
}


sv_store_rc_t
sv_store_send_abort(sv_store_t *st, const sv_send_t *s, char *err,
    size_t errlen)
{
    if (!sv_send_fits(s, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->send_abort(st, s, err, errlen);
}


sv_store_rc_t
sv_store_code_put(sv_store_t *st, const char *phone,
    const uint8_t *code_hash, int64_t expires_ms, unsigned attempts,
    sv_purpose_t purpose, char *err, size_t errlen)
{
    sv_store_rc_t  rc;

    if (!sv_phone_fits(phone, err, errlen)
        || !sv_purpose_fits(purpose, err, errlen))
    {
        return SV_STORE_ERROR;
    }

    rc = st->ops->code_put(st, phone, code_hash, expires_ms, attempts,
                           purpose, err, errlen);

    /* the one call not given its time: the sweep asks the clock */

    if (rc == SV_STORE_FULL && sv_store_relieved(st, sv_clock_ms())) {
        rc = st->ops->code_put(st, phone, code_hash, expires_ms, attempts,
                               purpose, err, errlen);
    }

    return rc;
}


sv_store_rc_t
sv_store_confirm(sv_store_t *st, sv_confirm_t *c, char *err, size_t errlen)
{
    sv_store_rc_t  rc;

    if (!sv_phone_fits(c->phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    rc = st->ops->confirm(st, c, err, errlen);

    if (rc == SV_STORE_FULL && sv_store_relieved(st, c->now_ms)) {
        rc = st->ops->confirm(st, c, err, errlen);
    }

    return rc;
}


sv_store_rc_t
sv_store_token_check(sv_store_t *st, const uint8_t *token_hash,
    const char *phone, sv_purpose_t purpose, int64_t now_ms, char *err,
    size_t errlen)
{
    if (!sv_phone_fits(phone, err, errlen)
        || !sv_purpose_fits(purpose, err, errlen)
        || !sv_given(token_hash, "token hash", err, errlen))
    {
        return SV_STORE_ERROR;
    }

    return st->ops->token_check(st, token_hash, phone, purpose, now_ms, err,
                                errlen);
}


sv_store_rc_t
sv_store_token_phone(sv_store_t *st, const uint8_t *token_hash,
    sv_purpose_t purpose, int64_t now_ms, char *phone, char *err,
    size_t errlen)
{
    phone[0] = '\0';

    if (!sv_purpose_fits(purpose, err, errlen)
        || !sv_given(token_hash, "token hash", err, errlen))
    {
        return SV_STORE_ERROR;
    }

    return st->ops->token_phone(st, token_hash, purpose, now_ms, phone, err,
                                errlen);
}


sv_store_rc_t
sv_store_signup_check(sv_store_t *st, const sv_member_t *m, char *err,
    size_t errlen)
{
    if (!sv_phone_fits(m->phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->signup_check(st, m, err, errlen);
}


sv_store_rc_t
sv_store_signup(sv_store_t *st, sv_member_t *m, char *err, size_t errlen)
{
    if (!sv_phone_fits(m->phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->signup(st, m, err, errlen);
}


/* Accounts. */

sv_store_rc_t
sv_store_login_allowed(sv_store_t *st, sv_login_t *l, char *err,
    size_t errlen)
{
    if (!sv_login_fits(l, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->login_allowed(st, l, err, errlen);
}


sv_store_rc_t
sv_store_login_failed(sv_store_t *st, sv_login_t *l, char *err,
    size_t errlen)
{
    sv_store_rc_t  rc;

    if (!sv_login_fits(l, err, errlen)) {
        return SV_STORE_ERROR;
    }

    rc = st->ops->login_failed(st, l, err, errlen);

    if (rc == SV_STORE_FULL && sv_store_relieved(st, l->now_ms)) {
        rc = st->ops->login_failed(st, l, err, errlen);
    }

    return rc;
}


sv_store_rc_t
sv_store_member_find(sv_store_t *st, const char *email_key,
    const char *phone, sv_member_info_t *m, char *err, size_t errlen)
{
    size_t  len;

    if (email_key != NULL) {
        len = strlen(email_key);

        if (len == 0 || len > SV_STORE_EMAIL_MAX) {
            snprintf(err, errlen, "email of %zu bytes, not 1 to %d", len,
                     SV_STORE_EMAIL_MAX);
            return SV_STORE_ERROR;
        }

    } else if (!sv_phone_fits(phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->member_find(st, email_key, phone, m, err, errlen);
}


sv_store_rc_t
sv_store_member_rehash(sv_store_t *st, uint64_t id, const char *old_hash,
    const char *new_hash, char *err, size_t errlen)
{
    if (!sv_password_hash_fits(old_hash, err, errlen)
        || !sv_password_hash_fits(new_hash, err, errlen))
    {
        return SV_STORE_ERROR;
    }

    return st->ops->member_rehash(st, id, old_hash, new_hash, err, errlen);
}


sv_store_rc_t
sv_store_session_start(sv_store_t *st, const sv_session_t *s, char *err,
    size_t errlen)
{
    sv_store_rc_t  rc;

    if (!sv_given(s->hash, "session hash", err, errlen)
        || (s->account != NULL && !sv_account_fits(s->account, err, errlen)))
    {
        return SV_STORE_ERROR;
    }

    if (s->idle_ms <= 0 || s->expires_ms <= s->now_ms) {
        snprintf(err, errlen, "a session that has ended already");
        return SV_STORE_ERROR;
    }

    rc = st->ops->session_start(st, s, err, errlen);

    if (rc == SV_STORE_FULL && sv_store_relieved(st, s->now_ms)) {
        rc = st->ops->session_start(st, s, err, errlen);
    }

    return rc;
}


sv_store_rc_t
sv_store_session_get(sv_store_t *st, sv_session_get_t *g, char *err,
    size_t errlen)
{
    if (!sv_given(g->hash, "session hash", err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->session_get(st, g, err, errlen);
}


sv_store_rc_t
sv_store_session_touch(sv_store_t *st, const uint8_t *hash, int64_t now_ms,
    char *err, size_t errlen)
{
    if (!sv_given(hash, "session hash", err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->session_touch(st, hash, now_ms, err, errlen);
}


sv_store_rc_t
sv_store_session_end(sv_store_t *st, const uint8_t *hash, char *err,
    size_t errlen)
{
    if (!sv_given(hash, "session hash", err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->session_end(st, hash, err, errlen);
}


static int
sv_reset_fits(const sv_reset_t *r, int hash_needed, char *err,
    size_t errlen)
{
    return sv_phone_fits(r->phone, err, errlen)
           && sv_given(r->token_hash, "token hash", err, errlen)
           && (!hash_needed
               || sv_password_hash_fits(r->password_hash, err, errlen));
}


sv_store_rc_t
sv_store_reset_check(sv_store_t *st, const sv_reset_t *r, char *err,
    size_t errlen)
{
    if (!sv_reset_fits(r, 0, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->reset_check(st, r, err, errlen);
}


sv_store_rc_t
sv_store_reset(sv_store_t *st, sv_reset_t *r, char *err, size_t errlen)
{
    if (!sv_reset_fits(r, 1, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->reset(st, r, err, errlen);
}


int
sv_store_reads_wait_free(sv_store_t *st)
{
    return st->ops->reads_wait_free ? st->ops->reads_wait_free(st) : 0;
}


sv_store_rc_t
sv_store_confirm_read(sv_store_t *st, sv_confirm_t *c, char *err,
    size_t errlen)
{
    if (!sv_phone_fits(c->phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->confirm_read ? st->ops->confirm_read(st, c, err, errlen)
                                 : SV_STORE_OK;
}


sv_store_rc_t
sv_store_send_read(sv_store_t *st, sv_send_t *s, char *err, size_t errlen)
{
    if (!sv_send_fits(s, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->send_read ? st->ops->send_read(st, s, err, errlen)
                              : SV_STORE_OK;
}


sv_store_rc_t
sv_store_stats(sv_store_t *st, sv_store_stats_t *stats, char *err,
    size_t errlen)
{
    return st->ops->stats(st, stats, err, errlen);
}


sv_store_rc_t
sv_store_sweep(sv_store_t *st, int64_t now_ms, int64_t grace_ms, size_t max,
    char *err, size_t errlen)
{
    return st->ops->sweep(st, now_ms, grace_ms, max, err, errlen);
}


/* Admin. */

static int
sv_id_fits(uint64_t id, char *err, size_t errlen)
{
    if (id == 0 || id > SV_STORE_ID_MAX) {
        snprintf(err, errlen, "member id %llu, not 1 to %llu",
                 (unsigned long long) id,
                 (unsigned long long) SV_STORE_ID_MAX);
        return 0;
    }

    return 1;
}


static int
sv_string_fits(const char *s, size_t max, const char *what, char *err,
    size_t errlen)
{
    size_t  len;

    len = strnlen(s, max + 1);

    if (len == 0 || len > max) {
        snprintf(err, errlen, "%s of %s bytes, not 1 to %zu", what,
                 len > max ? "too many" : "no", max);
        return 0;
    }

    return 1;
}


/* An imported member: the sizes the store keeps, and an id to keep. */
static int
sv_import_fits(const sv_member_info_t *m, char *err, size_t errlen)
{
    if (!sv_id_fits(m->id, err, errlen)
        || !sv_string_fits(m->email, SV_STORE_EMAIL_MAX, "email", err,
                           errlen)
        || !sv_phone_fits(m->phone, err, errlen)
        || !sv_string_fits(m->nickname, SV_STORE_NICKNAME_MAX, "nickname",
                           err, errlen)
        || !sv_password_hash_fits(m->password_hash, err, errlen))
    {
        return 0;
    }

    if (m->nterms > SV_STORE_TERMS_MAX) {
        snprintf(err, errlen, "%zu terms, over %d", m->nterms,
                 SV_STORE_TERMS_MAX);
        return 0;
    }

    if (m->created_ms < 0) {
        snprintf(err, errlen, "created before 1970");
        return 0;
    }

    return 1;
}


sv_store_rc_t
sv_store_member_page(sv_store_t *st, sv_member_page_t *p, char *err,
    size_t errlen)
{
    p->n = 0;
    p->more = 0;

    if (!sv_given(p->members, "room for the members", err, errlen)) {
        return SV_STORE_ERROR;
    }

    if (p->limit == 0 || p->limit > SV_STORE_PAGE_MAX) {
        snprintf(err, errlen, "page of %zu members, not 1 to %d", p->limit,
                 SV_STORE_PAGE_MAX);
        return SV_STORE_ERROR;
    }

    return st->ops->member_page(st, p, err, errlen);
}


sv_store_rc_t
sv_store_member_get(sv_store_t *st, uint64_t id, sv_member_info_t *m,
    char *err, size_t errlen)
{
    if (!sv_id_fits(id, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->member_get(st, id, m, err, errlen);
}


sv_store_rc_t
sv_store_member_delete(sv_store_t *st, sv_member_delete_t *d, char *err,
    size_t errlen)
{
    if (!sv_id_fits(d->id, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->member_delete(st, d, err, errlen);
}


sv_store_rc_t
sv_store_member_import(sv_store_t *st, sv_member_import_t *im, char *err,
    size_t errlen)
{
    size_t  i;

    im->bad = 0;

    if (!sv_given(im->members, "members", err, errlen)) {
        return SV_STORE_ERROR;
    }

    if (im->n == 0) {
        snprintf(err, errlen, "no member to import");
        return SV_STORE_ERROR;
    }

    for (i = 0; i < im->n; i++) {
        if (!sv_import_fits(&im->members[i], err, errlen)) {
            im->bad = i;
            return SV_STORE_ERROR;
        }
    }

    return st->ops->member_import(st, im, err, errlen);
}


sv_store_rc_t
sv_store_limits_clear(sv_store_t *st, const char *phone, char *err,
    size_t errlen)
{
    if (!sv_phone_fits(phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->limits_clear(st, phone, err, errlen);
}


/* The outbox: ERROR from a backend that has none. */

static sv_store_rc_t
sv_no_outbox(sv_store_t *st, char *err, size_t errlen)
{
    snprintf(err, errlen, "the %s store has no webhook outbox",
             st->ops->name);

    return SV_STORE_ERROR;
}


sv_store_rc_t
sv_store_outbox_take(sv_store_t *st, int64_t now_ms, int64_t lease_ms,
    sv_outbox_event_t *ev, char *err, size_t errlen)
{
    ev->found = 0;

    if (st->ops->outbox_take == NULL) {
        return sv_no_outbox(st, err, errlen);
    }

    if (lease_ms <= 0) {
        snprintf(err, errlen, "a lease must last");
        return SV_STORE_ERROR;
    }

    return st->ops->outbox_take(st, now_ms, lease_ms, ev, err, errlen);
}


sv_store_rc_t
sv_store_outbox_done(sv_store_t *st, const sv_outbox_event_t *ev, char *err,
    size_t errlen)
{
    if (st->ops->outbox_done == NULL) {
        return sv_no_outbox(st, err, errlen);
    }

    return st->ops->outbox_done(st, ev, err, errlen);
}


sv_store_rc_t
sv_store_outbox_failed(sv_store_t *st, sv_outbox_event_t *ev, int64_t now_ms,
    char *err, size_t errlen)
{
    ev->dropped = 0;

    if (st->ops->outbox_failed == NULL) {
        return sv_no_outbox(st, err, errlen);
    }

    return st->ops->outbox_failed(st, ev, now_ms, err, errlen);
}


sv_store_rc_t
sv_store_outbox_backlog(sv_store_t *st, uint64_t *n, char *err,
    size_t errlen)
{
    *n = 0;

    /* a store without an outbox has nothing waiting */
    if (st->ops->outbox_backlog == NULL) {
        return SV_STORE_OK;
    }

    return st->ops->outbox_backlog(st, n, err, errlen);
}


/* Batches. */

/* the code's life is judged when the confirm runs, however long it queued */
static void
sv_store_confirm_stamp(sv_store_confirm_op_t *op)
{
    if (op->clock) {
        op->c->now_ms = sv_clock_ms();
        op->c->token_expires_ms = op->c->now_ms + op->token_ttl_ms;
    }
}


void
sv_store_confirm_op(sv_store_t *st, sv_store_confirm_op_t *op)
{
    sv_store_confirm_stamp(op);

    *op->rc = sv_store_confirm(st, op->c, op->err, op->errlen);
}


void
sv_store_send_op(sv_store_t *st, sv_store_send_op_t *op)
{
    if (op->clock) {
        op->s->now_ms = sv_clock_ms();
    }

    *op->rc = sv_store_send_begin(st, op->s, op->err, op->errlen);
}


void
sv_store_abort_op(sv_store_t *st, sv_store_send_op_t *op)
{
    *op->rc = sv_store_send_abort(st, op->s, op->err, op->errlen);
}


void
sv_store_code_op(sv_store_t *st, sv_store_code_op_t *op)
{
    *op->rc = sv_store_code_put(st, op->phone, op->code_hash, op->expires_ms,
                                op->attempts, op->purpose, op->err,
                                op->errlen);
}


void
sv_store_session_op(sv_store_t *st, sv_store_session_op_t *op)
{
    char  err[256];

    if (op->get == NULL) {
        *op->rc = sv_store_session_end(st, op->hash, op->err, op->errlen);
        return;
    }

    if (!op->looked) {
        op->get->now_ms = sv_clock_ms();
        *op->rc = sv_store_session_get(st, op->get, op->err, op->errlen);
    }

    if (*op->rc == SV_STORE_OK && op->get->stale) {
        (void) sv_store_session_touch(st, op->hash, op->get->now_ms, err,
                                      sizeof(err));
    }
}


int
sv_store_batches(sv_store_t *st)
{
    return st->ops->batch_begin != NULL && st->ops->batch_end != NULL;
}


int
sv_store_batches_confirms(sv_store_t *st)
{
    return sv_store_batches(st) || st->ops->confirm_batch != NULL;
}


int
sv_store_batches_sessions(sv_store_t *st)
{
    return sv_store_batches(st) || st->ops->session_batch != NULL;
}


static void
sv_store_ops_alone(sv_store_op_t *ops, size_t n, int all)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (ops[i].done) {
            continue;
        }

        if (all || ops[i].again) {
            ops[i].again = 0;
            ops[i].run(ops[i].data);
        }
    }
}


/*
 * The batch's confirms, together where the backend runs them so: those
 * answered are done.  A phone that does not fit is answered here, as
 * sv_store_confirm() answers it.
 */
static void
sv_store_confirms_run(sv_store_t *st, sv_store_op_t *ops, size_t n)
{
    size_t                   i, k;
    sv_store_confirm_op_t   *op, **list;

    list = malloc(n * sizeof(sv_store_confirm_op_t *));
    if (list == NULL) {
        /* each runs alone then */
        return;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        op = ops[i].confirm;

        if (op == NULL) {
            continue;
        }

        ops[i].done = 1;

        if (!sv_phone_fits(op->c->phone, op->err, op->errlen)) {
            *op->rc = SV_STORE_ERROR;
            continue;
        }

        sv_store_confirm_stamp(op);
        list[k++] = op;
    }

    if (k == 1) {
        *list[0]->rc = sv_store_confirm(st, list[0]->c, list[0]->err,
                                        list[0]->errlen);

    } else if (k > 1) {
        st->ops->confirm_batch(st, list, k);
    }

    free(list);
}


/*
 * The batch's sends (send_begin, or with abort their send_abort),
 * together where the backend runs them so: those answered are done.  A
 * send that does not fit is answered here, and one that met a full
 * store runs again alone (relieved as alone).
 */
static void
sv_store_sends_run(sv_store_t *st, sv_store_op_t *ops, size_t n, int abort)
{
    size_t                i, k;
    sv_store_send_op_t   *op, **list;

    list = malloc(n * sizeof(sv_store_send_op_t *));
    if (list == NULL) {
        /* each runs alone then */
        return;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        op = abort ? ops[i].abort : ops[i].send;

        if (op == NULL || ops[i].done) {
            continue;
        }

        ops[i].done = 1;

        if (!sv_send_fits(op->s, op->err, op->errlen)) {
            *op->rc = SV_STORE_ERROR;
            continue;
        }

        if (op->clock && !abort) {
            op->s->now_ms = sv_clock_ms();
        }

        list[k++] = op;
    }

    if (k > 1) {
        if (abort) {
            st->ops->abort_batch(st, list, k);

        } else {
            st->ops->send_batch(st, list, k);
        }
    }

    for (i = 0; i < k; i++) {
        if (k == 1 || *list[i]->rc == SV_STORE_FULL) {
            /* stamped already: alone as it is */
            op = list[i];
            *op->rc = abort ? sv_store_send_abort(st, op->s, op->err,
                                                  op->errlen)
                            : sv_store_send_begin(st, op->s, op->err,
                                                  op->errlen);
        }
    }

    free(list);
}


/*
 * The batch's codes, together where the backend puts them so: those
 * answered are done.  A phone or purpose that does not fit is answered
 * here, and a code that met a full store is put again alone.
 */
static void
sv_store_codes_run(sv_store_t *st, sv_store_op_t *ops, size_t n)
{
    size_t                i, k;
    sv_store_code_op_t   *op, **list;

    list = malloc(n * sizeof(sv_store_code_op_t *));
    if (list == NULL) {
        /* each runs alone then */
        return;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        op = ops[i].code;

        if (op == NULL || ops[i].done) {
            continue;
        }

        ops[i].done = 1;

        if (!sv_phone_fits(op->phone, op->err, op->errlen)
            || !sv_purpose_fits(op->purpose, op->err, op->errlen))
        {
            *op->rc = SV_STORE_ERROR;
            continue;
        }

        list[k++] = op;
    }

    if (k == 1) {
        sv_store_code_op(st, list[0]);

    } else if (k > 1) {
        st->ops->code_batch(st, list, k);

        for (i = 0; i < k; i++) {
            if (*list[i]->rc == SV_STORE_FULL) {
                sv_store_code_op(st, list[i]);
            }
        }
    }

    free(list);
}


/*
 * The batch's session uses, together where the backend runs them so:
 * those answered are done.  One without a hash is answered here, as
 * alone.
 */
static void
sv_store_sessions_run(sv_store_t *st, sv_store_op_t *ops, size_t n)
{
    size_t                  i, k;
    sv_store_session_op_t  *op, **list;

    list = malloc(n * sizeof(sv_store_session_op_t *));
    if (list == NULL) {
        /* each runs alone then */
        return;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        op = ops[i].session;

        if (op == NULL || ops[i].done) {
            continue;
        }

        ops[i].done = 1;

        if (!sv_given(op->hash, "session hash", op->err, op->errlen)
            || (op->get != NULL
                && !sv_given(op->get->hash, "session hash", op->err,
                             op->errlen)))
        {
            *op->rc = SV_STORE_ERROR;
            continue;
        }

        if (op->get != NULL && !op->looked) {
            op->get->now_ms = sv_clock_ms();
        }

        list[k++] = op;
    }

    if (k == 1) {
        sv_store_session_op(st, list[0]);

    } else if (k > 1) {
        st->ops->session_batch(st, list, k);
    }

    free(list);
}


void
sv_store_batch_run(sv_store_t *st, sv_store_op_t *ops, size_t n)
{
    char    err[256];
    size_t  i;

    for (i = 0; i < n; i++) {
        ops[i].again = 0;
        ops[i].done = 0;
    }

    if (n > 1 && st->ops->confirm_batch != NULL && sv_batch_store == NULL) {
        sv_store_confirms_run(st, ops, n);
    }

    if (n > 1 && st->ops->send_batch != NULL && sv_batch_store == NULL) {
        sv_store_sends_run(st, ops, n, 0);
    }

    if (n > 1 && st->ops->abort_batch != NULL && sv_batch_store == NULL) {
        sv_store_sends_run(st, ops, n, 1);
    }

    if (n > 1 && st->ops->code_batch != NULL && sv_batch_store == NULL) {
        sv_store_codes_run(st, ops, n);
    }

    if (n > 1 && st->ops->session_batch != NULL && sv_batch_store == NULL) {
        sv_store_sessions_run(st, ops, n);
    }

    /* a batch of one is a call alone: no transaction around it */

    if (n < 2 || !sv_store_batches(st) || sv_batch_store != NULL
        || st->ops->batch_begin(st, err, sizeof(err)) != SV_STORE_OK)
    {
        sv_store_ops_alone(ops, n, 1);
        return;
    }

    sv_batch_store = st;

    for (i = 0; i < n; i++) {
        if (ops[i].done) {
            continue;
        }

        sv_batch_full = 0;
        ops[i].run(ops[i].data);
        ops[i].again = sv_batch_full;
    }

    sv_batch_store = NULL;

    /* nothing of a batch whose commit failed is in the store */

    if (st->ops->batch_end(st, 1, err, sizeof(err)) != SV_STORE_OK) {
        sv_store_ops_alone(ops, n, 1);
        return;
    }

    sv_store_ops_alone(ops, n, 0);
}
