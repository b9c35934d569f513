
/*
 * A member as the API writes it.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sv_member.h"


typedef struct {
    char    *p;
    char    *last;                  /* one before the end: room for NUL */
    int      full;
} sv_out_t;


static void
sv_out_add(sv_out_t *o, const char *s, size_t len)
{
    if (o->full || (size_t) (o->last - o->p) < len) {
        o->full = 1;
        return;
    }

    memcpy(o->p, s, len);
    o->p += len;
}


static void
sv_out_printf(sv_out_t *o, const char *fmt, int64_t v)
{
    char  buf[32];
    int   n;

    n = snprintf(buf, sizeof(buf), fmt, v);
    sv_out_add(o, buf, (size_t) n);
}


/* a JSON string: '"', '\\' and control bytes escaped, UTF-8 as it is */
static void
sv_out_string(sv_out_t *o, const char *s)
{
    char                  esc[8];
    const unsigned char  *c;

    sv_out_add(o, "\"", 1);

    for (c = (const unsigned char *) s; *c; c++) {

        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char) *c;
            sv_out_add(o, esc, 2);

        } else if (*c < 0x20 || *c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *c);
            sv_out_add(o, esc, 6);

        } else {
            sv_out_add(o, (const char *) c, 1);
        }
    }

    sv_out_add(o, "\"", 1);
}


void
sv_member_time(int64_t ms, char *out)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) (ms / 1000);

    if (gmtime_r(&t, &tm) == NULL) {
        memset(&tm, 0, sizeof(tm));
    }

    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


size_t
sv_member_json(const sv_member_info_t *m, char *out, size_t size)
{
    char      created[21];
    size_t    i;
    sv_out_t  o;

    if (size == 0) {
        return 0;
    }

    o.p = out;
    o.last = out + size - 1;
    o.full = 0;

    sv_out_printf(&o, "\"memberId\":%" PRId64, (int64_t) m->id);
    sv_out_add(&o, ",\"email\":", sizeof(",\"email\":") - 1);
    sv_out_string(&o, m->email);
    sv_out_add(&o, ",\"phoneNumber\":", sizeof(",\"phoneNumber\":") - 1);
    sv_out_string(&o, m->phone);
    sv_out_add(&o, ",\"nickname\":", sizeof(",\"nickname\":") - 1);
    sv_out_string(&o, m->nickname);
    sv_out_add(&o, ",\"terms\":[", sizeof(",\"terms\":[") - 1);

    for (i = 0; i < m->nterms; i++) {
        sv_out_printf(&o, i ? ",%" PRId64 : "%" PRId64, m->terms[i]);
    }

    sv_member_time(m->created_ms, created);

    sv_out_add(&o, "],\"createdAt\":\"", sizeof("],\"createdAt\":\"") - 1);
    sv_out_add(&o, created, strlen(created));
    sv_out_add(&o, "\"", 1);

    if (o.full) {
        out[0] = '\0';
        return 0;
    }

    *o.p = '\0';

    return (size_t) (o.p - out);
}
