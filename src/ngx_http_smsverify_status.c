
/*
 * GET status: counters summed over all workers, and what the store holds,
 * as JSON or, with ?format=prometheus, as Prometheus text (exposition
 * format 0.0.4).  The store's counts are read in the pool, as every store
 * call is; the counters are read once, into a snapshot both forms print.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"


#define NGX_HTTP_SMSVERIFY_FORMAT_JSON        0
#define NGX_HTTP_SMSVERIFY_FORMAT_PROMETHEUS  1


/*
 * The counters of both forms, in the JSON's order: its key, the metric's
 * name (smsverify_NAME_total) and what it counts.
 */
typedef struct {
    const char        *key;
    const char        *name;
    const char        *help;
    size_t             offset;
} ngx_http_smsverify_counter_t;


#define ngx_http_smsverify_counter(key, name, help, field)                    \
    { key, name, help, offsetof(ngx_http_smsverify_counters_t, field) }

static ngx_http_smsverify_counter_t  ngx_http_smsverify_counter_list[] = {
    ngx_http_smsverify_counter("sent", "sent",
        "Codes sent: a provider accepted the message.", sent),
    ngx_http_smsverify_counter("sendFailed", "send_failed",
        "Sends that every provider refused or failed.", send_failed),
    ngx_http_smsverify_counter("confirmed", "confirmed",
        "Codes confirmed: a verification token was given.", confirmed),
    ngx_http_smsverify_counter("confirmFailed", "confirm_failed",
        "Confirms refused: a wrong, expired or missing code.",
        confirm_failed),
    ngx_http_smsverify_counter("signups", "signups",
        "Members created by signup.", signups),
    ngx_http_smsverify_counter("rateLimited", "rate_limited",
        "Sends refused by a per-phone limit.", rate_limited),
    ngx_http_smsverify_counter("testSends", "test_sends",
        "Sends to test numbers: no SMS, no limit.", test_sends),
    ngx_http_smsverify_counter("logins", "logins",
        "Logins that started a session.", logins),
    ngx_http_smsverify_counter("loginsFailed", "logins_failed",
        "Logins refused: a wrong account or password, or a locked account.",
        logins_failed),
    ngx_http_smsverify_counter("resets", "resets",
        "Passwords changed by a reset.", resets),
    ngx_http_smsverify_counter("webhookDelivered", "webhook_delivered",
        "Webhook events delivered by this host: the receiver answered 2xx.",
        webhook_delivered),
    ngx_http_smsverify_counter("webhookFailed", "webhook_failed",
        "Webhook events this host dropped after three days of failures.",
        webhook_failed),
    ngx_http_smsverify_counter("storeUnavailable", "store_unavailable",
        "Requests answered 503 STORE_UNAVAILABLE: the database was away.",
        store_unavailable),
};

#define NGX_HTTP_SMSVERIFY_NCOUNTERS                                          \
    (sizeof(ngx_http_smsverify_counter_list)                                  \
     / sizeof(ngx_http_smsverify_counter_t))


/* the counters as read once, the histogram's buckets made cumulative */
typedef struct {
    ngx_atomic_uint_t  counter[NGX_HTTP_SMSVERIFY_NCOUNTERS];
    ngx_atomic_uint_t  ok[SV_PROVIDER_NTYPES];
    ngx_atomic_uint_t  failed[SV_PROVIDER_NTYPES];
    ngx_atomic_uint_t  le[SV_PROVIDER_NTYPES][SV_DURATION_BUCKETS];
    ngx_atomic_uint_t  us[SV_PROVIDER_NTYPES];
} ngx_http_smsverify_snapshot_t;


typedef struct {
    sv_store_t        *store;
    sv_store_stats_t   stats;
    uint64_t           backlog;             /* webhook events waiting */
    ngx_uint_t         format;

    sv_store_rc_t      rc;
    char               err[256];
} ngx_http_smsverify_status_job_t;


static ngx_http_smsverify_err_e ngx_http_smsverify_status_format(
    ngx_http_request_t *r, ngx_uint_t *format);
static void ngx_http_smsverify_status_thread(void *data);
static ngx_int_t ngx_http_smsverify_status_done(ngx_http_request_t *r,
    void *data);
static void ngx_http_smsverify_snapshot(ngx_http_smsverify_counters_t *c,
    ngx_http_smsverify_snapshot_t *s);
static ngx_int_t ngx_http_smsverify_status_json(ngx_http_request_t *r,
    ngx_http_smsverify_status_job_t *job, ngx_http_smsverify_snapshot_t *s);
static ngx_int_t ngx_http_smsverify_status_prometheus(ngx_http_request_t *r,
    ngx_http_smsverify_status_job_t *job, ngx_http_smsverify_snapshot_t *s);
static u_char *ngx_http_smsverify_prom_family(u_char *p, u_char *last,
    const char *name, const char *type, const char *help);
static u_char *ngx_http_smsverify_prom_provider(u_char *p, u_char *last,
    ngx_uint_t t, ngx_http_smsverify_snapshot_t *s);


ngx_int_t
ngx_http_smsverify_status(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_uint_t                        format;
    ngx_http_smsverify_err_e          err;
    ngx_http_smsverify_main_conf_t   *mcf;
    ngx_http_smsverify_status_job_t  *job;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    err = ngx_http_smsverify_status_format(r, &format);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_status_thread,
                                        ngx_http_smsverify_status_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->store = mcf->store;
    job->format = format;

    /* the counts are a read: on the loop where reads never wait (LMDB) */

    if (sv_store_reads_wait_free(job->store)) {
        ngx_http_smsverify_status_thread(job);
        return ngx_http_smsverify_status_done(r, job);
    }

    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        return ngx_http_smsverify_busy(r);
    }

    /* no body reader took a reference: the task's completion owns one */
    r->main->count++;

    return NGX_DONE;
}


/* ?format=prometheus, or json (the default); anything else is refused */

static ngx_http_smsverify_err_e
ngx_http_smsverify_status_format(ngx_http_request_t *r, ngx_uint_t *format)
{
    ngx_str_t  value;

    *format = NGX_HTTP_SMSVERIFY_FORMAT_JSON;

    if (ngx_http_arg(r, (u_char *) "format", sizeof("format") - 1, &value)
        != NGX_OK)
    {
        return NGX_HTTP_SMSVERIFY_OK;
    }

    if (value.len == sizeof("prometheus") - 1
        && ngx_strncmp(value.data, "prometheus", value.len) == 0)
    {
        *format = NGX_HTTP_SMSVERIFY_FORMAT_PROMETHEUS;
        return NGX_HTTP_SMSVERIFY_OK;
    }

    if (value.len == sizeof("json") - 1
        && ngx_strncmp(value.data, "json", value.len) == 0)
    {
        return NGX_HTTP_SMSVERIFY_OK;
    }

    return ngx_http_smsverify_field_err(r, NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
                                        "format");
}


static void
ngx_http_smsverify_status_thread(void *data)
{
    ngx_http_smsverify_status_job_t  *job = data;

    job->rc = sv_store_stats(job->store, &job->stats, job->err,
                             sizeof(job->err));

    if (job->rc == SV_STORE_OK) {
        job->rc = sv_store_outbox_backlog(job->store, &job->backlog,
                                          job->err, sizeof(job->err));
    }
}


static ngx_int_t
ngx_http_smsverify_status_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_status_job_t  *job = data;

    ngx_http_smsverify_snapshot_t     s;
    ngx_http_smsverify_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    /*
     * the database away, this host's counters still answer, the store's
     * counts unknown (null, and no gauge): an outage is seen in the
     * storeUnavailable counter rather than in a failed scrape
     */

    if (job->rc == SV_STORE_UNAVAILABLE) {
        (void) ngx_atomic_fetch_add(&mcf->counters->store_unavailable, 1);

    } else if (job->rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    ngx_http_smsverify_snapshot(mcf->counters, &s);

    if (job->format == NGX_HTTP_SMSVERIFY_FORMAT_PROMETHEUS) {
        return ngx_http_smsverify_status_prometheus(r, job, &s);
    }

    return ngx_http_smsverify_status_json(r, job, &s);
}


/*
 * Each counter read once, so that both forms agree with themselves: the
 * +Inf bucket is the sum of the buckets read, and so is the count.
 */

static void
ngx_http_smsverify_snapshot(ngx_http_smsverify_counters_t *c,
    ngx_http_smsverify_snapshot_t *s)
{
    ngx_uint_t            i, t;
    ngx_atomic_uint_t     sum;
    ngx_atomic_t         *a;

    for (i = 0; i < NGX_HTTP_SMSVERIFY_NCOUNTERS; i++) {
        a = (ngx_atomic_t *) ((u_char *) c
                              + ngx_http_smsverify_counter_list[i].offset);
        s->counter[i] = *a;
    }

    for (t = 0; t < SV_PROVIDER_NTYPES; t++) {
        s->ok[t] = c->provider_ok[t];
        s->failed[t] = c->provider_failed[t];
        s->us[t] = c->provider_us[t];

        sum = 0;

        for (i = 0; i < SV_DURATION_BUCKETS; i++) {
            sum += c->provider_calls[t][i];
            s->le[t][i] = sum;
        }
    }
}


static ngx_int_t
ngx_http_smsverify_status_json(ngx_http_request_t *r,
    ngx_http_smsverify_status_job_t *job, ngx_http_smsverify_snapshot_t *s)
{
    u_char                           *body, *p, *last;
    size_t                            len;
    ngx_uint_t                        i, t, first;
    ngx_http_smsverify_main_conf_t   *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    len = 128 + NGX_HTTP_SMSVERIFY_NCOUNTERS * 48 + SV_PROVIDER_NTYPES * 64;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = body + len;

    if (job->rc == SV_STORE_OK) {
        p = ngx_slprintf(body, last,
                         "{\"codesPending\":%uL,\"members\":%uL,"
                         "\"webhookBacklog\":%uL",
                         job->stats.codes_pending, job->stats.members,
                         job->backlog);
    } else {
        p = ngx_slprintf(body, last, "{\"codesPending\":null,"
                         "\"members\":null,\"webhookBacklog\":null");
    }

    for (i = 0; i < NGX_HTTP_SMSVERIFY_NCOUNTERS; i++) {
        p = ngx_slprintf(p, last, ",\"%s\":%uA",
                         ngx_http_smsverify_counter_list[i].key,
                         s->counter[i]);
    }

    p = ngx_slprintf(p, last, ",\"providers\":{");

    first = 1;

    for (t = 0; t < SV_PROVIDER_NTYPES; t++) {
        if (!(mcf->provider_types & (1 << t))) {
            continue;
        }

        p = ngx_slprintf(p, last, "%s\"%s\":{\"ok\":%uA,\"failed\":%uA}",
                         first ? "" : ",", sv_provider_name(t),
                         s->ok[t], s->failed[t]);
        first = 0;
    }

    p = ngx_slprintf(p, last, "}}");

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, body, p - body);
}


static ngx_int_t
ngx_http_smsverify_status_prometheus(ngx_http_request_t *r,
    ngx_http_smsverify_status_job_t *job, ngx_http_smsverify_snapshot_t *s)
{
    u_char                           *body, *p, *last;
    size_t                            len;
    ngx_uint_t                        i, t;
    ngx_http_smsverify_counter_t     *c;
    ngx_http_smsverify_main_conf_t   *mcf;

    static ngx_str_t  type = ngx_string("text/plain; version=0.0.4");

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    /* a family's head takes at most 256 bytes, a sample line 128 */

    len = (NGX_HTTP_SMSVERIFY_NCOUNTERS + 5) * (256 + 128)
          + SV_PROVIDER_NTYPES * (SV_DURATION_BUCKETS + 4) * 128;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;
    last = body + len;

    if (job->rc == SV_STORE_OK) {
        p = ngx_http_smsverify_prom_family(p, last, "codes_pending", "gauge",
                    "Codes held in the store: not yet confirmed, burnt "
                    "or swept.");
        p = ngx_slprintf(p, last, "smsverify_codes_pending %uL\n",
                         job->stats.codes_pending);

        p = ngx_http_smsverify_prom_family(p, last, "members", "gauge",
                                           "Members in the store.");
        p = ngx_slprintf(p, last, "smsverify_members %uL\n",
                         job->stats.members);

        p = ngx_http_smsverify_prom_family(p, last, "webhook_backlog",
                    "gauge", "Webhook events in the store not yet "
                    "delivered or dropped.");
        p = ngx_slprintf(p, last, "smsverify_webhook_backlog %uL\n",
                         job->backlog);
    }

    for (i = 0; i < NGX_HTTP_SMSVERIFY_NCOUNTERS; i++) {
        c = &ngx_http_smsverify_counter_list[i];

        p = ngx_slprintf(p, last, "# HELP smsverify_%s_total %s\n"
                         "# TYPE smsverify_%s_total counter\n"
                         "smsverify_%s_total %uA\n",
                         c->name, c->help, c->name, c->name, s->counter[i]);
    }

    if (mcf->provider_types == 0) {
        goto done;
    }

    p = ngx_http_smsverify_prom_family(p, last, "provider_requests_total",
                "counter", "Messages handed to a provider, by its answer.");

    for (t = 0; t < SV_PROVIDER_NTYPES; t++) {
        if (!(mcf->provider_types & (1 << t))) {
            continue;
        }

        p = ngx_slprintf(p, last,
                         "smsverify_provider_requests_total"
                         "{provider=\"%s\",result=\"ok\"} %uA\n"
                         "smsverify_provider_requests_total"
                         "{provider=\"%s\",result=\"failed\"} %uA\n",
                         sv_provider_name(t), s->ok[t],
                         sv_provider_name(t), s->failed[t]);
    }

    p = ngx_http_smsverify_prom_family(p, last, "provider_duration_seconds",
                "histogram", "Time a provider took to answer a message.");

    for (t = 0; t < SV_PROVIDER_NTYPES; t++) {
        if (mcf->provider_types & (1 << t)) {
            p = ngx_http_smsverify_prom_provider(p, last, t, s);
        }
    }

done:

    return ngx_http_smsverify_answer_as(r, NGX_HTTP_OK, &type, body,
                                        p - body);
}


static u_char *
ngx_http_smsverify_prom_family(u_char *p, u_char *last, const char *name,
    const char *type, const char *help)
{
    return ngx_slprintf(p, last, "# HELP smsverify_%s %s\n"
                        "# TYPE smsverify_%s %s\n", name, help, name, type);
}


/* one provider's histogram: cumulative buckets, the sum in seconds */

static u_char *
ngx_http_smsverify_prom_provider(u_char *p, u_char *last, ngx_uint_t t,
    ngx_http_smsverify_snapshot_t *s)
{
    ngx_uint_t   i;
    const char  *name;

    name = sv_provider_name(t);

    for (i = 0; i < SV_DURATION_BUCKETS; i++) {
        p = ngx_slprintf(p, last, "smsverify_provider_duration_seconds_bucket"
                         "{provider=\"%s\",le=\"%s\"} %uA\n",
                         name, sv_duration_le[i], s->le[t][i]);
    }

    return ngx_slprintf(p, last,
                        "smsverify_provider_duration_seconds_sum"
                        "{provider=\"%s\"} %uA.%06uA\n"
                        "smsverify_provider_duration_seconds_count"
                        "{provider=\"%s\"} %uA\n",
                        name, s->us[t] / 1000000, s->us[t] % 1000000,
                        name, s->le[t][SV_DURATION_BUCKETS - 1]);
}
