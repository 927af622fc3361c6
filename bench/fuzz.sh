#!/usr/bin/env bash
# Fuzzing with cargo fuzz (libFuzzer, nightly): the token endpoint's request parser and
# warrant-guard's token verifier, each for FUZZ_SECONDS, starting from the seeds in
# fuzz/seeds/. Fails on the first crash (its input lands in fuzz/artifacts/). Installs
# cargo-fuzz when missing; needs the nightly toolchain (rustup).
#
#   bash bench/fuzz.sh          # FUZZ_SECONDS=60
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# libFuzzer needs nightly flags: the nightly toolchain when rustup has one, else the stable
# compiler with RUSTC_BOOTSTRAP (the same flags, unlocked).
if cargo +nightly --version >/dev/null 2>&1; then
    FUZZ=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    FUZZ=(cargo fuzz)
fi
"${FUZZ[@]}" build -O
for target in token_request verify_token; do
    corpus=$(mktemp -d)
    cp "seeds/$target"/* "$corpus"/
    echo "fuzzing $target for ${FUZZ_SECONDS}s" >&2
    "${FUZZ[@]}" run -O "$target" "$corpus" -- -max_total_time="$FUZZ_SECONDS" 2>&1 |
        grep -E '^Done|SUMMARY|panicked|ERROR' || true
    rm -rf "$corpus"
    if [ -n "$(ls artifacts/"$target" 2>/dev/null)" ]; then
        echo "$target crashed: see fuzz/artifacts/$target" >&2
        exit 1
    fi
done
