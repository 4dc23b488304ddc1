#!/usr/bin/env bash
# The main job: build dlc, then compile an example model and show its typed graph IR.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product dlc
.build/release/dlc compile models/digits.dl --emit ir
