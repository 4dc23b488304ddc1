#!/usr/bin/env bash
# Installs what the tests need when it is missing: the C libraries a trainer links with
# (OpenBLAS, zlib) and binutils (objcopy, for the fuzz targets). Debian/Ubuntu; needs root
# (or sudo).
#   --python  also Python's safetensors/numpy (optional: the interop checks skip without them)
#   --fuzz    also a clang that ships libFuzzer, unless one is there already (/opt/swift's
#             clang does): Debian's clang and libclang-rt-dev
set -euo pipefail
python=0 fuzz=0
for arg in "$@"; do
    case $arg in
    --python) python=1 ;;
    --fuzz) fuzz=1 ;;
    *) echo "usage: $0 [--python] [--fuzz]" >&2; exit 2 ;;
    esac
done
need=()
for pkg in libopenblas-dev zlib1g-dev binutils; do
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
if [ $python -eq 1 ]; then
    python3 -c "import safetensors, numpy" 2>/dev/null \
        || python3 -m pip install -q safetensors numpy 2>/dev/null \
        || echo "note: pip install safetensors numpy failed; Python interop checks will be skipped" >&2
fi
