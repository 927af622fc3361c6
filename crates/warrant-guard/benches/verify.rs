//! Token verification cost for each algorithm an API may sign with (RS256, PS256, ES256, EdDSA):
//! a full verification (a token not seen before: parsed, signature checked, claims checked), a
//! cached one (the same token again, with the token cache on), and beside them the bare aws-lc
//! verification of the same signature with an already parsed key, the floor. And DPoP proof
//! verification for each algorithm (every check, the replay cache included, each proof fresh)
//! next to the bare signature verification of the same algorithm.
//!
//!   cargo bench -p warrant-guard --bench verify
//!   cargo bench -p warrant-guard --bench verify -- ES256     # one algorithm

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

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    RsaKeyPair, RsaPublicKeyComponents, VerificationAlgorithm,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use warrant_guard::{Algorithm, DpopVerifier, ProofCheck, Verifier};

use support::{AUDIENCE, ISSUER, JwksServer, ProofKey, RsaKey, claims};

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A key of one algorithm: its JWK, a token it signed, and its aws-lc verification.
struct Signer {
    alg: Algorithm,
    jwk: Value,
    token: String,
    verification: &'static dyn VerificationAlgorithm,
    /// The public key as aws-lc's verifier takes it.
    public: Vec<u8>,
}

impl Signer {
    fn new(alg: Algorithm) -> Self {
        let kid = alg.name().to_lowercase();
        let header = json!({"alg": alg.name(), "typ": "at+jwt", "kid": kid});
        let input = format!("{}.{}", b64(header.to_string()), b64(claims().to_string()));
        let rng = SystemRandom::new();
        let signer = |jwk: Value,
                      sig: &[u8],
                      verification: &'static dyn VerificationAlgorithm,
                      public: &[u8]| Self {
            alg,
            jwk,
            token: format!("{input}.{}", b64(sig)),
            verification,
            public: public.to_vec(),
        };
        match alg {
            Algorithm::RS256 | Algorithm::PS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
                let public = pair.public_key();
                let jwk = json!({
                    "kty": "RSA", "kid": kid, "use": "sig", "alg": alg.name(),
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                });
                let mut sig = vec![0; pair.public_modulus_len()];
                if alg == Algorithm::RS256 {
                    pair.sign(
                        &signature::RSA_PKCS1_SHA256,
                        &rng,
                        input.as_bytes(),
                        &mut sig,
                    )
                    .unwrap();
                    signer(
                        jwk,
                        &sig,
                        &signature::RSA_PKCS1_2048_8192_SHA256,
                        public.as_ref(),
                    )
                } else {
                    pair.sign(&signature::RSA_PSS_SHA256, &rng, input.as_bytes(), &mut sig)
                        .unwrap();
                    signer(
                        jwk,
                        &sig,
                        &signature::RSA_PSS_2048_8192_SHA256,
                        public.as_ref(),
                    )
                }
            }
            Algorithm::ES256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
                let point = pair.public_key().as_ref();
                let jwk = json!({"kty": "EC", "kid": kid, "crv": "P-256", "use": "sig",
                                 "alg": "ES256", "x": b64(&point[1..33]), "y": b64(&point[33..65])});
                let sig = pair.sign(&rng, input.as_bytes()).unwrap();
                signer(
                    jwk,
                    sig.as_ref(),
                    &signature::ECDSA_P256_SHA256_FIXED,
                    point,
                )
            }
            Algorithm::EdDSA => {
                let pair = Ed25519KeyPair::generate().unwrap();
                let point = pair.public_key().as_ref();
                let jwk = json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "use": "sig",
                                 "alg": "EdDSA", "x": b64(point)});
                let sig = pair.sign(input.as_bytes());
                signer(jwk, sig.as_ref(), &signature::ED25519, point)
            }
            other => panic!("no signer for {other:?}"),
        }
    }
}

fn verify(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let signers: Vec<Signer> = [
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .map(Signer::new)
    .collect();
    let jwks = rt.block_on(JwksServer::start(
        signers.iter().map(|s| s.jwk.clone()).collect(),
    ));

    for signer in &signers {
        let verifier = |cache: usize| {
            let builder = Verifier::builder(ISSUER, AUDIENCE)
                .jwks_url(&jwks.url)
                .algorithms(&[signer.alg]);
            let builder = if cache > 0 {
                builder.token_cache(cache)
            } else {
                builder
            };
            builder.build().unwrap()
        };
        let cold = verifier(0);
        let cached = verifier(10_000);
        let token = &signer.token;
        rt.block_on(async {
            cold.verify(token).await.unwrap();
            cached.verify(token).await.unwrap();
        });
        let parsed = ParsedPublicKey::new(signer.verification, &signer.public).unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();

        let mut group = c.benchmark_group(format!("verify {}", signer.alg.name()));
        group.measurement_time(Duration::from_secs(5));
        group.bench_function("aws-lc verify (bare floor)", |b| {
            b.iter(|| parsed.verify_sig(input.as_bytes(), &sig).unwrap())
        });
        group.bench_function("Verifier::verify, cold (signature checked)", |b| {
            b.to_async(&rt)
                .iter(|| async { cold.verify(token).await.unwrap() })
        });
        group.bench_function("Verifier::verify, cached", |b| {
            b.to_async(&rt)
                .iter(|| async { cached.verify(token).await.unwrap() })
        });
        group.finish();
    }
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
