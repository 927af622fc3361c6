#!/usr/bin/env bash
# The cost of protection: the example internal API's protected GET /internal/data (warrant-guard,
# token cache on, the same token reused) against its unprotected GET /healthz, 32 connections,
# 20 s each, with wrk. Both get the same request headers (the bearer token included), so the
# difference is the guard. The two are measured in alternation, ROUNDS times, which goes first
# swapping each round, since a loaded 2-core machine drifts; each round's ratio is printed, then
# the median. With taskset (util-linux) the API runs on CPU 0 and wrk on CPU 1, so that the load
# generator does not compete with the server it measures (PIN=0 turns that off).
#
#   bash bench/guard-load.sh            # DURATION=20s CONNECTIONS=32 THREADS=2 ROUNDS=4
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
API_PORT=${API_PORT:-13000}
ROUNDS=${ROUNDS:-4}

ensure_wrk
cargo build --release --locked -p warrant -p internal-api >&2
start_warrant "$PORT"

TOKEN=$(curl -fsS -H 'content-type: application/json' -d "$(token_body)" "${ISSUER}oauth/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

SERVER_CPU=() LOADGEN_CPU=()
if [ "${PIN:-1}" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    SERVER_CPU=(taskset -c 0) LOADGEN_CPU=(taskset -c 1) THREADS=1
    echo "pinning: the API on CPU 0, wrk on CPU 1 with one thread" >&2
fi
RUST_LOG=warn WARRANT_ISSUER="$ISSUER" WARRANT_AUDIENCE="$API" \
    "${SERVER_CPU[@]}" target/release/internal-api --listen "127.0.0.1:$API_PORT" >/dev/null 2>&1 &
CLEANUP_PIDS+=("$!")
wait_ready "http://127.0.0.1:$API_PORT/healthz"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/internal/data")
[ "$STATUS" = 200 ] || { echo "protected route answered $STATUS" >&2; exit 1; }

LUA_DIR=$(mktemp -d)
wrk_script "$LUA_DIR/bearer.lua" GET "" "Bearer $TOKEN"
run_wrk() {
    "${LOADGEN_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$1" "$2" >/dev/null
    "${LOADGEN_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$1" "$2" | grep '^RESULT'
}
rps() { python3 -c "print(round($(field "$1" requests) / $(field "$1" seconds)))"; }
RATIOS=()
for round in $(seq "$ROUNDS"); do
    echo "round $round: measuring unprotected GET /healthz and protected GET /internal/data" >&2
    if [ $((round % 2)) = 1 ]; then
        OPEN=$(run_wrk "$LUA_DIR/bearer.lua" "http://127.0.0.1:$API_PORT/healthz")
        PROT=$(run_wrk "$LUA_DIR/bearer.lua" "http://127.0.0.1:$API_PORT/internal/data")
    else
        PROT=$(run_wrk "$LUA_DIR/bearer.lua" "http://127.0.0.1:$API_PORT/internal/data")
        OPEN=$(run_wrk "$LUA_DIR/bearer.lua" "http://127.0.0.1:$API_PORT/healthz")
    fi
    [ "$(field "$PROT" non2xx)" = 0 ] || { echo "protected route had non-2xx answers" >&2; exit 1; }
    RATIO=$(python3 -c "print(f'{$(rps "$PROT") / $(rps "$OPEN"):.2f}')")
    RATIOS+=("$RATIO")
    echo "round $round: unprotected $(rps "$OPEN") req/s (p99 $(field "$OPEN" p99_ms) ms), protected $(rps "$PROT") req/s (p99 $(field "$PROT" p99_ms) ms), ratio $RATIO"
done
echo "median ratio protected / unprotected: $(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')"
