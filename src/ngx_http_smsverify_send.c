
/*
 * POST send: a fresh code, counted against the daily budget, the client
 * address's and the phone's limits, handed to the providers in order
 * until one accepts it; to a test number, its fixed code, with no limit
 * and no provider.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_ctx.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"
#include "sv_addr.h"
#include "sv_clock.h"
#include "sv_text.h"


/* ASCII SUB: what $smsverify_code yields while a message is built */
#define NGX_HTTP_SMSVERIFY_CODE_PLACEHOLDER  0x1a


typedef struct {
    sv_store_t            *store;
    sv_send_t              limits;
    char                   phone[SV_PHONE_SIZE];
    char                   addr[SV_ADDR_KEY_SIZE];
    uint8_t                hash[SV_HASH_SIZE];
    int64_t                ttl_ms;
    int64_t                expires_ms;
    unsigned               attempts;
    const sv_provider_t   *providers;
    ngx_uint_t             nproviders;
    sv_sms_t               sms;
    unsigned               test:1;              /* a test number's */
    unsigned               begun:1;             /* counted by send_begin */

    sv_store_rc_t          rc;
    sv_store_send_op_t     begin_op;            /* send_begin, in a batch */
    sv_store_code_op_t     code_op;             /* code_put, in a batch */
    ngx_uint_t             tried;               /* providers asked */
    ngx_int_t              accepted;            /* provider index, or -1 */
    sv_provider_outcome_t *outcomes;            /* one per provider */
    sv_provider_chain_t    chain;
    char                   err[SV_PROVIDER_REASON_SIZE];
} ngx_http_smsverify_send_job_t;


static ngx_http_smsverify_test_number_t *ngx_http_smsverify_find_test_number(
    ngx_http_smsverify_loc_conf_t *lcf, const char *phone);
static ngx_int_t ngx_http_smsverify_send_test(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job,
    ngx_http_smsverify_test_number_t *tn);
static void ngx_http_smsverify_set_limits(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job);
static ngx_int_t ngx_http_smsverify_budget_spent(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job);
static ngx_http_smsverify_err_e ngx_http_smsverify_draw_code(
    ngx_http_request_t *r, ngx_http_smsverify_send_job_t *job, u_char *code);
static ngx_int_t ngx_http_smsverify_make_message(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job, u_char *code);
static ngx_http_smsverify_err_e ngx_http_smsverify_check_sms_length(
    ngx_http_request_t *r, ngx_http_smsverify_send_job_t *job);
static void ngx_http_smsverify_put_code(ngx_str_t *text, u_char *code,
    size_t len);
static ngx_int_t ngx_http_smsverify_send_read(
    ngx_http_smsverify_send_job_t *job);
static void ngx_http_smsverify_send_stamp(
    ngx_http_smsverify_send_job_t *job);
static void ngx_http_smsverify_send_thread(void *data);
static void ngx_http_smsverify_send_batch(sv_store_t *store,
    sv_store_op_t *ops, size_t n);
static void ngx_http_smsverify_send_begin(void *data);
static void ngx_http_smsverify_send_begin_op(
    ngx_http_smsverify_send_job_t *job);
static void ngx_http_smsverify_send_begun(ngx_http_smsverify_send_job_t *job);
static void ngx_http_smsverify_send_end(void *data);
static void ngx_http_smsverify_send_code_op(
    ngx_http_smsverify_send_job_t *job);
static void ngx_http_smsverify_send_changed(
    ngx_http_smsverify_send_job_t *job, const char *what);
static ngx_int_t ngx_http_smsverify_send_done(ngx_http_request_t *r,
    void *data);
static void ngx_http_smsverify_count_providers(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job);
static void ngx_http_smsverify_count_call(ngx_http_smsverify_counters_t *c,
    sv_provider_type_t type, int64_t us);
static void ngx_http_smsverify_mask(const char *e164, ngx_str_t *out,
    u_char *buf);


ngx_int_t
ngx_http_smsverify_send(ngx_http_request_t *r, cJSON *root)
{
    u_char                             code[SV_CODE_MAX + 1];
    ngx_http_smsverify_err_e           err;
    ngx_http_smsverify_send_job_t     *job;
    ngx_http_smsverify_loc_conf_t     *lcf;
    ngx_http_smsverify_main_conf_t    *mcf;
    ngx_http_smsverify_test_number_t  *tn;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_send_thread,
                                        ngx_http_smsverify_send_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = ngx_http_smsverify_read_phone(r, root, job->phone);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    tn = ngx_http_smsverify_find_test_number(lcf, job->phone);
    if (tn) {
        return ngx_http_smsverify_send_test(r, job, tn);
    }

    job->store = mcf->store;
    ngx_http_smsverify_set_limits(r, job);

    /*
     * A message that fits one SMS whatever the request (merge checked it)
     * can fail now only for want of memory or random bytes: a refusal the
     * read decides comes first, without a code drawn or a message made.
     */

    if (lcf->message_fits && ngx_http_smsverify_send_read(job) == NGX_OK) {
        return ngx_http_smsverify_send_done(r, job);
    }

    err = ngx_http_smsverify_draw_code(r, job, code);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    if (ngx_http_smsverify_make_message(r, job, code) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    err = ngx_http_smsverify_check_sms_length(r, job);
    if (err != NGX_HTTP_SMSVERIFY_OK) {
        return ngx_http_smsverify_reject(r, err);
    }

    job->outcomes = ngx_pcalloc(r->pool, lcf->providers->nelts
                                         * sizeof(sv_provider_outcome_t));
    if (job->outcomes == NULL) {
        ngx_explicit_memzero((u_char *) job->sms.text, job->sms.len);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->providers = lcf->providers->elts;
    job->nproviders = lcf->providers->nelts;
    job->attempts = lcf->max_attempts;
    job->ttl_ms = lcf->code_ttl;

    job->chain.providers = job->providers;
    job->chain.nproviders = job->nproviders;
    job->chain.sms = &job->sms;
    job->chain.outcomes = job->outcomes;

    /* else the message's own failures, known only now, come first */

    if (!lcf->message_fits && ngx_http_smsverify_send_read(job) == NGX_OK) {
        ngx_explicit_memzero((u_char *) job->sms.text, job->sms.len);
        return ngx_http_smsverify_send_done(r, job);
    }

    if (ngx_http_smsverify_task_post_send(r, ngx_http_smsverify_send_batch)
        != NGX_OK)
    {
        /* no thread will see the message */
        ngx_explicit_memzero((u_char *) job->sms.text, job->sms.len);
        return ngx_http_smsverify_busy(r);
    }

    return NGX_DONE;
}


/*
 * The phone's limits, the address's (counted once any location limits
 * addresses, checked where this one does) and the day's budget.
 */

static void
ngx_http_smsverify_set_limits(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job)
{
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    job->limits.phone = job->phone;
    job->limits.purpose = (lcf->endpoint == NGX_HTTP_SMSVERIFY_RESET_SEND)
                          ? SV_PURPOSE_RESET : SV_PURPOSE_SIGNUP;
    job->limits.resend_ms = lcf->resend_interval;
    job->limits.limit = lcf->send_limit;
    job->limits.window_ms = lcf->send_window;
    job->limits.budget = mcf->daily_budget;

    /* $remote_addr's: the realip module may have set it */

    if (mcf->ip_window_max > 0
        && sv_addr_key(r->connection->sockaddr, job->addr) == 0)
    {
        job->limits.addr = job->addr;
        job->limits.addr_keep_ms = mcf->ip_window_max;
        job->limits.addr_limit = lcf->ip_limit;
        job->limits.addr_window_ms = lcf->ip_window;
    }
}


/* the location's test number for the phone, or NULL */

static ngx_http_smsverify_test_number_t *
ngx_http_smsverify_find_test_number(ngx_http_smsverify_loc_conf_t *lcf,
    const char *phone)
{
    ngx_uint_t                         i;
    ngx_http_smsverify_test_number_t  *tn;

    if (lcf->test_numbers == NULL) {
        return NULL;
    }

    tn = lcf->test_numbers->elts;

    for (i = 0; i < lcf->test_numbers->nelts; i++) {
        if (ngx_strcmp(tn[i].phone, phone) == 0) {
            return &tn[i];
        }
    }

    return NULL;
}


/*
 * A test number: its fixed code is stored as any code is (it expires and
 * counts attempts), with no limit counted and no message made or sent.
 * The merge made sure the code has the location's length.
 */

static ngx_int_t
ngx_http_smsverify_send_test(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job, ngx_http_smsverify_test_number_t *tn)
{
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    sv_code_hash(mcf->secret, job->phone, tn->code, tn->code_len, job->hash);

    job->test = 1;
    job->store = mcf->store;
    job->attempts = lcf->max_attempts;
    job->ttl_ms = lcf->code_ttl;

    /* no provider: store calls only, batched */

    if (ngx_http_smsverify_task_post_store(r) != NGX_OK) {
        return ngx_http_smsverify_busy(r);
    }

    return NGX_DONE;
}


/* the code (code_length digits, NUL-terminated) and its keyed hash */

static ngx_http_smsverify_err_e
ngx_http_smsverify_draw_code(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job, u_char *code)
{
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    if (sv_code_generate((char *) code, lcf->code_length) != 0) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "smsverify could not draw random bytes");
        return NGX_HTTP_SMSVERIFY_ERR_INTERNAL;
    }

    sv_code_hash(mcf->secret, job->phone, (char *) code, lcf->code_length,
                 job->hash);

    return NGX_HTTP_SMSVERIFY_OK;
}


/* the message with the code in it; the code is wiped either way */

static ngx_int_t
ngx_http_smsverify_make_message(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job, u_char *code)
{
    ngx_str_t                       text;
    ngx_http_smsverify_ctx_t       *ctx;
    ngx_http_smsverify_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    ctx = ngx_http_smsverify_ctx(r);

    /*
     * nginx's script engine writes variable values to the debug log, so
     * $smsverify_code stands for a placeholder while the template is
     * evaluated, and the code takes its place afterwards.
     */

    ngx_memset(ctx->code, NGX_HTTP_SMSVERIFY_CODE_PLACEHOLDER,
               lcf->code_length);
    ctx->code_len = lcf->code_length;

    if (ngx_http_complex_value(r, lcf->message, &text) != NGX_OK) {
        ngx_explicit_memzero(code, SV_CODE_MAX + 1);
        return NGX_ERROR;
    }

    ctx->code_len = 0;

    ngx_http_smsverify_put_code(&text, code, lcf->code_length);
    ngx_explicit_memzero(code, SV_CODE_MAX + 1);

    job->sms.phone = job->phone;
    job->sms.text = (char *) text.data;
    job->sms.len = text.len;

    return NGX_OK;
}


/* one SMS, as the gateways count it; a longer message is wiped */

static ngx_http_smsverify_err_e
ngx_http_smsverify_check_sms_length(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job)
{
    size_t  euckr;

    euckr = sv_euckr_length((u_char *) job->sms.text, job->sms.len);

    if (euckr <= SV_SMS_MAX) {
        return NGX_HTTP_SMSVERIFY_OK;
    }

    ngx_explicit_memzero((u_char *) job->sms.text, job->sms.len);

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "smsverify message takes %uz bytes in EUC-KR, "
                  "more than one SMS (%d)",
                  euckr == (size_t) -1 ? 0 : euckr, SV_SMS_MAX);

    return NGX_HTTP_SMSVERIFY_ERR_INTERNAL;
}


static void
ngx_http_smsverify_put_code(ngx_str_t *text, u_char *code, size_t len)
{
    u_char  *p, *last;
    size_t   i;

    p = text->data;
    last = text->data + text->len;

    while ((size_t) (last - p) >= len) {

        for (i = 0;
             i < len && p[i] == NGX_HTTP_SMSVERIFY_CODE_PLACEHOLDER;
             i++)
        {
            /* void */
        }

        if (i == len) {
            p = ngx_cpymem(p, code, len);
            continue;
        }

        p += i + 1;
    }
}


/*
 * A test number: no limit and no provider, but the answer a real send
 * would get for the phone's member (or its absence), and the code stored.
 */

static sv_store_rc_t
ngx_http_smsverify_test_send(ngx_http_smsverify_send_job_t *job)
{
    sv_store_rc_t     rc;
    sv_member_info_t  member;

    rc = sv_store_member_find(job->store, NULL, job->phone, &member,
                              job->err, sizeof(job->err));

    if (rc == SV_STORE_OK && job->limits.purpose == SV_PURPOSE_SIGNUP) {
        return SV_STORE_PHONE_TAKEN;
    }

    if (rc == SV_STORE_NOT_MEMBER && job->limits.purpose == SV_PURPOSE_RESET) {
        return SV_STORE_NOT_MEMBER;
    }

    if (rc != SV_STORE_OK && rc != SV_STORE_NOT_MEMBER) {
        return rc;
    }

    return sv_store_code_put(job->store, job->phone, job->hash,
                             job->expires_ms, job->attempts,
                             job->limits.purpose, job->err, sizeof(job->err));
}


/*
 * On the event loop, where the store's reads never wait: NGX_OK if a read
 * refuses the send (a limit of the phone or the address, the phone taken
 * or no member's) as the pool's send_begin would have at that moment;
 * nothing was counted, no provider asked.  Else NGX_DECLINED: the pool
 * decides (the budget's refusals too: the store counts each).  A refusal holds against sends in
 * flight meanwhile: the store counts theirs before their provider call,
 * and takes a count back only after it, so this send came before.
 */

static ngx_int_t
ngx_http_smsverify_send_read(ngx_http_smsverify_send_job_t *job)
{
    if (!sv_store_reads_wait_free(job->store)) {
        return NGX_DECLINED;
    }

    job->accepted = -1;
    job->limits.now_ms = sv_clock_ms();

    job->rc = sv_store_send_read(job->store, &job->limits, job->err,
                                 sizeof(job->err));

    switch (job->rc) {

    case SV_STORE_PHONE_TAKEN:
    case SV_STORE_NOT_MEMBER:
    case SV_STORE_IP_LIMIT:
    case SV_STORE_RESEND_TOO_SOON:
    case SV_STORE_SEND_LIMIT:
        return NGX_OK;

    default:
        return NGX_DECLINED;
    }
}


/* the time of the send, not of the request: it may have queued */

static void
ngx_http_smsverify_send_stamp(ngx_http_smsverify_send_job_t *job)
{
    job->accepted = -1;
    job->tried = 0;

    job->limits.now_ms = sv_clock_ms();
    job->expires_ms = job->limits.now_ms + job->ttl_ms;
}


/* a test number's send, in a batch of the store's lane */

static void
ngx_http_smsverify_send_thread(void *data)
{
    ngx_http_smsverify_send_job_t  *job = data;

    ngx_http_smsverify_send_stamp(job);

    job->rc = ngx_http_smsverify_test_send(job);
}


/*
 * The sends of a batch, in its pool thread: their send_begin in one
 * store batch, the providers of those it admitted side by side (each
 * send's in order, on to the next as soon as one failed), then their
 * code_put or send_abort in one store batch.  ops[i].data is each job;
 * the ops are the batch's to reuse.  The ops say which are send_begin,
 * send_abort and code_put (send, abort, code), for a store that runs
 * those together (PostgreSQL's pipelines).
 */

static void
ngx_http_smsverify_send_batch(sv_store_t *store, sv_store_op_t *ops,
    size_t n)
{
    size_t                          i, k;
    sv_provider_chain_t           **chains, *one[1];
    ngx_http_smsverify_send_job_t  *job;

    for (i = 0; i < n; i++) {
        ngx_http_smsverify_send_begin_op(ops[i].data);
        ops[i].run = ngx_http_smsverify_send_begin;
        ops[i].send = &((ngx_http_smsverify_send_job_t *) ops[i].data)
                           ->begin_op;
        ops[i].abort = NULL;
        ops[i].code = NULL;
    }

    /* where the store runs the sends together, run() is not called */

    sv_store_batch_run(store, ops, n);

    for (i = 0; i < n; i++) {
        ngx_http_smsverify_send_begun(ops[i].data);
    }

    chains = (n > 1) ? malloc(n * sizeof(sv_provider_chain_t *)) : NULL;

    for (i = 0, k = 0; i < n; i++) {
        job = ops[i].data;

        if (!job->begun) {
            continue;
        }

        if (chains != NULL) {
            chains[k++] = &job->chain;

        } else {
            /* a batch of one, or no memory: each alone */
            one[0] = &job->chain;
            sv_provider_send_all(one, 1);
        }
    }

    if (chains != NULL) {
        sv_provider_send_all(chains, k);
        free(chains);
    }

    /* the admitted ones, to the front of the ops */

    for (i = 0, k = 0; i < n; i++) {
        job = ops[i].data;

        if (!job->begun) {
            continue;
        }

        /* the text with the code is of no more use */
        ngx_explicit_memzero((u_char *) job->sms.text, job->sms.len);

        job->tried = job->chain.tried;
        job->accepted = job->chain.accepted;

        ops[k].run = ngx_http_smsverify_send_end;
        ops[k].data = job;
        ops[k].send = NULL;
        ops[k].abort = NULL;
        ops[k].code = NULL;

        if (job->accepted >= 0) {
            ngx_http_smsverify_send_code_op(job);
            ops[k].code = &job->code_op;

        } else {
            /* begin_op's send, as send_begin stamped it */
            ops[k].abort = &job->begin_op;
        }

        k++;
    }

    /* where the store runs the codes (aborts) together, run() is not */

    sv_store_batch_run(store, ops, k);

    for (i = 0; i < k; i++) {
        job = ops[i].data;

        if (job->accepted >= 0) {
            ngx_http_smsverify_send_changed(job, "the SMS went out, and its"
                                            " code could not be stored");

        } else {
            ngx_http_smsverify_send_changed(job, "every provider failed, "
                                            "and the send could not be "
                                            "taken back");
        }
    }
}


/* counted against the limits and the budget, or refused by them */

static void
ngx_http_smsverify_send_begin(void *data)
{
    ngx_http_smsverify_send_job_t  *job = data;

    sv_store_send_op(job->store, &job->begin_op);
}


/*
 * The send_begin of the job, stamped with the time of the send, not of
 * the request (it may have queued), when it runs
 */

static void
ngx_http_smsverify_send_begin_op(ngx_http_smsverify_send_job_t *job)
{
    job->accepted = -1;
    job->tried = 0;

    job->begin_op.s = &job->limits;
    job->begin_op.clock = 1;
    job->begin_op.rc = &job->rc;
    job->begin_op.err = job->err;
    job->begin_op.errlen = sizeof(job->err);
}


static void
ngx_http_smsverify_send_begun(ngx_http_smsverify_send_job_t *job)
{
    job->expires_ms = job->limits.now_ms + job->ttl_ms;
    job->begun = (job->rc == SV_STORE_OK);

    if (!job->begun) {
        ngx_explicit_memzero((u_char *) job->sms.text, job->sms.len);
    }
}


/* the code stored once a provider took the message, else the count back */

static void
ngx_http_smsverify_send_end(void *data)
{
    ngx_http_smsverify_send_job_t  *job = data;

    if (job->accepted < 0) {
        sv_store_abort_op(job->store, &job->begin_op);
        return;
    }

    sv_store_code_op(job->store, &job->code_op);
}


static void
ngx_http_smsverify_send_code_op(ngx_http_smsverify_send_job_t *job)
{
    job->code_op.phone = job->phone;
    job->code_op.code_hash = job->hash;
    job->code_op.expires_ms = job->expires_ms;
    job->code_op.attempts = job->attempts;
    job->code_op.purpose = job->limits.purpose;
    job->code_op.rc = &job->rc;
    job->code_op.err = job->err;
    job->code_op.errlen = sizeof(job->err);
}


/*
 * Past send_begin the send is counted, and maybe sent: a database that
 * went away then is no STORE_UNAVAILABLE ("nothing was changed") but a
 * failure half done, answered as the LMDB store's errors are (500, the
 * log says what happened).
 */

static void
ngx_http_smsverify_send_changed(ngx_http_smsverify_send_job_t *job,
    const char *what)
{
    u_char  reason[sizeof(job->err)];

    if (job->rc != SV_STORE_UNAVAILABLE) {
        return;
    }

    ngx_cpystrn(reason, (u_char *) job->err, sizeof(reason));

    (void) ngx_snprintf((u_char *) job->err, sizeof(job->err) - 1,
                        "%s: %s%Z", what, reason);
    job->err[sizeof(job->err) - 1] = '\0';

    job->rc = SV_STORE_ERROR;
}


static ngx_int_t
ngx_http_smsverify_send_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_send_job_t  *job = data;

    u_char                           buf[256], *p;
    ngx_http_smsverify_loc_conf_t   *lcf;
    ngx_http_smsverify_main_conf_t  *mcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_smsverify_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    ngx_http_smsverify_count_providers(r, job);

    switch (job->rc) {

    case SV_STORE_OK:
        break;

    case SV_STORE_RESEND_TOO_SOON:
        (void) ngx_atomic_fetch_add(&mcf->counters->rate_limited, 1);
        return ngx_http_smsverify_retry_error(r,
                                        NGX_HTTP_SMSVERIFY_ERR_RESEND_TOO_SOON,
                                        job->limits.retry_after_ms);

    case SV_STORE_SEND_LIMIT:
        (void) ngx_atomic_fetch_add(&mcf->counters->rate_limited, 1);
        return ngx_http_smsverify_retry_error(r,
                                              NGX_HTTP_SMSVERIFY_ERR_SEND_LIMIT,
                                              job->limits.retry_after_ms);

    case SV_STORE_IP_LIMIT:
        (void) ngx_atomic_fetch_add(&mcf->counters->rate_limited, 1);
        return ngx_http_smsverify_retry_error(r,
                                              NGX_HTTP_SMSVERIFY_ERR_IP_LIMIT,
                                              job->limits.retry_after_ms);

    case SV_STORE_BUDGET:
        return ngx_http_smsverify_budget_spent(r, job);

    default:
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    if (!job->test && job->accepted < 0) {
        (void) ngx_atomic_fetch_add(&mcf->counters->send_failed, 1);
        return ngx_http_smsverify_error(r,
                                        NGX_HTTP_SMSVERIFY_ERR_PROVIDER_FAILED,
                                        NULL, 0);
    }

    /* a test number's send is no SMS: counted apart */

    (void) ngx_atomic_fetch_add(job->test ? &mcf->counters->test_sends
                                          : &mcf->counters->sent, 1);

    p = ngx_snprintf(buf, sizeof(buf),
                     "{\"status\":\"sent\",\"phoneNumber\":\"%s\","
                     "\"expiresIn\":%M,\"resendAfter\":%M}",
                     job->phone, lcf->code_ttl / 1000,
                     lcf->resend_interval / 1000);

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, buf, p - buf);
}


/*
 * 503 until midnight UTC; the store tells the day's first refusal, which
 * alone says so in the log, whichever worker it is.
 */

static ngx_int_t
ngx_http_smsverify_budget_spent(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job)
{
    ngx_tm_t                         tm;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    if (job->limits.budget_first) {
        ngx_gmtime((time_t) (job->limits.now_ms / 1000), &tm);

        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "smsverify daily budget of %ui SMS is spent for "
                      "%4d-%02d-%02d (UTC): sends are refused until "
                      "midnight UTC", mcf->daily_budget,
                      tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday);
    }

    return ngx_http_smsverify_retry_error(r,
                                          NGX_HTTP_SMSVERIFY_ERR_SMS_BUDGET,
                                          job->limits.retry_after_ms);
}


static void
ngx_http_smsverify_count_providers(ngx_http_request_t *r,
    ngx_http_smsverify_send_job_t *job)
{
    u_char                           masked[SV_PHONE_MASKED_SIZE];
    ngx_str_t                        phone;
    ngx_uint_t                       i, skip_level;
    const sv_provider_t             *p;
    sv_provider_outcome_t           *o;
    ngx_http_smsverify_counters_t   *c;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);
    c = mcf->counters;

    /*
     * every provider asked, whatever the store said after it: a call is
     * counted and timed even if the code could not be stored then
     */

    if (job->tried == 0) {
        return;
    }

    skip_level = job->accepted < 0 ? NGX_LOG_WARN : NGX_LOG_INFO;
    ngx_http_smsverify_mask(job->phone, &phone, masked);

    for (i = 0; i < job->tried; i++) {
        p = &job->providers[i];
        o = &job->outcomes[i];

        if ((ngx_int_t) i == job->accepted) {
            (void) ngx_atomic_fetch_add(&c->provider_ok[p->type], 1);
            ngx_http_smsverify_count_call(c, p->type, o->us);
            continue;
        }

        if (o->rc == SV_PROVIDER_SKIPPED) {
            /*
             * neither ok nor failed: it was not asked; a warning only
             * when no other provider took the message
             */
            ngx_log_error(skip_level, r->connection->log, 0,
                          "smsverify provider \"%s\" not asked to send to "
                          "\"%V\": %s",
                          sv_provider_name(p->type), &phone, o->reason);
            continue;
        }

        (void) ngx_atomic_fetch_add(&c->provider_failed[p->type], 1);
        ngx_http_smsverify_count_call(c, p->type, o->us);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "smsverify provider \"%s\" failed to send to \"%V\": %s",
                      sv_provider_name(p->type), &phone, o->reason);
    }
}


/* one call in the histogram of call times: its bucket and the sum */

static void
ngx_http_smsverify_count_call(ngx_http_smsverify_counters_t *c,
    sv_provider_type_t type, int64_t us)
{
    if (us < 0) {
        us = 0;
    }

    (void) ngx_atomic_fetch_add(&c->provider_calls[type]
                                                  [sv_duration_bucket(us)], 1);
    (void) ngx_atomic_fetch_add(&c->provider_us[type], (ngx_atomic_int_t) us);
}


static void
ngx_http_smsverify_mask(const char *e164, ngx_str_t *out, u_char *buf)
{
    sv_phone_mask(e164, (char *) buf, SV_PHONE_MASKED_SIZE);

    out->data = buf;
    out->len = ngx_strlen(buf);
}
