//! private_key_jwt: public keys registered through the management API in Auth0's shapes, and
//! client assertions at the token endpoint, with every refusal, on both engines; the single use
//! of a `jti` across two instances on one PostgreSQL database.

use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use warrant_server::clock::{Clock, ManualClock};
use warrant_server::config::{Config, Secret};
use warrant_testkit::{PgDatabase, TestServer, pem};

use crate::support::assertions::{
    ClientKey, JWT_BEARER, assert_invalid_client, register, start, token_form, with_assertion,
};
use crate::support::{API, Engine, PG_MASTER_KEY, logs_of, verify_independently};

fn claims(app: &TestServer, client_id: &str, now: u64) -> Value {
    json!({"iss": client_id, "sub": client_id, "aud": format!("{}oauth/token", app.issuer),
        "iat": now, "exp": now + 60, "jti": uuid_like()})
}

fn uuid_like() -> String {
    warrant_server::domain::random_token::<16>()
}

#[tokio::test]
async fn credentials_in_auth0_shapes_and_clear_refusals() {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(Engine::Sqlite, clock, false).await;
    let token = app.admin_token().await;
    let t = Some(token.as_str());
    let (client_id, _) = app.create_app(&[]).await;
    let path = format!("/clients/{client_id}/credentials");
    let key = ClientKey::es256();

    let (status, cred) = app
        .mgmt(
            Method::POST,
            &path,
            t,
            Some(&json!({"credential_type": "public_key",
            "name": "ci", "pem": key.public_pem(), "alg": "ES256",
            "expires_at": "2099-01-31T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 201, "{cred}");
    let id = cred["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cred_"));
    assert_eq!(cred["credential_type"], "public_key");
    assert_eq!(cred["alg"], "ES256");
    assert_eq!(cred["name"], "ci");
    assert_eq!(cred["expires_at"], "2099-01-31T00:00:00Z");
    assert!(cred.get("pem").is_none(), "the key is not shown back");
    // kid is the RFC 7638 thumbprint, as a JWK library computes it from the same key.
    let Value::String(kid) = &cred["kid"] else {
        panic!("{cred}")
    };
    let ClientKey::Es256(pair, _) = &key else {
        unreachable!()
    };
    let point = pair.public_key().as_ref();
    let members = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(&point[1..33]),
        URL_SAFE_NO_PAD.encode(&point[33..65])
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, members.as_bytes());
    assert_eq!(kid, &URL_SAFE_NO_PAD.encode(digest.as_ref()));

    let (status, list) = app.mgmt(Method::GET, &path, t, None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0], cred);
    let (status, one) = app
        .mgmt(Method::GET, &format!("{path}/{id}"), t, None)
        .await;
    assert_eq!((status, &one), (200, &cred));
    let (status, patched) = app
        .mgmt(Method::PATCH, &format!("{path}/{id}"), t, Some(&json!({})))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert!(patched.get("expires_at").is_none());

    // Refusals: 400 with a message that says what to send instead.
    let small_rsa = {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let mut n = pair
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec();
        n.truncate(128);
        n[0] |= 0x80;
        n[127] |= 1;
        let der = PublicKeyComponents {
            n,
            e: vec![1, 0, 1],
        }
        .as_der()
        .unwrap();
        pem("PUBLIC KEY", der.as_ref())
    };
    let private_pem = {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        pem("PRIVATE KEY", pkcs8.as_ref())
    };
    for (body, says) in [
        (
            json!({"credential_type": "public_key", "pem": small_rsa, "alg": "RS256"}),
            "1024 bits",
        ),
        (
            json!({"credential_type": "public_key", "pem": private_pem, "alg": "ES256"}),
            "private key",
        ),
        (
            json!({"credential_type": "public_key", "pem": "-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----", "alg": "ES256"}),
            "not a PEM public key",
        ),
        (
            json!({"credential_type": "public_key", "pem": "hello", "alg": "ES256"}),
            "not a PEM public key",
        ),
        (
            json!({"credential_type": "public_key", "pem": key.public_pem(), "alg": "RS256"}),
            "not a valid RSA public key",
        ),
        (
            json!({"credential_type": "public_key", "pem": key.public_pem(), "alg": "HS256"}),
            "not supported",
        ),
        (
            json!({"credential_type": "x509_cert", "pem": key.public_pem()}),
            "credential_type",
        ),
        (
            json!({"credential_type": "public_key", "pem": key.public_pem(), "alg": "ES256", "expires_at": "soon"}),
            "ISO 8601",
        ),
    ] {
        let (status, answer) = app.mgmt(Method::POST, &path, t, Some(&body)).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(says), "{message:?} should say {says:?}");
        assert!(
            !message.contains("MII"),
            "no key material echoed: {message}"
        );
    }
    let (status, _) = app
        .mgmt(
            Method::POST,
            "/clients/nope/credentials",
            t,
            Some(
                &json!({"credential_type": "public_key", "pem": key.public_pem(), "alg": "ES256"}),
            ),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .mgmt(Method::GET, &format!("{path}/cred_nope"), t, None)
        .await;
    assert_eq!(status, 404);

    // The application lists only its own credentials, each once.
    let client_path = format!("/clients/{client_id}");
    for bad in [
        json!([{"id": "cred_nope"}]),
        json!([{"id": id}, {"id": id}]),
    ] {
        let (status, answer) = app
            .mgmt(Method::PATCH, &client_path, t, Some(&json!({"client_authentication_methods": {"private_key_jwt": {"credentials": bad}}})))
            .await;
        assert_eq!(status, 400, "{answer}");
    }
    let (status, client) = app
        .mgmt(Method::PATCH, &client_path, t, Some(&json!({"client_authentication_methods": {"private_key_jwt": {"credentials": [{"id": id}]}}})))
        .await;
    assert_eq!(status, 200, "{client}");
    assert_eq!(
        client["client_authentication_methods"],
        json!({"private_key_jwt": {"credentials": [{"id": id}]}})
    );
    // Deleting the credential takes it off the application's list too.
    let (status, _) = app
        .mgmt(Method::DELETE, &format!("{path}/{id}"), t, None)
        .await;
    assert_eq!(status, 204);
    let (_, client) = app.mgmt(Method::GET, &client_path, t, None).await;
    assert_eq!(
        client["client_authentication_methods"],
        json!({"private_key_jwt": {"credentials": []}})
    );
    let (status, list) = app.mgmt(Method::GET, &path, t, None).await;
    assert_eq!((status, list), (200, json!([])));
}

async fn assertions_and_their_refusals(engine: Engine) {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(engine, Arc::clone(&clock), false).await;
    let token = app.admin_token().await;
    app.create_api(API, &["read:data"], None).await;
    let (client_id, secret) = app.create_app(&[(API, &["read:data"])]).await;
    let es = ClientKey::es256();
    let rs = ClientKey::rs256();
    let es_cred = register(&app, &token, &client_id, &es).await;
    let rs_cred = register(&app, &token, &client_id, &rs).await;
    let es_kid = es_cred["kid"].as_str().unwrap();
    let now = clock.now();

    // A signed assertion gets a token, with client_id (form) or without it (JSON).
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": es_kid});
    let assertion = es.sign(&header, &claims(&app, &client_id, now));
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_eq!(status, 200, "{body}");
    let verified = verify_independently(&app, body["access_token"].as_str().unwrap(), API).await;
    assert_eq!(verified["sub"], format!("{client_id}@clients"));
    assert_eq!(verified["scope"], "read:data");
    let response = app
        .token_json(
            &json!({"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
            "client_assertion": rs.sign(&json!({"alg": "RS256"}), &claims(&app, &client_id, now)),
            "audience": API}),
        )
        .await;
    assert_eq!(response.status(), 200, "RS256 without kid nor client_id");
    // aud may also be the issuer URL.
    let mut to_issuer = claims(&app, &client_id, now);
    to_issuer["aud"] = json!([app.issuer]);
    let (status, _) = with_assertion(&app, JWT_BEARER, None, &es.sign(&header, &to_issuer)).await;
    assert_eq!(status, 200);

    // Every refusal says what was wrong, as invalid_client, never quoting the assertion.
    let replay = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_invalid_client(&replay, "jti was already used", &assertion);

    let refusals: Vec<(&str, Value, Value)> = vec![
        (
            "aud must be",
            header.clone(),
            json!({"aud": "https://elsewhere.example.com/"}),
        ),
        (
            "has expired",
            header.clone(),
            json!({"iat": now - 600, "exp": now - 300}),
        ),
        ("lifetime", header.clone(), json!({"exp": now + 600})),
        ("no exp", header.clone(), json!({"exp": null})),
        ("no jti", header.clone(), json!({"jti": null})),
        (
            "iss must be the client ID",
            header.clone(),
            json!({"iss": "someone-else"}),
        ),
        (
            "registered for ES256",
            json!({"alg": "RS256", "kid": es_kid}),
            json!({}),
        ),
        (
            "kid names no credential",
            json!({"alg": "ES256", "kid": "unknown-kid"}),
            json!({}),
        ),
        (
            "alg is not accepted",
            json!({"alg": "HS256", "kid": es_kid}),
            json!({}),
        ),
        (
            "carries a key",
            json!({"alg": "ES256", "jwk": {"kty": "EC"}}),
            json!({}),
        ),
    ];
    for (says, header, changes) in refusals {
        let mut c = claims(&app, &client_id, now);
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                c.as_object_mut().unwrap().remove(name);
            } else {
                c[name] = value.clone();
            }
        }
        let assertion = es.sign(&header, &c);
        let answer = with_assertion(&app, JWT_BEARER, Some(&client_id), &assertion).await;
        assert_invalid_client(&answer, says, &assertion);
    }
    // Signed by a key the client did not register.
    let stranger = ClientKey::es256().sign(&header, &claims(&app, &client_id, now));
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &stranger).await,
        "signature does not verify",
        &stranger,
    );
    // client_id must match the assertion.
    let (other_id, _) = app.create_app(&[(API, &["read:data"])]).await;
    let assertion = es.sign(&header, &claims(&app, &client_id, now));
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&other_id), &assertion).await,
        "no private_key_jwt credentials",
        &assertion,
    );
    // A client with private_key_jwt credentials cannot use its secret.
    let (status, body) = token_form(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("audience", API),
        ],
    )
    .await;
    assert_invalid_client(&(status, body), "authenticates with private_key_jwt", "");
    // An unsupported assertion type, or a secret beside an assertion: invalid_request.
    let (status, body) = token_form(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:other"),
            ("client_assertion", &assertion),
            ("audience", API),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("client_assertion_type")
    );

    // A credential that expired is refused as such.
    let rs_id = rs_cred["id"].as_str().unwrap();
    let (status, _) = app
        .mgmt(
            Method::PATCH,
            &format!("/clients/{client_id}/credentials/{rs_id}"),
            Some(&token),
            Some(&json!({"expires_at": warrant_server::clock::rfc3339(now + 30)})),
        )
        .await;
    assert_eq!(status, 200);
    clock.advance(31);
    let late = rs.sign(
        &json!({"alg": "RS256"}),
        &claims(&app, &client_id, clock.now()),
    );
    assert_invalid_client(
        &with_assertion(&app, JWT_BEARER, Some(&client_id), &late).await,
        "credential expired",
        &late,
    );

    // The audit log names the method and the credential.
    let issued = logs_of(&app, &token, "seccft", 3).await;
    let es_id = es_cred["id"].as_str().unwrap();
    assert!(
        issued.iter().any(|e| e["description"]
            .as_str()
            .unwrap()
            .contains(&format!("private_key_jwt, credential {es_id}"))),
        "{issued:?}"
    );
}

#[tokio::test]
async fn sqlite_assertions_and_their_refusals() {
    assertions_and_their_refusals(Engine::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_assertions_and_their_refusals() {
    assertions_and_their_refusals(Engine::Postgres).await;
}

/// Many token requests at once, as a busy worker pool sends them: their `jti`s are recorded
/// together (a group commit), and each request still gets its own answer: every fresh
/// assertion a token, and of one assertion sent many times at once, exactly one.
async fn concurrent_assertions_each_count_once(engine: Engine) {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(engine, Arc::clone(&clock), false).await;
    let token = app.admin_token().await;
    app.create_api(API, &["read:data"], None).await;
    let (client_id, _) = app.create_app(&[(API, &["read:data"])]).await;
    let key = ClientKey::es256();
    register(&app, &token, &client_id, &key).await;
    let now = clock.now();
    let header = json!({"alg": "ES256"});
    let send = |assertion: String| {
        let request = app.http.post(app.token_endpoint()).form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.as_str()),
            ("audience", API),
        ]);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    // The client in memory first: lookups of clients not in memory are capped on their own.
    let (status, body) = send(key.sign(&header, &claims(&app, &client_id, now))).await;
    assert_eq!(status, 200, "{body}");
    let mut fresh = tokio::task::JoinSet::new();
    for _ in 0..200 {
        fresh.spawn(send(key.sign(&header, &claims(&app, &client_id, now))));
    }
    for (status, body) in fresh.join_all().await {
        assert_eq!(status, 200, "{body}");
    }

    // 16 at once: 15 failures stay under an address's failure budget (20), so that each
    // refusal is the replay's own answer, not a throttle's.
    let assertion = key.sign(&header, &claims(&app, &client_id, now));
    let mut same = tokio::task::JoinSet::new();
    for _ in 0..16 {
        same.spawn(send(assertion.clone()));
    }
    let answers = same.join_all().await;
    let issued = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(issued, 1, "{answers:?}");
    for answer in answers.iter().filter(|(status, _)| *status != 200) {
        assert_invalid_client(answer, "jti was already used", &assertion);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_assertions_each_count_once() {
    concurrent_assertions_each_count_once(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn postgres_concurrent_assertions_each_count_once() {
    concurrent_assertions_each_count_once(Engine::Postgres).await;
}

/// A replay at another instance on the same database is refused: the `jti` is recorded in the
/// database, not in one instance's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn a_replay_at_another_instance_is_refused() {
    let db = PgDatabase::create().await;
    let issuer = "https://auth.example.com/";
    let start = |dir: std::path::PathBuf| {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir);
        config.database_url = Some(Secret::new(db.url.clone()));
        config.master_key = Some(Secret::new(PG_MASTER_KEY));
        config.issuer = Some(issuer.to_owned());
        TestServer::builder().config(config).initialized().start()
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start(dir_a.path().to_owned()).await.unwrap();
    let b = start(dir_b.path().to_owned()).await.unwrap();
    a.create_api(API, &["read:data"], None).await;
    let (client_id, _) = a.create_app(&[(API, &["read:data"])]).await;
    let key = ClientKey::es256();
    let token = a.admin_token().await;
    register(&a, &token, &client_id, &key).await;
    b.sync().await;

    let now = warrant_server::clock::SystemClock.now();
    let assertion = key.sign(&json!({"alg": "ES256"}), &claims(&a, &client_id, now));
    let (status, body) = with_assertion(&a, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_eq!(status, 200, "{body}");
    let replay = with_assertion(&b, JWT_BEARER, Some(&client_id), &assertion).await;
    assert_invalid_client(&replay, "jti was already used", &assertion);
    // A fresh assertion works at the other instance.
    let fresh = key.sign(&json!({"alg": "ES256"}), &claims(&a, &client_id, now));
    let (status, body) = with_assertion(&b, JWT_BEARER, None, &fresh).await;
    assert_eq!(status, 200, "{body}");

    // One assertion sent to both at once, in each instance's batches: one token in all.
    let raced = key.sign(&json!({"alg": "ES256"}), &claims(&a, &client_id, now));
    let mut race = tokio::task::JoinSet::new();
    for instance in [&a, &b, &a, &b, &a, &b, &a, &b] {
        let request = instance.http.post(instance.token_endpoint()).form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", raced.as_str()),
            ("audience", API),
        ]);
        race.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let mut statuses = race.join_all().await;
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401, 401, 401, 401, 401, 401, 401]);
}

/// A client secret can expire too (`client_secret_expires_at`, RFC 7591's name, at creation
/// and at rotation): past it, the secret is refused as "credential expired".
#[tokio::test]
async fn client_secrets_expire_when_told() {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(Engine::Sqlite, Arc::clone(&clock), false).await;
    let token = app.admin_token().await;
    let t = Some(token.as_str());
    app.create_api(API, &["read:data"], None).await;
    let now = clock.now();
    let (status, created) = app
        .mgmt(
            Method::POST,
            "/clients",
            t,
            Some(&json!({"name": "expiring", "client_secret_expires_at": now + 60})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["client_secret_expires_at"], now + 60);
    let id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    let (status, _) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            t,
            Some(&json!({"client_id": id, "audience": API, "scope": ["read:data"]})),
        )
        .await;
    assert_eq!(status, 201);
    let request = |secret: &str| json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": API});
    assert_eq!(app.token_json(&request(&secret)).await.status(), 200);
    clock.advance(60);
    let response = app.token_json(&request(&secret)).await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("credential expired"),
        "{body}"
    );
    // A wrong secret still learns nothing more.
    let body: Value = app
        .token_json(&request("wrong"))
        .await
        .json()
        .await
        .unwrap();
    assert!(!body.to_string().contains("expired"), "{body}");

    // Rotation sets the new secret's expiry the same way.
    let until = clock.now() + 30;
    let (status, rotated) = app
        .mgmt(
            Method::POST,
            &format!("/clients/{id}/rotate-secret?client_secret_expires_at={until}"),
            t,
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["client_secret_expires_at"], until);
    let fresh = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(app.token_json(&request(&fresh)).await.status(), 200);
    clock.advance(30);
    let body: Value = app.token_json(&request(&fresh)).await.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("credential expired"),
        "{body}"
    );
}

/// Introspection and revocation read client authentication as the token endpoint does: a
/// private_key_jwt client introspects and revokes its token with assertions, a spent assertion
/// is refused there too, and so is its secret.
#[tokio::test]
async fn a_private_key_jwt_client_introspects_and_revokes() {
    let clock = Arc::new(ManualClock::new(warrant_server::clock::SystemClock.now()));
    let (app, _db) = start(Engine::Sqlite, Arc::clone(&clock), false).await;
    app.create_api(API, &["read:data"], None).await;
    let (client_id, secret) = app.create_app(&[(API, &["read:data"])]).await;
    let key = ClientKey::es256();
    register(&app, &app.admin_token().await, &client_id, &key).await;
    let fresh = || {
        key.sign(
            &json!({"alg": "ES256"}),
            &claims(&app, &client_id, clock.now()),
        )
    };
    let (status, body) = with_assertion(&app, JWT_BEARER, Some(&client_id), &fresh()).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();

    let call = |path: &'static str, assertion: String, with_id: bool| {
        let mut form = vec![
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", assertion),
            ("token", token.clone()),
        ];
        if with_id {
            form.push(("client_id", client_id.clone()));
        }
        let request = app.http.post(app.url(path)).form(&form);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
    };
    let (status, answer) = call("/oauth/introspect", fresh(), true).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], client_id.as_str());

    // A spent assertion, a bad type, a secret: refused as at the token endpoint.
    let spent = fresh();
    assert_eq!(call("/oauth/introspect", spent.clone(), false).await.0, 200);
    let (status, answer) = call("/oauth/introspect", spent.clone(), true).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .contains("jti was already used"),
        "{answer}"
    );
    assert!(!answer.to_string().contains(&spent));
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .form(&[
            ("client_assertion_type", "urn:example:other"),
            ("client_assertion", fresh().as_str()),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .http
        .post(app.url("/oauth/introspect"))
        .form(&[
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let (status, body) = call("/oauth/revoke", fresh(), true).await;
    assert_eq!(status, 200, "{body}");
    let (_, answer) = call("/oauth/introspect", fresh(), true).await;
    assert_eq!(answer, json!({"active": false}));
}
