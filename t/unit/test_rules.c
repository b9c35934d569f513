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
    assert_false(sv_rules_send_gone(&rec, T0 + HOUR - 1));
    assert_true(sv_rules_send_gone(&rec, T0 + HOUR));
}


/* Codes. */

static sv_code_rec_t
code(int h, int64_t expires, uint32_t attempts)
{
    sv_code_rec_t  rec;

    memset(rec.hash, h, SV_HASH_SIZE);
    rec.expires_ms = expires;
    rec.attempts_left = attempts;

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

static void
test_token_valid(void **state)
{
    sv_token_rec_t  rec;

    (void) state;

    sv_rules_token_new(&rec, PHONE_A, T0 + 30 * MIN);
    assert_int_equal(rec.failures, 0);
    assert_int_equal(rec.phone_len, strlen(PHONE_A));

    assert_true(sv_rules_token_valid(&rec, PHONE_A, T0));
    assert_true(sv_rules_token_valid(&rec, PHONE_A, T0 + 30 * MIN - 1));
    assert_false(sv_rules_token_valid(&rec, PHONE_A, T0 + 30 * MIN));

    /* another phone, a prefix of it, one longer */
    assert_false(sv_rules_token_valid(&rec, "+821087654321", T0));
    assert_false(sv_rules_token_valid(&rec, "+8210123456", T0));
    assert_false(sv_rules_token_valid(&rec, PHONE_A "9", T0));

    assert_false(sv_rules_token_gone(&rec, T0 + 30 * MIN - 1));
    assert_true(sv_rules_token_gone(&rec, T0 + 30 * MIN));
}


static void
test_token_refused(void **state)
{
    unsigned        i;
    sv_token_rec_t  rec;

    (void) state;

    sv_rules_token_new(&rec, PHONE_A, T0 + 30 * MIN);

    for (i = 1; i < SV_TOKEN_FAILURES_MAX; i++) {
        assert_false(sv_rules_token_refused(&rec));
        assert_int_equal(rec.failures, i);
        assert_true(sv_rules_token_valid(&rec, PHONE_A, T0));
    }

    assert_true(sv_rules_token_refused(&rec));
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
        cmocka_unit_test(test_guess),
        cmocka_unit_test(test_guess_expired),
        cmocka_unit_test(test_code_gone),
        cmocka_unit_test(test_token_valid),
        cmocka_unit_test(test_token_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
