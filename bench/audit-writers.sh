#!/usr/bin/env bash
# Audit writers of several instances on one PostgreSQL, as after an outage when each drains its
# backlog: WRITERS connections each commit, as fast as they can for DURATION seconds, the
# transaction the audit writer commits for a batch of 512 token events (two 256-row INSERTs
# into audit_events, then the upsert of their activity counts), every batch for the same
# 5-minute bucket, CLIENTS applications and one API. Run against the activity table as migration 0005 made it
# (one row per bucket, client and API, shared by every writer) and as 0006 makes it (one per
# writer), in a scratch database; prints events per second for each.
#
#   bash bench/audit-writers.sh     # DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
#                                   # WRITERS=2 DURATION=10 CLIENTS=50 by default; needs psql
#                                   # and pgbench
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WRITERS=${WRITERS:-2}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-50}
SCRATCH=warrant_bench_audit_writers
BASE=${DATABASE_URL%/*}
DIR=$(mktemp -d)
trap 'psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $SCRATCH WITH (FORCE)" >/dev/null; rm -rf "$DIR"' EXIT

# One batch, as the writer commits it: 512 events from CLIENTS applications, then their
# activity counts, one row per application, upserted in the order of the writer's hash map
# (arbitrary: random here). $1 is the activity table's writer column, or nothing.
batch() {
    local writer_column=$1 writer_value=$2
    cat <<SQL
BEGIN;
INSERT INTO audit_events (date_ms, type, description, client_id, audience, scope, ip, user_agent, jti)
    SELECT 1764460800000, 'seccft', 'Client Credentials for Access Token', 'client-' || (i % $CLIENTS),
           'https://api.example.com', 'read:data', '127.0.0.1', 'bench', md5(random()::text)
    FROM generate_series(1, 256) AS i;
INSERT INTO audit_events (date_ms, type, description, client_id, audience, scope, ip, user_agent, jti)
    SELECT 1764460800000, 'seccft', 'Client Credentials for Access Token', 'client-' || (i % $CLIENTS),
           'https://api.example.com', 'read:data', '127.0.0.1', 'bench', md5(random()::text)
    FROM generate_series(257, 512) AS i;
INSERT INTO token_activity (bucket_ms, client_id, audience, issued, reason, count$writer_column)
    SELECT 1764460800000, 'client-' || c, 'https://api.example.com', 1, '',
           (SELECT COUNT(*) FROM generate_series(1, 512) AS i WHERE i % $CLIENTS = c)$writer_value
    FROM generate_series(0, $CLIENTS - 1) AS c ORDER BY random()
    ON CONFLICT (bucket_ms, client_id, audience, issued, reason$writer_column)
    DO UPDATE SET count = token_activity.count + excluded.count;
COMMIT;
SQL
}

run() {
    local label=$1 upto=$2 writer_column=$3 writer_value=$4
    psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $SCRATCH WITH (FORCE)" -c "CREATE DATABASE $SCRATCH" >/dev/null
    for migration in crates/warrant-server/migrations/postgres/*.sql; do
        [ "$(basename "$migration" | cut -c1-4)" -le "$upto" ] || continue
        psql -q -v ON_ERROR_STOP=1 "$BASE/$SCRATCH" -f "$migration" >/dev/null
    done
    batch "$writer_column" "$writer_value" >"$DIR/batch.sql"
    local tps
    # Failed batches (deadlocks) are retried, as the writer retries them.
    tps=$(pgbench -n -c "$WRITERS" -j "$WRITERS" -T "$DURATION" --max-tries=1000 -f "$DIR/batch.sql" "$BASE/$SCRATCH" 2>"$DIR/errors" | tee "$DIR/out" |
        awk -F'= ' '/^tps/ { print int($2) }')
    local deadlocks
    deadlocks=$(awk -F": " "/number of transactions retried/ { print \$2 }" "$DIR/out")
    local total
    total=$(psql -At "$BASE/$SCRATCH" -c "SELECT SUM(count) FROM token_activity")
    echo "$label: $((tps * 512)) events/s with $WRITERS writers ($tps batches/s, $total events counted, retried after a deadlock: $deadlocks)"
}

run "one shared activity row (0005)" 0005 "" ""
run "activity rows per writer (0006)" 0006 ", writer" ", 'writer-:client_id'"
