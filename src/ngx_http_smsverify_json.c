
/*
 * Request bodies to cJSON, and the JSON answers.
 */

#include "ngx_http_smsverify.h"
#include "sv_json.h"


typedef struct {
    ngx_uint_t   status;
    ngx_str_t    word;
    ngx_str_t    message;
} ngx_http_smsverify_err_t;


#define sv_err(status, word, message)                                        \
    { status, ngx_string(word), ngx_string(message) }

static ngx_http_smsverify_err_t  ngx_http_smsverify_errors[] = {
    sv_err(NGX_HTTP_NOT_ALLOWED, "METHOD_NOT_ALLOWED",
           "This endpoint does not answer that method."),
    sv_err(NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE",
           "Send the body as application/json."),
    sv_err(NGX_HTTP_BAD_REQUEST, "INVALID_JSON",
           "The body must be a JSON object in UTF-8."),
    sv_err(NGX_HTTP_BAD_REQUEST, "MISSING_FIELD",
           "A required field is missing."),
    sv_err(NGX_HTTP_BAD_REQUEST, "INVALID_FIELD",
           "A field has the wrong type."),
    sv_err(NGX_HTTP_SERVICE_UNAVAILABLE, "BUSY",
           "The server is busy; try again in a moment."),
    sv_err(NGX_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL",
           "Something went wrong on our side; try again later."),
    sv_err(NGX_HTTP_BAD_REQUEST, "INVALID_PHONE",
           "That is not a mobile phone number we can send a code to."),
    sv_err(NGX_HTTP_BAD_REQUEST, "COUNTRY_NOT_ALLOWED",
           "Codes cannot be sent to phone numbers of that country."),
    sv_err(NGX_HTTP_CONFLICT, "PHONE_TAKEN",
           "A member already has this phone number."),
    sv_err(NGX_HTTP_TOO_MANY_REQUESTS, "RESEND_TOO_SOON",
           "A code was sent moments ago; wait before asking again."),
    sv_err(NGX_HTTP_TOO_MANY_REQUESTS, "SEND_LIMIT",
           "Too many codes were sent to this phone; try again later."),
    sv_err(NGX_HTTP_BAD_GATEWAY, "PROVIDER_FAILED",
           "The SMS could not be sent; try again later."),
    sv_err(NGX_HTTP_BAD_REQUEST, "CODE_MISMATCH",
           "The code does not match."),
    sv_err(NGX_HTTP_NOT_FOUND, "NO_PENDING_CODE",
           "No code is waiting for this phone; ask for a new one."),
    sv_err(410, "CODE_EXPIRED",
           "The code has expired; ask for a new one."),
    sv_err(NGX_HTTP_TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS",
           "Too many wrong codes; ask for a new one."),
    sv_err(NGX_HTTP_BAD_REQUEST, "INVALID_EMAIL",
           "That is not a valid email address."),
    sv_err(NGX_HTTP_BAD_REQUEST, "INVALID_PASSWORD",
           "The password does not meet the rules."),
    sv_err(NGX_HTTP_BAD_REQUEST, "INVALID_NICKNAME",
           "The nickname must be 1 to 20 characters, "
           "without control characters."),
    sv_err(NGX_HTTP_BAD_REQUEST, "TERMS_REQUIRED",
           "Some required terms were not agreed to."),
    sv_err(NGX_HTTP_BAD_REQUEST, "UNKNOWN_TERMS",
           "Some of the terms agreed to do not exist."),
    sv_err(NGX_HTTP_FORBIDDEN, "PHONE_NOT_VERIFIED",
           "Verify the phone number before signing up."),
    sv_err(NGX_HTTP_CONFLICT, "EMAIL_TAKEN",
           "A member already has this email address."),
};


static ngx_int_t ngx_http_smsverify_body_bytes(ngx_http_request_t *r,
    ngx_str_t *body);
static void ngx_http_smsverify_wipe_body(ngx_http_request_t *r,
    ngx_str_t *copy);
static void ngx_http_smsverify_wipe_file(ngx_http_request_t *r,
    ngx_buf_t *b);


ngx_int_t
ngx_http_smsverify_parse_body(ngx_http_request_t *r, cJSON **root)
{
    cJSON      *json;
    ngx_str_t   body;

    *root = NULL;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return SV_ERR_INVALID_JSON;
    }

    if (ngx_http_smsverify_body_bytes(r, &body) != NGX_OK) {
        return SV_ERR_INTERNAL;
    }

    json = sv_json_parse_object((char *) body.data, body.len);

    /* the tree has its own copies now: a password is nowhere else */

    ngx_http_smsverify_wipe_body(r, &body);

    if (json == NULL) {
        return SV_ERR_INVALID_JSON;
    }

    *root = json;

    return NGX_OK;
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


ngx_int_t
ngx_http_smsverify_json_string(ngx_http_request_t *r, cJSON *root,
    const char *name, ngx_str_t *value)
{
    const char  *s;

    switch (sv_json_string(root, name, &s, &value->len)) {

    case SV_JSON_OK:
        value->data = (u_char *) s;
        return NGX_OK;

    case SV_JSON_MISSING:
        return SV_ERR_MISSING_FIELD;

    default:
        return SV_ERR_INVALID_FIELD;
    }
}


ngx_int_t
ngx_http_smsverify_answer(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_chain_t                out;
    ngx_http_smsverify_ctx_t  *ctx;

    static ngx_str_t  json = ngx_string("application/json");
    static ngx_str_t  no_store = ngx_string("no-store");

    ctx = ngx_http_get_module_ctx(r, ngx_http_smsverify_module);

    if (ctx && ctx->client_gone) {
        return NGX_ERROR;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = status;
    r->headers_out.content_type = json;
    r->headers_out.content_type_len = json.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    if (ngx_http_smsverify_add_header(r, "Cache-Control", &no_store)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx && ctx->cors_origin.len) {
        if (ngx_http_smsverify_cors_headers(r, &ctx->cors_origin, 0)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, body, len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_smsverify_error(ngx_http_request_t *r, ngx_http_smsverify_err_e err,
    const char *extra, size_t extra_len)
{
    u_char                    *body, *p;
    size_t                     len;
    ngx_http_smsverify_err_t  *e;

    e = &ngx_http_smsverify_errors[err];

    len = sizeof("{\"error\":\"\",\"message\":\"\"}") - 1
          + e->word.len + e->message.len + extra_len + 1;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"error\":\"%V\",\"message\":\"%V\"",
                    &e->word, &e->message);

    if (extra_len) {
        *p++ = ',';
        p = ngx_cpymem(p, extra, extra_len);
    }

    *p++ = '}';

    return ngx_http_smsverify_answer(r, e->status, body, p - body);
}


ngx_int_t
ngx_http_smsverify_field_error(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, const char *field)
{
    u_char  buf[64], *p;

    /* field names are ours, never the client's */

    p = ngx_snprintf(buf, sizeof(buf), "\"field\":\"%s\"", field);

    return ngx_http_smsverify_error(r, err, (char *) buf, p - buf);
}


ngx_int_t
ngx_http_smsverify_retry_error(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, int64_t retry_after_ms)
{
    u_char     buf[64], *p;
    int64_t    seconds;
    ngx_str_t  value;

    seconds = (retry_after_ms + 999) / 1000;

    if (seconds < 1) {
        seconds = 1;
    }

    value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = ngx_sprintf(value.data, "%L", seconds) - value.data;

    if (ngx_http_smsverify_add_header(r, "Retry-After", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (err == SV_ERR_BUSY) {
        return ngx_http_smsverify_error(r, err, NULL, 0);
    }

    p = ngx_snprintf(buf, sizeof(buf), "\"retryAfter\":%L", seconds);

    return ngx_http_smsverify_error(r, err, (char *) buf, p - buf);
}


u_char *
ngx_http_smsverify_int_list(u_char *p, u_char *last, const ngx_int_t *ids,
    ngx_uint_t n)
{
    ngx_uint_t  i;

    if (p < last) {
        *p++ = '[';
    }

    for (i = 0; i < n && (size_t) (last - p) > NGX_INT_T_LEN + 2; i++) {
        p = ngx_sprintf(p, i ? ",%i" : "%i", ids[i]);
    }

    if (p < last) {
        *p++ = ']';
    }

    return p;
}
