#!/usr/bin/env bash
# Token issuance under load for one signing algorithm: a release build of `warrant serve` on
# loopback (SQLite in a temporary data directory), one API that signs with ALG and one
# application, POST /oauth/token (JSON, client_secret_post) at 32 connections for 20 s with wrk
# and 2 threads, on the same 2 cores as the server. Prints tokens/s and p50/p99 latency, and
# beside them, measured in the same sitting, the limits they are judged against:
#
#   - the same server's GET /healthz req/s under the same wrk settings: what the HTTP stack,
#     the kernel and wrk itself leave on this machine when nothing is signed;
#   - `openssl speed -multi <cores>` signatures/s for the algorithm's key (rsa2048 for RS256 and
#     PS256, ecdsap256 for ES256, ed25519 for EdDSA): what signing alone allows;
#   - the load average before and after (other processes on the machine take CPU too).
#
#   bash bench/token-load.sh                # ALG=RS256 DURATION=20s CONNECTIONS=32 THREADS=2
#   ALG=ES256 bash bench/token-load.sh      # RS256, PS256, ES256 or EdDSA
#   ALG=EdDSA ROUNDS=3 bash bench/token-load.sh
#   CLAIMS=1 bash bench/token-load.sh       # the application with custom claims (see below)
#
# CLAIMS=1 gives the application client_metadata and five custom claims (one a reference to the
# metadata, an array, about 300 bytes in all) before measuring, and checks that a token carries
# them: run it beside CLAIMS=0 in the same sitting to see what custom claims cost per token.
#
# AUTH=private_key_jwt also measures issuance with client assertions signed with KEY_ALG (ES256,
# the default, or RS256) beside the secret-based rate, in the same sitting, and the ceiling the
# assertion's signature check alone puts on their ratio (openssl's verifications/s for KEY_ALG's
# key against the secret-based rate): a jti is single-use,
# so before each such run bench/client-assertions.mjs (Node's crypto, nothing to install) makes
# ASSERTIONS token request bodies, each with its own assertion (valid 10 minutes; the server runs
# with --max-assertion-lifetime 15m), and wrk sends each once (no warm-up run: it would spend them).
#
#   AUTH=private_key_jwt KEY_ALG=ES256 ALG=ES256 ASSERTIONS=400000 bash bench/token-load.sh
#   AUTH=private_key_jwt KEY_ALG=RS256 ASSERTIONS=100000 bash bench/token-load.sh
#
# AUTH=federated also measures issuance with a federated assertion (workload identity
# federation) beside the secret-based rate: a trusted issuer whose RS256 key is uploaded inline
# (nothing fetched during the run), an application bound to one of its subjects, and one
# Kubernetes-shaped assertion signed with openssl, valid 50 minutes and sent with every request
# (a federated assertion needs no jti: it is reused until it expires, as a projected
# service-account token is).
#
#   AUTH=federated bash bench/token-load.sh
#
# ROUNDS > 1 repeats both measurements, alternating which goes first, and prints each round and
# the medians. BUILD=0 skips `cargo build` (BIN=path runs another build of the binary).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ALG=${ALG:-RS256}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
ROUNDS=${ROUNDS:-1}
AUTH=${AUTH:-secret}
KEY_ALG=${KEY_ALG:-ES256}
ASSERTIONS=${ASSERTIONS:-300000}

case "$ALG" in
    RS256 | PS256 | ES256 | EdDSA) ;;
    *) echo "ALG must be RS256, PS256, ES256 or EdDSA" >&2; exit 2 ;;
esac
case "$AUTH" in
    secret) ;;
    private_key_jwt)
        case "$KEY_ALG" in ES256 | RS256) ;; *) echo "KEY_ALG must be ES256 or RS256" >&2; exit 2 ;; esac
        command -v node >/dev/null || { echo "AUTH=private_key_jwt needs node (Node.js 18 or later)" >&2; exit 1; }
        # Assertions made ahead must stay valid through the run.
        export WARRANT_MAX_ASSERTION_LIFETIME=15m
        ;;
    federated) ;;
    *) echo "AUTH must be secret, private_key_jwt or federated" >&2; exit 2 ;;
esac

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# federate: trusts a bench issuer (its RS256 key inline), an application bound to one of its
# subjects, and the Lua script whose every request carries the same assertion.
federate() {
    local issuer=https://bench-issuer.example subject=system:serviceaccount:bench:worker now n input
    FED_CLIENT_ID=$("$BIN" app create --data-dir "$DATA" --name bench-federated --grant "$API=read:data" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$DATA/issuer.pem" 2>/dev/null
    n=$(openssl rsa -in "$DATA/issuer.pem" -noout -modulus | cut -d= -f2 | xxd -r -p | b64url)
    printf '{"keys":[{"kty":"RSA","kid":"bench-1","use":"sig","alg":"RS256","n":"%s","e":"AQAB"}]}' "$n" >"$DATA/jwks.json"
    "$BIN" issuer add "$issuer" --data-dir "$DATA" --jwks-file "$DATA/jwks.json" --alg RS256 >/dev/null
    "$BIN" app federate "$FED_CLIENT_ID" --data-dir "$DATA" --issuer "$issuer" --subject "$subject" >/dev/null
    now=$(date +%s)
    input="$(printf '{"alg":"RS256","typ":"JWT","kid":"bench-1"}' | b64url).$(printf \
        '{"iss":"%s","sub":"%s","aud":["%s"],"iat":%d,"exp":%d,"kubernetes.io":{"namespace":"bench"}}' \
        "$issuer" "$subject" "$ISSUER" "$now" $((now + 3000)) | b64url)"
    local assertion
    assertion="$input.$(printf '%s' "$input" | openssl dgst -sha256 -sign "$DATA/issuer.pem" -binary | b64url)"
    FED_BODY=$(printf '{"client_id":"%s","client_assertion_type":"urn:ietf:params:oauth:client-assertion-type:jwt-bearer","client_assertion":"%s","audience":"%s","grant_type":"client_credentials"}' \
        "$FED_CLIENT_ID" "$assertion" "$API")
    sleep 1 # the server picks the new credential up within a second
    local status
    status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$FED_BODY" "${ISSUER}oauth/token")
    [ "$status" = 200 ] || { echo "the federated token request failed with $status" >&2; exit 1; }
}
ensure_wrk
[ "${BUILD:-1}" = 0 ] || cargo build --release --locked -p warrant >&2
LOAD_BEFORE=$(machine_load)
start_warrant "$PORT" "$ALG"

if [ "${CLAIMS:-0}" = 1 ]; then
    "$BIN" app update --data-dir "$DATA" "$CLIENT_ID" --metadata tenant=acme-corporation \
        --claim 'tenant={{client_metadata.tenant}}' --claim tier=3 --claim region=eu-west-1 \
        --claim 'roles=["reader","auditor","billing"]' \
        --claim "https://example.com/description=$(printf 'x%.0s' $(seq 150))" >/dev/null
    sleep 1 # the server picks the change up within a second
    CARRIED=$(curl -fsS -H 'content-type: application/json' -d "$(token_body)" "${ISSUER}oauth/token" |
        python3 -c 'import base64,json,sys; p=json.load(sys.stdin)["access_token"].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p + "==="))["tenant"])')
    [ "$CARRIED" = acme-corporation ] || { echo "the token lacks the custom claims" >&2; exit 1; }
fi

STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' -d "$(token_body)" "${ISSUER}oauth/token")
[ "$STATUS" = 200 ] || { echo "token request failed with $STATUS" >&2; exit 1; }
SIGNED=$(token_alg)
[ "$SIGNED" = "$ALG" ] || { echo "the API signs with $SIGNED, not $ALG" >&2; exit 1; }

LUA_DIR=$(mktemp -d)
wrk_script "$LUA_DIR/token.lua" POST "$(token_body)"
wrk_script "$LUA_DIR/healthz.lua" GET
if [ "$AUTH" = federated ]; then
    federate
    wrk_script "$LUA_DIR/federated.lua" POST "$FED_BODY"
fi
if [ "$AUTH" = private_key_jwt ]; then
    # An application of its own: with a key, an application's secret is refused.
    KEY_CLIENT_ID=$("$BIN" app create --data-dir "$DATA" --name bench-keys --grant "$API=read:data" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])')
    node bench/client-assertions.mjs key "$KEY_ALG" "$LUA_DIR/key.jwk" "$LUA_DIR/key.pub.pem"
    "$BIN" app credentials add --data-dir "$DATA" "$KEY_CLIENT_ID" --pem "$LUA_DIR/key.pub.pem" --alg "$KEY_ALG" >/dev/null
    sleep 1 # the server picks the change up within a second
    # Each wrk thread sends the bodies of its own share of the lines, each once.
    cat >"$LUA_DIR/assertion.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local bodies, sent, count = {}, 0, 0
init = function(args)
  local n = 0
  for line in io.lines("$LUA_DIR/bodies.txt") do
    if n % $THREADS == id then count = count + 1; bodies[count] = line end
    n = n + 1
  end
end
request = function()
  sent = sent + 1
  -- Past the last body, the last one again: a replayed jti, refused (401), so counted as non-2xx.
  return wrk.format(nil, nil, nil, bodies[math.min(sent, count)])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d seconds=%.2f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
fi
# run_assertions: fresh assertions (iat now), then one run that sends each once.
run_assertions() {
    echo "making $ASSERTIONS $KEY_ALG client assertions" >&2
    node bench/client-assertions.mjs bodies "$KEY_ALG" "$LUA_DIR/key.jwk" "$ISSUER" "$KEY_CLIENT_ID" "$API" 600 \
        "$ASSERTIONS" "$LUA_DIR/bodies.txt"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$LUA_DIR/assertion.lua" "${ISSUER}oauth/token" | grep '^RESULT'
}
rps() { python3 -c "print(round($(field "$1" requests) / $(field "$1" seconds)))"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

TOKENS=() HEALTH=() P50=() P99=() PKJ=() PKJ_P99=() FED=() FED_P99=()
for round in $(seq "$ROUNDS"); do
    echo "round $round: POST /oauth/token ($ALG) and GET /healthz, $CONNECTIONS connections, $THREADS wrk threads, $DURATION each" >&2
    if [ $((round % 2)) = 1 ]; then
        TOKEN_RESULT=$(run_wrk "$LUA_DIR/token.lua" "${ISSUER}oauth/token")
        HEALTH_RESULT=$(run_wrk "$LUA_DIR/healthz.lua" "${ISSUER}healthz")
    else
        HEALTH_RESULT=$(run_wrk "$LUA_DIR/healthz.lua" "${ISSUER}healthz")
        TOKEN_RESULT=$(run_wrk "$LUA_DIR/token.lua" "${ISSUER}oauth/token")
    fi
    [ "$(field "$TOKEN_RESULT" non2xx)" = 0 ] || { echo "token requests had non-2xx answers: $TOKEN_RESULT" >&2; exit 1; }
    TOKENS+=("$(rps "$TOKEN_RESULT")") HEALTH+=("$(rps "$HEALTH_RESULT")")
    P50+=("$(field "$TOKEN_RESULT" p50_ms)") P99+=("$(field "$TOKEN_RESULT" p99_ms)")
    [ "$ROUNDS" = 1 ] || echo "round $round: ${TOKENS[-1]} tokens/s (p50 ${P50[-1]} ms, p99 ${P99[-1]} ms), /healthz ${HEALTH[-1]} req/s"
    if [ "$AUTH" = private_key_jwt ]; then
        PKJ_RESULT=$(run_assertions)
        [ "$(field "$PKJ_RESULT" non2xx)" = 0 ] || {
            echo "the private_key_jwt run had $(field "$PKJ_RESULT" non2xx) non-2xx answers: the assertions ran out (raise ASSERTIONS)" >&2
            exit 1
        }
        PKJ+=("$(rps "$PKJ_RESULT")") PKJ_P99+=("$(field "$PKJ_RESULT" p99_ms)")
        [ "$ROUNDS" = 1 ] || echo "round $round: private_key_jwt ($KEY_ALG assertions) ${PKJ[-1]} tokens/s (p99 ${PKJ_P99[-1]} ms) beside ${TOKENS[-1]} with a secret"
    fi
    if [ "$AUTH" = federated ]; then
        FED_RESULT=$(run_wrk "$LUA_DIR/federated.lua" "${ISSUER}oauth/token")
        [ "$(field "$FED_RESULT" non2xx)" = 0 ] || { echo "federated requests had non-2xx answers: $FED_RESULT" >&2; exit 1; }
        FED+=("$(rps "$FED_RESULT")") FED_P99+=("$(field "$FED_RESULT" p99_ms)")
        [ "$ROUNDS" = 1 ] || echo "round $round: federated ${FED[-1]} tokens/s (p99 ${FED_P99[-1]} ms) beside ${TOKENS[-1]} with a secret"
    fi
done
echo "measuring openssl speed for $ALG's key" >&2
SIGN=$(openssl_sign_rate "$ALG")
if [ "$AUTH" = private_key_jwt ]; then
    echo "measuring openssl speed for $KEY_ALG's key (verification)" >&2
    VERIFY=$(openssl_verify_rate "$KEY_ALG")
fi
LOAD_AFTER=$(machine_load)

TPS=$(median "${TOKENS[@]}")
HZ=$(median "${HEALTH[@]}")
echo "algorithm:                 $ALG$([ "${CLAIMS:-0}" = 1 ] && echo ', with custom claims')"
echo "tokens/s:                  $TPS"
echo "p50 / p99 latency:         $(median "${P50[@]}") / $(median "${P99[@]}") ms"
echo "GET /healthz req/s:        $HZ  (same server, same wrk settings)"
echo "ratio tokens / healthz:    $(python3 -c "print(f'{$TPS / $HZ:.2f}')")"
echo "openssl sign/s:            $SIGN  (openssl speed -multi $(nproc), $ALG's key)"
echo "ratio tokens / sign:       $(python3 -c "print(f'{$TPS / $SIGN:.2f}')")"
if [ "$AUTH" = private_key_jwt ]; then
    PK=$(median "${PKJ[@]}")
    echo "private_key_jwt tokens/s:  $PK  ($KEY_ALG assertions, p99 $(median "${PKJ_P99[@]}") ms)"
    echo "ratio private_key_jwt / secret: $(python3 -c "print(f'{$PK / $TPS:.2f}')")"
    # A request with an assertion costs at least a secret-based one plus one verification, so
    # on these cores the ratio cannot pass verify / (verify + secret), whatever else is removed.
    echo "openssl verify/s:          $VERIFY  (openssl speed -multi $(nproc), $KEY_ALG's key)"
    echo "ceiling from the assertion's signature check alone: $(python3 -c "print(f'{$VERIFY / ($VERIFY + $TPS):.2f}')")"
fi
if [ "$AUTH" = federated ]; then
    FT=$(median "${FED[@]}")
    echo "federated tokens/s:        $FT  (RS256 assertion, p99 $(median "${FED_P99[@]}") ms)"
    echo "ratio federated / secret:  $(python3 -c "print(f'{$FT / $TPS:.2f}')")"
fi
echo "machine:                   before: $LOAD_BEFORE; after: $LOAD_AFTER"
[ "$ROUNDS" = 1 ] || echo "(medians of $ROUNDS rounds)"
