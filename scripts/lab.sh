#!/usr/bin/env bash
# The namespace lab: two network namespaces joined by a veth pair. The one
# implementation behind the C++ tests (tests/support/lab.cpp), the quickstart,
# the pktgen smoke test and scripts/bench-dataplane; see docs/lab.md.
#
#   lab.sh up NAME --subnet N [--no-ipv6] [--print-env]
#   lab.sh add-source NAME ADDRESS
#   lab.sh exec NAME tx|rx COMMAND...
#   lab.sh down NAME
#
# A lab NAME (at most 10 characters: interface names end at 15) is
#   namespace NAME-tx, interface NAME-t: 198.18.N.1/24, 2001:db8:N::1/64
#   namespace NAME-rx, interface NAME-r: 198.18.N.2/24, 2001:db8:N::2/64
# with permanent neighbours both ways, so address resolution never races the
# traffic under test. Addresses come only from 198.18.0.0/15 and 2001:db8::/32.
set -euo pipefail

lab_usage() {
  sed -n '6,9p' "${BASH_SOURCE[0]}" | sed 's/^#   /usage: /' >&2
  exit 2
}

lab_die() {
  echo "lab.sh: $*" >&2
  exit 1
}

lab_check_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,9}$ ]] ||
    lab_die "lab name '$1': 1 to 10 letters, digits or '-' (interface names end at 15)"
}

lab_mac() { ip -n "$1" -br link show dev "$2" | awk '{print $3}'; }

lab_neighbour() { ip -n "$1" neigh replace "$3" lladdr "$4" dev "$2" nud permanent; }

# Ends whatever still runs in the lab's namespaces (a daemon or clients left
# by a run that was killed), then deletes them; deleting a namespace removes
# its end of the veth pair and whatever XDP program is attached to it.
lab_down() {
  local name=$1 ns pids pid i
  for ns in "$name-tx" "$name-rx"; do
    pids=$(ip netns pids "$ns" 2>/dev/null) || continue
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in $pids; do
      for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  ip netns del "$name-tx" 2>/dev/null || true
  ip netns del "$name-rx" 2>/dev/null || true
}

lab_up() {
  local name=$1 subnet='' ipv6=1 print_env=0
  shift
  lab_check_name "$name"
  while (($#)); do
    case $1 in
      --subnet) [[ $# -ge 2 ]] || lab_usage; subnet=$2; shift ;;
      --no-ipv6) ipv6=0 ;;
      --print-env) print_env=1 ;;
      *) lab_usage ;;
    esac
    shift
  done
  if ! [[ $subnet =~ ^[0-9]+$ ]] || ((subnet > 255)); then
    lab_die "--subnet wants 0..255, got '$subnet'"
  fi
  local tx_ns=$name-tx rx_ns=$name-rx tx_if=$name-t rx_if=$name-r
  # Leftovers of a crashed earlier run with the same name go first.
  lab_down "$name"
  # Half a lab is never left behind: a failing step (set -e) or a signal ends
  # the script, and this removes what was built.
  LAB_BUILDING=$name
  trap 'lab_down "$LAB_BUILDING"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  ip netns add "$tx_ns"
  ip netns add "$rx_ns"
  ip link add "$tx_if" netns "$tx_ns" type veth peer name "$rx_if" netns "$rx_ns"
  local ns dev host
  for ns in "$tx_ns:$tx_if:1" "$rx_ns:$rx_if:2"; do
    IFS=: read -r ns dev host <<<"$ns"
    ip -n "$ns" link set lo up
    if ((ipv6)); then
      ip -n "$ns" addr add "2001:db8:$subnet::$host/64" dev "$dev" nodad
    else
      # IPv4 only: no router solicitations or MLD reports in the figures.
      nsenter --net="/run/netns/$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
    fi
    ip -n "$ns" addr add "198.18.$subnet.$host/24" dev "$dev"
    ip -n "$ns" link set "$dev" up
  done
  local tx_mac rx_mac
  tx_mac=$(lab_mac "$tx_ns" "$tx_if")
  rx_mac=$(lab_mac "$rx_ns" "$rx_if")
  [[ $tx_mac =~ ^[0-9a-f:]{17}$ && $rx_mac =~ ^[0-9a-f:]{17}$ ]] ||
    lab_die "cannot read the MACs of $tx_if/$rx_if"
  lab_neighbour "$tx_ns" "$tx_if" "198.18.$subnet.2" "$rx_mac"
  lab_neighbour "$rx_ns" "$rx_if" "198.18.$subnet.1" "$tx_mac"
  if ((ipv6)); then
    lab_neighbour "$tx_ns" "$tx_if" "2001:db8:$subnet::2" "$rx_mac"
    lab_neighbour "$rx_ns" "$rx_if" "2001:db8:$subnet::1" "$tx_mac"
    # Extra tx sources live in 2001:db8:<subnet>:<host>::/64; route them back.
    ip -n "$rx_ns" -6 route add "2001:db8:$subnet::/48" dev "$rx_if"
  fi
  trap - EXIT INT TERM
  if ((print_env)); then
    cat <<EOF
LAB_TX_NS=$tx_ns
LAB_RX_NS=$rx_ns
LAB_TX_IF=$tx_if
LAB_RX_IF=$rx_if
LAB_TX_MAC=$tx_mac
LAB_RX_MAC=$rx_mac
LAB_TX_V4=198.18.$subnet.1
LAB_RX_V4=198.18.$subnet.2
EOF
    if ((ipv6)); then
      echo "LAB_TX_V6=2001:db8:$subnet::1"
      echo "LAB_RX_V6=2001:db8:$subnet::2"
    fi
  fi
}

# One more source address on the tx side (IPv4 in the lab's /24, IPv6 as a
# /48 the rx side routes back), with a permanent neighbour on the rx side.
lab_add_source() {
  local name=$1 address=$2
  lab_check_name "$name"
  local tx_ns=$name-tx rx_ns=$name-rx tx_if=$name-t rx_if=$name-r
  if [[ $address == *:* ]]; then
    ip -n "$tx_ns" addr add "$address/48" dev "$tx_if" nodad
  else
    ip -n "$tx_ns" addr add "$address/24" dev "$tx_if"
  fi
  lab_neighbour "$rx_ns" "$rx_if" "$address" "$(lab_mac "$tx_ns" "$tx_if")"
}

# Runs a command in one side's network namespace only: unlike `ip netns exec`
# it keeps the host's mounts, so /sys/fs/bpf (and the daemon's pins) stay.
lab_exec() {
  local name=$1 side=$2
  shift 2
  lab_check_name "$name"
  [[ $side == tx || $side == rx ]] || lab_die "side must be tx or rx, got '$side'"
  (($#)) || lab_usage
  exec nsenter --net="/run/netns/$name-$side" "$@"
}

lab_main() {
  (($# >= 2)) || lab_usage
  local command=$1
  shift
  case $command in
    up) lab_up "$@" ;;
    add-source) (($# == 2)) || lab_usage; lab_add_source "$@" ;;
    exec) (($# >= 3)) || lab_usage; lab_exec "$@" ;;
    down) (($# == 1)) || lab_usage; lab_check_name "$1"; lab_down "$1" ;;
    *) lab_usage ;;
  esac
}

lab_main "$@"
