#ifndef SV_RULES_H
#define SV_RULES_H

/*
 * The store's rules, whatever keeps the records: plain functions of the
 * decoded records and the time, shared by every backend.  None of them
 * reads a clock or storage.  A backend reads the records a call needs,
 * asks the rules, and writes back what they changed, in one transaction.
 */

#include <stddef.h>
#include <stdint.h>

#include "sv_store.h"


/* the most stamps a window record keeps: the highest limit */
#define SV_WINDOW_MAX  SV_SEND_LIMIT_MAX

#if SV_LOGIN_LIMIT_MAX > SV_WINDOW_MAX
#error "SV_LOGIN_LIMIT_MAX does not fit a window record"
#endif


/* A phone's code: what the store keeps of it. */
typedef struct {
    uint8_t             hash[SV_HASH_SIZE];     /* sv_code_hash() */
    int64_t             expires_ms;
    uint32_t            attempts_left;
    sv_purpose_t        purpose;
} sv_code_rec_t;

/*
 * The times of events a window limit may still need, in the order they
 * came: a phone's sends, an account's failed logins.
 */
typedef struct {
    int64_t             keep_until_ms;          /* no limit needs it after */
    unsigned            count;
    int64_t             stamps[SV_WINDOW_MAX];
} sv_window_rec_t;

typedef sv_window_rec_t  sv_send_rec_t;
typedef sv_window_rec_t  sv_login_rec_t;
typedef sv_window_rec_t  sv_addr_rec_t;

/* The daily budget's count of one UTC day, store-wide. */
typedef struct {
    int64_t             day;            /* days since 1970-01-01 UTC */
    uint64_t            sent;           /* sends counted that day */
    uint64_t            refused;        /* sends the budget refused */
} sv_day_rec_t;

#define SV_DAY_MS        86400000LL

/* a day's key: "2026-12-01" and its NUL, with room for any int */
#define SV_DAY_KEY_SIZE  48

/*
 * What one send's limits read and write: the phone's sends, the
 * address's (if the send has one), the day's count (if it has a budget);
 * all zero where there is none yet.
 */
typedef struct {
    sv_send_rec_t       phone;
    sv_addr_rec_t       addr;
    sv_day_rec_t        day;
    unsigned            write;          /* out: SV_SEND_REC_* to write */
} sv_send_recs_t;

#define SV_SEND_REC_PHONE  0x1
#define SV_SEND_REC_ADDR   0x2
#define SV_SEND_REC_DAY    0x4

/* A verification token, by its hash: the phone it proves, and for what. */
typedef struct {
    int64_t             expires_ms;
    unsigned            failures;       /* signups refused as taken */
    sv_purpose_t        purpose;
    size_t              phone_len;
    char                phone[SV_STORE_PHONE_MAX];
} sv_token_rec_t;

/* A session, by its hash. */
typedef struct {
    uint64_t            member_id;
    uint32_t            epoch;          /* the member's, at login */
    int64_t             created_ms;
    int64_t             last_used_ms;
    int64_t             expires_ms;
    int64_t             idle_ms;
} sv_session_rec_t;


/*
 * Sends.  rec is the phone's history (all zero if it has none).  OK: the
 * send at s->now_ms is counted in rec, which drops the stamps no limit
 * needs any more.  RESEND_TOO_SOON or SEND_LIMIT: s->retry_after_ms is
 * how long until the send may go; rec is left as it was.
 */
sv_store_rc_t sv_rules_send(sv_send_rec_t *rec, sv_send_t *s);

/*
 * Every limit of one send, in sv_send_t's order: the budget (BUDGET, and
 * recs->day counts the refusal: s->budget_first if it is the day's
 * first, s->retry_after_ms until the next UTC midnight), the address
 * (IP_LIMIT), then the phone as sv_rules_send() (RESEND_TOO_SOON,
 * SEND_LIMIT).  OK: the send is counted in the phone's, the address's
 * (kept for s->addr_keep_ms) and the day's records.  recs->write says
 * which records changed; a refusal changes none but the day's refusals.
 */
sv_store_rc_t sv_rules_send_limits(sv_send_recs_t *recs, sv_send_t *s);

/*
 * A send counted at stamp_ms is taken back (the newest of that stamp) from
 * a window of sends, a phone's or an address's; returns how many are
 * left, 0 if the record may go.
 */
unsigned sv_rules_send_abort(sv_send_rec_t *rec, int64_t stamp_ms);

/* The UTC day of now_ms, and its key "YYYY-MM-DD" (SV_DAY_KEY_SIZE). */
int64_t sv_rules_day(int64_t now_ms);
void sv_rules_day_key(int64_t day, char *key);

/* A send the day counted is taken back (if it counted any). */
void sv_rules_day_abort(sv_day_rec_t *rec);

/* 1 if the day is over at now_ms: no budget needs its count. */
int sv_rules_day_gone(const sv_day_rec_t *rec, int64_t now_ms);

/* 1 if no limit needs the record (sends, logins) at now_ms. */
int sv_rules_window_gone(const sv_window_rec_t *rec, int64_t now_ms);


/*
 * What a member's having the phone means for a code of this purpose
 * (taken: 1 if a member has it): PHONE_TAKEN for a signup, NOT_MEMBER
 * for a reset the phone of no member, else OK.
 */
sv_store_rc_t sv_rules_phone_for(sv_purpose_t purpose, int taken);

/*
 * 1 if a confirm is PHONE_TAKEN: the phone is taken and its code (rec,
 * NULL if it has none) is not for a reset.
 */
int sv_rules_confirm_taken(const sv_code_rec_t *rec, int taken);


/*
 * 1 if the code has expired at now_ms: a guess is EXPIRED then, before
 * any comparison, and changes nothing.
 */
int sv_rules_code_expired(const sv_code_rec_t *rec, int64_t now_ms);

/*
 * A guess at the code in rec, at now_ms, compared in constant time:
 *   EXPIRED   rec is left as it is (an expired guess costs no attempt);
 *   OK        a match: the code goes, a token comes;
 *   MISMATCH  an attempt is counted in rec, which is to be kept;
 *   BURNT     that was the last attempt: the code goes.
 */
sv_store_rc_t sv_rules_guess(sv_code_rec_t *rec, const uint8_t *guess_hash,
    int64_t now_ms);

/* 1 if the code has been expired for grace_ms: the sweep deletes it. */
int sv_rules_code_gone(const sv_code_rec_t *rec, int64_t now_ms,
    int64_t grace_ms);


/*
 * The token a match of a code of this purpose gives; phone is at most
 * SV_STORE_PHONE_MAX bytes.
 */
void sv_rules_token_new(sv_token_rec_t *rec, const char *phone,
    sv_purpose_t purpose, int64_t expires_ms);

/* 1 if the token is unexpired at now_ms, of this purpose and phone. */
int sv_rules_token_valid(const sv_token_rec_t *rec, const char *phone,
    sv_purpose_t purpose, int64_t now_ms);

/*
 * A signup refused as taken counts against its token; 1 if that used it
 * up (SV_TOKEN_FAILURES_MAX): the token goes, else rec is to be kept.
 */
int sv_rules_token_refused(sv_token_rec_t *rec);

/* 1 if the token has expired: the sweep deletes it. */
int sv_rules_token_gone(const sv_token_rec_t *rec, int64_t now_ms);



/*
 * Logins.  rec is the account's failures (all zero if it has none).
 * LOCKED, with l->retry_after_ms until enough of them have left the
 * window for fewer than l->limit to be in it, or OK.
 */
sv_store_rc_t sv_rules_login_allowed(const sv_login_rec_t *rec,
    sv_login_t *l);

/* A failure at l->now_ms is counted in rec, which drops those too old. */
void sv_rules_login_failed(sv_login_rec_t *rec, const sv_login_t *l);


/* Sessions. */

void sv_rules_session_new(sv_session_rec_t *rec, const sv_session_t *s);

/* 1 if the session has ended at now_ms: expired or idle for too long. */
int sv_rules_session_ended(const sv_session_rec_t *rec, int64_t now_ms);

/*
 * The session at g->now_ms, of the member m (NULL if gone): NO_SESSION if
 * it has ended, its member is gone or of another epoch (a reset since);
 * else OK with g->expires_in_ms and g->stale.
 */
sv_store_rc_t sv_rules_session_get(const sv_session_rec_t *rec,
    const sv_member_info_t *m, sv_session_get_t *g);

/*
 * A use at now_ms: 1 if rec is to be kept with its last use moved on, 0
 * if the session has ended (a use does not bring it back): it goes.
 */
int sv_rules_session_touch(sv_session_rec_t *rec, int64_t now_ms);


/* Members. */

/* 1 if the hash was old_hash and is new_hash now, 0 if m is as it was. */
int sv_rules_rehash(sv_member_info_t *m, const char *old_hash,
    const char *new_hash);

/* A reset: the new hash, and every session of an older epoch ended. */
void sv_rules_reset(sv_member_info_t *m, const char *new_hash);



/* The webhook outbox. */

/* an event is tried for this long after it was made, then dropped */
#define SV_OUTBOX_KEEP_MS  (3 * 24 * 3600 * 1000LL)

/*
 * The time of the next attempt of an event made at created_ms whose
 * attempts-th attempt (1 the first) failed at now_ms: 5 s, 30 s, 2 min,
 * 10 min, 1 h after it, then every 6 h; -1 once SV_OUTBOX_KEEP_MS have
 * passed since created_ms: the event is dropped.
 */
int64_t sv_rules_outbox_retry_at(int64_t created_ms, unsigned attempts,
    int64_t now_ms);

#endif /* SV_RULES_H */
