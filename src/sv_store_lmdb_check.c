/*
 * The LMDB store's check at start, before any process opens it: an old
 * single-environment store moved to the members' part, then every page
 * and record of the codes' part read, and a damaged part set aside.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "sv_record.h"
#include "sv_store_lmdb.h"


/*
 * The check runs in a child process: a damaged map can make LMDB read
 * through a wild page number, and a crash of the child is one more sign
 * of damage rather than the end of nginx's master.  The child tells its
 * findings in lines on a pipe: "migrated", then "ok", "in use", "damaged
 * REASON" or "error REASON".
 */

typedef struct {
    int         fd;
    size_t      last_pgno;
} sv_walk_t;


static void
sv_tell(int fd, const char *fmt, ...)
{
    int      n;
    char     line[512];
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, args);
    va_end(args);

    if (n < 0) {
        return;
    }

    if ((size_t) n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }

    line[n++] = '\n';

    (void) write(fd, line, n);
}


/* Syncs a directory, so that a rename in it is on disk. */
static int
sv_sync_dir(const char *path)
{
    int  fd, rc;

    fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd == -1) {
        return -1;
    }

    rc = fsync(fd);
    close(fd);

    return rc;
}


/*
 * 1 if a process has the environment of this lock file open: each holds
 * a shared fcntl() lock on its first byte while it does.
 */
static int
sv_env_in_use(const char *lock)
{
    int           fd, used;
    struct flock  fl;

    fd = open(lock, O_RDWR);
    if (fd == -1) {
        return 0;
    }

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;

    used = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);

    return used;
}


/* The old layout, one environment in dir itself, becomes the members'. */
static int
sv_migrate(const char *dir, int fd)
{
    char  old[512], sub[512], moved[512], lock[512], e[256];

    if (sv_lmdb_path(old, sizeof(old), dir, "data.mdb", e, sizeof(e)) != 0
        || sv_lmdb_path(sub, sizeof(sub), dir, SV_STORE_MEMBERS_DIR, e,
                        sizeof(e)) != 0
        || sv_lmdb_path(moved, sizeof(moved), sub, "data.mdb", e,
                        sizeof(e)) != 0
        || sv_lmdb_path(lock, sizeof(lock), dir, "lock.mdb", e,
                        sizeof(e)) != 0)
    {
        sv_tell(fd, "error %s", e);
        return -1;
    }

    if (!sv_lmdb_exists(old)) {
        return 0;
    }

    if (sv_env_in_use(lock)) {
        sv_tell(fd, "error \"%s\" is open in another process (an nginx of "
                "the old layout?): stop it, then start", old);
        return -1;
    }

    if (sv_lmdb_exists(moved)) {
        sv_tell(fd, "error both \"%s\" and \"%s\" exist: which holds the "
                "members is for a person to say", old, moved);
        return -1;
    }

    if ((mkdir(sub, 0700) != 0 && errno != EEXIST)
        || rename(old, moved) != 0
        || (unlink(lock) != 0 && errno != ENOENT)
        || sv_sync_dir(sub) != 0
        || sv_sync_dir(dir) != 0)
    {
        sv_tell(fd, "error moving \"%s\" to \"%s\" failed: %s", old, moved,
                strerror(errno));
        return -1;
    }

    sv_tell(fd, "migrated");

    return 0;
}


/* Each freelist record: a count, then that many page numbers in range. */
static int
sv_walk_free(MDB_txn *txn, sv_walk_t *w)
{
    int          rc;
    size_t       i, n, pg;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_cursor_open(txn, 0, &cur);
    if (rc != MDB_SUCCESS) {
        sv_tell(w->fd, "damaged the freelist: %s", mdb_strerror(rc));
        return -1;
    }

    while ((rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == MDB_SUCCESS) {

        if (val.mv_size < sizeof(size_t)
            || val.mv_size % sizeof(size_t) != 0)
        {
            break;
        }

        memcpy(&n, val.mv_data, sizeof(size_t));

        if (val.mv_size != (n + 1) * sizeof(size_t)) {
            break;
        }

        for (i = 1; i <= n; i++) {
            memcpy(&pg, (char *) val.mv_data + i * sizeof(size_t),
                   sizeof(size_t));

            if (pg < 2 || pg > w->last_pgno) {
                break;
            }
        }

        if (i <= n) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        sv_tell(w->fd, "damaged the freelist: %s",
                rc == MDB_SUCCESS ? "a record out of shape"
                                  : mdb_strerror(rc));
        return -1;
    }

    return 0;
}


static int
sv_record_sound(int db, const MDB_val *key, const MDB_val *val)
{
    sv_day_rec_t      day;
    sv_code_rec_t     code;
    sv_send_rec_t     send;
    sv_token_rec_t    token;
    sv_session_rec_t  session;

    switch (db) {

    case SV_DB_CODES:
        return key->mv_size > 0 && key->mv_size <= SV_STORE_PHONE_MAX
               && sv_code_rec_decode(val->mv_data, val->mv_size, &code) == 0;

    case SV_DB_SENDS:
        return key->mv_size > 0 && key->mv_size <= SV_STORE_PHONE_MAX
               && sv_window_rec_decode(val->mv_data, val->mv_size, &send) == 0;

    case SV_DB_LOGINS:
        return key->mv_size > 2 && key->mv_size <= SV_STORE_ACCOUNT_MAX
               && sv_window_rec_decode(val->mv_data, val->mv_size, &send) == 0;

    case SV_DB_ADDRS:
        return key->mv_size > 0 && key->mv_size <= SV_STORE_ADDR_MAX
               && sv_window_rec_decode(val->mv_data, val->mv_size, &send) == 0;

    case SV_DB_DAYS:
        return key->mv_size > 0 && key->mv_size < SV_DAY_KEY_SIZE
               && sv_day_rec_decode(val->mv_data, val->mv_size, &day) == 0;

    case SV_DB_SESSIONS:
        return key->mv_size == SV_HASH_SIZE
               && sv_session_rec_decode(val->mv_data, val->mv_size, &session)
                  == 0;

    default:
        return key->mv_size == SV_HASH_SIZE
               && sv_token_rec_decode(val->mv_data, val->mv_size, &token)
                  == 0;
    }
}


/* Every record of one database, decoded; a missing database is empty. */
static int
sv_walk_db(MDB_txn *txn, int db, sv_walk_t *w)
{
    int          rc;
    MDB_dbi      dbi;
    MDB_val      key, val;
    MDB_cursor  *cur;

    rc = mdb_dbi_open(txn, sv_lmdb_db_names[db], 0, &dbi);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }

    if (rc == MDB_SUCCESS) {
        rc = mdb_cursor_open(txn, dbi, &cur);
    }

    if (rc != MDB_SUCCESS) {
        sv_tell(w->fd, "damaged \"%s\": %s", sv_lmdb_db_names[db],
                mdb_strerror(rc));
        return -1;
    }

    while ((rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) == MDB_SUCCESS) {
        if (!sv_record_sound(db, &key, &val)) {
            break;
        }
    }

    mdb_cursor_close(cur);

    if (rc != MDB_NOTFOUND) {
        sv_tell(w->fd, "damaged \"%s\": %s", sv_lmdb_db_names[db],
                rc == MDB_SUCCESS ? "a record out of shape"
                                  : mdb_strerror(rc));
        return -1;
    }

    return 0;
}


/* Reads all of the codes' part: "ok", or why it is damaged. */
static void
sv_walk_codes(const char *dir, int fd)
{
    int          rc, db;
    char         path[512], data[512], lock[512], e[256];
    MDB_env     *env;
    MDB_txn     *txn;
    sv_walk_t    w;
    MDB_envinfo  info;

    if (sv_lmdb_path(path, sizeof(path), dir, SV_STORE_CODES_DIR, e,
                     sizeof(e)) != 0
        || sv_lmdb_path(data, sizeof(data), path, "data.mdb", e,
                        sizeof(e)) != 0
        || sv_lmdb_path(lock, sizeof(lock), path, "lock.mdb", e,
                        sizeof(e)) != 0)
    {
        sv_tell(fd, "error %s", e);
        return;
    }

    if (!sv_lmdb_exists(data)) {
        sv_tell(fd, "ok");
        return;
    }

    /*
     * Processes that have it open (the workers, when "nginx -s" or a
     * binary upgrade loads the configuration) found it sound when they
     * started, and may be writing: it is theirs.
     */

    if (sv_env_in_use(lock)) {
        sv_tell(fd, "in use");
        return;
    }

    rc = mdb_env_create(&env);
    if (rc != MDB_SUCCESS) {
        sv_tell(fd, "error mdb_env_create failed: %s", mdb_strerror(rc));
        return;
    }

    (void) mdb_env_set_maxdbs(env, SV_DB_N + 1);

    rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS, 0600);

    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH
        || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND)
    {
        sv_tell(fd, "damaged mdb_env_open: %s", mdb_strerror(rc));
        return;
    }

    if (rc != MDB_SUCCESS) {
        sv_tell(fd, "error mdb_env_open(\"%s\") failed: %s", path,
                mdb_strerror(rc));
        return;
    }

    w.fd = fd;

    if (mdb_env_info(env, &info) != MDB_SUCCESS) {
        sv_tell(fd, "error mdb_env_info failed");
        return;
    }

    w.last_pgno = info.me_last_pgno;

    rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) {
        sv_tell(fd, "damaged mdb_txn_begin: %s", mdb_strerror(rc));
        return;
    }

    if (sv_walk_free(txn, &w) != 0) {
        return;
    }

    for (db = 0; db < SV_DB_N; db++) {
        if (sv_lmdb_db_env[db] == SV_ENV_CODES
            && sv_walk_db(txn, db, &w) != 0)
        {
            return;
        }
    }

    mdb_txn_abort(txn);
    mdb_env_close(env);

    sv_tell(fd, "ok");
}


static void
sv_check_child(const char *dir, sv_store_check_t *chk, int fd)
{
    if (chk->uid != -1 && geteuid() == 0
        && (setgid((gid_t) chk->gid) != 0 || setuid((uid_t) chk->uid) != 0))
    {
        sv_tell(fd, "error setuid(%ld) failed: %s", chk->uid,
                strerror(errno));
        return;
    }

    if (sv_migrate(dir, fd) != 0) {
        return;
    }

    sv_walk_codes(dir, fd);
}


/* Copies src into dst of size bytes, cut short if need be. */
static void
sv_copy(char *dst, size_t size, const char *src)
{
    size_t  n;

    n = strlen(src);

    if (n >= size) {
        n = size - 1;
    }

    memcpy(dst, src, n);
    dst[n] = '\0';
}


/* The child's lines, as far as they go; the last one in last. */
static void
sv_check_read(int fd, sv_store_check_t *chk, char *last, size_t size)
{
    char     buf[2048], *p, *nl;
    size_t   len;
    ssize_t  n;

    len = 0;

    while (len < sizeof(buf) - 1
           && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0)
    {
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            break;
        }

        len += n;
    }

    buf[len] = '\0';
    last[0] = '\0';

    for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';

        if (strcmp(p, "migrated") == 0) {
            chk->migrated = 1;
            continue;
        }

        sv_copy(last, size, p);
    }
}


static sv_store_rc_t
sv_move_aside(const char *dir, sv_store_check_t *chk, char *err,
    size_t errlen)
{
    char        path[512], stamp[32];
    time_t      now;
    struct tm   tm;

    if (sv_lmdb_path(path, sizeof(path), dir, SV_STORE_CODES_DIR, err, errlen)
        != 0)
    {
        return SV_STORE_ERROR;
    }

    now = time(NULL);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", gmtime_r(&now, &tm));

    if (snprintf(chk->moved_to, sizeof(chk->moved_to), "%s.damaged-%s-%ld",
                 path, stamp, (long) getpid())
        >= (int) sizeof(chk->moved_to))
    {
        snprintf(err, errlen, "the store's path is too long");
        return SV_STORE_ERROR;
    }

    if (rename(path, chk->moved_to) != 0) {
        snprintf(err, errlen, "rename(\"%s\", \"%s\") failed: %s", path,
                 chk->moved_to, strerror(errno));
        return SV_STORE_ERROR;
    }

    (void) sv_sync_dir(dir);

    chk->damaged = 1;

    return SV_STORE_OK;
}


sv_store_rc_t
sv_store_check(const char *dir, sv_store_check_t *chk, char *err,
    size_t errlen)
{
    int    fds[2], status;
    char   last[512];
    pid_t  pid;

    chk->migrated = 0;
    chk->in_use = 0;
    chk->damaged = 0;
    chk->moved_to[0] = '\0';
    chk->reason[0] = '\0';

    if (pipe(fds) != 0) {
        snprintf(err, errlen, "pipe() failed: %s", strerror(errno));
        return SV_STORE_ERROR;
    }

    pid = fork();

    if (pid == -1) {
        snprintf(err, errlen, "fork() failed: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return SV_STORE_ERROR;
    }

    if (pid == 0) {
        close(fds[0]);
        sv_check_child(dir, chk, fds[1]);
        _exit(0);
    }

    close(fds[1]);
    sv_check_read(fds[0], chk, last, sizeof(last));
    close(fds[0]);

    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            snprintf(err, errlen, "waitpid() failed: %s", strerror(errno));
            return SV_STORE_ERROR;
        }
    }

    if (WIFSIGNALED(status)) {
        snprintf(chk->reason, sizeof(chk->reason),
                 "reading it killed the reader with signal %d",
                 WTERMSIG(status));
        return sv_move_aside(dir, chk, err, errlen);
    }

    if (strcmp(last, "ok") == 0) {
        return SV_STORE_OK;
    }

    if (strcmp(last, "in use") == 0) {
        chk->in_use = 1;
        return SV_STORE_OK;
    }

    if (strncmp(last, "damaged ", 8) == 0) {
        sv_copy(chk->reason, sizeof(chk->reason), last + 8);
        return sv_move_aside(dir, chk, err, errlen);
    }

    sv_copy(err, errlen, strncmp(last, "error ", 6) == 0
                         ? last + 6 : "the check ended without a word");

    return SV_STORE_ERROR;
}
