
/*
 * Codes and tokens: CSPRNG digits, keyed hashes.
 */

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sv_code.h"


static void sv_hmac2(const uint8_t *key, const char *a, size_t alen,
    const char *b, size_t blen, uint8_t *out);


int
sv_code_generate(char *out, size_t len)
{
    size_t         n, i;
    unsigned char  buf[32];

    if (len < 4 || len > SV_CODE_MAX) {
        return -1;
    }

    n = 0;

    while (n < len) {
        if (RAND_bytes(buf, sizeof(buf)) != 1) {
            return -1;
        }

        for (i = 0; i < sizeof(buf) && n < len; i++) {

            /* 250 is the largest multiple of 10 below 256: no bias */

            if (buf[i] < 250) {
                out[n++] = (char) ('0' + buf[i] % 10);
            }
        }
    }

    out[len] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));

    return 0;
}


void
sv_code_hash(const uint8_t *key, const char *phone, const char *code,
    size_t len, uint8_t *out)
{
    /* the phone's NUL separates it from the code */
    sv_hmac2(key, phone, strlen(phone) + 1, code, len, out);
}


int
sv_token_generate(char *out)
{
    size_t          i, n;
    unsigned char   raw[32];
    unsigned char   b64[48];

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return -1;
    }

    n = EVP_EncodeBlock(b64, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));

    /* base64url without padding: safe in cookies and JSON alike */

    for (i = 0; i < n && i < SV_TOKEN_LEN; i++) {
        switch (b64[i]) {
        case '+':
            out[i] = '-';
            break;
        case '/':
            out[i] = '_';
            break;
        default:
            out[i] = (char) b64[i];
        }
    }

    out[SV_TOKEN_LEN] = '\0';
    OPENSSL_cleanse(b64, sizeof(b64));

    return 0;
}


void
sv_token_hash(const uint8_t *key, const char *token, size_t len,
    uint8_t *out)
{
    sv_hmac2(key, "token", sizeof("token"), token, len, out);
}


void
sv_session_hash(const uint8_t *key, const char *value, size_t len,
    uint8_t *out)
{
    sv_hmac2(key, "session", sizeof("session"), value, len, out);
}


static void
sv_hmac2(const uint8_t *key, const char *a, size_t alen, const char *b,
    size_t blen, uint8_t *out)
{
    unsigned int    len;
    unsigned char   msg[128];

    /* callers pass short strings: a phone, a token, a code */

    if (alen + blen > sizeof(msg)) {
        blen = sizeof(msg) - alen;
    }

    memcpy(msg, a, alen);
    memcpy(msg + alen, b, blen);

    len = SV_HASH_SIZE;
    HMAC(EVP_sha256(), key, SV_KEY_SIZE, msg, alen + blen, out, &len);

    OPENSSL_cleanse(msg, sizeof(msg));
}
