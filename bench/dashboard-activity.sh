#!/usr/bin/env bash
# The dashboard's Activity page over a large audit log: a release server on SQLite, EVENTS token
# events (default 1,000,000: 98 % issued, 2 % refused, 200 applications) spread over the last 24
# hours, then each range of the page fetched ROUNDS times by a signed-in administrator. Prints
# the median and worst time per range.
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
import random, sqlite3, sys, time
db, n, api = sys.argv[1], int(sys.argv[2]), sys.argv[3]
now = int(time.time() * 1000)
con = sqlite3.connect(db, timeout=30)
rows = []
for i in range(n):
    ok = random.random() < 0.98
    rows.append((now - random.randrange(86_400_000),
                 "seccft" if ok else "feccft",
                 "Client Credentials for Access Token" if ok else
                 random.choice(["client authentication failed: unknown client or wrong secret",
                                "the client is not authorized for this API"]),
                 "client-%03d" % random.randrange(200), api))
con.executemany("INSERT INTO audit_events (date_ms, type, description, client_id, audience) "
                "VALUES (?, ?, ?, ?, ?)", rows)
con.commit()
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
