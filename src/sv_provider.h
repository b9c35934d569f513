#ifndef SV_PROVIDER_H
#define SV_PROVIDER_H

/*
 * SMS providers.  sv_provider_send() and sv_provider_send_all() run in a
 * pool thread: they may block for at most the providers' timeouts and
 * touch nothing but their arguments and the calling thread's HTTP
 * handles.  A send is two halves around its HTTP call: build the request
 * (sv_provider_build()), read the answer (sv_provider_read()), so that
 * many sends' calls can be made side by side.
 */

#include <stddef.h>
#include <stdint.h>

#include "sv_http.h"


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

/* sv_provider_build(): the request is in the call, to be made */
#define SV_PROVIDER_PENDING    2

/*
 * The first half of sv_provider_send(): SV_PROVIDER_PENDING with the
 * request in call (url, headers, body, timeout: for sv_http_start() or
 * sv_http_post()), or what sv_provider_send() would say without any HTTP
 * call (the log provider's ACCEPTED, a SKIPPED, a FAILED before any
 * request), the reason in err.
 */
int sv_provider_build(const sv_provider_t *p, const sv_sms_t *sms,
    sv_http_call_t *call, char *err, size_t errlen);

/*
 * The second half, once the call was made (call->rc and call->resp, as
 * sv_http_next() gives them): SV_PROVIDER_ACCEPTED, or FAILED with the
 * reason in err.  The call's body is wiped and freed.
 */
int sv_provider_read(const sv_provider_t *p, sv_http_call_t *call,
    char *err, size_t errlen);


#define SV_PROVIDER_REASON_SIZE  256

/* what one provider did with a message, and how long it took */
typedef struct {
    int                     rc;             /* SV_PROVIDER_* */
    int64_t                 us;
    char                    reason[SV_PROVIDER_REASON_SIZE];
} sv_provider_outcome_t;

/* one message and its providers, tried in order until one accepts it */
typedef struct sv_provider_chain_s  sv_provider_chain_t;

struct sv_provider_chain_s {
    const sv_provider_t    *providers;
    size_t                  nproviders;
    const sv_sms_t         *sms;
    sv_provider_outcome_t  *outcomes;       /* nproviders of them */

    /* the result: providers asked (outcomes filled), the one that took it */
    size_t                  tried;
    int                     accepted;       /* index, or -1 */

    /* sv_provider.c's */
    int64_t                 start;
    sv_provider_chain_t    *next;           /* in the same request */
    unsigned                alone:1;        /* not in a request of many */
};

/* how many HTTP calls sv_provider_send_all() makes side by side at most */
#define SV_PROVIDER_CALLS_MAX  256

/*
 * Every chain's providers in order until one accepts, as
 * sv_provider_send() one after the other would, but the chains side by
 * side: each chain goes on to its next provider as soon as its call
 * ended, whatever the others' calls do.  Returns once every chain ended.
 *
 * Chains at the same SENS provider (the same sv_provider_t) with numbers
 * of one country go as one request of many messages, each with its own
 * text.  Its answer is each one's: accepted, or failed, and then each
 * goes on to its next provider.  A request of many that SENS refuses
 * with a 4xx, which one message may have caused, is tried again as one
 * request per message.
 */
void sv_provider_send_all(sv_provider_chain_t *const *chains, size_t n);

/* Per-process set-up and tear-down (curl_global_init and cleanup). */
int sv_provider_init(void);
void sv_provider_cleanup(void);

#endif /* SV_PROVIDER_H */
