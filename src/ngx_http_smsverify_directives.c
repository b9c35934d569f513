
/*
 * The directives' handlers: each reads its arguments into the module's
 * configuration and reports a bad one where it stands.
 */

#include "ngx_http_smsverify_conf.h"
#include "ngx_http_smsverify_directives.h"
#include "ngx_http_smsverify_handler.h"
#include "sv_password.h"


#define NGX_HTTP_SMSVERIFY_CODE_TTL_MAX         600000
#define NGX_HTTP_SMSVERIFY_STORE_SIZE_MIN       (256 * 1024)

/*
 * Each worker maps both parts of the store (members and codes), each of
 * SIZE, into its address space: two of 128g fit the smallest user address
 * space of 64-bit Linux (512g with 39-bit virtual addresses, e.g. some
 * arm64 kernels), two of 512m a 32-bit one.
 */
#if (NGX_PTR_SIZE == 8)
#define NGX_HTTP_SMSVERIFY_STORE_SIZE_MAX       ((off_t) 128 << 30)
#define NGX_HTTP_SMSVERIFY_STORE_SIZE_MAX_TEXT  "128g"
#else
#define NGX_HTTP_SMSVERIFY_STORE_SIZE_MAX       ((off_t) 512 << 20)
#define NGX_HTTP_SMSVERIFY_STORE_SIZE_MAX_TEXT  "512m"
#endif


static ngx_int_t ngx_http_smsverify_count_window(ngx_conf_t *cf,
    ngx_str_t *value, ngx_uint_t *n, ngx_msec_t *window);
static ngx_uint_t ngx_http_smsverify_is_pg_uri(ngx_str_t *value);
static char *ngx_http_smsverify_store_pg(ngx_conf_t *cf,
    ngx_http_smsverify_main_conf_t *mcf);


static ngx_conf_enum_t  ngx_http_smsverify_endpoints[] = {
    { ngx_string("send"), NGX_HTTP_SMSVERIFY_SEND },
    { ngx_string("confirm"), NGX_HTTP_SMSVERIFY_CONFIRM },
    { ngx_string("signup"), NGX_HTTP_SMSVERIFY_SIGNUP },
    { ngx_string("status"), NGX_HTTP_SMSVERIFY_STATUS },
    { ngx_string("login"), NGX_HTTP_SMSVERIFY_LOGIN },
    { ngx_string("logout"), NGX_HTTP_SMSVERIFY_LOGOUT },
    { ngx_string("session"), NGX_HTTP_SMSVERIFY_SESSION },
    { ngx_string("reset_send"), NGX_HTTP_SMSVERIFY_RESET_SEND },
    { ngx_string("reset"), NGX_HTTP_SMSVERIFY_RESET },
    { ngx_string("admin"), NGX_HTTP_SMSVERIFY_ADMIN },
    { ngx_null_string, 0 }
};


char *
ngx_http_smsverify(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    ngx_str_t                       *value;
    ngx_conf_enum_t                 *e;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    if (lcf->endpoint) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (e = ngx_http_smsverify_endpoints; e->name.len; e++) {
        if (e->name.len == value[1].len
            && ngx_strncmp(e->name.data, value[1].data, value[1].len) == 0)
        {
            break;
        }
    }

    if (e->name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"send\", "
                           "\"confirm\", \"signup\", \"status\", "
                           "\"login\", \"logout\", \"session\", "
                           "\"reset_send\", \"reset\" or \"admin\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    lcf->endpoint = e->value;

    /* for the errors only the merge can find */
    lcf->file = cf->conf_file->file.name.data;
    lcf->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_smsverify_handler;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_smsverify_module);

    if (!mcf->used) {
        ngx_http_smsverify_conf_pos(cf, &mcf->used_pos);
        mcf->used = 1;
    }

    return NGX_CONF_OK;
}


/* the message and the code length are checked together at the merge */

char *
ngx_http_smsverify_message(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    char  *rv;

    rv = ngx_http_set_complex_value_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK) {
        ngx_http_smsverify_conf_pos(cf, &lcf->message_pos);
    }

    return rv;
}


char *
ngx_http_smsverify_code_length(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    char  *rv;

    rv = ngx_conf_set_num_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK) {
        ngx_http_smsverify_conf_pos(cf, &lcf->code_length_pos);
    }

    return rv;
}


static ngx_uint_t
ngx_http_smsverify_is_pg_uri(ngx_str_t *value)
{
    static ngx_str_t  schemes[] = {
        ngx_string("postgresql://"),
        ngx_string("postgres://")
    };

    ngx_uint_t  i;

    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (value->len >= schemes[i].len
            && ngx_strncasecmp(value->data, schemes[i].data, schemes[i].len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * A PostgreSQL store: the URI as given (libpq reads it when a worker
 * first connects), never a directory; no LMDB parameter applies.  The
 * URI may hold a password: no message repeats it.
 */

static char *
ngx_http_smsverify_store_pg(ngx_conf_t *cf,
    ngx_http_smsverify_main_conf_t *mcf)
{
    ngx_str_t   *value;
    ngx_uint_t   i;

    value = cf->args->elts;

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "size=", 5) == 0
            || ngx_strncmp(value[i].data, "sync=", 5) == 0
            || ngx_strncmp(value[i].data, "writemap=", 9) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "parameter \"%V\" does not apply to a "
                               "PostgreSQL store", &value[i]);
            return NGX_CONF_ERROR;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    mcf->store_uri = value[1];

    return ngx_http_smsverify_cstr(cf, &mcf->store_uri);
}


char *
ngx_http_smsverify_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_main_conf_t *mcf = conf;

    off_t        size;
    ngx_str_t   *value, s;
    ngx_msec_t   interval;
    ngx_uint_t   i;

    if (mcf->store_dir.data || mcf->store_uri.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    mcf->store_conf_file = cf->conf_file->file.name.data;
    mcf->store_conf_line = cf->conf_file->line;

    if (ngx_http_smsverify_is_pg_uri(&value[1])) {
        return ngx_http_smsverify_store_pg(cf, mcf);
    }

    mcf->store_dir = value[1];

    if (ngx_conf_full_name(cf->cycle, &mcf->store_dir, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_smsverify_cstr(cf, &mcf->store_dir) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "size=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            /* nginx 1.22's ngx_parse_size() knows no "g" */
            size = ngx_parse_offset(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid store size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < NGX_HTTP_SMSVERIFY_STORE_SIZE_MIN) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "store size \"%V\" is too small, "
                                   "it must be at least 256k", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size > NGX_HTTP_SMSVERIFY_STORE_SIZE_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "store size \"%V\" is too large, "
                                   "it must be at most "
                                   NGX_HTTP_SMSVERIFY_STORE_SIZE_MAX_TEXT,
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            mcf->store_size = (size_t) size;
            continue;
        }

        if (ngx_strcmp(value[i].data, "writemap=on") == 0) {
            mcf->store_writemap = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "writemap=off") == 0) {
            mcf->store_writemap = 0;
            continue;
        }

        if (ngx_strcmp(value[i].data, "sync=on") == 0) {
            mcf->sync_mode = NGX_HTTP_SMSVERIFY_SYNC_ON;
            continue;
        }

        if (ngx_strcmp(value[i].data, "sync=off") == 0) {
            mcf->sync_mode = NGX_HTTP_SMSVERIFY_SYNC_OFF;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sync=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            interval = ngx_parse_time(&s, 0);

            if (interval == (ngx_msec_t) NGX_ERROR || interval == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid sync \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            mcf->sync_mode = NGX_HTTP_SMSVERIFY_SYNC_TIMER;
            mcf->sync_interval = interval;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_main_conf_t *mcf = conf;

    ngx_str_t  *value;

    if (mcf->secret_given) {
        return "is duplicate";
    }

    value = cf->args->elts;
    mcf->secret_file = value[1];

    if (ngx_http_smsverify_read_key_file(cf, &mcf->secret_file, mcf->secret)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    mcf->secret_given = 1;

    return NGX_CONF_OK;
}


/* smsverify_webhook URL secret_file=FILE [timeout=TIME] */

char *
ngx_http_smsverify_webhook(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_main_conf_t *mcf = conf;

    char        *secret, err[128];
    ngx_str_t   *value, file, s;
    ngx_uint_t   i;

    if (mcf->webhook_url.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_smsverify_cstr(cf, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (!sv_webhook_url_ok((char *) value[1].data)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid webhook url \"%V\": an http:// or "
                           "https:// url is needed", &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_str_null(&file);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "secret_file=", 12) == 0
            && value[i].len > 12)
        {
            file.data = value[i].data + 12;
            file.len = value[i].len - 12;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            mcf->webhook_timeout = ngx_parse_time(&s, 0);

            if (mcf->webhook_timeout == (ngx_msec_t) NGX_ERROR
                || mcf->webhook_timeout == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid webhook timeout \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (file.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "smsverify_webhook needs \"secret_file=\"");
        return NGX_CONF_ERROR;
    }

    if (ngx_http_smsverify_read_secret_file(cf, &file, &secret)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (sv_webhook_key(secret, mcf->webhook_key, &mcf->webhook_key_len, err,
                       sizeof(err))
        != 0)
    {
        ngx_explicit_memzero(secret, ngx_strlen(secret));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid webhook secret in \"%V\": %s",
                           &file, err);
        return NGX_CONF_ERROR;
    }

    ngx_explicit_memzero(secret, ngx_strlen(secret));

    mcf->webhook_url = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_send_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    if (lcf->send_limit != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (ngx_http_smsverify_count_window(cf, cf->args->elts, &lcf->send_limit,
                                        &lcf->send_window)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    if (lcf->login_limit != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (ngx_http_smsverify_count_window(cf, cf->args->elts,
                                        &lcf->login_limit,
                                        &lcf->login_window)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * The address counts of the whole store: every send counts its address
 * once any location has the directive, and the store keeps the sends for
 * the longest window of them all.
 */

char *
ngx_http_smsverify_ip_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    ngx_http_smsverify_main_conf_t  *mcf;

    if (lcf->ip_limit != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    if (ngx_http_smsverify_count_window(cf, cf->args->elts, &lcf->ip_limit,
                                        &lcf->ip_window)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_smsverify_module);

    if (lcf->ip_window > mcf->ip_window_max) {
        mcf->ip_window_max = lcf->ip_window;
    }

    return NGX_CONF_OK;
}


/* "N TIME": at most N (1 to SV_SEND_LIMIT_MAX) in any TIME window */

static ngx_int_t
ngx_http_smsverify_count_window(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t *n, ngx_msec_t *window)
{
    ngx_int_t   count;
    ngx_msec_t  time;

    count = ngx_atoi(value[1].data, value[1].len);

    if (count < 1 || count > SV_SEND_LIMIT_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number \"%V\", it must be 1 to %d",
                           &value[1], SV_SEND_LIMIT_MAX);
        return NGX_ERROR;
    }

    time = ngx_parse_time(&value[2], 0);

    if (time == (ngx_msec_t) NGX_ERROR || time == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\"", &value[2]);
        return NGX_ERROR;
    }

    *n = count;
    *window = time;

    return NGX_OK;
}


char *
ngx_http_smsverify_auth_mode(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    ngx_str_t                       *value;
    ngx_http_smsverify_main_conf_t  *mcf;

    if (lcf->auth != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "member") == 0) {
        lcf->auth = NGX_HTTP_SMSVERIFY_AUTH_MEMBER;

    } else if (ngx_strcmp(value[1].data, "verified") == 0) {
        lcf->auth = NGX_HTTP_SMSVERIFY_AUTH_VERIFIED;

    } else if (ngx_strcmp(value[1].data, "off") == 0) {
        lcf->auth = NGX_HTTP_SMSVERIFY_AUTH_OFF;
        return NGX_CONF_OK;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"member\", "
                           "\"verified\" or \"off\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* a guarded location asks the store as an endpoint does */

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_smsverify_module);

    if (!mcf->used) {
        ngx_http_smsverify_conf_pos(cf, &mcf->used_pos);
        mcf->used = 1;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_session_ttl(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    ngx_str_t   *value, idle;
    ngx_msec_t   ttl;

    if (lcf->session_ttl != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ttl = ngx_parse_time(&value[1], 0);

    if (ttl == (ngx_msec_t) NGX_ERROR || ttl < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\", it must be 1s or more",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    lcf->session_ttl = ttl;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "idle=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    idle.data = value[2].data + 5;
    idle.len = value[2].len - 5;

    lcf->session_idle = ngx_parse_time(&idle, 0);

    if (lcf->session_idle == (ngx_msec_t) NGX_ERROR
        || lcf->session_idle < 1000)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid idle time \"%V\", it must be 1s or more",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_countries(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    char        **cc;
    ngx_str_t    *value;
    ngx_uint_t    i, j;

    if (lcf->countries != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    lcf->countries = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                      sizeof(char *));
    if (lcf->countries == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        for (j = 0; j < value[i].len; j++) {
            if (value[i].data[j] < '0' || value[i].data[j] > '9') {
                break;
            }
        }

        if (value[i].len == 0 || value[i].len > 3 || j < value[i].len
            || value[i].data[0] == '0')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid country calling code \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        cc = ngx_array_push(lcf->countries);
        if (cc == NULL) {
            return NGX_CONF_ERROR;
        }

        *cc = (char *) value[i].data;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_terms(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    ngx_int_t                   id;
    ngx_str_t                  *value;
    ngx_uint_t                  i;
    ngx_http_smsverify_term_t  *term;

    value = cf->args->elts;

    id = ngx_atoi(value[1].data, value[1].len);

    if (id < 1 || id > 2147483647) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid terms id \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (lcf->terms == NGX_CONF_UNSET_PTR) {
        lcf->terms = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_smsverify_term_t));
        if (lcf->terms == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    term = lcf->terms->elts;

    for (i = 0; i < lcf->terms->nelts; i++) {
        if (term[i].id == id) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate terms id \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (lcf->terms->nelts == NGX_HTTP_SMSVERIFY_TERMS_MAX) {
        return "has more than 64 terms";
    }

    term = ngx_array_push(lcf->terms);
    if (term == NULL) {
        return NGX_CONF_ERROR;
    }

    term->id = id;

    if (ngx_strcmp(value[2].data, "required") == 0) {
        term->required = 1;

    } else if (ngx_strcmp(value[2].data, "optional") == 0) {
        term->required = 0;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\", it must be \"required\" "
                           "or \"optional\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_password_length(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    ngx_int_t   min, max;
    ngx_str_t  *value;

    if (lcf->password_min != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    min = ngx_atoi(value[1].data, value[1].len);
    max = ngx_atoi(value[2].data, value[2].len);

    if (min < 1 || max < min || max > SV_BCRYPT_PASSWORD_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lengths \"%V\" \"%V\", they must be "
                           "1 <= MIN <= MAX <= %d (bcrypt's limit)",
                           &value[1], &value[2], SV_BCRYPT_PASSWORD_MAX);
        return NGX_CONF_ERROR;
    }

    lcf->password_min = min;
    lcf->password_max = max;

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_password_hash(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    ngx_int_t   cost;
    ngx_str_t  *value;

    if (lcf->bcrypt_cost != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "bcrypt") != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid hash \"%V\", it must be \"bcrypt\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    lcf->bcrypt_cost = 12;

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "cost=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    cost = ngx_atoi(value[2].data + 5, value[2].len - 5);

    if (cost < 4 || cost > 31) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cost \"%V\", it must be 4 to 31",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    lcf->bcrypt_cost = cost;

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_cors(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    ngx_str_t   *value, *origin;
    ngx_uint_t   i;

    if (lcf->cors != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    lcf->cors = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                 sizeof(ngx_str_t));
    if (lcf->cors == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (!(value[i].len == 1 && value[i].data[0] == '*')
            && ngx_strncmp(value[i].data, "http://", 7) != 0
            && ngx_strncmp(value[i].data, "https://", 8) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid origin \"%V\", it must be \"*\" or "
                               "start with \"http://\" or \"https://\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        if (value[i].len == 1 && cf->args->nelts > 2) {
            return "takes \"*\" alone";
        }

        origin = ngx_array_push(lcf->cors);
        if (origin == NULL) {
            return NGX_CONF_ERROR;
        }

        *origin = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * smsverify_test_number PHONE CODE: PHONE in any form a request may use,
 * kept in E.164; CODE digits, whose length the merge holds against the
 * location's code length.  The code is never written to a log, not even
 * in an error about it.
 */

char *
ngx_http_smsverify_test_number(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_smsverify_loc_conf_t *lcf = conf;

    char                               phone[SV_PHONE_SIZE];
    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_smsverify_main_conf_t    *mcf;
    ngx_http_smsverify_test_number_t  *tn, *seen;

    value = cf->args->elts;

    if (sv_phone_normalize((char *) value[1].data, value[1].len, phone) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid phone number \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < value[2].len; i++) {
        if (value[2].data[i] < '0' || value[2].data[i] > '9') {
            break;
        }
    }

    if (i < value[2].len || value[2].len < 4 || value[2].len > SV_CODE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid code for test number \"%V\", it must "
                           "be 4 to %d digits", &value[1], SV_CODE_MAX);
        return NGX_CONF_ERROR;
    }

    if (lcf->test_numbers == NGX_CONF_UNSET_PTR) {
        lcf->test_numbers = ngx_array_create(cf->pool, 4,
                                    sizeof(ngx_http_smsverify_test_number_t));
        if (lcf->test_numbers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    seen = lcf->test_numbers->elts;

    for (i = 0; i < lcf->test_numbers->nelts; i++) {
        if (ngx_strcmp(seen[i].phone, phone) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate test number \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (lcf->test_numbers->nelts == NGX_HTTP_SMSVERIFY_TEST_NUMBERS_MAX) {
        return "takes at most 20 numbers on one level";
    }

    tn = ngx_array_push(lcf->test_numbers);
    if (tn == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(tn, sizeof(ngx_http_smsverify_test_number_t));
    ngx_memcpy(tn->phone, phone, SV_PHONE_SIZE);
    ngx_memcpy(tn->code, value[2].data, value[2].len);
    tn->code_len = value[2].len;
    ngx_http_smsverify_conf_pos(cf, &tn->pos);

    /* init_module warns for each, naming it: the phone and where, no code */

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_smsverify_module);

    if (mcf->test_numbers == NULL) {
        mcf->test_numbers = ngx_array_create(cf->pool, 4,
                                    sizeof(ngx_http_smsverify_test_number_t));
        if (mcf->test_numbers == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    seen = ngx_array_push(mcf->test_numbers);
    if (seen == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(seen, sizeof(ngx_http_smsverify_test_number_t));
    ngx_memcpy(seen->phone, phone, SV_PHONE_SIZE);
    seen->pos = tn->pos;

    return NGX_CONF_OK;
}


/*
 * The pool is registered where it is named, as nginx's "aio threads=" does,
 * so that an undefined one is reported at this line, not at the end of the
 * block whose merge first asks for it.
 */

char *
ngx_http_smsverify_thread_pool_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *name = data;

    if (ngx_thread_pool_add(cf, name) == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_smsverify_code_ttl_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *ttl = data;

    if (*ttl == 0 || *ttl > NGX_HTTP_SMSVERIFY_CODE_TTL_MAX) {
        return "must be more than 0 and at most 10m";
    }

    return NGX_CONF_OK;
}
