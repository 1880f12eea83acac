#!/usr/bin/env bash
# Side-by-side HTTP benchmark of issue 15: a bare axum hello-world route, Tessera's
# ticket-authenticated GET /v1/subject (in memory, on a SQLite file, and with per-request
# DEBUG logs on) and a hapi + @hapi/hawk peer, each measured with wrk, the server pinned to one
# core (taskset) and wrk to the other, with pre-generated unique Hawk headers (wrk/headers.lua).
#
#   impl/benches/wrk.sh                # RUNS=3 DURATION=10 CONNECTIONS=64 RATE=3650
#
# Prints, per run and system: req/s (saturated), p50 and p99 latency, server CPU per request
# (utime+stime of the server process over the run / requests) and non-2xx responses; then the
# same at a fixed offered rate of RATE req/s (systems named `…@RATE`; RATE=0 skips them: the
# issue's second column, wrk paced by wrk/headers.lua's delay()); then the medians over the
# runs and the ratios issue 15 sets targets for. Needs wrk (Debian package),
# node and npm for the hapi peer (skipped if missing). Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TESSERA_HEADERS=${TESSERA_HEADERS:-$((DURATION * 120000))}
HAPI_HEADERS=${HAPI_HEADERS:-$((DURATION * 15000))}
RATE=${RATE:-3650}
HZ=$(getconf CLK_TCK)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -p tessera --example wrk_target
BIN=target/release/examples/wrk_target
HAPI=impl/benches/hapi
if command -v node >/dev/null && command -v npm >/dev/null; then
  [ -d "$HAPI/node_modules/@hapi/hawk" ] || npm ci --prefix "$HAPI" --no-audit --no-fund --loglevel=error
else
  HAPI=
fi

TMP=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# start NAME CMD...: starts the server on SERVER_CPU, waits for its "port N" line
start() {
  local name=$1
  shift
  taskset -c "$SERVER_CPU" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PID=$!
  PORT=
  for _ in $(seq 1200); do
    PORT=$(sed -n 's/^port //p' "$TMP/$name.out")
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/$name.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name did not start" >&2
  exit 1
}

stop() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure RUN NAME PATH [HEADERS_FILE]; with PACED set, at RATE req/s offered
measure() {
  local run=$1 name=$2 path=$3 headers=${4:-}
  local before after
  before=$(ticks "$PID")
  if [ -n "${PACED:-}" ]; then
    name="$name@$RATE"
    env ${headers:+WRK_HEADERS=$headers} WRK_PATH="$path" WRK_RATE="$RATE" \
      WRK_CONNECTIONS="$CONNECTIONS" taskset -c "$CLIENT_CPU" \
      wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s impl/benches/wrk/headers.lua \
      "http://127.0.0.1:$PORT$path" >"$TMP/wrk.txt"
  elif [ -n "$headers" ]; then
    WRK_HEADERS=$headers WRK_PATH=$path taskset -c "$CLIENT_CPU" \
      wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s impl/benches/wrk/headers.lua \
      "http://127.0.0.1:$PORT$path" >"$TMP/wrk.txt"
  else
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency \
      "http://127.0.0.1:$PORT$path" >"$TMP/wrk.txt"
  fi || {
    # one failed measurement (a server that died) must not lose the others
    echo "run $run, $name: wrk failed: $(tail -n 3 "$TMP/wrk.txt")" >&2
    kill -0 "$PID" 2>/dev/null || echo "  the server exited: $(tail -n 5 "$TMP"/*.err)" >&2
    return 0
  }
  after=$(ticks "$PID")
  awk -v run="$run" -v name="$name" -v ticks=$((after - before)) -v hz="$HZ" '
    function us(v) {
      if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1e6; return v
    }
    / requests in / { reqs = $1 }
    /^Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = us($2) }
    $1 == "99%" { p99 = us($2) }
    /Non-2xx/ { non2xx = $NF }
    END {
      printf "%s %s %.0f %.0f %.0f %.2f %d\n", run, name, rps, p50, p99, ticks * 1e6 / hz / reqs, non2xx + 0
    }' "$TMP/wrk.txt" | tee -a "$TMP/results"
}

echo "run system req/s p50_us p99_us server_cpu_us_per_req non2xx"
for run in $(seq "$RUNS"); do
  start tessera-memory "$BIN" tessera memory "$TMP/tessera.h" "$TESSERA_HEADERS"
  measure "$run" tessera-memory /v1/subject "$TMP/tessera.h"
  stop
  start hello "$BIN" hello
  measure "$run" axum-hello /
  # the same request bytes as Tessera's (the route ignores the header)
  measure "$run" axum-hello-hawk-headers / "$TMP/tessera.h"
  stop
  start tessera-file "$BIN" tessera file "$TMP/tessera.h" "$TESSERA_HEADERS"
  measure "$run" tessera-file /v1/subject "$TMP/tessera.h"
  stop
  RUST_LOG=debug start tessera-debug-log env RUST_LOG=debug "$BIN" tessera memory "$TMP/tessera.h" "$TESSERA_HEADERS"
  measure "$run" tessera-memory-debug-log /v1/subject "$TMP/tessera.h"
  stop
  if [ -n "$HAPI" ]; then
    start hapi node "$HAPI/server.js" "$TMP/hapi.h" "$HAPI_HEADERS"
    measure "$run" hapi-hawk /v1/subject "$TMP/hapi.h"
    stop
  fi
  if [ "$RATE" != 0 ]; then
    PACED=1
    start hello "$BIN" hello
    measure "$run" axum-hello /
    stop
    start tessera-memory "$BIN" tessera memory "$TMP/tessera.h" "$TESSERA_HEADERS"
    measure "$run" tessera-memory /v1/subject "$TMP/tessera.h"
    stop
    start tessera-file "$BIN" tessera file "$TMP/tessera.h" "$TESSERA_HEADERS"
    measure "$run" tessera-file /v1/subject "$TMP/tessera.h"
    stop
    if [ -n "$HAPI" ]; then
      start hapi node "$HAPI/server.js" "$TMP/hapi.h" "$HAPI_HEADERS"
      measure "$run" hapi-hawk /v1/subject "$TMP/hapi.h"
      stop
    fi
    PACED=
  fi
done

python3 - "$TMP/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for run, name, rps, p50, p99, cpu, non2xx in rows:
    by.setdefault(name, []).append((float(rps), float(p50), float(p99), float(cpu), int(non2xx)))
med = {n: [statistics.median(col) for col in zip(*v)] for n, v in by.items()}
print()
print(f"medians of {len(next(iter(by.values())))} runs")
print(f"{'system':28} {'req/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'CPU µs/req':>11} {'non-2xx':>8}")
for n, (rps, p50, p99, cpu, bad) in med.items():
    print(f"{n:28} {rps:9.0f} {p50:8.0f} {p99:8.0f} {cpu:11.2f} {bad:8.0f}")
def ratio(a, b, i):
    if a in med and b in med and med[b][i]:
        return f"{med[a][i] / med[b][i]:.2f}x"
    return "n/a"
print()
print("ratios (targets of issue 15 in brackets)")
print(f"  CPU/req  tessera-memory / axum-hello-hawk-headers: {ratio('tessera-memory', 'axum-hello-hawk-headers', 3)}  [<= 1.6x]")
print(f"  CPU/req  tessera-memory / axum-hello:              {ratio('tessera-memory', 'axum-hello', 3)}")
print(f"  CPU/req  tessera-file / axum-hello-hawk-headers:   {ratio('tessera-file', 'axum-hello-hawk-headers', 3)}")
print(f"  req/s    tessera-memory / axum-hello:              {ratio('tessera-memory', 'axum-hello', 0)}  [>= 0.6x]")
print(f"  req/s    tessera-memory / axum-hello-hawk-headers: {ratio('tessera-memory', 'axum-hello-hawk-headers', 0)}")
print(f"  req/s    tessera-file / axum-hello:                {ratio('tessera-file', 'axum-hello', 0)}")
print(f"  req/s    tessera-memory / hapi-hawk:               {ratio('tessera-memory', 'hapi-hawk', 0)}  [>= 10x]")
print(f"  CPU/req  tessera-memory-debug-log / tessera-memory: {ratio('tessera-memory-debug-log', 'tessera-memory', 3)}  (cost of per-request logs)")
paced = sorted({n.split('@')[1] for n in med if '@' in n})
for r in paced:
    print(f"  at a fixed {r} req/s offered:")
    print(f"  CPU/req  tessera-memory / axum-hello:              {ratio('tessera-memory@' + r, 'axum-hello@' + r, 3)}")
    print(f"  CPU/req  tessera-file / axum-hello:                {ratio('tessera-file@' + r, 'axum-hello@' + r, 3)}")
    print(f"  CPU/req  hapi-hawk / tessera-memory:               {ratio('hapi-hawk@' + r, 'tessera-memory@' + r, 3)}")
PY
