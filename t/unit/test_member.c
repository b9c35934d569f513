/*
 * sv_member: MEMBER as the API writes it.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sv_member.h"


static sv_member_info_t
member(void)
{
    sv_member_info_t  m;

    memset(&m, 0, sizeof(m));
    m.id = 17;
    strcpy(m.email, "Kim@Example.com");
    strcpy(m.phone, "+821012345678");
    strcpy(m.nickname, "\xea\xb9\x80\xec\xb2\xa0\xec\x88\x98");
    strcpy(m.password_hash, "$2b$04$never.written.anywhere.by.the.member.json");
    m.terms[0] = 1;
    m.terms[1] = 2;
    m.nterms = 2;
    m.created_ms = 1796101200000;       /* 2026-12-01T05:00:00Z */

    return m;
}


static void
test_member_json(void **state)
{
    char              out[SV_MEMBER_JSON_MAX];
    size_t            len;
    sv_member_info_t  m = member();

    (void) state;

    len = sv_member_json(&m, out, sizeof(out));

    assert_string_equal(out,
        "\"memberId\":17,\"email\":\"Kim@Example.com\","
        "\"phoneNumber\":\"+821012345678\","
        "\"nickname\":\"\xea\xb9\x80\xec\xb2\xa0\xec\x88\x98\","
        "\"terms\":[1,2],\"createdAt\":\"2026-12-01T05:00:00Z\"");
    assert_int_equal(len, strlen(out));
    assert_null(strstr(out, "$2b$"));
}


static void
test_member_json_escapes(void **state)
{
    char              out[SV_MEMBER_JSON_MAX];
    sv_member_info_t  m = member();

    (void) state;

    strcpy(m.nickname, "a\"b\\c\x01\x7f");
    m.nterms = 0;

    assert_true(sv_member_json(&m, out, sizeof(out)) > 0);
    assert_non_null(strstr(out,
                           "\"nickname\":\"a\\\"b\\\\c\\u0001\\u007f\""));
    assert_non_null(strstr(out, "\"terms\":[]"));
}


static void
test_member_json_too_small(void **state)
{
    char              out[64];
    sv_member_info_t  m = member();

    (void) state;

    assert_int_equal(sv_member_json(&m, out, sizeof(out)), 0);
    assert_string_equal(out, "");
}


static void
test_member_json_longest_fits(void **state)
{
    char              out[SV_MEMBER_JSON_MAX];
    size_t            i;
    sv_member_info_t  m = member();

    (void) state;

    memset(m.email, 0x01, SV_STORE_EMAIL_MAX);
    m.email[SV_STORE_EMAIL_MAX] = '\0';
    memset(m.nickname, '"', SV_STORE_NICKNAME_MAX);
    m.nickname[SV_STORE_NICKNAME_MAX] = '\0';
    memset(m.phone, '9', SV_STORE_PHONE_MAX);
    m.phone[SV_STORE_PHONE_MAX] = '\0';
    m.id = UINT64_C(9223372036854775807);

    for (i = 0; i < SV_STORE_TERMS_MAX; i++) {
        m.terms[i] = -2147483647 - 1;
    }

    m.nterms = SV_STORE_TERMS_MAX;

    assert_true(sv_member_json(&m, out, sizeof(out)) > 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_member_json),
        cmocka_unit_test(test_member_json_escapes),
        cmocka_unit_test(test_member_json_too_small),
        cmocka_unit_test(test_member_json_longest_fits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
