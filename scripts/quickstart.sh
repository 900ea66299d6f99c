#!/usr/bin/env bash
# Sluice quickstart: installs the dependencies, builds, and runs a self-contained
# demo of both layers in a namespace lab:
#
#   sdemo-tx (the clients)                     sdemo-rx (the gateway)
#   sdemo-t 198.18.100.10 (legit, 50 pkt/s)  <->  sdemo-r 198.18.100.2
#           198.18.100.66 (flood, 5000 pkt/s)     sluiced (XDP + check API) + a UDP receiver
#           198.18.100.20 (API client, free key)  nginx on :443 (examples/nginx/gateway.conf)
#           198.18.100.21 (API client, pro key)   + five example services
#
# The lab is scripts/lab.sh's (docs/lab.md), as for the tests and benchmarks.
#
# sluiced runs with a configuration derived from config/sluice.example.yaml that
# limits 198.18.100.0/24 to 100 packets/s per source. A live view shows, second by
# second, what each client sent, what reached the receiver and what Sluice dropped;
# a summary and a machine-readable RESULT line follow. While the flood goes on,
# two API clients call the gateway over HTTPS (certificate made at setup) with a
# free and a pro key: the free one gets its 429s with Retry-After and the
# rate-limit headers, the pro one keeps going; a GATEWAY line sums it up.
# Everything (namespaces,
# veth, daemon, pins, temp files) is removed on exit, on failure and on Ctrl-C.
#
# Usage: sudo scripts/quickstart.sh [--no-build] [--duration SECONDS] [--build-dir DIR]
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: sudo scripts/quickstart.sh [options]

Installs Sluice's dependencies (Debian 12), builds it into build/, and shows both
layers in a namespace lab: the kernel (XDP) dropping a UDP flood while a
legitimate client keeps its rate, and nginx over TLS asking Sluice about every
API request: a free key gets its 429s and headers, a pro key goes on.

Options:
  --no-build        skip installing packages and building (reuse the build)
  --duration N      seconds of live view (default 12)
  --build-dir DIR   build directory (default: build/ in the repository)
  -h, --help        this help

Touches nothing outside its own network namespaces (sdemo-tx, sdemo-rx); an installed sluiced and its /etc, /run/sluice are left alone.
EOF
}

# --- options -----------------------------------------------------------------
BUILD=1
DURATION=12
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=$REPO/build
while (($#)); do
  case $1 in
    --no-build) BUILD=0 ;;
    --duration) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; DURATION=$2; shift ;;
    --duration=*) DURATION=${1#*=} ;;
    --build-dir) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; BUILD_DIR=$2; shift ;;
    --build-dir=*) BUILD_DIR=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "quickstart: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if ! [[ $DURATION =~ ^[0-9]+$ ]] || ((DURATION < 1 || DURATION > 3600)); then
  echo "quickstart: --duration wants whole seconds (1..3600), got '$DURATION'" >&2
  exit 2
fi
BUILD_DIR=$(cd "$REPO" && realpath -m "$BUILD_DIR")

if [[ $(id -u) -ne 0 ]]; then
  echo "quickstart: run as root (sudo scripts/quickstart.sh): BPF programs and network namespaces need it" >&2
  exit 1
fi
cd "$REPO"

# --- the lab -------------------------------------------------------------------
LAB=sdemo # scripts/lab.sh names everything after it
LAB_SH=$REPO/scripts/lab.sh
SUBNET=100
NS_C=$LAB-tx
NS_GW=$LAB-rx
IF_GW=$LAB-r
NET=198.18.$SUBNET.0/24
GW_IP=198.18.$SUBNET.2
LEGIT_IP=198.18.100.10
FLOOD_IP=198.18.100.66
FREE_CLIENT_IP=198.18.100.20 # API clients, through nginx
PRO_CLIENT_IP=198.18.100.21
FREE_PER_MINUTE=5 # the demo's free tier: 5 requests a minute
PORT=9000
LIMIT_PPS=100  # the demo tier: packets per second per source ...
BURST=100      # ... and its burst
LEGIT_PPS=50   # under the limit
FLOOD_PPS=5000 # 50x over it
PIN_ROOT=/sys/fs/bpf/sluice
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || PYTHON=$(command -v python3 || echo /usr/bin/python3)

bold() { if [[ -t 1 ]]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { bold "==> $*"; }
die() {
  echo "quickstart: $*" >&2
  exit 1
}

# --- install and build -----------------------------------------------------------
if ((BUILD)); then
  step "Installing dependencies (scripts/install-deps.sh)"
  bash scripts/install-deps.sh
  step "Building sluiced and sluicectl into ${BUILD_DIR#"$REPO"/}"
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  # Only what the demo runs; the tests are for scripts/test.sh.
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target sluiced sluicectl
fi
SLUICED=$BUILD_DIR/bin/sluiced
SLUICECTL=$BUILD_DIR/bin/sluicectl
for bin in "$SLUICED" "$SLUICECTL"; do
  [[ -x $bin ]] || die "$bin is missing: build first (run without --no-build)"
done
for tool in ip nsenter flock nginx openssl curl "$PYTHON"; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/install-deps.sh"
done

# --- cleanup -------------------------------------------------------------------
TMP=
DAEMON_PID=
HELPER_PIDS=()
CREATED_PIN_ROOT=0
CLEANED=0

# Waits up to $2 tenths of a second for process $1 to exit.
wait_gone() {
  local i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

# Removes the lab (lab.sh down also ends a daemon or clients left in it by a
# demo that was killed with -9), then the pins.
remove_lab() {
  "$LAB_SH" down "$LAB"
  rm -rf "${PIN_ROOT:?}/$IF_GW" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap '' INT TERM HUP PIPE # finish cleaning up even on a second Ctrl-C
  set +e
  ((CLEANED)) && return
  CLEANED=1
  local pid
  [[ -n $TMP && -d $TMP/gateway ]] && "$REPO/scripts/gateway.sh" down "$TMP/gateway"
  for pid in "${HELPER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${HELPER_PIDS[@]}"; do wait_gone "$pid" 20 || kill -KILL "$pid" 2>/dev/null; done
  if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    # SIGTERM with --detach-on-exit: sluiced detaches its program and removes its pins.
    kill -TERM "$DAEMON_PID" 2>/dev/null
    if ! wait_gone "$DAEMON_PID" 100; then
      echo "quickstart: sluiced did not stop within 10 s, killing it" >&2
      kill -KILL "$DAEMON_PID" 2>/dev/null
      wait_gone "$DAEMON_PID" 20
    fi
  fi
  # Whatever a killed daemon left: the pins (the link pin holds the program),
  # then the namespaces (deleting the veth detaches anything still on it).
  remove_lab
  if ((CREATED_PIN_ROOT)); then rmdir "$PIN_ROOT" 2>/dev/null; fi
  if ((rc != 0 && rc < 129)) && [[ -n $TMP && -s $TMP/sluiced.log ]]; then
    echo "--- last lines of the sluiced log ---" >&2
    tail -n 20 "$TMP/sluiced.log" >&2
    if [[ -s $TMP/gateway/logs/error.log ]]; then
      echo "--- last lines of the nginx error log ---" >&2
      tail -n 10 "$TMP/gateway/logs/error.log" >&2
    fi
  fi
  [[ -n $TMP ]] && rm -rf "$TMP"
  if ((rc == 130)); then
    echo "quickstart: interrupted; the lab is removed" >&2
  elif ((rc == 0)); then
    echo "Done: namespaces, daemon, pins and temp files are gone."
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP  # the terminal went away
trap 'exit 141' PIPE # e.g. piped into head

# One demo at a time: the namespace names and pins are fixed.
LOCK=/run/lock/sluice-quickstart.lock
[[ -d ${LOCK%/*} ]] || LOCK=/tmp/sluice-quickstart.lock
exec 9>"$LOCK"
if ! flock -n 9; then
  echo "quickstart: another quickstart demo is running; waiting for it (up to 120 s)" >&2
  flock -w 120 9 || die "another quickstart demo is still running"
fi
# We hold the lock, so anything left of the lab is stale (e.g. after kill -9).
stale_tmp=$(find /tmp -maxdepth 1 -name 'sluice-quickstart.??????' -type d 2>/dev/null)
if ip netns list | grep -qE "^($NS_C|$NS_GW)( |$)" || [[ -e $PIN_ROOT/$IF_GW || -n $stale_tmp ]]; then
  echo "quickstart: removing leftovers of an earlier demo"
  remove_lab
  find /tmp -maxdepth 1 -name 'sluice-quickstart.??????' -type d -exec rm -rf {} +
fi
[[ -d $PIN_ROOT ]] || CREATED_PIN_ROOT=1

TMP=$(mktemp -d /tmp/sluice-quickstart.XXXXXX)
SOCK=$TMP/sluiced.sock
CTL=("$SLUICECTL" --socket "$SOCK")

# --- helpers: UDP senders, the receiver, the live view, the summary ---------------
cat >"$TMP/demo.py" <<'PYEOF'
"""Quickstart helpers: send, receive, watch, summary. Counts go through small
JSON files in the demo's temp dir (written atomically)."""
import json, os, signal, socket, subprocess, sys, time

def write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)

def read_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default

class Stop(Exception):
    pass

def on_term(*_):
    raise Stop()

def send(src, dst, port, pps, out):
    """UDP datagrams from src to dst:port at pps, paced; {sent, errors, seconds} -> out."""
    pps = float(pps)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    payload = b"sluice quickstart " + src.encode()
    sent = errors = 0
    start = time.monotonic()
    next_report = start
    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            now = time.monotonic()
            due = int((now - start) * pps) + 1
            while sent + errors < due:
                try:
                    s.sendto(payload, (dst, int(port)))
                    sent += 1
                except OSError:
                    errors += 1  # e.g. ENOBUFS when the veth ring is full
            if now >= next_report:
                write_json(out, {"sent": sent, "errors": errors, "seconds": now - start})
                next_report = now + 0.02
            time.sleep(max(0.0, min((sent + errors + 1) / pps - (time.monotonic() - start), 0.05)))
    except Stop:
        pass
    write_json(out, {"sent": sent, "errors": errors, "seconds": time.monotonic() - start,
                     "done": True})

def receive(addr, port, out):
    """Counts UDP datagrams per source address; {source: count} -> out."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, int(port)))
    s.settimeout(0.05)
    counts = {}
    write_json(out, counts)
    next_report = time.monotonic() + 0.02
    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            try:
                _, (src, _) = s.recvfrom(2048)
                counts[src] = counts.get(src, 0) + 1
            except socket.timeout:
                pass
            if time.monotonic() >= next_report:
                write_json(out, counts)
                next_report = time.monotonic() + 0.02
    except Stop:
        pass
    # Drain what is already queued, then the final counts.
    s.setblocking(False)
    try:
        while True:
            _, (src, _) = s.recvfrom(2048)
            counts[src] = counts.get(src, 0) + 1
    except OSError:
        pass
    write_json(out, counts)

def top(ctl, interval_ms):
    """Per-source figures from `sluicectl top --json` (rates over interval_ms)."""
    r = subprocess.run(ctl + ["--json", "top", "--limit", "20", "--interval", str(interval_ms)],
                       capture_output=True, text=True, timeout=15)
    if r.returncode != 0:
        raise SystemExit("sluicectl top failed: " + (r.stderr.strip() or r.stdout.strip()))
    data = json.loads(r.stdout)
    rows = {}
    for row in data["by_rate"] + data["by_drops"]:
        rows[row["source"]] = row
    return rows

def watch(tmp, sluicectl, sock, legit, flood, duration):
    """One line per second: sent/received from the clients' and receiver's counts,
    dropped/s from Sluice's own per-source counters (sluicectl top)."""
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    ctl = [sluicectl, "--socket", sock]
    files = {"legit": os.path.join(tmp, "legit.json"), "flood": os.path.join(tmp, "flood.json")}
    recv_file = os.path.join(tmp, "received.json")
    def sample():
        recv = read_json(recv_file, {})
        return {k: (read_json(f, {}).get("sent", 0), recv.get(ip, 0))
                for (k, f), ip in zip(files.items(), (legit, flood))}
    print("          %-37s %s" % ("legit client " + legit, "flooder " + flood))
    print("  time    %8s %11s %10s    %8s %11s %10s" %
          ("sent/s", "received/s", "dropped/s", "sent/s", "received/s", "dropped/s"))
    prev, prev_t = sample(), time.monotonic()
    for tick in range(1, int(duration) + 1):
        rows = top(ctl, 1000)  # blocks for the 1 s it measures over
        now, now_t = sample(), time.monotonic()
        dt = max(now_t - prev_t, 1e-3)
        cells = []
        for key, ip in (("legit", legit), ("flood", flood)):
            sent = (now[key][0] - prev[key][0]) / dt
            recv = (now[key][1] - prev[key][1]) / dt
            dropped = rows.get(ip, {}).get("dropped_pps", 0.0)
            cells.append("%8.0f %11.0f %10.0f" % (sent, recv, dropped))
        print("  %3ds    %s    %s" % (tick, cells[0], cells[1]), flush=True)
        prev, prev_t = now, now_t

def summary(tmp, sluicectl, sock, legit, flood, limit, burst):
    ctl = [sluicectl, "--socket", sock]
    recv = read_json(os.path.join(tmp, "received.json"), {})
    rows = top(ctl, 100)
    res = {}
    for key, ip in (("legit", legit), ("flood", flood)):
        s = read_json(os.path.join(tmp, key + ".json"), {})
        res[key] = {"ip": ip, "sent": s.get("sent", 0), "seconds": s.get("seconds", 0.0),
                    "received": recv.get(ip, 0),
                    "passed": rows.get(ip, {}).get("passed", 0),
                    "dropped": rows.get(ip, {}).get("dropped", 0)}
    seconds = res["flood"]["seconds"]
    l, f = res["legit"], res["flood"]
    print("After %.1f s, with a limit of %d packets/s per source (burst %d):" % (seconds, limit, burst))
    for label, r in (("legit client", l), ("flooder", f)):
        pct = 100.0 * r["received"] / r["sent"] if r["sent"] else 0.0
        print("  %-28s sent %7d, received %7d (%5.1f%%)   Sluice: passed %d, dropped %d"
              % (label + " " + r["ip"] + ":", r["sent"], r["received"], pct, r["passed"],
                 r["dropped"]))
    if seconds > 0:
        print("  The flooder tried %.0f packets/s and got %.0f/s through; the legit client kept "
              "its %.0f/s." % (f["sent"] / seconds, f["received"] / seconds, l["received"] / seconds))
    print("RESULT legit_sent=%d legit_received=%d flood_sent=%d flood_received=%d "
          "flood_dropped=%d limit_pps=%d burst=%d seconds=%.2f"
          % (l["sent"], l["received"], f["sent"], f["received"], f["dropped"], limit, burst,
             seconds))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"send": send, "receive": receive, "watch": watch, "summary": summary}[cmd](
        *[int(a) if cmd == "summary" and i >= 5 else a for i, a in enumerate(args)])
PYEOF

# --- 1. namespaces and veth -------------------------------------------------------
step "Building the lab: namespaces $NS_C and $NS_GW joined by a veth pair ($NET)"
# IPv4 only: no router solicitations or MLD reports in the figures.
"$LAB_SH" up "$LAB" --subnet "$SUBNET" --no-ipv6
"$LAB_SH" add-source "$LAB" "$LEGIT_IP"
"$LAB_SH" add-source "$LAB" "$FLOOD_IP"
"$LAB_SH" add-source "$LAB" "$FREE_CLIENT_IP"
"$LAB_SH" add-source "$LAB" "$PRO_CLIENT_IP"

# --- 2. sluiced ------------------------------------------------------------------
# The example configuration, attached to the demo's veth, with a "demo" tier of
# 100 packets/s for 198.18.100.0/24 (more specific than the example's
# 198.18.0.0/16 -> partner), and a control socket and state file of its own.
CONFIG=$TMP/sluice.yaml
step "Starting sluiced on $IF_GW with ${CONFIG#"$TMP"/} (from config/sluice.example.yaml)"
derive_config() {
  awk -v iface="$IF_GW" -v sock="$SOCK" -v state="$TMP/state.json" -v net="$NET" \
    -v limit="$LIMIT_PPS" -v burst="$BURST" '
    BEGIN { print "# Generated by scripts/quickstart.sh from config/sluice.example.yaml." }
    /^interfaces:/ { print "interfaces:\n  - name: " iface "\n    mode: auto"; n++; next }
    /^  socket:/ { print "  socket: " sock; n++; next }
    /^state_file:/ { print "state_file: " state; n++; next }
    /^  buckets:/ { print "  buckets: 65536         # plenty for a demo"; next }
    /^tiers:/ { print; print "  demo:                  # the quickstart demo\n    packets: {rate: " limit "/s, burst: " burst "}"; n++; next }
    /^prefixes:/ { print; print "  " net ": demo"; n++; next }
    { print }
    END { exit n == 5 ? 0 : 1 }' config/sluice.example.yaml
}
if ! derive_config >"$CONFIG" ||
  ! "$LAB_SH" exec "$LAB" rx "$SLUICED" --config "$CONFIG" --check >"$TMP/check.log" 2>&1; then
  echo "quickstart: warning: could not derive the demo configuration from config/sluice.example.yaml" >&2
  [[ -s $TMP/check.log ]] && cat "$TMP/check.log" >&2
  echo "quickstart: using a minimal configuration instead" >&2
  cat >"$CONFIG" <<EOF
interfaces:
  - name: $IF_GW
    mode: auto
control:
  socket: $SOCK
state_file: $TMP/state.json
default_tier: standard
tiers:
  standard:
    packets: {rate: 1000/s, burst: 2000}
  demo:
    packets: {rate: $LIMIT_PPS/s, burst: $BURST}
prefixes:
  $NET: demo
EOF
  "$LAB_SH" exec "$LAB" rx "$SLUICED" --config "$CONFIG" --check >/dev/null
fi
# The request layer: sluiced answers nginx's auth_request on the gateway
# namespace's loopback (docs/check-api.md).
cat >>"$CONFIG" <<EOF

# Added by scripts/quickstart.sh: the request layer for the demo gateway.
check:
  listen: 127.0.0.1:9465
  socket: $TMP/check.sock
  keys_file: $TMP/keys.json
  pepper_file: $TMP/key-pepper
  state_file: $TMP/request-state.bin
  default_tier: free
  tiers:
    free:
      minute: $FREE_PER_MINUTE/min
    pro:
      second: {rate: 20/s, burst: 40}
      minute: 1000/min
  anonymous:
    minute: 2/min
EOF
"$LAB_SH" exec "$LAB" rx "$SLUICED" --config "$CONFIG" --check >"$TMP/check.log" 2>&1 ||
  { cat "$TMP/check.log" >&2; die "the demo configuration with its check: section is invalid"; }
# lab.sh exec enters the network namespace only (`ip netns exec` remounts /sys,
# and the pins would vanish with it); it execs, so $! is sluiced itself.
"$LAB_SH" exec "$LAB" rx "$SLUICED" --config "$CONFIG" --socket "$SOCK" \
  --state-file "$TMP/state.json" --detach-on-exit >"$TMP/sluiced.log" 2>&1 9>&- &
DAEMON_PID=$!
for ((i = 0; ; i++)); do
  kill -0 "$DAEMON_PID" 2>/dev/null || die "sluiced exited during start (its log follows)"
  if [[ -S $SOCK ]] && "${CTL[@]}" --timeout 1 status --json >"$TMP/status.json" 2>/dev/null &&
    grep -q "\"$IF_GW\"" "$TMP/status.json"; then
    break
  fi
  ((i < 150)) || die "sluiced did not come up within 15 s"
  sleep 0.1
done
MODE=$("$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["mode"])' \
  <"$TMP/status.json")
echo "    sluiced (pid $DAEMON_PID) enforces on $IF_GW in $MODE XDP mode; log: $TMP/sluiced.log"
"${CTL[@]}" tier list | sed 's/^/    /'

# --- 2b. the gateway ----------------------------------------------------------------
step "Starting the gateway in $NS_GW: nginx on $GW_IP:443 (TLS, certificate made now) in front of five services"
GATEWAY=$TMP/gateway
"$REPO/scripts/gateway.sh" up "$GATEWAY" --netns "$NS_GW" --san "$GW_IP" --check "unix:$TMP/check.sock" 9>&-
echo "    examples/nginx/gateway.conf: /users/ /orders/ /payments /catalog/ /reports/, auth_request to sluiced,"
echo "    429 mapping, proxy_cache, timeouts and passive health checks; access log: $GATEWAY/logs/access.json"
FREE_KEY=$("${CTL[@]}" key add --tier free | head -n 1)
PRO_KEY=$("${CTL[@]}" key add --tier pro | head -n 1)
echo "    API keys made with sluicectl key add (printed once, stored hashed):"
"${CTL[@]}" key list | sed 's/^/      /'

# --- 3. traffic --------------------------------------------------------------------
step "Traffic: legit client $LEGIT_IP at $LEGIT_PPS packets/s, flooder $FLOOD_IP at $FLOOD_PPS packets/s, both UDP to $GW_IP:$PORT"
"$LAB_SH" exec "$LAB" rx "$PYTHON" "$TMP/demo.py" receive "$GW_IP" "$PORT" \
  "$TMP/received.json" 9>&- &
HELPER_PIDS+=($!)
for ((i = 0; i < 50; i++)); do [[ -e $TMP/received.json ]] && break; sleep 0.1; done
[[ -e $TMP/received.json ]] || die "the UDP receiver did not start"
"$LAB_SH" exec "$LAB" tx "$PYTHON" "$TMP/demo.py" send "$LEGIT_IP" "$GW_IP" "$PORT" \
  "$LEGIT_PPS" "$TMP/legit.json" 9>&- &
HELPER_PIDS+=($!)
LEGIT_SENDER=$!
"$LAB_SH" exec "$LAB" tx "$PYTHON" "$TMP/demo.py" send "$FLOOD_IP" "$GW_IP" "$PORT" \
  "$FLOOD_PPS" "$TMP/flood.json" 9>&- &
HELPER_PIDS+=($!)
FLOOD_SENDER=$!

# --- 4. live view ----------------------------------------------------------------------
step "Live view for $DURATION s (dropped/s: Sluice's own per-source counters, sluicectl top)"
echo "    (in another terminal: sudo $SLUICECTL --socket $SOCK top --watch)"
"$PYTHON" "$TMP/demo.py" watch "$TMP" "$SLUICECTL" "$SOCK" "$LEGIT_IP" "$FLOOD_IP" "$DURATION" 9>&-

# A snapshot of the top talkers while the flood is still on.
"${CTL[@]}" top --interval 1000 --limit 5 >"$TMP/top.txt"

# --- 5. API clients through the gateway, while the flood goes on -----------------------
# curl from the clients' namespace, verifying the gateway's certificate; one
# connection per client (keep-alive), one line per request.
api_calls() { # client-address key count path
  local urls=() i
  for ((i = 0; i < $3; i++)); do urls+=(-o /dev/null "https://$GW_IP$4"); done
  "$LAB_SH" exec "$LAB" tx curl -s --interface "$1" --cacert "$GATEWAY/tls/gateway.crt" \
    -H "X-API-Key: $2" \
    -w '%{http_code} %header{ratelimit}|%header{x-ratelimit-remaining}|%header{retry-after}\n' \
    "${urls[@]}" 9>&-
}
show_calls() { # label, then api_calls' lines on stdin; prints them, counts codes
  local n=0 code rest rl remaining retry
  while read -r code rest; do
    IFS='|' read -r rl remaining retry <<<"$rest"
    n=$((n + 1))
    printf '    %-4s key, request %d: %s  RateLimit: %s  X-RateLimit-Remaining: %s%s\n' "$1" "$n" \
      "$code" "$rl" "$remaining" "${retry:+  Retry-After: $retry}"
    echo "$code $retry" >>"$TMP/codes-$1"
  done
}
step "API clients over HTTPS while the flood goes on: a free key ($FREE_PER_MINUTE/min) and a pro key (1000/min)"
: >"$TMP/codes-free"
: >"$TMP/codes-pro"
api_calls "$FREE_CLIENT_IP" "$FREE_KEY" $((FREE_PER_MINUTE + 2)) /users/42 | show_calls free
api_calls "$PRO_CLIENT_IP" "$PRO_KEY" $((FREE_PER_MINUTE + 2)) /users/42 | show_calls pro
echo "    A refused request in full (nginx turns Sluice's verdict into a 429 with a problem+json body):"
"$LAB_SH" exec "$LAB" tx curl -s -i --interface "$FREE_CLIENT_IP" --cacert "$GATEWAY/tls/gateway.crt" \
  -H "X-API-Key: $FREE_KEY" "https://$GW_IP/orders/1" 9>&- | tr -d '\r' |
  grep -viE '^(server|date|content-length):' | sed 's/^/      /'
echo
BAD_STATUS=$("$LAB_SH" exec "$LAB" tx curl -s -o /dev/null -w '%{http_code}' \
  --interface "$FREE_CLIENT_IP" --cacert "$GATEWAY/tls/gateway.crt" \
  -H "X-API-Key: sk_never_issued_by_sluicectl" "https://$GW_IP/users/42" 9>&-)
echo "    An unknown key: $BAD_STATUS"
echo "    The free key's usage (GET /v1/usage on sluiced's check listener):"
"$LAB_SH" exec "$LAB" rx curl -s -H "X-API-Key: $FREE_KEY" http://127.0.0.1:9465/v1/usage 9>&- |
  "$PYTHON" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)))' | sed 's/^/      /'
echo "    The gateway's access log (one JSON line per request; the key id, never the key):"
tail -n 2 "$GATEWAY/logs/access.json" | sed 's/^/      /'
# Stop the clients, let the last datagrams land, then count.
kill -TERM "$LEGIT_SENDER" "$FLOOD_SENDER"
wait "$LEGIT_SENDER" "$FLOOD_SENDER" || true
sleep 0.3
kill -TERM "${HELPER_PIDS[0]}"
wait "${HELPER_PIDS[0]}" || true

step "What Sluice saw (sluicectl top, sluicectl stats)"
sed -n '/^Top by drops/,/^$/p' "$TMP/top.txt" | sed 's/^/    /'
"${CTL[@]}" stats | sed 's/^/    /'
echo
"$PYTHON" "$TMP/demo.py" summary "$TMP" "$SLUICECTL" "$SOCK" "$LEGIT_IP" "$FLOOD_IP" \
  "$LIMIT_PPS" "$BURST"

count_codes() { grep -c "^$2" "$TMP/codes-$1" || true; }
FREE_RETRY=$(awk '$1 == 429 { print $2; exit }' "$TMP/codes-free")
KEY_IN_LOG=0
if grep -qF -e "$FREE_KEY" -e "$PRO_KEY" "$GATEWAY/logs/access.json"; then KEY_IN_LOG=1; fi
echo "Through the gateway: the free key got $(count_codes free 200) answers, then $(count_codes free 429)" \
  "429s (Retry-After ${FREE_RETRY:-none} s); the pro key got $(count_codes pro 200) of $(wc -l <"$TMP/codes-pro")."
echo "GATEWAY free_200=$(count_codes free 200) free_429=$(count_codes free 429)" \
  "free_retry_after=${FREE_RETRY:-0} pro_200=$(count_codes pro 200) pro_429=$(count_codes pro 429)" \
  "unknown_key=$BAD_STATUS free_limit=$FREE_PER_MINUTE key_in_log=$KEY_IN_LOG"

step "Cleaning up (sluiced --detach-on-exit detaches and unpins on SIGTERM; the namespaces go)"
