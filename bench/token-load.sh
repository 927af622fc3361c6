#!/usr/bin/env bash
# Token issuance under load: a release build of `warrant serve` on loopback, one API and one
# application, POST /oauth/token at 32 connections for 20 s with wrk. Prints tokens/s and
# latency, plus `openssl speed -multi 2 rsa2048` sign/s on the same machine (the RS256 cost
# floor) and the ratio tokens/s ÷ sign/s.
#
#   bash bench/token-load.sh            # DURATION=20s CONNECTIONS=32 THREADS=2 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}

ensure_wrk
cargo build --release --locked -p warrant >&2
start_warrant "$PORT"

STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$(token_body)" "${ISSUER}oauth/token")
[ "$STATUS" = 200 ] || { echo "token request failed with $STATUS" >&2; exit 1; }

LUA_DIR=$(mktemp -d)
wrk_script "$LUA_DIR/token.lua" POST "$(token_body)"
echo "measuring POST /oauth/token: $CONNECTIONS connections, $DURATION" >&2
RESULT=$(run_wrk "$LUA_DIR/token.lua" "${ISSUER}oauth/token")
SIGN=$(openssl speed -seconds 5 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')

TPS=$(python3 -c "print(round($(field "$RESULT" requests) / $(field "$RESULT" seconds)))")
echo "tokens/s:                $TPS"
echo "p50 / p99 latency:       $(field "$RESULT" p50_ms) / $(field "$RESULT" p99_ms) ms"
echo "non-2xx answers:         $(field "$RESULT" non2xx)"
echo "openssl rsa2048 sign/s:  $SIGN  (openssl speed -multi 2 rsa2048)"
echo "ratio tokens/s / sign/s: $(python3 -c "print(f'{$TPS / $SIGN:.2f}')")"
