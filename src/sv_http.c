/*
 * HTTP POST over a per-thread libcurl easy handle.  The handle lives as
 * long as the process, so the connection to a provider is kept alive
 * between messages; curl_easy_reset() clears the options of the previous
 * call but keeps the connection cache.
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

#include "sv_http.h"

#define SV_HTTP_DEFAULT_TIMEOUT_MS  5000


static void sv_http_key_create(void);
static CURL *sv_http_handle(void);
static struct curl_slist *sv_http_header_list(const char *const *headers);
static CURLcode sv_http_set_options(CURL *h, const char *url,
    struct curl_slist *list, const char *body, size_t len, long timeout_ms,
    sv_http_response_t *resp, char *curl_err);
static size_t sv_http_collect(char *data, size_t size, size_t n, void *ctx);
static void sv_http_error(char *err, size_t errlen, CURLcode rc,
    const char *curl_err);


static pthread_once_t   sv_http_once = PTHREAD_ONCE_INIT;
static pthread_key_t    sv_http_key;
static int              sv_http_key_ready;

/* every handle made, for sv_http_cleanup() */
static pthread_mutex_t  sv_http_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL           **sv_http_handles;
static size_t           sv_http_nhandles;
static size_t           sv_http_handles_size;


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

    if (sv_http_key_ready) {
        pthread_setspecific(sv_http_key, NULL);
    }

    pthread_mutex_lock(&sv_http_lock);

    for (i = 0; i < sv_http_nhandles; i++) {
        curl_easy_cleanup(sv_http_handles[i]);
    }

    free(sv_http_handles);
    sv_http_handles = NULL;
    sv_http_nhandles = 0;
    sv_http_handles_size = 0;

    pthread_mutex_unlock(&sv_http_lock);
}


static void
sv_http_key_create(void)
{
    /* no destructor: see the top of this file */
    sv_http_key_ready = (pthread_key_create(&sv_http_key, NULL) == 0);
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
