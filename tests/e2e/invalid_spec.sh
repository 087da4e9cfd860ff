#!/usr/bin/env bash
# Scenario 14: specs the CRD schema accepts but the operator's validation refuses (an injected
# env var set by the template, a reserved label, a field the operator owns, a name too long
# for the workers' hostnames) fail at once: phase Failed, reason InvalidSpec, a message naming
# every offending field, a Warning event, and no pod at all. Fixing the spec afterwards does not
# revive the job (terminal, as documented), and nothing loops.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator

new_job bad-env 2 env=OTHER:1 env=RINGLEADER_WORKER_RANK:7
new_job bad-label 2 label=ringleader.dev/rank:0
new_job bad-owned 2 'jq=.spec.template.spec.hostname = "mine" | .spec.template.spec.containers[0].env = [{"name": "MASTER_ADDR", "value": "x"}]'
long=$(printf 'a%.0s' $(seq 1 54))  # 54 + "-worker-" + "9" = 63 is fine, "-worker-10" is not
new_job "$long" 11
new_job valid 2 succeed=1  # the same operator still runs good jobs

for job in bad-env bad-label bad-owned "$long"; do
  wait_for 10 "$job Failed" tj_is "$job" Failed
  expect_eq "True/InvalidSpec" "$(tj_condition "$job" Failed)" "$job Failed condition"
done
expect_eq "invalid spec: spec.template.spec.containers[0].env[1].name: \"RINGLEADER_WORKER_RANK\" is set by Ringleader for every worker and cannot be overridden" \
  "$(tj_field bad-env '{.status.message}')" "bad-env message"
expect '^invalid spec: spec\.template\.metadata\.labels\.ringleader\.dev/rank: the ringleader\.dev/ label prefix is reserved for the operator$' \
  "$(tj_field bad-label '{.status.message}')"
# Every problem at once, each with its field.
msg=$(tj_field bad-owned '{.status.message}')
expect 'spec\.template\.spec\.containers\[0\]\.env\[0\]\.name: "MASTER_ADDR" is set by Ringleader' "$msg"
expect 'spec\.template\.spec\.hostname: must be unset' "$msg"
expect "^invalid spec: metadata.name: too long: worker hostname \"$long-worker-10\" would be 64 characters, the limit is 63\$" \
  "$(tj_field "$long" '{.status.message}')"
expect 'Warning +InvalidSpec +.*RINGLEADER_WORKER_RANK' "$(k describe tj bad-env)"
expect '^bad-env +Failed +0/2 +0 ' "$(k get tj bad-env --no-headers)"
wait_for 20 "valid Succeeded" tj_is valid Succeeded

# No pod (and no Service) for an invalid job, ever.
expect_eq "2" "$(count_requests 'create pods')" "pod creates (valid's 2 only)"
expect_eq "service/valid" "$(k get svc -o name)" "Services"

# Fixing the spec does not revive it; the operator does not loop on it either.
k patch tj bad-env --type=json -p '[{"op": "remove", "path": "/spec/template/spec/containers/0/env/1"}]' >/dev/null
writes=$(count_requests 'update trainingjobs/status')
holds_for 1.5 "bad-env stays Failed" tj_is bad-env Failed
expect_eq "0" "$(pod_count bad-env)" "bad-env pods after the fix"
after=$(count_requests 'update trainingjobs/status')
# At most one: observedGeneration follows the new generation.
((after - writes <= 1)) || fail "status writes after the fix: $((after - writes)), want at most 1"
log "PASS"
