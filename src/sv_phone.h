#ifndef SV_PHONE_H
#define SV_PHONE_H

#include <stddef.h>

/* "+" and at most 15 digits, NUL-terminated */
#define SV_PHONE_SIZE  17
/* "+82 10-****-5678" and the like */
#define SV_PHONE_MASKED_SIZE  24


/*
 * Normalises a phone number as typed (len bytes, not NUL-terminated) to
 * E.164 in out (SV_PHONE_SIZE bytes).  Spaces, hyphens, dots and
 * parentheses are ignored.  Accepts Korean mobile numbers in national form
 * (010 + 8 digits; 011, 016-019 + 7 or 8 digits), the same under +82, and
 * other E.164 numbers ("+", then 8 to 15 digits, no leading zero).  Under
 * +82 only mobile numbers are accepted.  Returns 0, or -1 for a bad form.
 */
int sv_phone_normalize(const char *in, size_t len, char *out);

/*
 * Length of the country calling code of an E.164 number (digits after
 * "+"), from the ITU list: 1 to 3.  0 if unassigned.
 */
size_t sv_phone_country_code_len(const char *e164);

/*
 * Whether the E.164 number's country calling code is in the list of
 * calling codes (decimal digit strings, e.g. "82", "1").
 */
int sv_phone_country_allowed(const char *e164, const char *const *codes,
    size_t ncodes);

/*
 * National significant number, e.g. "+821012345678" -> "01012345678" for
 * +82 (the trunk prefix 0 restored), the digits after the country code
 * elsewhere.  out has SV_PHONE_SIZE bytes.
 */
void sv_phone_national(const char *e164, char *out);

/* For logs: "+82 10-****-5678"; elsewhere "+1 ******0123". */
void sv_phone_mask(const char *e164, char *out, size_t size);

#endif /* SV_PHONE_H */
