#ifndef SV_STORE_H
#define SV_STORE_H

/*
 * The store of codes, tokens and members, whatever keeps them: in two
 * parts, the members, every commit synced, and the codes, send counts and
 * tokens, synced lazily if nosync is set.  Every call is one transaction
 * in each part it touches and may block on other processes' writers:
 * callers run them off the event loop.  Strings are NUL-terminated;
 * phones are E.164.  Errors (SV_STORE_FULL, SV_STORE_ERROR) leave a
 * sentence in err and nothing half-written.  Each call is given its
 * time, and decides by it.
 *
 * sv_store.c checks the arguments and dispatches to the backend
 * sv_store_open() chose (sv_store_impl.h); the rules every backend
 * applies are in sv_rules.h.
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
    SV_STORE_IP_LIMIT,          /* too many sends from the address */
    SV_STORE_BUDGET,            /* the day's SMS budget is spent */
    SV_STORE_NO_CODE,
    SV_STORE_EXPIRED,
    SV_STORE_MISMATCH,
    SV_STORE_BURNT,
    SV_STORE_NO_TOKEN,
    SV_STORE_NOT_MEMBER,        /* no member has this phone or email */
    SV_STORE_LOCKED,            /* too many failed logins */
    SV_STORE_NO_SESSION,
    SV_STORE_FULL,              /* the map is full; err says so too */
    SV_STORE_UNAVAILABLE,       /* the database cannot be reached now: */
                                /* nothing was changed (PostgreSQL) */
    SV_STORE_ID_TAKEN,          /* an import's id is a member's already */
    SV_STORE_ERROR
} sv_store_rc_t;

#define SV_SEND_LIMIT_MAX  100
#define SV_LOGIN_LIMIT_MAX  100

/* the longest phone the store takes: E.164 has at most 15 digits */
#define SV_STORE_PHONE_MAX  32

/* the longest address key: "2001:db8:1:2::/64" and the like (sv_addr.h) */
#define SV_STORE_ADDR_MAX   63

/* the highest smsverify_daily_budget */
#define SV_BUDGET_MAX       100000000

/* signups refused as taken that use a token up */
#define SV_TOKEN_FAILURES_MAX  3

/* what the store gives back of a member: the longest of each */
#define SV_STORE_EMAIL_MAX     254
#define SV_STORE_NICKNAME_MAX  80      /* 20 code points of UTF-8 */
#define SV_STORE_HASH_MAX      63      /* a bcrypt string is 60 */
#define SV_STORE_TERMS_MAX     64

/* an account key: "e:" and a folded email, or "p:" and a phone */
#define SV_STORE_ACCOUNT_MAX   (2 + SV_STORE_EMAIL_MAX)

/* the two parts' subdirectories of the store's directory */
#define SV_STORE_MEMBERS_DIR  "members"
#define SV_STORE_CODES_DIR    "codes"


/*
 * Which backend sv_store_open() opens follows from what is given: a uri
 * is the PostgreSQL store (sv_store_pg.c), else a dir is the LMDB store
 * (sv_store_lmdb.c).
 */
typedef struct {
    const char     *dir;           /* existing directory */
    size_t          map_size;      /* of each part */
    int             nosync;        /* the codes' commits do not fsync */
    int             writemap;      /* the codes' part through a writable */
                                   /* map, its file allocated ahead */
    size_t          writemap_ahead;         /* 0: sv_store_lmdb's default */
    unsigned        max_readers;

    const char     *uri;           /* a libpq URI, or NULL */
    unsigned        statement_timeout_ms;   /* 0: sv_pg's default */
    unsigned        connect_timeout_s;      /* 0: sv_pg's default */

    int             outbox;        /* a webhook is configured: member */
                                   /* changes write their events */
} sv_store_conf_t;

/*
 * A webhook event of the outbox (sv_webhook.h signs and posts it): its
 * body is made in the transaction of the change it reports.
 */
#define SV_OUTBOX_TYPE_MAX    31
#define SV_OUTBOX_MSG_ID_MAX  36        /* "msg_" and 32 hex digits */
#define SV_OUTBOX_BODY_MAX    4096

/* how long a taken event is its taker's, beyond the delivery's timeout */
#define SV_OUTBOX_LEASE_MARGIN_MS  10000

typedef struct {
    int             found;              /* 0: nothing is due */
    uint64_t        id;                 /* the store's, in order made */
    char            msg_id[SV_OUTBOX_MSG_ID_MAX + 1];   /* webhook-id */
    char            type[SV_OUTBOX_TYPE_MAX + 1];
    int64_t         created_ms;
    unsigned        attempts;           /* failed so far */
    int64_t         next_ms;            /* due then */
    int64_t         lease_ms;           /* taken until then: the taker's */
    size_t          len;
    char            body[SV_OUTBOX_BODY_MAX + 1];
    int             dropped;            /* out of outbox_failed: gone */
} sv_outbox_event_t;

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

/*
 * What a code, and the token its match gives, are for: a signup token is
 * taken by signup only, a reset token by reset only.
 */
typedef enum {
    SV_PURPOSE_SIGNUP = 0,
    SV_PURPOSE_RESET
} sv_purpose_t;

/*
 * A send and every limit it is checked against, in this order (the first
 * that refuses answers, and nothing is counted): the day's budget over
 * the whole store, the client address, the phone's resend interval, the
 * phone's window.  A send that passes them all is counted in each.
 */
typedef struct {
    const char     *phone;
    sv_purpose_t    purpose;
    int64_t         now_ms;
    int64_t         resend_ms;     /* least time between two sends */
    unsigned        limit;         /* at most limit sends ... */
    int64_t         window_ms;     /* ... in any such window */

    /*
     * The client address (sv_addr_key()), or NULL: not counted.  Every
     * send with one counts in the address's window, which keeps its
     * sends for addr_keep_ms (the longest window any location checks);
     * with addr_limit (0: not checked) at most that many in any
     * addr_window_ms.
     */
    const char     *addr;
    unsigned        addr_limit;
    int64_t         addr_window_ms;
    int64_t         addr_keep_ms;

    /* at most budget sends (0: no budget) in a UTC day, store-wide */
    uint64_t        budget;

    int64_t         retry_after_ms;     /* out, for the limits */
    int             budget_first;       /* out: BUDGET for the first ... */
                                        /* ... time this UTC day */
} sv_send_t;

/*
 * Called on a match only, in the confirm's transaction: draws the
 * verification token and puts its hash (SV_HASH_SIZE bytes) in
 * token_hash; 0, or -1 if no token could be drawn (nothing changes).
 */
typedef int (*sv_token_new_pt)(void *data, uint8_t *token_hash);

typedef struct {
    const char     *phone;
    const uint8_t  *guess_hash;         /* sv_code_hash() of the guess */
    int64_t         now_ms;
    sv_token_new_pt token_new;
    void           *token_data;         /* token_new's first argument */
    int64_t         token_expires_ms;
    unsigned        attempts_left;      /* out, after a mismatch */
    sv_purpose_t    purpose;            /* out: the code's, and the token's */
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

/* A member as the store gives it back. */
typedef struct {
    uint64_t        id;
    char            email[SV_STORE_EMAIL_MAX + 1];      /* as given */
    char            phone[SV_STORE_PHONE_MAX + 1];
    char            nickname[SV_STORE_NICKNAME_MAX + 1];
    char            password_hash[SV_STORE_HASH_MAX + 1];
    int             terms[SV_STORE_TERMS_MAX];
    size_t          nterms;
    int64_t         created_ms;
    uint32_t        epoch;              /* a reset ends older sessions */
} sv_member_info_t;

typedef struct {
    const char     *account;            /* "e:" folded email, "p:" E.164 */
    int64_t         now_ms;
    unsigned        limit;              /* LOCKED at limit failures ... */
    int64_t         window_ms;          /* ... in any such window */
    int64_t         retry_after_ms;     /* out, for LOCKED */
} sv_login_t;

typedef struct {
    const uint8_t  *hash;               /* sv_session_hash() of its value */
    uint64_t        member_id;
    uint32_t        epoch;              /* the member's, at login */
    int64_t         now_ms;
    int64_t         expires_ms;         /* it ends then ... */
    int64_t         idle_ms;            /* ... or this long after a use */
    const char     *account;            /* failures forgotten; or NULL */
} sv_session_t;

typedef struct {
    const uint8_t  *hash;
    int64_t         now_ms;
    sv_member_info_t  member;           /* out */
    int64_t         expires_in_ms;      /* out: the sooner end, if used now */
    int             stale;              /* out: last use older than a ... */
                                        /* ... tenth of idle: touch it */
} sv_session_get_t;

typedef struct {
    const char     *phone;
    const uint8_t  *token_hash;         /* a reset token for the phone */
    int64_t         now_ms;
    const char     *password_hash;      /* the new one */
    uint64_t        id;                 /* out */
} sv_reset_t;

/*
 * Counts the writes keep, so that reading them costs the same whatever
 * the store holds.  codes_pending is the codes held: put, and not yet
 * confirmed, burnt or swept (an expired code counts until the sweep
 * deletes it; a code put again for its phone replaces it).
 */
typedef struct {
    uint64_t        codes_pending;
    uint64_t        members;
} sv_store_stats_t;


/*
 * The LMDB store's start check (sv_store_lmdb_check.c), on its directory.
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

/*
 * Opens the backend conf names.  LMDB: makes the parts' subdirectories if
 * need be; ERROR for an old layout.
 */
sv_store_rc_t sv_store_open(sv_store_t **st, const sv_store_conf_t *conf,
    char *err, size_t errlen);
void sv_store_close(sv_store_t *st);

/* Flushes the codes' commits made without fsync to disk, if any. */
sv_store_rc_t sv_store_sync(sv_store_t *st, char *err, size_t errlen);

/*
 * Clears what dead processes left (LMDB: reader slots); returns how
 * many, -1 on error.
 */
int sv_store_reader_check(sv_store_t *st);

/*
 * Before a send: for a signup code PHONE_TAKEN if a member has the phone,
 * for a reset code NOT_MEMBER if none has it; then the limits, decided
 * together in one transaction, in sv_send_t's order: BUDGET (with
 * retry_after_ms until the next UTC midnight, and budget_first set for
 * the first of the day), IP_LIMIT, RESEND_TOO_SOON or SEND_LIMIT
 * (retry_after_ms set); a refusal counts in no limit.  Otherwise the send
 * is counted at now_ms in every limit it carries and OK.
 */
sv_store_rc_t sv_store_send_begin(sv_store_t *st, sv_send_t *s,
    char *err, size_t errlen);

/*
 * Every provider failed: the send send_begin counted (s as it was given
 * then, with its now_ms) is taken back from the phone, the address and
 * the day's budget.
 */
sv_store_rc_t sv_store_send_abort(sv_store_t *st, const sv_send_t *s,
    char *err, size_t errlen);

/*
 * A store that is full (SV_STORE_FULL) is often full of what has
 * expired: send_begin, code_put and confirm then sweep it at once, with no
 * grace, and try again; their FULL is what is left after that.  A
 * signup's FULL is the members' part, which no sweep relieves.
 */

/* A provider accepted: the code replaces any previous one. */
sv_store_rc_t sv_store_code_put(sv_store_t *st, const char *phone,
    const uint8_t *code_hash, int64_t expires_ms, unsigned attempts,
    sv_purpose_t purpose, char *err, size_t errlen);

/*
 * PHONE_TAKEN (a member has the phone, and its code is not a reset code:
 * a signup code, or none), NO_CODE, EXPIRED; a match (constant
 * time) deletes the code, stores the token c->token_new draws, of the
 * code's purpose (c->purpose), and is OK, in one transaction; a
 * mismatch counts an attempt: MISMATCH with attempts_left, or BURNT (code
 * deleted) when none is left.  No token is drawn but for a match.
 */
sv_store_rc_t sv_store_confirm(sv_store_t *st, sv_confirm_t *c,
    char *err, size_t errlen);

/*
 * Reads that answer a request where no write is needed, for the event
 * loop: each decides by sv_rules.h as its call does, from the records
 * as one read-only transaction of each part sees them (the last
 * commits: an answer a call made then would have given too), and
 * changes nothing.  OK means undecided: the call itself must run.  Only
 * where sv_store_reads_wait_free(); elsewhere OK at once.
 *
 * confirm_read: what sv_store_confirm() would answer without writing:
 * PHONE_TAKEN, NO_CODE, EXPIRED (c->phone, c->now_ms); OK if there is a
 * code to guess at.  The guess is not looked at, no token drawn.
 */
sv_store_rc_t sv_store_confirm_read(sv_store_t *st, sv_confirm_t *c,
    char *err, size_t errlen);

/*
 * send_read: a refusal sv_store_send_begin() would give: PHONE_TAKEN,
 * NOT_MEMBER, IP_LIMIT, RESEND_TOO_SOON, SEND_LIMIT, with
 * s->retry_after_ms; OK if send_begin must decide: the send passes, the
 * budget refuses it (a refusal send_begin counts in the day's record: a
 * write), or the store is full (whose FULL and sweep come first).
 * Nothing is counted.
 */
sv_store_rc_t sv_store_send_read(sv_store_t *st, sv_send_t *s,
    char *err, size_t errlen);

/*
 * OK if the token is unexpired, of this purpose and for this phone,
 * NO_TOKEN otherwise.
 */
sv_store_rc_t sv_store_token_check(sv_store_t *st, const uint8_t *token_hash,
    const char *phone, sv_purpose_t purpose, int64_t now_ms, char *err,
    size_t errlen);

/*
 * The phone an unexpired token of this purpose proves (it is not used
 * up): OK with phone (SV_STORE_PHONE_MAX + 1 bytes), or NO_TOKEN.  A
 * read, as session_get is.
 */
sv_store_rc_t sv_store_token_phone(sv_store_t *st, const uint8_t *token_hash,
    sv_purpose_t purpose, int64_t now_ms, char *phone, char *err,
    size_t errlen);

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

/*
 * Accounts.  A login: login_allowed (a read: LOCKED when limit failures
 * of the account are in the window, retry_after_ms until fewer are: the
 * oldest leaving it, or more of them if racing logins counted past the
 * limit), member_find, the password checked by the caller, then
 * login_failed or session_start.  limit is 1 to SV_LOGIN_LIMIT_MAX.
 */
sv_store_rc_t sv_store_login_allowed(sv_store_t *st, sv_login_t *l,
    char *err, size_t errlen);

/* A failed login of l->account is counted at l->now_ms. */
sv_store_rc_t sv_store_login_failed(sv_store_t *st, sv_login_t *l,
    char *err, size_t errlen);

/*
 * The member of this folded email or, with email_key NULL, of this phone:
 * OK with m filled, or NOT_MEMBER.  A read.
 */
sv_store_rc_t sv_store_member_find(sv_store_t *st, const char *email_key,
    const char *phone, sv_member_info_t *m, char *err, size_t errlen);

/*
 * A login found a hash of another cost: the member's hash becomes
 * new_hash if it is still old_hash (a reset meanwhile wins); OK either
 * way, NOT_MEMBER if the member is gone.
 */
sv_store_rc_t sv_store_member_rehash(sv_store_t *st, uint64_t id,
    const char *old_hash, const char *new_hash, char *err, size_t errlen);

/*
 * The session is stored by its hash; s->account's failures are gone.
 * ERROR for a session that has ended already (idle_ms <= 0, expires_ms
 * <= now_ms).
 */
sv_store_rc_t sv_store_session_start(sv_store_t *st, const sv_session_t *s,
    char *err, size_t errlen);

/*
 * OK with the session's member, or NO_SESSION: unknown, ended (expired,
 * idle, logged out), of an older epoch than its member's (a reset), or
 * its member gone.  A read: where sv_store_reads_wait_free(), it may run
 * on the event loop.
 */
sv_store_rc_t sv_store_session_get(sv_store_t *st, sv_session_get_t *g,
    char *err, size_t errlen);

/*
 * The session's last use is now_ms; OK also if it is gone.  A session
 * that has ended (idle, expired) is not brought back: it is deleted.
 */
sv_store_rc_t sv_store_session_touch(sv_store_t *st, const uint8_t *hash,
    int64_t now_ms, char *err, size_t errlen);

/* The session is deleted; OK whether or not it was there. */
sv_store_rc_t sv_store_session_end(sv_store_t *st, const uint8_t *hash,
    char *err, size_t errlen);

/*
 * Before the new password is hashed: NO_TOKEN (unknown, expired, for
 * another phone, or a signup token) or NOT_MEMBER; OK if a reset may
 * succeed.  A read.
 */
sv_store_rc_t sv_store_reset_check(sv_store_t *st, const sv_reset_t *r,
    char *err, size_t errlen);

/*
 * NO_TOKEN, NOT_MEMBER, or the member's hash is replaced and every
 * session of it ended (its epoch moves on) in a commit synced to disk,
 * then the token consumed: OK with r->id.
 */
sv_store_rc_t sv_store_reset(sv_store_t *st, sv_reset_t *r, char *err,
    size_t errlen);

/*
 * 1 if the backend's reads never wait for a writer, a lock or the
 * network (LMDB's readers), so that a read may run on the event loop.
 */
int sv_store_reads_wait_free(sv_store_t *st);

sv_store_rc_t sv_store_stats(sv_store_t *st, sv_store_stats_t *stats,
    char *err, size_t errlen);

/*
 * Deletes codes expired for longer than grace_ms, expired tokens, send
 * counts (by phone and by address) and login failures that no limit
 * needs any more, the budget's counts of days before now_ms's, and ended
 * sessions; at most max records.
 */
sv_store_rc_t sv_store_sweep(sv_store_t *st, int64_t now_ms,
    int64_t grace_ms, size_t max, char *err, size_t errlen);


/*
 * Admin: members read in pages, by id, deleted, imported; a phone's
 * limits cleared.
 */

/* the most members a page holds */
#define SV_STORE_PAGE_MAX  1000

/* the highest member id: ids are kept exact in JSON numbers (doubles) */
#define SV_STORE_ID_MAX    9007199254740991ULL

typedef struct {
    uint64_t            after;          /* members of ids above this */
    size_t              limit;          /* 1 to SV_STORE_PAGE_MAX */
    sv_member_info_t   *members;        /* room for limit of them */
    size_t              n;              /* out: how many, by id */
    int                 more;           /* out: members after the last */
} sv_member_page_t;

/*
 * What a deletion is given and gives back.  The member it deleted is
 * what the member.deleted event of the webhooks is about: a backend that
 * writes an outbox writes it from this, in the deletion's transaction.
 */
typedef struct {
    uint64_t            id;
    int64_t             now_ms;
    sv_member_info_t    member;         /* out: as it was */
} sv_member_delete_t;

typedef struct {
    sv_member_info_t   *members;        /* id, email (as given), phone, */
                                        /* nickname, hash, terms, */
                                        /* created_ms; epoch ignored */
    size_t              n;
    size_t              bad;            /* out: which one a TAKEN is of */
} sv_member_import_t;

/*
 * Up to p->limit members of ids above p->after, by id: OK with p->n
 * (0 past the last) and p->more.  A read.
 */
sv_store_rc_t sv_store_member_page(sv_store_t *st, sv_member_page_t *p,
    char *err, size_t errlen);

/* The member of this id: OK with m filled, or NOT_MEMBER.  A read. */
sv_store_rc_t sv_store_member_get(sv_store_t *st, uint64_t id,
    sv_member_info_t *m, char *err, size_t errlen);

/*
 * NOT_MEMBER, or the member, its terms, its email and phone keys are
 * deleted in a commit synced to disk (the email and phone are free
 * again; the id is never drawn again), and its sessions ended: OK with
 * d->member.
 */
sv_store_rc_t sv_store_member_delete(sv_store_t *st, sv_member_delete_t *d,
    char *err, size_t errlen);

/*
 * Every member of im, with its id, hash and createdAt, in one commit
 * synced to disk, or none: ID_TAKEN, EMAIL_TAKEN (compared folded) or
 * PHONE_TAKEN with im->bad the first member that is so, by a member of
 * the store or one before it in im.  The next signup's id is above every
 * imported one.  n is 1 or more; each member's fields are checked as
 * signup's are sized (ERROR otherwise).
 */
sv_store_rc_t sv_store_member_import(sv_store_t *st, sv_member_import_t *im,
    char *err, size_t errlen);

/* The phone's send counts and pending code are forgotten: OK. */
sv_store_rc_t sv_store_limits_clear(sv_store_t *st, const char *phone,
    char *err, size_t errlen);


/*
 * The webhook outbox.  Events are written by the changes they report
 * (signup: member.created, reset: member.password_changed) in their
 * members' transaction, where the store was opened with conf->outbox.
 *
 * outbox_take: the oldest event due at now_ms (next_ms <= now_ms), taken
 * until now_ms + lease_ms, if no other is taken: one delivery at a time
 * for the whole store, in the order the events were made (an event that
 * failed waits for its next attempt while those after it go).  A lease
 * whose taker died (it passed, or on one host its process is gone) is
 * void.  OK with ev->found 0 if nothing is due or another is taken.
 */
sv_store_rc_t sv_store_outbox_take(sv_store_t *st, int64_t now_ms,
    int64_t lease_ms, sv_outbox_event_t *ev, char *err, size_t errlen);

/* Delivered: the event is deleted and its lease ended; OK if gone. */
sv_store_rc_t sv_store_outbox_done(sv_store_t *st,
    const sv_outbox_event_t *ev, char *err, size_t errlen);

/*
 * An attempt failed at now_ms: counted, and the next one set by
 * sv_rules_outbox_retry_at(), or the event deleted (ev->dropped) when
 * its three days are over; its lease ended.  OK if gone.
 */
sv_store_rc_t sv_store_outbox_failed(sv_store_t *st, sv_outbox_event_t *ev,
    int64_t now_ms, char *err, size_t errlen);

/* The events not yet delivered nor dropped. */
sv_store_rc_t sv_store_outbox_backlog(sv_store_t *st, uint64_t *n,
    char *err, size_t errlen);


/*
 * A confirm spelled out, for a batch that runs many at once: *rc and err
 * get what sv_store_confirm(st, c, err, errlen) answers.  With clock set,
 * c->now_ms is the clock's when it runs and c->token_expires_ms that
 * plus token_ttl_ms; else c's times are as given.
 */
typedef struct {
    sv_confirm_t   *c;
    int             clock;
    int64_t         token_ttl_ms;
    sv_store_rc_t  *rc;
    char           *err;
    size_t          errlen;
} sv_store_confirm_op_t;

/* The confirm alone. */
void sv_store_confirm_op(sv_store_t *st, sv_store_confirm_op_t *op);

/*
 * A send_begin spelled out, for a batch that runs many at once: *rc and
 * err get what sv_store_send_begin(st, s, err, errlen) answers.  With
 * clock set, s->now_ms is the clock's when it runs; else as given.
 */
typedef struct {
    sv_send_t      *s;
    int             clock;
    sv_store_rc_t  *rc;
    char           *err;
    size_t          errlen;
} sv_store_send_op_t;

/* The send_begin alone. */
void sv_store_send_op(sv_store_t *st, sv_store_send_op_t *op);

/*
 * The send_abort alone, of the same op: *rc and err get what
 * sv_store_send_abort(st, op->s, err, errlen) answers.  op->s is the
 * send as its send_begin stamped it (clock is not looked at).
 */
void sv_store_abort_op(sv_store_t *st, sv_store_send_op_t *op);

/*
 * A code_put spelled out, for a batch that runs many at once: *rc and
 * err get what sv_store_code_put() of the same arguments answers.
 */
typedef struct {
    const char     *phone;
    const uint8_t  *code_hash;
    int64_t         expires_ms;
    unsigned        attempts;
    sv_purpose_t    purpose;
    sv_store_rc_t  *rc;
    char           *err;
    size_t          errlen;
} sv_store_code_op_t;

/* The code_put alone. */
void sv_store_code_op(sv_store_t *st, sv_store_code_op_t *op);

/*
 * A session's use spelled out, for a batch that runs many at once.  With
 * get set, a lookup: unless looked (get answered already, *rc its
 * answer), *rc and err get what sv_store_session_get(st, get, err,
 * errlen) answers, get->now_ms the clock's when it runs; then a session
 * found stale has its last use written (sv_store_session_touch(), whose
 * failure costs the session a little of its idle time only).  With get
 * NULL, an end: *rc and err get what sv_store_session_end() answers.
 */
typedef struct {
    const uint8_t     *hash;
    sv_session_get_t  *get;
    int                looked;
    sv_store_rc_t     *rc;
    char              *err;
    size_t             errlen;
} sv_store_session_op_t;

/* The session's use alone. */
void sv_store_session_op(sv_store_t *st, sv_store_session_op_t *op);

/*
 * Batches (group commit).  One store operation of a batch: run() makes
 * its calls in the pool thread, writing its results where data says.
 * confirm, if not NULL, says that run() is sv_store_confirm_op() of it:
 * a backend may then run it with the batch's other confirms instead (the
 * same answer); send, abort and code, likewise, that run() is
 * sv_store_send_op(), sv_store_abort_op() or sv_store_code_op() of it,
 * and session that it is sv_store_session_op() of it.  again and done
 * are the runner's.
 */
typedef struct {
    void                   (*run)(void *data);
    void                    *data;
    sv_store_confirm_op_t   *confirm;
    sv_store_send_op_t      *send;
    sv_store_send_op_t      *abort;
    sv_store_code_op_t      *code;
    sv_store_session_op_t   *session;
    unsigned                 again:1;
    unsigned                 done:1;
} sv_store_op_t;

/* 1 if the backend runs a batch as one transaction (LMDB's codes part) */
int sv_store_batches(sv_store_t *st);

/*
 * 1 if the backend runs a batch's confirms (ops with confirm) together:
 * where sv_store_batches(), and PostgreSQL, whose confirms of a batch
 * share their round trips and commits (one for every guess, one more for
 * the matches), each answered as alone.
 */
int sv_store_batches_confirms(sv_store_t *st);

/*
 * 1 if the backend runs a batch's session uses (ops with session)
 * together: where sv_store_batches(), and PostgreSQL, whose lookups and
 * ends of a batch share a round trip, and the last uses they write one
 * more, each answered as alone.
 */
int sv_store_batches_sessions(sv_store_t *st);

/*
 * Runs the n operations in this thread, each as if alone, each with its
 * own result.  Where the backend batches, the calls they make share one
 * write transaction of the codes' part and one commit (and fsync).  One
 * that fails (ERROR) before it wrote answers alone and the others'
 * writes stay; one that fails after a write has every operation run
 * again alone, the batch undone.  An operation that met a
 * full store, and every one if the batch's commit fails, runs again
 * alone after it (a full store relieved as a call alone relieves it).
 * A batch of one, or a backend that does not batch, runs each alone.
 * Calls that write the members' part run in their own transactions.
 * Where the backend batches confirms apart (PostgreSQL), those with
 * confirm go together first, and the rest run alone; so do those with
 * send where it batches sends (PostgreSQL: each send its own
 * transaction, their statements in pipelines, n + 1 round trips for n
 * sends instead of five each), and those with code where it batches
 * codes (PostgreSQL: one round trip for them all, each its own
 * transaction).
 */
void sv_store_batch_run(sv_store_t *st, sv_store_op_t *ops, size_t n);

#endif /* SV_STORE_H */
