
/*
 * Phone numbers as typed: sv_phone_normalize(), then what is done with a
 * normalised number (country check, national form, masking); and the
 * same functions on the raw input, which they must survive too.
 *
 * Invariants: a normalised number is "+" and 8 to 15 digits of an
 * assigned country code, made of the digits typed, and normalises to
 * itself; under +82 it is a mobile number whose national form normalises
 * back to it; a mask shows the country code, for +82 mobiles the two
 * digits after it, and at most the last 4 digits; it is cut, never
 * overrun, to the size it is given.
 */

#include "fuzz.h"

#include "sv_phone.h"


static const char *const  sv_fuzz_countries[] = {
    "82", "1", "7", "44", "998", "8", "820", ""
};

#define SV_FUZZ_NCOUNTRIES                                                   \
    (sizeof(sv_fuzz_countries) / sizeof(sv_fuzz_countries[0]))


static void sv_fuzz_normalized(const uint8_t *data, size_t size,
    const char *e164);
static void sv_fuzz_mask(const char *e164);
static void sv_fuzz_any(const char *s);
static size_t sv_fuzz_digits(const char *s, size_t len, char *out);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char  *e164, *raw;

    e164 = malloc(SV_PHONE_SIZE);
    if (e164 == NULL) {
        abort();
    }

    if (sv_phone_normalize((const char *) data, size, e164) == 0) {
        sv_fuzz_normalized(data, size, e164);
    }

    free(e164);

    /* the other functions on whatever comes, as a C string */

    raw = sv_fuzz_cstr(data, size);
    sv_fuzz_any(raw);
    free(raw);

    return 0;
}


static void
sv_fuzz_normalized(const uint8_t *data, size_t size, const char *e164)
{
    char        *again, *national, *typed;
    size_t       i, n, cc, ntyped;
    const char  *nsn;

    n = strlen(e164);

    sv_fuzz_check(e164[0] == '+' && n - 1 >= 8 && n - 1 <= 15);
    sv_fuzz_check(e164[1] != '0');

    for (i = 1; i < n; i++) {
        sv_fuzz_check(e164[i] >= '0' && e164[i] <= '9');
    }

    cc = sv_phone_country_code_len(e164);
    sv_fuzz_check(cc >= 1 && cc <= 3);

    nsn = e164 + 1 + cc;

    /* made of the digits typed: all of them, less a trunk 0, plus 82 */

    typed = malloc(size + 1);
    if (typed == NULL) {
        abort();
    }

    ntyped = sv_fuzz_digits((const char *) data, size, typed);

    if (memchr(data, '+', size) != NULL) {
        sv_fuzz_check(strcmp(typed, e164 + 1) == 0
                      || (memcmp(e164, "+82", 3) == 0
                          && ntyped == n && memcmp(typed, "820", 3) == 0
                          && strcmp(typed + 3, e164 + 3) == 0));

    } else {
        sv_fuzz_check(memcmp(e164, "+82", 3) == 0);
        sv_fuzz_check(typed[0] == '0' && strcmp(typed + 1, e164 + 3) == 0);
    }

    free(typed);

    /* a fixed point */

    again = malloc(SV_PHONE_SIZE);
    if (again == NULL) {
        abort();
    }

    sv_fuzz_check(sv_phone_normalize(e164, n, again) == 0);
    sv_fuzz_check(strcmp(again, e164) == 0);

    /* the national form: digits; under +82, 0 and a mobile number */

    national = malloc(SV_PHONE_SIZE);
    if (national == NULL) {
        abort();
    }

    sv_phone_national(e164, national);

    for (i = 0; national[i] != '\0'; i++) {
        sv_fuzz_check(national[i] >= '0' && national[i] <= '9');
    }

    if (cc == 2 && memcmp(e164, "+82", 3) == 0) {
        sv_fuzz_check(national[0] == '0' && strcmp(national + 1, nsn) == 0);
        sv_fuzz_check(nsn[0] == '1');
        sv_fuzz_check(sv_phone_normalize(national, strlen(national), again)
                      == 0);
        sv_fuzz_check(strcmp(again, e164) == 0);

    } else {
        sv_fuzz_check(strcmp(national, nsn) == 0);
    }

    free(national);
    free(again);

    /* the allowed countries: those whose code is the number's */

    for (i = 0; i < SV_FUZZ_NCOUNTRIES; i++) {
        sv_fuzz_check(sv_phone_country_allowed(e164, &sv_fuzz_countries[i], 1)
                      == (strlen(sv_fuzz_countries[i]) == cc
                          && memcmp(sv_fuzz_countries[i], e164 + 1, cc)
                             == 0));
    }

    sv_fuzz_check(sv_phone_country_allowed(e164, sv_fuzz_countries,
                                           SV_FUZZ_NCOUNTRIES)
                  == (cc <= 2
                      && (memcmp(e164 + 1, "82", 2) == 0
                          || memcmp(e164 + 1, "1", 1) == 0
                          || memcmp(e164 + 1, "7", 1) == 0
                          || memcmp(e164 + 1, "44", 2) == 0))
                     + (cc == 3 && memcmp(e164 + 1, "998", 3) == 0));

    sv_fuzz_mask(e164);
}


/*
 * The mask of an E.164 number: "+CC " then, for a +82 mobile, "NN-",
 * stars, "-", else stars; then the last 4 digits.  Every shorter buffer
 * gets a prefix of it.
 */

static void
sv_fuzz_mask(const char *e164)
{
    char        *full, *cut;
    size_t       size, cc, n, shown, stars, len;
    const char  *p, *nsn;

    full = malloc(SV_PHONE_MASKED_SIZE);
    if (full == NULL) {
        abort();
    }

    sv_phone_mask(e164, full, SV_PHONE_MASKED_SIZE);

    cc = sv_phone_country_code_len(e164);
    nsn = e164 + 1 + cc;
    n = strlen(nsn);
    len = strlen(full);

    sv_fuzz_check(len < SV_PHONE_MASKED_SIZE);
    sv_fuzz_check(full[0] == '+' && memcmp(full + 1, e164 + 1, cc) == 0
                  && full[1 + cc] == ' ');
    sv_fuzz_check(len >= 4 && strcmp(full + len - 4, nsn + n - 4) == 0);

    shown = 0;
    stars = 0;

    for (p = full + 2 + cc; *p; p++) {
        shown += (*p >= '0' && *p <= '9');
        stars += (*p == '*');
    }

    if (cc == 2 && memcmp(e164 + 1, "82", 2) == 0 && nsn[0] == '1') {
        sv_fuzz_check(shown == 6 && stars == n - 6);
        sv_fuzz_check(memcmp(full + 4, nsn, 2) == 0 && full[6] == '-');

    } else {
        sv_fuzz_check(shown == 4 && stars == n - 4);
    }

    for (size = 1; size <= SV_PHONE_MASKED_SIZE; size++) {
        cut = malloc(size);
        if (cut == NULL) {
            abort();
        }

        sv_phone_mask(e164, cut, size);
        sv_fuzz_check(strlen(cut) == (len < size ? len : size - 1));
        sv_fuzz_check(memcmp(cut, full, strlen(cut)) == 0);
        free(cut);
    }

    /* size 0: nothing is written */

    sv_phone_mask(e164, NULL, 0);

    free(full);
}


static void
sv_fuzz_any(const char *s)
{
    char    *masked, *national;
    size_t   i, cc, n, digits;

    cc = sv_phone_country_code_len(s);
    sv_fuzz_check(cc <= 3);

    (void) sv_phone_country_allowed(s, sv_fuzz_countries, SV_FUZZ_NCOUNTRIES);

    national = malloc(SV_PHONE_SIZE);
    if (national == NULL) {
        abort();
    }

    sv_phone_national(s, national);
    sv_fuzz_check(strlen(national) < SV_PHONE_SIZE);
    free(national);

    /* a mask never echoes more than 4 digits beyond what it must */

    masked = malloc(SV_PHONE_MASKED_SIZE);
    if (masked == NULL) {
        abort();
    }

    sv_phone_mask(s, masked, SV_PHONE_MASKED_SIZE);

    if (strcmp(masked, "(invalid)") != 0) {
        n = strlen(s);

        sv_fuzz_check(s[0] == '+' && s[1] != '0' && n - 1 >= 8
                      && n - 1 <= 15 && cc > 0);

        for (i = 1; i < n; i++) {
            sv_fuzz_check(s[i] >= '0' && s[i] <= '9');
        }

        digits = sv_fuzz_count_digits(masked + 1 + cc);
        sv_fuzz_check(digits <= 6);
        sv_fuzz_check(digits <= 4 || memcmp(s, "+82", 3) == 0);
    }

    free(masked);
}


static size_t
sv_fuzz_digits(const char *s, size_t len, char *out)
{
    size_t  i, n;

    for (i = 0, n = 0; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            out[n++] = s[i];
        }
    }

    out[n] = '\0';

    return n;
}
