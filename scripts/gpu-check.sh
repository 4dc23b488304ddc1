#!/usr/bin/env bash
# The CUDA backend on a real GPU, in two steps, because the GPU machine has nvcc, cuBLAS and
# PyTorch but no Swift and no network:
#
#   scripts/gpu-check.sh prepare DIR      on a machine with dlc (.build/release/dlc, .build/debug/dlc
#                                         or $DLC): every model's generated sources (.cu, its C
#                                         descriptor, and the C backend's .c), the runtime, the data,
#                                         the benchmark and the fallbacks below, into DIR
#   DIR/gpu-check.sh run DIR [--emulate] [--models a,b,...]
#                                         on the GPU machine: builds the models' C and CUDA trainers
#                                         with the machine's own compilers; first digits: trains it
#                                         with both (per-epoch losses within 1e-4 relative), each
#                                         trainer evaluates the other's checkpoint, predictions
#                                         compared, its batches streamed against kept on the GPU
#                                         (checkpoints equal), and both timed over 10 epochs; then every other
#                                         model the same way; compute-sanitizer (memcheck,
#                                         racecheck) on two models; the GPU benchmark
#                                         (bench/gpu/gpu_bench.py)
#
# From a session with the device tool (its working tree travels; DIR must too):
#   here:    scripts/gpu-check.sh prepare gpu-check && echo /gpu-check/ >>.git/info/exclude
#   device:  run(command: "bash gpu-check/gpu-check.sh run gpu-check", carry: ["gpu-check"], timeout_s: 560)
# The stages run in that order of importance and stop starting new ones after
# GPU_CHECK_BUDGET seconds (default 480), saying what they skipped, so that one command ends
# inside a 10-minute limit; --models digits runs digits alone. The output also goes to
# $OUT/gpu-check.log when OUT is set (the device tool brings that folder back).
#
# --emulate runs the same checks without a GPU: the CUDA trainers are built by the host C++
# compiler against the CPU emulation (codegen/dlc_cuda_emulation.h); the sanitizer and the
# benchmark, which need a GPU, are skipped, and it says so. It is how this script is tested
# (scripts/test.sh runs it on digits).
# Tools: CC (default cc), NVCC (default nvcc), CXX (default g++, --emulate), python3 with NumPy
# (and PyTorch for the benchmark); a missing one is named at the start. Without OpenBLAS's or
# zlib's development files, the C trainers use the plain SGEMM and the zlib header that prepare
# put in DIR/fallback (zlib's library itself, libz.so.1, is on every such machine).
# Ends with "N passed, M failed"; exit 1 when something failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)

prepare() {
    local dir=$1 root dlc
    root=$(cd "$here/.." && pwd)
    dlc=${DLC:-}
    for d in "$root/.build/release/dlc" "$root/.build/debug/dlc"; do [ -z "$dlc" ] && [ -x "$d" ] && dlc=$d; done
    [ -n "$dlc" ] || { echo "gpu-check.sh prepare: no dlc binary (swift build first, or set DLC)" >&2; exit 2; }
    mkdir -p "$dir/runtime" "$dir/models" "$dir/data" "$dir/bench"
    # The runtime's files, its parts' folders flattened as dlc's build cache holds them.
    find "$root/codegen" \( -path "$root/codegen/tests" -o -path "$root/codegen/fuzz" \) -prune -o -type f \
        \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cpp' \) -exec cp {} "$dir/runtime/" \;
    cp "$root"/models/data/*.csv "$dir/data/"
    cp "$root"/bench/gpu/*.py "$root"/bench/gpu/*.cu "$dir/bench/"
    cp "$0" "$dir/gpu-check.sh"
    mkdir -p "$dir/fallback/blas" "$dir/fallback/zlib"
    cp "$here"/gpu-check/cblas.h "$here"/gpu-check/cblas_fallback.c "$dir/fallback/blas/"
    for h in zlib.h zconf.h; do
        [ -f "/usr/include/$h" ] && cp "/usr/include/$h" "$dir/fallback/zlib/"
        [ -f "/usr/include/x86_64-linux-gnu/$h" ] && cp "/usr/include/x86_64-linux-gnu/$h" "$dir/fallback/zlib/"
    done
    for model in "$root"/models/*.dl "$root"/bench/models/mnist_sgd.dl; do
        local name out data
        name=$(basename "$model" .dl)
        out="$dir/models/$name"
        mkdir -p "$out"
        "$dlc" compile "$model" --emit cuda >"$out/model.cu" &&
            "$dlc" compile "$model" --backend cuda --emit c >"$out/descriptor.c" &&
            "$dlc" compile "$model" --emit c >"$out/model.c" ||
            { echo "gpu-check.sh prepare: dlc cannot compile $model" >&2; exit 1; }
        # The data file the model names (its folder differs on the GPU machine): --data there.
        data=$(sed -n 's/^[[:space:]]*data[[:space:]]*"\(.*\)".*/\1/p' "$model" | head -n 1)
        if [ -n "$data" ]; then basename "$data" >"$out/data"
        elif grep -q '^[[:space:]]*input[[:space:]]' "$model"; then echo "-" >"$out/data"  # data of its own (--input)
        else : >"$out/data"; fi
    done
    echo "prepared $(ls "$dir/models" | wc -l) models in $dir; on the GPU machine: $dir/gpu-check.sh run $dir" >&2
}

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | head -n 20 | sed 's/^/       /'
    return 0
}

# Per-epoch losses (loss, val_loss) and mse/mae of two --log files within 1e-4 relative; the
# accuracy within 0.01, since a row whose two largest logits nearly tie can flip with the
# rounding of another summation order (one of digits_cnn's 359 validation rows does).
compare_logs() {
    python3 - "$1" "$2" <<'EOF'
import csv, sys
a, b = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
if len(a) != len(b) or not a:
    sys.exit(f"{len(a)} and {len(b)} epochs")
for i, (r, s) in enumerate(zip(a, b)):
    for k in ("loss", "val_loss", "accuracy", "mse", "mae"):
        if r.get(k) and s.get(k):
            x, y = float(r[k]), float(s[k])
            if abs(x - y) > (0.01 if k == "accuracy" else 1e-4 * abs(y) + 1e-6):
                sys.exit(f"epoch {i + 1} {k}: CUDA {x}, C {y}")
EOF
}

# Two outputs of eval (NAME: X lines) or predict (CSV) equal within 1e-4 relative.
compare_numbers() {
    python3 - "$1" "$2" <<'EOF'
import re, sys
num = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|nan|inf")
a, b = (num.findall(open(p).read()) for p in sys.argv[1:3])
if len(a) != len(b):
    sys.exit(f"{len(a)} and {len(b)} numbers")
for i, (x, y) in enumerate(zip(a, b)):
    x, y = float(x), float(y)
    if not (abs(x - y) <= 1e-4 * abs(y) + 1e-5 or x == y):
        sys.exit(f"number {i}: {x} vs {y}")
EOF
}

# Seconds since the run began; over the budget, a stage is skipped with a note.
elapsed() { echo $(( $(date +%s) - started )); }
over_budget() {
    if [ "$(elapsed)" -ge "$budget" ]; then
        echo "skip $1: past the ${budget} s budget (GPU_CHECK_BUDGET) after $(elapsed) s"
        return 0
    fi
    return 1
}

# Trains, evaluates and predicts one model with both trainers and compares them.
check_model() {
    local dir=$1 name=$2 m="$1/models/$2" data args=()
    data=$(cat "$m/data")
    if [ "$data" = "-" ]; then
        echo "skip $name: it reads data it does not name (--input)"
        return
    elif [ -n "$data" ]; then
        [ -f "$dir/data/$data" ] || { echo "skip $name: no $data"; return; }
        args=(--data "$dir/data/$data" --epochs 2)
    else
        args=(--steps 20)
    fi
    local good=1 why=""
    for t in c cuda; do
        rm -f "$m/$t.log"
        if ! (cd "$m" && "./${t}_trainer" train "${args[@]}" --log "$t.log" --save "$t.safetensors" >"$t.out" 2>&1); then
            good=0 why="$t trainer: $(tail -n 5 "$m/$t.out")"
        fi
    done
    [ $good -eq 1 ] && why=$(compare_logs "$m/cuda.log" "$m/c.log" 2>&1) || good=0
    if [ $good -eq 1 ]; then ok "$name: CUDA training matches C"; else fail "$name: CUDA training matches C" "$why"; return; fi
    [ -n "$data" ] || return
    # Both trainers evaluate both checkpoints: the CUDA trainer's numbers must be the C trainer's.
    local detail=""
    for w in c cuda; do
        for t in c cuda; do
            (cd "$m" && "./${t}_trainer" eval --data "$dir/data/$data" --weights "$w.safetensors" >"eval_${t}_$w.txt" 2>&1) ||
                detail+="$t eval of the $w checkpoint: $(cat "$m/eval_${t}_$w.txt") "
        done
        [ -z "$detail" ] && detail+=$(compare_numbers "$m/eval_cuda_$w.txt" "$m/eval_c_$w.txt" 2>&1)
    done
    if [ -z "$detail" ]; then ok "$name: checkpoints interchangeable"; else fail "$name: checkpoints interchangeable" "$detail"; fi
    if (cd "$m" && ./cuda_trainer predict --data "$dir/data/$data" --weights c.safetensors --out p_cuda.csv >/dev/null 2>&1 &&
        ./c_trainer predict --data "$dir/data/$data" --weights c.safetensors --out p_c.csv >/dev/null 2>&1) &&
        detail=$(compare_numbers "$m/p_cuda.csv" "$m/p_c.csv" 2>&1); then
        ok "$name: predictions match"
    else
        fail "$name: predictions match" "$detail"
    fi
}

# A data set streamed batch by batch (DLC_CUDA_STREAM=1: copied ahead while the step before
# computes) trains to the same checkpoint, bit for bit, as one kept on the GPU.
check_streaming() {
    local dir=$1 name=$2 m="$1/models/$2" data
    data=$(cat "$m/data")
    local why=""
    for way in resident stream; do
        (cd "$m" && env $([ $way = stream ] && echo DLC_CUDA_STREAM=1) ./cuda_trainer train --data "$dir/data/$data" \
            --epochs 2 --save "$way.safetensors" >"$way.out" 2>&1) || why+="$way: $(tail -n 5 "$m/$way.out") "
    done
    [ -z "$why" ] && { cmp -s "$m/resident.safetensors" "$m/stream.safetensors" || why="the checkpoints differ"; }
    if [ -z "$why" ]; then ok "$name: streamed batches train as resident ones"; else fail "$name: streamed batches train as resident ones" "$why"; fi
}

# Both trainers of one model over `epochs` epochs, timed (wall clock, the whole command).
time_model() {
    local dir=$1 name=$2 epochs=$3 m="$1/models/$2" data rows
    data=$(cat "$m/data")
    [ -n "$data" ] && [ "$data" != "-" ] && [ -f "$dir/data/$data" ] || return
    local line="" t0 t1 secs
    for t in c cuda; do
        t0=$(date +%s.%N)
        if ! (cd "$m" && "./${t}_trainer" train --data "$dir/data/$data" --epochs "$epochs" --log "time_$t.log" >"time_$t.out" 2>&1); then
            fail "$name: timed training ($t)" "$(tail -n 5 "$m/time_$t.out")"
            return
        fi
        t1=$(date +%s.%N)
        rows=$(sed -n 's/^train [^:]*: \([0-9]*\) rows.*/\1/p' "$m/time_$t.out")
        secs=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
        line+="  $t $secs s ($(python3 -c "print(f'{$epochs * ${rows:-0} / max($t1 - $t0, 1e-9):.0f}')") samples/s)"
    done
    echo "time $name, $epochs epochs, the model's batch:$line"
    ok "$name: timed"
}

run() {
    local dir emulate=0 cc nvcc cxx jobs only=""
    dir=$(cd "$1" && pwd)
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
        --emulate) emulate=1 ;;
        --models) only=",$2,"; shift ;;
        *) echo "gpu-check.sh run: unknown option $1" >&2; exit 2 ;;
        esac
        shift
    done
    started=$(date +%s) budget=${GPU_CHECK_BUDGET:-480}
    cc=${CC:-cc} nvcc=${NVCC:-nvcc} cxx=${CXX:-g++}
    jobs=$(( $(nproc) > 2 ? $(nproc) / 2 : 1 ))
    local missing=()
    command -v "$cc" >/dev/null || missing+=("a C compiler ($cc)")
    command -v python3 >/dev/null && python3 -c "import numpy" 2>/dev/null || missing+=("python3 with NumPy")
    if [ $emulate -eq 1 ]; then command -v "$cxx" >/dev/null || missing+=("a C++ compiler ($cxx)")
    else command -v "$nvcc" >/dev/null || missing+=("nvcc ($nvcc)"); fi
    if [ ${#missing[@]} -gt 0 ]; then
        printf 'gpu-check.sh: missing: %s\n' "${missing[@]}" >&2
        exit 2
    fi
    # OpenBLAS and zlib as the machine has them, or the fallbacks prepare brought.
    # GPU_CHECK_FALLBACK=1 uses the fallbacks anyway (how they are tested).
    local host_blas="-lopenblas" blas_src="" zlib="-lz" inc="-I$dir/runtime" fallback=${GPU_CHECK_FALLBACK:-0}
    if [ "$fallback" = 1 ] || ! printf '#include <cblas.h>\nint main(void){openblas_set_num_threads(1);return 0;}\n' |
        "$cc" -x c - -o /dev/null -lopenblas 2>/dev/null; then
        echo "note: no OpenBLAS here: the C trainers use the plain SGEMM of $dir/fallback/blas (slower, same results to rounding)"
        host_blas="" blas_src="$dir/fallback/blas/cblas_fallback.c" inc="$inc -I$dir/fallback/blas"
    fi
    if [ "$fallback" = 1 ] || ! printf '#include <zlib.h>\nint main(void){return zlibVersion() == 0;}\n' | "$cc" -x c - -o /dev/null -lz 2>/dev/null; then
        echo "note: no zlib development files here: zlib.h from $dir/fallback/zlib, linked with libz.so.1"
        zlib="-l:libz.so.1" inc="$inc -I$dir/fallback/zlib"
    fi
    local b="$dir/build"
    rm -rf "$b" && mkdir -p "$b/host" "$b/cuda"
    echo "== building the runtime ($([ $emulate -eq 1 ] && echo "CPU emulation, $cxx" || echo "$nvcc"))"
    local cflags="-O2 -std=c11 $inc" device_defines="-DDLC_DEVICE_CUDA"
    [ $emulate -eq 1 ] && device_defines="$device_defines -DDLC_CUDA_EMULATE"
    for f in "$dir"/runtime/*.c $blas_src; do
        case "$f" in *_mpi.c) continue ;; esac
        echo "$cc $cflags -c $f -o $b/host/$(basename "$f" .c).o"
        echo "$cc $cflags $device_defines -c $f -o $b/cuda/$(basename "$f" .c).o"
    done | xargs -P "$jobs" -I{} sh -c "{}" || { echo "the runtime does not build"; exit 1; }
    rm -f "$b/cuda/cblas_fallback.o"
    # The device compiler and its flags: the GPU of this machine (DLC_CUDA_ARCH overrides), or the emulation.
    local dev libs
    if [ $emulate -eq 1 ]; then
        dev="$cxx -x c++ -std=c++17 -O1 $device_defines $inc"
        libs="-lstdc++ -lopenblas $zlib -lm"
        printf '#include "dlc_cuda_context.cu"\n#include "dlc_device_cuda.cu"\n#include "dlc_cuda_emulation.cpp"\n' >"$b/device.cu"
    else
        dev="$nvcc -std=c++17 -O3 -arch=${DLC_CUDA_ARCH:-native} $device_defines $inc"
        libs="-lcublas $zlib -lm"
        printf '#include "dlc_cuda_context.cu"\n#include "dlc_device_cuda.cu"\n' >"$b/device.cu"
    fi
    $dev -c "$b/device.cu" -o "$b/device.o" || { echo "the CUDA device does not build"; exit 1; }
    # The CUDA trainer is linked by nvcc (its CUDA runtime and library paths), or by the C++
    # compiler under the emulation.
    local link=$nvcc
    [ $emulate -eq 1 ] && link=$cxx

    # digits first: the check that matters most runs before the budget can run out.
    local models=()
    [ -d "$dir/models/digits" ] && case "${only:-,digits,}" in *,digits,*) models+=(digits) ;; esac
    for m in "$dir"/models/*/; do
        local name
        name=$(basename "$m")
        [ "$name" = digits ] && continue
        [ -n "$only" ] && case "$only" in *",$name,"*) ;; *) continue ;; esac
        models+=("$name")
    done
    echo "== building the C and CUDA trainers of ${#models[@]} models ($(elapsed) s)"
    for name in "${models[@]}"; do
        local m="$dir/models/$name"
        echo "cd $m && $cc $cflags -c model.c -o c.o && $cc c.o $b/host/*.o $host_blas $zlib -lm -lpthread -o c_trainer && $cc $cflags -c descriptor.c -o d.o && $dev -c model.cu -o cu.o && $link cu.o d.o $b/device.o $b/cuda/*.o $libs -o cuda_trainer > build.log 2>&1 || echo build failed >> build.log"
    done | xargs -P "$jobs" -I{} sh -c "{}"
    for name in "${models[@]}"; do
        local m="$dir/models/$name"
        if [ -x "$m/c_trainer" ] && [ -x "$m/cuda_trainer" ]; then ok "$name builds"; else fail "$name builds" "$(cat "$m/build.log" 2>/dev/null)"; fi
    done

    echo "== training, evaluating and predicting with both trainers ($(elapsed) s)"
    for name in "${models[@]}"; do
        local m="$dir/models/$name"
        [ -x "$m/cuda_trainer" ] && [ -x "$m/c_trainer" ] || continue
        [ "$name" = mnist_sgd ] && continue  # the benchmark's model: trained by the benchmark
        over_budget "$name" && continue
        check_model "$dir" "$name"
        # Timed: 10 epochs on a GPU; 2 under the emulation, which is slow.
        [ "$name" = digits ] && check_streaming "$dir" digits
        [ "$name" = digits ] && time_model "$dir" digits $([ $emulate -eq 1 ] && echo 2 || echo 10)
    done

    if [ $emulate -eq 1 ]; then
        echo "== compute-sanitizer and the benchmark need a GPU: skipped under --emulate"
    else
        echo "== compute-sanitizer (memcheck, racecheck) ($(elapsed) s)"
        for name in digits line_grid; do
            local m="$dir/models/$name" data
            [ -x "$m/cuda_trainer" ] || continue
            data=$(cat "$m/data")
            for tool in memcheck racecheck; do
                over_budget "$name: compute-sanitizer $tool" && continue
                if out=$(cd "$m" && compute-sanitizer --tool "$tool" --error-exitcode 9 ./cuda_trainer train --data "$dir/data/$data" --epochs 1 2>&1); then
                    ok "$name: compute-sanitizer $tool"
                else
                    fail "$name: compute-sanitizer $tool" "$(echo "$out" | tail -n 20)"
                fi
            done
        done
        echo "== benchmark (g) ($(elapsed) s)"
        if [ ! -x "$dir/models/mnist_sgd/cuda_trainer" ]; then
            echo "skip benchmark (g): mnist_sgd was not built"
        elif ! over_budget "benchmark (g)"; then
            if $nvcc -O3 -o "$b/cublas_floor" "$dir/bench/cublas_floor.cu" -lcublas &&
                python3 "$dir/bench/gpu_bench.py" --trainer "$dir/models/mnist_sgd/cuda_trainer" --floor "$b/cublas_floor" --out "$dir/bench/report.md"; then
                ok "benchmark (g) ran (report: $dir/bench/report.md)"
                [ -n "${OUT:-}" ] && cp "$dir/bench/report.md" "$OUT/gpu-bench-report.md"
            else
                fail "benchmark (g) ran"
            fi
        fi
    fi
    echo "$passed passed, $failed failed ($(elapsed) s)"
    [ $failed -eq 0 ]
}

case "${1:-}" in
prepare) [ $# -eq 2 ] || { echo "usage: $0 prepare DIR" >&2; exit 2; }; prepare "$2" ;;
run)
    [ $# -ge 2 ] || { echo "usage: $0 run DIR [--emulate] [--models a,b,...]" >&2; exit 2; }
    shift
    if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
        run "$@" 2>&1 | tee "$OUT/gpu-check.log"
        exit "${PIPESTATUS[0]}"
    fi
    run "$@" ;;
*) echo "usage: $0 prepare DIR | $0 run DIR [--emulate] [--models a,b,...]" >&2; exit 2 ;;
esac
