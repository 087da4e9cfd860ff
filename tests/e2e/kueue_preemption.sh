#!/usr/bin/env bash
# Scenario: Kueue preempts a Running TrainingJob and resumes it. ClusterQueue quota for one
# 4-CPU job, preemption LowerPriority. A low-priority job runs; a high-priority one arrives:
# the stand-in for Kueue's scheduler evicts the low one's Workload (Evicted/Preempted). The
# operator stops the gang gracefully (ordinary Pod deletions: the Pods linger their deletion
# grace, as SIGTERM then the grace period would), the job goes back to Queued with
# Admitted=False/Evicted and an Evicted Event saying why, and once no Pod is left the operator
# gives the quota back (QuotaReserved=False, admission cleared, Requeued=True) as Kueue's
# integrations do. The high job runs and finishes; the low one is admitted again and resumes
# as a new attempt, without a restart counted against backoffLimit.
source "$(dirname "$0")/lib.sh" "$@"
source "$(dirname "$0")/kueue_lib.sh"

start_server --nodes 2 --node-cpus 8 --simulate-kueue --crd "$E2E_KUEUE_CRDS" --pod-stop-delay-ms 1500
kueue_queues 4 LowerPriority
k apply -f - >/dev/null <<YAML
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: low}
value: 100
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
YAML
start_operator
watch_jobs
watch_pods
# NAME DELETION-TIMESTAMP of low's Pods, every state they pass through.
background k get pods -w -l ringleader.dev/job-name=low \
  -o jsonpath='{.metadata.name} {.metadata.deletionTimestamp}{"\n"}' >"$E2E_TMP/low-pods.watch" 2>&1

# low runs until preempted; its next attempt (1) succeeds after 2 s. backoffLimit 0: an
# eviction counted as a failure would fail it.
new_queued_job low 2 cpu=2 priority=low backoff=0 only=1 succeed=2
wait_for 20 "low Running" tj_is low Running
expect_eq "100 low" "$(wl_field low '{.spec.priority} {.spec.priorityClassRef.name}')" "low's Workload priority"

new_queued_job high 2 cpu=2 priority=high succeed=2
wait_for 10 "low evicted" wl_condition_is low Evicted True/Preempted
wait_for 10 "low Queued after eviction" tj_condition_is low Admitted False/Evicted
expect_eq "Queued" "$(tj_field low '{.status.phase}')" "low phase"
expect 'evicted by Kueue \(Preempted\): Preempted to accommodate a workload .* due to prioritization in the ClusterQueue' \
  "$(tj_field low '{.status.message}')"
# Graceful: the Pods are deleted with their grace period (deletionTimestamp first), never
# force-deleted.
terminating() { [[ $(awk 'NF == 2 {print $1}' "$E2E_TMP/low-pods.watch" | sort -u | wc -l) -eq 2 ]]; }
wait_for 5 "low's pods seen terminating" terminating
deletes=$(requests | jq '[.requests[] | select(.verb == "delete" and .resource == "pods" and (.name | startswith("low-")))]')
expect_eq "2" "$(jq '[.[].name] | unique | length' <<<"$deletes")" "low's pods deleted"
expect_eq "0" "$(jq '[.[] | select(.query | test("gracePeriodSeconds=0"))] | length' <<<"$deletes")" "force deletes"
# high waits for the quota until low's workers are gone and the operator gave it back.
wait_for 10 "low's quota given back" wl_condition_is low QuotaReserved False/Pending
expect_eq "True/Preempted" "$(wl_condition low Requeued)" "low Requeued"
expect_eq "" "$(wl_field low '{.status.admission}')" "low's admission"
# The job's status is written just after the Workload's: wait for it.
requeued() { tj_field low '{.status.message}' | grep -Eq 'evicted by Kueue \(Preempted\): .*; queued in LocalQueue team-a \(ClusterQueue cluster-total\) to be admitted again'; }
wait_for 5 "low's message: queued to be admitted again" requeued
expect_eq "0 1" "$(tj_field low '{.status.restarts} {.status.attempt}')" "low restarts/attempt while queued"

wait_for 20 "high Succeeded" tj_is high Succeeded
expect '^Queued Scheduling Running Succeeded $' "$(phases_seen high)"
wait_for 10 "high Finished" wl_condition_is high Finished True/Succeeded
wait_for 20 "low Succeeded" tj_is low Succeeded
expect_eq "0 1" "$(tj_field low '{.status.restarts} {.status.attempt}')" "low restarts/attempt"
expect_eq "True/KueueAdmitted" "$(tj_condition low Admitted)" "low Admitted at the end"
expect '^Queued Scheduling Running Queued Scheduling Running Succeeded $' "$(phases_seen low)"
for rank in 0 1; do
  expect_eq "1 Succeeded" "$(k get pod low-worker-$rank -o jsonpath='{.metadata.labels.ringleader\.dev/attempt} {.status.phase}')" "low-worker-$rank"
done
pods_placed low 2 || fail "low's second attempt lacks the admission"
wait_for 10 "low Finished" wl_condition_is low Finished True/Succeeded
events=$(k describe tj low)
expect 'Normal +Evicted .*evicted by Kueue \(Preempted\)' "$events"
expect 'Normal +Requeued .*quota given back to ClusterQueue cluster-total' "$events"
expect_not 'GangRestarting|WorkerFailed' "$events"
log "PASS"
