
/*
 * Who the request is: the session of its smsverify_session cookie, looked
 * up in the store: on the event loop where the store's reads never wait
 * (LMDB), else in the pool, and a stale session's last use written in
 * the pool, both with the worker's store batches where the store batches
 * session uses.  Above the request: it calls that, the task and the
 * response.
 */

#ifndef _NGX_HTTP_SMSVERIFY_LOOKUP_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_LOOKUP_H_INCLUDED_


#include "ngx_http_smsverify.h"


typedef struct {
    sv_store_t                 *store;
    uint8_t                     hash[SV_HASH_SIZE];
    sv_session_get_t            get;        /* get.member: who it is */
    sv_store_session_op_t       op;         /* looked: get ran on the loop */

    sv_store_rc_t               rc;         /* OK, NO_SESSION, a failure */
    char                        err[256];
} ngx_http_smsverify_lookup_t;


/*
 * The lookup of the request's session, in *lookup (the request's task
 * job).  NGX_OK: done on the event loop, (*lookup)->rc says what it
 * found (NO_SESSION, without asking the store, for a request without a
 * session cookie).  NGX_AGAIN: a task is posted, done gets the lookup.
 * NGX_BUSY: the pool took no more.  NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_smsverify_lookup(ngx_http_request_t *r,
    ngx_http_smsverify_done_pt done, ngx_http_smsverify_lookup_t **lookup);


#endif /* _NGX_HTTP_SMSVERIFY_LOOKUP_H_INCLUDED_ */
