#!/usr/bin/env bash
# Installs the C libraries a trainer links with (OpenBLAS, zlib) and Open MPI (data-parallel
# trainers, `dlc compile --mpi`) when they are missing.
# Debian/Ubuntu; needs root (or sudo). Python's safetensors/numpy are optional (interop tests).
set -euo pipefail
need=()
for pkg in libopenblas-dev zlib1g-dev openmpi-bin libopenmpi-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    echo "installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "${1:-}" = "--python" ]; then
    python3 -c "import safetensors, numpy" 2>/dev/null \
        || python3 -m pip install -q safetensors numpy 2>/dev/null \
        || echo "note: pip install safetensors numpy failed; Python interop checks will be skipped" >&2
fi
