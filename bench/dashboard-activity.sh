#!/usr/bin/env bash
# The dashboard's Activity page over a busy day: a release server on SQLite, EVENTS token events
# (default 1,000,000: 98 % issued, 2 % refused, 200 applications) spread over the last 24 hours,
# stored as the audit writer stores them, then each range of the page fetched ROUNDS times by a
# signed-in administrator. Prints the median and worst time per range.
#
#   bash bench/dashboard-activity.sh        # EVENTS=1000000 ROUNDS=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

EVENTS=${EVENTS:-1000000}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-18083}

cargo build --release --locked -p warrant >&2
start_warrant "$PORT"
WARRANT_ADMIN_PASSWORD='bench password 1234' "$BIN" admin create bench --data-dir "$DATA" >/dev/null

echo "loading $EVENTS audit events" >&2
python3 - "$DATA/warrant.db" "$EVENTS" "$API" <<'PY'
# The events go into audit_events, and their counts into token_activity, as the audit writer
# stores them (5-minute buckets; issued per client and API, refusals per reason).
import collections, random, sqlite3, sys, time
db, n, api = sys.argv[1], int(sys.argv[2]), sys.argv[3]
now = int(time.time() * 1000)
reasons = ["client authentication failed: unknown client or wrong secret",
           'Service not found: "…"']
con = sqlite3.connect(db, timeout=30)
rows, counts = [], collections.Counter()
for i in range(n):
    ok = random.random() < 0.98
    date = now - random.randrange(86_400_000)
    client = "client-%03d" % random.randrange(200)
    reason = "" if ok else random.choice(reasons)
    rows.append((date, "seccft" if ok else "feccft", reason or "Client Credentials for Access Token", client, api))
    key = (date - date % 300_000, client if ok else "", api if ok else "", 1 if ok else 0, reason)
    counts[key] += 1
con.executemany("INSERT INTO audit_events (date_ms, type, description, client_id, audience) "
                "VALUES (?, ?, ?, ?, ?)", rows)
con.executemany("INSERT INTO token_activity (bucket_ms, client_id, audience, issued, reason, count) "
                "VALUES (?, ?, ?, ?, ?, ?)", [k + (c,) for k, c in counts.items()])
con.commit()
print(f"{len(counts)} token_activity rows for {n} events", file=sys.stderr)
PY

JAR="$DATA/cookies"
curl -s -c "$JAR" -o /dev/null "${ISSUER}dashboard/sign-in"
CSRF=$(awk '$6 == "warrant_sign_in" { print $7 }' "$JAR")
curl -s -b "$JAR" -c "$JAR" -o /dev/null \
    --data-urlencode "csrf=$CSRF" --data-urlencode "username=bench" \
    --data-urlencode "password=bench password 1234" "${ISSUER}dashboard/sign-in"
grep -q warrant_session "$JAR" || { echo "sign-in failed" >&2; exit 1; }

for range in 1h 24h 7d; do
    times=()
    for _ in $(seq "$ROUNDS"); do
        out=$(curl -s -b "$JAR" -o /dev/null -w '%{http_code} %{time_total}' "${ISSUER}dashboard/activity?range=$range")
        [ "${out%% *}" = 200 ] || { echo "GET activity?range=$range answered ${out%% *}" >&2; exit 1; }
        times+=("${out##* }")
    done
    python3 -c "import statistics,sys; t=[float(x)*1000 for x in sys.argv[2:]]; print(f'activity {sys.argv[1]:>3}: median {statistics.median(t):.0f} ms, worst {max(t):.0f} ms over {len(t)} fetches')" "$range" "${times[@]}"
done
echo "audit events: $EVENTS over 24 h; page sizes and times on $(nproc) cores"
