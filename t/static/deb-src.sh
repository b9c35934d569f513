#!/bin/bash
#
# Gives apt a deb-src entry for every deb entry of the distribution's own
# suites (bookworm, bookworm-updates, bookworm-security, ... of the
# codename in /etc/os-release), same mirror, components and keyring, so
# that `apt-get source` can fetch Debian's source packages. Third-party
# repositories (their suites are not the codename's) are left alone.
# Idempotent: the entries go to one file, rewritten only when they change.
# Needs root (or sudo) to write it.
#
#   t/static/deb-src.sh         prints the file's path; 0 if it is in place

set -eu -o pipefail

out=/etc/apt/sources.list.d/smsverify-deb-src.sources

. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}

# the distribution's suites: "bookworm" or "bookworm-<something>"
is_own_suite() {
    case "$1" in
        "$codename" | "$codename"-*) return 0 ;;
    esac
    return 1
}

# one deb822 stanza per (uris, suites, components, signed-by), from the
# deb822 *.sources files and the one-line sources.list / *.list files
entries() {
    local f

    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && [ "$f" != "$out" ] || continue
        # stanzas are separated by blank lines; keep the keys we copy
        awk -v RS= '{ print; print "\x1e" }' "$f"
    done | awk -v RS='\x1e\n' '
        {
            types = uris = suites = comps = signed = ""
            n = split($0, line, "\n")
            for (i = 1; i <= n; i++) {
                if (line[i] ~ /^#/) continue
                if (match(line[i], /^[A-Za-z-]+:[ \t]*/)) {
                    key = tolower(substr(line[i], 1, RLENGTH))
                    val = substr(line[i], RLENGTH + 1)
                    sub(/:.*/, "", key)
                    if (key == "types") types = val
                    else if (key == "uris") uris = val
                    else if (key == "suites") suites = val
                    else if (key == "components") comps = val
                    else if (key == "signed-by") signed = val
                    else if (key == "enabled" && tolower(val) == "no")
                        types = ""
                }
            }
            if (types ~ /(^| )deb( |$)/ && uris != "")
                print uris "\t" suites "\t" comps "\t" signed
        }'

    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI SUITE COMPONENT...
        sed -n 's/^[[:space:]]*deb[[:space:]]\+//p' "$f" | while read -r line
        do
            local signed=""
            if [[ $line == \[* ]]; then
                opts=${line%%]*}
                line=${line#*]}
                if [[ $opts =~ signed-by=([^[:space:]]+) ]]; then
                    signed=${BASH_REMATCH[1]}
                fi
            fi
            read -r uri suite comps <<<"$line"
            printf '%s\t%s\t%s\t%s\n' "$uri" "$suite" "$comps" "$signed"
        done
    done
}

stanzas() {
    local uris suites comps signed s own

    while IFS=$'\t' read -r uris suites comps signed; do
        own=
        for s in $suites; do
            is_own_suite "$s" && own="$own $s"
        done
        [ -n "$own" ] || continue
        echo "Types: deb-src"
        echo "URIs: $uris"
        echo "Suites:$own"
        echo "Components: $comps"
        [ -z "$signed" ] || echo "Signed-By: $signed"
        echo
    done < <(entries | sort -u)
}

want=$(printf '# written by ngx_http_smsverify_module t/static/deb-src.sh\n\n'
       stanzas)

if ! grep -q '^Types: deb-src' <<<"$want"; then
    echo "deb-src: no deb entry for $codename's suites in /etc/apt" >&2
    exit 1
fi

if [ "$(cat "$out" 2>/dev/null)" != "$want" ]; then
    if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
    printf '%s\n' "$want" | $sudo tee "$out" >/dev/null
    echo "deb-src: wrote $out" >&2
fi

echo "$out"
