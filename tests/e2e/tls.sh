#!/usr/bin/env bash
# Scenario 19: the operator's in-cluster path, HTTPS with a bearer token. The server gets a
# self-signed certificate (made here with the openssl CLI) and --token; its kubeconfig carries
# certificate-authority-data and the token. kubectl works with it, is refused with a wrong
# token (Unauthorized) or without the CA (x509), curl without a token gets the 401 Status; the
# real operator runs a 2-worker job through Running to Succeeded over TLS, its informers
# watching (again, after the server ended their streams), without one 401.
if ! command -v openssl >/dev/null 2>&1; then
  echo "SKIP: openssl CLI not found (needed to make the test certificate)"
  exit 77
fi
source "$(dirname "$0")/lib.sh" "$@"

tls=$E2E_TMP/tls
mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -keyout "$tls/server.key" -out "$tls/server.crt" -subj /CN=ringleader-testapiserver \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >/dev/null 2>&1 || fail "openssl could not make a certificate"
token=$(openssl rand -hex 16)
E2E_SERVER_CURL_ARGS=(--cacert "$tls/server.crt" -H "Authorization: Bearer $token")

start_server --nodes 2 --node-cpus 8 --tls-cert "$tls/server.crt" --tls-key "$tls/server.key" --token "$token"
expect '^https://127\.0\.0\.1:[0-9]+$' "$E2E_SERVER_URL"
ca_data=$(awk '/certificate-authority-data:/ {print $2}' "$KUBECONFIG")
[[ -n $ca_data ]] || fail "no certificate-authority-data in the kubeconfig: $(cat "$KUBECONFIG")"
base64 -d <<<"$ca_data" | cmp -s - "$tls/server.crt" || fail "certificate-authority-data is not the server certificate"
expect_eq "$token" "$(awk '/token:/ {gsub(/"/, "", $2); print $2}' "$KUBECONFIG")" "kubeconfig token"

# kubectl with the kubeconfig as written.
out=$(k get ns)
expect '^default +Active ' "$out"
expect '^kube-system +Active ' "$out"

# A wrong token: the server's Status reaches the user as kubectl prints it for a real cluster.
sed "s/$token/not-the-token/" "$KUBECONFIG" >"$E2E_TMP/wrong-token.kubeconfig"
if out=$(k --kubeconfig "$E2E_TMP/wrong-token.kubeconfig" get ns 2>&1); then fail "wrong token accepted: $out"; fi
expect 'You must be logged in to the server \(Unauthorized\)' "$out"
# No CA: the self-signed certificate is not trusted.
grep -v 'certificate-authority-data:' "$KUBECONFIG" >"$E2E_TMP/no-ca.kubeconfig"
if out=$(k --kubeconfig "$E2E_TMP/no-ca.kubeconfig" get ns 2>&1); then fail "untrusted certificate accepted: $out"; fi
expect 'x509: certificate signed by unknown authority' "$out"
# curl without a token: 401 and kube-apiserver's Status body.
code=$(curl -sk -o "$E2E_TMP/anonymous.json" -w '%{http_code}' "$E2E_SERVER_URL/api/v1/namespaces")
expect_eq 401 "$code" "status without a token"
expect_eq '{"apiVersion":"v1","code":401,"kind":"Status","message":"Unauthorized","reason":"Unauthorized","status":"Failure"}' \
  "$(jq -cS 'del(.metadata)' "$E2E_TMP/anonymous.json")" "401 body"
# And plain HTTP to the TLS port gets no HTTP answer at all.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://${E2E_SERVER_URL#https://}/api" || true)
expect_eq 000 "$code" "plain HTTP to the TLS port"
# Requests answered 401 so far: the wrong-token kubectl's (discovery) and curl's.
unauthorized=$(requests | jq '[.requests[] | select(.status == 401)] | length')
((unauthorized >= 2)) || fail "want at least 2 requests answered 401 so far, got $unauthorized"

start_operator
# The server ends every watch stream (cleanly, over TLS) once the operator watches: its
# informers must watch again, and the job below runs on those second watches.
pods_watched_more_than() { (($(count_requests 'watch pods' 200) > $1)); }
wait_for 10 "the operator watches pods" pods_watched_more_than 0
watches=$(count_requests 'watch pods' 200)
fault '{"dropWatches":true}'
wait_for 10 "the operator watches pods again" pods_watched_more_than "$watches"

watch_jobs
k apply -f - >/dev/null <<'EOF'
apiVersion: ringleader.dev/v1alpha1
kind: TrainingJob
metadata:
  name: tls
spec:
  workers: 2
  template:
    metadata:
      annotations:
        sim.ringleader.dev/succeed-after-seconds: "3"
    spec:
      containers:
      - name: trainer
        image: ringleader/worker:e2e
        resources:
          requests:
            cpu: "1"
EOF
log "applied job tls (2 workers)"
wait_for 20 "tls Running" tj_is tls Running
expect '^tls +Running +2/2 +0 +[0-9]+s$' "$(k get tj --no-headers)"
expect_eq 2 "$(pod_phase_count tls Running)" "running pods"

wait_for 20 "tls Succeeded" tj_is tls Succeeded
expect '^tls +Succeeded +0/2 +0 ' "$(k get tj --no-headers)"
expect_eq "True/AllWorkersSucceeded" "$(tj_condition tls Succeeded)" "Succeeded condition"
phases=$(phases_seen tls)
log "phases seen over a kubectl watch: $phases"
expect '^(Pending )?Scheduling Running Succeeded $' "$phases"
expect_eq 2 "$(count_requests 'create pods' 201)" "pods created"
expect_eq "$unauthorized" "$(requests | jq '[.requests[] | select(.status == 401)] | length')" "401s after the operator ran"
log "PASS"
