
/*
 * The content handler: method, CORS and media type checks, then the body
 * is read and handed to the location's endpoint.
 */

#include "ngx_http_smsverify.h"
#include "sv_json.h"


ngx_http_output_header_filter_pt  ngx_http_smsverify_next_header_filter;


static ngx_int_t ngx_http_smsverify_not_allowed(ngx_http_request_t *r,
    ngx_http_smsverify_loc_conf_t *lcf);
static ngx_int_t ngx_http_smsverify_preflight(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx);
static ngx_str_t *ngx_http_smsverify_allowed_origin(ngx_http_request_t *r,
    ngx_http_smsverify_loc_conf_t *lcf);
static ngx_uint_t ngx_http_smsverify_is_json(ngx_http_request_t *r);
static void ngx_http_smsverify_body_handler(ngx_http_request_t *r);


ngx_int_t
ngx_http_smsverify_handler(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_str_t                      *origin;
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_smsverify_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_smsverify_module);

    origin = lcf->cors ? ngx_http_smsverify_allowed_origin(r, lcf) : NULL;

    if (origin) {
        ctx->cors_origin = *origin;
    }

    if (r->method == NGX_HTTP_OPTIONS && ctx->cors_origin.len) {
        return ngx_http_smsverify_preflight(r, ctx);
    }

    if (lcf->endpoint == NGX_HTTP_SMSVERIFY_STATUS) {
        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_http_smsverify_not_allowed(r, lcf);
        }

        return ngx_http_smsverify_status(r);
    }

    if (r->method != NGX_HTTP_POST) {
        return ngx_http_smsverify_not_allowed(r, lcf);
    }

    if (!ngx_http_smsverify_is_json(r)) {
        return ngx_http_smsverify_error(r, SV_ERR_UNSUPPORTED_MEDIA_TYPE,
                                        NULL, 0);
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
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    rc = ngx_http_smsverify_parse_body(r, &root);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_http_smsverify_error(r, rc, NULL, 0));
        return;
    }

    switch (lcf->endpoint) {

    case NGX_HTTP_SMSVERIFY_SEND:
        rc = ngx_http_smsverify_send(r, root);
        break;

    case NGX_HTTP_SMSVERIFY_CONFIRM:
        rc = ngx_http_smsverify_confirm(r, root);
        break;

    default: /* NGX_HTTP_SMSVERIFY_SIGNUP */
        rc = ngx_http_smsverify_signup(r, root);
        break;
    }

    sv_json_wipe(root);
    cJSON_Delete(root);

    /* with a task posted, its completion finalizes the request */

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_uint_t
ngx_http_smsverify_is_json(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_table_elt_t  *ct;

    static const char  type[] = "application/json";

    ct = r->headers_in.content_type;

    if (ct == NULL || ct->value.len < sizeof(type) - 1) {
        return 0;
    }

    if (ngx_strncasecmp(ct->value.data, (u_char *) type, sizeof(type) - 1)
        != 0)
    {
        return 0;
    }

    /* what may follow the type: white space, then parameters */

    p = ct->value.data + sizeof(type) - 1;
    last = ct->value.data + ct->value.len;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p == last || *p == ';';
}


static ngx_int_t
ngx_http_smsverify_not_allowed(ngx_http_request_t *r,
    ngx_http_smsverify_loc_conf_t *lcf)
{
    ngx_str_t  allow;

    if (lcf->endpoint == NGX_HTTP_SMSVERIFY_STATUS) {
        ngx_str_set(&allow, "GET, HEAD");

    } else {
        ngx_str_set(&allow, "POST");
    }

    if (ngx_http_smsverify_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_smsverify_error(r, SV_ERR_METHOD_NOT_ALLOWED, NULL, 0);
}


static ngx_str_t *
ngx_http_smsverify_allowed_origin(ngx_http_request_t *r,
    ngx_http_smsverify_loc_conf_t *lcf)
{
    ngx_str_t        *origins, *origin;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    origin = NULL;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Origin") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Origin",
                               sizeof("Origin") - 1) == 0)
        {
            origin = &h[i].value;
            break;
        }
    }

    if (origin == NULL || origin->len == 0) {
        return NULL;
    }

    origins = lcf->cors->elts;

    for (i = 0; i < lcf->cors->nelts; i++) {
        if ((origins[i].len == 1 && origins[i].data[0] == '*')
            || (origins[i].len == origin->len
                && ngx_strncasecmp(origins[i].data, origin->data,
                                   origin->len) == 0))
        {
            return origin;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_smsverify_preflight(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (ngx_http_smsverify_cors_headers(r, &ctx->cors_origin, 1) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_smsverify_cors_headers(ngx_http_request_t *r, ngx_str_t *origin,
    ngx_uint_t preflight)
{
    ngx_str_t                       v;
    ngx_uint_t                      any;
    ngx_str_t                      *origins;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    origins = lcf->cors->elts;
    any = (lcf->cors->nelts == 1 && origins[0].len == 1
           && origins[0].data[0] == '*');

    if (ngx_http_smsverify_add_header(r, "Access-Control-Allow-Origin",
                                      origin)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!any) {
        ngx_str_set(&v, "true");
        if (ngx_http_smsverify_add_header(r,
                                          "Access-Control-Allow-Credentials",
                                          &v)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_str_set(&v, "Origin");
    if (ngx_http_smsverify_add_header(r, "Vary", &v) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!preflight) {
        return NGX_OK;
    }

    ngx_str_set(&v, "POST");
    if (ngx_http_smsverify_add_header(r, "Access-Control-Allow-Methods", &v)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "Content-Type");
    if (ngx_http_smsverify_add_header(r, "Access-Control-Allow-Headers", &v)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&v, "600");
    return ngx_http_smsverify_add_header(r, "Access-Control-Max-Age", &v);
}


ngx_int_t
ngx_http_smsverify_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


/*
 * Answers nginx makes before the handler runs, such as 413 for a body over
 * client_max_body_size, get the CORS headers too: a page on another
 * origin could not read them otherwise.
 */

ngx_int_t
ngx_http_smsverify_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                      *origin;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    if (lcf->endpoint == 0 || lcf->cors == NULL || r != r->main
        || ngx_http_get_module_ctx(r, ngx_http_smsverify_module) != NULL)
    {
        return ngx_http_smsverify_next_header_filter(r);
    }

    origin = ngx_http_smsverify_allowed_origin(r, lcf);

    if (origin
        && ngx_http_smsverify_cors_headers(r, origin, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_smsverify_next_header_filter(r);
}


ngx_int_t
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
