/*
 * The store's rules: the send window and limits, a guess at a code, the
 * verification token's life and its failures.
 */

#include <string.h>

#include <openssl/crypto.h>

#include "sv_rules.h"


/* Sends. */

static int64_t
sv_send_horizon(const sv_send_t *s)
{
    return s->resend_ms > s->window_ms ? s->resend_ms : s->window_ms;
}


/* Keeps the stamps that the window or the resend interval still needs. */
static void
sv_send_prune(sv_send_rec_t *rec, int64_t now_ms, int64_t horizon_ms)
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


/* How many stamps are in the window; the oldest of them goes to *oldest. */
static unsigned
sv_send_in_window(const sv_send_rec_t *rec, int64_t now_ms,
    int64_t window_ms, int64_t *oldest)
{
    unsigned  i, n;

    n = 0;
    *oldest = now_ms;

    for (i = 0; i < rec->count; i++) {
        if (now_ms - rec->stamps[i] < window_ms) {
            if (n == 0 || rec->stamps[i] < *oldest) {
                *oldest = rec->stamps[i];
            }

            n++;
        }
    }

    return n;
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


static void
sv_send_append(sv_send_rec_t *rec, const sv_send_t *s)
{
    int64_t  keep;

    if (rec->count == SV_SEND_LIMIT_MAX) {
        memmove(&rec->stamps[0], &rec->stamps[1],
                (SV_SEND_LIMIT_MAX - 1) * sizeof(int64_t));
        rec->count--;
    }

    rec->stamps[rec->count++] = s->now_ms;

    keep = s->now_ms + sv_send_horizon(s);

    if (keep > rec->keep_until_ms) {
        rec->keep_until_ms = keep;
    }
}


sv_store_rc_t
sv_rules_send(sv_send_rec_t *rec, sv_send_t *s)
{
    int64_t        oldest, newest;
    unsigned       limit;
    sv_send_rec_t  kept;

    kept = *rec;
    sv_send_prune(&kept, s->now_ms, sv_send_horizon(s));

    if (kept.count > 0) {
        newest = sv_send_newest(&kept);

        if (s->now_ms - newest < s->resend_ms) {
            s->retry_after_ms = newest + s->resend_ms - s->now_ms;
            return SV_STORE_RESEND_TOO_SOON;
        }
    }

    limit = s->limit < SV_SEND_LIMIT_MAX ? s->limit : SV_SEND_LIMIT_MAX;

    if (sv_send_in_window(&kept, s->now_ms, s->window_ms, &oldest) >= limit)
    {
        s->retry_after_ms = oldest + s->window_ms - s->now_ms;
        return SV_STORE_SEND_LIMIT;
    }

    sv_send_append(&kept, s);
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


int
sv_rules_send_gone(const sv_send_rec_t *rec, int64_t now_ms)
{
    return rec->keep_until_ms <= now_ms;
}


/* Codes. */

sv_store_rc_t
sv_rules_guess(sv_code_rec_t *rec, const uint8_t *guess_hash, int64_t now_ms)
{
    if (now_ms >= rec->expires_ms) {
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
    int64_t expires_ms)
{
    rec->expires_ms = expires_ms;
    rec->failures = 0;
    rec->phone_len = strlen(phone);
    memcpy(rec->phone, phone, rec->phone_len);
}


int
sv_rules_token_valid(const sv_token_rec_t *rec, const char *phone,
    int64_t now_ms)
{
    return now_ms < rec->expires_ms
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
