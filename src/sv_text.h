#ifndef SV_TEXT_H
#define SV_TEXT_H

#include <stddef.h>

#define SV_EMAIL_MAX  254


/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
int sv_utf8_valid(const unsigned char *p, size_t len);

/*
 * An address a mail server would take: local@domain, local part of
 * dot-atom characters (no leading, trailing or double dot, at most 64),
 * domain of at least two labels of letters, digits and inner hyphens,
 * at most 254 in all, ASCII only.  Returns 1 if valid.
 */
int sv_email_valid(const char *s, size_t len);

/* ASCII lowercase copy for uniqueness keys; out has len + 1 bytes. */
void sv_email_fold(const char *s, size_t len, char *out);

/*
 * 1 to max Unicode code points of valid UTF-8, none of them a control
 * character (C0, DEL, C1).  Returns 1 if valid.
 */
int sv_nickname_valid(const char *s, size_t len, size_t max);

/* what one SMS holds, in the bytes of sv_euckr_length() */
#define SV_SMS_MAX  90

/*
 * Bytes the text takes in EUC-KR as SMS gateways count it: 1 for ASCII,
 * 2 for every other code point.  (size_t) -1 for invalid UTF-8.
 */
size_t sv_euckr_length(const unsigned char *p, size_t len);

#endif /* SV_TEXT_H */
