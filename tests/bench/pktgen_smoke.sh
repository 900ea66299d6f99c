#!/bin/bash
# Smoke test of the benchmark tools: sluice-pktgen sends N frames out of one veth
# end and the receivers on the other end see every one of them, well-formed.
#   pktgen_smoke.sh <sluice-pktgen> <sluice-benchrx>
# Own lab only (scripts/lab.sh, namespaces ss<pid>-tx/-rx), removed on exit.
set -euo pipefail

PKTGEN=$1
BENCHRX=$2
N=100000
LAB=$(dirname "${BASH_SOURCE[0]}")/../../scripts/lab.sh
NAME=ss$$
RX=$NAME-rx
RXIF=$NAME-r

cleanup() {
	if [[ -n ${RXPID:-} ]]; then kill "$RXPID" 2>/dev/null || true; fi
	"$LAB" down "$NAME"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# IPv4 only: no router solicitations or MLD reports in the counts.
lab_env=$("$LAB" up "$NAME" --subnet 90 --no-ipv6 --print-env)
eval "$lab_env"
TX=$LAB_TX_NS
TXIF=$LAB_TX_IF
MAC=$LAB_RX_MAC

rx_packets() {
	ip netns exec "$RX" ethtool -S "$RXIF" | awk '/rx_queue_0_xdp_packets/ {print $2}'
}
# Frames the veth could not hand to the receiver's ring (full while the
# receiving CPU was busy elsewhere): counted on the sending end.
ring_drops() {
	ip netns exec "$TX" ethtool -S "$TXIF" | awk '/tx_queue_0_xdp_xmit_errors/ {n = $2} END {print n + 0}'
}

# Runs one receiver, sends with the given pktgen options, checks the counts.
# Prints the receiver's stats line.
check() {
	local prog=$1
	shift
	coproc RXPROC { ip netns exec "$RX" "$BENCHRX" attach --dev "$RXIF" --prog "$prog" --rate 0; }
	RXPID=$RXPROC_PID
	local line
	# Loading and verifying the program took over 10 s once under a CPU hog:
	# a smoke test checks counts, not load time.
	read -r -t 60 line <&"${RXPROC[0]}" || fail "$prog receiver did not start within 60 s"
	[[ $line == ready ]] || fail "$prog receiver said '$line'"
	local before after out drops_before lost
	before=$(rx_packets)
	drops_before=$(ring_drops)
	out=$(ip netns exec "$TX" "$PKTGEN" --dev "$TXIF" --dst-mac "$MAC" --count $N --json "$@")
	after=$(rx_packets)
	lost=$(($(ring_drops) - drops_before))
	[[ $out == *"\"sent\": $N,"* ]] || fail "pktgen $*: $out"
	# IPv6 is off in the lab; the margin is for any stray frame of the kernel.
	# Every frame is seen or counted as dropped at the veth's ring (a busy
	# machine: one CI run saw 91,568), and most are seen.
	((after - before + lost >= N && after - before + lost <= N + 4 && lost <= N / 4)) ||
		fail "pktgen $*: sent $N, rx saw $((after - before)), $lost dropped at the veth's ring"
	((lost == 0)) || echo "note: pktgen $*: $lost of $N frames dropped at the veth's ring" >&2
	echo stats >&"${RXPROC[1]}"
	read -r -t 30 line <&"${RXPROC[0]}" || fail "$prog receiver gave no stats"
	echo quit >&"${RXPROC[1]}"
	wait "$RXPID" || fail "$prog receiver failed"
	RXPID=
	echo "$line"
}

check drop --sources 1000 >/dev/null
echo "ok: trivial XDP_DROP saw $N IPv4 UDP frames"

# Sluice parses every frame as well-formed and sees every source: IPv6 TCP SYN,
# one /64 per source, so the checksums and addresses the generator writes are valid.
stats=$(check sluice --src 2001:db8:1::1 --dst 2001:db8::2 --sources 500 --spread prefix64 --proto syn)
field() { sed -n "s/.*\"$1\": \([0-9]*\).*/\1/p" <<<"$stats"; }
# A margin of a few for stray frames, as above.
(($(field passed) >= N && $(field passed) <= N + 4)) || fail "Sluice stats $stats"
(($(field new_sources) >= 500 && $(field new_sources) <= 502)) ||
	fail "Sluice saw the wrong number of sources: $stats"
(($(field malformed) == 0)) || fail "Sluice saw malformed frames: $stats"
echo "ok: Sluice passed $N IPv6 TCP SYN frames from 500 /64s, none malformed"
