
/*
 * Codes and tokens: CSPRNG digits, keyed hashes.
 */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sv_code.h"


/*
 * A thread's HMAC-SHA256, keyed with the key it last hashed with: HMAC()
 * fetches the algorithm and derives the key's pads at every call, about
 * five times what the hash of these short inputs costs.
 */
typedef struct {
    EVP_MAC_CTX    *ctx;
    uint8_t         key[SV_KEY_SIZE];
    int             keyed;
} sv_hmac_t;


static void sv_hmac_init(void);
static void sv_hmac_free(void *data);
static EVP_MAC_CTX *sv_hmac_ctx(const uint8_t *key);
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


static pthread_once_t  sv_hmac_once = PTHREAD_ONCE_INIT;
static pthread_key_t   sv_hmac_key;
static EVP_MAC        *sv_hmac_mac;
static int             sv_hmac_ready;


static void
sv_hmac_init(void)
{
    sv_hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);

    sv_hmac_ready = sv_hmac_mac != NULL
                    && pthread_key_create(&sv_hmac_key, sv_hmac_free) == 0;
}


static void
sv_hmac_free(void *data)
{
    sv_hmac_t  *h = data;

    EVP_MAC_CTX_free(h->ctx);
    OPENSSL_cleanse(h->key, sizeof(h->key));
    free(h);
}


/* the thread's context, ready for a message under key; NULL on failure */
static EVP_MAC_CTX *
sv_hmac_ctx(const uint8_t *key)
{
    sv_hmac_t   *h;
    OSSL_PARAM   params[2];

    pthread_once(&sv_hmac_once, sv_hmac_init);

    if (!sv_hmac_ready) {
        return NULL;
    }

    h = pthread_getspecific(sv_hmac_key);

    if (h == NULL) {
        h = calloc(1, sizeof(sv_hmac_t));
        if (h == NULL) {
            return NULL;
        }

        h->ctx = EVP_MAC_CTX_new(sv_hmac_mac);

        if (h->ctx == NULL || pthread_setspecific(sv_hmac_key, h) != 0) {
            sv_hmac_free(h);
            return NULL;
        }
    }

    if (h->keyed && memcmp(h->key, key, SV_KEY_SIZE) == 0) {

        /* the same key: its pads are kept */

        return EVP_MAC_init(h->ctx, NULL, 0, NULL) == 1 ? h->ctx : NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    h->keyed = EVP_MAC_init(h->ctx, key, SV_KEY_SIZE, params) == 1;

    if (!h->keyed) {
        return NULL;
    }

    memcpy(h->key, key, SV_KEY_SIZE);

    return h->ctx;
}


static void
sv_hmac2(const uint8_t *key, const char *a, size_t alen, const char *b,
    size_t blen, uint8_t *out)
{
    size_t          n;
    unsigned int    len;
    unsigned char   msg[128];
    EVP_MAC_CTX    *ctx;

    /* callers pass short strings: a phone, a token, a code */

    if (alen + blen > sizeof(msg)) {
        blen = sizeof(msg) - alen;
    }

    memcpy(msg, a, alen);
    memcpy(msg + alen, b, blen);

    ctx = sv_hmac_ctx(key);

    if (ctx == NULL
        || EVP_MAC_update(ctx, msg, alen + blen) != 1
        || EVP_MAC_final(ctx, out, &n, SV_HASH_SIZE) != 1)
    {
        len = SV_HASH_SIZE;
        HMAC(EVP_sha256(), key, SV_KEY_SIZE, msg, alen + blen, out, &len);
    }

    OPENSSL_cleanse(msg, sizeof(msg));
}
