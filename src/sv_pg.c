/*
 * PostgreSQL connections for the pool threads: see sv_pg.h.
 *
 * Each thread's connection is a slot, found through a pthread key of the
 * sv_pg_t and listed in it, so that the thread's exit or sv_pg_destroy()
 * closes it.  Statements are sent with PQsendQueryParams() and waited for
 * with poll() up to the statement timeout and a margin: a server that
 * stopped answering (frozen, or its host gone) costs that long, then the
 * connection is dropped and the next use opens a new one.
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sv_pg.h"


#define SV_PG_CONNECT_TIMEOUT_S     5
#define SV_PG_STATEMENT_TIMEOUT_MS  5000
#define SV_PG_ANSWER_MARGIN_MS      1000
#define SV_PG_ATTEMPTS              5
#define SV_PG_RECONNECT_MS          1000

/* the schema's creation and upgrades, among nodes that start at once */
#define SV_PG_SCHEMA_LOCK           "7526411283697320561"

#define SV_PG_KEYWORDS_MAX          64


typedef struct sv_pg_slot_s  sv_pg_slot_t;

/* a statement prepared on a connection, known by its text's hash */
typedef struct {
    uint64_t            hash;
    size_t              len;
} sv_pg_prepared_t;

struct sv_pg_slot_s {
    sv_pg_t            *pg;
    PGconn             *conn;
    sv_pg_slot_t       *prev;
    sv_pg_slot_t       *next;

    /* the connection's, named "sv_pg_<index>"; gone with it */
    unsigned            nprepared;
    sv_pg_prepared_t    prepared[SV_PG_PREPARED_MAX];
};

struct sv_pg_s {
    const char         *keywords[SV_PG_KEYWORDS_MAX + 1];
    const char         *values[SV_PG_KEYWORDS_MAX + 1];
    char               *strings;        /* what keywords and values hold */
    unsigned            wait_ms;
    unsigned            attempts;

    pthread_key_t       key;
    pthread_mutex_t     lock;           /* slots */
    sv_pg_slot_t       *slots;
    uint64_t            opened;         /* __atomic */
    uint64_t            trips;          /* __atomic: round trips */

    /* the last failed open, under lock */
    unsigned            reconnect_ms;
    int64_t             down_until_ms;
    sv_pg_rc_t          down_rc;
    sv_pg_err_t         down_err;
};

struct sv_pg_txn_s {
    sv_pg_slot_t       *slot;
    sv_pg_err_t        *e;
    unsigned            attempt;
    int                 retry;          /* a 40001 or 40P01 was seen */
    int                 lost;           /* the connection was dropped */
};


static const char  *sv_pg_begin_sql[] = {
    "BEGIN ISOLATION LEVEL READ COMMITTED",
    "BEGIN ISOLATION LEVEL REPEATABLE READ",
    "BEGIN ISOLATION LEVEL SERIALIZABLE"
};


/* errors */

static void
sv_pg_err_clear(sv_pg_err_t *e)
{
    e->sqlstate[0] = '\0';
    e->constraint[0] = '\0';
    e->text[0] = '\0';
}


static void
sv_pg_err_set(sv_pg_err_t *e, const char *fmt, ...)
{
    va_list  ap;

    sv_pg_err_clear(e);

    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
}


/* libpq's message on one line: each run of white space becomes a space */
static void
sv_pg_one_line(char *dst, size_t size, const char *prefix, const char *msg)
{
    char  *r, *w;

    snprintf(dst, size, "%s%s", prefix, msg != NULL ? msg : "");

    for (r = dst, w = dst; *r != '\0'; r++) {
        if (*r == ' ' || *r == '\n' || *r == '\r' || *r == '\t') {
            if (w > dst && w[-1] != ' ') {
                *w++ = ' ';
            }
            continue;
        }
        *w++ = *r;
    }

    while (w > dst && w[-1] == ' ') {
        w--;
    }

    *w = '\0';
}


static void
sv_pg_err_conn(sv_pg_err_t *e, const char *prefix, PGconn *conn)
{
    sv_pg_err_clear(e);
    sv_pg_one_line(e->text, sizeof(e->text), prefix,
                   conn != NULL ? PQerrorMessage(conn) : "out of memory");
}


/* a sentence before the error's text */
static void
sv_pg_err_prefix(sv_pg_err_t *e, const char *prefix)
{
    size_t  plen, tlen;

    plen = strlen(prefix);
    tlen = strlen(e->text);

    if (plen > sizeof(e->text) - 1) {
        plen = sizeof(e->text) - 1;
    }

    if (plen + tlen > sizeof(e->text) - 1) {
        tlen = sizeof(e->text) - 1 - plen;
    }

    memmove(e->text + plen, e->text, tlen);
    memcpy(e->text, prefix, plen);
    e->text[plen + tlen] = '\0';
}


static void
sv_pg_err_gave_up(sv_pg_err_t *e, unsigned attempts)
{
    char  prefix[64];

    snprintf(prefix, sizeof(prefix), "gave up after %u attempts: ", attempts);
    sv_pg_err_prefix(e, prefix);
}


/*
 * The server's error: SQLSTATE, constraint and the primary message only
 * (the detail may quote a row's values).
 */
static void
sv_pg_err_result(sv_pg_err_t *e, PGconn *conn, const PGresult *res)
{
    const char  *state, *constraint, *msg;
    char         prefix[16];

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    if (state == NULL || msg == NULL) {
        /* made by libpq itself: a lost connection, most likely */
        sv_pg_err_conn(e, "", conn);
        if (e->text[0] == '\0') {
            sv_pg_one_line(e->text, sizeof(e->text), "",
                           PQresultErrorMessage(res));
        }
        return;
    }

    sv_pg_err_clear(e);
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", state);

    constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    if (constraint != NULL) {
        snprintf(e->constraint, sizeof(e->constraint), "%s", constraint);
    }

    snprintf(prefix, sizeof(prefix), "%s: ", e->sqlstate);
    sv_pg_one_line(e->text, sizeof(e->text), prefix, msg);
}


static int
sv_pg_state_is(const sv_pg_err_t *e, const char *state)
{
    return strcmp(e->sqlstate, state) == 0;
}


/* the server cannot serve this connection any more */
static int
sv_pg_state_fatal(const sv_pg_err_t *e)
{
    return strncmp(e->sqlstate, "08", 2) == 0     /* connection exception */
           || sv_pg_state_is(e, "57P01")          /* admin shutdown */
           || sv_pg_state_is(e, "57P02")          /* crash shutdown */
           || sv_pg_state_is(e, "57P03")          /* cannot connect now */
           || sv_pg_state_is(e, "25006");         /* read-only: a standby */
}


/* the database cannot answer now, but the connection may serve on */
static int
sv_pg_state_busy(const sv_pg_err_t *e)
{
    return sv_pg_state_is(e, "57014")             /* statement timeout */
           || sv_pg_state_is(e, "55P03")          /* lock not available */
           || sv_pg_state_is(e, "53300");         /* too many connections */
}


static int
sv_pg_state_retry(const sv_pg_err_t *e)
{
    return sv_pg_state_is(e, "40001")             /* serialization */
           || sv_pg_state_is(e, "40P01");         /* deadlock */
}


/* the configuration */

static int64_t
sv_pg_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


typedef struct {
    char   *p;
    char   *end;
} sv_pg_strbuf_t;


static const char *
sv_pg_keep(sv_pg_strbuf_t *b, const char *s)
{
    size_t   n;
    char    *p;

    n = strlen(s) + 1;
    if ((size_t) (b->end - b->p) < n) {
        return NULL;
    }

    p = memcpy(b->p, s, n);
    b->p += n;

    return p;
}


static size_t
sv_pg_conninfo_size(const PQconninfoOption *opts)
{
    size_t                   n;
    const PQconninfoOption  *o;

    n = 256;

    for (o = opts; o->keyword != NULL; o++) {
        n += strlen(o->keyword) + 1;
        if (o->val != NULL) {
            n += strlen(o->val) + 1;
        }
    }

    return n;
}


/*
 * The URI's settings, and ours: connect_timeout where the URI has none,
 * the statement timeout appended to its options, our application_name
 * where it has none, UTF-8.
 */
static int
sv_pg_params_build(sv_pg_t *pg, const PQconninfoOption *opts,
    unsigned connect_timeout_s, unsigned statement_timeout_ms)
{
    int                      n;
    char                     num[32], *options;
    size_t                   size, len;
    sv_pg_strbuf_t           b;
    const char              *user_options;
    const PQconninfoOption  *o;
    int                      have_connect_timeout, have_app_name;

    size = sv_pg_conninfo_size(opts);

    pg->strings = malloc(size);
    if (pg->strings == NULL) {
        return -1;
    }

    b.p = pg->strings;
    b.end = pg->strings + size;

    n = 0;
    user_options = NULL;
    have_connect_timeout = 0;
    have_app_name = 0;

    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        if (strcmp(o->keyword, "options") == 0) {
            user_options = o->val;
            continue;
        }

        if (strcmp(o->keyword, "client_encoding") == 0) {
            continue;
        }

        have_connect_timeout |= strcmp(o->keyword, "connect_timeout") == 0;
        have_app_name |= strcmp(o->keyword, "application_name") == 0;

        if (n >= SV_PG_KEYWORDS_MAX - 4) {
            return -1;
        }

        pg->keywords[n] = sv_pg_keep(&b, o->keyword);
        pg->values[n] = sv_pg_keep(&b, o->val);
        if (pg->keywords[n] == NULL || pg->values[n] == NULL) {
            return -1;
        }

        n++;
    }

    if (!have_connect_timeout) {
        snprintf(num, sizeof(num), "%u", connect_timeout_s);
        pg->keywords[n] = "connect_timeout";
        pg->values[n] = sv_pg_keep(&b, num);
        if (pg->values[n++] == NULL) {
            return -1;
        }
    }

    if (!have_app_name) {
        pg->keywords[n] = "application_name";
        pg->values[n++] = "smsverify";
    }

    pg->keywords[n] = "client_encoding";
    pg->values[n++] = "UTF8";

    len = (user_options != NULL ? strlen(user_options) : 0) + 64;
    options = malloc(len);
    if (options == NULL) {
        return -1;
    }

    snprintf(options, len, "%s%s-c statement_timeout=%u",
             user_options != NULL ? user_options : "",
             user_options != NULL ? " " : "", statement_timeout_ms);

    pg->keywords[n] = "options";
    pg->values[n] = sv_pg_keep(&b, options);
    free(options);

    if (pg->values[n] == NULL) {
        return -1;
    }

    n++;
    pg->keywords[n] = NULL;
    pg->values[n] = NULL;

    return 0;
}


static void sv_pg_slot_free(void *p);


sv_pg_rc_t
sv_pg_create(sv_pg_t **pgp, const sv_pg_conf_t *conf, sv_pg_err_t *e)
{
    char              *msg;
    sv_pg_t           *pg;
    unsigned           connect_s, statement_ms, margin_ms;
    PQconninfoOption  *opts;

    *pgp = NULL;

    if (!PQisthreadsafe()) {
        sv_pg_err_set(e, "libpq was built without thread safety");
        return SV_PG_ERROR;
    }

    msg = NULL;
    opts = PQconninfoParse(conf->uri, &msg);
    if (opts == NULL) {
        sv_pg_err_clear(e);
        sv_pg_one_line(e->text, sizeof(e->text), "invalid connection URI: ",
                       msg != NULL ? msg : "out of memory");
        PQfreemem(msg);
        return SV_PG_ERROR;
    }

    pg = calloc(1, sizeof(sv_pg_t));
    if (pg == NULL) {
        PQconninfoFree(opts);
        sv_pg_err_set(e, "out of memory");
        return SV_PG_ERROR;
    }

    connect_s = conf->connect_timeout_s ? conf->connect_timeout_s
                                        : SV_PG_CONNECT_TIMEOUT_S;
    statement_ms = conf->statement_timeout_ms ? conf->statement_timeout_ms
                                              : SV_PG_STATEMENT_TIMEOUT_MS;
    margin_ms = conf->answer_margin_ms ? conf->answer_margin_ms
                                       : SV_PG_ANSWER_MARGIN_MS;

    pg->wait_ms = statement_ms + margin_ms;
    pg->attempts = conf->attempts ? conf->attempts : SV_PG_ATTEMPTS;
    pg->reconnect_ms = conf->reconnect_ms ? conf->reconnect_ms
                                          : SV_PG_RECONNECT_MS;

    if (sv_pg_params_build(pg, opts, connect_s, statement_ms) != 0) {
        PQconninfoFree(opts);
        free(pg->strings);
        free(pg);
        sv_pg_err_set(e, "out of memory, or too many connection parameters");
        return SV_PG_ERROR;
    }

    PQconninfoFree(opts);

    if (pthread_mutex_init(&pg->lock, NULL) != 0) {
        free(pg->strings);
        free(pg);
        sv_pg_err_set(e, "pthread_mutex_init() failed");
        return SV_PG_ERROR;
    }

    if (pthread_key_create(&pg->key, sv_pg_slot_free) != 0) {
        pthread_mutex_destroy(&pg->lock);
        free(pg->strings);
        free(pg);
        sv_pg_err_set(e, "pthread_key_create() failed");
        return SV_PG_ERROR;
    }

    *pgp = pg;
    sv_pg_err_clear(e);

    return SV_PG_OK;
}


void
sv_pg_destroy(sv_pg_t *pg)
{
    sv_pg_slot_t  *s, *next;

    if (pg == NULL) {
        return;
    }

    /* the key first: no thread's exit may run into a freed pg */
    pthread_key_delete(pg->key);

    for (s = pg->slots; s != NULL; s = next) {
        next = s->next;
        if (s->conn != NULL) {
            PQfinish(s->conn);
        }
        free(s);
    }

    pthread_mutex_destroy(&pg->lock);
    free(pg->strings);
    free(pg);
}


uint64_t
sv_pg_opened(sv_pg_t *pg)
{
    return __atomic_load_n(&pg->opened, __ATOMIC_RELAXED);
}


uint64_t
sv_pg_round_trips(sv_pg_t *pg)
{
    return __atomic_load_n(&pg->trips, __ATOMIC_RELAXED);
}


/* the threads' slots */

/* a thread's exit */
static void
sv_pg_slot_free(void *p)
{
    sv_pg_slot_t  *s;
    sv_pg_t       *pg;

    s = p;
    pg = s->pg;

    pthread_mutex_lock(&pg->lock);

    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        pg->slots = s->next;
    }

    if (s->next != NULL) {
        s->next->prev = s->prev;
    }

    pthread_mutex_unlock(&pg->lock);

    if (s->conn != NULL) {
        PQfinish(s->conn);
    }

    free(s);
}


static sv_pg_slot_t *
sv_pg_slot(sv_pg_t *pg)
{
    sv_pg_slot_t  *s;

    s = pthread_getspecific(pg->key);
    if (s != NULL) {
        return s;
    }

    s = calloc(1, sizeof(sv_pg_slot_t));
    if (s == NULL) {
        return NULL;
    }

    s->pg = pg;

    if (pthread_setspecific(pg->key, s) != 0) {
        free(s);
        return NULL;
    }

    pthread_mutex_lock(&pg->lock);

    s->next = pg->slots;
    if (s->next != NULL) {
        s->next->prev = s;
    }
    pg->slots = s;

    pthread_mutex_unlock(&pg->lock);

    return s;
}


static void
sv_pg_drop(sv_pg_slot_t *s)
{
    if (s->conn != NULL) {
        PQfinish(s->conn);
        s->conn = NULL;
    }

    s->nprepared = 0;
}


/*
 * Whether an idle connection can be used: libpq says it is fine, and the
 * server did not hang up meanwhile (a restart, pg_terminate_backend()),
 * which reading what is waiting on the socket finds without blocking.
 */
static int
sv_pg_alive(PGconn *conn)
{
    if (PQstatus(conn) != CONNECTION_OK
        || PQtransactionStatus(conn) != PQTRANS_IDLE)
    {
        return 0;
    }

    /*
     * twice: the first read may take the server's last message and only
     * the second see the end of the stream
     */
    if (!PQconsumeInput(conn) || !PQconsumeInput(conn)) {
        return 0;
    }

    return PQstatus(conn) == CONNECTION_OK && !PQisBusy(conn);
}


/* statements */

/* waits until libpq has the whole answer; -1 past the deadline or lost */
static int
sv_pg_wait(PGconn *conn, int64_t deadline_ms, int *timed_out)
{
    int            n;
    int64_t        left;
    struct pollfd  pfd;

    *timed_out = 0;

    while (PQisBusy(conn)) {
        left = deadline_ms - sv_pg_now_ms();
        if (left <= 0) {
            *timed_out = 1;
            return -1;
        }

        pfd.fd = PQsocket(conn);
        pfd.events = POLLIN;
        pfd.revents = 0;

        if (pfd.fd < 0) {
            return -1;
        }

        n = poll(&pfd, 1, left > 60000 ? 60000 : (int) left);
        if (n < 0 && errno != EINTR) {
            return -1;
        }

        if (n > 0 && !PQconsumeInput(conn)) {
            return -1;
        }
    }

    return 0;
}


/*
 * What a statement's result says: OK, or e says why; *lost is set if the
 * connection cannot serve on (the caller drops it).
 */
static sv_pg_rc_t
sv_pg_result_rc(PGconn *conn, const PGresult *r, sv_pg_err_t *e, int *lost)
{
    ExecStatusType  status;

    *lost = 0;
    status = PQresultStatus(r);

    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        sv_pg_err_clear(e);
        return SV_PG_OK;
    }

    sv_pg_err_result(e, conn, r);

    if (PQstatus(conn) == CONNECTION_BAD || sv_pg_state_fatal(e)) {
        *lost = 1;
        return SV_PG_UNAVAILABLE;
    }

    if (sv_pg_state_busy(e)) {
        return SV_PG_UNAVAILABLE;
    }

    if (sv_pg_state_retry(e)) {
        return SV_PG_RETRY;
    }

    return SV_PG_ERROR;
}


/*
 * Waits for the answer to what was sent on the slot's connection.  OK
 * with *res (if asked for); otherwise e says why, and a connection that
 * cannot serve on is dropped.
 */
static sv_pg_rc_t
sv_pg_answer(sv_pg_t *pg, sv_pg_slot_t *s, PGresult **res, sv_pg_err_t *e)
{
    int          timed_out, lost;
    int64_t      deadline;
    PGresult    *first, *r;
    sv_pg_rc_t   rc;

    first = NULL;
    deadline = sv_pg_now_ms() + pg->wait_ms;

    __atomic_add_fetch(&pg->trips, 1, __ATOMIC_RELAXED);

    for ( ;; ) {
        if (sv_pg_wait(s->conn, deadline, &timed_out) != 0) {
            if (timed_out) {
                sv_pg_err_set(e, "no answer from the database within %u ms",
                              pg->wait_ms);
            } else {
                sv_pg_err_conn(e, "connection lost: ", s->conn);
            }
            PQclear(first);
            sv_pg_drop(s);
            return SV_PG_UNAVAILABLE;
        }

        r = PQgetResult(s->conn);
        if (r == NULL) {
            break;
        }

        if (first == NULL) {
            first = r;
        } else {
            PQclear(r);
        }
    }

    if (first == NULL) {
        sv_pg_err_conn(e, "no result: ", s->conn);
        if (PQstatus(s->conn) == CONNECTION_BAD) {
            sv_pg_drop(s);
            return SV_PG_UNAVAILABLE;
        }
        return SV_PG_ERROR;
    }

    rc = sv_pg_result_rc(s->conn, first, e, &lost);

    if (rc == SV_PG_OK && res != NULL) {
        *res = first;
    } else {
        PQclear(first);
    }

    if (lost) {
        sv_pg_drop(s);
    }

    return rc;
}


/* a send failed: why, and whether the connection is gone */
static sv_pg_rc_t
sv_pg_send_failed(sv_pg_slot_t *s, sv_pg_err_t *e)
{
    sv_pg_err_conn(e, "could not send a statement: ", s->conn);

    if (PQstatus(s->conn) == CONNECTION_BAD) {
        sv_pg_drop(s);
        return SV_PG_UNAVAILABLE;
    }

    return SV_PG_ERROR;
}


/* FNV-1a: the text of a statement, as the connection's cache knows it */
static uint64_t
sv_pg_sql_hash(const char *sql, size_t *len)
{
    size_t    i;
    uint64_t  h;

    h = 14695981039346656037ULL;

    for (i = 0; sql[i] != '\0'; i++) {
        h = (h ^ (unsigned char) sql[i]) * 1099511628211ULL;
    }

    *len = i;

    return h;
}


/*
 * The name of sql prepared on the slot's connection, prepared now if it
 * was not: 0, 1 if it cannot be (the cache is full: run it unprepared),
 * or -1 with *rc.
 */
static int
sv_pg_prepare(sv_pg_t *pg, sv_pg_slot_t *s, const char *sql,
    const sv_pg_params_t *p, char *name, sv_pg_rc_t *rc, sv_pg_err_t *e)
{
    size_t             len;
    unsigned           i;
    uint64_t           hash;
    sv_pg_prepared_t  *pr;

    hash = sv_pg_sql_hash(sql, &len);

    for (i = 0; i < s->nprepared; i++) {
        pr = &s->prepared[i];
        if (pr->hash == hash && pr->len == len) {
            snprintf(name, 24, "sv_pg_%u", i);
            return 0;
        }
    }

    if (s->nprepared == SV_PG_PREPARED_MAX) {
        return 1;
    }

    snprintf(name, 24, "sv_pg_%u", i);

    if (!PQsendPrepare(s->conn, name, sql, p->n, NULL)) {
        *rc = sv_pg_send_failed(s, e);
        return -1;
    }

    *rc = sv_pg_answer(pg, s, NULL, e);
    if (*rc != SV_PG_OK) {
        return -1;
    }

    s->prepared[i].hash = hash;
    s->prepared[i].len = len;
    s->nprepared++;

    return 0;
}


/*
 * Sends one statement on the slot's connection (prepared first, if p
 * asks for it) and waits for its answer, as sv_pg_answer().
 */
static sv_pg_rc_t
sv_pg_run(sv_pg_t *pg, sv_pg_slot_t *s, const char *sql,
    const sv_pg_params_t *p, int binary, PGresult **res, sv_pg_err_t *e)
{
    int         named, sent;
    char        name[24];
    sv_pg_rc_t  rc;

    if (res != NULL) {
        *res = NULL;
    }

    if (s->conn == NULL) {
        sv_pg_err_set(e, "no connection");
        return SV_PG_UNAVAILABLE;
    }

    if (p != NULL && p->overflow) {
        sv_pg_err_set(e, "more than %d parameters", SV_PG_PARAMS_MAX);
        return SV_PG_ERROR;
    }

    named = 0;

    if (p != NULL && p->prepared) {
        switch (sv_pg_prepare(pg, s, sql, p, name, &rc, e)) {
        case -1:
            return rc;
        case 0:
            named = 1;
            break;
        default:
            break;
        }
    }

    if (named) {
        sent = PQsendQueryPrepared(s->conn, name, p->n, p->values,
                                   p->lengths, p->formats, binary ? 1 : 0);

    } else {
        sent = PQsendQueryParams(s->conn, sql, p != NULL ? p->n : 0, NULL,
                                 p != NULL ? p->values : NULL,
                                 p != NULL ? p->lengths : NULL,
                                 p != NULL ? p->formats : NULL,
                                 binary ? 1 : 0);
    }

    if (!sent) {
        return sv_pg_send_failed(s, e);
    }

    return sv_pg_answer(pg, s, res, e);
}


/* the schema */

static sv_pg_rc_t
sv_pg_schema_read(sv_pg_t *pg, sv_pg_slot_t *s, int in_txn, long *version,
    sv_pg_err_t *e)
{
    char         *end;
    PGresult     *res;
    sv_pg_rc_t    rc;
    const char   *v;

    *version = 0;

    if (in_txn) {
        /* a failed SELECT would end the transaction: ask first */
        rc = sv_pg_run(pg, s, "SELECT to_regclass('smsverify.meta')"
                       " IS NOT NULL", NULL, 0, &res, e);
        if (rc != SV_PG_OK) {
            return rc;
        }

        v = PQgetvalue(res, 0, 0);
        if (strcmp(v, "t") != 0) {
            PQclear(res);
            return SV_PG_OK;
        }

        PQclear(res);
    }

    rc = sv_pg_run(pg, s, "SELECT value FROM smsverify.meta"
                   " WHERE key = 'schema_version'", NULL, 0, &res, e);
    if (rc != SV_PG_OK) {
        /* no schema, or no meta table in it */
        if (rc == SV_PG_ERROR && !in_txn
            && (sv_pg_state_is(e, "3F000") || sv_pg_state_is(e, "42P01")))
        {
            sv_pg_err_clear(e);
            return SV_PG_OK;
        }
        return rc;
    }

    if (PQntuples(res) == 1) {
        v = PQgetvalue(res, 0, 0);
        errno = 0;
        *version = strtol(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0' || *version < 1) {
            PQclear(res);
            sv_pg_err_set(e, "smsverify.meta holds a schema_version that is"
                          " not a version number");
            return SV_PG_ERROR;
        }
    }

    PQclear(res);

    return SV_PG_OK;
}


static sv_pg_rc_t
sv_pg_schema_newer(long version, sv_pg_err_t *e)
{
    sv_pg_err_set(e, "the database's schema smsverify is version %ld, newer"
                  " than this module's %d: run a newer module against it",
                  version, SV_PG_SCHEMA_VERSION);

    return SV_PG_ERROR;
}


static sv_pg_rc_t
sv_pg_schema_upgrade(sv_pg_t *pg, sv_pg_slot_t *s, sv_pg_err_t *e)
{
    long              version;
    sv_pg_rc_t        rc;
    sv_pg_params_t    p;
    const char *const *stmt;

    rc = sv_pg_run(pg, s, "SELECT pg_advisory_xact_lock(" SV_PG_SCHEMA_LOCK
                   ")", NULL, 0, NULL, e);
    if (rc != SV_PG_OK) {
        return rc;
    }

    /* another node may have done it while we waited for the lock */
    rc = sv_pg_schema_read(pg, s, 1, &version, e);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (version > SV_PG_SCHEMA_VERSION) {
        return sv_pg_schema_newer(version, e);
    }

    if (version == SV_PG_SCHEMA_VERSION) {
        return SV_PG_OK;
    }

    rc = sv_pg_run(pg, s, "CREATE SCHEMA IF NOT EXISTS smsverify", NULL, 0,
                   NULL, e);

    for ( /* void */ ; rc == SV_PG_OK && version < SV_PG_SCHEMA_VERSION;
         version++)
    {
        for (stmt = sv_pg_schema_steps[version];
             rc == SV_PG_OK && *stmt != NULL;
             stmt++)
        {
            rc = sv_pg_run(pg, s, *stmt, NULL, 0, NULL, e);
        }
    }

    if (rc != SV_PG_OK) {
        return rc;
    }

    sv_pg_params_init(&p);
    sv_pg_param_int64(&p, SV_PG_SCHEMA_VERSION);

    return sv_pg_run(pg, s, "INSERT INTO smsverify.meta (key, value)"
                     " VALUES ('schema_version', $1)"
                     " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                     &p, 0, NULL, e);
}


/*
 * On a new connection: one SELECT if the schema is current; otherwise
 * the missing steps in a transaction under the advisory lock.
 */
static sv_pg_rc_t
sv_pg_schema_ensure(sv_pg_t *pg, sv_pg_slot_t *s, sv_pg_err_t *e)
{
    long        version;
    sv_pg_rc_t  rc;

    rc = sv_pg_schema_read(pg, s, 0, &version, e);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (version == SV_PG_SCHEMA_VERSION) {
        return SV_PG_OK;
    }

    if (version > SV_PG_SCHEMA_VERSION) {
        return sv_pg_schema_newer(version, e);
    }

    rc = sv_pg_run(pg, s, "BEGIN", NULL, 0, NULL, e);
    if (rc != SV_PG_OK) {
        return rc;
    }

    rc = sv_pg_schema_upgrade(pg, s, e);
    if (rc == SV_PG_OK) {
        rc = sv_pg_run(pg, s, "COMMIT", NULL, 0, NULL, e);
    }

    /* on failure the caller drops the connection: the server rolls back */
    return rc == SV_PG_RETRY ? SV_PG_UNAVAILABLE : rc;
}


/* connections */

/*
 * Notices (a NOTICE of CREATE ... IF NOT EXISTS, the FATAL of a backend
 * ended while idle) would go to stderr: nothing here writes there.
 */
static void
sv_pg_notice_ignore(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}


/* within reconnect_ms of a failed open: that failure again, at once */
static int
sv_pg_down(sv_pg_t *pg, sv_pg_rc_t *rc, sv_pg_err_t *e)
{
    int      down;
    int64_t  now;

    now = sv_pg_now_ms();

    pthread_mutex_lock(&pg->lock);

    down = now < pg->down_until_ms;
    if (down) {
        *rc = pg->down_rc;
        *e = pg->down_err;
    }

    pthread_mutex_unlock(&pg->lock);

    if (down) {
        sv_pg_err_prefix(e, "not retried yet: ");
    }

    return down;
}


static void
sv_pg_down_set(sv_pg_t *pg, sv_pg_rc_t rc, const sv_pg_err_t *e)
{
    pthread_mutex_lock(&pg->lock);

    pg->down_until_ms = sv_pg_now_ms() + pg->reconnect_ms;
    pg->down_rc = rc;
    pg->down_err = *e;

    pthread_mutex_unlock(&pg->lock);
}


static sv_pg_rc_t
sv_pg_open(sv_pg_t *pg, sv_pg_slot_t *s, sv_pg_err_t *e)
{
    sv_pg_rc_t  rc;

    if (sv_pg_down(pg, &rc, e)) {
        return rc;
    }

    s->nprepared = 0;
    s->conn = PQconnectdbParams(pg->keywords, pg->values, 0);

    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        sv_pg_err_conn(e, "cannot connect to the database: ", s->conn);
        sv_pg_drop(s);
        sv_pg_down_set(pg, SV_PG_UNAVAILABLE, e);
        return SV_PG_UNAVAILABLE;
    }

    PQsetNoticeProcessor(s->conn, sv_pg_notice_ignore, NULL);

    rc = sv_pg_schema_ensure(pg, s, e);
    if (rc != SV_PG_OK) {
        sv_pg_drop(s);
        sv_pg_down_set(pg, rc, e);
        return rc;
    }

    __atomic_add_fetch(&pg->opened, 1, __ATOMIC_RELAXED);

    return SV_PG_OK;
}


static sv_pg_rc_t
sv_pg_slot_ready(sv_pg_t *pg, sv_pg_slot_t **sp, sv_pg_err_t *e)
{
    sv_pg_slot_t  *s;

    s = sv_pg_slot(pg);
    if (s == NULL) {
        sv_pg_err_set(e, "out of memory");
        return SV_PG_ERROR;
    }

    *sp = s;

    if (s->conn != NULL && sv_pg_alive(s->conn)) {
        sv_pg_err_clear(e);
        return SV_PG_OK;
    }

    sv_pg_drop(s);

    return sv_pg_open(pg, s, e);
}


sv_pg_rc_t
sv_pg_connection(sv_pg_t *pg, PGconn **conn, sv_pg_err_t *e)
{
    sv_pg_rc_t     rc;
    sv_pg_slot_t  *s;

    *conn = NULL;

    rc = sv_pg_slot_ready(pg, &s, e);
    if (rc == SV_PG_OK) {
        *conn = s->conn;
    }

    return rc;
}


void
sv_pg_disconnect(sv_pg_t *pg)
{
    sv_pg_slot_t  *s;

    s = pthread_getspecific(pg->key);
    if (s != NULL) {
        sv_pg_drop(s);
    }
}


/* parameters */

void
sv_pg_params_init(sv_pg_params_t *p)
{
    p->n = 0;
    p->overflow = 0;
    p->prepared = 0;
}


void
sv_pg_params_prepared(sv_pg_params_t *p)
{
    p->prepared = 1;
}


static int
sv_pg_param_next(sv_pg_params_t *p)
{
    if (p->n >= SV_PG_PARAMS_MAX) {
        p->overflow = 1;
        return -1;
    }

    return p->n++;
}


void
sv_pg_param_text(sv_pg_params_t *p, const char *s)
{
    int  i;

    i = sv_pg_param_next(p);
    if (i < 0) {
        return;
    }

    p->values[i] = s;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}


void
sv_pg_param_int64(sv_pg_params_t *p, int64_t v)
{
    int  i;

    i = sv_pg_param_next(p);
    if (i < 0) {
        return;
    }

    snprintf(p->num[i], sizeof(p->num[i]), "%" PRId64, v);

    p->values[i] = p->num[i];
    p->lengths[i] = 0;
    p->formats[i] = 0;
}


void
sv_pg_param_bytes(sv_pg_params_t *p, const void *data, size_t len)
{
    int  i;

    i = sv_pg_param_next(p);
    if (i < 0) {
        return;
    }

    if (len > 0x7fffffff) {
        p->overflow = 1;
        return;
    }

    /* libpq wants a non-NULL pointer for a non-NULL value */
    p->values[i] = data != NULL ? data : "";
    p->lengths[i] = (int) len;
    p->formats[i] = 1;
}


/* one statement */

sv_pg_rc_t
sv_pg_exec(sv_pg_t *pg, const char *sql, const sv_pg_params_t *p,
    int binary, PGresult **res, sv_pg_err_t *e)
{
    unsigned       attempt;
    sv_pg_rc_t     rc;
    sv_pg_slot_t  *s;

    if (res != NULL) {
        *res = NULL;
    }

    for (attempt = 1; /* void */ ; attempt++) {
        rc = sv_pg_slot_ready(pg, &s, e);
        if (rc != SV_PG_OK) {
            return rc;
        }

        rc = sv_pg_run(pg, s, sql, p, binary, res, e);
        if (rc != SV_PG_RETRY) {
            return rc;
        }

        if (attempt >= pg->attempts) {
            sv_pg_err_gave_up(e, attempt);
            return SV_PG_ERROR;
        }
    }
}


/* pipelines */

/*
 * Waits until libpq can give the pipeline's next result without blocking,
 * sending what is left of the statements meanwhile (the server answers
 * the first while the last are still on their way: neither side waits
 * for the other to read); -1 past the deadline or lost.
 */
static int
sv_pg_pipe_wait(PGconn *conn, int64_t deadline_ms, int *timed_out)
{
    int            n, flush;
    int64_t        left;
    struct pollfd  pfd;

    *timed_out = 0;

    for ( ;; ) {
        flush = PQflush(conn);
        if (flush < 0) {
            return -1;
        }

        if (!PQisBusy(conn)) {
            return 0;
        }

        left = deadline_ms - sv_pg_now_ms();
        if (left <= 0) {
            *timed_out = 1;
            return -1;
        }

        pfd.fd = PQsocket(conn);
        pfd.events = POLLIN | (flush ? POLLOUT : 0);
        pfd.revents = 0;

        if (pfd.fd < 0) {
            return -1;
        }

        n = poll(&pfd, 1, left > 60000 ? 60000 : (int) left);
        if (n < 0 && errno != EINTR) {
            return -1;
        }

        if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP))
            && !PQconsumeInput(conn))
        {
            return -1;
        }
    }
}


/* a statement of the pipeline, and its sync point if sync; 0, or -1 */
static int
sv_pg_pipe_send(sv_pg_slot_t *s, sv_pg_stmt_t *q, int sync)
{
    int                    sent;
    const sv_pg_params_t  *p;

    p = q->p;

    if (q->name[0] != '\0') {
        sent = PQsendQueryPrepared(s->conn, q->name, p->n, p->values,
                                   p->lengths, p->formats,
                                   q->binary ? 1 : 0);

    } else {
        sent = PQsendQueryParams(s->conn, q->sql, p != NULL ? p->n : 0, NULL,
                                 p != NULL ? p->values : NULL,
                                 p != NULL ? p->lengths : NULL,
                                 p != NULL ? p->formats : NULL,
                                 q->binary ? 1 : 0);
    }

    if (!sent) {
        return -1;
    }

    return !sync || PQpipelineSync(s->conn) ? 0 : -1;
}


/*
 * The statements' names on the slot's connection, prepared now where
 * they were not; those whose parameters overflow fail at once (skip).
 */
static sv_pg_rc_t
sv_pg_pipe_prepare(sv_pg_t *pg, sv_pg_slot_t *s, sv_pg_stmt_t *q, size_t n,
    sv_pg_err_t *e)
{
    size_t      i;
    sv_pg_rc_t  rc;

    for (i = 0; i < n; i++) {
        q[i].name[0] = '\0';
        q[i].skip = 0;

        if (q[i].p != NULL && q[i].p->overflow) {
            q[i].skip = 1;
            q[i].rc = SV_PG_ERROR;
            sv_pg_err_set(&q[i].e, "more than %d parameters",
                          SV_PG_PARAMS_MAX);
            continue;
        }

        if (q[i].p == NULL || !q[i].p->prepared) {
            continue;
        }

        if (sv_pg_prepare(pg, s, q[i].sql, q[i].p, q[i].name, &rc, e) < 0) {
            return rc;
        }
    }

    return SV_PG_OK;
}


/*
 * Reads the answers of the statements sent (up to q + n): each decided at
 * its sync point, or with one, all at the one after the last; 0, or -1
 * if the connection cannot serve on (e says why): the statements not
 * decided then are left UNAVAILABLE.
 */
static int
sv_pg_pipe_read(sv_pg_t *pg, sv_pg_slot_t *s, sv_pg_stmt_t *q, size_t n,
    int one, sv_pg_err_t *e)
{
    int              timed_out, lost, answered;
    size_t           i, j;
    int64_t          deadline;
    PGresult        *r;
    sv_pg_rc_t       rc;
    ExecStatusType   status;

    answered = 0;
    deadline = sv_pg_now_ms() + pg->wait_ms;

    for (i = 0; i < n && q[i].skip; i++) { /* void */ }

    for ( ;; ) {
        if (sv_pg_pipe_wait(s->conn, deadline, &timed_out) != 0) {
            if (timed_out) {
                sv_pg_err_set(e, "no answer from the database within %u ms",
                              pg->wait_ms);
            } else {
                sv_pg_err_conn(e, "connection lost: ", s->conn);
            }
            return -1;
        }

        r = PQgetResult(s->conn);

        if (r == NULL) {
            if (PQstatus(s->conn) == CONNECTION_BAD) {
                sv_pg_err_conn(e, "connection lost: ", s->conn);
                return -1;
            }

            /* one statement's results end; in one transaction, the next */
            if (one && answered) {
                for (i++; i < n && q[i].skip; i++) { /* void */ }
                answered = 0;
            }
            continue;
        }

        /* each answer gives the next one as long again */
        deadline = sv_pg_now_ms() + pg->wait_ms;
        status = PQresultStatus(r);

        if (status == PGRES_PIPELINE_SYNC) {
            PQclear(r);

            if (one) {
                /* committed, or rolled back */
                for (j = 0; j < n; j++) {
                    q[j].decided = 1;
                }
                return 0;
            }

            if (!answered) {
                q[i].rc = SV_PG_ERROR;
                sv_pg_err_set(&q[i].e, "no result");
            }

            q[i].decided = 1;
            answered = 0;

            for (i++; i < n && q[i].skip; i++) { /* void */ }

            if (i == n) {
                return 0;
            }
            continue;
        }

        if (answered || i == n) {
            PQclear(r);
            continue;
        }

        answered = 1;

        if (status == PGRES_PIPELINE_ABORTED) {
            q[i].rc = SV_PG_RETRY;
            sv_pg_err_set(&q[i].e, "not run: a statement before it in its"
                          " transaction failed");
            PQclear(r);
            continue;
        }

        rc = sv_pg_result_rc(s->conn, r, &q[i].e, &lost);
        q[i].rc = rc;

        if (rc == SV_PG_OK) {
            q[i].res = r;
        } else {
            PQclear(r);
        }

        if (lost) {
            *e = q[i].e;
            return -1;
        }
    }
}


/*
 * One transaction whose sync point answered: if a statement failed,
 * nothing of it was applied, and the others are RETRY.
 */
static int
sv_pg_pipe_undone(sv_pg_stmt_t *q, size_t n)
{
    size_t  i;
    int     failed;

    failed = 0;

    for (i = 0; i < n; i++) {
        failed |= !q[i].skip && q[i].rc != SV_PG_OK;
    }

    if (!failed) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!q[i].skip && q[i].rc == SV_PG_OK) {
            PQclear(q[i].res);
            q[i].res = NULL;
            q[i].rc = SV_PG_RETRY;
            sv_pg_err_set(&q[i].e, "rolled back: another statement of its"
                          " transaction failed");
        }
    }

    return 1;
}


static sv_pg_rc_t sv_pg_pipeline_run(sv_pg_t *pg, sv_pg_stmt_t *q, size_t n,
    int one, int more, sv_pg_err_t *e);


/*
 * The slot of a pipeline that goes on with the transaction a pipeline
 * before it left open on this thread's connection: that connection as it
 * is, none opened (a new one would not have the transaction).
 */
static sv_pg_rc_t
sv_pg_slot_in_txn(sv_pg_t *pg, sv_pg_slot_t **sp, sv_pg_err_t *e)
{
    sv_pg_slot_t             *s;
    PGTransactionStatusType   ts;

    s = sv_pg_slot(pg);
    if (s == NULL) {
        sv_pg_err_set(e, "out of memory");
        return SV_PG_ERROR;
    }

    *sp = s;

    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        sv_pg_err_set(e, "connection lost in a transaction");
        return SV_PG_UNAVAILABLE;
    }

    ts = PQtransactionStatus(s->conn);

    if (ts != PQTRANS_INTRANS && ts != PQTRANS_INERROR) {
        sv_pg_err_set(e, "no transaction open on the connection");
        return SV_PG_ERROR;
    }

    sv_pg_err_clear(e);
    return SV_PG_OK;
}


sv_pg_rc_t
sv_pg_pipeline(sv_pg_t *pg, sv_pg_stmt_t *q, size_t n, int one,
    sv_pg_err_t *e)
{
    return sv_pg_pipeline_run(pg, q, n, one, 0, e);
}


sv_pg_rc_t
sv_pg_pipeline_more(sv_pg_t *pg, sv_pg_stmt_t *q, size_t n, sv_pg_err_t *e)
{
    return sv_pg_pipeline_run(pg, q, n, 0, 1, e);
}


static sv_pg_rc_t
sv_pg_pipeline_run(sv_pg_t *pg, sv_pg_stmt_t *q, size_t n, int one,
    int more, sv_pg_err_t *e)
{
    int            failed, undone;
    size_t         i, sent, last;
    sv_pg_rc_t     rc;
    sv_pg_slot_t  *s;

    for (i = 0; i < n; i++) {
        q[i].res = NULL;
        q[i].decided = 0;
        q[i].skip = 0;
        q[i].rc = SV_PG_UNAVAILABLE;
        sv_pg_err_set(&q[i].e, "not sent");
    }

    if (n == 0) {
        sv_pg_err_clear(e);
        return SV_PG_OK;
    }

    rc = more ? sv_pg_slot_in_txn(pg, &s, e) : sv_pg_slot_ready(pg, &s, e);

    if (rc == SV_PG_OK) {
        rc = sv_pg_pipe_prepare(pg, s, q, n, e);
    }

    if (rc == SV_PG_OK
        && (PQsetnonblocking(s->conn, 1) != 0
            || !PQenterPipelineMode(s->conn)))
    {
        rc = sv_pg_send_failed(s, e);
    }

    if (rc != SV_PG_OK) {
        for (i = 0; i < n; i++) {
            if (!q[i].skip) {
                q[i].rc = rc;
                q[i].e = *e;
            }
        }
        return rc;
    }

    __atomic_add_fetch(&pg->trips, 1, __ATOMIC_RELAXED);

    for (last = n; last > 0 && q[last - 1].skip; last--) { /* void */ }

    for (sent = 0; sent < n; sent++) {
        if (!q[sent].skip
            && sv_pg_pipe_send(s, &q[sent], !one || sent + 1 == last) != 0)
        {
            break;
        }
    }

    failed = 0;

    if (sent < n) {
        /* what was sent before is answered; the rest, the connection's */
        sv_pg_err_conn(e, "could not send a statement: ", s->conn);
        failed = 1;
    }

    undone = 0;

    if (last == 0) {
        /* nothing to send: every statement failed at once */

    } else if ((one && failed)
               || sv_pg_pipe_read(pg, s, q, sent, one, e) != 0)
    {
        /* in one transaction, one not sent whole: none committed */
        failed = 1;

    } else {
        undone = one && sv_pg_pipe_undone(q, n);
    }

    if (!failed
        && (!PQexitPipelineMode(s->conn)
            || PQsetnonblocking(s->conn, 0) != 0))
    {
        sv_pg_err_conn(e, "could not leave the pipeline: ", s->conn);
        failed = 1;
    }

    if (!failed) {
        sv_pg_err_clear(e);
        return undone ? SV_PG_ROLLBACK : SV_PG_OK;
    }

    /* an answer without its sync point may or may not have committed */

    for (i = 0; i < n; i++) {
        if (q[i].decided || q[i].skip) {
            continue;
        }

        PQclear(q[i].res);
        q[i].res = NULL;
        q[i].rc = SV_PG_UNAVAILABLE;
        q[i].e = *e;
    }

    sv_pg_drop(s);

    return SV_PG_UNAVAILABLE;
}

/* transactions */

sv_pg_rc_t
sv_pg_txn_exec(sv_pg_txn_t *t, const char *sql, const sv_pg_params_t *p,
    int binary, PGresult **res)
{
    sv_pg_rc_t  rc;

    if (res != NULL) {
        *res = NULL;
    }

    if (t->slot->conn == NULL) {
        /* dropped by an earlier statement of this body */
        return SV_PG_UNAVAILABLE;
    }

    if (t->retry) {
        /* the transaction is aborted: nothing more runs in it */
        return SV_PG_RETRY;
    }

    rc = sv_pg_run(t->slot->pg, t->slot, sql, p, binary, res, t->e);

    if (rc == SV_PG_RETRY) {
        t->retry = 1;
    }

    if (rc == SV_PG_UNAVAILABLE && t->slot->conn == NULL) {
        t->lost = 1;
    }

    return rc;
}


unsigned
sv_pg_txn_attempt(const sv_pg_txn_t *t)
{
    return t->attempt;
}


const sv_pg_err_t *
sv_pg_txn_err(const sv_pg_txn_t *t)
{
    return t->e;
}


/* leaves no transaction open on the connection, or no connection */
static void
sv_pg_rollback(sv_pg_t *pg, sv_pg_slot_t *s)
{
    sv_pg_err_t  ignored;

    if (s->conn == NULL || PQtransactionStatus(s->conn) == PQTRANS_IDLE) {
        return;
    }

    if (sv_pg_run(pg, s, "ROLLBACK", NULL, 0, NULL, &ignored) != SV_PG_OK) {
        sv_pg_drop(s);
    }
}


static sv_pg_rc_t
sv_pg_commit(sv_pg_t *pg, sv_pg_slot_t *s, sv_pg_err_t *e)
{
    PGresult    *res;
    sv_pg_rc_t   rc;

    rc = sv_pg_run(pg, s, "COMMIT", NULL, 0, &res, e);

    if (rc == SV_PG_OK) {
        /* a failed transaction's COMMIT answers ROLLBACK, no error */
        if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
            sv_pg_err_set(e, "the transaction had failed and was rolled"
                          " back");
            rc = SV_PG_ERROR;
        }
        PQclear(res);

    } else if (rc == SV_PG_UNAVAILABLE && s->conn == NULL) {
        sv_pg_err_prefix(e, "commit outcome unknown: ");
    }

    return rc;
}


sv_pg_rc_t
sv_pg_transaction(sv_pg_t *pg, sv_pg_isolation_t level, sv_pg_body_pt body,
    void *arg, sv_pg_err_t *e)
{
    int            reopened;
    unsigned       attempt;
    sv_pg_rc_t     rc;
    sv_pg_txn_t    t;
    sv_pg_slot_t  *s;

    if ((unsigned) level > SV_PG_SERIALIZABLE) {
        sv_pg_err_set(e, "unknown isolation level %d", (int) level);
        return SV_PG_ERROR;
    }

    reopened = 0;
    attempt = 1;

    for ( ;; ) {
        rc = sv_pg_slot_ready(pg, &s, e);
        if (rc != SV_PG_OK) {
            return rc;
        }

        t.slot = s;
        t.e = e;
        t.attempt = attempt;
        t.retry = 0;
        t.lost = 0;

        rc = sv_pg_txn_exec(&t, sv_pg_begin_sql[level], NULL, 0, NULL);
        if (rc == SV_PG_OK) {
            rc = body(&t, arg);
        }

        if (t.retry || rc == SV_PG_RETRY) {
            sv_pg_rollback(pg, s);
            if (attempt >= pg->attempts) {
                sv_pg_err_gave_up(e, attempt);
                return SV_PG_ERROR;
            }
            attempt++;
            continue;
        }

        if (t.lost) {
            if (reopened) {
                return SV_PG_UNAVAILABLE;
            }

            /* nothing was committed: the server rolled it back */
            reopened = 1;
            continue;
        }

        if (rc != SV_PG_OK) {
            sv_pg_rollback(pg, s);
            if (rc == SV_PG_ROLLBACK) {
                sv_pg_err_clear(e);
            }
            return rc;
        }

        rc = sv_pg_commit(pg, s, e);

        if (rc == SV_PG_RETRY) {
            sv_pg_rollback(pg, s);
            if (attempt < pg->attempts) {
                attempt++;
                continue;
            }
            sv_pg_err_gave_up(e, attempt);
            return SV_PG_ERROR;
        }

        return rc;
    }
}


/* result fields */

int
sv_pg_int64(const PGresult *res, int row, int col, int64_t *v)
{
    int            len, i;
    char          *end;
    uint64_t       u;
    const uint8_t *p;
    const char    *s;

    if (row >= PQntuples(res) || col >= PQnfields(res)
        || PQgetisnull(res, row, col))
    {
        return -1;
    }

    len = PQgetlength(res, row, col);
    s = PQgetvalue(res, row, col);

    if (PQfformat(res, col) == 0) {
        errno = 0;
        *v = strtoll(s, &end, 10);
        return (errno != 0 || end == s || *end != '\0') ? -1 : 0;
    }

    if (len != 2 && len != 4 && len != 8) {
        return -1;
    }

    p = (const uint8_t *) s;
    u = 0;
    for (i = 0; i < len; i++) {
        u = (u << 8) | p[i];
    }

    /* sign-extend the network-order integer */
    if (len < 8 && (p[0] & 0x80)) {
        u |= ~(uint64_t) 0 << (len * 8);
    }

    *v = (int64_t) u;

    return 0;
}


static int
sv_pg_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


int
sv_pg_bytes(const PGresult *res, int row, int col, uint8_t *buf,
    size_t *len)
{
    int          hi, lo;
    size_t       n, i;
    const char  *s;

    if (row >= PQntuples(res) || col >= PQnfields(res)
        || PQgetisnull(res, row, col))
    {
        return -1;
    }

    s = PQgetvalue(res, row, col);
    n = (size_t) PQgetlength(res, row, col);

    if (PQfformat(res, col) == 1) {
        if (n > *len) {
            return -1;
        }
        memcpy(buf, s, n);
        *len = n;
        return 0;
    }

    /* text: bytea's hex output, \x then two digits a byte */
    if (n < 2 || s[0] != '\\' || s[1] != 'x' || (n - 2) % 2 != 0
        || (n - 2) / 2 > *len)
    {
        return -1;
    }

    for (i = 0; i < (n - 2) / 2; i++) {
        hi = sv_pg_hex((unsigned char) s[2 + 2 * i]);
        lo = sv_pg_hex((unsigned char) s[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        buf[i] = (uint8_t) (hi << 4 | lo);
    }

    *len = (n - 2) / 2;

    return 0;
}
