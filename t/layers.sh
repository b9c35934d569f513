#!/bin/sh
#
# make layers: the nginx side's files include (and so call: the shared
# header declares no functions, and -Werror refuses an undeclared call)
# only their own header and the headers of the layers below them; the
# sv_ files include no nginx header at all.  docs/DESIGN.md tells why.

cd "$(dirname "$0")/.." || exit 2

p=ngx_http_smsverify

# the layer of a file, bottom 0; empty: not placed
layer() {
    case "${1##*/}" in
    $p.h)                                           echo 0 ;;
    ${p}_conf.[ch]|${p}_ctx.[ch])                   echo 1 ;;
    ${p}_response.[ch]|${p}_task.[ch])              echo 2 ;;
    ${p}_variables.[ch]|${p}_process.[ch])          echo 2 ;;
    ${p}_webhook.[ch])                              echo 2 ;;
    ${p}_request.[ch])                              echo 3 ;;
    ${p}_lookup.[ch])                               echo 4 ;;
    ${p}_endpoint.h|${p}_send.c|${p}_confirm.c)     echo 5 ;;
    ${p}_signup.c|${p}_status.c|${p}_login.c)       echo 5 ;;
    ${p}_logout.c|${p}_session.c|${p}_reset.c)      echo 5 ;;
    ${p}_auth.c|${p}_admin.c)                       echo 5 ;;
    ${p}_handler.[ch])                              echo 6 ;;
    ${p}_directives.[ch]|${p}_provider.c)           echo 7 ;;
    ${p}_module.c)                                  echo 8 ;;
    esac
}

# the header that declares what a .c file offers
own() {
    case "${1##*/}" in
    ${p}_send.c|${p}_confirm.c|${p}_signup.c|${p}_status.c)
        echo ${p}_endpoint.h ;;
    ${p}_login.c|${p}_logout.c|${p}_session.c|${p}_reset.c|${p}_auth.c)
        echo ${p}_endpoint.h ;;
    ${p}_admin.c)       echo ${p}_endpoint.h ;;
    ${p}_provider.c)    echo ${p}_directives.h ;;
    ${p}_module.c)      echo ;;
    *.c)                b=${1##*/}; echo "${b%.c}.h" ;;
    *)                  echo ;;
    esac
}

fail=0

for f in ${p}_module.c src/${p}*.[ch]; do
    l=$(layer "$f")

    if [ -z "$l" ]; then
        echo "layers: $f is in no layer: place it in t/layers.sh"
        fail=1
        continue
    fi

    o=$(own "$f")
    incs=$(sed -n "s/^#include \"\\(${p}[a-z_]*\\.h\\)\"/\\1/p" "$f")
    echo "$f ($l):" $incs

    for h in $incs; do
        hl=$(layer "$h")

        if [ "$h" = "$o" ]; then
            continue
        fi

        if [ -z "$hl" ] || [ "$hl" -ge "$l" ]; then
            echo "layers: $f (layer $l) includes $h (layer ${hl:-none})"
            fail=1
        fi
    done
done

# a .c file that declared another's function itself would dodge the above
for f in ${p}_module.c src/${p}*.c; do
    if grep -nE '^(extern|[a-z_]+ \**ngx_http_smsverify_[a-z_]*\()' "$f"; then
        echo "layers: $f declares what a header should"
        fail=1
    fi
done

for f in src/sv_*.[ch]; do
    if grep -q '^#include [<"]ngx_' "$f"; then
        echo "layers: $f is plain C but includes an nginx header"
        fail=1
    fi
done

[ $fail = 0 ] && echo "layers: ok"
exit $fail
