#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: coverage-guided fuzzing of the trainer's readers.
#
# Builds one libFuzzer binary per reader in codegen/fuzz/ (clang -fsanitize=fuzzer with
# AddressSanitizer and UBSan, no recovery) and runs each for SECONDS (default 300), starting
# from the committed seeds in codegen/fuzz/corpus/TARGET/. Targets: csv npy idx gzip
# safetensors metadata flags (default: all). Prints one line per target (executions, coverage,
# features, corpus size). FUZZ_RUNS=N replaces the time limit with N inputs per target from a
# fixed random seed (FUZZ_SEED, default 1), so a run is repeatable: scripts/test.sh uses it.
# Exits 1 if any target found a crash, a memory error, undefined
# behaviour, a hang (-timeout 10 s) or runaway memory (-rss_limit_mb 2048); the input that did
# it is saved as .build/fuzz/findings/TARGET-crash-... and can be replayed with
# `.build/fuzz/bin/fuzz_TARGET FILE`.
#
# New inputs that reach new code stay in .build/fuzz/corpus/TARGET/ (not committed), so a
# later run goes on from them. FUZZ_CC picks the compiler (default: the first clang that ships
# libFuzzer: on PATH, /opt/swift's, Debian's with libclang-rt-dev). FUZZ_JOBS=N runs
# N targets at once (default 1: the machine may be shared). scripts/test.sh runs FUZZ_RUNS=100000.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_EACH=${1:-300}
[ $# -gt 0 ] && shift
ALL=(csv npy idx gzip safetensors metadata flags)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL[@]}")
BUILD=$ROOT/.build/fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=c11 -Wall -Wextra -Werror"

# Every input is written to a file for the reader to open: on a RAM disk when there is one
# (a busy disk made /tmp 10x slower).
scratch_root=/dev/shm
[ -d "$scratch_root" ] && [ -w "$scratch_root" ] || scratch_root=${TMPDIR:-/tmp}
scratch=$(mktemp -d "$scratch_root/dlc-fuzz.XXXXXX")
probe=$scratch/probe
mkdir -p "$probe"
trap 'rm -rf "$scratch"' EXIT
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$probe/t.c"
# The first clang that can build a libFuzzer target (scripts/install-deps.sh --fuzz installs
# one when none can).
CC=""
for cc in ${FUZZ_CC:-} clang /opt/swift/usr/bin/clang /usr/bin/clang; do
    if command -v "$cc" > /dev/null 2>&1 && "$cc" -fsanitize=fuzzer,address "$probe/t.c" -o "$probe/t" 2>> "$probe/log"; then
        CC=$cc
        break
    fi
done
if [ -z "$CC" ]; then
    echo "error: no clang here can build a libFuzzer target (-fsanitize=fuzzer); set FUZZ_CC to one that ships" >&2
    echo "libFuzzer (/opt/swift/usr/bin/clang does; Debian: scripts/install-deps.sh --fuzz)" >&2
    sed 's/^/  /' "$probe/log" >&2
    exit 2
fi
# lld when the compiler can use it (GNU gold warns about every ASan symbol it cannot export).
LDFLAGS=""
"$CC" -fuse-ld=lld -fsanitize=fuzzer "$probe/t.c" -o "$probe/t" 2> /dev/null && LDFLAGS=-fuse-ld=lld

# ---- Build ---------------------------------------------------------------------------------------

# The runtime, instrumented for coverage. Its calls of exit, the allocator, open/fopen, zlib's
# inflateInit2_/inflateEnd and its stderr go to codegen/fuzz/fuzz_support.c instead (see
# there why): renamed in these objects only, so libFuzzer and the sanitizers keep the real ones.
mkdir -p "$BUILD/obj" "$BUILD/bin" "$BUILD/findings"
renames=()
for sym in exit malloc calloc realloc free aligned_alloc open close fopen fclose inflateInit2_ inflateEnd stderr; do
    renames+=(--redefine-sym "$sym=dlc_fuzz_$sym")
done
echo "building the fuzz targets ($("$CC" --version | head -1))" >&2
objs=()
# The runtime's parts are codegen/'s folders (tests/ and fuzz/ aside), each an include directory.
parts=$(find codegen -mindepth 1 -maxdepth 1 -type d ! -name tests ! -name fuzz | sort)
CFLAGS="$CFLAGS -Icodegen $(for d in $parts; do printf -- '-I%s ' "$d"; done)"
for src in $(find $parts -name 'dlc_*.c' | sort); do
    name=$(basename "$src" .c)
    [ "$name" = dlc_main ] && continue # main() is libFuzzer's
    obj=$BUILD/obj/$name.o
    objs+=("$obj")
    (nice "$CC" $CFLAGS $SAN -fsanitize=fuzzer-no-link -c "$src" -o "$obj.raw" && objcopy "${renames[@]}" "$obj.raw" "$obj") &
    [ "$(jobs -r | wc -l)" -ge 2 ] && wait -n
done
for src in codegen/fuzz/fuzz_support.c codegen/fuzz/fuzz_model.c; do
    nice "$CC" $CFLAGS $SAN -c "$src" -o "$BUILD/obj/$(basename "$src" .c).o" &
done
wait
for t in "${TARGETS[@]}"; do
    [ -f "codegen/fuzz/fuzz_$t.c" ] || { echo "error: no target '$t' (${ALL[*]})" >&2; exit 2; }
    nice "$CC" $CFLAGS $SAN $LDFLAGS -fsanitize=fuzzer "codegen/fuzz/fuzz_$t.c" "$BUILD/obj/fuzz_support.o" \
        "$BUILD/obj/fuzz_model.o" "${objs[@]}" -lopenblas -lz -lm -o "$BUILD/bin/fuzz_$t"
done

# ---- Run -----------------------------------------------------------------------------------------

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
run_one() { # run_one TARGET: fuzzes it; prints its summary line; returns 1 on a finding
    local t=$1 work=$BUILD/work/$1 corpus=$BUILD/corpus/$1 log=$BUILD/work/$1.log
    rm -rf "$work" "$scratch/$t"
    mkdir -p "$work" "$scratch/$t" "$corpus"
    local dict=() rc=0
    [ -f "codegen/fuzz/$t.dict" ] && dict=(-dict="$ROOT/codegen/fuzz/$t.dict")
    local budget=(-max_total_time="$SECONDS_EACH") label="${SECONDS_EACH}s"
    if [ -n "${FUZZ_RUNS:-}" ]; then
        budget=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
        label="${FUZZ_RUNS} runs, seed ${FUZZ_SEED:-1}"
    fi
    (cd "$work" && TMPDIR=$scratch/$t nice "$BUILD/bin/fuzz_$t" "${budget[@]}" -timeout=10 \
        -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$BUILD/findings/$t-" "$corpus" "$ROOT/codegen/fuzz/corpus/$t") > "$log" 2>&1 || rc=$?
    local execs cov ft corp
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || true)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*' || true)
    ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*' || true)
    corp=$(grep -Eo 'corp: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*' || true)
    if [ $rc -eq 0 ]; then
        printf '%-12s ok     %10s execs  cov %5s  ft %6s  corpus %5s  (%s)\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$label"
        return 0
    fi
    printf '%-12s FINDING (exit %d) after %s execs; log: %s\n' "$t" "$rc" "${execs:-?}" "$log"
    grep -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|Test unit written|ERROR: libFuzzer' "$log" | head -8 | sed 's/^/    /'
    return 1
}
mkdir -p "$BUILD/work"
status=0
if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
    for t in "${TARGETS[@]}"; do
        run_one "$t" > "$BUILD/work/$t.summary" &
        [ "$(jobs -r | wc -l)" -ge "$FUZZ_JOBS" ] && wait -n
    done
    wait
    for t in "${TARGETS[@]}"; do
        cat "$BUILD/work/$t.summary"
        grep -q ' ok ' "$BUILD/work/$t.summary" || status=1
    done
else
    for t in "${TARGETS[@]}"; do run_one "$t" || status=1; done
fi
exit $status
