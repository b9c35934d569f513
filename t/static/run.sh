#!/bin/bash
#
# Builds a whole nginx with the module linked in (--add-module), from the
# source of the nginx installed here, configured with Debian's own flags,
# then runs Test::Nginx files against that binary. This is the build in
# which nginx's module order, not load_module, decides where the module's
# header filter sits.
#
#   t/static/run.sh [TEST_FILE...]
#       (default: t/020-send.t t/030-confirm.t t/040-signup.t
#                 t/060-cors.t t/070-lifecycle.t)
#
#   STATIC_BUILD        build dir (default build/static)
#   STATIC_JOBS         make -j (default 2)
#   NGINX_SRC           Debian's headers-only tree, for conf_flags
#                       (default /usr/share/nginx/src)
#   TEST_NGINX_SERVROOT (default STATIC_BUILD/servroot)
#   TEST_NGINX_SERVER_PORT, TEST_NGINX_* as for prove
#
# The full source is Debian's source package of the installed version:
# t/static/deb-src.sh gives apt a deb-src entry for the machine's Debian
# mirror (root or sudo), apt-get source --download-only fetches it, and
# only the orig tarball is kept, its SHA-256 checked against apt's index.
# It stays in STATIC_BUILD/download: later runs neither update apt nor
# fetch again.

set -eu -o pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${STATIC_BUILD:-$root/build/static}
jobs=${STATIC_JOBS:-2}
conf_flags=${NGINX_SRC:-/usr/share/nginx/src}/conf_flags
download=$build/download

cd "$root"

if [ $# -gt 0 ]; then
    files=("$@")
else
    files=(t/020-send.t t/030-confirm.t t/040-signup.t t/060-cors.t
           t/070-lifecycle.t)
fi

if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi

# 1.22.1-9+deb12u11 -> 1.22.1
version=$(dpkg-query -W -f='${Version}' nginx)
upstream=${version#*:}
upstream=${upstream%-*}
tarball=$download/nginx_$upstream.orig.tar.gz


# ---- the source --------------------------------------------------------------

# the SHA-256 apt's Sources index gives the orig tarball of one version
index_sha256() {
    apt-cache showsrc nginx 2>/dev/null | awk -v v="$1" \
        -v f="nginx_$upstream.orig.tar.gz" '
        /^Version:/       { here = ($2 == v) }
        /^[A-Za-z0-9-]+:/ { sums = ($1 == "Checksums-Sha256:") }
        here && sums && $3 == f { print $1; exit }'
}

# the installed version first; if its files are gone from the pool (the
# security pool keeps only the newest), any other with the same upstream
# version: their orig tarball is the same file
fetch_source() {
    local src_list others v want got

    src_list=$(t/static/deb-src.sh)
    echo "static: apt-get update for $src_list"
    $sudo apt-get update -q -o Dir::Etc::sourcelist="$src_list" \
        -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 >/dev/null

    mkdir -p "$download"
    rm -f "$download"/nginx_*

    others=$(apt-cache showsrc nginx | awk '/^Version:/ { print $2 }' |
             grep -Fxv "$version" | sort -rV)

    for v in "$version" $others; do
        [ "${v%-*}" = "${version%-*}" ] || continue
        want=$(index_sha256 "$v")
        [ -n "$want" ] || continue

        echo "static: apt-get source --download-only nginx=$v"
        # the orig tarball may come although the .dsc or the Debian diff
        # is missing from the pool: it is all that is needed
        (cd "$download" && apt-get source --download-only -q \
            -o APT::Sandbox::User=root "nginx=$v") >"$download/apt.log" 2>&1 \
            || true

        if [ ! -f "$tarball" ]; then
            grep '^E:' "$download/apt.log" | sed 's/^/static:   /' >&2
            continue
        fi
        got=$(sha256sum "$tarball" | cut -d' ' -f1)
        if [ "$got" != "$want" ]; then
            echo "static: $tarball: sha256 $got, apt says $want" >&2
            rm -f "$tarball"
            continue
        fi
        echo "$want  $(basename "$tarball")" >"$tarball.sha256"
        echo "static: $(basename "$tarball") from nginx=$v, sha256 $want"
        return 0
    done

    echo "static: no source package of nginx $upstream could be fetched" >&2
    return 1
}

if [ ! -f "$tarball.sha256" ]; then
    fetch_source
elif ! (cd "$download" &&
        sha256sum --quiet -c "$(basename "$tarball").sha256" 2>/dev/null)
then
    echo "static: the cached $(basename "$tarball") is damaged"
    fetch_source
else
    echo "static: $(basename "$tarball") cached in $download"
fi


# ---- configure and build -----------------------------------------------------

# Debian's flags less its =dynamic modules, and the module linked in
. "$conf_flags"
flags=()
for f in "${NGX_CONF_FLAGS[@]}"; do
    [[ $f == *=dynamic ]] || flags+=("$f")
done
flags+=(--add-module="$root")

src=$build/nginx-$upstream
stamp="$(sha256sum <"$tarball") ${flags[*]}"

if [ ! -f "$src/objs/Makefile" ] \
   || [ "$root/config" -nt "$src/objs/Makefile" ] \
   || [ "$(cat "$build/configure.flags" 2>/dev/null)" != "$stamp" ]
then
    echo "static: configuring nginx $upstream in $src"
    rm -rf "$src"
    tar -xzf "$tarball" -C "$build"
    (cd "$src" && ./configure "${flags[@]}") >"$build/configure.log" 2>&1 \
        || { tail -n 20 "$build/configure.log" >&2; exit 1; }
    echo "$stamp" >"$build/configure.flags"
fi

echo "static: building nginx (make -j$jobs)"
make -C "$src" -f objs/Makefile -j"$jobs" binary >"$build/make.log" 2>&1 \
    || { tail -n 30 "$build/make.log" >&2; exit 1; }

nginx=$build/nginx
cp "$src/objs/nginx" "$nginx.tmp"
mv -f "$nginx.tmp" "$nginx"

"$nginx" -V 2>&1 | grep -q -- "--add-module=$root" \
    || { echo "static: $nginx was not built with the module" >&2; exit 1; }

# the module's version script is for its .so only: nginx must go on
# exporting its own symbols to the dynamic modules it loads
exports=$(nm -D --defined-only "$nginx" | awk '{ print $NF }')
for sym in ngx_palloc ngx_http_top_header_filter ngx_http_smsverify_module; do
    grep -Fxq "$sym" <<<"$exports" \
        || { echo "static: $nginx does not export $sym" >&2; exit 1; }
done
echo "static: nginx exports $(wc -l <<<"$exports") symbols, ngx_palloc among them"


# ---- the suite against it ----------------------------------------------------

# the stand-in Test::Nginx in t/lib serves only where upstream's is absent
inc=(-I t/inc)
perl -MTest::Nginx::Socket -e1 2>/dev/null || inc=(-I t/lib "${inc[@]}")

echo "static: prove ${files[*]} against $nginx"
TEST_NGINX_BINARY=$nginx TEST_NGINX_SMSVERIFY_MODULE= \
TEST_NGINX_SERVROOT=${TEST_NGINX_SERVROOT:-$build/servroot} \
    prove "${inc[@]}" "${files[@]}"
