#!/usr/bin/env bash
# Token issuance under load: a release build of `warrant serve` on loopback, one API and one
# application, POST /oauth/token at 32 connections for 20 s with wrk. Prints tokens/s and p99,
# plus `openssl speed -multi 2 rsa2048` sign/s on the same machine (the RS256 cost floor) and
# the ratio tokens/s ÷ sign/s.
#
#   bash bench/token-load.sh            # DURATION=20s CONNECTIONS=32 THREADS=2 by default
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)" >&2
    { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
fi

cargo build --release --locked -p warrant >&2
BIN=target/release/warrant
DATA=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT

WARRANT_LOG=warn "$BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" &
SERVER=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

API=https://api.example.com
"$BIN" api create --data-dir "$DATA" --identifier "$API" --name "Bench API" \
    --scope read:data --scope delete:documents >/dev/null
APP=$("$BIN" app create --data-dir "$DATA" --name bench --grant "$API=read:data" --json)
CLIENT_ID=$(printf '%s' "$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
CLIENT_SECRET=$(printf '%s' "$APP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
sleep 1  # the server picks the new application up within a second

BODY="{\"client_id\":\"$CLIENT_ID\",\"client_secret\":\"$CLIENT_SECRET\",\"audience\":\"$API\",\"grant_type\":\"client_credentials\"}"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$BODY" "http://127.0.0.1:$PORT/oauth/token")
[ "$STATUS" = 200 ] || { echo "token request failed with $STATUS" >&2; exit 1; }

LUA=$(mktemp)
cat >"$LUA" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format("RESULT requests=%d non2xx=%d seconds=%.2f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, non2xx, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

echo "warming up" >&2
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$LUA" "http://127.0.0.1:$PORT/oauth/token" >/dev/null
echo "measuring: $CONNECTIONS connections, $DURATION" >&2
OUT=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$LUA" "http://127.0.0.1:$PORT/oauth/token")
rm -f "$LUA"
RESULT=$(printf '%s\n' "$OUT" | grep '^RESULT')

SIGN=$(openssl speed -seconds 5 -multi 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')

python3 - "$RESULT" "$SIGN" <<'PY'
import sys
fields = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
requests, seconds = int(fields["requests"]), float(fields["seconds"])
tps = requests / seconds
sign = float(sys.argv[2])
print(f"tokens/s:               {tps:9.0f}")
print(f"p50 latency:            {float(fields['p50_ms']):9.2f} ms")
print(f"p99 latency:            {float(fields['p99_ms']):9.2f} ms")
print(f"non-2xx answers:        {int(fields['non2xx']):9d}")
print(f"openssl rsa2048 sign/s: {sign:9.0f}  (openssl speed -multi 2 rsa2048)")
print(f"ratio tokens/s / sign/s:{tps / sign:9.2f}")
PY
