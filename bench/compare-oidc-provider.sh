#!/usr/bin/env bash
# Warrant beside oidc-provider 9 (the Node.js OpenID Connect server), in one run: each issues
# client-credentials access tokens as JWTs for one API named by a resource indicator (RFC 8707),
# signed with the same algorithm (ALG), a day long, to one client authenticating with
# client_secret_post; both get the same form-encoded request
# (grant_type, client_id, client_secret, resource, scope) from wrk with the same settings
# (32 connections, 2 threads, 20 s, after 3 s of warm-up). They are measured one after the other,
# ROUNDS times, which goes first swapping each round (a shared machine drifts); prints each
# round's tokens/s and p99 and the median ratio Warrant / oidc-provider.
#
# oidc-provider is installed from the npm registry into a temporary directory (not kept) and run
# from bench/oidc-provider-server.mjs: WORKERS processes (Node's cluster module, 2 by default: the
# machine's cores, as Warrant's runtime uses them all; WORKERS=1 for one process). Needs Node.js
# 20 or later, npm and wrk.
#
#   bash bench/compare-oidc-provider.sh           # ALG=RS256 WORKERS=2 ROUNDS=2 DURATION=20s
#   ALG=ES256 bash bench/compare-oidc-provider.sh # RS256, PS256, ES256 or EdDSA
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ALG=${ALG:-RS256}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
OIDC_PORT=${OIDC_PORT:-18090}
WORKERS=${WORKERS:-2}
ROUNDS=${ROUNDS:-2}
OIDC_PROVIDER_VERSION=${OIDC_PROVIDER_VERSION:-9}

ensure_wrk
command -v node >/dev/null && command -v npm >/dev/null || { echo "needs node and npm" >&2; exit 1; }
[ "${BUILD:-1}" = 0 ] || cargo build --release --locked -p warrant >&2

LUA_DIR=$(mktemp -d)
echo "installing oidc-provider@$OIDC_PROVIDER_VERSION into $LUA_DIR/oidc" >&2
mkdir "$LUA_DIR/oidc"
cp bench/oidc-provider-server.mjs "$LUA_DIR/oidc/"
(cd "$LUA_DIR/oidc" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "oidc-provider@$OIDC_PROVIDER_VERSION" >&2)
OIDC_VERSION=$(node -p "require('$LUA_DIR/oidc/node_modules/oidc-provider/package.json').version")

LOAD_BEFORE=$(machine_load)
start_warrant "$PORT" "$ALG"
SIGNED=$(token_alg)
[ "$SIGNED" = "$ALG" ] || { echo "Warrant's API signs with $SIGNED, not $ALG" >&2; exit 1; }

# oidc-provider gets Warrant's client ID and secret, so that the two bodies differ only in length.
PORT="$OIDC_PORT" ALG="$ALG" WORKERS="$WORKERS" CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" API="$API" \
    node "$LUA_DIR/oidc/oidc-provider-server.mjs" >"$LUA_DIR/oidc.log" 2>&1 &
CLEANUP_PIDS+=("$!")
wait_ready "http://127.0.0.1:$OIDC_PORT/.well-known/openid-configuration"

BODY="grant_type=client_credentials&client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET&resource=$API&scope=read:data"
form_script() {
    wrk_script "$1" POST "$BODY"
    sed -i 's#application/json#application/x-www-form-urlencoded#' "$1"
}
form_script "$LUA_DIR/token.lua"
WARRANT_URL="${ISSUER}oauth/token"
OIDC_URL="http://127.0.0.1:$OIDC_PORT/token"
for url in "$WARRANT_URL" "$OIDC_URL"; do
    header=$(curl -fsS -H 'content-type: application/x-www-form-urlencoded' -d "$BODY" "$url" |
        python3 -c 'import base64,json,sys; h=json.load(sys.stdin)["access_token"].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "===")))')
    echo "$url issues tokens with header $header" >&2
done

rps() { python3 -c "print(round($(field "$1" requests) / $(field "$1" seconds)))"; }
RATIOS=()
for round in $(seq "$ROUNDS"); do
    echo "round $round: $ALG tokens from Warrant and oidc-provider, $CONNECTIONS connections, $DURATION each" >&2
    if [ $((round % 2)) = 1 ]; then
        W=$(run_wrk "$LUA_DIR/token.lua" "$WARRANT_URL")
        O=$(run_wrk "$LUA_DIR/token.lua" "$OIDC_URL")
    else
        O=$(run_wrk "$LUA_DIR/token.lua" "$OIDC_URL")
        W=$(run_wrk "$LUA_DIR/token.lua" "$WARRANT_URL")
    fi
    for result in "$W" "$O"; do
        [ "$(field "$result" non2xx)" = 0 ] || { echo "non-2xx answers: $result" >&2; exit 1; }
    done
    RATIO=$(python3 -c "print(f'{$(rps "$W") / $(rps "$O"):.2f}')")
    RATIOS+=("$RATIO")
    echo "round $round: Warrant $(rps "$W") tokens/s (p99 $(field "$W" p99_ms) ms), oidc-provider $(rps "$O") tokens/s (p99 $(field "$O" p99_ms) ms), ratio $RATIO"
done
echo "algorithm $ALG; oidc-provider $OIDC_VERSION with $WORKERS worker(s), Node.js $(node -v)"
echo "median ratio Warrant / oidc-provider: $(printf '%s\n' "${RATIOS[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')"
echo "machine: before: $LOAD_BEFORE; after: $(machine_load)"
