#ifndef SV_RECORD_H
#define SV_RECORD_H

/*
 * The records as bytes, as the LMDB store keeps them (and any backend
 * that keeps records as bytes).  Binary records begin with a version
 * byte, their integers little-endian; ids are 8 bytes big-endian, so that
 * they sort; a member is JSON text, readable with mdb_dump -p.  Every
 * decode takes each version written so far and returns -1 for anything
 * else.
 */

#include <stddef.h>
#include <stdint.h>

#include "sv_rules.h"


#define SV_REC_VERSION        1

/* the purpose byte: what a code or a token is for */
#define SV_REC_SIGNUP         0
#define SV_REC_RESET          1

/*
 * version 2: version, attempts_left (4), expires_ms (8), purpose (1),
 * hash; version 1 had no purpose byte (a signup code)
 */
#define SV_CODE_REC_VERSION   2
#define SV_CODE_REC_SIZE_V1   (1 + 4 + 8 + SV_HASH_SIZE)
#define SV_CODE_REC_SIZE      (1 + 4 + 8 + 1 + SV_HASH_SIZE)

/*
 * A window (sends by phone and by address, failed logins by account): version, count
 * (2), keep_until_ms (8), then count stamps of 8 bytes
 */
#define SV_WINDOW_REC_HEAD    (1 + 2 + 8)
#define SV_WINDOW_REC_MAX     (SV_WINDOW_REC_HEAD + 8 * SV_WINDOW_MAX)

/*
 * version 3: version, expires_ms (8), failures (1), purpose (1), then
 * the phone without its NUL; version 2 had no purpose byte (a signup
 * token), version 1 no failures byte either
 */
#define SV_TOKEN_REC_VERSION  3
#define SV_TOKEN_REC_HEAD_V1  (1 + 8)
#define SV_TOKEN_REC_HEAD_V2  (1 + 8 + 1)
#define SV_TOKEN_REC_HEAD     (1 + 8 + 1 + 1)
#define SV_TOKEN_REC_MAX      (SV_TOKEN_REC_HEAD + SV_STORE_PHONE_MAX)

/*
 * version, member_id (8), epoch (4), created_ms (8), last_used_ms (8),
 * expires_ms (8), idle_ms (8)
 */
#define SV_SESSION_REC_SIZE   (1 + 8 + 4 + 8 + 8 + 8 + 8)

/* a day of the budget: version, day (8), sent (8), refused (8) */
#define SV_DAY_REC_VERSION    1
#define SV_DAY_REC_SIZE       (1 + 8 + 8 + 8)

#define SV_ID_SIZE            8

/*
 * A webhook event: version, attempts (4), created_ms (8), next_ms (8),
 * msg_id (SV_OUTBOX_MSG_ID_MAX), the type's length (1), the type, then
 * the body to the end
 */
#define SV_OUTBOX_REC_VERSION 1
#define SV_OUTBOX_REC_HEAD    (1 + 4 + 8 + 8 + SV_OUTBOX_MSG_ID_MAX + 1)
#define SV_OUTBOX_REC_MAX     (SV_OUTBOX_REC_HEAD + SV_OUTBOX_TYPE_MAX       \
                               + SV_OUTBOX_BODY_MAX)

/* the outbox's one lease: version, event id (8), until_ms (8), pid (4) */
#define SV_LEASE_REC_VERSION  1
#define SV_LEASE_REC_SIZE     (1 + 8 + 8 + 4)

#if SV_WINDOW_MAX > 65535
#error "SV_WINDOW_MAX does not fit the window record's count"
#endif


/* Into p, SV_CODE_REC_SIZE bytes. */
void sv_code_rec_encode(const sv_code_rec_t *rec, uint8_t *p);
int sv_code_rec_decode(const uint8_t *p, size_t len, sv_code_rec_t *rec);

/* Into p, at most SV_WINDOW_REC_MAX bytes; returns how many. */
size_t sv_window_rec_encode(const sv_window_rec_t *rec, uint8_t *p);
int sv_window_rec_decode(const uint8_t *p, size_t len, sv_window_rec_t *rec);

/* Into p, at most SV_TOKEN_REC_MAX bytes; returns how many. */
size_t sv_token_rec_encode(const sv_token_rec_t *rec, uint8_t *p);
int sv_token_rec_decode(const uint8_t *p, size_t len, sv_token_rec_t *rec);

/* Into p, SV_SESSION_REC_SIZE bytes. */
void sv_session_rec_encode(const sv_session_rec_t *rec, uint8_t *p);
int sv_session_rec_decode(const uint8_t *p, size_t len,
    sv_session_rec_t *rec);

/* Into p, SV_DAY_REC_SIZE bytes. */
void sv_day_rec_encode(const sv_day_rec_t *rec, uint8_t *p);
int sv_day_rec_decode(const uint8_t *p, size_t len, sv_day_rec_t *rec);

typedef struct {
    uint64_t            id;             /* the event taken */
    int64_t             until_ms;
    uint32_t            pid;            /* of its taker, on this host */
} sv_lease_rec_t;

/*
 * Into p, at most SV_OUTBOX_REC_MAX bytes; returns how many, 0 if ev's
 * msg_id is not SV_OUTBOX_MSG_ID_MAX long.  The decode fills all but
 * ev->id, ev->found, ev->lease_ms and ev->dropped.
 */
size_t sv_outbox_rec_encode(const sv_outbox_event_t *ev, uint8_t *p);
int sv_outbox_rec_decode(const uint8_t *p, size_t len,
    sv_outbox_event_t *ev);

/* Into p, SV_LEASE_REC_SIZE bytes. */
void sv_lease_rec_encode(const sv_lease_rec_t *rec, uint8_t *p);
int sv_lease_rec_decode(const uint8_t *p, size_t len, sv_lease_rec_t *rec);

/* Into p, SV_ID_SIZE bytes. */
void sv_id_encode(uint64_t id, uint8_t *p);
int sv_id_decode(const uint8_t *p, size_t len, uint64_t *id);

/*
 * The member as JSON text, malloc()ed, *len its length (no NUL counted,
 * one written after): {"id":1,"email":"...","phone":"...","nickname":
 * "...","passwordHash":"...","terms":[1,2],"createdAt":1700000000000,
 * "epoch":0}, byte for byte as cJSON_PrintUnformatted() writes it (it
 * wrote the records before, which had no epoch).  A new member's epoch
 * is 0.  NULL if a string is missing or out of memory.
 */
char *sv_member_encode(const sv_member_t *m, uint64_t id, size_t *len);

/* The same of a member read back (and changed): m->id and m->epoch. */
char *sv_member_info_encode(const sv_member_info_t *m, size_t *len);

/*
 * The member's text (len bytes, no NUL needed) into m: 0, or -1 if it is
 * not a member or a string is longer than m holds.  A record without an
 * epoch (written before there were any) is of epoch 0.
 */
int sv_member_decode(const char *text, size_t len, sv_member_info_t *m);

#endif /* SV_RECORD_H */
