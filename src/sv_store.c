/*
 * The store's calls: the arguments checked once for every backend, the
 * backend's function called, and a full store relieved.
 */

#include <stdio.h>
#include <string.h>

#include "sv_clock.h"
#include "sv_store_impl.h"


/* the records a sweep of a full store may delete */
#define SV_RELIEF_SWEEP_MAX  10000


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


/*
 * After SV_STORE_FULL: what has expired is swept at now_ms, with no
 * grace.  1 if the call is worth another try.
 */
static int
sv_store_relieved(sv_store_t *st, int64_t now_ms)
{
    char  ignored[256];

    return st->ops->sweep(st, now_ms, 0, SV_RELIEF_SWEEP_MAX, ignored,
                          sizeof(ignored))
           == SV_STORE_OK;
}


sv_store_rc_t
sv_store_open(sv_store_t **st, const sv_store_conf_t *conf, char *err,
    size_t errlen)
{
    *st = NULL;

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

    if (!sv_phone_fits(s->phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    rc = st->ops->send_begin(st, s, err, errlen);

    if (rc == SV_STORE_FULL && sv_store_relieved(st, s->now_ms)) {
        rc = st->ops->send_begin(st, s, err, errlen);
    }

    return rc;
}


sv_store_rc_t
sv_store_send_abort(sv_store_t *st, const char *phone, int64_t stamp_ms,
    char *err, size_t errlen)
{
    if (!sv_phone_fits(phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    return st->ops->send_abort(st, phone, stamp_ms, err, errlen);
}


sv_store_rc_t
sv_store_code_put(sv_store_t *st, const char *phone,
    const uint8_t *code_hash, int64_t expires_ms, unsigned attempts,
    char *err, size_t errlen)
{
    sv_store_rc_t  rc;

    if (!sv_phone_fits(phone, err, errlen)) {
        return SV_STORE_ERROR;
    }

    rc = st->ops->code_put(st, phone, code_hash, expires_ms, attempts, err,
                           errlen);

    /* the one call not given its time: the sweep asks the clock */

    if (rc == SV_STORE_FULL && sv_store_relieved(st, sv_clock_ms())) {
        rc = st->ops->code_put(st, phone, code_hash, expires_ms, attempts,
                               err, errlen);
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
    const char *phone, int64_t now_ms, char *err, size_t errlen)
{
    return st->ops->token_check(st, token_hash, phone, now_ms, err, errlen);
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
