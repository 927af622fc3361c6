# Shared by the load scripts: wrk, a release Warrant server on loopback with one API and one
# application, and wrk's result line. Source it; it sets BIN, DATA, SERVER, ISSUER, API,
# CLIENT_ID, CLIENT_SECRET and cleans up on exit.

ensure_wrk() {
    if ! command -v wrk >/dev/null; then
        echo "installing wrk (Debian package)" >&2
        { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null
    fi
}

CLEANUP_PIDS=()
cleanup() {
    for pid in "${CLEANUP_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ -n "${DATA:-}" ] && rm -rf "$DATA"
    [ -n "${LUA_DIR:-}" ] && rm -rf "$LUA_DIR"
}
trap cleanup EXIT

# wait_ready URL: waits for a 2xx, READY_TRIES times 0.1 s at most (default 100).
wait_ready() {
    for _ in $(seq "${READY_TRIES:-100}"); do
        curl -fsS "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$1 did not become ready" >&2
    return 1
}

# start_warrant PORT [ALG]: starts the server and creates the API (signing with ALG when given:
# RS256, the default, PS256, ES256 or EdDSA) and the application (JSON fields read with python3,
# which the machine has). BIN may name another build of the binary; WRAP (an array) is a
# command the server runs under (valgrind, perf).
start_warrant() {
    local port=$1 alg=${2:-RS256}
    BIN=${BIN:-target/release/warrant}
    DATA=$(mktemp -d)
    ISSUER="http://127.0.0.1:$port/"
    WARRANT_LOG=warn ${WRAP[@]+"${WRAP[@]}"} "$BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$port" 2>/dev/null &
    SERVER=$!
    CLEANUP_PIDS+=("$SERVER")
    wait_ready "${ISSUER}readyz"
    API=https://api.example.com
    local alg_flag=()
    [ "$alg" = RS256 ] || alg_flag=(--signing-alg "$alg")
    "$BIN" api create --data-dir "$DATA" --identifier "$API" --name "Bench API" \
        --scope read:data --scope delete:documents "${alg_flag[@]}" >/dev/null
    local app
    app=$("$BIN" app create --data-dir "$DATA" --name bench --grant "$API=read:data" --json)
    CLIENT_ID=$(printf '%s' "$app" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
    CLIENT_SECRET=$(printf '%s' "$app" | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
    sleep 1 # the server picks the new application up within a second
}

# token_alg: the `alg` in the header of a token the server issues now.
token_alg() {
    curl -fsS -H 'content-type: application/json' -d "$(token_body)" "${ISSUER}oauth/token" |
        python3 -c 'import base64,json,sys; h=json.load(sys.stdin)["access_token"].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "==="))["alg"])'
}

# The machine's load average (1, 5, 15 min) and core count: other processes compete for the CPU.
machine_load() {
    printf 'load average %s on %s cores' "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
}

# openssl_sign_rate ALG: signatures a second by `openssl speed` on every core for the
# algorithm's key (RSA-2048 for RS256 and PS256: openssl measures PKCS#1 v1.5, which costs the
# same private-key operation as PSS).
openssl_sign_rate() {
    local what
    case "$1" in
        RS256 | PS256) what=rsa2048 ;;
        ES256) what=ecdsap256 ;;
        EdDSA) what=ed25519 ;;
        *) echo "unknown algorithm $1" >&2; return 1 ;;
    esac
    openssl speed -seconds 5 -multi "$(nproc)" "$what" 2>/dev/null | tail -n 1 | awk '{print $(NF-1)}'
}

# openssl_verify_rate ALG: verifications a second by `openssl speed` on every core for the
# algorithm's key: what checking one signature per request (a client assertion's) allows.
openssl_verify_rate() {
    local what
    case "$1" in
        RS256 | PS256) what=rsa2048 ;;
        ES256) what=ecdsap256 ;;
        EdDSA) what=ed25519 ;;
        *) echo "unknown algorithm $1" >&2; return 1 ;;
    esac
    openssl speed -seconds 5 -multi "$(nproc)" "$what" 2>/dev/null | tail -n 1 | awk '{print $NF}'
}

token_body() {
    printf '{"client_id":"%s","client_secret":"%s","audience":"%s","grant_type":"client_credentials"}' \
        "$CLIENT_ID" "$CLIENT_SECRET" "$API"
}

# wrk_script FILE METHOD [BODY] [AUTHORIZATION]: a wrk Lua script whose done() prints one line:
# RESULT requests=… non2xx=… seconds=… p50_ms=… p99_ms=…
wrk_script() {
    local file=$1 method=$2 body=${3:-} auth=${4:-}
    {
        echo "wrk.method = \"$method\""
        [ -n "$body" ] && echo "wrk.headers[\"Content-Type\"] = \"application/json\"" && echo "wrk.body = '$body'"
        [ -n "$auth" ] && echo "wrk.headers[\"Authorization\"] = \"$auth\""
        cat <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d seconds=%.2f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
    } >"$file"
}

# run_wrk SCRIPT URL: warms up for 3 s, then measures; prints the RESULT line.
run_wrk() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$1" "$2" >/dev/null
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$1" "$2" | grep '^RESULT'
}

# field LINE NAME: one field of a RESULT line.
field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
