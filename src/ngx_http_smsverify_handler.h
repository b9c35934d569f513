
/*
 * The content handler of every "smsverify" location: the method, a CORS
 * preflight, the media type, the body, then the location's endpoint.
 */

#ifndef _NGX_HTTP_SMSVERIFY_HANDLER_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_HANDLER_H_INCLUDED_


#include "ngx_http_smsverify.h"


ngx_int_t ngx_http_smsverify_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_SMSVERIFY_HANDLER_H_INCLUDED_ */
