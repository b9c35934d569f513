
/*
 * Types the module's nginx-facing files share.
 */

#ifndef _NGX_HTTP_SMSVERIFY_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "sv_code.h"
#include "sv_phone.h"
#include "sv_provider.h"
#include "sv_store.h"


#if !(NGX_THREADS)
#error ngx_http_smsverify_module needs nginx built --with-threads
#endif


typedef enum {
    NGX_HTTP_SMSVERIFY_SEND = 1,
    NGX_HTTP_SMSVERIFY_CONFIRM,
    NGX_HTTP_SMSVERIFY_SIGNUP,
    NGX_HTTP_SMSVERIFY_STATUS
} ngx_http_smsverify_endpoint_e;


typedef enum {
    SV_ERR_METHOD_NOT_ALLOWED = 0,
    SV_ERR_UNSUPPORTED_MEDIA_TYPE,
    SV_ERR_INVALID_JSON,
    SV_ERR_MISSING_FIELD,
    SV_ERR_INVALID_FIELD,
    SV_ERR_BUSY,
    SV_ERR_INTERNAL,
    SV_ERR_INVALID_PHONE,
    SV_ERR_COUNTRY_NOT_ALLOWED,
    SV_ERR_PHONE_TAKEN,
    SV_ERR_RESEND_TOO_SOON,
    SV_ERR_SEND_LIMIT,
    SV_ERR_PROVIDER_FAILED,
    SV_ERR_CODE_MISMATCH,
    SV_ERR_NO_PENDING_CODE,
    SV_ERR_CODE_EXPIRED,
    SV_ERR_TOO_MANY_ATTEMPTS,
    SV_ERR_INVALID_EMAIL,
    SV_ERR_INVALID_PASSWORD,
    SV_ERR_INVALID_NICKNAME,
    SV_ERR_TERMS_REQUIRED,
    SV_ERR_UNKNOWN_TERMS,
    SV_ERR_PHONE_NOT_VERIFIED,
    SV_ERR_EMAIL_TAKEN,
    SV_ERR_LAST
} ngx_http_smsverify_err_e;


/* records a sweep may delete when the store is full */
#define SV_FULL_SWEEP_MAX              10000


#define NGX_HTTP_SMSVERIFY_SYNC_ON     0
#define NGX_HTTP_SMSVERIFY_SYNC_OFF    1
#define NGX_HTTP_SMSVERIFY_SYNC_TIMER  2


/* where a directive was: for the errors only the merge can find */
typedef struct {
    u_char                     *file;               /* NULL: not given */
    ngx_uint_t                  line;
} ngx_http_smsverify_conf_pos_t;


typedef struct {
    ngx_atomic_t                sent;
    ngx_atomic_t                send_failed;
    ngx_atomic_t                confirmed;
    ngx_atomic_t                confirm_failed;
    ngx_atomic_t                signups;
    ngx_atomic_t                rate_limited;
    ngx_atomic_t                provider_ok[SV_PROVIDER_NTYPES];
    ngx_atomic_t                provider_failed[SV_PROVIDER_NTYPES];
} ngx_http_smsverify_counters_t;


typedef struct {
    ngx_str_t                   store_dir;
    size_t                      store_size;
    ngx_uint_t                  sync_mode;
    ngx_msec_t                  sync_interval;
    u_char                     *store_conf_file;
    ngx_uint_t                  store_conf_line;

    ngx_str_t                   secret_file;
    ngx_flag_t                  secret_given;
    u_char                      secret[SV_KEY_SIZE];

    ngx_uint_t                  provider_types;     /* bit per type */
    ngx_http_smsverify_conf_pos_t  log_provider_pos;   /* the first */
    ngx_flag_t                  used;
    ngx_http_smsverify_conf_pos_t  used_pos;           /* first "smsverify" */
    ngx_thread_pool_t          *thread_pool;        /* maintenance */

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

    ngx_uint_t                  code_length;
    ngx_http_smsverify_conf_pos_t  code_length_pos;
    ngx_msec_t                  code_ttl;
    ngx_uint_t                  max_attempts;
    ngx_msec_t                  resend_interval;
    ngx_uint_t                  send_limit;
    ngx_msec_t                  send_window;
    ngx_array_t                *countries;          /* char * */
    ngx_msec_t                  token_ttl;
    ngx_array_t                *terms;              /* term_t */
    size_t                      password_min;
    size_t                      password_max;
    ngx_uint_t                  bcrypt_cost;
    ngx_flag_t                  token_cookie;
    ngx_array_t                *cors;               /* ngx_str_t */
} ngx_http_smsverify_loc_conf_t;


typedef void (*ngx_http_smsverify_thread_pt)(void *data);
typedef ngx_int_t (*ngx_http_smsverify_done_pt)(ngx_http_request_t *r,
    void *data);


typedef struct {
    /* what $smsverify_code yields while the message is built */
    u_char                      code[SV_CODE_MAX + 1];
    size_t                      code_len;

    ngx_str_t                   cors_origin;        /* allowed Origin */

    ngx_thread_task_t          *task;
    ngx_http_smsverify_thread_pt  thread_handler;
    ngx_http_smsverify_done_pt  done_handler;
    ngx_event_t                 guard;
    unsigned                    client_gone:1;
} ngx_http_smsverify_ctx_t;


extern ngx_module_t  ngx_http_smsverify_module;


/* ngx_http_smsverify_module.c */
char *ngx_http_smsverify_cstr(ngx_conf_t *cf, ngx_str_t *s);
void ngx_http_smsverify_conf_pos(ngx_conf_t *cf,
    ngx_http_smsverify_conf_pos_t *pos);

/* ngx_http_smsverify_provider.c */
char *ngx_http_smsverify_provider(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* ngx_http_smsverify_process.c */
ngx_int_t ngx_http_smsverify_init_zone(ngx_shm_zone_t *shm_zone, void *data);
ngx_int_t ngx_http_smsverify_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_http_smsverify_init_process(ngx_cycle_t *cycle);
void ngx_http_smsverify_exit_process(ngx_cycle_t *cycle);

/* ngx_http_smsverify_handler.c */
extern ngx_http_output_header_filter_pt  ngx_http_smsverify_next_header_filter;

ngx_int_t ngx_http_smsverify_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_smsverify_header_filter(ngx_http_request_t *r);
ngx_int_t ngx_http_smsverify_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_smsverify_add_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);
ngx_int_t ngx_http_smsverify_cors_headers(ngx_http_request_t *r,
    ngx_str_t *origin, ngx_uint_t preflight);

/* ngx_http_smsverify_json.c */
ngx_int_t ngx_http_smsverify_parse_body(ngx_http_request_t *r,
    cJSON **root);
ngx_int_t ngx_http_smsverify_json_string(ngx_http_request_t *r,
    cJSON *root, const char *name, ngx_str_t *value);
ngx_int_t ngx_http_smsverify_answer(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);
ngx_int_t ngx_http_smsverify_error(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, const char *extra, size_t extra_len);
ngx_int_t ngx_http_smsverify_field_error(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, const char *field);
ngx_int_t ngx_http_smsverify_retry_error(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, int64_t retry_after_ms);
u_char *ngx_http_smsverify_int_list(u_char *p, u_char *last,
    const ngx_int_t *ids, ngx_uint_t n);

/* ngx_http_smsverify_task.c: post answers 503 BUSY itself, or NGX_DONE */
void *ngx_http_smsverify_task_alloc(ngx_http_request_t *r, size_t size,
    ngx_http_smsverify_thread_pt thread, ngx_http_smsverify_done_pt done);
ngx_int_t ngx_http_smsverify_task_post(ngx_http_request_t *r);
ngx_uint_t ngx_http_smsverify_store_relieved(sv_store_t *store);

/* one file per endpoint */
ngx_int_t ngx_http_smsverify_send(ngx_http_request_t *r, cJSON *root);
ngx_int_t ngx_http_smsverify_confirm(ngx_http_request_t *r, cJSON *root);
ngx_int_t ngx_http_smsverify_signup(ngx_http_request_t *r, cJSON *root);
ngx_int_t ngx_http_smsverify_status(ngx_http_request_t *r);

/*
 * Shared by the endpoints.  Like every reader and check of input, these
 * answer a bad request themselves and return the answer's rc, or return
 * NGX_DECLINED when the input passes.
 */
ngx_int_t ngx_http_smsverify_read_phone(ngx_http_request_t *r, cJSON *root,
    char *e164);
ngx_int_t ngx_http_smsverify_store_error(ngx_http_request_t *r,
    sv_store_rc_t rc, const char *err);
void ngx_http_smsverify_mask(const char *e164, ngx_str_t *out, u_char *buf);


#endif /* _NGX_HTTP_SMSVERIFY_H_INCLUDED_ */
