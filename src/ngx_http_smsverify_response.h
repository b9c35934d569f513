
/*
 * The answers: JSON bodies, error words, headers, CORS, the cookies.
 * The bottom layer of a request's handling, beside the task: it calls
 * neither the request's readers nor the endpoints.  Each function that
 * answers returns the rc to finalize the request with.
 */

#ifndef _NGX_HTTP_SMSVERIFY_RESPONSE_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_RESPONSE_H_INCLUDED_


#include "ngx_http_smsverify.h"


/* status and JSON body, with no-store and the CORS headers */
ngx_int_t ngx_http_smsverify_answer(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);

/* the same with another media type (the Prometheus form of status) */
ngx_int_t ngx_http_smsverify_answer_as(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, u_char *body, size_t len);

/* the error word's answer; extra: JSON members to add, or NULL */
ngx_int_t ngx_http_smsverify_error(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, const char *extra, size_t extra_len);

/* the error word itself, as answers and $smsverify_error show it */
ngx_str_t *ngx_http_smsverify_error_word(ngx_http_smsverify_err_e err);

/* a failed check's word, with the field or detail it recorded in the ctx */
ngx_int_t ngx_http_smsverify_reject(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err);

/* the error word with Retry-After (and "retryAfter" but for BUSY) */
ngx_int_t ngx_http_smsverify_retry_error(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, int64_t retry_after_ms);

/* 503 BUSY: the thread pool took no more work */
ngx_int_t ngx_http_smsverify_busy(ngx_http_request_t *r);

/*
 * 503 STORE_UNAVAILABLE with Retry-After: 1: counted, and err logged,
 * though not for each request of an outage
 */
ngx_int_t ngx_http_smsverify_unavailable(ngx_http_request_t *r,
    const char *err);

/* the answer to a store result other than SV_STORE_OK; logs a failure */
ngx_int_t ngx_http_smsverify_store_error(ngx_http_request_t *r,
    sv_store_rc_t rc, const char *err);

/* 204 to a CORS preflight from an allowed origin */
ngx_int_t ngx_http_smsverify_preflight(ngx_http_request_t *r,
    ngx_str_t *origin);

/* "[1,2,3]" at p, what fits before last */
u_char *ngx_http_smsverify_int_list(u_char *p, u_char *last,
    const ngx_int_t *ids, ngx_uint_t n);

/* these return NGX_OK or NGX_ERROR */
ngx_int_t ngx_http_smsverify_add_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);
ngx_int_t ngx_http_smsverify_cors_headers(ngx_http_request_t *r,
    ngx_str_t *origin, ngx_uint_t preflight);
ngx_int_t ngx_http_smsverify_set_token_cookie(ngx_http_request_t *r,
    const char *token);
ngx_int_t ngx_http_smsverify_clear_token_cookie(ngx_http_request_t *r);
ngx_int_t ngx_http_smsverify_set_session_cookie(ngx_http_request_t *r,
    const char *value);
ngx_int_t ngx_http_smsverify_clear_session_cookie(ngx_http_request_t *r);


#endif /* _NGX_HTTP_SMSVERIFY_RESPONSE_H_INCLUDED_ */
