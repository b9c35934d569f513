#ifndef SV_FUZZ_REF_H
#define SV_FUZZ_REF_H

/*
 * Reference implementations the targets compare the sv_ code with.  They
 * are written from the standards, not from the sv_ sources, and favour
 * plainness over speed.
 */

#include <stddef.h>
#include <stdint.h>


/*
 * One code point of well-formed UTF-8 (Unicode 15, table 3-7): the bytes
 * it takes, or 0.
 */
size_t sv_ref_utf8_next(const unsigned char *p, size_t len, uint32_t *cp);

/* Code points of well-formed UTF-8, or (size_t) -1. */
size_t sv_ref_utf8_count(const unsigned char *p, size_t len);


typedef enum {
    SV_REF_JSON_INVALID = 0,
    SV_REF_JSON_VALID,
    SV_REF_JSON_UNSURE          /* nested too deep to judge */
} sv_ref_json_rc_t;

/*
 * Whether the text is what sv_json_parse_object() should take: an RFC 8259
 * object in well-formed UTF-8, with a UTF-8 BOM allowed in front (cJSON
 * skips it; RFC 8259 section 8.1 lets a parser ignore it), and nothing
 * cJSON would read differently from what was sent: no "\u0000", no lone
 * UTF-16 surrogate escape.  Numbers are taken as strtod() reads them
 * ("01", "1.", "-.5", "1.e5" too): cJSON reads them that way, to the same
 * value, and the module only reads integers.
 */
sv_ref_json_rc_t sv_ref_json_object(const char *p, size_t len);

#endif /* SV_FUZZ_REF_H */
