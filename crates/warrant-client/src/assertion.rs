//! Client authentication without a shared secret: a private key that signs a fresh RFC 7523
//! client assertion for each token request (`private_key_jwt`), or an assertion another
//! platform issued and keeps fresh in a file (a Kubernetes projected service-account token, a
//! SPIFFE JWT-SVID), read again for each token request so that a rotated file is picked up.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use warrant_proto::{CLIENT_ASSERTION_TYPE_JWT_BEARER, CLIENT_ASSERTION_TYPE_JWT_SPIFFE};

use crate::Error;

/// How long an assertion signed here is valid: long enough for a slow network, short enough
/// that one copied from a log is stale (the server accepts at most 5 minutes by default).
const ASSERTION_LIFETIME: u64 = 60;

/// The largest private key file or assertion file read.
const MAX_FILE_LEN: u64 = 64 * 1024;

/// A client's private key for `private_key_jwt` (RFC 7523 §2.2): RSA (RS256 by default, or
/// PS256), P-256 (ES256) or Ed25519 (EdDSA), from PKCS#8 (`-----BEGIN PRIVATE KEY-----`, what
/// `openssl genpkey` writes), or PKCS#1 / SEC1 PEM. Its `kid` is the public key's RFC 7638
/// thumbprint unless set: the `kid` Warrant answers when the public key is registered. Cheap to
/// clone. `Debug` shows the algorithm and `kid`, never the key.
#[derive(Clone)]
pub struct ClientKey {
    pair: Arc<Pair>,
    alg: &'static str,
    kid: Option<String>,
    thumbprint: Arc<str>,
}

enum Pair {
    Rsa(RsaKeyPair),
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl ClientKey {
    /// A key from PEM text: one `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or
    /// `EC PRIVATE KEY` (SEC1, P-256) block.
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let text = std::str::from_utf8(pem)
            .map_err(|_| Error::Config("the private key is not PEM text".into()))?;
        let (label, der) = decode_pem(text)?;
        match label {
            "PRIVATE KEY" => Self::from_pkcs8_der(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map_err(|_| Error::Config("the RSA PRIVATE KEY block is not a valid RSA key".into()))
                .and_then(|pair| Self::new(Pair::Rsa(pair))),
            "EC PRIVATE KEY" => {
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map_err(|_| {
                        Error::Config(
                            "the EC PRIVATE KEY block is not a P-256 key (ES256 needs P-256)"
                                .into(),
                        )
                    })
                    .and_then(|pair| Self::new(Pair::Es256(pair)))
            }
            "ENCRYPTED PRIVATE KEY" => Err(Error::Config(
                "the private key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem)"
                    .into(),
            )),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(Error::Config(
                "the PEM holds a public key: private_key_jwt needs the private key (register the public one with Warrant)"
                    .into(),
            )),
            other => Err(Error::Config(format!(
                "a PEM block {other:?} is not a private key: expected -----BEGIN PRIVATE KEY-----"
            ))),
        }
    }

    /// A key from a PEM file (see [`from_pem`](Self::from_pem)).
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = read_capped(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the private key {}: {e}",
                path.display()
            ))
        })?;
        Self::from_pem(&bytes)
    }

    /// A key from its PKCS#8 DER: RSA, P-256 or Ed25519 (PKCS#8 v1 or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        if let Ok(pair) = RsaKeyPair::from_pkcs8(der) {
            return Self::new(Pair::Rsa(pair));
        }
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            return Self::new(Pair::Es256(pair));
        }
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der) {
            return Self::new(Pair::Ed25519(pair));
        }
        Err(Error::Config(
            "the private key is not a PKCS#8 RSA (2048 bits or more), P-256 or Ed25519 key".into(),
        ))
    }

    fn new(pair: Pair) -> Result<Self, Error> {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let (alg, members) = match &pair {
            Pair::Rsa(pair) => {
                if pair.public_modulus_len() * 8 < 2048 {
                    return Err(Error::Config(format!(
                        "the RSA key has {} bits; at least 2048 are required",
                        pair.public_modulus_len() * 8
                    )));
                }
                let public = pair.public_key();
                (
                    "RS256",
                    format!(
                        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                        b64(public.exponent().big_endian_without_leading_zero()),
                        b64(public.modulus().big_endian_without_leading_zero())
                    ),
                )
            }
            Pair::Es256(pair) => {
                let point = pair.public_key().as_ref();
                (
                    "ES256",
                    format!(
                        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                        b64(&point[1..33]),
                        b64(&point[33..65])
                    ),
                )
            }
            Pair::Ed25519(pair) => (
                "EdDSA",
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    b64(pair.public_key().as_ref())
                ),
            ),
        };
        Ok(Self {
            pair: Arc::new(pair),
            alg,
            kid: None,
            thumbprint: b64(digest(&SHA256, members.as_bytes()).as_ref()).into(),
        })
    }

    /// A new RSA key of 2048 bits (RS256).
    pub fn generate_rsa() -> Result<Self, Error> {
        RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| Error::Config("cannot generate an RSA key".into()))
            .and_then(|pair| Self::new(Pair::Rsa(pair)))
    }

    /// A new P-256 key (ES256).
    pub fn generate_es256() -> Result<Self, Error> {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| Error::Config("cannot generate a P-256 key".into()))
            .and_then(|pair| Self::new(Pair::Es256(pair)))
    }

    /// A new Ed25519 key (EdDSA).
    pub fn generate_ed25519() -> Result<Self, Error> {
        Ed25519KeyPair::generate()
            .map_err(|_| Error::Config("cannot generate an Ed25519 key".into()))
            .and_then(|pair| Self::new(Pair::Ed25519(pair)))
    }

    /// The signing algorithm: `RS256` (the default for RSA keys) or `PS256` for an RSA key;
    /// P-256 keys sign `ES256` and Ed25519 keys `EdDSA` only. It must be the algorithm the
    /// public key was registered with.
    pub fn with_alg(mut self, alg: &str) -> Result<Self, Error> {
        self.alg = match (&*self.pair, alg) {
            (Pair::Rsa(_), "RS256") => "RS256",
            (Pair::Rsa(_), "PS256") => "PS256",
            (Pair::Es256(_), "ES256") => "ES256",
            (Pair::Ed25519(_), "EdDSA") => "EdDSA",
            (pair, other) => {
                let (kind, algs) = match pair {
                    Pair::Rsa(_) => ("an RSA key", "RS256 or PS256"),
                    Pair::Es256(_) => ("a P-256 key", "ES256"),
                    Pair::Ed25519(_) => ("an Ed25519 key", "EdDSA"),
                };
                return Err(Error::Config(format!(
                    "alg {other:?} does not fit {kind}: use {algs}"
                )));
            }
        };
        Ok(self)
    }

    /// The `kid` the assertions name (default: the RFC 7638 thumbprint, which is the `kid`
    /// Warrant gives the registered public key).
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    pub fn alg(&self) -> &'static str {
        self.alg
    }

    /// The `kid` the assertions carry.
    pub fn kid(&self) -> &str {
        self.kid.as_deref().unwrap_or(&self.thumbprint)
    }

    /// The public key's RFC 7638 thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo): what to
    /// register with Warrant (`warrant app credentials add --pem`).
    pub fn public_key_pem(&self) -> Result<String, Error> {
        let der = match &*self.pair {
            Pair::Rsa(pair) => pair.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Pair::Es256(pair) => pair.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Pair::Ed25519(pair) => pair.public_key().as_der().map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| Error::Config("cannot encode the public key".into()))?;
        let body = STANDARD.encode(der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        Ok(pem)
    }

    /// A fresh client assertion for `client_id` (`iss` = `sub`) to `audience`: a unique
    /// `jti`, `iat` now and `exp` 60 seconds later.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.assertion_at(client_id, audience, now, ASSERTION_LIFETIME)
    }

    /// An assertion issued at `iat` (Unix seconds) and valid for `lifetime` seconds: for tools
    /// that prepare assertions ahead (a load test); a token client uses
    /// [`assertion`](Self::assertion).
    pub fn assertion_at(
        &self,
        client_id: &str,
        audience: &str,
        iat: u64,
        lifetime: u64,
    ) -> Result<String, Error> {
        let mut jti = [0u8; 16];
        SystemRandom::new()
            .fill(&mut jti)
            .map_err(|_| Error::Config("no randomness for a client assertion".into()))?;
        let header = serde_json::json!({"alg": self.alg, "typ": "JWT", "kid": self.kid()});
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "iat": iat,
            "exp": iat + lifetime,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let failed = || Error::Config("cannot sign the client assertion".into());
        let rng = SystemRandom::new();
        let signature = match &*self.pair {
            Pair::Rsa(pair) => {
                let padding = if self.alg == "PS256" {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, input.as_bytes(), &mut signature)
                    .map_err(|_| failed())?;
                signature
            }
            Pair::Es256(pair) => pair
                .sign(&rng, input.as_bytes())
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
            Pair::Ed25519(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The type of an assertion read from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionType {
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523), the default: a
    /// Kubernetes service-account token, a GitHub Actions OIDC token.
    #[default]
    JwtBearer,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-spiffe`
    /// (draft-ietf-oauth-spiffe-client-auth): a SPIFFE JWT-SVID.
    JwtSpiffe,
}

impl AssertionType {
    /// The `client_assertion_type` value.
    pub fn urn(self) -> &'static str {
        match self {
            Self::JwtBearer => CLIENT_ASSERTION_TYPE_JWT_BEARER,
            Self::JwtSpiffe => CLIENT_ASSERTION_TYPE_JWT_SPIFFE,
        }
    }
}

/// Reads the assertion in `path`, trimmed: read for each token request, so that a file the
/// platform rotates (a projected token is replaced before it expires) is used as it is now.
pub(crate) fn read_assertion(path: &Path) -> Result<String, Error> {
    let bytes = read_capped(path).map_err(|e| {
        Error::Config(format!(
            "cannot read the client assertion file {}: {e}",
            path.display()
        ))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::Config(format!(
            "the client assertion file {} is not text",
            path.display()
        ))
    })?;
    let assertion = text.trim();
    if assertion.is_empty() {
        return Err(Error::Config(format!(
            "the client assertion file {} is empty",
            path.display()
        )));
    }
    if assertion.split('.').count() != 3 || assertion.contains(char::is_whitespace) {
        return Err(Error::Config(format!(
            "the client assertion file {} does not hold one compact JWT",
            path.display()
        )));
    }
    Ok(assertion.to_owned())
}

/// What a provider authenticates with.
#[derive(Debug, Clone)]
pub(crate) enum Authentication {
    Secret(crate::ClientSecret),
    /// A key signing an assertion to `audience` per request.
    Key {
        key: ClientKey,
        audience: String,
    },
    File {
        path: PathBuf,
        kind: AssertionType,
    },
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_FILE_LEN} bytes"
        )));
    }
    Ok(bytes)
}

/// The DER in the one PEM block of `text`, and its label.
fn decode_pem(text: &str) -> Result<(&str, Vec<u8>), Error> {
    let not_pem = || {
        Error::Config(
            "the private key is not PEM: expected -----BEGIN PRIVATE KEY----- ... -----END PRIVATE KEY-----"
                .into(),
        )
    };
    let start = text.find("-----BEGIN ").ok_or_else(not_pem)?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----").ok_or_else(not_pem)?;
    let label = &rest[..label_end];
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body.find(&end_marker).ok_or_else(not_pem)?;
    let encoded: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if encoded.contains(':') {
        // Proc-Type / DEK-Info headers: an OpenSSL-encrypted traditional key.
        return Err(Error::Config(
            "the private key is encrypted: decrypt it first (openssl pkey -in key.pem -out plain.pem)"
                .into(),
        ));
    }
    let der = STANDARD.decode(encoded).map_err(|_| not_pem())?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    }

    fn parts(jwt: &str) -> (serde_json::Value, serde_json::Value) {
        let mut it = jwt.split('.');
        let mut next = || {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap()
        };
        (next(), next())
    }

    #[test]
    fn keys_load_sign_and_name_themselves() {
        let rng = SystemRandom::new();
        let es = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ed = Ed25519KeyPair::generate_pkcs8v1(&rng).unwrap();
        for (der, alg) in [(es.as_ref(), "ES256"), (ed.as_ref(), "EdDSA")] {
            let key = ClientKey::from_pem(pem("PRIVATE KEY", der).as_bytes()).unwrap();
            assert_eq!(key.alg(), alg);
            assert_eq!(key.kid(), key.thumbprint());
            assert_eq!(key.thumbprint().len(), 43);
            let jwt = key.assertion("client-1", "https://auth/").unwrap();
            let (header, claims) = parts(&jwt);
            assert_eq!(header["alg"], alg);
            assert_eq!(header["kid"], key.kid());
            assert_eq!(claims["iss"], "client-1");
            assert_eq!(claims["sub"], "client-1");
            assert_eq!(claims["aud"], "https://auth/");
            assert_eq!(
                claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
                60
            );
            let (_, again) = parts(&key.assertion("client-1", "https://auth/").unwrap());
            assert_ne!(claims["jti"], again["jti"]);
            assert!(!format!("{key:?}").contains("PRIVATE"));
            let err = key.clone().with_alg("RS256").unwrap_err().to_string();
            assert!(err.contains("does not fit"), "{err}");
            assert_eq!(key.with_kid("k-1").kid(), "k-1");
        }
        let rsa = ClientKey::generate_rsa().unwrap();
        assert_eq!(rsa.alg(), "RS256");
        assert_eq!(rsa.clone().with_alg("PS256").unwrap().alg(), "PS256");
    }

    #[test]
    fn bad_keys_are_refused_clearly() {
        let refused = |text: &str| {
            ClientKey::from_pem(text.as_bytes())
                .unwrap_err()
                .to_string()
        };
        assert!(refused("hello").contains("not PEM"));
        assert!(refused(&pem("PUBLIC KEY", b"xx")).contains("public key"));
        assert!(refused(&pem("ENCRYPTED PRIVATE KEY", b"xx")).contains("encrypted"));
        assert!(refused(&pem("PRIVATE KEY", b"xx")).contains("not a PKCS#8"));
        assert!(refused(&pem("CERTIFICATE", b"xx")).contains("not a private key"));
    }

    #[test]
    fn assertion_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("wc-assert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        std::fs::write(&path, "a.b.c\n").unwrap();
        assert_eq!(read_assertion(&path).unwrap(), "a.b.c");
        std::fs::write(&path, "  \n").unwrap();
        assert!(
            read_assertion(&path)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        std::fs::write(&path, "not a jwt").unwrap();
        assert!(
            read_assertion(&path)
                .unwrap_err()
                .to_string()
                .contains("one compact JWT")
        );
        let missing = read_assertion(&dir.join("absent")).unwrap_err().to_string();
        assert!(missing.contains("cannot read the client assertion file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
