
/*
 * Thread pool plumbing: post a request's work, keep the request alive
 * while a pool thread runs it, resume the request on the event loop.
 */

#include "ngx_http_smsverify_task.h"
#include "ngx_http_smsverify_ctx.h"


/* bounds the wait of a stuck task; see ngx_http_smsverify_guard() */
#define NGX_HTTP_SMSVERIFY_GUARD           3600000

static void ngx_http_smsverify_task_thread(void *data, ngx_log_t *log);
static void ngx_http_smsverify_task_event(ngx_event_t *ev);
static void ngx_http_smsverify_guard(ngx_event_t *ev);


typedef struct {
    ngx_http_smsverify_thread_pt   handler;
    void                          *data;
} ngx_http_smsverify_task_ctx_t;


void *
ngx_http_smsverify_task_alloc(ngx_http_request_t *r, size_t size,
    ngx_http_smsverify_thread_pt thread, ngx_http_smsverify_done_pt done)
{
    void                           *data;
    ngx_thread_task_t              *task;
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_task_ctx_t  *tctx;

    ctx = ngx_http_smsverify_ctx(r);

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_smsverify_task_ctx_t));
    if (task == NULL) {
        return NULL;
    }

    data = ngx_pcalloc(r->pool, size);
    if (data == NULL) {
        return NULL;
    }

    tctx = task->ctx;
    tctx->handler = thread;
    tctx->data = data;

    task->handler = ngx_http_smsverify_task_thread;
    task->event.handler = ngx_http_smsverify_task_event;
    task->event.data = r;

    ctx->task = task;
    ctx->done_handler = done;

    return data;
}


void *
ngx_http_smsverify_task_data(ngx_http_request_t *r)
{
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_task_ctx_t  *tctx;

    ctx = ngx_http_smsverify_ctx(r);
    tctx = ctx->task->ctx;

    return tctx->data;
}


ngx_int_t
ngx_http_smsverify_task_post(ngx_http_request_t *r)
{
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_loc_conf_t  *lcf;

    ctx = ngx_http_smsverify_ctx(r);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    if (ngx_thread_task_post(lcf->thread_pool, ctx->task) != NGX_OK) {
        return NGX_BUSY;
    }

    /*
     * The request must outlive the task: "blocked" stops nginx from
     * freeing it if the client goes away, and the guard timer keeps a
     * gracefully exiting worker alive until the task has answered.
     */

    r->main->blocked++;
    r->aio = 1;

    /*
     * Only the task's completion may answer: a write event can arrive at
     * any time (epoll keeps reporting EPOLLOUT on a connection that once
     * met EAGAIN), so the write handler is parked, as nginx's own thread
     * handlers do.  A client that goes away is still noticed by reading.
     */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ctx->guard.handler = ngx_http_smsverify_guard;
    ctx->guard.data = r;
    ctx->guard.log = r->connection->log;
    ngx_add_timer(&ctx->guard, NGX_HTTP_SMSVERIFY_GUARD);

    return NGX_OK;
}


static void
ngx_http_smsverify_task_thread(void *data, ngx_log_t *log)
{
    ngx_http_smsverify_task_ctx_t  *tctx = data;

    /* only plain C from here: no request, no pool, no request log */

    tctx->handler(tctx->data);
}


static void
ngx_http_smsverify_task_event(ngx_event_t *ev)
{
    ngx_int_t                       rc;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_task_ctx_t  *tctx;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ctx = ngx_http_smsverify_ctx(r);
    tctx = ctx->task->ctx;

    if (ctx->guard.timer_set) {
        ngx_del_timer(&ctx->guard);
    }

    r->main->blocked--;
    r->aio = 0;

    if (r->write_event_handler == ngx_http_request_empty_handler) {
        rc = ctx->done_handler(r, tctx->data);
        ngx_http_finalize_request(r, rc);

    } else {

        /*
         * The client went away meanwhile and nginx replaced the parked
         * handler with its finalizer: the result is still counted and
         * logged, but not answered, and the request is finalized once.
         */

        ctx->client_gone = 1;
        (void) ctx->done_handler(r, tctx->data);

        r->write_event_handler(r);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_smsverify_guard(ngx_event_t *ev)
{
    ngx_http_request_t  *r = ev->data;

    /* a task never takes this long: say so, and keep waiting for it */

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "smsverify task still running after %M ms",
                  (ngx_msec_t) NGX_HTTP_SMSVERIFY_GUARD);

    ngx_add_timer(ev, NGX_HTTP_SMSVERIFY_GUARD);
}
