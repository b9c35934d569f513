/*
 * sv_record: the records' bytes, each version that was ever written, and
 * the member's JSON text against cJSON's, which wrote it before.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
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
    rec.purpose = SV_PURPOSE_RESET;

    sv_code_rec_encode(&rec, p);

    /* version 2, attempts and expiry little-endian, purpose, the hash */
    assert_int_equal(p[0], 2);
    assert_memory_equal(p + 1, "\x05\x00\x00\x00", 4);
    assert_memory_equal(p + 5, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_int_equal(p[13], 1);
    assert_int_equal(p[14], 0xab);
    assert_int_equal(p[SV_CODE_REC_SIZE - 1], 0xab);

    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), 0);
    assert_memory_equal(&out.hash, &rec.hash, SV_HASH_SIZE);
    assert_int_equal(out.expires_ms, rec.expires_ms);
    assert_int_equal(out.attempts_left, 5);
    assert_int_equal(out.purpose, SV_PURPOSE_RESET);

    rec.purpose = SV_PURPOSE_SIGNUP;
    sv_code_rec_encode(&rec, p);
    assert_int_equal(p[13], 0);
    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), 0);
    assert_int_equal(out.purpose, SV_PURPOSE_SIGNUP);

    /* no other purpose, length or version */
    p[13] = 2;
    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), -1);
    p[13] = 0;
    assert_int_equal(sv_code_rec_decode(p, sizeof(p) - 1, &out), -1);
    p[0] = 3;
    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), -1);
    p[0] = 1;
    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), -1);
}


/* Version 1, written before there were resets: a signup code. */
static void
test_code_v1(void **state)
{
    size_t         i;
    uint8_t        p[SV_CODE_REC_SIZE_V1];
    sv_code_rec_t  out;

    (void) state;

    p[0] = 1;
    memcpy(p + 1, "\x03\x00\x00\x00", 4);

    for (i = 0; i < 8; i++) {
        p[5 + i] = (uint8_t) (T0 >> (8 * i));
    }

    memset(p + 13, 0xcd, SV_HASH_SIZE);

    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), 0);
    assert_int_equal(out.attempts_left, 3);
    assert_int_equal(out.expires_ms, T0);
    assert_int_equal(out.purpose, SV_PURPOSE_SIGNUP);
    assert_int_equal(out.hash[0], 0xcd);
    assert_int_equal(out.hash[SV_HASH_SIZE - 1], 0xcd);

    p[0] = 2;
    assert_int_equal(sv_code_rec_decode(p, sizeof(p), &out), -1);
}


/* Sends. */

static void
test_send_bytes(void **state)
{
    size_t         len;
    uint8_t        p[SV_WINDOW_REC_MAX];
    sv_send_rec_t  rec, out;

    (void) state;

    memset(&rec, 0, sizeof(rec));
    rec.keep_until_ms = T0 + 3600000;
    rec.count = 2;
    rec.stamps[0] = T0;
    rec.stamps[1] = T0 + 30000;

    len = sv_window_rec_encode(&rec, p);
    assert_int_equal(len, SV_WINDOW_REC_HEAD + 16);
    assert_int_equal(p[0], 1);
    assert_memory_equal(p + 1, "\x02\x00", 2);

    assert_int_equal(sv_window_rec_decode(p, len, &out), 0);
    assert_int_equal(out.count, 2);
    assert_int_equal(out.keep_until_ms, rec.keep_until_ms);
    assert_int_equal(out.stamps[0], T0);
    assert_int_equal(out.stamps[1], T0 + 30000);

    /* the count and the length must agree */
    assert_int_equal(sv_window_rec_decode(p, len - 8, &out), -1);
    assert_int_equal(sv_window_rec_decode(p, 3, &out), -1);

    /* an empty history is a record too */
    rec.count = 0;
    len = sv_window_rec_encode(&rec, p);
    assert_int_equal(sv_window_rec_decode(p, len, &out), 0);
    assert_int_equal(out.count, 0);

    /* more stamps than any limit keeps */
    p[1] = SV_SEND_LIMIT_MAX + 1;
    assert_int_equal(sv_window_rec_decode(p, SV_WINDOW_REC_HEAD
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
    rec.purpose = SV_PURPOSE_RESET;
    rec.phone_len = strlen(PHONE_A);
    memcpy(rec.phone, PHONE_A, rec.phone_len);

    len = sv_token_rec_encode(&rec, p);
    assert_int_equal(len, SV_TOKEN_REC_HEAD + strlen(PHONE_A));
    assert_int_equal(p[0], 3);
    assert_int_equal(p[9], 2);
    assert_int_equal(p[10], 1);
    assert_memory_equal(p + 11, PHONE_A, strlen(PHONE_A));

    assert_int_equal(sv_token_rec_decode(p, len, &out), 0);
    assert_int_equal(out.expires_ms, T0);
    assert_int_equal(out.failures, 2);
    assert_int_equal(out.purpose, SV_PURPOSE_RESET);
    assert_int_equal(out.phone_len, strlen(PHONE_A));
    assert_memory_equal(out.phone, PHONE_A, out.phone_len);

    /* no phone, or one longer than any; no other purpose or version */
    assert_int_equal(sv_token_rec_decode(p, SV_TOKEN_REC_HEAD, &out), -1);
    assert_int_equal(sv_token_rec_decode(p, 0, &out), -1);
    p[10] = 2;
    assert_int_equal(sv_token_rec_decode(p, len, &out), -1);
    p[10] = 1;
    p[0] = 4;
    assert_int_equal(sv_token_rec_decode(p, len, &out), -1);
}


/* Version 2, written before there were resets: a signup token. */
static void
test_token_v2(void **state)
{
    size_t          i;
    uint8_t         p[SV_TOKEN_REC_HEAD_V2 + SV_STORE_PHONE_MAX];
    sv_token_rec_t  out;

    (void) state;

    p[0] = 2;

    for (i = 0; i < 8; i++) {
        p[1 + i] = (uint8_t) (T0 >> (8 * i));
    }

    p[9] = 1;
    memcpy(p + SV_TOKEN_REC_HEAD_V2, PHONE_A, strlen(PHONE_A));

    assert_int_equal(sv_token_rec_decode(p, SV_TOKEN_REC_HEAD_V2
                                         + strlen(PHONE_A), &out),
                     0);
    assert_int_equal(out.expires_ms, T0);
    assert_int_equal(out.failures, 1);
    assert_int_equal(out.purpose, SV_PURPOSE_SIGNUP);
    assert_int_equal(out.phone_len, strlen(PHONE_A));
    assert_memory_equal(out.phone, PHONE_A, out.phone_len);
}


/* Sessions. */

static void
test_session_bytes(void **state)
{
    uint8_t           p[SV_SESSION_REC_SIZE];
    sv_session_rec_t  rec, out;

    (void) state;

    rec.member_id = 0x0102030405060708ULL;
    rec.epoch = 7;
    rec.created_ms = T0;
    rec.last_used_ms = T0 + 1;
    rec.expires_ms = T0 + 604800000;
    rec.idle_ms = 86400000;

    sv_session_rec_encode(&rec, p);
    assert_int_equal(p[0], 1);
    assert_memory_equal(p + 1, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_memory_equal(p + 9, "\x07\x00\x00\x00", 4);

    assert_int_equal(sv_session_rec_decode(p, sizeof(p), &out), 0);
    assert_true(out.member_id == rec.member_id);
    assert_int_equal(out.epoch, 7);
    assert_int_equal(out.created_ms, T0);
    assert_int_equal(out.last_used_ms, T0 + 1);
    assert_int_equal(out.expires_ms, T0 + 604800000);
    assert_int_equal(out.idle_ms, 86400000);

    assert_int_equal(sv_session_rec_decode(p, sizeof(p) - 1, &out), -1);
    p[0] = 2;
    assert_int_equal(sv_session_rec_decode(p, sizeof(p), &out), -1);
}


/* The budget's days. */

static void
test_day_bytes(void **state)
{
    uint8_t       p[SV_DAY_REC_SIZE];
    sv_day_rec_t  rec, out;

    (void) state;

    rec.day = 19675;                /* 2023-11-14 */
    rec.sent = 0x0102030405060708ULL;
    rec.refused = 3;

    sv_day_rec_encode(&rec, p);
    assert_int_equal(SV_DAY_REC_SIZE, 25);
    assert_int_equal(p[0], 1);
    assert_memory_equal(p + 1, "\xdb\x4c\x00\x00\x00\x00\x00\x00", 8);
    assert_memory_equal(p + 9, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_memory_equal(p + 17, "\x03\x00\x00\x00\x00\x00\x00\x00", 8);

    assert_int_equal(sv_day_rec_decode(p, sizeof(p), &out), 0);
    assert_int_equal(out.day, 19675);
    assert_true(out.sent == rec.sent);
    assert_int_equal(out.refused, 3);

    assert_int_equal(sv_day_rec_decode(p, sizeof(p) - 1, &out), -1);
    p[0] = 2;
    assert_int_equal(sv_day_rec_decode(p, sizeof(p), &out), -1);
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
    cJSON_AddNumberToObject(obj, "epoch", 0);

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
        "RSTUVWXYZ012\",\"terms\":[1,2,17],\"createdAt\":1700000000005,"
        "\"epoch\":0}");
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


/* What the seed's records and this code's read back as. */
static void
test_member_decode(void **state)
{
    char              *text;
    size_t             len;
    sv_member_t        m;
    sv_member_info_t   out;
    static const char  old[] =
        "{\"id\":12,\"email\":\"Kim@Example.com\",\"phone\":\"+821012345678\","
        "\"nickname\":\"\\ud64d\",\"passwordHash\":\"$2b$12$x\","
        "\"terms\":[1,2],\"createdAt\":1700000000005}";

    (void) state;

    /* a record of before the epoch: 0; no NUL needed after the text */
    text = malloc(sizeof(old) - 1);
    assert_non_null(text);
    memcpy(text, old, sizeof(old) - 1);
    assert_int_equal(sv_member_decode(text, sizeof(old) - 1, &out), 0);
    free(text);
    assert_int_equal(out.id, 12);
    assert_string_equal(out.email, "Kim@Example.com");
    assert_string_equal(out.phone, PHONE_A);
    assert_string_equal(out.nickname, "\xed\x99\x8d");
    assert_string_equal(out.password_hash, "$2b$12$x");
    assert_int_equal(out.nterms, 2);
    assert_int_equal(out.terms[0], 1);
    assert_int_equal(out.terms[1], 2);
    assert_int_equal(out.created_ms, T0 + 5);
    assert_int_equal(out.epoch, 0);

    /* this code's, changed, written again and read back */
    m = member();
    text = sv_member_encode(&m, 3, &len);
    assert_non_null(text);
    assert_int_equal(sv_member_decode(text, len, &out), 0);
    free(text);
    assert_int_equal(out.id, 3);
    assert_string_equal(out.nickname, m.nickname);
    assert_int_equal(out.nterms, 3);
    assert_int_equal(out.terms[2], 17);
    assert_int_equal(out.epoch, 0);

    out.epoch = 4000000000U;
    strcpy(out.password_hash, "$2b$10$new");
    text = sv_member_info_encode(&out, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, ",\"createdAt\":1700000000005,"
                                 "\"epoch\":4000000000}"));
    assert_int_equal(sv_member_decode(text, len, &out), 0);
    free(text);
    assert_int_equal(out.epoch, 4000000000U);
    assert_string_equal(out.password_hash, "$2b$10$new");
    assert_string_equal(out.email, "Kim@Example.com");
}


static void assert_not_member(const char *text);


/* cJSON's allocations: a member decoded again is not parsed again */
static size_t  cjson_allocs;


static void *
counting_malloc(size_t n)
{
    cjson_allocs++;
    return malloc(n);
}


static size_t
allocs_of_decode(const char *text, sv_member_info_t *out)
{
    cjson_allocs = 0;
    assert_int_equal(sv_member_decode(text, strlen(text), out), 0);

    return cjson_allocs;
}


#define MEMO_MEMBER(id, nick)                                               \
    "{\"id\":" id ",\"email\":\"memo@example.com\","                       \
    "\"phone\":\"+821012345678\",\"nickname\":\"" nick "\","              \
    "\"passwordHash\":\"$2b$12$x\",\"terms\":[1],"                         \
    "\"createdAt\":1700000000005,\"epoch\":2}"


static void
test_member_decode_memo(void **state)
{
    char              big[2048];
    size_t            n;
    cJSON_Hooks       hooks = { counting_malloc, free };
    sv_member_info_t  out;

    (void) state;

    cJSON_InitHooks(&hooks);

    assert_true(allocs_of_decode(MEMO_MEMBER("21", "a"), &out) > 0);
    assert_int_equal(out.id, 21);

    memset(&out, 0, sizeof(out));
    assert_int_equal(allocs_of_decode(MEMO_MEMBER("21", "a"), &out), 0);
    assert_int_equal(out.id, 21);
    assert_string_equal(out.email, "memo@example.com");
    assert_string_equal(out.nickname, "a");
    assert_string_equal(out.password_hash, "$2b$12$x");
    assert_int_equal(out.nterms, 1);
    assert_int_equal(out.created_ms, T0 + 5);
    assert_int_equal(out.epoch, 2);

    /* another member, then the first again: each its own */
    (void) allocs_of_decode(MEMO_MEMBER("22", "a"), &out);
    assert_int_equal(out.id, 22);
    (void) allocs_of_decode(MEMO_MEMBER("21", "a"), &out);
    assert_int_equal(out.id, 21);

    /* the record changed past its first bytes, not in length: anew */
    assert_true(allocs_of_decode(MEMO_MEMBER("21", "b"), &out) > 0);
    assert_string_equal(out.nickname, "b");
    assert_int_equal(allocs_of_decode(MEMO_MEMBER("21", "b"), &out), 0);
    assert_string_equal(out.nickname, "b");

    /* a failure is not kept: the same text fails again */
    assert_not_member(MEMO_MEMBER("1.5", "a"));
    assert_not_member(MEMO_MEMBER("1.5", "a"));

    /* longer than the memo keeps: parsed each time, right each time */
    n = (size_t) snprintf(big, sizeof(big), "{\"id\":23,\"email\":\"m@e.c\","
                          "\"phone\":\"+8210\",\"nickname\":\"n\","
                          "\"passwordHash\":\"h\",\"createdAt\":1,"
                          "\"terms\":[],\"padding\":\"");
    memset(big + n, 'x', 1600);
    strcpy(big + n + 1600, "\"}");
    assert_true(allocs_of_decode(big, &out) > 0);
    assert_true(allocs_of_decode(big, &out) > 0);
    assert_int_equal(out.id, 23);

    cJSON_InitHooks(NULL);
}


static void
assert_not_member(const char *text)
{
    sv_member_info_t  out;

    assert_int_equal(sv_member_decode(text, strlen(text), &out), -1);
}


static void
test_member_decode_refuses(void **state)
{
    char    big[512];
    size_t  i;

    (void) state;

    assert_not_member("");
    assert_not_member("[]");
    assert_not_member("{\"id\":1");

    /* a string missing, or of another type */
    assert_not_member("{\"id\":1,\"email\":\"a@b.c\",\"phone\":\"+8210\","
                      "\"passwordHash\":\"h\",\"terms\":[],\"createdAt\":1}");
    assert_not_member("{\"id\":1,\"email\":\"a@b.c\",\"phone\":\"+8210\","
                      "\"nickname\":5,\"passwordHash\":\"h\",\"terms\":[],"
                      "\"createdAt\":1}");

    /* an id that is not a whole number, a negative epoch */
    assert_not_member("{\"id\":1.5,\"email\":\"a@b.c\",\"phone\":\"+8210\","
                      "\"nickname\":\"n\",\"passwordHash\":\"h\",\"terms\":[],"
                      "\"createdAt\":1}");
    assert_not_member("{\"id\":1,\"email\":\"a@b.c\",\"phone\":\"+8210\","
                      "\"nickname\":\"n\",\"passwordHash\":\"h\",\"terms\":[],"
                      "\"createdAt\":1,\"epoch\":-1}");

    /* a hash longer than the store gives back */
    i = (size_t) snprintf(big, sizeof(big),
                          "{\"id\":1,\"email\":\"a@b.c\",\"phone\":\"+8210\","
                          "\"nickname\":\"n\",\"terms\":[],\"createdAt\":1,"
                          "\"passwordHash\":\"");
    memset(big + i, 'x', SV_STORE_HASH_MAX + 1);
    strcpy(big + i + SV_STORE_HASH_MAX + 1, "\"}");
    assert_not_member(big);

    /* one of the longest is fine */
    strcpy(big + i + SV_STORE_HASH_MAX, "\"}");
    {
        sv_member_info_t  out;

        assert_int_equal(sv_member_decode(big, strlen(big), &out), 0);
        assert_int_equal(strlen(out.password_hash), SV_STORE_HASH_MAX);
    }
}


static void
test_outbox_bytes(void **state)
{
    uint8_t             rec[SV_OUTBOX_REC_MAX];
    size_t              len;
    sv_lease_rec_t      lease, l2;
    sv_outbox_event_t   ev, back;

    (void) state;

    memset(&ev, 0, sizeof(ev));
    strcpy(ev.msg_id, "msg_00112233445566778899aabbccddeeff");
    strcpy(ev.type, "member.created");
    strcpy(ev.body, "{\"type\":\"member.created\"}");
    ev.len = strlen(ev.body);
    ev.attempts = 7;
    ev.created_ms = 1700000000000LL;
    ev.next_ms = 1700000005000LL;

    len = sv_outbox_rec_encode(&ev, rec);
    assert_int_equal(len, SV_OUTBOX_REC_HEAD + 14 + ev.len);
    assert_int_equal(rec[0], SV_OUTBOX_REC_VERSION);
    assert_int_equal(rec[1], 7);                /* little-endian */

    memset(&back, 0x55, sizeof(back));
    assert_int_equal(sv_outbox_rec_decode(rec, len, &back), 0);
    assert_int_equal(back.attempts, 7);
    assert_int_equal(back.created_ms, ev.created_ms);
    assert_int_equal(back.next_ms, ev.next_ms);
    assert_string_equal(back.msg_id, ev.msg_id);
    assert_string_equal(back.type, ev.type);
    assert_int_equal(back.len, ev.len);
    assert_string_equal(back.body, ev.body);

    /* short, another version, a type past the end */
    assert_int_equal(sv_outbox_rec_decode(rec, SV_OUTBOX_REC_HEAD - 1, &back),
                     -1);
    assert_int_equal(sv_outbox_rec_decode(rec, SV_OUTBOX_REC_HEAD + 3, &back),
                     -1);
    rec[0] = 2;
    assert_int_equal(sv_outbox_rec_decode(rec, len, &back), -1);

    /* an id of another length is not written */
    strcpy(ev.msg_id, "msg_1");
    assert_int_equal(sv_outbox_rec_encode(&ev, rec), 0);

    lease.id = 42;
    lease.until_ms = 1700000040000LL;
    lease.pid = 4242;
    sv_lease_rec_encode(&lease, rec);
    assert_int_equal(sv_lease_rec_decode(rec, SV_LEASE_REC_SIZE, &l2), 0);
    assert_int_equal(l2.id, 42);
    assert_int_equal(l2.until_ms, lease.until_ms);
    assert_int_equal(l2.pid, 4242);
    assert_int_equal(sv_lease_rec_decode(rec, SV_LEASE_REC_SIZE - 1, &l2),
                     -1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_code_bytes),
        cmocka_unit_test(test_code_v1),
        cmocka_unit_test(test_send_bytes),
        cmocka_unit_test(test_token_bytes),
        cmocka_unit_test(test_token_v1),
        cmocka_unit_test(test_token_v2),
        cmocka_unit_test(test_session_bytes),
        cmocka_unit_test(test_day_bytes),
        cmocka_unit_test(test_id_bytes),
        cmocka_unit_test(test_member_text),
        cmocka_unit_test(test_member_escapes),
        cmocka_unit_test(test_member_missing),
        cmocka_unit_test(test_member_decode),
        cmocka_unit_test(test_member_decode_refuses),
        cmocka_unit_test(test_member_decode_memo),
        cmocka_unit_test(test_outbox_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
