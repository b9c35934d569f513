
/*
 * The module's variables: $smsverify_code.  Reads the request's ctx and
 * calls nothing of the module's.
 */

#ifndef _NGX_HTTP_SMSVERIFY_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_VARIABLES_H_INCLUDED_


#include "ngx_http_smsverify.h"


/* preconfiguration */
ngx_int_t ngx_http_smsverify_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_SMSVERIFY_VARIABLES_H_INCLUDED_ */
