#ifndef SV_STORE_H
#define SV_STORE_H

/*
 * The store of codes, tokens and members, in two parts under one
 * directory: the members, every commit synced, and the codes, send counts
 * and tokens, synced lazily if nosync is set.  Every call is one
 * transaction in each part it touches and may block on other processes'
 * writers: callers run them off the event loop.  Strings are
 * NUL-terminated; phones are E.164.  Errors (SV_STORE_FULL,
 * SV_STORE_ERROR) leave a sentence in err and nothing half-written.
 */

#include <stddef.h>
#include <stdint.h>

#include "sv_code.h"


typedef struct sv_store_s  sv_store_t;

typedef enum {
    SV_STORE_OK = 0,
    SV_STORE_PHONE_TAKEN,
    SV_STORE_EMAIL_TAKEN,
    SV_STORE_RESEND_TOO_SOON,
    SV_STORE_SEND_LIMIT,
    SV_STORE_NO_CODE,
    SV_STORE_EXPIRED,
    SV_STORE_MISMATCH,
    SV_STORE_BURNT,
    SV_STORE_NO_TOKEN,
    SV_STORE_FULL,              /* the map is full; err says so too */
    SV_STORE_ERROR
} sv_store_rc_t;

#define SV_SEND_LIMIT_MAX  100

/* signups refused as taken that use a token up */
#define SV_TOKEN_FAILURES_MAX  3

/* the two parts' subdirectories of the store's directory */
#define SV_STORE_MEMBERS_DIR  "members"
#define SV_STORE_CODES_DIR    "codes"


typedef struct {
    const char     *dir;           /* existing directory */
    size_t          map_size;      /* of each part */
    int             nosync;        /* the codes' commits do not fsync */
    unsigned        max_readers;
} sv_store_conf_t;

/* What sv_store_check() found and did. */
typedef struct {
    long            uid;           /* the check runs as them; -1: as we */
    long            gid;
    int             migrated;      /* out: an old single environment ... */
                                   /* ... became the members' part */
    int             in_use;        /* out: open in other processes, ... */
                                   /* ... who checked it: not read */
    int             damaged;       /* out: the codes' part was moved ... */
    char            moved_to[512]; /* ... here */
    char            reason[256];   /* out: what was wrong with it */
} sv_store_check_t;

typedef struct {
    const char     *phone;
    int64_t         now_ms;
    int64_t         resend_ms;     /* least time between two sends */
    unsigned        limit;         /* at most limit sends ... */
    int64_t         window_ms;     /* ... in any such window */
    int64_t         retry_after_ms;     /* out, for the two limits */
} sv_send_t;

typedef struct {
    const char     *phone;
    const uint8_t  *guess_hash;         /* sv_code_hash() of the guess */
    int64_t         now_ms;
    const uint8_t  *token_hash;         /* stored on a match */
    int64_t         token_expires_ms;
    unsigned        attempts_left;      /* out, after a mismatch */
} sv_confirm_t;

typedef struct {
    const char     *email;              /* as given */
    const char     *email_key;          /* folded, the unique key */
    const char     *phone;
    const char     *nickname;
    const char     *password_hash;
    const int      *terms;
    size_t          nterms;
    int64_t         now_ms;
    const uint8_t  *token_hash;         /* consumed by the signup */
    uint64_t        id;                 /* out */
} sv_member_t;

typedef struct {
    uint64_t        codes_pending;      /* unexpired codes */
    uint64_t        members;
} sv_store_stats_t;


/*
 * Before any process opens the store (nginx's start): moves an old
 * single-environment store (dir/data.mdb) to the members' part, then
 * reads every page and record of the codes' part in a child process
 * (damage may crash a reader), unless other processes have it open.  A
 * damaged part is renamed aside, to be created afresh by the next open;
 * the members' part is never touched but to move it in.  ERROR only if
 * the check could not be made.
 */
sv_store_rc_t sv_store_check(const char *dir, sv_store_check_t *chk,
    char *err, size_t errlen);

/* Makes the parts' subdirectories if need be; ERROR for an old layout. */
sv_store_rc_t sv_store_open(sv_store_t **st, const sv_store_conf_t *conf,
    char *err, size_t errlen);
void sv_store_close(sv_store_t *st);

/* Flushes the codes' commits made without fsync to disk. */
sv_store_rc_t sv_store_sync(sv_store_t *st, char *err, size_t errlen);

/* Clears reader slots of dead processes; returns how many, -1 on error. */
int sv_store_reader_check(sv_store_t *st);

/*
 * Before a send: PHONE_TAKEN if a member has the phone, RESEND_TOO_SOON
 * or SEND_LIMIT (retry_after_ms set) if a limit forbids it; otherwise the
 * send is counted at now_ms and OK.
 */
sv_store_rc_t sv_store_send_begin(sv_store_t *st, sv_send_t *s,
    char *err, size_t errlen);

/* Every provider failed: the send counted at stamp_ms is taken back. */
sv_store_rc_t sv_store_send_abort(sv_store_t *st, const char *phone,
    int64_t stamp_ms, char *err, size_t errlen);

/* A provider accepted: the code replaces any previous one. */
sv_store_rc_t sv_store_code_put(sv_store_t *st, const char *phone,
    const uint8_t *code_hash, int64_t expires_ms, unsigned attempts,
    char *err, size_t errlen);

/*
 * PHONE_TAKEN, NO_CODE, EXPIRED; a match (constant time) deletes the code,
 * stores the token and is OK; a mismatch counts an attempt: MISMATCH with
 * attempts_left, or BURNT (code deleted) when none is left.
 */
sv_store_rc_t sv_store_confirm(sv_store_t *st, sv_confirm_t *c,
    char *err, size_t errlen);

/* OK if the token is unexpired and for this phone, NO_TOKEN otherwise. */
sv_store_rc_t sv_store_token_check(sv_store_t *st, const uint8_t *token_hash,
    const char *phone, int64_t now_ms, char *err, size_t errlen);

/*
 * Before the password is hashed: NO_TOKEN (expired, for another phone,
 * used up), EMAIL_TAKEN or PHONE_TAKEN; a taken answer counts against
 * the token, which SV_TOKEN_FAILURES_MAX of them use up.  OK if a signup
 * may succeed.
 */
sv_store_rc_t sv_store_signup_check(sv_store_t *st, const sv_member_t *m,
    char *err, size_t errlen);

/*
 * NO_TOKEN, EMAIL_TAKEN, PHONE_TAKEN (counted as by the check), or the
 * member is created with the next id in a commit synced to disk, and then
 * the token consumed: OK.
 */
sv_store_rc_t sv_store_signup(sv_store_t *st, sv_member_t *m,
    char *err, size_t errlen);

sv_store_rc_t sv_store_stats(sv_store_t *st, int64_t now_ms,
    sv_store_stats_t *stats, char *err, size_t errlen);

/*
 * Deletes codes expired for longer than grace_ms, expired tokens and send
 * counts that no limit needs any more; at most max records.
 */
sv_store_rc_t sv_store_sweep(sv_store_t *st, int64_t now_ms,
    int64_t grace_ms, size_t max, char *err, size_t errlen);

#endif /* SV_STORE_H */
