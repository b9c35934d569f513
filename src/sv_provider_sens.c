/*
 * NAVER Cloud Platform SENS, SMS API v2.
 *
 * POST {url}/sms/v2/services/{serviceId}/messages with a JSON body, signed
 * for the API gateway: x-ncp-apigw-signature-v2 is
 * base64(HMAC-SHA256(secret key, "POST {path}\n{timestamp}\n{access key}")).
 * The message is accepted when the answer is 202 with "statusCode":"202".
 * One request may carry up to 100 messages, each with its own text (a
 * message's "content" goes before the request's): the answer is for all.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sv_code.h"
#include "sv_escape.h"
#include "sv_http.h"
#include "sv_phone.h"
#include "sv_provider_impl.h"

#define SV_SENS_PATH_SIZE       256
/* the call's: what the check accepts the send can hold */
#define SV_SENS_URL_SIZE        SV_HTTP_URL_SIZE
/* longest service id or access key taken */
#define SV_SENS_NAME_MAX        128
/* base64 of a SHA-256 digest, NUL included */
#define SV_SENS_SIGNATURE_SIZE  45
/* how much of a reason from the answer goes into err */
#define SV_SENS_REASON_MAX      100


static int sv_sens_check_config(const sv_provider_t *p, char *err,
    size_t errlen);
static int sv_sens_safe(const char *s, const char *extra);
static int sv_sens_headers(const sv_provider_t *p, const char *path,
    sv_http_call_t *call);
static int sv_sens_country(const sv_sms_t *const *sms, size_t n, char *cc);
static char *sv_sens_body(const sv_provider_t *p, const sv_sms_t *const *sms,
    size_t n, const char *cc, size_t *size);
static int sv_sens_fill(cJSON *root, const sv_provider_t *p,
    const sv_sms_t *const *sms, size_t n, const char *cc);
static int sv_sens_add_message(cJSON *messages, const sv_sms_t *sms,
    int own_text);
static int sv_sens_add_text(cJSON *obj, const sv_sms_t *sms);
static void sv_sens_wipe_content(cJSON *root);
static void sv_sens_wipe_item(cJSON *obj);
static long long sv_sens_timestamp(void);
static int sv_sens_sign(const sv_provider_t *p, const char *path,
    const char *timestamp, char *out);
static int sv_sens_accepted(const sv_http_response_t *resp);
static void sv_sens_failure(const sv_http_response_t *resp, char *err,
    size_t errlen);
static const char *sv_sens_json_reason(const cJSON *json);


int
sv_provider_sens_check(const sv_provider_t *p, char *err, size_t errlen)
{
    char  path[SV_SENS_PATH_SIZE];
    char  url[SV_SENS_URL_SIZE];

    if (sv_sens_check_config(p, err, errlen) != 0) {
        return -1;
    }

    snprintf(path, sizeof(path), "/sms/v2/services/%s/messages",
             p->service_id);

    if (sv_http_url(url, sizeof(url), p->url, path) != 0) {
        snprintf(err, errlen, "sens: url too long");
        return -1;
    }

    return 0;
}


int
sv_provider_sens_build(const sv_provider_t *p, const sv_sms_t *sms,
    sv_http_call_t *call, char *err, size_t errlen)
{
    return sv_provider_sens_build_many(p, &sms, 1, call, err, errlen);
}


int
sv_provider_sens_build_many(const sv_provider_t *p,
    const sv_sms_t *const *sms, size_t n, sv_http_call_t *call, char *err,
    size_t errlen)
{
    char    *body;
    size_t   size;
    char     cc[4];
    char     path[SV_SENS_PATH_SIZE];

    if (sv_sens_check_config(p, err, errlen) != 0) {
        return -1;
    }

    if (n == 0 || n > SV_SENS_MESSAGES_MAX) {
        snprintf(err, errlen, "sens: %zu messages in one request", n);
        return -1;
    }

    switch (sv_sens_country(sms, n, cc)) {

    case 0:
        break;

    case 1:
        snprintf(err, errlen, "sens: numbers of more than one country");
        return -1;

    default:
        snprintf(err, errlen, "sens: not an E.164 number");
        return -1;
    }

    snprintf(path, sizeof(path), "/sms/v2/services/%s/messages",
             p->service_id);

    if (sv_http_url(call->url, sizeof(call->url), p->url, path) != 0) {
        snprintf(err, errlen, "sens: url too long");
        return -1;
    }

    if (sv_sens_headers(p, path, call) != 0) {
        snprintf(err, errlen, "sens: cannot compute the signature");
        return -1;
    }

    body = sv_sens_body(p, sms, n, cc, &size);
    if (body == NULL) {
        snprintf(err, errlen, "sens: cannot build the request");
        return -1;
    }

    /* the body holds the codes: sv_provider_read() wipes it */
    call->body = body;
    call->size = size;
    call->len = strlen(body);

    return SV_PROVIDER_PENDING;
}


int
sv_provider_sens_read(const sv_provider_t *p, sv_http_call_t *call,
    char *err, size_t errlen)
{
    (void) p;

    if (sv_sens_accepted(&call->resp)) {
        return 0;
    }

    sv_sens_failure(&call->resp, err, errlen);

    return -1;
}


static int
sv_sens_check_config(const sv_provider_t *p, char *err, size_t errlen)
{
    if (p->url == NULL || p->service_id == NULL || p->access_key == NULL
        || p->secret_key == NULL || p->from == NULL)
    {
        snprintf(err, errlen, "sens: incomplete configuration");
        return -1;
    }

    /* these go into the path and headers as they are */
    if (!sv_sens_safe(p->service_id, ":-_.") || !sv_sens_safe(p->access_key,
                                                             "-_.+/="))
    {
        snprintf(err, errlen, "sens: bad service_id or access_key");
        return -1;
    }

    return 0;
}


static int
sv_sens_safe(const char *s, const char *extra)
{
    size_t  len;

    len = strlen(s);
    if (len == 0 || len > SV_SENS_NAME_MAX) {
        return 0;
    }

    for ( /* void */ ; *s != '\0'; s++) {
        if ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z')
            || (*s >= 'A' && *s <= 'Z') || strchr(extra, *s) != NULL)
        {
            continue;
        }

        return 0;
    }

    return 1;
}


static int
sv_sens_headers(const sv_provider_t *p, const char *path,
    sv_http_call_t *call)
{
    char  timestamp[32];
    char  signature[SV_SENS_SIGNATURE_SIZE];

    snprintf(timestamp, sizeof(timestamp), "%lld", sv_sens_timestamp());

    if (sv_sens_sign(p, path, timestamp, signature) != 0) {
        return -1;
    }

    /* the access key is at most SV_SENS_NAME_MAX: each line fits */

    snprintf(call->header[0], SV_HTTP_HEADER_SIZE,
             "x-ncp-apigw-timestamp: %s", timestamp);
    snprintf(call->header[1], SV_HTTP_HEADER_SIZE,
             "x-ncp-iam-access-key: %s", p->access_key);
    snprintf(call->header[2], SV_HTTP_HEADER_SIZE,
             "x-ncp-apigw-signature-v2: %s", signature);

    call->headers[0] = "Content-Type: application/json; charset=utf-8";
    call->headers[1] = call->header[0];
    call->headers[2] = call->header[1];
    call->headers[3] = call->header[2];
    call->headers[4] = NULL;

    return 0;
}


/*
 * The country code all the numbers share, into cc: 0; 1 if they differ;
 * -1 if one is not E.164.  A request has one countryCode for all its
 * messages.
 */
static int
sv_sens_country(const sv_sms_t *const *sms, size_t n, char *cc)
{
    size_t  i, len;

    for (i = 0; i < n; i++) {
        len = sv_phone_country_code_len(sms[i]->phone);

        if (sms[i]->phone[0] != '+' || len == 0 || len > 3) {
            return -1;
        }

        if (i == 0) {
            memcpy(cc, sms[0]->phone + 1, len);
            cc[len] = '\0';

        } else if (strlen(cc) != len
                   || memcmp(cc, sms[i]->phone + 1, len) != 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The JSON body, in a buffer of *size bytes of our own: every copy of a
 * text, which holds a code, is wiped before it is freed (cJSON's own
 * printing would grow its buffer by realloc(), leaving copies behind).
 */
static char *
sv_sens_body(const sv_provider_t *p, const sv_sms_t *const *sms, size_t n,
    const char *cc, size_t *size)
{
    char    *out;
    size_t   i;
    cJSON   *root;

    /* cJSON escapes a byte to at most 6; the rest is a few short fields */
    *size = 512;

    for (i = 0; i < n; i++) {
        *size += 6 * sms[i]->len + 64;
    }

    out = malloc(*size);

    root = cJSON_CreateObject();
    if (root == NULL || out == NULL || sv_sens_fill(root, p, sms, n, cc) != 0
        || !cJSON_PrintPreallocated(root, out, (int) *size, 0))
    {
        if (out != NULL) {
            OPENSSL_cleanse(out, *size);
            free(out);
            out = NULL;
        }
    }

    sv_sens_wipe_content(root);
    cJSON_Delete(root);

    return out;
}


/*
 * The first message's text is the request's content, the default; each
 * other message has its own, which SENS puts before the default.
 */
static int
sv_sens_fill(cJSON *root, const sv_provider_t *p, const sv_sms_t *const *sms,
    size_t n, const char *cc)
{
    size_t   i;
    cJSON   *messages;

    if (cJSON_AddStringToObject(root, "type", "SMS") == NULL
        || cJSON_AddStringToObject(root, "contentType", "COMM") == NULL
        || cJSON_AddStringToObject(root, "countryCode", cc) == NULL
        || cJSON_AddStringToObject(root, "from", p->from) == NULL
        || sv_sens_add_text(root, sms[0]) != 0)
    {
        return -1;
    }

    messages = cJSON_AddArrayToObject(root, "messages");
    if (messages == NULL) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (sv_sens_add_message(messages, sms[i], i > 0) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
sv_sens_add_message(cJSON *messages, const sv_sms_t *sms, int own_text)
{
    cJSON  *message;
    char    national[SV_PHONE_SIZE];

    message = cJSON_CreateObject();
    if (message == NULL) {
        return -1;
    }

    cJSON_AddItemToArray(messages, message);

    sv_phone_national(sms->phone, national);

    if (cJSON_AddStringToObject(message, "to", national) == NULL) {
        return -1;
    }

    if (own_text) {
        return sv_sens_add_text(message, sms);
    }

    return 0;
}


/* obj's "content": the text, which is not NUL-terminated */
static int
sv_sens_add_text(cJSON *obj, const sv_sms_t *sms)
{
    char   *text;
    cJSON  *item;

    text = malloc(sms->len + 1);
    if (text == NULL) {
        return -1;
    }

    memcpy(text, sms->text, sms->len);
    text[sms->len] = '\0';

    item = cJSON_AddStringToObject(obj, "content", text);

    OPENSSL_cleanse(text, sms->len + 1);
    free(text);

    return (item != NULL) ? 0 : -1;
}


static void
sv_sens_wipe_content(cJSON *root)
{
    cJSON  *message;

    sv_sens_wipe_item(root);

    cJSON_ArrayForEach(message,
                       cJSON_GetObjectItemCaseSensitive(root, "messages"))
    {
        sv_sens_wipe_item(message);
    }
}


static void
sv_sens_wipe_item(cJSON *obj)
{
    cJSON  *content;

    content = cJSON_GetObjectItemCaseSensitive(obj, "content");

    if (cJSON_IsString(content) && content->valuestring != NULL) {
        OPENSSL_cleanse(content->valuestring, strlen(content->valuestring));
    }
}


static long long
sv_sens_timestamp(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static int
sv_sens_sign(const sv_provider_t *p, const char *path, const char *timestamp,
    char *out)
{
    int            n;
    unsigned char  md[SV_HASH_SIZE];
    char           msg[SV_SENS_PATH_SIZE + SV_SENS_NAME_MAX + 64];

    n = snprintf(msg, sizeof(msg), "POST %s\n%s\n%s", path, timestamp,
                 p->access_key);
    if (n < 0 || (size_t) n >= sizeof(msg)) {
        return -1;
    }

    if (sv_hmac_sha256(p->secret_key, strlen(p->secret_key), msg,
                       (size_t) n, md)
        != 0)
    {
        return -1;
    }

    EVP_EncodeBlock((unsigned char *) out, md, SV_HASH_SIZE);

    return 0;
}


static int
sv_sens_accepted(const sv_http_response_t *resp)
{
    int           ok;
    cJSON        *json;
    const cJSON  *code;

    if (resp->status != 202) {
        return 0;
    }

    json = cJSON_ParseWithLength(resp->body, resp->len);
    code = cJSON_GetObjectItemCaseSensitive(json, "statusCode");

    ok = cJSON_IsString(code) && strcmp(code->valuestring, "202") == 0;

    cJSON_Delete(json);

    return ok;
}


static void
sv_sens_failure(const sv_http_response_t *resp, char *err, size_t errlen)
{
    cJSON       *json;
    const char  *why;
    char         reason[4 * SV_SENS_REASON_MAX + 1];

    json = cJSON_ParseWithLength(resp->body, resp->len);
    why = sv_sens_json_reason(json);

    if (why != NULL) {
        sv_escape_reason(reason, sizeof(reason), why, strlen(why),
                       SV_SENS_REASON_MAX);

    } else {
        sv_escape_reason(reason, sizeof(reason), resp->body, resp->len,
                       SV_SENS_REASON_MAX);
    }

    snprintf(err, errlen, "sens answered %ld: \"%s\"", resp->status, reason);

    cJSON_Delete(json);
}


/*
 * SENS itself says "errorMessage" (or "statusName" next to a statusCode),
 * the API gateway in front of it {"error": {"message": ...}}.
 */
static const char *
sv_sens_json_reason(const cJSON *json)
{
    const cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(json, "errorMessage");
    if (cJSON_IsString(item)) {
        return item->valuestring;
    }

    item = cJSON_GetObjectItemCaseSensitive(json, "error");
    item = cJSON_GetObjectItemCaseSensitive(item, "message");
    if (cJSON_IsString(item)) {
        return item->valuestring;
    }

    item = cJSON_GetObjectItemCaseSensitive(json, "statusName");
    if (cJSON_IsString(item)) {
        return item->valuestring;
    }

    return NULL;
}
