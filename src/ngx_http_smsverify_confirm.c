
/*
 * POST confirm: the guess against the stored code's keyed hash; a match
 * gives a verification token for signup.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"
#include "sv_clock.h"


typedef struct {
    sv_store_t             *store;
    const uint8_t          *key;
    char                    phone[SV_PHONE_SIZE];
    uint8_t                 guess_hash[SV_HASH_SIZE];
    char                    token[SV_TOKEN_LEN + 1];
    sv_confirm_t            confirm;
    sv_store_confirm_op_t   op;

    sv_store_rc_t           rc;
    char                    err[256];
} ngx_http_smsverify_confirm_job_t;


static ngx_http_smsverify_err_e ngx_http_smsverify_read_guess(
    ngx_http_request_t *r, cJSON *root, ngx_str_t *guess);
static ngx_int_t ngx_http_smsverify_confirm_read(
    ngx_http_smsverify_confirm_job_t *job);
static void ngx_http_smsverify_confirm_thread(void *data);
static int ngx_http_smsverify_token_new(void *data, uint8_t *token_hash);
static ngx_int_t ngx_http_smsverify_confirm_done(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_http_smsverify_confirmed(ngx_http_request_t *r,
    ngx_http_smsverify_confirm_job_t *job);


ngx_int_t
ngx_http_smsverify_confirm(ngx_http_request_t *r, cJSON *root)
{
    ngx_str_t                          guess;
    ngx_http_smsverify_err_e           err;
    ngx_http_smsverify_loc_conf_t     *lcf;
    ngx_http_smsverify_main_conf_t    *mcf;
    ngx_http_smsverify_confirm_job_t  *job;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_confirm_thread,
                                        ngx_http_smsverify_confirm_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = ngx_http_smsverify_read_phone(r, root, job->phone);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    err = ngx_http_smsverify_read_guess(r, root, &guess);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    job->store = mcf->store;
    job->confirm.phone = job->phone;

    if (ngx_http_smsverify_confirm_read(job) == NGX_OK) {
        return ngx_http_smsverify_confirm_done(r, job);
    }

    sv_code_hash(mcf->secret, job->phone, (char *) guess.data, guess.len,
                 job->guess_hash);

    job->key = mcf->secret;
    job->confirm.guess_hash = job->guess_hash;
    job->confirm.token_new = ngx_http_smsverify_token_new;
    job->confirm.token_data = job;
    job->op.c = &job->confirm;
    job->op.clock = 1;
    job->op.token_ttl_ms = lcf->token_ttl;
    job->op.rc = &job->rc;
    job->op.err = job->err;
    job->op.errlen = sizeof(job->err);

    if (ngx_http_smsverify_task_post_confirm(r, &job->op) != NGX_OK) {
        return ngx_http_smsverify_busy(r);
    }

    return NGX_DONE;
}


static ngx_http_smsverify_err_e
ngx_http_smsverify_read_guess(ngx_http_request_t *r, cJSON *root,
    ngx_str_t *guess)
{
    ngx_uint_t                i;
    ngx_http_smsverify_err_e  err;

    static const char  field[] = "verificationNumber";

    err = ngx_http_smsverify_json_string(root, field, guess);

    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_field_err(r, err, field);
    }

    /* a string of digits; one of another length is merely a wrong guess */

    if (guess->len == 0 || guess->len > 2 * SV_CODE_MAX) {
        return ngx_http_smsverify_field_err(r,
                                         NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
                                         field);
    }

    for (i = 0; i < guess->len; i++) {
        if (guess->data[i] < '0' || guess->data[i] > '9') {
            return ngx_http_smsverify_field_err(r,
                                         NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
                                         field);
        }
    }

    return NGX_HTTP_SMSVERIFY_OK;
}


/*
 * On the event loop, where the store's reads never wait: NGX_OK if a read
 * decides the confirm (no code, an expired one, a member's phone) as the
 * pool's would have at that moment, with nothing to write; else
 * NGX_DECLINED, the pool decides (a read that failed, too).  A send in
 * flight meanwhile is one the confirm came before.
 */

static ngx_int_t
ngx_http_smsverify_confirm_read(ngx_http_smsverify_confirm_job_t *job)
{
    if (!sv_store_reads_wait_free(job->store)) {
        return NGX_DECLINED;
    }

    job->confirm.now_ms = sv_clock_ms();

    job->rc = sv_store_confirm_read(job->store, &job->confirm, job->err,
                                    sizeof(job->err));

    switch (job->rc) {

    case SV_STORE_NO_CODE:
    case SV_STORE_EXPIRED:
    case SV_STORE_PHONE_TAKEN:
        return NGX_OK;

    default:
        return NGX_DECLINED;
    }
}


static void
ngx_http_smsverify_confirm_thread(void *data)
{
    ngx_http_smsverify_confirm_job_t  *job = data;

    /* the code's life is judged now, however long the task queued */

    sv_store_confirm_op(job->store, &job->op);
}


/* In the pool thread, on a match only: the token and what is kept of it. */

static int
ngx_http_smsverify_token_new(void *data, uint8_t *token_hash)
{
    ngx_http_smsverify_confirm_job_t  *job = data;

    if (sv_token_generate(job->token) != 0) {
        return -1;
    }

    sv_token_hash(job->key, job->token, SV_TOKEN_LEN, token_hash);

    return 0;
}


static ngx_int_t
ngx_http_smsverify_confirm_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_confirm_job_t  *job = data;

    u_char                           buf[64], *p;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    switch (job->rc) {

    case SV_STORE_OK:
        (void) ngx_atomic_fetch_add(&mcf->counters->confirmed, 1);
        return ngx_http_smsverify_confirmed(r, job);

    case SV_STORE_MISMATCH:
        (void) ngx_atomic_fetch_add(&mcf->counters->confirm_failed, 1);
        p = ngx_snprintf(buf, sizeof(buf), "\"attemptsLeft\":%ui",
                         (ngx_uint_t) job->confirm.attempts_left);
        return ngx_http_smsverify_error(r, NGX_HTTP_SMSVERIFY_ERR_CODE_MISMATCH,
                                        (char *) buf, p - buf);

    case SV_STORE_BURNT:
        (void) ngx_atomic_fetch_add(&mcf->counters->confirm_failed, 1);
        return ngx_http_smsverify_error(r,
                                     NGX_HTTP_SMSVERIFY_ERR_TOO_MANY_ATTEMPTS,
                                     NULL, 0);

    case SV_STORE_NO_CODE:
    case SV_STORE_EXPIRED:
        (void) ngx_atomic_fetch_add(&mcf->counters->confirm_failed, 1);
        /* fall through */

    default:
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }
}


static ngx_int_t
ngx_http_smsverify_confirmed(ngx_http_request_t *r,
    ngx_http_smsverify_confirm_job_t *job)
{
    u_char                         *body, *p;
    size_t                          len;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    if (lcf->token_cookie
        && ngx_http_smsverify_set_token_cookie(r, job->token) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = sizeof("{\"status\":\"verified\",\"phoneNumber\":\"\","
                 "\"verificationToken\":\"\",\"expiresIn\":}") - 1
          + SV_PHONE_SIZE + SV_TOKEN_LEN + NGX_INT_T_LEN;

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_snprintf(body, len,
                     "{\"status\":\"verified\",\"phoneNumber\":\"%s\","
                     "\"verificationToken\":\"%s\",\"expiresIn\":%M}",
                     job->phone, job->token, lcf->token_ttl / 1000);

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, body, p - body);
}
