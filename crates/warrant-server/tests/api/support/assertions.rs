//! Client assertions, for the private_key_jwt and federation stories and the clients in
//! other languages: the key pairs a client (or an issuer) signs with, a server on either engine
//! with a clock the test moves, the exchange at the token endpoint, and the check of a refusal.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use warrant_server::clock::ManualClock;
use warrant_server::config::{Config, Secret};
use warrant_testkit::{PgDatabase, TestServer, pem};

use super::{API, Engine, PG_MASTER_KEY, spawn_with_clock};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const JWT_SPIFFE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe";
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A key pair a client holds, with its public key in PEM (and for P-256 its PKCS#8 private
/// key, for the clients in other languages).
pub enum ClientKey {
    Es256(EcdsaKeyPair, Vec<u8>),
    Rs256(RsaKeyPair),
}

impl ClientKey {
    pub fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self::Es256(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap(),
            pkcs8.as_ref().to_vec(),
        )
    }

    pub fn rs256() -> Self {
        Self::Rs256(RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    pub fn alg(&self) -> &'static str {
        match self {
            Self::Es256(..) => "ES256",
            Self::Rs256(_) => "RS256",
        }
    }

    /// The public key, `-----BEGIN PUBLIC KEY-----`.
    pub fn public_pem(&self) -> String {
        let der = match self {
            Self::Es256(pair, _) => {
                let mut der = P256_SPKI_PREFIX.to_vec();
                der.extend_from_slice(pair.public_key().as_ref());
                der
            }
            Self::Rs256(pair) => PublicKeyComponents::<Vec<u8>>::from(pair.public_key())
                .as_der()
                .unwrap()
                .as_ref()
                .to_vec(),
        };
        pem("PUBLIC KEY", &der)
    }

    /// The P-256 private key, `-----BEGIN PRIVATE KEY-----` (PKCS#8).
    pub fn private_pem(&self) -> String {
        match self {
            Self::Es256(_, pkcs8) => pem("PRIVATE KEY", pkcs8),
            Self::Rs256(_) => unimplemented!("the tests hand other clients P-256 keys"),
        }
    }

    /// A compact JWS of `claims` with `header` (whose `alg` is the caller's to set).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let signature = match self {
            Self::Es256(pair, _) => pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
            Self::Rs256(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .unwrap();
                sig
            }
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// Registers `key` for `client_id` and lists it in the application's private_key_jwt
/// credentials; returns the credential as the management API answered.
pub async fn register(app: &TestServer, token: &str, client_id: &str, key: &ClientKey) -> Value {
    let (status, cred) = app
        .mgmt(
            Method::POST,
            &format!("/clients/{client_id}/credentials"),
            Some(token),
            Some(&json!({"credential_type": "public_key", "name": "ci key",
                "pem": key.public_pem(), "alg": key.alg()})),
        )
        .await;
    assert_eq!(status, 201, "{cred}");
    let (status, listed) = app
        .mgmt(
            Method::GET,
            &format!("/clients/{client_id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let mut ids: Vec<Value> =
        listed["client_authentication_methods"]["private_key_jwt"]["credentials"]
            .as_array()
            .cloned()
            .unwrap_or_default();
    ids.push(json!({"id": cred["id"]}));
    let (status, client) = app
        .mgmt(
            Method::PATCH,
            &format!("/clients/{client_id}"),
            Some(token),
            Some(&json!({"client_authentication_methods": {"private_key_jwt": {"credentials": ids}}})),
        )
        .await;
    assert_eq!(status, 200, "{client}");
    cred
}

/// A server on `engine` and a clock the test moves (fetching trusted issuers' keys over http
/// from 127.0.0.1 when `allow_http_issuers`); the database lives as long as the guard.
pub async fn start(
    engine: Engine,
    clock: Arc<ManualClock>,
    allow_http_issuers: bool,
) -> (TestServer, Option<PgDatabase>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.audit.refusal_interval = Duration::from_millis(100);
    config.allow_http_issuers = allow_http_issuers;
    let db = engine.database().await;
    if let Some(db) = &db {
        config.database_url = Some(Secret::new(db.url.clone()));
        config.master_key = Some(Secret::new(PG_MASTER_KEY));
    }
    let app = spawn_with_clock(dir, config, clock).await.unwrap();
    (app, db)
}

/// POSTs `pairs` as a form to the token endpoint: the status and the JSON answer.
pub async fn token_form(app: &TestServer, pairs: &[(&str, &str)]) -> (u16, Value) {
    let response = app.token_form(pairs).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A client-credentials request for [`API`] authenticated by `assertion` of type `kind`
/// ([`JWT_BEARER`] or [`JWT_SPIFFE`]), naming `client_id` when given.
pub async fn with_assertion(
    app: &TestServer,
    kind: &str,
    client_id: Option<&str>,
    assertion: &str,
) -> (u16, Value) {
    let mut pairs = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", kind),
        ("client_assertion", assertion),
        ("audience", API),
    ];
    if let Some(id) = client_id {
        pairs.push(("client_id", id));
    }
    token_form(app, &pairs).await
}

/// Asserts an RFC 6749 `invalid_client` whose description says `what`, and that the answer
/// quotes neither the assertion's claims nor its signature (`assertion` empty: none was sent).
pub fn assert_invalid_client(answer: &(u16, Value), what: &str, assertion: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(what),
        "{description:?} should say {what:?}"
    );
    let text = body.to_string();
    for part in assertion.split('.').skip(1) {
        assert!(!text.contains(part), "{text} quotes the assertion");
    }
}
