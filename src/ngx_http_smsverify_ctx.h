
/*
 * The request's ctx of the module.  nginx forgets a module's ctx at an
 * internal redirect (error_page, try_files, a named location), but what
 * smsverify_auth let through and the word of the module's answer must
 * reach the next location and the access log: the ctx is kept by a
 * cleanup of the request's pool as well, and found there again.
 */

#ifndef _NGX_HTTP_SMSVERIFY_CTX_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_CTX_H_INCLUDED_


#include "ngx_http_smsverify.h"


/* the request's ctx, or NULL if it has none yet */
ngx_http_smsverify_ctx_t *ngx_http_smsverify_ctx(ngx_http_request_t *r);

/* the request's ctx, made on first use; NULL: no memory */
ngx_http_smsverify_ctx_t *ngx_http_smsverify_ctx_make(ngx_http_request_t *r);


#endif /* _NGX_HTTP_SMSVERIFY_CTX_H_INCLUDED_ */
