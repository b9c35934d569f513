/*
 * sv_record: the records' bytes, each version that was ever written, and
 * the member's JSON text against cJSON's, which wrote it before.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sv_record.h"


#define T0          1700000000000LL
#define PHONE_A     "+821012345678"


/* Codes. */

static void
test_code_bytes(void **state)
{
    uint8_t        p[SV_CODE_REC_SIZE];
    sv_code_rec_t  rec, out;

    (void) state;

    memset(rec.hash, 0xab, SV_HASH_SIZE);
    rec.expires_ms = 0x0102030405060708LL;
    rec.attempts_left = 5;

    sv_code_rec_encode(&rec, p);

    /* version 1, attempts and expiry little-endian, then the hash */
    assert_int_equal(p[0], 1);
    assert_memory_equal(p + 1, "\x05\x00\x00\x00", 4);
    assert_memory_equal(p + 5, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_int_equal(p[13], 0xab);
    assert_int_equal(p[SV_CODE_REC_SIZE - 1], 0xab);

    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), 0);
    assert_memory_equal(&out.hash, &rec.hash, SV_HASH_SIZE);
    assert_int_equal(out.expires_ms, rec.expires_ms);
    assert_int_equal(out.attempts_left, 5);

    assert_int_equal(sv_code_rec_decode(p, sizeof(p) - 1, &out), -1);
    p[0] = 2;
    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), -1);
}


/* Sends. */

static void
test_send_bytes(void **state)
{
    size_t         len;
    uint8_t        p[SV_SEND_REC_MAX];
    sv_send_rec_t  rec, out;

    (void) state;

    memset(&rec, 0, sizeof(rec));
    rec.keep_until_ms = T0 + 3600000;
    rec.count = 2;
    rec.stamps[0] = T0;
    rec.stamps[1] = T0 + 30000;

    len = sv_send_rec_encode(&rec, p);
    assert_int_equal(len, SV_SEND_REC_HEAD + 16);
    assert_int_equal(p[0], 1);
    assert_memory_equal(p + 1, "\x02\x00", 2);

    assert_int_equal(sv_send_rec_decode(p, len, &out), 0);
    assert_int_equal(out.count, 2);
    assert_int_equal(out.keep_until_ms, rec.keep_until_ms);
    assert_int_equal(out.stamps[0], T0);
    assert_int_equal(out.stamps[1], T0 + 30000);

    /* the count and the length must agree */
    assert_int_equal(sv_send_rec_decode(p, len - 8, &out), -1);
    assert_int_equal(sv_send_rec_decode(p, 3, &out), -1);

    /* an empty history is a record too */
    rec.count = 0;
    len = sv_send_rec_encode(&rec, p);
    assert_int_equal(sv_send_rec_decode(p, len, &out), 0);
    assert_int_equal(out.count, 0);

    /* more stamps than any limit keeps */
    p[1] = SV_SEND_LIMIT_MAX + 1;
    assert_int_equal(sv_send_rec_decode(p, SV_SEND_REC_HEAD
                                        + 8 * (SV_SEND_LIMIT_MAX + 1), &out),
                     -1);
}


/* Tokens. */

static void
test_token_bytes(void **state)
{
    size_t          len;
    uint8_t         p[SV_TOKEN_REC_MAX];
    sv_token_rec_t  rec, out;

    (void) state;

    rec.expires_ms = T0;
    rec.failures = 2;
    rec.phone_len = strlen(PHONE_A);
    memcpy(rec.phone, PHONE_A, rec.phone_len);

    len = sv_token_rec_encode(&rec, p);
    assert_int_equal(len, SV_TOKEN_REC_HEAD + strlen(PHONE_A));
    assert_int_equal(p[0], SV_TOKEN_REC_VERSION);
    assert_int_equal(p[9], 2);

    assert_int_equal(sv_token_rec_decode(p, len, &out), 0);
    assert_int_equal(out.expires_ms, T0);
    assert_int_equal(out.failures, 2);
    assert_int_equal(out.phone_len, strlen(PHONE_A));
    assert_memory_equal(out.phone, PHONE_A, out.phone_len);

    /* no phone, or one longer than any */
    assert_int_equal(sv_token_rec_decode(p, SV_TOKEN_REC_HEAD, &out), -1);
    assert_int_equal(sv_token_rec_decode(p, 0, &out), -1);
    p[0] = 3;
    assert_int_equal(sv_token_rec_decode(p, len, &out), -1);
}


/* Version 1, written before signups were counted against a token. */
static void
test_token_v1(void **state)
{
    size_t          i;
    uint8_t         p[SV_TOKEN_REC_HEAD_V1 + SV_STORE_PHONE_MAX + 1];
    sv_token_rec_t  out;

    (void) state;

    p[0] = 1;

    for (i = 0; i < 8; i++) {
        p[1 + i] = (uint8_t) (T0 >> (8 * i));
    }

    memcpy(p + SV_TOKEN_REC_HEAD_V1, PHONE_A, strlen(PHONE_A));

    assert_int_equal(sv_token_rec_decode(p, SV_TOKEN_REC_HEAD_V1
                                         + strlen(PHONE_A), &out),
                     0);
    assert_int_equal(out.expires_ms, T0);
    assert_int_equal(out.failures, 0);
    assert_int_equal(out.phone_len, strlen(PHONE_A));
    assert_memory_equal(out.phone, PHONE_A, out.phone_len);

    assert_int_equal(sv_token_rec_decode(p, SV_TOKEN_REC_HEAD_V1
                                         + SV_STORE_PHONE_MAX + 1, &out),
                     -1);
}


/* Ids sort as their keys do: big-endian. */
static void
test_id_bytes(void **state)
{
    uint8_t   p[SV_ID_SIZE];
    uint64_t  id;

    (void) state;

    sv_id_encode(0x0102030405060708ULL, p);
    assert_memory_equal(p, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_int_equal(sv_id_decode(p, 8, &id), 0);
    assert_true(id == 0x0102030405060708ULL);

    sv_id_encode(256, p);
    assert_memory_equal(p, "\0\0\0\0\0\0\x01\x00", 8);

    assert_int_equal(sv_id_decode(p, 7, &id), -1);
}


/* Members. */

static cJSON *
member_cjson(const sv_member_t *m, uint64_t id)
{
    size_t   i;
    cJSON   *obj, *arr;

    obj = cJSON_CreateObject();
    assert_non_null(obj);

    cJSON_AddNumberToObject(obj, "id", (double) id);
    cJSON_AddStringToObject(obj, "email", m->email);
    cJSON_AddStringToObject(obj, "phone", m->phone);
    cJSON_AddStringToObject(obj, "nickname", m->nickname);
    cJSON_AddStringToObject(obj, "passwordHash", m->password_hash);
    arr = cJSON_AddArrayToObject(obj, "terms");

    for (i = 0; i < m->nterms; i++) {
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(m->terms[i]));
    }

    cJSON_AddNumberToObject(obj, "createdAt", (double) m->now_ms);

    return obj;
}


/* What sv_member_encode() writes is what cJSON wrote, byte for byte. */
static void
assert_as_cjson(const sv_member_t *m, uint64_t id)
{
    char    *text, *ref;
    cJSON   *obj;
    size_t   len;

    text = sv_member_encode(m, id, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));

    obj = member_cjson(m, id);
    ref = cJSON_PrintUnformatted(obj);
    assert_non_null(ref);

    assert_string_equal(text, ref);

    free(ref);
    cJSON_Delete(obj);
    free(text);
}


static sv_member_t
member(void)
{
    static const int  terms[] = { 1, 2, 17 };
    sv_member_t       m;

    memset(&m, 0, sizeof(m));
    m.email = "Kim@Example.com";
    m.email_key = "kim@example.com";
    m.phone = PHONE_A;
    m.nickname = "\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99";   /* Hong Gildong */
    m.password_hash = "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTU"
                      "VWXYZ012";
    m.terms = terms;
    m.nterms = 3;
    m.now_ms = T0 + 5;

    return m;
}


static void
test_member_text(void **state)
{
    char         *text;
    size_t        len;
    sv_member_t   m;

    (void) state;

    m = member();
    text = sv_member_encode(&m, 1, &len);
    assert_non_null(text);
    assert_string_equal(text,
        "{\"id\":1,\"email\":\"Kim@Example.com\",\"phone\":\"+821012345678\","
        "\"nickname\":\"\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99\","
        "\"passwordHash\":\"$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQ"
        "RSTUVWXYZ012\",\"terms\":[1,2,17],\"createdAt\":1700000000005}");
    free(text);

    assert_as_cjson(&m, 1);
    assert_as_cjson(&m, 4294967296ULL);
    assert_as_cjson(&m, 999999999999999ULL);

    m.nterms = 0;
    assert_as_cjson(&m, 2);
}


/* Every byte a string may hold escapes as cJSON escaped it. */
static void
test_member_escapes(void **state)
{
    int           c;
    char          s[256];
    size_t        n;
    sv_member_t   m;

    (void) state;

    n = 0;

    for (c = 1; c < 256; c++) {
        s[n++] = (char) c;
    }

    s[n] = '\0';

    m = member();
    m.nickname = s;
    assert_as_cjson(&m, 3);

    m = member();
    m.email = "a\"b\\c/d@example.com";
    m.password_hash = "";
    assert_as_cjson(&m, 4);
}


static void
test_member_missing(void **state)
{
    size_t        len;
    sv_member_t   m;

    (void) state;

    m = member();
    m.nickname = NULL;
    assert_null(sv_member_encode(&m, 1, &len));

    m = member();
    m.password_hash = NULL;
    assert_null(sv_member_encode(&m, 1, &len));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_code_bytes),
        cmocka_unit_test(test_send_bytes),
        cmocka_unit_test(test_token_bytes),
        cmocka_unit_test(test_token_v1),
        cmocka_unit_test(test_id_bytes),
        cmocka_unit_test(test_member_text),
        cmocka_unit_test(test_member_escapes),
        cmocka_unit_test(test_member_missing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
