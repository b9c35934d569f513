
/*
 * Helpers of the configuration's readers.
 */

#include "ngx_http_smsverify_conf.h"


/* a NUL-terminated copy in place of s, for the plain C parts */

char *
ngx_http_smsverify_cstr(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool, s->len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';
    s->data = p;

    return NGX_CONF_OK;
}


void
ngx_http_smsverify_conf_pos(ngx_conf_t *cf,
    ngx_http_smsverify_conf_pos_t *pos)
{
    pos->file = cf->conf_file->file.name.data;
    pos->line = cf->conf_file->line;
}


/* a provider's secret: the file's first line, without the line end */

char *
ngx_http_smsverify_read_secret_file(ngx_conf_t *cf, ngx_str_t *name,
    char **secret)
{
    u_char           *buf, *p;
    ssize_t           n;
    ngx_str_t         path;
    ngx_file_t        file;
    ngx_file_info_t   fi;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", path.data);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 4096)
    {
        ngx_close_file(file.fd);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is not a small file",
                           path.data);
        return NGX_CONF_ERROR;
    }

    buf = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (buf == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, buf, ngx_file_size(&fi), 0);
    ngx_close_file(file.fd);

    if (n < 0) {
        return NGX_CONF_ERROR;
    }

    p = buf;
    while (p < buf + n && *p != CR && *p != LF) {
        p++;
    }

    *p = '\0';

    if (p == buf) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is empty", path.data);
        return NGX_CONF_ERROR;
    }

    *secret = (char *) buf;

    return NGX_CONF_OK;
}


/* the server key: the first SV_KEY_SIZE bytes; the copy read is wiped */

char *
ngx_http_smsverify_read_key_file(ngx_conf_t *cf, ngx_str_t *name,
    u_char *key)
{
    u_char      *buf;
    ssize_t      n;
    ngx_file_t   file;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *name;
    file.log = cf->log;

    file.fd = ngx_open_file(file.name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", file.name.data);
        return NGX_CONF_ERROR;
    }

    buf = ngx_pnalloc(cf->temp_pool, SV_KEY_SIZE);
    if (buf == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_file(&file, buf, SV_KEY_SIZE, 0);
    ngx_close_file(file.fd);

    if (n != SV_KEY_SIZE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" must hold at least %d bytes",
                           file.name.data, SV_KEY_SIZE);
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(key, buf, SV_KEY_SIZE);
    ngx_explicit_memzero(buf, SV_KEY_SIZE);

    return NGX_CONF_OK;
}
