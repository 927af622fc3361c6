//! Signed JWTs from keys registered in advance: a client's `private_key_jwt` assertions
//! (RFC 7523 §2.2). The same JWS parsing, algorithm allowlist and key binding as access tokens
//! ([`Verifier`](crate::Verifier)); what differs is data: the key comes from a
//! SubjectPublicKeyInfo an administrator uploaded, bound to one algorithm, the `typ` is a
//! client assertion's, and `kid` may be absent (the caller then tries each of a handful of keys).

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::ParsedPublicKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::Error;
use crate::alg::{Algorithm, KeyFamily};
use crate::issuer_keys::IssuerKeys;
use crate::jws::{self, HeaderPolicy, Jws, JwsKind};

/// Why a public key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a SubjectPublicKeyInfo (or, for RSA, a PKCS#1 RSAPublicKey) of the
    /// algorithm's key type; EC points must be uncompressed.
    #[error("the key is not a valid {0} public key")]
    Malformed(&'static str),
    /// An RSA modulus shorter than 2048 bits.
    #[error("the RSA key has {0} bits; at least 2048 are required")]
    RsaTooShort(usize),
    /// An RSA modulus longer than 8192 bits.
    #[error("the RSA key has {0} bits; at most 8192 are accepted")]
    RsaTooLong(usize),
}

/// A public key for one algorithm, parsed once, with its RFC 7638 JWK thumbprint.
pub struct PublicKey {
    alg: Algorithm,
    key: ParsedPublicKey,
    thumbprint: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

/// DER prefixes of SubjectPublicKeyInfo with an uncompressed point (P-256, P-384) or an
/// Ed25519 key: the key bytes follow.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const P384_SPKI: &[u8] = &[
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];
const ED25519_SPKI: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl PublicKey {
    /// Parses `der`, a SubjectPublicKeyInfo (for RSA also a PKCS#1 RSAPublicKey), as a key for
    /// `alg`: the key type must fit the algorithm, RSA keys have 2048 to 8192 bits.
    pub fn from_der(alg: Algorithm, der: &[u8]) -> Result<Self, KeyError> {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        // The JWK's required members in lexicographic order (RFC 7638 §3.2).
        let members = match alg.family() {
            KeyFamily::Rsa => {
                let rsa = aws_lc_rs::rsa::PublicKey::from_der(der)
                    .map_err(|_| KeyError::Malformed("RSA"))?;
                let n = rsa.modulus();
                let n = n.big_endian_without_leading_zero();
                let bits = n
                    .first()
                    .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
                if bits < 2048 {
                    return Err(KeyError::RsaTooShort(bits));
                }
                if bits > 8192 {
                    return Err(KeyError::RsaTooLong(bits));
                }
                let e = rsa.exponent();
                format!(
                    r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                    b64(e.big_endian_without_leading_zero()),
                    b64(n)
                )
            }
            KeyFamily::P256 | KeyFamily::P384 => {
                let (prefix, len, crv) = if alg.family() == KeyFamily::P256 {
                    (P256_SPKI, 32, "P-256")
                } else {
                    (P384_SPKI, 48, "P-384")
                };
                let point = spki_body(der, prefix, 1 + 2 * len)
                    .filter(|point| point[0] == 0x04)
                    .ok_or(KeyError::Malformed(crv))?;
                format!(
                    r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                    b64(&point[1..=len]),
                    b64(&point[1 + len..])
                )
            }
            KeyFamily::Ed25519 => {
                let x = spki_body(der, ED25519_SPKI, 32).ok_or(KeyError::Malformed("Ed25519"))?;
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(x))
            }
        };
        let key = ParsedPublicKey::new(alg.verification(), der)
            .map_err(|_| KeyError::Malformed(family_name(alg)))?;
        let thumbprint = b64(digest(&SHA256, members.as_bytes()).as_ref());
        Ok(Self {
            alg,
            key,
            thumbprint,
        })
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key's RFC 7638 JWK thumbprint (SHA-256, base64url): a key ID anyone can recompute.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

fn family_name(alg: Algorithm) -> &'static str {
    match alg.family() {
        KeyFamily::Rsa => "RSA",
        KeyFamily::P256 => "P-256",
        KeyFamily::P384 => "P-384",
        KeyFamily::Ed25519 => "Ed25519",
    }
}

/// The `len` key bytes of `der` after the SubjectPublicKeyInfo `prefix`, when `der` is exactly
/// that.
fn spki_body<'a>(der: &'a [u8], prefix: &[u8], len: usize) -> Option<&'a [u8]> {
    der.strip_prefix(prefix).filter(|body| body.len() == len)
}

/// A client assertion, parsed and its header checked, not yet verified.
#[derive(Debug)]
pub struct Assertion<'a> {
    jws: Jws<'a>,
}

impl<'a> Assertion<'a> {
    /// The longest assertion parsed; longer ones are refused unparsed.
    pub const MAX_LEN: usize = 8 * 1024;

    /// Parses `token` as a compact JWS whose `alg` is one of `algorithms`, whose `typ`, if any,
    /// is `JWT` or `client-authentication+jwt`, and that carries no key (`jwk`, `jku`, `x5u`,
    /// `x5c`) nor `crit`. `kid` may be absent.
    pub fn parse(token: &'a str, algorithms: &[Algorithm]) -> Result<Self, Error> {
        if token.len() > Self::MAX_LEN {
            return Err(Error::TooLong);
        }
        let policy = HeaderPolicy {
            algorithms: algorithms.to_vec(),
            accept_jwt_typ: false,
            kind: JwsKind::ClientAssertion,
        };
        Ok(Self {
            jws: jws::parse(token, &policy)?,
        })
    }

    pub fn alg(&self) -> Algorithm {
        self.jws.alg
    }

    /// Checks the signature with the key its `kid` names among `keys`, an external issuer's
    /// (workload identity federation), and returns the claims. An assertion without `kid`
    /// is refused ([`Error::UnknownKey`]); [`Error::KeysUnavailable`] when the issuer's keys
    /// cannot be fetched and none are cached.
    pub async fn verify_with(&self, keys: &IssuerKeys) -> Result<Map<String, Value>, Error> {
        let kid = self.kid().ok_or(Error::UnknownKey)?;
        let key = keys.key(kid).await?;
        key.verify(
            self.jws.alg,
            self.jws.signing_input.as_bytes(),
            &self.jws.signature,
        )?;
        jws::decode_object(self.jws.payload_b64, "payload")
    }

    /// The `iss` claim of an assertion not verified yet: whose assertion it claims to be (the
    /// client itself for private_key_jwt, a trusted issuer for a federated one). Trust nothing
    /// else of it.
    pub fn unverified_issuer(token: &str) -> Option<String> {
        Self::unverified_claim(token, "iss")
    }

    fn unverified_claim(token: &str, name: &str) -> Option<String> {
        if token.len() > Self::MAX_LEN {
            return None;
        }
        let payload = token.split('.').nth(1)?;
        match jws::decode_object(payload, "payload").ok()?.remove(name)? {
            Value::String(value) => Some(value),
            _ => None,
        }
    }

    /// The `sub` claim of an assertion not verified yet: which client it claims to be, to look
    /// that client's keys up when the request names no `client_id`. Trust nothing else of it.
    pub fn unverified_subject(token: &str) -> Option<String> {
        Self::unverified_claim(token, "sub")
    }

    /// The header's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        Some(self.jws.kid.as_str()).filter(|kid| !kid.is_empty())
    }

    /// Checks the signature with `key`, whose algorithm must be the assertion's, and returns the
    /// claims (strict JSON: a member given twice is refused). The claims' meaning is the
    /// caller's to check.
    pub fn verify(&self, key: &PublicKey) -> Result<Map<String, Value>, Error> {
        if key.alg != self.jws.alg {
            return Err(Error::KeyMismatch);
        }
        key.key
            .verify_sig(self.jws.signing_input.as_bytes(), &self.jws.signature)
            .map_err(|_| Error::BadSignature)?;
        jws::decode_object(self.jws.payload_b64, "payload")
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
    };

    use super::*;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ec_key() -> (EcdsaKeyPair, Vec<u8>) {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let mut spki = P256_SPKI.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        (pair, spki)
    }

    fn signed(pair: &EcdsaKeyPair, header: &str, claims: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }

    #[test]
    fn an_es256_assertion_verifies_with_its_key_only() {
        let (pair, spki) = ec_key();
        let key = PublicKey::from_der(Algorithm::ES256, &spki).unwrap();
        assert_eq!(key.thumbprint().len(), 43);
        let token = signed(&pair, r#"{"alg":"ES256","typ":"JWT"}"#, r#"{"iss":"c"}"#);
        let parsed = Assertion::parse(&token, &[Algorithm::ES256]).unwrap();
        assert_eq!(parsed.kid(), None);
        assert_eq!(parsed.verify(&key).unwrap()["iss"], "c");

        let (_, other) = ec_key();
        let other = PublicKey::from_der(Algorithm::ES256, &other).unwrap();
        assert_eq!(parsed.verify(&other).unwrap_err(), Error::BadSignature);
        // A key registered for another algorithm never verifies it.
        assert!(PublicKey::from_der(Algorithm::EdDSA, &spki).is_err());
    }

    #[test]
    fn assertion_headers() {
        let (pair, _) = ec_key();
        for (header, expected) in [
            (r#"{"alg":"ES256","typ":"at+jwt"}"#, Error::WrongType),
            (r#"{"alg":"RS256"}"#, Error::AlgorithmNotAllowed),
            (r#"{"alg":"none"}"#, Error::AlgorithmNotAllowed),
            (r#"{"alg":"ES256","jwk":{}}"#, Error::EmbeddedKey),
        ] {
            let token = signed(&pair, header, "{}");
            assert_eq!(
                Assertion::parse(&token, &[Algorithm::ES256]).unwrap_err(),
                expected,
                "{header}"
            );
        }
        for header in [
            r#"{"alg":"ES256"}"#,
            r#"{"alg":"ES256","typ":"client-authentication+jwt","kid":"k"}"#,
        ] {
            assert!(Assertion::parse(&signed(&pair, header, "{}"), &[Algorithm::ES256]).is_ok());
        }
    }

    #[test]
    fn rsa_keys_need_2048_bits_and_thumbprints_follow_rfc_7638() {
        // RFC 7638 §3.1's example key: n is 2048 bits, and its thumbprint is given.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let e = "AQAB";
        let components = aws_lc_rs::rsa::PublicKeyComponents {
            n: URL_SAFE_NO_PAD.decode(n).unwrap(),
            e: URL_SAFE_NO_PAD.decode(e).unwrap(),
        };
        use aws_lc_rs::encoding::AsDer;
        let der = components.as_der().unwrap();
        let key = PublicKey::from_der(Algorithm::RS256, der.as_ref()).unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );

        let small = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let mut n = small
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec();
        n.truncate(128);
        n[0] |= 0x80;
        n[127] |= 1;
        let short = aws_lc_rs::rsa::PublicKeyComponents {
            n,
            e: vec![1, 0, 1],
        };
        let der = short.as_der().unwrap();
        assert_eq!(
            PublicKey::from_der(Algorithm::RS256, der.as_ref()).unwrap_err(),
            KeyError::RsaTooShort(1024)
        );
    }

    #[test]
    fn ed25519_keys() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let mut spki = ED25519_SPKI.to_vec();
        spki.extend_from_slice(pair.public_key().as_ref());
        let key = PublicKey::from_der(Algorithm::EdDSA, &spki).unwrap();
        let input = format!("{}.{}", b64(br#"{"alg":"EdDSA"}"#), b64(b"{}"));
        let token = format!("{input}.{}", b64(pair.sign(input.as_bytes()).as_ref()));
        let parsed = Assertion::parse(&token, &[Algorithm::EdDSA]).unwrap();
        assert!(parsed.verify(&key).is_ok());
        assert_eq!(
            PublicKey::from_der(Algorithm::EdDSA, &spki[1..]).unwrap_err(),
            KeyError::Malformed("Ed25519")
        );
    }
}
