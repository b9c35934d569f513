#ifndef SV_CODE_H
#define SV_CODE_H

#include <stddef.h>
#include <stdint.h>

#define SV_KEY_SIZE         32
#define SV_HASH_SIZE        32
#define SV_CODE_MAX         10
/* 32 random bytes in unpadded base64url */
#define SV_TOKEN_LEN        43


/*
 * len (4 to SV_CODE_MAX) decimal digits, each uniform, from the CSPRNG;
 * out gets len + 1 bytes.  Returns 0, or -1 if the CSPRNG failed.
 */
int sv_code_generate(char *out, size_t len);

/* HMAC-SHA256(key, phone "\0" code): what the store keeps of a code. */
void sv_code_hash(const uint8_t *key, const char *phone, const char *code,
    size_t len, uint8_t *out);

/* A fresh token (SV_TOKEN_LEN + 1 bytes) from the CSPRNG. */
int sv_token_generate(char *out);

/* HMAC-SHA256(key, "token\0" token): what the store keeps of a token. */
void sv_token_hash(const uint8_t *key, const char *token, size_t len,
    uint8_t *out);

/*
 * HMAC-SHA256(key, "session\0" value): what the store keeps of a session
 * (its value is a token: 32 random bytes in unpadded base64url).
 */
void sv_session_hash(const uint8_t *key, const char *value, size_t len,
    uint8_t *out);

/*
 * HMAC-SHA256(key, msg) into out (SV_HASH_SIZE bytes), with a context the
 * calling thread keeps keyed for the next call with the same key.
 * Returns 0, or -1 if OpenSSL failed.
 */
int sv_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t len, uint8_t *out);

#endif /* SV_CODE_H */
