
/*
 * POST signup: validated on the event loop; the check that the token is
 * valid and the email and phone free, the bcrypt hash and the commit
 * that creates the member run in the pool.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"
#include "sv_clock.h"
#include "sv_json.h"
#include "sv_password.h"
#include "sv_session.h"
#include "sv_text.h"


/* code points; the INVALID_NICKNAME message says so */
#define NGX_HTTP_SMSVERIFY_NICKNAME_MAX  20

/* what an answer naming terms ("unknown":[...]) may take */
#define NGX_HTTP_SMSVERIFY_TERMS_DETAIL_SIZE                                  \
    (32 + NGX_HTTP_SMSVERIFY_TERMS_MAX * (NGX_INT_T_LEN + 1))


typedef struct {
    sv_store_t       *store;
    char              phone[SV_PHONE_SIZE];
    char             *password;
    size_t            password_len;
    unsigned          cost;
    uint8_t           token_hash[SV_HASH_SIZE];
    int               terms[NGX_HTTP_SMSVERIFY_TERMS_MAX];
    u_char            terms_detail[NGX_HTTP_SMSVERIFY_TERMS_DETAIL_SIZE];
    char              hash[SV_PASSWORD_HASH_SIZE];
    sv_member_t       member;

    /* smsverify_signup_login: the session the signup starts */
    const u_char     *key;
    int64_t           session_ttl_ms;
    int64_t           session_idle_ms;
    char              session[SV_TOKEN_LEN + 1];

    sv_store_rc_t     rc;
    char              err[256];
} ngx_http_smsverify_signup_job_t;


static ngx_http_smsverify_err_e ngx_http_smsverify_signup_check(
    ngx_http_request_t *r, cJSON *root, ngx_str_t *fields,
    ngx_http_smsverify_signup_job_t *job);
static ngx_http_smsverify_err_e ngx_http_smsverify_read_fields(
    ngx_http_request_t *r, cJSON *root, ngx_str_t *fields);
static ngx_http_smsverify_err_e ngx_http_smsverify_check_values(
    ngx_http_request_t *r, ngx_str_t *fields);
static ngx_http_smsverify_err_e ngx_http_smsverify_read_terms(
    ngx_http_request_t *r, cJSON *root,
    ngx_http_smsverify_signup_job_t *job);
static ngx_http_smsverify_err_e ngx_http_smsverify_check_terms(
    ngx_http_request_t *r, ngx_http_smsverify_signup_job_t *job);
static char *ngx_http_smsverify_strdup(ngx_http_request_t *r, ngx_str_t *s);
static void ngx_http_smsverify_signup_thread(void *data);
static void ngx_http_smsverify_signup_session(
    ngx_http_smsverify_signup_job_t *job);
static ngx_int_t ngx_http_smsverify_signup_done(ngx_http_request_t *r,
    void *data);


enum {
    NGX_HTTP_SMSVERIFY_FIELD_EMAIL = 0,
    NGX_HTTP_SMSVERIFY_FIELD_PASSWORD,
    NGX_HTTP_SMSVERIFY_FIELD_NICKNAME,
    NGX_HTTP_SMSVERIFY_FIELD_TOKEN,
    NGX_HTTP_SMSVERIFY_FIELD_LAST
};

static const char  *ngx_http_smsverify_signup_fields[] = {
    "email", "password", "nickname", "verificationToken"
};


ngx_int_t
ngx_http_smsverify_signup(ngx_http_request_t *r, cJSON *root)
{
    char                             *email_key;
    ngx_str_t                         fields[NGX_HTTP_SMSVERIFY_FIELD_LAST];
    ngx_str_t                        *email, *password, *nickname;
    ngx_http_smsverify_err_e          err;
    ngx_http_smsverify_loc_conf_t    *lcf;
    ngx_http_smsverify_main_conf_t   *mcf;
    ngx_http_smsverify_signup_job_t  *job;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_signup_thread,
                                        ngx_http_smsverify_signup_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = ngx_http_smsverify_signup_check(r, root, fields, job);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    email = &fields[NGX_HTTP_SMSVERIFY_FIELD_EMAIL];
    password = &fields[NGX_HTTP_SMSVERIFY_FIELD_PASSWORD];
    nickname = &fields[NGX_HTTP_SMSVERIFY_FIELD_NICKNAME];

    job->member.email = ngx_http_smsverify_strdup(r, email);
    job->member.nickname = ngx_http_smsverify_strdup(r, nickname);
    job->password = ngx_http_smsverify_strdup(r, password);
    email_key = ngx_pnalloc(r->pool, email->len + 1);

    if (job->member.email == NULL || job->member.nickname == NULL
        || job->password == NULL || email_key == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the body's copy of the password goes with the JSON tree */

    ngx_explicit_memzero(password->data, password->len);

    sv_email_fold((char *) email->data, email->len, email_key);

    job->store = mcf->store;
    job->password_len = password->len;
    job->cost = lcf->bcrypt_cost;
    job->member.email_key = email_key;
    job->member.phone = job->phone;
    job->member.password_hash = job->hash;
    job->member.terms = job->terms;
    job->member.token_hash = job->token_hash;

    if (lcf->signup_login) {
        job->key = mcf->secret;
        job->session_ttl_ms = lcf->session_ttl;
        job->session_idle_ms = lcf->session_idle;
    }

    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        ngx_explicit_memzero(job->password, job->password_len);
        return ngx_http_smsverify_busy(r);
    }

    return NGX_DONE;
}


/* the checks in the order of their answers: the first that fails is it */

static ngx_http_smsverify_err_e
ngx_http_smsverify_signup_check(ngx_http_request_t *r, cJSON *root,
    ngx_str_t *fields, ngx_http_smsverify_signup_job_t *job)
{
    ngx_http_smsverify_err_e  err;

    err = ngx_http_smsverify_read_fields(r, root, fields);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return err;
    }

    err = ngx_http_smsverify_read_terms(r, root, job);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return err;
    }

    err = ngx_http_smsverify_read_phone(r, root, job->phone);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return err;
    }

    err = ngx_http_smsverify_check_values(r, fields);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return err;
    }

    err = ngx_http_smsverify_check_terms(r, job);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return err;
    }

    return ngx_http_smsverify_read_token(r,
                                     &fields[NGX_HTTP_SMSVERIFY_FIELD_TOKEN],
                                     job->token_hash);
}


static ngx_http_smsverify_err_e
ngx_http_smsverify_read_fields(ngx_http_request_t *r, cJSON *root,
    ngx_str_t *fields)
{
    ngx_uint_t                i;
    const char               *name;
    ngx_http_smsverify_err_e  err;

    for (i = 0; i < NGX_HTTP_SMSVERIFY_FIELD_LAST; i++) {
        name = ngx_http_smsverify_signup_fields[i];

        err = ngx_http_smsverify_json_string(root, name, &fields[i]);

        if (err == NGX_HTTP_SMSVERIFY_OK) {
            continue;
        }

        if (i == NGX_HTTP_SMSVERIFY_FIELD_TOKEN
            && err == NGX_HTTP_SMSVERIFY_ERR_MISSING_FIELD)
        {
            /* the token may come as a cookie instead */

            ngx_str_null(&fields[i]);
            continue;
        }

        return ngx_http_smsverify_field_err(r, err, name);
    }

    return NGX_HTTP_SMSVERIFY_OK;
}


static ngx_http_smsverify_err_e
ngx_http_smsverify_check_values(ngx_http_request_t *r, ngx_str_t *fields)
{
    ngx_str_t                      *s;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    s = &fields[NGX_HTTP_SMSVERIFY_FIELD_EMAIL];

    if (!sv_email_valid((char *) s->data, s->len)) {
        return NGX_HTTP_SMSVERIFY_ERR_INVALID_EMAIL;
    }

    s = &fields[NGX_HTTP_SMSVERIFY_FIELD_PASSWORD];

    if (!sv_password_acceptable((char *) s->data, s->len, lcf->password_min,
                                lcf->password_max))
    {
        return NGX_HTTP_SMSVERIFY_ERR_INVALID_PASSWORD;
    }

    s = &fields[NGX_HTTP_SMSVERIFY_FIELD_NICKNAME];

    if (!sv_nickname_valid((char *) s->data, s->len,
                           NGX_HTTP_SMSVERIFY_NICKNAME_MAX))
    {
        return NGX_HTTP_SMSVERIFY_ERR_INVALID_NICKNAME;
    }

    return NGX_HTTP_SMSVERIFY_OK;
}


static ngx_http_smsverify_err_e
ngx_http_smsverify_read_terms(ngx_http_request_t *r, cJSON *root,
    ngx_http_smsverify_signup_job_t *job)
{
    switch (sv_json_int_set(root, "termsId", job->terms,
                            NGX_HTTP_SMSVERIFY_TERMS_MAX, &job->member.nterms))
    {
    case SV_JSON_OK:
        return NGX_HTTP_SMSVERIFY_OK;

    case SV_JSON_MISSING:
        return ngx_http_smsverify_field_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_MISSING_FIELD,
                                          "termsId");

    default:
        return ngx_http_smsverify_field_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
                                          "termsId");
    }
}


/* terms the location does not define, then required ones not agreed to */

static ngx_http_smsverify_err_e
ngx_http_smsverify_check_terms(ngx_http_request_t *r,
    ngx_http_smsverify_signup_job_t *job)
{
    u_char                         *p, *last;
    ngx_int_t                       unknown[NGX_HTTP_SMSVERIFY_TERMS_MAX];
    ngx_int_t                       missing[NGX_HTTP_SMSVERIFY_TERMS_MAX];
    ngx_uint_t                      i, j, nunknown, nmissing, nterms;
    ngx_http_smsverify_term_t      *terms;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);

    terms = lcf->terms ? lcf->terms->elts : NULL;
    nterms = lcf->terms ? lcf->terms->nelts : 0;
    nunknown = 0;
    nmissing = 0;

    for (i = 0; i < job->member.nterms; i++) {
        for (j = 0; j < nterms; j++) {
            if (terms[j].id == job->terms[i]) {
                break;
            }
        }

        if (j == nterms) {
            unknown[nunknown++] = job->terms[i];
        }
    }

    p = job->terms_detail;
    last = p + sizeof(job->terms_detail);

    if (nunknown) {
        p = ngx_cpymem(p, "\"unknown\":", sizeof("\"unknown\":") - 1);
        p = ngx_http_smsverify_int_list(p, last, unknown, nunknown);
        return ngx_http_smsverify_detail_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_UNKNOWN_TERMS,
                                          job->terms_detail,
                                          p - job->terms_detail);
    }

    for (j = 0; j < nterms; j++) {
        if (!terms[j].required) {
            continue;
        }

        for (i = 0; i < job->member.nterms; i++) {
            if (terms[j].id == job->terms[i]) {
                break;
            }
        }

        if (i == job->member.nterms
            && nmissing < NGX_HTTP_SMSVERIFY_TERMS_MAX)
        {
            missing[nmissing++] = terms[j].id;
        }
    }

    if (nmissing) {
        p = ngx_cpymem(p, "\"missing\":", sizeof("\"missing\":") - 1);
        p = ngx_http_smsverify_int_list(p, last, missing, nmissing);
        return ngx_http_smsverify_detail_err(r,
                                         NGX_HTTP_SMSVERIFY_ERR_TERMS_REQUIRED,
                                         job->terms_detail,
                                         p - job->terms_detail);
    }

    return NGX_HTTP_SMSVERIFY_OK;
}


static char *
ngx_http_smsverify_strdup(ngx_http_request_t *r, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
}


static void
ngx_http_smsverify_signup_thread(void *data)
{
    ngx_http_smsverify_signup_job_t  *job = data;

    /*
     * A signup that cannot succeed is refused before the hash (a taken
     * answer counts against the token), and the clock is read where each
     * decision is made: a queue's wait stretches no token's life.
     */

    job->member.now_ms = sv_clock_ms();

    job->rc = sv_store_signup_check(job->store, &job->member, job->err,
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

    job->member.now_ms = sv_clock_ms();

    job->rc = sv_store_signup(job->store, &job->member, job->err,
                              sizeof(job->err));

    if (job->rc == SV_STORE_OK && job->key) {
        ngx_http_smsverify_signup_session(job);
    }
}


/*
 * The member is there whatever becomes of its session: a session that
 * could not be stored leaves a signup without the cookie, to log in.
 */

static void
ngx_http_smsverify_signup_session(ngx_http_smsverify_signup_job_t *job)
{
    char          err[256];
    sv_session_t  s;

    s.member_id = job->member.id;
    s.epoch = 0;
    s.now_ms = sv_clock_ms();
    s.expires_ms = s.now_ms + job->session_ttl_ms;
    s.idle_ms = job->session_idle_ms;
    s.account = NULL;

    if (sv_session_start(job->store, job->key, &s, job->session, err,
                         sizeof(err))
        != SV_STORE_OK)
    {
        job->session[0] = '\0';
    }
}


static ngx_int_t
ngx_http_smsverify_signup_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_signup_job_t  *job = data;

    u_char                           buf[64], *p;
    ngx_int_t                        rc;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    if (job->rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    (void) ngx_atomic_fetch_add(&mcf->counters->signups, 1);

    if (lcf->token_cookie
        && ngx_http_smsverify_clear_token_cookie(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (job->session[0]) {
        rc = ngx_http_smsverify_set_session_cookie(r, job->session);
        ngx_explicit_memzero(job->session, sizeof(job->session));

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    p = ngx_snprintf(buf, sizeof(buf),
                     "{\"status\":\"created\",\"memberId\":%uL}",
                     (uint64_t) job->member.id);

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, buf, p - buf);
}
