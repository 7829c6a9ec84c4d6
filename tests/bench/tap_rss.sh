#!/usr/bin/env bash
# The traffic tap's cost where users see it: the control plane's RSS (ps -o rss) and the time of
# N requests through the ingress, with no tap open and with one `ticketctl tap ingress -o json`
# reading, against `up -d` of one Node pod (tests/integration/programs/net_echo.js) behind a
# Service and an Ingress. Prints figures; a benchmark, never pass/fail, and CI does not run it.
#
#   tests/bench/tap_rss.sh [BUILD_DIR] [REQUESTS]      e.g. tests/bench/tap_rss.sh build 1000
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
N=${2:-1000}
bin=$(realpath "$BUILD/cli/ticketctl")
work=$(mktemp -d "${TMPDIR:-/tmp}/ticketctl-tap-bench.XXXXXX")
state="$work/state"
tap_pid=
cleanup() {
  if [ -n "$tap_pid" ]; then kill "$tap_pid" 2>/dev/null || true; fi
  "$bin" down --state-dir "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/k8s"
cat >"$work/ticketctl.yaml" <<YAML
manifests: [k8s]
images:
  bench/echo: {context: $PWD/tests/integration/programs, command: [node, net_echo.js]}
YAML
cat >"$work/k8s/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 1
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
      - {name: echo, image: bench/echo, ports: [{containerPort: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo-srv}
spec:
  selector: {app: echo}
  ports: [{port: 80, targetPort: 3000}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bench}
spec:
  rules:
  - host: bench.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: echo-srv, port: {number: 80}}}}
YAML
(cd "$work" && TICKETCTL_INGRESS_HTTP=0 TICKETCTL_INGRESS_HTTPS=0 \
  "$bin" up -d --timeout 60s --state-dir "$state" >/dev/null)
pid=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$state/apiserver.json")
port=$(sed -n 's/.*"http":\([0-9]*\).*/\1/p' "$state/ingress.json")
urls="$work/urls"
for ((i = 0; i < N; i++)); do
  printf 'url = "http://127.0.0.1:%s/r%s"\noutput = "/dev/null"\n' "$port" "$i"
done >"$urls"
rss() { ps -o rss= -p "$pid" | tr -d ' '; }
requests() {  # N requests on one keep-alive connection; prints the seconds taken
  local t0 t1
  t0=$(date +%s.%N)
  curl -s -H 'Host: bench.test' -K "$urls"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

requests >/dev/null  # warm the pool and the pod
echo "control plane pid $pid, ingress :$port, $N requests per run"
echo "RSS idle, no tap:                     $(rss) KiB"
echo "no tap:   $N requests in $(requests) s; RSS $(rss) KiB"
"$bin" tap ingress -o json --state-dir "$state" >"$work/tap.out" 2>"$work/tap.err" &
tap_pid=$!
for _ in $(seq 100); do grep -q tapping "$work/tap.err" && break; sleep 0.1; done
echo "one tap open:                         $(rss) KiB"
echo "tapped:   $N requests in $(requests) s; RSS $(rss) KiB"
for _ in $(seq 100); do [ "$(wc -l <"$work/tap.out")" -ge "$N" ] && break; sleep 0.1; done
echo "the tap printed $(wc -l <"$work/tap.out") exchanges"
echo "tapped:   $N requests in $(requests) s; RSS $(rss) KiB (second run)"
kill "$tap_pid"
wait "$tap_pid" 2>/dev/null || true
tap_pid=
echo "tap closed: RSS $(rss) KiB"
