
/*
 * GET session: the member of the request's session, or 401 NOT_LOGGED_IN;
 * an auth_request target too.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_lookup.h"
#include "ngx_http_smsverify_response.h"
#include "sv_member.h"


static ngx_int_t ngx_http_smsverify_session_done(ngx_http_request_t *r,
    void *data);


ngx_int_t
ngx_http_smsverify_session(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_smsverify_lookup_t  *lk;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    switch (ngx_http_smsverify_lookup(r, ngx_http_smsverify_session_done,
                                      &lk))
    {
    case NGX_OK:
        return ngx_http_smsverify_session_done(r, lk);

    case NGX_AGAIN:
        /* no body reader took a reference: the task's completion owns one */
        r->main->count++;
        return NGX_DONE;

    case NGX_BUSY:
        return ngx_http_smsverify_busy(r);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


static ngx_int_t
ngx_http_smsverify_session_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_lookup_t  *lk = data;

    u_char  *body, *p;
    size_t   len;

    if (lk->rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, lk->rc, lk->err);
    }

    len = SV_MEMBER_JSON_MAX + sizeof(",\"expiresIn\":{}") + NGX_INT64_LEN;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body[0] = '{';
    p = body + 1;
    p += sv_member_json(&lk->get.member, (char *) p, SV_MEMBER_JSON_MAX);
    p = ngx_sprintf(p, ",\"expiresIn\":%L}", lk->get.expires_in_ms / 1000);

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, body, p - body);
}
