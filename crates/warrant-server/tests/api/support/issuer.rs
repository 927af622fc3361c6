//! A local OpenID issuer for the federation stories and the clients in other languages: its
//! own keys, discovery document and JWKS on 127.0.0.1, minting Kubernetes-, GitHub-Actions- and
//! SPIFFE-shaped tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aws_lc_rs::signature::KeyPair;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;
use warrant_server::clock::{Clock, SystemClock};
use warrant_server::config::Config;
use warrant_testkit::TestServer;

use super::assertions::ClientKey;
use super::{API, spawn_with, verify_independently};

/// An OIDC issuer on 127.0.0.1: a discovery document shaped like GitHub Actions' (no token
/// endpoint), a JWKS with an RSA and a P-256 key, and a switch that makes both answer 503.
pub struct LocalIssuer {
    pub base: String,
    /// Its RSA key, published as `rsa-1`.
    pub rsa: ClientKey,
    ec: ClientKey,
    down: Arc<AtomicBool>,
    withdrawn: Arc<AtomicBool>,
    /// How often its JWKS was fetched.
    pub fetches: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Published {
    base: String,
    jwks: Value,
    down: Arc<AtomicBool>,
    /// The RSA key `rsa-1` is no longer published.
    withdrawn: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

async fn discovery(State(p): State<Published>) -> Response {
    if p.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({
        "issuer": p.base,
        "jwks_uri": format!("{}/.well-known/jwks", p.base),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "repository", "repository_owner_id"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"]
    }))
    .into_response()
}

async fn jwks(State(p): State<Published>) -> Response {
    p.fetches.fetch_add(1, Ordering::SeqCst);
    if p.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let mut jwks = p.jwks.clone();
    if p.withdrawn.load(Ordering::SeqCst) {
        jwks["keys"]
            .as_array_mut()
            .unwrap()
            .retain(|k| k["kid"] != "rsa-1");
    }
    Json(jwks).into_response()
}

impl LocalIssuer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (rsa, ec) = (ClientKey::rs256(), ClientKey::es256());
        let down = Arc::new(AtomicBool::new(false));
        let withdrawn = Arc::new(AtomicBool::new(false));
        let fetches = Arc::new(AtomicUsize::new(0));
        let published = Published {
            base: base.clone(),
            jwks: json!({"keys": [jwk(&rsa, "rsa-1"), jwk(&ec, "ec-1")]}),
            down: Arc::clone(&down),
            withdrawn: Arc::clone(&withdrawn),
            fetches: Arc::clone(&fetches),
        };
        let router = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks", get(jwks))
            .with_state(published);
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            base,
            rsa,
            ec,
            down,
            withdrawn,
            fetches,
        }
    }

    /// The JWKS it publishes, as a value (for an inline trusted issuer).
    pub fn jwks(&self) -> Value {
        json!({"keys": [jwk(&self.rsa, "rsa-1"), jwk(&self.ec, "ec-1")]})
    }

    /// `claims` signed RS256 with its key `rsa-1`, the header as GitHub sends it.
    pub fn mint(&self, claims: &Value) -> String {
        self.rsa.sign(
            &json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-1"}),
            claims,
        )
    }

    /// `claims` signed ES256 with its key `ec-1`.
    pub fn mint_es256(&self, claims: &Value) -> String {
        self.ec.sign(
            &json!({"alg": "ES256", "typ": "JWT", "kid": "ec-1"}),
            claims,
        )
    }

    /// Answers 503 to discovery and JWKS requests while `down`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Stops publishing the RSA key `rsa-1` (the issuer withdrew it).
    pub fn withdraw_rsa(&self) {
        self.withdrawn.store(true, Ordering::SeqCst);
    }
}

/// `key`'s public JWK, named `kid`.
pub fn jwk(key: &ClientKey, kid: &str) -> Value {
    match key {
        ClientKey::Rs256(pair) => {
            let public = pair.public_key();
            json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero())})
        }
        ClientKey::Es256(pair, _) => {
            let point = pair.public_key().as_ref();
            json!({"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
        }
    }
}

/// A Kubernetes projected service-account token's claims.
pub fn kubernetes(issuer: &str, audience: &str, account: &str, now: u64) -> Value {
    json!({
        "iss": issuer, "sub": format!("system:serviceaccount:payments:{account}"),
        "aud": [audience], "iat": now, "nbf": now, "exp": now + 3600,
        "kubernetes.io": {"namespace": "payments",
            "pod": {"name": "worker-7d9f", "uid": "4f1c"},
            "serviceaccount": {"name": account, "uid": "9a2e"}}
    })
}

/// A Kubernetes workload, for the clients in other languages: a server that fetches the local
/// issuer's keys (by discovery, over http on 127.0.0.1), an application granted `read:data` on
/// [`API`] and bound to the service account `payments:worker` of the namespace `payments`, and
/// that account's projected token in a file (audience: Warrant's issuer URL), beside a token
/// it was given for another audience.
pub struct ProjectedWorker {
    pub app: TestServer,
    pub client_id: String,
    pub token_file: PathBuf,
    pub other_audience_file: PathBuf,
    _issuer: LocalIssuer,
    _files: TempDir,
}

impl ProjectedWorker {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
        config.allow_http_issuers = true;
        let app = spawn_with(dir, config).await.unwrap();
        let issuer = LocalIssuer::start().await;
        let token = app.admin_token().await;
        app.create_api(API, &["read:data"], None).await;
        let (client_id, _) = app.create_app(&[(API, &["read:data"])]).await;
        for (path, body) in [
            (
                "/trusted-issuers".to_owned(),
                json!({"issuer": issuer.base}),
            ),
            (
                format!("/clients/{client_id}/federated-credentials"),
                json!({"issuer": issuer.base, "subject": "system:serviceaccount:payments:worker",
                    "conditions": {"kubernetes.io.namespace": "payments"}}),
            ),
        ] {
            let (status, answer) = app
                .mgmt(Method::POST, &path, Some(&token), Some(&body))
                .await;
            assert_eq!(status, 201, "{answer}");
        }
        let now = SystemClock.now();
        let files = tempfile::tempdir().unwrap();
        let token_file = files.path().join("token");
        let other_audience_file = files.path().join("other-audience");
        let minted =
            |audience: &str| issuer.mint(&kubernetes(&issuer.base, audience, "worker", now));
        std::fs::write(&token_file, minted(&app.issuer)).unwrap();
        std::fs::write(&other_audience_file, minted("https://vault.example")).unwrap();
        Self {
            app,
            client_id,
            token_file,
            other_audience_file,
            _issuer: issuer,
            _files: files,
        }
    }

    /// What a client script is told: `ISSUER`, `CLIENT_ID`, `TOKEN_FILE`,
    /// `OTHER_AUDIENCE_FILE`, `AUDIENCE`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ISSUER", self.app.issuer.clone()),
            ("CLIENT_ID", self.client_id.clone()),
            ("TOKEN_FILE", self.token_file.display().to_string()),
            (
                "OTHER_AUDIENCE_FILE",
                self.other_audience_file.display().to_string(),
            ),
            ("AUDIENCE", API.to_owned()),
        ]
    }

    /// Asserts that `access_token` is this application's, for [`API`], with `read:data`.
    pub async fn assert_token(&self, access_token: &str) {
        let claims = verify_independently(&self.app, access_token, API).await;
        assert_eq!(claims["sub"], format!("{}@clients", self.client_id));
        assert_eq!(claims["aud"], API);
        assert_eq!(claims["scope"], "read:data");
    }
}
