/*
 * Unit tests of sv_text.c: UTF-8, e-mail addresses, nicknames and EUC-KR
 * lengths.
 */


#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <iconv.h>

#include <cmocka.h>

#include "sv_text.h"
#include "bytes.h"


/* a string literal and its length, embedded NULs included */
#define S(s)  s, sizeof(s) - 1
#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))

#define DEFAULT_MESSAGE  "인증번호 [123456]를 입력해주세요."


typedef struct {
    const char  *in;
    size_t       len;
} text_case_t;


static const text_case_t  utf8_valid[] = {
    { S("") },
    { S("abc") },
    { S("\0") },
    { S("a\0b") },
    { S("\xc3\xa9") },                          /* U+00E9 */
    { S("\xed\x95\x9c\xea\xb8\x80") },          /* Korean */
    { S("\xe2\x82\xac") },                      /* U+20AC */
    { S("\xf0\x9f\x98\x80") },                  /* U+1F600 */
    { S("\x7f") },                              /* U+007F */
    { S("\xc2\x80") },                          /* U+0080 */
    { S("\xdf\xbf") },                          /* U+07FF */
    { S("\xe0\xa0\x80") },                      /* U+0800 */
    { S("\xed\x9f\xbf") },                      /* U+D7FF */
    { S("\xee\x80\x80") },                      /* U+E000 */
    { S("\xef\xbf\xbd") },                      /* U+FFFD */
    { S("\xef\xbf\xbf") },                      /* U+FFFF */
    { S("\xf0\x90\x80\x80") },                  /* U+10000 */
    { S("\xf4\x8f\xbf\xbf") },                  /* U+10FFFF */
    { S(DEFAULT_MESSAGE) },
};


static const text_case_t  utf8_invalid[] = {
    { S("\x80") },                              /* lone continuation */
    { S("\xbf") },
    { S("a\x80z") },
    { S("\xc0\x80") },                          /* overlong U+0000 */
    { S("\xc0\xaf") },                          /* overlong "/" */
    { S("\xc1\xbf") },                          /* overlong U+007F */
    { S("\xe0\x80\x80") },                      /* overlong U+0000 */
    { S("\xe0\x80\xaf") },                      /* overlong "/" */
    { S("\xe0\x9f\xbf") },                      /* overlong U+07FF */
    { S("\xf0\x80\x80\x80") },                  /* overlong U+0000 */
    { S("\xf0\x80\x80\xaf") },                  /* overlong "/" */
    { S("\xf0\x8f\xbf\xbf") },                  /* overlong U+FFFF */
    { S("\xed\xa0\x80") },                      /* U+D800 */
    { S("\xed\xad\xbf") },                      /* U+DB7F */
    { S("\xed\xb0\x80") },                      /* U+DC00 */
    { S("\xed\xbf\xbf") },                      /* U+DFFF */
    { S("\xed\xa0\xbd\xed\xb8\x80") },          /* CESU-8 U+1F600 */
    { S("\xf4\x90\x80\x80") },                  /* U+110000 */
    { S("\xf7\xbf\xbf\xbf") },                  /* U+1FFFFF */
    { S("\xf5\x80\x80\x80") },
    { S("\xf8\x88\x80\x80\x80") },              /* 5 bytes */
    { S("\xfc\x84\x80\x80\x80\x80") },          /* 6 bytes */
    { S("\xfe") },
    { S("\xff") },
    { S("abc\xff") },
    { S("\xff\xfe") },
    { S("\xc3") },                              /* cut short */
    { S("\xe2\x82") },
    { S("\xf0\x9f\x98") },
    { S("a\xc3") },
    { S("\xc3\x28") },                          /* not a continuation */
    { S("\xe2\x28\xa1") },
    { S("\xe2\x82\x28") },
    { S("\xf0\x28\x8c\xbc") },
    { S("\xf0\x9f\x98\x28") },
    { S("\xc3\xa9\xa9") },                      /* one too many */
};


static const text_case_t  emails_valid[] = {
    { S("user@example.com") },
    { S("a@b.co") },
    { S("first.last@example.co.kr") },
    { S("user+tag@gmail.com") },
    { S("USER@EXAMPLE.COM") },
    { S("o'brien@example.ie") },
    { S("x_y-z@sub-domain.example.org") },
    { S("123@456.com") },
    { S("user@1example.com") },
    { S("user@example.c0m") },
    { S("user@a-b-c.d-e.org") },
    { S("user@xn--9n2bp8q.xn--3e0b707e") },
    { S("a!#$%&'*+-/=?^_`{|}~@example.com") },
    { S("a.b.c.d@e.f.g.h") },
    { S("user@a.b") },
};


static const text_case_t  emails_invalid[] = {
    { S("") },
    { S("@") },
    { S("user") },
    { S("user@") },
    { S("@example.com") },
    { S("user@example") },
    { S("user@@example.com") },
    { S("us@er@example.com") },
    { S("user@example.com@") },
    { S("user@example..com") },
    { S("user@.example.com") },
    { S("user@example.com.") },
    { S("user@.") },
    { S("user@..") },
    { S(".user@example.com") },
    { S("user.@example.com") },
    { S("us..er@example.com") },
    { S(".@example.com") },
    { S("user@-example.com") },
    { S("user@example-.com") },
    { S("user@example.-com") },
    { S("user@example.com-") },
    { S("user@exa_mple.com") },
    { S("user@example.123") },
    { S("user@1.2.3.4") },
    { S("user@[192.168.0.1]") },
    { S("user@[IPv6:::1]") },
    { S("\"user\"@example.com") },
    { S("\"us er\"@example.com") },
    { S("us\"er@example.com") },
    { S("user name@example.com") },
    { S(" user@example.com") },
    { S("user@example.com ") },
    { S("user @example.com") },
    { S("user@ example.com") },
    { S("user@exam ple.com") },
    { S("user\t@example.com") },
    { S("user\n@example.com") },
    { S("user@example.com\r\n") },
    { S("user\x7f@example.com") },
    { S("user\x01@example.com") },
    { S("user\0@example.com") },
    { S("user@example.com\0") },
    { S("user@exa\0mple.com") },
    { S("\0user@example.com") },
    { S("\xc3\xbcser@example.com") },
    { S("user@ex\xc3\xa4mple.com") },
    { S("user@\xe4\xbe\x8b\xe3\x81\x88.jp") },
    { S("\xff@example.com") },
    { S("user@example.com\xff") },
    { S("user(comment)@example.com") },
    { S("user,name@example.com") },
    { S("user;@example.com") },
    { S("user:x@example.com") },
    { S("user<x>@example.com") },
    { S("user\\@example.com") },
    { S("user[1]@example.com") },
    { S("user@example.com,other@example.com") },
    { S("user@example.com>") },
    { S("<user@example.com>") },
    { S("user@exa/mple.com") },
    { S("user@example.com/") },
    { S("user@example.com:25") },
    { S("user@example!.com") },
};


static char *
repeat(const char *unit, size_t times)
{
    char    *p;
    size_t   i, n;

    n = strlen(unit);
    p = malloc(n * times + 1);
    assert_non_null(p);

    for (i = 0; i < times; i++) {
        memcpy(p + i * n, unit, n);
    }

    p[n * times] = '\0';

    return p;
}


static void
check_utf8_table(const text_case_t *cases, size_t n, int expect)
{
    char    *in, buf[256];
    size_t   i;

    for (i = 0; i < n; i++) {
        in = dup_exact(cases[i].in, cases[i].len);

        if (sv_utf8_valid((const unsigned char *) in, cases[i].len)
            != expect)
        {
            fail_msg("\"%s\": expected %d",
                     show(cases[i].in, cases[i].len, buf, sizeof(buf)),
                     expect);
        }

        free(in);
    }
}


static void
test_utf8_valid(void **state)
{
    (void) state;

    check_utf8_table(utf8_valid, NELTS(utf8_valid), 1);
}


static void
test_utf8_invalid(void **state)
{
    (void) state;

    check_utf8_table(utf8_invalid, NELTS(utf8_invalid), 0);
}


/* an invalid sequence anywhere in otherwise good text spoils it */

static void
test_utf8_invalid_embedded(void **state)
{
    char    buf[64], shown[256];
    size_t  i, n;

    (void) state;

    for (i = 0; i < NELTS(utf8_invalid); i++) {
        n = (size_t) snprintf(buf, sizeof(buf), "ok \xed\x95\x9c ");
        memcpy(buf + n, utf8_invalid[i].in, utf8_invalid[i].len);
        n += utf8_invalid[i].len;
        memcpy(buf + n, " ok", 3);
        n += 3;

        if (sv_utf8_valid((const unsigned char *) buf, n)) {
            fail_msg("\"%s\" accepted", show(buf, n, shown, sizeof(shown)));
        }
    }
}


/* a multibyte sequence cut by len is invalid, whatever follows */

static void
test_utf8_reads_only_len(void **state)
{
    const unsigned char  *p;

    (void) state;

    p = (const unsigned char *) "\xf0\x9f\x98\x80";

    assert_true(sv_utf8_valid(p, 4));
    assert_false(sv_utf8_valid(p, 3));
    assert_false(sv_utf8_valid(p, 2));
    assert_false(sv_utf8_valid(p, 1));
    assert_true(sv_utf8_valid(p, 0));
}


/* every code point of the four ranges, encoded by hand */

static size_t
encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char) cp;
        return 1;
    }

    if (cp < 0x800) {
        out[0] = (unsigned char) (0xc0 | (cp >> 6));
        out[1] = (unsigned char) (0x80 | (cp & 0x3f));
        return 2;
    }

    if (cp < 0x10000) {
        out[0] = (unsigned char) (0xe0 | (cp >> 12));
        out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char) (0x80 | (cp & 0x3f));
        return 3;
    }

    out[0] = (unsigned char) (0xf0 | (cp >> 18));
    out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char) (0x80 | (cp & 0x3f));
    return 4;
}


static void
test_utf8_every_code_point(void **state)
{
    int            expect;
    size_t         n;
    uint32_t       cp;
    unsigned char  buf[4];

    (void) state;

    for (cp = 0; cp <= 0x10ffff; cp++) {
        n = encode(cp, buf);
        expect = !(cp >= 0xd800 && cp <= 0xdfff);

        if (sv_utf8_valid(buf, n) != expect) {
            fail_msg("U+%04X: expected %d", (unsigned) cp, expect);
        }

        if (sv_euckr_length(buf, n)
            != (expect ? (cp < 0x80 ? 1 : 2) : (size_t) -1))
        {
            fail_msg("U+%04X: EUC-KR length", (unsigned) cp);
        }
    }
}


static void
test_email_valid(void **state)
{
    char    *in, buf[256];
    size_t   i;

    (void) state;

    for (i = 0; i < NELTS(emails_valid); i++) {
        in = dup_exact(emails_valid[i].in, emails_valid[i].len);

        if (!sv_email_valid(in, emails_valid[i].len)) {
            fail_msg("\"%s\" rejected",
                     show(emails_valid[i].in, emails_valid[i].len, buf,
                          sizeof(buf)));
        }

        free(in);
    }
}


static void
test_email_invalid(void **state)
{
    char    *in, buf[256];
    size_t   i;

    (void) state;

    for (i = 0; i < NELTS(emails_invalid); i++) {
        in = dup_exact(emails_invalid[i].in, emails_invalid[i].len);

        if (sv_email_valid(in, emails_invalid[i].len)) {
            fail_msg("\"%s\" accepted",
                     show(emails_invalid[i].in, emails_invalid[i].len, buf,
                          sizeof(buf)));
        }

        free(in);
    }
}


static int
email_of(size_t local, size_t label, size_t labels)
{
    int      valid;
    char    *s, *p;
    size_t   i, len;

    len = local + 1 + labels * (label + 1) - 1;

    s = malloc(len);
    assert_non_null(s);

    memset(s, 'a', local);
    p = s + local;
    *p++ = '@';

    for (i = 0; i < labels; i++) {
        memset(p, 'b', label);
        p += label;

        if (i + 1 < labels) {
            *p++ = '.';
        }
    }

    assert_int_equal((size_t) (p - s), len);

    valid = sv_email_valid(s, len);
    free(s);

    return valid;
}


static void
test_email_lengths(void **state)
{
    (void) state;

    /* local part: 64 */
    assert_true(email_of(1, 3, 2));
    assert_true(email_of(64, 3, 2));
    assert_false(email_of(65, 3, 2));

    /* label: 63 */
    assert_true(email_of(5, 63, 2));
    assert_false(email_of(5, 64, 2));

    /* in all: 254, here 62 + "@" + 3 labels of 63 + 2 dots */
    assert_true(email_of(62, 63, 3));
    assert_false(email_of(63, 63, 3));
    assert_false(email_of(64, 63, 3));

    /* many short labels */
    assert_true(email_of(1, 1, 100));
    assert_false(email_of(10, 1, 123));
}


static void
test_email_fold(void **state)
{
    char    *out;
    size_t   len;

    static const char  mixed[] = "User.Name+Tag@Example.COM";

    (void) state;

    len = sizeof(mixed) - 1;
    out = malloc(len + 1);
    assert_non_null(out);

    sv_email_fold(mixed, len, out);
    assert_string_equal(out, "user.name+tag@example.com");

    sv_email_fold("ABCXYZ@[`{@", 11, out);
    assert_string_equal(out, "abcxyz@[`{@");

    sv_email_fold("", 0, out);
    assert_string_equal(out, "");

    /* only len bytes, and non-ASCII bytes are left alone */
    sv_email_fold("AB\xc3\x89" "CD", 4, out);
    assert_string_equal(out, "ab\xc3\x89");

    free(out);
}


static void
test_nickname(void **state)
{
    char    *s;
    size_t   i;

    static const struct {
        const char  *in;
        size_t       len;
        size_t       max;
        int          valid;
    } cases[] = {
        { S("a"), 20, 1 },
        { S("nick"), 20, 1 },
        { S("a b"), 20, 1 },
        { S(" "), 20, 1 },
        { S("~"), 20, 1 },
        { S("\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99"), 20, 1 },
        { S("\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99"), 3, 1 },
        { S("\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99"), 2, 0 },
        { S("\xf0\x9f\x98\x80"), 1, 1 },
        { S("\xc2\xa0"), 20, 1 },               /* U+00A0 */
        { S("\xc2\xa1"), 20, 1 },
        { S("\xe2\x80\x8b"), 20, 1 },           /* U+200B: not Cc */

        { S(""), 20, 0 },
        { S("a"), 0, 0 },
        { S("\0"), 20, 0 },
        { S("a\0b"), 20, 0 },
        { S("ab\0"), 20, 0 },
        { S("\t"), 20, 0 },
        { S("a\nb"), 20, 0 },
        { S("a\rb"), 20, 0 },
        { S("\x1b[31m"), 20, 0 },
        { S("\x1f"), 20, 0 },
        { S("\x7f"), 20, 0 },
        { S("\xc2\x80"), 20, 0 },               /* U+0080 */
        { S("\xc2\x85"), 20, 0 },               /* NEL */
        { S("\xc2\x9b"), 20, 0 },               /* CSI */
        { S("\xc2\x9f"), 20, 0 },               /* U+009F */
        { S("\xff"), 20, 0 },
        { S("nick\xff"), 20, 0 },
        { S("\xc0\xa0"), 20, 0 },
        { S("\xc1\x81"), 20, 0 },
        { S("\xed\xa0\x80"), 20, 0 },
        { S("\xf4\x90\x80\x80"), 20, 0 },
        { S("\xed\x99"), 20, 0 },
    };

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        s = dup_exact(cases[i].in, cases[i].len);

        if (sv_nickname_valid(s, cases[i].len, cases[i].max)
            != cases[i].valid)
        {
            fail_msg("case %zu: expected %d", i, cases[i].valid);
        }

        free(s);
    }
}


/* 20 code points, however many bytes they take */

static void
test_nickname_counts_code_points(void **state)
{
    char    *s;
    size_t   i;

    static const char  *units[] = {
        "a", "\xc3\xa9", "\xed\x95\x9c", "\xf0\x9f\x98\x80"
    };

    (void) state;

    for (i = 0; i < NELTS(units); i++) {
        s = repeat(units[i], 20);
        assert_true(sv_nickname_valid(s, strlen(s), 20));
        assert_false(sv_nickname_valid(s, strlen(s), 19));
        free(s);

        s = repeat(units[i], 21);
        assert_false(sv_nickname_valid(s, strlen(s), 20));
        assert_true(sv_nickname_valid(s, strlen(s), 21));
        free(s);
    }
}


static void
test_euckr_length(void **state)
{
    char    *s;
    size_t   i;

    static const struct {
        const char  *in;
        size_t       len;
        size_t       bytes;
    } cases[] = {
        { S(""), 0 },
        { S("abc"), 3 },
        { S("\0"), 1 },
        { S("\x7f"), 1 },
        { S("\xed\x95\x9c"), 2 },
        { S("\xc3\xa9"), 2 },
        { S("\xc2\x80"), 2 },
        { S("\xf0\x9f\x98\x80"), 2 },
        { S("123456"), 6 },

        /* iconv -t EUC-KR counts 33 bytes, not 32: 11 syllables, 11 ASCII */
        { S(DEFAULT_MESSAGE), 33 },
        { S("[MyShop] " DEFAULT_MESSAGE), 42 },

        { S("\xff"), (size_t) -1 },
        { S("abc\xff"), (size_t) -1 },
        { S("\xed\xa0\x80"), (size_t) -1 },
        { S("\xc0\x80"), (size_t) -1 },
        { S("\xed\x95"), (size_t) -1 },
    };

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        s = dup_exact(cases[i].in, cases[i].len);

        if (sv_euckr_length((const unsigned char *) s, cases[i].len)
            != cases[i].bytes)
        {
            fail_msg("case %zu: %zu, expected %zu", i,
                     sv_euckr_length((const unsigned char *) s,
                                     cases[i].len),
                     cases[i].bytes);
        }

        free(s);
    }

    /* one SMS: 90 bytes */
    s = repeat("\xea\xb0\x80", 45);
    assert_int_equal(sv_euckr_length((unsigned char *) s, strlen(s)), 90);
    free(s);
}


/* the figure agrees with a real EUC-KR encoder for KS X 1001 text */

static void
test_euckr_length_matches_iconv(void **state)
{
    char    *in, *out, buf[256];
    size_t   i, inleft, outleft;
    iconv_t  cd;

    static const char  *texts[] = {
        DEFAULT_MESSAGE,
        ("[MyShop] " DEFAULT_MESSAGE),
        "Your code is 123456",
        "\xea\xb0\x80\xeb\x82\x98\xeb\x8b\xa4",
        "\xea\xb0\x80 a1 \xec\xb7\xa8\xec\x86\x8c",
    };

    (void) state;

    cd = iconv_open("EUC-KR", "UTF-8");
    if (cd == (iconv_t) -1) {
        skip();
    }

    for (i = 0; i < NELTS(texts); i++) {
        in = (char *) texts[i];
        inleft = strlen(texts[i]);
        out = buf;
        outleft = sizeof(buf);

        assert_int_not_equal(iconv(cd, &in, &inleft, &out, &outleft),
                             (size_t) -1);
        assert_int_equal(sv_euckr_length((const unsigned char *) texts[i],
                                         strlen(texts[i])),
                         sizeof(buf) - outleft);
    }

    iconv_close(cd);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_utf8_invalid_embedded),
        cmocka_unit_test(test_utf8_reads_only_len),
        cmocka_unit_test(test_utf8_every_code_point),
        cmocka_unit_test(test_email_valid),
        cmocka_unit_test(test_email_invalid),
        cmocka_unit_test(test_email_lengths),
        cmocka_unit_test(test_email_fold),
        cmocka_unit_test(test_nickname),
        cmocka_unit_test(test_nickname_counts_code_points),
        cmocka_unit_test(test_euckr_length),
        cmocka_unit_test(test_euckr_length_matches_iconv),
    };

    return cmocka_run_group_tests_name("sv_text", tests, NULL, NULL);
}
