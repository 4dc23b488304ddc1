#!/usr/bin/env bash
# The test command: installs the C libraries and the CUDA toolkit (PyPI wheels, into a cache
# folder) if missing, then runs every Swift test (golden files, gradient checks, interpreter,
# C, LLVM and CUDA backends against the interpreter, the CUDA backend's nvcc compile check and
# CPU emulation, trainers end to end, robustness), then the C runtime's own tests, plain and
# under the sanitizers, then data-parallel trainers under mpirun, then a short fuzzing run of
# each reader. No GPU is needed: scripts/gpu-check.sh is the check on a real one (run here
# under the emulation).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --python --fuzz --cuda
export DLC_NVCC="${DLC_NVCC:-$(scripts/install-deps.sh --print-cuda-home)/bin/nvcc}"
swift build --build-tests
log=$(mktemp)
set +e
swift test --skip-build 2>&1 | tee "$log" | grep -vE "^Test Case .*(started|passed)"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -n 1)
rm -f "$log"
if [ "$status" -ne 0 ] || ! echo "$summary" | grep -q "with 0 failures"; then
    echo "swift test failed" >&2
    exit 1
fi
bash codegen/tests/run.sh
# The same checks against trainers built with AddressSanitizer and UBSan: a memory error or
# undefined behaviour in the runtime fails the run even where the output looks right.
bash codegen/tests/run.sh --sanitize
# Data-parallel trainers (dlc compile --mpi) under mpirun: K processes train as one.
DLC=.build/debug/dlc bash codegen/tests/mpi.sh
# The GPU check, prepared and run under the CPU emulation on digits (the GPU session's first
# stage), once with this machine's OpenBLAS and zlib and once with the fallbacks it carries.
gpu_dir=$(mktemp -d)
DLC=.build/debug/dlc scripts/gpu-check.sh prepare "$gpu_dir"
"$gpu_dir/gpu-check.sh" run "$gpu_dir" --emulate --models digits
GPU_CHECK_FALLBACK=1 "$gpu_dir/gpu-check.sh" run "$gpu_dir" --emulate --models digits
rm -rf "$gpu_dir"
# Coverage-guided fuzzing of every reader (CSV, .npy, IDX, gzip, safetensors, checkpoint
# metadata, flags), 100000 inputs each from the committed seeds and a fixed random seed, so the
# run is repeatable: any crash or sanitizer finding fails. Long campaigns: scripts/fuzz.sh 300.
# The fresh corpus makes the run the same on every clean clone.
rm -rf .build/fuzz/corpus
FUZZ_RUNS=100000 scripts/fuzz.sh
