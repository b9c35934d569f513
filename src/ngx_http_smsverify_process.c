
/*
 * The module's life in nginx's processes: the store's directory and the
 * server key in the master (LMDB only), the store and the periodic sync
 * and sweep in each worker, the counters in shared memory.
 */

#include "ngx_http_smsverify_process.h"
#include "sv_clock.h"
#include "sv_thread.h"

#include <dlfcn.h>
#include <openssl/rand.h>


#define NGX_HTTP_SMSVERIFY_SWEEP_INTERVAL       10000
#define NGX_HTTP_SMSVERIFY_SWEEP_GRACE          3600000
#define NGX_HTTP_SMSVERIFY_SWEEP_BATCH          10000
#define NGX_HTTP_SMSVERIFY_READERS_PER_WORKER   130

/* how long a worker's exit waits for its pool threads' exit, in ms */
#define NGX_HTTP_SMSVERIFY_THREADS_EXIT         1000


typedef struct {
    ngx_http_smsverify_main_conf_t  *mcf;
    ngx_msec_t                       last_sweep;
    ngx_uint_t                       busy;
    sv_store_rc_t                    rc;
    char                             err[256];
    ngx_uint_t                       sweep;
} ngx_http_smsverify_maint_t;


static void ngx_http_smsverify_warn_test_numbers(ngx_cycle_t *cycle,
    ngx_http_smsverify_main_conf_t *mcf);
static ngx_int_t ngx_http_smsverify_make_dir(ngx_cycle_t *cycle,
    ngx_http_smsverify_main_conf_t *mcf);
static ngx_int_t ngx_http_smsverify_load_key(ngx_cycle_t *cycle,
    ngx_http_smsverify_main_conf_t *mcf);
static ngx_int_t ngx_http_smsverify_check_store(ngx_cycle_t *cycle,
    ngx_http_smsverify_main_conf_t *mcf);
static void ngx_http_smsverify_pin_module(ngx_cycle_t *cycle);
static void ngx_http_smsverify_maint_timer(ngx_event_t *ev);
static void ngx_http_smsverify_maint_thread(void *data, ngx_log_t *log);
static void ngx_http_smsverify_maint_done(ngx_event_t *ev);


static ngx_event_t         ngx_http_smsverify_maint_ev;
static ngx_thread_task_t  *ngx_http_smsverify_maint_task;

/*
 * a PostgreSQL store outlives the worker's pool (see exit_process):
 * volatile, so that the store the pointer keeps reachable is not
 * optimised away with it
 */
static sv_store_t *volatile  ngx_http_smsverify_pg_store;


/* the counters, shared by all workers and kept across reloads */

ngx_int_t
ngx_http_smsverify_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_smsverify_main_conf_t  *omcf = data;

    ngx_slab_pool_t                 *shpool;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = shm_zone->data;

    if (omcf) {
        mcf->counters = omcf->counters;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        mcf->counters = shpool->data;
        return NGX_OK;
    }

    mcf->counters = ngx_slab_calloc(shpool,
                                    sizeof(ngx_http_smsverify_counters_t));
    if (mcf->counters == NULL) {
        return NGX_ERROR;
    }

    shpool->data = mcf->counters;

    return NGX_OK;
}


/* the store's directory and the server key, made in the master */

ngx_int_t
ngx_http_smsverify_init_module(ngx_cycle_t *cycle)
{
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_smsverify_module);

    if (mcf == NULL || !mcf->used) {
        return NGX_OK;
    }

    /*
     * once per configuration load, to the new error log (and to stderr
     * on a start or "nginx -t"): a warning from the directive itself
     * went out once per "smsverify_provider log", to the old log
     */
    if (mcf->provider_types & (1 << SV_PROVIDER_LOG)) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "the \"log\" provider writes every code to the "
                      "error log: use it for development only in %s:%ui",
                      mcf->log_provider_pos.file, mcf->log_provider_pos.line);
    }

    ngx_http_smsverify_warn_test_numbers(cycle, mcf);

    /*
     * PostgreSQL: no directory, no start check, the key given; the
     * database is first reached by a worker's pool thread, so that
     * neither "nginx -t" nor a start needs it
     */
    if (mcf->store_uri.len) {
        return NGX_OK;
    }

    if (ngx_http_smsverify_make_dir(cycle, mcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_smsverify_check_store(cycle, mcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!mcf->secret_given) {
        return ngx_http_smsverify_load_key(cycle, mcf);
    }

    return NGX_OK;
}


/*
 * A test number lets anyone who knows it verify the phone without an SMS:
 * each says so, as the log provider does, at every configuration load.
 */

static void
ngx_http_smsverify_warn_test_numbers(ngx_cycle_t *cycle,
    ngx_http_smsverify_main_conf_t *mcf)
{
    char                               masked[SV_PHONE_MASKED_SIZE];
    ngx_uint_t                         i;
    ngx_http_smsverify_test_number_t  *tn;

    if (mcf->test_numbers == NULL) {
        return;
    }

    tn = mcf->test_numbers->elts;

    for (i = 0; i < mcf->test_numbers->nelts; i++) {
        sv_phone_mask(tn[i].phone, masked, sizeof(masked));

        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "smsverify test number \"%s\" verifies with a fixed "
                      "code, no SMS and no limit in %s:%ui",
                      masked, tn[i].pos.file, tn[i].pos.line);
    }
}


static ngx_int_t
ngx_http_smsverify_make_dir(ngx_cycle_t *cycle,
    ngx_http_smsverify_main_conf_t *mcf)
{
    ngx_err_t          err;
    ngx_core_conf_t   *ccf;
    ngx_file_info_t    fi;

    if (ngx_create_dir(mcf->store_dir.data, 0700) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (err != NGX_EEXIST) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, err,
                          ngx_create_dir_n " \"%s\" failed",
                          mcf->store_dir.data);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (geteuid() != 0 || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        return NGX_OK;
    }

    if (ngx_file_info(mcf->store_dir.data, &fi) == NGX_FILE_ERROR
        || chown((char *) mcf->store_dir.data, ccf->user, ccf->group) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "chown(\"%s\", %d) failed",
                      mcf->store_dir.data, ccf->user);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_smsverify_load_key(ngx_cycle_t *cycle,
    ngx_http_smsverify_main_conf_t *mcf)
{
    u_char            key[SV_KEY_SIZE];
    ssize_t           n;
    ngx_file_t        file;
    ngx_core_conf_t  *ccf;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.log = cycle->log;
    file.name.len = mcf->store_dir.len + sizeof("/secret.key") - 1;
    file.name.data = ngx_pnalloc(cycle->pool, file.name.len + 1);

    if (file.name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(file.name.data, "%V/secret.key%Z", &mcf->store_dir);

    file.fd = ngx_open_file(file.name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (file.fd == NGX_INVALID_FILE && ngx_errno == NGX_ENOENT) {

        /* the first start: a fresh key nobody but the workers may read */

        file.fd = ngx_open_file(file.name.data, NGX_FILE_WRONLY,
                                NGX_FILE_CREATE_OR_OPEN | O_EXCL, 0600);

        if (file.fd != NGX_INVALID_FILE) {
            if (RAND_bytes(key, SV_KEY_SIZE) != 1
                || ngx_write_fd(file.fd, key, SV_KEY_SIZE) != SV_KEY_SIZE
                || fsync(file.fd) == -1)
            {
                ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                              "could not write \"%s\"", file.name.data);
                ngx_close_file(file.fd);
                ngx_explicit_memzero(key, SV_KEY_SIZE);
                return NGX_ERROR;
            }

            ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx,
                                                   ngx_core_module);

            if (geteuid() == 0
                && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT)
            {
                (void) fchown(file.fd, ccf->user, ccf->group);
            }

            ngx_close_file(file.fd);

            ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                          "smsverify created the server key \"%s\"",
                          file.name.data);

            file.fd = ngx_open_file(file.name.data, NGX_FILE_RDONLY,
                                    NGX_FILE_OPEN, 0);
        }
    }

    if (file.fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", file.name.data);
        return NGX_ERROR;
    }

    n = ngx_read_file(&file, mcf->secret, SV_KEY_SIZE, 0);
    ngx_close_file(file.fd);

    ngx_explicit_memzero(key, SV_KEY_SIZE);

    if (n != SV_KEY_SIZE) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "server key \"%s\" must hold %d bytes",
                      file.name.data, SV_KEY_SIZE);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * At a start, not a reload (the workers have the store open then; "nginx
 * -s", which loads the configuration too, finds it open and leaves it):
 * the codes' part, lazily synced, read whole and started afresh if a
 * crash damaged it; a store of the old layout moved in.  As the worker
 * user, so that what it creates is theirs.
 */

static ngx_int_t
ngx_http_smsverify_check_store(ngx_cycle_t *cycle,
    ngx_http_smsverify_main_conf_t *mcf)
{
    char               err[256];
    ngx_core_conf_t   *ccf;
    sv_store_check_t   chk;

    if (ngx_test_config || !ngx_is_init_cycle(cycle->old_cycle)) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    chk.uid = -1;
    chk.gid = -1;

    if (geteuid() == 0 && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        chk.uid = (long) ccf->user;
        chk.gid = (long) ccf->group;
    }

    if (sv_store_check((char *) mcf->store_dir.data, &chk, err, sizeof(err))
        != SV_STORE_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "smsverify could not check the store \"%V\": %s",
                      &mcf->store_dir, err);
        return NGX_ERROR;
    }

    if (chk.migrated) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "smsverify moved the members of \"%V\" to its \""
                      SV_STORE_MEMBERS_DIR "\" part", &mcf->store_dir);
    }

    if (chk.damaged) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "smsverify store \"%V/" SV_STORE_CODES_DIR "\" was "
                      "damaged (%s), moved to \"%s\" and started afresh: "
                      "its pending codes, send counts and verification "
                      "tokens are lost; the members are untouched",
                      &mcf->store_dir, chk.reason, chk.moved_to);
    }

    return NGX_OK;
}


/* each worker opens the store itself: LMDB must not cross a fork */

ngx_int_t
ngx_http_smsverify_init_process(ngx_cycle_t *cycle)
{
    int                              stale;
    char                             err[256];
    ngx_core_conf_t                 *ccf;
    sv_store_conf_t                  sc;
    ngx_http_smsverify_maint_t      *maint;
    ngx_http_smsverify_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_smsverify_module);

    if (mcf == NULL || !mcf->used) {
        return NGX_OK;
    }

    if (sv_provider_init() != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "smsverify could not initialise libcurl");
        return NGX_ERROR;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    ngx_memzero(&sc, sizeof(sv_store_conf_t));

    if (mcf->store_uri.len) {
        sc.uri = (char *) mcf->store_uri.data;

    } else {
        sc.dir = (char *) mcf->store_dir.data;
        sc.map_size = mcf->store_size;
        sc.nosync = (mcf->sync_mode != NGX_HTTP_SMSVERIFY_SYNC_ON);
        sc.writemap = (mcf->store_writemap != 0);
        sc.max_readers = (ccf->worker_processes + 1)
                         * NGX_HTTP_SMSVERIFY_READERS_PER_WORKER;
    }

    sc.outbox = (mcf->webhook_url.len != 0);

    if (sv_store_open(&mcf->store, &sc, err, sizeof(err)) != SV_STORE_OK) {
        if (mcf->store_uri.len) {
            /* the URI may hold a password: where it was, not what */
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "smsverify could not open the PostgreSQL store "
                          "of %s:%ui: %s", mcf->store_conf_file,
                          mcf->store_conf_line, err);
        } else {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "smsverify could not open the store \"%V\": %s",
                          &mcf->store_dir, err);
        }

        return NGX_ERROR;
    }

    if (mcf->store_uri.len) {
        ngx_http_smsverify_pin_module(cycle);
    }

    stale = sv_store_reader_check(mcf->store);

    if (stale > 0) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "smsverify cleared %d stale store readers", stale);
    }

    ngx_http_smsverify_maint_task = ngx_thread_task_alloc(cycle->pool,
                                        sizeof(ngx_http_smsverify_maint_t));
    if (ngx_http_smsverify_maint_task == NULL) {
        return NGX_ERROR;
    }

    maint = ngx_http_smsverify_maint_task->ctx;
    maint->mcf = mcf;

    ngx_http_smsverify_maint_task->handler = ngx_http_smsverify_maint_thread;
    ngx_http_smsverify_maint_task->event.handler =
                                                ngx_http_smsverify_maint_done;
    ngx_http_smsverify_maint_task->event.data = maint;
    ngx_http_smsverify_maint_task->event.log = cycle->log;

    ngx_http_smsverify_maint_ev.handler = ngx_http_smsverify_maint_timer;
    ngx_http_smsverify_maint_ev.data = maint;
    ngx_http_smsverify_maint_ev.log = cycle->log;
    ngx_http_smsverify_maint_ev.cancelable = 1;

    ngx_add_timer(&ngx_http_smsverify_maint_ev,
                  mcf->sync_mode == NGX_HTTP_SMSVERIFY_SYNC_TIMER
                  ? mcf->sync_interval : NGX_HTTP_SMSVERIFY_SWEEP_INTERVAL);

    return NGX_OK;
}


void
ngx_http_smsverify_exit_process(ngx_cycle_t *cycle)
{
    size_t                           left;
    ngx_http_smsverify_main_conf_t  *mcf;

    /*
     * The thread pools have finished their tasks by now, but their
     * threads may still be exiting, and their exit must be over before
     * this one's exit() cleans up the libraries under them (sv_thread.h).
     */

    left = sv_thread_wait(NGX_HTTP_SMSVERIFY_THREADS_EXIT);

    if (left) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "smsverify %uz pool threads did not end within %ui ms",
                      left, (ngx_uint_t) NGX_HTTP_SMSVERIFY_THREADS_EXIT);
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle,
                                              ngx_http_smsverify_module);

    if (mcf == NULL || mcf->store == NULL) {
        return;
    }

    /*
     * Each thread closes its own PostgreSQL connection as it exits
     * (sv_pg.h), which a close from here would race if one did not end
     * in time.  So that store is left to the process's exit, kept where
     * it stays reachable, in a module that stays mapped.
     */

    if (mcf->store_uri.len) {
        ngx_http_smsverify_pg_store = mcf->store;
        mcf->store = NULL;
        sv_provider_cleanup();
        return;
    }

    sv_store_close(mcf->store);
    mcf->store = NULL;

    sv_provider_cleanup();
}


/*
 * A thread's exit runs code of this module (sv_pg's per-thread
 * destructor) even after the worker's exit has unloaded the modules:
 * marked RTLD_NODELETE, it stays mapped until the process ends.  Built
 * into nginx, there is nothing to unload, and nothing to do.
 */

static void
ngx_http_smsverify_pin_module(ngx_cycle_t *cycle)
{
    void     *handle;
    Dl_info   info;

    if (dladdr((void *) &ngx_http_smsverify_module, &info) == 0
        || info.dli_fname == NULL)
    {
        return;
    }

    handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);

    if (handle == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "smsverify could not keep \"%s\" loaded: %s",
                      info.dli_fname, dlerror());
    }

    /* the handle is never closed: the module stays */
}


/* periodic work: sync lazily committed codes, sweep what has expired */

static void
ngx_http_smsverify_maint_timer(ngx_event_t *ev)
{
    ngx_http_smsverify_maint_t  *maint = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (!maint->busy) {
        maint->sweep = (ngx_current_msec - maint->last_sweep
                        >= NGX_HTTP_SMSVERIFY_SWEEP_INTERVAL);

        if (ngx_thread_task_post(maint->mcf->thread_pool,
                                 ngx_http_smsverify_maint_task)
            == NGX_OK)
        {
            maint->busy = 1;
        }
    }

    ngx_add_timer(ev, maint->mcf->sync_mode == NGX_HTTP_SMSVERIFY_SYNC_TIMER
                      ? maint->mcf->sync_interval
                      : NGX_HTTP_SMSVERIFY_SWEEP_INTERVAL);
}


static void
ngx_http_smsverify_maint_thread(void *data, ngx_log_t *log)
{
    ngx_http_smsverify_maint_t  *maint = data;

    sv_store_t  *store;

    sv_thread_enter();

    store = maint->mcf->store;
    maint->rc = SV_STORE_OK;

    if (maint->mcf->sync_mode == NGX_HTTP_SMSVERIFY_SYNC_TIMER) {
        maint->rc = sv_store_sync(store, maint->err, sizeof(maint->err));
    }

    if (maint->rc == SV_STORE_OK && maint->sweep) {
        maint->rc = sv_store_sweep(store, sv_clock_ms(),
                                   NGX_HTTP_SMSVERIFY_SWEEP_GRACE,
                                   NGX_HTTP_SMSVERIFY_SWEEP_BATCH, maint->err,
                                   sizeof(maint->err));
    }
}


static void
ngx_http_smsverify_maint_done(ngx_event_t *ev)
{
    ngx_http_smsverify_maint_t  *maint = ev->data;

    maint->busy = 0;

    if (maint->sweep) {
        maint->last_sweep = ngx_current_msec;
    }

    if (maint->rc != SV_STORE_OK) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "smsverify store maintenance failed: %s", maint->err);
    }
}
