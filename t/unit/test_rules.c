/*
 * sv_rules: the store's decisions on records in memory, with no store.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sv_rules.h"


#define T0          1700000000000LL
#define SEC         1000LL
#define MIN         (60 * SEC)
#define HOUR        (60 * MIN)

#define PHONE_A     "+821012345678"


/* The API's defaults: 30 s between sends, 5 sends an hour. */
static sv_send_t
send_at(int64_t now)
{
    sv_send_t  s;

    memset(&s, 0, sizeof(s));
    s.phone = PHONE_A;
    s.now_ms = now;
    s.resend_ms = 30 * SEC;
    s.limit = 5;
    s.window_ms = HOUR;
    s.retry_after_ms = -1;

    return s;
}


static sv_store_rc_t
send(sv_send_rec_t *rec, int64_t now, int64_t *retry)
{
    sv_send_t      s;
    sv_store_rc_t  rc;

    s = send_at(now);
    rc = sv_rules_send(rec, &s);
    *retry = s.retry_after_ms;

    return rc;
}


/* Sends. */

static void
test_send_first(void **state)
{
    int64_t        retry;
    sv_send_rec_t  rec;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    assert_int_equal(send(&rec, T0, &retry), SV_STORE_OK);
    assert_int_equal(retry, -1);
    assert_int_equal(rec.count, 1);
    assert_int_equal(rec.stamps[0], T0);
    assert_int_equal(rec.keep_until_ms, T0 + HOUR);
}


static void
test_send_resend_too_soon(void **state)
{
    int64_t        retry;
    sv_send_rec_t  rec, before;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    assert_int_equal(send(&rec, T0, &retry), SV_STORE_OK);
    before = rec;

    assert_int_equal(send(&rec, T0 + 10 * SEC, &retry),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(retry, 20 * SEC);
    assert_memory_equal(&rec, &before, sizeof(rec));

    assert_int_equal(send(&rec, T0 + 30 * SEC - 1, &retry),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(retry, 1);
    assert_int_equal(send(&rec, T0 + 30 * SEC, &retry), SV_STORE_OK);
    assert_int_equal(rec.count, 2);
}


static void
test_send_limit(void **state)
{
    int            i;
    int64_t        retry;
    sv_send_rec_t  rec, before;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    for (i = 0; i < 5; i++) {
        assert_int_equal(send(&rec, T0 + i * MIN, &retry), SV_STORE_OK);
    }

    before = rec;

    /* the sixth in the hour waits for the first to leave the window */
    assert_int_equal(send(&rec, T0 + 10 * MIN, &retry), SV_STORE_SEND_LIMIT);
    assert_int_equal(retry, 50 * MIN);
    assert_memory_equal(&rec, &before, sizeof(rec));

    assert_int_equal(send(&rec, T0 + HOUR, &retry), SV_STORE_OK);

    /* the first stamp left the window and was dropped */
    assert_int_equal(rec.count, 5);
    assert_int_equal(rec.stamps[0], T0 + MIN);
    assert_int_equal(rec.stamps[4], T0 + HOUR);
    assert_int_equal(rec.keep_until_ms, T0 + 2 * HOUR);
}


/* Stamps from a clock that went back: the newest is the largest. */
static void
test_send_clock_back(void **state)
{
    int64_t        retry;
    sv_send_rec_t  rec;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    rec.count = 2;
    rec.stamps[0] = T0 + MIN;
    rec.stamps[1] = T0;
    rec.keep_until_ms = T0 + 2 * HOUR;

    assert_int_equal(send(&rec, T0 + MIN + 10 * SEC, &retry),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(retry, 20 * SEC);

    assert_int_equal(send(&rec, T0 + 2 * MIN, &retry), SV_STORE_OK);
    assert_int_equal(rec.count, 3);

    /* keep_until never goes back */
    assert_int_equal(rec.keep_until_ms, T0 + 2 * HOUR);
}


/* The limit is at most SV_SEND_LIMIT_MAX; the record keeps as many. */
static void
test_send_limit_max(void **state)
{
    int            i;
    sv_send_t      s;
    sv_send_rec_t  rec;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    for (i = 0; i < SV_SEND_LIMIT_MAX; i++) {
        s = send_at(T0 + i);
        s.resend_ms = 0;
        s.limit = 1000;
        assert_int_equal(sv_rules_send(&rec, &s), SV_STORE_OK);
    }

    assert_int_equal(rec.count, SV_SEND_LIMIT_MAX);

    s = send_at(T0 + SV_SEND_LIMIT_MAX);
    s.resend_ms = 0;
    s.limit = 1000;
    assert_int_equal(sv_rules_send(&rec, &s), SV_STORE_SEND_LIMIT);
    assert_int_equal(s.retry_after_ms, HOUR - SV_SEND_LIMIT_MAX);
}


static void
test_send_abort(void **state)
{
    int64_t        retry;
    sv_send_rec_t  rec;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    assert_int_equal(send(&rec, T0, &retry), SV_STORE_OK);
    assert_int_equal(send(&rec, T0 + MIN, &retry), SV_STORE_OK);

    /* a stamp never counted takes nothing back */
    assert_int_equal(sv_rules_send_abort(&rec, T0 + 5), 2);
    assert_int_equal(sv_rules_send_abort(&rec, T0 + MIN), 1);
    assert_int_equal(rec.stamps[0], T0);

    /* the send may go again at once */
    assert_int_equal(send(&rec, T0 + MIN, &retry), SV_STORE_OK);
    assert_int_equal(sv_rules_send_abort(&rec, T0 + MIN), 1);
    assert_int_equal(sv_rules_send_abort(&rec, T0), 0);
}


static void
test_send_gone(void **state)
{
    int64_t        retry;
    sv_send_rec_t  rec;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    assert_int_equal(send(&rec, T0, &retry), SV_STORE_OK);
    assert_false(sv_rules_window_gone(&rec, T0 + HOUR - 1));
    assert_true(sv_rules_window_gone(&rec, T0 + HOUR));
}


/* Every limit of a send: the budget, the address, the phone. */

#define DAY         (24 * HOUR)
#define ADDR_X      "192.0.2.1"

/* a send at now from ADDR_X, at most 2 an hour from it, 3 a day */
static sv_send_t
send_limited_at(int64_t now)
{
    sv_send_t  s;

    s = send_at(now);
    s.addr = ADDR_X;
    s.addr_limit = 2;
    s.addr_window_ms = HOUR;
    s.addr_keep_ms = 2 * HOUR;
    s.budget = 3;

    return s;
}


static void
test_limits_count_all(void **state)
{
    sv_send_t       s;
    sv_send_recs_t  recs;

    (void) state;
    memset(&recs, 0, sizeof(recs));

    s = send_limited_at(T0);
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_OK);
    assert_int_equal(recs.write,
                     SV_SEND_REC_PHONE | SV_SEND_REC_ADDR | SV_SEND_REC_DAY);
    assert_int_equal(recs.phone.count, 1);
    assert_int_equal(recs.addr.count, 1);
    assert_int_equal(recs.addr.keep_until_ms, T0 + 2 * HOUR);
    assert_int_equal(recs.day.day, T0 / DAY);
    assert_int_equal(recs.day.sent, 1);
    assert_false(s.budget_first);

    /* without an address or a budget, only the phone's record */
    memset(&recs, 0, sizeof(recs));
    s = send_at(T0);
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_OK);
    assert_int_equal(recs.write, SV_SEND_REC_PHONE);
    assert_int_equal(recs.day.sent, 0);
}


static void
test_limits_order_and_nothing_counted(void **state)
{
    sv_send_t       s;
    sv_send_recs_t  recs, before;

    (void) state;
    memset(&recs, 0, sizeof(recs));

    s = send_limited_at(T0);
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_OK);

    /* the phone refuses: nothing is written */
    before = recs;
    s = send_limited_at(T0 + SEC);
    assert_int_equal(sv_rules_send_limits(&recs, &s),
                     SV_STORE_RESEND_TOO_SOON);
    assert_int_equal(recs.write, 0);
    assert_memory_equal(&recs.phone, &before.phone, sizeof(recs.phone));
    assert_memory_equal(&recs.addr, &before.addr, sizeof(recs.addr));
    assert_memory_equal(&recs.day, &before.day, sizeof(recs.day));

    /* another phone from the address: its second send */
    memset(&recs.phone, 0, sizeof(recs.phone));
    s = send_limited_at(T0 + 2 * SEC);
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_OK);

    /* the address is full, and answers before the phone */
    before = recs;
    s = send_limited_at(T0 + 3 * SEC);
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_IP_LIMIT);
    assert_int_equal(s.retry_after_ms, HOUR - 3 * SEC);
    assert_int_equal(recs.write, 0);
    assert_memory_equal(&recs.phone, &before.phone, sizeof(recs.phone));
    assert_memory_equal(&recs.addr, &before.addr, sizeof(recs.addr));
    assert_memory_equal(&recs.day, &before.day, sizeof(recs.day));

    /* the budget answers before both, and counts its refusal only */
    recs.day.sent = 3;
    before = recs;
    s = send_limited_at(T0 + 4 * SEC);
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_BUDGET);
    assert_true(s.budget_first);
    assert_int_equal(s.retry_after_ms, DAY - (T0 + 4 * SEC) % DAY);
    assert_int_equal(recs.write, SV_SEND_REC_DAY);
    assert_int_equal(recs.day.refused, 1);
    assert_int_equal(recs.day.sent, 3);
    assert_memory_equal(&recs.phone, &before.phone, sizeof(recs.phone));
    assert_memory_equal(&recs.addr, &before.addr, sizeof(recs.addr));

    s = send_limited_at(T0 + 5 * SEC);
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_BUDGET);
    assert_false(s.budget_first);
    assert_int_equal(recs.day.refused, 2);
}


static void
test_limits_day_turns(void **state)
{
    int64_t         midnight;
    sv_send_t       s;
    sv_send_recs_t  recs;

    (void) state;
    memset(&recs, 0, sizeof(recs));

    midnight = (T0 / DAY + 1) * DAY;
    recs.day.day = T0 / DAY;
    recs.day.sent = 3;
    recs.day.refused = 5;

    /* yesterday's count is not today's */
    s = send_limited_at(midnight);
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_OK);
    assert_int_equal(recs.day.day, T0 / DAY + 1);
    assert_int_equal(recs.day.sent, 1);
    assert_int_equal(recs.day.refused, 0);

    assert_false(sv_rules_day_gone(&recs.day, midnight + DAY - 1));
    assert_true(sv_rules_day_gone(&recs.day, midnight + DAY));

    sv_rules_day_abort(&recs.day);
    assert_int_equal(recs.day.sent, 0);
    sv_rules_day_abort(&recs.day);
    assert_int_equal(recs.day.sent, 0);
}


/* The address keeps its sends for the longest window, not the caller's. */
static void
test_limits_addr_keep(void **state)
{
    sv_send_t       s;
    sv_send_recs_t  recs;

    (void) state;
    memset(&recs, 0, sizeof(recs));

    s = send_limited_at(T0);
    s.addr_window_ms = MIN;
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_OK);

    memset(&recs.phone, 0, sizeof(recs.phone));
    s = send_limited_at(T0 + HOUR);
    s.addr_window_ms = MIN;
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_OK);
    assert_int_equal(recs.addr.count, 2);
    assert_int_equal(recs.addr.keep_until_ms, T0 + 3 * HOUR);

    /* past the keep, the first goes */
    memset(&recs.phone, 0, sizeof(recs.phone));
    s = send_limited_at(T0 + 2 * HOUR);
    s.addr_window_ms = MIN;
    assert_int_equal(sv_rules_send_limits(&recs, &s), SV_STORE_OK);
    assert_int_equal(recs.addr.count, 2);
    assert_int_equal(recs.addr.stamps[0], T0 + HOUR);
}


static void
test_day_key(void **state)
{
    char  key[SV_DAY_KEY_SIZE];

    (void) state;

    assert_int_equal(sv_rules_day(T0), 19675);
    assert_int_equal(sv_rules_day(0), 0);
    assert_int_equal(sv_rules_day(DAY - 1), 0);
    assert_int_equal(sv_rules_day(-1), -1);

    sv_rules_day_key(19675, key);
    assert_string_equal(key, "2023-11-14");
    sv_rules_day_key(0, key);
    assert_string_equal(key, "1970-01-01");
    sv_rules_day_key(sv_rules_day(951782400000LL), key);
    assert_string_equal(key, "2000-02-29");
}


/* Codes. */

static sv_code_rec_t
code(int h, int64_t expires, uint32_t attempts)
{
    sv_code_rec_t  rec;

    memset(rec.hash, h, SV_HASH_SIZE);
    rec.expires_ms = expires;
    rec.attempts_left = attempts;
    rec.purpose = SV_PURPOSE_SIGNUP;

    return rec;
}


static sv_store_rc_t
guess(sv_code_rec_t *rec, int h, int64_t now)
{
    uint8_t  hash[SV_HASH_SIZE];

    memset(hash, h, SV_HASH_SIZE);

    return sv_rules_guess(rec, hash, now);
}


static void
test_guess(void **state)
{
    sv_code_rec_t  rec;

    (void) state;

    rec = code(0x11, T0 + 3 * MIN, 3);
    assert_int_equal(guess(&rec, 0x11, T0), SV_STORE_OK);
    assert_int_equal(rec.attempts_left, 3);

    assert_int_equal(guess(&rec, 0x12, T0), SV_STORE_MISMATCH);
    assert_int_equal(rec.attempts_left, 2);
    assert_int_equal(guess(&rec, 0x12, T0), SV_STORE_MISMATCH);
    assert_int_equal(rec.attempts_left, 1);
    assert_int_equal(guess(&rec, 0x12, T0), SV_STORE_BURNT);
    assert_int_equal(rec.attempts_left, 0);

    /* one byte off is a mismatch */
    rec = code(0x11, T0 + 3 * MIN, 3);
    {
        uint8_t  hash[SV_HASH_SIZE];

        memset(hash, 0x11, SV_HASH_SIZE);
        hash[SV_HASH_SIZE - 1] ^= 1;
        assert_int_equal(sv_rules_guess(&rec, hash, T0), SV_STORE_MISMATCH);
    }

    /* a record with no attempt left burns on any wrong guess */
    rec = code(0x11, T0 + 3 * MIN, 0);
    assert_int_equal(guess(&rec, 0x12, T0), SV_STORE_BURNT);
}


static void
test_guess_expired(void **state)
{
    sv_code_rec_t  rec;

    (void) state;

    rec = code(0x11, T0 + 3 * MIN, 3);
    assert_int_equal(guess(&rec, 0x11, T0 + 3 * MIN - 1), SV_STORE_OK);
    assert_int_equal(guess(&rec, 0x11, T0 + 3 * MIN), SV_STORE_EXPIRED);

    /* an expired guess costs no attempt */
    assert_int_equal(guess(&rec, 0x12, T0 + 3 * MIN), SV_STORE_EXPIRED);
    assert_int_equal(rec.attempts_left, 3);
}


static void
test_code_gone(void **state)
{
    sv_code_rec_t  rec;

    (void) state;

    rec = code(0x11, T0, 3);
    assert_false(sv_rules_code_gone(&rec, T0 - 1, 0));
    assert_true(sv_rules_code_gone(&rec, T0, 0));
    assert_false(sv_rules_code_gone(&rec, T0 + HOUR - 1, HOUR));
    assert_true(sv_rules_code_gone(&rec, T0 + HOUR, HOUR));
}


/* Tokens. */

static int
signup_valid(const sv_token_rec_t *rec, const char *phone, int64_t now)
{
    return sv_rules_token_valid(rec, phone, SV_PURPOSE_SIGNUP, now);
}


static void
test_token_valid(void **state)
{
    sv_token_rec_t  rec;

    (void) state;

    sv_rules_token_new(&rec, PHONE_A, SV_PURPOSE_SIGNUP, T0 + 30 * MIN);
    assert_int_equal(rec.failures, 0);
    assert_int_equal(rec.phone_len, strlen(PHONE_A));

    assert_true(signup_valid(&rec, PHONE_A, T0));
    assert_true(signup_valid(&rec, PHONE_A, T0 + 30 * MIN - 1));
    assert_false(signup_valid(&rec, PHONE_A, T0 + 30 * MIN));

    /* another phone, a prefix of it, one longer */
    assert_false(signup_valid(&rec, "+821087654321", T0));
    assert_false(signup_valid(&rec, "+8210123456", T0));
    assert_false(signup_valid(&rec, PHONE_A "9", T0));

    assert_false(sv_rules_token_gone(&rec, T0 + 30 * MIN - 1));
    assert_true(sv_rules_token_gone(&rec, T0 + 30 * MIN));
}


static void
test_token_refused(void **state)
{
    unsigned        i;
    sv_token_rec_t  rec;

    (void) state;

    sv_rules_token_new(&rec, PHONE_A, SV_PURPOSE_SIGNUP, T0 + 30 * MIN);

    for (i = 1; i < SV_TOKEN_FAILURES_MAX; i++) {
        assert_false(sv_rules_token_refused(&rec));
        assert_int_equal(rec.failures, i);
        assert_true(signup_valid(&rec, PHONE_A, T0));
    }

    assert_true(sv_rules_token_refused(&rec));
}


/* Purposes. */

static void
test_purpose_phone(void **state)
{
    (void) state;

    /* a signup code for a free phone, a reset code for a member's */
    assert_int_equal(sv_rules_phone_for(SV_PURPOSE_SIGNUP, 0), SV_STORE_OK);
    assert_int_equal(sv_rules_phone_for(SV_PURPOSE_SIGNUP, 1),
                     SV_STORE_PHONE_TAKEN);
    assert_int_equal(sv_rules_phone_for(SV_PURPOSE_RESET, 1), SV_STORE_OK);
    assert_int_equal(sv_rules_phone_for(SV_PURPOSE_RESET, 0),
                     SV_STORE_NOT_MEMBER);
}


static void
test_purpose_confirm_taken(void **state)
{
    sv_code_rec_t  rec;

    (void) state;

    rec = code(0x11, T0 + 3 * MIN, 3);

    /* no code for a member's phone: taken, as before there were resets */
    assert_true(sv_rules_confirm_taken(NULL, 1));
    assert_false(sv_rules_confirm_taken(NULL, 0));

    assert_true(sv_rules_confirm_taken(&rec, 1));
    assert_false(sv_rules_confirm_taken(&rec, 0));

    rec.purpose = SV_PURPOSE_RESET;
    assert_false(sv_rules_confirm_taken(&rec, 1));
    assert_false(sv_rules_confirm_taken(&rec, 0));
}


static void
test_token_purpose(void **state)
{
    sv_token_rec_t  rec;

    (void) state;

    sv_rules_token_new(&rec, PHONE_A, SV_PURPOSE_RESET, T0 + 30 * MIN);
    assert_int_equal(rec.purpose, SV_PURPOSE_RESET);
    assert_true(sv_rules_token_valid(&rec, PHONE_A, SV_PURPOSE_RESET, T0));
    assert_false(sv_rules_token_valid(&rec, PHONE_A, SV_PURPOSE_SIGNUP, T0));

    sv_rules_token_new(&rec, PHONE_A, SV_PURPOSE_SIGNUP, T0 + 30 * MIN);
    assert_false(sv_rules_token_valid(&rec, PHONE_A, SV_PURPOSE_RESET, T0));
}


/* Logins: the API's default, 5 failures in 15 minutes. */

static sv_login_t
login_at(int64_t now)
{
    sv_login_t  l;

    memset(&l, 0, sizeof(l));
    l.account = "e:kim@example.com";
    l.now_ms = now;
    l.limit = 5;
    l.window_ms = 15 * MIN;
    l.retry_after_ms = -1;

    return l;
}


static sv_store_rc_t
login_allowed(const sv_login_rec_t *rec, int64_t now, int64_t *retry)
{
    sv_login_t     l;
    sv_store_rc_t  rc;

    l = login_at(now);
    rc = sv_rules_login_allowed(rec, &l);
    *retry = l.retry_after_ms;

    return rc;
}


static void
login_failed(sv_login_rec_t *rec, int64_t now)
{
    sv_login_t  l;

    l = login_at(now);
    sv_rules_login_failed(rec, &l);
}


static void
test_login_lock(void **state)
{
    int            i;
    int64_t        retry;
    sv_login_rec_t rec;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    for (i = 0; i < 4; i++) {
        assert_int_equal(login_allowed(&rec, T0 + i * MIN, &retry),
                         SV_STORE_OK);
        login_failed(&rec, T0 + i * MIN);
    }

    assert_int_equal(login_allowed(&rec, T0 + 4 * MIN, &retry), SV_STORE_OK);
    assert_int_equal(retry, -1);
    login_failed(&rec, T0 + 4 * MIN);
    assert_int_equal(rec.count, 5);
    assert_int_equal(rec.keep_until_ms, T0 + 4 * MIN + 15 * MIN);

    /* locked until the oldest failure leaves the window */
    assert_int_equal(login_allowed(&rec, T0 + 5 * MIN, &retry),
                     SV_STORE_LOCKED);
    assert_int_equal(retry, 10 * MIN);
    assert_int_equal(login_allowed(&rec, T0 + 15 * MIN - 1, &retry),
                     SV_STORE_LOCKED);
    assert_int_equal(retry, 1);
    assert_int_equal(login_allowed(&rec, T0 + 15 * MIN, &retry),
                     SV_STORE_OK);

    /* a failure then drops those that left the window */
    login_failed(&rec, T0 + 16 * MIN);
    assert_int_equal(rec.count, 4);
    assert_int_equal(rec.stamps[0], T0 + 2 * MIN);
    assert_int_equal(rec.stamps[3], T0 + 16 * MIN);
}


/* Racing logins counted more failures than the limit: all must leave. */
static void
test_login_over_limit(void **state)
{
    int            i;
    int64_t        retry;
    sv_login_rec_t rec;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    for (i = 0; i < 7; i++) {
        login_failed(&rec, T0 + i * SEC);
    }

    /* 7 in the window: 3 must go for 4 to be left, the third at T0+2s */
    assert_int_equal(login_allowed(&rec, T0 + MIN, &retry), SV_STORE_LOCKED);
    assert_int_equal(retry, 2 * SEC + 15 * MIN - MIN);
    assert_int_equal(login_allowed(&rec, T0 + 2 * SEC + 15 * MIN, &retry),
                     SV_STORE_OK);
}


static void
test_login_window_full(void **state)
{
    int            i;
    int64_t        retry;
    sv_login_t     l;
    sv_login_rec_t rec;

    (void) state;
    memset(&rec, 0, sizeof(rec));

    /* a limit as high as any: the record keeps the newest stamps */
    l = login_at(T0);
    l.limit = SV_LOGIN_LIMIT_MAX;
    l.window_ms = HOUR;

    for (i = 0; i < SV_LOGIN_LIMIT_MAX + 3; i++) {
        l.now_ms = T0 + i;
        sv_rules_login_failed(&rec, &l);
    }

    assert_int_equal(rec.count, SV_WINDOW_MAX);
    assert_int_equal(rec.stamps[0], T0 + 3);

    l.now_ms = T0 + MIN;
    assert_int_equal(sv_rules_login_allowed(&rec, &l), SV_STORE_LOCKED);
    assert_int_equal(l.retry_after_ms, 3 + HOUR - MIN);

    assert_false(sv_rules_window_gone(&rec, T0 + SV_LOGIN_LIMIT_MAX + 2
                                            + HOUR - 1));
    assert_true(sv_rules_window_gone(&rec, T0 + SV_LOGIN_LIMIT_MAX + 2
                                           + HOUR));
    (void) retry;
}


/* Sessions: 7 days, idle after a day. */

static sv_session_rec_t
session(void)
{
    sv_session_t      s;
    sv_session_rec_t  rec;
    uint8_t           hash[SV_HASH_SIZE];

    memset(hash, 0x5e, sizeof(hash));
    memset(&s, 0, sizeof(s));
    s.hash = hash;
    s.member_id = 17;
    s.epoch = 2;
    s.now_ms = T0;
    s.expires_ms = T0 + 7 * 24 * HOUR;
    s.idle_ms = 24 * HOUR;

    sv_rules_session_new(&rec, &s);

    return rec;
}


static sv_member_info_t
member_of(uint64_t id, uint32_t epoch)
{
    sv_member_info_t  m;

    memset(&m, 0, sizeof(m));
    m.id = id;
    m.epoch = epoch;

    return m;
}


static sv_store_rc_t
session_get(const sv_session_rec_t *rec, const sv_member_info_t *m,
    int64_t now, sv_session_get_t *g)
{
    memset(g, 0, sizeof(*g));
    g->now_ms = now;
    g->expires_in_ms = -1;
    g->stale = -1;

    return sv_rules_session_get(rec, m, g);
}


static void
test_session_new(void **state)
{
    sv_session_rec_t  rec;

    (void) state;

    rec = session();
    assert_int_equal(rec.member_id, 17);
    assert_int_equal(rec.epoch, 2);
    assert_int_equal(rec.created_ms, T0);
    assert_int_equal(rec.last_used_ms, T0);
    assert_int_equal(rec.expires_ms, T0 + 7 * 24 * HOUR);
    assert_int_equal(rec.idle_ms, 24 * HOUR);
}


static void
test_session_idle_and_stale(void **state)
{
    sv_session_rec_t  rec;
    sv_member_info_t  m;
    sv_session_get_t  g;

    (void) state;

    rec = session();
    m = member_of(17, 2);

    /* fresh: the idle limit is the sooner end */
    assert_int_equal(session_get(&rec, &m, T0, &g), SV_STORE_OK);
    assert_int_equal(g.expires_in_ms, 24 * HOUR);
    assert_int_equal(g.stale, 0);

    /* a tenth of idle is not yet stale; a moment more is */
    assert_int_equal(session_get(&rec, &m, T0 + 144 * MIN, &g),
                     SV_STORE_OK);
    assert_int_equal(g.stale, 0);
    assert_int_equal(session_get(&rec, &m, T0 + 144 * MIN + 1, &g),
                     SV_STORE_OK);
    assert_int_equal(g.stale, 1);
    assert_int_equal(g.expires_in_ms, 24 * HOUR);

    /* idle for a day: ended, and a use does not bring it back */
    assert_int_equal(session_get(&rec, &m, T0 + 24 * HOUR - 1, &g),
                     SV_STORE_OK);
    assert_int_equal(session_get(&rec, &m, T0 + 24 * HOUR, &g),
                     SV_STORE_NO_SESSION);
    assert_true(sv_rules_session_ended(&rec, T0 + 24 * HOUR));
    assert_int_equal(sv_rules_session_touch(&rec, T0 + 24 * HOUR), 0);

    /* a use moves the idle limit on */
    rec = session();
    assert_int_equal(sv_rules_session_touch(&rec, T0 + 20 * HOUR), 1);
    assert_int_equal(rec.last_used_ms, T0 + 20 * HOUR);
    assert_int_equal(session_get(&rec, &m, T0 + 30 * HOUR, &g),
                     SV_STORE_OK);
    assert_int_equal(g.expires_in_ms, 24 * HOUR);   /* if used now */
    assert_int_equal(g.stale, 1);
    assert_int_equal(session_get(&rec, &m, T0 + 44 * HOUR, &g),
                     SV_STORE_NO_SESSION);

    /* a touch from a clock that went back keeps the later use */
    assert_int_equal(sv_rules_session_touch(&rec, T0 + 10 * HOUR), 1);
    assert_int_equal(rec.last_used_ms, T0 + 20 * HOUR);
}


static void
test_session_expires(void **state)
{
    int               day;
    sv_session_rec_t  rec;
    sv_member_info_t  m;
    sv_session_get_t  g;

    (void) state;

    rec = session();
    m = member_of(17, 2);

    /* used every 20 hours: the absolute TTL ends it all the same */
    for (day = 1; day * 20 * HOUR < 7 * 24 * HOUR; day++) {
        assert_int_equal(sv_rules_session_touch(&rec, T0 + day * 20 * HOUR),
                         1);
    }

    assert_int_equal(session_get(&rec, &m, T0 + 7 * 24 * HOUR - HOUR, &g),
                     SV_STORE_OK);
    assert_int_equal(g.expires_in_ms, HOUR);
    assert_int_equal(session_get(&rec, &m, T0 + 7 * 24 * HOUR, &g),
                     SV_STORE_NO_SESSION);
    assert_true(sv_rules_session_ended(&rec, T0 + 7 * 24 * HOUR));
    assert_false(sv_rules_session_ended(&rec, T0 + 7 * 24 * HOUR - 1));
}


static void
test_session_member(void **state)
{
    sv_session_rec_t  rec;
    sv_member_info_t  m;
    sv_session_get_t  g;

    (void) state;

    rec = session();

    /* gone, of another epoch (a reset: later; or older), another id */
    assert_int_equal(session_get(&rec, NULL, T0, &g), SV_STORE_NO_SESSION);
    m = member_of(17, 3);
    assert_int_equal(session_get(&rec, &m, T0, &g), SV_STORE_NO_SESSION);
    m = member_of(17, 1);
    assert_int_equal(session_get(&rec, &m, T0, &g), SV_STORE_NO_SESSION);
    m = member_of(18, 2);
    assert_int_equal(session_get(&rec, &m, T0, &g), SV_STORE_NO_SESSION);
    m = member_of(17, 2);
    assert_int_equal(session_get(&rec, &m, T0, &g), SV_STORE_OK);
}


/* Members. */

static void
test_rehash_and_reset(void **state)
{
    sv_member_info_t  m;

    (void) state;

    m = member_of(17, 0);
    strcpy(m.password_hash, "$2b$10$old");

    /* compare and set: only from the hash the login verified */
    assert_int_equal(sv_rules_rehash(&m, "$2b$10$other", "$2b$12$new"), 0);
    assert_string_equal(m.password_hash, "$2b$10$old");
    assert_int_equal(sv_rules_rehash(&m, "$2b$10$old", "$2b$12$new"), 1);
    assert_string_equal(m.password_hash, "$2b$12$new");
    assert_int_equal(m.epoch, 0);

    sv_rules_reset(&m, "$2b$12$reset");
    assert_string_equal(m.password_hash, "$2b$12$reset");
    assert_int_equal(m.epoch, 1);
    sv_rules_reset(&m, "$2b$12$again");
    assert_int_equal(m.epoch, 2);
}


/* The webhook outbox's schedule. */

static void
test_outbox_schedule(void **state)
{
    static const int64_t  delays[] = {
        5 * SEC, 30 * SEC, 2 * MIN, 10 * MIN, HOUR, 6 * HOUR, 6 * HOUR
    };
    size_t   i;
    int64_t  now;

    (void) state;

    /* each failure: its delay after the failure, not after the last try */
    now = T0;

    for (i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
        assert_int_equal(sv_rules_outbox_retry_at(T0, (unsigned) i + 1,
                                                  now + 7),
                         now + 7 + delays[i]);
        now += delays[i];
    }

    /* every 6 h, however many attempts */
    assert_int_equal(sv_rules_outbox_retry_at(T0, 1000, T0 + HOUR),
                     T0 + 7 * HOUR);

    /* not yet tried: due now */
    assert_int_equal(sv_rules_outbox_retry_at(T0, 0, T0 + 9), T0 + 9);
}


static void
test_outbox_three_days(void **state)
{
    unsigned  attempts;
    int64_t   now, next, last;

    (void) state;

    assert_int_equal(sv_rules_outbox_retry_at(T0, 9, T0 + 72 * HOUR - 1),
                     T0 + 78 * HOUR - 1);
    assert_int_equal(sv_rules_outbox_retry_at(T0, 9, T0 + 72 * HOUR), -1);
    assert_int_equal(sv_rules_outbox_retry_at(T0, 1, T0 + 100 * HOUR), -1);

    /* a receiver that always fails, tried at each time the rule gives */
    now = T0;
    last = T0;

    for (attempts = 1; attempts < 1000; attempts++) {
        next = sv_rules_outbox_retry_at(T0, attempts, now);
        if (next < 0) {
            break;
        }

        last = now;
        now = next;
    }

    /* 5 s + 30 s + 2 min + 10 min + 1 h = 4355 s, then 6 h steps: the
     * 18th attempt, past the three days, is the last */
    assert_int_equal(attempts, 18);
    assert_int_equal(now, T0 + 4355 * SEC + 12 * 6 * HOUR);
    assert_true(now - T0 >= 72 * HOUR);
    assert_true(last - T0 < 72 * HOUR);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_send_first),
        cmocka_unit_test(test_send_resend_too_soon),
        cmocka_unit_test(test_send_limit),
        cmocka_unit_test(test_send_clock_back),
        cmocka_unit_test(test_send_limit_max),
        cmocka_unit_test(test_send_abort),
        cmocka_unit_test(test_send_gone),
        cmocka_unit_test(test_limits_count_all),
        cmocka_unit_test(test_limits_order_and_nothing_counted),
        cmocka_unit_test(test_limits_day_turns),
        cmocka_unit_test(test_limits_addr_keep),
        cmocka_unit_test(test_day_key),
        cmocka_unit_test(test_guess),
        cmocka_unit_test(test_guess_expired),
        cmocka_unit_test(test_code_gone),
        cmocka_unit_test(test_token_valid),
        cmocka_unit_test(test_token_refused),
        cmocka_unit_test(test_purpose_phone),
        cmocka_unit_test(test_purpose_confirm_taken),
        cmocka_unit_test(test_token_purpose),
        cmocka_unit_test(test_login_lock),
        cmocka_unit_test(test_login_over_limit),
        cmocka_unit_test(test_login_window_full),
        cmocka_unit_test(test_session_new),
        cmocka_unit_test(test_session_idle_and_stale),
        cmocka_unit_test(test_session_expires),
        cmocka_unit_test(test_session_member),
        cmocka_unit_test(test_rehash_and_reset),
        cmocka_unit_test(test_outbox_schedule),
        cmocka_unit_test(test_outbox_three_days),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
