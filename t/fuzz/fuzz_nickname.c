
/*
 * Nicknames: sv_nickname_valid() against a reference written from its
 * contract (1 to max code points of well-formed UTF-8, none of them C0,
 * DEL or C1).
 *
 * Input: byte 0 gives max (0 to 31), the rest is the nickname; the
 * module's own max, 20, is checked on every input too.
 *
 * Invariants: both agree; a valid nickname is valid UTF-8.
 */

#include "fuzz.h"
#include "fuzz_ref.h"

#include "sv_text.h"


static int sv_fuzz_ref_nickname(const unsigned char *p, size_t len,
    size_t max);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int      valid;
    char    *s;
    size_t   len, max;

    if (size < 1) {
        return 0;
    }

    max = data[0] % 32;
    len = size - 1;
    s = sv_fuzz_bytes(data + 1, len);

    valid = sv_nickname_valid(s, len, max);

    sv_fuzz_check(valid == sv_fuzz_ref_nickname((unsigned char *) s, len,
                                                max));

    if (valid) {
        sv_fuzz_check(sv_utf8_valid((unsigned char *) s, len));
    }

    valid = sv_nickname_valid(s, len, 20);

    sv_fuzz_check(valid == sv_fuzz_ref_nickname((unsigned char *) s, len,
                                                20));

    free(s);

    return 0;
}


static int
sv_fuzz_ref_nickname(const unsigned char *p, size_t len, size_t max)
{
    size_t    n, count;
    uint32_t  cp;

    count = 0;

    while (len > 0) {
        n = sv_ref_utf8_next(p, len, &cp);

        if (n == 0 || cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) {
            return 0;
        }

        count++;
        p += n;
        len -= n;
    }

    return count >= 1 && count <= max;
}
