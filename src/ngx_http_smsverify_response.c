
/*
 * The answers: JSON bodies, the error words, the headers they carry.
 */

#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_ctx.h"


typedef struct {
    ngx_uint_t   status;
    ngx_str_t    word;
    ngx_str_t    message;
} ngx_http_smsverify_err_t;


/* indexed by the error word less one: NGX_HTTP_SMSVERIFY_OK is none */

static ngx_http_smsverify_err_t  ngx_http_smsverify_errors[] = {

    { NGX_HTTP_NOT_ALLOWED, ngx_string("METHOD_NOT_ALLOWED"),
      ngx_string("This endpoint does not answer that method.") },

    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, ngx_string("UNSUPPORTED_MEDIA_TYPE"),
      ngx_string("Send the body as application/json.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_JSON"),
      ngx_string("The body must be a JSON object in UTF-8.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("MISSING_FIELD"),
      ngx_string("A required field is missing.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_FIELD"),
      ngx_string("A field has the wrong type.") },

    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("BUSY"),
      ngx_string("The server is busy; try again in a moment.") },

    { NGX_HTTP_INTERNAL_SERVER_ERROR, ngx_string("INTERNAL"),
      ngx_string("Something went wrong on our side; try again later.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_PHONE"),
      ngx_string("That is not a mobile phone number we can send a code to.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("COUNTRY_NOT_ALLOWED"),
      ngx_string("Codes cannot be sent to phone numbers of that country.") },

    { NGX_HTTP_CONFLICT, ngx_string("PHONE_TAKEN"),
      ngx_string("A member already has this phone number.") },

    { NGX_HTTP_TOO_MANY_REQUESTS, ngx_string("RESEND_TOO_SOON"),
      ngx_string("A code was sent moments ago; wait before asking again.") },

    { NGX_HTTP_TOO_MANY_REQUESTS, ngx_string("SEND_LIMIT"),
      ngx_string("Too many codes were sent to this phone; try again later.") },

    { NGX_HTTP_BAD_GATEWAY, ngx_string("PROVIDER_FAILED"),
      ngx_string("The SMS could not be sent; try again later.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("CODE_MISMATCH"),
      ngx_string("The code does not match.") },

    { NGX_HTTP_NOT_FOUND, ngx_string("NO_PENDING_CODE"),
      ngx_string("No code is waiting for this phone; ask for a new one.") },

    { 410, ngx_string("CODE_EXPIRED"),
      ngx_string("The code has expired; ask for a new one.") },

    { NGX_HTTP_TOO_MANY_REQUESTS, ngx_string("TOO_MANY_ATTEMPTS"),
      ngx_string("Too many wrong codes; ask for a new one.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_EMAIL"),
      ngx_string("That is not a valid email address.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_PASSWORD"),
      ngx_string("The password does not meet the rules.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("INVALID_NICKNAME"),
      ngx_string("The nickname must be 1 to 20 characters, without control "
                 "characters.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("TERMS_REQUIRED"),
      ngx_string("Some required terms were not agreed to.") },

    { NGX_HTTP_BAD_REQUEST, ngx_string("UNKNOWN_TERMS"),
      ngx_string("Some of the terms agreed to do not exist.") },

    { NGX_HTTP_FORBIDDEN, ngx_string("PHONE_NOT_VERIFIED"),
      ngx_string("Verify the phone number first: confirm a code sent to "
                 "it.") },

    { NGX_HTTP_CONFLICT, ngx_string("EMAIL_TAKEN"),
      ngx_string("A member already has this email address.") },

    { NGX_HTTP_UNAUTHORIZED, ngx_string("LOGIN_FAILED"),
      ngx_string("The account or the password is wrong.") },

    { NGX_HTTP_TOO_MANY_REQUESTS, ngx_string("LOGIN_LOCKED"),
      ngx_string("Too many failed logins for this account; try again "
                 "later.") },

    { NGX_HTTP_UNAUTHORIZED, ngx_string("NOT_LOGGED_IN"),
      ngx_string("Log in first.") },

    { NGX_HTTP_NOT_FOUND, ngx_string("NOT_A_MEMBER"),
      ngx_string("No member has this phone number.") },

    { NGX_HTTP_TOO_MANY_REQUESTS, ngx_string("IP_LIMIT"),
      ngx_string("Too many codes were asked for from this address; try "
                 "again later.") },

    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("SMS_BUDGET"),
      ngx_string("No more codes can be sent today; try again tomorrow.") },

    { NGX_HTTP_NOT_FOUND, ngx_string("NOT_FOUND"),
      ngx_string("There is nothing at this path.") },

    { NGX_HTTP_NOT_FOUND, ngx_string("NO_SUCH_MEMBER"),
      ngx_string("No member has this id.") },

    { NGX_HTTP_CONFLICT, ngx_string("ID_TAKEN"),
      ngx_string("A member already has this id.") },

    { NGX_HTTP_SERVICE_UNAVAILABLE, ngx_string("STORE_UNAVAILABLE"),
      ngx_string("The server cannot reach its database; try again in a "
                 "moment.") },
};


static ngx_int_t ngx_http_smsverify_field_error(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err, const char *field);
static ngx_int_t ngx_http_smsverify_set_cookie(ngx_http_request_t *r,
    const char *name, const char *value, ngx_msec_t ttl,
    const char *same_site);


ngx_int_t
ngx_http_smsverify_answer(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    static ngx_str_t  json = ngx_string("application/json");

    return ngx_http_smsverify_answer_as(r, status, &json, body, len);
}


ngx_int_t
ngx_http_smsverify_answer_as(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len)
{
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_chain_t                out;
    ngx_http_smsverify_ctx_t  *ctx;

    static ngx_str_t  no_store = ngx_string("no-store");

    ctx = ngx_http_smsverify_ctx(r);

    if (ctx && ctx->client_gone) {
        return NGX_ERROR;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
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
    ngx_http_smsverify_ctx_t  *ctx;
    ngx_http_smsverify_err_t  *e;

    e = &ngx_http_smsverify_errors[err - 1];

    ctx = ngx_http_smsverify_ctx(r);

    if (ctx) {
        ctx->answered = e->word;
    }

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


ngx_str_t *
ngx_http_smsverify_error_word(ngx_http_smsverify_err_e err)
{
    return &ngx_http_smsverify_errors[err - 1].word;
}


ngx_int_t
ngx_http_smsverify_reject(ngx_http_request_t *r, ngx_http_smsverify_err_e err)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);

    if (ctx && ctx->err_field) {
        return ngx_http_smsverify_field_error(r, err, ctx->err_field);
    }

    if (ctx && ctx->err_detail.len) {
        return ngx_http_smsverify_error(r, err, (char *) ctx->err_detail.data,
                                        ctx->err_detail.len);
    }

    return ngx_http_smsverify_error(r, err, NULL, 0);
}


static ngx_int_t
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

    if (err == NGX_HTTP_SMSVERIFY_ERR_BUSY
        || err == NGX_HTTP_SMSVERIFY_ERR_STORE_UNAVAILABLE)
    {
        return ngx_http_smsverify_error(r, err, NULL, 0);
    }

    p = ngx_snprintf(buf, sizeof(buf), "\"retryAfter\":%L", seconds);

    return ngx_http_smsverify_error(r, err, (char *) buf, p - buf);
}


ngx_int_t
ngx_http_smsverify_busy(ngx_http_request_t *r)
{
    return ngx_http_smsverify_retry_error(r, NGX_HTTP_SMSVERIFY_ERR_BUSY, 1000);
}


/*
 * An outage fails every request that reaches the store: each is counted,
 * but the log gets the first at once and then at most a line each
 * NGX_HTTP_SMSVERIFY_UNAVAILABLE_LOG_MS per worker, with how many
 * failed in between, so that a flood of requests is no flood of lines.
 */

#define NGX_HTTP_SMSVERIFY_UNAVAILABLE_LOG_MS  10000

ngx_int_t
ngx_http_smsverify_unavailable(ngx_http_request_t *r, const char *err)
{
    ngx_msec_int_t                   since;
    ngx_http_smsverify_main_conf_t  *mcf;

    static ngx_uint_t   logged, unlogged;
    static ngx_msec_t   last;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    (void) ngx_atomic_fetch_add(&mcf->counters->store_unavailable, 1);

    since = (ngx_msec_int_t) (ngx_current_msec - last);

    if (logged && since >= 0 && since < NGX_HTTP_SMSVERIFY_UNAVAILABLE_LOG_MS)
    {
        unlogged++;

    } else {
        if (unlogged) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "smsverify store unavailable: %s (and %ui more "
                          "requests since the last such line)",
                          err, unlogged);
        } else {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "smsverify store unavailable: %s", err);
        }

        logged = 1;
        unlogged = 0;
        last = ngx_current_msec;
    }

    return ngx_http_smsverify_retry_error(r,
                                   NGX_HTTP_SMSVERIFY_ERR_STORE_UNAVAILABLE,
                                   1000);
}


ngx_int_t
ngx_http_smsverify_store_error(ngx_http_request_t *r, sv_store_rc_t rc,
    const char *err)
{
    ngx_http_smsverify_err_e  word;

    switch (rc) {

    case SV_STORE_UNAVAILABLE:
        return ngx_http_smsverify_unavailable(r, err);

    case SV_STORE_PHONE_TAKEN:
        word = NGX_HTTP_SMSVERIFY_ERR_PHONE_TAKEN;
        break;

    case SV_STORE_EMAIL_TAKEN:
        word = NGX_HTTP_SMSVERIFY_ERR_EMAIL_TAKEN;
        break;

    case SV_STORE_NO_CODE:
        word = NGX_HTTP_SMSVERIFY_ERR_NO_PENDING_CODE;
        break;

    case SV_STORE_EXPIRED:
        word = NGX_HTTP_SMSVERIFY_ERR_CODE_EXPIRED;
        break;

    case SV_STORE_NO_TOKEN:
        word = NGX_HTTP_SMSVERIFY_ERR_PHONE_NOT_VERIFIED;
        break;

    case SV_STORE_NOT_MEMBER:
        word = NGX_HTTP_SMSVERIFY_ERR_NOT_A_MEMBER;
        break;

    case SV_STORE_NO_SESSION:
        word = NGX_HTTP_SMSVERIFY_ERR_NOT_LOGGED_IN;
        break;

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "smsverify store failed: %s", err);
        word = NGX_HTTP_SMSVERIFY_ERR_INTERNAL;
        break;
    }

    return ngx_http_smsverify_error(r, word, NULL, 0);
}


ngx_int_t
ngx_http_smsverify_preflight(ngx_http_request_t *r, ngx_str_t *origin)
{
    ngx_int_t  rc;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (ngx_http_smsverify_cors_headers(r, origin, 1) != NGX_OK) {
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
ngx_http_smsverify_set_token_cookie(ngx_http_request_t *r, const char *token)
{
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    return ngx_http_smsverify_set_cookie(r, "smsverify_token", token,
                                         lcf->token_ttl, "Strict");
}


ngx_int_t
ngx_http_smsverify_set_session_cookie(ngx_http_request_t *r,
    const char *value)
{
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    return ngx_http_smsverify_set_cookie(r, "smsverify_session", value,
                                         lcf->session_ttl, "Lax");
}


/* an HttpOnly cookie of the whole site, Secure where the request was */

static ngx_int_t
ngx_http_smsverify_set_cookie(ngx_http_request_t *r, const char *name,
    const char *value, ngx_msec_t ttl, const char *same_site)
{
    size_t      len;
    ngx_str_t   cookie;
    ngx_uint_t  secure;

    secure = 0;
#if (NGX_HTTP_SSL)
    secure = (r->connection->ssl != NULL);
#endif

    len = sizeof("=; Path=/; Max-Age=; HttpOnly; SameSite=; Secure") - 1
          + ngx_strlen(name) + ngx_strlen(value) + NGX_INT_T_LEN
          + ngx_strlen(same_site);

    cookie.data = ngx_pnalloc(r->pool, len);
    if (cookie.data == NULL) {
        return NGX_ERROR;
    }

    cookie.len = ngx_snprintf(cookie.data, len,
                              "%s=%s; Path=/; Max-Age=%M; HttpOnly; "
                              "SameSite=%s%s",
                              name, value, ttl / 1000, same_site,
                              secure ? "; Secure" : "")
                 - cookie.data;

    return ngx_http_smsverify_add_header(r, "Set-Cookie", &cookie);
}


ngx_int_t
ngx_http_smsverify_clear_session_cookie(ngx_http_request_t *r)
{
    ngx_str_t  cookie;

    ngx_str_set(&cookie, "smsverify_session=; Path=/; Max-Age=0; HttpOnly; "
                         "SameSite=Lax");

    return ngx_http_smsverify_add_header(r, "Set-Cookie", &cookie);
}


ngx_int_t
ngx_http_smsverify_clear_token_cookie(ngx_http_request_t *r)
{
    ngx_str_t  cookie;

    /* the token is used up: the browser may forget it */

    ngx_str_set(&cookie, "smsverify_token=; Path=/; Max-Age=0; HttpOnly; "
                         "SameSite=Strict");

    return ngx_http_smsverify_add_header(r, "Set-Cookie", &cookie);
}
