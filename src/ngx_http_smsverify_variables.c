
/*
 * $smsverify_code: the code while the send endpoint builds the message.
 */

#include "ngx_http_smsverify_variables.h"


static ngx_int_t ngx_http_smsverify_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_http_smsverify_code_var = ngx_string("smsverify_code");


ngx_int_t
ngx_http_smsverify_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_smsverify_code_var,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_smsverify_code_variable;

    return NGX_OK;
}


static ngx_int_t
ngx_http_smsverify_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_smsverify_module);

    if (ctx == NULL || ctx->code_len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->code;
    v->len = ctx->code_len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
