
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
 * A thread's HMAC-SHA256 contexts, each keyed with a key it hashed with
 * lately: HMAC() fetches the algorithm and derives the key's pads at
 * every call, about five times what the hash of a short input costs.
 * Two: a pool thread signs a provider's request between the module's
 * own hashes.  A longer key than SHA-256's block goes to HMAC().
 */
#define SV_HMAC_KEY_MAX     64
#define SV_HMAC_SLOTS       2

typedef struct {
    EVP_MAC_CTX    *ctx;
    size_t          keylen;             /* 0: not keyed */
    uint8_t         key[SV_HMAC_KEY_MAX];
} sv_hmac_slot_t;

typedef struct {
    sv_hmac_slot_t  slots[SV_HMAC_SLOTS];
    unsigned        next;               /* the slot a new key takes */
} sv_hmac_t;


static void sv_hmac_init(void);
static void sv_hmac_free(void *data);
static EVP_MAC_CTX *sv_hmac_ctx_new(void);
static sv_hmac_t *sv_hmac_thread(void);
static EVP_MAC_CTX *sv_hmac_ctx(const uint8_t *key, size_t keylen);
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
static int             sv_hmac_ready;


static void
sv_hmac_init(void)
{
    sv_hmac_ready = pthread_key_create(&sv_hmac_key, sv_hmac_free) == 0;
}


static void
sv_hmac_free(void *data)
{
    unsigned    i;
    sv_hmac_t  *h = data;

    for (i = 0; i < SV_HMAC_SLOTS; i++) {
        EVP_MAC_CTX_free(h->slots[i].ctx);
    }

    OPENSSL_cleanse(h, sizeof(sv_hmac_t));
    free(h);
}


/*
 * The context holds the algorithm: nothing static does, as nginx unloads
 * the module before a worker exits (its statics gone, what only they
 * held would be lost).
 */
static EVP_MAC_CTX *
sv_hmac_ctx_new(void)
{
    EVP_MAC      *mac;
    EVP_MAC_CTX  *ctx;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        return NULL;
    }

    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    return ctx;
}


static sv_hmac_t *
sv_hmac_thread(void)
{
    sv_hmac_t  *h;

    pthread_once(&sv_hmac_once, sv_hmac_init);

    if (!sv_hmac_ready) {
        return NULL;
    }

    h = pthread_getspecific(sv_hmac_key);

    if (h == NULL) {
        h = calloc(1, sizeof(sv_hmac_t));

        if (h != NULL && pthread_setspecific(sv_hmac_key, h) != 0) {
            free(h);
            h = NULL;
        }
    }

    return h;
}


/* a context of the thread's, ready for a message under key; or NULL */
static EVP_MAC_CTX *
sv_hmac_ctx(const uint8_t *key, size_t keylen)
{
    unsigned         i;
    sv_hmac_t       *h;
    OSSL_PARAM       params[2];
    sv_hmac_slot_t  *slot;

    if (keylen == 0 || keylen > SV_HMAC_KEY_MAX) {
        return NULL;
    }

    h = sv_hmac_thread();
    if (h == NULL) {
        return NULL;
    }

    for (i = 0; i < SV_HMAC_SLOTS; i++) {
        slot = &h->slots[i];

        if (slot->keylen == keylen && memcmp(slot->key, key, keylen) == 0) {

            /* no key: the pads of the one it has are kept */

            return EVP_MAC_init(slot->ctx, NULL, 0, NULL) == 1 ? slot->ctx
                                                                : NULL;
        }
    }

    slot = &h->slots[h->next];
    h->next = (h->next + 1) % SV_HMAC_SLOTS;
    slot->keylen = 0;

    if (slot->ctx == NULL) {
        slot->ctx = sv_hmac_ctx_new();
        if (slot->ctx == NULL) {
            return NULL;
        }
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(slot->ctx, key, keylen, params) != 1) {
        return NULL;
    }

    memcpy(slot->key, key, keylen);
    slot->keylen = keylen;

    return slot->ctx;
}


int
sv_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
    uint8_t *out)
{
    size_t          n;
    unsigned int    mdlen;
    EVP_MAC_CTX    *ctx;

    ctx = sv_hmac_ctx(key, keylen);

    if (ctx != NULL
        && EVP_MAC_update(ctx, msg, len) == 1
        && EVP_MAC_final(ctx, out, &n, SV_HASH_SIZE) == 1)
    {
        return 0;
    }

    mdlen = SV_HASH_SIZE;

    return HMAC(EVP_sha256(), key, (int) keylen, msg, len, out, &mdlen)
           != NULL ? 0 : -1;
}


static void
sv_hmac2(const uint8_t *key, const char *a, size_t alen, const char *b,
    size_t blen, uint8_t *out)
{
    unsigned char   msg[128];

    /* callers pass short strings: a phone, a token, a code */

    if (alen + blen > sizeof(msg)) {
        blen = sizeof(msg) - alen;
    }

    memcpy(msg, a, alen);
    memcpy(msg + alen, b, blen);

    (void) sv_hmac_sha256(key, SV_KEY_SIZE, msg, alen + blen, out);

    OPENSSL_cleanse(msg, sizeof(msg));
}
