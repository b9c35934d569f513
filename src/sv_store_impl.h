#ifndef SV_STORE_IMPL_H
#define SV_STORE_IMPL_H

/*
 * The backends behind sv_store.h, one file each.  A backend's open fills
 * a structure that begins with sv_store_t, whose ops are its functions.
 * Only sv_store.c calls them: it checks the arguments every backend may
 * rely on (a phone is 1 to SV_STORE_PHONE_MAX bytes) first, and relieves
 * a full store after (sweep, then one more try).  Each function does what
 * sv_store.h says of the call of its name, in the same transactions; sync
 * and reader_check may be NULL where there is nothing to do.  The
 * decisions are sv_rules.h's.
 */

#include "sv_store.h"


typedef struct {
    const char     *name;

    void          (*close)(sv_store_t *st);
    sv_store_rc_t (*sync)(sv_store_t *st, char *err, size_t errlen);
    int           (*reader_check)(sv_store_t *st);

    sv_store_rc_t (*send_begin)(sv_store_t *st, sv_send_t *s, char *err,
                                size_t errlen);
    sv_store_rc_t (*send_abort)(sv_store_t *st, const char *phone,
                                int64_t stamp_ms, char *err, size_t errlen);
    sv_store_rc_t (*code_put)(sv_store_t *st, const char *phone,
                              const uint8_t *code_hash, int64_t expires_ms,
                              unsigned attempts, char *err, size_t errlen);
    sv_store_rc_t (*confirm)(sv_store_t *st, sv_confirm_t *c, char *err,
                             size_t errlen);
    sv_store_rc_t (*token_check)(sv_store_t *st, const uint8_t *token_hash,
                                 const char *phone, int64_t now_ms,
                                 char *err, size_t errlen);
    sv_store_rc_t (*signup_check)(sv_store_t *st, const sv_member_t *m,
                                  char *err, size_t errlen);
    sv_store_rc_t (*signup)(sv_store_t *st, sv_member_t *m, char *err,
                            size_t errlen);
    sv_store_rc_t (*stats)(sv_store_t *st, sv_store_stats_t *stats,
                           char *err, size_t errlen);
    sv_store_rc_t (*sweep)(sv_store_t *st, int64_t now_ms, int64_t grace_ms,
                           size_t max, char *err, size_t errlen);
} sv_store_ops_t;

struct sv_store_s {
    const sv_store_ops_t   *ops;
};


/* sv_store_lmdb.c: the store in conf->dir. */
sv_store_rc_t sv_store_lmdb_open(sv_store_t **st,
    const sv_store_conf_t *conf, char *err, size_t errlen);

#endif /* SV_STORE_IMPL_H */
