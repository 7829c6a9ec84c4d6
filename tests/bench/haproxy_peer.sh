# Sourced by tests/bench/service_up.sh and tap_up.sh: Debian's HAProxy as a peer relay in front of
# one pod, so a relay's figure can be read against what another proxy gets on the same machine.
#
#   start_haproxy_peer MODE UPSTREAM WORKDIR
#       MODE tcp or http; UPSTREAM ip:port. nbthread 1, kernel splicing forced both ways
#       (`option splice-auto` left HAProxy copying in user space here) through pipes the size of
#       the relay's (runtime/net/service_proxy_internal.h). On success sets haproxy_port and
#       haproxy_pid (the caller stops it) once the port accepts connections; returns 1 after a
#       line saying why when haproxy is not installed or HAPROXY=0.
start_haproxy_peer() {
  local mode=$1 upstream=$2 dir=$3 haproxy
  haproxy=$(command -v haproxy || { [ -x /usr/sbin/haproxy ] && echo /usr/sbin/haproxy; } || true)
  if [ -z "$haproxy" ]; then
    echo "# HAProxy peer skipped: haproxy is not installed (benchmark-only: apt-get install haproxy)"
    return 1
  fi
  if [ "${HAPROXY:-1}" = 0 ]; then
    echo "# HAProxy peer skipped: HAPROXY=0"
    return 1
  fi
  haproxy_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  cat >"$dir/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4000
  tune.pipesize 262144
defaults
  mode $mode
  option splice-request
  option splice-response
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen relay
  bind 127.0.0.1:$haproxy_port
  server pod $upstream
CONF
  # A session of its own, as the relay's control plane has (see ingress_up.sh on autogroups).
  setsid "$haproxy" -db -f "$dir/haproxy.cfg" >"$dir/haproxy.out" 2>&1 &
  haproxy_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$haproxy_port") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "# HAProxy peer skipped: it did not listen within 5 s ($(tail -1 "$dir/haproxy.out"))"
  kill "$haproxy_pid" 2>/dev/null || true
  haproxy_pid=""
  return 1
}
