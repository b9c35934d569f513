/*
 * Password policy and bcrypt hashing through libxcrypt.  Runs in pool
 * threads: crypt_r() with a private crypt_data, nothing static.
 */


/* explicit_bzero() is hidden by a strict -std=c99 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sv_password.h"


#define SV_BCRYPT_COST_MIN   4
#define SV_BCRYPT_COST_MAX   31


#if defined(__GNUC__)
#define SV_PRINTF_LIKE(fmt, args)  __attribute__((format(printf, fmt, args)))
#else
#define SV_PRINTF_LIKE(fmt, args)
#endif


static int sv_password_bcrypt_prefix(const char *hash);
static void sv_password_error(char *err, size_t errlen, const char *fmt,
    ...) SV_PRINTF_LIKE(3, 4);


int
sv_password_acceptable(const char *pw, size_t len, size_t min, size_t max)
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

        if (c < 0x20 || c > 0x7e) {
            return 0;
        }

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            letter = 1;

        } else if (c >= '0' && c <= '9') {
            digit = 1;
        }
    }

    return letter && digit;
}


int
sv_password_hash(const char *pw, size_t len, unsigned cost, char *out,
    size_t size, char *err, size_t errlen)
{
    int                 rc;
    char                phrase[SV_BCRYPT_PASSWORD_MAX + 1];
    char                setting[CRYPT_GENSALT_OUTPUT_SIZE];
    size_t              n;
    const char         *hash;
    struct crypt_data  *data;

    if (cost < SV_BCRYPT_COST_MIN || cost > SV_BCRYPT_COST_MAX) {
        sv_password_error(err, errlen, "bcrypt cost %u is not 4 to 31",
                          cost);
        return -1;
    }

    /* bcrypt would silently ignore what comes after either */

    if (len > SV_BCRYPT_PASSWORD_MAX) {
        sv_password_error(err, errlen, "password longer than %d bytes",
                          SV_BCRYPT_PASSWORD_MAX);
        return -1;
    }

    if (len > 0 && memchr(pw, '\0', len) != NULL) {
        sv_password_error(err, errlen, "password contains a NUL byte");
        return -1;
    }

    if (crypt_gensalt_rn("$2b$", cost, NULL, 0, setting, sizeof(setting))
        == NULL)
    {
        sv_password_error(err, errlen, "crypt_gensalt_rn() failed (%d)",
                          errno);
        return -1;
    }

    data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) {
        sv_password_error(err, errlen, "out of memory");
        return -1;
    }

    if (len > 0) {
        memcpy(phrase, pw, len);
    }

    phrase[len] = '\0';

    rc = -1;
    hash = crypt_r(phrase, setting, data);

    if (hash == NULL || !sv_password_bcrypt_prefix(hash)) {
        sv_password_error(err, errlen, "crypt_r() failed (%d)", errno);
        goto done;
    }

    n = strlen(hash);

    if (n >= size) {
        sv_password_error(err, errlen, "hash of %zu bytes does not fit",
                          n);
        goto done;
    }

    memcpy(out, hash, n + 1);
    rc = 0;

done:

    explicit_bzero(phrase, sizeof(phrase));
    explicit_bzero(data, sizeof(struct crypt_data));
    free(data);

    return rc;
}


int
sv_password_verify(const char *pw, size_t len, const char *hash)
{
    int                 match;
    char                phrase[SV_BCRYPT_PASSWORD_MAX + 1];
    size_t              n;
    const char         *computed;
    struct crypt_data  *data;

    if (!sv_password_bcrypt_prefix(hash)) {
        return 0;
    }

    n = strlen(hash);

    if (n >= SV_PASSWORD_HASH_SIZE) {
        return 0;
    }

    /*
     * A C string cannot carry a NUL: "abc\0x" must not pass for "abc".
     * Past 72 bytes bcrypt reads nothing more, as the seed's Python
     * bcrypt did.
     */

    if (len > 0 && memchr(pw, '\0', len) != NULL) {
        return 0;
    }

    if (len > SV_BCRYPT_PASSWORD_MAX) {
        len = SV_BCRYPT_PASSWORD_MAX;
    }

    data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) {
        return 0;
    }

    if (len > 0) {
        memcpy(phrase, pw, len);
    }

    phrase[len] = '\0';

    computed = crypt_r(phrase, hash, data);

    match = computed != NULL
            && strlen(computed) == n
            && CRYPTO_memcmp(computed, hash, n) == 0;

    explicit_bzero(phrase, sizeof(phrase));
    explicit_bzero(data, sizeof(struct crypt_data));
    free(data);

    return match;
}


static int
sv_password_bcrypt_prefix(const char *hash)
{
    return hash[0] == '$' && hash[1] == '2'
           && (hash[2] == 'a' || hash[2] == 'b' || hash[2] == 'y')
           && hash[3] == '$';
}


static void
sv_password_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL || errlen == 0) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
}


/*
 * A hash, or a check against one (hash set), in a thread of its own,
 * which lowers only its own priority.
 */
typedef struct {
    const char  *pw;
    size_t       len;
    unsigned     cost;
    char        *out;
    size_t       size;
    char        *err;
    size_t       errlen;
    const char  *hash;
    int          rc;
} sv_password_job_t;


static void
sv_password_job_run(sv_password_job_t *job)
{
    if (job->hash) {
        job->rc = sv_password_verify(job->pw, job->len, job->hash);

    } else {
        job->rc = sv_password_hash(job->pw, job->len, job->cost, job->out,
                                   job->size, job->err, job->errlen);
    }
}


static void *
sv_password_low_thread(void *arg)
{
    /* on Linux the nice value of a thread id is the thread's own */

    (void) setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), 10);

    sv_password_job_run(arg);

    return NULL;
}


static int
sv_password_yielding(sv_password_job_t *job)
{
    pthread_t  tid;

    if (pthread_create(&tid, NULL, sv_password_low_thread, job) != 0) {

        /* no thread to spare: the work still gets done, at our priority */

        sv_password_job_run(job);
        return job->rc;
    }

    (void) pthread_join(tid, NULL);

    return job->rc;
}


int
sv_password_hash_yielding(const char *pw, size_t len, unsigned cost,
    char *out, size_t size, char *err, size_t errlen)
{
    sv_password_job_t  job = { pw, len, cost, out, size, err, errlen, NULL,
                               -1 };

    return sv_password_yielding(&job);
}


int
sv_password_verify_yielding(const char *pw, size_t len, const char *hash)
{
    sv_password_job_t  job = { pw, len, 0, NULL, 0, NULL, 0, hash, 0 };

    return sv_password_yielding(&job);
}


int
sv_password_cost(const char *hash)
{
    if (!sv_password_bcrypt_prefix(hash)
        || hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9'
        || hash[6] != '$')
    {
        return -1;
    }

    return (hash[4] - '0') * 10 + (hash[5] - '0');
}


void
sv_password_dummy(unsigned cost, char *out)
{
    /*
     * A salt and a digest of bcrypt's alphabet (the salt's last character
     * one whose unused bits are zero): checking a password against it
     * costs what checking against a member's hash of that cost does, and
     * a match would need a 184-bit collision.
     */

    snprintf(out, SV_PASSWORD_HASH_SIZE, "$2b$%02u$%s%s", cost,
             "smsverifyDummySaltABCu", "nomemberhasthisdigestZYXWVUTSRQ");
}
