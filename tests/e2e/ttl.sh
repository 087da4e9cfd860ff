#!/usr/bin/env bash
# Scenario 7: ttlSecondsAfterFinished deletes a finished job (and with it its pods and Service)
# that long after completionTime, not before; without a TTL the job stays.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator

new_job short 2 succeed=1 ttl=3
new_job broken 2 fail=1 policy=Never ttl=0 clean=None
new_job kept 2 succeed=1
wait_for 15 "short Succeeded" tj_is short Succeeded
succeeded_at=$(date +%s%N)
log "short Succeeded"
# completionTime is truncated to the second, so the job may go up to 1 s before ttl after the
# moment it succeeded; it must still be there 1.5 s after.
holds_for 1.5 "short exists within its ttl" k get tj short
wait_for 5 "short deleted" tj_gone short
gone_ms=$((($(date +%s%N) - succeeded_at) / 1000000))
log "short deleted ${gone_ms} ms after it was seen Succeeded"
(( gone_ms >= 1500 && gone_ms <= 4500 )) || fail "short deleted ${gone_ms} ms after success, want 2000..4000 (+ polling)"
wait_for 5 "short's pods and Service gone" bash -c "! $E2E_KUBECTL get svc short && [[ -z \$($E2E_KUBECTL get pods -l ringleader.dev/job-name=short -o name) ]]"

# ttl 0: deleted as soon as it finished, with the pods cleanPodPolicy None had kept.
wait_for 15 "broken deleted" tj_gone broken
wait_for 5 "broken's pods gone" pod_count_is broken 0

wait_for 15 "kept Succeeded" tj_is kept Succeeded
holds_for 2 "kept (no ttl) stays" k get tj kept
log "PASS"
