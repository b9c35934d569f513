
/*
 * ngx_http_smsverify_module: phone verification by SMS and signup.
 *
 * This file is the module's face: the commands table, the module's
 * context and hooks, the configuration's creation and merge.  The
 * directives' handlers are in src/ngx_http_smsverify_directives.c, the
 * layers in docs/DESIGN.md.
 */

#include "ngx_http_smsverify.h"
#include "ngx_http_smsverify_directives.h"
#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_process.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_variables.h"
#include "ngx_http_smsverify_webhook.h"
#include "sv_text.h"


static ngx_int_t ngx_http_smsverify_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_smsverify_init_worker(ngx_cycle_t *cycle);
static void *ngx_http_smsverify_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_smsverify_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_smsverify_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static size_t ngx_http_smsverify_code_var_at(u_char *p, u_char *last);
static char *ngx_http_smsverify_check_message(ngx_conf_t *cf,
    ngx_http_smsverify_loc_conf_t *conf);
static char *ngx_http_smsverify_check_test_numbers(ngx_conf_t *cf,
    ngx_http_smsverify_loc_conf_t *conf);
static const char *ngx_http_smsverify_send_name(
    ngx_http_smsverify_loc_conf_t *conf);
static u_char *ngx_http_smsverify_directive_at(u_char *buf, u_char *last,
    const char *name, ngx_http_smsverify_conf_pos_t *pos);


static ngx_conf_num_bounds_t  ngx_http_smsverify_code_length_bounds = {
    ngx_conf_check_num_bounds, 4, SV_CODE_MAX
};

static ngx_conf_num_bounds_t  ngx_http_smsverify_max_attempts_bounds = {
    ngx_conf_check_num_bounds, 1, 100
};

static ngx_conf_num_bounds_t  ngx_http_smsverify_daily_budget_bounds = {
    ngx_conf_check_num_bounds, 1, SV_BUDGET_MAX
};

static ngx_conf_num_bounds_t  ngx_http_smsverify_batch_queue_bounds = {
    ngx_conf_check_num_bounds, 1, 65536
};

static ngx_conf_post_t  ngx_http_smsverify_code_ttl_post = {
    ngx_http_smsverify_code_ttl_check
};

static ngx_conf_post_t  ngx_http_smsverify_thread_pool_post = {
    ngx_http_smsverify_thread_pool_check
};


static ngx_command_t  ngx_http_smsverify_commands[] = {

    { ngx_string("smsverify"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smsverify,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1234,
      ngx_http_smsverify_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_smsverify_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, thread_pool_name),
      &ngx_http_smsverify_thread_pool_post },

    { ngx_string("smsverify_provider"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_smsverify_provider,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_message"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smsverify_message,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, message),
      NULL },

    { ngx_string("smsverify_code_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smsverify_code_length,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, code_length),
      &ngx_http_smsverify_code_length_bounds },

    { ngx_string("smsverify_code_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, code_ttl),
      &ngx_http_smsverify_code_ttl_post },

    { ngx_string("smsverify_max_attempts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, max_attempts),
      &ngx_http_smsverify_max_attempts_bounds },

    { ngx_string("smsverify_resend_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, resend_interval),
      NULL },

    { ngx_string("smsverify_send_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_smsverify_send_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_countries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_smsverify_countries,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, token_ttl),
      NULL },

    { ngx_string("smsverify_terms"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_smsverify_terms,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_password_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_smsverify_password_length,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_password_hash"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_smsverify_password_hash,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_token_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, token_cookie),
      NULL },

    { ngx_string("smsverify_cors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_smsverify_cors,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_signup_login"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_smsverify_loc_conf_t, signup_login),
      NULL },

    { ngx_string("smsverify_session_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_smsverify_session_ttl,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_login_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_smsverify_login_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_smsverify_auth_mode,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_ip_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_smsverify_ip_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("smsverify_daily_budget"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_smsverify_main_conf_t, daily_budget),
      &ngx_http_smsverify_daily_budget_bounds },

    { ngx_string("smsverify_webhook"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE23,
      ngx_http_smsverify_webhook,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },
    { ngx_string("smsverify_batch_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_smsverify_main_conf_t, batch_queue),
      &ngx_http_smsverify_batch_queue_bounds },

    { ngx_string("smsverify_test_number"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_smsverify_test_number,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_smsverify_module_ctx = {
    ngx_http_smsverify_add_variables,      /* preconfiguration */
    ngx_http_smsverify_init,               /* postconfiguration */

    ngx_http_smsverify_create_main_conf,   /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_smsverify_create_loc_conf,    /* create location configuration */
    ngx_http_smsverify_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_smsverify_module = {
    NGX_MODULE_V1,
    &ngx_http_smsverify_module_ctx,        /* module context */
    ngx_http_smsverify_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_smsverify_init_module,        /* init module */
    ngx_http_smsverify_init_worker,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_smsverify_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_smsverify_default_message =
    ngx_string("인증번호 [$smsverify_code]를 입력해주세요.");

static char  *ngx_http_smsverify_default_country = "82";


/* a worker: the store and its maintenance, then the webhooks' delivery */

static ngx_int_t
ngx_http_smsverify_init_worker(ngx_cycle_t *cycle)
{
    if (ngx_http_smsverify_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_smsverify_webhook_init_process(cycle);
}


/* configuration */

static ngx_int_t
ngx_http_smsverify_init(ngx_conf_t *cf)
{
    ngx_str_t                        name, pool;
    ngx_http_handler_pt             *h;
    ngx_http_core_main_conf_t       *cmcf;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_smsverify_module);

    if (!mcf->used) {
        return NGX_OK;
    }

    if (mcf->store_dir.len == 0 && mcf->store_uri.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no \"smsverify_store\" is defined at the http level "
                      "for the \"smsverify\" directive in %s:%ui",
                      mcf->used_pos.file, mcf->used_pos.line);
        return NGX_ERROR;
    }

    /*
     * every node that shares the database must hash codes and tokens with
     * the same key: none can be made up in a directory of one node
     */
    if (mcf->store_uri.len && !mcf->secret_given) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"smsverify_secret\" is required with a PostgreSQL "
                      "\"smsverify_store\" in %s:%ui",
                      mcf->store_conf_file, mcf->store_conf_line);
        return NGX_ERROR;
    }

    if (mcf->store_uri.len) {
        /* no LMDB commits to sync: the timer only sweeps */
        mcf->sync_mode = NGX_HTTP_SMSVERIFY_SYNC_OFF;
    }

    ngx_conf_init_size_value(mcf->store_size, 64 * 1024 * 1024);
    ngx_conf_init_uint_value(mcf->store_writemap, 1);
    ngx_conf_init_uint_value(mcf->sync_mode, NGX_HTTP_SMSVERIFY_SYNC_TIMER);
    ngx_conf_init_msec_value(mcf->sync_interval, 1000);
    ngx_conf_init_uint_value(mcf->daily_budget, 0);
    ngx_conf_init_msec_value(mcf->webhook_timeout, 5000);
    ngx_conf_init_uint_value(mcf->batch_queue, 1024);

    ngx_str_set(&name, "smsverify_counters");

    mcf->shm_zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize,
                                          &ngx_http_smsverify_module);
    if (mcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    mcf->shm_zone->init = ngx_http_smsverify_init_zone;
    mcf->shm_zone->data = mcf;

    ngx_http_smsverify_header_filter_init();

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_smsverify_auth;

    /* the http level's pool runs the periodic sync and sweep */

    lcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_smsverify_module);

    pool = lcf->thread_pool_name;
    if (pool.data == NULL) {
        ngx_str_set(&pool, "default");
    }

    mcf->thread_pool = ngx_thread_pool_add(cf, &pool);
    if (mcf->thread_pool == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void *
ngx_http_smsverify_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_smsverify_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mcf->store_dir = { 0, NULL };
     *     mcf->store_uri = { 0, NULL };
     *     mcf->secret_file = { 0, NULL };
     *     mcf->provider_types = 0;
     *     mcf->log_provider_pos = { NULL, 0 };
     *     mcf->used = 0;
     *     mcf->used_pos = { NULL, 0 };
     *     mcf->test_numbers = NULL;
     *     mcf->ip_window_max = 0;
     *     mcf->store = NULL;
     *     mcf->webhook_url = { 0, NULL };
     *     mcf->webhook_key_len = 0;
     */

    mcf->store_size = NGX_CONF_UNSET_SIZE;
    mcf->store_writemap = NGX_CONF_UNSET_UINT;
    mcf->sync_mode = NGX_CONF_UNSET_UINT;
    mcf->sync_interval = NGX_CONF_UNSET_MSEC;
    mcf->daily_budget = NGX_CONF_UNSET_UINT;
    mcf->webhook_timeout = NGX_CONF_UNSET_MSEC;
    mcf->batch_queue = NGX_CONF_UNSET_UINT;

    return mcf;
}


static void *
ngx_http_smsverify_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_smsverify_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_smsverify_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->endpoint = 0;
     *     conf->thread_pool_name = { 0, NULL };
     *     conf->thread_pool = NULL;
     *     conf->message = NULL;
     *     conf->message_pos = { NULL, 0 };
     *     conf->code_length_pos = { NULL, 0 };
     */

    conf->providers = NGX_CONF_UNSET_PTR;
    conf->code_length = NGX_CONF_UNSET_UINT;
    conf->code_ttl = NGX_CONF_UNSET_MSEC;
    conf->max_attempts = NGX_CONF_UNSET_UINT;
    conf->resend_interval = NGX_CONF_UNSET_MSEC;
    conf->send_limit = NGX_CONF_UNSET_UINT;
    conf->send_window = NGX_CONF_UNSET_MSEC;
    conf->ip_limit = NGX_CONF_UNSET_UINT;
    conf->ip_window = NGX_CONF_UNSET_MSEC;
    conf->countries = NGX_CONF_UNSET_PTR;
    conf->token_ttl = NGX_CONF_UNSET_MSEC;
    conf->terms = NGX_CONF_UNSET_PTR;
    conf->password_min = NGX_CONF_UNSET_SIZE;
    conf->password_max = NGX_CONF_UNSET_SIZE;
    conf->bcrypt_cost = NGX_CONF_UNSET_UINT;
    conf->token_cookie = NGX_CONF_UNSET;
    conf->cors = NGX_CONF_UNSET_PTR;
    conf->signup_login = NGX_CONF_UNSET;
    conf->session_ttl = NGX_CONF_UNSET_MSEC;
    conf->session_idle = NGX_CONF_UNSET_MSEC;
    conf->login_limit = NGX_CONF_UNSET_UINT;
    conf->login_window = NGX_CONF_UNSET_MSEC;
    conf->auth = NGX_CONF_UNSET_UINT;
    conf->test_numbers = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_smsverify_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_smsverify_loc_conf_t  *prev = parent;
    ngx_http_smsverify_loc_conf_t  *conf = child;

    ngx_array_t                       *countries;
    ngx_http_compile_complex_value_t   ccv;

    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");
    ngx_conf_merge_ptr_value(conf->providers, prev->providers, NULL);

    if (conf->code_length == NGX_CONF_UNSET_UINT) {
        conf->code_length_pos = prev->code_length_pos;
    }

    ngx_conf_merge_uint_value(conf->code_length, prev->code_length, 6);
    ngx_conf_merge_msec_value(conf->code_ttl, prev->code_ttl, 180000);
    ngx_conf_merge_uint_value(conf->max_attempts, prev->max_attempts, 5);
    ngx_conf_merge_msec_value(conf->resend_interval, prev->resend_interval,
                              30000);
    ngx_conf_merge_uint_value(conf->send_limit, prev->send_limit, 5);
    ngx_conf_merge_msec_value(conf->send_window, prev->send_window, 3600000);
    ngx_conf_merge_uint_value(conf->ip_limit, prev->ip_limit, 0);
    ngx_conf_merge_msec_value(conf->ip_window, prev->ip_window, 0);
    ngx_conf_merge_msec_value(conf->token_ttl, prev->token_ttl, 1800000);
    ngx_conf_merge_ptr_value(conf->terms, prev->terms, NULL);
    ngx_conf_merge_size_value(conf->password_min, prev->password_min, 8);
    ngx_conf_merge_size_value(conf->password_max, prev->password_max, 64);
    ngx_conf_merge_uint_value(conf->bcrypt_cost, prev->bcrypt_cost, 12);
    ngx_conf_merge_value(conf->token_cookie, prev->token_cookie, 1);
    ngx_conf_merge_ptr_value(conf->cors, prev->cors, NULL);
    ngx_conf_merge_value(conf->signup_login, prev->signup_login, 1);

    if (conf->session_ttl == NGX_CONF_UNSET_MSEC) {
        conf->session_idle = prev->session_idle;
    }

    ngx_conf_merge_msec_value(conf->session_ttl, prev->session_ttl,
                              7 * 86400000);
    ngx_conf_merge_msec_value(conf->session_idle, prev->session_idle,
                              86400000);
    ngx_conf_merge_uint_value(conf->login_limit, prev->login_limit, 5);
    ngx_conf_merge_msec_value(conf->login_window, prev->login_window, 900000);
    ngx_conf_merge_uint_value(conf->auth, prev->auth,
                              NGX_HTTP_SMSVERIFY_AUTH_OFF);

    /* as providers: a level that names any replaces the inherited ones */
    ngx_conf_merge_ptr_value(conf->test_numbers, prev->test_numbers, NULL);

    if (conf->countries == NGX_CONF_UNSET_PTR) {
        if (prev->countries == NGX_CONF_UNSET_PTR) {
            countries = ngx_array_create(cf->pool, 1, sizeof(char *));
            if (countries == NULL) {
                return NGX_CONF_ERROR;
            }

            *(char **) ngx_array_push(countries) =
                                            ngx_http_smsverify_default_country;
            prev->countries = countries;
        }

        conf->countries = prev->countries;
    }

    if (conf->message == NULL) {
        if (prev->message == NULL) {
            prev->message = ngx_palloc(cf->pool,
                                       sizeof(ngx_http_complex_value_t));
            if (prev->message == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &ngx_http_smsverify_default_message;
            ccv.complex_value = prev->message;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }
        }

        conf->message = prev->message;
        conf->message_pos = prev->message_pos;
    }

    if (conf->endpoint == 0 && conf->auth == NGX_HTTP_SMSVERIFY_AUTH_OFF) {
        return NGX_CONF_OK;
    }

    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    if (conf->endpoint == NGX_HTTP_SMSVERIFY_SEND
        || conf->endpoint == NGX_HTTP_SMSVERIFY_RESET_SEND)
    {
        if (conf->providers == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "no \"smsverify_provider\" is defined for "
                          "\"smsverify %s\" in %s:%ui",
                          ngx_http_smsverify_send_name(conf),
                          conf->file, conf->line);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_smsverify_check_test_numbers(cf, conf) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }

        return ngx_http_smsverify_check_message(cf, conf);
    }

    return NGX_CONF_OK;
}


/*
 * Where the template's only variable is the code, its length in EUC-KR is
 * known now: a message longer than one SMS is a configuration error.
 */

#define ngx_http_smsverify_is_name_char(c)                                   \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')               \
     || ((c) >= '0' && (c) <= '9') || (c) == '_')


/* the length of "$smsverify_code" or "${smsverify_code}" at p, or 0 */

static size_t
ngx_http_smsverify_code_var_at(u_char *p, u_char *last)
{
    static ngx_str_t  plain = ngx_string("$smsverify_code");
    static ngx_str_t  braced = ngx_string("${smsverify_code}");

    if ((size_t) (last - p) >= braced.len
        && ngx_strncmp(p, braced.data, braced.len) == 0)
    {
        return braced.len;
    }

    if ((size_t) (last - p) >= plain.len
        && ngx_strncmp(p, plain.data, plain.len) == 0
        && (p + plain.len == last
            || !ngx_http_smsverify_is_name_char(p[plain.len])))
    {
        return plain.len;
    }

    return 0;
}


/* the word of a location that sends: "send" or "reset_send" */

static const char *
ngx_http_smsverify_send_name(ngx_http_smsverify_loc_conf_t *conf)
{
    return conf->endpoint == NGX_HTTP_SMSVERIFY_RESET_SEND ? "reset_send"
                                                           : "send";
}


static char *
ngx_http_smsverify_check_message(ngx_conf_t *cf,
    ngx_http_smsverify_loc_conf_t *conf)
{
    u_char      *p, *last, *q, *text, *at, *code;
    size_t       len, euckr;
    ngx_str_t   *value;
    ngx_uint_t   codes, others;
    u_char       message[NGX_MAX_PATH + 64];
    u_char       code_length[NGX_MAX_PATH + 96];

    value = &conf->message->value;

    /* the errors name the directives at fault and where they are */

    at = ngx_http_smsverify_directive_at(message, message + sizeof(message),
                                         "smsverify_message",
                                         &conf->message_pos);

    /* the code's digits never take more room than its variable's name */

    text = ngx_pnalloc(cf->temp_pool, value->len);
    if (text == NULL) {
        return NGX_CONF_ERROR;
    }

    p = value->data;
    last = value->data + value->len;
    q = text;
    codes = 0;
    others = 0;

    while (p < last) {

        if (*p != '$') {
            *q++ = *p++;
            continue;
        }

        len = ngx_http_smsverify_code_var_at(p, last);

        if (len == 0) {
            others++;
            *q++ = *p++;
            continue;
        }

        codes++;
        q = ngx_cpymem(q, "0000000000", conf->code_length);
        p += len;
    }

    if (codes == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "%*s has no $smsverify_code for \"smsverify %s\" "
                      "in %s:%ui", at - message, message,
                      ngx_http_smsverify_send_name(conf),
                          conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (others) {
        /* other variables: the length is known only per request */
        return NGX_CONF_OK;
    }

    euckr = sv_euckr_length(text, q - text);

    if (euckr == (size_t) -1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "%*s is not valid UTF-8 for \"smsverify %s\" "
                      "in %s:%ui", at - message, message,
                      ngx_http_smsverify_send_name(conf),
                          conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (euckr > SV_SMS_MAX) {

        if (conf->code_length_pos.file) {
            code = ngx_snprintf(code_length, sizeof(code_length),
                                "the %ui-digit code of "
                                "\"smsverify_code_length\" in %s:%ui",
                                conf->code_length,
                                conf->code_length_pos.file,
                                conf->code_length_pos.line);
        } else {
            code = ngx_snprintf(code_length, sizeof(code_length),
                                "a %ui-digit code", conf->code_length);
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "%*s takes %uz bytes in EUC-KR with %*s, "
                      "more than one SMS (%d), for \"smsverify %s\" "
                      "in %s:%ui", at - message, message, euckr,
                      code - code_length, code_length, SV_SMS_MAX,
                      ngx_http_smsverify_send_name(conf),
                          conf->file, conf->line);
        return NGX_CONF_ERROR;
    }

    conf->message_fits = 1;

    return NGX_CONF_OK;
}


/*
 * A send location's test numbers must be usable there: their codes of the
 * location's length (a confirm of the code would otherwise be a guess of
 * another length), their countries allowed.
 */

static char *
ngx_http_smsverify_check_test_numbers(ngx_conf_t *cf,
    ngx_http_smsverify_loc_conf_t *conf)
{
    u_char                             *at;
    ngx_uint_t                          i;
    char                                masked[SV_PHONE_MASKED_SIZE];
    u_char                              length[NGX_MAX_PATH + 64];
    ngx_http_smsverify_test_number_t   *tn;

    if (conf->test_numbers == NULL) {
        return NGX_CONF_OK;
    }

    tn = conf->test_numbers->elts;

    for (i = 0; i < conf->test_numbers->nelts; i++) {

        sv_phone_mask(tn[i].phone, masked, sizeof(masked));

        if (tn[i].code_len != conf->code_length) {
            at = ngx_http_smsverify_directive_at(length,
                                                 length + sizeof(length),
                                                 "smsverify_code_length",
                                                 &conf->code_length_pos);

            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"smsverify_test_number\" \"%s\" in %s:%ui has "
                          "a %uz-digit code, not the %ui digits of %*s, "
                          "for \"smsverify %s\" in %s:%ui",
                          masked, tn[i].pos.file, tn[i].pos.line,
                          tn[i].code_len, conf->code_length,
                          at - length, length,
                          ngx_http_smsverify_send_name(conf),
                          conf->file, conf->line);
            return NGX_CONF_ERROR;
        }

        if (!sv_phone_country_allowed(tn[i].phone,
                                      (const char *const *)
                                          conf->countries->elts,
                                      conf->countries->nelts))
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"smsverify_test_number\" \"%s\" in %s:%ui is of "
                          "a country that \"smsverify_countries\" does not "
                          "allow for \"smsverify %s\" in %s:%ui",
                          masked, tn[i].pos.file, tn[i].pos.line,
                          ngx_http_smsverify_send_name(conf),
                          conf->file, conf->line);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* "NAME" in FILE:LINE, or, where the directive is not given, its default */

static u_char *
ngx_http_smsverify_directive_at(u_char *buf, u_char *last, const char *name,
    ngx_http_smsverify_conf_pos_t *pos)
{
    if (pos->file == NULL) {
        return ngx_slprintf(buf, last, "the default \"%s\"", name);
    }

    return ngx_slprintf(buf, last, "\"%s\" in %s:%ui", name, pos->file,
                        pos->line);
}
