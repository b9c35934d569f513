#ifndef SV_PASSWORD_H
#define SV_PASSWORD_H

#include <stddef.h>

/* "$2b$12$" + 53 characters, NUL-terminated */
#define SV_PASSWORD_HASH_SIZE   64

/* bcrypt reads no more of a password than this */
#define SV_BCRYPT_PASSWORD_MAX  72


/*
 * min to max printable ASCII characters (0x20-0x7e) with at least one
 * letter and one digit.  Returns 1 if the password meets the policy.
 */
int sv_password_acceptable(const char *pw, size_t len, size_t min,
    size_t max);

/*
 * bcrypt "$2b$" hash of the password at the given cost (4 to 31) with a
 * fresh random salt, via libxcrypt.  Returns 0, or -1 with err filled.
 */
int sv_password_hash(const char *pw, size_t len, unsigned cost, char *out,
    size_t size, char *err, size_t errlen);

/*
 * sv_password_hash() in a thread started for it, which lowers its own
 * priority (nice 10) and ends with the hash: bcrypt then yields the CPU
 * to nginx's event loop, while the caller keeps its priority (an
 * unprivileged thread could not raise it again, and a pool thread at
 * nice 10 would hold the store's write lock at nice 10).
 */
int sv_password_hash_yielding(const char *pw, size_t len, unsigned cost,
    char *out, size_t size, char *err, size_t errlen);

/* 1 if pw matches the "$2b$"/"$2a$"/"$2y$" hash, 0 otherwise. */
int sv_password_verify(const char *pw, size_t len, const char *hash);

/* sv_password_verify() in a thread of its own at nice 10, as above. */
int sv_password_verify_yielding(const char *pw, size_t len,
    const char *hash);

/* The cost of a bcrypt hash ("$2?$NN$..."), or -1 if it is none. */
int sv_password_cost(const char *hash);

/*
 * A well-formed bcrypt string of that cost (SV_PASSWORD_HASH_SIZE bytes)
 * that no password matches: an unknown account is checked against it,
 * so that it costs the time a member's wrong password does.
 */
void sv_password_dummy(unsigned cost, char *out);

#endif /* SV_PASSWORD_H */
