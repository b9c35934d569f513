
/*
 * sv_utf8_valid() and sv_euckr_length() against the well-formed byte
 * sequences of Unicode's table 3-7 (fuzz_ref.c).
 *
 * Invariants: valid exactly when the reference says so; the EUC-KR
 * length is (size_t) -1 exactly for invalid text, else 1 per ASCII and 2
 * per other code point, so between the code point count and twice it,
 * and never more than the UTF-8 length.
 */

#include "fuzz.h"
#include "fuzz_ref.h"

#include "sv_text.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             valid;
    size_t          euckr, count, ref, n, len;
    uint32_t        cp;
    const uint8_t  *p;

    valid = sv_utf8_valid(data, size);
    count = sv_ref_utf8_count(data, size);

    sv_fuzz_check(valid == (count != (size_t) -1));

    euckr = sv_euckr_length(data, size);

    if (!valid) {
        sv_fuzz_check(euckr == (size_t) -1);
        return 0;
    }

    ref = 0;
    p = data;
    len = size;

    while (len > 0) {
        n = sv_ref_utf8_next(p, len, &cp);
        ref += (cp < 0x80) ? 1 : 2;
        p += n;
        len -= n;
    }

    sv_fuzz_check(euckr == ref);
    sv_fuzz_check(euckr >= count && euckr <= 2 * count && euckr <= size);

    return 0;
}
