#!/usr/bin/env bash
# The main job: install the C libraries if missing, build dlc (release), then compile the
# digits classifier and train it on its shipped data, printing progress and accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product dlc
.build/release/dlc train models/digits.dl --save digits.safetensors
echo
echo "eval of the saved params on the whole file:"
.build/release/dlc compile models/digits.dl -o .build/digits
.build/digits eval --data models/data/digits.csv --weights digits.safetensors
