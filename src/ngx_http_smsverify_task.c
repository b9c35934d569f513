
/*
 * Thread pool plumbing: post a request's work, keep the request alive
 * while a pool thread runs it, resume the request on the event loop.
 * Store work goes in batches: one in the pool at a time per worker, the
 * requests that come meanwhile queued for the next.
 */

#include "ngx_http_smsverify_task.h"
#include "ngx_http_smsverify_ctx.h"


/* bounds the wait of a stuck task; see ngx_http_smsverify_guard() */
#define NGX_HTTP_SMSVERIFY_GUARD           3600000

/* how soon a batch the pool's queue refused is posted again */
#define NGX_HTTP_SMSVERIFY_BATCH_RETRY     10


typedef struct {
    ngx_http_smsverify_thread_pt   handler;
    void                          *data;
} ngx_http_smsverify_task_ctx_t;


/*
 * A batch in the pool: its own memory, freed by its completion, as the
 * requests in it may end in any order while it is answered.
 */
typedef struct {
    ngx_thread_task_t              task;
    sv_store_t                    *store;
    ngx_uint_t                     n;
    ngx_http_request_t           **requests;
    sv_store_op_t                 *ops;
} ngx_http_smsverify_batch_t;


/* the worker's: whether a batch is in the pool, and who waits for it */
typedef struct {
    ngx_queue_t                    queue;
    ngx_uint_t                     queued;
    ngx_event_t                    retry;
    unsigned                       running:1;
    unsigned                       ready:1;
} ngx_http_smsverify_batches_t;


static void ngx_http_smsverify_task_hold(ngx_http_request_t *r);
static void ngx_http_smsverify_task_thread(void *data, ngx_log_t *log);
static void ngx_http_smsverify_task_event(ngx_event_t *ev);
static void ngx_http_smsverify_task_resume(ngx_http_request_t *r);
static ngx_int_t ngx_http_smsverify_batch_post(ngx_log_t *log);
static void ngx_http_smsverify_batch_thread(void *data, ngx_log_t *log);
static void ngx_http_smsverify_batch_event(ngx_event_t *ev);
static void ngx_http_smsverify_batch_next(ngx_log_t *log);
static void ngx_http_smsverify_batch_retry(ngx_event_t *ev);
static void ngx_http_smsverify_guard(ngx_event_t *ev);


static ngx_http_smsverify_batches_t  ngx_http_smsverify_batches;


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

    ngx_http_smsverify_task_hold(r);

    return NGX_OK;
}


ngx_int_t
ngx_http_smsverify_task_post_store(ngx_http_request_t *r)
{
    ngx_http_smsverify_ctx_t        *ctx;
    ngx_http_smsverify_batches_t    *bs;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    if (!sv_store_batches(mcf->store)) {
        return ngx_http_smsverify_task_post(r);
    }

    ctx = ngx_http_smsverify_ctx(r);
    ctx->batch_request = r;
    bs = &ngx_http_smsverify_batches;

    if (!bs->ready) {
        ngx_queue_init(&bs->queue);
        bs->retry.handler = ngx_http_smsverify_batch_retry;
        bs->ready = 1;
    }

    if (bs->running) {

        /* it goes with the next batch, once the one in the pool is done */

        if (bs->queued >= mcf->batch_queue) {
            return NGX_BUSY;
        }

        ngx_queue_insert_tail(&bs->queue, &ctx->batch_link);
        bs->queued++;

        ngx_http_smsverify_task_hold(r);

        return NGX_OK;
    }

    /* nothing in the pool: a batch of one, at once */

    ngx_queue_insert_tail(&bs->queue, &ctx->batch_link);
    bs->queued = 1;

    if (ngx_http_smsverify_batch_post(r->connection->log) != NGX_OK) {
        ngx_queue_remove(&ctx->batch_link);
        bs->queued = 0;
        return NGX_BUSY;
    }

    ngx_http_smsverify_task_hold(r);

    return NGX_OK;
}


static void
ngx_http_smsverify_task_hold(ngx_http_request_t *r)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);

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
    ngx_http_smsverify_task_resume(ev->data);
}


static void
ngx_http_smsverify_task_resume(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_connection_t               *c;
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_task_ctx_t  *tctx;

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


/*
 * The queued requests as one batch, to the pool of the first one's
 * location; they leave the queue only once it is posted.
 */
static ngx_int_t
ngx_http_smsverify_batch_post(ngx_log_t *log)
{
    ngx_uint_t                       i;
    ngx_queue_t                     *q;
    ngx_http_request_t              *r;
    ngx_http_smsverify_ctx_t        *ctx;
    ngx_http_smsverify_batch_t      *b;
    ngx_http_smsverify_batches_t    *bs;
    ngx_http_smsverify_task_ctx_t   *tctx;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    bs = &ngx_http_smsverify_batches;

    b = ngx_calloc(sizeof(ngx_http_smsverify_batch_t)
                   + bs->queued * (sizeof(ngx_http_request_t *)
                                   + sizeof(sv_store_op_t)), log);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->ops = (sv_store_op_t *) (b + 1);
    b->requests = (ngx_http_request_t **) (b->ops + bs->queued);

    for (q = ngx_queue_head(&bs->queue), i = 0;
         q != ngx_queue_sentinel(&bs->queue);
         q = ngx_queue_next(q), i++)
    {
        ctx = ngx_queue_data(q, ngx_http_smsverify_ctx_t, batch_link);
        tctx = ctx->task->ctx;

        b->ops[i].run = tctx->handler;
        b->ops[i].data = tctx->data;
        b->requests[i] = ctx->batch_request;
    }

    b->n = i;
    r = b->requests[0];

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    b->store = mcf->store;
    b->task.ctx = b;
    b->task.handler = ngx_http_smsverify_batch_thread;
    b->task.event.handler = ngx_http_smsverify_batch_event;
    b->task.event.data = b;

    if (ngx_thread_task_post(lcf->thread_pool, &b->task) != NGX_OK) {
        ngx_free(b);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "smsverify batch of %ui posted", b->n);

    ngx_queue_init(&bs->queue);
    bs->queued = 0;
    bs->running = 1;

    return NGX_OK;
}
static void
ngx_http_smsverify_batch_thread(void *data, ngx_log_t *log)
{
    ngx_http_smsverify_batch_t  *b = data;

    /* only plain C from here, as for a task alone */

    sv_store_batch_run(b->store, b->ops, b->n);
}


static void
ngx_http_smsverify_batch_event(ngx_event_t *ev)
{
    ngx_uint_t                   i;
    ngx_http_smsverify_batch_t  *b = ev->data;

    /*
     * Each answered as a task alone is.  The batch is still running
     * meanwhile: what the answers post queues for the next one.
     */

    for (i = 0; i < b->n; i++) {
        ngx_http_smsverify_task_resume(b->requests[i]);
    }

    ngx_free(b);

    ngx_http_smsverify_batches.running = 0;

    ngx_http_smsverify_batch_next(ngx_cycle->log);
}


/* whatever queued meanwhile goes now, or soon if the pool takes no more */

static void
ngx_http_smsverify_batch_next(ngx_log_t *log)
{
    ngx_http_smsverify_batches_t  *bs;

    bs = &ngx_http_smsverify_batches;

    if (bs->queued == 0) {
        return;
    }

    if (ngx_http_smsverify_batch_post(log) == NGX_OK) {
        return;
    }

    /* held meanwhile: what comes queues, as behind a batch in the pool */

    bs->running = 1;
    bs->retry.log = ngx_cycle->log;
    ngx_add_timer(&bs->retry, NGX_HTTP_SMSVERIFY_BATCH_RETRY);
}


static void
ngx_http_smsverify_batch_retry(ngx_event_t *ev)
{
    ngx_http_smsverify_batches.running = 0;
    ngx_http_smsverify_batch_next(ev->log);
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
