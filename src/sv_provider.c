/*
 * Provider dispatch, many sends side by side, and the process-wide
 * libcurl set-up.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <curl/curl.h>

#include "sv_clock.h"
#include "sv_http.h"
#include "sv_phone.h"
#include "sv_provider_impl.h"


typedef int (*sv_provider_build_pt)(const sv_provider_t *p,
    const sv_sms_t *sms, sv_http_call_t *call, char *err, size_t errlen);
typedef int (*sv_provider_read_pt)(const sv_provider_t *p,
    sv_http_call_t *call, char *err, size_t errlen);

typedef struct {
    const char            *name;
    sv_provider_build_pt   build;
    sv_provider_read_pt    read;            /* NULL: never PENDING */
} sv_provider_backend_t;


/*
 * The chains waiting for their next provider: a[head] to a[n - 1], in
 * order.  It only shrinks toward the end, so that there is room before
 * head for every chain taken out of it.
 */
typedef struct {
    sv_provider_chain_t  **a;
    size_t                 head;
    size_t                 n;
} sv_provider_queue_t;


static int sv_provider_start(sv_provider_queue_t *q, sv_http_call_t *call);
static int sv_provider_start_many(sv_provider_chain_t *first,
    sv_provider_queue_t *q, sv_http_call_t *call);
static int sv_provider_joins(const sv_provider_chain_t *first,
    const sv_provider_chain_t *c);
static int sv_provider_build_many(const sv_provider_t *p,
    const sv_sms_t *const *sms, size_t n, sv_http_call_t *call, char *err,
    size_t errlen);
static void sv_provider_requeue(sv_provider_queue_t *q,
    sv_provider_chain_t *first);
static int sv_provider_advance(sv_provider_chain_t *chain,
    sv_http_call_t *call);
static void sv_provider_answered(sv_http_call_t *call,
    sv_provider_queue_t *q);
static void sv_provider_send_each(sv_provider_chain_t *const *chains,
    size_t n);


static const sv_provider_backend_t  sv_backends[SV_PROVIDER_NTYPES] = {
    [SV_PROVIDER_LOG]    = { "log", sv_provider_log_build, NULL },
    [SV_PROVIDER_SENS]   = { "sens", sv_provider_sens_build,
                             sv_provider_sens_read },
    [SV_PROVIDER_CAFE24] = { "cafe24", sv_provider_cafe24_build,
                             sv_provider_cafe24_read },
};


const char *
sv_provider_name(sv_provider_type_t type)
{
    if ((unsigned) type >= SV_PROVIDER_NTYPES) {
        return "unknown";
    }

    return sv_backends[type].name;
}


int
sv_provider_send(const sv_provider_t *p, const sv_sms_t *sms, char *err,
    size_t errlen)
{
    int             rc;
    sv_http_call_t  call;

    rc = sv_provider_build(p, sms, &call, err, errlen);
    if (rc != SV_PROVIDER_PENDING) {
        return rc;
    }

    call.rc = sv_http_post(call.url, call.headers, call.body, call.len,
                           call.timeout_ms, &call.resp, call.err,
                           sizeof(call.err));

    return sv_provider_read(p, &call, err, errlen);
}


/* a call with nothing built into it yet, and no reason */

static void
sv_provider_call_clear(sv_http_call_t *call, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }

    call->body = NULL;
    call->len = 0;
    call->size = 0;
    call->headers[0] = NULL;
}


int
sv_provider_build(const sv_provider_t *p, const sv_sms_t *sms,
    sv_http_call_t *call, char *err, size_t errlen)
{
    sv_provider_call_clear(call, err, errlen);

    if (p == NULL || (unsigned) p->type >= SV_PROVIDER_NTYPES) {
        snprintf(err, errlen, "unknown provider");
        return -1;
    }

    if (sms == NULL || sms->phone == NULL || sms->text == NULL) {
        snprintf(err, errlen, "%s: no message",
                 sv_backends[p->type].name);
        return -1;
    }

    if (!sv_provider_serves(p, sms->phone)) {
        snprintf(err, errlen, "%s: sends within Korea (+82) only",
                 sv_backends[p->type].name);
        return SV_PROVIDER_SKIPPED;
    }

    call->timeout_ms = p->timeout_ms;

    return sv_backends[p->type].build(p, sms, call, err, errlen);
}


int
sv_provider_read(const sv_provider_t *p, sv_http_call_t *call, char *err,
    size_t errlen)
{
    const char  *name;

    if (errlen > 0) {
        err[0] = '\0';
    }

    /* the body is of no more use, and it holds the code */
    sv_http_call_wipe(call);

    if (p == NULL || (unsigned) p->type >= SV_PROVIDER_NTYPES
        || sv_backends[p->type].read == NULL)
    {
        snprintf(err, errlen, "unknown provider");
        return -1;
    }

    name = sv_backends[p->type].name;

    if (call->rc != 0) {
        snprintf(err, errlen, "%s: %s", name, call->err);
        return -1;
    }

    return sv_backends[p->type].read(p, call, err, errlen);
}


void
sv_provider_send_all(sv_provider_chain_t *const *chains, size_t n)
{
    size_t                 i, nslots, nfree, size;
    sv_http_call_t        *slots, **spare, *call, *one[1];
    sv_http_call_t         alone;
    sv_provider_chain_t   *one_chain[1];
    sv_provider_queue_t    q;

    for (i = 0; i < n; i++) {
        chains[i]->tried = 0;
        chains[i]->accepted = -1;
        chains[i]->next = NULL;
        chains[i]->alone = 0;
    }

    nslots = (n < SV_PROVIDER_CALLS_MAX) ? n : SV_PROVIDER_CALLS_MAX;

    if (nslots == 0) {
        return;
    }

    /*
     * Mapped, not malloc()ed: a pool thread's malloc arena would keep the
     * largest batch's calls (8 KiB of answer each) for good, where the
     * pages of a mapping go back at its end, and only those touched count.
     */
    size = nslots * (sizeof(sv_http_call_t) + sizeof(sv_http_call_t *))
           + n * sizeof(sv_provider_chain_t *);

    if (n == 1) {
        /* a batch of one (at low load, most): its call on the stack */
        slots = &alone;
        spare = one;
        q.a = one_chain;

    } else {
        slots = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (slots == MAP_FAILED) {
            sv_provider_send_each(chains, n);
            return;
        }

        spare = (sv_http_call_t **) (slots + nslots);
        q.a = (sv_provider_chain_t **) (spare + nslots);
    }

    for (nfree = 0; nfree < nslots; nfree++) {
        spare[nfree] = &slots[nfree];
    }

    memcpy(q.a, chains, n * sizeof(sv_provider_chain_t *));
    q.head = 0;
    q.n = n;

    for ( ;; ) {

        /* the chains waiting, as far as calls are free */

        while (q.head < q.n && nfree > 0) {
            call = spare[--nfree];

            if (!sv_provider_start(&q, call)) {
                spare[nfree++] = call;
            }
        }

        call = sv_http_next();
        if (call == NULL) {
            break;
        }

        /* its chains that go on, to the front of the queue */

        sv_provider_answered(call, &q);
        spare[nfree++] = call;
    }

    if (slots != &alone) {
        munmap(slots, size);
    }
}


/* the first chain of the queue that needs an HTTP call, started on call */

static int
sv_provider_start(sv_provider_queue_t *q, sv_http_call_t *call)
{
    sv_provider_chain_t  *chain;

    while (q->head < q->n) {
        chain = q->a[q->head++];

        if (sv_provider_start_many(chain, q, call)
            || sv_provider_advance(chain, call))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * 1 if the chain's next provider is a SENS that the chains in the queue
 * at the same one join, their messages in one request started on call;
 * 0 if the chain goes alone.
 */

static int
sv_provider_start_many(sv_provider_chain_t *first, sv_provider_queue_t *q,
    sv_http_call_t *call)
{
    int                     rc;
    size_t                  i, j, k;
    int64_t                 start;
    const sv_sms_t         *sms[SV_SENS_MESSAGES_MAX];
    sv_provider_chain_t    *c, *last;
    const sv_provider_t    *p;
    sv_provider_outcome_t  *o;

    if (first->alone || first->accepted >= 0
        || first->tried >= first->nproviders)
    {
        return 0;
    }

    p = &first->providers[first->tried];

    if (p->type != SV_PROVIDER_SENS
        || sv_phone_country_code_len(first->sms->phone) == 0)
    {
        return 0;
    }

    /* those that join, out of the queue; the others packed to its end */

    sms[0] = first->sms;
    first->next = NULL;
    last = first;
    k = 1;

    for (i = q->n, j = q->n; i > q->head; i--) {
        c = q->a[i - 1];

        if (k < SV_SENS_MESSAGES_MAX && sv_provider_joins(first, c)) {
            c->next = NULL;
            last->next = c;
            last = c;
            sms[k++] = c->sms;
            continue;
        }

        q->a[--j] = c;
    }

    q->head = j;

    if (k == 1) {
        return 0;
    }

    start = sv_clock_mono_us();

    for (c = first; c != NULL; c = c->next) {
        c->tried++;
        c->start = start;
    }

    o = &first->outcomes[first->tried - 1];

    rc = sv_provider_build_many(p, sms, k, call, o->reason,
                                sizeof(o->reason));

    if (rc == SV_PROVIDER_PENDING) {
        call->data = first;

        if (sv_http_start(call) == 0) {
            return 1;
        }

        sv_http_call_wipe(call);
    }

    /* each on its own, as it would have been without the others */

    for (c = first; c != NULL; c = c->next) {
        c->tried--;
    }

    sv_provider_requeue(q, first);

    return 0;
}


/* c's next provider is first's, and its number of the same country */

static int
sv_provider_joins(const sv_provider_chain_t *first,
    const sv_provider_chain_t *c)
{
    size_t  len;

    if (c->alone || c->accepted >= 0 || c->tried >= c->nproviders
        || &c->providers[c->tried] != &first->providers[first->tried])
    {
        return 0;
    }

    len = sv_phone_country_code_len(first->sms->phone);

    return sv_phone_country_code_len(c->sms->phone) == len
           && strncmp(c->sms->phone, first->sms->phone, len + 1) == 0;
}


static int
sv_provider_build_many(const sv_provider_t *p, const sv_sms_t *const *sms,
    size_t n, sv_http_call_t *call, char *err, size_t errlen)
{
    sv_provider_call_clear(call, err, errlen);
    call->timeout_ms = p->timeout_ms;

    return sv_provider_sens_build_many(p, sms, n, call, err, errlen);
}


/* the chains of a request, to the front of the queue, each to go alone */

static void
sv_provider_requeue(sv_provider_queue_t *q, sv_provider_chain_t *first)
{
    sv_provider_chain_t  *c, *next;

    for (c = first; c != NULL; c = next) {
        next = c->next;
        c->next = NULL;
        c->alone = 1;
        q->a[--q->head] = c;
    }
}


/*
 * The chain's next providers until one needs an HTTP call (1: started on
 * call) or the chain ended (0: accepted, or every provider tried).
 */

static int
sv_provider_advance(sv_provider_chain_t *chain, sv_http_call_t *call)
{
    int                     rc;
    size_t                  i;
    const sv_provider_t    *p;
    sv_provider_outcome_t  *o;

    while (chain->accepted < 0 && chain->tried < chain->nproviders) {
        i = chain->tried++;
        p = &chain->providers[i];
        o = &chain->outcomes[i];

        chain->start = sv_clock_mono_us();

        rc = sv_provider_build(p, chain->sms, call, o->reason,
                               sizeof(o->reason));

        if (rc == SV_PROVIDER_PENDING) {
            call->data = chain;
            chain->next = NULL;

            if (sv_http_start(call) == 0) {
                return 1;
            }

            /* it could not start: a failure of this provider's */
            rc = sv_provider_read(p, call, o->reason, sizeof(o->reason));
        }

        o->rc = rc;
        o->us = sv_clock_mono_us() - chain->start;

        if (rc == SV_PROVIDER_ACCEPTED) {
            chain->accepted = (int) i;
        }
    }

    return 0;
}


/*
 * The answer to the request of call->data's chains: each one's outcome
 * of its last provider; those not accepted to the front of the queue,
 * for their next provider.  A refusal (4xx) of a request of many: each
 * of its chains to the same provider again, alone.
 */

static void
sv_provider_answered(sv_http_call_t *call, sv_provider_queue_t *q)
{
    int                     rc, refused;
    int64_t                 us;
    size_t                  i;
    sv_provider_chain_t    *first, *c, *next;
    sv_provider_outcome_t  *o, *first_o;

    first = call->data;
    i = first->tried - 1;
    first_o = &first->outcomes[i];

    rc = sv_provider_read(&first->providers[i], call, first_o->reason,
                          sizeof(first_o->reason));
    us = sv_clock_mono_us() - first->start;

    refused = (first->next != NULL && rc != SV_PROVIDER_ACCEPTED
               && call->rc == 0 && call->resp.status >= 400
               && call->resp.status < 500);

    if (refused) {
        for (c = first; c != NULL; c = c->next) {
            c->tried--;
        }

        sv_provider_requeue(q, first);
        return;
    }

    for (c = first; c != NULL; c = next) {
        next = c->next;
        c->next = NULL;

        i = c->tried - 1;
        o = &c->outcomes[i];

        if (c != first) {
            memcpy(o->reason, first_o->reason, sizeof(o->reason));
        }

        o->rc = rc;
        o->us = us;

        if (rc == SV_PROVIDER_ACCEPTED) {
            c->accepted = (int) i;

        } else if (c->tried < c->nproviders) {
            q->a[--q->head] = c;
        }
    }
}


/* without memory for calls side by side: one after the other */

static void
sv_provider_send_each(sv_provider_chain_t *const *chains, size_t n)
{
    size_t                  i, k;
    sv_provider_chain_t    *chain;
    sv_provider_outcome_t  *o;

    for (k = 0; k < n; k++) {
        chain = chains[k];

        for (i = 0; i < chain->nproviders; i++) {
            o = &chain->outcomes[i];

            chain->start = sv_clock_mono_us();
            o->rc = sv_provider_send(&chain->providers[i], chain->sms,
                                     o->reason, sizeof(o->reason));
            o->us = sv_clock_mono_us() - chain->start;
            chain->tried = i + 1;

            if (o->rc == SV_PROVIDER_ACCEPTED) {
                chain->accepted = (int) i;
                break;
            }
        }
    }
}


int
sv_provider_serves(const sv_provider_t *p, const char *e164)
{
    if (p->type != SV_PROVIDER_CAFE24) {
        return 1;
    }

    /* "+82" and a digit: a number the module normalized to Korea */
    return strncmp(e164, "+82", 3) == 0 && e164[3] >= '0' && e164[3] <= '9';
}


int
sv_provider_check(const sv_provider_t *p, char *err, size_t errlen)
{
    if (errlen > 0) {
        err[0] = '\0';
    }

    switch (p->type) {

    case SV_PROVIDER_SENS:
        return sv_provider_sens_check(p, err, errlen);

    case SV_PROVIDER_CAFE24:
        return sv_provider_cafe24_check(p, err, errlen);

    default:
        return 0;
    }
}


int
sv_provider_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}


void
sv_provider_cleanup(void)
{
    /* the pool threads are gone by now: their handles go with this one's */
    sv_http_cleanup();
    curl_global_cleanup();
}
