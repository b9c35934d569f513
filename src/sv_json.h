#ifndef SV_JSON_H
#define SV_JSON_H

/*
 * Request bodies: a JSON object in UTF-8, and its members read with their
 * types checked.
 */

#include <stddef.h>

#include <cjson/cJSON.h>


typedef enum {
    SV_JSON_OK = 0,
    SV_JSON_MISSING,            /* absent or null */
    SV_JSON_WRONG_TYPE
} sv_json_rc_t;


/*
 * The body as a JSON object, or NULL if it is empty, not UTF-8, not JSON,
 * not an object, or has a "\u0000" escape (cJSON would end the string
 * there, so "a\u0000b" would pass for "a").  Free with cJSON_Delete().
 */
cJSON *sv_json_parse_object(const char *p, size_t len);

/*
 * Zeroes every key and string of the tree, before cJSON_Delete(): the
 * body's password has its copy there.
 */
void sv_json_wipe(cJSON *json);

/* A string member. */
sv_json_rc_t sv_json_string(const cJSON *obj, const char *name,
    const char **s, size_t *len);

/*
 * An array of integers, duplicates dropped, into out (at most max of
 * them): WRONG_TYPE also for a non-integer, a number beyond int, or more
 * than max distinct values.
 */
sv_json_rc_t sv_json_int_set(const cJSON *obj, const char *name, int *out,
    size_t max, size_t *n);

#endif /* SV_JSON_H */
