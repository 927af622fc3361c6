#!/usr/bin/env bash
# 10,000 idle keep-alive connections held open (each made one request, then waits), while
# wrk measures token issuance on 32 other connections: tokens/s with and without the idle
# crowd, the server's memory, and whether the idle connections still answer afterwards.
#
#   bash bench/idle-connections.sh      # IDLE=10000 DURATION=20s CONNECTIONS=32 THREADS=2
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

IDLE=${IDLE:-10000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
# Each side needs a file descriptor per connection: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 1000)) ]; then
    echo "the open-files limit ($(ulimit -n)) is too low for $IDLE connections" >&2
    exit 1
fi

ensure_wrk
cargo build --release --locked -p warrant >&2
start_warrant "$PORT"
rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER/status"; }
LUA_DIR=$(mktemp -d)
wrk_script "$LUA_DIR/token.lua" POST "$(token_body)"
rps() { python3 -c "print(round($(field "$1" requests) / $(field "$1" seconds)))"; }

BEFORE=$(run_wrk "$LUA_DIR/token.lua" "${ISSUER}oauth/token")
echo "without idle connections: $(rps "$BEFORE") tokens/s, p99 $(field "$BEFORE" p99_ms) ms, rss $(rss_mib) MiB"

# The idle crowd: a Python process holding IDLE connections, each after one GET /healthz.
python3 - "$PORT" "$IDLE" "$LUA_DIR/idle.ready" "$LUA_DIR/idle.done" "$LUA_DIR/idle.result" <<'PY' &
import asyncio, os, sys
port, n, ready, done, result = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
REQ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
async def one(conns):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(REQ); await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
    await r.readexactly(length)
    conns.append((r, w))
async def main():
    conns = []
    for i in range(0, n, 500):
        await asyncio.gather(*(one(conns) for _ in range(min(500, n - i))))
    open(ready, "w").write(str(len(conns)))
    while not os.path.exists(done):
        await asyncio.sleep(0.2)
    alive = 0
    for r, w in conns[::100]:
        try:
            w.write(REQ); await w.drain()
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5)
            alive += head.startswith(b"HTTP/1.1 200")
        except Exception:
            pass
    open(result, "w").write(f"{alive}/{len(conns[::100])}")
asyncio.run(main())
PY
IDLE_PID=$!
CLEANUP_PIDS+=("$IDLE_PID")
for _ in $(seq 600); do [ -f "$LUA_DIR/idle.ready" ] && break; sleep 0.1; done
echo "idle connections open: $(cat "$LUA_DIR/idle.ready"), rss $(rss_mib) MiB"
DURING=$(run_wrk "$LUA_DIR/token.lua" "${ISSUER}oauth/token")
echo "with $IDLE idle connections: $(rps "$DURING") tokens/s, p99 $(field "$DURING" p99_ms) ms, non-2xx $(field "$DURING" non2xx), rss $(rss_mib) MiB"
echo "ratio (with / without): $(python3 -c "print(f'{$(rps "$DURING") / $(rps "$BEFORE"):.2f}')")"
touch "$LUA_DIR/idle.done"
wait "$IDLE_PID" || true
echo "idle connections still answering afterwards (1 in 100 sampled): $(cat "$LUA_DIR/idle.result")"
