
/*
 * The request body as the endpoints read it: sv_json_parse_object(), then
 * every member send, confirm and signup read, each through the check the
 * module makes of it (ngx_http_smsverify_input.c, _confirm.c, _signup.c).
 *
 * Invariants: the parser takes exactly the JSON objects of the reference
 * (fuzz_ref.c), so that no string can hide bytes from the checks; a
 * string member is well-formed UTF-8 with no NUL inside; a set of terms
 * is distinct and within its bound.
 */

#include "fuzz.h"
#include "fuzz_ref.h"

#include "sv_code.h"
#include "sv_json.h"
#include "sv_password.h"
#include "sv_phone.h"
#include "sv_text.h"


/* the module's limits (ngx_http_smsverify_signup.c, _confirm.c) */
#define SV_FUZZ_NICKNAME_MAX  20
#define SV_FUZZ_TERMS_MAX     64


static const char *const  sv_fuzz_countries[] = { "82", "1" };
static const uint8_t      sv_fuzz_key[SV_KEY_SIZE];


static const char *
sv_fuzz_member(const cJSON *root, const char *name, size_t *len)
{
    size_t        n;
    const char   *s;

    s = NULL;
    n = (size_t) -1;

    switch (sv_json_string(root, name, &s, &n)) {

    case SV_JSON_OK:
        sv_fuzz_check(s != NULL && n == strlen(s));
        sv_fuzz_check(sv_utf8_valid((const unsigned char *) s, n));
        sv_fuzz_check(sv_ref_utf8_count((const unsigned char *) s, n)
                      != (size_t) -1);
        *len = n;
        return s;

    case SV_JSON_MISSING:
    case SV_JSON_WRONG_TYPE:
        return NULL;

    default:
        abort();
    }
}


static void
sv_fuzz_phone(const cJSON *root, char *e164)
{
    char        *masked;
    size_t       len;
    const char  *s;

    e164[0] = '\0';

    s = sv_fuzz_member(root, "phoneNumber", &len);
    if (s == NULL) {
        return;
    }

    if (sv_phone_normalize(s, len, e164) != 0) {
        e164[0] = '\0';
        return;
    }

    (void) sv_phone_country_allowed(e164, sv_fuzz_countries, 2);

    masked = malloc(SV_PHONE_MASKED_SIZE);
    if (masked == NULL) {
        abort();
    }

    sv_phone_mask(e164, masked, SV_PHONE_MASKED_SIZE);
    sv_fuzz_check(strcmp(masked, "(invalid)") != 0);
    free(masked);
}


static void
sv_fuzz_guess(const cJSON *root, const char *e164)
{
    size_t       i, len;
    uint8_t      hash[SV_HASH_SIZE];
    const char  *s;

    s = sv_fuzz_member(root, "verificationNumber", &len);
    if (s == NULL || len == 0 || len > 2 * SV_CODE_MAX) {
        return;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return;
        }
    }

    sv_code_hash(sv_fuzz_key, e164, s, len, hash);
}


static void
sv_fuzz_signup(const cJSON *root)
{
    int          *terms;
    char         *key;
    size_t        i, j, len, n;
    uint8_t       hash[SV_HASH_SIZE];
    const char   *s;

    s = sv_fuzz_member(root, "email", &len);

    if (s != NULL && sv_email_valid(s, len)) {
        key = malloc(len + 1);
        if (key == NULL) {
            abort();
        }

        sv_email_fold(s, len, key);
        sv_fuzz_check(strlen(key) == len);
        free(key);
    }

    s = sv_fuzz_member(root, "password", &len);

    if (s != NULL && sv_password_acceptable(s, len, 8, 64)) {
        sv_fuzz_check(len >= 8 && len <= 64);
    }

    s = sv_fuzz_member(root, "nickname", &len);

    if (s != NULL && sv_nickname_valid(s, len, SV_FUZZ_NICKNAME_MAX)) {
        sv_fuzz_check(len > 0 && len <= 4 * SV_FUZZ_NICKNAME_MAX);
    }

    s = sv_fuzz_member(root, "verificationToken", &len);

    if (s != NULL && len == SV_TOKEN_LEN) {
        sv_token_hash(sv_fuzz_key, s, len, hash);
    }

    terms = malloc(SV_FUZZ_TERMS_MAX * sizeof(int));
    if (terms == NULL) {
        abort();
    }

    n = (size_t) -1;

    if (sv_json_int_set(root, "termsId", terms, SV_FUZZ_TERMS_MAX, &n)
        == SV_JSON_OK)
    {
        sv_fuzz_check(n <= SV_FUZZ_TERMS_MAX);

        for (i = 0; i < n; i++) {
            for (j = i + 1; j < n; j++) {
                sv_fuzz_check(terms[i] != terms[j]);
            }
        }
    }

    free(terms);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              *e164;
    cJSON             *root;
    sv_ref_json_rc_t   ref;

    root = sv_json_parse_object((const char *) data, size);
    ref = sv_ref_json_object((const char *) data, size);

    if (root == NULL) {
        sv_fuzz_check(ref != SV_REF_JSON_VALID);
        return 0;
    }

    sv_fuzz_check(ref != SV_REF_JSON_INVALID);
    sv_fuzz_check(cJSON_IsObject(root));

    e164 = malloc(SV_PHONE_SIZE);
    if (e164 == NULL) {
        abort();
    }

    sv_fuzz_phone(root, e164);
    sv_fuzz_guess(root, e164);
    sv_fuzz_signup(root);

    free(e164);
    cJSON_Delete(root);

    return 0;
}
