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


/* A phone's code: what the store keeps of it. */
typedef struct {
    uint8_t             hash[SV_HASH_SIZE];     /* sv_code_hash() */
    int64_t             expires_ms;
    uint32_t            attempts_left;
} sv_code_rec_t;

/* A phone's sends that a limit may still need, oldest first. */
typedef struct {
    int64_t             keep_until_ms;          /* no limit needs it after */
    unsigned            count;
    int64_t             stamps[SV_SEND_LIMIT_MAX];
} sv_send_rec_t;

/* A verification token, by its hash: the phone it proves. */
typedef struct {
    int64_t             expires_ms;
    unsigned            failures;       /* signups refused as taken */
    size_t              phone_len;
    char                phone[SV_STORE_PHONE_MAX];
} sv_token_rec_t;


/*
 * Sends.  rec is the phone's history (all zero if it has none).  OK: the
 * send at s->now_ms is counted in rec, which drops the stamps no limit
 * needs any more.  RESEND_TOO_SOON or SEND_LIMIT: s->retry_after_ms is
 * how long until the send may go; rec is left as it was.
 */
sv_store_rc_t sv_rules_send(sv_send_rec_t *rec, sv_send_t *s);

/*
 * A send counted at stamp_ms is taken back (the newest of that stamp);
 * returns how many are left, 0 if the record may go.
 */
unsigned sv_rules_send_abort(sv_send_rec_t *rec, int64_t stamp_ms);

/* 1 if no limit needs the record at now_ms. */
int sv_rules_send_gone(const sv_send_rec_t *rec, int64_t now_ms);


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


/* The token a match gives; phone is at most SV_STORE_PHONE_MAX bytes. */
void sv_rules_token_new(sv_token_rec_t *rec, const char *phone,
    int64_t expires_ms);

/* 1 if the token is unexpired at now_ms and for this phone. */
int sv_rules_token_valid(const sv_token_rec_t *rec, const char *phone,
    int64_t now_ms);

/*
 * A signup refused as taken counts against its token; 1 if that used it
 * up (SV_TOKEN_FAILURES_MAX): the token goes, else rec is to be kept.
 */
int sv_rules_token_refused(sv_token_rec_t *rec);

/* 1 if the token has expired: the sweep deletes it. */
int sv_rules_token_gone(const sv_token_rec_t *rec, int64_t now_ms);

#endif /* SV_RULES_H */
