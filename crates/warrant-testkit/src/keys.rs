//! Client key pairs for private_key_jwt tests: the private key as `openssl genpkey` writes it
//! (PKCS#8 PEM), for the client, a CLI or an example to load.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A new private key for `alg` (RS256 or PS256: RSA 2048; ES256: P-256; EdDSA: Ed25519), as
/// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
pub fn private_key_pem(alg: &str) -> String {
    let rng = SystemRandom::new();
    let der = match alg {
        "RS256" | "PS256" => RsaKeyPair::generate(KeySize::Rsa2048)
            .unwrap()
            .as_der()
            .unwrap()
            .as_ref()
            .to_vec(),
        "ES256" => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec(),
        "EdDSA" => Ed25519KeyPair::generate_pkcs8v1(&rng)
            .unwrap()
            .as_ref()
            .to_vec(),
        other => panic!("no test key for {other}"),
    };
    pem("PRIVATE KEY", &der)
}

/// `der` in a PEM block labelled `label`, 64 characters a line.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
