/*
 * Provider dispatch and the process-wide libcurl set-up.
 */

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "sv_http.h"
#include "sv_provider_impl.h"


typedef int (*sv_provider_send_pt)(const sv_provider_t *p,
    const sv_sms_t *sms, char *err, size_t errlen);

typedef struct {
    const char           *name;
    sv_provider_send_pt   send;
} sv_provider_backend_t;


static const sv_provider_backend_t  sv_backends[SV_PROVIDER_NTYPES] = {
    [SV_PROVIDER_LOG]    = { "log", sv_provider_log_send },
    [SV_PROVIDER_SENS]   = { "sens", sv_provider_sens_send },
    [SV_PROVIDER_CAFE24] = { "cafe24", sv_provider_cafe24_send },
};


const char *
sv_provider_name(sv_provider_type_t type)
{
    if ((unsigned) type >= SV_PROVIDER_NTYPES) {
        return "unknown";
    }

    return sv_backends[type].name;
}


int
sv_provider_send(const sv_provider_t *p, const sv_sms_t *sms, char *err,
    size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }

    if (p == NULL || (unsigned) p->type >= SV_PROVIDER_NTYPES) {
        snprintf(err, errlen, "unknown provider");
        return -1;
    }

    if (sms == NULL || sms->phone == NULL || sms->text == NULL) {
        snprintf(err, errlen, "%s: no message",
                 sv_backends[p->type].name);
        return -1;
    }

    if (!sv_provider_serves(p, sms->phone)) {
        snprintf(err, errlen, "%s: sends within Korea (+82) only",
                 sv_backends[p->type].name);
        return SV_PROVIDER_SKIPPED;
    }

    return sv_backends[p->type].send(p, sms, err, errlen);
}


int
sv_provider_serves(const sv_provider_t *p, const char *e164)
{
    if (p->type != SV_PROVIDER_CAFE24) {
        return 1;
    }

    /* "+82" and a digit: a number the module normalized to Korea */
    return strncmp(e164, "+82", 3) == 0 && e164[3] >= '0' && e164[3] <= '9';
}


int
sv_provider_check(const sv_provider_t *p, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }

    switch (p->type) {

    case SV_PROVIDER_SENS:
        return sv_provider_sens_check(p, err, errlen);

    case SV_PROVIDER_CAFE24:
        return sv_provider_cafe24_check(p, err, errlen);

    default:
        return 0;
    }
}


int
sv_provider_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}


void
sv_provider_cleanup(void)
{
    /* the pool threads are gone by now: their handles go with this one's */
    sv_http_cleanup();
    curl_global_cleanup();
}
