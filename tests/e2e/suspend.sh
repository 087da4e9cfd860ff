#!/usr/bin/env bash
# Scenario 5: spec.runPolicy.suspend true deletes every pod and holds the job Suspended; false
# resumes it as a new attempt (not a restart). Deleted pods linger 1 s (the simulated
# kubelet's container stop time), and the resume comes while they still do: the new attempt's
# pods, which reuse the names, must wait for them. A job created suspended never creates a pod until resumed.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8 --pod-stop-delay-ms 1000
start_operator
watch_jobs
watch_pods

new_job pausable 3 cpu=1
new_job dormant 2 suspend=true succeed=1
wait_for 20 "pausable Running" tj_is pausable Running
wait_for 10 "dormant Suspended" tj_is dormant Suspended

k patch tj pausable --type=merge -p '{"spec":{"runPolicy":{"suspend":true}}}' >/dev/null
wait_for 10 "pausable Suspended" tj_is pausable Suspended
expect_eq "True/Suspended" "$(tj_condition pausable Suspended)" "Suspended condition"
expect_eq "False/Suspended" "$(tj_condition pausable Running)" "Running condition"
# The deleted workers are not counted, even while their deletion grace keeps them Running.
expect '^pausable +Suspended +0/3 +0 ' "$(k get tj pausable --no-headers)"
expect_eq "0" "$(tj_field pausable '{.status.workers.running}')" "workers.running while suspended"
terminating=$(k get pods -l ringleader.dev/job-name=pausable -o jsonpath='{range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -c . || true)
log "pausable pods still terminating at resume: $terminating"
# Resume at once, with a new template: the next attempt's workers succeed after 1 s.
k patch tj pausable --type=merge -p '{"spec":{"runPolicy":{"suspend":false},"template":{"metadata":{"annotations":{"sim.ringleader.dev/succeed-after-seconds":"1"}}}}}' >/dev/null
wait_for 20 "pausable Succeeded" tj_is pausable Succeeded
expect_eq "0 1" "$(tj_field pausable '{.status.restarts} {.status.attempt}')" "pausable restarts/attempt after resume"
expect_eq "False/Resumed" "$(tj_condition pausable Suspended)" "Suspended condition after resume"
expect '^Scheduling Running Suspended Pending Scheduling Running Succeeded $' "$(phases_seen pausable)"
# The names are reused: every worker that ran to the end belongs to attempt 1.
for rank in 0 1 2; do
  expect_eq "1 Succeeded" "$(k get pod pausable-worker-$rank -o jsonpath='{.metadata.labels.ringleader\.dev/attempt} {.status.phase}')" "pausable-worker-$rank"
done

# dormant: no pod was ever created while suspended.
holds_for 1 "dormant has no pods" pod_count_is dormant 0
expect_eq "" "$(awk '$1 ~ /^dormant-/' "$E2E_TMP/pods.watch")" "dormant pods in the watch"
k patch tj dormant --type=merge -p '{"spec":{"runPolicy":{"suspend":false}}}' >/dev/null
wait_for 20 "dormant Succeeded" tj_is dormant Succeeded
expect_eq "0 1" "$(tj_field dormant '{.status.restarts} {.status.attempt}')" "dormant restarts/attempt"
events=$(k describe tj pausable)
expect 'Normal +Suspended ' "$events"
expect 'Normal +Resumed .*job resumed as attempt 1' "$events"
log "PASS"
