//! What real clients found: management bodies are JSON objects (never arrays mapped onto fields
//! by position), every signing key has a self-signed certificate (published as `x5c`/`x5t`, shown
//! by the management API as Auth0 shows it), and the discovery documents name a response type.

use std::sync::Arc;

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::json;
use warrant_server::catalog::Catalog;
use warrant_server::clock::{Clock, SystemClock};
use warrant_server::keys::{KeyStatus, MasterKey, SigningKey};
use warrant_server::startup::prepare_signing_keys;
use warrant_server::store::Store;
use warrant_testkit::PgDatabase;

use crate::support::{TestServer, spawn_app};

/// Creates an API, an application and a grant through the management API; returns their ids.
async fn fixtures(app: &TestServer, token: &str) -> (String, String, String) {
    let (status, api) = app
        .mgmt(
            Method::POST,
            "/resource-servers",
            Some(token),
            Some(
                &json!({"identifier": "https://obj.example.com", "name": "Obj",
                "scopes": [{"value": "read:x"}]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{api}");
    let (status, client) = app
        .mgmt(
            Method::POST,
            "/clients",
            Some(token),
            Some(&json!({"name": "worker"})),
        )
        .await;
    assert_eq!(status, 201, "{}", client["message"]);
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let (status, grant) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            Some(token),
            Some(
                &json!({"client_id": client_id, "audience": "https://obj.example.com",
                "scope": ["read:x"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    (
        api["id"].as_str().unwrap().to_owned(),
        client_id,
        grant["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn management_bodies_must_be_json_objects() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (api_id, client_id, grant_id) = fixtures(&app, &token).await;

    let writes = [
        (
            Method::POST,
            "/resource-servers".to_owned(),
            json!(["https://arr.example.com", "Arr"]),
        ),
        (
            Method::PATCH,
            format!("/resource-servers/{api_id}"),
            json!(["Renamed"]),
        ),
        (
            Method::POST,
            "/clients".to_owned(),
            json!(["arr-app", "made from an array"]),
        ),
        (
            Method::PATCH,
            format!("/clients/{client_id}"),
            json!(["renamed"]),
        ),
        (
            Method::POST,
            "/client-grants".to_owned(),
            json!([client_id, "https://obj.example.com", []]),
        ),
        (
            Method::PATCH,
            format!("/client-grants/{grant_id}"),
            json!([[]]),
        ),
    ];
    for (method, path, array) in &writes {
        for body in [
            array.clone(),
            json!(null),
            json!("text"),
            json!(7),
            json!(true),
        ] {
            let (status, answer) = app
                .mgmt(method.clone(), path, Some(&token), Some(&body))
                .await;
            assert_eq!(status, 400, "{method} {path} {body}: {answer}");
            assert_eq!(answer["statusCode"], 400, "{answer}");
            assert_eq!(answer["errorCode"], "invalid_body", "{answer}");
            assert_eq!(answer["error"], "Bad Request", "{answer}");
            assert!(
                answer["message"]
                    .as_str()
                    .unwrap()
                    .contains("must be a JSON object"),
                "{answer}"
            );
        }
    }

    // Nested structs are objects too: never filled by position.
    let nested = [
        (
            Method::POST,
            "/resource-servers".to_owned(),
            json!({"identifier": "https://nested.example.com", "scopes": [["read:y", "Y"]]}),
            "scopes[0]",
        ),
        (
            Method::PATCH,
            format!("/resource-servers/{api_id}"),
            json!({"scopes": [["read:y", "Y"]]}),
            "scopes[0]",
        ),
        (
            Method::POST,
            "/clients".to_owned(),
            json!({"name": "q", "token_quota": {"client_credentials": [true, 5, 10]}}),
            "token_quota.client_credentials",
        ),
        (
            Method::PATCH,
            format!("/clients/{client_id}"),
            json!({"token_quota": [[true, 5, 10]]}),
            "token_quota",
        ),
    ];
    for (method, path, body, field) in &nested {
        let (status, answer) = app
            .mgmt(method.clone(), path, Some(&token), Some(body))
            .await;
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        assert_eq!(answer["errorCode"], "invalid_body", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("'{field}'")) && message.contains("a JSON object"),
            "{answer}"
        );
    }
    // A member given twice is still refused, not silently the last one.
    let (status, answer) = app
        .mgmt_raw(
            Method::PATCH,
            &format!("/clients/{client_id}"),
            &token,
            r#"{"name": "a", "name": "b"}"#,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("duplicate field")
    );

    // Nothing was written.
    let (_, apis) = app
        .mgmt(Method::GET, "/resource-servers", Some(&token), None)
        .await;
    let identifiers: Vec<&str> = apis
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["identifier"].as_str().unwrap())
        .collect();
    assert!(!identifiers.contains(&"https://arr.example.com"), "{apis}");
    assert!(
        !identifiers.contains(&"https://nested.example.com"),
        "{apis}"
    );
    let (_, api) = app
        .mgmt(
            Method::GET,
            &format!("/resource-servers/{api_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(api["name"], "Obj");
    assert_eq!(
        api["scopes"],
        json!([{"value": "read:x", "description": ""}])
    );
    let (_, client) = app
        .mgmt(
            Method::GET,
            &format!("/clients/{client_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(client["name"], "worker");
    assert!(client.get("token_quota").is_none(), "{client}");
    let (_, clients) = app.mgmt(Method::GET, "/clients", Some(&token), None).await;
    assert!(
        !clients
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "arr-app" || c["name"] == "q"),
        "{clients}"
    );
    let (_, grant) = app
        .mgmt(
            Method::GET,
            &format!("/client-grants/{grant_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(grant["scope"], json!(["read:x"]));
}

/// Reads the DER element at the start of `der`: (tag, content, the element whole, the rest).
fn tlv(der: &[u8]) -> (u8, &[u8], &[u8], &[u8]) {
    let (len, header) = if der[1] < 0x80 {
        (usize::from(der[1]), 2)
    } else {
        let n = usize::from(der[1] & 0x7f);
        let len = der[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, 2 + n)
    };
    (
        der[0],
        &der[header..header + len],
        &der[..header + len],
        &der[header + len..],
    )
}

fn strip_zero(int: &[u8]) -> &[u8] {
    int.strip_prefix(&[0]).unwrap_or(int)
}

/// Checks that `der` is a certificate for the RSA key `n`/`e` (base64url), signed by it.
fn assert_certificate_of(der: &[u8], n: &str, e: &str) {
    let n = URL_SAFE_NO_PAD.decode(n).unwrap();
    let e = URL_SAFE_NO_PAD.decode(e).unwrap();
    let (tag, certificate, _, rest) = tlv(der);
    assert_eq!((tag, rest.len()), (0x30, 0));
    let (_, tbs, tbs_whole, rest) = tlv(certificate);
    let (_, _signature_alg, _, rest) = tlv(rest);
    let (tag, signature, _, _) = tlv(rest);
    assert_eq!(tag, 0x03);
    // version, serial, signature algorithm, issuer, validity, subject, then the public key.
    let mut fields = tbs;
    for _ in 0..6 {
        fields = tlv(fields).3;
    }
    let (_, spki, _, _) = tlv(fields);
    let (_, _algorithm, _, rest) = tlv(spki);
    let (tag, bits, _, _) = tlv(rest);
    assert_eq!(tag, 0x03);
    let (_, rsa, _, _) = tlv(&bits[1..]);
    let (_, cert_n, _, rest) = tlv(rsa);
    let (_, cert_e, _, _) = tlv(rest);
    assert_eq!(
        strip_zero(cert_n),
        n.as_slice(),
        "the certificate's modulus is the JWK's"
    );
    assert_eq!(
        strip_zero(cert_e),
        e.as_slice(),
        "the certificate's exponent is the JWK's"
    );
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, tbs_whole, &signature[1..])
        .expect("the certificate is signed by its own key");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn pem_der(pem: &str, label: &str) -> Vec<u8> {
    let body: String = pem
        .strip_prefix(&format!("-----BEGIN {label}-----\r\n"))
        .and_then(|rest| rest.strip_suffix(&format!("-----END {label}-----")))
        .unwrap_or_else(|| panic!("not a {label} PEM: {pem}"))
        .split("\r\n")
        .collect();
    STANDARD.decode(body).unwrap()
}

#[tokio::test]
async fn jwks_certificates_are_the_keys_own_and_the_management_api_shows_them() {
    let app = spawn_app().await;
    let jwks = app.jwks().await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    let mut certificates = Vec::new();
    for key in keys {
        let x5c = key["x5c"].as_array().expect("x5c");
        assert_eq!(x5c.len(), 1, "{key}");
        let der = STANDARD.decode(x5c[0].as_str().unwrap()).unwrap();
        assert_certificate_of(&der, key["n"].as_str().unwrap(), key["e"].as_str().unwrap());
        let sha1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, &der);
        assert_eq!(key["x5t"], URL_SAFE_NO_PAD.encode(sha1));
        certificates.push((key["kid"].as_str().unwrap().to_owned(), der));
    }

    let token = app.admin_token().await;
    let (status, listed) = app
        .mgmt(Method::GET, "/keys/signing", Some(&token), None)
        .await;
    assert_eq!(status, 200);
    for (kid, der) in &certificates {
        let key = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap();
        let (_, one) = app
            .mgmt(
                Method::GET,
                &format!("/keys/signing/{kid}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(&one, key);
        assert_eq!(&pem_der(key["cert"].as_str().unwrap(), "CERTIFICATE"), der);
        let sha1 = hex(digest(&SHA1_FOR_LEGACY_USE_ONLY, der).as_ref());
        assert_eq!(key["thumbprint"], sha1);
        let pairs: Vec<&str> = (0..20).map(|i| &sha1[2 * i..2 * i + 2]).collect();
        assert_eq!(key["fingerprint"], pairs.join(":"));
        let pkcs7 = pem_der(key["pkcs7"].as_str().unwrap(), "PKCS7");
        assert!(pkcs7.windows(der.len()).any(|w| w == der.as_slice()));
        assert_eq!(key["public_jwk"]["x5c"][0], STANDARD.encode(der));
    }

    // Rotation publishes a new next key with its own certificate; tokens verify as before.
    let (status, _) = app
        .mgmt(Method::POST, "/keys/signing/rotate", Some(&token), None)
        .await;
    assert_eq!(status, 201);
    app.sync().await;
    let jwks = app.jwks().await;
    for key in jwks["keys"].as_array().unwrap() {
        let der = STANDARD.decode(key["x5c"][0].as_str().unwrap()).unwrap();
        assert_certificate_of(&der, key["n"].as_str().unwrap(), key["e"].as_str().unwrap());
    }
    let (id, secret) = app.with_worker().await;
    let token = app.token(&id, &secret).await;
    crate::support::verify_independently(&app, &token, crate::support::API).await;

    // warrant-guard takes keys from n and e only: with each key's certificate swapped for the
    // other's the token still verifies; with the modulus swapped it does not.
    let served: warrant_proto::Jwks = serde_json::from_value(app.jwks().await).unwrap();
    let verify = |jwks: warrant_proto::Jwks| {
        let verifier = warrant_guard::Verifier::builder(app.issuer.clone(), crate::support::API)
            .manual_keys()
            .build()
            .unwrap();
        verifier.set_keys(&jwks);
        let token = token.clone();
        async move { verifier.verify(&token).await.is_ok() }
    };
    assert!(verify(served.clone()).await);
    let mut swapped = served.clone();
    let (a, b) = (swapped.keys[0].clone(), swapped.keys[1].clone());
    (swapped.keys[0].x5c, swapped.keys[1].x5c) = (b.x5c.clone(), a.x5c.clone());
    (swapped.keys[0].x5t, swapped.keys[1].x5t) = (b.x5t.clone(), a.x5t.clone());
    assert!(verify(swapped).await, "x5c is ignored");
    let mut wrong = served;
    (wrong.keys[0].n, wrong.keys[1].n) = (b.n, a.n);
    assert!(!verify(wrong).await, "the key is n and e");
}

/// Keys stored before certificates get one, signed by themselves, when a server starts on the
/// store; of two servers doing so, the first certificate stays.
#[tokio::test]
async fn keys_stored_without_a_certificate_get_one_when_a_server_starts() {
    let dir = tempfile::tempdir().unwrap();
    check_certificates_added(Store::open_data_dir(dir.path()).await.unwrap()).await;
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_postgres),
    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
)]
async fn keys_stored_without_a_certificate_get_one_on_postgres_too() {
    let db = PgDatabase::create().await;
    check_certificates_added(Store::connect(&db.url).await.unwrap()).await;
}

async fn check_certificates_added(store: Store) {
    let master = Arc::new(MasterKey::from_bytes([7; 32]));
    for status in [KeyStatus::Current, KeyStatus::Next] {
        let mut stored = SigningKey::generate()
            .unwrap()
            .to_stored(&master, status, 1_600_000_000)
            .unwrap();
        assert!(stored.certificate.is_some());
        stored.certificate = None;
        store.insert_signing_key(&stored).await.unwrap();
    }
    prepare_signing_keys(&store, &master, Default::default(), SystemClock.now())
        .await
        .unwrap();
    let catalog = Catalog::open(
        store.clone(),
        Arc::clone(&master),
        Arc::new(SystemClock),
        16,
    )
    .await
    .unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    let published = catalog.snapshot().published_keys().clone();
    for key in &keys {
        let der = key.certificate.clone().expect("a certificate was added");
        let jwk = &key.public_jwk;
        assert_certificate_of(&der, jwk.n.as_ref().unwrap(), jwk.e.as_ref().unwrap());
        let served = published.keys.iter().find(|k| k.kid == jwk.kid).unwrap();
        assert_eq!(served.x5c, Some(vec![STANDARD.encode(&der)]));
    }
    // A second start (another instance) keeps the certificates there are.
    store
        .add_signing_key_certificate(&keys[0].kid, b"another")
        .await
        .unwrap();
    prepare_signing_keys(&store, &master, Default::default(), SystemClock.now())
        .await
        .unwrap();
    assert_eq!(store.list_signing_keys().await.unwrap(), keys);
}
