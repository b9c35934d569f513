#!/bin/bash
#
# Builds the module with AddressSanitizer and UndefinedBehaviorSanitizer
# into a build dir of its own, then runs the Test::Nginx suite with
# Debian's nginx, the sanitizer runtimes preloaded, against that module.
# Fails if a test fails or if any sanitizer report was written.
#
#   t/asan/run.sh [TEST_FILE...]           (default: t/*.t)
#
#   ASAN_BUILD            build dir (default build/asan)
#   TEST_NGINX_SERVROOT   (default ASAN_BUILD/servroot); the reports go
#                         to its asan/ folder, which the test runner
#                         leaves alone between blocks
#   TEST_NGINX_SERVER_PORT, TEST_NGINX_* as for prove
#   NGINX_SRC, NGINX_BIN  (default /usr/share/nginx/src, /usr/sbin/nginx)
#
# nginx's own code is not instrumented, nor are its pools: a pool hands
# out pieces of one malloc()ed block, so an overrun within a pool block is
# not seen; every malloc(), the module's own code and every libc string
# and memory call the module makes are.

set -eu -o pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${ASAN_BUILD:-$root/build/asan}
nginx_src=${NGINX_SRC:-/usr/share/nginx/src}
nginx_bin=${NGINX_BIN:-/usr/sbin/nginx}
servroot=${TEST_NGINX_SERVROOT:-$build/servroot}
reports=$servroot/asan

san="-fsanitize=address,undefined -fno-omit-frame-pointer"
cc_opt="$san -g -O1"
ld_opt="$san"

cd "$root"

if [ $# -gt 0 ]; then
    files=("$@")
else
    files=(t/*.t)
fi


# ---- build ------------------------------------------------------------------

mkdir -p "$build"

# configure again when the addon script or these flags change

stamp="$cc_opt | $ld_opt | $nginx_src"

if [ ! -f "$build/nginx-src/objs/Makefile" ] \
   || [ "$root/config" -nt "$build/nginx-src/objs/Makefile" ] \
   || [ "$(cat "$build/configure.flags" 2>/dev/null)" != "$stamp" ]
then
    echo "asan: configuring $nginx_src in $build/nginx-src"
    rm -rf "$build/nginx-src"
    cp -r "$nginx_src" "$build/nginx-src"
    (
        cd "$build/nginx-src"
        . ./conf_flags
        ./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$root" \
            --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt"
    ) >"$build/configure.log" 2>&1 \
        || { tail -n 20 "$build/configure.log" >&2; exit 1; }
    echo "$stamp" >"$build/configure.flags"
fi

echo "asan: building the module"
make -C "$build/nginx-src" -f objs/Makefile modules >"$build/make.log" 2>&1 \
    || { tail -n 30 "$build/make.log" >&2; exit 1; }

module=$build/ngx_http_smsverify_module.so
cp "$build/nginx-src/objs/ngx_http_smsverify_module.so" "$module.tmp"
mv -f "$module.tmp" "$module"


# ---- nginx with the runtimes preloaded --------------------------------------

libasan=$(gcc -print-file-name=libasan.so)
libubsan=$(gcc -print-file-name=libubsan.so)

for lib in "$libasan" "$libubsan"; do
    [ -e "$lib" ] || { echo "asan: no $lib (gcc's libasan, libubsan)" >&2;
                       exit 1; }
done

# libubsan's reports to a file of their own; see ubsan_log.c

shim=$build/ubsan_log.so
gcc -shared -fPIC -O2 -Wall -Wextra -Werror "$root/t/asan/ubsan_log.c" \
    -o "$shim" -ldl

# Only nginx gets them: not prove, perl or the mock provider.  Leaks are
# not looked for: nginx leaves its cycle to the exit (valgrind runs, with
# suppressions, look for the module's leaks).  UBSan goes on after a
# report so that one run finds them all; ASan stops the process.  Both
# runtimes set ASan's log_path: it is the same in both.  Reports are not
# symbolized in the process: a worker the tests stop while it symbolizes
# leaves a report cut after its first line.  Their frames (object+offset)
# are symbolized below, once the suite is done.

wrapper=$build/nginx
cat >"$wrapper" <<EOW
#!/bin/sh
export LD_PRELOAD="$libasan $libubsan $shim\${LD_PRELOAD:+ \$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:\\
detect_stack_use_after_return=1:strict_string_checks=1:\\
symbolize=0:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=0:\\
symbolize=0:log_path=$reports/asan"
export SV_UBSAN_LOG_PATH="$reports/ubsan"
exec "$nginx_bin" "\$@"
EOW
chmod +x "$wrapper"

rm -rf "$reports"
mkdir -p "$reports"

# the module needs the runtimes, and nginx must run with them

if ! readelf -d "$module" | grep -q 'NEEDED.*libasan'; then
    echo "asan: $module is not built with ASan" >&2
    exit 1
fi

help=$(LD_PRELOAD="$libasan $libubsan" ASAN_OPTIONS=help=1 \
       "$nginx_bin" -v 2>&1 || true)

if ! grep -q 'Available flags for AddressSanitizer' <<<"$help"; then
    echo "asan: $nginx_bin does not run with $libasan preloaded" >&2
    exit 1
fi


# ---- the suite --------------------------------------------------------------

if perl -MTest::Nginx::Socket -e1 2>/dev/null; then
    inc=(-I t/inc)
else
    inc=(-I t/lib -I t/inc)
fi

echo "asan: prove ${files[*]} (servroot $servroot)"

status=0

TEST_NGINX_BINARY=$wrapper \
TEST_NGINX_SMSVERIFY_MODULE=$module \
TEST_NGINX_SERVROOT=$servroot \
    prove --timer "${inc[@]}" "${files[@]}" || status=$?


# ---- the reports ------------------------------------------------------------

# "#3 0x7f.. (/path/object.so+0x1a2b)" gets the function and line after it
symbolize() {
    local line obj off
    while IFS= read -r line; do
        if [[ $line =~ \((/[^+\)]+)\+(0x[0-9a-f]+)\) ]]; then
            obj=${BASH_REMATCH[1]}
            off=${BASH_REMATCH[2]}
            line="$line $(addr2line -f -i -C -e "$obj" "$off" 2>/dev/null \
                          | paste -sd ' ' -)"
        fi
        printf '%s\n' "$line"
    done
}

found=$(find "$reports" -type f -size +0 | sort)

if [ -n "$found" ]; then
    echo "asan: $(wc -l <<<"$found") sanitizer report files in $reports:" >&2

    # shellcheck disable=SC2086
    grep -h -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' $found \
        | sed -e 's/^==[0-9]*==//' -e 's/ on address .*//' \
              -e 's/0x[0-9a-f]*/0x.../g' \
        | sort | uniq -c | sort -rn | head -n 20 >&2

    first=$(head -n 1 <<<"$found")
    echo "---- $first" >&2
    head -n 60 "$first" | symbolize >&2

    status=1

else
    echo "asan: no sanitizer report"
fi

exit $status
