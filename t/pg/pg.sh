#!/usr/bin/env bash
# A PostgreSQL server of its own for the tests: Debian's postgresql-15,
# initdb'ed in a temporary folder, listening on a Unix socket there (and
# on TCP if asked).  PostgreSQL refuses to run as root: as root the server
# runs as the system user smsverify-pg (created if missing), who owns the
# folder.
#
#   t/pg/pg.sh start     init (first time) and start; prints the libpq URI
#   t/pg/pg.sh env       export lines for the shell (eval "$(... env)")
#   t/pg/pg.sh uri       the libpq URI alone
#   t/pg/pg.sh status    exit 0 if running
#   t/pg/pg.sh kill      pg_ctl stop -m immediate: an outage, data kept
#   t/pg/pg.sh restart   kill, then start again on the same data
#   t/pg/pg.sh stop      pg_ctl stop -m fast and remove the folder
#   t/pg/pg.sh psql ...  psql on the test database, arguments passed on
#
# Settings (environment):
#   SV_PG_DIR     the folder (default /tmp/smsverify-pg.<checksum of the
#                 checkout's path>, so that worktrees do not meet)
#   SV_PG_PORT    the port; names the socket too (default 19601)
#   SV_PG_LISTEN  TCP addresses, e.g. 127.0.0.1 (default: none, socket only)
#   SV_PG_BIN     PostgreSQL's programs (default /usr/lib/postgresql/15/bin)
#
# Every command is idempotent: start on a running server prints its URI,
# stop and kill on a stopped one do nothing.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUM=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)

PG_BIN=${SV_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=${SV_PG_DIR:-/tmp/smsverify-pg.$SUM}
PG_PORT=${SV_PG_PORT:-19601}
PG_LISTEN=${SV_PG_LISTEN:-}
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/server.log
PG_READY=$PG_DIR/.ready
PG_ROLE=smsverify
PG_DB=smsverify
SYS_USER=smsverify-pg

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

say() {
    echo "pg.sh: $*" >&2
}

check_install() {
    local p
    for p in initdb pg_ctl postgres psql createdb; do
        [ -x "$PG_BIN/$p" ] || die "$PG_BIN/$p not found: postgresql-15 is" \
            "not installed (make deps installs it)"
    done
    case "$PG_DIR" in
        /*) ;;
        *) die "SV_PG_DIR must be an absolute path, not '$PG_DIR'" ;;
    esac
    case "$PG_PORT" in
        ''|*[!0-9]*) die "SV_PG_PORT must be a port number, not '$PG_PORT'" ;;
    esac
    # sun_path holds 107 bytes: the socket is $PG_DIR/.s.PGSQL.$PG_PORT
    [ $(( ${#PG_DIR} + 12 + ${#PG_PORT} )) -le 107 ] \
        || die "SV_PG_DIR '$PG_DIR' is too long for a Unix socket path"
}

# the server's user: the caller, or smsverify-pg for root
server_user() {
    if [ "$(id -u)" = 0 ]; then
        echo "$SYS_USER"
    else
        id -un
    fi
}

ensure_user() {
    [ "$(id -u)" = 0 ] || return 0
    getent passwd "$SYS_USER" >/dev/null && return 0
    say "creating the system user $SYS_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$SYS_USER" \
        || die "could not create the system user $SYS_USER"
}

# runs a server program as the server's user, from the folder (the
# caller's working directory may be closed to that user)
as_server() {
    if [ "$(id -u)" = 0 ]; then
        (cd "$PG_DIR" && runuser -u "$SYS_USER" -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

running() {
    [ -f "$PG_DATA/PG_VERSION" ] || return 1
    as_server "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

uri() {
    echo "postgresql:///$PG_DB?host=$PG_DIR&port=$PG_PORT&user=$PG_ROLE"
}

tcp_uri() {
    local addr=${PG_LISTEN%%,*}
    addr=${addr// /}
    [ -n "$addr" ] || return 0
    [ "$addr" != '*' ] || addr=127.0.0.1
    echo "postgresql://$PG_ROLE@$addr:$PG_PORT/$PG_DB"
}

show_log() {
    if [ -f "$PG_LOG" ]; then
        echo "pg.sh: the server's log ($PG_LOG), last lines:" >&2
        tail -20 "$PG_LOG" >&2
    fi
}

init_cluster() {
    local user parent
    user=$(server_user)
    parent=$(dirname "$PG_DIR")
    [ -d "$parent" ] || die "the parent of SV_PG_DIR, '$parent', does not exist"

    rm -rf "$PG_DIR"
    mkdir -m 0755 "$PG_DIR"
    chown "$user:" "$PG_DIR"
    if ! as_server test -w "$PG_DIR"; then
        rm -rf "$PG_DIR"
        die "user $user cannot write to '$PG_DIR' (a parent folder closed" \
            "to them?): set SV_PG_DIR to a folder under /tmp"
    fi

    say "initdb in $PG_DATA as $user"
    if ! as_server "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_ROLE" \
            --auth=trust --encoding=UTF8 --locale=C --no-instructions \
            >"$PG_DIR/initdb.log" 2>&1; then
        cat "$PG_DIR/initdb.log" >&2
        die "initdb failed"
    fi

    # a test server: nothing here has to survive a power loss
    as_server tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# t/pg/pg.sh
listen_addresses = '$PG_LISTEN'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
unix_socket_permissions = 0777
max_connections = 200
shared_buffers = 32MB
fsync = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

start_server() {
    if ! as_server "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w \
            -t 60 >/dev/null 2>&1; then
        show_log
        die "the server did not start (port $PG_PORT taken? see the log)"
    fi
}

ensure_db() {
    local have
    have=$("$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U "$PG_ROLE" -d postgres \
        -XAtqc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") \
        || die "cannot reach the server on $PG_DIR port $PG_PORT"
    if [ "$have" != 1 ]; then
        "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U "$PG_ROLE" "$PG_DB" \
            || die "createdb $PG_DB failed"
    fi
}

cmd_start() {
    check_install
    if running; then
        ensure_db
        uri
        return 0
    fi
    ensure_user
    # a folder that never reached a database is from an interrupted start
    [ -f "$PG_READY" ] || init_cluster
    start_server
    ensure_db
    touch "$PG_READY"
    say "running: $(uri)"
    uri
}

cmd_kill() {
    check_install
    if running; then
        as_server "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w \
            >/dev/null 2>&1 || { show_log; die "pg_ctl stop -m immediate failed"; }
    fi
}

cmd_stop() {
    check_install
    if running; then
        as_server "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 \
            >/dev/null 2>&1 || { show_log; die "pg_ctl stop -m fast failed"; }
    fi
    rm -rf "$PG_DIR"
}

cmd_env() {
    check_install
    running || die "not running: t/pg/pg.sh start"
    echo "export TEST_NGINX_PG_URI='$(uri)'"
    if [ -n "$(tcp_uri)" ]; then
        echo "export TEST_NGINX_PG_TCP_URI='$(tcp_uri)'"
    fi
    echo "export TEST_NGINX_PG_DIR='$PG_DIR'"
    echo "export TEST_NGINX_PG_PORT='$PG_PORT'"
}

case "${1:-}" in
    start)
        cmd_start ;;
    stop)
        cmd_stop ;;
    kill)
        cmd_kill ;;
    restart)
        cmd_kill
        cmd_start >/dev/null ;;
    status)
        check_install
        if running; then echo "running: $(uri)"; else echo "stopped"; exit 1; fi ;;
    env)
        cmd_env ;;
    uri)
        check_install
        running || die "not running: t/pg/pg.sh start"
        uri ;;
    psql)
        check_install
        running || die "not running: t/pg/pg.sh start"
        shift
        exec "$PG_BIN/psql" -X -h "$PG_DIR" -p "$PG_PORT" -U "$PG_ROLE" \
            -d "$PG_DB" "$@" ;;
    *)
        echo "usage: $0 start|stop|kill|restart|status|env|uri|psql [args]" >&2
        exit 2 ;;
esac
