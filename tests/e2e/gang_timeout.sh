#!/usr/bin/env bash
# Scenario 4: with no gang scheduler (gang.scheduler None) only 2 of 3 workers can be placed.
# After gang.timeoutSeconds the partial gang is torn down and retried; after backoffLimit the
# job fails naming the gang timeout, and no pod of the partial gang is left behind.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 4
start_operator
watch_jobs
watch_pods

new_job partial 3 cpu=3 gang=None timeout=3 backoff=1
wait_for 10 "2 of 3 workers Running" pods_in_phase partial Running 2
expect_eq "1" "$(pod_phase_count partial Pending)" "Pending workers"
expect_eq "Scheduling" "$(tj_field partial '{.status.phase}')" "phase with a partial gang"
expect_eq "True/GangAdmitted" "$(tj_condition partial Admitted)" "Admitted (delegated)"
expect '^0/2 nodes are available: 2 Insufficient cpu\.$' \
  "$(k get pods -l ringleader.dev/job-name=partial --field-selector=status.phase=Pending -o jsonpath='{.items[0].status.conditions[?(@.type=="PodScheduled")].message}')"

wait_for 15 "restart 1 after the gang timeout" bash -c "[[ \$($E2E_KUBECTL get tj partial -o jsonpath='{.status.restarts}') == 1 ]]"
expect_eq "False/WorkerFailed" "$(tj_condition partial Running)" "Running condition of the torn-down attempt"
expect '^the gang did not have every worker Running within gang.timeoutSeconds: 2 of 3 Running after 3s$' \
  "$(tj_field partial '{.status.conditions[?(@.type=="Running")].message}')"

wait_for 20 "partial Failed" tj_is partial Failed
expect_eq "True/BackoffLimitExceeded" "$(tj_condition partial Failed)" "Failed condition"
expect '^the gang did not have every worker Running within gang.timeoutSeconds: 2 of 3 Running after 3s; backoffLimit 1 reached after 1 restart$' \
  "$(tj_field partial '{.status.message}')"
# No partial gang behind: the running workers and the unschedulable one are deleted.
wait_for 10 "no pods of partial left" pod_count_is partial 0
holds_for 1 "no pods of partial come back" pod_count_is partial 0

# Each attempt had its own 3 workers, (at least) two of which ran: while a gang is torn down,
# the capacity of a deleted worker may let the third one start before its own deletion, as
# a real scheduler would. Nothing beyond attempt 1.
for attempt in 0 1; do
  expect_eq 3 "$(awk -v a=$attempt '$1 ~ /^partial-worker-/ && $2 == a {print $1}' "$E2E_TMP/pods.watch" | sort -u | wc -l)" \
    "pods of attempt $attempt"
  running=$(awk -v a=$attempt '$1 ~ /^partial-worker-/ && $2 == a && $3 == "Running" {print $1}' "$E2E_TMP/pods.watch" | sort -u | wc -l)
  ((running >= 2)) || fail "Running pods of attempt $attempt: $running, want >= 2"
done
expect_eq "" "$(awk '$1 ~ /^partial-worker-/ && $2 > 1' "$E2E_TMP/pods.watch")" "pods beyond attempt 1"
expect '^Scheduling Restarting Pending Scheduling Failed $' "$(phases_seen partial)"
events=$(k get events --field-selector involvedObject.name=partial -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')
expect 'GangRestarting: the gang did not have every worker Running within gang.timeoutSeconds: 2 of 3 Running after 3s; restarting the gang \(restart 1 of 1\)' "$events"
expect 'WorkerFailed: the gang did not have every worker Running' "$events"
log "PASS"
