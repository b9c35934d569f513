
/*
 * smsverify admin: every path under the location.  The path and the
 * query are read on the event loop; the store's work runs in the pool.
 * export streams: a page of members is read in the pool, sent, and the
 * next page read only once the client has taken it.  import reads its
 * NDJSON body, checks every line and creates the members in the pool.
 */

#include "ngx_http_smsverify_endpoint.h"
#include "ngx_http_smsverify_ctx.h"
#include "ngx_http_smsverify_request.h"
#include "ngx_http_smsverify_response.h"
#include "ngx_http_smsverify_task.h"
#include "sv_admin.h"
#include "sv_clock.h"
#include "sv_member.h"
#include "sv_text.h"


#define NGX_HTTP_SMSVERIFY_PAGE_DEFAULT    100

/* the members of one page of export, and the bytes they may take */
#define NGX_HTTP_SMSVERIFY_EXPORT_PAGE     100
#define NGX_HTTP_SMSVERIFY_EXPORT_BUF                                         \
    (NGX_HTTP_SMSVERIFY_EXPORT_PAGE * SV_EXPORT_LINE_MAX)


typedef enum {
    NGX_HTTP_SMSVERIFY_ADMIN_LIST = 0,
    NGX_HTTP_SMSVERIFY_ADMIN_FIND,
    NGX_HTTP_SMSVERIFY_ADMIN_GET,
    NGX_HTTP_SMSVERIFY_ADMIN_DELETE,
    NGX_HTTP_SMSVERIFY_ADMIN_EXPORT,
    NGX_HTTP_SMSVERIFY_ADMIN_IMPORT,
    NGX_HTTP_SMSVERIFY_ADMIN_LIMITS
} ngx_http_smsverify_admin_op_e;


/* a piece of the import's body: in memory, or in the body's file */
typedef struct {
    u_char                     *data;       /* NULL: in the file */
    ngx_fd_t                    fd;
    off_t                       offset;
    size_t                      len;
} ngx_http_smsverify_piece_t;


typedef struct {
    sv_store_t                 *store;
    ngx_uint_t                  op;

    uint64_t                    id;
    char                        email_key[SV_STORE_EMAIL_MAX + 1];
    char                        phone[SV_PHONE_SIZE];
    sv_member_info_t            member;
    sv_member_delete_t          del;
    sv_member_page_t            page;

    /* export */
    ngx_uint_t                  hashes;
    u_char                     *out;
    size_t                      out_len;
    ngx_buf_t                   buf;
    ngx_chain_t                 chain;
    unsigned                    started:1;

    /* import */
    ngx_http_smsverify_piece_t *pieces;
    ngx_uint_t                  npieces;
    size_t                      body_len;
    size_t                      imported;
    size_t                      line;       /* of the answer; 0: none */
    sv_line_rc_t                line_rc;
    const char                 *field;

    sv_store_rc_t               rc;
    char                        err[256];
} ngx_http_smsverify_admin_job_t;


static ngx_int_t ngx_http_smsverify_admin_route(ngx_http_request_t *r,
    ngx_str_t *path, ngx_http_smsverify_admin_job_t *job);
static ngx_int_t ngx_http_smsverify_admin_method(ngx_http_request_t *r,
    ngx_uint_t methods, const char *allow);
static ngx_int_t ngx_http_smsverify_admin_members(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job);
static ngx_int_t ngx_http_smsverify_admin_number(ngx_str_t *s,
    uint64_t max, uint64_t *v);
static ngx_int_t ngx_http_smsverify_admin_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_smsverify_admin_post(ngx_http_request_t *r);
static void ngx_http_smsverify_admin_thread(void *data);
static ngx_int_t ngx_http_smsverify_admin_done(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_http_smsverify_admin_list(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job);
static ngx_int_t ngx_http_smsverify_admin_one(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job);
static ngx_int_t ngx_http_smsverify_admin_status(ngx_http_request_t *r,
    const char *status, uint64_t id);

static void ngx_http_smsverify_export_thread(
    ngx_http_smsverify_admin_job_t *job);
static ngx_int_t ngx_http_smsverify_export_done(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job);
static ngx_int_t ngx_http_smsverify_export_start(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job);
static ngx_uint_t ngx_http_smsverify_export_pending(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job);
static ngx_int_t ngx_http_smsverify_export_wait(ngx_http_request_t *r);
static void ngx_http_smsverify_export_writer(ngx_http_request_t *r);

static void ngx_http_smsverify_import_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_smsverify_import_pieces(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job);
static void ngx_http_smsverify_import_thread(
    ngx_http_smsverify_admin_job_t *job);
static u_char *ngx_http_smsverify_import_read(
    ngx_http_smsverify_admin_job_t *job);
static void ngx_http_smsverify_import_parse(
    ngx_http_smsverify_admin_job_t *job, u_char *body);
static ngx_int_t ngx_http_smsverify_import_done(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job);
static ngx_uint_t ngx_http_smsverify_is_ndjson(ngx_http_request_t *r);


ngx_int_t
ngx_http_smsverify_admin(ngx_http_request_t *r)
{
    ngx_str_t                        path;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_smsverify_main_conf_t  *mcf;
    ngx_http_smsverify_admin_job_t  *job;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    mcf = ngx_http_get_module_main_conf(r, ngx_http_smsverify_module);

    /* the path under the location's prefix, its leading "/" dropped */

    if (r->uri.len < clcf->name.len
        || ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) != 0)
    {
        return ngx_http_smsverify_error(r, NGX_HTTP_SMSVERIFY_ERR_NOT_FOUND,
                                        NULL, 0);
    }

    path.data = r->uri.data + clcf->name.len;
    path.len = r->uri.len - clcf->name.len;

    if (path.len && path.data[0] == '/') {
        path.data++;
        path.len--;
    }

    job = ngx_http_smsverify_task_alloc(r, sizeof(*job),
                                        ngx_http_smsverify_admin_thread,
                                        ngx_http_smsverify_admin_done);
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->store = mcf->store;

    return ngx_http_smsverify_admin_route(r, &path, job);
}


static ngx_int_t
ngx_http_smsverify_admin_route(ngx_http_request_t *r, ngx_str_t *path,
    ngx_http_smsverify_admin_job_t *job)
{
    ngx_int_t  rc;
    ngx_str_t  rest;

    if (path->len == sizeof("members") - 1
        && ngx_strncmp(path->data, "members", path->len) == 0)
    {
        rc = ngx_http_smsverify_admin_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD,
                                             "GET, HEAD");
        return rc != NGX_DECLINED ? rc
                                  : ngx_http_smsverify_admin_members(r, job);
    }

    if (path->len > sizeof("members/") - 1
        && ngx_strncmp(path->data, "members/", sizeof("members/") - 1) == 0)
    {
        rest.data = path->data + sizeof("members/") - 1;
        rest.len = path->len - (sizeof("members/") - 1);

        if (ngx_strlchr(rest.data, rest.data + rest.len, '/') != NULL) {
            return ngx_http_smsverify_error(r,
                                            NGX_HTTP_SMSVERIFY_ERR_NOT_FOUND,
                                            NULL, 0);
        }

        rc = ngx_http_smsverify_admin_method(r,
                                     NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE,
                                     "GET, HEAD, DELETE");
        if (rc != NGX_DECLINED) {
            return rc;
        }

        if (ngx_http_smsverify_admin_number(&rest, SV_STORE_ID_MAX, &job->id)
            != NGX_OK || job->id == 0)
        {
            (void) ngx_http_smsverify_field_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
                                          "memberId");
            return ngx_http_smsverify_reject(r,
                                         NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD);
        }

        job->op = (r->method == NGX_HTTP_DELETE)
                  ? NGX_HTTP_SMSVERIFY_ADMIN_DELETE
                  : NGX_HTTP_SMSVERIFY_ADMIN_GET;
        job->del.id = job->id;

        return ngx_http_smsverify_admin_post(r);
    }

    if (path->len == sizeof("export") - 1
        && ngx_strncmp(path->data, "export", path->len) == 0)
    {
        rc = ngx_http_smsverify_admin_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD,
                                             "GET, HEAD");
        return rc != NGX_DECLINED ? rc
                                  : ngx_http_smsverify_export_start(r, job);
    }

    if (path->len == sizeof("import") - 1
        && ngx_strncmp(path->data, "import", path->len) == 0)
    {
        rc = ngx_http_smsverify_admin_method(r, NGX_HTTP_POST, "POST");
        if (rc != NGX_DECLINED) {
            return rc;
        }

        if (!ngx_http_smsverify_is_ndjson(r)) {
            return ngx_http_smsverify_error(r,
                               NGX_HTTP_SMSVERIFY_ERR_UNSUPPORTED_MEDIA_TYPE,
                               "\"accepted\":\"application/x-ndjson\"",
                               sizeof("\"accepted\":\"application/x-ndjson\"")
                               - 1);
        }

        job->op = NGX_HTTP_SMSVERIFY_ADMIN_IMPORT;

        rc = ngx_http_read_client_request_body(r,
                                            ngx_http_smsverify_import_body);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    if (path->len > sizeof("limits/") - 1
        && ngx_strncmp(path->data, "limits/", sizeof("limits/") - 1) == 0)
    {
        rc = ngx_http_smsverify_admin_method(r, NGX_HTTP_DELETE, "DELETE");
        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* the uri is decoded: "%2B" is "+" already, and "+" stays one */

        rest.data = path->data + sizeof("limits/") - 1;
        rest.len = path->len - (sizeof("limits/") - 1);

        if (sv_phone_normalize((char *) rest.data, rest.len, job->phone)
            != 0)
        {
            return ngx_http_smsverify_error(r,
                                        NGX_HTTP_SMSVERIFY_ERR_INVALID_PHONE,
                                        NULL, 0);
        }

        job->op = NGX_HTTP_SMSVERIFY_ADMIN_LIMITS;

        return ngx_http_smsverify_admin_post(r);
    }

    return ngx_http_smsverify_error(r, NGX_HTTP_SMSVERIFY_ERR_NOT_FOUND,
                                    NULL, 0);
}


/*
 * NGX_DECLINED for one of the path's methods (a body it does not take
 * discarded), else the 405 answered and its rc
 */

static ngx_int_t
ngx_http_smsverify_admin_method(ngx_http_request_t *r, ngx_uint_t methods,
    const char *allow)
{
    ngx_int_t  rc;
    ngx_str_t  value;

    if (r->method & methods) {

        if (r->method == NGX_HTTP_POST) {
            return NGX_DECLINED;
        }

        rc = ngx_http_discard_request_body(r);

        return rc == NGX_OK ? NGX_DECLINED : rc;
    }

    value.data = (u_char *) allow;
    value.len = ngx_strlen(allow);

    if (ngx_http_smsverify_add_header(r, "Allow", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_smsverify_error(r,
                                    NGX_HTTP_SMSVERIFY_ERR_METHOD_NOT_ALLOWED,
                                    NULL, 0);
}


/* GET members: by email, by phone, or a page */

static ngx_int_t
ngx_http_smsverify_admin_members(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job)
{
    uint64_t   limit;
    ngx_str_t  value;

    if (ngx_http_smsverify_admin_arg(r, "email", &value) == NGX_OK) {

        if (value.len > SV_STORE_EMAIL_MAX
            || !sv_email_valid((char *) value.data, value.len))
        {
            (void) ngx_http_smsverify_field_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_INVALID_EMAIL,
                                          "email");
            return ngx_http_smsverify_reject(r,
                                         NGX_HTTP_SMSVERIFY_ERR_INVALID_EMAIL);
        }

        sv_email_fold((char *) value.data, value.len, job->email_key);
        job->op = NGX_HTTP_SMSVERIFY_ADMIN_FIND;

        return ngx_http_smsverify_admin_post(r);
    }

    if (ngx_http_smsverify_admin_arg(r, "phoneNumber", &value) == NGX_OK) {

        if (sv_phone_normalize((char *) value.data, value.len, job->phone)
            != 0)
        {
            (void) ngx_http_smsverify_field_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_INVALID_PHONE,
                                          "phoneNumber");
            return ngx_http_smsverify_reject(r,
                                         NGX_HTTP_SMSVERIFY_ERR_INVALID_PHONE);
        }

        job->op = NGX_HTTP_SMSVERIFY_ADMIN_FIND;

        return ngx_http_smsverify_admin_post(r);
    }

    limit = NGX_HTTP_SMSVERIFY_PAGE_DEFAULT;

    if (ngx_http_smsverify_admin_arg(r, "limit", &value) == NGX_OK
        && (ngx_http_smsverify_admin_number(&value, SV_STORE_PAGE_MAX, &limit)
            != NGX_OK || limit == 0))
    {
        (void) ngx_http_smsverify_field_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
                                          "limit");
        return ngx_http_smsverify_reject(r,
                                         NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD);
    }

    if (ngx_http_smsverify_admin_arg(r, "after", &value) == NGX_OK
        && ngx_http_smsverify_admin_number(&value, SV_STORE_ID_MAX,
                                           &job->page.after)
           != NGX_OK)
    {
        (void) ngx_http_smsverify_field_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
                                          "after");
        return ngx_http_smsverify_reject(r,
                                         NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD);
    }

    job->page.limit = (size_t) limit;
    job->page.members = ngx_palloc(r->pool,
                                   job->page.limit * sizeof(sv_member_info_t));
    if (job->page.members == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->op = NGX_HTTP_SMSVERIFY_ADMIN_LIST;

    return ngx_http_smsverify_admin_post(r);
}


/* decimal digits only, at most max */

static ngx_int_t
ngx_http_smsverify_admin_number(ngx_str_t *s, uint64_t max, uint64_t *v)
{
    size_t  i;

    *v = 0;

    if (s->len == 0 || s->len > 20) {
        return NGX_ERROR;
    }

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9') {
            return NGX_ERROR;
        }

        if (*v > (max - (s->data[i] - '0')) / 10) {
            return NGX_ERROR;
        }

        *v = *v * 10 + (s->data[i] - '0');
    }

    return NGX_OK;
}


/* a query argument, %XX decoded ("+" stays "+": phones and emails) */

static ngx_int_t
ngx_http_smsverify_admin_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    value->len = dst - value->data;

    /* a decoded NUL would end the C string early */

    if (ngx_strlchr(value->data, dst, '\0') != NULL) {
        value->len = 0;
    }

    *dst = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_http_smsverify_admin_post(ngx_http_request_t *r)
{
    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        return ngx_http_smsverify_busy(r);
    }

    /* no body reader took a reference: the task's completion owns one */
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_smsverify_admin_thread(void *data)
{
    ngx_http_smsverify_admin_job_t  *job = data;

    char    *e;
    size_t   n;

    e = job->err;
    n = sizeof(job->err);

    switch (job->op) {

    case NGX_HTTP_SMSVERIFY_ADMIN_LIST:
        job->rc = sv_store_member_page(job->store, &job->page, e, n);
        break;

    case NGX_HTTP_SMSVERIFY_ADMIN_FIND:
        job->rc = sv_store_member_find(job->store,
                                       job->email_key[0] ? job->email_key
                                                         : NULL,
                                       job->phone, &job->member, e, n);
        break;

    case NGX_HTTP_SMSVERIFY_ADMIN_GET:
        job->rc = sv_store_member_get(job->store, job->id, &job->member, e,
                                      n);
        break;

    case NGX_HTTP_SMSVERIFY_ADMIN_DELETE:
        job->del.now_ms = sv_clock_ms();
        job->rc = sv_store_member_delete(job->store, &job->del, e, n);
        break;

    case NGX_HTTP_SMSVERIFY_ADMIN_EXPORT:
        ngx_http_smsverify_export_thread(job);
        break;

    case NGX_HTTP_SMSVERIFY_ADMIN_IMPORT:
        ngx_http_smsverify_import_thread(job);
        break;

    default: /* NGX_HTTP_SMSVERIFY_ADMIN_LIMITS */
        job->rc = sv_store_limits_clear(job->store, job->phone, e, n);
        break;
    }
}


static ngx_int_t
ngx_http_smsverify_admin_done(ngx_http_request_t *r, void *data)
{
    ngx_http_smsverify_admin_job_t  *job = data;

    if (job->op == NGX_HTTP_SMSVERIFY_ADMIN_EXPORT) {
        return ngx_http_smsverify_export_done(r, job);
    }

    if (job->op == NGX_HTTP_SMSVERIFY_ADMIN_IMPORT) {
        return ngx_http_smsverify_import_done(r, job);
    }

    if (job->rc == SV_STORE_NOT_MEMBER) {

        if (job->op == NGX_HTTP_SMSVERIFY_ADMIN_FIND) {
            return ngx_http_smsverify_answer(r, NGX_HTTP_OK,
                                             (u_char *) "{\"members\":[]}",
                                             sizeof("{\"members\":[]}") - 1);
        }

        return ngx_http_smsverify_error(r,
                                        NGX_HTTP_SMSVERIFY_ERR_NO_SUCH_MEMBER,
                                        NULL, 0);
    }

    if (job->rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    switch (job->op) {

    case NGX_HTTP_SMSVERIFY_ADMIN_LIST:
    case NGX_HTTP_SMSVERIFY_ADMIN_FIND:
        return ngx_http_smsverify_admin_list(r, job);

    case NGX_HTTP_SMSVERIFY_ADMIN_GET:
        return ngx_http_smsverify_admin_one(r, job);

    case NGX_HTTP_SMSVERIFY_ADMIN_DELETE:
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "smsverify admin deleted member %uL",
                      (uint64_t) job->id);
        return ngx_http_smsverify_admin_status(r, "deleted", job->id);

    default: /* NGX_HTTP_SMSVERIFY_ADMIN_LIMITS */
        return ngx_http_smsverify_admin_status(r, "cleared", 0);
    }
}


/* {"members":[...]} of a page (with "next") or of a lookup */

static ngx_int_t
ngx_http_smsverify_admin_list(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job)
{
    u_char            *body, *p, tmp[SV_MEMBER_JSON_MAX + 1];
    size_t             i, n, len;
    sv_member_info_t  *members;

    if (job->op == NGX_HTTP_SMSVERIFY_ADMIN_FIND) {
        members = &job->member;
        n = 1;

    } else {
        members = job->page.members;
        n = job->page.n;
    }

    /* the length first: a page of 1000 takes what its members need */

    len = sizeof("{\"members\":[],\"next\":null}") + NGX_INT64_LEN;

    for (i = 0; i < n; i++) {
        len += sv_member_json(&members[i], (char *) tmp, sizeof(tmp)) + 3;
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"members\":[", sizeof("{\"members\":[") - 1);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        *p++ = '{';
        p += sv_member_json(&members[i], (char *) p, SV_MEMBER_JSON_MAX + 1);
        *p++ = '}';
    }

    *p++ = ']';

    if (job->op == NGX_HTTP_SMSVERIFY_ADMIN_LIST) {
        if (job->page.more) {
            p = ngx_sprintf(p, ",\"next\":%uL",
                            (uint64_t) members[n - 1].id);

        } else {
            p = ngx_cpymem(p, ",\"next\":null", sizeof(",\"next\":null") - 1);
        }
    }

    *p++ = '}';

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, body, p - body);
}


static ngx_int_t
ngx_http_smsverify_admin_one(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job)
{
    u_char  *body, *p;

    body = ngx_pnalloc(r->pool, SV_MEMBER_JSON_MAX + 3);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = body;
    *p++ = '{';
    p += sv_member_json(&job->member, (char *) p, SV_MEMBER_JSON_MAX + 1);
    *p++ = '}';

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, body, p - body);
}


static ngx_int_t
ngx_http_smsverify_admin_status(ngx_http_request_t *r, const char *status,
    uint64_t id)
{
    u_char  buf[96], *p;

    if (id) {
        p = ngx_snprintf(buf, sizeof(buf),
                         "{\"status\":\"%s\",\"memberId\":%uL}", status, id);

    } else {
        p = ngx_snprintf(buf, sizeof(buf), "{\"status\":\"%s\"}", status);
    }

    return ngx_http_smsverify_answer(r, NGX_HTTP_OK, buf, p - buf);
}


/*
 * GET export.  One task, posted again for each page: its job keeps the
 * page's members and the buffer their lines are written to, both reused,
 * so that an export holds one page whatever the store holds.
 */

static ngx_int_t
ngx_http_smsverify_export_start(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job)
{
    ngx_str_t  value;

    if (ngx_http_smsverify_admin_arg(r, "hashes", &value) == NGX_OK) {

        if (value.len == 1 && (value.data[0] == '0' || value.data[0] == '1'))
        {
            job->hashes = (value.data[0] == '1');

        } else {
            (void) ngx_http_smsverify_field_err(r,
                                          NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD,
                                          "hashes");
            return ngx_http_smsverify_reject(r,
                                         NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD);
        }
    }

    job->op = NGX_HTTP_SMSVERIFY_ADMIN_EXPORT;
    job->page.limit = NGX_HTTP_SMSVERIFY_EXPORT_PAGE;
    job->page.members = ngx_palloc(r->pool, NGX_HTTP_SMSVERIFY_EXPORT_PAGE
                                            * sizeof(sv_member_info_t));
    job->out = ngx_palloc(r->pool, NGX_HTTP_SMSVERIFY_EXPORT_BUF);

    if (job->page.members == NULL || job->out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_smsverify_admin_post(r);
}


/* a page after the last one sent, its lines written to the buffer */

static void
ngx_http_smsverify_export_thread(ngx_http_smsverify_admin_job_t *job)
{
    size_t             i, len;
    sv_member_info_t  *m;

    job->out_len = 0;

    job->rc = sv_store_member_page(job->store, &job->page, job->err,
                                   sizeof(job->err));
    if (job->rc != SV_STORE_OK) {
        return;
    }

    for (i = 0; i < job->page.n; i++) {
        m = &job->page.members[i];

        len = sv_export_line(m, (int) job->hashes,
                             (char *) job->out + job->out_len,
                             NGX_HTTP_SMSVERIFY_EXPORT_BUF - job->out_len);
        if (len == 0) {
            ngx_snprintf((u_char *) job->err, sizeof(job->err),
                         "member %uL does not fit an export line%Z",
                         (uint64_t) m->id);
            job->rc = SV_STORE_ERROR;
            return;
        }

        job->out_len += len;
    }

    if (job->page.n) {
        job->page.after = job->page.members[job->page.n - 1].id;
    }
}


static ngx_int_t
ngx_http_smsverify_export_done(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job)
{
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_http_smsverify_ctx_t  *ctx;

    static ngx_str_t  type = ngx_string("application/x-ndjson");
    static ngx_str_t  no_store = ngx_string("no-store");

    /* a client gone: nginx finalizes the request, no page may follow */

    ctx = ngx_http_smsverify_ctx(r);

    if (ctx->client_gone) {
        return NGX_ERROR;
    }

    if (job->rc != SV_STORE_OK) {

        if (!job->started) {
            return ngx_http_smsverify_store_error(r, job->rc, job->err);
        }

        /* the answer is under way: it ends without its last chunk */

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "smsverify export cut short after member %uL: %s",
                      (uint64_t) job->page.after, job->err);
        return NGX_ERROR;
    }

    if (!job->started) {
        job->started = 1;

        r->headers_out.status = NGX_HTTP_OK;
        r->headers_out.content_type = type;
        r->headers_out.content_type_len = type.len;
        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.content_length_n = -1;

        if (ngx_http_smsverify_add_header(r, "Cache-Control", &no_store)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }
    }

    b = &job->buf;
    ngx_memzero(b, sizeof(ngx_buf_t));

    b->start = job->out;
    b->pos = job->out;
    b->last = job->out + job->out_len;
    b->end = job->out + NGX_HTTP_SMSVERIFY_EXPORT_BUF;
    b->memory = (job->out_len > 0);

    if (job->page.more) {
        b->flush = 1;

    } else {
        b->last_buf = (r == r->main) ? 1 : 0;
        b->last_in_chain = 1;
        b->sync = !b->last_buf;
    }

    job->chain.buf = b;
    job->chain.next = NULL;

    rc = ngx_http_output_filter(r, &job->chain);

    if (!job->page.more || rc == NGX_ERROR) {
        return rc;
    }

    /* the next page is read once the client has taken this one */

    if (ngx_http_smsverify_export_pending(r, job)) {
        rc = ngx_http_smsverify_export_wait(r);

    } else {
        rc = ngx_http_smsverify_task_post(r);
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "smsverify export cut short after member %uL: %s",
                      (uint64_t) job->page.after,
                      rc == NGX_BUSY ? "the thread pool is full"
                                     : "the connection failed");
        return NGX_ERROR;
    }

    /* the finalization that follows gives back this reference */
    r->main->count++;

    return NGX_DONE;
}


static ngx_uint_t
ngx_http_smsverify_export_pending(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job)
{
    return job->buf.pos < job->buf.last || r->buffered
           || r->connection->buffered || r->postponed;
}


static ngx_int_t
ngx_http_smsverify_export_wait(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_http_core_loc_conf_t  *clcf;

    wev = r->connection->write;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    r->write_event_handler = ngx_http_smsverify_export_writer;

    if (!wev->delayed) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_smsverify_export_writer(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_event_t                     *wev;
    ngx_connection_t                *c;
    ngx_http_smsverify_admin_job_t  *job;

    c = r->connection;
    wev = c->write;
    job = ngx_http_smsverify_task_data(r);

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "client timed out");
        c->timedout = 1;
        ngx_http_finalize_request(r, NGX_HTTP_REQUEST_TIME_OUT);
        return;
    }

    if (wev->delayed) {
        if (ngx_http_smsverify_export_wait(r) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        return;
    }

    rc = ngx_http_output_filter(r, NULL);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (ngx_http_smsverify_export_pending(r, job)) {
        if (ngx_http_smsverify_export_wait(r) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
        }

        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "smsverify export cut short after member %uL: "
                      "the thread pool is full",
                      (uint64_t) job->page.after);
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


/*
 * POST import.  The body is read whole (client_max_body_size bounds it);
 * the pool thread reads it, checks every line and creates the members in
 * one transaction.
 */

static void
ngx_http_smsverify_import_body(ngx_http_request_t *r)
{
    ngx_http_smsverify_admin_job_t  *job;

    job = ngx_http_smsverify_task_data(r);

    if (ngx_http_smsverify_import_pieces(r, job) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ngx_http_smsverify_task_post(r) != NGX_OK) {
        ngx_http_finalize_request(r, ngx_http_smsverify_busy(r));
    }

    /* with the task posted, its completion finalizes the request */
}


static ngx_int_t
ngx_http_smsverify_import_pieces(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job)
{
    ngx_buf_t                   *b;
    ngx_uint_t                   n;
    ngx_chain_t                 *cl;
    ngx_http_smsverify_piece_t  *piece;

    if (r->request_body == NULL) {
        return NGX_OK;
    }

    n = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        n++;
    }

    if (n == 0) {
        return NGX_OK;
    }

    job->pieces = ngx_pcalloc(r->pool, n * sizeof(ngx_http_smsverify_piece_t));
    if (job->pieces == NULL) {
        return NGX_ERROR;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        piece = &job->pieces[job->npieces];

        if (b->in_file) {
            piece->fd = b->file->fd;
            piece->offset = b->file_pos;
            piece->len = (size_t) (b->file_last - b->file_pos);

        } else {
            piece->data = b->pos;
            piece->len = (size_t) (b->last - b->pos);
        }

        if (piece->len) {
            job->body_len += piece->len;
            job->npieces++;
        }
    }

    return NGX_OK;
}


static void
ngx_http_smsverify_import_thread(ngx_http_smsverify_admin_job_t *job)
{
    u_char  *body;

    job->rc = SV_STORE_OK;
    job->line = 0;

    body = ngx_http_smsverify_import_read(job);
    if (body == NULL) {
        job->rc = SV_STORE_ERROR;
        return;
    }

    ngx_http_smsverify_import_parse(job, body);

    free(body);
}


/* the body in one buffer of its own (malloc: no pool in a thread) */

static u_char *
ngx_http_smsverify_import_read(ngx_http_smsverify_admin_job_t *job)
{
    u_char                      *body, *p;
    ssize_t                      n;
    size_t                       done;
    ngx_uint_t                   i;
    ngx_http_smsverify_piece_t  *piece;

    body = malloc(job->body_len + 1);
    if (body == NULL) {
        ngx_snprintf((u_char *) job->err, sizeof(job->err),
                     "no memory for a body of %uz bytes%Z", job->body_len);
        return NULL;
    }

    p = body;

    for (i = 0; i < job->npieces; i++) {
        piece = &job->pieces[i];

        if (piece->data) {
            p = ngx_cpymem(p, piece->data, piece->len);
            continue;
        }

        for (done = 0; done < piece->len; done += n) {
            n = pread(piece->fd, p + done, piece->len - done,
                      piece->offset + done);

            if (n <= 0) {
                ngx_snprintf((u_char *) job->err, sizeof(job->err),
                             "reading the body's file failed: %s%Z",
                             n < 0 ? strerror(errno) : "it is short");
                free(body);
                return NULL;
            }
        }

        p += piece->len;
    }

    *p = '\0';

    return body;
}


/* every line checked, then the members created, all or none */

static void
ngx_http_smsverify_import_parse(ngx_http_smsverify_admin_job_t *job,
    u_char *body)
{
    u_char              *p, *end, *eol, *last;
    size_t               n, line, *lines;
    sv_member_info_t    *members;
    sv_member_import_t   im;

    end = body + job->body_len;
    n = 1;

    for (p = body; p < end; p++) {
        if (*p == '\n') {
            n++;
        }
    }

    members = malloc(n * sizeof(sv_member_info_t));
    lines = malloc(n * sizeof(size_t));

    if (members == NULL || lines == NULL) {
        free(members);
        free(lines);
        ngx_snprintf((u_char *) job->err, sizeof(job->err),
                     "no memory for %uz members%Z", n);
        job->rc = SV_STORE_ERROR;
        return;
    }

    im.members = members;
    im.n = 0;

    /* line numbers count every line; a blank one holds no member */

    line = 0;

    for (p = body; p < end; p = eol + 1) {
        line++;

        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        last = eol;

        if (last > p && last[-1] == '\r') {
            last--;
        }

        if (last == p) {
            continue;
        }

        job->line_rc = sv_import_line((char *) p, last - p,
                                      &members[im.n], &job->field);

        if (job->line_rc != SV_LINE_OK) {
            job->line = line;
            goto done;
        }

        lines[im.n] = line;
        im.n++;
    }

    if (im.n == 0) {
        job->line_rc = SV_LINE_INVALID_JSON;
        job->line = 1;
        goto done;
    }

    job->rc = sv_store_member_import(job->store, &im, job->err,
                                     sizeof(job->err));

    if (job->rc == SV_STORE_OK) {
        job->imported = im.n;

    } else if (job->rc != SV_STORE_ERROR && job->rc != SV_STORE_FULL
               && job->rc != SV_STORE_UNAVAILABLE)
    {
        job->line = lines[im.bad];
    }

done:

    free(members);
    free(lines);
}


static ngx_int_t
ngx_http_smsverify_import_done(ngx_http_request_t *r,
    ngx_http_smsverify_admin_job_t *job)
{
    u_char                    buf[96], *p;
    ngx_http_smsverify_err_e  err;

    if (job->line == 0 && job->rc != SV_STORE_OK) {
        return ngx_http_smsverify_store_error(r, job->rc, job->err);
    }

    if (job->line == 0) {
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "smsverify admin imported %uz members", job->imported);

        p = ngx_snprintf(buf, sizeof(buf),
                         "{\"status\":\"imported\",\"members\":%uz}",
                         job->imported);

        return ngx_http_smsverify_answer(r, NGX_HTTP_OK, buf, p - buf);
    }

    switch (job->rc) {

    case SV_STORE_ID_TAKEN:
        err = NGX_HTTP_SMSVERIFY_ERR_ID_TAKEN;
        break;

    case SV_STORE_EMAIL_TAKEN:
        err = NGX_HTTP_SMSVERIFY_ERR_EMAIL_TAKEN;
        break;

    case SV_STORE_PHONE_TAKEN:
        err = NGX_HTTP_SMSVERIFY_ERR_PHONE_TAKEN;
        break;

    default:
        switch (job->line_rc) {

        case SV_LINE_MISSING_FIELD:
            err = NGX_HTTP_SMSVERIFY_ERR_MISSING_FIELD;
            break;

        case SV_LINE_INVALID_FIELD:
            err = NGX_HTTP_SMSVERIFY_ERR_INVALID_FIELD;
            break;

        case SV_LINE_INVALID_EMAIL:
            err = NGX_HTTP_SMSVERIFY_ERR_INVALID_EMAIL;
            break;

        case SV_LINE_INVALID_PHONE:
            err = NGX_HTTP_SMSVERIFY_ERR_INVALID_PHONE;
            break;

        case SV_LINE_INVALID_NICKNAME:
            err = NGX_HTTP_SMSVERIFY_ERR_INVALID_NICKNAME;
            break;

        default:
            err = NGX_HTTP_SMSVERIFY_ERR_INVALID_JSON;
            break;
        }
    }

    /* field names are ours (sv_admin.c), never the client's */

    if (job->field) {
        p = ngx_snprintf(buf, sizeof(buf), "\"field\":\"%s\",\"line\":%uz",
                         job->field, job->line);

    } else {
        p = ngx_snprintf(buf, sizeof(buf), "\"line\":%uz", job->line);
    }

    return ngx_http_smsverify_error(r, err, (char *) buf, p - buf);
}


static ngx_uint_t
ngx_http_smsverify_is_ndjson(ngx_http_request_t *r)
{
    u_char           *p, *last;
    ngx_table_elt_t  *ct;

    static const char  type[] = "application/x-ndjson";

    ct = r->headers_in.content_type;

    if (ct == NULL || ct->value.len < sizeof(type) - 1
        || ngx_strncasecmp(ct->value.data, (u_char *) type, sizeof(type) - 1)
           != 0)
    {
        return 0;
    }

    p = ct->value.data + sizeof(type) - 1;
    last = ct->value.data + ct->value.len;

    return p == last || *p == ';' || *p == ' ' || *p == '\t';
}
