/*
 * Unit tests of sv_password.c: the policy, bcrypt hashing and
 * verification, hashes from the seed's Python bcrypt included.
 */


#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <crypt.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "sv_password.h"


/* a string literal and its length, embedded NULs included */
#define S(s)  s, sizeof(s) - 1
#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))


/*
 * Made by /usr/bin/python3 with python3-bcrypt 3.2.2, e.g.
 * bcrypt.hashpw(b"Passw0rd!", bcrypt.gensalt(4)).decode()
 */

#define PY_HASH_2B  \
    "$2b$04$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSDe"

/* bcrypt.gensalt(4, prefix=b"2a") */
#define PY_HASH_2A  \
    "$2a$04$cWawdYARHl.HUazBFkKXduPl5.HnBZzv/PLJbc3fB8MPdBgrM7oWC"

/* b"x" * 72 */
#define PY_HASH_72X  \
    "$2b$04$FGEKsgZlAdtO0PDcoIqjIOt5mkMcTt3kYDfGamNJvwmDX7eM.vdam"

/* "비밀번호1".encode(), gensalt(5) */
#define PY_HASH_KOREAN  \
    "$2b$05$xqKfc1dsPgzPVgOSih4esOUogyM4Vspw0hnwSE37iZ4ERS866S3em"
#define KOREAN_PASSWORD  "\xeb\xb9\x84\xeb\xb0\x80\xeb\xb2\x88\xed\x98\xb8" \
                         "1"

#define BCRYPT_LEN  60


static char *
repeat(char c, size_t n)
{
    char  *p;

    p = malloc(n + 1);
    assert_non_null(p);

    memset(p, c, n);
    p[n] = '\0';

    return p;
}


static void
test_acceptable(void **state)
{
    size_t  i;

    static const struct {
        const char  *pw;
        size_t       len;
        int          ok;
    } cases[] = {
        { S("Passw0rd"), 1 },
        { S("passw0rd"), 1 },
        { S("PASSW0RD"), 1 },
        { S("Passw0rd!"), 1 },
        { S("1234567a"), 1 },
        { S("a1      "), 1 },
        { S("Pass w0rd"), 1 },
        { S(" ~!@#$%^&*()_+a1"), 1 },
        { S("\"'`\\{}[]<>a1"), 1 },

        { S("Passw0r"), 0 },
        { S(""), 0 },
        { S("password"), 0 },
        { S("Password!"), 0 },
        { S("12345678"), 0 },
        { S("1234567!"), 0 },
        { S("!@#$%^&*()"), 0 },
        { S("        "), 0 },
        { S("Passw0rd\t"), 0 },
        { S("Passw0rd\n"), 0 },
        { S("Passw0rd\r"), 0 },
        { S("Passw0rd\x7f"), 0 },
        { S("Passw0rd\x1b"), 0 },
        { S("Passw0rd\0"), 0 },
        { S("Pass\0w0rd"), 0 },
        { S("\0Passw0rd"), 0 },
        { S("P\xc3\xa4ssw0rd"), 0 },
        { S("Passw0rd\xff"), 0 },
        { S("Passw0rd\x80"), 0 },
        { S("\xeb\xb9\x84\xeb\xb0\x80\xeb\xb2\x88\xed\x98\xb8" "1a"), 0 },
    };

    (void) state;

    for (i = 0; i < NELTS(cases); i++) {
        if (sv_password_acceptable(cases[i].pw, cases[i].len, 8, 64)
            != cases[i].ok)
        {
            fail_msg("case %zu: expected %d", i, cases[i].ok);
        }
    }
}


static void
test_acceptable_lengths(void **state)
{
    char  *pw;

    (void) state;

    /* 8 to 64 by default */

    pw = repeat('a', 64);
    pw[0] = '1';
    assert_true(sv_password_acceptable(pw, 64, 8, 64));
    assert_true(sv_password_acceptable(pw, 8, 8, 64));
    assert_false(sv_password_acceptable(pw, 7, 8, 64));
    assert_false(sv_password_acceptable(pw, 1, 8, 64));
    assert_false(sv_password_acceptable(pw, 0, 8, 64));
    free(pw);

    pw = repeat('a', 65);
    pw[64] = '9';
    assert_false(sv_password_acceptable(pw, 65, 8, 64));
    assert_true(sv_password_acceptable(pw, 65, 8, 72));
    free(pw);

    /* bcrypt's 72 */

    pw = repeat('Z', 73);
    pw[71] = '0';
    assert_true(sv_password_acceptable(pw, 72, 8, 72));
    assert_false(sv_password_acceptable(pw, 73, 8, 72));
    free(pw);

    /* min = max, and tiny bounds */

    assert_true(sv_password_acceptable("a1b2c3d4e5", 10, 10, 10));
    assert_false(sv_password_acceptable("a1b2c3d4e5", 9, 10, 10));
    assert_true(sv_password_acceptable("a1", 2, 1, 2));
    assert_false(sv_password_acceptable("a", 1, 1, 2));
    assert_false(sv_password_acceptable("1", 1, 1, 2));

    /* only len bytes count: the letter and digit must be inside */

    assert_false(sv_password_acceptable("abcdefgh1", 8, 8, 64));
    assert_false(sv_password_acceptable("12345678a", 8, 8, 64));
}


static void
test_hash_cost_4(void **state)
{
    char  hash[SV_PASSWORD_HASH_SIZE], err[128];

    (void) state;

    err[0] = '\0';

    assert_int_equal(sv_password_hash(S("Passw0rd!"), 4, hash, sizeof(hash),
                                      err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_memory_equal(hash, "$2b$04$", 7);
    assert_int_equal(strlen(hash), BCRYPT_LEN);
    assert_int_equal(strspn(hash + 7, "./ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz0123456789"),
                     BCRYPT_LEN - 7);

    assert_true(sv_password_verify(S("Passw0rd!"), hash));

    assert_false(sv_password_verify(S("Passw0rd"), hash));
    assert_false(sv_password_verify(S("passw0rd!"), hash));
    assert_false(sv_password_verify(S("Passw0rd!!"), hash));
    assert_false(sv_password_verify(S("Passw0rd!\0"), hash));
    assert_false(sv_password_verify(S(""), hash));
}


static void
test_hash_costs(void **state)
{
    char      hash[SV_PASSWORD_HASH_SIZE], prefix[8];
    unsigned  cost;

    (void) state;

    for (cost = 4; cost <= 6; cost++) {
        assert_int_equal(sv_password_hash(S("Passw0rd!"), cost, hash,
                                          sizeof(hash), NULL, 0), 0);

        snprintf(prefix, sizeof(prefix), "$2b$%02u$", cost);
        assert_memory_equal(hash, prefix, 7);
        assert_true(sv_password_verify(S("Passw0rd!"), hash));
    }
}


static void
test_hash_salted(void **state)
{
    char  one[SV_PASSWORD_HASH_SIZE], two[SV_PASSWORD_HASH_SIZE];

    (void) state;

    assert_int_equal(sv_password_hash(S("Passw0rd!"), 4, one, sizeof(one),
                                      NULL, 0), 0);
    assert_int_equal(sv_password_hash(S("Passw0rd!"), 4, two, sizeof(two),
                                      NULL, 0), 0);

    assert_string_not_equal(one, two);
    assert_true(sv_password_verify(S("Passw0rd!"), one));
    assert_true(sv_password_verify(S("Passw0rd!"), two));
}


static void
test_hash_refuses(void **state)
{
    char  hash[SV_PASSWORD_HASH_SIZE], err[128], *pw;

    (void) state;

    err[0] = '\0';
    assert_int_equal(sv_password_hash(S("Passw0rd!"), 3, hash, sizeof(hash),
                                      err, sizeof(err)), -1);
    assert_true(err[0] != '\0');

    err[0] = '\0';
    assert_int_equal(sv_password_hash(S("Passw0rd!"), 32, hash,
                                      sizeof(hash), err, sizeof(err)), -1);
    assert_true(err[0] != '\0');

    assert_int_equal(sv_password_hash(S("Passw0rd!"), 0, hash, sizeof(hash),
                                      NULL, 0), -1);

    /* the output does not fit: 60 characters and the NUL */

    err[0] = '\0';
    assert_int_equal(sv_password_hash(S("Passw0rd!"), 4, hash, BCRYPT_LEN,
                                      err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    assert_int_equal(sv_password_hash(S("Passw0rd!"), 4, hash,
                                      BCRYPT_LEN + 1, err, sizeof(err)), 0);

    /* what bcrypt would drop without a word */

    pw = repeat('a', 73);
    pw[0] = '1';

    assert_int_equal(sv_password_hash(pw, 72, 4, hash, sizeof(hash),
                                      NULL, 0), 0);
    err[0] = '\0';
    assert_int_equal(sv_password_hash(pw, 73, 4, hash, sizeof(hash),
                                      err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    free(pw);

    err[0] = '\0';
    assert_int_equal(sv_password_hash(S("Passw0rd!\0tail"), 4, hash,
                                      sizeof(hash), err, sizeof(err)), -1);
    assert_true(err[0] != '\0');

    /* a short err buffer is fine */
    assert_int_equal(sv_password_hash(S("Passw0rd!"), 2, hash, sizeof(hash),
                                      err, 1), -1);
    assert_string_equal(err, "");
}


static void
test_verify_python_bcrypt(void **state)
{
    char  *pw;

    (void) state;

    assert_true(sv_password_verify(S("Passw0rd!"), PY_HASH_2B));
    assert_false(sv_password_verify(S("Passw0rd"), PY_HASH_2B));
    assert_false(sv_password_verify(S("Passw0rd!!"), PY_HASH_2B));
    assert_false(sv_password_verify(S("passw0rd!"), PY_HASH_2B));
    assert_false(sv_password_verify(S("Passw0rd!\0"), PY_HASH_2B));
    assert_false(sv_password_verify(S("Passw0rd\0!"), PY_HASH_2B));
    assert_false(sv_password_verify(S(""), PY_HASH_2B));

    assert_true(sv_password_verify(S("Passw0rd!"), PY_HASH_2A));
    assert_false(sv_password_verify(S("Passw0rd?"), PY_HASH_2A));

    assert_true(sv_password_verify(S(KOREAN_PASSWORD), PY_HASH_KOREAN));
    assert_false(sv_password_verify(S("1"), PY_HASH_KOREAN));

    /* past 72 bytes bcrypt reads nothing more, in Python as here */

    pw = repeat('x', 100);
    assert_true(sv_password_verify(pw, 72, PY_HASH_72X));
    assert_true(sv_password_verify(pw, 100, PY_HASH_72X));
    assert_false(sv_password_verify(pw, 71, PY_HASH_72X));
    free(pw);
}


/* $2a$, $2b$ and $2y$ differ only past 255 bytes: one digest for all */

static void
test_verify_prefixes(void **state)
{
    char  hash[SV_PASSWORD_HASH_SIZE];

    (void) state;

    memcpy(hash, PY_HASH_2B, sizeof(PY_HASH_2B));

    hash[2] = 'a';
    assert_true(sv_password_verify(S("Passw0rd!"), hash));

    hash[2] = 'y';
    assert_true(sv_password_verify(S("Passw0rd!"), hash));

    hash[2] = 'x';
    assert_false(sv_password_verify(S("Passw0rd!"), hash));

    hash[2] = 'c';
    assert_false(sv_password_verify(S("Passw0rd!"), hash));
}


static void
test_verify_bad_hashes(void **state)
{
    char    hash[SV_PASSWORD_HASH_SIZE + 8];
    size_t  i;

    static const char  *bad[] = {
        "",
        "$",
        "$2",
        "$2b",
        "$2b$",
        "$2b$04$",
        "$2b$04$QYpqG85nee2R9ujKK/0lBe",
        "$2b$4$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSDe",
        "$2b$03$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSDe",
        "$2b$32$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSDe",
        "$2b$04$QYpqG85nee2R9ujKK/0lB!BXiNadPKA34Csw4ElWGgCtjaUJNQSDe",
        "$2b$04$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSD",
        "$2b$04$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSDf",
        "$2b$04$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSDe.",
        "$2b$04$QYpqG85nee2R9ujKK/0lBeBXiNadPKA34Csw4ElWGgCtjaUJNQSDeXX"
            "XXXXXXXXXXXXXXXXXXXX",

        /* "Passw0rd!" under other schemes crypt() knows: not bcrypt */
        "$1$saltsalt$O.Zr14CtIbIC5/88lCZUk/",
        "$5$saltsalt$bEpmMluRQ82oqgYeJphrHpNo1OW.28SA9WESIdIfO83",
        "$6$saltsalt$B.Jo0ry5vc9EqWhay6Slrl.e3IkeJEf5CtDxnKDqXf1CvnnxfpQ"
            "FSeAGwNsSzFvaerLx9wibjNa1PM2Osekn81",
        "$y$j9T$saltsaltsaltsalt$jV2.tnrJsOSU922q0B/.eyUN0phqrhzuuxy.rSgSLq.",
        "abiR63Zcw.s2g",

        "*0",
        "*1",
        "!",
        "x",
    };

    (void) state;

    for (i = 0; i < NELTS(bad); i++) {
        if (sv_password_verify(S("Passw0rd!"), bad[i])) {
            fail_msg("\"%s\" verified", bad[i]);
        }

        if (sv_password_verify(S(""), bad[i])) {
            fail_msg("\"%s\" verified the empty password", bad[i]);
        }
    }

    /* any one character of the salt or the digest changed */

    for (i = 7; i < BCRYPT_LEN; i++) {
        memcpy(hash, PY_HASH_2B, sizeof(PY_HASH_2B));
        hash[i] = (hash[i] == 'A') ? 'B' : 'A';

        if (sv_password_verify(S("Passw0rd!"), hash)) {
            fail_msg("hash changed at %zu verified", i);
        }
    }
}


/* only len bytes of the password are read */

static void
test_verify_reads_only_len(void **state)
{
    char  *pw;

    (void) state;

    pw = malloc(9);
    assert_non_null(pw);
    memcpy(pw, "Passw0rd!", 9);

    assert_true(sv_password_verify(pw, 9, PY_HASH_2B));
    assert_false(sv_password_verify(pw, 8, PY_HASH_2B));
    free(pw);

    assert_true(sv_password_verify("Passw0rd!XYZ", 9, PY_HASH_2B));
}


/* crypt_r with a crypt_data of each call's own: pool threads */

static void *
hash_and_verify(void *arg)
{
    int    i, *ok;
    char   pw[24], hash[SV_PASSWORD_HASH_SIZE];

    ok = arg;

    for (i = 0; i < 4; i++) {
        snprintf(pw, sizeof(pw), "Passw0rd%d", i);

        *ok = *ok
              && sv_password_hash(pw, strlen(pw), 4, hash, sizeof(hash),
                                  NULL, 0) == 0
              && sv_password_verify(pw, strlen(pw), hash)
              && !sv_password_verify(S("Passw0rd"), hash)
              && sv_password_verify(S("Passw0rd!"), PY_HASH_2B);
    }

    return NULL;
}


static void
test_threads(void **state)
{
    int        ok[4];
    size_t     i;
    pthread_t  tid[4];

    (void) state;

    for (i = 0; i < NELTS(tid); i++) {
        ok[i] = 1;
        assert_int_equal(pthread_create(&tid[i], NULL, hash_and_verify,
                                        &ok[i]), 0);
    }

    for (i = 0; i < NELTS(tid); i++) {
        assert_int_equal(pthread_join(tid[i], NULL), 0);
        assert_true(ok[i]);
    }
}


typedef struct {
    int      before, after;     /* the calling thread's nice values */
    int      rc;
    char     hash[SV_PASSWORD_HASH_SIZE];
} yield_result_t;


static void *
yield_thread(void *arg)
{
    id_t             tid;
    yield_result_t  *res = arg;

    tid = (id_t) syscall(SYS_gettid);

    res->before = getpriority(PRIO_PROCESS, tid);
    res->rc = sv_password_hash_yielding("passw0rd", 8, 12, res->hash,
                                        sizeof(res->hash), NULL, 0);
    res->after = getpriority(PRIO_PROCESS, tid);

    return NULL;
}


/* The highest nice value among this process's threads, from /proc. */
static int
highest_thread_nice(void)
{
    int             nice, top;
    DIR            *d;
    FILE           *fp;
    char            path[300], buf[1024], *p;
    struct dirent  *de;

    top = -100;
    d = opendir("/proc/self/task");

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
        fp = fopen(path, "r");

        if (fp == NULL) {
            continue;
        }

        /* after "(comm) ", field 19 of stat is the nice value */

        if (fgets(buf, sizeof(buf), fp) != NULL
            && (p = strrchr(buf, ')')) != NULL
            && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                      "%*u %*u %*d %*d %*d %d", &nice) == 1
            && nice > top)
        {
            top = nice;
        }

        fclose(fp);
    }

    if (d != NULL) {
        closedir(d);
    }

    return top;
}


/*
 * pthread_join() returns once the thread's id is cleared, which is
 * before the kernel takes the thread out of /proc/self/task: wait for
 * the joined ones to leave (this process runs no thread of its own), up
 * to 5 s, and say whether they did.
 */
static int
joined_threads_gone(void)
{
    int             n, tries;
    DIR            *d;
    struct dirent  *de;

    for (tries = 0; tries < 5000; tries++) {
        n = 0;
        d = opendir("/proc/self/task");

        while (d != NULL && (de = readdir(d)) != NULL) {
            n += (de->d_name[0] != '.');
        }

        if (d != NULL) {
            closedir(d);
        }

        if (n == 1) {
            return 1;
        }

        usleep(1000);
    }

    return 0;
}


static void
test_hash_yielding(void **state)
{
    int             main_nice, top;
    pthread_t       t;
    yield_result_t  res;

    (void) state;

    main_nice = getpriority(PRIO_PROCESS, 0);
    memset(&res, 0, sizeof(res));
    res.rc = -2;

    assert_int_equal(pthread_create(&t, NULL, yield_thread, &res), 0);

    /* while it hashes (cost 12: a good part of a second), one thread yields */

    top = -100;

    while (res.rc == -2 && top < 10) {
        top = highest_thread_nice();
        usleep(1000);
    }

    assert_int_equal(pthread_join(t, NULL), 0);

    assert_int_equal(res.rc, 0);
    assert_int_equal(sv_password_verify("passw0rd", 8, res.hash), 1);
    assert_int_equal(top, 10);

    /* the caller's priority never changed, and no thread stays low */
    assert_int_equal(res.before, main_nice);
    assert_int_equal(res.after, main_nice);
    assert_true(joined_threads_gone());
    assert_int_equal(highest_thread_nice(), main_nice);
    assert_int_equal(getpriority(PRIO_PROCESS, 0), main_nice);
}


static void
test_verify_yielding(void **state)
{
    char  hash[SV_PASSWORD_HASH_SIZE], err[128];

    (void) state;

    assert_int_equal(sv_password_hash("Passw0rd!", 9, 4, hash, sizeof(hash),
                                      err, sizeof(err)), 0);
    assert_int_equal(sv_password_verify_yielding("Passw0rd!", 9, hash), 1);
    assert_int_equal(sv_password_verify_yielding("Passw0rd?", 9, hash), 0);
    assert_true(joined_threads_gone());
    assert_int_equal(highest_thread_nice(), getpriority(PRIO_PROCESS, 0));
}


static void
test_cost(void **state)
{
    (void) state;

    assert_int_equal(sv_password_cost(
        "$2a$04$cWawdYARHl.HUazBFkKXduPl5.HnBZzv/PLJbc3fB8MPdBgrM7oWC"), 4);
    assert_int_equal(sv_password_cost("$2y$12$x"), 12);
    assert_int_equal(sv_password_cost("$2b$31$x"), 31);
    assert_int_equal(sv_password_cost("$2x$12$x"), -1);
    assert_int_equal(sv_password_cost("$2b$1$x"), -1);
    assert_int_equal(sv_password_cost("$2b$1a$x"), -1);
    assert_int_equal(sv_password_cost("$1$12$x"), -1);
    assert_int_equal(sv_password_cost(""), -1);
}


static void
test_dummy(void **state)
{
    char                dummy[SV_PASSWORD_HASH_SIZE];
    const char         *computed;
    struct crypt_data  *data;

    (void) state;

    sv_password_dummy(12, dummy);
    assert_int_equal(strlen(dummy), 60);
    assert_int_equal(sv_password_cost(dummy), 12);

    /* no password matches, yet bcrypt runs its whole cost on it */

    sv_password_dummy(4, dummy);
    assert_int_equal(sv_password_verify("Passw0rd!", 9, dummy), 0);
    assert_int_equal(sv_password_verify("", 0, dummy), 0);

    data = calloc(1, sizeof(*data));
    assert_non_null(data);
    computed = crypt_r("Passw0rd!", dummy, data);
    assert_non_null(computed);
    assert_int_equal(strlen(computed), 60);
    assert_memory_equal(computed, dummy, 29);     /* "$2b$04$" + the salt */
    free(data);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_acceptable),
        cmocka_unit_test(test_acceptable_lengths),
        cmocka_unit_test(test_hash_cost_4),
        cmocka_unit_test(test_hash_costs),
        cmocka_unit_test(test_hash_salted),
        cmocka_unit_test(test_hash_refuses),
        cmocka_unit_test(test_verify_python_bcrypt),
        cmocka_unit_test(test_verify_prefixes),
        cmocka_unit_test(test_verify_bad_hashes),
        cmocka_unit_test(test_verify_reads_only_len),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_hash_yielding),
        cmocka_unit_test(test_verify_yielding),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_dummy),
    };

    return cmocka_run_group_tests_name("sv_password", tests, NULL, NULL);
}
