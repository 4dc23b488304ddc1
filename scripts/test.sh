#!/usr/bin/env bash
# The test command: every Swift test (golden files, gradient checks, interpreter, robustness),
# then the C runtime's tests if a C compiler and OpenBLAS are there.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build 2>&1 | tee /tmp/dlc-swift-test.log | grep -vE "^Test Case .*(started|passed)" || true
# `tee` hides swift test's status: read it back from its closing lines.
if grep -qE "with [1-9][0-9]* failures?|error: " /tmp/dlc-swift-test.log \
   || ! grep -qE "Executed [0-9]+ tests?, with 0 failures" /tmp/dlc-swift-test.log; then
    echo "swift test failed" >&2
    exit 1
fi
if [ -x codegen/tests/run.sh ]; then
    codegen/tests/run.sh
fi
