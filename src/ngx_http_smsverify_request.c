
/*
 * What a request brings: method, media type, Origin, the body as cJSON.
 */

#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_ctx.h"
#include "ngx_http_smsverify_response.h"
#include "sv_json.h"


static ngx_uint_t ngx_http_smsverify_is_json(ngx_http_request_t *r);
static ngx_int_t ngx_http_smsverify_body_bytes(ngx_http_request_t *r,
    ngx_str_t *body);
static void ngx_http_smsverify_wipe_body(ngx_http_request_t *r,
    ngx_str_t *copy);
static void ngx_http_smsverify_wipe_file(ngx_http_request_t *r,
    ngx_buf_t *b);
static ngx_int_t ngx_http_smsverify_header_filter(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_smsverify_next_header_filter;


ngx_uint_t
ngx_http_smsverify_is_get(ngx_http_smsverify_loc_conf_t *lcf)
{
    return lcf->endpoint == NGX_HTTP_SMSVERIFY_STATUS
           || lcf->endpoint == NGX_HTTP_SMSVERIFY_SESSION;
}


void
ngx_http_smsverify_cookie(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_str_t  key;

    key.data = (u_char *) name;
    key.len = ngx_strlen(name);

    ngx_str_null(value);

#if (nginx_version >= 1023000)
    (void) ngx_http_parse_multi_header_lines(r, r->headers_in.cookie, &key,
                                             value);
#else
    (void) ngx_http_parse_multi_header_lines(&r->headers_in.cookies, &key,
                                             value);
#endif
}


ngx_http_smsverify_err_e
ngx_http_smsverify_check_method(ngx_http_request_t *r,
    ngx_http_smsverify_loc_conf_t *lcf)
{
    if (ngx_http_smsverify_is_get(lcf)) {
        return (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
               ? NGX_HTTP_SMSVERIFY_OK
               : NGX_HTTP_SMSVERIFY_ERR_METHOD_NOT_ALLOWED;
    }

    return (r->method == NGX_HTTP_POST)
           ? NGX_HTTP_SMSVERIFY_OK
           : NGX_HTTP_SMSVERIFY_ERR_METHOD_NOT_ALLOWED;
}


ngx_http_smsverify_err_e
ngx_http_smsverify_check_media_type(ngx_http_request_t *r)
{
    return ngx_http_smsverify_is_json(r)
           ? NGX_HTTP_SMSVERIFY_OK
           : NGX_HTTP_SMSVERIFY_ERR_UNSUPPORTED_MEDIA_TYPE;
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


ngx_str_t *
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


ngx_http_smsverify_err_e
ngx_http_smsverify_parse_body(ngx_http_request_t *r, cJSON **root)
{
    cJSON      *json;
    ngx_str_t   body;

    *root = NULL;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_HTTP_SMSVERIFY_ERR_INVALID_JSON;
    }

    if (ngx_http_smsverify_body_bytes(r, &body) != NGX_OK) {
        return NGX_HTTP_SMSVERIFY_ERR_INTERNAL;
    }

    json = sv_json_parse_object((char *) body.data, body.len);

    /* the tree has its own copies now: a password is nowhere else */

    ngx_http_smsverify_wipe_body(r, &body);

    if (json == NULL) {
        return NGX_HTTP_SMSVERIFY_ERR_INVALID_JSON;
    }

    *root = json;

    return NGX_HTTP_SMSVERIFY_OK;
}


static ngx_int_t
ngx_http_smsverify_body_bytes(ngx_http_request_t *r, ngx_str_t *body)
{
    off_t         len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    body->len = (size_t) len;
    body->data = ngx_pnalloc(r->pool, body->len + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                              b->file_pos);

            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "smsverify could not read the body from \"%V\"",
                              &b->file->name);
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        if (b->last > b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';

    return NGX_OK;
}


/*
 * Zeroes our copy of the body and nginx's, in memory and in a temporary
 * file (its pages; the file is nginx's to delete).  Nothing reads the
 * body after it was parsed ($request_body reads zeroes).
 */
static void
ngx_http_smsverify_wipe_body(ngx_http_request_t *r, ngx_str_t *copy)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    ngx_explicit_memzero(copy->data, copy->len);

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            ngx_http_smsverify_wipe_file(r, b);
            continue;
        }

        if (b->last > b->pos) {
            ngx_explicit_memzero(b->pos, b->last - b->pos);
        }
    }
}


static void
ngx_http_smsverify_wipe_file(ngx_http_request_t *r, ngx_buf_t *b)
{
    off_t    off;
    size_t   n;
    ssize_t  written;

    static u_char  zeroes[4096];

    for (off = b->file_pos; off < b->file_last; off += written) {
        n = ngx_min((off_t) sizeof(zeroes), b->file_last - off);

        written = pwrite(b->file->fd, zeroes, n, off);

        if (written <= 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                          "smsverify could not wipe the body in \"%V\"",
                          &b->file->name);
            return;
        }
    }
}


void
ngx_http_smsverify_drop_body(cJSON *root)
{
    sv_json_wipe(root);
    cJSON_Delete(root);
}


ngx_http_smsverify_err_e
ngx_http_smsverify_json_string(cJSON *root, const char *name,
    ngx_str_t *value)
{
    const char  *s;

    switch (sv_json_string(root, name, &s, &value->len)) {

    case SV_JSON_OK:
        value->data = (u_char *) s;
        return NGX_HTTP_SMSVERIFY_OK;

    case SV_JSON_MISSING:
        return NGX_HTTP_SMSVERIFY_ERR_MISSING_FIELD;

    default:
        return NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD;
    }
}


ngx_http_smsverify_err_e
ngx_http_smsverify_read_phone(ngx_http_request_t *r, cJSON *root,
    char *e164)
{
    ngx_str_t                       value;
    ngx_http_smsverify_err_e        err;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    err = ngx_http_smsverify_json_string(root, "phoneNumber", &value);

    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_field_err(r, err, "phoneNumber");
    }

    if (sv_phone_normalize((char *) value.data, value.len, e164) != 0) {
        return NGX_HTTP_SMSVERIFY_ERR_INVALID_PHONE;
    }

    if (!sv_phone_country_allowed(e164, lcf->countries->elts,
                                  lcf->countries->nelts))
    {
        return NGX_HTTP_SMSVERIFY_ERR_COUNTRY_NOT_ALLOWED;
    }

    return NGX_HTTP_SMSVERIFY_OK;
}


ngx_http_smsverify_err_e
ngx_http_smsverify_field_err(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, const char *field)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);
    ctx->err_field = field;

    return err;
}


ngx_http_smsverify_err_e
ngx_http_smsverify_detail_err(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, u_char *detail, size_t len)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);
    ctx->err_detail.data = detail;
    ctx->err_detail.len = len;

    return err;
}


void
ngx_http_smsverify_header_filter_init(void)
{
    ngx_http_smsverify_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_smsverify_header_filter;
}


/*
 * Answers nginx makes before the handler runs, such as 413 for a body over
 * client_max_body_size, get the CORS headers too: a page on another
 * origin could not read them otherwise.
 */

static ngx_int_t
ngx_http_smsverify_header_filter(ngx_http_request_t *r)
{
    ngx_str_t                      *origin;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    if (lcf->endpoint == 0 || lcf->cors == NULL || r != r->main
        || ngx_http_smsverify_ctx(r) != NULL)
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


ngx_http_smsverify_err_e
ngx_http_smsverify_read_token(ngx_http_request_t *r, ngx_str_t *body_token,
    uint8_t *hash)
{
    ngx_str_t                        token;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    token = *body_token;

    /* a body without the key may bring it as a cookie; "" is no token */

    if (token.data == NULL && lcf->token_cookie) {
        ngx_http_smsverify_cookie(r, "smsverify_token", &token);
    }

    if (token.len != SV_TOKEN_LEN) {
        return NGX_HTTP_SMSVERIFY_ERR_PHONE_NOT_VERIFIED;
    }

    sv_token_hash(mcf->secret, (char *) token.data, token.len, hash);

    return NGX_HTTP_SMSVERIFY_OK;
}
