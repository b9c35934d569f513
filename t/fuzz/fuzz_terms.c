
/*
 * The terms a signup agrees to: sv_json_int_set() on the body
 * {"termsId": <input>}, parsed by sv_json_parse_object(), with the
 * module's bound (64) and a small one (3), against a reference walk of
 * the parsed array.
 *
 * Invariants: the same answer, values and order as the reference; no
 * write past max; values distinct.
 */

#include <math.h>

#include "fuzz.h"

#include "sv_json.h"


#define SV_FUZZ_TERMS_MAX  64


static void sv_fuzz_terms(const cJSON *root, size_t max);
static sv_json_rc_t sv_fuzz_ref_terms(const cJSON *root, int *out,
    size_t max, size_t *n);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char   *body;
    cJSON  *root;
    size_t  len;

    static const char  head[] = "{\"termsId\": ";

    len = sizeof(head) - 1 + size + 1;

    body = malloc(len);
    if (body == NULL) {
        abort();
    }

    memcpy(body, head, sizeof(head) - 1);
    memcpy(body + sizeof(head) - 1, data, size);
    body[len - 1] = '}';

    root = sv_json_parse_object(body, len);
    free(body);

    if (root == NULL) {
        return 0;
    }

    sv_fuzz_terms(root, SV_FUZZ_TERMS_MAX);
    sv_fuzz_terms(root, 3);
    sv_fuzz_terms(root, 0);

    cJSON_Delete(root);

    return 0;
}


static void
sv_fuzz_terms(const cJSON *root, size_t max)
{
    int           *out, *ref;
    size_t         i, j, n, nref;
    sv_json_rc_t   rc;

    /* exactly max ints: a write past them is a heap overflow */

    out = malloc(max ? max * sizeof(int) : 1);
    ref = malloc((SV_FUZZ_TERMS_MAX + 1) * sizeof(int));
    if (out == NULL || ref == NULL) {
        abort();
    }

    n = (size_t) -1;
    nref = (size_t) -1;

    rc = sv_json_int_set(root, "termsId", out, max, &n);

    sv_fuzz_check(rc == sv_fuzz_ref_terms(root, ref, max, &nref));

    if (rc == SV_JSON_OK) {
        sv_fuzz_check(n <= max && n == nref);
        sv_fuzz_check(n == 0 || memcmp(out, ref, n * sizeof(int)) == 0);

        for (i = 0; i < n; i++) {
            for (j = i + 1; j < n; j++) {
                sv_fuzz_check(out[i] != out[j]);
            }
        }
    }

    free(ref);
    free(out);
}


/*
 * The first member of that name; null is missing; an array of numbers
 * that are integers within int, first occurrences kept, at most max
 * distinct (max <= SV_FUZZ_TERMS_MAX).
 */

static sv_json_rc_t
sv_fuzz_ref_terms(const cJSON *root, int *out, size_t max, size_t *n)
{
    size_t        i;
    double        d;
    const cJSON  *list, *item;

    for (list = root->child; list != NULL; list = list->next) {
        if (list->string != NULL && strcmp(list->string, "termsId") == 0) {
            break;
        }
    }

    if (list == NULL || (list->type & 0xff) == cJSON_NULL) {
        return SV_JSON_MISSING;
    }

    if ((list->type & 0xff) != cJSON_Array) {
        return SV_JSON_WRONG_TYPE;
    }

    *n = 0;

    for (item = list->child; item != NULL; item = item->next) {
        if ((item->type & 0xff) != cJSON_Number) {
            return SV_JSON_WRONG_TYPE;
        }

        d = item->valuedouble;

        if (!(d >= -2147483648.0 && d <= 2147483647.0) || floor(d) != d) {
            return SV_JSON_WRONG_TYPE;
        }

        for (i = 0; i < *n; i++) {
            if (out[i] == (int) d) {
                break;
            }
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
