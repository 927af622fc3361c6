//! Token verification cost: a full RS256 verification (a token not seen before) and a cached
//! one, next to the bare aws-lc RS256 verify of the same bytes, the floor.
//!
//!   cargo bench -p warrant-guard --bench verify

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_debug_implementations
)]

#[path = "../tests/guard/support.rs"]
#[allow(dead_code)]
mod support;

use std::time::Duration;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use warrant_guard::Verifier;

use support::{AUDIENCE, ISSUER, JwksServer, RsaKey, claims};

fn verify(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let key = RsaKey::generate("k1");
    let jwks = rt.block_on(JwksServer::start(vec![key.jwk()]));
    let token = key.token(&claims());

    let full = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let cached = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .token_cache(10_000)
        .build()
        .unwrap();
    rt.block_on(async {
        full.verify(&token).await.unwrap();
        cached.verify(&token).await.unwrap();
    });

    let jwk = key.jwk();
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let parsed = RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();

    let mut group = c.benchmark_group("verify");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("aws-lc RS256 verify (bare floor)", |b| {
        b.iter(|| parsed.verify_sig(input.as_bytes(), &sig).unwrap())
    });
    group.bench_function("Verifier::verify, token not cached (full RS256)", |b| {
        b.to_async(&rt)
            .iter(|| async { full.verify(&token).await.unwrap() })
    });
    group.bench_function("Verifier::verify, token cached", |b| {
        b.to_async(&rt)
            .iter(|| async { cached.verify(&token).await.unwrap() })
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
