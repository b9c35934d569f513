
/*
 * Helpers of the configuration's readers (the directives, the provider
 * directive, the merge): C strings for the plain C parts, where a
 * directive was, secrets read from files.  They return what nginx's
 * directive handlers do: NGX_CONF_OK or NGX_CONF_ERROR.
 */

#ifndef _NGX_HTTP_SMSVERIFY_CONF_H_INCLUDED_
#define _NGX_HTTP_SMSVERIFY_CONF_H_INCLUDED_


#include "ngx_http_smsverify.h"


/* a NUL-terminated copy in place of s */
char *ngx_http_smsverify_cstr(ngx_conf_t *cf, ngx_str_t *s);

/* the file and line of the directive being read */
void ngx_http_smsverify_conf_pos(ngx_conf_t *cf,
    ngx_http_smsverify_conf_pos_t *pos);

/* a provider's secret: the file's first line, NUL-terminated, in *secret */
char *ngx_http_smsverify_read_secret_file(ngx_conf_t *cf, ngx_str_t *name,
    char **secret);

/* the server key: the file's first SV_KEY_SIZE bytes; name made full */
char *ngx_http_smsverify_read_key_file(ngx_conf_t *cf, ngx_str_t *name,
    u_char *key);


#endif /* _NGX_HTTP_SMSVERIFY_CONF_H_INCLUDED_ */
