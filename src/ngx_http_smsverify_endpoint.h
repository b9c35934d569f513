
/*
 * The endpoints, one file each: the checks of the body on the event loop,
 * the job for the pool, the answer to its result.  Above request,
 * response and task; each returns the rc to finalize the request with,
 * NGX_DONE once a task is posted.
 */

#ifndef _NGX_HTTP_SMSVERIFY_ENDPOINT_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_ENDPOINT_H_INCLUDED_


#include <cjson/cJSON.h>

#include "ngx_http_smsverify.h"


ngx_int_t ngx_http_smsverify_send(ngx_http_request_t *r, cJSON *root);
ngx_int_t ngx_http_smsverify_confirm(ngx_http_request_t *r, cJSON *root);
ngx_int_t ngx_http_smsverify_signup(ngx_http_request_t *r, cJSON *root);
ngx_int_t ngx_http_smsverify_status(ngx_http_request_t *r);
ngx_int_t ngx_http_smsverify_login(ngx_http_request_t *r, cJSON *root);
ngx_int_t ngx_http_smsverify_logout(ngx_http_request_t *r);
ngx_int_t ngx_http_smsverify_session(ngx_http_request_t *r);
ngx_int_t ngx_http_smsverify_reset(ngx_http_request_t *r, cJSON *root);
ngx_int_t ngx_http_smsverify_admin(ngx_http_request_t *r);

/* the access phase handler of smsverify_auth */
ngx_int_t ngx_http_smsverify_auth(ngx_http_request_t *r);


#endif /* _NGX_HTTP_SMSVERIFY_ENDPOINT_H_INCLUDED_ */
