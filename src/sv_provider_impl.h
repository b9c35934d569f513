#ifndef SV_PROVIDER_IMPL_H
#define SV_PROVIDER_IMPL_H

/*
 * The back ends behind sv_provider.h, one file each; only sv_provider.c
 * dispatches to them.
 */

#include "sv_provider.h"


/*
 * build: as sv_provider_build(), past its common checks (the call's body
 * NULL, its headers empty, its timeout the provider's); read: as
 * sv_provider_read() once an answer came (call->rc 0).
 */

int sv_provider_log_build(const sv_provider_t *p, const sv_sms_t *sms,
    sv_http_call_t *call, char *err, size_t errlen);

int sv_provider_sens_build(const sv_provider_t *p, const sv_sms_t *sms,
    sv_http_call_t *call, char *err, size_t errlen);

/* the API's limit of messages in one request */
#define SV_SENS_MESSAGES_MAX  100

/*
 * As sv_provider_sens_build(), for n messages (1 to SV_SENS_MESSAGES_MAX)
 * to numbers of one country code: one request, each message with its
 * own text.
 */
int sv_provider_sens_build_many(const sv_provider_t *p,
    const sv_sms_t *const *sms, size_t n, sv_http_call_t *call, char *err,
    size_t errlen);
int sv_provider_sens_read(const sv_provider_t *p, sv_http_call_t *call,
    char *err, size_t errlen);
int sv_provider_sens_check(const sv_provider_t *p, char *err, size_t errlen);

int sv_provider_cafe24_build(const sv_provider_t *p, const sv_sms_t *sms,
    sv_http_call_t *call, char *err, size_t errlen);
int sv_provider_cafe24_read(const sv_provider_t *p, sv_http_call_t *call,
    char *err, size_t errlen);
int sv_provider_cafe24_check(const sv_provider_t *p, char *err,
    size_t errlen);

#endif /* SV_PROVIDER_IMPL_H */
