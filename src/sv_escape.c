
/*
 * Escaping for log lines.
 */

#include <string.h>

#include "sv_escape.h"


size_t
sv_escape_quoted(char *out, size_t size, const char *s, size_t len,
    int ascii_only)
{
    size_t          n, i, need;
    unsigned char   c;
    static const char  hex[] = "0123456789abcdef";

    if (size == 0) {
        return 0;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c < 0x20 || c == 0x7f || (ascii_only && c >= 0x80)) {
            need = 4;

        } else if (c == '"' || c == '\\') {
            need = 2;

        } else {
            need = 1;
        }

        if (n + need >= size) {
            break;
        }

        if (need == 4) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 0x0f];
            continue;
        }

        if (need == 2) {
            out[n++] = '\\';
        }

        out[n++] = (char) c;
    }

    out[n] = '\0';

    return n;
}


size_t
sv_escape_reason(char *out, size_t size, const char *body, size_t len,
    size_t max)
{
    const char  *end;

    while (len > 0 && (*body == ' ' || *body == '\t' || *body == '\r'
                       || *body == '\n'))
    {
        body++;
        len--;
    }

    if (len > max) {
        len = max;
    }

    end = memchr(body, '\n', len);
    if (end != NULL) {
        len = end - body;
    }

    while (len > 0 && (body[len - 1] == '\r' || body[len - 1] == ' ')) {
        len--;
    }

    return sv_escape_quoted(out, size, body, len, 1);
}
