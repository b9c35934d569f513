
/*
 * The webhooks' delivery in each worker: a timer that posts one task at
 * a time to the pool, which takes the store's next due event, POSTs it
 * signed and marks it delivered or failed.  Calls only the sv_ code.
 */

#ifndef _NGX_HTTP_SMSVERIFY_WEBHOOK_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_WEBHOOK_H_INCLUDED_


#include "ngx_http_smsverify.h"


/* after the store is open (ngx_http_smsverify_init_process()) */
ngx_int_t ngx_http_smsverify_webhook_init_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_SMSVERIFY_WEBHOOK_H_INCLUDED_ */
