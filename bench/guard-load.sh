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
#
# MODE=dpop adds the DPoP route: the API accepts bearer and DPoP-bound tokens
# (WARRANT_DPOP=optional), and each round also measures GET /internal/data with a DPoP-bound
# token and a proof per request. Signing a fresh proof per request would measure the client, so
# before each DPoP run bench/dpop-proofs.mjs (Node's crypto, nothing to install) makes PROOFS
# distinct proofs (unique jti, iat then, so valid for the API's ±60 s window) and wrk sends each
# once, split between its threads; the run lasts DPOP_DURATION (default 10s, no warm-up: the
# bearer runs warmed the API). Proofs that run out would be replays (401): the script then says
# to raise PROOFS. Compare the DPoP rate with the bearer rate printed beside it, and with the
# bare verification rate of `cargo bench -p warrant-guard --bench verify` (group dpop).
#
#   MODE=dpop PROOFS=300000 bash bench/guard-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
API_PORT=${API_PORT:-13000}
ROUNDS=${ROUNDS:-4}
MODE=${MODE:-bearer}
PROOFS=${PROOFS:-300000}
DPOP_DURATION=${DPOP_DURATION:-10s}

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
DPOP_SWITCH=()
[ "$MODE" = dpop ] && DPOP_SWITCH=(WARRANT_DPOP=optional)
env RUST_LOG=warn WARRANT_ISSUER="$ISSUER" WARRANT_AUDIENCE="$API" "${DPOP_SWITCH[@]}" \
    "${SERVER_CPU[@]}" target/release/internal-api --listen "127.0.0.1:$API_PORT" >/dev/null 2>&1 &
CLEANUP_PIDS+=("$!")
wait_ready "http://127.0.0.1:$API_PORT/healthz"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/internal/data")
[ "$STATUS" = 200 ] || { echo "protected route answered $STATUS" >&2; exit 1; }

LUA_DIR=$(mktemp -d)
wrk_script "$LUA_DIR/bearer.lua" GET "" "Bearer $TOKEN"
if [ "$MODE" = dpop ]; then
    command -v node >/dev/null || { echo "MODE=dpop needs node (Node.js 18 or later)" >&2; exit 1; }
    DPOP_TOKEN=$(node bench/dpop-proofs.mjs token "$ISSUER" "$CLIENT_ID" "$CLIENT_SECRET" "$API" "$LUA_DIR/key.jwk")
    # wrk_script's method and result line, then: each wrk thread sends the proofs of its own
    # share of the lines, each once.
    wrk_script "$LUA_DIR/dpop.lua" GET
    cat >>"$LUA_DIR/dpop.lua" <<LUA
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local proofs, sent, count = {}, 0, 0
init = function(args)
  local n = 0
  for line in io.lines("$LUA_DIR/proofs.txt") do
    if n % $THREADS == id then count = count + 1; proofs[count] = line end
    n = n + 1
  end
end
request = function()
  sent = sent + 1
  -- Past the last proof, the last one again: a replay, refused (401), so counted as non-2xx.
  return wrk.format(nil, nil, {["Authorization"] = "DPoP $DPOP_TOKEN", ["DPoP"] = proofs[math.min(sent, count)]})
end
LUA
fi
# run_dpop: fresh proofs (iat now), then one run that sends each once.
run_dpop() {
    node bench/dpop-proofs.mjs proofs "$LUA_DIR/key.jwk" "$DPOP_TOKEN" \
        "http://127.0.0.1:$API_PORT/internal/data" "$PROOFS" "$LUA_DIR/proofs.txt"
    "${LOADGEN_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DPOP_DURATION" -s "$LUA_DIR/dpop.lua" \
        "http://127.0.0.1:$API_PORT/internal/data" | grep '^RESULT'
}
run_wrk() {
    "${LOADGEN_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$1" "$2" >/dev/null
    "${LOADGEN_CPU[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$1" "$2" | grep '^RESULT'
}
rps() { python3 -c "print(round($(field "$1" requests) / $(field "$1" seconds)))"; }
RATIOS=() DPOP_RATIOS=()
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
    if [ "$MODE" = dpop ]; then
        echo "round $round: making $PROOFS proofs, then measuring DPoP GET /internal/data" >&2
        DPOP=$(run_dpop)
        [ "$(field "$DPOP" non2xx)" = 0 ] || {
            echo "the DPoP run had $(field "$DPOP" non2xx) non-2xx answers: the proofs ran out (raise PROOFS) or the replay cache was full" >&2
            exit 1
        }
        DPOP_RATIO=$(python3 -c "print(f'{$(rps "$DPOP") / $(rps "$PROT"):.2f}')")
        DPOP_RATIOS+=("$DPOP_RATIO")
        echo "round $round: DPoP $(rps "$DPOP") req/s (p99 $(field "$DPOP" p99_ms) ms) beside bearer $(rps "$PROT") req/s, ratio $DPOP_RATIO"
    fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "median ratio protected / unprotected: $(median "${RATIOS[@]}")"
[ "$MODE" = dpop ] && echo "median ratio DPoP / bearer: $(median "${DPOP_RATIOS[@]}")"
true
