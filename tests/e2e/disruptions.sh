#!/usr/bin/env bash
# Scenario: Kubernetes takes a worker away (issue 14). An evicted pod (a kubelet's eviction:
# Failed, reason Evicted) and a preempted one (the scheduler's DisruptionTarget condition, then
# its deletion) each restart the gang at once as a retryable disruption, with reasons Evicted /
# Preempted naming the node, even under restartPolicy ExitCode with backoffLimit 1.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8 --pod-stop-delay-ms 2000
start_operator
watch_jobs

new_job evictee 3 policy=ExitCode backoff=1
new_job preemptee 3 policy=ExitCode backoff=1
wait_for 20 "evictee Running" tj_is evictee Running
wait_for 20 "preemptee Running" tj_is preemptee Running

# Eviction by the kubelet (node pressure): the pod ends Failed with reason Evicted.
node=$(k get pod evictee-worker-1 -o jsonpath='{.spec.nodeName}')
curl -sf -X POST "$E2E_SERVER_URL/testing/evict" -d '{"namespace":"default","name":"evictee-worker-1"}' >/dev/null ||
  fail "evict refused"
wait_for 15 "evictee attempt 1 Running" bash -c \
  "[[ \$($E2E_KUBECTL get tj evictee -o jsonpath='{.status.phase} {.status.attempt} {.status.restarts}') == 'Running 1 1' ]]"
expect "^worker 1 was disrupted \\(Evicted\\): pod evictee-worker-1 on node $node\$" "$(events_of evictee Evicted)"

# Preemption: kube-scheduler marks the victim DisruptionTarget, then deletes it (a live
# kubelet: it goes after the simulated container stop time, 2 s here as containers take a
# while to stop on a real node).
node=$(k get pod preemptee-worker-0 -o jsonpath='{.spec.nodeName}')
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
k patch pod preemptee-worker-0 --subresource=status --type=strategic -p "{\"status\":{\"conditions\":[
  {\"type\":\"DisruptionTarget\",\"status\":\"True\",\"reason\":\"PreemptionByScheduler\",
   \"message\":\"default-scheduler: preempting to accommodate a higher priority pod\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null
k delete pod preemptee-worker-0 --wait=false >/dev/null
wait_for 15 "preemptee attempt 1 Running" bash -c \
  "[[ \$($E2E_KUBECTL get tj preemptee -o jsonpath='{.status.phase} {.status.attempt} {.status.restarts}') == 'Running 1 1' ]]"
expect "^worker 0 was disrupted \\(Preempted\\): pod preemptee-worker-0 on node $node\$" "$(events_of preemptee Preempted)"
expect 'restarting the gang \(restart 1 of 1\)' "$(events_of preemptee GangRestarting)"
for job in evictee preemptee; do
  expect_eq "" "$(events_of $job WorkerFailed)" "$job WorkerFailed events (a disruption is not a worker failure)"
  expect '^Scheduling Running Restarting Pending Scheduling Running $' "$(phases_seen $job)"
done
log "PASS"
