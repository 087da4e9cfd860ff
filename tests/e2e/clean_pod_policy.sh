#!/usr/bin/env bash
# Scenario 8: cleanPodPolicy decides which pods stay once the job is finished:
#   Running  -> the pods still running are deleted, finished ones stay (logs readable)
#   All      -> every pod is deleted
#   None     -> every pod stays, even running ones
# after a success (successPolicy RankZero: worker 0 succeeds while its peers still run) and
# after a failure (restartPolicy Never: worker 1 fails while its peers still run).
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 32
start_operator a --workers 1  # six jobs at once through one reconcile worker

for policy in Running All None; do
  lower=$(tr '[:upper:]' '[:lower:]' <<<"$policy")
  new_job "ok-$lower" 3 success=RankZero clean=$policy
  new_job "bad-$lower" 3 policy=Never clean=$policy
done
for policy in running all none; do
  wait_for 20 "ok-$policy Running" tj_is "ok-$policy" Running
  wait_for 20 "bad-$policy Running" tj_is "bad-$policy" Running
  pod_finish "ok-$policy-worker-0" Succeeded 0
  pod_finish "bad-$policy-worker-1" Failed 2
done
for policy in running all none; do
  wait_for 10 "ok-$policy Succeeded" tj_is "ok-$policy" Succeeded
  expect_eq "True/RankZeroSucceeded" "$(tj_condition "ok-$policy" Succeeded)" "ok-$policy Succeeded condition"
  wait_for 10 "bad-$policy Failed" tj_is "bad-$policy" Failed
  expect_eq "True/RestartPolicyNever" "$(tj_condition "bad-$policy" Failed)" "bad-$policy Failed condition"
done

# pods_left JOB: "NAME PHASE" of the job's pods that are not being deleted, sorted, one line.
pods_left() {
  k get pods -l "ringleader.dev/job-name=$1" \
    -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.metadata.deletionTimestamp}{"\n"}{end}' |
    awk 'NF == 2 {print $1 ":" $2}' | sort | tr '\n' ' '
}
pods_left_are() { [[ $(pods_left "$1") == "$2" ]]; }
wait_for 10 "ok-running keeps only the finished worker 0" pods_left_are ok-running "ok-running-worker-0:Succeeded "
wait_for 10 "bad-running keeps only the failed worker 1" pods_left_are bad-running "bad-running-worker-1:Failed "
wait_for 10 "ok-all has no pods" pods_left_are ok-all ""
wait_for 10 "bad-all has no pods" pods_left_are bad-all ""
# None: nothing is deleted, so give the operator time to (wrongly) do it before looking.
holds_for 1.5 "ok-none keeps every pod" pods_left_are ok-none \
  "ok-none-worker-0:Succeeded ok-none-worker-1:Running ok-none-worker-2:Running "
holds_for 0.5 "bad-none keeps every pod" pods_left_are bad-none \
  "bad-none-worker-0:Running bad-none-worker-1:Failed bad-none-worker-2:Running "
# ...and the other policies did not delete more later either.
expect_eq "ok-running-worker-0:Succeeded " "$(pods_left ok-running)" "ok-running pods"
expect_eq "bad-running-worker-1:Failed " "$(pods_left bad-running)" "bad-running pods"
# The Service stays until the job is deleted.
for job in ok-running ok-all ok-none bad-running bad-all bad-none; do k get svc "$job" >/dev/null; done
log "PASS"
