
/*
 * The module's life in nginx's processes: the counters' shared zone, the
 * store's directory and the server key in the master, the store and its
 * periodic sync and sweep in each worker.  Calls only the sv_ code.
 */

#ifndef _NGX_HTTP_SMSVERIFY_PROCESS_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_PROCESS_H_INCLUDED_


#include "ngx_http_smsverify.h"


ngx_int_t ngx_http_smsverify_init_zone(ngx_shm_zone_t *shm_zone, void *data);
ngx_int_t ngx_http_smsverify_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_http_smsverify_init_process(ngx_cycle_t *cycle);
void ngx_http_smsverify_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_SMSVERIFY_PROCESS_H_INCLUDED_ */
