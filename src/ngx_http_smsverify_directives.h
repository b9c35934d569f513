
/*
 * The directives' handlers that the commands table of
 * ngx_http_smsverify_module.c names: ngx_http_smsverify_directives.c,
 * and the provider directive in ngx_http_smsverify_provider.c.  Above the
 * handler ("smsverify" installs it) and the conf helpers.
 */

#ifndef _NGX_HTTP_SMSVERIFY_DIRECTIVES_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_DIRECTIVES_H_INCLUDED_


#include "ngx_http_smsverify.h"


char *ngx_http_smsverify(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_smsverify_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_message(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_code_length(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_send_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_ip_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_auth_mode(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_session_ttl(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_countries(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_terms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_password_length(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_password_hash(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_cors(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_smsverify_test_number(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* post handlers of nginx's slots */
char *ngx_http_smsverify_code_ttl_check(ngx_conf_t *cf, void *post,
    void *data);
char *ngx_http_smsverify_thread_pool_check(ngx_conf_t *cf, void *post,
    void *data);

/* ngx_http_smsverify_provider.c */
char *ngx_http_smsverify_provider(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_SMSVERIFY_DIRECTIVES_H_INCLUDED_ */
