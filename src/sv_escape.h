#ifndef SV_ESCAPE_H
#define SV_ESCAPE_H

/*
 * Text made safe to quote in a log line: what a user typed, what a
 * remote party answered.
 */

#include <stddef.h>


/*
 * Copies len bytes of s into out (size bytes, always NUL-terminated) so
 * that the text can stand between double quotes in a log line: '"' and
 * '\\' get a backslash, control bytes become \xHH, and so do bytes of
 * 0x80 and above when ascii_only is set (text from a remote party).  Stops
 * before an escape that would not fit.  Returns the length written.
 */
size_t sv_escape_quoted(char *out, size_t size, const char *s, size_t len,
    int ascii_only);

/*
 * The reason to quote from an answer body: its first line, at most max
 * bytes, escaped as above with ascii_only set.
 */
size_t sv_escape_reason(char *out, size_t size, const char *body, size_t len,
    size_t max);

#endif /* SV_ESCAPE_H */
