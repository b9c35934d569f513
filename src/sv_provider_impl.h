#ifndef SV_PROVIDER_IMPL_H
#define SV_PROVIDER_IMPL_H

/*
 * The back ends behind sv_provider.h, one file each; only sv_provider.c
 * dispatches to them.
 */

#include "sv_provider.h"


int sv_provider_log_send(const sv_provider_t *p, const sv_sms_t *sms,
    char *err, size_t errlen);

int sv_provider_sens_send(const sv_provider_t *p, const sv_sms_t *sms,
    char *err, size_t errlen);
int sv_provider_sens_check(const sv_provider_t *p, char *err, size_t errlen);

int sv_provider_cafe24_send(const sv_provider_t *p, const sv_sms_t *sms,
    char *err, size_t errlen);
int sv_provider_cafe24_check(const sv_provider_t *p, char *err,
    size_t errlen);

#endif /* SV_PROVIDER_IMPL_H */
