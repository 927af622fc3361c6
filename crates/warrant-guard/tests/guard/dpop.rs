//! DPoP (RFC 9449) at the guard: a bound token with its proof is accepted for each algorithm;
//! every refusal answers 401 with a `DPoP` challenge naming the algorithms.

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tower::ServiceExt;
use warrant_guard::axum::{DpopBinding, GuardLayer, RequireScope, require_dpop, require_scope};
use warrant_guard::{Claims, DpopNonces, DpopVerifier, Verifier};

use crate::support::{
    AUDIENCE, ISSUER, JwksServer, ProofKey, RsaKey, ath, b64, claims_with, now, unique_jti,
};

const URL: &str = "http://api.test/data";
const ALGS: &str = "algs=\"ES256 EdDSA PS256 RS256\"";

struct Api {
    key: RsaKey,
    _jwks: JwksServer,
    verifier: Verifier,
}

impl Api {
    async fn start(token_cache: bool) -> Self {
        let key = RsaKey::generate("k1");
        let jwks = JwksServer::start(vec![key.jwk()]).await;
        let mut builder = Verifier::builder(ISSUER, AUDIENCE).jwks_url(&jwks.url);
        if token_cache {
            builder = builder.token_cache(100);
        }
        Self {
            key,
            _jwks: jwks,
            verifier: builder.build().unwrap(),
        }
    }

    fn bound_token(&self, proof_key: &ProofKey) -> String {
        self.key
            .token(&claims_with(json!({"cnf": {"jkt": proof_key.jkt()}})))
    }

    fn bearer_token(&self) -> String {
        self.key.token(&claims_with(json!({})))
    }
}

async fn data(claims: Claims, binding: Option<axum::Extension<DpopBinding>>) -> String {
    match binding {
        Some(axum::Extension(b)) => format!("{} dpop {}", claims.sub(), b.jkt()),
        None => format!("{} bearer", claims.sub()),
    }
}

fn app(layer: GuardLayer) -> Router {
    Router::new()
        .route("/data", get(data).post(data))
        .route("/strict", get(data).route_layer(require_dpop()))
        .layer(layer.realm("internal"))
}

struct Answer {
    status: u16,
    challenges: Vec<String>,
    body: Value,
    /// The `DPoP-Nonce` header.
    nonce: Option<String>,
}

async fn call(app: &Router, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "api.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer {
        status,
        challenges,
        body,
        nonce,
    }
}

async fn dpop_call(app: &Router, method: &str, path: &str, token: &str, proof: &str) -> Answer {
    let auth = format!("DPoP {token}");
    call(
        app,
        method,
        path,
        &[("authorization", &auth), ("dpop", proof)],
    )
    .await
}

fn assert_proof_refused(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {:?}", answer.body);
    assert_eq!(answer.body["error"], "invalid_dpop_proof", "{what}");
    assert_eq!(answer.challenges.len(), 1, "{what}");
    let challenge = &answer.challenges[0];
    assert!(
        challenge.starts_with("DPoP realm=\"internal\", error=\"invalid_dpop_proof\""),
        "{what}: {challenge}"
    );
    assert!(challenge.ends_with(ALGS), "{what}: {challenge}");
}

#[tokio::test]
async fn a_bound_token_with_its_proof_passes_for_each_algorithm() {
    let api = Api::start(false).await;
    let app = app(GuardLayer::new(api.verifier.clone()).dpop(DpopVerifier::new()));
    for key in ProofKey::all() {
        let token = api.bound_token(&key);
        let proof = key.proof("GET", URL, Some(&token));
        let answer = dpop_call(&app, "GET", "/data", &token, &proof).await;
        assert_eq!(answer.status, 200, "{}: {:?}", key.alg(), answer.body);
        assert_eq!(
            answer.body,
            Value::String(format!("worker@clients dpop {}", key.jkt())),
            "{}",
            key.alg()
        );
        // The same proof again is a replay.
        let again = dpop_call(&app, "GET", "/data", &token, &proof).await;
        assert_proof_refused(&again, "replayed");
        assert_eq!(
            again.body["error_description"],
            "the DPoP proof has been used before"
        );
    }
}

#[tokio::test]
async fn every_bad_proof_is_refused_with_a_dpop_challenge() {
    let api = Api::start(false).await;
    let app = app(GuardLayer::new(api.verifier.clone()).dpop(DpopVerifier::new()));
    let key = ProofKey::es256();
    let other = ProofKey::es256();
    let token = api.bound_token(&key);
    let good = || key.claims("GET", URL, Some(&token));
    let with = |changes: Value| {
        let mut claims = good();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        key.sign_raw(&key.header(), &claims)
    };
    let mut private_jwk = key.header();
    private_jwk["jwk"]["d"] = json!(b64([7u8; 32]));
    let mut typ_jwt = key.header();
    typ_jwt["typ"] = json!("JWT");
    let mut no_jwk = key.header();
    no_jwk.as_object_mut().unwrap().remove("jwk");
    let mut jku = key.header();
    jku["jku"] = json!("https://evil.test/jwks");
    let hs256 = {
        let header =
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}});
        format!(
            "{}.{}.{}",
            b64(header.to_string()),
            b64(good().to_string()),
            b64("sig")
        )
    };
    let none = {
        let header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()});
        format!(
            "{}.{}.{}",
            b64(header.to_string()),
            b64(good().to_string()),
            b64("sig")
        )
    };
    // The header names key A but B signed.
    let foreign_signature = {
        let input = format!(
            "{}.{}",
            b64(key.header().to_string()),
            b64(good().to_string())
        );
        format!("{input}.{}", b64(other.sign(&input)))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong htm",
            with(json!({"htm": "POST"})),
            "htm does not match",
        ),
        (
            "wrong htu path",
            with(json!({"htu": "http://api.test/other"})),
            "htu does not match",
        ),
        (
            "proof for another host",
            with(json!({"htu": "http://evil.test/data"})),
            "htu does not match",
        ),
        (
            "https instead of http",
            with(json!({"htu": "https://api.test/data"})),
            "htu does not match",
        ),
        (
            "wrong ath",
            with(json!({"ath": ath("another token")})),
            "ath does not match",
        ),
        ("no ath", with(json!({"ath": null})), "ath claim"),
        ("stale iat", with(json!({"iat": now() - 120})), "too old"),
        (
            "future iat",
            with(json!({"iat": now() + 120})),
            "in the future",
        ),
        (
            "iat as a string",
            with(json!({"iat": now().to_string()})),
            "iat claim",
        ),
        ("no jti", with(json!({"jti": null})), "jti claim"),
        (
            "signed by another key than cnf.jkt",
            other.proof("GET", URL, Some(&token)),
            "key the access token is not bound to",
        ),
        (
            "signature by a key other than the jwk",
            foreign_signature,
            "signature is invalid",
        ),
        (
            "private key in jwk",
            key.sign_raw(&private_jwk, &good()),
            "private key",
        ),
        (
            "typ JWT",
            key.sign_raw(&typ_jwt, &good()),
            "typ must be dpop+jwt",
        ),
        ("no jwk", key.sign_raw(&no_jwk, &good()), "malformed"),
        ("jku", key.sign_raw(&jku, &good()), "not accepted"),
        ("alg HS256", hs256, "algorithm is not accepted"),
        ("alg none", none, "algorithm is not accepted"),
        ("garbage", "not-a-jws".into(), "malformed"),
    ];
    for (what, proof, description) in cases {
        let answer = dpop_call(&app, "GET", "/data", &token, &proof).await;
        assert_proof_refused(&answer, what);
        let said = answer.body["error_description"].as_str().unwrap();
        assert!(said.contains(description), "{what}: {said}");
    }
    let auth = format!("DPoP {token}");
    let missing = call(&app, "GET", "/data", &[("authorization", &auth)]).await;
    assert_proof_refused(&missing, "missing proof");
    let proof = key.proof("GET", URL, Some(&token));
    let twice = call(
        &app,
        "GET",
        "/data",
        &[("authorization", &auth), ("dpop", &proof), ("dpop", &proof)],
    )
    .await;
    assert_proof_refused(&twice, "two DPoP headers");
    // A proof for GET used for a POST of the same URL.
    let post_answer = dpop_call(&app, "POST", "/data", &token, &proof).await;
    assert_proof_refused(&post_answer, "proof for another method");
    // None of the refused proofs took the place of the good one.
    assert_eq!(
        dpop_call(&app, "GET", "/data", &token, &proof).await.status,
        200
    );
}

#[tokio::test]
async fn tokens_sent_the_wrong_way_are_refused() {
    let api = Api::start(false).await;
    let key = ProofKey::es256();
    let bound = api.bound_token(&key);
    let bearer = api.bearer_token();
    for layer in [
        GuardLayer::new(api.verifier.clone()).dpop(DpopVerifier::new()),
        // Without DPoP configured, a bound token as Bearer is refused all the same.
        GuardLayer::new(api.verifier.clone()),
    ] {
        let app = app(layer);
        let auth = format!("Bearer {bound}");
        let proof = key.proof("GET", URL, Some(&bound));
        let answer = call(
            &app,
            "GET",
            "/data",
            &[("authorization", &auth), ("dpop", &proof)],
        )
        .await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.body["error"], "invalid_token");
        assert!(
            answer.challenges[0].starts_with("DPoP realm=\"internal\", error=\"invalid_token\""),
            "{:?}",
            answer.challenges
        );
    }
    let app = app(GuardLayer::new(api.verifier.clone()).dpop(DpopVerifier::new()));
    // An unbound token with the DPoP scheme.
    let proof = key.proof("GET", URL, Some(&bearer));
    let answer = dpop_call(&app, "GET", "/data", &bearer, &proof).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.body["error_description"],
        "the token is not bound to a DPoP key"
    );
    // A plain bearer token still works where DPoP is optional...
    let auth = format!("Bearer {bearer}");
    let answer = call(&app, "GET", "/data", &[("authorization", &auth)]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "worker@clients bearer");
    // ...but not on a route that requires DPoP, nor without credentials.
    let answer = call(&app, "GET", "/strict", &[("authorization", &auth)]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.challenges.len(), 1);
    assert!(answer.challenges[0].starts_with("DPoP realm=\"internal\", error=\"invalid_token\""));
    assert!(answer.challenges[0].ends_with(ALGS));
    let answer = call(&app, "GET", "/data", &[]).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.challenges,
        [
            "Bearer realm=\"internal\"".to_owned(),
            format!("DPoP realm=\"internal\", {ALGS}")
        ]
    );
    let strict_proof = key.proof("GET", "http://api.test/strict", Some(&bound));
    let answer = dpop_call(&app, "GET", "/strict", &bound, &strict_proof).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    // A layer that requires DPoP: bearer tokens refused, one DPoP challenge.
    let strict = app_required(&api);
    let answer = call(&strict, "GET", "/data", &[("authorization", &auth)]).await;
    assert_eq!(answer.status, 401);
    assert!(answer.challenges[0].starts_with("DPoP realm=\"internal\", error=\"invalid_token\""));
    let answer = call(&strict, "GET", "/data", &[]).await;
    assert_eq!(
        answer.challenges,
        [format!("DPoP realm=\"internal\", {ALGS}")]
    );
    let proof = key.proof("GET", URL, Some(&bound));
    assert_eq!(
        dpop_call(&strict, "GET", "/data", &bound, &proof)
            .await
            .status,
        200
    );
}

fn app_required(api: &Api) -> Router {
    app(GuardLayer::new(api.verifier.clone()).require_dpop())
}

#[tokio::test]
async fn cached_tokens_still_need_a_fresh_proof_each_time() {
    let api = Api::start(true).await;
    let app = app(GuardLayer::new(api.verifier.clone()).dpop(DpopVerifier::new()));
    let key = ProofKey::eddsa();
    let token = api.bound_token(&key);
    for _ in 0..3 {
        let proof = key.proof("GET", URL, Some(&token));
        assert_eq!(
            dpop_call(&app, "GET", "/data", &token, &proof).await.status,
            200
        );
        assert_proof_refused(
            &dpop_call(&app, "GET", "/data", &token, &proof).await,
            "replay of a cached token's proof",
        );
    }
    assert!(
        api.verifier.verify_cached(&token).is_some(),
        "the token is cached"
    );
    let other = ProofKey::eddsa();
    let proof = other.proof("GET", URL, Some(&token));
    assert_proof_refused(
        &dpop_call(&app, "GET", "/data", &token, &proof).await,
        "cached token, another key",
    );
    let auth = format!("Bearer {token}");
    let answer = call(&app, "GET", "/data", &[("authorization", &auth)]).await;
    assert_eq!(answer.status, 401, "cached bound token as Bearer");
}

#[tokio::test]
async fn the_public_url_is_what_htu_names_and_the_replay_cache_is_shared() {
    let api = Api::start(false).await;
    let dpop = DpopVerifier::builder()
        .iat_window(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let layer = || {
        GuardLayer::new(api.verifier.clone())
            .dpop(dpop.clone())
            .public_url("https://gateway.example.com/orders/")
    };
    let first = app(layer());
    let second = Router::new()
        .route("/data", post(data))
        .layer(layer().realm("internal"));
    let key = ProofKey::ps256();
    let token = api.bound_token(&key);
    let public = "https://gateway.example.com/orders/data";
    let proof = key.proof("POST", URL, Some(&token));
    assert_proof_refused(
        &dpop_call(&first, "POST", "/data", &token, &proof).await,
        "the internal URL behind a proxy",
    );
    let proof = key.proof(
        "POST",
        "HTTPS://Gateway.Example.com:443/orders/./data?q=1",
        Some(&token),
    );
    assert_eq!(
        dpop_call(&first, "POST", "/data", &token, &proof)
            .await
            .status,
        200
    );
    assert_proof_refused(
        &dpop_call(&second, "POST", "/data", &token, &proof).await,
        "replayed at another router sharing the verifier",
    );
    let proof = key.proof("POST", public, Some(&token));
    assert_eq!(
        dpop_call(&second, "POST", "/data", &token, &proof)
            .await
            .status,
        200
    );
    // The configured window (5 s) applies.
    let mut claims = key.claims("POST", public, Some(&token));
    claims["iat"] = json!(now() - 10);
    claims["jti"] = json!(unique_jti());
    let stale = key.sign_raw(&key.header(), &claims);
    assert_proof_refused(
        &dpop_call(&second, "POST", "/data", &token, &stale).await,
        "window",
    );
}

fn proof_with_nonce(key: &ProofKey, token: &str, nonce: &str) -> String {
    let mut claims = key.claims("GET", URL, Some(token));
    claims["nonce"] = json!(nonce);
    key.sign_raw(&key.header(), &claims)
}

#[tokio::test]
async fn an_api_with_nonces_asks_for_one_and_hands_out_fresh_ones() {
    let api = Api::start(true).await;
    let secret = [9u8; 32];
    let nonces = || DpopNonces::new(&secret, DpopNonces::DEFAULT_LIFETIME).unwrap();
    let app = app(GuardLayer::new(api.verifier.clone()).dpop_nonces(nonces()));
    let key = ProofKey::es256();
    let token = api.bound_token(&key);

    // No nonce: 401 use_dpop_nonce (RFC 9449 §9), with one to use.
    let proof = key.proof("GET", URL, Some(&token));
    let answer = dpop_call(&app, "GET", "/data", &token, &proof).await;
    assert_eq!(answer.status, 401, "{:?}", answer.body);
    assert_eq!(answer.body["error"], "use_dpop_nonce");
    let challenge = &answer.challenges[0];
    assert!(
        challenge.starts_with("DPoP realm=\"internal\", error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    assert!(challenge.ends_with(ALGS), "{challenge}");
    let nonce = answer.nonce.expect("a DPoP-Nonce to use");

    // With it: through, with a fresh nonce.
    let answer = dpop_call(
        &app,
        "GET",
        "/data",
        &token,
        &proof_with_nonce(&key, &token, &nonce),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(answer.nonce.is_some());
    // Another instance with the same secret accepts it; one with another secret does not.
    let twin = self::app(GuardLayer::new(api.verifier.clone()).dpop_nonces(nonces()));
    let answer = dpop_call(
        &twin,
        "GET",
        "/data",
        &token,
        &proof_with_nonce(&key, &token, &nonce),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let stranger = self::app(
        GuardLayer::new(api.verifier.clone())
            .dpop_nonces(DpopNonces::new(&[1u8; 32], DpopNonces::DEFAULT_LIFETIME).unwrap()),
    );
    let answer = dpop_call(
        &stranger,
        "GET",
        "/data",
        &token,
        &proof_with_nonce(&key, &token, &nonce),
    )
    .await;
    assert_eq!(answer.body["error"], "use_dpop_nonce");
    // Other bad proofs are still invalid_dpop_proof, with a nonce for the retry.
    let answer = dpop_call(
        &app,
        "GET",
        "/data",
        &token,
        &proof_with_nonce(&ProofKey::es256(), &token, &nonce),
    )
    .await;
    assert_proof_refused(&answer, "another key, with a nonce");
    assert!(answer.nonce.is_some());
    // Bearer requests are not asked for nonces, nor given any.
    let bearer = format!("Bearer {}", api.bearer_token());
    let answer = call(&app, "GET", "/data", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, 200);
    assert!(answer.nonce.is_none());
}

warrant_guard::scope!(Everything = "delete:everything");

#[tokio::test]
async fn a_scope_refusal_after_a_dpop_request_challenges_with_dpop() {
    let api = Api::start(false).await;
    let app = Router::new()
        .route(
            "/layer",
            get(|| async { "ok" }).route_layer(require_scope("delete:everything")),
        )
        .route(
            "/extractor",
            get(|_: RequireScope<Everything>| async { "ok" }),
        )
        .layer(
            GuardLayer::new(api.verifier.clone())
                .dpop(DpopVerifier::new())
                .realm("internal"),
        );
    let key = ProofKey::es256();
    let token = api.bound_token(&key);
    let bearer = format!("Bearer {}", api.bearer_token());
    for path in ["/layer", "/extractor"] {
        let url = format!("http://api.test{path}");
        let proof = key.proof("GET", &url, Some(&token));
        let answer = dpop_call(&app, "GET", path, &token, &proof).await;
        assert_eq!(answer.status, 403, "{path}: {:?}", answer.body);
        assert_eq!(answer.challenges.len(), 1, "{path}");
        let challenge = &answer.challenges[0];
        assert!(
            challenge.starts_with("DPoP realm=\"internal\", error=\"insufficient_scope\""),
            "{path}: {challenge}"
        );
        assert!(
            challenge.contains("scope=\"delete:everything\""),
            "{challenge}"
        );
        // A bearer token's refusal stays a Bearer challenge.
        let answer = call(&app, "GET", path, &[("authorization", &bearer)]).await;
        assert_eq!(answer.status, 403);
        assert!(
            answer.challenges[0]
                .starts_with("Bearer realm=\"internal\", error=\"insufficient_scope\""),
            "{path}: {:?}",
            answer.challenges
        );
    }
}

/// More DPoP requests than the replay cache holds: the layer answers 503
/// `temporarily_unavailable` with `Retry-After` and a description that says the API is
/// overloaded (not 401 `invalid_dpop_proof`: the proof was good), and
/// [`GuardLayer::dpop_replay_stats`] shows the cache full and counts those refusals.
#[tokio::test]
async fn a_full_replay_cache_answers_overloaded_and_shows_in_the_stats() {
    let api = Api::start(false).await;
    // 16 proofs at most (one per shard): full after a few.
    let dpop = DpopVerifier::builder().replay_capacity(16).build().unwrap();
    let layer = GuardLayer::new(api.verifier.clone()).dpop(dpop);
    assert!(
        GuardLayer::new(api.verifier.clone())
            .dpop_replay_stats()
            .is_none(),
        "no DPoP, no replay cache"
    );
    let empty = layer.dpop_replay_stats().unwrap();
    assert_eq!((empty.held, empty.capacity, empty.refused_full), (0, 16, 0));
    let app = app(layer.clone());
    let key = ProofKey::es256();
    let token = api.bound_token(&key);
    let (mut accepted, mut overloaded) = (0, 0);
    for _ in 0..60 {
        let proof = key.proof("GET", URL, Some(&token));
        let answer = dpop_call(&app, "GET", "/data", &token, &proof).await;
        match answer.status {
            200 => accepted += 1,
            503 => {
                overloaded += 1;
                assert_eq!(answer.body["error"], "temporarily_unavailable");
                let description = answer.body["error_description"].as_str().unwrap();
                assert!(description.contains("overloaded"), "{description}");
                assert!(!description.contains("invalid"), "{description}");
                assert_eq!(
                    answer.challenges,
                    [
                        "Bearer realm=\"internal\"".to_owned(),
                        format!("DPoP realm=\"internal\", {ALGS}")
                    ]
                );
            }
            other => panic!("{other}: {:?}", answer.body),
        }
    }
    assert!(overloaded > 0, "a cache of 16 took 60 proofs");
    assert!(accepted <= 16, "{accepted}");
    let stats = layer.dpop_replay_stats().unwrap();
    assert_eq!(stats.held, accepted);
    assert_eq!(stats.refused_full, overloaded);
}

/// The replay cache's stats follow time: proofs are held until their `iat` window has passed,
/// then the room is back (time given as a parameter, as the verifier takes it).
#[test]
fn the_replay_cache_frees_its_room_once_proofs_age_out() {
    let dpop = DpopVerifier::builder()
        .iat_window(std::time::Duration::from_secs(10))
        .replay_capacity(16)
        .build()
        .unwrap();
    let key = ProofKey::es256();
    let at = 1_000_000;
    let proof_at = |iat: u64| {
        let mut claims = key.claims("GET", URL, None);
        claims["iat"] = json!(iat);
        key.sign_raw(&key.header(), &claims)
    };
    let check = warrant_guard::ProofCheck {
        method: "GET",
        url: URL,
        access_token: None,
        bound_key: None,
    };
    let mut refused = 0;
    for _ in 0..60 {
        match dpop.verify_at(&proof_at(at), &check, at) {
            Ok(_) => {}
            Err(warrant_guard::DpopError::ReplayCacheFull) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    let full = dpop.replay_stats_at(at);
    assert_eq!(full.refused_full, refused);
    assert_eq!(full.held as u64 + refused, 60);
    // Still within reach of a replay a window later: held.
    assert_eq!(dpop.replay_stats_at(at + 10).held, full.held);
    // Two windows later none can be replayed: nothing held, and new proofs are taken again.
    assert_eq!(dpop.replay_stats_at(at + 20).held, 0);
    dpop.verify_at(&proof_at(at + 20), &check, at + 20).unwrap();
    let after = dpop.replay_stats_at(at + 20);
    assert_eq!((after.held, after.refused_full), (1, refused));
}
