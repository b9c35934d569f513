#ifndef SV_SESSION_H
#define SV_SESSION_H

/*
 * A new session: its value drawn from the CSPRNG for the cookie, only its
 * keyed hash kept by the store.  Called in pool threads.
 */

#include "sv_store.h"


/*
 * Draws the value (SV_TOKEN_LEN + 1 bytes into value) and stores the
 * session of s (s->hash is set to a hash of its own); the store's answer,
 * or ERROR if the CSPRNG failed.
 */
sv_store_rc_t sv_session_start(sv_store_t *st, const uint8_t *key,
    sv_session_t *s, char *value, char *err, size_t errlen);

#endif /* SV_SESSION_H */
