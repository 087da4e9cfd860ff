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
# completionTime is whole seconds (C); the job is due for deletion at C + ttl, so it must exist
# at every moment before that and be gone shortly after. Existence is asked of the API server
# with curl (kubectl's start-up could take long enough on a loaded machine to blur the time).
completed=$(date -d "$(tj_field short '{.status.completionTime}')" +%s)
due_ns=$(((completed + 3) * 1000000000))
tj_exists_api() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' \
    "$E2E_SERVER_URL/apis/ringleader.dev/v1alpha1/namespaces/default/trainingjobs/$1") == 200 ]]
}
while (($(date +%s%N) < due_ns - 200000000)); do
  asked=$(date +%s%N)
  if ! tj_exists_api short && ((asked < due_ns - 200000000)); then
    fail "short was deleted $(((due_ns - asked) / 1000000)) ms before completionTime + ttl"
  fi
  sleep 0.1
done
wait_for 5 "short deleted" tj_gone short
gone_ms=$((($(date +%s%N) - due_ns) / 1000000))
log "short deleted by ${gone_ms} ms after completionTime + ttl"
(( gone_ms <= 3000 )) || fail "short deleted ${gone_ms} ms after it was due"
wait_for 5 "short's pods and Service gone" bash -c "! $E2E_KUBECTL get svc short && [[ -z \$($E2E_KUBECTL get pods -l ringleader.dev/job-name=short -o name) ]]"

# ttl 0: deleted as soon as it finished, with the pods cleanPodPolicy None had kept.
wait_for 15 "broken deleted" tj_gone broken
wait_for 5 "broken's pods gone" pod_count_is broken 0

wait_for 15 "kept Succeeded" tj_is kept Succeeded
holds_for 2 "kept (no ttl) stays" k get tj kept
log "PASS"
