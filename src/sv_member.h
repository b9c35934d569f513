#ifndef SV_MEMBER_H
#define SV_MEMBER_H

/*
 * A member as the API writes it (MEMBER): memberId, email, phoneNumber,
 * nickname, terms and createdAt; never the password hash.
 */

#include <stddef.h>

#include "sv_store.h"


/* what sv_member_json() may write, escapes at their longest */
#define SV_MEMBER_JSON_MAX                                                    \
    (160 + 6 * (SV_STORE_EMAIL_MAX + SV_STORE_NICKNAME_MAX)                   \
     + SV_STORE_PHONE_MAX + 12 * SV_STORE_TERMS_MAX)


/*
 * The members of the JSON object, without its braces, into out (size
 * bytes, NUL-terminated): "memberId":17,"email":"...",...  Returns the
 * length, or 0 if it did not fit.
 */
size_t sv_member_json(const sv_member_info_t *m, char *out, size_t size);

/* "2026-12-01T05:00:00Z" of ms since the epoch, in out (21 bytes) */
void sv_member_time(int64_t ms, char *out);

#endif /* SV_MEMBER_H */
