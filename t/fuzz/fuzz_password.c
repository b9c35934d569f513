
/*
 * The password policy, sv_password_acceptable(), against a reference
 * written from its contract, for bounds taken from the input; and, for
 * rare inputs only (bcrypt is slow by design), sv_password_verify() with
 * cost-4 hashes.
 *
 * Input: byte 0 and byte 1 give min and max (0 to 79), the rest is the
 * password.  Bytes 0 and 1 both 0xff: verify the rest against a known
 * hash; 0xfe then 0xff: verify a known password against a hash whose
 * salt and digest are the rest.
 */

#include "fuzz.h"

#include "sv_password.h"


/* python3 -c 'import bcrypt; print(bcrypt.hashpw(b"Passw0rd!", \
 * bcrypt.gensalt(4)).decode())', as in t/unit/test_password.c */
#define SV_FUZZ_PASSWORD  "Passw0rd!"
#define SV_FUZZ_HASH                                                         \
    "$2b$04$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSDe"


static int sv_fuzz_ref_acceptable(const char *pw, size_t len, size_t min,
    size_t max);
static void sv_fuzz_verify(const uint8_t *data, size_t size);
static void sv_fuzz_verify_hash(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int      ok;
    char    *pw;
    size_t   min, max;

    if (size < 2) {
        return 0;
    }

    if (data[0] == 0xff && data[1] == 0xff) {
        sv_fuzz_verify(data + 2, size - 2);
        return 0;
    }

    if (data[0] == 0xfe && data[1] == 0xff) {
        sv_fuzz_verify_hash(data + 2, size - 2);
        return 0;
    }

    min = data[0] % 80;
    max = data[1] % 80;

    pw = sv_fuzz_bytes(data + 2, size - 2);

    ok = sv_password_acceptable(pw, size - 2, min, max);

    sv_fuzz_check(ok == sv_fuzz_ref_acceptable(pw, size - 2, min, max));

    /* the module's default policy */

    ok = sv_password_acceptable(pw, size - 2, 8, 64);

    sv_fuzz_check(ok == sv_fuzz_ref_acceptable(pw, size - 2, 8, 64));

    free(pw);

    return 0;
}


static int
sv_fuzz_ref_acceptable(const char *pw, size_t len, size_t min, size_t max)
{
    int            letter, digit;
    size_t         i;
    unsigned char  c;

    if (len < min || len > max) {
        return 0;
    }

    letter = 0;
    digit = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) pw[i];

        if (!(c >= 0x20 && c <= 0x7e)) {
            return 0;
        }

        letter |= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        digit |= (c >= '0' && c <= '9');
    }

    return letter && digit;
}


/* matches exactly the password, its first 72 bytes counted, no NUL */

static void
sv_fuzz_verify(const uint8_t *data, size_t size)
{
    int      match;
    char    *pw;
    size_t   n;

    pw = sv_fuzz_bytes(data, size);

    match = sv_password_verify(pw, size, SV_FUZZ_HASH);

    n = sizeof(SV_FUZZ_PASSWORD) - 1;

    sv_fuzz_check(match == (size == n && memcmp(pw, SV_FUZZ_PASSWORD, n) == 0));

    free(pw);
}


/* a hash of cost 4 whatever follows: never a crash, never a long wait */

static void
sv_fuzz_verify_hash(const uint8_t *data, size_t size)
{
    char  *hash;

    if (size > 64) {
        size = 64;
    }

    hash = malloc(sizeof("$2b$04$") - 1 + size + 1);
    if (hash == NULL) {
        abort();
    }

    memcpy(hash, "$2b$04$", sizeof("$2b$04$") - 1);
    memcpy(hash + sizeof("$2b$04$") - 1, data, size);
    hash[sizeof("$2b$04$") - 1 + size] = '\0';

    sv_fuzz_check(sv_password_verify(SV_FUZZ_PASSWORD,
                                     sizeof(SV_FUZZ_PASSWORD) - 1, hash)
                  == (strcmp(hash, SV_FUZZ_HASH) == 0));

    free(hash);
}
