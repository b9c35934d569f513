/*
 * The store's rules: the windows of sends (by phone and by address) and
 * failed logins, the daily budget, a guess at
 * a code, what a code and its token are for, the verification token's
 * life and its failures, sessions, and a member's hash.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "sv_rules.h"


/*
 * Windows: the stamps of events, of which at most a limit may be in any
 * window.  Sends and failed logins keep theirs so.
 */

/* Keeps the stamps younger than horizon_ms. */
static void
sv_window_prune(sv_window_rec_t *rec, int64_t now_ms, int64_t horizon_ms)
{
    unsigned  i, n;

    n = 0;

    for (i = 0; i < rec->count; i++) {
        if (now_ms - rec->stamps[i] < horizon_ms) {
            rec->stamps[n++] = rec->stamps[i];
        }
    }

    rec->count = n;
}


/*
 * 1 if limit stamps (or more) are in the window at now_ms; then
 * *retry_ms is how long until fewer are: until the oldest leaves, or as
 * many of the oldest as there are more than limit - 1.
 */
static int
sv_window_full(const sv_window_rec_t *rec, int64_t now_ms,
    int64_t window_ms, unsigned limit, int64_t *retry_ms)
{
    int64_t   in[SV_WINDOW_MAX], t;
    unsigned  i, j, n, k;

    if (limit > SV_WINDOW_MAX) {
        limit = SV_WINDOW_MAX;
    }

    n = 0;

    for (i = 0; i < rec->count; i++) {
        if (now_ms - rec->stamps[i] < window_ms) {
            in[n++] = rec->stamps[i];
        }
    }

    if (n < limit) {
        return 0;
    }

    /* the k-th oldest, k = n - limit + 1 (the clock may have gone back) */

    k = n - limit + 1;

    if (k > n) {
        k = n;                  /* limit 0: none may pass */
    }

    for (i = 0; i < k; i++) {
        for (j = i + 1; j < n; j++) {
            if (in[j] < in[i]) {
                t = in[i];
                in[i] = in[j];
                in[j] = t;
            }
        }
    }

    *retry_ms = (k > 0 ? in[k - 1] : now_ms) + window_ms - now_ms;

    return 1;
}


/* The stamp at now_ms, the oldest dropped if full; kept until keep_ms. */
static void
sv_window_append(sv_window_rec_t *rec, int64_t now_ms, int64_t keep_ms)
{
    if (rec->count == SV_WINDOW_MAX) {
        memmove(&rec->stamps[0], &rec->stamps[1],
                (SV_WINDOW_MAX - 1) * sizeof(int64_t));
        rec->count--;
    }

    rec->stamps[rec->count++] = now_ms;

    if (keep_ms > rec->keep_until_ms) {
        rec->keep_until_ms = keep_ms;
    }
}


int
sv_rules_window_gone(const sv_window_rec_t *rec, int64_t now_ms)
{
    return rec->keep_until_ms <= now_ms;
}


/* Sends. */

static int64_t
sv_send_horizon(const sv_send_t *s)
{
    return s->resend_ms > s->window_ms ? s->resend_ms : s->window_ms;
}


/* The last stamp, unless the clock went back since. */
static int64_t
sv_send_newest(const sv_send_rec_t *rec)
{
    unsigned  i;
    int64_t   newest;

    newest = rec->stamps[0];

    for (i = 1; i < rec->count; i++) {
        if (rec->stamps[i] > newest) {
            newest = rec->stamps[i];
        }
    }

    return newest;
}


sv_store_rc_t
sv_rules_send(sv_send_rec_t *rec, sv_send_t *s)
{
    int64_t        newest;
    sv_send_rec_t  kept;

    kept = *rec;
    sv_window_prune(&kept, s->now_ms, sv_send_horizon(s));

    if (kept.count > 0) {
        newest = sv_send_newest(&kept);

        if (s->now_ms - newest < s->resend_ms) {
            s->retry_after_ms = newest + s->resend_ms - s->now_ms;
            return SV_STORE_RESEND_TOO_SOON;
        }
    }

    if (sv_window_full(&kept, s->now_ms, s->window_ms, s->limit,
                       &s->retry_after_ms))
    {
        return SV_STORE_SEND_LIMIT;
    }

    sv_window_append(&kept, s->now_ms, s->now_ms + sv_send_horizon(s));
    *rec = kept;

    return SV_STORE_OK;
}


unsigned
sv_rules_send_abort(sv_send_rec_t *rec, int64_t stamp_ms)
{
    unsigned  i;

    for (i = rec->count; i-- > 0; /* void */) {
        if (rec->stamps[i] == stamp_ms) {
            memmove(&rec->stamps[i], &rec->stamps[i + 1],
                    (rec->count - i - 1) * sizeof(int64_t));
            rec->count--;
            break;
        }
    }

    return rec->count;
}


/* The budget and the address, around the phone's limits. */

int64_t
sv_rules_day(int64_t now_ms)
{
    int64_t  day;

    day = now_ms / SV_DAY_MS;

    if (now_ms % SV_DAY_MS < 0) {
        day--;                  /* floor, before 1970 too */
    }

    return day;
}


void
sv_rules_day_key(int64_t day, char *key)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) (day * 86400);

    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(key, SV_DAY_KEY_SIZE, "day %lld", (long long) day);
        return;
    }

    snprintf(key, SV_DAY_KEY_SIZE, "%04lld-%02d-%02d",
             (long long) tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}


/* The day's record as of now: another day's count is not today's. */
static void
sv_day_today(sv_day_rec_t *rec, int64_t now_ms)
{
    int64_t  today;

    today = sv_rules_day(now_ms);

    if (rec->day != today) {
        rec->day = today;
        rec->sent = 0;
        rec->refused = 0;
    }
}


/* BUDGET if the day's sends have reached the budget: the refusal counted. */
static sv_store_rc_t
sv_budget_check(sv_day_rec_t *rec, sv_send_t *s)
{
    sv_day_today(rec, s->now_ms);

    if (rec->sent < s->budget) {
        return SV_STORE_OK;
    }

    s->budget_first = rec->refused == 0;
    s->retry_after_ms = (rec->day + 1) * SV_DAY_MS - s->now_ms;
    rec->refused++;

    return SV_STORE_BUDGET;
}


sv_store_rc_t
sv_rules_send_limits(sv_send_recs_t *recs, sv_send_t *s)
{
    sv_store_rc_t  rc;

    recs->write = 0;
    s->budget_first = 0;

    if (s->budget > 0) {
        rc = sv_budget_check(&recs->day, s);

        if (rc != SV_STORE_OK) {
            recs->write = SV_SEND_REC_DAY;
            return rc;
        }
    }

    if (s->addr != NULL && s->addr_limit > 0
        && sv_window_full(&recs->addr, s->now_ms, s->addr_window_ms,
                          s->addr_limit, &s->retry_after_ms))
    {
        return SV_STORE_IP_LIMIT;
    }

    rc = sv_rules_send(&recs->phone, s);

    if (rc != SV_STORE_OK) {
        return rc;
    }

    recs->write = SV_SEND_REC_PHONE;

    if (s->addr != NULL) {
        sv_window_prune(&recs->addr, s->now_ms, s->addr_keep_ms);
        sv_window_append(&recs->addr, s->now_ms, s->now_ms + s->addr_keep_ms);
        recs->write |= SV_SEND_REC_ADDR;
    }

    if (s->budget > 0) {
        recs->day.sent++;
        recs->write |= SV_SEND_REC_DAY;
    }

    return SV_STORE_OK;
}


void
sv_rules_day_abort(sv_day_rec_t *rec)
{
    if (rec->sent > 0) {
        rec->sent--;
    }
}


int
sv_rules_day_gone(const sv_day_rec_t *rec, int64_t now_ms)
{
    return rec->day < sv_rules_day(now_ms);
}


/* Purposes. */

sv_store_rc_t
sv_rules_phone_for(sv_purpose_t purpose, int taken)
{
    if (purpose == SV_PURPOSE_RESET) {
        return taken ? SV_STORE_OK : SV_STORE_NOT_MEMBER;
    }

    return taken ? SV_STORE_PHONE_TAKEN : SV_STORE_OK;
}


int
sv_rules_confirm_taken(const sv_code_rec_t *rec, int taken)
{
    return taken && (rec == NULL || rec->purpose != SV_PURPOSE_RESET);
}


/* Codes. */

int
sv_rules_code_expired(const sv_code_rec_t *rec, int64_t now_ms)
{
    return now_ms >= rec->expires_ms;
}


sv_store_rc_t
sv_rules_guess(sv_code_rec_t *rec, const uint8_t *guess_hash, int64_t now_ms)
{
    if (sv_rules_code_expired(rec, now_ms)) {
        return SV_STORE_EXPIRED;
    }

    if (CRYPTO_memcmp(rec->hash, guess_hash, SV_HASH_SIZE) == 0) {
        return SV_STORE_OK;
    }

    if (rec->attempts_left > 0) {
        rec->attempts_left--;
    }

    return rec->attempts_left == 0 ? SV_STORE_BURNT : SV_STORE_MISMATCH;
}


int
sv_rules_code_gone(const sv_code_rec_t *rec, int64_t now_ms,
    int64_t grace_ms)
{
    return rec->expires_ms + grace_ms <= now_ms;
}


/* Tokens. */

void
sv_rules_token_new(sv_token_rec_t *rec, const char *phone,
    sv_purpose_t purpose, int64_t expires_ms)
{
    rec->expires_ms = expires_ms;
    rec->failures = 0;
    rec->purpose = purpose;
    rec->phone_len = strlen(phone);
    memcpy(rec->phone, phone, rec->phone_len);
}


int
sv_rules_token_valid(const sv_token_rec_t *rec, const char *phone,
    sv_purpose_t purpose, int64_t now_ms)
{
    return now_ms < rec->expires_ms
           && rec->purpose == purpose
           && rec->phone_len == strlen(phone)
           && memcmp(rec->phone, phone, rec->phone_len) == 0;
}


int
sv_rules_token_refused(sv_token_rec_t *rec)
{
    return ++rec->failures >= SV_TOKEN_FAILURES_MAX;
}


int
sv_rules_token_gone(const sv_token_rec_t *rec, int64_t now_ms)
{
    return rec->expires_ms <= now_ms;
}


/* Logins. */

sv_store_rc_t
sv_rules_login_allowed(const sv_login_rec_t *rec, sv_login_t *l)
{
    if (sv_window_full(rec, l->now_ms, l->window_ms, l->limit,
                       &l->retry_after_ms))
    {
        return SV_STORE_LOCKED;
    }

    return SV_STORE_OK;
}


void
sv_rules_login_failed(sv_login_rec_t *rec, const sv_login_t *l)
{
    sv_window_prune(rec, l->now_ms, l->window_ms);
    sv_window_append(rec, l->now_ms, l->now_ms + l->window_ms);
}


/* Sessions. */

void
sv_rules_session_new(sv_session_rec_t *rec, const sv_session_t *s)
{
    rec->member_id = s->member_id;
    rec->epoch = s->epoch;
    rec->created_ms = s->now_ms;
    rec->last_used_ms = s->now_ms;
    rec->expires_ms = s->expires_ms;
    rec->idle_ms = s->idle_ms;
}


int
sv_rules_session_ended(const sv_session_rec_t *rec, int64_t now_ms)
{
    return now_ms >= rec->expires_ms
           || now_ms - rec->last_used_ms >= rec->idle_ms;
}


sv_store_rc_t
sv_rules_session_get(const sv_session_rec_t *rec, const sv_member_info_t *m,
    sv_session_get_t *g)
{
    int64_t  end;

    if (sv_rules_session_ended(rec, g->now_ms) || m == NULL
        || m->id != rec->member_id || m->epoch != rec->epoch)
    {
        return SV_STORE_NO_SESSION;
    }

    end = g->now_ms + rec->idle_ms;

    if (rec->expires_ms < end) {
        end = rec->expires_ms;
    }

    g->expires_in_ms = end - g->now_ms;
    g->stale = g->now_ms - rec->last_used_ms > rec->idle_ms / 10;

    return SV_STORE_OK;
}


int
sv_rules_session_touch(sv_session_rec_t *rec, int64_t now_ms)
{
    if (sv_rules_session_ended(rec, now_ms)) {
        return 0;
    }

    if (now_ms > rec->last_used_ms) {
        rec->last_used_ms = now_ms;
    }

    return 1;
}


/* Members. */

int
sv_rules_rehash(sv_member_info_t *m, const char *old_hash,
    const char *new_hash)
{
    if (strcmp(m->password_hash, old_hash) != 0) {
        return 0;
    }

    snprintf(m->password_hash, sizeof(m->password_hash), "%s", new_hash);

    return 1;
}


void
sv_rules_reset(sv_member_info_t *m, const char *new_hash)
{
    snprintf(m->password_hash, sizeof(m->password_hash), "%s", new_hash);
    m->epoch++;
}


/* The webhook outbox. */

int64_t
sv_rules_outbox_retry_at(int64_t created_ms, unsigned attempts,
    int64_t now_ms)
{
    static const int64_t  delay_ms[] = {
        5 * 1000, 30 * 1000, 2 * 60 * 1000, 10 * 60 * 1000, 3600 * 1000
    };

    if (now_ms - created_ms >= SV_OUTBOX_KEEP_MS) {
        return -1;
    }

    if (attempts == 0) {
        return now_ms;
    }

    if (attempts <= sizeof(delay_ms) / sizeof(delay_ms[0])) {
        return now_ms + delay_ms[attempts - 1];
    }

    return now_ms + 6 * 3600 * 1000LL;
}
