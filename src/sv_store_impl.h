#ifndef SV_STORE_IMPL_H
#define SV_STORE_IMPL_H

/*
 * The backends behind sv_store.h, one file each.  A backend's open fills
 * a structure that begins with sv_store_t, whose ops are its functions.
 * Only sv_store.c calls them: it checks the arguments every backend may
 * rely on first (a phone is 1 to SV_STORE_PHONE_MAX bytes, an address key
 * 1 to SV_STORE_ADDR_MAX, a send's limits in their bounds, an account key
 * "e:" or "p:" and at most SV_STORE_ACCOUNT_MAX bytes, a password hash 1
 * to SV_STORE_HASH_MAX bytes, a purpose one of sv_purpose_t's, no pointer
 * NULL that the call needs), and relieves a full store after (sweep,
 * then one more try).  Each function does what sv_store.h says of the
 * call of its name, in the same transactions; sync, reader_check and
 * reads_wait_free may be NULL where there is nothing to do (the last:
 * where reads may wait); so may the outbox's four, in a backend without
 * one (sv_store_outbox_take() and the like are ERROR there, and the
 * backlog 0), batch_begin and batch_end where the backend does not
 * batch, and confirm_batch, send_batch, abort_batch, code_batch and
 * session_batch where it has no faster way for many confirms (sends,
 * aborts, codes, session uses) than one after the other.
 * Between batch_begin and batch_end (commit 1, or 0 to abort), the calls
 * this thread makes share the batch's transaction where they can, each
 * undone alone if it fails.  confirm_read and send_read must be NULL
 * where reads may wait: the event loop calls them.  The decisions are
 * sv_rules.h's.
 */

#include "sv_store.h"


typedef struct {
    const char     *name;

    void          (*close)(sv_store_t *st);
    sv_store_rc_t (*sync)(sv_store_t *st, char *err, size_t errlen);
    int           (*reader_check)(sv_store_t *st);

    sv_store_rc_t (*send_begin)(sv_store_t *st, sv_send_t *s, char *err,
                                size_t errlen);
    sv_store_rc_t (*send_abort)(sv_store_t *st, const sv_send_t *s,
                                char *err, size_t errlen);
    sv_store_rc_t (*code_put)(sv_store_t *st, const char *phone,
                              const uint8_t *code_hash, int64_t expires_ms,
                              unsigned attempts, sv_purpose_t purpose,
                              char *err, size_t errlen);
    sv_store_rc_t (*confirm)(sv_store_t *st, sv_confirm_t *c, char *err,
                             size_t errlen);
    sv_store_rc_t (*token_check)(sv_store_t *st, const uint8_t *token_hash,
                                 const char *phone, sv_purpose_t purpose,
                                 int64_t now_ms, char *err, size_t errlen);
    sv_store_rc_t (*token_phone)(sv_store_t *st, const uint8_t *token_hash,
                                 sv_purpose_t purpose, int64_t now_ms,
                                 char *phone, char *err, size_t errlen);
    sv_store_rc_t (*signup_check)(sv_store_t *st, const sv_member_t *m,
                                  char *err, size_t errlen);
    sv_store_rc_t (*signup)(sv_store_t *st, sv_member_t *m, char *err,
                            size_t errlen);

    sv_store_rc_t (*login_allowed)(sv_store_t *st, sv_login_t *l, char *err,
                                   size_t errlen);
    sv_store_rc_t (*login_failed)(sv_store_t *st, sv_login_t *l, char *err,
                                  size_t errlen);
    sv_store_rc_t (*member_find)(sv_store_t *st, const char *email_key,
                                 const char *phone, sv_member_info_t *m,
                                 char *err, size_t errlen);
    sv_store_rc_t (*member_rehash)(sv_store_t *st, uint64_t id,
                                   const char *old_hash,
                                   const char *new_hash, char *err,
                                   size_t errlen);
    sv_store_rc_t (*session_start)(sv_store_t *st, const sv_session_t *s,
                                   char *err, size_t errlen);
    sv_store_rc_t (*session_get)(sv_store_t *st, sv_session_get_t *g,
                                 char *err, size_t errlen);
    sv_store_rc_t (*session_touch)(sv_store_t *st, const uint8_t *hash,
                                   int64_t now_ms, char *err, size_t errlen);
    sv_store_rc_t (*session_end)(sv_store_t *st, const uint8_t *hash,
                                 char *err, size_t errlen);
    sv_store_rc_t (*reset_check)(sv_store_t *st, const sv_reset_t *r,
                                 char *err, size_t errlen);
    sv_store_rc_t (*reset)(sv_store_t *st, sv_reset_t *r, char *err,
                           size_t errlen);
    int           (*reads_wait_free)(sv_store_t *st);

    sv_store_rc_t (*stats)(sv_store_t *st, sv_store_stats_t *stats,
                           char *err, size_t errlen);
    sv_store_rc_t (*sweep)(sv_store_t *st, int64_t now_ms, int64_t grace_ms,
                           size_t max, char *err, size_t errlen);

    /* admin */
    sv_store_rc_t (*member_page)(sv_store_t *st, sv_member_page_t *p,
                                 char *err, size_t errlen);
    sv_store_rc_t (*member_get)(sv_store_t *st, uint64_t id,
                                sv_member_info_t *m, char *err,
                                size_t errlen);
    sv_store_rc_t (*member_delete)(sv_store_t *st, sv_member_delete_t *d,
                                   char *err, size_t errlen);
    sv_store_rc_t (*member_import)(sv_store_t *st, sv_member_import_t *im,
                                   char *err, size_t errlen);
    sv_store_rc_t (*limits_clear)(sv_store_t *st, const char *phone,
                                  char *err, size_t errlen);

    /* outbox */
    sv_store_rc_t (*outbox_take)(sv_store_t *st, int64_t now_ms,
                                 int64_t lease_ms, sv_outbox_event_t *ev,
                                 char *err, size_t errlen);
    sv_store_rc_t (*outbox_done)(sv_store_t *st, const sv_outbox_event_t *ev,
                                 char *err, size_t errlen);
    sv_store_rc_t (*outbox_failed)(sv_store_t *st, sv_outbox_event_t *ev,
                                   int64_t now_ms, char *err, size_t errlen);
    sv_store_rc_t (*outbox_backlog)(sv_store_t *st, uint64_t *n, char *err,
                                    size_t errlen);

    /* batches: NULL where the backend runs each call alone */
    sv_store_rc_t (*batch_begin)(sv_store_t *st, char *err, size_t errlen);
    sv_store_rc_t (*batch_end)(sv_store_t *st, int commit, char *err,
                               size_t errlen);

    /*
     * NULL where confirms do not go together: the n confirms (n > 1,
     * each phone checked), each answered as if alone
     */
    void          (*confirm_batch)(sv_store_t *st,
                                   sv_store_confirm_op_t *const *ops,
                                   size_t n);

    /*
     * NULL where sends do not go together: the n send_begin (n > 1, each
     * send checked and stamped), each answered as if alone
     */
    void          (*send_batch)(sv_store_t *st,
                                sv_store_send_op_t *const *ops, size_t n);

    /* likewise for send_abort (each send checked, not stamped again) */
    void          (*abort_batch)(sv_store_t *st,
                                 sv_store_send_op_t *const *ops, size_t n);

    /* likewise for code_put (each phone and purpose checked) */
    void          (*code_batch)(sv_store_t *st,
                                sv_store_code_op_t *const *ops, size_t n);

    /*
     * likewise for session uses (each hash given, each lookup not yet
     * looked stamped)
     */
    void          (*session_batch)(sv_store_t *st,
                                   sv_store_session_op_t *const *ops,
                                   size_t n);

    /* reads for the event loop: NULL where reads may wait */
    sv_store_rc_t (*confirm_read)(sv_store_t *st, sv_confirm_t *c,
                                  char *err, size_t errlen);
    sv_store_rc_t (*send_read)(sv_store_t *st, sv_send_t *s, char *err,
                               size_t errlen);
} sv_store_ops_t;

struct sv_store_s {
    const sv_store_ops_t   *ops;
};


/* sv_store_lmdb.c: the store in conf->dir. */
sv_store_rc_t sv_store_lmdb_open(sv_store_t **st,
    const sv_store_conf_t *conf, char *err, size_t errlen);

/*
 * sv_store_pg.c: the PostgreSQL store conf->uri names.  Nothing is
 * connected here: each pool thread connects on its first call.
 */
sv_store_rc_t sv_store_pg_open(sv_store_t **st, const sv_store_conf_t *conf,
    char *err, size_t errlen);

#endif /* SV_STORE_IMPL_H */
