//! DPoP proofs (RFC 9449) made by the client: a key that stays here, and a fresh proof signed
//! with it for every token request and every API call.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Error;

/// A DPoP key: tokens fetched with it are bound to it, and only proofs it signs make them
/// usable. ES256 (P-256) by default, or Ed25519. Cheap to clone; clones are the same key.
/// `Debug` shows only the thumbprint.
#[derive(Clone)]
pub struct DpopKey {
    inner: Arc<Inner>,
}

struct Inner {
    pair: Pair,
    /// The proof header, base64url: it is the same for every proof.
    header_b64: String,
    jkt: String,
    /// The last `DPoP-Nonce` a server sent, per origin, sent back in the next proofs.
    nonces: Mutex<Vec<(String, String)>>,
}

enum Pair {
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg())
            .field("jkt", &self.inner.jkt)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A new P-256 key (ES256), the default.
    pub fn generate_es256() -> Result<Self, Error> {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map(|pair| Self::new(Pair::Es256(pair)))
            .map_err(|_| Error::Config("cannot generate a P-256 key".into()))
    }

    /// A new Ed25519 key (EdDSA).
    pub fn generate_ed25519() -> Result<Self, Error> {
        Ed25519KeyPair::generate()
            .map(|pair| Self::new(Pair::Ed25519(pair)))
            .map_err(|_| Error::Config("cannot generate an Ed25519 key".into()))
    }

    /// A P-256 key from its PKCS#8 DER, to keep a key (and the tokens bound to it) across
    /// restarts.
    pub fn es256_from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map(|pair| Self::new(Pair::Es256(pair)))
            .map_err(|_| Error::Config("not a PKCS#8 P-256 private key".into()))
    }

    /// An Ed25519 key from its PKCS#8 DER.
    pub fn ed25519_from_pkcs8(der: &[u8]) -> Result<Self, Error> {
        Ed25519KeyPair::from_pkcs8(der)
            .map(|pair| Self::new(Pair::Ed25519(pair)))
            .map_err(|_| Error::Config("not a PKCS#8 Ed25519 private key".into()))
    }

    fn new(pair: Pair) -> Self {
        // RFC 7638: the required members, in lexicographic order, no whitespace.
        let (alg, members) = match &pair {
            Pair::Es256(pair) => {
                let point = pair.public_key().as_ref();
                (
                    "ES256",
                    format!(
                        r#""crv":"P-256","kty":"EC","x":"{}","y":"{}""#,
                        URL_SAFE_NO_PAD.encode(&point[1..33]),
                        URL_SAFE_NO_PAD.encode(&point[33..65])
                    ),
                )
            }
            Pair::Ed25519(pair) => (
                "EdDSA",
                format!(
                    r#""crv":"Ed25519","kty":"OKP","x":"{}""#,
                    URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())
                ),
            ),
        };
        let jkt = URL_SAFE_NO_PAD.encode(digest(&SHA256, format!("{{{members}}}").as_bytes()));
        let header = format!(r#"{{"typ":"dpop+jwt","alg":"{alg}","jwk":{{{members}}}}}"#);
        Self {
            inner: Arc::new(Inner {
                pair,
                header_b64: URL_SAFE_NO_PAD.encode(header),
                jkt,
                nonces: Mutex::new(Vec::new()),
            }),
        }
    }

    /// `ES256` or `EdDSA`.
    pub fn alg(&self) -> &'static str {
        match self.inner.pair {
            Pair::Es256(_) => "ES256",
            Pair::Ed25519(_) => "EdDSA",
        }
    }

    /// The key's RFC 7638 thumbprint: the `cnf.jkt` of the tokens bound to it.
    pub fn jkt(&self) -> &str {
        &self.inner.jkt
    }

    /// A fresh proof for `method` `url` (its query and fragment left out of `htu`), for
    /// `access_token` when given (`ath`), with the last nonce the URL's origin sent, if any.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
    ) -> Result<String, Error> {
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let nonce = self.nonce_for(htu);
        let mut jti = [0u8; 16];
        SystemRandom::new()
            .fill(&mut jti)
            .map_err(|_| Error::Config("no randomness for a DPoP proof".into()))?;
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = serde_json::json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": htu,
            "iat": iat,
        });
        if let Some(token) = access_token {
            claims["ath"] = URL_SAFE_NO_PAD
                .encode(digest(&SHA256, token.as_bytes()))
                .into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let input = format!(
            "{}.{}",
            self.inner.header_b64,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match &self.inner.pair {
            Pair::Es256(pair) => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .map_err(|_| Error::Config("cannot sign a DPoP proof".into()))?
                .as_ref()
                .to_vec(),
            Pair::Ed25519(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Remembers the `DPoP-Nonce` a server sent for `url`'s origin (RFC 9449 §8-9).
    pub(crate) fn set_nonce(&self, url: &str, nonce: &str) {
        let origin = origin(url).to_owned();
        let mut nonces = self.inner.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonces.retain(|(o, _)| *o != origin);
        // A handful of origins at most; bounded all the same.
        if nonces.len() >= 16 {
            nonces.remove(0);
        }
        nonces.push((origin, nonce.chars().take(512).collect()));
    }

    fn nonce_for(&self, url: &str) -> Option<String> {
        let origin = origin(url);
        let nonces = self.inner.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonces
            .iter()
            .find(|(o, _)| o == origin)
            .map(|(_, n)| n.clone())
    }
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// Whether an answer asks for a DPoP nonce (`use_dpop_nonce`, RFC 9449 §8-9), and the nonce.
pub(crate) fn nonce_asked(response: &reqwest::Response, body: Option<&[u8]>) -> Option<String> {
    let nonce = response.headers().get("dpop-nonce")?.to_str().ok()?;
    let in_challenge = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains("use_dpop_nonce")));
    let in_body = body.is_some_and(|b| {
        serde_json::from_slice::<warrant_proto::OAuthErrorBody>(b)
            .is_ok_and(|e| e.error == "use_dpop_nonce")
    });
    (in_challenge || in_body).then(|| nonce.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_carry_the_key_and_the_request() {
        for key in [
            DpopKey::generate_es256().unwrap(),
            DpopKey::generate_ed25519().unwrap(),
        ] {
            let proof = key
                .proof("GET", "https://api.example.com/data?x=1#f", Some("tok"))
                .unwrap();
            let parts: Vec<&str> = proof.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(header["typ"], "dpop+jwt");
            assert_eq!(header["alg"], key.alg());
            assert!(header["jwk"].get("d").is_none());
            assert_eq!(claims["htm"], "GET");
            assert_eq!(claims["htu"], "https://api.example.com/data");
            assert_eq!(
                claims["ath"],
                URL_SAFE_NO_PAD.encode(digest(&SHA256, b"tok"))
            );
            let again = key
                .proof("GET", "https://api.example.com/data", None)
                .unwrap();
            assert_ne!(proof, again, "a fresh jti each time");
            key.set_nonce("https://api.example.com/other", "n-1");
            let with_nonce = key
                .proof("GET", "https://api.example.com/data", None)
                .unwrap();
            let claims: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(with_nonce.split('.').nth(1).unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(claims["nonce"], "n-1");
        }
        assert_eq!(origin("https://h:8443/a/b"), "https://h:8443");
        assert_eq!(origin("https://h"), "https://h");
    }
}
