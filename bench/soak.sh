#!/usr/bin/env bash
# Soak: a release Warrant (SQLite, one API, one application) under a steady token load at
# ~80 % of the peak measured first, for DURATION (10 minutes), reported minute by minute:
# tokens/s, latency percentiles, non-2xx answers and the server's resident memory. The pacing
# is wrk's per-connection delay (CONNECTIONS / target rate), so the rate is approximate.
#
#   bash bench/soak.sh        # DURATION=600 SLICE=60 CONNECTIONS=32 THREADS=2 LOAD=0.8
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-600}
SLICE=${SLICE:-60}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
LOAD=${LOAD:-0.8}
PORT=${PORT:-18080}

ensure_wrk
cargo build --release --locked -p warrant >&2
start_warrant "$PORT"
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER/status"; }

LUA_DIR=$(mktemp -d)
wrk_script "$LUA_DIR/peak.lua" POST "$(token_body)"
DURATION_SAVED=$DURATION
DURATION=10s
PEAK=$(run_wrk "$LUA_DIR/peak.lua" "${ISSUER}oauth/token")
DURATION=$DURATION_SAVED
PEAK_RPS=$(python3 -c "print(round($(field "$PEAK" requests) / $(field "$PEAK" seconds)))")
TARGET=$(python3 -c "print(round($PEAK_RPS * $LOAD))")
DELAY_MS=$(python3 -c "print(max(1, round($CONNECTIONS * 1000 / $TARGET)))")
echo "peak: $PEAK_RPS tokens/s; soaking at ~$TARGET tokens/s ($CONNECTIONS connections, ${DELAY_MS} ms between requests each) for ${DURATION}s"

wrk_script "$LUA_DIR/soak.lua" POST "$(token_body)"
echo "delay = function() return $DELAY_MS end" >>"$LUA_DIR/soak.lua"
echo "resident memory at start: $(rss_mib) MiB"
printf '%-8s %10s %9s %9s %8s %9s\n' minute tokens/s p50_ms p99_ms non2xx rss_mib
ERRORS=0
for i in $(seq $((DURATION / SLICE))); do
    R=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SLICE}s" -s "$LUA_DIR/soak.lua" "${ISSUER}oauth/token" | grep '^RESULT')
    RPS=$(python3 -c "print(round($(field "$R" requests) / $(field "$R" seconds)))")
    ERRORS=$((ERRORS + $(field "$R" non2xx)))
    printf '%-8s %10s %9s %9s %8s %9s\n' "$i" "$RPS" "$(field "$R" p50_ms)" "$(field "$R" p99_ms)" "$(field "$R" non2xx)" "$(rss_mib)"
done
echo "resident memory at end: $(rss_mib) MiB; non-2xx answers in all: $ERRORS"
[ "$ERRORS" = 0 ]
