
/*
 * The session of a request's cookie, looked up in the store.
 */

#include "ngx_http_smsverify_lookup.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_task.h"
#include "sv_clock.h"


static void ngx_http_smsverify_lookup_thread(void *data);


ngx_int_t
ngx_http_smsverify_lookup(ngx_http_request_t *r,
    ngx_http_smsverify_done_pt done, ngx_http_smsverify_lookup_t **lookup)
{
    ngx_str_t                        value;
    ngx_http_smsverify_lookup_t     *lk;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    lk = ngx_http_smsverify_task_alloc(r, sizeof(*lk),
                                       ngx_http_smsverify_lookup_thread,
                                       done);
    if (lk == NULL) {
        return NGX_ERROR;
    }

    *lookup = lk;
    lk->store = mcf->store;
    lk->get.hash = lk->hash;

    ngx_http_smsverify_cookie(r, "smsverify_session", &value);

    if (value.len != SV_TOKEN_LEN) {
        lk->rc = SV_STORE_NO_SESSION;
        return NGX_OK;
    }

    sv_session_hash(mcf->secret, (char *) value.data, value.len, lk->hash);

    lk->op.hash = lk->hash;
    lk->op.get = &lk->get;
    lk->op.rc = &lk->rc;
    lk->op.err = lk->err;
    lk->op.errlen = sizeof(lk->err);

    if (sv_store_reads_wait_free(lk->store)) {
        lk->get.now_ms = sv_clock_ms();
        lk->rc = sv_store_session_get(lk->store, &lk->get, lk->err,
                                      sizeof(lk->err));
        lk->op.looked = 1;

        if (lk->rc != SV_STORE_OK || !lk->get.stale) {
            return NGX_OK;
        }

        /* the write of its last use waits for the store's writers */
    }

    return ngx_http_smsverify_task_post_session(r, &lk->op) == NGX_OK
           ? NGX_AGAIN : NGX_BUSY;
}


static void
ngx_http_smsverify_lookup_thread(void *data)
{
    ngx_http_smsverify_lookup_t  *lk = data;

    sv_store_session_op(lk->store, &lk->op);
}
