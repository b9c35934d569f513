/*
 * sv_json: what a body must be, and reading members with their types.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sv_json.h"


static cJSON *
parse(const char *s)
{
    return sv_json_parse_object(s, strlen(s));
}


static void
test_objects_only(void **state)
{
    size_t       i;
    cJSON       *json;
    const char  *bad[] = {
        "", " ", "[]", "[1,2]", "\"x\"", "42", "null", "true", "{",
        "{\"a\":}", "{\"a\":1,}", "{'a':1}", "{\"a\":\"\xff\"}",
        "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"x\\u0000y\"}", "{\"a\":\"\\u0000\"}", "{} {}",
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json = parse(bad[i]);
        if (json != NULL) {
            cJSON_Delete(json);
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }

    json = parse("{\"a\":\"\\\\u0000\"}");      /* an escaped backslash */
    assert_non_null(json);
    cJSON_Delete(json);

    json = parse(" {\"a\":\"김철수\",\"b\":[1,{\"c\":null}]} ");
    assert_non_null(json);
    cJSON_Delete(json);
}


/*
 * Found by t/fuzz (fuzz_body): cJSON keeps raw control characters in
 * strings and decodes a "\u" without four hex digits as U+0000, so that
 * "abc12345<NUL>junk" and "abc12345\uZZZZjunk" passed for "abc12345";
 * it also skips control characters between tokens.
 */

static void
test_hidden_bytes(void **state)
{
    size_t       i, len;
    cJSON       *json;
    const char  *s;

    static const struct {
        const char  *text;
        size_t       len;
    } bad[] = {
#define B(s)  { s, sizeof(s) - 1 }
        B("{\"a\":\"abc12345\0junk\"}"),
        B("{\"a\":\"\0\"}"),
        B("{\"a\":\"x\x01y\"}"),
        B("{\"a\":\"x\ty\"}"),
        B("{\"a\":\"x\ny\"}"),
        B("{\"a\":\"x\x1fy\"}"),
        B("{\"a\":\"abc12345\\uZZZZjunk\"}"),
        B("{\"a\":\"\\u000g\"}"),
        B("{\"a\":\"\\u-123\"}"),
        B("{\"a\":\"\\u12\"}"),
        B("{\"a\":\"\\u\"}"),
        B("{\"a\":\"\\ud800\\uZZZZ\"}"),
        B("{\"a\":\"\\\\\\u0000\"}"),
        B("{\x01\"a\":1}"),
        B("{\"a\":1\0}"),
        B("{\"a\":1}\0"),
        B("\x0c{\"a\":1}"),
#undef B
    };

    (void) state;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json = sv_json_parse_object(bad[i].text, bad[i].len);
        if (json != NULL) {
            cJSON_Delete(json);
            fail_msg("accepted bad[%zu]", i);
        }
    }

    /* white space, escapes that look alike, and hex in either case */

    json = parse("\t{\r\n\"a\" :\t\"\\\\uZZZZ\\u00e9\\u00E9\\/\\\"\"}\n");
    assert_non_null(json);
    assert_int_equal(sv_json_string(json, "a", &s, &len), SV_JSON_OK);
    assert_string_equal(s, "\\uZZZZ\xc3\xa9\xc3\xa9/\"");
    cJSON_Delete(json);
}


static void
test_length_is_respected(void **state)
{
    cJSON       *json;
    const char   text[] = "{\"a\":1}garbage";

    (void) state;

    json = sv_json_parse_object(text, 7);
    assert_non_null(json);
    cJSON_Delete(json);

    assert_null(sv_json_parse_object(text, 6));
}


static void
test_strings(void **state)
{
    cJSON       *json;
    size_t       len;
    const char  *s;

    (void) state;

    json = parse("{\"a\":\"010\",\"b\":null,\"c\":10,\"d\":[],\"e\":\"\","
                 "\"a\":\"second\"}");
    assert_non_null(json);

    assert_int_equal(sv_json_string(json, "a", &s, &len), SV_JSON_OK);
    assert_string_equal(s, "010");
    assert_int_equal(len, 3);

    assert_int_equal(sv_json_string(json, "b", &s, &len), SV_JSON_MISSING);
    assert_int_equal(sv_json_string(json, "z", &s, &len), SV_JSON_MISSING);
    assert_int_equal(sv_json_string(json, "A", &s, &len), SV_JSON_MISSING);
    assert_int_equal(sv_json_string(json, "c", &s, &len), SV_JSON_WRONG_TYPE);
    assert_int_equal(sv_json_string(json, "d", &s, &len), SV_JSON_WRONG_TYPE);

    assert_int_equal(sv_json_string(json, "e", &s, &len), SV_JSON_OK);
    assert_int_equal(len, 0);

    cJSON_Delete(json);
}


static void
test_int_sets(void **state)
{
    int      out[4];
    size_t   n;
    cJSON   *json;

    (void) state;

    json = parse("{\"t\":[1,2,2,-4,1],\"e\":[],\"f\":[1.5],\"s\":[\"1\"],"
                 "\"big\":[3e9],\"o\":{},\"m\":[1,2,3,4,5],\"n\":null,"
                 "\"x\":[2147483647,-2147483648]}");
    assert_non_null(json);

    assert_int_equal(sv_json_int_set(json, "t", out, 4, &n), SV_JSON_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_int_equal(out[2], -4);

    assert_int_equal(sv_json_int_set(json, "e", out, 4, &n), SV_JSON_OK);
    assert_int_equal(n, 0);

    assert_int_equal(sv_json_int_set(json, "x", out, 4, &n), SV_JSON_OK);
    assert_int_equal(out[0], 2147483647);
    assert_int_equal(out[1], -2147483647 - 1);

    assert_int_equal(sv_json_int_set(json, "f", out, 4, &n),
                     SV_JSON_WRONG_TYPE);
    assert_int_equal(sv_json_int_set(json, "s", out, 4, &n),
                     SV_JSON_WRONG_TYPE);
    assert_int_equal(sv_json_int_set(json, "big", out, 4, &n),
                     SV_JSON_WRONG_TYPE);
    assert_int_equal(sv_json_int_set(json, "o", out, 4, &n),
                     SV_JSON_WRONG_TYPE);
    assert_int_equal(sv_json_int_set(json, "m", out, 4, &n),
                     SV_JSON_WRONG_TYPE);
    assert_int_equal(sv_json_int_set(json, "n", out, 4, &n),
                     SV_JSON_MISSING);
    assert_int_equal(sv_json_int_set(json, "none", out, 4, &n),
                     SV_JSON_MISSING);

    cJSON_Delete(json);
}


/* Every string of the tree, keys too, nested or not, is zeroes. */
static void
assert_zeroed(const cJSON *item)
{
    for (/* void */; item != NULL; item = item->next) {
        if (item->string != NULL) {
            assert_int_equal(item->string[0], '\0');
        }

        if (item->valuestring != NULL) {
            assert_int_equal(item->valuestring[0], '\0');
        }

        assert_zeroed(item->child);
    }
}


static void
test_wipe(void **state)
{
    static const char  body[] =
        "{\"email\":\"kim@example.com\",\"password\":\"s3cret-pass\","
        "\"nested\":{\"deep\":[\"a1b2c3\",{\"k\":\"v\"}]},\"n\":5}";

    cJSON       *json;
    const char  *pw;
    size_t       len, i;

    (void) state;

    json = parse(body);
    assert_non_null(json);
    assert_int_equal(sv_json_string(json, "password", &pw, &len), SV_JSON_OK);
    assert_int_equal(len, 11);

    sv_json_wipe(json);

    /* the bytes themselves, not just the first */
    for (i = 0; i < len; i++) {
        assert_int_equal(pw[i], '\0');
    }

    assert_zeroed(json);
    cJSON_Delete(json);

    sv_json_wipe(NULL);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_objects_only),
        cmocka_unit_test(test_hidden_bytes),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_int_sets),
        cmocka_unit_test(test_wipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
