#ifndef SV_HTTP_H
#define SV_HTTP_H

/*
 * A minimal HTTP client for the providers: one libcurl easy handle per
 * thread, kept across calls so that connections are reused.  Never logs.
 */

#include <stddef.h>

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

/*
 * base and path joined into out (size bytes), whether or not base ends in
 * "/".  Returns 0, or -1 if it does not fit.
 */
int sv_http_url(char *out, size_t size, const char *base, const char *path);

/*
 * Frees every thread's handle.  Only once no thread calls sv_http_post()
 * any more (in nginx: at exit_process, after the thread pools ended).
 */
void sv_http_cleanup(void);

#endif /* SV_HTTP_H */
