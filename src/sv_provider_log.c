/*
 * The development provider: hands each message, code included, to the
 * caller's log writer while the request is "built": no HTTP call.  It
 * never fails.
 */

#include <stdio.h>

#include <openssl/crypto.h>

#include "sv_escape.h"
#include "sv_phone.h"
#include "sv_provider_impl.h"

/* an SMS is at most 90 bytes in EUC-KR, a few hundred once escaped */
#define SV_LOG_LINE_SIZE  1024


int
sv_provider_log_build(const sv_provider_t *p, const sv_sms_t *sms,
    sv_http_call_t *call, char *err, size_t errlen)
{
    int     n;
    size_t  len;
    char    masked[SV_PHONE_MASKED_SIZE];
    char    line[SV_LOG_LINE_SIZE];

    (void) call;
    (void) err;
    (void) errlen;

    if (p->log_write == NULL) {
        return 0;
    }

    sv_phone_mask(sms->phone, masked, sizeof(masked));

    n = snprintf(line, sizeof(line),
                 "smsverify log provider: to \"%s\" message \"", masked);
    if (n < 0 || (size_t) n >= sizeof(line)) {
        return 0;
    }

    len = n;

    /* room for the closing quote */
    len += sv_escape_quoted(line + len, sizeof(line) - len - 1, sms->text,
                          sms->len, 0);

    line[len++] = '"';
    line[len] = '\0';

    p->log_write(p->log_data, line, len);

    /* the line holds the code */
    OPENSSL_cleanse(line, sizeof(line));

    return 0;
}
