
/*
 * Request bodies to cJSON, with the checks cJSON does not make.
 */

#include <limits.h>
#include <string.h>

#include "sv_json.h"
#include "sv_text.h"


static int sv_json_has_nul_escape(const char *p, size_t len);


cJSON *
sv_json_parse_object(const char *p, size_t len)
{
    cJSON       *json;
    const char  *end, *last;

    if (len == 0
        || !sv_utf8_valid((const unsigned char *) p, len)
        || sv_json_has_nul_escape(p, len))
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


static int
sv_json_has_nul_escape(const char *p, size_t len)
{
    size_t  i, backslashes;

    backslashes = 0;

    for (i = 0; i < len; i++) {

        if (p[i] != '\\') {
            backslashes = 0;
            continue;
        }

        backslashes++;

        /* an odd run of backslashes escapes what follows */

        if ((backslashes & 1) && len - i >= 6
            && memcmp(p + i + 1, "u0000", 5) == 0)
        {
            return 1;
        }
    }

    return 0;
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
