#!/usr/bin/env bash
# Scenario: a job labelled kueue.x-k8s.io/queue-name on a cluster without Kueue's CRDs says so
# in status (Pending, Admitted=False/KueueCRDMissing, a Warning Event), creates no Pod and no
# Workload, and costs no error loop: the operator looks for the API again at most every 10 s,
# when such a job is reconciled (it is, every 60 s, or when it changes). Jobs without the
# label run meanwhile. Once Kueue's CRDs are installed the job is queued and admitted.
source "$(dirname "$0")/lib.sh" "$@"
source "$(dirname "$0")/kueue_lib.sh"

start_server --nodes 3 --node-cpus 8 --simulate-kueue
start_operator
watch_jobs

new_queued_job lost 2 cpu=1 succeed=1
new_job plain 2 cpu=1 succeed=1
wait_for 10 "lost Admitted=False" tj_condition_is lost Admitted False/KueueCRDMissing
expect_eq "Pending" "$(tj_field lost '{.status.phase}')" "lost phase"
expect_eq "Kueue's Workload API (kueue.x-k8s.io/v1beta2) is not served by this cluster: install Kueue (v0.15 or later), or remove the kueue.x-k8s.io/queue-name label to run without it" \
  "$(tj_field lost '{.status.message}')" "lost message"
wait_for 20 "plain Succeeded" tj_is plain Succeeded
holds_for 2 "no pods for lost" pod_count_is lost 0
expect 'Warning +KueueCRDMissing ' "$(k describe tj lost)"
# Looking again is rate-limited: the first look at start-up, then at most one per 10 s.
probes=$(count_requests_to GET '/apis/kueue.x-k8s.io/v1beta2/workloads')
((probes >= 1 && probes <= 2)) || fail "Workload API probes while it is missing: $probes, want 1..2"
expect_eq "0" "$(count_requests_to POST '/workloads$')" "Workload creates"

# Install Kueue's CRDs and queues; changes to the job make the operator look again (once the
# 10 s since its last look have passed).
k apply -f "$E2E_KUEUE_CRDS" >/dev/null
k wait --for=condition=Established crd/workloads.kueue.x-k8s.io crd/localqueues.kueue.x-k8s.io \
  crd/clusterqueues.kueue.x-k8s.io crd/resourceflavors.kueue.x-k8s.io --timeout=10s >/dev/null
kueue_queues 4
nudge() {
  tj_is lost Succeeded && return 0
  k annotate tj lost "e2e/nudge=$(date +%s%N)" --overwrite >/dev/null
  sleep 0.5
  return 1
}
wait_for 30 "lost Succeeded after Kueue was installed" nudge
expect_eq "True/Succeeded" "$(wl_condition lost Finished)" "lost Finished"
pods_placed lost 2 || fail "lost's pods lack the admission"
expect '^Pending Queued Scheduling Running Succeeded $' "$(phases_seen lost)"
log "PASS"
