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

/* version, attempts_left (4), expires_ms (8), hash */
#define SV_CODE_REC_SIZE      (1 + 4 + 8 + SV_HASH_SIZE)

/* version, count (2), keep_until_ms (8), then count stamps of 8 bytes */
#define SV_SEND_REC_HEAD      (1 + 2 + 8)
#define SV_SEND_REC_MAX       (SV_SEND_REC_HEAD + 8 * SV_SEND_LIMIT_MAX)

/*
 * version 2: version, expires_ms (8), failures (1), then the phone
 * without its NUL; version 1 had no failures byte
 */
#define SV_TOKEN_REC_VERSION  2
#define SV_TOKEN_REC_HEAD_V1  (1 + 8)
#define SV_TOKEN_REC_HEAD     (1 + 8 + 1)
#define SV_TOKEN_REC_MAX      (SV_TOKEN_REC_HEAD + SV_STORE_PHONE_MAX)

#define SV_ID_SIZE            8

#if SV_SEND_LIMIT_MAX > 65535
#error "SV_SEND_LIMIT_MAX does not fit the send record's count"
#endif


/* Into p, SV_CODE_REC_SIZE bytes. */
void sv_code_rec_encode(const sv_code_rec_t *rec, uint8_t *p);
int sv_code_rec_decode(const uint8_t *p, size_t len, sv_code_rec_t *rec);

/* Into p, at most SV_SEND_REC_MAX bytes; returns how many. */
size_t sv_send_rec_encode(const sv_send_rec_t *rec, uint8_t *p);
int sv_send_rec_decode(const uint8_t *p, size_t len, sv_send_rec_t *rec);

/* Into p, at most SV_TOKEN_REC_MAX bytes; returns how many. */
size_t sv_token_rec_encode(const sv_token_rec_t *rec, uint8_t *p);
int sv_token_rec_decode(const uint8_t *p, size_t len, sv_token_rec_t *rec);

/* Into p, SV_ID_SIZE bytes. */
void sv_id_encode(uint64_t id, uint8_t *p);
int sv_id_decode(const uint8_t *p, size_t len, uint64_t *id);

/*
 * The member as JSON text, malloc()ed, *len its length (no NUL counted,
 * one written after): {"id":1,"email":"...","phone":"...","nickname":
 * "...","passwordHash":"...","terms":[1,2],"createdAt":1700000000000},
 * byte for byte what cJSON_PrintUnformatted() wrote before.  NULL if a
 * string is missing or out of memory.
 */
char *sv_member_encode(const sv_member_t *m, uint64_t id, size_t *len);

#endif /* SV_RECORD_H */
