#ifndef SV_STORE_LMDB_H
#define SV_STORE_LMDB_H

/*
 * What the LMDB store's two files share: the backend (sv_store_lmdb.c)
 * and its start check (sv_store_lmdb_check.c).
 */

#include <stddef.h>


/* the environments, each a subdirectory of the store's directory */
enum {
    SV_ENV_MEMBERS = 0,
    SV_ENV_CODES,
    SV_ENV_N
};

/* the databases, each in one environment: sv_lmdb_db_env[] */
enum {
    SV_DB_CODES = 0,
    SV_DB_SENDS,
    SV_DB_TOKENS,
    SV_DB_SESSIONS,
    SV_DB_LOGINS,
    SV_DB_ADDRS,
    SV_DB_DAYS,
    SV_DB_MEMBERS,
    SV_DB_EMAILS,
    SV_DB_PHONES,
    SV_DB_META,
    SV_DB_OUTBOX,
    SV_DB_N
};

extern const char *const  sv_lmdb_db_names[SV_DB_N];
extern const int          sv_lmdb_db_env[SV_DB_N];
extern const char *const  sv_lmdb_env_dirs[SV_ENV_N];


/* dir/sub into buf; 0, or -1 (err set) if it does not fit. */
int sv_lmdb_path(char *buf, size_t size, const char *dir, const char *sub,
    char *err, size_t errlen);

int sv_lmdb_exists(const char *path);

#endif /* SV_STORE_LMDB_H */
