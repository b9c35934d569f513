#!/usr/bin/env bash
# The Debian package the way an operator meets it: installs
# build/deb/libnginx-mod-http-smsverify_*.deb with apt-get, checks that
# Debian's own nginx configuration (and the systemd unit's config test)
# loads it, copies the packaged example site into conf.d and checks
# nginx -t, runs send -> confirm -> signup -> status against
# /usr/sbin/nginx with the installed module (the packaged load file and
# example, in a temporary prefix on a loopback port), then removes and
# purges the package and checks that nginx still passes nginx -t and
# /etc/nginx is exactly as it was.
#
#   t/deb/run.sh [DEB]     (default: build/deb/libnginx-mod-http-smsverify_*.deb)
#
#   DEB_PORT   loopback port of the flow's nginx (default: 18490)
#   DEB_KEEP=1 keep the temporary prefix (logs, store) after the run
#
# Needs root (or sudo) for apt-get and /etc/nginx.  Never starts the nginx
# service: the flow's nginx runs from its own prefix and conf, and is
# stopped before the package is removed.  A package left installed by an
# interrupted run is purged first.

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

pkg=libnginx-mod-http-smsverify
nginx=/usr/sbin/nginx
so=/usr/lib/nginx/modules/ngx_http_smsverify_module.so
available=/usr/share/nginx/modules-available/mod-http-smsverify.conf
enabled_dir=/etc/nginx/modules-enabled
enabled=$enabled_dir/50-mod-http-smsverify.conf
doc=/usr/share/doc/$pkg
example=$doc/examples/smsverify.conf
unit=/lib/systemd/system/nginx.service
abi_file=/usr/share/nginx/src/debian/libnginx-mod.abisubstvars
# the packaged example, copied where an operator puts it
sys_conf=/etc/nginx/conf.d/zz-smsverify-deb-test.conf
load_line='load_module modules/ngx_http_smsverify_module.so;'

port=${DEB_PORT:-18490}
sys_port=$((port + 1))      # in the conf.d copy; nginx -t binds nothing

deb=${1:-}
if [ -z "$deb" ]; then
    deb=$(ls -t "$repo"/build/deb/${pkg}_*.deb 2>/dev/null | head -1)
fi
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
    echo "deb: no package ${deb:+at $deb }(make deb builds build/deb/${pkg}_VERSION_ARCH.deb)" >&2
    exit 1
fi
deb=$(realpath "$deb")

if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi

as_root() { "${SUDO[@]}" "$@"; }

apt_get() {
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -y -q -o DPkg::Lock::Timeout=300 "$@"
}

installed() {
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null \
        | grep -q 'install ok installed'
}

# ---- reporting --------------------------------------------------------------

passed=0
failed=0

ok() {
    passed=$((passed + 1))
    echo "ok - $1"
}

not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    shift
    local line
    for line in "$@"; do
        printf '%s\n' "$line" | sed 's/^/#   /'
    done
}

# check DESCRIPTION COMMAND...: passes when COMMAND succeeds, else shows
# its output
check() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then
        ok "$what"
    else
        not_ok "$what" "$out"
    fi
}

summary() {
    echo "deb: $passed passed, $failed failed"
}

# a check without which the rest means nothing
fatal() {
    not_ok "$@"
    echo "deb: stopping here"
    exit 1
}

# ---- state and cleanup ------------------------------------------------------

tmp=
flow_pid=
we_installed=

# what /etc/nginx holds: every path, its type, mode, link target and sum
etc_state() {
    as_root find /etc/nginx -printf '%y %m %p -> %l\n' | sort
    as_root find /etc/nginx -type f -exec md5sum {} + | sort -k2
}

flow_stop() {
    [ -n "$flow_pid" ] || return 0
    kill -QUIT "$flow_pid" 2>/dev/null
    local i
    for i in $(seq 50); do
        kill -0 "$flow_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$flow_pid" 2>/dev/null; then
        kill -TERM "$flow_pid" 2>/dev/null
        sleep 1
    fi
    ! kill -0 "$flow_pid" 2>/dev/null
    local gone=$?
    flow_pid=
    return $gone
}

cleanup() {
    local rc=$?
    flow_stop
    as_root rm -f "$sys_conf"
    if [ -n "$we_installed" ] && installed; then
        echo "# purging $pkg after a failure" >&2
        apt_get purge "$pkg" >/dev/null 2>&1
    fi
    if [ -n "$tmp" ]; then
        if [ "${DEB_KEEP:-}" = 1 ]; then
            echo "# kept $tmp" >&2
        else
            rm -rf "$tmp"
        fi
    fi
    summary
    exit $rc
}

trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

for f in "$nginx" "$abi_file"; do
    [ -e "$f" ] || fatal "$f exists" "apt-get install nginx nginx-dev"
done

as_root rm -f "$sys_conf"
if installed; then
    echo "# $pkg is installed (an interrupted run?): purging it first"
    apt_get purge "$pkg" >/dev/null || fatal "purge the installed $pkg"
fi

tmp=$(mktemp -d /tmp/smsverify-deb.XXXXXX)
chmod 755 "$tmp"                    # the flow's workers run as nobody

etc_before=$(etc_state)
service_pid_before=$(cat /run/nginx.pid 2>/dev/null)

echo "# $deb"

# ---- the package file -------------------------------------------------------

abi=$(sed -n 's/^nginx:abi=//p' "$abi_file")
depends=$(dpkg-deb -f "$deb" Depends)

case ", $depends," in
    *", $abi,"*) ok "Depends on the nginx ABI it was built against ($abi)" ;;
    *)           not_ok "Depends on $abi" "Depends: $depends" ;;
esac

for lib in libc6 liblmdb0 libcjson1 libcurl4 libcrypt1; do
    case ", $depends" in
        *", $lib "* | *", $lib,"*) ok "Depends on $lib (shlibs)" ;;
        *) not_ok "Depends on $lib (shlibs)" "Depends: $depends" ;;
    esac
done

# OpenSSL is nginx's own (config's OPENSSL keyword): the module links no
# second libcrypto, and the package needs none beyond nginx's ABI
case ", $depends" in
    *", libssl"*) not_ok "no libssl dependency of its own" "Depends: $depends" ;;
    *)            ok "no libssl dependency of its own: nginx brings OpenSSL" ;;
esac

contents=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
for f in "$so" "$available" "$doc/README.md.gz" "$doc/copyright" \
         "$example" "$doc/examples/html/index.html"
do
    if grep -qxF ".$f" <<<"$contents"; then
        ok "ships $f"
    else
        not_ok "ships $f" "$contents"
    fi
done

# ---- installed --------------------------------------------------------------

we_installed=1
apt_get install "$deb" >"$tmp/apt-install.log" 2>&1 \
    || fatal "apt-get install $deb" "$(tail -20 "$tmp/apt-install.log")"
ok "apt-get install $(basename "$deb")"

installed && ok "dpkg: $pkg install ok installed" \
          || not_ok "dpkg: $pkg install ok installed" "$(dpkg -s "$pkg" 2>&1)"

if [ "$(readlink "$enabled")" = "$available" ]; then
    ok "postinst enabled it: $enabled -> $available"
else
    not_ok "postinst links $enabled to $available" "$(ls -l "$enabled_dir")"
fi

if [ "$(cat "$available" 2>/dev/null)" = "$load_line" ]; then
    ok "$available loads the module"
else
    not_ok "$available is \"$load_line\"" "$(cat "$available" 2>&1)"
fi

[ -f "$so" ] && ok "module in $so" || not_ok "module in $so" "$(ls -l "$(dirname "$so")" 2>&1)"

check "nginx -t passes: Debian's nginx.conf, modules-enabled/*.conf" \
    as_root "$nginx" -t -q

dump=$(as_root "$nginx" -T 2>/dev/null)
if grep -qxF "# configuration file $enabled:" <<<"$dump" \
   && grep -qxF "$load_line" <<<"$dump"
then
    ok "nginx -T shows $enabled with its load_module"
else
    not_ok "nginx -T shows $enabled with its load_module" \
        "$(grep -F 'configuration file' <<<"$dump")"
fi

# the nginx service's own test before it starts (systemd's ExecStartPre)
pre=$(sed -n 's/^ExecStartPre=//p' "$unit" 2>/dev/null)
if [ -n "$pre" ]; then
    check "the service's config test loads it: $pre" \
        as_root bash -c "$pre"
else
    not_ok "$unit has an ExecStartPre config test" "$(cat "$unit" 2>&1)"
fi

# the packaged example, where an operator copies it: the module's
# directives are known to the system configuration
example_for() {     # example_for STORE PORT: the example, moved aside
    sed -e "s|/var/lib/nginx/smsverify|$1|" \
        -e "s|127\.0\.0\.1:8080|127.0.0.1:$2|" "$example"
}

example_for "$tmp/sys-store" "$sys_port" >"$tmp/sys.conf"
moved=$(grep -n '^[^#]*/var/' "$tmp/sys.conf")
if [ -z "$moved" ]; then
    ok "the example's system paths can be moved aside"
else
    not_ok "the example's system paths can be moved aside" "$moved"
fi
as_root cp "$tmp/sys.conf" "$sys_conf"
check "nginx -t with the example in conf.d (smsverify directives known)" \
    as_root "$nginx" -t -q
as_root rm -f "$sys_conf"

# ---- a whole signup against the installed module ----------------------------

prefix=$tmp/flow
mkdir -p "$prefix/logs"
# the packaged load file names modules/ under the prefix, as Debian's own
# prefix /usr/share/nginx has it
ln -s /usr/lib/nginx/modules "$prefix/modules"
example_for "$prefix/store" "$port" >"$prefix/smsverify.conf"

cat >"$prefix/nginx.conf" <<EOF
include $available;

worker_processes  2;
error_log         $prefix/logs/error.log notice;
pid               $prefix/nginx.pid;

events {
    worker_connections  64;
}

http {
    access_log             $prefix/logs/access.log;
    client_body_temp_path  $prefix/body;
    proxy_temp_path        $prefix/proxy;
    fastcgi_temp_path      $prefix/fastcgi;
    uwsgi_temp_path        $prefix/uwsgi;
    scgi_temp_path         $prefix/scgi;

    include  $prefix/smsverify.conf;
}
EOF

if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    fatal "port $port is free (DEB_PORT)" "$(ss -ltnp "sport = :$port")"
fi

"$nginx" -p "$prefix/" -c "$prefix/nginx.conf" \
    >"$prefix/logs/start.log" 2>&1 \
    || fatal "nginx starts with the installed module on 127.0.0.1:$port" \
             "$(cat "$prefix/logs/start.log" "$prefix/logs/error.log" 2>&1)"
for i in $(seq 50); do
    flow_pid=$(cat "$prefix/nginx.pid" 2>/dev/null) && [ -n "$flow_pid" ] \
        && break
    sleep 0.1
done
[ -n "$flow_pid" ] || fatal "nginx writes $prefix/nginx.pid"
ok "nginx starts with the installed module on 127.0.0.1:$port"

base=http://127.0.0.1:$port
phone=010-1234-5678

# post PATH JSON: sets $code (HTTP status) and $body
post() {
    local out
    out=$(curl -sS -m 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
               --data-binary "$2" "$base$1" 2>&1)
    code=${out##*$'\n'}
    body=${out%$'\n'*}
}

get() {
    local out
    out=$(curl -sS -m 10 -w '\n%{http_code}' "$base$1" 2>&1)
    code=${out##*$'\n'}
    body=${out%$'\n'*}
}

# json KEY: the value of a top-level key of $body ("" if absent)
json() {
    python3 -c 'import json, sys
v = json.loads(sys.argv[1]).get(sys.argv[2], "")
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$body" "$1" \
        2>/dev/null
}

# the code in the log provider's last line for the phone's last 4 digits,
# where a person would read it; waits up to 2 s
logged_code() {
    local last4=${1: -4} i found
    for i in $(seq 20); do
        found=$(cat "$prefix/logs/error.log" 2>/dev/null \
            | grep -a "smsverify log provider: to \"[^\"]*$last4\" message" \
            | tail -1 | sed -n 's/.* message "[^0-9]*\[\([0-9]\{4,10\}\)\].*/\1/p')
        [ -n "$found" ] && { echo "$found"; return 0; }
        sleep 0.1
    done
    return 1
}

post /sms/verification "{\"phoneNumber\": \"$phone\"}"
if [ "$code" = 200 ] && [ "$(json status)" = sent ]; then
    ok "send: 200 sent"
else
    not_ok "send: 200 sent" "HTTP $code $body" "$(tail -5 "$prefix/logs/error.log")"
fi

sms=$(logged_code "$phone")
if [ -n "$sms" ]; then
    ok "the log provider's line carries the code"
else
    not_ok "the log provider's line carries the code" \
        "$(tail -5 "$prefix/logs/error.log")"
fi

post /sms/verification/confirm \
    "{\"phoneNumber\": \"$phone\", \"verificationNumber\": \"$sms\"}"
token=$(json verificationToken)
if [ "$code" = 200 ] && [ "$(json status)" = verified ] && [ -n "$token" ]; then
    ok "confirm: 200 verified with a token"
else
    not_ok "confirm: 200 verified with a token" "HTTP $code $body"
fi

post /members/signup "{\"email\": \"kim@example.com\", \"password\": \"Passw0rd!\",
    \"nickname\": \"kim\", \"phoneNumber\": \"$phone\", \"termsId\": [1, 2],
    \"verificationToken\": \"$token\"}"
if [ "$code" = 200 ] && [ "$(json status)" = created ] \
   && [ "$(json memberId)" = 1 ]
then
    ok "signup: 200 created, memberId 1"
else
    not_ok "signup: 200 created, memberId 1" "HTTP $code $body"
fi

get /smsverify/status
if [ "$code" = 200 ] && [ "$(json members)" = 1 ] \
   && [ "$(json signups)" = 1 ] && [ "$(json confirmed)" = 1 ]
then
    ok "status: 1 member, 1 confirmed, 1 signup"
else
    not_ok "status: 1 member, 1 confirmed, 1 signup" "HTTP $code $body"
fi

get /
if [ "$code" = 200 ] && grep -q 'data-api' <<<"$body"; then
    ok "the packaged signup page is served from $doc/examples/html"
else
    not_ok "the packaged signup page is served" "HTTP $code ${body:0:200}"
fi

if flow_stop; then
    ok "the flow's nginx stopped"
else
    not_ok "the flow's nginx stopped" "$(ps -ef | grep '[n]ginx')"
fi

# ---- removed ----------------------------------------------------------------

apt_get remove "$pkg" >"$tmp/apt-remove.log" 2>&1 \
    && ok "apt-get remove $pkg" \
    || not_ok "apt-get remove $pkg" "$(tail -20 "$tmp/apt-remove.log")"

[ ! -e "$so" ] && ok "remove took $so away" \
               || not_ok "remove took $so away" "$(ls -l "$so")"
[ ! -e "$enabled" ] && [ ! -L "$enabled" ] \
    && ok "remove disabled it: no $enabled" \
    || not_ok "remove disabled it: no $enabled" "$(ls -l "$enabled_dir")"

check "nginx -t passes after remove" as_root "$nginx" -t -q

# without the module the example is refused: what passed above was the
# module's doing
as_root cp "$tmp/sys.conf" "$sys_conf"
out=$(as_root "$nginx" -t 2>&1)
rc=$?
as_root rm -f "$sys_conf"
if [ $rc != 0 ] && grep -q 'unknown directive "smsverify_' <<<"$out"; then
    ok "after remove the example is refused: unknown directive"
else
    not_ok "after remove nginx -t refuses the example" "$out"
fi

apt_get purge "$pkg" >"$tmp/apt-purge.log" 2>&1 \
    && ok "apt-get purge $pkg" \
    || not_ok "apt-get purge $pkg" "$(tail -20 "$tmp/apt-purge.log")"
installed && not_ok "dpkg: $pkg is gone" "$(dpkg -s "$pkg" 2>&1)" \
          || ok "dpkg: $pkg is gone"
we_installed=

left=$(find "$enabled_dir" -name '*smsverify*' 2>/dev/null)
dangling=$(find "$enabled_dir" -xtype l 2>/dev/null)
if [ -z "$left$dangling" ]; then
    ok "purge left no link in $enabled_dir, none dangling"
else
    not_ok "purge left no link in $enabled_dir" "$left" "$dangling"
fi

check "nginx -t passes after purge" as_root "$nginx" -t -q

etc_after=$(etc_state)
if [ "$etc_before" = "$etc_after" ]; then
    ok "/etc/nginx is as it was before the run"
else
    not_ok "/etc/nginx is as it was before the run" \
        "$(diff <(echo "$etc_before") <(echo "$etc_after"))"
fi

service_pid_after=$(cat /run/nginx.pid 2>/dev/null)
if [ "$service_pid_after" = "$service_pid_before" ]; then
    ok "the nginx service was not started (/run/nginx.pid as before)"
else
    not_ok "the nginx service was not started" \
        "/run/nginx.pid: '$service_pid_before' -> '$service_pid_after'"
fi

[ "$failed" = 0 ]
