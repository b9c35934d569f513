
/*
 * GET status: counters summed over all workers, and what the store holds.
 */

#include "ngx_http_smsverify.h"


ngx_int_t
ngx_http_smsverify_status(ngx_http_request_t *r)
{
    u_char                          *body, *p, *last;
    char                             err[256];
    size_t                           len;
    ngx_uint_t                       t, first;
    sv_store_rc_t                    rc;
    sv_store_stats_t                 stats;
    ngx_http_smsverify_counters_t   *c;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);
    c = mcf->counters;

    /* a read transaction: it never waits for a writer */

    rc = sv_store_stats(mcf->store, sv_clock_ms(), &stats, err, sizeof(err));
    if (rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, rc, err);
    }

    len = 512 + SV_PROVIDER_NTYPES * 64;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = body + len;

    p = ngx_slprintf(body, last,
                     "{\"codesPending\":%uL,\"members\":%uL,\"sent\":%uA,"
                     "\"sendFailed\":%uA,\"confirmed\":%uA,"
                     "\"confirmFailed\":%uA,\"signups\":%uA,"
                     "\"rateLimited\":%uA,\"providers\":{",
                     stats.codes_pending, stats.members, c->sent,
                     c->send_failed, c->confirmed, c->confirm_failed,
                     c->signups, c->rate_limited);

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
