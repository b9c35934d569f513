
/*
 * $smsverify_code: the code while the send endpoint builds the message.
 * $smsverify_member_*, $smsverify_verified_phone: who smsverify_auth let
 * through, from the store only.  $smsverify_error: the error word of the
 * module's answer.  All from the request's ctx, never from the request.
 */

#include "ngx_http_smsverify_variables.h"
#include "ngx_http_smsverify_ctx.h"


static ngx_int_t ngx_http_smsverify_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_int_t ngx_http_smsverify_member_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_smsverify_ctx_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void ngx_http_smsverify_set_value(ngx_http_variable_value_t *v,
    u_char *data, size_t len);


enum {
    NGX_HTTP_SMSVERIFY_VAR_MEMBER_ID = 0,
    NGX_HTTP_SMSVERIFY_VAR_MEMBER_EMAIL,
    NGX_HTTP_SMSVERIFY_VAR_MEMBER_PHONE,
    NGX_HTTP_SMSVERIFY_VAR_MEMBER_NICKNAME,
    NGX_HTTP_SMSVERIFY_VAR_VERIFIED_PHONE,
    NGX_HTTP_SMSVERIFY_VAR_ERROR
};


static ngx_http_variable_t  ngx_http_smsverify_vars[] = {

    { ngx_string("smsverify_code"), NULL,
      ngx_http_smsverify_code_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smsverify_member_id"), NULL,
      ngx_http_smsverify_member_variable, NGX_HTTP_SMSVERIFY_VAR_MEMBER_ID,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smsverify_member_email"), NULL,
      ngx_http_smsverify_member_variable,
      NGX_HTTP_SMSVERIFY_VAR_MEMBER_EMAIL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smsverify_member_phone"), NULL,
      ngx_http_smsverify_member_variable,
      NGX_HTTP_SMSVERIFY_VAR_MEMBER_PHONE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smsverify_member_nickname"), NULL,
      ngx_http_smsverify_member_variable,
      NGX_HTTP_SMSVERIFY_VAR_MEMBER_NICKNAME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smsverify_verified_phone"), NULL,
      ngx_http_smsverify_ctx_variable, NGX_HTTP_SMSVERIFY_VAR_VERIFIED_PHONE,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("smsverify_error"), NULL,
      ngx_http_smsverify_ctx_variable, NGX_HTTP_SMSVERIFY_VAR_ERROR,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_smsverify_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_smsverify_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_smsverify_code_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);

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


static ngx_int_t
ngx_http_smsverify_member_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    sv_member_info_t          *m;
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);
    m = ctx ? ctx->member : NULL;

    if (m == NULL) {
        ngx_http_smsverify_set_value(v, NULL, 0);
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_SMSVERIFY_VAR_MEMBER_ID:
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_http_smsverify_set_value(v, p,
                                     ngx_sprintf(p, "%uL", m->id) - p);
        break;

    case NGX_HTTP_SMSVERIFY_VAR_MEMBER_EMAIL:
        ngx_http_smsverify_set_value(v, (u_char *) m->email,
                                     ngx_strlen(m->email));
        break;

    case NGX_HTTP_SMSVERIFY_VAR_MEMBER_PHONE:
        ngx_http_smsverify_set_value(v, (u_char *) m->phone,
                                     ngx_strlen(m->phone));
        break;

    default: /* NGX_HTTP_SMSVERIFY_VAR_MEMBER_NICKNAME */
        ngx_http_smsverify_set_value(v, (u_char *) m->nickname,
                                     ngx_strlen(m->nickname));
        break;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_smsverify_ctx_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *s;
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);

    if (ctx == NULL) {
        ngx_http_smsverify_set_value(v, NULL, 0);
        return NGX_OK;
    }

    s = (data == NGX_HTTP_SMSVERIFY_VAR_VERIFIED_PHONE)
        ? &ctx->verified_phone : &ctx->answered;

    ngx_http_smsverify_set_value(v, s->data, s->len);

    return NGX_OK;
}


/* empty, not "not found": a log line or a header gets "" */

static void
ngx_http_smsverify_set_value(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data ? data : (u_char *) "";
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
}
