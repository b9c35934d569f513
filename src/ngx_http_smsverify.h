
/*
 * Types the module's nginx-facing files share: the configuration, the
 * request's context, the error words.  Each file's functions are declared
 * in its own header (the layers: docs/DESIGN.md).
 *
 * Return conventions: a check of input returns ngx_http_smsverify_err_e,
 * NGX_HTTP_SMSVERIFY_OK (0) when it passes; every other function returns
 * nginx's codes (NGX_OK, NGX_ERROR, NGX_DONE, NGX_BUSY, an HTTP status).
 */

#ifndef _NGX_HTTP_SMSVERIFY_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "sv_code.h"
#include "sv_metrics.h"
#include "sv_phone.h"
#include "sv_provider.h"
#include "sv_store.h"
#include "sv_webhook.h"


#if !(NGX_THREADS)
#error ngx_http_smsverify_module needs nginx built --with-threads
#endif


typedef enum {
    NGX_HTTP_SMSVERIFY_SEND = 1,
    NGX_HTTP_SMSVERIFY_CONFIRM,
    NGX_HTTP_SMSVERIFY_SIGNUP,
    NGX_HTTP_SMSVERIFY_STATUS,
    NGX_HTTP_SMSVERIFY_LOGIN,
    NGX_HTTP_SMSVERIFY_LOGOUT,
    NGX_HTTP_SMSVERIFY_SESSION,
    NGX_HTTP_SMSVERIFY_RESET_SEND,
    NGX_HTTP_SMSVERIFY_RESET,
    NGX_HTTP_SMSVERIFY_ADMIN
} ngx_http_smsverify_endpoint_e;


/* smsverify_auth */
#define NGX_HTTP_SMSVERIFY_AUTH_OFF       0
#define NGX_HTTP_SMSVERIFY_AUTH_MEMBER    1
#define NGX_HTTP_SMSVERIFY_AUTH_VERIFIED  2


/*
 * The error words of the API.  Checks of input return one of them, or
 * NGX_HTTP_SMSVERIFY_OK when the input passes.
 */
typedef enum {
    NGX_HTTP_SMSVERIFY_OK = 0,
    NGX_HTTP_SMSVERIFY_ERR_METHOD_NOT_ALLOWED,
    NGX_HTTP_SMSVERIFY_ERR_UNSUPPORTED_MEDIA_TYPE,
    NGX_HTTP_SMSVERIFY_ERR_INVALID_JSON,
    NGX_HTTP_SMSVERIFY_ERR_MISSING_FIELD,
    NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
    NGX_HTTP_SMSVERIFY_ERR_BUSY,
    NGX_HTTP_SMSVERIFY_ERR_INTERNAL,
    NGX_HTTP_SMSVERIFY_ERR_INVALID_PHONE,
    NGX_HTTP_SMSVERIFY_ERR_COUNTRY_NOT_ALLOWED,
    NGX_HTTP_SMSVERIFY_ERR_PHONE_TAKEN,
    NGX_HTTP_SMSVERIFY_ERR_RESEND_TOO_SOON,
    NGX_HTTP_SMSVERIFY_ERR_SEND_LIMIT,
    NGX_HTTP_SMSVERIFY_ERR_PROVIDER_FAILED,
    NGX_HTTP_SMSVERIFY_ERR_CODE_MISMATCH,
    NGX_HTTP_SMSVERIFY_ERR_NO_PENDING_CODE,
    NGX_HTTP_SMSVERIFY_ERR_CODE_EXPIRED,
    NGX_HTTP_SMSVERIFY_ERR_TOO_MANY_ATTEMPTS,
    NGX_HTTP_SMSVERIFY_ERR_INVALID_EMAIL,
    NGX_HTTP_SMSVERIFY_ERR_INVALID_PASSWORD,
    NGX_HTTP_SMSVERIFY_ERR_INVALID_NICKNAME,
    NGX_HTTP_SMSVERIFY_ERR_TERMS_REQUIRED,
    NGX_HTTP_SMSVERIFY_ERR_UNKNOWN_TERMS,
    NGX_HTTP_SMSVERIFY_ERR_PHONE_NOT_VERIFIED,
    NGX_HTTP_SMSVERIFY_ERR_EMAIL_TAKEN,
    NGX_HTTP_SMSVERIFY_ERR_LOGIN_FAILED,
    NGX_HTTP_SMSVERIFY_ERR_LOGIN_LOCKED,
    NGX_HTTP_SMSVERIFY_ERR_NOT_LOGGED_IN,
    NGX_HTTP_SMSVERIFY_ERR_NOT_A_MEMBER,
    NGX_HTTP_SMSVERIFY_ERR_IP_LIMIT,
    NGX_HTTP_SMSVERIFY_ERR_SMS_BUDGET,
    NGX_HTTP_SMSVERIFY_ERR_NOT_FOUND,
    NGX_HTTP_SMSVERIFY_ERR_NO_SUCH_MEMBER,
    NGX_HTTP_SMSVERIFY_ERR_ID_TAKEN,
    NGX_HTTP_SMSVERIFY_ERR_STORE_UNAVAILABLE,
    NGX_HTTP_SMSVERIFY_ERR_LAST
} ngx_http_smsverify_err_e;


/* terms a location may define, and a signup agree to */
#define NGX_HTTP_SMSVERIFY_TERMS_MAX   64


#define NGX_HTTP_SMSVERIFY_SYNC_ON     0
#define NGX_HTTP_SMSVERIFY_SYNC_OFF    1
#define NGX_HTTP_SMSVERIFY_SYNC_TIMER  2


/* where a directive was: for the errors only the merge can find */
typedef struct {
    u_char                     *file;               /* NULL: not given */
    ngx_uint_t                  line;
} ngx_http_smsverify_conf_pos_t;


/* the counters of status, in the shared zone: atomic adds only */
typedef struct {
    ngx_atomic_t                sent;
    ngx_atomic_t                send_failed;
    ngx_atomic_t                confirmed;
    ngx_atomic_t                confirm_failed;
    ngx_atomic_t                signups;
    ngx_atomic_t                rate_limited;
    ngx_atomic_t                logins;
    ngx_atomic_t                logins_failed;
    ngx_atomic_t                resets;
    ngx_atomic_t                test_sends;
    ngx_atomic_t                webhook_delivered;
    ngx_atomic_t                webhook_failed;     /* dropped events */
    ngx_atomic_t                store_unavailable;  /* answers 503 */
    ngx_atomic_t                provider_ok[SV_PROVIDER_NTYPES];
    ngx_atomic_t                provider_failed[SV_PROVIDER_NTYPES];

    /* each call in the one bucket it fell in (sv_metrics.h), not summed */
    ngx_atomic_t                provider_calls[SV_PROVIDER_NTYPES]
                                              [SV_DURATION_BUCKETS];
    ngx_atomic_t                provider_us[SV_PROVIDER_NTYPES];
} ngx_http_smsverify_counters_t;


/* at most this many smsverify_test_number on one level */
#define NGX_HTTP_SMSVERIFY_TEST_NUMBERS_MAX  20

typedef struct {
    char                        phone[SV_PHONE_SIZE];      /* E.164 */
    char                        code[SV_CODE_MAX + 1];
    size_t                      code_len;
    ngx_http_smsverify_conf_pos_t  pos;
} ngx_http_smsverify_test_number_t;


typedef struct {
    ngx_str_t                   store_dir;          /* LMDB, or */
    ngx_str_t                   store_uri;          /* PostgreSQL: may */
                                                    /* hold a password, */
                                                    /* never logged */
    size_t                      store_size;
    ngx_uint_t                  sync_mode;
    ngx_msec_t                  sync_interval;
    ngx_uint_t                  store_writemap;    /* writemap=on|off */
    u_char                     *store_conf_file;
    ngx_uint_t                  store_conf_line;

    ngx_str_t                   secret_file;
    ngx_flag_t                  secret_given;
    u_char                      secret[SV_KEY_SIZE];

    ngx_uint_t                  provider_types;     /* bit per type */
    ngx_http_smsverify_conf_pos_t  log_provider_pos;   /* the first */
    ngx_array_t                *test_numbers;       /* every level's, */
                                                    /* for the warning */
    ngx_uint_t                  daily_budget;       /* 0: none */
    ngx_msec_t                  ip_window_max;      /* of every */
                                                    /* smsverify_ip_limit; */
                                                    /* 0: none counts */
    ngx_uint_t                  batch_queue;        /* per worker */
    ngx_flag_t                  used;
    ngx_http_smsverify_conf_pos_t  used_pos;           /* first "smsverify" */
    ngx_thread_pool_t          *thread_pool;        /* maintenance, */
                                                    /* webhooks */

    /* smsverify_webhook; url.len 0: none */
    ngx_str_t                   webhook_url;        /* NUL-terminated */
    u_char                      webhook_key[SV_WEBHOOK_KEY_MAX];
    size_t                      webhook_key_len;
    ngx_msec_t                  webhook_timeout;

    ngx_shm_zone_t             *shm_zone;
    ngx_http_smsverify_counters_t  *counters;

    /* per worker */
    sv_store_t                 *store;
} ngx_http_smsverify_main_conf_t;


typedef struct {
    ngx_int_t                   id;
    ngx_flag_t                  required;
} ngx_http_smsverify_term_t;


typedef struct {
    ngx_uint_t                  endpoint;
    u_char                     *file;               /* of "smsverify" */
    ngx_uint_t                  line;

    ngx_str_t                   thread_pool_name;
    ngx_thread_pool_t          *thread_pool;

    ngx_array_t                *providers;          /* sv_provider_t */
    ngx_http_complex_value_t   *message;
    ngx_http_smsverify_conf_pos_t  message_pos;
    ngx_uint_t                  message_fits;   /* one SMS, whatever the */
                                                /* request: merge knew */

    ngx_uint_t                  code_length;
    ngx_http_smsverify_conf_pos_t  code_length_pos;
    ngx_msec_t                  code_ttl;
    ngx_uint_t                  max_attempts;
    ngx_msec_t                  resend_interval;
    ngx_uint_t                  send_limit;
    ngx_msec_t                  send_window;
    ngx_uint_t                  ip_limit;           /* 0: none */
    ngx_msec_t                  ip_window;
    ngx_array_t                *countries;          /* char * */
    ngx_msec_t                  token_ttl;
    ngx_array_t                *terms;              /* term_t */
    size_t                      password_min;
    size_t                      password_max;
    ngx_uint_t                  bcrypt_cost;
    ngx_flag_t                  token_cookie;
    ngx_array_t                *cors;               /* ngx_str_t */
    ngx_flag_t                  signup_login;
    ngx_msec_t                  session_ttl;
    ngx_msec_t                  session_idle;
    ngx_uint_t                  login_limit;
    ngx_msec_t                  login_window;
    ngx_uint_t                  auth;               /* AUTH_* */
    ngx_array_t                *test_numbers;       /* test_number_t */
} ngx_http_smsverify_loc_conf_t;


typedef void (*ngx_http_smsverify_thread_pt)(void *data);
typedef ngx_int_t (*ngx_http_smsverify_done_pt)(ngx_http_request_t *r,
    void *data);


typedef struct {
    /* what $smsverify_code yields while the message is built */
    u_char                      code[SV_CODE_MAX + 1];
    size_t                      code_len;

    ngx_str_t                   cors_origin;        /* allowed Origin */

    /* what a failed check recorded for its answer */
    const char                 *err_field;          /* ours, never input */
    ngx_str_t                   err_detail;         /* JSON members */

    /* the error word of the module's answer, for $smsverify_error */
    ngx_str_t                   answered;

    /* who smsverify_auth let through: from the store, never the request */
    sv_member_info_t           *member;
    ngx_str_t                   verified_phone;

    ngx_thread_task_t          *task;
    ngx_http_smsverify_thread_pt  thread_handler;
    ngx_http_smsverify_done_pt  done_handler;
    ngx_event_t                 guard;
    ngx_queue_t                 batch_link;         /* waiting for a batch */
    ngx_http_request_t         *batch_request;      /* the link's */
    unsigned                    client_gone:1;
    unsigned                    auth_done:1;        /* auth_rc is final */
    ngx_int_t                   auth_rc;
    const char                 *auth_err;           /* the store's, */
                                                    /* for its answer */
    void                       *auth_conf;          /* of the location */
} ngx_http_smsverify_ctx_t;


extern ngx_module_t  ngx_http_smsverify_module;


#endif /* _NGX_HTTP_SMSVERIFY_H_INCLUDED_ */
