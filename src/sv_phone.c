/*
 * Phone numbers: normalisation to E.164, country calling codes, the
 * national form and masking for logs.
 */


#include <string.h>

#include "sv_phone.h"


#define SV_PHONE_DIGITS_MIN  8
#define SV_PHONE_DIGITS_MAX  15


static int sv_phone_collect(const char *in, size_t len, char *digits,
    size_t *ndigits, int *plus);
static int sv_phone_from_national(const char *digits, size_t n, char *out);
static int sv_phone_from_international(const char *digits, size_t n,
    char *out);
static int sv_phone_korean_mobile(const char *nsn, size_t n);
static int sv_phone_code_listed(const unsigned short *codes, size_t n,
    unsigned code);
static size_t sv_phone_mask_e164(const char *e164, size_t cc, char *buf);
static int sv_phone_is_e164(const char *s);
static size_t sv_phone_stars(char *p, size_t n);


/*
 * Assigned country calling codes (ITU-T E.164 list and its amendments:
 * 383 Kosovo, 2016); 1 and 7 are the only one-digit codes.  The codes form
 * a prefix code: no listed code begins with another one.  Spare and
 * withdrawn codes (210, 259, 28x, 388, 671, 684, 969, 991 ...) are absent.
 */

static const unsigned short  sv_phone_cc2[] = {
    20, 27,
    30, 31, 32, 33, 34, 36, 39,
    40, 41, 43, 44, 45, 46, 47, 48, 49,
    51, 52, 53, 54, 55, 56, 57, 58,
    60, 61, 62, 63, 64, 65, 66,
    81, 82, 84, 86,
    90, 91, 92, 93, 94, 95, 98
};

static const unsigned short  sv_phone_cc3[] = {
    211, 212, 213, 216, 218,
    220, 221, 222, 223, 224, 225, 226, 227, 228, 229,
    230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
    240, 241, 242, 243, 244, 245, 246, 247, 248, 249,
    250, 251, 252, 253, 254, 255, 256, 257, 258,
    260, 261, 262, 263, 264, 265, 266, 267, 268, 269,
    290, 291, 297, 298, 299,
    350, 351, 352, 353, 354, 355, 356, 357, 358, 359,
    370, 371, 372, 373, 374, 375, 376, 377, 378, 379,
    380, 381, 382, 383, 385, 386, 387, 389,
    420, 421, 423,
    500, 501, 502, 503, 504, 505, 506, 507, 508, 509,
    590, 591, 592, 593, 594, 595, 596, 597, 598, 599,
    670, 672, 673, 674, 675, 676, 677, 678, 679,
    680, 681, 682, 683, 685, 686, 687, 688, 689,
    690, 691, 692,
    800, 808,
    850, 852, 853, 855, 856,
    870, 878,
    880, 881, 882, 883, 886, 888,
    960, 961, 962, 963, 964, 965, 966, 967, 968,
    970, 971, 972, 973, 974, 975, 976, 977, 979,
    992, 993, 994, 995, 996, 998
};


int
sv_phone_normalize(const char *in, size_t len, char *out)
{
    int     plus;
    char    digits[SV_PHONE_DIGITS_MAX];
    size_t  n;

    if (sv_phone_collect(in, len, digits, &n, &plus) != 0) {
        return -1;
    }

    if (plus) {
        return sv_phone_from_international(digits, n, out);
    }

    return sv_phone_from_national(digits, n, out);
}


/*
 * Copies the digits of the input, skipping separators.  A "+" may only
 * come before the first digit, and only once.
 */

static int
sv_phone_collect(const char *in, size_t len, char *digits, size_t *ndigits,
    int *plus)
{
    char    c;
    size_t  i, n;

    n = 0;
    *plus = 0;

    for (i = 0; i < len; i++) {
        c = in[i];

        if (c >= '0' && c <= '9') {
            if (n == SV_PHONE_DIGITS_MAX) {
                return -1;
            }

            digits[n++] = c;
            continue;
        }

        switch (c) {

        case ' ':
        case '-':
        case '.':
        case '(':
        case ')':
            continue;

        case '+':
            if (*plus || n > 0) {
                return -1;
            }

            *plus = 1;
            continue;

        default:
            return -1;
        }
    }

    if (n == 0) {
        return -1;
    }

    *ndigits = n;

    return 0;
}


/* "01012345678": only Korean mobile numbers are taken without "+". */

static int
sv_phone_from_national(const char *digits, size_t n, char *out)
{
    if (digits[0] != '0' || !sv_phone_korean_mobile(digits + 1, n - 1)) {
        return -1;
    }

    memcpy(out, "+82", 3);
    memcpy(out + 3, digits + 1, n - 1);
    out[3 + n - 1] = '\0';

    return 0;
}


static int
sv_phone_from_international(const char *digits, size_t n, char *out)
{
    if (n >= 2 && digits[0] == '8' && digits[1] == '2') {
        digits += 2;
        n -= 2;

        /* "+82 010-..." as people write it: the trunk 0 is not dialled */

        if (n > 0 && digits[0] == '0') {
            digits++;
            n--;
        }

        if (!sv_phone_korean_mobile(digits, n)) {
            return -1;
        }

        memcpy(out, "+82", 3);
        memcpy(out + 3, digits, n);
        out[3 + n] = '\0';

        return 0;
    }

    if (n < SV_PHONE_DIGITS_MIN || digits[0] == '0') {
        return -1;
    }

    out[0] = '+';
    memcpy(out + 1, digits, n);
    out[1 + n] = '\0';

    if (sv_phone_country_code_len(out) == 0) {
        return -1;
    }

    return 0;
}


/*
 * A Korean mobile national significant number (without the trunk 0):
 * 10 and 8 digits, or 11, 16, 17, 18, 19 and 7 or 8 digits.
 */

static int
sv_phone_korean_mobile(const char *nsn, size_t n)
{
    if (n < 2 || nsn[0] != '1') {
        return 0;
    }

    switch (nsn[1]) {

    case '0':
        return n == 2 + 8;

    case '1':
    case '6':
    case '7':
    case '8':
    case '9':
        return n == 2 + 7 || n == 2 + 8;

    default:
        return 0;
    }
}


size_t
sv_phone_country_code_len(const char *e164)
{
    unsigned     code;
    size_t       i;
    const char  *p;

    if (e164[0] != '+') {
        return 0;
    }

    p = e164 + 1;
    code = 0;

    for (i = 0; i < 3; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }

        code = code * 10 + (unsigned) (p[i] - '0');

        switch (i) {

        case 0:
            if (code == 1 || code == 7) {
                return 1;
            }
            break;

        case 1:
            if (sv_phone_code_listed(sv_phone_cc2,
                    sizeof(sv_phone_cc2) / sizeof(sv_phone_cc2[0]), code))
            {
                return 2;
            }
            break;

        default:
            if (sv_phone_code_listed(sv_phone_cc3,
                    sizeof(sv_phone_cc3) / sizeof(sv_phone_cc3[0]), code))
            {
                return 3;
            }
            break;
        }
    }

    return 0;
}


static int
sv_phone_code_listed(const unsigned short *codes, size_t n, unsigned code)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (codes[i] == code) {
            return 1;
        }
    }

    return 0;
}


int
sv_phone_country_allowed(const char *e164, const char *const *codes,
    size_t ncodes)
{
    size_t  i, cc;

    cc = sv_phone_country_code_len(e164);

    if (cc == 0) {
        return 0;
    }

    for (i = 0; i < ncodes; i++) {
        if (strlen(codes[i]) == cc && memcmp(codes[i], e164 + 1, cc) == 0) {
            return 1;
        }
    }

    return 0;
}


void
sv_phone_national(const char *e164, char *out)
{
    size_t       cc, n;
    const char  *nsn;

    cc = sv_phone_country_code_len(e164);

    if (cc == 0) {
        /* not E.164: hand back what was given, within bounds */
        n = strlen(e164);
        n = n < SV_PHONE_SIZE - 1 ? n : SV_PHONE_SIZE - 1;
        memcpy(out, e164, n);
        out[n] = '\0';
        return;
    }

    nsn = e164 + 1 + cc;
    n = strlen(nsn);
    n = n < SV_PHONE_SIZE - 2 ? n : SV_PHONE_SIZE - 2;

    if (cc == 2 && e164[1] == '8' && e164[2] == '2') {
        out[0] = '0';
        memcpy(out + 1, nsn, n);
        out[1 + n] = '\0';
        return;
    }

    memcpy(out, nsn, n);
    out[n] = '\0';
}


void
sv_phone_mask(const char *e164, char *out, size_t size)
{
    char    buf[SV_PHONE_MASKED_SIZE];
    size_t  cc, len;

    if (size == 0) {
        return;
    }

    cc = sv_phone_is_e164(e164) ? sv_phone_country_code_len(e164) : 0;

    if (cc == 0) {
        /* never echo what may be a raw number */
        len = sizeof("(invalid)") - 1;
        memcpy(buf, "(invalid)", len);

    } else {
        len = sv_phone_mask_e164(e164, cc, buf);
    }

    len = len < size - 1 ? len : size - 1;

    memcpy(out, buf, len);
    out[len] = '\0';
}


static size_t
sv_phone_mask_e164(const char *e164, size_t cc, char *buf)
{
    char        *p;
    size_t       n;
    const char  *nsn;

    nsn = e164 + 1 + cc;
    n = strlen(nsn);

    p = buf;
    *p++ = '+';
    memcpy(p, e164 + 1, cc);
    p += cc;
    *p++ = ' ';

    if (cc == 2 && memcmp(e164 + 1, "82", 2) == 0
        && sv_phone_korean_mobile(nsn, n))
    {
        /* "+82 10-****-5678", "+82 11-***-4567" */
        *p++ = nsn[0];
        *p++ = nsn[1];
        *p++ = '-';
        p += sv_phone_stars(p, n - 2 - 4);
        *p++ = '-';

    } else {
        p += sv_phone_stars(p, n - 4);
    }

    memcpy(p, nsn + n - 4, 4);
    p += 4;

    return (size_t) (p - buf);
}


/* "+", 8 to 15 digits, the first not 0, and nothing else */

static int
sv_phone_is_e164(const char *s)
{
    size_t  n;

    if (s[0] != '+' || s[1] < '1' || s[1] > '9') {
        return 0;
    }

    for (n = 1; s[n] != '\0'; n++) {
        if (n > SV_PHONE_DIGITS_MAX || s[n] < '0' || s[n] > '9') {
            return 0;
        }
    }

    return n - 1 >= SV_PHONE_DIGITS_MIN;
}


static size_t
sv_phone_stars(char *p, size_t n)
{
    memset(p, '*', n);

    return n;
}
