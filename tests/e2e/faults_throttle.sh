#!/usr/bin/env bash
# Scenario 12c: 429 Too Many Requests (Retry-After 1 s) on pod creates: the gang is still
# created whole, exactly once, and the job completes.
source "$(dirname "$0")/lib.sh" "$@"

start_server --nodes 2 --node-cpus 8
start_operator

fault '{"tooManyRequests":{"count":3,"retryAfterSeconds":1,"verb":"create","resource":"pods"}}'
new_job throttled 4 succeed=1
wait_for 30 "throttled Succeeded" tj_is throttled Succeeded
expect_eq "3" "$(count_requests 'create pods' 429)" "pod creates answered 429"
expect_eq "4" "$(count_requests 'create pods' 201)" "pods created"
expect_eq "0 0" "$(tj_field throttled '{.status.restarts} {.status.attempt}')" "restarts/attempt"
log "PASS"
