#!/usr/bin/env bash
# Scenario: a Running gang that stops making progress (issue 14). The test reports progress as
# rank 0's runtime would (the same merge patch of status.progress); `kubectl get tj -o wide`
# shows STEP and LOSS and `kubectl describe` when progress was last reported. Then the step
# stops advancing: spec.runPolicy.progressDeadlineSeconds (30, the minimum) later the gang
# restarts with reason Stalled, the message naming the last step and when it was seen.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator

# progressDeadlineSeconds below the minimum is refused by the CRD.
bad=$(k create -f - 2>&1 <<'YAML' || true
apiVersion: ringleader.dev/v1alpha1
kind: TrainingJob
metadata: {name: tooshort}
spec:
  workers: 1
  runPolicy: {progressDeadlineSeconds: 10}
  template: {spec: {containers: [{name: t, image: ringleader/worker:e2e}]}}
YAML
)
expect 'progressDeadlineSeconds.*(should be greater than or equal to 30|must be greater than or equal to 30)' "$bad"

new_job stuck 2 jq='.spec.runPolicy.progressDeadlineSeconds = 30'
wait_for 20 "stuck Running" tj_is stuck Running

report() {  # report STEP LOSS: what ApiProgressSink sends
  local now
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  k patch tj stuck --subresource=status --type=merge \
    -p "{\"status\":{\"progress\":{\"step\":$1,\"loss\":$2,\"samplesPerSecond\":100,\"updatedAt\":\"$now\",\"attempt\":0}}}" >/dev/null
  echo "$now"
}
report 10 0.5 >/dev/null
sleep 2
last=$(report 20 0.25)
log "last progress report at $last"
wide=$(k get tj stuck -o wide)
expect 'NAME +PHASE +READY +RESTARTS +AGE +WORKERS +GANG +STEP +LOSS +MESSAGE' "$wide"
expect 'stuck +Running +2/2 +0 +[0-9a-z]+ +2 +Builtin +20 +0.25 ' "$wide"
expect "Updated At: +$last" "$(k describe tj stuck)"

# No step after `last`: restarted 30 s after it (Running stays until then).
holds_for 20 "stuck keeps running while within the deadline" tj_is stuck Running
wait_for 20 "stuck restarted as Stalled" bash -c "[[ -n \$($E2E_KUBECTL get events --field-selector involvedObject.name=stuck,reason=Stalled -o name) ]]"
expect "^the gang stalled \\(Stalled\\): no progress for 30s \\(progressDeadlineSeconds\\): step 20 was last reported at $last\$" \
  "$(events_of stuck Stalled)"
wait_for 15 "stuck attempt 1 Running" bash -c \
  "[[ \$($E2E_KUBECTL get tj stuck -o jsonpath='{.status.phase} {.status.attempt} {.status.restarts}') == 'Running 1 1' ]]"
expect 'restarting the gang \(restart 1 of 3\)' "$(events_of stuck GangRestarting)"
log "PASS"
