
/*
 * Reference implementations for the fuzz targets' invariants.
 */


#include <string.h>

#include "fuzz_ref.h"


/*
 * cJSON refuses nesting deeper than 1000; past ours the answer is not
 * judged
 */
#define SV_REF_JSON_DEPTH  900


typedef struct {
    const unsigned char  *p;
    const unsigned char  *last;
    unsigned              depth;
    unsigned              deep:1;       /* not judged past the depth */
    unsigned              long_number:1;
} sv_ref_json_t;


static int sv_ref_json_value(sv_ref_json_t *j);
static int sv_ref_json_object_body(sv_ref_json_t *j);
static int sv_ref_json_array(sv_ref_json_t *j);
static int sv_ref_json_string(sv_ref_json_t *j);
static int sv_ref_json_hex4(sv_ref_json_t *j, unsigned *u);
static int sv_ref_json_number(sv_ref_json_t *j);
static int sv_ref_json_digits(sv_ref_json_t *j);
static int sv_ref_json_literal(sv_ref_json_t *j, const char *word);
static void sv_ref_json_ws(sv_ref_json_t *j);


size_t
sv_ref_utf8_next(const unsigned char *p, size_t len, uint32_t *cp)
{
    size_t         n, i;
    unsigned char  lo, hi;

    if (len == 0) {
        return 0;
    }

    if (p[0] <= 0x7f) {
        *cp = p[0];
        return 1;
    }

    /* the first continuation byte's range depends on the lead byte */

    lo = 0x80;
    hi = 0xbf;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;

    } else if (p[0] == 0xe0) {
        n = 3;
        lo = 0xa0;

    } else if ((p[0] >= 0xe1 && p[0] <= 0xec) || p[0] == 0xee
               || p[0] == 0xef)
    {
        n = 3;

    } else if (p[0] == 0xed) {
        n = 3;
        hi = 0x9f;

    } else if (p[0] == 0xf0) {
        n = 4;
        lo = 0x90;

    } else if (p[0] >= 0xf1 && p[0] <= 0xf3) {
        n = 4;

    } else if (p[0] == 0xf4) {
        n = 4;
        hi = 0x8f;

    } else {
        return 0;
    }

    if (len < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    switch (n) {

    case 2:
        *cp = ((uint32_t) (p[0] & 0x1f) << 6) | (p[1] & 0x3f);
        break;

    case 3:
        *cp = ((uint32_t) (p[0] & 0x0f) << 12)
              | ((uint32_t) (p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        break;

    default:
        *cp = ((uint32_t) (p[0] & 0x07) << 18)
              | ((uint32_t) (p[1] & 0x3f) << 12)
              | ((uint32_t) (p[2] & 0x3f) << 6) | (p[3] & 0x3f);
        break;
    }

    return n;
}


size_t
sv_ref_utf8_count(const unsigned char *p, size_t len)
{
    size_t    n, count;
    uint32_t  cp;

    count = 0;

    while (len > 0) {
        n = sv_ref_utf8_next(p, len, &cp);

        if (n == 0) {
            return (size_t) -1;
        }

        p += n;
        len -= n;
        count++;
    }

    return count;
}


sv_ref_json_rc_t
sv_ref_json_object(const char *p, size_t len)
{
    sv_ref_json_t  j;

    if (sv_ref_utf8_count((const unsigned char *) p, len) == (size_t) -1) {
        return SV_REF_JSON_INVALID;
    }

    j.p = (const unsigned char *) p;
    j.last = j.p + len;
    j.depth = 0;
    j.deep = 0;
    j.long_number = 0;

    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
        j.p += 3;
    }

    sv_ref_json_ws(&j);

    if (j.p == j.last || *j.p != '{' || !sv_ref_json_value(&j)) {
        return j.deep ? SV_REF_JSON_UNSURE : SV_REF_JSON_INVALID;
    }

    sv_ref_json_ws(&j);

    if (j.p != j.last) {
        return SV_REF_JSON_INVALID;
    }

    /* cJSON refuses what it cannot hand strtod() whole */

    return j.long_number ? SV_REF_JSON_UNSURE : SV_REF_JSON_VALID;
}


static int
sv_ref_json_value(sv_ref_json_t *j)
{
    int  ok;

    if (j->p == j->last) {
        return 0;
    }

    switch (*j->p) {

    case '{':
    case '[':
        if (++j->depth > SV_REF_JSON_DEPTH) {
            j->deep = 1;
            return 0;
        }

        ok = (*j->p == '{') ? sv_ref_json_object_body(j)
                            : sv_ref_json_array(j);
        j->depth--;
        return ok;

    case '"':
        return sv_ref_json_string(j);

    case 't':
        return sv_ref_json_literal(j, "true");

    case 'f':
        return sv_ref_json_literal(j, "false");

    case 'n':
        return sv_ref_json_literal(j, "null");

    default:
        return sv_ref_json_number(j);
    }
}


/* at "{" */

static int
sv_ref_json_object_body(sv_ref_json_t *j)
{
    j->p++;
    sv_ref_json_ws(j);

    if (j->p < j->last && *j->p == '}') {
        j->p++;
        return 1;
    }

    for ( ;; ) {
        if (j->p == j->last || *j->p != '"' || !sv_ref_json_string(j)) {
            return 0;
        }

        sv_ref_json_ws(j);

        if (j->p == j->last || *j->p != ':') {
            return 0;
        }

        j->p++;
        sv_ref_json_ws(j);

        if (!sv_ref_json_value(j)) {
            return 0;
        }

        sv_ref_json_ws(j);

        if (j->p == j->last) {
            return 0;
        }

        if (*j->p == '}') {
            j->p++;
            return 1;
        }

        if (*j->p != ',') {
            return 0;
        }

        j->p++;
        sv_ref_json_ws(j);
    }
}


/* at "[" */

static int
sv_ref_json_array(sv_ref_json_t *j)
{
    j->p++;
    sv_ref_json_ws(j);

    if (j->p < j->last && *j->p == ']') {
        j->p++;
        return 1;
    }

    for ( ;; ) {
        if (!sv_ref_json_value(j)) {
            return 0;
        }

        sv_ref_json_ws(j);

        if (j->p == j->last) {
            return 0;
        }

        if (*j->p == ']') {
            j->p++;
            return 1;
        }

        if (*j->p != ',') {
            return 0;
        }

        j->p++;
        sv_ref_json_ws(j);
    }
}


/*
 * At the opening quote.  UTF-16 escapes as cJSON decodes them: a high
 * surrogate must be followed by an escaped low one, a low one alone is
 * refused; and "\u0000" is refused (it would end the C string).
 */

static int
sv_ref_json_string(sv_ref_json_t *j)
{
    unsigned  u, low;

    j->p++;

    for ( ;; ) {
        if (j->p == j->last || *j->p < 0x20) {
            return 0;
        }

        if (*j->p == '"') {
            j->p++;
            return 1;
        }

        if (*j->p != '\\') {
            j->p++;
            continue;
        }

        j->p++;

        if (j->p == j->last) {
            return 0;
        }

        switch (*j->p++) {

        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            continue;

        case 'u':
            break;

        default:
            return 0;
        }

        if (!sv_ref_json_hex4(j, &u) || u == 0
            || (u >= 0xdc00 && u <= 0xdfff))
        {
            return 0;
        }

        if (u < 0xd800 || u > 0xdbff) {
            continue;
        }

        if (j->last - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') {
            return 0;
        }

        j->p += 2;

        if (!sv_ref_json_hex4(j, &low) || low < 0xdc00 || low > 0xdfff) {
            return 0;
        }
    }
}


static int
sv_ref_json_hex4(sv_ref_json_t *j, unsigned *u)
{
    int            i;
    unsigned char  c;

    if (j->last - j->p < 4) {
        return 0;
    }

    *u = 0;

    for (i = 0; i < 4; i++) {
        c = *j->p++;

        if (c >= '0' && c <= '9') {
            *u = *u * 16 + (c - '0');

        } else if (c >= 'a' && c <= 'f') {
            *u = *u * 16 + (c - 'a' + 10);

        } else if (c >= 'A' && c <= 'F') {
            *u = *u * 16 + (c - 'A' + 10);

        } else {
            return 0;
        }
    }

    return 1;
}


/*
 * strtod()'s decimal form, as cJSON hands a number to it:
 * "-"? (digits ("." digits?)? | "." digits) (("e" | "E") sign? digits)?,
 * and no other character of a number right after it.
 */

static int
sv_ref_json_number(sv_ref_json_t *j)
{
    int                   int_digits, frac_digits;
    const unsigned char  *start;

    start = j->p;

    if (*j->p == '-') {
        j->p++;

    } else if (*j->p < '0' || *j->p > '9') {
        return 0;
    }

    int_digits = sv_ref_json_digits(j);
    frac_digits = 0;

    if (j->p < j->last && *j->p == '.') {
        j->p++;
        frac_digits = sv_ref_json_digits(j);
    }

    if (int_digits == 0 && frac_digits == 0) {
        return 0;
    }

    if (j->p < j->last && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;

        if (j->p < j->last && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }

        if (sv_ref_json_digits(j) == 0) {
            return 0;
        }
    }

    if (j->p < j->last && *j->p != '\0'
        && strchr("0123456789+-eE.", *j->p) != NULL)
    {
        return 0;
    }

    /* cJSON hands strtod() at most 63 characters of a number */

    if (j->p - start > 63) {
        j->long_number = 1;
    }

    return 1;
}


static int
sv_ref_json_digits(sv_ref_json_t *j)
{
    int  n;

    for (n = 0; j->p < j->last && *j->p >= '0' && *j->p <= '9'; n++) {
        j->p++;
    }

    return n;
}


static int
sv_ref_json_literal(sv_ref_json_t *j, const char *word)
{
    size_t  n;

    n = strlen(word);

    if ((size_t) (j->last - j->p) < n || memcmp(j->p, word, n) != 0) {
        return 0;
    }

    j->p += n;

    return 1;
}


static void
sv_ref_json_ws(sv_ref_json_t *j)
{
    while (j->p < j->last
           && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
               || *j->p == '\r'))
    {
        j->p++;
    }
}
