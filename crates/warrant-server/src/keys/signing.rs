use std::fmt;

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use warrant_proto::{ACCESS_TOKEN_TYP, Jwk};

use super::MasterKey;
use crate::domain::SigningAlg;

/// Where a key stands in its life: published ahead (`Next`), signing (`Current`), still
/// published for tokens it signed (`Previous`), or withdrawn (`Revoked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Next,
    Current,
    Previous,
    Revoked,
}

impl KeyStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Previous => "previous",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "next" => Self::Next,
            "current" => Self::Current,
            "previous" => Self::Previous,
            "revoked" => Self::Revoked,
            _ => return None,
        })
    }

    /// Whether keys in this state appear in the JWKS.
    pub const fn is_published(self) -> bool {
        !matches!(self, Self::Revoked)
    }
}

/// A signing key as stored: the public JWK and its self-signed X.509 certificate in the clear,
/// the private key sealed under the master key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub status: KeyStatus,
    pub public_jwk: Jwk,
    pub sealed_private_key: Vec<u8>,
    /// The key's self-signed certificate (DER), as Auth0 publishes one per key; `None` only for
    /// keys stored before certificates, until [`crate::startup::prepare_signing_keys`] adds it.
    pub certificate: Option<Vec<u8>>,
    pub created_at: u64,
    pub current_since: Option<u64>,
    pub current_until: Option<u64>,
    pub revoked_at: Option<u64>,
}

impl fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error(
        "the master key does not decrypt signing key {kid}: this data was sealed under another \
         master key. Supply the master key the deployment was created with (WARRANT_MASTER_KEY \
         or the data directory's master.key)"
    )]
    WrongMasterKey { kid: String },
    #[error("signing key {kid} is corrupt: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error("generating an RSA key failed")]
    Generation,
    #[error("creating the certificate of signing key {kid} failed: {reason}")]
    Certificate { kid: String, reason: String },
}

impl StoredSigningKey {
    /// The JWK as the JWKS publishes it: with the certificate as `x5c` (standard base64 DER)
    /// and `x5t` (base64url SHA-1 of the DER), as Auth0's. Verifiers use `n` and `e`.
    pub fn published_jwk(&self) -> Jwk {
        let mut jwk = self.public_jwk.clone();
        if let Some(der) = &self.certificate {
            jwk.x5c = Some(vec![STANDARD.encode(der)]);
            jwk.x5t = Some(URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, der)));
        }
        jwk
    }
}

/// A certificate in PEM, with CRLF line ends as Auth0 returns it.
pub fn certificate_pem(der: &[u8]) -> String {
    pem("CERTIFICATE", der)
}

/// A degenerate PKCS#7 SignedData (RFC 2315) holding only the certificate, in PEM, as Auth0's
/// `pkcs7`.
pub fn certificate_pkcs7_pem(der: &[u8]) -> String {
    // OIDs 1.2.840.113549.1.7.2 (signedData) and 1.2.840.113549.1.7.1 (data).
    const SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    const DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
    let signed_data = [
        der_tlv(0x02, &[1]),                 // version
        der_tlv(0x31, &[]),                  // digestAlgorithms
        der_tlv(0x30, &der_tlv(0x06, DATA)), // contentInfo, without content
        der_tlv(0xA0, der),                  // certificates [0] IMPLICIT
        der_tlv(0x31, &[]),                  // signerInfos
    ]
    .concat();
    let content_info = der_tlv(
        0x30,
        &[
            der_tlv(0x06, SIGNED_DATA),
            der_tlv(0xA0, &der_tlv(0x30, &signed_data)),
        ]
        .concat(),
    );
    pem("PKCS7", &content_info)
}

/// The certificate's SHA-1 as Auth0's `fingerprint`: upper-case hex pairs joined by colons.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    let sha1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, der);
    let pairs: Vec<String> = sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// The certificate's SHA-1 as Auth0's `thumbprint`: upper-case hex.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    digest(&SHA1_FOR_LEGACY_USE_ONLY, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\r\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push_str("\r\n");
    }
    out.push_str(&format!("-----END {label}-----"));
    out
}

/// One DER element: tag, definite length, content.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// How long a signing key's certificate is valid: ten years from the key's creation. Verifiers
/// take the key from `n` and `e`; the certificate is there for tools that want one.
const CERTIFICATE_VALIDITY_SECS: i64 = 10 * 365 * 86_400;

/// An RSA-2048 key that signs access tokens (RS256). `Debug` shows only its key ID.
pub struct SigningKey {
    kid: String,
    key_pair: RsaKeyPair,
    /// The JWS protected header, already base64url-encoded: it is the same for every token.
    header_b64: String,
    jwk: Jwk,
}

impl SigningKey {
    /// A new RSA-2048 key. Slow (tens to hundreds of milliseconds): not for hot paths.
    pub fn generate() -> Result<Self, SigningKeyError> {
        let key_pair =
            RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| SigningKeyError::Generation)?;
        Ok(Self::from_key_pair(key_pair))
    }

    fn from_key_pair(key_pair: RsaKeyPair) -> Self {
        let public = key_pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let kid = jwk_thumbprint(&n, &e);
        let header = format!(
            r#"{{"alg":"{}","typ":"{ACCESS_TOKEN_TYP}","kid":"{kid}"}}"#,
            SigningAlg::RS256.as_str()
        );
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: Some(kid.clone()),
            use_: Some("sig".into()),
            alg: Some(SigningAlg::RS256.as_str().into()),
            n: Some(n),
            e: Some(e),
            crv: None,
            x: None,
            y: None,
            x5c: None,
            x5t: None,
        };
        Self {
            kid,
            key_pair,
            header_b64: URL_SAFE_NO_PAD.encode(header),
            jwk,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, as published in the JWKS.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// A self-signed X.509 certificate for this key (DER), valid from `not_before` (Unix
    /// seconds) for ten years, as Auth0 gives each signing key. Signed by the key itself.
    pub fn self_signed_certificate(&self, not_before: u64) -> Result<Vec<u8>, SigningKeyError> {
        let fail = |reason: String| SigningKeyError::Certificate {
            kid: self.kid.clone(),
            reason,
        };
        let pkcs8 = self
            .key_pair
            .as_der()
            .map_err(|_| fail("cannot serialize the private key".into()))?;
        let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_ref()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(|e| fail(e.to_string()))?;
        let mut params = rcgen::CertificateParams::default();
        let mut name = rcgen::DistinguishedName::new();
        name.push(rcgen::DnType::CommonName, "Warrant token signing key");
        params.distinguished_name = name;
        let start = i64::try_from(not_before).unwrap_or(0);
        params.not_before =
            time::OffsetDateTime::from_unix_timestamp(start).map_err(|e| fail(e.to_string()))?;
        params.not_after = time::OffsetDateTime::from_unix_timestamp(
            start.saturating_add(CERTIFICATE_VALIDITY_SECS),
        )
        .map_err(|e| fail(e.to_string()))?;
        let cert = params.self_signed(&key).map_err(|e| fail(e.to_string()))?;
        Ok(cert.der().to_vec())
    }

    /// Seals the private key under `master` for storage.
    pub fn to_stored(
        &self,
        master: &MasterKey,
        status: KeyStatus,
        now: u64,
    ) -> Result<StoredSigningKey, SigningKeyError> {
        let der = self
            .key_pair
            .as_der()
            .map_err(|_| SigningKeyError::Corrupt {
                kid: self.kid.clone(),
                reason: "cannot serialize the private key".into(),
            })?;
        Ok(StoredSigningKey {
            kid: self.kid.clone(),
            alg: SigningAlg::RS256,
            status,
            public_jwk: self.jwk.clone(),
            sealed_private_key: master.seal(&self.kid, der.as_ref()),
            certificate: Some(self.self_signed_certificate(now)?),
            created_at: now,
            current_since: (status == KeyStatus::Current).then_some(now),
            current_until: None,
            revoked_at: None,
        })
    }

    /// Unseals a stored key. A wrong master key is reported as such, never as garbage tokens.
    pub fn from_stored(
        stored: &StoredSigningKey,
        master: &MasterKey,
    ) -> Result<Self, SigningKeyError> {
        let der = master
            .open(&stored.kid, &stored.sealed_private_key)
            .ok_or_else(|| SigningKeyError::WrongMasterKey {
                kid: stored.kid.clone(),
            })?;
        let key_pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| SigningKeyError::Corrupt {
            kid: stored.kid.clone(),
            reason: e.to_string(),
        })?;
        let key = Self::from_key_pair(key_pair);
        if key.kid != stored.kid {
            return Err(SigningKeyError::Corrupt {
                kid: stored.kid.clone(),
                reason: "the private key does not match the key ID".into(),
            });
        }
        Ok(key)
    }

    /// Signs `claims_json` as a compact JWS with this key's header.
    pub fn sign_jwt(&self, claims_json: &[u8]) -> String {
        let sig_len = self.key_pair.public_modulus_len();
        let claims_len = base64::encoded_len(claims_json.len(), false).unwrap_or(0);
        let sig_b64_len = base64::encoded_len(sig_len, false).unwrap_or(0);
        let mut token = String::with_capacity(self.header_b64.len() + claims_len + sig_b64_len + 2);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let mut signature = [0u8; 512];
        let signature = &mut signature[..sig_len.min(512)];
        // Signing with a valid in-memory RSA key only fails on allocation failure inside aws-lc.
        #[allow(clippy::expect_used)]
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                signature,
            )
            .expect("RSA signing with a loaded key does not fail");
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&*signature, &mut token);
        token
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 JWK thumbprint of an RSA key: a key ID that anyone can recompute from the JWK.
fn jwk_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

    #[test]
    fn signs_verifiable_jws_and_survives_sealing() {
        let key = SigningKey::generate().unwrap();
        let token = key.sign_jwt(br#"{"sub":"x"}"#);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["kid"], key.kid());

        let n = URL_SAFE_NO_PAD
            .decode(key.jwk().n.as_ref().unwrap())
            .unwrap();
        let e = URL_SAFE_NO_PAD
            .decode(key.jwk().e.as_ref().unwrap())
            .unwrap();
        let public = RsaPublicKeyComponents { n: &n, e: &e };
        let signed = format!("{}.{}", parts[0], parts[1]);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        public
            .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &sig)
            .unwrap();

        let master = MasterKey::from_bytes([1; 32]);
        let stored = key.to_stored(&master, KeyStatus::Current, 5).unwrap();
        assert_eq!(stored.current_since, Some(5));
        let again = SigningKey::from_stored(&stored, &master).unwrap();
        assert_eq!(again.kid(), key.kid());
        let wrong = SigningKey::from_stored(&stored, &MasterKey::from_bytes([2; 32]));
        assert!(matches!(wrong, Err(SigningKeyError::WrongMasterKey { .. })));
        assert!(!format!("{stored:?}").contains("sealed"));
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            jwk_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
