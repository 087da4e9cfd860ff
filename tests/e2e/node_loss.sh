#!/usr/bin/env bash
# Scenario: a node dies under a Running gang (issue 14). Its simulated kubelet stops (Ready
# Unknown, unreachable taints) and never confirms a deletion, as on a real cluster. The gang
# restarts at once with reason NodeLost naming the node; the new attempt runs while the old
# pods are still Terminating on the dead node (the ranks whose names they hold get names of
# their own, same hostnames); after their grace period plus --stuck-pod-margin those pods are
# force-deleted with a ForceDeleted Event.
source "$(dirname "$0")/lib.sh" "$@"

# 1-CPU nodes, 500m workers: the four workers fill two nodes; the third is spare.
# The node lifecycle controller marks the dead node 2 s after its kubelet stops (40 s on a
# default cluster): until then the node looks Ready and nothing restarts.
start_server --nodes 3 --node-cpus 1 --node-monitor-grace-period-ms 2000
start_operator a --stuck-pod-margin 1s
watch_jobs

new_job lossy 4 cpu=500m jq='.spec.template.spec.terminationGracePeriodSeconds = 10'
wait_for 20 "lossy Running" tj_is lossy Running
node=$(k get pod lossy-worker-0 -o jsonpath='{.spec.nodeName}')
lost=() live=()
for rank in 0 1 2 3; do
  if [[ $(k get pod lossy-worker-$rank -o jsonpath='{.spec.nodeName}') == "$node" ]]; then lost+=($rank); else live+=($rank); fi
done
expect_eq "2 2" "${#lost[@]} ${#live[@]}" "workers on $node / elsewhere"

kill_node "$node"
killed=$(date +%s%N)
log "killed $node (ranks ${lost[*]})"
expect 'True' "$(k get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"
expect_eq "Running 0" "$(k get tj lossy -o jsonpath='{.status.phase} {.status.attempt}')" "job before the node is marked"
wait_for 20 "lossy attempt 1 Running" bash -c \
  "[[ \$($E2E_KUBECTL get tj lossy -o jsonpath='{.status.phase} {.status.attempt} {.status.restarts}') == 'Running 1 1' ]]"
log "attempt 1 Running $((($(date +%s%N) - killed) / 1000000)) ms after the node died"
expect 'Unknown' "$(k get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"

# The restart's reason and message name the node.
expect "^worker [0-3] was disrupted \\(NodeLost\\): pod lossy-worker-[0-3] on node $node \\(Ready=Unknown, taint node.kubernetes.io/unreachable\\)\$" \
  "$(events_of lossy NodeLost)"
expect "node $node" "$(events_of lossy GangRestarting)"
expect_eq "False/GangRunning" "$(tj_condition lossy Restarting)" "Restarting condition after the new attempt runs"
expect 'Running Restarting Pending Scheduling Running $' "$(phases_seen lossy)"

# The old pods on the dead node are still there, Terminating, while attempt 1 runs.
for rank in "${lost[@]}"; do
  expect_eq "0 $node" "$(k get pod lossy-worker-$rank -o jsonpath='{.metadata.labels.ringleader\.dev/attempt} {.spec.nodeName}')" \
    "old lossy-worker-$rank"
  expect '.' "$(k get pod lossy-worker-$rank -o jsonpath='{.metadata.deletionTimestamp}')"
  expect_eq "1 Running lossy-worker-$rank" \
    "$(k get pod lossy-worker-$rank-a1 -o jsonpath='{.metadata.labels.ringleader\.dev/attempt} {.status.phase} {.spec.hostname}')" \
    "new lossy-worker-$rank-a1"
done
expect "lossy-worker-${lost[0]} +[01]/1 +Terminating" "$(k get pods --no-headers)"
# The other ranks were on a live node: their old pods went (the kubelet confirmed), the names are reused.
for rank in "${live[@]}"; do
  expect_eq "1 Running" "$(k get pod lossy-worker-$rank -o jsonpath='{.metadata.labels.ringleader\.dev/attempt} {.status.phase}')" \
    "lossy-worker-$rank"
done
expect_not "$node" "$(k get pods -l ringleader.dev/attempt=1 -o jsonpath='{.items[*].spec.nodeName}')"

# Grace period 10 s + margin 1 s: force-deleted, with an Event that says why.
for rank in "${lost[@]}"; do
  wait_for 15 "old lossy-worker-$rank force-deleted" bash -c \
    "[[ \$($E2E_KUBECTL get pod lossy-worker-$rank -o jsonpath='{.metadata.labels.ringleader\\.dev/attempt}' 2>/dev/null) != 0 ]]"
done
expect "pod lossy-worker-[0-3] was Terminating on node $node \\(Ready=Unknown.*past its grace period: its kubelet cannot confirm the deletion, so it is force-deleted" \
  "$(events_of lossy ForceDeleted)"
tj_is lossy Running || fail "lossy not Running after the force deletes"
expect '^lossy +Running +4/4 +1 ' "$(k get tj lossy --no-headers)"
log "PASS"
