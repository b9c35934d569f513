
/*
 * The smsverify_provider directive: parameters, secrets from files, and
 * the checks that make a bad provider a configuration error.
 */

#include "ngx_http_smsverify_conf.h"
#include "ngx_http_smsverify_directives.h"


static char *ngx_http_smsverify_provider_param(ngx_conf_t *cf,
    sv_provider_t *p, ngx_str_t *name, ngx_str_t *value);
static char *ngx_http_smsverify_provider_check(ngx_conf_t *cf,
    sv_provider_t *p);
static ngx_uint_t ngx_http_smsverify_sender_valid(sv_provider_t *p);
static void ngx_http_smsverify_log_write(void *data, const char *line,
    size_t len);


char *
ngx_http_smsverify_provider(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    u_char                          *eq;
    ngx_str_t                       *value, name, val;
    ngx_uint_t                       i, t;
    sv_provider_t                   *p;
    ngx_http_smsverify_main_conf_t  *mcf;

    value = cf->args->elts;

    for (t = 0; t < SV_PROVIDER_NTYPES; t++) {
        if (ngx_strcmp(value[1].data, sv_provider_name(t)) == 0) {
            break;
        }
    }

    if (t == SV_PROVIDER_NTYPES) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown provider \"%V\", it must be \"sens\", "
                           "\"cafe24\" or \"log\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (lcf->providers == NGX_CONF_UNSET_PTR) {
        lcf->providers = ngx_array_create(cf->pool, 2, sizeof(sv_provider_t));
        if (lcf->providers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    p = ngx_array_push(lcf->providers);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(p, sizeof(sv_provider_t));
    p->type = t;
    p->timeout_ms = 5000;

    for (i = 2; i < cf->args->nelts; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');

        if (eq == NULL || eq == value[i].data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        name.data = value[i].data;
        name.len = eq - value[i].data;
        val.data = eq + 1;
        val.len = value[i].data + value[i].len - val.data;

        if (ngx_http_smsverify_provider_param(cf, p, &name, &val)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_smsverify_provider_check(cf, p) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_smsverify_module);
    mcf->provider_types |= 1 << t;

    /* init_module warns once, naming the first of them */
    if (t == SV_PROVIDER_LOG && mcf->log_provider_pos.file == NULL) {
        ngx_http_smsverify_conf_pos(cf, &mcf->log_provider_pos);
    }

    return NGX_CONF_OK;
}


#define ngx_http_smsverify_param_is(s, literal)                              \
    ((s)->len == sizeof(literal) - 1                                         \
     && ngx_strncmp((s)->data, literal, sizeof(literal) - 1) == 0)


static char *
ngx_http_smsverify_provider_param(ngx_conf_t *cf, sv_provider_t *p,
    ngx_str_t *name, ngx_str_t *value)
{
    char         *s;
    ngx_msec_t    ms;
    const char  **field;

    field = NULL;

    if (p->type == SV_PROVIDER_LOG) {
        goto invalid;
    }

    if (ngx_http_smsverify_param_is(name, "timeout")) {
        ms = ngx_parse_time(value, 0);

        if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
            goto invalid;
        }

        p->timeout_ms = (long) ms;
        return NGX_CONF_OK;
    }

    if (p->type == SV_PROVIDER_CAFE24
        && ngx_http_smsverify_param_is(name, "testflag"))
    {
        if (ngx_http_smsverify_param_is(value, "on")) {
            p->testflag = 1;

        } else if (!ngx_http_smsverify_param_is(value, "off")) {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (ngx_http_smsverify_param_is(name, "url")) {
        field = &p->url;

    } else if (ngx_http_smsverify_param_is(name, "from")) {
        field = &p->from;

    } else if (p->type == SV_PROVIDER_SENS) {

        if (ngx_http_smsverify_param_is(name, "service_id")) {
            field = &p->service_id;

        } else if (ngx_http_smsverify_param_is(name, "access_key")) {
            field = &p->access_key;

        } else if (ngx_http_smsverify_param_is(name, "secret_key")) {
            field = &p->secret_key;

        } else if (ngx_http_smsverify_param_is(name, "secret_key_file")) {
            if (ngx_http_smsverify_read_secret_file(cf, value, &s)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            p->secret_key = s;
            return NGX_CONF_OK;
        }

    } else { /* SV_PROVIDER_CAFE24 */

        if (ngx_http_smsverify_param_is(name, "user_id")) {
            field = &p->user_id;

        } else if (ngx_http_smsverify_param_is(name, "secure_key")) {
            field = &p->secure_key;

        } else if (ngx_http_smsverify_param_is(name, "secure_key_file")) {
            if (ngx_http_smsverify_read_secret_file(cf, value, &s)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            p->secure_key = s;
            return NGX_CONF_OK;
        }
    }

    if (field == NULL || value->len == 0) {
        goto invalid;
    }

    if (ngx_http_smsverify_cstr(cf, value) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    *field = (char *) value->data;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" for provider \"%s\"",
                       name, sv_provider_name(p->type));

    return NGX_CONF_ERROR;
}


static char *
ngx_http_smsverify_provider_check(ngx_conf_t *cf, sv_provider_t *p)
{
    char         err[256];
    const char  *missing;

    missing = NULL;

    switch (p->type) {

    case SV_PROVIDER_LOG:
        p->log_write = ngx_http_smsverify_log_write;
        return NGX_CONF_OK;

    case SV_PROVIDER_SENS:
        if (p->url == NULL) {
            p->url = "https://sens.apigw.ntruss.com";
        }

        missing = p->service_id == NULL ? "service_id"
                  : p->access_key == NULL ? "access_key"
                  : p->secret_key == NULL ? "secret_key"
                  : p->from == NULL ? "from" : NULL;
        break;

    default: /* SV_PROVIDER_CAFE24 */
        if (p->url == NULL) {
            p->url = "https://sslsms.cafe24.com";
        }

        missing = p->user_id == NULL ? "user_id"
                  : p->secure_key == NULL ? "secure_key"
                  : p->from == NULL ? "from" : NULL;
        break;
    }

    if (missing) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "provider \"%s\" needs \"%s=\"",
                           sv_provider_name(p->type), missing);
        return NGX_CONF_ERROR;
    }

    if (!ngx_http_smsverify_sender_valid(p)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid sender \"from=%s\" for provider \"%s\", "
                           "it must be %s", p->from,
                           sv_provider_name(p->type),
                           p->type == SV_PROVIDER_SENS
                           ? "digits, e.g. \"0212345678\""
                           : "digits in 2 or 3 groups, e.g. \"070-1234-5678\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_strncmp(p->url, "http://", 7) != 0
        && ngx_strncmp(p->url, "https://", 8) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "provider \"%s\" url \"%s\" must start with "
                           "\"http://\" or \"https://\"",
                           sv_provider_name(p->type), p->url);
        return NGX_CONF_ERROR;
    }

    /* what every send would refuse */
    if (sv_provider_check(p, err, sizeof(err)) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "provider \"%s\" cannot send: %s",
                           sv_provider_name(p->type), err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* SENS takes the registered number's digits; Cafe24 its hyphenated parts */

static ngx_uint_t
ngx_http_smsverify_sender_valid(sv_provider_t *p)
{
    const char  *c;
    ngx_uint_t   digits, groups, group;

    digits = 0;
    groups = 1;
    group = 0;

    for (c = p->from; *c; c++) {

        if (*c >= '0' && *c <= '9') {
            digits++;

            /* sv_provider_cafe24.c sends groups of up to this many */
            if (++group > SV_CAFE24_GROUP_MAX
                && p->type == SV_PROVIDER_CAFE24)
            {
                return 0;
            }

            continue;
        }

        if (*c != '-' || p->type != SV_PROVIDER_CAFE24
            || c == p->from || c[-1] == '-' || c[1] == '\0')
        {
            return 0;
        }

        groups++;
        group = 0;
    }

    if (digits < 3 || digits > 16) {
        return 0;
    }

    return p->type == SV_PROVIDER_SENS || groups == 2 || groups == 3;
}


static void
ngx_http_smsverify_log_write(void *data, const char *line, size_t len)
{
    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0, "%*s", len, line);
}
