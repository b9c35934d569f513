
/*
 * The content handler: method, CORS and media type checks, then the body
 * is read and handed to the location's endpoint.
 */

#include "ngx_http_smsverify_handler.h"
#include "ngx_http_smsverify_ctx.h"
#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"


static ngx_int_t ngx_http_smsverify_not_allowed(ngx_http_request_t *r,
    ngx_http_smsverify_loc_conf_t *lcf);
static void ngx_http_smsverify_body_handler(ngx_http_request_t *r);


ngx_int_t
ngx_http_smsverify_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                      *origin;
    ngx_http_smsverify_err_e        err;
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    ctx = ngx_http_smsverify_ctx_make(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* what an earlier location of the request left is not this one's */

    ngx_str_null(&ctx->cors_origin);
    ctx->err_field = NULL;
    ngx_str_null(&ctx->err_detail);

    origin = lcf->cors ? ngx_http_smsverify_allowed_origin(r, lcf) : NULL;

    if (origin) {
        ctx->cors_origin = *origin;
    }

    if (r->method == NGX_HTTP_OPTIONS && ctx->cors_origin.len) {
        return ngx_http_smsverify_preflight(r, &ctx->cors_origin);
    }

    /* admin answers many paths, each with its own methods */

    if (lcf->endpoint == NGX_HTTP_SMSVERIFY_ADMIN) {
        return ngx_http_smsverify_admin(r);
    }

    if (ngx_http_smsverify_check_method(r, lcf) != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_not_allowed(r, lcf);
    }

    switch (lcf->endpoint) {

    case NGX_HTTP_SMSVERIFY_STATUS:
        return ngx_http_smsverify_status(r);

    case NGX_HTTP_SMSVERIFY_SESSION:
        return ngx_http_smsverify_session(r);

    case NGX_HTTP_SMSVERIFY_LOGOUT:
        /* any body and content type: the cookie is all it needs */
        return ngx_http_smsverify_logout(r);

    default:
        break;
    }

    err = ngx_http_smsverify_check_media_type(r);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_smsverify_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_smsverify_body_handler(ngx_http_request_t *r)
{
    cJSON                          *root;
    ngx_int_t                       rc;
    ngx_http_smsverify_err_e        err;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    err = ngx_http_smsverify_parse_body(r, &root);

    if (err != NGX_HTTP_SMSVERIFY_OK) {
        ngx_http_finalize_request(r, ngx_http_smsverify_reject(r, err));
        return;
    }

    switch (lcf->endpoint) {

    case NGX_HTTP_SMSVERIFY_SEND:
    case NGX_HTTP_SMSVERIFY_RESET_SEND:
        rc = ngx_http_smsverify_send(r, root);
        break;

    case NGX_HTTP_SMSVERIFY_CONFIRM:
        rc = ngx_http_smsverify_confirm(r, root);
        break;

    case NGX_HTTP_SMSVERIFY_LOGIN:
        rc = ngx_http_smsverify_login(r, root);
        break;

    case NGX_HTTP_SMSVERIFY_RESET:
        rc = ngx_http_smsverify_reset(r, root);
        break;

    default: /* NGX_HTTP_SMSVERIFY_SIGNUP */
        rc = ngx_http_smsverify_signup(r, root);
        break;
    }

    ngx_http_smsverify_drop_body(root);

    /* with a task posted, its completion finalizes the request */

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_smsverify_not_allowed(ngx_http_request_t *r,
    ngx_http_smsverify_loc_conf_t *lcf)
{
    ngx_str_t  allow;

    if (ngx_http_smsverify_is_get(lcf)) {
        ngx_str_set(&allow, "GET, HEAD");

    } else {
        ngx_str_set(&allow, "POST");
    }

    if (ngx_http_smsverify_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_smsverify_error(r,
                                    NGX_HTTP_SMSVERIFY_ERR_METHOD_NOT_ALLOWED,
                                    NULL, 0);
}
