
/*
 * GET status: counters summed over all workers, and what the store holds.
 * The store's counts are read in the pool, as every store call is.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"


typedef struct {
    sv_store_t        *store;
    sv_store_stats_t   stats;

    sv_store_rc_t      rc;
    char               err[256];
} ngx_http_smsverify_status_job_t;


static void ngx_http_smsverify_status_thread(void *data);
static ngx_int_t ngx_http_smsverify_status_done(ngx_http_request_t *r,
    void *data);


ngx_int_t
ngx_http_smsverify_status(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_http_smsverify_main_conf_t   *mcf;
    ngx_http_smsverify_status_job_t  *job;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_status_thread,
                                        ngx_http_smsverify_status_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->store = mcf->store;

    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        return ngx_http_smsverify_busy(r);
    }

    /* no body reader took a reference: the task's completion owns one */
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_smsverify_status_thread(void *data)
{
    ngx_http_smsverify_status_job_t  *job = data;

    job->rc = sv_store_stats(job->store, &job->stats, job->err,
                             sizeof(job->err));
}


static ngx_int_t
ngx_http_smsverify_status_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_status_job_t  *job = data;

    u_char                           *body, *p, *last;
    size_t                            len;
    ngx_uint_t                        t, first;
    ngx_http_smsverify_counters_t    *c;
    ngx_http_smsverify_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);
    c = mcf->counters;

    if (job->rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    len = 640 + SV_PROVIDER_NTYPES * 64;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = body + len;

    p = ngx_slprintf(body, last,
                     "{\"codesPending\":%uL,\"members\":%uL,\"sent\":%uA,"
                     "\"sendFailed\":%uA,\"confirmed\":%uA,"
                     "\"confirmFailed\":%uA,\"signups\":%uA,"
                     "\"rateLimited\":%uA,\"logins\":%uA,"
                     "\"loginsFailed\":%uA,\"resets\":%uA,\"providers\":{",
                     job->stats.codes_pending, job->stats.members, c->sent,
                     c->send_failed, c->confirmed, c->confirm_failed,
                     c->signups, c->rate_limited, c->logins,
                     c->logins_failed, c->resets);

    first = 1;

    for (t = 0; t < SV_PROVIDER_NTYPES; t++) {
        if (!(mcf->provider_types & (1 << t))) {
            continue;
        }

        p = ngx_slprintf(p, last, "%s\"%s\":{\"ok\":%uA,\"failed\":%uA}",
                         first ? "" : ",", sv_provider_name(t),
                         c->provider_ok[t], c->provider_failed[t]);
        first = 0;
    }

    p = ngx_slprintf(p, last, "}}");

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, body, p - body);
}
