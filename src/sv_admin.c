
/*
 * The admin API's NDJSON lines, written and read.
 */

#include <string.h>
#include <time.h>

#include "sv_admin.h"
#include "sv_json.h"
#include "sv_phone.h"
#include "sv_text.h"


#define SV_BCRYPT_LEN  60


size_t
sv_export_line(const sv_member_info_t *m, int hashes, char *out, size_t size)
{
    size_t  len, i;

    if (size < 3) {
        return 0;
    }

    out[0] = '{';

    len = sv_member_json(m, out + 1, size - 1);
    if (len == 0) {
        return 0;
    }

    len++;

    if (hashes) {

        /* a bcrypt string needs no escape, but a stored hash is checked */

        if (size - len < sizeof(",\"passwordHash\":\"\"}\n")
                         + strlen(m->password_hash))
        {
            return 0;
        }

        memcpy(out + len, ",\"passwordHash\":\"",
               sizeof(",\"passwordHash\":\"") - 1);
        len += sizeof(",\"passwordHash\":\"") - 1;

        for (i = 0; m->password_hash[i]; i++) {
            if (m->password_hash[i] == '"' || m->password_hash[i] == '\\'
                || (unsigned char) m->password_hash[i] < 0x20)
            {
                return 0;
            }

            out[len++] = m->password_hash[i];
        }

        out[len++] = '"';
    }

    if (size - len < 3) {
        return 0;
    }

    out[len++] = '}';
    out[len++] = '\n';
    out[len] = '\0';

    return len;
}


static int
sv_digits(const char *s, size_t n, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (s[i] - '0');
    }

    return 0;
}


int
sv_admin_time_parse(const char *s, size_t len, int64_t *ms)
{
    int        y, mo, d, h, mi, sec;
    time_t     t;
    struct tm  tm;

    /* 2026-12-01T05:00:00Z */

    if (len != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T'
        || s[13] != ':' || s[16] != ':' || s[19] != 'Z'
        || sv_digits(s, 4, &y) != 0 || sv_digits(s + 5, 2, &mo) != 0
        || sv_digits(s + 8, 2, &d) != 0 || sv_digits(s + 11, 2, &h) != 0
        || sv_digits(s + 14, 2, &mi) != 0 || sv_digits(s + 17, 2, &sec) != 0)
    {
        return -1;
    }

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23
        || mi > 59 || sec > 59)
    {
        return -1;
    }

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;

    t = timegm(&tm);

    /* a day past the month's end (02-30) comes back as another date */

    if (t == (time_t) -1 || tm.tm_mday != d || tm.tm_mon != mo - 1) {
        return -1;
    }

    *ms = (int64_t) t * 1000;

    return 0;
}


int
sv_admin_hash_valid(const char *s, size_t len)
{
    size_t  i;
    int     cost;
    char    c;

    if (len != SV_BCRYPT_LEN || s[0] != '$' || s[1] != '2'
        || (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') || s[3] != '$'
        || s[6] != '$' || sv_digits(s + 4, 2, &cost) != 0
        || cost < 4 || cost > 31)
    {
        return 0;
    }

    for (i = 7; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '/'))
        {
            return 0;
        }
    }

    return 1;
}


/* A string field into buf (size bytes); *field set on failure. */
static sv_line_rc_t
sv_line_string(const cJSON *obj, const char *name, const char **s,
    size_t *len, const char **field)
{
    switch (sv_json_string(obj, name, s, len)) {

    case SV_JSON_OK:
        return SV_LINE_OK;

    case SV_JSON_MISSING:
        *field = name;
        return SV_LINE_MISSING_FIELD;

    default:
        *field = name;
        return SV_LINE_INVALID_FIELD;
    }
}


static sv_line_rc_t
sv_line_id(const cJSON *obj, sv_member_info_t *m, const char **field)
{
    double        v;
    const cJSON  *item;

    *field = "memberId";

    item = cJSON_GetObjectItemCaseSensitive(obj, "memberId");

    if (item == NULL || cJSON_IsNull(item)) {
        return SV_LINE_MISSING_FIELD;
    }

    if (!cJSON_IsNumber(item)) {
        return SV_LINE_INVALID_FIELD;
    }

    v = item->valuedouble;

    if (!(v >= 1 && v <= (double) SV_STORE_ID_MAX)
        || v != (double) (uint64_t) v)
    {
        return SV_LINE_INVALID_FIELD;
    }

    m->id = (uint64_t) v;
    *field = NULL;

    return SV_LINE_OK;
}


static sv_line_rc_t
sv_line_fields(const cJSON *obj, sv_member_info_t *m, const char **field)
{
    size_t        len;
    const char   *s;
    sv_line_rc_t  rc;

    rc = sv_line_id(obj, m, field);
    if (rc != SV_LINE_OK) {
        return rc;
    }

    rc = sv_line_string(obj, "email", &s, &len, field);
    if (rc != SV_LINE_OK) {
        return rc;
    }

    if (len > SV_STORE_EMAIL_MAX || !sv_email_valid(s, len)) {
        return SV_LINE_INVALID_EMAIL;
    }

    memcpy(m->email, s, len + 1);

    rc = sv_line_string(obj, "phoneNumber", &s, &len, field);
    if (rc != SV_LINE_OK) {
        return rc;
    }

    if (sv_phone_normalize(s, len, m->phone) != 0) {
        return SV_LINE_INVALID_PHONE;
    }

    rc = sv_line_string(obj, "nickname", &s, &len, field);
    if (rc != SV_LINE_OK) {
        return rc;
    }

    if (len > SV_STORE_NICKNAME_MAX
        || !sv_nickname_valid(s, len, SV_ADMIN_NICKNAME_MAX))
    {
        return SV_LINE_INVALID_NICKNAME;
    }

    memcpy(m->nickname, s, len + 1);

    switch (sv_json_int_set(obj, "terms", m->terms, SV_STORE_TERMS_MAX,
                            &m->nterms))
    {
    case SV_JSON_OK:
        break;

    case SV_JSON_MISSING:
        *field = "terms";
        return SV_LINE_MISSING_FIELD;

    default:
        *field = "terms";
        return SV_LINE_INVALID_FIELD;
    }

    rc = sv_line_string(obj, "createdAt", &s, &len, field);
    if (rc != SV_LINE_OK) {
        return rc;
    }

    if (sv_admin_time_parse(s, len, &m->created_ms) != 0) {
        *field = "createdAt";
        return SV_LINE_INVALID_FIELD;
    }

    rc = sv_line_string(obj, "passwordHash", &s, &len, field);
    if (rc != SV_LINE_OK) {
        return rc;
    }

    if (!sv_admin_hash_valid(s, len)) {
        *field = "passwordHash";
        return SV_LINE_INVALID_FIELD;
    }

    memcpy(m->password_hash, s, len + 1);

    return SV_LINE_OK;
}


sv_line_rc_t
sv_import_line(const char *p, size_t len, sv_member_info_t *m,
    const char **field)
{
    cJSON         *obj;
    sv_line_rc_t   rc;

    *field = NULL;
    memset(m, 0, sizeof(sv_member_info_t));

    if (len > SV_IMPORT_LINE_MAX) {
        return SV_LINE_INVALID_JSON;
    }

    obj = sv_json_parse_object(p, len);
    if (obj == NULL) {
        return SV_LINE_INVALID_JSON;
    }

    rc = sv_line_fields(obj, m, field);

    sv_json_wipe(obj);
    cJSON_Delete(obj);

    return rc;
}
