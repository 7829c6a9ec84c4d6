#!/usr/bin/env bash
# The ingress of `ticketctl up` as users run it, against nginx and HAProxy in the same run.
# Starts the real binary (`up -d`, its own state directory, the ingress on a free port) with a
# bench app: a Deployment of one pod running bench_backend (a tiny keep-alive "hello" server),
# a Service in front of it and an Ingress routing `bench.test` to that Service. Then wrk
# (keep-alive, `Host: bench.test`) measures, at each connection count:
#   pod-direct       the pod's IP:port, no proxy
#   ticketctl-up     the `up` ingress (its access log on, as always)
#   nginx            Debian's nginx, 1 worker, upstream keepalive 64, access_log off
#   nginx-log        the same with an access log written to a file (unbuffered, ingress-nginx's
#                    default `upstreaminfo` format)
#   haproxy          Debian's HAProxy, nbthread 1 (HAPROXY_THREADS), http-reuse always
# Every proxy adds the X-Forwarded-*/X-Request-ID headers ingress-nginx adds. Prints requests/s
# and p99 per target; a benchmark, never pass/fail, and CI does not run it.
#
#   tests/bench/ingress_up.sh [BUILD_DIR] [DURATION]      e.g. tests/bench/ingress_up.sh build 10s
#
# With ROUNDS > 1 every target is measured that many times, the targets interleaved in each round
# (on a shared 2-core machine one run of a target moves by 20-37% from the next), and a summary
# gives each target's median requests/s and p99, and the ingress against the better of nginx and
# HAProxy: the ratio the issue's target is stated in.
#
# Environment: TICKETCTL (another ticketctl binary to measure, e.g. an older build placed in
# BUILD/cli so that it finds the preload library and the shim), ROUNDS (default 1), CONNECTIONS (default "50 500"), WRK_THREADS (default 2), TARGETS (default all,
# e.g. "ticketctl-up nginx"), PERF=PREFIX (after the table, one more run per target at the first
# connection count under `perf record -g` of its process, written to PREFIX.TARGET), HAPROXY_THREADS
# (default 1, as the issue sets the peers; 2 shows how a peer's tail moves with a second thread
# on 2 cores, beside TICKETCTL_INGRESS_THREADS=1 for the ingress).
# Needs wrk, nginx and haproxy: installed here with apt-get when missing (benchmark-only tools,
# never needed to run or test ticketctl). The Debian packages' own services are not used: each
# server runs from a config file and pid file under a temporary directory and is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
DURATION=${2:-10s}
CONNECTIONS=${CONNECTIONS:-"50 500"}
WRK_THREADS=${WRK_THREADS:-2}
HAPROXY_THREADS=${HAPROXY_THREADS:-1}
ROUNDS=${ROUNDS:-1}
TARGETS=${TARGETS:-"pod-direct ticketctl-up nginx nginx-log haproxy"}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
if [ "${#need[@]}" -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  # policy-rc.d 101: the packages' init scripts must not start system-wide servers.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 "${sudo[@]}" apt-get install -y -qq \
    --no-install-recommends "${need[@]}" >/dev/null
  for unit in nginx haproxy; do
    if [ -x "/etc/init.d/$unit" ]; then "${sudo[@]}" "/etc/init.d/$unit" stop >/dev/null 2>&1 || true; fi
  done
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
# Each server in a session of its own, as a daemon runs (`up -d` is one, and each pod is
# another): with the kernel's autogroup scheduling (sched_autogroup_enabled, on by default) CPU
# is shared between sessions first, so a peer left in this script's session would share wrk's
# share while the ingress has one of its own. SESSION= (empty) runs the peers here, as before.
SESSION=${SESSION-setsid}
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

cmake --build "$BUILD" --target ticketctl ticketctl_net bench_backend >/dev/null
bin=$(realpath "${TICKETCTL:-$BUILD/cli/ticketctl}")
backend=$(realpath "$BUILD/tests/bench_backend")

work=$(mktemp -d "${TMPDIR:-/tmp}/ticketctl-ingress-up-bench.XXXXXX")
state="$work/state"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$bin" down --state-dir "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# ---- the bench app under `ticketctl up -d`
mkdir -p "$work/app/k8s"
cat >"$work/app/ticketctl.yaml" <<YAML
manifests: [k8s]
images:
  bench/web: {command: ["$backend", "3000", "1"]}
YAML
cat >"$work/app/k8s/app.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: bench/web
        ports: [{containerPort: 3000}]
        readinessProbe: {tcpSocket: {port: 3000}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web-srv}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 3000}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bench}
spec:
  ingressClassName: nginx
  rules:
  - host: bench.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web-srv, port: {number: 80}}}}
YAML
up_port=$(free_port)
(cd "$work/app" && TICKETCTL_INGRESS_HTTP=$up_port TICKETCTL_INGRESS_HTTPS=0 \
  "$bin" up -d --state-dir "$state" >"$work/up.out" 2>&1) || {
  cat "$work/up.out" >&2
  exit 1
}
pod_ip=""
for _ in $(seq 1 200); do
  pod_ip=$("$bin" get endpoints web-srv --state-dir "$state" \
    -o 'jsonpath={.subsets[0].addresses[0].ip}' 2>/dev/null || true)
  [ -n "$pod_ip" ] && break
  sleep 0.05
done
[ -n "$pod_ip" ] || { echo "no ready endpoint for web-srv" >&2; exit 1; }
cp_pid=$(sed 's/.*"pid":\([0-9]*\).*/\1/' "$state/apiserver.json")
upstream="$pod_ip:3000"

declare -A proc_pid=([pod-direct]="" [ticketctl-up]="$cp_pid")

# ---- nginx, twice: access_log off, and an access log to a file
start_nginx() {  # NAME PORT ACCESS_LOG_DIRECTIVE
  local name=$1 port=$2 log=$3 dir="$work/$1"
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 8192; }
http {
  log_format upstreaminfo '\$remote_addr - \$remote_user [\$time_local] "\$request" '
    '\$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_length '
    '\$request_time [default-web-srv-80] [] \$upstream_addr \$upstream_response_length '
    '\$upstream_response_time \$upstream_status \$request_id';
  $log
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  upstream backend { server $upstream; keepalive 64; }
  server {
    listen 127.0.0.1:$port;
    server_name bench.test;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Request-ID \$request_id;
      proxy_set_header X-Real-IP \$remote_addr;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header X-Forwarded-Port \$server_port;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Scheme \$scheme;
    }
  }
}
CONF
  $SESSION "$NGINX" -p "$dir" -c "$dir/nginx.conf" &
  pids+=($!)
  proc_pid[$name]=$!
}
nginx_port=$(free_port)
start_nginx nginx "$nginx_port" "access_log off;"
nginx_log_port=$(free_port)
start_nginx nginx-log "$nginx_log_port" "access_log $work/nginx-log/logs/access.log upstreaminfo;"

# ---- HAProxy
haproxy_port=$(free_port)
mkdir -p "$work/haproxy"
cat >"$work/haproxy/haproxy.cfg" <<CONF
global
  nbthread $HAPROXY_THREADS
  maxconn 8000
  pidfile $work/haproxy/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 75s
  http-reuse always
  option forwardfor
  unique-id-format %{+X}o%ci%cp%fi%fp%Ts%rt
frontend bench
  bind 127.0.0.1:$haproxy_port
  http-request set-header X-Request-ID %[unique-id]
  http-request set-header X-Real-IP %[src]
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header X-Forwarded-Port %[dst_port]
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Scheme http
  default_backend web
backend web
  server pod $upstream
CONF
$SESSION "$HAPROXY" -db -f "$work/haproxy/haproxy.cfg" >"$work/haproxy/out" 2>&1 &
pids+=($!)
proc_pid[haproxy]=$!

port_of() {
  case $1 in
    pod-direct) echo "${pod_ip}:3000" ;;
    ticketctl-up) echo "127.0.0.1:$up_port" ;;
    nginx) echo "127.0.0.1:$nginx_port" ;;
    nginx-log) echo "127.0.0.1:$nginx_log_port" ;;
    haproxy) echo "127.0.0.1:$haproxy_port" ;;
  esac
}
for t in $TARGETS; do
  ok=""
  for _ in $(seq 1 100); do
    if curl -fsS -H 'Host: bench.test' "http://$(port_of "$t")/" >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.05
  done
  [ -n "$ok" ] || { echo "$t does not answer on $(port_of "$t")" >&2; exit 1; }
done

# CPU time (user + system, clock ticks) a process has used, all its threads; 0 without one.
cpu_ticks() {
  if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
    awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"
  else
    echo 0
  fi
}
hz=$(getconf CLK_TCK)

# wrk output → "requests/s p99 cpu-us-per-request notes". The CPU figure is the proxy process's
# own user + system time over the run divided by the requests served: what each request costs
# the proxy, whatever the scheduler did with the tail. For ticketctl-up the process is the whole
# control plane (API, controllers, kubelet, access log writer), all of which it charges.
measure() {
  local addr=$1 conns=$2 pid=${3:-} out rps p99 errors before after requests cpu spread
  before=$(cpu_ticks "$pid")
  out=$(wrk -t"$WRK_THREADS" -c"$conns" -d"$DURATION" --latency -H 'Host: bench.test' \
    "http://$addr/")
  after=$(cpu_ticks "$pid")
  rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  requests=$(awk '/requests in/{print $1}' <<<"$out")
  cpu=-
  if [ -n "$pid" ] && [ "${requests:-0}" -gt 0 ]; then
    cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN{printf "%.1f", t / hz * 1e6 / n}')
  fi
  errors=$(awk '/Non-2xx|Socket errors/{$1=$1; printf "%s; ", $0}' <<<"$out")
  # The rest of the distribution, to tell a slow middle from a long tail.
  spread=$(awk '$1=="50%"||$1=="90%"{printf "p%s %s ", substr($1, 1, 2), $2}' <<<"$out")
  echo "$rps $p99 $cpu ${spread}${errors:-}"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)   ingress access log: $state/ingress/access.log"
printf '%-14s %6s %5s %12s %10s %10s  %s\n' target conns round requests/s p99 cpu-us/req notes
results="$work/results"
: >"$results"
for conns in $CONNECTIONS; do
  for round in $(seq "$ROUNDS"); do
    for t in $TARGETS; do
      # A short warm-up fills the proxies' upstream pools before the measured run.
      wrk -t"$WRK_THREADS" -c"$conns" -d1s -H 'Host: bench.test' "http://$(port_of "$t")/" \
        >/dev/null 2>&1 || true
      read -r rps p99 cpu notes <<<"$(measure "$(port_of "$t")" "$conns" "${proc_pid[$t]:-}")"
      printf '%-14s %6s %5s %12s %10s %10s  %s\n' "$t" "$conns" "$round" "$rps" "$p99" "$cpu" "${notes:-}"
      echo "$t $conns $rps $p99 $cpu" >>"$results"
    done
  done
done
if [ "$ROUNDS" -gt 1 ]; then
  # wrk prints p99 with its unit (us, ms, s): read into milliseconds for the medians.
  awk -v targets="$TARGETS" -v connections="$CONNECTIONS" '
    function ms(text,   v) {
      v = text + 0
      if (text ~ /us$/) return v / 1000
      if (text ~ /ms$/) return v
      if (text ~ /s$/) return v * 1000
      return v
    }
    function median(key, n,   i, j, t, v) {
      for (i = 1; i <= n; i++) v[i] = values[key, i]
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    { n = ++count[$1, $2]; values[$1, $2, "rps", n] = $3; values[$1, $2, "p99", n] = ms($4); values[$1, $2, "cpu", n] = $5 }
    END {
      nt = split(targets, ts, " "); nc = split(connections, cs, " ")
      printf "\nmedians of %d rounds\n%-14s %6s %12s %10s %10s\n", ROUNDS, "target", "conns", "requests/s", "p99 ms", "cpu-us/req"
      for (c = 1; c <= nc; c++) {
        best = ""; best_rps = 0; low_p99 = ""; low = ""
        for (k = 1; k <= nt; k++) {
          t = ts[k]; n = count[t, cs[c]]
          if (!n) continue
          rps[t] = median(t SUBSEP cs[c] SUBSEP "rps", n); p99[t] = median(t SUBSEP cs[c] SUBSEP "p99", n)
          cpu = values[t, cs[c], "cpu", 1] == "-" ? "-" : sprintf("%.1f", median(t SUBSEP cs[c] SUBSEP "cpu", n))
          printf "%-14s %6s %12.0f %10.2f %10s\n", t, cs[c], rps[t], p99[t], cpu
          if ((t == "nginx" || t == "haproxy") && rps[t] > best_rps) { best = t; best_rps = rps[t] }
          if ((t == "nginx" || t == "haproxy") && (low == "" || p99[t] < low_p99)) { low = t; low_p99 = p99[t] }
        }
        key = "ticketctl-up" SUBSEP cs[c]
        if (best != "" && (key in count))
          printf "  %s connections: ticketctl-up %.2fx %s (target >= 1.10x); p99 %.2f ms, the lower peer (%s) %.2f ms\n",
            cs[c], rps["ticketctl-up"] / best_rps, best, p99["ticketctl-up"], low, low_p99
      }
    }' ROUNDS="$ROUNDS" "$results"
fi
if [ -n "${PERF:-}" ]; then
  # Profiled separately, so that perf's own cost stays out of the figures above: one more run
  # per target that has a process of its own, under `perf record -g` of that process.
  conns=${CONNECTIONS%% *}
  for t in $TARGETS; do
    pid=${proc_pid[$t]:-}
    [ -n "$pid" ] || continue
    perf record -g -o "$PERF.$t" -p "$pid" >/dev/null 2>&1 &
    perf_pid=$!
    read -r rps p99 cpu notes <<<"$(measure "$(port_of "$t")" "$conns" "$pid")"
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    printf '%-14s %6s %12s %10s %10s  %s\n' "(under perf)" "$conns" "$rps" "$p99" "$cpu" "perf data: $PERF.$t"
  done
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)   access log lines: $(wc -l <"$state/ingress/access.log")"
