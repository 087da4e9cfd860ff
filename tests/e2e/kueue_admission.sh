#!/usr/bin/env bash
# Scenario: Kueue queues and admits TrainingJobs labelled kueue.x-k8s.io/queue-name. The
# server has Kueue's CRDs and plays Kueue's scheduler (--simulate-kueue). A ClusterQueue with
# quota for one of two 4-CPU jobs: the first is admitted onto flavor "reserved", whose node
# labels and toleration reach every Pod (the flavor's nodes are tainted: without them nothing
# would schedule); the second waits in phase Queued, without Pods, naming its LocalQueue and
# ClusterQueue and Kueue's reason, and is admitted once the first finishes. The operator writes
# PodsReady and Finished on the Workloads. A job without the label is not touched by Kueue.
source "$(dirname "$0")/lib.sh" "$@"
source "$(dirname "$0")/kueue_lib.sh"

start_server --nodes 3 --node-cpus 8 --simulate-kueue --crd "$E2E_KUEUE_CRDS"
kueue_queues 4
start_operator
watch_jobs

# Without the label nothing changes: no Workload, Builtin admission as always (on node-2, the
# one node without the flavor's taint).
new_job plain 2 cpu=1 succeed=1
wait_for 20 "plain Succeeded" tj_is plain Succeeded
expect_eq "True/GangAdmitted" "$(tj_condition plain Admitted)" "plain Admitted"
expect_eq "" "$(k get workloads -o name)" "Workloads of an unlabelled job"

new_queued_job first 2 cpu=2 succeed=6
wait_for 10 "first Running" tj_is first Running
new_queued_job second 2 cpu=2 succeed=1
wait_for 10 "second Queued" tj_condition_is second Admitted False/Queued
expect_eq "Queued" "$(tj_field second '{.status.phase}')" "second phase"
# Kueue's reason follows once its scheduler has looked at the Workload.
want="queued in LocalQueue team-a (ClusterQueue cluster-total): couldn't assign flavors to pod set workers: insufficient unused quota for cpu in flavor reserved, 4 more needed"
second_message_is_kueues() { [[ $(tj_field second '{.status.message}') == "$want" ]]; }
wait_for 10 "second's message names queue, ClusterQueue and Kueue's reason" second_message_is_kueues
expect '^second +Queued +0/2 +0 ' "$(k get tj second --no-headers)"
expect 'queued in LocalQueue team-a \(ClusterQueue cluster-total\)' "$(k get tj second -o wide --no-headers)"
holds_for 1 "no pods for the queued job" pod_count_is second 0

# The admitted job: Admitted by Kueue, the admission in every Pod, PodsReady on its Workload.
expect_eq "True/KueueAdmitted" "$(tj_condition first Admitted)" "first Admitted"
expect_eq "admitted by ClusterQueue cluster-total (flavors: cpu=reserved)" \
  "$(tj_field first '{.status.conditions[?(@.type=="Admitted")].message}')" "first Admitted message"
pods_placed first 2 || fail "first's pods lack the flavor's nodeSelector/toleration/podset label: $(k get pods -l ringleader.dev/job-name=first -o yaml)"
wait_for 10 "first PodsReady" wl_condition_is first PodsReady True/Started
uid=$(tj_field first '{.metadata.uid}')
expect_eq "$uid true team-a workers 2 2" \
  "$(wl_field first '{.metadata.ownerReferences[0].uid} {.metadata.ownerReferences[0].controller} {.spec.queueName} {.spec.podSets[0].name} {.spec.podSets[0].count} {.spec.podSets[0].template.spec.containers[0].resources.requests.cpu}')" \
  "first's Workload"
expect_eq "cluster-total reserved True" \
  "$(wl_field first '{.status.admission.clusterQueue} {.status.admission.podSetAssignments[0].flavors.cpu} {.status.conditions[?(@.type=="QuotaReserved")].status}')" \
  "first's admission"
expect "$(wl_name first) +team-a +cluster-total +True" "$(k get workloads --no-headers)"

# first finishes: Finished on its Workload frees the quota, and second is admitted.
wait_for 20 "first Succeeded" tj_is first Succeeded
wait_for 10 "first Finished" wl_condition_is first Finished True/Succeeded
wait_for 20 "second Succeeded" tj_is second Succeeded
wait_for 10 "second Finished" wl_condition_is second Finished True/Succeeded
expect_eq "True/Started" "$(wl_condition second PodsReady)" "second PodsReady"
expect '^Queued Scheduling Running Succeeded $' "$(phases_seen second)"
expect_eq "0 0" "$(tj_field second '{.status.restarts} {.status.attempt}')" "second restarts/attempt"
pods_placed second 2 || fail "second's pods lack the admission"
events=$(k describe tj first)
expect "Normal +CreatedWorkload .*created Workload default/$(wl_name first) in LocalQueue team-a" "$events"
expect 'Normal +KueueAdmitted .*admitted by ClusterQueue cluster-total' "$events"

# Deleting a job takes its Workload along (garbage collection of the owned object).
k delete tj first >/dev/null
wait_for 5 "first's Workload deleted" bash -c "[[ \$($E2E_KUBECTL get workloads -l ringleader.dev/job-name=first -o name | wc -l) -eq 0 ]]"
log "PASS"
