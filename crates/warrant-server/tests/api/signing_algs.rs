//! Signing algorithms per API (RS256, PS256, ES256, EdDSA), over HTTP on both engines: each
//! algorithm's keys are created with the first API that chooses it, published with `alg`,
//! `use`, `kid` and a certificate, sign that API's tokens, rotate and are revoked apart from
//! the other algorithms' keys; warrant-guard verifies every token. Bad input is a 400 that
//! writes nothing.

use reqwest::Method;
use serde_json::{Value, json};
use warrant_guard::{Algorithm, Error, Verifier};
use warrant_server::config::{Config, Secret};
use warrant_server::domain::SigningAlg;
use warrant_testkit::{PgDatabase, TestServer};

use std::sync::Arc;

use warrant_server::keys::{KeyStatus, MasterKey, RsaKeySize};
use warrant_server::startup::ensure_key_set;

use crate::support::spawn_app;

/// 32 bytes, base64: the master key the PostgreSQL servers share.
const PG_MASTER_KEY: &str = "YWxnb3JpdGhtcyBvbiBwb3N0Z3JlcyBtYXN0ZXIga3k=";

fn header_of(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

fn verifier(app: &TestServer, audience: &str, algs: &[SigningAlg]) -> Verifier {
    let algs: Vec<Algorithm> = algs
        .iter()
        .map(|a| Algorithm::from_name(a.as_str()).unwrap())
        .collect();
    Verifier::builder(&app.issuer, audience)
        .jwks_url(app.url("/.well-known/jwks.json"))
        .algorithms(&algs)
        .build()
        .unwrap()
}

async fn keys(app: &TestServer, admin: &str) -> Vec<Value> {
    let (status, keys) = app
        .mgmt(Method::GET, "/keys/signing", Some(admin), None)
        .await;
    assert_eq!(status, 200, "{keys}");
    keys.as_array().unwrap().clone()
}

/// The key ID of `alg`'s key in state `state` (`current`, `next`).
fn kid_in(keys: &[Value], alg: SigningAlg, state: &str) -> String {
    let found: Vec<&Value> = keys
        .iter()
        .filter(|k| k["alg"] == alg.as_str() && k[state] == true)
        .collect();
    assert_eq!(found.len(), 1, "one {state} {alg:?} key in {keys:?}");
    found[0]["kid"].as_str().unwrap().to_owned()
}

/// The story, on whichever engine `app` runs (initialized).
async fn every_algorithm_issues_publishes_rotates_and_revokes(app: &TestServer) {
    let admin = app.admin_token().await;
    let before = keys(app, &admin).await;
    assert!(before.iter().all(|k| k["alg"] == "RS256"), "{before:?}");
    let mut rs256_current = kid_in(&before, SigningAlg::RS256, "current");
    let mut es256 = None;

    for alg in SigningAlg::ALL {
        // Signed by RS256's current key, which this loop revokes in its first round.
        let admin = app.admin_token().await;
        let t = Some(admin.as_str());
        let audience = format!("https://{}.example.com", alg.as_str().to_lowercase());
        let (status, api) = app
            .mgmt(
                Method::POST,
                "/resource-servers",
                t,
                Some(&json!({"identifier": audience, "signing_alg": alg.as_str(),
                    "scopes": [{"value": "read:data"}]})),
            )
            .await;
        assert_eq!(status, 201, "{api}");
        assert_eq!(api["signing_alg"], alg.as_str());
        let (id, secret) = app.create_app(&[(&audience, &["read:data"])]).await;

        // The algorithm's key set exists: one current and one next key, with certificates.
        let listed = keys(app, &admin).await;
        let current = kid_in(&listed, alg, "current");
        let next = kid_in(&listed, alg, "next");
        for key in listed.iter().filter(|k| k["alg"] == alg.as_str()) {
            assert_eq!(key["public_jwk"]["alg"], alg.as_str());
            assert!(key["cert"].as_str().unwrap().contains("BEGIN CERTIFICATE"));
        }

        // The JWKS publishes both, each with what a strict verifier needs.
        let jwks = app.jwks().await;
        let (kty, crv) = match alg {
            SigningAlg::ES256 => ("EC", Some("P-256")),
            SigningAlg::EdDSA => ("OKP", Some("Ed25519")),
            _ => ("RSA", None),
        };
        for kid in [&current, &next] {
            let jwk = jwks["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kid"] == kid.as_str())
                .unwrap_or_else(|| panic!("{alg:?} key {kid} is not published: {jwks}"));
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["kty"], kty);
            assert_eq!(jwk["crv"].as_str(), crv);
            assert!(jwk["x5c"][0].is_string() && jwk["x5t"].is_string(), "{jwk}");
        }

        // The API's tokens are signed with its algorithm's current key.
        let token = app.token_for(&id, &secret, &audience).await;
        let header = header_of(&token);
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], current.as_str());
        let guard = verifier(app, &audience, &[alg]);
        guard.verify(&token).await.unwrap();
        // A guard on the default allowlist (RS256) takes only RS256 tokens.
        let default = verifier(app, &audience, &[SigningAlg::RS256]);
        let refused = default.verify(&token).await;
        if alg == SigningAlg::RS256 {
            refused.unwrap();
        } else {
            assert_eq!(refused.unwrap_err(), Error::AlgorithmNotAllowed);
        }

        // Rotating this algorithm: next becomes current; the other algorithms' keys stay.
        let (status, rotated) = app
            .mgmt(
                Method::POST,
                &format!("/keys/signing/rotate?alg={}", alg.as_str()),
                t,
                None,
            )
            .await;
        assert_eq!(status, 201, "{rotated}");
        assert_eq!(rotated["kid"], next.as_str());
        assert_eq!(rotated["alg"], alg.as_str());
        let listed = keys(app, &admin).await;
        if alg == SigningAlg::RS256 {
            rs256_current = next.clone();
        }
        assert_eq!(
            kid_in(&listed, SigningAlg::RS256, "current"),
            rs256_current,
            "rotating {alg:?} leaves RS256's keys alone"
        );
        let newer = app.token_for(&id, &secret, &audience).await;
        assert_eq!(header_of(&newer)["kid"], next.as_str());
        guard.verify(&newer).await.unwrap();
        guard.verify(&token).await.unwrap();

        // Revoking the previous key withdraws it: its tokens stop verifying, the new ones do.
        let (status, revoked) = app
            .mgmt(
                Method::PUT,
                &format!("/keys/signing/{current}/revoke"),
                t,
                None,
            )
            .await;
        assert_eq!(status, 200, "{revoked}");
        assert!(!app.jwks().await.to_string().contains(&current));
        let fresh = verifier(app, &audience, &[alg]);
        assert_eq!(fresh.verify(&token).await.unwrap_err(), Error::UnknownKey);
        fresh.verify(&newer).await.unwrap();
        if alg == SigningAlg::ES256 {
            es256 = Some((
                api["id"].as_str().unwrap().to_owned(),
                audience,
                id,
                secret,
                newer,
            ));
        }
    }

    // Changing an API's algorithm applies to new tokens; the old algorithm's keys stay
    // published, so tokens already issued verify until they expire.
    let (api_id, audience, id, secret, old_token) = es256.unwrap();
    let admin = app.admin_token().await;
    let (status, api) = app
        .mgmt(
            Method::PATCH,
            &format!("/resource-servers/{api_id}"),
            Some(&admin),
            Some(&json!({"signing_alg": "EdDSA"})),
        )
        .await;
    assert_eq!(status, 200, "{api}");
    assert_eq!(api["signing_alg"], "EdDSA");
    let token = app.token_for(&id, &secret, &audience).await;
    assert_eq!(header_of(&token)["alg"], "EdDSA");
    let both = verifier(app, &audience, &[SigningAlg::ES256, SigningAlg::EdDSA]);
    both.verify(&token).await.unwrap();
    both.verify(&old_token).await.unwrap();
}

/// Unknown names, HS256 and a change to the management API's own algorithm are 400s that
/// name the allowed values and write nothing; rotating an algorithm without keys is a 409.
async fn bad_algorithms_are_refused_and_write_nothing(app: &TestServer) {
    let admin = app.admin_token().await;
    let t = Some(admin.as_str());
    let (_, apis_before) = app.mgmt(Method::GET, "/resource-servers", t, None).await;
    let keys_before = keys(app, &admin).await;
    for bad in ["HS256", "es256", "none", "RS512", ""] {
        let (status, body) = app
            .mgmt(
                Method::POST,
                "/resource-servers",
                t,
                Some(&json!({"identifier": "https://bad.example.com", "signing_alg": bad})),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body.to_string().contains(SigningAlg::ALLOWED),
            "{bad}: {body}"
        );
        if bad == "HS256" {
            assert!(body.to_string().contains("shared"), "{body}");
        }
    }
    let management = apis_before
        .as_array()
        .unwrap()
        .iter()
        .find(|api| api["identifier"] == app.mgmt_audience())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for alg in ["ES256", "EdDSA", "PS256"] {
        let (status, body) = app
            .mgmt(
                Method::PATCH,
                &format!("/resource-servers/{management}"),
                t,
                Some(&json!({"signing_alg": alg})),
            )
            .await;
        assert_eq!(status, 400, "{alg}: {body}");
        assert!(body.to_string().contains("RS256"), "{body}");
    }
    let (status, body) = app
        .mgmt(Method::POST, "/keys/signing/rotate?alg=HS256", t, None)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .mgmt(Method::POST, "/keys/signing/rotate?alg=ES256", t, None)
        .await;
    assert_eq!(status, 409, "no ES256 keys yet: {body}");

    let (_, apis_after) = app.mgmt(Method::GET, "/resource-servers", t, None).await;
    assert_eq!(apis_after, apis_before, "no API was written");
    assert_eq!(keys(app, &admin).await, keys_before, "no key was written");
}

/// Instances that need a new algorithm's keys at once (two APIs created together) make one
/// key set between them: the store lets one current and one next key per algorithm in.
async fn key_sets_are_made_once_when_instances_race(app: &TestServer, master: MasterKey) {
    let master = Arc::new(master);
    for alg in [SigningAlg::ES256, SigningAlg::EdDSA, SigningAlg::PS256] {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let (store, master, now) =
                    (app.store.clone(), Arc::clone(&master), app.admin.now());
                tokio::spawn(async move {
                    ensure_key_set(&store, &master, alg, RsaKeySize::Rsa2048, now).await
                })
            })
            .collect();
        for run in runs {
            run.await.unwrap().unwrap();
        }
        let keys = app.store.list_signing_keys().await.unwrap();
        let of_alg: Vec<_> = keys.iter().filter(|k| k.alg == alg).collect();
        assert_eq!(of_alg.len(), 2, "{alg:?}: {of_alg:?}");
        assert!(of_alg.iter().any(|k| k.status == KeyStatus::Current));
        assert!(of_alg.iter().any(|k| k.status == KeyStatus::Next));
    }
}

#[tokio::test]
async fn every_algorithm_on_sqlite() {
    let app = spawn_app().await;
    bad_algorithms_are_refused_and_write_nothing(&app).await;
    every_algorithm_issues_publishes_rotates_and_revokes(&app).await;
    let other = spawn_app().await;
    let master = MasterKey::load(None, other.data_dir()).unwrap();
    key_sets_are_made_once_when_instances_race(&other, master).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn every_algorithm_on_postgres() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.database_url = Some(Secret::new(db.url.clone()));
    config.master_key = Some(Secret::new(PG_MASTER_KEY));
    let app = TestServer::builder()
        .dir(dir)
        .config(config)
        .initialized()
        .start()
        .await
        .unwrap();
    bad_algorithms_are_refused_and_write_nothing(&app).await;
    every_algorithm_issues_publishes_rotates_and_revokes(&app).await;
    // A second database, for a store without the story's keys.
    let other_db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.database_url = Some(Secret::new(other_db.url.clone()));
    config.master_key = Some(Secret::new(PG_MASTER_KEY));
    let other = TestServer::builder()
        .dir(dir)
        .config(config)
        .start()
        .await
        .unwrap();
    let master = MasterKey::load(Some(PG_MASTER_KEY), other.data_dir()).unwrap();
    key_sets_are_made_once_when_instances_race(&other, master).await;
}
