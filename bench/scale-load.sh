#!/usr/bin/env bash
# Issuance speed against the number of registered applications (issue #6's scale figure). Two
# release servers on one PostgreSQL, each with its own database: SMALL has 10 applications and
# wrk rotates over all 10; BIG has 1,000,000 applications (bulk-loaded with SQL) and wrk rotates
# over 10,000 of them spread across the table, so every one is a cache miss once, then a hit.
# The two are measured in alternation, ROUNDS times, which goes first swapping each round; the
# median of the BIG / SMALL ratios is printed (target: at least 0.85), with each server's
# resident memory after the run.
#
#   bash bench/scale-load.sh     # APPS=1000000 ACTIVE=10000 DURATION=15s CONNECTIONS=32 ROUNDS=3
#                                # WARMUP=10s (the cold first pass, reported on its own)
#   PG=postgres://postgres@127.0.0.1:5432  (the server; databases warrant_scale_* are recreated)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

APPS=${APPS:-1000000}
ACTIVE=${ACTIVE:-10000}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-10s}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
export WARRANT_MASTER_KEY=${WARRANT_MASTER_KEY:-$(openssl rand -hex 32)}
API=https://api.example.com
BIN=target/release/warrant

ensure_wrk
cargo build --release --locked -p warrant >&2
LUA_DIR=$(mktemp -d)

# populate NAME COUNT: a fresh database with one API and COUNT applications, each granted
# read:data, whose secrets are secret-<n> (stored, as Warrant stores them, as SHA-256).
populate() {
    local name=$1 count=$2
    psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
    "$BIN" migrate --database-url "$PG/$name" >/dev/null
    "$BIN" api create --database-url "$PG/$name" --identifier "$API" --name "Bench API" \
        --scope read:data >/dev/null
    echo "loading $count applications into $name" >&2
    psql -q -v ON_ERROR_STOP=1 "$PG/$name" >/dev/null <<SQL
INSERT INTO applications (client_id, name, description, created_at, updated_at)
    SELECT 'bench' || lpad(i::text, 7, '0'), 'bench ' || i, '', 0, 0 FROM generate_series(1, $count) i;
INSERT INTO client_secrets (id, client_id, secret_hash, created_at)
    SELECT 'sec' || i, 'bench' || lpad(i::text, 7, '0'), sha256(convert_to('secret-' || i, 'UTF8')), 0
    FROM generate_series(1, $count) i;
INSERT INTO client_grants (id, client_id, audience, scopes, created_at)
    SELECT 'cgr' || i, 'bench' || lpad(i::text, 7, '0'), '$API', '["read:data"]', 0
    FROM generate_series(1, $count) i;
UPDATE state_version SET version = version + 1;
ANALYZE;
SQL
}

# lua FILE COUNT ACTIVE: a wrk script cycling over ACTIVE clients spread evenly over COUNT.
lua() {
    local file=$1 count=$2 active=$3
    wrk_script "$file" POST
    cat >>"$file" <<LUA
local bodies, k = {}, 0
for j = 1, $active do
  local i = 1 + math.floor((j - 1) * $count / $active)
  bodies[j] = string.format('{"client_id":"bench%07d","client_secret":"secret-%d","audience":"$API","grant_type":"client_credentials"}', i, i)
end
request = function()
  k = k % $active + 1
  return wrk.format("POST", "/oauth/token", {["Content-Type"] = "application/json"}, bodies[k])
end
local failures = 0
response = function(status, headers, body)
  if status ~= 200 and failures < 5 then
    failures = failures + 1
    io.stderr:write("non-200 answer: " .. status .. " " .. body .. "\n")
  end
end
LUA
}

PIDS=()
start() {
    local name=$1 port=$2
    WARRANT_LOG=warn "$BIN" serve --database-url "$PG/$name" --listen "127.0.0.1:$port" 2>/dev/null &
    PIDS+=("$!")
    CLEANUP_PIDS+=("$!")
    wait_ready "http://127.0.0.1:$port/readyz"
}
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
rps() { python3 -c "print(round($(field "$1" requests) / $(field "$1" seconds)))"; }

populate warrant_scale_small 10
populate warrant_scale_big "$APPS"
lua "$LUA_DIR/small.lua" 10 10
lua "$LUA_DIR/big.lua" "$APPS" "$ACTIVE"
start warrant_scale_small 18081
start warrant_scale_big 18082
echo "resident memory at start: small $(rss_mib "${PIDS[0]}") MiB, big $(rss_mib "${PIDS[1]}") MiB" >&2
# The first pass over the active clients looks each one up in PostgreSQL (a cold cache); it is
# measured on its own, and the rounds then compare steady states.
COLD=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "$LUA_DIR/big.lua" http://127.0.0.1:18082/oauth/token | grep '^RESULT')
echo "cold cache, first $WARMUP over $ACTIVE clients: $(rps "$COLD") tokens/s, p99 $(field "$COLD" p99_ms) ms"

RATIOS=()
for round in $(seq "$ROUNDS"); do
    echo "round $round" >&2
    if [ $((round % 2)) = 1 ]; then
        SMALL=$(run_wrk "$LUA_DIR/small.lua" http://127.0.0.1:18081/oauth/token)
        BIG=$(run_wrk "$LUA_DIR/big.lua" http://127.0.0.1:18082/oauth/token)
    else
        BIG=$(run_wrk "$LUA_DIR/big.lua" http://127.0.0.1:18082/oauth/token)
        SMALL=$(run_wrk "$LUA_DIR/small.lua" http://127.0.0.1:18081/oauth/token)
    fi
    for r in "$SMALL" "$BIG"; do
        [ "$(field "$r" non2xx)" = 0 ] || { echo "non-2xx answers: $r" >&2; exit 1; }
    done
    RATIO=$(python3 -c "print(f'{$(rps "$BIG") / $(rps "$SMALL"):.2f}')")
    RATIOS+=("$RATIO")
    echo "  10 apps:        $(rps "$SMALL") tokens/s, p50 $(field "$SMALL" p50_ms) ms, p99 $(field "$SMALL" p99_ms) ms"
    echo "  $APPS apps: $(rps "$BIG") tokens/s, p50 $(field "$BIG" p50_ms) ms, p99 $(field "$BIG" p99_ms) ms ($ACTIVE active clients)"
    echo "  ratio: $RATIO"
done
echo "resident memory after: small $(rss_mib "${PIDS[0]}") MiB, big $(rss_mib "${PIDS[1]}") MiB"
echo "median ratio (${APPS} apps / 10 apps): $(printf '%s\n' "${RATIOS[@]}" | sort -n | sed -n "$(((ROUNDS + 1) / 2))p")"
cleanup
CLEANUP_PIDS=()
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS warrant_scale_small" -c "DROP DATABASE IF EXISTS warrant_scale_big" >/dev/null
