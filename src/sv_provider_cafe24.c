/*
 * Cafe24 SMS: POST {url}/sms_sender.php, a urlencoded form whose every
 * value is base64-encoded (mode=1 says so).  The answer is plain text,
 * "success,<remaining>" or "reserved,<remaining>" when accepted,
 * "Test Success!" under testflag=Y, a result code otherwise.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sv_escape.h"
#include "sv_http.h"
#include "sv_phone.h"
#include "sv_provider_impl.h"

#define SV_CAFE24_URL_SIZE    SV_HTTP_URL_SIZE
/* "070", "1234", "5678" and the like */
#define SV_CAFE24_PART_SIZE   (SV_CAFE24_GROUP_MAX + 1)
/* "010-1234-5678" */
#define SV_CAFE24_PHONE_SIZE  (SV_PHONE_SIZE + 2)
#define SV_CAFE24_REASON_MAX  100


typedef struct {
    char    part[3][SV_CAFE24_PART_SIZE];
    size_t  nparts;
} sv_cafe24_sender_t;

typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
} sv_cafe24_form_t;


static int sv_cafe24_split_sender(const char *from, sv_cafe24_sender_t *s);
static void sv_cafe24_receiver(const char *e164, char *out);
static int sv_cafe24_form(const sv_provider_t *p, const sv_sms_t *sms,
    const sv_cafe24_sender_t *sender, sv_cafe24_form_t *form);
static int sv_cafe24_add(sv_cafe24_form_t *form, const char *name,
    const char *value, size_t len);
static int sv_cafe24_reserve(sv_cafe24_form_t *form, size_t need);
static void sv_cafe24_free(sv_cafe24_form_t *form);
static int sv_cafe24_accepted(const sv_provider_t *p,
    const sv_http_response_t *resp);
static int sv_cafe24_starts(const char *body, size_t len,
    const char *prefix);


int
sv_provider_cafe24_check(const sv_provider_t *p, char *err, size_t errlen)
{
    sv_cafe24_sender_t  sender;
    char                url[SV_CAFE24_URL_SIZE];

    if (p->url == NULL || p->user_id == NULL || p->secure_key == NULL
        || p->from == NULL)
    {
        snprintf(err, errlen, "cafe24: incomplete configuration");
        return -1;
    }

    if (sv_http_url(url, sizeof(url), p->url, "/sms_sender.php") != 0) {
        snprintf(err, errlen, "cafe24: url too long");
        return -1;
    }

    if (sv_cafe24_split_sender(p->from, &sender) != 0) {
        snprintf(err, errlen,
                 "cafe24: sender number is not like \"070-1234-5678\"");
        return -1;
    }

    return 0;
}


int
sv_provider_cafe24_build(const sv_provider_t *p, const sv_sms_t *sms,
    sv_http_call_t *call, char *err, size_t errlen)
{
    sv_cafe24_form_t     form;
    sv_cafe24_sender_t   sender;

    if (p->url == NULL || p->user_id == NULL || p->secure_key == NULL
        || p->from == NULL)
    {
        snprintf(err, errlen, "cafe24: incomplete configuration");
        return -1;
    }

    /*
     * sv_provider_build() skips Cafe24 for a number abroad; a foreign
     * number's national digits would go to whoever has them in Korea
     */
    if (!sv_provider_serves(p, sms->phone)) {
        snprintf(err, errlen, "cafe24: not a Korean number");
        return -1;
    }

    if (sv_http_url(call->url, sizeof(call->url), p->url, "/sms_sender.php")
        != 0)
    {
        snprintf(err, errlen, "cafe24: url too long");
        return -1;
    }

    if (sv_cafe24_split_sender(p->from, &sender) != 0) {
        snprintf(err, errlen,
                 "cafe24: sender number is not like \"070-1234-5678\"");
        return -1;
    }

    if (sv_cafe24_form(p, sms, &sender, &form) != 0) {
        snprintf(err, errlen, "cafe24: out of memory");
        return -1;
    }

    /* the form holds the message: sv_provider_read() wipes it */
    call->body = form.data;
    call->len = form.len;
    call->size = form.size;

    call->headers[0] = "Content-Type: application/x-www-form-urlencoded";
    call->headers[1] = NULL;

    return SV_PROVIDER_PENDING;
}


int
sv_provider_cafe24_read(const sv_provider_t *p, sv_http_call_t *call,
    char *err, size_t errlen)
{
    char  reason[4 * SV_CAFE24_REASON_MAX + 1];

    if (call->resp.status != 200) {
        snprintf(err, errlen, "cafe24: HTTP %ld", call->resp.status);
        return -1;
    }

    if (sv_cafe24_accepted(p, &call->resp)) {
        return 0;
    }

    sv_escape_reason(reason, sizeof(reason), call->resp.body, call->resp.len,
                     SV_CAFE24_REASON_MAX);
    snprintf(err, errlen, "cafe24 answered \"%s\"", reason);

    return -1;
}


/* "070-1234-5678" -> 070 1234 5678; "1588-0000" -> 1588 0000 */
static int
sv_cafe24_split_sender(const char *from, sv_cafe24_sender_t *s)
{
    size_t  n;

    s->nparts = 0;
    n = 0;

    for ( ;; from++) {
        if (*from >= '0' && *from <= '9' && n < SV_CAFE24_PART_SIZE - 1) {
            s->part[s->nparts][n++] = *from;
            continue;
        }

        if ((*from != '-' && *from != '\0') || n == 0) {
            return -1;
        }

        s->part[s->nparts++][n] = '\0';
        n = 0;

        if (*from == '\0') {
            break;
        }

        if (s->nparts == 3) {
            return -1;
        }
    }

    return s->nparts >= 2 ? 0 : -1;
}


/*
 * Cafe24 asks for the number as dialled in Korea with its hyphens:
 * 010-1234-5678, or 011-123-4567 for the old 10-digit mobiles.
 */
static void
sv_cafe24_receiver(const char *e164, char *out)
{
    size_t  len, mid;
    char    national[SV_PHONE_SIZE];

    sv_phone_national(e164, national);
    len = strlen(national);

    if (strncmp(e164, "+82", 3) != 0 || national[0] != '0'
        || (len != 10 && len != 11))
    {
        memcpy(out, national, len + 1);
        return;
    }

    mid = len - 7;

    memcpy(out, national, 3);
    out[3] = '-';
    memcpy(out + 4, national + 3, mid);
    out[4 + mid] = '-';
    memcpy(out + 5 + mid, national + 3 + mid, 4);
    out[9 + mid] = '\0';
}


static int
sv_cafe24_form(const sv_provider_t *p, const sv_sms_t *sms,
    const sv_cafe24_sender_t *sender, sv_cafe24_form_t *form)
{
    size_t              i;
    char                rphone[SV_CAFE24_PHONE_SIZE];
    static const char  *sphone[] = { "sphone1", "sphone2", "sphone3" };

    sv_cafe24_receiver(sms->phone, rphone);

    form->data = NULL;
    form->len = 0;
    form->size = 0;

    if (sv_cafe24_add(form, "user_id", p->user_id, strlen(p->user_id)) != 0
        || sv_cafe24_add(form, "secure", p->secure_key,
                         strlen(p->secure_key)) != 0
        || sv_cafe24_add(form, "msg", sms->text, sms->len) != 0
        || sv_cafe24_add(form, "rphone", rphone, strlen(rphone)) != 0)
    {
        goto failed;
    }

    for (i = 0; i < sender->nparts; i++) {
        if (sv_cafe24_add(form, sphone[i], sender->part[i],
                          strlen(sender->part[i])) != 0)
        {
            goto failed;
        }
    }

    if (sv_cafe24_add(form, "mode", "1", 1) != 0
        || (p->testflag && sv_cafe24_add(form, "testflag", "Y", 1) != 0))
    {
        goto failed;
    }

    return 0;

failed:

    sv_cafe24_free(form);

    return -1;
}


/* the form holds the message, and so the code: wiped before it goes */
static void
sv_cafe24_free(sv_cafe24_form_t *form)
{
    if (form->data != NULL) {
        OPENSSL_cleanse(form->data, form->size);
        free(form->data);
    }

    form->data = NULL;
    form->len = 0;
    form->size = 0;
}


/* appends name=urlencode(base64(value)), after a "&" but for the first */
static int
sv_cafe24_add(sv_cafe24_form_t *form, const char *name, const char *value,
    size_t len)
{
    int                 i, b64len;
    char               *out;
    size_t              n, need;
    unsigned char       c, *b64;
    static const char   hex[] = "0123456789ABCDEF";

    b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (b64 == NULL) {
        return -1;
    }

    b64len = EVP_EncodeBlock(b64, (const unsigned char *) value, (int) len);

    /* "&", "=", every base64 byte escaped at worst, and a NUL */
    need = form->len + strlen(name) + 3 * (size_t) b64len + 3;

    if (sv_cafe24_reserve(form, need) != 0) {
        OPENSSL_cleanse(b64, b64len);
        free(b64);
        return -1;
    }

    out = form->data + form->len;

    if (form->len > 0) {
        *out++ = '&';
    }

    n = strlen(name);
    memcpy(out, name, n);
    out += n;
    *out++ = '=';

    /* of the base64 alphabet only these three are not safe in a form */

    for (i = 0; i < b64len; i++) {
        c = b64[i];

        if (c == '+' || c == '/' || c == '=') {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 0x0f];

        } else {
            *out++ = c;
        }
    }

    *out = '\0';
    form->len = out - form->data;

    OPENSSL_cleanse(b64, b64len);
    free(b64);

    return 0;
}


static int
sv_cafe24_reserve(sv_cafe24_form_t *form, size_t need)
{
    char    *data;
    size_t   size;

    if (need <= form->size) {
        return 0;
    }

    size = form->size ? form->size : 512;
    while (size < need) {
        size *= 2;
    }

    /* not realloc(): the old buffer is wiped, not left behind */
    data = malloc(size);
    if (data == NULL) {
        return -1;
    }

    if (form->data != NULL) {
        memcpy(data, form->data, form->len + 1);
        OPENSSL_cleanse(form->data, form->size);
        free(form->data);
    }

    form->data = data;
    form->size = size;

    return 0;
}


static int
sv_cafe24_accepted(const sv_provider_t *p, const sv_http_response_t *resp)
{
    if (sv_cafe24_starts(resp->body, resp->len, "success")
        || sv_cafe24_starts(resp->body, resp->len, "reserved"))
    {
        return 1;
    }

    return p->testflag
           && sv_cafe24_starts(resp->body, resp->len, "Test Success!");
}


static int
sv_cafe24_starts(const char *body, size_t len, const char *prefix)
{
    size_t  n;

    while (len > 0 && (*body == ' ' || *body == '\r' || *body == '\n'
                       || *body == '\t'))
    {
        body++;
        len--;
    }

    n = strlen(prefix);

    return len >= n && memcmp(body, prefix, n) == 0;
}
