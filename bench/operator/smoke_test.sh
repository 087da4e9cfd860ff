#!/bin/sh
# operator_bench at tiny sizes: checks that it runs and that its output keeps the format other
# tools read (the table header and the five RESULT lines, in order, at the end). It asserts
# nothing about performance.
set -u
bench="$1"

# expect_tail OUTPUT WHAT PATTERNS: the last lines of OUTPUT, one per line of PATTERNS, each
# match their pattern (grep -E), in order; WHAT names the block in a mismatch's message.
expect_tail() {
  lines=$(echo "$3" | wc -l)
  i=0
  echo "$1" | tail -n "$lines" | while IFS= read -r line; do
    i=$((i + 1))
    pattern=$(echo "$3" | sed -n "${i}p")
    echo "$line" | grep -Eq "$pattern" || { echo "FAIL: $2 line $i: '$line' does not match '$pattern'"; exit 1; }
  done
}

out=$("$bench" --gang 16 --jobs 4 --workers-per-job 2 --rss-pods 40 --queue-jobs 4 --repeat 1 --timeout-seconds 15 2>&1)
rc=$?
echo "$out"
if [ $rc -ne 0 ]; then
  echo "FAIL: operator_bench exited $rc"
  exit 1
fi
echo "$out" | grep -q '^case  *pods  *seconds' || { echo "FAIL: no table header"; exit 1; }
echo "$out" | grep -Eq '^4 gangs of 2 waiting for capacity \([0-9]+ nodes\): operator CPU [0-9.]+% ' ||
  { echo "FAIL: no queue line"; exit 1; }
for row in '^floor: required writes only, [0-9]+ threads ' '^floor: required writes \+ caches, [0-9]+ threads '; do
  echo "$out" | grep -Eq "$row" || { echo "FAIL: no row matching '$row'"; exit 1; }
done
expect_tail "$out" 'RESULT block' '^RESULT gang512_seconds=[0-9]+\.[0-9]+
RESULT pods_per_second=[0-9]+
RESULT ratio_vs_bare_client=[0-9]+\.[0-9]+
RESULT rss_idle_mb=[0-9]+\.[0-9]+
RESULT rss_10k_pods_mb=[0-9]+\.[0-9]+$' || exit 1

# The recovery case (issue 14), named alone: its three RESULT lines, in order, at the end.
out=$("$bench" --cases recovery --recovery-workers 8 --gang 16 --repeat 1 --timeout-seconds 15 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: operator_bench --cases recovery exited $rc"; exit 1; }
expect_tail "$out" 'recovery RESULT' '^RESULT restart_seconds_pod_failure=[0-9]+\.[0-9]+
RESULT restart_seconds_node_loss=[0-9]+\.[0-9]+
RESULT gang512_default_flags_seconds=[0-9]+\.[0-9]+$' || exit 1
echo "PASS"
