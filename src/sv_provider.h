#ifndef SV_PROVIDER_H
#define SV_PROVIDER_H

/*
 * SMS providers.  sv_provider_send() runs in a pool thread: it may block
 * for at most the provider's timeout and touches nothing but its
 * arguments and the calling thread's HTTP handle.
 */

#include <stddef.h>
#include <stdint.h>


typedef enum {
    SV_PROVIDER_LOG = 0,
    SV_PROVIDER_SENS,
    SV_PROVIDER_CAFE24,
    SV_PROVIDER_NTYPES
} sv_provider_type_t;

typedef void (*sv_log_write_pt)(void *data, const char *line, size_t len);

typedef struct {
    sv_provider_type_t  type;
    const char         *url;            /* base, without the API path */
    long                timeout_ms;

    /* sens */
    const char         *service_id;
    const char         *access_key;
    const char         *secret_key;

    /* cafe24 */
    const char         *user_id;
    const char         *secure_key;
    int                 testflag;

    /* sens: registered sender digits; cafe24: "070-1234-5678" */
    const char         *from;

    /* log */
    sv_log_write_pt     log_write;
    void               *log_data;
} sv_provider_t;

typedef struct {
    const char         *phone;          /* E.164 */
    const char         *text;           /* UTF-8 */
    size_t              len;
} sv_sms_t;


const char *sv_provider_name(sv_provider_type_t type);

/* the longest group of digits in a Cafe24 sender number */
#define SV_CAFE24_GROUP_MAX  7

/*
 * 0 if a send with this configuration could be tried; -1 with the reason
 * in err.  Called when the configuration is loaded, so that what every
 * send would refuse is a configuration error.
 */
int sv_provider_check(const sv_provider_t *p, char *err, size_t errlen);

/* what sv_provider_send() says */
#define SV_PROVIDER_ACCEPTED   0
#define SV_PROVIDER_FAILED    -1
/* the provider does not serve this number and was not asked */
#define SV_PROVIDER_SKIPPED    1

/*
 * Whether the provider delivers to this E.164 number: Cafe24 sends
 * within Korea only (+82); SENS and log take any number.
 */
int sv_provider_serves(const sv_provider_t *p, const char *e164);

/*
 * SV_PROVIDER_ACCEPTED if the provider accepted the message;
 * SV_PROVIDER_FAILED with the reason in err; SV_PROVIDER_SKIPPED, with
 * the reason in err, when it does not serve the number: nothing was sent
 * to it, and the next provider may be tried.
 */
int sv_provider_send(const sv_provider_t *p, const sv_sms_t *sms,
    char *err, size_t errlen);

/* Per-process set-up and tear-down (curl_global_init and cleanup). */
int sv_provider_init(void);
void sv_provider_cleanup(void);

#endif /* SV_PROVIDER_H */
