/*
 * Text checks on what users type: UTF-8, e-mail addresses, nicknames, and
 * the length of an SMS text in EUC-KR.
 */


#include <stdint.h>
#include <string.h>

#include "sv_text.h"


#define SV_EMAIL_LOCAL_MAX   64
#define SV_EMAIL_LABEL_MAX   63


static size_t sv_utf8_decode(const unsigned char *p, size_t len,
    uint32_t *cp);
static int sv_email_local_valid(const char *s, size_t len);
static int sv_email_domain_valid(const char *s, size_t len);
static int sv_email_label_valid(const char *s, size_t len);
static int sv_email_atext(unsigned char c);
static int sv_all_digits(const char *s, size_t len);


int
sv_utf8_valid(const unsigned char *p, size_t len)
{
    size_t    n;
    uint32_t  cp;

    while (len > 0) {
        n = sv_utf8_decode(p, len, &cp);

        if (n == 0) {
            return 0;
        }

        p += n;
        len -= n;
    }

    return 1;
}


/*
 * Decodes one code point at p.  Returns the bytes it takes, or 0 if they
 * are not the shortest form of a scalar value (overlongs, surrogates,
 * code points past U+10FFFF, stray or missing continuation bytes).
 */

static size_t
sv_utf8_decode(const unsigned char *p, size_t len, uint32_t *cp)
{
    size_t    i, n;
    uint32_t  c, min;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    if (c < 0xc2) {
        /* a continuation byte, or the lead of an overlong 2-byte form */
        return 0;
    }

    if (c < 0xe0) {
        n = 2;
        min = 0x80;
        c &= 0x1f;

    } else if (c < 0xf0) {
        n = 3;
        min = 0x800;
        c &= 0x0f;

    } else if (c < 0xf5) {
        n = 4;
        min = 0x10000;
        c &= 0x07;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }

    *cp = c;

    return n;
}


int
sv_email_valid(const char *s, size_t len)
{
    const char  *at;

    if (len == 0 || len > SV_EMAIL_MAX) {
        return 0;
    }

    at = memchr(s, '@', len);

    if (at == NULL) {
        return 0;
    }

    /* a second "@" fails the character checks of either part */

    return sv_email_local_valid(s, (size_t) (at - s))
           && sv_email_domain_valid(at + 1, len - (size_t) (at - s) - 1);
}


/* dot-atom: atext runs separated by single dots */

static int
sv_email_local_valid(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > SV_EMAIL_LOCAL_MAX) {
        return 0;
    }

    if (s[0] == '.' || s[len - 1] == '.') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.') {
                return 0;
            }

            continue;
        }

        if (!sv_email_atext((unsigned char) s[i])) {
            return 0;
        }
    }

    return 1;
}


/* RFC 5322 atext: letters, digits and !#$%&'*+-/=?^_`{|}~ */

static int
sv_email_atext(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
    {
        return 1;
    }

    return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}


/*
 * Host names only: no address literals, no trailing root dot, and a top
 * label that is not all digits so that "1.2.3.4" is not taken.
 */

static int
sv_email_domain_valid(const char *s, size_t len)
{
    size_t  i, start, top, labels;

    labels = 0;
    start = 0;
    top = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            continue;
        }

        if (!sv_email_label_valid(s + start, i - start)) {
            return 0;
        }

        labels++;
        top = start;
        start = i + 1;
    }

    return labels >= 2 && !sv_all_digits(s + top, len - top);
}


static int
sv_all_digits(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* letters, digits and hyphens, 1 to 63, no hyphen at either end */

static int
sv_email_label_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len > SV_EMAIL_LABEL_MAX) {
        return 0;
    }

    if (s[0] == '-' || s[len - 1] == '-') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


void
sv_email_fold(const char *s, size_t len, char *out)
{
    size_t  i;
    char    c;

    for (i = 0; i < len; i++) {
        c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char) (c + ('a' - 'A')) : c;
    }

    out[len] = '\0';
}


int
sv_nickname_valid(const char *s, size_t len, size_t max)
{
    size_t               n, count;
    uint32_t             cp;
    const unsigned char  *p;

    p = (const unsigned char *) s;
    count = 0;

    while (len > 0) {
        n = sv_utf8_decode(p, len, &cp);

        if (n == 0) {
            return 0;
        }

        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            return 0;
        }

        if (++count > max) {
            return 0;
        }

        p += n;
        len -= n;
    }

    return count > 0;
}


size_t
sv_euckr_length(const unsigned char *p, size_t len)
{
    size_t    n, total;
    uint32_t  cp;

    total = 0;

    while (len > 0) {
        n = sv_utf8_decode(p, len, &cp);

        if (n == 0) {
            return (size_t) -1;
        }

        total += (cp < 0x80) ? 1 : 2;

        p += n;
        len -= n;
    }

    return total;
}
