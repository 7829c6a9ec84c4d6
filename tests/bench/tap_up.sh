#!/usr/bin/env bash
# What the traffic tap costs a Service, as users run it: `ticketctl up -d` of a server pod
# (tests/bench/service_bench.c answering "GET /<bytes>" with that many bytes) behind the Service
# bench-srv and a client pod; curl inside the client pod (`ticketctl exec`, so under the preload
# library) reads one large HTTP body, by Service name and by the server pod's IP:
#   - untapped: by name is balanced at connect time (straight to the pod, nothing added), so it
#     should match the pod IP;
#   - tapped: while `ticketctl tap deploy/bench-client -o json` runs in the background, so by
#     name crosses the observing relay, which parses the response and publishes the exchange
#     (the tap's output goes to a file).
# Then, when Debian's HAProxy is installed (benchmark-only; HAPROXY=0 skips it), a peer for the
# relay's figure, all read by curl on the host while `ticketctl tap svc/bench-srv` runs: the pod
# IP directly, the ClusterIP (so the observing relay) and HAProxy in HTTP mode in front of the pod
# IP (nbthread 1, `option splice-response`, so its body is spliced as the relay splices a large
# body's middle): what an HTTP-aware proxy that adds a second TCP connection gets on this machine,
# against the relay in the same place.
# Each path ROUNDS times, interleaved; medians (and best runs) in MB/s. Prints figures; never
# pass/fail.
#
#   tests/bench/tap_up.sh [BINARY] [MiB] [ROUNDS]     (default: build/cli/ticketctl 1024 5)
set -euo pipefail

bin=$(realpath "${1:-build/cli/ticketctl}")
mib=${2:-1024}
rounds=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/bench/haproxy_peer.sh
. "$here/haproxy_peer.sh"
export TICKETCTL_INGRESS_HTTP=0 TICKETCTL_INGRESS_HTTPS=0
bytes=$((mib * 1024 * 1024))

work=$(mktemp -d "${TMPDIR:-/tmp}/ticketctl-tap-bench.XXXXXX")
state="$work/state"
haproxy_pid=""
cleanup() {
  [ -z "$haproxy_pid" ] || kill "$haproxy_pid" 2>/dev/null || true
  "$bin" down --state-dir "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/app/k8s" "$work/bin"
cc -O2 -pthread -o "$work/bin/service_bench" "$here/service_bench.c"
cat >"$work/app/ticketctl.yaml" <<YAML
manifests: [k8s]
images:
  bench/server: {context: $work/bin, command: [$work/bin/service_bench, serve, '5000']}
  bench/client: {context: $work/bin, command: [sleep, infinity]}
YAML
cat >"$work/app/k8s/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench-server}
spec:
  replicas: 1
  selector: {matchLabels: {app: bench-server}}
  template:
    metadata: {labels: {app: bench-server}}
    spec:
      containers:
      - name: server
        image: bench/server
        ports: [{containerPort: 5000}]
        readinessProbe: {tcpSocket: {port: 5000}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: bench-srv}
spec:
  selector: {app: bench-server}
  ports: [{port: 5000, targetPort: 5000}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: bench-client}
spec:
  replicas: 1
  selector: {matchLabels: {app: bench-client}}
  template:
    metadata: {labels: {app: bench-client}}
    spec:
      containers:
      - name: client
        image: bench/client
YAML

tc() { "$bin" "$1" --state-dir "$state" "${@:2}"; }

start() {
  (cd "$work/app" && tc up -d >/dev/null)
  pod_ip=""
  for _ in $(seq 600); do
    pod_ip=$(tc get endpoints bench-srv -o 'jsonpath={.subsets[0].addresses[0].ip}' 2>/dev/null || true)
    client=$(tc get pods -l app=bench-client -o 'jsonpath={.items[0].status.podIP}' 2>/dev/null || true)
    [ -n "$pod_ip" ] && [ -n "$client" ] && break
    sleep 0.1
  done
  [ -n "$pod_ip" ] || { echo "tap_up: bench-srv has no ready endpoint after 60 s" >&2; exit 1; }
  client=$(tc get pods -l app=bench-client -o 'jsonpath={.items[0].metadata.name}')
  # After a restart the stored Endpoints may still name the previous run's pod: wait until a
  # small read by name works.
  for _ in $(seq 600); do
    if tc exec "$client" -- curl -sf -o /dev/null "http://bench-srv:5000/1" 2>/dev/null; then
      pod_ip=$(tc get endpoints bench-srv -o 'jsonpath={.subsets[0].addresses[0].ip}')
      tc exec "$client" -- curl -sf -o /dev/null "http://$pod_ip:5000/1" 2>/dev/null && return
    fi
    sleep 0.1
  done
  echo "tap_up: bench-srv does not answer from $client after 60 s" >&2
  exit 1
}

# MB/s of one read (curl's average download speed, bytes/s), in the client pod, or on the host
# for an address given with its port.
read_once() {
  local fetch=(tc exec "$client" -- curl) url="http://$1:5000/$bytes"
  case $1 in *:*) fetch=(curl) url="http://$1/$bytes" ;; esac
  "${fetch[@]}" -s -o /dev/null -w '%{speed_download} %{size_download}\n' "$url" |
    awk -v want="$bytes" '
      $2 != want { print "tap_up: read " $2 " of " want " bytes" > "/dev/stderr"; exit 1 }
      { printf "%.0f\n", $1 / 1e6 }'
}

results="$work/results"
: >"$results"
echo "# $(date -u +%FT%TZ) $(uptime)"
echo "# ${mib} MiB per read, ${rounds} rounds"
start
cluster_ip=$(tc get svc bench-srv -o 'jsonpath={.spec.clusterIP}')
peer_paths=""
if start_haproxy_peer http "$pod_ip:5000" "$work"; then
  peer_paths="podip relay haproxy"
fi
tap_pid=""
stop_tap() {
  if [ -n "$tap_pid" ]; then
    kill "$tap_pid" 2>/dev/null || true
    wait "$tap_pid" 2>/dev/null || true  # 143: ended by our SIGTERM
  fi
  tap_pid=""
}
trap 'stop_tap; cleanup' EXIT
modes="untapped tapped"
[ -z "$peer_paths" ] || modes="$modes host"
for mode in $modes; do
  case $mode in
    tapped)
      tc tap deploy/bench-client -o json >"$work/tap.out" 2>"$work/tap.err" &
      tap_pid=$!
      for _ in $(seq 200); do
        grep -q '^tapped ' "$state/net/table" 2>/dev/null && break
        sleep 0.1
      done
      grep -q '^tapped ' "$state/net/table" || { echo "tap_up: the table names no tapped pod" >&2; cat "$work/tap.err" >&2; exit 1; }
      ;;
    host)
      printed=$(wc -l <"$work/tap.out")
      stop_tap
      tc tap svc/bench-srv -o json >"$work/tap-host.out" 2>"$work/tap-host.err" &
      tap_pid=$!
      # The relay observes connections made once the tap is known: read until one is printed.
      for _ in $(seq 200); do
        curl -sf -o /dev/null "http://$cluster_ip:5000/1" 2>/dev/null || true
        [ -s "$work/tap-host.out" ] && break
        sleep 0.1
      done
      [ -s "$work/tap-host.out" ] || { echo "tap_up: tap svc/bench-srv printed nothing" >&2; cat "$work/tap-host.err" >&2; exit 1; }
      ;;
  esac
  for round in $(seq "$rounds"); do
    paths="service podip"
    [ "$mode" != host ] || paths=$peer_paths
    for path in $paths; do
      case $mode-$path in
        host-podip) target=$pod_ip:5000 ;;
        host-relay) target=$cluster_ip:5000 ;;
        host-haproxy) target=127.0.0.1:$haproxy_port ;;
        *-service) target=bench-srv ;;
        *-podip) target=$pod_ip ;;
      esac
      mb=$(read_once "$target")
      echo "$mode $path round $round: $mb MB/s"
      echo "$mode-$path $mb" >>"$results"
    done
  done
done
[ -n "$peer_paths" ] || printed=$(wc -l <"$work/tap.out")
stop_tap
echo "# exchanges the tap of deploy/bench-client printed: $printed"
[ -z "$peer_paths" ] || echo "# exchanges the tap of svc/bench-srv printed: $(wc -l <"$work/tap-host.out")"

awk '
  function median(k,   n, i, j, t, v) {
    n = count[k]; for (i = 1; i <= n; i++) v[i] = value[k, i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  { k = $1; value[k, ++count[k]] = $2; if ($2 > best[k]) best[k] = $2 }
  END {
    printf "\n%-18s %8s %8s\n", "path", "MB/s", "best"
    split("untapped-service untapped-podip tapped-service tapped-podip", ks, " ")
    for (i = 1; i <= 4; i++) printf "%-18s %8.0f %8.0f\n", ks[i], median(ks[i]), best[ks[i]]
    printf "\nuntapped, by Service name vs pod IP: %.2fx (nothing added without a tap)\n",
      median("untapped-service") / median("untapped-podip")
    printf "tapped Service (observing relay) vs untapped Service: %.2fx (best runs %.2fx)\n",
      median("tapped-service") / median("untapped-service"),
      best["tapped-service"] / best["untapped-service"]
    if (count["host-haproxy"]) {
      printf "\nfrom the host, with svc/bench-srv tapped:\n"
      split("host-podip host-relay host-haproxy", hs, " ")
      for (i = 1; i <= 3; i++) printf "%-18s %8.0f %8.0f\n", hs[i], median(hs[i]), best[hs[i]]
      printf "observing relay vs pod IP: %.2fx (best runs %.2fx); peer, HAProxy (HTTP, splice) vs pod IP: %.2fx (best runs %.2fx)\n",
        median("host-relay") / median("host-podip"), best["host-relay"] / best["host-podip"],
        median("host-haproxy") / median("host-podip"), best["host-haproxy"] / best["host-podip"]
    }
  }' "$results"
