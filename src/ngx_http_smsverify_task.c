
/*
 * Thread pool plumbing: post a request's work, keep the request alive
 * while a pool thread runs it, resume the request on the event loop.
 * Store work and sends go in batches, each in its lane: one batch of a
 * lane in the pool at a time per worker, the requests that come
 * meanwhile queued for the lane's next.
 */

#include "ngx_http_smsverify_task.h"
#include "ngx_http_smsverify_ctx.h"
#include "sv_thread.h"


/* bounds the wait of a stuck task; see ngx_http_smsverify_guard() */
#define NGX_HTTP_SMSVERIFY_GUARD           3600000

/* how soon a batch the pool's queue refused is posted again */
#define NGX_HTTP_SMSVERIFY_BATCH_RETRY     10

/*
 * Sends: with a batch in the pool for this long (a slow provider), the
 * ones queued meanwhile go as another batch beside it, up to this many
 * in the pool at once; past them they wait for one to end.
 */
#define NGX_HTTP_SMSVERIFY_SEND_AFTER      20
#define NGX_HTTP_SMSVERIFY_SEND_BATCHES    16


typedef struct {
    ngx_http_smsverify_thread_pt   handler;
    void                          *data;
    sv_store_confirm_op_t         *confirm;     /* what handler is, or NULL */
    sv_store_session_op_t         *session;     /* likewise */
} ngx_http_smsverify_task_ctx_t;


/*
 * A batch in the pool: its own memory, freed by its completion, as the
 * requests in it may end in any order while it is answered.
 */
typedef struct ngx_http_smsverify_lane_s  ngx_http_smsverify_lane_t;

typedef struct {
    ngx_thread_task_t              task;
    ngx_http_smsverify_lane_t     *lane;
    ngx_queue_t                    link;        /* in the lane's pool */
    ngx_msec_t                     posted;
    sv_store_t                    *store;
    ngx_uint_t                     n;
    ngx_http_request_t           **requests;
    sv_store_op_t                 *ops;
} ngx_http_smsverify_batch_t;


/* a lane of the worker's: its batches in the pool, who waits for them */
struct ngx_http_smsverify_lane_s {
    ngx_queue_t                    queue;
    ngx_uint_t                     queued;
    ngx_event_t                    retry;       /* posts what queued */
    ngx_http_smsverify_batch_pt    run;
    ngx_queue_t                    pool;        /* its batches there */
    ngx_uint_t                     running;     /* how many */
    ngx_uint_t                     max;         /* at most at once */
    ngx_msec_t                     after;       /* see SEND_AFTER; 0: never */
    unsigned                       refused:1;   /* the pool took no more */
    unsigned                       ready:1;
};


static void ngx_http_smsverify_task_hold(ngx_http_request_t *r);
static void ngx_http_smsverify_task_thread(void *data, ngx_log_t *log);
static void ngx_http_smsverify_task_event(ngx_event_t *ev);
static void ngx_http_smsverify_task_resume(ngx_http_request_t *r);
static ngx_http_smsverify_task_ctx_t *ngx_http_smsverify_task_ctx(
    ngx_http_request_t *r);
static sv_store_t *ngx_http_smsverify_task_store(ngx_http_request_t *r);
static ngx_int_t ngx_http_smsverify_store_lane_post(ngx_http_request_t *r,
    int batches);
static ngx_int_t ngx_http_smsverify_lane_post(ngx_http_request_t *r,
    ngx_http_smsverify_lane_t *lane, ngx_http_smsverify_batch_pt run);
static ngx_int_t ngx_http_smsverify_lane_may_post(
    ngx_http_smsverify_lane_t *lane);
static void ngx_http_smsverify_lane_later(ngx_http_smsverify_lane_t *lane);
static ngx_msec_t ngx_http_smsverify_lane_newest(
    ngx_http_smsverify_lane_t *lane);
static ngx_int_t ngx_http_smsverify_batch_post(
    ngx_http_smsverify_lane_t *lane, ngx_log_t *log);
static void ngx_http_smsverify_batch_thread(void *data, ngx_log_t *log);
static void ngx_http_smsverify_batch_event(ngx_event_t *ev);
static void ngx_http_smsverify_batch_next(ngx_http_smsverify_lane_t *lane,
    ngx_log_t *log);
static void ngx_http_smsverify_batch_retry(ngx_event_t *ev);
static void ngx_http_smsverify_batch_try(ngx_http_smsverify_lane_t *lane,
    ngx_log_t *log);
static void ngx_http_smsverify_guard(ngx_event_t *ev);


/* store-only jobs; sends that ask providers */
static ngx_http_smsverify_lane_t  ngx_http_smsverify_store_lane;
static ngx_http_smsverify_lane_t  ngx_http_smsverify_send_lane;


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
    return ngx_http_smsverify_task_ctx(r)->data;
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
    return ngx_http_smsverify_store_lane_post(r,
               sv_store_batches(ngx_http_smsverify_task_store(r)));
}


ngx_int_t
ngx_http_smsverify_task_post_confirm(ngx_http_request_t *r,
    sv_store_confirm_op_t *op)
{
    ngx_http_smsverify_task_ctx(r)->confirm = op;

    return ngx_http_smsverify_store_lane_post(r,
               sv_store_batches_confirms(ngx_http_smsverify_task_store(r)));
}


ngx_int_t
ngx_http_smsverify_task_post_session(ngx_http_request_t *r,
    sv_store_session_op_t *op)
{
    ngx_http_smsverify_task_ctx(r)->session = op;

    return ngx_http_smsverify_store_lane_post(r,
               sv_store_batches_sessions(ngx_http_smsverify_task_store(r)));
}


static ngx_http_smsverify_task_ctx_t *
ngx_http_smsverify_task_ctx(ngx_http_request_t *r)
{
    ngx_http_smsverify_ctx_t  *ctx;

    ctx = ngx_http_smsverify_ctx(r);

    return ctx->task->ctx;
}


static sv_store_t *
ngx_http_smsverify_task_store(ngx_http_request_t *r)
{
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    return mcf->store;
}


/* in the store lane where the store batches such jobs, else alone */

static ngx_int_t
ngx_http_smsverify_store_lane_post(ngx_http_request_t *r, int batches)
{
    if (!batches) {
        return ngx_http_smsverify_task_post(r);
    }

    ngx_http_smsverify_store_lane.max = 1;

    return ngx_http_smsverify_lane_post(r, &ngx_http_smsverify_store_lane,
                                        sv_store_batch_run);
}


ngx_int_t
ngx_http_smsverify_task_post_send(ngx_http_request_t *r,
    ngx_http_smsverify_batch_pt run)
{
    ngx_http_smsverify_send_lane.max = NGX_HTTP_SMSVERIFY_SEND_BATCHES;
    ngx_http_smsverify_send_lane.after = NGX_HTTP_SMSVERIFY_SEND_AFTER;

    return ngx_http_smsverify_lane_post(r, &ngx_http_smsverify_send_lane,
                                        run);
}


static ngx_int_t
ngx_http_smsverify_lane_post(ngx_http_request_t *r,
    ngx_http_smsverify_lane_t *bs, ngx_http_smsverify_batch_pt run)
{
    ngx_http_smsverify_ctx_t        *ctx;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    ctx = ngx_http_smsverify_ctx(r);
    ctx->batch_request = r;

    if (!bs->ready) {
        ngx_queue_init(&bs->queue);
        ngx_queue_init(&bs->pool);
        bs->retry.handler = ngx_http_smsverify_batch_retry;
        bs->retry.data = bs;
        bs->run = run;
        bs->ready = 1;
    }

    if (!ngx_http_smsverify_lane_may_post(bs)) {

        /* it goes with the next batch, once the one in the pool is done */

        if (bs->queued >= mcf->batch_queue) {
            return NGX_BUSY;
        }

        ngx_queue_insert_tail(&bs->queue, &ctx->batch_link);
        bs->queued++;

        ngx_http_smsverify_task_hold(r);
        ngx_http_smsverify_lane_later(bs);

        return NGX_OK;
    }

    /* nothing in the pool (or only slow batches): with what waits, at once */

    ngx_queue_insert_tail(&bs->queue, &ctx->batch_link);
    bs->queued++;

    if (ngx_http_smsverify_batch_post(bs, r->connection->log) != NGX_OK) {
        ngx_queue_remove(&ctx->batch_link);
        bs->queued--;
        ngx_http_smsverify_lane_later(bs);
        return NGX_BUSY;
    }

    ngx_http_smsverify_task_hold(r);

    return NGX_OK;
}


/*
 * Whether a batch may go now: none in the pool, or (sends) fewer than
 * max, the newest of them there for "after" ms; never while a refused
 * batch waits for its retry.
 */

static ngx_int_t
ngx_http_smsverify_lane_may_post(ngx_http_smsverify_lane_t *bs)
{
    if (bs->refused) {
        return 0;
    }

    if (bs->running == 0) {
        return 1;
    }

    return bs->running < bs->max
           && ngx_current_msec - ngx_http_smsverify_lane_newest(bs)
              >= bs->after;
}


/* when the newest of the lane's batches in the pool went (one is there) */

static ngx_msec_t
ngx_http_smsverify_lane_newest(ngx_http_smsverify_lane_t *bs)
{
    ngx_http_smsverify_batch_t  *b;

    b = ngx_queue_data(ngx_queue_last(&bs->pool), ngx_http_smsverify_batch_t,
                       link);

    return b->posted;
}


/* what queued goes once the newest batch ran "after" ms, if it may then */

static void
ngx_http_smsverify_lane_later(ngx_http_smsverify_lane_t *bs)
{
    ngx_msec_t  ran;

    if (bs->queued == 0 || bs->refused || bs->retry.timer_set
        || bs->running == 0 || bs->running >= bs->max)
    {
        /* a batch's end posts them (none in the pool: a retry did) */
        return;
    }

    ran = ngx_current_msec - ngx_http_smsverify_lane_newest(bs);

    bs->retry.log = ngx_cycle->log;
    ngx_add_timer(&bs->retry, ran >= bs->after ? 1 : bs->after - ran);
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

    sv_thread_enter();
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
ngx_http_smsverify_batch_post(ngx_http_smsverify_lane_t *bs, ngx_log_t *log)
{
    ngx_uint_t                       i;
    ngx_queue_t                     *q;
    ngx_http_request_t              *r;
    ngx_http_smsverify_ctx_t        *ctx;
    ngx_http_smsverify_batch_t      *b;
    ngx_http_smsverify_task_ctx_t   *tctx;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

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
        b->ops[i].confirm = tctx->confirm;
        b->ops[i].session = tctx->session;
        b->requests[i] = ctx->batch_request;
    }

    b->n = i;
    r = b->requests[0];

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);
    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    b->lane = bs;
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
    b->posted = ngx_current_msec;
    ngx_queue_insert_tail(&bs->pool, &b->link);
    bs->running++;

    return NGX_OK;
}
static void
ngx_http_smsverify_batch_thread(void *data, ngx_log_t *log)
{
    ngx_http_smsverify_batch_t  *b = data;

    /* only plain C from here, as for a task alone */

    sv_thread_enter();
    b->lane->run(b->store, b->ops, b->n);
}


static void
ngx_http_smsverify_batch_event(ngx_event_t *ev)
{
    ngx_uint_t                   i;
    ngx_http_smsverify_lane_t   *lane;
    ngx_http_smsverify_batch_t  *b = ev->data;

    /*
     * Each answered as a task alone is.  The batch is still running
     * meanwhile: what the answers post queues for the next one.
     */

    for (i = 0; i < b->n; i++) {
        ngx_http_smsverify_task_resume(b->requests[i]);
    }

    lane = b->lane;
    ngx_queue_remove(&b->link);
    ngx_free(b);

    lane->running--;

    ngx_http_smsverify_batch_next(lane, ngx_cycle->log);
}


/*
 * A batch ended: whatever queued meanwhile goes now, or soon if the pool
 * takes no more.
 */

static void
ngx_http_smsverify_batch_next(ngx_http_smsverify_lane_t *bs, ngx_log_t *log)
{
    if (bs->queued == 0 || bs->refused) {
        return;
    }

    /* they waited for a batch to end: no more for the bound of a slow one */

    if (bs->retry.timer_set) {
        ngx_del_timer(&bs->retry);
    }

    ngx_http_smsverify_batch_try(bs, log);
}


/* a refused batch again, or the bound of a slow one passed */

static void
ngx_http_smsverify_batch_retry(ngx_event_t *ev)
{
    ngx_http_smsverify_lane_t  *bs = ev->data;

    if (bs->queued == 0) {
        return;
    }

    bs->refused = 0;

    if (!ngx_http_smsverify_lane_may_post(bs)) {
        /* as many in the pool as may be: the next end posts them */
        ngx_http_smsverify_lane_later(bs);
        return;
    }

    ngx_http_smsverify_batch_try(bs, ev->log);
}


/* what queued, to the pool; if it takes no more, again soon */

static void
ngx_http_smsverify_batch_try(ngx_http_smsverify_lane_t *bs,
    ngx_log_t *log)
{
    if (bs->queued == 0
        || ngx_http_smsverify_batch_post(bs, log) == NGX_OK)
    {
        return;
    }

    /* held meanwhile: what comes queues, as behind a batch in the pool */

    bs->refused = 1;
    bs->retry.log = ngx_cycle->log;
    ngx_add_timer(&bs->retry, NGX_HTTP_SMSVERIFY_BATCH_RETRY);
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
