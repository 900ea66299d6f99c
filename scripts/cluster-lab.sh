#!/usr/bin/env bash
# The multi-host lab for global limits: NODES network namespaces (slc-n1..)
# on one bridge in a hub namespace (slc-hub), 198.18.100.N/24, each with its
# own sluiced (check API on its loopback, gossip on 198.18.100.N:7946).
# Run under the netns lock: flock /work/netns-tests.lock scripts/cluster-lab.sh ...
#
#   cluster-lab.sh up NODES [SLUICED]   namespaces, bridge, one daemon per node
#   cluster-lab.sh start N [KEYFILE]    (re)start node N's daemon (another key: an impostor)
#   cluster-lab.sh kill N               SIGKILL node N's daemon
#   cluster-lab.sh partition "A B" "C D E"   each group reaches only itself
#   cluster-lab.sh heal
#   cluster-lab.sh peers N              sluicectl peers --json on node N
#   cluster-lab.sh load N ARGS...       tests/cluster/check_load.py inside node N
#   cluster-lab.sh redis start|stop    one redis-server in the hub (198.18.100.254:6379)
#   cluster-lab.sh down
#
# Global limit under test: anonymous window `second`, GLOBAL_RATE/s with a
# burst of GLOBAL_RATE, `global: true` (env GLOBAL_RATE, default 50; SYNC,
# default 100ms). SYNC_MODE picks how nodes share it (read when a node
# starts): gossip (default), redis (through the hub's redis-server; start it
# first), none (no cluster: each node enforces the whole limit by itself, the
# naive per-host setup the benchmark compares against).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work=/tmp/sluice-cluster-lab
hub=slc-hub
sluiced="${SLUICED:-$here/build/bin/sluiced}"
sluicectl="${SLUICECTL:-$(dirname "$sluiced")/sluicectl}"
rate="${GLOBAL_RATE:-50}"
sync="${SYNC:-100ms}"
sync_mode="${SYNC_MODE:-gossip}"
redis_addr=198.18.100.254

die() { echo "cluster-lab.sh: $*" >&2; exit 1; }
ns() { echo "slc-n$1"; }
addr() { echo "198.18.100.$1"; }
nodes() { cat "$work/nodes"; }

write_config() {
  local n=$1 key=$2 dir="$work/n$1" global=", global: true"
  mkdir -p "$dir"
  [ "$sync_mode" = none ] && global=""
  cat >"$dir/sluice.yaml" <<YAML
control: {socket: $dir/sluiced.sock}
state_file: $dir/state.json
metrics: {listen: 127.0.0.1:9464}
tiers:
  default: {packets: 1000000/s}
check:
  listen: 127.0.0.1:9465
  keys_file: $dir/keys.json
  pepper_file: $dir/pepper
  state_file: $dir/request-state.bin
  anonymous:
    second: {rate: $rate/s, burst: $rate$global}
YAML
  case "$sync_mode" in
    gossip) cat >>"$dir/sluice.yaml" <<YAML
cluster:
  name: lab
  node: n$n
  bind: $(addr "$n"):7946
  seeds: [$(addr 1):7946, $(addr 2):7946]
  key_file: $key
  sync_interval: $sync
YAML
    ;;
    redis) cat >>"$dir/sluice.yaml" <<YAML
cluster:
  name: lab
  node: n$n
  sync: redis
  redis: $redis_addr:6379
  hosts: $(nodes)
  sync_interval: $sync
YAML
    ;;
    none) ;;
    *) die "SYNC_MODE must be gossip, redis or none (not $sync_mode)" ;;
  esac
}

redis() {
  case "$1" in
    start)
      ip -n "$hub" link set lo up  # its own address is reached through lo
      ip -n "$hub" addr replace "$redis_addr/24" dev slc-br0
      ip netns exec "$hub" redis-server --bind "$redis_addr" --port 6379 --protected-mode no --save '' \
        --appendonly no --daemonize no --dir "$work" >"$work/redis.log" 2>&1 &
      echo $! >"$work/redis.pid"
      for _ in $(seq 50); do
        timeout 1 ip netns exec "$hub" redis-cli -h "$redis_addr" ping >/dev/null 2>&1 && return 0
        sleep 0.1
      done
      cat "$work/redis.log" >&2
      die "redis-server did not start" ;;
    stop)
      [ -f "$work/redis.pid" ] || return 0
      kill "$(cat "$work/redis.pid")" 2>/dev/null || true
      rm -f "$work/redis.pid" ;;
    *) die "redis start|stop" ;;
  esac
}

start_node() {
  local n=$1 key=${2:-$work/cluster.key} dir="$work/n$1"
  write_config "$n" "$key"
  rm -f "$dir/request-state.bin"
  ip netns exec "$(ns "$n")" "$sluiced" --config "$dir/sluice.yaml" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 50); do [ -S "$dir/sluiced.sock" ] && return 0; sleep 0.1; done
  cat "$dir/log" >&2
  die "node $n did not start"
}

kill_node() {
  local pid_file="$work/n$1/pid"
  [ -f "$pid_file" ] || return 0
  kill -9 "$(cat "$pid_file")" 2>/dev/null || true
  rm -f "$pid_file" "$work/n$1/sluiced.sock"
}

up() {
  local count=$1
  [ -x "$sluiced" ] || die "no sluiced at $sluiced (SLUICED=...)"
  down >/dev/null 2>&1 || true
  mkdir -p "$work"
  echo "$count" >"$work/nodes"
  head -c 32 /dev/urandom | base64 >"$work/cluster.key"
  head -c 32 /dev/urandom | base64 >"$work/impostor.key"
  ip netns add "$hub"
  ip -n "$hub" link add slc-br0 type bridge
  ip -n "$hub" link set slc-br0 up
  for n in $(seq "$count"); do
    ip netns add "$(ns "$n")"
    ip link add "slc-h$n" netns "$hub" type veth peer name eth0 netns "$(ns "$n")"
    ip -n "$hub" link set "slc-h$n" master slc-br0 up
    ip -n "$(ns "$n")" link set lo up
    ip -n "$(ns "$n")" addr add "$(addr "$n")/24" dev eth0
    ip -n "$(ns "$n")" link set eth0 up
  done
  [ "$sync_mode" = redis ] && redis start
  for n in $(seq "$count"); do start_node "$n"; done
}

partition() {
  heal
  local a b
  for a in $1; do for b in $2; do
    ip -n "$(ns "$a")" route add blackhole "$(addr "$b")/32"
    ip -n "$(ns "$b")" route add blackhole "$(addr "$a")/32"
  done; done
}

heal() {
  for n in $(seq "$(nodes)"); do
    ip -n "$(ns "$n")" route show type blackhole | awk '{print $2}' | while read -r dst; do
      ip -n "$(ns "$n")" route del blackhole "$dst"
    done
  done
}

down() {
  if [ -f "$work/nodes" ]; then
    for n in $(seq "$(nodes)"); do kill_node "$n"; done
    redis stop
    for n in $(seq 9); do ip netns del "$(ns "$n")" 2>/dev/null || true; done
  fi
  ip netns del "$hub" 2>/dev/null || true
  rm -rf "$work"
}

cmd=${1:-}; shift || true
case "$cmd" in
  up) up "${1:?NODES}" ;;
  start) start_node "${1:?N}" "${2:-$work/cluster.key}" ;;
  kill) kill_node "${1:?N}" ;;
  partition) partition "${1:?group}" "${2:?group}" ;;
  heal) heal ;;
  peers) ip netns exec "$(ns "${1:?N}")" "$sluicectl" --socket "$work/n$1/sluiced.sock" peers --json ;;
  load) n=${1:?N}; shift; ip netns exec "$(ns "$n")" python3 "$here/tests/cluster/check_load.py" "$@" ;;
  redis) redis "${1:?start|stop}" ;;
  down) down ;;
  *) sed -n '6,15p' "$0" | sed 's/^#   /usage: /' >&2; exit 2 ;;
esac
