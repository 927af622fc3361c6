//! Token verification cost: a full RS256 verification (a token not seen before) and a cached
//! one, next to the bare aws-lc RS256 verify of the same bytes, the floor. And DPoP proof
//! verification for each algorithm (every check, the replay cache included, each proof fresh)
//! next to the bare signature verification of the same algorithm.
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

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA256, RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use warrant_guard::{DpopVerifier, ProofCheck, Verifier};

use support::{AUDIENCE, ISSUER, JwksServer, ProofKey, RsaKey, claims};

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

/// The public key of a proof key, parsed as a verifier holding it would have it.
fn bare_key(key: &ProofKey) -> ParsedPublicKey {
    let jwk = key.jwk();
    let member = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    match key.alg() {
        "ES256" => {
            let mut point = vec![4u8];
            point.extend(member("x"));
            point.extend(member("y"));
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).unwrap()
        }
        "EdDSA" => ParsedPublicKey::new(&ED25519, member("x")).unwrap(),
        alg => {
            let (n, e) = (member("n"), member("e"));
            let params = if alg == "PS256" {
                &RSA_PSS_2048_8192_SHA256
            } else {
                &RSA_PKCS1_2048_8192_SHA256
            };
            RsaPublicKeyComponents { n: &n, e: &e }
                .to_parsed_public_key(params)
                .unwrap()
        }
    }
}

fn dpop(c: &mut Criterion) {
    const URL: &str = "https://api.example.com/internal/data";
    let token = RsaKey::generate("k1").token(&claims());
    let verifier = DpopVerifier::builder()
        .replay_capacity(50_000_000)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("dpop");
    group.measurement_time(Duration::from_secs(5));
    for key in ProofKey::all() {
        let jkt = key.jkt();
        let proof = key.proof("GET", URL, Some(&token));
        let (input, sig) = proof.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let bare = bare_key(&key);
        group.bench_function(format!("{} bare signature verify", key.alg()), |b| {
            b.iter(|| bare.verify_sig(input.as_bytes(), &sig).unwrap())
        });
        let check = ProofCheck {
            method: "GET",
            url: URL,
            access_token: Some(&token),
            bound_key: Some(&jkt),
        };
        group.bench_function(format!("{} DpopVerifier::verify", key.alg()), |b| {
            b.iter_batched(
                || key.proof("GET", URL, Some(&token)),
                |proof| verifier.verify(&proof, &check).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, verify, dpop);
criterion_main!(benches);
