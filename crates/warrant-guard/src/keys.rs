//! Keys from a JWKS: each JSON Web Key parsed once into a verifying key for every allowed
//! algorithm its type fits (RSA for RS*/PS*, the named curve for ES*, Ed25519 for EdDSA), so
//! that a token's `alg` can only pick a key of the right kind.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warrant_proto::{Jwk, Jwks};

use crate::alg::{Algorithm, KeyFamily};
use crate::error::Error;

/// One public key, parsed once for each allowed algorithm it can verify.
pub(crate) struct Key {
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

impl Key {
    pub(crate) fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Error> {
        let (_, key) = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .ok_or(Error::KeyMismatch)?;
        key.verify_sig(message, signature)
            .map_err(|_| Error::BadSignature)
    }
}

#[cfg(test)]
impl Key {
    pub(crate) fn empty_for_tests() -> Self {
        Self {
            verifiers: Vec::new(),
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algs: Vec<&str> = self.verifiers.iter().map(|(a, _)| a.name()).collect();
        f.debug_struct("Key").field("algorithms", &algs).finish()
    }
}

/// The keys of one successful fetch.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    pub(crate) keys: HashMap<String, Arc<Key>>,
}

impl KeySet {
    /// Builds the usable keys of a JWKS: signing keys with a `kid` whose type fits an allowed
    /// algorithm. Others are skipped, since a JWKS may legitimately hold keys for other uses.
    pub(crate) fn from_jwks(jwks: &Jwks, allowed: &[Algorithm]) -> Self {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            let Some(kid) = jwk.kid.as_deref().filter(|k| !k.is_empty()) else {
                continue;
            };
            if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
                continue;
            }
            if keys.contains_key(kid) {
                tracing::warn!("the JWKS lists a key ID twice; using the first");
                continue;
            }
            let verifiers: Vec<(Algorithm, ParsedPublicKey)> = allowed
                .iter()
                .filter(|alg| {
                    jwk.alg
                        .as_deref()
                        .is_none_or(|declared| declared == alg.name())
                })
                .filter_map(|alg| parse_key(jwk, *alg).map(|k| (*alg, k)))
                .collect();
            if !verifiers.is_empty() {
                keys.insert(kid.to_owned(), Arc::new(Key { verifiers }));
            }
        }
        Self { keys }
    }
}

fn b64(value: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value?).ok()
}

pub(crate) fn parse_key(jwk: &Jwk, alg: Algorithm) -> Option<ParsedPublicKey> {
    match alg.family() {
        KeyFamily::Rsa => {
            if jwk.kty != "RSA" {
                return None;
            }
            let n = b64(jwk.n.as_ref())?;
            let e = b64(jwk.e.as_ref())?;
            let components = RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            };
            components.to_parsed_public_key(alg.rsa_parameters()?).ok()
        }
        KeyFamily::P256 | KeyFamily::P384 => {
            let (crv, len) = if alg.family() == KeyFamily::P256 {
                ("P-256", 32)
            } else {
                ("P-384", 48)
            };
            if jwk.kty != "EC" || jwk.crv.as_deref() != Some(crv) {
                return None;
            }
            let x = b64(jwk.x.as_ref())?;
            let y = b64(jwk.y.as_ref())?;
            if x.len() != len || y.len() != len {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ParsedPublicKey::new(alg.verification(), point).ok()
        }
        KeyFamily::Ed25519 => {
            if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
                return None;
            }
            let x = b64(jwk.x.as_ref())?;
            ParsedPublicKey::new(alg.verification(), x).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_set_keeps_only_usable_signing_keys() {
        let jwks: Jwks = serde_json::from_value(serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"}
        ]}))
        .unwrap();
        let set = KeySet::from_jwks(&jwks, &[Algorithm::RS256, Algorithm::ES256]);
        assert!(set.keys.is_empty());
    }
}
