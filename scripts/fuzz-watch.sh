#!/usr/bin/env bash
# Builds the watch-stream libFuzzer target with clang (ASan + UBSan) and runs it for a bounded
# time on a copy of the seed corpus. Usage: fuzz-watch.sh [seconds] [work-dir]
# Exit 77 (ctest SKIP) when clang or the libFuzzer runtime is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-20}"
work="${2:-$(mktemp -d)}"
mkdir -p "$work"
clangxx="$(command -v clang++ || command -v clang++-14 || true)"
if [ -z "$clangxx" ]; then
  echo "fuzz-watch: SKIP: clang++ not found"
  exit 77
fi
bin="$work/watch_stream_fuzzer"
sources=(
  "$root/tests/kube/fuzz/watch_stream_fuzzer.cc"
  "$root/src/kube/api_error.cc"
  "$root/src/kube/internal.cc"
  "$root/src/kube/watch_decoder.cc"
  "$root/src/kube/field_mask.cc"
  "$root/src/common/status.cc"
)
newest_source=$(ls -t "${sources[@]}" "$root"/src/kube/*.h "$root"/include/ringleader/kube/*.h | head -1)
if [ ! -x "$bin" ] || [ "$newest_source" -nt "$bin" ]; then
  # Can this clang build a libFuzzer binary at all? If not, skip rather than fail.
  printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
    > "$work/probe.cc"
  if ! "$clangxx" -fsanitize=fuzzer "$work/probe.cc" -o "$work/probe" 2>"$work/probe.log"; then
    echo "fuzz-watch: SKIP: $clangxx cannot link libFuzzer (install libclang-rt-14-dev):"
    cat "$work/probe.log"
    exit 77
  fi
  if ! "$clangxx" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined \
      -fno-sanitize-recover=undefined -I"$root/include" "${sources[@]}" -o "$bin.tmp" 2>"$work/build.log"; then
    cat "$work/build.log"
    exit 1
  fi
  mv "$bin.tmp" "$bin"
fi
corpus="$work/corpus"
mkdir -p "$corpus"
cp -n "$root"/tests/kube/fuzz/corpus/* "$corpus"/ 2>/dev/null || true
cd "$work"
# -max_len keeps single inputs small enough to run many per second; rss_limit bounds memory.
set +e
"$bin" "$corpus" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=1024 -print_final_stats=1 \
  -timeout=10 2>&1 | tail -25
status=${PIPESTATUS[0]}
echo "fuzz-watch: exit $status"
exit "$status"
