
/*
 * Request bodies to cJSON, with the checks cJSON does not make.
 */

#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sv_json.h"
#include "sv_text.h"


static int sv_json_hides_bytes(const char *p, size_t len);
static int sv_json_hex(char c);


cJSON *
sv_json_parse_object(const char *p, size_t len)
{
    cJSON       *json;
    const char  *end, *last;

    if (len == 0
        || !sv_utf8_valid((const unsigned char *) p, len)
        || sv_json_hides_bytes(p, len))
    {
        return NULL;
    }

    json = cJSON_ParseWithLengthOpts(p, len, &end, 0);

    if (json == NULL) {
        return NULL;
    }

    /* only white space may follow the object */

    last = p + len;

    while (end < last
           && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
    {
        end++;
    }

    if (end != last || !cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return NULL;
    }

    return json;
}


/*
 * What cJSON takes though RFC 8259 does not, and reads otherwise than it
 * was sent: a raw control character (kept in a string, where a NUL ends
 * the C string, and skipped as white space between tokens), and a "\u"
 * escape that is not four hex digits (decoded as U+0000), or is "\u0000"
 * itself: "a\u0000b", "a\uZZZZb" and "a<NUL>b" would all pass for "a".
 * Strings are delimited here as cJSON does, so both agree on what is in
 * one.
 */

static int
sv_json_hides_bytes(const char *p, size_t len)
{
    int            in_string;
    size_t         i;
    unsigned char  c;

    in_string = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) p[i];

        if (c < 0x20) {
            if (in_string || (c != '\t' && c != '\n' && c != '\r')) {
                return 1;
            }

            continue;
        }

        if (!in_string) {
            in_string = (c == '"');
            continue;
        }

        if (c == '"') {
            in_string = 0;
            continue;
        }

        if (c != '\\') {
            continue;
        }

        /* an escape: only "\u" takes more than the next character */

        i++;

        if (i == len || p[i] != 'u') {
            continue;
        }

        if (len - i < 5
            || !sv_json_hex(p[i + 1]) || !sv_json_hex(p[i + 2])
            || !sv_json_hex(p[i + 3]) || !sv_json_hex(p[i + 4])
            || memcmp(p + i + 1, "0000", 4) == 0)
        {
            return 1;
        }

        i += 4;
    }

    return 0;
}


static int
sv_json_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}


void
sv_json_wipe(cJSON *item)
{
    for (/* void */; item != NULL; item = item->next) {

        if (item->string != NULL && !(item->type & cJSON_StringIsConst)) {
            OPENSSL_cleanse(item->string, strlen(item->string));
        }

        if (item->valuestring != NULL) {
            OPENSSL_cleanse(item->valuestring, strlen(item->valuestring));
        }

        sv_json_wipe(item->child);
    }
}


sv_json_rc_t
sv_json_string(const cJSON *obj, const char *name, const char **s,
    size_t *len)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (item == NULL || cJSON_IsNull(item)) {
        return SV_JSON_MISSING;
    }

    if (!cJSON_IsString(item)) {
        return SV_JSON_WRONG_TYPE;
    }

    *s = item->valuestring;
    *len = strlen(item->valuestring);

    return SV_JSON_OK;
}


sv_json_rc_t
sv_json_int_set(const cJSON *obj, const char *name, int *out, size_t max,
    size_t *n)
{
    size_t        i;
    double        d;
    const cJSON  *list, *item;

    list = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (list == NULL || cJSON_IsNull(list)) {
        return SV_JSON_MISSING;
    }

    if (!cJSON_IsArray(list)) {
        return SV_JSON_WRONG_TYPE;
    }

    *n = 0;

    cJSON_ArrayForEach(item, list) {

        if (!cJSON_IsNumber(item)) {
            return SV_JSON_WRONG_TYPE;
        }

        d = item->valuedouble;

        if (d < INT_MIN || d > INT_MAX || d != (double) (int) d) {
            return SV_JSON_WRONG_TYPE;
        }

        for (i = 0; i < *n && out[i] != (int) d; i++) {
            /* void */
        }

        if (i < *n) {
            continue;
        }

        if (*n == max) {
            return SV_JSON_WRONG_TYPE;
        }

        out[(*n)++] = (int) d;
    }

    return SV_JSON_OK;
}
