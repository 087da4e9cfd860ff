#!/usr/bin/env bash
# Scenario 12a: watches dropped (clean end of stream) and answered 410 Expired (the informers
# must relist) while one job runs and another is being created: both still complete, and no
# pod is created twice.
source "$(dirname "$0")/lib.sh" "$@"

# Bookmarks every 100 ms: the informers back off longer after each watch that ended without
# any event (bookmarks count), and quiet ones would then always come back last below.
start_server --nodes 2 --node-cpus 8 --bookmark-interval-ms 100
start_operator

expired_count() { grep -c 'watch expired, relisting' "$E2E_TMP/operator-a.log" || true; }
expired_count_is() { [[ $(expired_count) -ge $1 ]]; }
watch_counts='[.requests[] | select(.verb == "watch" and .status == 200) | .resource] | group_by(.) | map({(.[0]): length}) | add'
all_rewatched() {  # all_rewatched COUNTS_BEFORE: each resource was watched again since
  local now
  now=$(requests | jq -c "$watch_counts")
  jq -e --argjson b "$1" --argjson n "$now" \
    '[("nodes", "pods", "services", "trainingjobs") | ($n[.] // 0) > ($b[.] // 0)] | all' <<<null >/dev/null
}

new_job first 4 succeed=4
wait_for 20 "first Running" tj_is first Running
tj_lists=$(count_requests 'list trainingjobs')
pod_lists=$(count_requests 'list pods')
# Each round drops every watch and expires the first one to come back (the informers rewatch
# after a random 100-200 ms, so which one is random): repeat until the TrainingJob and the pod
# informers have both had to relist.
rounds=0
while [[ $(count_requests 'list trainingjobs') -eq $tj_lists || $(count_requests 'list pods') -eq $pod_lists ]]; do
  ((++rounds <= 40)) || fail "40 rounds of dropWatches + expireNextWatches and still no relist of trainingjobs and pods"
  before=$(expired_count)
  watches_before=$(requests | jq -c "$watch_counts")
  fault '{"dropWatches":true,"expireNextWatches":1}'
  ((rounds == 1)) && new_job second 4 succeed=1  # created while the informers are down
  wait_for 5 "a watch answered 410 and relisted" expired_count_is $((before + 1))
  # Every informer is watching again before the next round.
  wait_for 5 "all four informers watch again" all_rewatched "$watches_before"
done
log "$rounds rounds; relists: trainingjobs $tj_lists -> $(count_requests 'list trainingjobs'), pods $pod_lists -> $(count_requests 'list pods')"
wait_for 30 "first Succeeded" tj_is first Succeeded
wait_for 30 "second Succeeded" tj_is second Succeeded
expect_eq "0 0" "$(tj_field first '{.status.restarts} {.status.attempt}')" "first restarts/attempt"
expect_eq "0 0" "$(tj_field second '{.status.restarts} {.status.attempt}')" "second restarts/attempt"
expect_eq "8" "$(count_requests 'create pods' 201)" "pods created"
expect_eq "0" "$(count_requests 'create pods' 409)" "pod creates that found the pod already there"
log "PASS"
