
/*
 * POST logout: the session of the request's cookie is deleted from the
 * store and the cookie cleared; without one, the same answer.  Any body
 * and content type are ignored.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"


typedef struct {
    sv_store_t              *store;
    uint8_t                  hash[SV_HASH_SIZE];
    sv_store_session_op_t    op;        /* an end: no get */

    sv_store_rc_t            rc;
    char                     err[256];
} ngx_http_smsverify_logout_job_t;


static void ngx_http_smsverify_logout_thread(void *data);
static ngx_int_t ngx_http_smsverify_logout_done(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_http_smsverify_logged_out(ngx_http_request_t *r);


ngx_int_t
ngx_http_smsverify_logout(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_str_t                         value;
    ngx_http_smsverify_main_conf_t   *mcf;
    ngx_http_smsverify_logout_job_t  *job;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_smsverify_cookie(r, "smsverify_session", &value);

    if (value.len != SV_TOKEN_LEN) {
        return ngx_http_smsverify_logged_out(r);
    }

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_logout_thread,
                                        ngx_http_smsverify_logout_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->store = mcf->store;
    sv_session_hash(mcf->secret, (char *) value.data, value.len, job->hash);

    job->op.hash = job->hash;
    job->op.rc = &job->rc;
    job->op.err = job->err;
    job->op.errlen = sizeof(job->err);

    if (ngx_http_smsverify_task_post_session(r, &job->op) != NGX_OK) {
        return ngx_http_smsverify_busy(r);
    }

    /* no body reader took a reference: the task's completion owns one */
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_smsverify_logout_thread(void *data)
{
    ngx_http_smsverify_logout_job_t  *job = data;

    sv_store_session_op(job->store, &job->op);
}


static ngx_int_t
ngx_http_smsverify_logout_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_logout_job_t  *job = data;

    if (job->rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    return ngx_http_smsverify_logged_out(r);
}


static ngx_int_t
ngx_http_smsverify_logged_out(ngx_http_request_t *r)
{
    static u_char  body[] = "{\"status\":\"logged_out\"}";

    if (ngx_http_smsverify_clear_session_cookie(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, body, sizeof(body) - 1);
}
