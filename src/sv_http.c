/*
 * HTTP POST over a per-thread libcurl easy handle.  The handle lives as
 * long as the process, so the connection to a provider is kept alive
 * between messages; curl_easy_reset() clears the options of the previous
 * call but keeps the connection cache.
 *
 * Calls side by side go through a per-thread libcurl multi handle, which
 * keeps its own connections: easy handles are taken from the thread's
 * spares for a call and given back after it.
 *
 * The handles are freed by sv_http_cleanup(), not by a thread-specific
 * destructor: nginx's pool threads end in pthread_exit() after telling
 * the worker they are done, so a destructor would run while the worker
 * goes on to curl_global_cleanup() and, in single-process mode, unloads
 * this module - the destructor's code with it.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "sv_http.h"

#define SV_HTTP_DEFAULT_TIMEOUT_MS  5000

/* easy handles a thread keeps for its next calls side by side */
#define SV_HTTP_SPARE_MAX           8

/* a provider's answer is small: libcurl's buffers of a call, smaller */
#define SV_HTTP_BUFFER_SIZE         4096L
#define SV_HTTP_UPLOAD_BUFFER_SIZE  16384L

/* connections a thread's calls side by side keep open */
#define SV_HTTP_KEEP_MAX            32

/* how long sv_http_next() sleeps at most before it looks again */
#define SV_HTTP_POLL_MS             1000


/* a thread's calls side by side */
typedef struct {
    CURLM           *multi;
    CURL            *spare[SV_HTTP_SPARE_MAX];
    size_t           nspare;
    sv_http_call_t  *calls;             /* in flight */
    size_t           ncalls;
} sv_http_set_t;

typedef char sv_http_err_fits[SV_HTTP_ERR_SIZE >= CURL_ERROR_SIZE ? 1 : -1];


static void sv_http_key_create(void);
static CURL *sv_http_handle(void);
static struct curl_slist *sv_http_header_list(const char *const *headers);
static CURLcode sv_http_set_options(CURL *h, const char *url,
    struct curl_slist *list, const char *body, size_t len, long timeout_ms,
    sv_http_response_t *resp, char *curl_err);
static size_t sv_http_collect(char *data, size_t size, size_t n, void *ctx);
static void sv_http_error(char *err, size_t errlen, CURLcode rc,
    const char *curl_err);
static sv_http_set_t *sv_http_set(int create);
static CURL *sv_http_easy(sv_http_set_t *set);
static void sv_http_release(sv_http_set_t *set, sv_http_call_t *call);
static sv_http_call_t *sv_http_done(sv_http_set_t *set);
static sv_http_call_t *sv_http_fail_first(sv_http_set_t *set, CURLMcode mc);


static pthread_once_t   sv_http_once = PTHREAD_ONCE_INIT;
static pthread_key_t    sv_http_key;
static pthread_key_t    sv_http_set_key;
static int              sv_http_key_ready;

/* every handle made, for sv_http_cleanup() */
static pthread_mutex_t  sv_http_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL           **sv_http_handles;
static size_t           sv_http_nhandles;
static size_t           sv_http_handles_size;
static sv_http_set_t  **sv_http_sets;
static size_t           sv_http_nsets;
static size_t           sv_http_sets_size;


int
sv_http_post(const char *url, const char *const *headers, const char *body,
    size_t len, long timeout_ms, sv_http_response_t *resp, char *err,
    size_t errlen)
{
    CURL               *h;
    CURLcode            rc;
    struct curl_slist  *list;
    char                curl_err[CURL_ERROR_SIZE];

    resp->status = 0;
    resp->len = 0;
    resp->body[0] = '\0';

    h = sv_http_handle();
    if (h == NULL) {
        snprintf(err, errlen, "cannot create an HTTP handle");
        return -1;
    }

    list = sv_http_header_list(headers);
    if (list == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    curl_err[0] = '\0';

    rc = sv_http_set_options(h, url, list, body, len, timeout_ms, resp,
                             curl_err);
    if (rc == CURLE_OK) {
        rc = curl_easy_perform(h);
    }

    if (rc == CURLE_OK) {
        rc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    }

    /* neither may outlive this call inside the kept handle */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);

    resp->body[resp->len] = '\0';

    if (rc != CURLE_OK) {
        sv_http_error(err, errlen, rc, curl_err);
        return -1;
    }

    return 0;
}


int
sv_http_url(char *out, size_t size, const char *base, const char *path)
{
    int     n;
    size_t  len;

    len = strlen(base);
    while (len > 0 && base[len - 1] == '/') {
        len--;
    }

    n = snprintf(out, size, "%.*s%s", (int) len, base, path);

    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}


void
sv_http_cleanup(void)
{
    size_t  i;

    pthread_once(&sv_http_once, sv_http_key_create);

    size_t          j;
    sv_http_set_t  *set;

    if (sv_http_key_ready) {
        pthread_setspecific(sv_http_key, NULL);
        pthread_setspecific(sv_http_set_key, NULL);
    }

    pthread_mutex_lock(&sv_http_lock);

    for (i = 0; i < sv_http_nhandles; i++) {
        curl_easy_cleanup(sv_http_handles[i]);
    }

    free(sv_http_handles);
    sv_http_handles = NULL;
    sv_http_nhandles = 0;
    sv_http_handles_size = 0;

    for (i = 0; i < sv_http_nsets; i++) {
        set = sv_http_sets[i];

        while (set->calls != NULL) {
            sv_http_release(set, set->calls);
        }

        for (j = 0; j < set->nspare; j++) {
            curl_easy_cleanup(set->spare[j]);
        }

        curl_multi_cleanup(set->multi);
        free(set);
    }

    free(sv_http_sets);
    sv_http_sets = NULL;
    sv_http_nsets = 0;
    sv_http_sets_size = 0;

    pthread_mutex_unlock(&sv_http_lock);
}


static void
sv_http_key_create(void)
{
    /* no destructor: see the top of this file */
    sv_http_key_ready = (pthread_key_create(&sv_http_key, NULL) == 0
                         && pthread_key_create(&sv_http_set_key, NULL) == 0);
}


static int
sv_http_register(CURL *h)
{
    int     rc;
    size_t  size;
    CURL  **handles;

    rc = 0;

    pthread_mutex_lock(&sv_http_lock);

    if (sv_http_nhandles == sv_http_handles_size) {
        size = sv_http_handles_size ? 2 * sv_http_handles_size : 16;
        handles = realloc(sv_http_handles, size * sizeof(CURL *));

        if (handles == NULL) {
            rc = -1;

        } else {
            sv_http_handles = handles;
            sv_http_handles_size = size;
        }
    }

    if (rc == 0) {
        sv_http_handles[sv_http_nhandles++] = h;
    }

    pthread_mutex_unlock(&sv_http_lock);

    return rc;
}


static CURL *
sv_http_handle(void)
{
    CURL  *h;

    pthread_once(&sv_http_once, sv_http_key_create);

    if (!sv_http_key_ready) {
        return NULL;
    }

    h = pthread_getspecific(sv_http_key);
    if (h != NULL) {
        curl_easy_reset(h);
        return h;
    }

    h = curl_easy_init();
    if (h == NULL) {
        return NULL;
    }

    if (sv_http_register(h) != 0) {
        curl_easy_cleanup(h);
        return NULL;
    }

    /* on failure the handle stays registered: freed at cleanup */
    if (pthread_setspecific(sv_http_key, h) != 0) {
        return NULL;
    }

    return h;
}


static struct curl_slist *
sv_http_header_list(const char *const *headers)
{
    struct curl_slist  *list, *next;

    /*
     * An empty "Expect:" stops curl from waiting for "100 Continue" on
     * larger bodies: a round trip for nothing.
     */
    list = curl_slist_append(NULL, "Expect:");
    if (list == NULL || headers == NULL) {
        return list;
    }

    while (*headers != NULL) {
        next = curl_slist_append(list, *headers++);
        if (next == NULL) {
            curl_slist_free_all(list);
            return NULL;
        }

        list = next;
    }

    return list;
}


static CURLcode
sv_http_set_options(CURL *h, const char *url, struct curl_slist *list,
    const char *body, size_t len, long timeout_ms, sv_http_response_t *resp,
    char *curl_err)
{
    CURLcode  rc;

    if (timeout_ms <= 0) {
        timeout_ms = SV_HTTP_DEFAULT_TIMEOUT_MS;
    }

    rc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);

#define SV_SETOPT(opt, val)                                                  \
    if (rc == CURLE_OK) {                                                    \
        rc = curl_easy_setopt(h, opt, val);                                  \
    }

    SV_SETOPT(CURLOPT_URL, url);

    /* signals would hit the whole worker, not just this thread */
    SV_SETOPT(CURLOPT_NOSIGNAL, 1L);
    SV_SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    SV_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);

#if LIBCURL_VERSION_NUM >= 0x075500
    SV_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SV_SETOPT(CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif

    SV_SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SV_SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SV_SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    SV_SETOPT(CURLOPT_USERAGENT, "ngx_http_smsverify");

    SV_SETOPT(CURLOPT_POST, 1L);
    SV_SETOPT(CURLOPT_POSTFIELDS, body);
    SV_SETOPT(CURLOPT_POSTFIELDSIZE, (long) len);
    SV_SETOPT(CURLOPT_HTTPHEADER, list);

    SV_SETOPT(CURLOPT_WRITEFUNCTION, sv_http_collect);
    SV_SETOPT(CURLOPT_WRITEDATA, resp);

#undef SV_SETOPT

    return rc;
}


static size_t
sv_http_collect(char *data, size_t size, size_t n, void *ctx)
{
    size_t               total, room;
    sv_http_response_t  *resp;

    resp = ctx;
    total = size * n;
    room = SV_HTTP_BODY_MAX - resp->len;

    if (room > total) {
        room = total;
    }

    memcpy(resp->body + resp->len, data, room);
    resp->len += room;

    /* the rest is read and dropped, so the connection stays usable */
    return total;
}


static void
sv_http_error(char *err, size_t errlen, CURLcode rc, const char *curl_err)
{
    if (curl_err[0] != '\0') {
        snprintf(err, errlen, "%s", curl_err);

    } else {
        snprintf(err, errlen, "%s", curl_easy_strerror(rc));
    }
}


int
sv_http_start(sv_http_call_t *call)
{
    CURL           *h;
    CURLcode        rc;
    CURLMcode       mc;
    sv_http_set_t  *set;

    call->rc = -1;
    call->resp.status = 0;
    call->resp.len = 0;
    call->resp.body[0] = '\0';
    call->err[0] = '\0';
    call->curl_err[0] = '\0';
    call->easy = NULL;
    call->list = NULL;
    call->prev = NULL;
    call->next = NULL;

    set = sv_http_set(1);
    h = (set != NULL) ? sv_http_easy(set) : NULL;

    if (h == NULL) {
        snprintf(call->err, sizeof(call->err),
                 "cannot create an HTTP handle");
        return -1;
    }

    call->easy = h;
    call->list = sv_http_header_list(call->headers);

    if (call->list == NULL) {
        snprintf(call->err, sizeof(call->err), "out of memory");
        sv_http_release(set, call);
        return -1;
    }

    rc = sv_http_set_options(h, call->url, call->list, call->body, call->len,
                             call->timeout_ms, &call->resp, call->curl_err);
    if (rc == CURLE_OK) {
        rc = curl_easy_setopt(h, CURLOPT_PRIVATE, call);
    }

    if (rc != CURLE_OK) {
        sv_http_error(call->err, sizeof(call->err), rc, call->curl_err);
        sv_http_release(set, call);
        return -1;
    }

    /* at their least: a batch may hold hundreds of calls at once */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, SV_HTTP_BUFFER_SIZE);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE,
                     SV_HTTP_UPLOAD_BUFFER_SIZE);

    mc = curl_multi_add_handle(set->multi, h);
    if (mc != CURLM_OK) {
        snprintf(call->err, sizeof(call->err), "%s", curl_multi_strerror(mc));
        sv_http_release(set, call);
        return -1;
    }

    call->prev = NULL;
    call->next = set->calls;

    if (set->calls != NULL) {
        set->calls->prev = call;
    }

    set->calls = call;
    set->ncalls++;

    return 0;
}


sv_http_call_t *
sv_http_next(void)
{
    int              running;
    CURLMcode        mc;
    sv_http_set_t   *set;
    sv_http_call_t  *call;

    set = sv_http_set(0);

    if (set == NULL || set->ncalls == 0) {
        return NULL;
    }

    for ( ;; ) {
        call = sv_http_done(set);
        if (call != NULL) {
            return call;
        }

        mc = curl_multi_perform(set->multi, &running);
        if (mc != CURLM_OK) {
            return sv_http_fail_first(set, mc);
        }

        call = sv_http_done(set);
        if (call != NULL) {
            return call;
        }

        /* at most until the nearest timeout of a call, or some activity */
        mc = curl_multi_poll(set->multi, NULL, 0, SV_HTTP_POLL_MS, NULL);
        if (mc != CURLM_OK) {
            return sv_http_fail_first(set, mc);
        }
    }
}


size_t
sv_http_in_flight(void)
{
    sv_http_set_t  *set;

    set = sv_http_set(0);

    return (set != NULL) ? set->ncalls : 0;
}


void
sv_http_call_wipe(sv_http_call_t *call)
{
    if (call->body != NULL) {
        OPENSSL_cleanse(call->body, call->size);
        free(call->body);
    }

    call->body = NULL;
    call->len = 0;
    call->size = 0;
}


/* this thread's set; made if create and there is none yet */

static sv_http_set_t *
sv_http_set(int create)
{
    size_t           size;
    sv_http_set_t   *set, **sets;

    pthread_once(&sv_http_once, sv_http_key_create);

    if (!sv_http_key_ready) {
        return NULL;
    }

    set = pthread_getspecific(sv_http_set_key);
    if (set != NULL || !create) {
        return set;
    }

    set = calloc(1, sizeof(sv_http_set_t));
    if (set == NULL) {
        return NULL;
    }

    set->multi = curl_multi_init();
    if (set->multi == NULL) {
        free(set);
        return NULL;
    }

    /*
     * The connections of a batch's calls stay for the next: by default
     * the cache shrinks with the calls, closing them as the calls end.
     */
    curl_multi_setopt(set->multi, CURLMOPT_MAXCONNECTS,
                      (long) SV_HTTP_KEEP_MAX);

    pthread_mutex_lock(&sv_http_lock);

    if (sv_http_nsets == sv_http_sets_size) {
        size = sv_http_sets_size ? 2 * sv_http_sets_size : 16;
        sets = realloc(sv_http_sets, size * sizeof(sv_http_set_t *));

        if (sets != NULL) {
            sv_http_sets = sets;
            sv_http_sets_size = size;
        }
    }

    if (sv_http_nsets < sv_http_sets_size) {
        sv_http_sets[sv_http_nsets++] = set;

    } else {
        curl_multi_cleanup(set->multi);
        free(set);
        set = NULL;
    }

    pthread_mutex_unlock(&sv_http_lock);

    /* on failure the set stays registered: freed at cleanup */
    if (set != NULL && pthread_setspecific(sv_http_set_key, set) != 0) {
        return NULL;
    }

    return set;
}


static CURL *
sv_http_easy(sv_http_set_t *set)
{
    CURL  *h;

    if (set->nspare > 0) {
        h = set->spare[--set->nspare];
        curl_easy_reset(h);
        return h;
    }

    return curl_easy_init();
}


/* the call's handle back to the spares, out of the multi handle if in */

static void
sv_http_release(sv_http_set_t *set, sv_http_call_t *call)
{
    CURL  *h;

    h = call->easy;

    if (h == NULL) {
        return;
    }

    if (call->prev != NULL || call->next != NULL || set->calls == call) {
        curl_multi_remove_handle(set->multi, h);

        if (call->prev != NULL) {
            call->prev->next = call->next;

        } else {
            set->calls = call->next;
        }

        if (call->next != NULL) {
            call->next->prev = call->prev;
        }

        set->ncalls--;
    }

    call->prev = NULL;
    call->next = NULL;

    /* neither may outlive the call inside the kept handle */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(call->list);
    call->list = NULL;
    call->easy = NULL;

    if (set->nspare < SV_HTTP_SPARE_MAX) {
        set->spare[set->nspare++] = h;

    } else {
        curl_easy_cleanup(h);
    }

    call->resp.body[call->resp.len] = '\0';
}


/* a call libcurl says is done, its answer filled; NULL if none is */

static sv_http_call_t *
sv_http_done(sv_http_set_t *set)
{
    int              left;
    char            *priv;
    CURLMsg         *msg;
    CURLcode         rc;
    sv_http_call_t  *call;

    for ( ;; ) {
        msg = curl_multi_info_read(set->multi, &left);

        if (msg == NULL) {
            return NULL;
        }

        if (msg->msg == CURLMSG_DONE) {
            break;
        }
    }

    priv = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    call = (sv_http_call_t *) priv;

    rc = msg->data.result;

    if (rc == CURLE_OK) {
        rc = curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE,
                               &call->resp.status);
    }

    if (rc == CURLE_OK) {
        call->rc = 0;

    } else {
        call->rc = -1;
        sv_http_error(call->err, sizeof(call->err), rc, call->curl_err);
    }

    sv_http_release(set, call);

    return call;
}


/* the multi handle itself failed: the oldest call ends with its reason */

static sv_http_call_t *
sv_http_fail_first(sv_http_set_t *set, CURLMcode mc)
{
    sv_http_call_t  *call;

    for (call = set->calls; call->next != NULL; call = call->next) {
        /* void */
    }

    call->rc = -1;
    snprintf(call->err, sizeof(call->err), "%s", curl_multi_strerror(mc));

    sv_http_release(set, call);

    return call;
}
