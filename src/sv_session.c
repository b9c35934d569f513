
/*
 * A new session.
 */

#include <stdio.h>
#include <string.h>

#include "sv_session.h"


sv_store_rc_t
sv_session_start(sv_store_t *st, const uint8_t *key, sv_session_t *s,
    char *value, char *err, size_t errlen)
{
    uint8_t        hash[SV_HASH_SIZE];
    sv_store_rc_t  rc;

    if (sv_token_generate(value) != 0) {
        snprintf(err, errlen, "no random bytes for a session");
        return SV_STORE_ERROR;
    }

    sv_session_hash(key, value, SV_TOKEN_LEN, hash);
    s->hash = hash;

    rc = sv_store_session_start(st, s, err, errlen);

    s->hash = NULL;

    if (rc != SV_STORE_OK) {
        explicit_bzero(value, SV_TOKEN_LEN + 1);
    }

    return rc;
}
