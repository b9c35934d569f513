
/*
 * POST reset: a new password for the member of a phone that a reset code
 * proved (the token from the body or the smsverify_token cookie).  In the
 * pool: the check that the token and the member are there, the bcrypt
 * hash, and the commit that replaces the hash and ends every session.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"
#include "sv_clock.h"
#include "sv_password.h"


typedef struct {
    sv_store_t         *store;
    char                phone[SV_PHONE_SIZE];
    char               *password;
    size_t              password_len;
    unsigned            cost;
    uint8_t             token_hash[SV_HASH_SIZE];
    char                hash[SV_PASSWORD_HASH_SIZE];
    sv_reset_t          reset;

    sv_store_rc_t       rc;
    char                err[256];
} ngx_http_smsverify_reset_job_t;


static ngx_http_smsverify_err_e ngx_http_smsverify_reset_check(
    ngx_http_request_t *r, cJSON *root, ngx_str_t *password,
    ngx_http_smsverify_reset_job_t *job);
static void ngx_http_smsverify_reset_thread(void *data);
static ngx_int_t ngx_http_smsverify_reset_done(ngx_http_request_t *r,
    void *data);


ngx_int_t
ngx_http_smsverify_reset(ngx_http_request_t *r, cJSON *root)
{
    ngx_str_t                        password;
    ngx_http_smsverify_err_e         err;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;
    ngx_http_smsverify_reset_job_t  *job;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_reset_thread,
                                        ngx_http_smsverify_reset_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = ngx_http_smsverify_reset_check(r, root, &password, job);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    job->password = ngx_pnalloc(r->pool, password.len + 1);
    if (job->password == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(job->password, password.data, password.len);
    job->password[password.len] = '\0';
    job->password_len = password.len;

    ngx_explicit_memzero(password.data, password.len);

    job->store = mcf->store;
    job->cost = lcf->bcrypt_cost;
    job->reset.phone = job->phone;
    job->reset.token_hash = job->token_hash;
    job->reset.password_hash = job->hash;

    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        ngx_explicit_memzero(job->password, job->password_len);
        return ngx_http_smsverify_busy(r);
    }

    return NGX_DONE;
}


/* the checks in the order of their answers: the first that fails is it */

static ngx_http_smsverify_err_e
ngx_http_smsverify_reset_check(ngx_http_request_t *r, cJSON *root,
    ngx_str_t *password, ngx_http_smsverify_reset_job_t *job)
{
    ngx_str_t                       token;
    ngx_http_smsverify_err_e        err;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    err = ngx_http_smsverify_json_string(root, "password", password);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_field_err(r, err, "password");
    }

    err = ngx_http_smsverify_json_string(root, "verificationToken", &token);

    if (err == NGX_HTTP_SMSVERIFY_ERR_MISSING_FIELD) {
        ngx_str_null(&token);     /* it may come as a cookie instead */

    } else if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_field_err(r, err, "verificationToken");
    }

    err = ngx_http_smsverify_read_phone(r, root, job->phone);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return err;
    }

    if (!sv_password_acceptable((char *) password->data, password->len,
                                lcf->password_min, lcf->password_max))
    {
        return NGX_HTTP_SMSVERIFY_ERR_INVALID_PASSWORD;
    }

    return ngx_http_smsverify_read_token(r, &token, job->token_hash);
}


static void
ngx_http_smsverify_reset_thread(void *data)
{
    ngx_http_smsverify_reset_job_t  *job = data;

    /* a reset that cannot succeed is refused before the hash */

    job->reset.now_ms = sv_clock_ms();

    job->rc = sv_store_reset_check(job->store, &job->reset, job->err,
                                   sizeof(job->err));

    if (job->rc == SV_STORE_OK
        && sv_password_hash_yielding(job->password, job->password_len,
                                     job->cost, job->hash, sizeof(job->hash),
                                     job->err, sizeof(job->err))
           != 0)
    {
        job->rc = SV_STORE_ERROR;
    }

    explicit_bzero(job->password, job->password_len);

    if (job->rc != SV_STORE_OK) {
        return;
    }

    job->reset.now_ms = sv_clock_ms();

    job->rc = sv_store_reset(job->store, &job->reset, job->err,
                             sizeof(job->err));
}


static ngx_int_t
ngx_http_smsverify_reset_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_reset_job_t  *job = data;

    u_char                           buf[96], *p;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    if (job->rc == SV_STORE_NOT_MEMBER) {

        /* the member went away since the code: the token proves nothing */

        job->rc = SV_STORE_NO_TOKEN;
    }

    if (job->rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    (void) ngx_atomic_fetch_add(&mcf->counters->resets, 1);

    if (lcf->token_cookie
        && ngx_http_smsverify_clear_token_cookie(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_snprintf(buf, sizeof(buf),
                     "{\"status\":\"password_changed\",\"memberId\":%uL}",
                     (uint64_t) job->reset.id);

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, buf, p - buf);
}
