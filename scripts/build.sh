#!/usr/bin/env bash
# Installs dependencies, configures and builds Ringleader into ./build (or $BUILD_DIR).
# BUILD_TARGETS (space-separated CMake targets) builds only those, e.g. what the demo runs;
# unset, everything is built (every test and benchmark, as scripts/test.sh needs).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
fi
if [ -n "${BUILD_TARGETS:-}" ]; then
  # shellcheck disable=SC2086  # one word per target
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target $BUILD_TARGETS
else
  cmake --build "$BUILD_DIR" -j "$(nproc)"
fi
