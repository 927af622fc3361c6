#!/usr/bin/env bash
# Token introspection under load: a release build of `warrant serve` on loopback, one API, one
# application and one token; POST /oauth/introspect (the application asking about its own
# token, client_secret_post in a JSON body) and GET /healthz, each at 32 connections for 20 s
# with wrk, in the same sitting. Prints introspections/s and /healthz requests/s, their latency
# and the ratio.
#
#   bash bench/introspect-load.sh       # DURATION=20s CONNECTIONS=32 THREADS=2 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18081}

ensure_wrk
cargo build --release --locked -p warrant >&2
start_warrant "$PORT"

TOKEN=$(curl -s -H 'content-type: application/json' -d "$(token_body)" "${ISSUER}oauth/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
BODY=$(printf '{"client_id":"%s","client_secret":"%s","token":"%s"}' "$CLIENT_ID" "$CLIENT_SECRET" "$TOKEN")
ACTIVE=$(curl -s -H 'content-type: application/json' -d "$BODY" "${ISSUER}oauth/introspect" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["active"])')
[ "$ACTIVE" = True ] || { echo "the token is not active: $ACTIVE" >&2; exit 1; }

LUA_DIR=$(mktemp -d)
wrk_script "$LUA_DIR/introspect.lua" POST "$BODY"
wrk_script "$LUA_DIR/healthz.lua" GET
echo "measuring POST /oauth/introspect and GET /healthz: $CONNECTIONS connections, $DURATION each" >&2
INTROSPECT=$(run_wrk "$LUA_DIR/introspect.lua" "${ISSUER}oauth/introspect")
HEALTHZ=$(run_wrk "$LUA_DIR/healthz.lua" "${ISSUER}healthz")

IPS=$(python3 -c "print(round($(field "$INTROSPECT" requests) / $(field "$INTROSPECT" seconds)))")
HPS=$(python3 -c "print(round($(field "$HEALTHZ" requests) / $(field "$HEALTHZ" seconds)))")
echo "introspections/s:        $IPS  (p50 / p99 $(field "$INTROSPECT" p50_ms) / $(field "$INTROSPECT" p99_ms) ms, non-2xx $(field "$INTROSPECT" non2xx))"
echo "/healthz requests/s:     $HPS  (p50 / p99 $(field "$HEALTHZ" p50_ms) / $(field "$HEALTHZ" p99_ms) ms, non-2xx $(field "$HEALTHZ" non2xx))"
echo "ratio introspect/healthz: $(python3 -c "print(f'{$IPS / $HPS:.2f}')")"
