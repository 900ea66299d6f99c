#!/usr/bin/env bash
# The five-node lab for global limits (scripts/cluster-lab.sh): membership,
# fleet accuracy of a global request limit, node kill, restart, partition
# shares, healing and an impostor with the wrong cluster key. Prints every
# figure it checks. Run as root under the netns lock (ctest: e2e.cluster_lab):
#   flock /work/netns-tests.lock tests/cluster/cluster_lab_test.sh build/bin/sluiced
#
# Nothing waits a fixed time for something to happen: every wait polls with a
# deadline, and times are taken from the daemons' own records where they keep
# one (how long a member has been in its state), so a loaded machine, where
# one sluicectl round trip takes hundreds of ms, slows the test down without
# failing it. Tolerances:
# - accuracy (global 50/s, burst 50, 5 nodes, each offered 40/s): admitted at
#   most the ideal plus the stated overshoot bound (docs/cluster.md: 64), at
#   least 90% of the ideal (a loaded machine delays the load generators);
# - a killed node is declared dead by every other node within 5 s, by the
#   daemons' own clocks (their state age), plus the sluicectl round trip (the
#   design gives at most 4 s: Membership.DeathsAreNoticedWithinFourSeconds...);
# - a partitioned side falls back to its share within 2.5 s (the sync timeout
#   is 0.3 s; the rest is polling on a loaded machine; SWIM alone took ~4 s);
# - restart and heal: seen alive within 15 s; after the heal the fleet admits at
#   most the ideal plus the bound and at least 0.9 of it, as in the accuracy
#   check (the partition's consumption is rebased, not charged twice:
#   docs/cluster.md, "Partitions"; before that, 0.79-0.84). The ceiling is
#   the ordinary bound: the rebase's per-partition term (worst case 4 x 57)
#   is ~28 with this even load, and runs so far admitted 261-271. The
#   partition's and the heal's load come from a client first seen during the
#   partition, so each side's partition-era count of it must be rebased too
#   (told by its counter's start time), at least half of what the other side
#   admitted.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
export SLUICED="${1:-$here/build/bin/sluiced}"
lab="$here/scripts/cluster-lab.sh"
export GLOBAL_RATE=50 SYNC=100ms
bound=64  # (N - 1) * (R * D + ceil(B / N) + 1) with N = 5, R = 50/s, D = 0.1 s, B = 50
failures=0
trap '"$lab" down >/dev/null 2>&1 || true' EXIT

check() {  # check DESCRIPTION CONDITION
  if python3 -c "import sys; sys.exit(0 if ($2) else 1)"; then echo "ok   $1"
  else echo "FAIL $1"; failures=$((failures + 1)); fi
}
now() { date +%s.%N; }
since() { python3 -c "print(round($(now) - $1, 2))"; }
peers_field() {  # peers_field NODE PYTHON-EXPR over j
  "$lab" peers "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"
}
states() { peers_field "$1" "' '.join(m['name']+'='+m['state'] for m in j['members'])"; }
state_of() { peers_field "$1" "next((m['state'] for m in j['members'] if m['name']=='n$2'), 'unknown')"; }
alive_count() { peers_field "$1" "sum(m['state']=='alive' for m in j['members'])"; }
share_of() { peers_field "$1" "j['share']"; }
# Asks every NODE in parallel (one sluicectl + python each takes hundreds of
# ms on a loaded machine) and succeeds when EXPR (python, over the list `v` of
# answers in NODE order) holds: ask_all "EXPR" FUNCTION ARGS-AFTER-NODE -- NODES...
ask_all() {
  local expr=$1 fn=$2; shift 2
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  local dir; dir=$(mktemp -d)
  for o in "$@"; do "$fn" "$o" "${args[@]}" >"$dir/$o" 2>/dev/null & done
  wait
  local values=""
  for o in "$@"; do values+="'$(cat "$dir/$o")',"; done
  rm -rf "$dir"
  python3 -c "import sys; v=[$values]; sys.exit(0 if ($expr) else 1)"
}
poll() {  # poll DEADLINE_S COMMAND...: until COMMAND succeeds; prints the seconds taken (999: never)
  local deadline=$1 start; shift
  start=$(now)
  while :; do
    if "$@"; then since "$start"; return; fi
    if python3 -c "import sys; sys.exit(0 if $(now) - $start > $deadline else 1)"; then
      echo 999; return
    fi
    sleep 0.1
  done
}
fleet_load() {  # [CLIENT=IP] fleet_load RATE SECONDS NODES... ; prints the admitted total
  local rate=$1 seconds=$2; shift 2
  local dir; dir=$(mktemp -d)
  for n in "$@"; do
    "$lab" load "$n" --rate "$rate" --seconds "$seconds" ${CLIENT:+--client "$CLIENT"} >"$dir/$n" &
  done
  wait
  cat "$dir"/* | python3 -c "import json,sys; print(sum(json.loads(l)['allowed'] for l in sys.stdin))"
  rm -rf "$dir"
}
# When OBSERVER declared node SUBJECT dead, by OBSERVER's own record (the age of
# the state), as a unix time taken after the answer arrived (so never early);
# far in the future when it has not.
dead_at() {
  local answer
  answer=$(peers_field "$1" \
    "next((str(m['state'])+' '+str(m['state_ms']) for m in j['members'] if m['name']=='n$2'), '')")
  python3 -c "a = '$answer'.split(); print($(now) - int(a[1]) / 1000 if a[:1] == ['dead'] else 1e12)"
}

"$lab" up 5
took=$(poll 30 ask_all "all(x == '5' for x in v)" alive_count -- 1 2 3 4 5)
for n in 1 2 3 4 5; do echo "n$n sees: $(states "$n")"; done
check "every node sees 5 alive members (after ${took} s)" "$took < 30"

# Accuracy: one client over all five nodes, 40/s each (200/s offered) for 10 s,
# against a global 50/s with a burst of 50. Each node holds a burst share of
# ceil(50/5) = 10 (docs/cluster.md), so one bucket of 50/s and burst 10 admits
# 50*10 + 10 = 510; the fleet may exceed that by the stated bound (64).
admitted=$(fleet_load 40 10 1 2 3 4 5)
expected=510
echo "fleet admitted $admitted, ideal $expected ($(python3 -c "print(round($admitted / $expected, 3))")), bound $((expected + bound)) (naive per-host limits: 2750)"
check "fleet within the stated bound of the global limit ($admitted vs $expected + $bound)" \
  "0.9 * $expected <= $admitted <= $expected + $bound"

killed=$(now)
"$lab" kill 5
took=$(poll 20 ask_all "all(x == 'dead' for x in v)" state_of 5 -- 1 2 3 4)
latest=0
for o in 1 2 3 4; do
  latest=$(python3 -c "print(max($latest, $(dead_at "$o" 5) - $killed))")
done
latest=$(python3 -c "print(round($latest, 2))")
check "a killed node is dead for every other node within 5 s (the last declared it after ${latest} s; polling saw it after ${took} s)" \
  "$latest <= 5"
"$lab" start 5
took=$(poll 15 ask_all "all(x == 'alive' for x in v)" state_of 5 -- 1 2 3 4)
check "the restarted node rejoins (took ${took} s)" "$took <= 15"
took=$(poll 15 ask_all "all(abs(float(x) - 1) < 0.01 for x in v)" share_of -- 1 2 3 4 5)
check "the restarted node counts in every share again (took ${took} s)" "$took <= 15"

"$lab" partition "1 2" "3 4 5"
took=$(poll 15 ask_all "abs(float(v[0]) - 0.4) < 0.01 and abs(float(v[1]) - 0.6) < 0.01" share_of -- 1 3)
check "partition: each side falls back to its share, 2/5 and 3/5, within 2.5 s (took ${took} s)" \
  "$took <= 2.5"
# From here on a client no node saw before the cut: after the heal each side
# has no counter of it from the other to rebase, only the counter's start
# time (its generation) to tell that the other side admitted it during the
# partition (docs/cluster.md, "Partitions").
admitted=$(CLIENT=198.19.7.8 fleet_load 40 10 1 2 3 4 5)
echo "partitioned fleet admitted $admitted from the first second (global limit over 10 s: 500 + bursts)"
check "partitioned fleet within the stated bound of the global limit ($admitted vs $expected + $bound)" \
  "0.9 * $expected <= $admitted <= $expected + $bound"

"$lab" heal
took=$(poll 20 ask_all "all(x == 'alive' for x in v)" state_of 1 -- 3 4 5)
took2=$(poll 20 ask_all "all(x == 'alive' for x in v)" state_of 4 -- 1 2)
check "healing: both sides see each other alive again (${took} s, ${took2} s)" \
  "$took <= 15 and $took2 <= 15"
took=$(poll 15 ask_all "all(abs(float(x) - 1) < 0.01 for x in v)" share_of -- 1 2 3 4 5)
check "healed share is 1 everywhere (took ${took} s)" "$took <= 15"
admitted=$(CLIENT=198.19.7.8 fleet_load 40 5 1 2 3 4 5)
rebased1=$(peers_field 1 "j['rebased']") rebased3=$(peers_field 3 "j['rebased']")
echo "healed fleet admitted $admitted in 5 s (ideal 250 + 10); the other side's partition-era consumption rebased, not charged: $rebased1 on n1, $rebased3 on n3"
# n1's other side admitted about 3/5 of 500 during the partition, n3's 2/5.
# Charged instead (before generations were judged: 0 and 4 rebased), the
# debt was paid while this script polled for the heal.
check "the new client's partition-era consumption is rebased, not charged twice ($rebased1 on n1, $rebased3 on n3)" \
  "${rebased1:-0} >= 0.5 * 300 and ${rebased3:-0} >= 0.5 * 200"
# Double counting the partition's consumption shows as under-admission (the
# buckets start the heal in debt: 0.79-0.84 before the rebase), a lost or
# ignored charge as over-admission: both bounds matter here.
check "healed fleet within the stated bound of the global limit, at least 0.9 of it ($admitted vs 260 + $bound)" \
  "0.9 * 260 <= $admitted <= 260 + $bound"

"$lab" kill 5
poll 20 ask_all "all(x == 'dead' for x in v)" state_of 5 -- 1 2 3 4 >/dev/null
"$lab" start 5 /tmp/sluice-cluster-lab/impostor.key
took=$(poll 15 ask_all "int(v[0]) > 0" peers_field "j['datagrams']['forged']" -- 1)
sleep 3  # the impostor's seeds answer within a second: give it time to (fail to) join
forged=$(peers_field 1 "j['datagrams']['forged']")
check "an impostor with the wrong key stays out (n1 sees n5 $(state_of 1 5), $forged forged datagrams, first after ${took} s)" \
  "'$(state_of 1 5)' != 'alive' and $forged > 0"
impostor_view=$(alive_count 5)
check "the impostor learns no member ($impostor_view alive incl. itself)" "$impostor_view == 1"

echo "failures: $failures"
exit $((failures > 0))
