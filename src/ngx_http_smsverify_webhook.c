
/*
 * Webhook delivery.  One task per worker at most, so that a slow or
 * unreachable receiver holds one pool thread of a worker, never the
 * requests' tasks behind it; the store's lease lets one delivery at a
 * time run over all workers (and nodes), in the events' order.
 */

#include "ngx_http_smsverify_webhook.h"
#include "sv_clock.h"
#include "sv_thread.h"


/* how often a worker looks for due events when none was */
#define NGX_HTTP_SMSVERIFY_WEBHOOK_POLL  1000


typedef enum {
    NGX_HTTP_SMSVERIFY_WEBHOOK_NONE = 0,    /* nothing due */
    NGX_HTTP_SMSVERIFY_WEBHOOK_DELIVERED,
    NGX_HTTP_SMSVERIFY_WEBHOOK_RETRY,       /* failed, tried again later */
    NGX_HTTP_SMSVERIFY_WEBHOOK_DROPPED,     /* failed for three days */
    NGX_HTTP_SMSVERIFY_WEBHOOK_ERROR        /* the store failed */
} ngx_http_smsverify_webhook_outcome_e;


typedef struct {
    ngx_http_smsverify_main_conf_t  *mcf;
    sv_webhook_conf_t                conf;
    ngx_uint_t                       busy;

    ngx_http_smsverify_webhook_outcome_e  outcome;
    int64_t                          now_ms;
    char                             why[256];      /* the attempt's */
    char                             err[256];      /* the store's */
    sv_outbox_event_t                ev;
} ngx_http_smsverify_webhook_t;


static void ngx_http_smsverify_webhook_timer(ngx_event_t *ev);
static void ngx_http_smsverify_webhook_thread(void *data, ngx_log_t *log);
static void ngx_http_smsverify_webhook_done(ngx_event_t *ev);
static void ngx_http_smsverify_webhook_log(ngx_log_t *log,
    ngx_http_smsverify_webhook_t *wh);


static ngx_event_t         ngx_http_smsverify_webhook_ev;
static ngx_thread_task_t  *ngx_http_smsverify_webhook_task;


ngx_int_t
ngx_http_smsverify_webhook_init_process(ngx_cycle_t *cycle)
{
    ngx_http_smsverify_webhook_t    *wh;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_smsverify_module);

    if (mcf == NULL || !mcf->used || mcf->webhook_url.len == 0
        || mcf->store == NULL)
    {
        return NGX_OK;
    }

    ngx_http_smsverify_webhook_task = ngx_thread_task_alloc(cycle->pool,
                                        sizeof(ngx_http_smsverify_webhook_t));
    if (ngx_http_smsverify_webhook_task == NULL) {
        return NGX_ERROR;
    }

    wh = ngx_http_smsverify_webhook_task->ctx;
    wh->mcf = mcf;
    wh->conf.url = (char *) mcf->webhook_url.data;
    wh->conf.key = mcf->webhook_key;
    wh->conf.key_len = mcf->webhook_key_len;
    wh->conf.timeout_ms = (long) mcf->webhook_timeout;

    ngx_http_smsverify_webhook_task->handler =
                                        ngx_http_smsverify_webhook_thread;
    ngx_http_smsverify_webhook_task->event.handler =
                                        ngx_http_smsverify_webhook_done;
    ngx_http_smsverify_webhook_task->event.data = wh;
    ngx_http_smsverify_webhook_task->event.log = cycle->log;

    ngx_http_smsverify_webhook_ev.handler = ngx_http_smsverify_webhook_timer;
    ngx_http_smsverify_webhook_ev.data = wh;
    ngx_http_smsverify_webhook_ev.log = cycle->log;
    ngx_http_smsverify_webhook_ev.cancelable = 1;

    /* what came due while nginx was down goes at once */
    ngx_add_timer(&ngx_http_smsverify_webhook_ev, 1);

    return NGX_OK;
}


static void
ngx_http_smsverify_webhook_timer(ngx_event_t *ev)
{
    ngx_http_smsverify_webhook_t  *wh = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate || wh->busy) {
        return;
    }

    if (ngx_thread_task_post(wh->mcf->thread_pool,
                             ngx_http_smsverify_webhook_task)
        != NGX_OK)
    {
        /* the queue is full of requests: they go first */
        ngx_add_timer(ev, NGX_HTTP_SMSVERIFY_WEBHOOK_POLL);
        return;
    }

    wh->busy = 1;
}


static void
ngx_http_smsverify_webhook_thread(void *data, ngx_log_t *log)
{
    ngx_http_smsverify_webhook_t  *wh = data;

    long           status;
    int64_t        lease_ms;
    sv_store_t    *store;
    sv_store_rc_t  rc;

    sv_thread_enter();

    store = wh->mcf->store;
    wh->why[0] = '\0';
    wh->now_ms = sv_clock_ms();

    lease_ms = wh->conf.timeout_ms + SV_OUTBOX_LEASE_MARGIN_MS;

    rc = sv_store_outbox_take(store, wh->now_ms, lease_ms, &wh->ev, wh->err,
                              sizeof(wh->err));
    if (rc != SV_STORE_OK) {
        wh->outcome = NGX_HTTP_SMSVERIFY_WEBHOOK_ERROR;
        return;
    }

    if (!wh->ev.found) {
        wh->outcome = NGX_HTTP_SMSVERIFY_WEBHOOK_NONE;
        return;
    }

    if (sv_webhook_post(&wh->conf, &wh->ev, wh->now_ms / 1000, &status,
                        wh->why, sizeof(wh->why))
        == 0)
    {
        wh->outcome = NGX_HTTP_SMSVERIFY_WEBHOOK_DELIVERED;
        rc = sv_store_outbox_done(store, &wh->ev, wh->err, sizeof(wh->err));

    } else {
        wh->now_ms = sv_clock_ms();
        rc = sv_store_outbox_failed(store, &wh->ev, wh->now_ms, wh->err,
                                    sizeof(wh->err));

        wh->outcome = wh->ev.dropped ? NGX_HTTP_SMSVERIFY_WEBHOOK_DROPPED
                                     : NGX_HTTP_SMSVERIFY_WEBHOOK_RETRY;
    }

    if (rc == SV_STORE_OK) {
        wh->err[0] = '\0';

    } else if (wh->outcome != NGX_HTTP_SMSVERIFY_WEBHOOK_DELIVERED) {
        /* the attempt's failure is not recorded: it comes again */
        wh->outcome = NGX_HTTP_SMSVERIFY_WEBHOOK_ERROR;
    }
}


static void
ngx_http_smsverify_webhook_done(ngx_event_t *ev)
{
    ngx_http_smsverify_webhook_t  *wh = ev->data;

    ngx_msec_t                      next;
    ngx_http_smsverify_counters_t  *c;

    wh->busy = 0;
    c = wh->mcf->counters;

    ngx_http_smsverify_webhook_log(ev->log, wh);

    next = 1;

    switch (wh->outcome) {

    case NGX_HTTP_SMSVERIFY_WEBHOOK_DELIVERED:
        (void) ngx_atomic_fetch_add(&c->webhook_delivered, 1);
        break;

    case NGX_HTTP_SMSVERIFY_WEBHOOK_DROPPED:
        (void) ngx_atomic_fetch_add(&c->webhook_failed, 1);
        break;

    case NGX_HTTP_SMSVERIFY_WEBHOOK_RETRY:
        break;

    default:
        next = NGX_HTTP_SMSVERIFY_WEBHOOK_POLL;
    }

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(&ngx_http_smsverify_webhook_ev, next);
}


static void
ngx_http_smsverify_webhook_log(ngx_log_t *log,
    ngx_http_smsverify_webhook_t *wh)
{
    sv_outbox_event_t  *e = &wh->ev;

    switch (wh->outcome) {

    case NGX_HTTP_SMSVERIFY_WEBHOOK_DELIVERED:
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "smsverify webhook \"%s\" (%s) delivered",
                      e->msg_id, e->type);
        break;

    case NGX_HTTP_SMSVERIFY_WEBHOOK_RETRY:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "smsverify webhook \"%s\" (%s) attempt %ui failed: "
                      "%s; next attempt in %L s",
                      e->msg_id, e->type, (ngx_uint_t) e->attempts, wh->why,
                      (e->next_ms - wh->now_ms + 999) / 1000);
        break;

    case NGX_HTTP_SMSVERIFY_WEBHOOK_DROPPED:
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "smsverify webhook \"%s\" (%s) dropped after %ui "
                      "attempts in three days: %s",
                      e->msg_id, e->type, (ngx_uint_t) e->attempts, wh->why);
        break;

    case NGX_HTTP_SMSVERIFY_WEBHOOK_ERROR:
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "smsverify webhook outbox failed: %s", wh->err);
        break;

    default:
        break;
    }

    if (wh->outcome == NGX_HTTP_SMSVERIFY_WEBHOOK_DELIVERED
        && wh->err[0] != '\0')
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "smsverify webhook \"%s\" delivered, but the outbox "
                      "failed (it may be delivered again): %s",
                      e->msg_id, wh->err);
    }
}
