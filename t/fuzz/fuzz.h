#ifndef SV_FUZZ_H
#define SV_FUZZ_H

/*
 * What the libFuzzer targets share: a checked invariant that aborts (so
 * libFuzzer saves the input as a crash), and exact-size heap copies of
 * the input so that AddressSanitizer sees a read one byte too far.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define sv_fuzz_check(cond)                                                  \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n",                 \
                    __FILE__, __LINE__, #cond);                              \
            abort();                                                         \
        }                                                                    \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* len bytes on the heap, no terminator: nothing may be read past them */

static inline char *
sv_fuzz_bytes(const void *p, size_t len)
{
    char  *s;

    s = malloc(len ? len : 1);
    if (s == NULL) {
        abort();
    }

    if (len) {
        memcpy(s, p, len);
    }

    return s;
}


/* len bytes and a NUL on the heap */

static inline char *
sv_fuzz_cstr(const void *p, size_t len)
{
    char  *s;

    s = malloc(len + 1);
    if (s == NULL) {
        abort();
    }

    if (len) {
        memcpy(s, p, len);
    }

    s[len] = '\0';

    return s;
}


static inline size_t
sv_fuzz_count_digits(const char *s)
{
    size_t  n;

    for (n = 0; *s; s++) {
        n += (*s >= '0' && *s <= '9');
    }

    return n;
}

#endif /* SV_FUZZ_H */
