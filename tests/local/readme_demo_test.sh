#!/usr/bin/env bash
# The README's first command, as scripts/demo.sh ends it: `ringleader run examples/local-mlp.yaml`,
# unchanged (4 workers, 200 steps). Checks what the README promises it prints: a finished run,
# the loss going down on every worker, and identical checksums on all workers.
set -uo pipefail
ringleader=$1
source_dir=$2
fail() { echo "FAIL: $*"; echo "--- output"; echo "$out"; exit 1; }
grep -q 'ringleader/ringleader" run examples/local-mlp.yaml' "$source_dir/scripts/demo.sh" ||
  { echo "FAIL: scripts/demo.sh no longer runs examples/local-mlp.yaml: update this test"; exit 1; }
run_dir=$(mktemp -d)
trap 'rm -rf "$run_dir"' EXIT
out=$("$ringleader" run "$source_dir/examples/local-mlp.yaml" --run-dir "$run_dir" 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "exit code $rc"
grep -q '^Succeeded: all 4 workers exited with code 0$' <<<"$out" || fail "no 'Succeeded: all 4 workers' line"
grep -q '^checksums identical: yes$' <<<"$out" || fail "checksums not identical"
workers=0
while read -r first final; do
  workers=$((workers + 1))
  awk -v a="$first" -v b="$final" 'BEGIN { exit !(b < a / 4) }' || fail "loss $first -> $final did not go down 4x"
done < <(sed -nE 's/^  \[w[0-9]+\]  steps 200  loss ([0-9.e+-]+) -> ([0-9.e+-]+)  checksum [0-9a-f]{16}$/\1 \2/p' <<<"$out")
[ $workers -eq 4 ] || fail "want a summary line for each of 4 workers, got $workers"
ls "$run_dir"/attempt-0/worker-3.log >/dev/null 2>&1 || fail "no per-worker logs under the run directory"
echo "PASS: 4 workers, loss down, checksums identical"
