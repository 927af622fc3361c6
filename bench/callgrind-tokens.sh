#!/usr/bin/env bash
# Where the instructions of a token go: a release `warrant serve` under valgrind's callgrind,
# WARMUP token requests, the counters zeroed (`callgrind_control -z`), then N token requests
# from one client over one keep-alive connection (Python httpx), the counters dumped
# (`callgrind_control -d`), and bench/callgrind-account.py sorts the instructions of the
# interval into components: signing, the secret's SHA-256, JSON, the HTTP stack and runtime,
# the audit queue and writer, metrics, allocation... per token. Instruction counts do not
# depend on what else runs on the machine, unlike times: this is the figure to compare
# before and after a change. (The kernel's share, the fsyncs and context switches, is not
# counted: callgrind sees user space only.)
#
#   bash bench/callgrind-tokens.sh          # ALG=RS256 N=2000 WARMUP=200; needs valgrind
#   ALG=ES256 N=5000 bash bench/callgrind-tokens.sh
#
# BIN=path profiles another build of the binary (BUILD=0 skips `cargo build`); the dump is
# kept in OUT (default: a temporary directory, printed) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ALG=${ALG:-RS256}
N=${N:-2000}
WARMUP=${WARMUP:-200}
PORT=${PORT:-18085}
OUT=${OUT:-$(mktemp -d)}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
python3 -c 'import httpx' 2>/dev/null || { echo "needs python3 with httpx" >&2; exit 1; }
[ "${BUILD:-1}" = 0 ] || cargo build --release --locked -p warrant >&2

# The server starts under callgrind (slowly: give it a minute).
WRAP=(valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" --dump-line=no)
READY_TRIES=600
start_warrant "$PORT" "$ALG"
# The server, slowed down by callgrind, may take a few seconds to see the new application.
for _ in $(seq 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$(token_body)" "${ISSUER}oauth/token")" = 200 ] && break
    sleep 0.5
done
SIGNED=$(token_alg)
[ "$SIGNED" = "$ALG" ] || { echo "the API signs with $SIGNED, not $ALG" >&2; exit 1; }

send() {
    python3 - "${ISSUER}oauth/token" "$1" "$(token_body)" <<'PY'
import httpx, sys
url, n, body = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with httpx.Client(timeout=60) as client:
    for _ in range(n):
        r = client.post(url, content=body, headers={"content-type": "application/json"})
        if r.status_code != 200:
            sys.exit(f"token request answered {r.status_code}")
PY
}
echo "warming up: $WARMUP tokens" >&2
send "$WARMUP"
sleep 1 # the audit writer stores the warm-up's events
callgrind_control -z "$SERVER" >/dev/null
echo "profiling: $N tokens ($ALG)" >&2
send "$N"
sleep 1 # the last batch of audit events is stored within the interval
callgrind_control -d "$SERVER" >/dev/null
DUMP=$(ls -t "$OUT"/callgrind.out.* | head -n 1)
echo "dump: $DUMP" >&2
python3 bench/callgrind-account.py "$DUMP" "$N"
