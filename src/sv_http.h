#ifndef SV_HTTP_H
#define SV_HTTP_H

/*
 * A minimal HTTP client for the providers: one libcurl easy handle per
 * thread, kept across calls so that connections are reused, and a set of
 * calls per thread made side by side (a libcurl multi handle, its
 * connections kept too).  Never logs.
 */

#include <stddef.h>
#include <stdint.h>

/* what a provider needs to see of an answer; longer bodies are cut */
#define SV_HTTP_BODY_MAX  8192


typedef struct {
    long     status;                    /* HTTP status, 0 if none */
    size_t   len;                       /* body bytes kept */
    char     body[SV_HTTP_BODY_MAX + 1];  /* NUL-terminated */
} sv_http_response_t;


/*
 * POSTs len bytes of body to url with the headers (NULL-terminated list of
 * "Name: value" lines), no redirects followed, within timeout_ms.  Returns
 * 0 once any answer came (see resp->status), or -1 with curl's reason in
 * err if none did.
 */
int sv_http_post(const char *url, const char *const *headers,
    const char *body, size_t len, long timeout_ms, sv_http_response_t *resp,
    char *err, size_t errlen);

/* what a call may hold of its request */
#define SV_HTTP_URL_SIZE      1024
#define SV_HTTP_HEADERS_MAX   6
#define SV_HTTP_HEADER_SIZE   256
#define SV_HTTP_ERR_SIZE      256


/*
 * One POST made beside others by this thread: the caller fills the
 * request part, sv_http_start() sends it, sv_http_next() hands it back
 * once answered (or failed) with the answer part filled.
 */
typedef struct sv_http_call_s  sv_http_call_t;

struct sv_http_call_s {
    /* the request */
    char                 url[SV_HTTP_URL_SIZE];
    const char          *headers[SV_HTTP_HEADERS_MAX + 1];  /* NULL ends */
    char                 header[SV_HTTP_HEADERS_MAX][SV_HTTP_HEADER_SIZE];
    char                *body;          /* malloc()ed, size bytes */
    size_t               len;
    size_t               size;
    long                 timeout_ms;
    void                *data;          /* the caller's */

    /* the answer: rc 0 once any came (resp.status), -1 with err */
    int                  rc;
    sv_http_response_t   resp;
    char                 err[SV_HTTP_ERR_SIZE];

    /* sv_http.c's */
    void                *easy;
    void                *list;
    sv_http_call_t      *prev;
    sv_http_call_t      *next;
    char                 curl_err[SV_HTTP_ERR_SIZE];
};


/*
 * Starts the call among this thread's calls in flight: 0, or -1 with the
 * reason in call->err (and call->rc -1) if it could not start; it is not
 * in flight then.  The call's memory must stay until sv_http_next() gave
 * it back.
 */
int sv_http_start(sv_http_call_t *call);

/*
 * Waits until one of this thread's calls in flight is done and returns
 * it, its answer filled; NULL if none is in flight.  Each call ends
 * within its own timeout, whatever the others do.
 */
sv_http_call_t *sv_http_next(void);

/* how many of this thread's calls are in flight */
size_t sv_http_in_flight(void);

/* wipes and frees the call's body (it may hold a code) */
void sv_http_call_wipe(sv_http_call_t *call);

/*
 * base and path joined into out (size bytes), whether or not base ends in
 * "/".  Returns 0, or -1 if it does not fit.
 */
int sv_http_url(char *out, size_t size, const char *base, const char *path);

/*
 * Frees every thread's handles.  Only once no thread calls sv_http_post()
 * nor has calls in flight any more (in nginx: at exit_process, after the
 * thread pools ended).
 */
void sv_http_cleanup(void);

#endif /* SV_HTTP_H */
