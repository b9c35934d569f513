
/*
 * The request's ctx, kept across internal redirects.
 */

#include "ngx_http_smsverify_ctx.h"


typedef struct {
    ngx_http_request_t         *request;    /* subrequests share the pool */
    ngx_http_smsverify_ctx_t   *ctx;
} ngx_http_smsverify_kept_t;


/* what marks our cleanup in the pool's list: it has nothing to free */

static void
ngx_http_smsverify_ctx_kept(void *data)
{
}


ngx_http_smsverify_ctx_t *
ngx_http_smsverify_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_smsverify_ctx_t   *ctx;
    ngx_http_smsverify_kept_t  *kept;

    ctx = ngx_http_get_module_ctx(r, ngx_http_smsverify_module);

    if (ctx != NULL || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler != ngx_http_smsverify_ctx_kept) {
            continue;
        }

        kept = cln->data;

        if (kept->request == r) {
            ngx_http_set_ctx(r, kept->ctx, ngx_http_smsverify_module);
            return kept->ctx;
        }
    }

    return NULL;
}


ngx_http_smsverify_ctx_t *
ngx_http_smsverify_ctx_make(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_smsverify_ctx_t   *ctx;
    ngx_http_smsverify_kept_t  *kept;

    ctx = ngx_http_smsverify_ctx(r);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_smsverify_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_smsverify_kept_t));
    if (cln == NULL) {
        return NULL;
    }

    kept = cln->data;
    kept->request = r;
    kept->ctx = ctx;
    cln->handler = ngx_http_smsverify_ctx_kept;

    ngx_http_set_ctx(r, ctx, ngx_http_smsverify_module);

    return ctx;
}
