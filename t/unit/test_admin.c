/*
 * sv_admin: the admin API's NDJSON lines, written by export and read
 * back by import.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sv_admin.h"


#define HASH  "$2b$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"


static sv_member_info_t
member(void)
{
    sv_member_info_t  m;

    memset(&m, 0, sizeof(m));
    m.id = 17;
    strcpy(m.email, "Kim@Example.com");
    strcpy(m.phone, "+821012345678");
    strcpy(m.nickname, "\xea\xb9\x80\"\\");
    strcpy(m.password_hash, HASH);
    m.terms[0] = 1;
    m.terms[1] = 2;
    m.nterms = 2;
    m.created_ms = 1796101200000;       /* 2026-12-01T05:00:00Z */

    return m;
}


static void
test_export_line(void **state)
{
    char              out[SV_EXPORT_LINE_MAX];
    size_t            len;
    sv_member_info_t  m = member();

    (void) state;

    len = sv_export_line(&m, 0, out, sizeof(out));
    assert_string_equal(out,
        "{\"memberId\":17,\"email\":\"Kim@Example.com\","
        "\"phoneNumber\":\"+821012345678\","
        "\"nickname\":\"\xea\xb9\x80\\\"\\\\\",\"terms\":[1,2],"
        "\"createdAt\":\"2026-12-01T05:00:00Z\"}\n");
    assert_int_equal(len, strlen(out));

    len = sv_export_line(&m, 1, out, sizeof(out));
    assert_non_null(strstr(out, ",\"passwordHash\":\"" HASH "\"}\n"));
    assert_int_equal(len, strlen(out));
    assert_ptr_equal(strchr(out, '\n'), out + len - 1);
}


static void
test_export_line_too_small(void **state)
{
    char              out[SV_EXPORT_LINE_MAX];
    size_t            len, n;
    sv_member_info_t  m = member();

    (void) state;

    len = sv_export_line(&m, 1, out, sizeof(out));

    for (n = 0; n <= len; n++) {
        assert_int_equal(sv_export_line(&m, 1, out, n), 0);
    }

    assert_int_equal(sv_export_line(&m, 1, out, len + 1), len);

    /* a stored hash that would need escaping is not written */
    strcpy(m.password_hash, "a\"b");
    assert_int_equal(sv_export_line(&m, 1, out, sizeof(out)), 0);
}


static void
test_export_line_longest_fits(void **state)
{
    char              out[SV_EXPORT_LINE_MAX];
    size_t            i;
    sv_member_info_t  m;

    (void) state;

    memset(&m, 0, sizeof(m));
    m.id = 9007199254740991ULL;
    memset(m.email, 0x01, SV_STORE_EMAIL_MAX);
    memset(m.phone, '9', SV_STORE_PHONE_MAX);
    memset(m.nickname, 0x01, SV_STORE_NICKNAME_MAX);
    memset(m.password_hash, 'x', SV_STORE_HASH_MAX);
    m.nterms = SV_STORE_TERMS_MAX;
    m.created_ms = 253402300799000LL;

    for (i = 0; i < m.nterms; i++) {
        m.terms[i] = -2147483647 - 1;
    }

    assert_true(sv_export_line(&m, 1, out, sizeof(out)) > 0);
}


/* The export's line read back by import: the same member. */
static void
test_import_round_trip(void **state)
{
    char              out[SV_EXPORT_LINE_MAX];
    size_t            len;
    const char       *field;
    sv_member_info_t  m = member(), got;

    (void) state;

    len = sv_export_line(&m, 1, out, sizeof(out));

    assert_int_equal(sv_import_line(out, len - 1, &got, &field), SV_LINE_OK);
    assert_null(field);
    assert_int_equal(got.id, 17);
    assert_string_equal(got.email, m.email);
    assert_string_equal(got.phone, m.phone);
    assert_string_equal(got.nickname, m.nickname);
    assert_string_equal(got.password_hash, HASH);
    assert_int_equal(got.nterms, 2);
    assert_int_equal(got.terms[1], 2);
    assert_int_equal(got.created_ms, m.created_ms);
}


static sv_line_rc_t
line(const char *text, const char **field)
{
    sv_member_info_t  m;

    return sv_import_line(text, strlen(text), &m, field);
}


#define L(id, email, phone, nick, terms, at, hash)                            \
    "{\"memberId\":" id ",\"email\":" email ",\"phoneNumber\":" phone         \
    ",\"nickname\":" nick ",\"terms\":" terms ",\"createdAt\":" at            \
    ",\"passwordHash\":" hash "}"

#define OK_ID     "3"
#define OK_EMAIL  "\"a@example.com\""
#define OK_PHONE  "\"010-1234-5678\""
#define OK_NICK   "\"kim\""
#define OK_TERMS  "[1]"
#define OK_AT     "\"2026-12-01T05:00:00Z\""
#define OK_HASH   "\"" HASH "\""


static void
test_import_fields(void **state)
{
    const char        *field;
    sv_member_info_t   m;

    static const struct {
        const char     *text;
        sv_line_rc_t    rc;
        const char     *field;
    } cases[] = {
        { L(OK_ID, OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_OK, NULL },
        { L("null", OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_MISSING_FIELD, "memberId" },
        { L("\"3\"", OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_INVALID_FIELD, "memberId" },
        { L("0", OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_INVALID_FIELD, "memberId" },
        { L("2.5", OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_INVALID_FIELD, "memberId" },
        { L("9007199254740992", OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT,
            OK_HASH),
          SV_LINE_INVALID_FIELD, "memberId" },
        { L("1e400", OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_INVALID_FIELD, "memberId" },
        { L(OK_ID, "\"nope\"", OK_PHONE, OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_INVALID_EMAIL, NULL },
        { L(OK_ID, "1", OK_PHONE, OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_INVALID_FIELD, "email" },
        { L(OK_ID, OK_EMAIL, "\"12\"", OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_INVALID_PHONE, NULL },
        { L(OK_ID, OK_EMAIL, "null", OK_NICK, OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_MISSING_FIELD, "phoneNumber" },
        { L(OK_ID, OK_EMAIL, OK_PHONE, "\"\"", OK_TERMS, OK_AT, OK_HASH),
          SV_LINE_INVALID_NICKNAME, NULL },
        { L(OK_ID, OK_EMAIL, OK_PHONE, "\"a\\u0007\"", OK_TERMS, OK_AT,
            OK_HASH),
          SV_LINE_INVALID_NICKNAME, NULL },
        { L(OK_ID, OK_EMAIL, OK_PHONE, OK_NICK, "[\"1\"]", OK_AT, OK_HASH),
          SV_LINE_INVALID_FIELD, "terms" },
        { L(OK_ID, OK_EMAIL, OK_PHONE, OK_NICK, "null", OK_AT, OK_HASH),
          SV_LINE_MISSING_FIELD, "terms" },
        { L(OK_ID, OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS,
            "\"2026-12-01T05:00:00\"", OK_HASH),
          SV_LINE_INVALID_FIELD, "createdAt" },
        { L(OK_ID, OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, "0", OK_HASH),
          SV_LINE_INVALID_FIELD, "createdAt" },
        { L(OK_ID, OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT, "null"),
          SV_LINE_MISSING_FIELD, "passwordHash" },
        { L(OK_ID, OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS, OK_AT,
            "\"$2b$04$short\""),
          SV_LINE_INVALID_FIELD, "passwordHash" },
        { "[1]", SV_LINE_INVALID_JSON, NULL },
        { "{\"memberId\":1", SV_LINE_INVALID_JSON, NULL },
        { "{\"a\":\"\\u0000\"}", SV_LINE_INVALID_JSON, NULL },
        { "{\"a\":\"\xff\"}", SV_LINE_INVALID_JSON, NULL },
        { "", SV_LINE_INVALID_JSON, NULL },
        { "{}", SV_LINE_MISSING_FIELD, "memberId" },
    };

    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        field = "unset";
        assert_int_equal(line(cases[i].text, &field), cases[i].rc);

        if (cases[i].field == NULL) {
            assert_true(field == NULL || cases[i].rc != SV_LINE_OK);

        } else {
            assert_string_equal(field, cases[i].field);
        }
    }

    /* the phone in any accepted form is kept E.164 */
    assert_int_equal(sv_import_line(cases[0].text, strlen(cases[0].text), &m,
                                    &field),
                     SV_LINE_OK);
    assert_string_equal(m.phone, "+821012345678");
}


static void
test_import_line_max(void **state)
{
    char        buf[SV_IMPORT_LINE_MAX + 2];
    size_t      n;
    const char *field;
    sv_member_info_t  m;

    (void) state;

    /* a line of exactly the most is read, one byte more is not */
    n = (size_t) snprintf(buf, sizeof(buf), "%s",
                          L(OK_ID, OK_EMAIL, OK_PHONE, OK_NICK, OK_TERMS,
                            OK_AT, OK_HASH));
    memmove(buf + SV_IMPORT_LINE_MAX - n, buf, n);
    memset(buf, ' ', SV_IMPORT_LINE_MAX - n);

    assert_int_equal(sv_import_line(buf, SV_IMPORT_LINE_MAX, &m, &field),
                     SV_LINE_OK);

    memmove(buf + 1, buf, SV_IMPORT_LINE_MAX);
    buf[0] = ' ';
    assert_int_equal(sv_import_line(buf, SV_IMPORT_LINE_MAX + 1, &m, &field),
                     SV_LINE_INVALID_JSON);
}


static void
test_time_parse(void **state)
{
    int64_t  ms;

    (void) state;

    assert_int_equal(sv_admin_time_parse("2026-12-01T05:00:00Z", 20, &ms), 0);
    assert_int_equal(ms, 1796101200000LL);
    assert_int_equal(sv_admin_time_parse("1970-01-01T00:00:00Z", 20, &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(sv_admin_time_parse("2024-02-29T23:59:59Z", 20, &ms), 0);

    assert_int_equal(sv_admin_time_parse("2026-02-29T00:00:00Z", 20, &ms),
                     -1);
    assert_int_equal(sv_admin_time_parse("2026-04-31T00:00:00Z", 20, &ms),
                     -1);
    assert_int_equal(sv_admin_time_parse("2026-12-01T24:00:00Z", 20, &ms),
                     -1);
    assert_int_equal(sv_admin_time_parse("2026-12-01T05:60:00Z", 20, &ms),
                     -1);
    assert_int_equal(sv_admin_time_parse("1969-12-31T23:59:59Z", 20, &ms),
                     -1);
    assert_int_equal(sv_admin_time_parse("2026-12-01T05:00:00+", 20, &ms),
                     -1);
    assert_int_equal(sv_admin_time_parse("2026-1a-01T05:00:00Z", 20, &ms),
                     -1);
    assert_int_equal(sv_admin_time_parse("2026-12-01T05:00:00Z", 19, &ms),
                     -1);
}


static void
test_hash_valid(void **state)
{
    char  h[64];

    (void) state;

    assert_true(sv_admin_hash_valid(HASH, strlen(HASH)));

    strcpy(h, HASH);
    h[2] = 'a';
    assert_true(sv_admin_hash_valid(h, 60));
    h[2] = 'y';
    assert_true(sv_admin_hash_valid(h, 60));
    h[2] = 'x';
    assert_false(sv_admin_hash_valid(h, 60));

    strcpy(h, HASH);
    memcpy(h + 4, "03", 2);
    assert_false(sv_admin_hash_valid(h, 60));
    memcpy(h + 4, "32", 2);
    assert_false(sv_admin_hash_valid(h, 60));
    memcpy(h + 4, "31", 2);
    assert_true(sv_admin_hash_valid(h, 60));

    strcpy(h, HASH);
    h[30] = '"';
    assert_false(sv_admin_hash_valid(h, 60));
    assert_false(sv_admin_hash_valid(HASH, 59));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_export_line),
        cmocka_unit_test(test_export_line_too_small),
        cmocka_unit_test(test_export_line_longest_fits),
        cmocka_unit_test(test_import_round_trip),
        cmocka_unit_test(test_import_fields),
        cmocka_unit_test(test_import_line_max),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_hash_valid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
