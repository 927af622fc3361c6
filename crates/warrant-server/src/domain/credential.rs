//! An application's public-key credentials (Auth0's `credential_type: "public_key"`): the
//! public half of a key the client holds, with which it signs its `private_key_jwt`
//! assertions. Only the public key is ever sent or stored.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use warrant_guard::{Algorithm, PublicKey};

use super::{Invalid, random_alphanumeric, validate_text};

/// The algorithms a credential may be registered for, as Auth0 offers them.
pub const CREDENTIAL_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// The most public-key credentials one application may have: an assertion without `kid` is
/// tried against each.
pub const MAX_CREDENTIALS: usize = 5;

/// The longest PEM text accepted (an RSA-8192 public key is about 1.5 KiB).
const MAX_PEM_LEN: usize = 16 * 1024;

/// One public key of an application, bound to one algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyCredential {
    /// `cred_` and random characters.
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub alg: Algorithm,
    /// The key's RFC 7638 thumbprint: the `kid` an assertion names it by.
    pub kid: String,
    /// The key as uploaded, decoded from PEM (SubjectPublicKeyInfo, or PKCS#1 for RSA).
    pub der: Vec<u8>,
    pub created_at: u64,
    pub updated_at: u64,
    pub expires_at: Option<u64>,
}

impl PublicKeyCredential {
    /// A new credential from the administrator's PEM text, checked: a public key of `alg`'s
    /// type (RSA keys of at least 2048 bits), never a private key.
    pub fn new(
        client_id: &str,
        name: String,
        alg: &str,
        pem: &str,
        expires_at: Option<u64>,
        now: u64,
    ) -> Result<Self, Invalid> {
        validate_text("name", &name, 128)?;
        let alg = parse_alg(alg)?;
        let der = decode_public_key_pem(pem, alg)?;
        let key = PublicKey::from_der(alg, &der).map_err(|e| Invalid(format!("pem: {e}")))?;
        Ok(Self {
            id: format!("cred_{}", random_alphanumeric(22)),
            client_id: client_id.to_owned(),
            name,
            alg,
            kid: key.thumbprint().to_owned(),
            der,
            created_at: now,
            updated_at: now,
            expires_at,
        })
    }

    /// The verifying key; `None` if the stored bytes no longer parse (checked at creation).
    pub fn public_key(&self) -> Option<PublicKey> {
        PublicKey::from_der(self.alg, &self.der).ok()
    }

    pub fn is_active(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// One of [`CREDENTIAL_ALGORITHMS`] by its JOSE name.
pub fn parse_alg(name: &str) -> Result<Algorithm, Invalid> {
    Algorithm::from_name(name)
        .filter(|a| CREDENTIAL_ALGORITHMS.contains(a))
        .ok_or_else(|| {
            Invalid(format!(
                "alg {name:?} is not supported; use one of RS256, RS384, PS256, ES256, EdDSA"
            ))
        })
}

/// The DER inside one PEM block of a public key: `PUBLIC KEY` (SubjectPublicKeyInfo), or
/// `RSA PUBLIC KEY` (PKCS#1) for an RSA algorithm. Private keys and certificates are refused
/// with a message that says what to send instead.
pub fn decode_public_key_pem(pem: &str, alg: Algorithm) -> Result<Vec<u8>, Invalid> {
    if pem.len() > MAX_PEM_LEN {
        return Err(Invalid(format!("pem must be at most {MAX_PEM_LEN} bytes")));
    }
    let malformed = || {
        Invalid::new(
            "pem is not a PEM public key: expected one block from -----BEGIN PUBLIC KEY----- to -----END PUBLIC KEY-----",
        )
    };
    let text = pem.trim();
    let rest = text.strip_prefix("-----BEGIN ").ok_or_else(malformed)?;
    let (label, rest) = rest.split_once("-----").ok_or_else(malformed)?;
    if label.contains("PRIVATE KEY") {
        return Err(Invalid::new(
            "pem holds a private key: keep it with the client and register its public key (openssl pkey -in key.pem -pubout)",
        ));
    }
    match label {
        "PUBLIC KEY" => {}
        "RSA PUBLIC KEY"
            if matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::PS256) => {}
        "CERTIFICATE" => {
            return Err(Invalid::new(
                "pem holds a certificate: register its public key instead (openssl x509 -in cert.pem -pubkey -noout)",
            ));
        }
        _ => return Err(malformed()),
    }
    let end = format!("-----END {label}-----");
    let body = rest.strip_suffix(end.as_str()).ok_or_else(malformed)?;
    if body.contains("-----") {
        return Err(malformed());
    }
    let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(base64).map_err(|_| malformed())?;
    if der.is_empty() {
        return Err(malformed());
    }
    Ok(der)
}

/// A stored credential's key as PEM, as an administrator would upload it: `RSA PUBLIC KEY`
/// for a PKCS#1 key (a DER `SEQUENCE` whose first element is an `INTEGER`), else `PUBLIC KEY`.
pub fn public_key_pem(der: &[u8]) -> String {
    let content = match der.get(1) {
        Some(&len) if len & 0x80 != 0 => 2 + usize::from(len & 0x7F),
        _ => 2,
    };
    let label = if der.get(content) == Some(&0x02) {
        "RSA PUBLIC KEY"
    } else {
        "PUBLIC KEY"
    };
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
    use aws_lc_rs::signature::{KeyPair, RsaKeyPair};

    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
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

    #[test]
    fn an_rsa_public_key_is_accepted_and_everything_else_refused_clearly() {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let spki = PublicKeyComponents::<Vec<u8>>::from(pair.public_key())
            .as_der()
            .unwrap();
        let good = pem("PUBLIC KEY", spki.as_ref());
        let cred = PublicKeyCredential::new("c", "k".into(), "RS256", &good, None, 10).unwrap();
        assert!(cred.id.starts_with("cred_"));
        assert_eq!(cred.kid.len(), 43);
        assert!(cred.public_key().is_some());

        let refused = |alg: &str, text: &str| {
            PublicKeyCredential::new("c", "k".into(), alg, text, None, 10)
                .unwrap_err()
                .0
        };
        assert!(refused("RS256", &pem("PRIVATE KEY", b"x")).contains("private key"));
        assert!(refused("RS256", &pem("RSA PRIVATE KEY", b"x")).contains("private key"));
        assert!(refused("RS256", &pem("CERTIFICATE", b"x")).contains("certificate"));
        assert!(refused("RS256", "hello").contains("not a PEM public key"));
        assert!(refused("RS256", &good.replace("MII", "*II")).contains("not a PEM public key"));
        assert!(refused("HS256", &good).contains("not supported"));
        assert!(refused("ES256", &good).contains("not a valid P-256 public key"));
        assert!(
            !PublicKeyCredential::new("c", "k".into(), "RS256", &good, Some(10), 10)
                .unwrap()
                .is_active(10)
        );
    }
}
