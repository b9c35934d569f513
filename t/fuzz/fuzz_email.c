
/*
 * E-mail addresses: sv_email_valid() against a reference written from
 * its contract in sv_text.h, and sv_email_fold() of what it takes.
 *
 * Invariants: both agree; a valid address folds to the same length, to
 * a valid address, to a fixed point, changing only A-Z.
 */

#include "fuzz.h"

#include "sv_text.h"


static int sv_fuzz_ref_email(const char *s, size_t len);
static int sv_fuzz_ref_label(const char *s, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          valid;
    char        *folded, *again;
    size_t       i;
    const char  *s;

    s = (const char *) data;

    valid = sv_email_valid(s, size);

    sv_fuzz_check(valid == 0 || valid == 1);
    sv_fuzz_check(valid == sv_fuzz_ref_email(s, size));

    folded = malloc(size + 1);
    again = malloc(size + 1);
    if (folded == NULL || again == NULL) {
        abort();
    }

    /* the module folds only valid addresses; any input must be safe */

    sv_email_fold(s, size, folded);
    sv_fuzz_check(folded[size] == '\0');

    for (i = 0; i < size; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z') {
            sv_fuzz_check(folded[i] == s[i] + ('a' - 'A'));

        } else {
            sv_fuzz_check(folded[i] == s[i]);
        }
    }

    sv_email_fold(folded, size, again);
    sv_fuzz_check(memcmp(folded, again, size + 1) == 0);

    if (valid) {
        sv_fuzz_check(strlen(folded) == size);
        sv_fuzz_check(sv_email_valid(folded, size));
    }

    free(again);
    free(folded);

    return 0;
}


/*
 * local@domain, at most 254 bytes; local: 1 to 64 of atext and dots, no
 * dot first, last or twice in a row; domain: two or more labels of 1 to
 * 63 letters, digits and inner hyphens, the last not all digits.
 */

static int
sv_fuzz_ref_email(const char *s, size_t len)
{
    size_t       i, at, start, labels, top;
    const char  *atext;

    atext = "!#$%&'*+-/=?^_`{|}~";

    if (len < 1 || len > 254) {
        return 0;
    }

    for (at = 0; at < len && s[at] != '@'; at++) {
        /* void */
    }

    if (at == len || at == 0 || at > 64) {
        return 0;
    }

    for (i = 0; i < at; i++) {
        if (s[i] == '.') {
            if (i == 0 || i == at - 1 || s[i - 1] == '.') {
                return 0;
            }

            continue;
        }

        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9')
              || (s[i] != '\0' && strchr(atext, s[i]) != NULL)))
        {
            return 0;
        }
    }

    labels = 0;
    top = at + 1;
    start = at + 1;

    for (i = at + 1; i <= len; i++) {
        if (i < len && s[i] != '.') {
            continue;
        }

        if (!sv_fuzz_ref_label(s + start, i - start)) {
            return 0;
        }

        labels++;
        top = start;
        start = i + 1;
    }

    if (labels < 2) {
        return 0;
    }

    for (i = top; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 1;
        }
    }

    return 0;
}


static int
sv_fuzz_ref_label(const char *s, size_t len)
{
    size_t  i;

    if (len < 1 || len > 63 || s[0] == '-' || s[len - 1] == '-') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
        {
            return 0;
        }
    }

    return 1;
}
