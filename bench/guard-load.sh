#!/usr/bin/env bash
# The cost of protection: the example internal API's protected GET /internal/data (warrant-guard,
# token cache on, the same token reused) against its unprotected GET /healthz, 32 connections,
# 20 s each, with wrk. Prints both req/s and the ratio.
#
#   bash bench/guard-load.sh            # DURATION=20s CONNECTIONS=32 THREADS=2 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
API_PORT=${API_PORT:-13000}

ensure_wrk
cargo build --release --locked -p warrant -p internal-api >&2
start_warrant "$PORT"

TOKEN=$(curl -fsS -H 'content-type: application/json' -d "$(token_body)" "${ISSUER}oauth/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

RUST_LOG=warn WARRANT_ISSUER="$ISSUER" WARRANT_AUDIENCE="$API" \
    target/release/internal-api --listen "127.0.0.1:$API_PORT" >/dev/null 2>&1 &
CLEANUP_PIDS+=("$!")
wait_ready "http://127.0.0.1:$API_PORT/healthz"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/internal/data")
[ "$STATUS" = 200 ] || { echo "protected route answered $STATUS" >&2; exit 1; }

LUA_DIR=$(mktemp -d)
wrk_script "$LUA_DIR/open.lua" GET
wrk_script "$LUA_DIR/protected.lua" GET "" "Bearer $TOKEN"
echo "measuring unprotected GET /healthz" >&2
OPEN=$(run_wrk "$LUA_DIR/open.lua" "http://127.0.0.1:$API_PORT/healthz")
echo "measuring protected GET /internal/data" >&2
PROT=$(run_wrk "$LUA_DIR/protected.lua" "http://127.0.0.1:$API_PORT/internal/data")

OPEN_RPS=$(python3 -c "print(round($(field "$OPEN" requests) / $(field "$OPEN" seconds)))")
PROT_RPS=$(python3 -c "print(round($(field "$PROT" requests) / $(field "$PROT" seconds)))")
echo "unprotected GET /healthz:       $OPEN_RPS req/s  (p99 $(field "$OPEN" p99_ms) ms, non-2xx $(field "$OPEN" non2xx))"
echo "protected GET /internal/data:   $PROT_RPS req/s  (p99 $(field "$PROT" p99_ms) ms, non-2xx $(field "$PROT" non2xx))"
echo "ratio protected / unprotected:  $(python3 -c "print(f'{$PROT_RPS / $OPEN_RPS:.2f}')")"
