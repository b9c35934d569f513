/*
 * Unit tests of sv_phone.c: normalisation, country calling codes, the
 * national form and masking.
 */


#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sv_phone.h"
#include "bytes.h"


/* a string literal and its length, embedded NULs included */
#define S(s)  s, sizeof(s) - 1
#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))


typedef struct {
    const char  *in;
    size_t       len;
    const char  *e164;
} phone_case_t;

typedef struct {
    const char  *in;
    size_t       len;
} bad_case_t;

typedef struct {
    const char  *e164;
    const char  *out;
} map_case_t;


static const phone_case_t  valid_numbers[] = {

    /* Korean mobile numbers as typed at home */
    { S("010-1234-5678"), "+821012345678" },
    { S("01012345678"), "+821012345678" },
    { S("010 1234 5678"), "+821012345678" },
    { S("010.1234.5678"), "+821012345678" },
    { S("(010) 1234-5678"), "+821012345678" },
    { S("  010 - 1234 - 5678  "), "+821012345678" },
    { S("0-1-0-1-2-3-4-5-6-7-8"), "+821012345678" },
    { S("010-0000-0000"), "+821000000000" },
    { S("011-123-4567"), "+82111234567" },
    { S("011-1234-5678"), "+821112345678" },
    { S("016-123-4567"), "+82161234567" },
    { S("016-1234-5678"), "+821612345678" },
    { S("017-123-4567"), "+82171234567" },
    { S("017-1234-5678"), "+821712345678" },
    { S("018-123-4567"), "+82181234567" },
    { S("018-1234-5678"), "+821812345678" },
    { S("019-123-4567"), "+82191234567" },
    { S("0191234567"), "+82191234567" },
    { S("019-9876-5432"), "+821998765432" },

    /* the same under +82, with or without the trunk 0 */
    { S("+821012345678"), "+821012345678" },
    { S("+82 10 1234 5678"), "+821012345678" },
    { S("+82-10-1234-5678"), "+821012345678" },
    { S("+82.10.1234.5678"), "+821012345678" },
    { S("+82 010-1234-5678"), "+821012345678" },
    { S("+82 (0)10 1234 5678"), "+821012345678" },
    { S("+8201012345678"), "+821012345678" },
    { S("(+82) 10-1234-5678"), "+821012345678" },
    { S(" +82 10 1234 5678"), "+821012345678" },
    { S("+ 82 10 1234 5678"), "+821012345678" },
    { S("+82 11 123 4567"), "+82111234567" },
    { S("+82 011 123 4567"), "+82111234567" },
    { S("+82 19 1234 5678"), "+821912345678" },

    /* other countries */
    { S("+14155550123"), "+14155550123" },
    { S("+1 (415) 555-0123"), "+14155550123" },
    { S("+447911123456"), "+447911123456" },
    { S("+44 7911 123456"), "+447911123456" },
    { S("+81 90-1234-5678"), "+819012345678" },
    { S("+86 138 0013 8000"), "+8613800138000" },
    { S("+7 912 345-67-89"), "+79123456789" },
    { S("+33 6 12 34 56 78"), "+33612345678" },
    { S("+49 1512 3456789"), "+4915123456789" },
    { S("+20 10 1234 5678"), "+201012345678" },
    { S("+61 412 345 678"), "+61412345678" },
    { S("+84 91 234 56 78"), "+84912345678" },
    { S("+383 44 123 456"), "+38344123456" },
    { S("+380 50 123 4567"), "+380501234567" },
    { S("+998 90 123 45 67"), "+998901234567" },
    { S("+852 5123 4567"), "+85251234567" },
    { S("+886 912 345 678"), "+886912345678" },
    { S("+421 912 123 456"), "+421912123456" },
    { S("+211 912 345 678"), "+211912345678" },
    { S("+882 16 1234 5678"), "+8821612345678" },

    /* 8 and 15 digits */
    { S("+12345678"), "+12345678" },
    { S("+2012345678"), "+2012345678" },
    { S("+123456789012345"), "+123456789012345" },
    { S("+998 123 456 789 012"), "+998123456789012" },
};


static const bad_case_t  invalid_numbers[] = {

    /* nothing there */
    { S("") },
    { S(" ") },
    { S("-") },
    { S("()") },
    { S(" .-() ") },
    { S("+") },
    { S("+ ") },
    { S("+()") },

    /* wrong Korean mobile lengths and prefixes */
    { S("010-1234-567") },
    { S("010-1234-56789") },
    { S("010-123-4567") },
    { S("011-12-3456") },
    { S("011-12345-6789") },
    { S("016-123-456") },
    { S("019-12345-6789") },
    { S("012-1234-5678") },
    { S("013-1234-5678") },
    { S("014-1234-5678") },
    { S("015-1234-5678") },
    { S("0") },
    { S("01") },
    { S("010") },
    { S("0101234") },

    /* national numbers that are not Korean mobiles */
    { S("02-123-4567") },
    { S("02-1234-5678") },
    { S("031-123-4567") },
    { S("064-123-4567") },
    { S("070-1234-5678") },
    { S("080-123-4567") },
    { S("1588-1234") },
    { S("00-1012345678") },

    /* no "+": the trunk 0 or the "+" missing */
    { S("10-1234-5678") },
    { S("1012345678") },
    { S("82 10 1234 5678") },
    { S("821012345678") },
    { S("0082 10 1234 5678") },
    { S("001 415 555 0123") },
    { S("14155550123") },

    /* under +82, anything but a mobile */
    { S("+82 2 123 4567") },
    { S("+82 2 1234 5678") },
    { S("+82 02 1234 5678") },
    { S("+82 31 123 4567") },
    { S("+82 70 1234 5678") },
    { S("+82 80 123 4567") },
    { S("+82 15 1234 5678") },
    { S("+82 10 1234 567") },
    { S("+82 10 1234 56789") },
    { S("+82 11 12 3456") },
    { S("+82 11 12345 6789") },
    { S("+82 00 10 1234 5678") },
    { S("+82 0") },
    { S("+82") },
    { S("+8210") },

    /* E.164 form */
    { S("+0 123 456 789") },
    { S("+01234567890") },
    { S("+1234567") },
    { S("+1 234 567") },
    { S("+1234567890123456") },
    { S("+998 123 456 789 0123") },
    { S("0101234567801012345678") },
    { S("+1010101010101010101010101010101") },

    /* country calling codes that are not assigned */
    { S("+28 1234 5678") },
    { S("+210 1234 5678") },
    { S("+214 1234 5678") },
    { S("+259 1234 5678") },
    { S("+292 1234 5678") },
    { S("+384 1234 5678") },
    { S("+388 1234 5678") },
    { S("+422 1234 5678") },
    { S("+671 123 4567") },
    { S("+684 123 4567") },
    { S("+693 123 4567") },
    { S("+801 1234 5678") },
    { S("+89 1234 5678") },
    { S("+969 1234 5678") },
    { S("+978 1234 5678") },
    { S("+990 1234 5678") },
    { S("+991 1234 5678") },
    { S("+997 1234 5678") },
    { S("+999 1234 5678") },

    /* "+" where it does not belong */
    { S("++821012345678") },
    { S("+82+1012345678") },
    { S("010+12345678") },
    { S("01012345678+") },
    { S("+ +82 10 1234 5678") },

    /* characters that are not separators */
    { S("010-1234-567a") },
    { S("O10-1234-5678") },
    { S("tel:+821012345678") },
    { S("+82 10 1234 5678 ext 1") },
    { S("010/1234/5678") },
    { S("010_1234_5678") },
    { S("010,1234,5678") },
    { S("010\t1234\t5678") },
    { S("010\n1234\n5678") },
    { S("010\r\n12345678") },
    { S("[010] 1234 5678") },
    { S("010#12345678") },
    { S("*01012345678") },
    { S("010 1234 5678;") },
    { S("\xef\xbc\x90\xef\xbc\x91\xef\xbc\x90-1234-5678") },
    { S("010\xe2\x80\x93" "1234\xe2\x80\x93" "5678") },
    { S("010\xc2\xa0" "1234\xc2\xa0" "5678") },
    { S("\xff" "01012345678") },
    { S("01012345678\xff") },
    { S("\x80") },

    /* NUL bytes */
    { S("\0") },
    { S("010\0" "1234\0" "5678") },
    { S("01012345678\0") },
    { S("\0" "01012345678") },
    { S("+82\0" "1012345678") },
};


static void
test_normalize_valid(void **state)
{
    int     rc;
    char   *in, *out, buf[256];
    size_t  i;

    (void) state;

    for (i = 0; i < NELTS(valid_numbers); i++) {
        in = dup_exact(valid_numbers[i].in, valid_numbers[i].len);
        out = malloc(SV_PHONE_SIZE);
        assert_non_null(out);

        rc = sv_phone_normalize(in, valid_numbers[i].len, out);

        if (rc != 0 || strcmp(out, valid_numbers[i].e164) != 0) {
            fail_msg("\"%s\": rc %d, \"%s\", expected \"%s\"",
                     show(valid_numbers[i].in, valid_numbers[i].len, buf,
                          sizeof(buf)),
                     rc, rc == 0 ? out : "", valid_numbers[i].e164);
        }

        free(out);
        free(in);
    }
}


static void
test_normalize_invalid(void **state)
{
    int     rc;
    char   *in, out[SV_PHONE_SIZE], buf[256];
    size_t  i;

    (void) state;

    for (i = 0; i < NELTS(invalid_numbers); i++) {
        in = dup_exact(invalid_numbers[i].in, invalid_numbers[i].len);

        rc = sv_phone_normalize(in, invalid_numbers[i].len, out);

        if (rc != -1) {
            fail_msg("\"%s\": accepted as \"%s\"",
                     show(invalid_numbers[i].in, invalid_numbers[i].len, buf,
                          sizeof(buf)),
                     out);
        }

        free(in);
    }
}


/* the input ends at len, whatever follows it */

static void
test_normalize_reads_only_len(void **state)
{
    char  out[SV_PHONE_SIZE];

    (void) state;

    assert_int_equal(sv_phone_normalize("01012345678999", 11, out), 0);
    assert_string_equal(out, "+821012345678");

    assert_int_equal(sv_phone_normalize("010-1234-5678x", 13, out), 0);
    assert_string_equal(out, "+821012345678");

    assert_int_equal(sv_phone_normalize("01012345678", 10, out), -1);
    assert_int_equal(sv_phone_normalize("+14155550123", 0, out), -1);
    assert_int_equal(sv_phone_normalize("+14155550123", 1, out), -1);
}


static void
test_normalize_one_phone_one_form(void **state)
{
    char    first[SV_PHONE_SIZE], other[SV_PHONE_SIZE];
    size_t  i;

    static const char  *forms[] = {
        "010-1234-5678", "01012345678", "+82 10 1234 5678",
        "+82 010 1234 5678", "+821012345678", "(010) 1234.5678"
    };

    (void) state;

    assert_int_equal(sv_phone_normalize(forms[0], strlen(forms[0]), first),
                     0);

    for (i = 1; i < NELTS(forms); i++) {
        assert_int_equal(sv_phone_normalize(forms[i], strlen(forms[i]),
                                            other), 0);
        assert_string_equal(other, first);
    }
}


/* normalising a normalised number changes nothing */

static void
test_normalize_idempotent(void **state)
{
    char    once[SV_PHONE_SIZE], twice[SV_PHONE_SIZE];
    size_t  i;

    (void) state;

    for (i = 0; i < NELTS(valid_numbers); i++) {
        assert_int_equal(sv_phone_normalize(valid_numbers[i].in,
                                            valid_numbers[i].len, once), 0);
        assert_int_equal(sv_phone_normalize(once, strlen(once), twice), 0);
        assert_string_equal(once, twice);
    }
}


static void
test_country_code_len(void **state)
{
    size_t  i;

    static const struct {
        const char  *e164;
        size_t       len;
    } cases[] = {
        { "+14155550123", 1 },
        { "+79123456789", 1 },
        { "+821012345678", 2 },
        { "+447911123456", 2 },
        { "+201012345678", 2 },
        { "+27821234567", 2 },
        { "+98912345678", 2 },
        { "+211912345678", 3 },
        { "+38344123456", 3 },
        { "+380501234567", 3 },
        { "+998901234567", 3 },
        { "+80012345678", 3 },
        { "+88216123456", 3 },
        { "+979123456789", 3 },
        { "+1", 1 },
        { "+82", 2 },
        { "+211", 3 },
        { "+28123456789", 0 },
        { "+21012345678", 0 },
        { "+42212345678", 0 },
        { "+99912345678", 0 },
        { "+0123456789", 0 },
        { "+8", 0 },
        { "+21", 0 },
        { "+", 0 },
        { "", 0 },
        { "821012345678", 0 },
        { "01012345678", 0 },
        { "+8a", 0 },
        { "+a1", 0 },
        { "++1", 0 },
    };

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        if (sv_phone_country_code_len(cases[i].e164) != cases[i].len) {
            fail_msg("\"%s\": %zu, expected %zu", cases[i].e164,
                     sv_phone_country_code_len(cases[i].e164),
                     cases[i].len);
        }
    }
}


/* spot checks of the table against the ITU list, zone by zone */

static void
test_country_code_table(void **state)
{
    char        e164[16];
    size_t      i, len;
    unsigned    code;

    static const unsigned  assigned3[] = {
        211, 212, 213, 216, 218, 220, 229, 230, 239, 240, 249, 250, 258,
        260, 269, 290, 291, 297, 298, 299, 350, 359, 370, 379, 380, 383,
        385, 387, 389, 420, 421, 423, 500, 509, 590, 599, 670, 672, 679,
        680, 683, 685, 689, 690, 692, 800, 808, 850, 852, 853, 855, 856,
        870, 878, 880, 881, 882, 883, 886, 888, 960, 968, 970, 977, 979,
        992, 993, 994, 995, 996, 998
    };

    static const unsigned  spare3[] = {
        210, 214, 215, 217, 219, 259, 280, 289, 292, 293, 294, 295, 296,
        384, 388, 422, 424, 429, 671, 684, 693, 699, 801, 807, 809, 851,
        854, 857, 859, 871, 877, 879, 884, 885, 887, 889, 890, 899, 969,
        978, 990, 991, 997, 999
    };

    static const unsigned  assigned2[] = {
        20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47,
        48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65,
        66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98
    };

    (void) state;

    for (i = 0; i < NELTS(assigned3); i++) {
        snprintf(e164, sizeof(e164), "+%u12345678", assigned3[i]);
        len = sv_phone_country_code_len(e164);

        if (len != 3) {
            fail_msg("+%u: %zu", assigned3[i], len);
        }
    }

    for (i = 0; i < NELTS(spare3); i++) {
        snprintf(e164, sizeof(e164), "+%u12345678", spare3[i]);
        len = sv_phone_country_code_len(e164);

        if (len != 0) {
            fail_msg("+%u: %zu", spare3[i], len);
        }
    }

    for (i = 0; i < NELTS(assigned2); i++) {
        snprintf(e164, sizeof(e164), "+%u12345678", assigned2[i]);
        len = sv_phone_country_code_len(e164);

        if (len != 2) {
            fail_msg("+%u: %zu", assigned2[i], len);
        }
    }

    /* every "+1..." and "+7..." is NANP or Russia and Kazakhstan */

    for (code = 100; code < 200; code++) {
        snprintf(e164, sizeof(e164), "+%u12345678", code);
        assert_int_equal(sv_phone_country_code_len(e164), 1);
        snprintf(e164, sizeof(e164), "+%u12345678", code + 600);
        assert_int_equal(sv_phone_country_code_len(e164), 1);
    }

    /* zone 0 does not exist */

    for (code = 0; code < 100; code++) {
        snprintf(e164, sizeof(e164), "+0%02u12345678", code);
        assert_int_equal(sv_phone_country_code_len(e164), 0);
    }
}


static void
test_country_allowed(void **state)
{
    static const char *const  korea[] = { "82" };
    static const char *const  several[] = { "1", "44", "82", "383" };
    static const char *const  prefixes[] = { "8", "821", "+82", "" };

    (void) state;

    assert_true(sv_phone_country_allowed("+821012345678", korea, 1));
    assert_false(sv_phone_country_allowed("+14155550123", korea, 1));
    assert_false(sv_phone_country_allowed("+8613800138000", korea, 1));

    assert_true(sv_phone_country_allowed("+14155550123", several, 4));
    assert_true(sv_phone_country_allowed("+447911123456", several, 4));
    assert_true(sv_phone_country_allowed("+821012345678", several, 4));
    assert_true(sv_phone_country_allowed("+38344123456", several, 4));
    assert_false(sv_phone_country_allowed("+33612345678", several, 4));
    assert_false(sv_phone_country_allowed("+79123456789", several, 4));

    /* the whole code, not a prefix of it or of the number */
    assert_false(sv_phone_country_allowed("+821012345678", prefixes, 4));
    assert_false(sv_phone_country_allowed("+380501234567", several, 4));

    assert_false(sv_phone_country_allowed("+821012345678", korea, 0));
    assert_false(sv_phone_country_allowed("+821012345678", NULL, 0));
    assert_false(sv_phone_country_allowed("+28123456789", several, 4));
    assert_false(sv_phone_country_allowed("", several, 4));
    assert_false(sv_phone_country_allowed("01012345678", korea, 1));
}


static void
test_national(void **state)
{
    char    out[SV_PHONE_SIZE];
    size_t  i;

    static const map_case_t  cases[] = {
        { "+821012345678", "01012345678" },
        { "+82111234567", "0111234567" },
        { "+821912345678", "01912345678" },
        { "+14155550123", "4155550123" },
        { "+447911123456", "7911123456" },
        { "+79123456789", "9123456789" },
        { "+38344123456", "44123456" },
        { "+8613800138000", "13800138000" },
        { "+123456789012345", "23456789012345" },
    };

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        sv_phone_national(cases[i].e164, out);
        assert_string_equal(out, cases[i].out);
    }
}


static void
test_mask(void **state)
{
    char    out[SV_PHONE_MASKED_SIZE];
    size_t  i;

    static const map_case_t  cases[] = {
        { "+821012345678", "+82 10-****-5678" },
        { "+821112345678", "+82 11-****-5678" },
        { "+82111234567", "+82 11-***-4567" },
        { "+82191234567", "+82 19-***-4567" },
        { "+821998765432", "+82 19-****-5432" },
        { "+14155550123", "+1 ******0123" },
        { "+79123456789", "+7 ******6789" },
        { "+447911123456", "+44 ******3456" },
        { "+8613800138000", "+86 *******8000" },
        { "+38344123456", "+383 ****3456" },
        { "+998901234567", "+998 *****4567" },
        { "+12345678", "+1 ***5678" },
        { "+123456789012345", "+1 **********2345" },
        { "+998123456789012", "+998 ********9012" },

        /* never normalised to these, but masked all the same */
        { "+8221234567", "+82 ****4567" },

        /* not E.164: nothing of it is shown */
        { "", "(invalid)" },
        { "+", "(invalid)" },
        { "01012345678", "(invalid)" },
        { "821012345678", "(invalid)" },
        { "+28123456789", "(invalid)" },
        { "+1234567", "(invalid)" },
        { "+1234567890123456", "(invalid)" },
        { "+0123456789", "(invalid)" },
        { "+8210-1234-5678", "(invalid)" },
    };

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        sv_phone_mask(cases[i].e164, out, sizeof(out));
        assert_string_equal(out, cases[i].out);
    }
}


static void
test_mask_truncates(void **state)
{
    char  out[SV_PHONE_MASKED_SIZE];

    (void) state;

    sv_phone_mask("+821012345678", out, 5);
    assert_string_equal(out, "+82 ");

    sv_phone_mask("+821012345678", out, 1);
    assert_string_equal(out, "");

    memset(out, 'x', sizeof(out));
    sv_phone_mask("+821012345678", out, 0);
    assert_int_equal(out[0], 'x');

    sv_phone_mask("+821012345678", out, 17);
    assert_string_equal(out, "+82 10-****-5678");

    sv_phone_mask("+821012345678", out, 16);
    assert_string_equal(out, "+82 10-****-567");
}


/*
 * Every accepted number masks to its country code and its last four
 * digits, plus the mobile prefix under +82.
 */

static void
test_mask_hides_the_middle(void **state)
{
    char    e164[SV_PHONE_SIZE], masked[SV_PHONE_MASKED_SIZE];
    size_t  i, j, n, m, cc, shown;

    (void) state;

    for (i = 0; i < NELTS(valid_numbers); i++) {
        assert_int_equal(sv_phone_normalize(valid_numbers[i].in,
                                            valid_numbers[i].len, e164), 0);

        sv_phone_mask(e164, masked, sizeof(masked));

        n = strlen(e164);
        m = strlen(masked);
        cc = sv_phone_country_code_len(e164);

        assert_memory_equal(masked, e164, 1 + cc);
        assert_int_equal(masked[1 + cc], ' ');
        assert_memory_equal(masked + m - 4, e164 + n - 4, 4);

        shown = 0;

        for (j = 1 + cc; j < m; j++) {
            shown += (masked[j] >= '0' && masked[j] <= '9');
        }

        assert_int_equal(shown, strncmp(e164, "+82", 3) == 0 ? 6 : 4);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_normalize_valid),
        cmocka_unit_test(test_normalize_invalid),
        cmocka_unit_test(test_normalize_reads_only_len),
        cmocka_unit_test(test_normalize_one_phone_one_form),
        cmocka_unit_test(test_normalize_idempotent),
        cmocka_unit_test(test_country_code_len),
        cmocka_unit_test(test_country_code_table),
        cmocka_unit_test(test_country_allowed),
        cmocka_unit_test(test_national),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_mask_truncates),
        cmocka_unit_test(test_mask_hides_the_middle),
    };

    return cmocka_run_group_tests_name("sv_phone", tests, NULL, NULL);
}
