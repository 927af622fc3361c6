use std::fmt;

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaEncoding, RsaKeyPair,
};
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
    #[error("generating a signing key failed")]
    Generation,
    #[error("creating the certificate of signing key {kid} failed: {reason}")]
    Certificate { kid: String, reason: String },
}

impl StoredSigningKey {
    /// The JWK as the JWKS publishes it: with the certificate as `x5c` (standard base64 DER)
    /// and `x5t` (base64url SHA-1 of the DER), as Auth0's. Verifiers use `n` and `e` (RSA) or
    /// `crv`, `x` and `y` (EC, OKP).
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
/// take the key from the JWK's members; the certificate is there for tools that want one.
const CERTIFICATE_VALIDITY_SECS: i64 = 10 * 365 * 86_400;

/// The sizes an RSA signing key may have. Applies to RSA keys created from now on (RS256 and
/// PS256); stored keys keep theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaKeySize {
    #[default]
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl RsaKeySize {
    /// The allowed values, as error messages name them.
    pub const ALLOWED: &'static str = "2048, 3072 or 4096";

    pub fn from_bits(bits: u32) -> Result<Self, String> {
        match bits {
            2048 => Ok(Self::Rsa2048),
            3072 => Ok(Self::Rsa3072),
            4096 => Ok(Self::Rsa4096),
            other => Err(format!(
                "RSA key size {other} is not supported; use {}",
                Self::ALLOWED
            )),
        }
    }

    pub const fn bits(self) -> u32 {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }

    const fn aws_lc(self) -> KeySize {
        match self {
            Self::Rsa2048 => KeySize::Rsa2048,
            Self::Rsa3072 => KeySize::Rsa3072,
            Self::Rsa4096 => KeySize::Rsa4096,
        }
    }
}

/// The private key of one key type. An RSA key signs one algorithm only (RS256 or PS256): each
/// algorithm has a key set of its own, so that every published JWK names the one `alg` it
/// verifies, as strict verifiers (jose, PyJWT) require.
enum KeyPairKind {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A key that signs access tokens with one algorithm. `Debug` shows only its key ID.
pub struct SigningKey {
    kid: String,
    alg: SigningAlg,
    key_pair: KeyPairKind,
    /// The JWS protected header, already base64url-encoded: it is the same for every token.
    header_b64: String,
    jwk: Jwk,
}

impl SigningKey {
    /// A new RSA-2048 key for RS256, the default. Slow (tens to hundreds of milliseconds).
    pub fn generate() -> Result<Self, SigningKeyError> {
        Self::generate_for(SigningAlg::RS256, RsaKeySize::default())
    }

    /// A new key for `alg`; `rsa_size` applies to RS256 and PS256. RSA generation is slow
    /// (up to seconds for 4096 bits): not for hot paths.
    pub fn generate_for(alg: SigningAlg, rsa_size: RsaKeySize) -> Result<Self, SigningKeyError> {
        let key_pair = match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => KeyPairKind::Rsa(
                RsaKeyPair::generate(rsa_size.aws_lc()).map_err(|_| SigningKeyError::Generation)?,
            ),
            SigningAlg::ES256 => KeyPairKind::P256(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| SigningKeyError::Generation)?,
            ),
            SigningAlg::EdDSA => KeyPairKind::Ed25519(
                Ed25519KeyPair::generate().map_err(|_| SigningKeyError::Generation)?,
            ),
        };
        Ok(Self::from_key_pair(alg, key_pair))
    }

    fn from_key_pair(alg: SigningAlg, key_pair: KeyPairKind) -> Self {
        let mut jwk = Jwk {
            kty: String::new(),
            kid: None,
            use_: Some("sig".into()),
            alg: Some(alg.as_str().into()),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
            x5c: None,
            x5t: None,
        };
        // RFC 7638 §3.2: the required members, in lexicographic order, without white space.
        let canonical = match &key_pair {
            KeyPairKind::Rsa(pair) => {
                let public = pair.public_key();
                let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
                let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
                let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                jwk.kty = "RSA".into();
                jwk.n = Some(n);
                jwk.e = Some(e);
                canonical
            }
            KeyPairKind::P256(pair) => {
                // The uncompressed point: 0x04, then x and y, 32 bytes each.
                let coordinates = pair.public_key().as_ref().get(1..).unwrap_or_default();
                let (x, y) = coordinates.split_at(coordinates.len() / 2);
                let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
                let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                jwk.kty = "EC".into();
                jwk.crv = Some("P-256".into());
                jwk.x = Some(x);
                jwk.y = Some(y);
                canonical
            }
            KeyPairKind::Ed25519(pair) => {
                let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
                let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(x);
                canonical
            }
        };
        let kid = jwk_thumbprint(&canonical);
        jwk.kid = Some(kid.clone());
        let header = format!(
            r#"{{"alg":"{}","typ":"{ACCESS_TOKEN_TYP}","kid":"{kid}"}}"#,
            alg.as_str()
        );
        Self {
            kid,
            alg,
            key_pair,
            header_b64: URL_SAFE_NO_PAD.encode(header),
            jwk,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// The public half, as published in the JWKS.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// The private key as PKCS#8 DER (sealed before it is stored).
    fn pkcs8(&self) -> Option<Vec<u8>> {
        match &self.key_pair {
            KeyPairKind::Rsa(pair) => pair.as_der().ok().map(|d| d.as_ref().to_vec()),
            KeyPairKind::P256(pair) => pair.to_pkcs8v1().ok().map(|d| d.as_ref().to_vec()),
            KeyPairKind::Ed25519(pair) => pair.to_pkcs8().ok().map(|d| d.as_ref().to_vec()),
        }
    }

    /// A self-signed X.509 certificate for this key (DER), valid from `not_before` (Unix
    /// seconds) for ten years, as Auth0 gives each signing key. Signed by the key itself: ECDSA
    /// P-256 with SHA-256, Ed25519, or for RSA keys PKCS#1 v1.5 with SHA-256, also for a PS256
    /// key (rcgen cannot sign certificates with PSS; the certificate only carries the public
    /// key, and the JWK's `alg` says what the key signs tokens with).
    pub fn self_signed_certificate(&self, not_before: u64) -> Result<Vec<u8>, SigningKeyError> {
        let fail = |reason: String| SigningKeyError::Certificate {
            kid: self.kid.clone(),
            reason,
        };
        let pkcs8 = self
            .pkcs8()
            .ok_or_else(|| fail("cannot serialize the private key".into()))?;
        let algorithm = match self.key_pair {
            KeyPairKind::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
            KeyPairKind::P256(_) => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyPairKind::Ed25519(_) => &rcgen::PKCS_ED25519,
        };
        let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            algorithm,
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
        let der = self.pkcs8().ok_or_else(|| SigningKeyError::Corrupt {
            kid: self.kid.clone(),
            reason: "cannot serialize the private key".into(),
        })?;
        Ok(StoredSigningKey {
            kid: self.kid.clone(),
            alg: self.alg,
            status,
            public_jwk: self.jwk.clone(),
            sealed_private_key: master.seal(&self.kid, &der),
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
        let corrupt = |reason: String| SigningKeyError::Corrupt {
            kid: stored.kid.clone(),
            reason,
        };
        let key_pair = match stored.alg {
            SigningAlg::RS256 | SigningAlg::PS256 => {
                KeyPairKind::Rsa(RsaKeyPair::from_pkcs8(&der).map_err(|e| corrupt(e.to_string()))?)
            }
            SigningAlg::ES256 => KeyPairKind::P256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(|e| corrupt(e.to_string()))?,
            ),
            SigningAlg::EdDSA => KeyPairKind::Ed25519(
                Ed25519KeyPair::from_pkcs8(&der).map_err(|e| corrupt(e.to_string()))?,
            ),
        };
        let key = Self::from_key_pair(stored.alg, key_pair);
        if key.kid != stored.kid {
            return Err(corrupt("the private key does not match the key ID".into()));
        }
        Ok(key)
    }

    /// Signs `claims_json` as a compact JWS with this key's header.
    pub fn sign_jwt(&self, claims_json: &[u8]) -> String {
        let sig_len = match &self.key_pair {
            KeyPairKind::Rsa(pair) => pair.public_modulus_len(),
            KeyPairKind::P256(_) | KeyPairKind::Ed25519(_) => 64,
        };
        let claims_len = base64::encoded_len(claims_json.len(), false).unwrap_or(0);
        let sig_b64_len = base64::encoded_len(sig_len, false).unwrap_or(0);
        let mut token = String::with_capacity(self.header_b64.len() + claims_len + sig_b64_len + 2);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        // Signing with a valid in-memory key only fails on allocation failure inside aws-lc.
        #[allow(clippy::expect_used)]
        match &self.key_pair {
            KeyPairKind::Rsa(pair) => {
                let padding: &'static dyn RsaEncoding = match self.alg {
                    SigningAlg::PS256 => &RSA_PSS_SHA256,
                    _ => &RSA_PKCS1_SHA256,
                };
                let mut signature = [0u8; 512];
                let signature = &mut signature[..sig_len.min(512)];
                pair.sign(padding, &SystemRandom::new(), token.as_bytes(), signature)
                    .expect("RSA signing with a loaded key does not fail");
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(&*signature, &mut token);
            }
            KeyPairKind::P256(pair) => {
                let signature = pair
                    .sign(&SystemRandom::new(), token.as_bytes())
                    .expect("ECDSA signing with a loaded key does not fail");
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
            }
            KeyPairKind::Ed25519(pair) => {
                let signature = pair.sign(token.as_bytes());
                token.push('.');
                URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
            }
        }
        token
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// RFC 7638 JWK thumbprint from the canonical JSON of the key's required members: a key ID that
/// anyone can recompute from the JWK.
fn jwk_thumbprint(canonical: &str) -> String {
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

    /// The public key of a JWK, as aws-lc verifies it: the JWK's members only.
    fn verify_with_jwk(jwk: &Jwk, alg: SigningAlg, message: &[u8], signature: &[u8]) -> bool {
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED, ED25519, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey,
        };
        let b64 = |v: &Option<String>| URL_SAFE_NO_PAD.decode(v.as_ref().unwrap()).unwrap();
        match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => {
                let (n, e) = (b64(&jwk.n), b64(&jwk.e));
                let padding = if alg == SigningAlg::PS256 {
                    &RSA_PSS_2048_8192_SHA256
                } else {
                    &RSA_PKCS1_2048_8192_SHA256
                };
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(padding, message, signature)
                    .is_ok()
            }
            SigningAlg::ES256 => {
                let point = [vec![4], b64(&jwk.x), b64(&jwk.y)].concat();
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            SigningAlg::EdDSA => UnparsedPublicKey::new(&ED25519, b64(&jwk.x))
                .verify(message, signature)
                .is_ok(),
        }
    }

    #[test]
    fn every_algorithm_signs_what_its_jwk_verifies_and_survives_sealing() {
        let master = MasterKey::from_bytes([3; 32]);
        for alg in SigningAlg::ALL {
            let key = SigningKey::generate_for(alg, RsaKeySize::Rsa2048).unwrap();
            let token = key.sign_jwt(br#"{"sub":"x"}"#);
            let (signed, sig) = token.rsplit_once('.').unwrap();
            let header: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(signed.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(header["alg"], alg.as_str());
            assert_eq!(header["kid"], key.kid());
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            assert!(
                verify_with_jwk(key.jwk(), alg, signed.as_bytes(), &sig),
                "{alg:?}"
            );
            assert!(
                !verify_with_jwk(key.jwk(), alg, b"tampered", &sig),
                "{alg:?}"
            );
            assert_eq!(key.jwk().alg.as_deref(), Some(alg.as_str()));
            assert_eq!(key.jwk().use_.as_deref(), Some("sig"));
            let (kty, crv) = match alg {
                SigningAlg::ES256 => ("EC", Some("P-256")),
                SigningAlg::EdDSA => ("OKP", Some("Ed25519")),
                _ => ("RSA", None),
            };
            assert_eq!(key.jwk().kty, kty);
            assert_eq!(key.jwk().crv.as_deref(), crv);

            let stored = key.to_stored(&master, KeyStatus::Next, 7).unwrap();
            assert_eq!(stored.alg, alg);
            assert!(stored.certificate.as_ref().is_some_and(|c| !c.is_empty()));
            let again = SigningKey::from_stored(&stored, &master).unwrap();
            assert_eq!(again.kid(), key.kid());
            assert_eq!(again.alg(), alg);
            // A key read back under another algorithm's name is refused, not misused.
            let other = if alg == SigningAlg::ES256 {
                SigningAlg::EdDSA
            } else {
                SigningAlg::ES256
            };
            let mut wrong = stored.clone();
            wrong.alg = other;
            assert!(SigningKey::from_stored(&wrong, &master).is_err(), "{alg:?}");
        }
        // PS256 is randomized: two signatures of one message differ; RS256 and EdDSA are not.
        let ps = SigningKey::generate_for(SigningAlg::PS256, RsaKeySize::Rsa2048).unwrap();
        assert_ne!(ps.sign_jwt(b"{}"), ps.sign_jwt(b"{}"));
    }

    #[test]
    fn rsa_sizes_are_the_three_allowed() {
        assert_eq!(RsaKeySize::from_bits(3072).unwrap().bits(), 3072);
        let err = RsaKeySize::from_bits(1024).unwrap_err();
        assert!(err.contains(RsaKeySize::ALLOWED), "{err}");
        let key = SigningKey::generate_for(SigningAlg::RS256, RsaKeySize::Rsa3072).unwrap();
        let n = URL_SAFE_NO_PAD
            .decode(key.jwk().n.as_ref().unwrap())
            .unwrap();
        assert_eq!(n.len() * 8, 3072);
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            jwk_thumbprint(&format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#)),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
