/*
 * sv_code: codes, and the keyed hashes the store keeps of codes, tokens
 * and sessions.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>

#include <openssl/hmac.h>

#include "sv_code.h"


static const uint8_t  key[SV_KEY_SIZE] = "0123456789abcdef0123456789abcdef";
static const uint8_t  key2[SV_KEY_SIZE] = "fedcba9876543210fedcba9876543210";


/* HMAC-SHA256(k, domain "\0" value), computed apart from sv_code.c */
static void
reference_with(const uint8_t *k, const char *domain, const char *value,
    uint8_t *out)
{
    unsigned int   len;
    unsigned char  msg[256];
    size_t         dlen = strlen(domain) + 1, vlen = strlen(value);

    memcpy(msg, domain, dlen);
    memcpy(msg + dlen, value, vlen);

    HMAC(EVP_sha256(), k, SV_KEY_SIZE, msg, dlen + vlen, out, &len);
    assert_int_equal(len, SV_HASH_SIZE);
}


static void
reference(const char *domain, const char *value, uint8_t *out)
{
    reference_with(key, domain, value, out);
}


/* keys in turn, each hash as HMAC() gives it: a context keyed for one */
static void *
hash_in_turn(void *data)
{
    int             i;
    uint8_t         got[SV_HASH_SIZE], want[SV_HASH_SIZE];
    const uint8_t  *k;
    const char     *value = "the-same-value";

    (void) data;

    for (i = 0; i < 6; i++) {
        k = (i % 3 == 1) ? key2 : key;

        sv_session_hash(k, value, strlen(value), got);
        reference_with(k, "session", value, want);

        if (memcmp(got, want, SV_HASH_SIZE) != 0) {
            return (void *) 1;
        }

        /* the same key twice: the kept context starts afresh */

        sv_token_hash(k, value, strlen(value), got);
        reference_with(k, "token", value, want);

        if (memcmp(got, want, SV_HASH_SIZE) != 0) {
            return (void *) 1;
        }
    }

    return NULL;
}


/*
 * Keys of any length, more of them in turn than a thread keeps keyed,
 * and one longer than SHA-256's block: each MAC as HMAC() gives it.
 */
static void
test_hmac_any_key(void **state)
{
    int             i, k;
    size_t          lens[] = { 1, 7, 32, 64, 65, 200 };
    uint8_t         keys[6][200], got[SV_HASH_SIZE], want[SV_HASH_SIZE];
    unsigned int    len;
    const char     *msg = "POST /sms/v2/services/x/messages\n1700000000000\nAK";

    (void) state;

    for (k = 0; k < 6; k++) {
        memset(keys[k], 'a' + k, sizeof(keys[k]));
    }

    for (i = 0; i < 30; i++) {
        k = (i * 5) % 6;

        assert_int_equal(sv_hmac_sha256(keys[k], lens[k], msg, strlen(msg),
                                        got),
                         0);

        len = SV_HASH_SIZE;
        HMAC(EVP_sha256(), keys[k], (int) lens[k],
             (const unsigned char *) msg, strlen(msg), want, &len);
        assert_memory_equal(got, want, SV_HASH_SIZE);
    }
}


static void
test_hash_follows_the_key(void **state)
{
    void       *failed;
    pthread_t   tid;

    (void) state;

    assert_null(hash_in_turn(NULL));

    /* a thread of its own: its own context */

    assert_int_equal(pthread_create(&tid, NULL, hash_in_turn, NULL), 0);
    assert_int_equal(pthread_join(tid, &failed), 0);
    assert_null(failed);
}


static void
test_session_hash_is_keyed_hmac(void **state)
{
    uint8_t      got[SV_HASH_SIZE], want[SV_HASH_SIZE];
    const char  *value = "cWPw1Dq3l0Zx8Vb2Nk7Tq4Rs9Ya6Uf1He5Ji3Lo0Mp2";

    (void) state;

    sv_session_hash(key, value, strlen(value), got);
    reference("session", value, want);
    assert_memory_equal(got, want, SV_HASH_SIZE);
}


static void
test_session_and_token_hashes_differ(void **state)
{
    uint8_t      session[SV_HASH_SIZE], token[SV_HASH_SIZE];
    const char  *value = "the-same-43-characters-of-base64url-value-x";

    (void) state;

    /* a verification token can never be taken for a session */

    sv_session_hash(key, value, strlen(value), session);
    sv_token_hash(key, value, strlen(value), token);
    assert_memory_not_equal(session, token, SV_HASH_SIZE);
}


static void
test_tokens_are_fresh_base64url(void **state)
{
    size_t  i, j;
    char    a[SV_TOKEN_LEN + 1], b[SV_TOKEN_LEN + 1];

    (void) state;

    assert_int_equal(sv_token_generate(a), 0);
    assert_int_equal(sv_token_generate(b), 0);
    assert_int_equal(strlen(a), SV_TOKEN_LEN);
    assert_string_not_equal(a, b);

    for (i = 0; i < 2; i++) {
        const char  *t = i ? b : a;

        for (j = 0; j < SV_TOKEN_LEN; j++) {
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789-_",
                                   t[j]));
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_session_hash_is_keyed_hmac),
        cmocka_unit_test(test_session_and_token_hashes_differ),
        cmocka_unit_test(test_hash_follows_the_key),
        cmocka_unit_test(test_hmac_any_key),
        cmocka_unit_test(test_tokens_are_fresh_base64url),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
