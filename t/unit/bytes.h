#ifndef UNIT_BYTES_H
#define UNIT_BYTES_H

/*
 * Byte strings in the unit tests: exact heap copies, and printable forms
 * for failure messages.  Include after <cmocka.h>.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* a copy on the heap of exactly len bytes: reads past it are caught */

static char *
dup_exact(const char *s, size_t len)
{
    char  *p;

    p = malloc(len > 0 ? len : 1);
    assert_non_null(p);

    if (len > 0) {
        memcpy(p, s, len);
    }

    return p;
}


static const char *
show(const char *s, size_t len, char *buf, size_t size)
{
    size_t         i, n;
    unsigned char  c;

    n = 0;

    for (i = 0; i < len && n + 5 < size; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            buf[n++] = (char) c;

        } else {
            n += (size_t) snprintf(buf + n, size - n, "\\x%02x", c);
        }
    }

    buf[n] = '\0';

    return buf;
}


#endif /* UNIT_BYTES_H */
