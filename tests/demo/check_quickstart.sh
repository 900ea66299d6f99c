#!/bin/bash
# Runs the quickstart demo briefly and checks what it reports:
#   check_quickstart.sh <scripts/quickstart.sh> <build dir>
# The demo ends with
#   RESULT legit_sent=N legit_received=N flood_sent=N flood_received=N flood_dropped=N
#          limit_pps=N burst=N seconds=S
#   GATEWAY free_200=N free_429=N free_retry_after=S pro_200=N pro_429=N
#           unknown_key=STATUS free_limit=N key_in_log=0|1
set -uo pipefail

QUICKSTART=$1
BUILD_DIR=$2
DURATION=4

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

out=$(bash "$QUICKSTART" --no-build --duration "$DURATION" --build-dir "$BUILD_DIR" 2>&1)
rc=$?
echo "$out"
((rc == 0)) || fail "quickstart.sh exited with $rc"

result=$(grep '^RESULT ' <<<"$out" | tail -n 1)
[[ -n $result ]] || fail "no RESULT line"
field() {
	local v
	v=$(sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$result")
	[[ -n $v ]] || fail "RESULT has no $1: $result"
	echo "$v"
}
legit_sent=$(field legit_sent) || exit 1
legit_received=$(field legit_received) || exit 1
flood_sent=$(field flood_sent) || exit 1
flood_received=$(field flood_received) || exit 1
flood_dropped=$(field flood_dropped) || exit 1
limit=$(field limit_pps) || exit 1
burst=$(field burst) || exit 1
seconds=$(field seconds) || exit 1

# true when the awk expression holds
holds() { awk -v a="$legit_sent" -v b="$legit_received" -v c="$flood_sent" -v d="$flood_received" \
	-v e="$flood_dropped" -v l="$limit" -v u="$burst" -v s="$seconds" "BEGIN { exit !($1) }"; }

holds "s >= $DURATION - 0.5" || fail "the clients sent for only $seconds s"
# The legitimate client (under its limit) kept its rate and lost nothing.
holds "a >= 0.7 * 50 * s" || fail "the legit client sent only $legit_sent in $seconds s"
holds "b >= a - 1" || fail "legit client: sent $legit_sent, received only $legit_received"
# The flood was big, and what got through is the limit: rate x time + burst.
holds "c >= 10 * l * s" || fail "the flood was too small to mean anything: $flood_sent in $seconds s"
holds "d <= l * s * 1.1 + u + 10" ||
	fail "flooder: $flood_received received, more than $limit/s x $seconds s + $burst"
holds "d >= l * s * 0.5" || fail "flooder: only $flood_received received, the limit is $limit/s"
# Sluice's own counters account for what did not arrive.
holds "e >= 0.9 * (c - d)" || fail "Sluice counted $flood_dropped drops of $((flood_sent - flood_received)) lost"

# The request layer through nginx over TLS: the free key got its limit, then
# 429s with an honest Retry-After (one request's worth of a per-minute limit);
# the pro key was never refused; an unknown key got 401; no key was logged.
gateway=$(grep '^GATEWAY ' <<<"$out" | tail -n 1)
[[ -n $gateway ]] || fail "no GATEWAY line"
gfield() {
	local v
	v=$(sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$gateway")
	[[ -n $v ]] || fail "GATEWAY has no $1: $gateway"
	echo "$v"
}
free_limit=$(gfield free_limit) || exit 1
((free_limit > 0)) || fail "free_limit is $free_limit"
(($(gfield free_200) == free_limit)) || fail "the free key should get $free_limit answers: $gateway"
(($(gfield free_429) == 2)) || fail "the free key should get two 429s: $gateway"
retry=$(gfield free_retry_after) || exit 1
((retry >= 1 && retry <= 60 / free_limit)) || fail "Retry-After $retry is not one request's wait: $gateway"
(($(gfield pro_200) == free_limit + 2 && $(gfield pro_429) == 0)) || fail "the pro key was refused: $gateway"
(($(gfield unknown_key) == 401)) || fail "an unknown key did not get 401: $gateway"
(($(gfield key_in_log) == 0)) || fail "an API key was written to the access log"

# Nothing of the lab is left.
if ip netns list | grep -qE '^sdemo-(tx|rx)( |$)'; then fail "namespaces left: $(ip netns list)"; fi
[[ ! -e /sys/fs/bpf/sluice/sdemo-r ]] || fail "pins left under /sys/fs/bpf/sluice/sdemo-r"
if ip -d link show 2>/dev/null | grep -q 'sdemo-'; then fail "a demo link is left"; fi
echo "ok: legit client sent $legit_sent, received $legit_received; flooder sent $flood_sent, received $flood_received (limit $limit/s over $seconds s)"
