//! Node clients nobody here wrote (`jose`, `oauth4webapi`), run against the real server. Their
//! versions are pinned in `tests/node/package.json` and its lock file. The tests are ignored
//! unless `WARRANT_TEST_NODE` is set; set, a missing `node` or an uninstalled package fails
//! them. CI runs `npm ci` in `tests/node` and sets it (.ci/run).

use std::path::PathBuf;
use std::process::Command;

use warrant_server::domain::SigningAlg;

use crate::support::assertions::{ClientKey, register};
use crate::support::issuer::ProjectedWorker;
use crate::support::{API, spawn_app, spawn_with};

/// The folder whose `node_modules` the scripts import from.
fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// Runs `script` as an ES module in `tests/node` with `env`, and returns its standard output.
/// Fails the test with node's standard error when the script fails, and names what to install
/// when node or the packages are missing.
pub async fn run_node(script: &str, env: Vec<(&'static str, String)>) -> String {
    let dir = node_dir();
    assert!(
        dir.join("node_modules/jose").is_dir() && dir.join("node_modules/oauth4webapi").is_dir(),
        "the Node packages are not installed: run `npm ci` in {} (or unset WARRANT_TEST_NODE)",
        dir.display()
    );
    let script = script.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["--input-type=module", "-e", &script])
            .current_dir(dir)
            .envs(env)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run node ({e}): install Node.js 20 or later"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "node failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// oauth4webapi gets a token with client credentials (discovery, then the token endpoint), and
/// jose verifies it against the JWKS the discovery document names: issuer, audience, algorithm.
const CLIENT_CREDENTIALS_THEN_VERIFY: &str = r#"
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';

const issuer = new URL(process.env.ISSUER);
const as = await oauth
  .discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true })
  .then((response) => oauth.processDiscoveryResponse(issuer, response));
const client = { client_id: process.env.CLIENT_ID };
const auth = oauth.ClientSecretPost(process.env.CLIENT_SECRET);
const response = await oauth.clientCredentialsGrantRequest(
  as, client, auth, new URLSearchParams({ audience: process.env.AUDIENCE }),
  { [oauth.allowInsecureRequests]: true },
);
const result = await oauth.processClientCredentialsResponse(as, client, response);
const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));
const { payload, protectedHeader } = await jose.jwtVerify(result.access_token, jwks, {
  issuer: process.env.ISSUER,
  audience: process.env.AUDIENCE,
  algorithms: [process.env.ALG],
  typ: 'at+jwt',
});
// Strict: where only another algorithm is allowed, the same token is refused.
const other = process.env.ALG === 'ES256' ? 'RS256' : 'ES256';
let refused = null;
try {
  await jose.jwtVerify(result.access_token, jwks, { algorithms: [other] });
} catch (e) {
  refused = e.code;
}
console.log(JSON.stringify({ alg: protectedHeader.alg, sub: payload.sub, scope: payload.scope, refused }));
"#;

/// For each algorithm an API may choose: oauth4webapi gets the token, jose verifies it with
/// that algorithm alone allowed, and refuses it when only another is.
#[tokio::test]
#[cfg_attr(
    not(warrant_test_node),
    ignore = "needs Node packages: npm ci in tests/node, then set WARRANT_TEST_NODE=1"
)]
async fn oauth4webapi_gets_tokens_and_jose_verifies_every_algorithm() {
    let app = spawn_app().await;
    for alg in SigningAlg::ALL {
        let audience = format!("https://{}.example.com", alg.as_str().to_lowercase());
        app.create_api_signed(&audience, &["read:data"], None, Some(alg))
            .await;
        let (id, secret) = app.create_app(&[(&audience, &["read:data"])]).await;
        let stdout = run_node(
            CLIENT_CREDENTIALS_THEN_VERIFY,
            vec![
                ("ISSUER", app.issuer.clone()),
                ("CLIENT_ID", id.clone()),
                ("CLIENT_SECRET", secret),
                ("AUDIENCE", audience),
                ("ALG", alg.as_str().to_owned()),
            ],
        )
        .await;
        let claims: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(claims["alg"], alg.as_str());
        assert_eq!(claims["sub"], format!("{id}@clients"));
        assert_eq!(claims["scope"], "read:data");
        assert_eq!(claims["refused"], "ERR_JOSE_ALG_NOT_ALLOWED", "{alg:?}");
    }
}

/// oauth4webapi introspects a token (RFC 7662) at the endpoint discovery names, authenticating
/// with HTTP Basic, and prints what it understood.
const INTROSPECT: &str = r#"
import * as oauth from 'oauth4webapi';

const issuer = new URL(process.env.ISSUER);
const options = { [oauth.allowInsecureRequests]: true };
const as = await oauth
  .discoveryRequest(issuer, options)
  .then((response) => oauth.processDiscoveryResponse(issuer, response));
const client = { client_id: process.env.CLIENT_ID };
const auth = oauth.ClientSecretBasic(process.env.CLIENT_SECRET);
const answers = [];
for (const token of [process.env.TOKEN, 'not-a-token']) {
  const response = await oauth.introspectionRequest(as, client, auth, token, options);
  answers.push(await oauth.processIntrospectionResponse(as, client, response));
}
console.log(JSON.stringify(answers));
"#;

#[tokio::test]
#[cfg_attr(
    not(warrant_test_node),
    ignore = "needs Node packages: npm ci in tests/node, then set WARRANT_TEST_NODE=1"
)]
async fn oauth4webapi_introspects_a_token() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let (gateway, gateway_secret) = app.create_app(&[(API, &[])]).await;
    let token = app.token(&id, &secret).await;
    let stdout = run_node(
        INTROSPECT,
        vec![
            ("ISSUER", app.issuer.clone()),
            ("CLIENT_ID", gateway),
            ("CLIENT_SECRET", gateway_secret),
            ("TOKEN", token),
        ],
    )
    .await;
    let answers: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(answers[0]["active"], true, "{answers}");
    assert_eq!(answers[0]["client_id"], id.as_str());
    assert_eq!(answers[0]["aud"], API);
    assert_eq!(answers[0]["token_type"], "Bearer");
    assert_eq!(answers[1], serde_json::json!({"active": false}));
}

/// oauth4webapi revokes a token (RFC 7009) at the endpoint discovery names, as the application
/// it was issued to (client_secret_post).
const REVOKE: &str = r#"
import * as oauth from 'oauth4webapi';

const issuer = new URL(process.env.ISSUER);
const options = { [oauth.allowInsecureRequests]: true };
const as = await oauth
  .discoveryRequest(issuer, options)
  .then((response) => oauth.processDiscoveryResponse(issuer, response));
const client = { client_id: process.env.CLIENT_ID };
const auth = oauth.ClientSecretPost(process.env.CLIENT_SECRET);
const response = await oauth.revocationRequest(as, client, auth, process.env.TOKEN, options);
await oauth.processRevocationResponse(response);
console.log(JSON.stringify({ revoked: as.revocation_endpoint }));
"#;

#[tokio::test]
#[cfg_attr(
    not(warrant_test_node),
    ignore = "needs Node packages: npm ci in tests/node, then set WARRANT_TEST_NODE=1"
)]
async fn oauth4webapi_revokes_a_token() {
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let token = app.token(&id, &secret).await;
    let introspect = || {
        app.http
            .post(app.url("/oauth/introspect"))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", token.as_str())])
            .send()
    };
    let before: serde_json::Value = introspect().await.unwrap().json().await.unwrap();
    assert_eq!(before["active"], true);
    let stdout = run_node(
        REVOKE,
        vec![
            ("ISSUER", app.issuer.clone()),
            ("CLIENT_ID", id.clone()),
            ("CLIENT_SECRET", secret.clone()),
            ("TOKEN", token.clone()),
        ],
    )
    .await;
    let printed: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(printed["revoked"], app.url("/oauth/revoke"));
    let after: serde_json::Value = introspect().await.unwrap().json().await.unwrap();
    assert_eq!(after, serde_json::json!({"active": false}));
}

/// oauth4webapi's `PrivateKeyJwt` (its own assertion: `aud` the issuer, a minute's lifetime,
/// `kid` as given) gets a token with a P-256 key registered through the management API; jose
/// verifies the token.
const PRIVATE_KEY_JWT_THEN_VERIFY: &str = r#"
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';

const issuer = new URL(process.env.ISSUER);
const options = { [oauth.allowInsecureRequests]: true };
const as = await oauth
  .discoveryRequest(issuer, options)
  .then((response) => oauth.processDiscoveryResponse(issuer, response));
if (!as.token_endpoint_auth_methods_supported.includes('private_key_jwt')) {
  throw new Error('discovery does not list private_key_jwt');
}
const client = { client_id: process.env.CLIENT_ID };
const key = await jose.importPKCS8(process.env.PRIVATE_KEY, 'ES256');
const auth = oauth.PrivateKeyJwt({ key, kid: process.env.KID });
const response = await oauth.clientCredentialsGrantRequest(
  as, client, auth, new URLSearchParams({ audience: process.env.AUDIENCE }), options,
);
const result = await oauth.processClientCredentialsResponse(as, client, response);
const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));
const { payload } = await jose.jwtVerify(result.access_token, jwks, {
  issuer: process.env.ISSUER,
  audience: process.env.AUDIENCE,
  typ: 'at+jwt',
});
console.log(JSON.stringify({ sub: payload.sub }));
"#;

#[tokio::test]
#[cfg_attr(
    not(warrant_test_node),
    ignore = "needs Node packages: npm ci in tests/node, then set WARRANT_TEST_NODE=1"
)]
async fn oauth4webapi_authenticates_with_private_key_jwt() {
    let app = spawn_app().await;
    let (id, _) = app.with_worker().await;
    let key = ClientKey::es256();
    let token = app.admin_token().await;
    let credential = register(&app, &token, &id, &key).await;
    let stdout = run_node(
        PRIVATE_KEY_JWT_THEN_VERIFY,
        vec![
            ("ISSUER", app.issuer.clone()),
            ("CLIENT_ID", id.clone()),
            ("PRIVATE_KEY", key.private_pem()),
            ("KID", credential["kid"].as_str().unwrap().to_owned()),
            ("AUDIENCE", API.to_owned()),
        ],
    )
    .await;
    let claims: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(claims["sub"], format!("{id}@clients"));
}

/// oauth4webapi with DPoP: a key pair of its own (`generateKeyPair`), a DPoP handle that signs
/// its proofs and keeps the nonces it is given, a DPoP-bound token from the token endpoint, then
/// calls to an API guarded by warrant-guard with `protectedResourceRequest`. A `use_dpop_nonce`
/// refusal (from the server or the API) is retried once, as oauth4webapi's documentation says.
const DPOP_TOKEN_THEN_API: &str = r#"
import * as oauth from 'oauth4webapi';
import * as jose from 'jose';

const issuer = new URL(process.env.ISSUER);
const options = { [oauth.allowInsecureRequests]: true };
const as = await oauth
  .discoveryRequest(issuer, options)
  .then((response) => oauth.processDiscoveryResponse(issuer, response));
const client = { client_id: process.env.CLIENT_ID };
const auth = oauth.ClientSecretPost(process.env.CLIENT_SECRET);
const keyPair = await oauth.generateKeyPair('ES256');
const DPoP = oauth.DPoP(client, keyPair);
let nonceRetries = 0;
const retrying = async (attempt) => {
  try {
    return await attempt();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    nonceRetries += 1;
    return await attempt();
  }
};
const token = await retrying(async () => {
  const response = await oauth.clientCredentialsGrantRequest(
    as, client, auth, new URLSearchParams({ audience: process.env.AUDIENCE }), { ...options, DPoP },
  );
  return oauth.processClientCredentialsResponse(as, client, response);
});
const claims = JSON.parse(Buffer.from(token.access_token.split('.')[1], 'base64url'));
const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey));
const url = new URL(process.env.API_URL);
const calls = [];
for (let i = 0; i < 3; i++) {
  const response = await retrying(() =>
    oauth.protectedResourceRequest(token.access_token, 'GET', url, undefined, undefined, { ...options, DPoP }),
  );
  calls.push([response.status, await response.text()]);
}
const bearer = await fetch(url, { headers: { authorization: `Bearer ${token.access_token}` } });
console.log(JSON.stringify({
  token_type: token.token_type,
  bound_to_own_key: claims.cnf?.jkt === jkt,
  calls,
  nonceRetries,
  bearer: bearer.status,
}));
"#;

#[tokio::test]
#[cfg_attr(
    not(warrant_test_node),
    ignore = "needs Node packages: npm ci in tests/node, then set WARRANT_TEST_NODE=1"
)]
async fn oauth4webapi_gets_a_dpop_bound_token_and_calls_a_guarded_api_with_its_proofs() {
    use axum::routing::get;
    use warrant_guard::axum::GuardLayer;
    use warrant_guard::{Claims, DpopNonces, Verifier};

    for nonces in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            warrant_server::config::Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
        config.dpop_nonces = nonces;
        let app = spawn_with(dir, config).await.unwrap();
        let (id, secret) = app.with_worker().await;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut guard = GuardLayer::new(Verifier::builder(&app.issuer, API).build().unwrap())
            .require_dpop()
            .public_url(&base);
        if nonces {
            guard = guard
                .dpop_nonces(DpopNonces::new(&[5u8; 32], DpopNonces::DEFAULT_LIFETIME).unwrap());
        }
        let router = axum::Router::new()
            .route(
                "/internal/data",
                get(|claims: Claims| async move { claims.sub().to_owned() }),
            )
            .layer(guard);
        tokio::spawn(async move { axum::serve(listener, router).await });

        let stdout = run_node(
            DPOP_TOKEN_THEN_API,
            vec![
                ("ISSUER", app.issuer.clone()),
                ("CLIENT_ID", id.clone()),
                ("CLIENT_SECRET", secret),
                ("AUDIENCE", API.to_owned()),
                ("API_URL", format!("{base}/internal/data")),
            ],
        )
        .await;
        let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let sub = format!("{id}@clients");
        assert!(
            seen["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("dpop")),
            "{seen}"
        );
        assert_eq!(seen["bound_to_own_key"], true, "{seen}");
        assert_eq!(
            seen["calls"],
            serde_json::json!([[200, sub], [200, sub], [200, sub]]),
            "{seen}"
        );
        // With nonces: asked once by the server and once by the API, then kept from answers.
        assert_eq!(seen["nonceRetries"], if nonces { 2 } else { 0 }, "{seen}");
        assert_eq!(seen["bearer"], 401, "{seen}");
    }
}

/// oauth4webapi with a `ClientAuth` of the caller's own (a function that adds to the request
/// body, as its documentation allows): a workload's projected service-account token, read from
/// its file at each request, sent as `client_assertion` (workload identity federation). The
/// token it gets; and a token for another audience, refused through oauth4webapi's own
/// `ResponseBodyError`.
const FEDERATED_CLIENT_AUTH: &str = r#"
import * as oauth from 'oauth4webapi';
import { readFile } from 'node:fs/promises';

const issuer = new URL(process.env.ISSUER);
const options = { [oauth.allowInsecureRequests]: true };
const as = await oauth
  .discoveryRequest(issuer, options)
  .then((response) => oauth.processDiscoveryResponse(issuer, response));
const client = { client_id: process.env.CLIENT_ID };
const projectedToken = (path) => async (_as, client, body) => {
  body.set('client_id', client.client_id);
  body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  body.set('client_assertion', (await readFile(path, 'utf8')).trim());
};
const grant = (path) => oauth
  .clientCredentialsGrantRequest(
    as, client, projectedToken(path), new URLSearchParams({ audience: process.env.AUDIENCE }), options,
  )
  .then((response) => oauth.processClientCredentialsResponse(as, client, response));
const result = await grant(process.env.TOKEN_FILE);
let refused = null;
try {
  await grant(process.env.OTHER_AUDIENCE_FILE);
} catch (e) {
  if (!(e instanceof oauth.ResponseBodyError)) throw e;
  refused = { status: e.status, error: e.error, description: e.error_description };
}
console.log(JSON.stringify({ access_token: result.access_token, scope: result.scope, refused }));
"#;

#[tokio::test]
#[cfg_attr(
    not(warrant_test_node),
    ignore = "needs Node packages: npm ci in tests/node, then set WARRANT_TEST_NODE=1"
)]
async fn oauth4webapi_authenticates_with_a_projected_service_account_token() {
    let worker = ProjectedWorker::start().await;
    let stdout = run_node(FEDERATED_CLIENT_AUTH, worker.env()).await;
    let printed: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    worker
        .assert_token(printed["access_token"].as_str().unwrap())
        .await;
    assert_eq!(printed["scope"], "read:data");
    let refused = &printed["refused"];
    assert_eq!(refused["status"], 401, "{printed}");
    assert_eq!(refused["error"], "invalid_client", "{printed}");
    assert!(
        refused["description"]
            .as_str()
            .unwrap()
            .starts_with("the assertion's aud is not the audience"),
        "{printed}"
    );
}
