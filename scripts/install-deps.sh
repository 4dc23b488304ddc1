#!/usr/bin/env bash
# Installs what trainers and the tests need when it is missing. Debian/Ubuntu; needs root (or
# sudo) for apt-get.
#
#   scripts/install-deps.sh            the C libraries a trainer links with (OpenBLAS, zlib),
#                                      Open MPI (data-parallel trainers: dlc compile --mpi, and
#                                      their tests), binutils (objcopy, for the fuzz targets) and
#                                      the renderers the tests draw pictures with (Graphviz's dot
#                                      for --emit dot, librsvg's rsvg-convert for the --plot SVG)
#   ... --python                       also Python's safetensors/numpy (optional interop tests)
#   ... --fuzz                         also a clang that ships libFuzzer, unless one is there
#                                      already (/opt/swift's clang does): Debian's clang and
#                                      libclang-rt-dev
#   ... --cuda                         also the CUDA toolkit from PyPI wheels (nvcc 13, the CUDA
#                                      runtime, cuBLAS, NCCL headers) into a cache folder outside
#                                      the repository, and g++ for nvcc and the CPU emulation;
#                                      then compile-checks a kernel with a cuBLAS call for sm_80
#                                      and sm_90, and a file that includes nccl.h
#   ... --print-cuda-home              prints the folder of that toolkit (nvcc is in bin/)
#
# The CUDA folder is $DLC_CUDA_WHEELS, or ~/.cache/dlc/cuda-wheels; its toolkit is in
# nvidia/cu13 (bin/nvcc, include/, lib/libcudart.so.13, lib/libcublas.so.13) and NCCL in
# nvidia/nccl. No GPU is needed for any of it: a GPU machine brings its own driver.
set -euo pipefail
want_python=0 want_cuda=0 fuzz=0
for arg in "$@"; do
    case "$arg" in
    --python) want_python=1 ;;
    --fuzz) fuzz=1 ;;
    --cuda) want_cuda=1 ;;
    --print-cuda-home) want_cuda=2 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
    esac
done
wheels=${DLC_CUDA_WHEELS:-${HOME:-/root}/.cache/dlc/cuda-wheels}
cuda_home="$wheels/nvidia/cu13"
if [ "$want_cuda" -eq 2 ]; then
    echo "$cuda_home"
    exit 0
fi

need=()
packages=(libopenblas-dev zlib1g-dev openmpi-bin libopenmpi-dev binutils graphviz librsvg2-bin)
[ "$want_cuda" -eq 1 ] && packages+=(g++)
for pkg in "${packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# A clang that can build a libFuzzer target (scripts/fuzz.sh looks for the same ones).
has_libfuzzer() {
    local dir cc
    dir=$(mktemp -d)
    echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$dir/t.c"
    for cc in ${FUZZ_CC:-} clang /opt/swift/usr/bin/clang /usr/bin/clang; do
        command -v "$cc" >/dev/null 2>&1 && "$cc" -fsanitize=fuzzer,address "$dir/t.c" -o "$dir/t" 2>/dev/null && { rm -rf "$dir"; return 0; }
    done
    rm -rf "$dir"
    return 1
}
if [ $fuzz -eq 1 ] && ! has_libfuzzer; then
    need+=(clang libclang-rt-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    echo "installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$want_python" -eq 1 ]; then
    python3 -c "import safetensors, numpy" 2>/dev/null \
        || python3 -m pip install -q safetensors numpy 2>/dev/null \
        || echo "note: pip install safetensors numpy failed; Python interop checks will be skipped" >&2
fi
[ "$want_cuda" -eq 1 ] || exit 0

# ---- CUDA from PyPI ------------------------------------------------------------------------
# The wheels of CUDA 13: nvcc with its front end (crt) and NVVM, the runtime, CCCL (headers
# nvcc's own headers include), cuBLAS; NCCL for a later MPI + CUDA build. pip --target puts
# them in one folder, whose "checked" file records a passed compile check.
wheel_list=(nvidia-cuda-nvcc nvidia-cuda-crt nvidia-nvvm nvidia-cuda-runtime nvidia-cuda-cccl nvidia-cublas nvidia-nccl-cu13)
if [ ! -f "$wheels/checked" ]; then
    if [ ! -x "$cuda_home/bin/nvcc" ] || [ ! -f "$wheels/nvidia/nccl/include/nccl.h" ]; then
        echo "installing the CUDA toolkit wheels into $wheels" >&2
        mkdir -p "$wheels"
        python3 -m pip install -q --disable-pip-version-check --no-warn-script-location --upgrade \
            --target "$wheels" "${wheel_list[@]}" 2>&1 | grep -v "Running pip as the 'root' user" >&2 || true
    fi
    if [ ! -x "$cuda_home/bin/nvcc" ]; then
        echo "install-deps.sh: nvcc is not in $cuda_home/bin after pip install ${wheel_list[*]}" >&2
        exit 1
    fi
    # The libraries keep their versioned names only: link with -l:libcublas.so.13.
    check=$(mktemp -d)
    trap 'rm -rf "$check"' EXIT
    cat >"$check/check.cu" <<'EOF'
#include <cstdio>
#include <cublas_v2.h>
#include <cuda_runtime.h>
__global__ void twice(float *x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = __shfl_down_sync(0xffffffffu, x[i], 1) * 2.0f;
}
int main() {
    float *x = nullptr;
    if (cudaMalloc(&x, 1024 * sizeof(float)) != cudaSuccess) return 1;
    twice<<<4, 256>>>(x, 1024);
    cublasHandle_t h;
    cublasCreate(&h);
    const float one = 1.0f, zero = 0.0f;
    cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, 16, 16, 16, &one, x, 16, x, 16, &zero, x + 512, 16);
    return cudaDeviceSynchronize() == cudaSuccess ? 0 : 1;
}
EOF
    cat >"$check/nccl.cu" <<'EOF'
#include <nccl.h>
int main() { int v = 0; return ncclGetVersion(&v) == ncclSuccess ? 0 : 1; }
EOF
    host=$(command -v g++-12 || command -v g++)
    for arch in 80 90; do
        "$cuda_home/bin/nvcc" -ccbin "$host" -gencode "arch=compute_$arch,code=sm_$arch" -Werror all-warnings \
            "$check/check.cu" -o "$check/check_$arch" -L"$cuda_home/lib" -l:libcublas.so.13 -l:libcudart.so.13 \
            || { echo "install-deps.sh: nvcc cannot build a kernel with cuBLAS for sm_$arch" >&2; exit 1; }
    done
    "$cuda_home/bin/nvcc" -ccbin "$host" -arch=sm_80 -I"$wheels/nvidia/nccl/include" "$check/nccl.cu" \
        -o "$check/nccl" -L"$wheels/nvidia/nccl/lib" -l:libnccl.so.2 \
        || { echo "install-deps.sh: nvcc cannot build a file that uses NCCL" >&2; exit 1; }
    "$cuda_home/bin/nvcc" --version | tail -n 2 >"$wheels/checked"
    echo "CUDA toolkit ready: $("$cuda_home/bin/nvcc" --version | tail -n 1)" >&2
fi
