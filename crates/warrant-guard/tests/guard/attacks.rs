//! The attack corpus: crafted tokens, each refused with the right error by the verifier and
//! with 401 `invalid_token` by the axum layer.

use aws_lc_rs::hmac;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use serde_json::json;
use tower::ServiceExt;
use warrant_guard::axum::GuardLayer;
use warrant_guard::{Algorithm, Claims, Error, Verifier};

use crate::support::{AUDIENCE, EcKey, ISSUER, JwksServer, RsaKey, b64, claims, claims_with, now};

fn header(alg: &str, kid: &str) -> String {
    json!({"alg": alg, "typ": "at+jwt", "kid": kid}).to_string()
}

fn hs256(secret: &[u8], header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

#[tokio::test]
async fn every_crafted_token_is_refused() {
    let key = RsaKey::generate("k1");
    let attacker = RsaKey::generate("k1");
    let ec = EcKey::generate("ec1");
    let jwks = JwksServer::start(vec![key.jwk(), ec.jwk()]).await;
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .build()
        .unwrap();
    let good = key.token(&claims());
    assert!(
        verifier.verify(&good).await.is_ok(),
        "the control token must pass"
    );

    let payload = claims().to_string();
    let (h, p, s) = {
        let mut parts = good.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let signed = |claims: serde_json::Value| key.token(&claims);
    let raw = |header: serde_json::Value| key.token_raw(&header.to_string(), &payload);
    let future = now() + 600;
    let mut tampered_payload = claims();
    tampered_payload["scope"] = json!("read:data delete:documents");

    let cases: Vec<(&str, String, Error)> = vec![
        ("alg none, empty signature", format!("{}.{}.", b64(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#), b64(&payload)), Error::Malformed("the signature is empty")),
        ("alg none", format!("{}.{}.{s}", b64(header("none", "k1")), b64(&payload)), Error::AlgorithmNotAllowed),
        ("alg None", format!("{}.{}.{s}", b64(header("None", "k1")), b64(&payload)), Error::AlgorithmNotAllowed),
        ("alg NONE", format!("{}.{}.{s}", b64(header("NONE", "k1")), b64(&payload)), Error::AlgorithmNotAllowed),
        ("alg nOnE", format!("{}.{}.{s}", b64(header("nOnE", "k1")), b64(&payload)), Error::AlgorithmNotAllowed),
        ("alg rs256 (case)", raw(json!({"alg": "rs256", "typ": "at+jwt", "kid": "k1"})), Error::AlgorithmNotAllowed),
        ("HS256 with the RSA public key as secret", hs256(&key.public_bytes(), &header("HS256", "k1"), &payload), Error::AlgorithmNotAllowed),
        ("HS256 with the JWK n as secret", hs256(key.jwk()["n"].as_str().unwrap().as_bytes(), &header("HS256", "k1"), &payload), Error::AlgorithmNotAllowed),
        ("ES256 token, not allowed", ec.token_raw(&header("ES256", "ec1"), &payload), Error::AlgorithmNotAllowed),
        ("embedded jwk", attacker.token_raw(&json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1", "jwk": attacker.jwk()}).to_string(), &payload), Error::EmbeddedKey),
        ("jku elsewhere", attacker.token_raw(&json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1", "jku": "https://evil.example/jwks.json"}).to_string(), &payload), Error::EmbeddedKey),
        ("x5u elsewhere", attacker.token_raw(&json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1", "x5u": "https://evil.example/cert.pem"}).to_string(), &payload), Error::EmbeddedKey),
        ("x5c chain", attacker.token_raw(&json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1", "x5c": ["MIIB"]}).to_string(), &payload), Error::EmbeddedKey),
        ("kid path traversal", attacker.token_raw(&header("RS256", "../../../../etc/passwd"), &payload), Error::UnknownKey),
        ("kid SQL injection", attacker.token_raw(&header("RS256", "' OR '1'='1' --"), &payload), Error::UnknownKey),
        ("kid command injection", attacker.token_raw(&header("RS256", "k1; rm -rf /"), &payload), Error::UnknownKey),
        ("kid 300 characters", attacker.token_raw(&header("RS256", &"k".repeat(300)), &payload), Error::UnknownKey),
        ("kid a number", raw(json!({"alg": "RS256", "typ": "at+jwt", "kid": 1})), Error::UnknownKey),
        ("no kid", raw(json!({"alg": "RS256", "typ": "at+jwt"})), Error::UnknownKey),
        ("unknown crit", raw(json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1", "crit": ["exp"], "exp": 1})), Error::UnsupportedHeader),
        ("b64 false", raw(json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1", "b64": false, "crit": ["b64"]})), Error::UnsupportedHeader),
        ("typ JWT when strict", raw(json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})), Error::WrongType),
        ("no typ when strict", raw(json!({"alg": "RS256", "kid": "k1"})), Error::WrongType),
        ("ID-token-like", key.token_raw(&json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}).to_string(), &claims_with(json!({"aud": "worker", "nonce": "n", "auth_time": now()})).to_string()), Error::WrongType),
        ("wrong iss", signed(claims_with(json!({"iss": "https://evil.example/"}))), Error::WrongIssuer),
        ("iss without trailing slash", signed(claims_with(json!({"iss": "https://issuer.test"}))), Error::WrongIssuer),
        ("wrong aud", signed(claims_with(json!({"aud": "https://other.example.com"}))), Error::WrongAudience),
        ("aud array without ours", signed(claims_with(json!({"aud": ["https://a", "https://b"]}))), Error::WrongAudience),
        ("expired", signed(claims_with(json!({"exp": now() - 120}))), Error::Expired),
        ("nbf in the future", signed(claims_with(json!({"nbf": future}))), Error::NotYetValid),
        ("iat in the future", signed(claims_with(json!({"iat": future}))), Error::IssuedInFuture),
        ("exp a string", signed(claims_with(json!({"exp": (now() + 3600).to_string()}))), Error::InvalidClaim("exp")),
        ("nbf a string", signed(claims_with(json!({"nbf": "0"}))), Error::InvalidClaim("nbf")),
        ("missing exp", signed(claims_with(json!({"exp": null}))), Error::InvalidClaim("exp")),
        ("duplicate header member", key.token_raw(r#"{"alg":"RS256","typ":"at+jwt","kid":"k1","kid":"k1"}"#, &payload), Error::Malformed("a JSON member appears twice")),
        ("duplicate payload member", key.token_raw(&header("RS256", "k1"), &payload.replacen('{', r#"{"aud":"https://other","#, 1)), Error::Malformed("a JSON member appears twice")),
        ("oversized token", signed(claims_with(json!({"pad": "x".repeat(9 * 1024)}))), Error::TooLong),
        ("four parts", format!("{h}.{p}.{s}.{s}"), Error::Malformed("a compact JWS has exactly three parts")),
        ("five parts", format!("{h}.{p}.{s}.{s}.{s}"), Error::Malformed("a compact JWS has exactly three parts")),
        ("two parts", format!("{h}.{p}"), Error::Malformed("a compact JWS has exactly three parts")),
        ("JSON serialization", json!({"payload": p, "signatures": [{"protected": h, "signature": s}]}).to_string(), Error::Malformed("a compact JWS has exactly three parts")),
        ("signature from another key", attacker.token(&claims()), Error::BadSignature),
        ("truncated signature", format!("{h}.{p}.{}", &s[..s.len() - 10]), Error::BadSignature),
        ("modified payload, original signature", format!("{h}.{}.{s}", b64(tampered_payload.to_string())), Error::BadSignature),
        ("standard base64 characters", format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/") + "+/"), Error::Malformed("the signature is not base64url")),
        ("padding in the header", format!("{h}=.{p}.{s}"), Error::Malformed("the header is not base64url")),
        ("payload not JSON", key.token_raw(&header("RS256", "k1"), "not json"), Error::Malformed("the payload is not a JSON object")),
        ("payload a JSON array", key.token_raw(&header("RS256", "k1"), "[1,2]"), Error::Malformed("the payload is not a JSON object")),
    ];
    assert!(cases.len() >= 30);

    let app = Router::new()
        .route("/", get(|_: Claims| async { "ok" }))
        .layer(GuardLayer::new(verifier.clone()));
    for (name, token, expected) in &cases {
        let got = verifier.verify(token).await.map(|_| ()).unwrap_err();
        assert_eq!(&got, expected, "{name}");
        let response = app
            .clone()
            .oneshot(
                Request::get("/")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        if status == 400 {
            // Characters outside RFC 6750's token68 are refused before verification.
            assert!(challenge.contains("invalid_request"), "{name}: {challenge}");
            continue;
        }
        assert_eq!(status, 401, "{name}");
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{name}: {challenge}"
        );
        assert!(
            !challenge.contains("k1") && !challenge.contains(AUDIENCE),
            "{name}: {challenge}"
        );
    }
    // The first fetch, plus at most one refetch for all the unknown key IDs in the corpus.
    assert_eq!(jwks.hits(), 2);
}

#[tokio::test]
async fn key_type_binding_stops_algorithm_and_curve_mix_ups() {
    let rsa = RsaKey::generate("rsa");
    let ec = EcKey::generate("ec");
    let jwks = JwksServer::start(vec![rsa.jwk(), ec.jwk()]).await;
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .algorithms(&[Algorithm::RS256, Algorithm::ES256, Algorithm::ES384])
        .build()
        .unwrap();
    let payload = claims().to_string();
    assert!(
        verifier
            .verify(&ec.token_raw(&header("ES256", "ec"), &payload))
            .await
            .is_ok()
    );
    // ES256 header pointing at the RSA key; ES384 header with a P-256 key; RS256 at the EC key.
    let cases = [
        ec.token_raw(&header("ES256", "rsa"), &payload),
        ec.token_raw(&header("ES384", "ec"), &payload),
        rsa.token_raw(&header("RS256", "ec"), &payload),
    ];
    for token in cases {
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            Error::KeyMismatch
        );
    }
}

#[tokio::test]
async fn jwt_typ_can_be_allowed_for_other_issuers() {
    let key = RsaKey::generate("k1");
    let jwks = JwksServer::start(vec![key.jwk()]).await;
    let verifier = Verifier::builder(ISSUER, AUDIENCE)
        .jwks_url(&jwks.url)
        .accept_jwt_typ()
        .build()
        .unwrap();
    let token = key.token_raw(
        &json!({"alg": "RS256", "typ": "JWT", "kid": "k1"}).to_string(),
        &claims().to_string(),
    );
    let verified = verifier.verify(&token).await.unwrap();
    assert_eq!(verified.sub(), "worker@clients");
    assert_eq!(verified.client_id(), Some("worker"));
    assert!(verified.has_scope("read:data"));
}
