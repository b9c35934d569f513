
/*
 * POST login: the account (the email, or the phone when there is no email
 * key) and the password.  In the pool: the lock of the account, the
 * member, the bcrypt check (an unknown account is checked against a dummy
 * hash of the configured cost: the same answer in the same time), the
 * failure counted or the session started, and a hash of another cost
 * replaced.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"
#include "sv_clock.h"
#include "sv_password.h"
#include "sv_session.h"
#include "sv_text.h"


/* "e:" and a folded email, or "p:" and an E.164 phone */
#define NGX_HTTP_SMSVERIFY_ACCOUNT_SIZE  (2 + SV_EMAIL_MAX + 1)


typedef struct {
    sv_store_t         *store;
    const u_char       *key;
    char                account[NGX_HTTP_SMSVERIFY_ACCOUNT_SIZE];
    char               *password;
    size_t              password_len;
    unsigned            cost;
    int64_t             ttl_ms;
    int64_t             idle_ms;
    sv_login_t          login;
    sv_member_info_t    member;
    char                session[SV_TOKEN_LEN + 1];

    unsigned            malformed:1;    /* an email no member can have */

    sv_store_rc_t       rc;         /* NOT_MEMBER: a failed login */
    char                err[256];
} ngx_http_smsverify_login_job_t;


static ngx_http_smsverify_err_e ngx_http_smsverify_login_account(
    ngx_http_request_t *r, cJSON *root, ngx_http_smsverify_login_job_t *job);
static void ngx_http_smsverify_login_thread(void *data);
static sv_store_rc_t ngx_http_smsverify_login_check(
    ngx_http_smsverify_login_job_t *job);
static void ngx_http_smsverify_login_rehash(
    ngx_http_smsverify_login_job_t *job);
static ngx_int_t ngx_http_smsverify_login_done(ngx_http_request_t *r,
    void *data);


ngx_int_t
ngx_http_smsverify_login(ngx_http_request_t *r, cJSON *root)
{
    ngx_str_t                        password;
    ngx_http_smsverify_err_e         err;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;
    ngx_http_smsverify_login_job_t  *job;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_login_thread,
                                        ngx_http_smsverify_login_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = ngx_http_smsverify_login_account(r, root, job);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    err = ngx_http_smsverify_json_string(root, "password", &password);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r,
                       ngx_http_smsverify_field_err(r, err, "password"));
    }

    job->password = ngx_pnalloc(r->pool, password.len + 1);
    if (job->password == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(job->password, password.data, password.len);
    job->password[password.len] = '\0';
    job->password_len = password.len;

    /* the body's copy of the password goes with the JSON tree */

    ngx_explicit_memzero(password.data, password.len);

    job->store = mcf->store;
    job->key = mcf->secret;
    job->cost = lcf->bcrypt_cost;
    job->ttl_ms = lcf->session_ttl;
    job->idle_ms = lcf->session_idle;
    job->login.account = job->account;
    job->login.limit = lcf->login_limit;
    job->login.window_ms = lcf->login_window;

    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        ngx_explicit_memzero(job->password, job->password_len);
        return ngx_http_smsverify_busy(r);
    }

    return NGX_DONE;
}


/* the email, compared folded; or, without an email key, the phone */

static ngx_http_smsverify_err_e
ngx_http_smsverify_login_account(ngx_http_request_t *r, cJSON *root,
    ngx_http_smsverify_login_job_t *job)
{
    char                      phone[SV_PHONE_SIZE];
    ngx_str_t                 email;
    ngx_http_smsverify_err_e  err;

    err = ngx_http_smsverify_json_string(root, "email", &email);

    if (err == NGX_HTTP_SMSVERIFY_ERR_MISSING_FIELD) {
        err = ngx_http_smsverify_read_phone(r, root, phone);
        if (err != NGX_HTTP_SMSVERIFY_OK) {
            return err;
        }

        ngx_snprintf((u_char *) job->account, sizeof(job->account), "p:%s%Z",
                     phone);
        return NGX_HTTP_SMSVERIFY_OK;
    }

    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_field_err(r, err, "email");
    }

    /*
     * No member has an email of another form: its login fails as an
     * unknown account's does, but, its form being no secret, with no
     * bcrypt and no failure counted.
     */

    if (!sv_email_valid((char *) email.data, email.len)) {
        job->malformed = 1;
        return NGX_HTTP_SMSVERIFY_OK;
    }

    job->account[0] = 'e';
    job->account[1] = ':';
    sv_email_fold((char *) email.data, email.len, job->account + 2);

    return NGX_HTTP_SMSVERIFY_OK;
}


static void
ngx_http_smsverify_login_thread(void *data)
{
    ngx_http_smsverify_login_job_t  *job = data;

    sv_session_t  s;

    if (job->malformed) {
        explicit_bzero(job->password, job->password_len);
        job->rc = SV_STORE_NOT_MEMBER;
        return;
    }

    job->login.now_ms = sv_clock_ms();

    job->rc = ngx_http_smsverify_login_check(job);

    if (job->rc == SV_STORE_OK) {
        ngx_http_smsverify_login_rehash(job);
    }

    explicit_bzero(job->password, job->password_len);

    if (job->rc == SV_STORE_NOT_MEMBER) {

        /*
         * a failure the lock could not count is not answered as one: a
         * guess beyond the limit's sight would learn its answer
         */

        if (sv_store_login_failed(job->store, &job->login, job->err,
                                  sizeof(job->err))
            == SV_STORE_UNAVAILABLE)
        {
            job->rc = SV_STORE_UNAVAILABLE;
        }

        return;
    }

    if (job->rc != SV_STORE_OK) {
        return;
    }

    s.member_id = job->member.id;
    s.epoch = job->member.epoch;
    s.now_ms = sv_clock_ms();
    s.expires_ms = s.now_ms + job->ttl_ms;
    s.idle_ms = job->idle_ms;
    s.account = job->account;

    job->rc = sv_session_start(job->store, job->key, &s, job->session,
                               job->err, sizeof(job->err));
}


/* OK for the account's password; NOT_MEMBER for an unknown or a wrong one */

static sv_store_rc_t
ngx_http_smsverify_login_check(ngx_http_smsverify_login_job_t *job)
{
    int            match;
    char           dummy[SV_PASSWORD_HASH_SIZE];
    const char    *email_key, *phone, *hash;
    sv_store_rc_t  rc;

    rc = sv_store_login_allowed(job->store, &job->login, job->err,
                                sizeof(job->err));
    if (rc != SV_STORE_OK) {
        return rc;
    }

    email_key = job->account[0] == 'e' ? job->account + 2 : NULL;
    phone = job->account[0] == 'p' ? job->account + 2 : NULL;

    rc = sv_store_member_find(job->store, email_key, phone, &job->member,
                              job->err, sizeof(job->err));

    if (rc != SV_STORE_OK && rc != SV_STORE_NOT_MEMBER) {
        return rc;
    }

    sv_password_dummy(job->cost, dummy);
    hash = (rc == SV_STORE_OK) ? job->member.password_hash : dummy;

    match = sv_password_verify_yielding(job->password, job->password_len,
                                        hash);

    return (rc == SV_STORE_OK && match) ? SV_STORE_OK : SV_STORE_NOT_MEMBER;
}


/* a hash of another cost than the configured one is replaced */

static void
ngx_http_smsverify_login_rehash(ngx_http_smsverify_login_job_t *job)
{
    char  hash[SV_PASSWORD_HASH_SIZE], err[256];

    if (sv_password_cost(job->member.password_hash) == (int) job->cost) {
        return;
    }

    if (sv_password_hash_yielding(job->password, job->password_len,
                                  job->cost, hash, sizeof(hash), err,
                                  sizeof(err))
        != 0)
    {
        return;
    }

    /* the login holds whether the new hash is stored or not */

    (void) sv_store_member_rehash(job->store, job->member.id,
                                  job->member.password_hash, hash, err,
                                  sizeof(err));
}


static ngx_int_t
ngx_http_smsverify_login_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_login_job_t  *job = data;

    u_char                           buf[128], *p;
    ngx_int_t                        rc;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    switch (job->rc) {

    case SV_STORE_OK:
        break;

    case SV_STORE_NOT_MEMBER:
        (void) ngx_atomic_fetch_add(&mcf->counters->logins_failed, 1);
        return ngx_http_smsverify_error(r,
                                        NGX_HTTP_SMSVERIFY_ERR_LOGIN_FAILED,
                                        NULL, 0);

    case SV_STORE_LOCKED:
        (void) ngx_atomic_fetch_add(&mcf->counters->logins_failed, 1);
        return ngx_http_smsverify_retry_error(r,
                                          NGX_HTTP_SMSVERIFY_ERR_LOGIN_LOCKED,
                                          job->login.retry_after_ms);

    default:
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    (void) ngx_atomic_fetch_add(&mcf->counters->logins, 1);

    rc = ngx_http_smsverify_set_session_cookie(r, job->session);
    ngx_explicit_memzero(job->session, sizeof(job->session));

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_snprintf(buf, sizeof(buf),
                     "{\"status\":\"logged_in\",\"memberId\":%uL,"
                     "\"expiresIn\":%M}",
                     (uint64_t) job->member.id, lcf->session_ttl / 1000);

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, buf, p - buf);
}
