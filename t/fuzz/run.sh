#!/bin/bash
#
# Builds the libFuzzer targets of t/fuzz and runs each for SECONDS
# (default 10), after replaying the crashes of t/fuzz/regressions.
# Fails if any target crashes, leaks, trips a sanitizer or breaks one of
# its invariants (an abort()).
#
#   t/fuzz/run.sh [SECONDS]
#
#   FUZZ_BUILD    build dir (default build/fuzz); the corpus each target
#                 grows is kept in FUZZ_BUILD/corpus/TARGET across runs,
#                 crashes land in FUZZ_BUILD/artifacts/TARGET/
#   FUZZ_TARGETS  the targets to run (default: all)
#   FUZZ_JOBS     libFuzzer -fork jobs per target (default 1: no fork)
#   FUZZ_FLAGS    more libFuzzer flags, e.g. "-only_ascii=1"
#   CLANG         the compiler (default clang)
#
# Long run (hours, both cores), keeping what it found:
#   FUZZ_JOBS=2 t/fuzz/run.sh 3600
# then fold what is new into the seed corpus, minimised:
#   build/fuzz/fuzz_body -merge=1 t/fuzz/corpus/body build/fuzz/corpus/body

set -eu -o pipefail

seconds=${1:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD:-$root/build/fuzz}
targets=${FUZZ_TARGETS:-"body phone email password nickname terms utf8 import"}
jobs=${FUZZ_JOBS:-1}
cc=${CLANG:-clang}

fuzz=$root/t/fuzz

# the sv_ files each target links, with what they need
declare -A srcs=(
    [body]="sv_json sv_text sv_phone sv_password sv_code"
    [phone]="sv_phone"
    [email]="sv_text"
    [password]="sv_password"
    [nickname]="sv_text"
    [terms]="sv_json sv_text"
    [utf8]="sv_text"
    [import]="sv_admin sv_member sv_json sv_text sv_phone"
)
declare -A refs=([body]=fuzz_ref [nickname]=fuzz_ref [utf8]=fuzz_ref)
declare -A dicts=([body]=json.dict [terms]=json.dict [import]=json.dict)

libs=(-lcjson -lcrypto -lcrypt -lm)
# shellcheck disable=SC2054  # the commas are in the flags
cflags=(-std=c99 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
        -Wall -Wextra -Werror -I"$root/src" -I"$fuzz"
        -fsanitize=address,undefined -fno-sanitize-recover=undefined)


have_libfuzzer() {
    command -v "$cc" >/dev/null 2>&1 || return 1
    echo 'int LLVMFuzzerTestOneInput(const char *d, long n)
          { (void) d; (void) n; return 0; }' \
        | "$cc" -x c - -fsanitize=fuzzer -o /dev/null >/dev/null 2>&1
}

if ! have_libfuzzer; then
    if [ "$(id -u)" != 0 ]; then
        echo "fuzz: needs clang and libclang-rt-14-dev" >&2
        exit 1
    fi
    echo "fuzz: installing clang libclang-rt-14-dev"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends clang libclang-rt-14-dev >/dev/null
    have_libfuzzer || { echo "fuzz: clang cannot link libFuzzer" >&2; exit 1; }
fi


# ---- build ------------------------------------------------------------------

mkdir -p "$build/obj"

echo "fuzz: building into $build"

for f in sv_json sv_text sv_phone sv_password sv_code sv_admin sv_member; do
    "$cc" "${cflags[@]}" -fsanitize=fuzzer-no-link -c "$root/src/$f.c" \
        -o "$build/obj/$f.o"
done

"$cc" "${cflags[@]}" -fsanitize=fuzzer-no-link -c "$fuzz/fuzz_ref.c" \
    -o "$build/obj/fuzz_ref.o"

for t in $targets; do
    [ -n "${srcs[$t]:-}" ] || { echo "fuzz: no target \"$t\"" >&2; exit 1; }

    objs=()
    for f in ${srcs[$t]} ${refs[$t]:-}; do
        objs+=("$build/obj/$f.o")
    done

    "$cc" "${cflags[@]}" -fsanitize=fuzzer "$fuzz/fuzz_$t.c" "${objs[@]}" \
        "${libs[@]}" -o "$build/fuzz_$t"
done


# ---- run --------------------------------------------------------------------

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
failures=

for t in $targets; do
    bin=$build/fuzz_$t
    corpus=$build/corpus/$t
    artifacts=$build/artifacts/$t
    log=$build/fuzz_$t.log
    mkdir -p "$corpus" "$artifacts"

    # the crashes found before, once each

    regressions=()
    if [ -d "$fuzz/regressions/$t" ]; then
        mapfile -t regressions < <(find "$fuzz/regressions/$t" -type f \
                                   | sort)
    fi

    if [ ${#regressions[@]} -gt 0 ]; then
        if ! "$bin" "${regressions[@]}" >"$log.regressions" 2>&1; then
            echo "fuzz: $t: a regression input fails again:" >&2
            grep -E 'ERROR|invariant|runtime error|Running:' \
                "$log.regressions" | tail -n 20 >&2
            failed=$((failed + 1))
            failures="$failures $t"
            continue
        fi
    fi

    opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
          -print_final_stats=1 -artifact_prefix="$artifacts/")

    if [ -n "${dicts[$t]:-}" ]; then
        opts+=(-dict="$fuzz/${dicts[$t]}")
    fi

    if [ "$jobs" -gt 1 ]; then
        opts+=(-fork="$jobs")
    fi

    # FUZZ_FLAGS is split on purpose: several flags in one variable
    # shellcheck disable=SC2206
    opts+=(${FUZZ_FLAGS:-})

    start=$(date +%s)

    if "$bin" "${opts[@]}" "$corpus" "$fuzz/corpus/$t" >"$log" 2>&1; then
        # "#RUNS: cov: N" (-fork) or "#RUNS ... cov: N", then the stats
        runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#' || true)
        cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 || true)
        echo "fuzz: $t: ok, $(($(date +%s) - start)) s, $runs runs, $cov," \
             "corpus $(find "$corpus" -type f | wc -l) files"
        passed=$((passed + 1))

    else
        echo "fuzz: $t: FAILED after $(($(date +%s) - start)) s;" \
             "log $log, input in $artifacts/" >&2
        grep -E 'ERROR|invariant|runtime error|SUMMARY' "$log" \
            | head -n 20 >&2
        failed=$((failed + 1))
        failures="$failures $t"
    fi
done

echo "fuzz: $passed passed, $failed failed"

if [ "$failed" -gt 0 ]; then
    echo "fuzz: failed:$failures" >&2
    exit 1
fi
