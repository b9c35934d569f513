#ifndef SV_PG_H
#define SV_PG_H

/*
 * PostgreSQL connections for the pool threads, over libpq.  A sv_pg_t
 * holds the configuration; each thread that uses it gets a PGconn of its
 * own, opened on its first use in that thread, never shared, closed when
 * the thread exits (or by sv_pg_destroy()).  Before each use the
 * connection is checked (PQstatus, and whether the server hung up while
 * it was idle) and opened anew if it is dead.  After an open failed, no
 * thread tries again for reconnect_ms: until then every call fails at
 * once with that failure, so that an unreachable database (a connect
 * that waits for its timeout) costs requests nothing.  A new connection creates
 * the schema smsverify if it is missing (sv_pg_schema.c) and refuses a
 * schema newer than this code knows.
 *
 * Every statement is sent with PQexecParams semantics: one statement,
 * parameters apart from the SQL, which is never built from input; one
 * whose parameters ask for it is prepared once a connection and run by
 * name (sv_pg_params_prepared()).  Every
 * call waits at most the statement timeout (set on the server) plus a
 * margin, after which the connection is dropped: a hung database costs a
 * thread a bounded time.
 *
 * Nothing here logs; errors come back in sv_pg_err_t, whose text never
 * holds a parameter's value or the connection URI.
 */

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>


typedef struct sv_pg_s  sv_pg_t;
typedef struct sv_pg_txn_s  sv_pg_txn_t;

typedef enum {
    SV_PG_OK = 0,

    /*
     * The database cannot answer now: no connection, the connection was
     * lost, the statement timed out, the server is shutting down or is
     * read-only (a standby).  The store answers 503 STORE_UNAVAILABLE.
     */
    SV_PG_UNAVAILABLE,

    /*
     * A serialization failure (40001) or a deadlock (40P01): inside a
     * transaction body, return it and sv_pg_transaction() runs the body
     * again; it never leaves sv_pg_transaction() or sv_pg_exec().
     */
    SV_PG_RETRY,

    /* a body's answer: roll back, not an error */
    SV_PG_ROLLBACK,

    /* anything else: a bad statement, a constraint, a newer schema */
    SV_PG_ERROR
} sv_pg_rc_t;

typedef enum {
    SV_PG_READ_COMMITTED = 0,
    SV_PG_REPEATABLE_READ,
    SV_PG_SERIALIZABLE
} sv_pg_isolation_t;

typedef struct {
    const char     *uri;                 /* any libpq URI or key=value */
    unsigned        connect_timeout_s;   /* 0: 5; libpq's least is 2 */
    unsigned        statement_timeout_ms;    /* 0: 5000 */
    unsigned        answer_margin_ms;    /* 0: 1000; the client's own ... */
                                         /* ... wait is statement + this */
    unsigned        attempts;            /* 0: 5; runs of a transaction */
    unsigned        reconnect_ms;        /* 0: 1000; after a failed ... */
                                         /* ... open, no thread tries ... */
                                         /* ... again for this long */
} sv_pg_conf_t;

typedef struct {
    char            sqlstate[6];         /* "" if the server sent none */
    char            constraint[64];      /* of a constraint violation */
    char            text[512];
} sv_pg_err_t;

#define SV_PG_PARAMS_MAX  32

/* A statement's parameters; the values are referenced, not copied. */
typedef struct {
    int             n;
    int             overflow;
    int             prepared;            /* sv_pg_params_prepared() */
    const char     *values[SV_PG_PARAMS_MAX];
    int             lengths[SV_PG_PARAMS_MAX];
    int             formats[SV_PG_PARAMS_MAX];
    char            num[SV_PG_PARAMS_MAX][24];
} sv_pg_params_t;

typedef sv_pg_rc_t (*sv_pg_body_pt)(sv_pg_txn_t *t, void *arg);


/*
 * Checks the URI (libpq parses it; nothing is connected) and keeps a copy.
 * ERROR with the reason for a URI libpq refuses or a libpq that is not
 * thread-safe.
 */
sv_pg_rc_t sv_pg_create(sv_pg_t **pg, const sv_pg_conf_t *conf,
    sv_pg_err_t *e);

/* Closes every thread's connection: no thread may be using pg. */
void sv_pg_destroy(sv_pg_t *pg);

/*
 * The calling thread's connection, opened (and the schema checked) if it
 * has none or its connection is dead.  For callers that need libpq
 * itself (pg_backend_pid(), COPY); statements go through sv_pg_exec().
 */
sv_pg_rc_t sv_pg_connection(sv_pg_t *pg, PGconn **conn, sv_pg_err_t *e);

/* Closes the calling thread's connection, if it has one. */
void sv_pg_disconnect(sv_pg_t *pg);

/* Connections opened so far by every thread (successful ones). */
uint64_t sv_pg_opened(sv_pg_t *pg);


void sv_pg_params_init(sv_pg_params_t *p);

/*
 * The statement sent with p is prepared on each connection the first
 * time it runs there, and run by its name from then on: the server
 * plans it once a connection, not every time.  For the statements a
 * program sends again and again (their text is the key: a statement
 * built anew each time would fill the connection's SV_PG_PREPARED_MAX,
 * after which statements run unprepared).
 */
void sv_pg_params_prepared(sv_pg_params_t *p);

#define SV_PG_PREPARED_MAX  128
/* text; NULL is SQL NULL */
void sv_pg_param_text(sv_pg_params_t *p, const char *s);
void sv_pg_param_int64(sv_pg_params_t *p, int64_t v);
/* binary, for a bytea */
void sv_pg_param_bytes(sv_pg_params_t *p, const void *data, size_t len);


/*
 * One statement in its own transaction (run again after a serialization
 * failure or a deadlock, which roll it back).  On OK *res (if res is not
 * NULL) is the result, to PQclear(); in binary if binary is set.
 */
sv_pg_rc_t sv_pg_exec(sv_pg_t *pg, const char *sql, const sv_pg_params_t *p,
    int binary, PGresult **res, sv_pg_err_t *e);

/*
 * One statement of a pipeline: sql, p and binary as for sv_pg_exec(); rc,
 * res (on OK, to PQclear()) and e are its answer.
 */
typedef struct {
    const char             *sql;
    const sv_pg_params_t   *p;
    int                     binary;

    sv_pg_rc_t              rc;          /* out */
    PGresult               *res;         /* out */
    sv_pg_err_t             e;           /* out */

    /* sv_pg's */
    char                    name[24];
    unsigned                skip:1;
    unsigned                decided:1;
} sv_pg_stmt_t;

/*
 * The n statements in one round trip on the calling thread's connection
 * (libpq's pipeline mode): all sent at once, the answers read in order.
 *
 * With one 0, each is followed by a sync point, so that each runs in a
 * transaction of its own, committed at its sync, and one that fails
 * fails alone.  A statement is OK once its sync point answered.  One
 * whose answer or sync did not come (the connection lost, no answer
 * within the statement timeout and margin since the answer before) is
 * UNAVAILABLE, and so is every one after it: its outcome is unknown.  A
 * serialization failure or deadlock is RETRY, rolled back, not run
 * again here.  Returns OK if every statement was answered (each with its
 * own rc), else why the pipeline stopped.
 *
 * With one 1, they are one transaction, committed at one sync point
 * after the last: all OK and committed (OK), or, if one failed, none
 * applied (ROLLBACK: that one has its rc, the others RETRY), or all
 * UNAVAILABLE if the sync point did not answer (the outcome unknown).
 *
 * The statements p asks to be prepared are, first, where they are not
 * yet (a round trip each, once a connection).
 */
sv_pg_rc_t sv_pg_pipeline(sv_pg_t *pg, sv_pg_stmt_t *q, size_t n, int one,
    sv_pg_err_t *e);

/*
 * As sv_pg_pipeline() with one 0, for a pipeline whose statements open a
 * transaction (BEGIN) and leave it open for the next pipeline to go on
 * with: this one goes on with it on the same connection, none opened
 * (UNAVAILABLE if that connection is gone, ERROR if it is not in a
 * transaction).  Between them the thread runs nothing else on pg.
 */
sv_pg_rc_t sv_pg_pipeline_more(sv_pg_t *pg, sv_pg_stmt_t *q, size_t n,
    sv_pg_err_t *e);

/*
 * The round trips made so far by every thread: each answer waited for
 * (a statement, a prepare, a BEGIN or COMMIT), each pipeline one.  Not
 * the connections' opening.
 */
uint64_t sv_pg_round_trips(sv_pg_t *pg);

/*
 * BEGIN at the isolation level, body(t, arg), COMMIT if it returned OK,
 * else ROLLBACK.  A serialization failure or deadlock anywhere (the body's
 * statements or the COMMIT) rolls back and runs the body again, at most
 * conf->attempts times in all, then ERROR; a connection found lost before
 * the COMMIT is reopened and the body run again once.  A body must
 * therefore be one that can run again: its effects are the database's.
 * Returns the body's answer (ROLLBACK, ERROR, UNAVAILABLE), or the
 * COMMIT's; UNAVAILABLE from a lost COMMIT says the outcome is unknown.
 */
sv_pg_rc_t sv_pg_transaction(sv_pg_t *pg, sv_pg_isolation_t level,
    sv_pg_body_pt body, void *arg, sv_pg_err_t *e);

/* A statement of a transaction's body; the rest as sv_pg_exec(). */
sv_pg_rc_t sv_pg_txn_exec(sv_pg_txn_t *t, const char *sql,
    const sv_pg_params_t *p, int binary, PGresult **res);

/* The body's run: 1 the first time. */
unsigned sv_pg_txn_attempt(const sv_pg_txn_t *t);

/* The error of the transaction's last failed statement. */
const sv_pg_err_t *sv_pg_txn_err(const sv_pg_txn_t *t);


/*
 * A field of a result, text or binary: an integer column (int2, int4,
 * int8) and a bytea.  Return 0, or -1 for NULL, a bad value or one that
 * does not fit (bytes: len is the room in, the length out).
 */
int sv_pg_int64(const PGresult *res, int row, int col, int64_t *v);
int sv_pg_bytes(const PGresult *res, int row, int col, uint8_t *buf,
    size_t *len);


/* The schema (sv_pg_schema.c) */

#define SV_PG_SCHEMA_VERSION  3

/* the rows each count of smsverify.counts is spread over (version 2) */
#define SV_PG_SLOTS       16
#define SV_PG_SLOTS_TEXT  "16"

/*
 * sv_email_fold() in SQL, the expression of the unique index on the
 * members' emails: a lookup that uses the index spells it the same.
 */
#define SV_PG_EMAIL_FOLD(col)                                               \
    "translate(" col ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',"                      \
    " 'abcdefghijklmnopqrstuvwxyz')"

/* version i + 1's statements, NULL-terminated, for i < VERSION */
extern const char *const *const  sv_pg_schema_steps[SV_PG_SCHEMA_VERSION];

#endif /* SV_PG_H */
