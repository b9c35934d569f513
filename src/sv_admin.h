#ifndef SV_ADMIN_H
#define SV_ADMIN_H

/*
 * The admin API's NDJSON: a member as export writes it, one line of
 * JSON, and a line of an import read back into a member, with every
 * field checked as signup checks it.
 */

#include <stddef.h>

#include "sv_member.h"
#include "sv_store.h"


/* the longest line an import takes, its newline not counted */
#define SV_IMPORT_LINE_MAX    4096

/* the nickname's code points, as signup counts them */
#define SV_ADMIN_NICKNAME_MAX  20

/* what sv_export_line() may write */
#define SV_EXPORT_LINE_MAX                                                    \
    (SV_MEMBER_JSON_MAX + sizeof(",\"passwordHash\":\"\"}\n{")             \
     + 6 * SV_STORE_HASH_MAX)

typedef enum {
    SV_LINE_OK = 0,
    SV_LINE_INVALID_JSON,       /* not a JSON object in UTF-8, too long */
    SV_LINE_MISSING_FIELD,      /* *field names it */
    SV_LINE_INVALID_FIELD,      /* the wrong type or value; *field */
    SV_LINE_INVALID_EMAIL,
    SV_LINE_INVALID_PHONE,
    SV_LINE_INVALID_NICKNAME
} sv_line_rc_t;


/*
 * A member as one line of JSON and its newline, with "passwordHash" if
 * hashes is set, into out (size bytes, NUL-terminated): the length, or 0
 * if it did not fit.
 */
size_t sv_export_line(const sv_member_info_t *m, int hashes, char *out,
    size_t size);

/*
 * One line of an import (len bytes, no newline) into m: memberId (1 to
 * SV_STORE_ID_MAX), email, phoneNumber (any accepted form, stored
 * E.164), nickname, terms (integers, duplicates dropped), createdAt
 * ("2026-12-01T05:00:00Z") and passwordHash (bcrypt); other keys are
 * ignored.  *field names the field of a MISSING or INVALID_FIELD.
 */
sv_line_rc_t sv_import_line(const char *p, size_t len, sv_member_info_t *m,
    const char **field);

/* "2026-12-01T05:00:00Z" to ms since the epoch: 0, or -1 if malformed */
int sv_admin_time_parse(const char *s, size_t len, int64_t *ms);

/* a bcrypt string: "$2a$", "$2b$" or "$2y$", cost 04 to 31, 53 more */
int sv_admin_hash_valid(const char *s, size_t len);

#endif /* SV_ADMIN_H */
