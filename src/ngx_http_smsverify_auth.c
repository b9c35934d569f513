
/*
 * smsverify_auth: the access phase of a guarded location.  "member" lets
 * through a request with a valid session and gives the variables its
 * member; "verified" one whose smsverify_token cookie holds a valid signup
 * token.  Otherwise 401 NOT_LOGGED_IN (403 PHONE_NOT_VERIFIED) as JSON,
 * or, where the location has an error_page for that status, the status,
 * for error_page to take over.  A lookup in the pool returns NGX_AGAIN;
 * its completion runs the phases again, and this handler, called again,
 * finds the result in the ctx.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_ctx.h"
#include "ngx_http_smsverify_lookup.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"
#include "sv_clock.h"


typedef struct {
    sv_store_t         *store;
    uint8_t             hash[SV_HASH_SIZE];
    int64_t             now_ms;
    char                phone[SV_STORE_PHONE_MAX + 1];

    sv_store_rc_t       rc;
    char                err[256];
} ngx_http_smsverify_verified_job_t;


static ngx_int_t ngx_http_smsverify_auth_member(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx);
static ngx_int_t ngx_http_smsverify_auth_verified(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx);
static void ngx_http_smsverify_verified_thread(void *data);
static void ngx_http_smsverify_auth_lookup_found(ngx_http_request_t *r,
    ngx_http_smsverify_lookup_t *lk);
static void ngx_http_smsverify_auth_verified_found(ngx_http_request_t *r,
    ngx_http_smsverify_verified_job_t *job);
static ngx_int_t ngx_http_smsverify_auth_lookup_done(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_http_smsverify_auth_verified_done(
    ngx_http_request_t *r, void *data);
static ngx_int_t ngx_http_smsverify_auth_resume(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx);
static ngx_int_t ngx_http_smsverify_auth_result(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx);
static ngx_int_t ngx_http_smsverify_auth_deny(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err);
static ngx_uint_t ngx_http_smsverify_has_error_page(ngx_http_request_t *r,
    ngx_uint_t status);
static ngx_int_t ngx_http_smsverify_auth_answer(ngx_http_request_t *r,
    ngx_int_t rc);


ngx_int_t
ngx_http_smsverify_auth(ngx_http_request_t *r)
{
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    if (lcf->auth == NGX_HTTP_SMSVERIFY_AUTH_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_smsverify_ctx_make(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->auth_done && ctx->auth_conf == lcf) {
        return ngx_http_smsverify_auth_result(r, ctx);
    }

    /* an internal redirect to another guarded location asks again */

    ctx->auth_done = 0;
    ctx->auth_conf = lcf;
    ctx->member = NULL;
    ngx_str_null(&ctx->verified_phone);

    if (lcf->auth == NGX_HTTP_SMSVERIFY_AUTH_MEMBER) {
        return ngx_http_smsverify_auth_member(r, ctx);
    }

    return ngx_http_smsverify_auth_verified(r, ctx);
}


static ngx_int_t
ngx_http_smsverify_auth_member(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx)
{
    ngx_http_smsverify_lookup_t  *lk;

    switch (ngx_http_smsverify_lookup(r, ngx_http_smsverify_auth_lookup_done,
                                      &lk))
    {
    case NGX_OK:
        ngx_http_smsverify_auth_lookup_found(r, lk);
        return ngx_http_smsverify_auth_result(r, ctx);

    case NGX_AGAIN:
        /* the completion runs the phases again: it owns a reference */
        r->main->count++;
        return NGX_AGAIN;

    case NGX_BUSY:
        return ngx_http_smsverify_auth_answer(r, ngx_http_smsverify_busy(r));

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


static ngx_int_t
ngx_http_smsverify_auth_verified(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx)
{
    ngx_str_t                           value;
    ngx_http_smsverify_main_conf_t     *mcf;
    ngx_http_smsverify_verified_job_t  *job;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    ngx_http_smsverify_cookie(r, "smsverify_token", &value);

    if (value.len != SV_TOKEN_LEN) {
        ctx->auth_rc = SV_STORE_NO_TOKEN;
        ctx->auth_done = 1;
        return ngx_http_smsverify_auth_result(r, ctx);
    }

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                    ngx_http_smsverify_verified_thread,
                                    ngx_http_smsverify_auth_verified_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->store = mcf->store;
    sv_token_hash(mcf->secret, (char *) value.data, value.len, job->hash);

    if (sv_store_reads_wait_free(job->store)) {
        ngx_http_smsverify_verified_thread(job);
        ngx_http_smsverify_auth_verified_found(r, job);
        return ngx_http_smsverify_auth_result(r, ctx);
    }

    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        return ngx_http_smsverify_auth_answer(r, ngx_http_smsverify_busy(r));
    }

    r->main->count++;
    return NGX_AGAIN;
}


static void
ngx_http_smsverify_verified_thread(void *data)
{
    ngx_http_smsverify_verified_job_t  *job = data;

    job->now_ms = sv_clock_ms();

    job->rc = sv_store_token_phone(job->store, job->hash, SV_PURPOSE_SIGNUP,
                                   job->now_ms, job->phone, job->err,
                                   sizeof(job->err));
}


/* what the store said, into the ctx: the variables read it from there */

static void
ngx_http_smsverify_auth_lookup_found(ngx_http_request_t *r,
    ngx_http_smsverify_lookup_t *lk)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);

    ctx->auth_done = 1;
    ctx->auth_rc = lk->rc;

    ctx->auth_err = lk->err;

    if (lk->rc == SV_STORE_OK) {
        ctx->member = &lk->get.member;

    } else if (lk->rc != SV_STORE_NO_SESSION
               && lk->rc != SV_STORE_UNAVAILABLE)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "smsverify store failed: %s", lk->err);
    }
}


static void
ngx_http_smsverify_auth_verified_found(ngx_http_request_t *r,
    ngx_http_smsverify_verified_job_t *job)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);

    ctx->auth_done = 1;
    ctx->auth_rc = job->rc;

    ctx->auth_err = job->err;

    if (job->rc == SV_STORE_OK) {
        ctx->verified_phone.data = (u_char *) job->phone;
        ctx->verified_phone.len = ngx_strlen(job->phone);

    } else if (job->rc != SV_STORE_NO_TOKEN
               && job->rc != SV_STORE_UNAVAILABLE)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "smsverify store failed: %s", job->err);
    }
}


static ngx_int_t
ngx_http_smsverify_auth_lookup_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_auth_lookup_found(r, data);

    return ngx_http_smsverify_auth_resume(r,
                     ngx_http_smsverify_ctx(r));
}


static ngx_int_t
ngx_http_smsverify_auth_verified_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_auth_verified_found(r, data);

    return ngx_http_smsverify_auth_resume(r,
                     ngx_http_smsverify_ctx(r));
}


/*
 * A task's completion: the phases run again from this handler, which now
 * finds its result.  NGX_DONE gives back the reference the post took; a
 * client gone meanwhile gets nothing more.
 */

static ngx_int_t
ngx_http_smsverify_auth_resume(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx)
{
    if (ctx->client_gone) {
        return NGX_DONE;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_smsverify_auth_result(ngx_http_request_t *r,
    ngx_http_smsverify_ctx_t *ctx)
{
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    switch (ctx->auth_rc) {

    case SV_STORE_OK:
        return NGX_OK;

    case SV_STORE_NO_SESSION:
        return ngx_http_smsverify_auth_deny(r,
                                        NGX_HTTP_SMSVERIFY_ERR_NOT_LOGGED_IN);

    case SV_STORE_UNAVAILABLE:
        return ngx_http_smsverify_auth_answer(r,
                   ngx_http_smsverify_unavailable(r, ctx->auth_err));

    case SV_STORE_NO_TOKEN:
        if (lcf->auth == NGX_HTTP_SMSVERIFY_AUTH_VERIFIED) {
            return ngx_http_smsverify_auth_deny(r,
                                   NGX_HTTP_SMSVERIFY_ERR_PHONE_NOT_VERIFIED);
        }

        /* fall through */

    default:
        return ngx_http_smsverify_auth_answer(r,
                   ngx_http_smsverify_error(r, NGX_HTTP_SMSVERIFY_ERR_INTERNAL,
                                            NULL, 0));
    }
}


static ngx_int_t
ngx_http_smsverify_auth_deny(ngx_http_request_t *r,
    ngx_http_smsverify_err_e err)
{
    ngx_uint_t                 status;
    ngx_http_smsverify_ctx_t  *ctx;

    status = (err == NGX_HTTP_SMSVERIFY_ERR_NOT_LOGGED_IN)
             ? NGX_HTTP_UNAUTHORIZED : NGX_HTTP_FORBIDDEN;

    if (ngx_http_smsverify_has_error_page(r, status)) {
        ctx = ngx_http_smsverify_ctx(r);
        ctx->answered = *ngx_http_smsverify_error_word(err);
        return status;
    }

    return ngx_http_smsverify_auth_answer(r,
                                     ngx_http_smsverify_error(r, err, NULL, 0));
}


static ngx_uint_t
ngx_http_smsverify_has_error_page(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_uint_t                 i;
    ngx_http_err_page_t       *err_page;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->error_pages == NULL) {
        return 0;
    }

    err_page = clcf->error_pages->elts;

    for (i = 0; i < clcf->error_pages->nelts; i++) {
        if (err_page[i].status == (ngx_int_t) status) {
            return 1;
        }
    }

    return 0;
}


/*
 * The access phase takes NGX_OK for "let it through": a request answered
 * here is finalized here, and NGX_DONE stops the phases.
 */

static ngx_int_t
ngx_http_smsverify_auth_answer(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}
