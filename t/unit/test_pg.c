/*
 * sv_pg against a real PostgreSQL: the one t/pg/pg.sh starts, named by
 * TEST_NGINX_PG_URI (make unit starts it and sets it).  Without it every
 * test is skipped, saying so.  SV_PG_SH, the path of pg.sh, lets the
 * outage test stop and start the server; without it that test is skipped.
 *
 * The tests share the server: they drop and recreate the schema
 * smsverify, and use a table public.sv_test_* of their own.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sv_pg.h"


#define NELTS(a)  (sizeof(a) / sizeof((a)[0]))

#define SCHEMA_THREADS  8
#define SCHEMA_ROUNDS   5

/* the tables of the schema's current version (3: outbox_lease) */
#define SCHEMA_TABLES   13

/* a version this code does not know, and the sentence refusing it */
#define NEWER_TEXT      "4"
#define NEWER_SAYS      "schema smsverify is version 4, newer than this" \
                        " module's 3"

/* sv_pg's pause after a failed open, in these tests */
#define RECONNECT_MS    100


static const char  *uri;


static int64_t
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
sleep_ms(long ms)
{
    struct timespec  ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}


static void
quiet(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}


/*
 * The tests' own connection, apart from sv_pg: one statement, a fresh
 * connection each time (the server may have been restarted meanwhile).
 */
static PGresult *
admin_params(const char *sql, int n, const char *const *values)
{
    PGconn    *conn;
    PGresult  *res;

    conn = PQconnectdb(uri);
    if (PQstatus(conn) != CONNECTION_OK) {
        fail_msg("admin connection: %s", PQerrorMessage(conn));
    }

    PQsetNoticeProcessor(conn, quiet, NULL);

    res = PQexecParams(conn, sql, n, NULL, values, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_COMMAND_OK
        && PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        fail_msg("admin \"%s\": %s", sql, PQerrorMessage(conn));
    }

    PQfinish(conn);

    return res;
}


static void
admin(const char *sql)
{
    PQclear(admin_params(sql, 0, NULL));
}


static long
admin_long(const char *sql, const char *param)
{
    long       v;
    PGresult  *res;

    res = admin_params(sql, param != NULL ? 1 : 0, &param);
    assert_int_equal(PQntuples(res), 1);
    v = PQgetisnull(res, 0, 0) ? -1 : atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    return v;
}


static void
backend_wait_gone(long pid)
{
    int   i;
    char  num[32];

    snprintf(num, sizeof(num), "%ld", pid);

    for (i = 0; i < 200; i++) {
        if (admin_long("SELECT count(*) FROM pg_stat_activity"
                       " WHERE pid = $1::int", num) == 0)
        {
            return;
        }
        sleep_ms(10);
    }

    fail_msg("backend %ld still there after 2 s", pid);
}


/* sv_pg's backends but the admin's own */
static long
our_backends(void)
{
    return admin_long("SELECT count(*) FROM pg_stat_activity"
                      " WHERE application_name = 'smsverify'", NULL);
}


static void
our_backends_wait(long n)
{
    int  i;

    for (i = 0; i < 200 && our_backends() != n; i++) {
        sleep_ms(10);
    }

    assert_int_equal(our_backends(), n);
}


static sv_pg_t *
pg_new(unsigned statement_ms, unsigned margin_ms, unsigned attempts)
{
    sv_pg_t       *pg;
    sv_pg_err_t    e;
    sv_pg_conf_t   conf;

    memset(&conf, 0, sizeof(conf));
    conf.uri = uri;
    conf.connect_timeout_s = 2;
    conf.statement_timeout_ms = statement_ms;
    conf.answer_margin_ms = margin_ms;
    conf.attempts = attempts;
    conf.reconnect_ms = RECONNECT_MS;

    if (sv_pg_create(&pg, &conf, &e) != SV_PG_OK) {
        fail_msg("sv_pg_create: %s", e.text);
    }

    return pg;
}


static long
backend_pid(sv_pg_t *pg)
{
    long          pid;
    PGresult     *res;
    sv_pg_err_t   e;
    sv_pg_rc_t    rc;

    rc = sv_pg_exec(pg, "SELECT pg_backend_pid()", NULL, 0, &res, &e);
    if (rc != SV_PG_OK) {
        fail_msg("pg_backend_pid(): rc %d: %s", rc, e.text);
    }

    pid = atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    return pid;
}


static void
schema_drop(void)
{
    admin("DROP SCHEMA IF EXISTS smsverify CASCADE");
}


/* a URI libpq refuses fails at create, before any connection */

static void
test_bad_uri(void **state)
{
    sv_pg_t       *pg;
    sv_pg_err_t    e;
    sv_pg_conf_t   conf;

    (void) state;

    memset(&conf, 0, sizeof(conf));

    conf.uri = "postgresql://[::1/x";
    assert_int_equal(sv_pg_create(&pg, &conf, &e), SV_PG_ERROR);
    assert_null(pg);
    assert_non_null(strstr(e.text, "invalid connection URI"));

    conf.uri = "postgresql:///x?nosuchoption=1";
    assert_int_equal(sv_pg_create(&pg, &conf, &e), SV_PG_ERROR);
    assert_non_null(strstr(e.text, "nosuchoption"));
}


/* no server there: unavailable, at once, and nothing counted as opened */

static void
test_no_server(void **state)
{
    int64_t        t0;
    sv_pg_t       *pg;
    PGresult      *res;
    sv_pg_err_t    e;
    sv_pg_conf_t   conf;

    (void) state;

    memset(&conf, 0, sizeof(conf));
    conf.uri = "postgresql:///smsverify?host=/nonexistent-sv-pg&port=1";

    assert_int_equal(sv_pg_create(&pg, &conf, &e), SV_PG_OK);

    t0 = now_ms();
    assert_int_equal(sv_pg_exec(pg, "SELECT 1", NULL, 0, &res, &e),
                     SV_PG_UNAVAILABLE);
    assert_true(now_ms() - t0 < 1000);
    assert_null(res);
    assert_non_null(strstr(e.text, "cannot connect to the database"));
    assert_int_equal(sv_pg_opened(pg), 0);

    sv_pg_destroy(pg);
}


/*
 * A server that never answers a connect (a socket whose backlog is never
 * accepted) costs the connect timeout once; until reconnect_ms passed,
 * every thread's call fails at once with that failure.
 */

typedef struct {
    sv_pg_t      *pg;
    int64_t       took;
    sv_pg_rc_t    rc;
    sv_pg_err_t   e;
} down_arg_t;


static void *
down_thread(void *p)
{
    int64_t      t0;
    PGresult    *res;
    down_arg_t  *a = p;

    t0 = now_ms();
    a->rc = sv_pg_exec(a->pg, "SELECT 1", NULL, 0, &res, &a->e);
    a->took = now_ms() - t0;

    return NULL;
}


static void
test_reconnect_pause(void **state)
{
    int                 fd;
    char                dir[] = "/tmp/sv-pg-deaf.XXXXXX", u[256];
    int64_t             t0, took;
    sv_pg_t            *pg;
    PGresult           *res;
    pthread_t           tid;
    down_arg_t          a;
    sv_pg_err_t         e;
    sv_pg_conf_t        conf;
    struct sockaddr_un  sa;

    (void) state;

    assert_non_null(mkdtemp(dir));

    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.5432", dir);
    assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 16), 0);

    snprintf(u, sizeof(u), "postgresql:///x?host=%s&port=5432", dir);

    memset(&conf, 0, sizeof(conf));
    conf.uri = u;
    conf.connect_timeout_s = 2;
    conf.reconnect_ms = 1500;
    assert_int_equal(sv_pg_create(&pg, &conf, &e), SV_PG_OK);

    t0 = now_ms();
    assert_int_equal(sv_pg_exec(pg, "SELECT 1", NULL, 0, &res, &e),
                     SV_PG_UNAVAILABLE);
    took = now_ms() - t0;
    assert_true(took >= 1900 && took < 4000);
    assert_non_null(strstr(e.text, "cannot connect to the database"));
    assert_null(strstr(e.text, "not retried yet"));

    /* this thread and another: at once, the same failure */
    t0 = now_ms();
    assert_int_equal(sv_pg_exec(pg, "SELECT 1", NULL, 0, &res, &e),
                     SV_PG_UNAVAILABLE);
    assert_true(now_ms() - t0 < 100);
    assert_non_null(strstr(e.text, "not retried yet: cannot connect"));

    memset(&a, 0, sizeof(a));
    a.pg = pg;
    assert_int_equal(pthread_create(&tid, NULL, down_thread, &a), 0);
    pthread_join(tid, NULL);
    assert_int_equal(a.rc, SV_PG_UNAVAILABLE);
    assert_true(a.took < 100);
    assert_non_null(strstr(a.e.text, "not retried yet"));

    /* then it is tried again */
    sleep_ms(1600);
    t0 = now_ms();
    assert_int_equal(sv_pg_exec(pg, "SELECT 1", NULL, 0, &res, &e),
                     SV_PG_UNAVAILABLE);
    assert_true(now_ms() - t0 >= 1900);
    assert_null(strstr(e.text, "not retried yet"));

    sv_pg_destroy(pg);
    close(fd);
    unlink(sa.sun_path);
    rmdir(dir);
}


/* the URI's own options are kept; the statement timeout is added */

static void
test_uri_options(void **state)
{
    char           u[1024];
    sv_pg_t       *pg;
    PGresult      *res;
    sv_pg_err_t    e;
    sv_pg_conf_t   conf;

    (void) state;

    snprintf(u, sizeof(u), "%s%capplication_name=sv-test"
             "&options=-c%%20work_mem%%3D7MB", uri,
             strchr(uri, '?') != NULL ? '&' : '?');

    memset(&conf, 0, sizeof(conf));
    conf.uri = u;
    conf.statement_timeout_ms = 1234;
    assert_int_equal(sv_pg_create(&pg, &conf, &e), SV_PG_OK);

    assert_int_equal(sv_pg_exec(pg, "SELECT current_setting('work_mem'),"
                                " current_setting('statement_timeout'),"
                                " current_setting('application_name'),"
                                " current_setting('client_encoding')",
                                NULL, 0, &res, &e), SV_PG_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "7MB");
    assert_string_equal(PQgetvalue(res, 0, 1), "1234ms");
    assert_string_equal(PQgetvalue(res, 0, 2), "sv-test");
    assert_string_equal(PQgetvalue(res, 0, 3), "UTF8");
    PQclear(res);

    sv_pg_destroy(pg);
}


/* one connection per thread, opened on first use, closed at its exit */

typedef struct {
    sv_pg_t            *pg;
    pthread_barrier_t  *barrier;
    long                pid;
    long                pid_again;
} pid_arg_t;


static void *
pid_thread(void *p)
{
    pid_arg_t  *a = p;

    a->pid = backend_pid(a->pg);
    a->pid_again = backend_pid(a->pg);

    /* both threads hold their connection at once */
    pthread_barrier_wait(a->barrier);

    return NULL;
}


static void
test_connection_per_thread(void **state)
{
    long               main_pid;
    sv_pg_t           *pg;
    pthread_t          tid[2];
    pid_arg_t          arg[2];
    pthread_barrier_t  barrier;

    (void) state;

    pg = pg_new(0, 0, 0);
    our_backends_wait(0);

    /* created, nothing connected */
    assert_int_equal(sv_pg_opened(pg), 0);
    assert_int_equal(our_backends(), 0);

    main_pid = backend_pid(pg);
    assert_int_equal(backend_pid(pg), main_pid);
    assert_int_equal(sv_pg_opened(pg), 1);

    assert_int_equal(pthread_barrier_init(&barrier, NULL, 2), 0);

    for (int i = 0; i < 2; i++) {
        arg[i].pg = pg;
        arg[i].barrier = &barrier;
        assert_int_equal(pthread_create(&tid[i], NULL, pid_thread, &arg[i]),
                         0);
    }

    for (int i = 0; i < 2; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(arg[i].pid_again, arg[i].pid);
        assert_int_not_equal(arg[i].pid, main_pid);
    }

    assert_int_not_equal(arg[0].pid, arg[1].pid);
    assert_int_equal(sv_pg_opened(pg), 3);

    /* the threads' exits closed theirs; the main thread keeps its own */
    our_backends_wait(1);
    assert_int_equal(backend_pid(pg), main_pid);

    sv_pg_destroy(pg);
    our_backends_wait(0);

    pthread_barrier_destroy(&barrier);
}


/* a connection the server ended while it was idle is opened anew */

static void
test_reopen_after_terminate(void **state)
{
    long          pid, pid2;
    char          num[32];
    sv_pg_t      *pg;

    (void) state;

    pg = pg_new(0, 0, 0);

    pid = backend_pid(pg);
    snprintf(num, sizeof(num), "%ld", pid);

    assert_int_equal(admin_long("SELECT pg_terminate_backend($1::int)::int",
                                num), 1);
    backend_wait_gone(pid);

    /* not a failed request: the dead connection is found before use */
    pid2 = backend_pid(pg);
    assert_int_not_equal(pid2, pid);
    assert_int_equal(sv_pg_opened(pg), 2);

    sv_pg_destroy(pg);
}


/* prepared statements: once a connection, by their text */

static long
prepared_run(sv_pg_t *pg, const char *sql, long v)
{
    long             r;
    PGresult        *res;
    sv_pg_err_t      e;
    sv_pg_rc_t       rc;
    sv_pg_params_t   p;

    sv_pg_params_init(&p);
    sv_pg_param_int64(&p, v);
    sv_pg_params_prepared(&p);

    rc = sv_pg_exec(pg, sql, &p, 0, &res, &e);
    if (rc != SV_PG_OK) {
        fail_msg("%s: rc %d: %s", sql, rc, e.text);
    }

    r = atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    return r;
}


/* the statements prepared on pg's connection (in this thread) */
static long
prepared_count(sv_pg_t *pg)
{
    long          n;
    PGresult     *res;
    sv_pg_err_t   e;

    assert_int_equal(sv_pg_exec(pg, "SELECT count(*) FROM"
                                " pg_prepared_statements", NULL, 0, &res,
                                &e), SV_PG_OK);
    n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    return n;
}


static void
test_prepared(void **state)
{
    int            i;
    long           pid;
    char           num[32], sql[SV_PG_PREPARED_MAX + 8][64];
    sv_pg_t       *pg;
    sv_pg_err_t    e;
    sv_pg_rc_t     rc;
    PGresult      *res;
    sv_pg_params_t p;

    (void) state;

    pg = pg_new(0, 0, 0);

    for (i = 0; i < 10; i++) {
        assert_int_equal(prepared_run(pg, "SELECT $1::bigint + 1", i), i + 1);
    }

    assert_int_equal(prepared_count(pg), 1);
    assert_int_equal(prepared_run(pg, "SELECT $1::bigint + 2", 1), 3);
    assert_int_equal(prepared_count(pg), 2);

    /* a statement that does not parse is not kept */
    sv_pg_params_init(&p);
    sv_pg_param_int64(&p, 1);
    sv_pg_params_prepared(&p);
    rc = sv_pg_exec(pg, "SELEC $1::bigint", &p, 0, &res, &e);
    assert_int_equal(rc, SV_PG_ERROR);
    assert_string_equal(e.sqlstate, "42601");
    assert_int_equal(prepared_count(pg), 2);
    assert_int_equal(prepared_run(pg, "SELECT $1::bigint + 1", 5), 6);

    /* a new connection prepares them again */
    pid = backend_pid(pg);
    snprintf(num, sizeof(num), "%ld", pid);
    assert_int_equal(admin_long("SELECT pg_terminate_backend($1::int)::int",
                                num), 1);
    backend_wait_gone(pid);

    assert_int_equal(prepared_run(pg, "SELECT $1::bigint + 2", 1), 3);
    assert_int_equal(prepared_count(pg), 1);

    /* past the cache, statements run unprepared, and right */
    for (i = 0; i < SV_PG_PREPARED_MAX + 8; i++) {
        snprintf(sql[i], sizeof(sql[i]), "SELECT $1::bigint + %d", 100 + i);
        assert_int_equal(prepared_run(pg, sql[i], 1), 101 + i);
    }

    assert_int_equal(prepared_count(pg), SV_PG_PREPARED_MAX);

    for (i = 0; i < SV_PG_PREPARED_MAX + 8; i++) {
        assert_int_equal(prepared_run(pg, sql[i], 2), 102 + i);
    }

    sv_pg_destroy(pg);
}


/* a transaction whose connection is lost before COMMIT runs again */

typedef struct {
    int        calls;
    long       pid;
} lost_arg_t;


static sv_pg_rc_t
lost_body(sv_pg_txn_t *t, void *p)
{
    char             num[32];
    PGresult        *res;
    sv_pg_rc_t       rc;
    lost_arg_t      *a = p;

    a->calls++;

    rc = sv_pg_txn_exec(t, "SELECT pg_backend_pid()", NULL, 0, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }

    a->pid = atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    if (a->calls == 1) {
        snprintf(num, sizeof(num), "%ld", a->pid);
        PQclear(admin_params("SELECT pg_terminate_backend($1::int)", 1,
                             (const char *const []) { num }));
        backend_wait_gone(a->pid);
    }

    return sv_pg_txn_exec(t, "INSERT INTO public.sv_test_lost VALUES (1)",
                          NULL, 0, NULL);
}


static void
test_lost_in_transaction(void **state)
{
    long          first;
    sv_pg_t      *pg;
    sv_pg_err_t   e;
    lost_arg_t    a;

    (void) state;

    admin("DROP TABLE IF EXISTS public.sv_test_lost");
    admin("CREATE TABLE public.sv_test_lost (id int PRIMARY KEY)");

    pg = pg_new(0, 0, 0);

    memset(&a, 0, sizeof(a));
    first = backend_pid(pg);

    assert_int_equal(sv_pg_transaction(pg, SV_PG_READ_COMMITTED, lost_body,
                                       &a, &e), SV_PG_OK);
    assert_int_equal(a.calls, 2);
    assert_int_not_equal(a.pid, first);
    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_lost",
                                NULL), 1);

    sv_pg_destroy(pg);
    admin("DROP TABLE public.sv_test_lost");
}


/* the server stopped (an outage), started again: no reload needed */

static void
pg_sh(const char *cmd)
{
    char         line[1024];
    const char  *sh;

    sh = getenv("SV_PG_SH");
    snprintf(line, sizeof(line), "'%s' %s >/dev/null", sh, cmd);

    if (system(line) != 0) {
        fail_msg("%s failed", line);
    }
}


static void
test_outage(void **state)
{
    long          pid, pid2;
    int64_t       t0;
    sv_pg_t      *pg;
    PGresult     *res;
    sv_pg_err_t   e;

    (void) state;

    if (getenv("SV_PG_SH") == NULL) {
        print_message("SV_PG_SH (the path of t/pg/pg.sh) unset:"
                      " no outage test\n");
        skip();
    }

    pg = pg_new(0, 0, 0);
    pid = backend_pid(pg);

    /* pg_ctl stop -m immediate, and back */
    pg_sh("restart");
    pid2 = backend_pid(pg);
    assert_int_not_equal(pid2, pid);

    pg_sh("kill");

    for (int i = 0; i < 3; i++) {
        t0 = now_ms();
        assert_int_equal(sv_pg_exec(pg, "SELECT 1", NULL, 0, &res, &e),
                         SV_PG_UNAVAILABLE);
        assert_true(now_ms() - t0 < 1000);
        assert_non_null(strstr(e.text, "cannot connect"));
    }

    pg_sh("start");
    sleep_ms(RECONNECT_MS + 50);
    assert_true(backend_pid(pg) > 0);
    assert_int_equal(sv_pg_opened(pg), 3);

    sv_pg_destroy(pg);
}


/* a slow statement is cancelled by the server: unavailable, quickly */

static void
test_statement_timeout(void **state)
{
    long          pid;
    int64_t       t0, took;
    sv_pg_t      *pg;
    PGresult     *res;
    sv_pg_err_t   e;

    (void) state;

    pg = pg_new(200, 0, 0);
    pid = backend_pid(pg);

    t0 = now_ms();
    assert_int_equal(sv_pg_exec(pg, "SELECT pg_sleep(5)", NULL, 0, &res, &e),
                     SV_PG_UNAVAILABLE);
    took = now_ms() - t0;

    assert_true(took >= 150 && took < 1000);
    assert_string_equal(e.sqlstate, "57014");
    assert_non_null(strstr(e.text, "statement timeout"));

    /* the connection serves on */
    assert_int_equal(backend_pid(pg), pid);
    assert_int_equal(sv_pg_opened(pg), 1);

    sv_pg_destroy(pg);
}


/* a server that stopped answering costs the timeout and the margin */

static void
test_frozen_backend(void **state)
{
    long          pid;
    int64_t       t0, took;
    sv_pg_t      *pg;
    PGresult     *res;
    sv_pg_err_t   e;

    (void) state;

    pg = pg_new(200, 300, 0);
    pid = backend_pid(pg);

    if (kill((pid_t) pid, SIGSTOP) != 0) {
        print_message("cannot stop the backend (%s): no test\n",
                      strerror(errno));
        sv_pg_destroy(pg);
        skip();
    }

    t0 = now_ms();
    assert_int_equal(sv_pg_exec(pg, "SELECT 1", NULL, 0, &res, &e),
                     SV_PG_UNAVAILABLE);
    took = now_ms() - t0;

    kill((pid_t) pid, SIGCONT);

    assert_true(took >= 450 && took < 1500);
    assert_non_null(strstr(e.text, "no answer from the database within 500"));

    /* dropped: the next use has a new one */
    assert_int_not_equal(backend_pid(pg), pid);
    backend_wait_gone(pid);

    sv_pg_destroy(pg);
}


/* the schema: created once by racing first connections, versioned */

typedef struct {
    sv_pg_t            *pg;
    pthread_barrier_t  *barrier;
    sv_pg_rc_t          rc;
    sv_pg_err_t         e;
} schema_arg_t;


static void *
schema_thread(void *p)
{
    PGresult      *res;
    schema_arg_t  *a = p;

    pthread_barrier_wait(a->barrier);

    a->rc = sv_pg_exec(a->pg, "SELECT count(*) FROM smsverify.members",
                       NULL, 0, &res, &a->e);
    PQclear(res);

    return NULL;
}


static void
test_schema_concurrent(void **state)
{
    sv_pg_t            *pg;
    pthread_t           tid[SCHEMA_THREADS];
    schema_arg_t        arg[SCHEMA_THREADS];
    pthread_barrier_t   barrier;

    (void) state;

    for (int round = 0; round < SCHEMA_ROUNDS; round++) {
        schema_drop();
        pg = pg_new(0, 0, 0);

        assert_int_equal(pthread_barrier_init(&barrier, NULL, SCHEMA_THREADS),
                         0);

        for (int i = 0; i < SCHEMA_THREADS; i++) {
            arg[i].pg = pg;
            arg[i].barrier = &barrier;
            assert_int_equal(pthread_create(&tid[i], NULL, schema_thread,
                                            &arg[i]), 0);
        }

        for (int i = 0; i < SCHEMA_THREADS; i++) {
            pthread_join(tid[i], NULL);
            if (arg[i].rc != SV_PG_OK) {
                fail_msg("round %d, thread %d: rc %d: %s", round, i,
                         arg[i].rc, arg[i].e.text);
            }
        }

        assert_int_equal(sv_pg_opened(pg), SCHEMA_THREADS);
        assert_int_equal(admin_long("SELECT count(*) FROM pg_tables"
                                    " WHERE schemaname = 'smsverify'", NULL),
                         SCHEMA_TABLES);
        assert_int_equal(admin_long("SELECT value::int FROM smsverify.meta"
                                    " WHERE key = 'schema_version'", NULL),
                         SV_PG_SCHEMA_VERSION);
        assert_int_equal(admin_long("SELECT count(*) FROM smsverify.meta",
                                    NULL), 1);

        pthread_barrier_destroy(&barrier);
        sv_pg_destroy(pg);
    }
}


static void
test_schema_newer_refused(void **state)
{
    sv_pg_t      *pg;
    PGresult     *res;
    sv_pg_err_t   e;

    (void) state;

    pg = pg_new(0, 0, 0);
    assert_true(backend_pid(pg) > 0);
    sv_pg_destroy(pg);

    admin("UPDATE smsverify.meta SET value = '" NEWER_TEXT "'"
          " WHERE key = 'schema_version'");

    pg = pg_new(0, 0, 0);

    for (int i = 0; i < 2; i++) {
        assert_int_equal(sv_pg_exec(pg, "SELECT 1", NULL, 0, &res, &e),
                         SV_PG_ERROR);
        assert_non_null(strstr(e.text, NEWER_SAYS));
        assert_int_equal(sv_pg_opened(pg), 0);
    }

    /* nothing was changed, and a known version works at once */
    assert_int_equal(admin_long("SELECT value::int FROM smsverify.meta"
                                " WHERE key = 'schema_version'", NULL), 4);

    admin("UPDATE smsverify.meta SET value = '3'"
          " WHERE key = 'schema_version'");
    sleep_ms(RECONNECT_MS + 50);
    assert_true(backend_pid(pg) > 0);

    sv_pg_destroy(pg);
}


/* the members' uniqueness is the database's, folded as sv_email_fold() */

static sv_pg_rc_t
member_insert(sv_pg_t *pg, const char *email, const char *phone,
    sv_pg_err_t *e)
{
    sv_pg_params_t  p;

    sv_pg_params_init(&p);
    sv_pg_param_text(&p, email);
    sv_pg_param_text(&p, phone);

    return sv_pg_exec(pg, "INSERT INTO smsverify.members"
                      " (email, phone, nickname, password_hash)"
                      " VALUES ($1, $2, 'n', 'h')", &p, 0, NULL, e);
}


static void
test_schema_members(void **state)
{
    sv_pg_t         *pg;
    PGresult        *res;
    sv_pg_err_t      e;
    sv_pg_params_t   p;

    (void) state;

    schema_drop();
    pg = pg_new(0, 0, 0);

    assert_int_equal(member_insert(pg, "Kim@Example.com", "+821011112222",
                                   &e), SV_PG_OK);

    assert_int_equal(member_insert(pg, "kim@EXAMPLE.COM", "+821033334444",
                                   &e), SV_PG_ERROR);
    assert_string_equal(e.sqlstate, "23505");
    assert_string_equal(e.constraint, "members_email_key");
    /* the detail, which quotes the row, is not in the text */
    assert_null(strstr(e.text, "kim@"));

    assert_int_equal(member_insert(pg, "lee@example.com", "+821011112222",
                                   &e), SV_PG_ERROR);
    assert_string_equal(e.constraint, "members_phone_key");

    /* only ASCII letters fold, as in sv_email_fold() */
    assert_int_equal(member_insert(pg, "\xc3\x89t\xc3\xa9@example.com",
                                   "+821055556666", &e), SV_PG_OK);
    assert_int_equal(member_insert(pg, "\xc3\xa9t\xc3\xa9@example.com",
                                   "+821077778888", &e), SV_PG_OK);

    /* a lookup spelled as the index is uses it */
    sv_pg_params_init(&p);
    sv_pg_param_text(&p, "kim@example.com");
    assert_int_equal(sv_pg_exec(pg, "SELECT id FROM smsverify.members WHERE "
                                SV_PG_EMAIL_FOLD("email") " = $1", &p, 0,
                                &res, &e), SV_PG_OK);
    assert_int_equal(PQntuples(res), 1);
    PQclear(res);

    /* ids from the identity; terms go with their member */
    admin("INSERT INTO smsverify.member_terms (member_id, terms_id)"
          " SELECT id, 1 FROM smsverify.members");
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.member_terms",
                                NULL), 3);
    admin("DELETE FROM smsverify.members WHERE phone = '+821011112222'");
    assert_int_equal(admin_long("SELECT count(*) FROM smsverify.member_terms",
                                NULL), 2);
    /* a refused insert used an id up: ids are never reused */
    assert_int_equal(admin_long("SELECT max(id) FROM smsverify.members",
                                NULL), 5);

    sv_pg_destroy(pg);
    schema_drop();
}


/* transactions: retried on a real serialization failure */

typedef struct {
    int        calls;
} count_arg_t;


static sv_pg_rc_t
serialize_body(sv_pg_txn_t *t, void *p)
{
    PGresult     *res;
    sv_pg_rc_t    rc;
    count_arg_t  *a = p;

    a->calls++;
    assert_int_equal(sv_pg_txn_attempt(t), (unsigned) a->calls);

    /* the snapshot of this REPEATABLE READ transaction */
    rc = sv_pg_txn_exec(t, "SELECT n FROM public.sv_test_counter"
                        " WHERE id = 1", NULL, 0, &res);
    if (rc != SV_PG_OK) {
        return rc;
    }
    PQclear(res);

    if (a->calls == 1) {
        /* another transaction changes the row and commits */
        admin("UPDATE public.sv_test_counter SET n = n + 100 WHERE id = 1");
    }

    return sv_pg_txn_exec(t, "UPDATE public.sv_test_counter SET n = n + 1"
                          " WHERE id = 1", NULL, 0, NULL);
}


static void
test_retry_serialization(void **state)
{
    sv_pg_t      *pg;
    sv_pg_err_t   e;
    count_arg_t   a;

    (void) state;

    admin("DROP TABLE IF EXISTS public.sv_test_counter");
    admin("CREATE TABLE public.sv_test_counter (id int PRIMARY KEY, n int)");
    admin("INSERT INTO public.sv_test_counter VALUES (1, 0)");

    pg = pg_new(0, 0, 3);
    a.calls = 0;

    assert_int_equal(sv_pg_transaction(pg, SV_PG_REPEATABLE_READ,
                                       serialize_body, &a, &e), SV_PG_OK);
    assert_int_equal(a.calls, 2);
    assert_int_equal(admin_long("SELECT n FROM public.sv_test_counter", NULL),
                     101);

    sv_pg_destroy(pg);
    admin("DROP TABLE public.sv_test_counter");
}


/* ... a bounded number of times */

#define RAISE_40001  "DO $$BEGIN RAISE EXCEPTION 'forced'" \
                     " USING ERRCODE = '40001'; END$$"
#define RAISE_40P01  "DO $$BEGIN RAISE EXCEPTION 'forced'" \
                     " USING ERRCODE = '40P01'; END$$"


static sv_pg_rc_t
always_fails_body(sv_pg_txn_t *t, void *p)
{
    count_arg_t  *a = p;

    a->calls++;

    return sv_pg_txn_exec(t, (a->calls % 2) ? RAISE_40001 : RAISE_40P01,
                          NULL, 0, NULL);
}


static sv_pg_rc_t
swallows_body(sv_pg_txn_t *t, void *p)
{
    count_arg_t  *a = p;

    a->calls++;

    /* the body ignores the retry answer: the runner does not */
    (void) sv_pg_txn_exec(t, RAISE_40001, NULL, 0, NULL);

    return SV_PG_OK;
}


static void
test_retry_bounded(void **state)
{
    sv_pg_t      *pg;
    PGresult     *res;
    sv_pg_err_t   e;
    count_arg_t   a;

    (void) state;

    pg = pg_new(0, 0, 3);

    a.calls = 0;
    assert_int_equal(sv_pg_transaction(pg, SV_PG_SERIALIZABLE,
                                       always_fails_body, &a, &e),
                     SV_PG_ERROR);
    assert_int_equal(a.calls, 3);
    assert_non_null(strstr(e.text, "gave up after 3 attempts"));

    a.calls = 0;
    assert_int_equal(sv_pg_transaction(pg, SV_PG_READ_COMMITTED,
                                       swallows_body, &a, &e), SV_PG_ERROR);
    assert_int_equal(a.calls, 3);

    /* a lone statement is its own transaction, retried as well */
    assert_int_equal(sv_pg_exec(pg, RAISE_40P01, NULL, 0, &res, &e),
                     SV_PG_ERROR);
    assert_string_equal(e.sqlstate, "40P01");
    assert_non_null(strstr(e.text, "gave up after 3 attempts"));

    /* and the connection is whole afterwards */
    assert_true(backend_pid(pg) > 0);
    assert_int_equal(sv_pg_opened(pg), 1);

    sv_pg_destroy(pg);
}


/* a body's answer: commit on OK, roll back otherwise */

static sv_pg_rc_t
insert_body(sv_pg_txn_t *t, void *p)
{
    sv_pg_rc_t   rc;
    sv_pg_rc_t  *answer = p;

    rc = sv_pg_txn_exec(t, "INSERT INTO public.sv_test_rows VALUES (1)",
                        NULL, 0, NULL);
    if (rc != SV_PG_OK) {
        return rc;
    }

    if (*answer == SV_PG_ERROR) {
        /* a unique violation */
        return sv_pg_txn_exec(t, "INSERT INTO public.sv_test_rows"
                              " VALUES (1)", NULL, 0, NULL);
    }

    return *answer;
}


static sv_pg_rc_t
swallow_error_body(sv_pg_txn_t *t, void *p)
{
    (void) p;

    (void) sv_pg_txn_exec(t, "INSERT INTO public.sv_test_rows VALUES (1)",
                          NULL, 0, NULL);
    (void) sv_pg_txn_exec(t, "INSERT INTO public.sv_test_rows VALUES (1)",
                          NULL, 0, NULL);

    return SV_PG_OK;
}


static void
test_transaction_answers(void **state)
{
    PGconn       *conn;
    sv_pg_t      *pg;
    sv_pg_err_t   e;
    sv_pg_rc_t    answer;

    (void) state;

    admin("DROP TABLE IF EXISTS public.sv_test_rows");
    admin("CREATE TABLE public.sv_test_rows (id int PRIMARY KEY)");

    pg = pg_new(0, 0, 0);

    answer = SV_PG_ROLLBACK;
    assert_int_equal(sv_pg_transaction(pg, SV_PG_READ_COMMITTED, insert_body,
                                       &answer, &e), SV_PG_ROLLBACK);
    assert_string_equal(e.text, "");
    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_rows",
                                NULL), 0);

    answer = SV_PG_ERROR;
    assert_int_equal(sv_pg_transaction(pg, SV_PG_READ_COMMITTED, insert_body,
                                       &answer, &e), SV_PG_ERROR);
    assert_string_equal(e.sqlstate, "23505");
    assert_string_equal(e.constraint, "sv_test_rows_pkey");
    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_rows",
                                NULL), 0);

    assert_int_equal(sv_pg_transaction(pg, SV_PG_READ_COMMITTED,
                                       swallow_error_body, NULL, &e),
                     SV_PG_ERROR);
    assert_non_null(strstr(e.text, "had failed and was rolled back"));
    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_rows",
                                NULL), 0);

    /* no transaction is left open on the thread's connection */
    assert_int_equal(sv_pg_connection(pg, &conn, &e), SV_PG_OK);
    assert_int_equal(PQtransactionStatus(conn), PQTRANS_IDLE);

    answer = SV_PG_OK;
    assert_int_equal(sv_pg_transaction(pg, SV_PG_SERIALIZABLE, insert_body,
                                       &answer, &e), SV_PG_OK);
    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_rows",
                                NULL), 1);
    assert_int_equal(sv_pg_opened(pg), 1);

    sv_pg_destroy(pg);
    admin("DROP TABLE public.sv_test_rows");
}


/* parameters: never part of the SQL, whatever they hold */

static void
test_params_text(void **state)
{
    size_t           i;
    char            *longstr;
    sv_pg_t         *pg;
    PGresult        *res;
    sv_pg_err_t      e;
    sv_pg_params_t   p;

    static const char  *odd[] = {
        "",
        "'",
        "''",
        "\"",
        "\\",
        "\\'",
        "'; DROP TABLE smsverify.members; --",
        "$1",
        "$$ $q$ E'\\x41'",
        "%s %n %%",
        "\x01\x02\x1f\x7f",
        "tab\there\nnewline\r",
        "\xed\x95\x9c\xea\xb8\x80 \xf0\x9f\x98\x80",
        "Robert'); DROP TABLE Students;--",
    };

    (void) state;

    pg = pg_new(0, 0, 0);

    for (i = 0; i < NELTS(odd); i++) {
        sv_pg_params_init(&p);
        sv_pg_param_text(&p, odd[i]);
        sv_pg_param_text(&p, odd[i]);

        assert_int_equal(sv_pg_exec(pg, "SELECT $1::text, length($2::text)",
                                    &p, 0, &res, &e), SV_PG_OK);
        assert_string_equal(PQgetvalue(res, 0, 0), odd[i]);
        assert_int_equal(PQgetlength(res, 0, 0), (int) strlen(odd[i]));
        PQclear(res);
    }

    longstr = malloc(100001);
    assert_non_null(longstr);
    for (i = 0; i < 100000; i++) {
        longstr[i] = "a'\"\\"[i % 4];
    }
    longstr[100000] = '\0';

    sv_pg_params_init(&p);
    sv_pg_param_text(&p, longstr);
    assert_int_equal(sv_pg_exec(pg, "SELECT $1::text", &p, 0, &res, &e),
                     SV_PG_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), longstr);
    PQclear(res);
    free(longstr);

    /* NULL is SQL NULL */
    sv_pg_params_init(&p);
    sv_pg_param_text(&p, NULL);
    assert_int_equal(sv_pg_exec(pg, "SELECT $1::text IS NULL", &p, 0, &res,
                                &e), SV_PG_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "t");
    PQclear(res);

    /* and a bad one is the server's error, with its SQLSTATE */
    sv_pg_params_init(&p);
    sv_pg_param_text(&p, "12x");
    assert_int_equal(sv_pg_exec(pg, "SELECT $1::bigint", &p, 0, &res, &e),
                     SV_PG_ERROR);
    assert_null(res);
    assert_string_equal(e.sqlstate, "22P02");

    sv_pg_destroy(pg);
}


static void
test_params_numbers_bytes(void **state)
{
    size_t           i, len;
    int64_t          v;
    uint8_t          all[256], out[300];
    sv_pg_t         *pg;
    PGresult        *res;
    sv_pg_err_t      e;
    sv_pg_params_t   p;

    static const int64_t  nums[] = {
        0, 1, -1, 255, -256, 65536, INT32_MAX, INT32_MIN,
        1700000000000LL, INT64_MAX, INT64_MIN
    };

    (void) state;

    pg = pg_new(0, 0, 0);

    for (int binary = 0; binary < 2; binary++) {
        for (i = 0; i < NELTS(nums); i++) {
            sv_pg_params_init(&p);
            sv_pg_param_int64(&p, nums[i]);
            assert_int_equal(sv_pg_exec(pg, "SELECT $1::bigint", &p, binary,
                                        &res, &e), SV_PG_OK);
            assert_int_equal(sv_pg_int64(res, 0, 0, &v), 0);
            assert_true(v == nums[i]);
            PQclear(res);
        }

        /* narrower integers keep their sign */
        assert_int_equal(sv_pg_exec(pg, "SELECT (-5)::int2, (-70000)::int4,"
                                    " NULL::int8, 7::int4", NULL, binary,
                                    &res, &e), SV_PG_OK);
        assert_int_equal(sv_pg_int64(res, 0, 0, &v), 0);
        assert_true(v == -5);
        assert_int_equal(sv_pg_int64(res, 0, 1, &v), 0);
        assert_true(v == -70000);
        assert_int_equal(sv_pg_int64(res, 0, 2, &v), -1);
        assert_int_equal(sv_pg_int64(res, 0, 3, &v), 0);
        assert_true(v == 7);
        assert_int_equal(sv_pg_int64(res, 1, 0, &v), -1);
        PQclear(res);

        /* every byte value, NUL among them, as a bytea */
        for (i = 0; i < sizeof(all); i++) {
            all[i] = (uint8_t) i;
        }

        sv_pg_params_init(&p);
        sv_pg_param_bytes(&p, all, sizeof(all));
        assert_int_equal(sv_pg_exec(pg, "SELECT $1::bytea, length($1)",
                                    &p, binary, &res, &e), SV_PG_OK);

        len = sizeof(out);
        assert_int_equal(sv_pg_bytes(res, 0, 0, out, &len), 0);
        assert_int_equal(len, sizeof(all));
        assert_memory_equal(out, all, sizeof(all));
        assert_int_equal(sv_pg_int64(res, 0, 1, &v), 0);
        assert_true(v == 256);

        /* no room: refused, nothing claimed */
        len = 10;
        assert_int_equal(sv_pg_bytes(res, 0, 0, out, &len), -1);
        PQclear(res);

        sv_pg_params_init(&p);
        sv_pg_param_bytes(&p, NULL, 0);
        assert_int_equal(sv_pg_exec(pg, "SELECT length($1::bytea)", &p,
                                    binary, &res, &e), SV_PG_OK);
        assert_int_equal(sv_pg_int64(res, 0, 0, &v), 0);
        assert_true(v == 0);
        PQclear(res);
    }

    /* past SV_PG_PARAMS_MAX: refused before anything is sent */
    sv_pg_params_init(&p);
    for (i = 0; i <= SV_PG_PARAMS_MAX; i++) {
        sv_pg_param_int64(&p, (int64_t) i);
    }
    assert_int_equal(sv_pg_exec(pg, "SELECT 1", &p, 0, &res, &e),
                     SV_PG_ERROR);
    assert_non_null(strstr(e.text, "more than 32 parameters"));

    sv_pg_destroy(pg);
}


static void
test_skipped(void **state)
{
    (void) state;

    skip();
}


/*
 * A pipeline: every statement answers for itself, in order, in one
 * round trip: those that fail (an error, a constraint, too many
 * parameters) fail alone, the others commit.
 */
static void
test_pipeline_each_alone(void **state)
{
    int              i;
    sv_pg_t         *pg;
    uint64_t         t;
    sv_pg_err_t      e;
    sv_pg_stmt_t     q[7];
    sv_pg_params_t   p[7];

    (void) state;

    admin("DROP TABLE IF EXISTS public.sv_test_pipe");
    admin("CREATE TABLE public.sv_test_pipe (id int PRIMARY KEY)");

    pg = pg_new(0, 0, 0);
    (void) backend_pid(pg);             /* connected: the schema checked */

    for (i = 0; i < 2; i++) {
        memset(q, 0, sizeof(q));

        sv_pg_params_init(&p[0]);
        sv_pg_param_int64(&p[0], 10 * i + 1);
        sv_pg_params_prepared(&p[0]);
        q[0].sql = "INSERT INTO public.sv_test_pipe VALUES ($1::int)";
        q[0].p = &p[0];

        q[1].sql = "SELECT 1 / 0";

        sv_pg_params_init(&p[2]);
        sv_pg_param_int64(&p[2], 10 * i + 2);
        sv_pg_params_prepared(&p[2]);
        q[2].sql = q[0].sql;
        q[2].p = &p[2];

        sv_pg_params_init(&p[3]);
        sv_pg_param_int64(&p[3], 10 * i + 1);
        q[3].sql = q[0].sql;
        q[3].p = &p[3];

        sv_pg_params_init(&p[4]);
        while (!p[4].overflow) {
            sv_pg_param_int64(&p[4], 1);
        }
        q[4].sql = "SELECT 1";
        q[4].p = &p[4];

        sv_pg_params_init(&p[5]);
        sv_pg_param_int64(&p[5], 41);
        sv_pg_params_prepared(&p[5]);
        q[5].sql = "SELECT $1::bigint + 1";
        q[5].p = &p[5];

        q[6].sql = "SELECT count(*) FROM public.sv_test_pipe";

        t = sv_pg_round_trips(pg);
        assert_int_equal(sv_pg_pipeline(pg, q, 7, 0, &e), SV_PG_OK);

        /* the first time, each of the two prepared texts is prepared */
        assert_int_equal(sv_pg_round_trips(pg) - t, i == 0 ? 3 : 1);

        assert_int_equal(q[0].rc, SV_PG_OK);
        assert_int_equal(q[1].rc, SV_PG_ERROR);
        assert_string_equal(q[1].e.sqlstate, "22012");
        assert_null(q[1].res);
        assert_int_equal(q[2].rc, SV_PG_OK);
        assert_int_equal(q[3].rc, SV_PG_ERROR);
        assert_string_equal(q[3].e.sqlstate, "23505");
        assert_string_equal(q[3].e.constraint, "sv_test_pipe_pkey");
        assert_int_equal(q[4].rc, SV_PG_ERROR);
        assert_non_null(strstr(q[4].e.text, "parameters"));
        assert_int_equal(q[5].rc, SV_PG_OK);
        assert_string_equal(PQgetvalue(q[5].res, 0, 0), "42");
        assert_int_equal(q[6].rc, SV_PG_OK);
        assert_string_equal(PQgetvalue(q[6].res, 0, 0), i == 0 ? "2" : "4");

        PQclear(q[0].res);
        PQclear(q[2].res);
        PQclear(q[5].res);
        PQclear(q[6].res);
    }

    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_pipe",
                                NULL), 4);

    /* and the connection serves on, out of the pipeline */
    assert_int_equal(prepared_run(pg, "SELECT $1::bigint + 1", 1), 2);
    assert_int_equal(sv_pg_opened(pg), 1);

    sv_pg_destroy(pg);
    admin("DROP TABLE public.sv_test_pipe");
}


/*
 * More than the sockets hold both ways (8 KiB in and out, each of 4000
 * statements): sending and reading interleave, nobody waits for ever.
 */
static void
test_pipeline_large(void **state)
{
    int              i;
    char            *big;
    sv_pg_t         *pg;
    uint64_t         t;
    sv_pg_err_t      e;
    sv_pg_stmt_t    *q;
    sv_pg_params_t  *p;

    (void) state;

    enum { N = 4000, SIZE = 8192 };

    big = malloc(SIZE + 1);
    q = calloc(N, sizeof(sv_pg_stmt_t));
    p = calloc(N, sizeof(sv_pg_params_t));
    assert_true(big != NULL && q != NULL && p != NULL);

    memset(big, 'x', SIZE);
    big[SIZE] = '\0';

    pg = pg_new(0, 0, 0);
    (void) backend_pid(pg);

    for (i = 0; i < N; i++) {
        sv_pg_params_init(&p[i]);
        sv_pg_param_text(&p[i], big);
        sv_pg_param_int64(&p[i], i);
        sv_pg_params_prepared(&p[i]);
        q[i].sql = "SELECT $1::text, $2::bigint";
        q[i].p = &p[i];
    }

    t = sv_pg_round_trips(pg);
    assert_int_equal(sv_pg_pipeline(pg, q, N, 0, &e), SV_PG_OK);
    assert_int_equal(sv_pg_round_trips(pg) - t, 2);       /* + prepare */

    for (i = 0; i < N; i++) {
        assert_int_equal(q[i].rc, SV_PG_OK);
        assert_int_equal(PQgetlength(q[i].res, 0, 0), SIZE);
        assert_int_equal(atol(PQgetvalue(q[i].res, 0, 1)), i);
        PQclear(q[i].res);
    }

    sv_pg_destroy(pg);
    free(p);
    free(q);
    free(big);
}


/*
 * The connection lost in a pipeline: the statements answered before
 * stand, the one running and those after are UNAVAILABLE; the next use
 * opens a new connection.
 */

typedef struct {
    long     pid;
} pipe_kill_t;


static void *
pipe_kill(void *p)
{
    char          num[32];
    pipe_kill_t  *k = p;

    sleep_ms(300);
    snprintf(num, sizeof(num), "%ld", k->pid);
    (void) admin_long("SELECT pg_terminate_backend($1::int)::int", num);

    return NULL;
}


static void
test_pipeline_lost(void **state)
{
    int            i;
    sv_pg_t       *pg;
    pthread_t      tid;
    sv_pg_err_t    e;
    pipe_kill_t    k;
    sv_pg_stmt_t   q[4];

    (void) state;

    admin("DROP TABLE IF EXISTS public.sv_test_pipe");
    admin("CREATE TABLE public.sv_test_pipe (id int PRIMARY KEY)");

    pg = pg_new(0, 0, 0);
    k.pid = backend_pid(pg);

    memset(q, 0, sizeof(q));
    q[0].sql = "INSERT INTO public.sv_test_pipe VALUES (1)";
    q[1].sql = "SELECT pg_sleep(3)";
    q[2].sql = "INSERT INTO public.sv_test_pipe VALUES (2)";
    q[3].sql = "SELECT 1";

    assert_int_equal(pthread_create(&tid, NULL, pipe_kill, &k), 0);
    assert_int_equal(sv_pg_pipeline(pg, q, 4, 0, &e), SV_PG_UNAVAILABLE);
    assert_int_equal(pthread_join(tid, NULL), 0);

    assert_int_equal(q[0].rc, SV_PG_OK);
    PQclear(q[0].res);

    for (i = 1; i < 4; i++) {
        assert_int_equal(q[i].rc, SV_PG_UNAVAILABLE);
        assert_null(q[i].res);
        assert_true(q[i].e.text[0] != '\0');
    }

    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_pipe",
                                NULL), 1);

    assert_true(backend_pid(pg) != k.pid);
    assert_int_equal(sv_pg_opened(pg), 2);

    sv_pg_destroy(pg);
    admin("DROP TABLE public.sv_test_pipe");
}


/*
 * A pipeline as one transaction: all committed at its one sync point in
 * one round trip, or, if one statement fails, none (ROLLBACK: that one
 * says why, the others RETRY); lost before its sync point, all
 * UNAVAILABLE and nothing committed.
 */
static void
test_pipeline_one_transaction(void **state)
{
    int            i;
    sv_pg_t       *pg;
    uint64_t       t;
    pthread_t      tid;
    sv_pg_err_t    e;
    pipe_kill_t    k;
    sv_pg_stmt_t   q[4];

    (void) state;

    admin("DROP TABLE IF EXISTS public.sv_test_pipe");
    admin("CREATE TABLE public.sv_test_pipe (id int PRIMARY KEY)");

    pg = pg_new(0, 0, 0);
    k.pid = backend_pid(pg);

    memset(q, 0, sizeof(q));
    q[0].sql = "INSERT INTO public.sv_test_pipe VALUES (1)";
    q[1].sql = "INSERT INTO public.sv_test_pipe VALUES (2)";
    q[2].sql = "SELECT count(*) FROM public.sv_test_pipe";

    t = sv_pg_round_trips(pg);
    assert_int_equal(sv_pg_pipeline(pg, q, 3, 1, &e), SV_PG_OK);
    assert_int_equal(sv_pg_round_trips(pg) - t, 1);

    for (i = 0; i < 3; i++) {
        assert_int_equal(q[i].rc, SV_PG_OK);
    }

    /* it sees its own statements' writes */
    assert_string_equal(PQgetvalue(q[2].res, 0, 0), "2");

    for (i = 0; i < 3; i++) {
        PQclear(q[i].res);
    }

    memset(q, 0, sizeof(q));
    q[0].sql = "INSERT INTO public.sv_test_pipe VALUES (3)";
    q[1].sql = "INSERT INTO public.sv_test_pipe VALUES (1)";
    q[2].sql = "INSERT INTO public.sv_test_pipe VALUES (4)";
    q[3].sql = "SELECT 1";

    assert_int_equal(sv_pg_pipeline(pg, q, 4, 1, &e), SV_PG_ROLLBACK);
    assert_int_equal(q[0].rc, SV_PG_RETRY);
    assert_null(q[0].res);
    assert_int_equal(q[1].rc, SV_PG_ERROR);
    assert_string_equal(q[1].e.sqlstate, "23505");
    assert_int_equal(q[2].rc, SV_PG_RETRY);
    assert_int_equal(q[3].rc, SV_PG_RETRY);
    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_pipe",
                                NULL), 2);

    /* each alone then: the failure is that one's */
    assert_int_equal(sv_pg_pipeline(pg, q, 4, 0, &e), SV_PG_OK);
    assert_int_equal(q[0].rc, SV_PG_OK);
    assert_int_equal(q[1].rc, SV_PG_ERROR);
    assert_int_equal(q[2].rc, SV_PG_OK);
    assert_int_equal(q[3].rc, SV_PG_OK);
    PQclear(q[0].res);
    PQclear(q[2].res);
    PQclear(q[3].res);
    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_pipe",
                                NULL), 4);

    /* lost before its sync point: nothing of it */
    k.pid = backend_pid(pg);

    memset(q, 0, sizeof(q));
    q[0].sql = "INSERT INTO public.sv_test_pipe VALUES (5)";
    q[1].sql = "SELECT pg_sleep(3)";
    q[2].sql = "INSERT INTO public.sv_test_pipe VALUES (6)";

    assert_int_equal(pthread_create(&tid, NULL, pipe_kill, &k), 0);
    assert_int_equal(sv_pg_pipeline(pg, q, 3, 1, &e), SV_PG_UNAVAILABLE);
    assert_int_equal(pthread_join(tid, NULL), 0);

    for (i = 0; i < 3; i++) {
        assert_int_equal(q[i].rc, SV_PG_UNAVAILABLE);
        assert_null(q[i].res);
    }

    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_pipe",
                                NULL), 4);

    sv_pg_destroy(pg);
    admin("DROP TABLE public.sv_test_pipe");
}


/*
 * A transaction over two pipelines: the first leaves it open (BEGIN, an
 * insert), the second goes on with it on the same connection (an insert
 * seen by the transaction only, COMMIT); with no transaction open there
 * is nothing to go on with (ERROR), and nothing is sent.
 */
static void
test_pipeline_more(void **state)
{
    sv_pg_t         *pg;
    long             pid;
    uint64_t         t;
    sv_pg_err_t      e;
    sv_pg_stmt_t     q[3];

    (void) state;

    admin("DROP TABLE IF EXISTS public.sv_test_pipe");
    admin("CREATE TABLE public.sv_test_pipe (id int PRIMARY KEY)");

    pg = pg_new(0, 0, 0);
    pid = backend_pid(pg);

    memset(q, 0, sizeof(q));
    q[0].sql = "SELECT 1";
    t = sv_pg_round_trips(pg);
    assert_int_equal(sv_pg_pipeline_more(pg, q, 1, &e), SV_PG_ERROR);
    assert_int_equal(q[0].rc, SV_PG_ERROR);
    assert_int_equal(sv_pg_round_trips(pg) - t, 0);

    memset(q, 0, sizeof(q));
    q[0].sql = "BEGIN";
    q[1].sql = "INSERT INTO public.sv_test_pipe VALUES (1)";
    assert_int_equal(sv_pg_pipeline(pg, q, 2, 0, &e), SV_PG_OK);
    assert_int_equal(q[0].rc, SV_PG_OK);
    assert_int_equal(q[1].rc, SV_PG_OK);
    PQclear(q[0].res);
    PQclear(q[1].res);

    /* the sync points committed nothing */
    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_pipe",
                                NULL), 0);

    memset(q, 0, sizeof(q));
    q[0].sql = "INSERT INTO public.sv_test_pipe VALUES (2)";
    q[1].sql = "SELECT count(*) FROM public.sv_test_pipe";
    q[2].sql = "COMMIT";
    t = sv_pg_round_trips(pg);
    assert_int_equal(sv_pg_pipeline_more(pg, q, 3, &e), SV_PG_OK);
    assert_int_equal(sv_pg_round_trips(pg) - t, 1);
    assert_int_equal(q[1].rc, SV_PG_OK);
    assert_string_equal(PQgetvalue(q[1].res, 0, 0), "2");
    assert_string_equal(PQcmdStatus(q[2].res), "COMMIT");
    PQclear(q[0].res);
    PQclear(q[1].res);
    PQclear(q[2].res);

    assert_int_equal(admin_long("SELECT count(*) FROM public.sv_test_pipe",
                                NULL), 2);

    /* the same connection all along, idle now and serving on */
    assert_int_equal(backend_pid(pg), pid);

    sv_pg_destroy(pg);
    admin("DROP TABLE public.sv_test_pipe");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_bad_uri),
        cmocka_unit_test(test_no_server),
        cmocka_unit_test(test_reconnect_pause),
        cmocka_unit_test(test_uri_options),
        cmocka_unit_test(test_schema_concurrent),
        cmocka_unit_test(test_schema_newer_refused),
        cmocka_unit_test(test_connection_per_thread),
        cmocka_unit_test(test_reopen_after_terminate),
        cmocka_unit_test(test_prepared),
        cmocka_unit_test(test_lost_in_transaction),
        cmocka_unit_test(test_statement_timeout),
        cmocka_unit_test(test_frozen_backend),
        cmocka_unit_test(test_retry_serialization),
        cmocka_unit_test(test_retry_bounded),
        cmocka_unit_test(test_transaction_answers),
        cmocka_unit_test(test_params_text),
        cmocka_unit_test(test_params_numbers_bytes),
        cmocka_unit_test(test_schema_members),
        cmocka_unit_test(test_outage),
        cmocka_unit_test(test_pipeline_each_alone),
        cmocka_unit_test(test_pipeline_large),
        cmocka_unit_test(test_pipeline_lost),
        cmocka_unit_test(test_pipeline_one_transaction),
        cmocka_unit_test(test_pipeline_more),
    };

    const struct CMUnitTest  skipped[] = {
        cmocka_unit_test(test_skipped),
    };

    uri = getenv("TEST_NGINX_PG_URI");

    if (uri == NULL || uri[0] == '\0') {
        printf("test_pg: skipped: TEST_NGINX_PG_URI is not set (no"
               " PostgreSQL; `make unit` starts one with t/pg/pg.sh)\n");
        return cmocka_run_group_tests(skipped, NULL, NULL);
    }

    return cmocka_run_group_tests(tests, NULL, NULL);
}
