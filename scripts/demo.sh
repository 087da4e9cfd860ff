#!/usr/bin/env bash
# The README's first command: installs what is missing, builds Ringleader, and runs
# examples/local-mlp.yaml in local mode: 4 workers train the demo MLP on this machine with the
# TCP ring all-reduce. It prints the loss going down (live view on a terminal, `[wN] step=...`
# lines otherwise), then per rank the first -> final loss and checksum, and
# "checksums identical: yes". Extra arguments go to `ringleader run` (e.g. --no-tty).
# Builds only what the demo runs (the `ringleader` and `ringleader-worker` programs), not the
# tests and benchmarks, so a fresh machine reaches the first loss line sooner.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TARGETS="ringleader ringleader-worker" ./scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
exec "$BUILD_DIR/src/cmd/ringleader/ringleader" run examples/local-mlp.yaml "$@"
