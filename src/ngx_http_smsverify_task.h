
/*
 * Thread pool plumbing: a request's work posted to the location's pool,
 * the request kept alive while a pool thread runs it, resumed on the
 * event loop by the done handler, whose rc finalizes it.  Beside the
 * response at the bottom: it answers nothing itself.
 */

#ifndef _NGX_HTTP_SMSVERIFY_TASK_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_TASK_H_INCLUDED_


#include "ngx_http_smsverify.h"


/* what a batch's pool thread runs: the jobs' data in ops[i].data */
typedef void (*ngx_http_smsverify_batch_pt)(sv_store_t *store,
    sv_store_op_t *ops, size_t n);


/* the job (size bytes, zeroed) thread and done share; NULL: no memory */
void *ngx_http_smsverify_task_alloc(ngx_http_request_t *r, size_t size,
    ngx_http_smsverify_thread_pt thread, ngx_http_smsverify_done_pt done);

/* the job of the request's task, as task_alloc() gave it */
void *ngx_http_smsverify_task_data(ngx_http_request_t *r);

/*
 * NGX_OK: posted, the request waits for the task (return NGX_DONE);
 * NGX_BUSY: the pool's queue took no more, nothing runs.
 */
ngx_int_t ngx_http_smsverify_task_post(ngx_http_request_t *r);

/*
 * The same, for a job whose thread half makes store calls only (no
 * provider, no bcrypt): while a batch of the worker's is in the pool, it
 * waits in the worker's queue (smsverify_batch_queue) and goes with the
 * others queued meanwhile in the next batch, one transaction
 * (sv_store_batch_run()); with nothing in the pool it goes at once, a
 * batch of one.  NGX_BUSY: the pool's queue or the worker's is full,
 * nothing runs.  A store that does not batch: task_post().
 */
ngx_int_t ngx_http_smsverify_task_post_store(ngx_http_request_t *r);

/*
 * task_post_store() for a confirm whose thread half is
 * sv_store_confirm_op(op): on a store that batches confirms only
 * (PostgreSQL, sv_store_batches_confirms()) it goes in a batch too, with
 * the other confirms of the worker.
 */
ngx_int_t ngx_http_smsverify_task_post_confirm(ngx_http_request_t *r,
    sv_store_confirm_op_t *op);

/*
 * Likewise for a session's use whose thread half is
 * sv_store_session_op(op) (sv_store_batches_sessions()).
 */
ngx_int_t ngx_http_smsverify_task_post_session(ngx_http_request_t *r,
    sv_store_session_op_t *op);

/*
 * The same for a send that asks providers, in a lane of its own and with
 * either store: the worker's sends queued meanwhile go together as one
 * task running run() over their jobs (ops[i].data), which makes their
 * store calls in batches (sv_store_batch_run()) and their provider calls
 * side by side.  NGX_BUSY as for task_post_store().
 */
ngx_int_t ngx_http_smsverify_task_post_send(ngx_http_request_t *r,
    ngx_http_smsverify_batch_pt run);


#endif /* _NGX_HTTP_SMSVERIFY_TASK_H_INCLUDED_ */
