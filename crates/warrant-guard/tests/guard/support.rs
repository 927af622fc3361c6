//! Test keys that sign whatever a test asks (including malformed tokens), and a JWKS server the
//! test controls: which keys it publishes, whether it is down or answers garbage, and how many
//! requests it saw (`/moved` redirects to it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://issuer.test/";
pub const AUDIENCE: &str = "https://api.example.com";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA signing key with its key ID.
pub struct RsaKey {
    pub kid: String,
    pair: RsaKeyPair,
}

impl RsaKey {
    pub fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
        }
    }

    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// The modulus bytes: what a naive HS256 verifier might take as the "secret".
    pub fn public_bytes(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn sign(&self, signing_input: &str) -> Vec<u8> {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .unwrap();
        sig
    }

    /// A compact JWS of exactly these header and payload JSON texts.
    pub fn token_raw(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig = self.sign(&input);
        format!("{input}.{}", b64(sig))
    }

    pub fn token(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": self.kid});
        self.token_raw(&header.to_string(), &claims.to_string())
    }
}

/// A P-256 key (ES256).
pub struct EcKey {
    pub kid: String,
    pair: EcdsaKeyPair,
}

impl EcKey {
    pub fn generate(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        }
    }

    pub fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "kid": self.kid, "crv": "P-256", "use": "sig",
               "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    pub fn token_raw(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }
}

/// Standard valid claims for `ISSUER`/`AUDIENCE`, issued now, valid for an hour.
pub fn claims() -> Value {
    let now = now();
    json!({"iss": ISSUER, "sub": "worker@clients", "aud": AUDIENCE, "iat": now, "exp": now + 3600,
           "jti": "j1", "client_id": "worker", "azp": "worker", "scope": "read:data",
           "gty": "client-credentials"})
}

pub fn claims_with(changes: Value) -> Value {
    let mut c = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

/// What the test JWKS server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Serve = 0,
    Down = 1,
    Garbage = 2,
}

struct JwksState {
    keys: Mutex<Vec<Value>>,
    mode: AtomicU8,
    hits: AtomicU64,
    max_age: AtomicU64,
}

pub struct JwksServer {
    pub url: String,
    state: Arc<JwksState>,
}

impl JwksServer {
    pub async fn start(keys: Vec<Value>) -> Self {
        let state = Arc::new(JwksState {
            keys: Mutex::new(keys),
            mode: AtomicU8::new(Mode::Serve as u8),
            hits: AtomicU64::new(0),
            max_age: AtomicU64::new(300),
        });
        let app = Router::new()
            .route("/jwks.json", get(serve_jwks))
            .route(
                "/moved",
                get(|| async {
                    (
                        StatusCode::PERMANENT_REDIRECT,
                        [(header::LOCATION, "/jwks.json")],
                    )
                }),
            )
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/jwks.json"),
            state,
        }
    }

    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.state.keys.lock().unwrap() = keys;
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn set_max_age(&self, seconds: u64) {
        self.state.max_age.store(seconds, Ordering::SeqCst);
    }

    pub fn hits(&self) -> u64 {
        self.state.hits.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(State(state): State<Arc<JwksState>>) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    match state.mode.load(Ordering::SeqCst) {
        1 => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        2 => (StatusCode::OK, "<html>not json</html>").into_response(),
        _ => {
            let body = json!({"keys": *state.keys.lock().unwrap()}).to_string();
            let max_age = state.max_age.load(Ordering::SeqCst);
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_str(&format!("max-age={max_age}")).unwrap(),
            );
            response
        }
    }
}

/// A DPoP proof key of each algorithm a client may use, signing proofs as a client would (or as
/// a test asks).
pub enum ProofKey {
    Es256(EcdsaKeyPair),
    EdDsa(aws_lc_rs::signature::Ed25519KeyPair),
    Rs256(RsaKeyPair),
    Ps256(RsaKeyPair),
}

impl ProofKey {
    pub fn es256() -> Self {
        Self::Es256(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap())
    }

    pub fn eddsa() -> Self {
        Self::EdDsa(aws_lc_rs::signature::Ed25519KeyPair::generate().unwrap())
    }

    pub fn rs256() -> Self {
        Self::Rs256(RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    pub fn ps256() -> Self {
        Self::Ps256(RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    pub fn all() -> Vec<Self> {
        vec![Self::es256(), Self::eddsa(), Self::ps256(), Self::rs256()]
    }

    pub fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::EdDsa(_) => "EdDSA",
            Self::Rs256(_) => "RS256",
            Self::Ps256(_) => "PS256",
        }
    }

    /// The public JWK, with its required members only, in RFC 7638 order.
    fn members(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Es256(pair) => {
                let point = pair.public_key().as_ref();
                vec![
                    ("crv", "P-256".into()),
                    ("kty", "EC".into()),
                    ("x", b64(&point[1..33])),
                    ("y", b64(&point[33..65])),
                ]
            }
            Self::EdDsa(pair) => vec![
                ("crv", "Ed25519".into()),
                ("kty", "OKP".into()),
                ("x", b64(pair.public_key().as_ref())),
            ],
            Self::Rs256(pair) | Self::Ps256(pair) => {
                let public = pair.public_key();
                vec![
                    (
                        "e",
                        b64(public.exponent().big_endian_without_leading_zero()),
                    ),
                    ("kty", "RSA".into()),
                    ("n", b64(public.modulus().big_endian_without_leading_zero())),
                ]
            }
        }
    }

    pub fn jwk(&self) -> Value {
        let mut jwk = serde_json::Map::new();
        for (name, value) in self.members() {
            jwk.insert(name.into(), Value::String(value));
        }
        Value::Object(jwk)
    }

    /// The RFC 7638 thumbprint, computed here independently of the crate.
    pub fn jkt(&self) -> String {
        let canonical = self
            .members()
            .iter()
            .map(|(name, value)| format!("\"{name}\":\"{value}\""))
            .collect::<Vec<_>>()
            .join(",");
        b64(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("{{{canonical}}}").as_bytes(),
        ))
    }

    pub fn sign(&self, input: &str) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Es256(pair) => pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
            Self::EdDsa(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
            Self::Rs256(pair) | Self::Ps256(pair) => {
                let padding: &dyn aws_lc_rs::signature::RsaEncoding = match self {
                    Self::Ps256(_) => &aws_lc_rs::signature::RSA_PSS_SHA256,
                    _ => &RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, input.as_bytes(), &mut sig)
                    .unwrap();
                sig
            }
        }
    }

    /// A compact JWS of exactly this header and payload.
    pub fn sign_raw(&self, header: &Value, payload: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(payload.to_string()));
        let sig = self.sign(&input);
        format!("{input}.{}", b64(sig))
    }

    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()})
    }

    /// The claims of a fresh proof for `method` `url`, for `token` when given.
    pub fn claims(&self, method: &str, url: &str, token: Option<&str>) -> Value {
        let mut claims = json!({"jti": unique_jti(), "htm": method, "htu": url, "iat": now()});
        if let Some(token) = token {
            claims["ath"] = Value::String(ath(token));
        }
        claims
    }

    pub fn proof(&self, method: &str, url: &str, token: Option<&str>) -> String {
        self.sign_raw(&self.header(), &self.claims(method, url, token))
    }
}

/// `ath`: base64url(SHA-256(token)).
pub fn ath(token: &str) -> String {
    b64(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        token.as_bytes(),
    ))
}

pub fn unique_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 12];
    aws_lc_rs::rand::fill(&mut random).unwrap();
    format!("{}-{}", NEXT.fetch_add(1, Ordering::SeqCst), b64(random))
}
