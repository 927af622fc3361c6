//! Python clients, run unchanged: the seed documents' flow (httpx fetches a token, PyJWT's
//! `PyJWKClient` + `jwt.decode` validate it), Auth0's own SDK, Authlib's metadata validators,
//! its private_key_jwt and a workload's projected token through its client authentication
//! hook, and Schemathesis fuzzing the management API from its OpenAPI document. The tests are ignored
//! unless `WARRANT_TEST_PYTHON` is set; set, a missing package fails them. CI installs the
//! packages and sets it (.ci/run).

use std::process::Command;

use reqwest::Method;
use serde_json::json;

use warrant_server::config::Config;

use crate::support::assertions::{ClientKey, register};
use crate::support::issuer::ProjectedWorker;
use crate::support::{API, spawn_app, spawn_tls, spawn_with, verify_independently};

const SEED_FLOW: &str = r#"
import os, httpx, jwt
from jwt import PyJWKClient

issuer = os.environ["ISSUER"]
response = httpx.post(
    issuer + "oauth/token",
    json={
        "client_id": os.environ["CLIENT_ID"],
        "client_secret": os.environ["CLIENT_SECRET"],
        "audience": os.environ["AUDIENCE"],
        "grant_type": "client_credentials",
    },
)
token = response.json()["access_token"]
jwks_client = PyJWKClient(issuer + ".well-known/jwks.json")
signing_key = jwks_client.get_signing_key_from_jwt(token)
payload = jwt.decode(
    token, signing_key.key, algorithms=["RS256"],
    audience=os.environ["AUDIENCE"], issuer=issuer,
)
scopes = payload.get("scope", "").split()
assert "read:data" in scopes, scopes
assert payload["sub"] == os.environ["CLIENT_ID"] + "@clients"
print("PYJWT_OK")
"#;

/// Runs `python3 args…` with `env` and returns what it printed; fails the test with Python's
/// standard error, naming `what` (the library under test), when it exits with an error.
pub async fn run_python(args: &[&str], env: Vec<(&'static str, String)>, what: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let output =
        tokio::task::spawn_blocking(move || Command::new("python3").args(args).envs(env).output())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}): install Python 3"));
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Fails the test, naming what to install, when python3 lacks `modules`.
fn require_python(modules: &str, install: &str) {
    let found = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "python3 lacks {modules}: pip install {install} (or unset WARRANT_TEST_PYTHON)"
    );
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn the_seed_python_flow_accepts_warrant_tokens() {
    require_python("jwt, httpx, cryptography", "'pyjwt[crypto]' httpx");
    let app = spawn_app().await;
    let (id, secret) = app.with_worker().await;
    let issuer = app.issuer.clone();
    let stdout = run_python(
        &["-c", SEED_FLOW],
        vec![
            ("ISSUER", issuer),
            ("CLIENT_ID", id),
            ("CLIENT_SECRET", secret),
            ("AUDIENCE", API.to_owned()),
        ],
        "PyJWT",
    )
    .await;
    assert!(stdout.contains("PYJWT_OK"), "{stdout}");
}

const EVERY_ALG: &str = r#"
import json, os, httpx, jwt
from jwt import PyJWKClient

issuer = os.environ["ISSUER"]
jwks_client = PyJWKClient(issuer + ".well-known/jwks.json")
for audience, alg in json.loads(os.environ["APIS"]):
    response = httpx.post(issuer + "oauth/token", json={
        "client_id": os.environ["CLIENT_ID"], "client_secret": os.environ["CLIENT_SECRET"],
        "audience": audience, "grant_type": "client_credentials"})
    token = response.json()["access_token"]
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    assert signing_key.algorithm_name == alg, (signing_key.algorithm_name, alg)
    payload = jwt.decode(token, signing_key.key, algorithms=[alg], audience=audience, issuer=issuer)
    assert payload["aud"] == audience, payload
    # Strict: the same token is refused where only another algorithm is allowed.
    other = "ES256" if alg != "ES256" else "RS256"
    try:
        jwt.decode(token, signing_key.key, algorithms=[other], audience=audience, issuer=issuer)
    except jwt.exceptions.InvalidAlgorithmError:
        pass
    else:
        raise AssertionError(alg + " token accepted as " + other)
    print("PYJWT_OK " + alg)
"#;

/// PyJWT (`PyJWKClient`, strict `algorithms=[…]`) verifies tokens of each algorithm an API may
/// choose, the APIs created through the management API.
#[tokio::test]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn pyjwt_verifies_tokens_of_every_algorithm() {
    require_python("jwt, httpx, cryptography", "'pyjwt[crypto]' httpx");
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut apis = Vec::new();
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let audience = format!("https://{}.example.com", alg.to_lowercase());
        let (status, body) = app
            .mgmt(
                Method::POST,
                "/resource-servers",
                Some(&admin),
                Some(&json!({"identifier": audience, "signing_alg": alg,
                    "scopes": [{"value": "read:data"}]})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["signing_alg"], alg);
        apis.push((audience, alg));
    }
    let grants: Vec<(&str, &[&str])> = apis
        .iter()
        .map(|(aud, _)| (aud.as_str(), &["read:data"][..]))
        .collect();
    let (id, secret) = app.create_app(&grants).await;
    let issuer = app.issuer.clone();
    let apis = serde_json::to_string(&apis).unwrap();
    let stdout = run_python(
        &["-c", EVERY_ALG],
        vec![
            ("ISSUER", issuer),
            ("CLIENT_ID", id),
            ("CLIENT_SECRET", secret),
            ("APIS", apis),
        ],
        "PyJWT",
    )
    .await;
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        assert!(stdout.contains(&format!("PYJWT_OK {alg}")), "{stdout}");
    }
}

const CUSTOM_CLAIMS: &str = r#"
import json, os, httpx, jwt
from jwt import PyJWKClient

issuer = os.environ["ISSUER"]
response = httpx.post(issuer + "oauth/token", json={
    "client_id": os.environ["CLIENT_ID"], "client_secret": os.environ["CLIENT_SECRET"],
    "audience": os.environ["AUDIENCE"], "grant_type": "client_credentials"})
token = response.json()["access_token"]
signing_key = PyJWKClient(issuer + ".well-known/jwks.json").get_signing_key_from_jwt(token)
payload = jwt.decode(token, signing_key.key, algorithms=["RS256"],
    audience=os.environ["AUDIENCE"], issuer=issuer)
print("CLAIMS " + json.dumps(payload))
"#;

/// PyJWT decodes a token with custom claims (the application's, one copied from its
/// client_metadata, and its grant's over them) as JSON like any other claim.
#[tokio::test]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn pyjwt_decodes_custom_claims() {
    require_python("jwt, httpx, cryptography", "'pyjwt[crypto]' httpx");
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_api(API, &["read:data"], None).await;
    let (status, client) = app
        .mgmt(
            Method::POST,
            "/clients",
            Some(&admin),
            Some(
                &json!({"name": "claims", "client_metadata": {"tenant": "ac\"me ☃"},
                "custom_claims": {"tenant": "{{client_metadata.tenant}}", "tier": 1,
                    "roles": ["reader", "auditor"], "beta": false, "ratio": 0.5}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    let id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let (status, grant) = app
        .mgmt(
            Method::POST,
            "/client-grants",
            Some(&admin),
            Some(
                &json!({"client_id": id, "audience": API, "scope": ["read:data"],
                "custom_claims": {"tier": 2}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    let stdout = run_python(
        &["-c", CUSTOM_CLAIMS],
        vec![
            ("ISSUER", app.issuer.clone()),
            ("CLIENT_ID", id),
            ("CLIENT_SECRET", secret),
            ("AUDIENCE", API.to_owned()),
        ],
        "PyJWT decoding custom claims",
    )
    .await;
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CLAIMS "))
        .unwrap();
    let claims: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(claims["tenant"], "ac\"me ☃", "{claims}");
    assert_eq!(claims["tier"], 2, "{claims}");
    assert_eq!(claims["roles"], json!(["reader", "auditor"]));
    assert_eq!(claims["beta"], false);
    assert_eq!(claims["ratio"], 0.5);
    assert_eq!(claims["scope"], "read:data");
}

/// Auth0's own SDK, unchanged but for the domain, over TLS: `tests/compat/auth0_sdk.py`.
#[tokio::test]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn the_auth0_python_sdk_manages_and_gets_tokens_over_tls() {
    require_python("auth0.management", "auth0-python");
    let app = spawn_tls().await;
    let domain = app
        .issuer
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned();
    let ca = app.data_dir().join("tls/ca.pem");
    let (id, secret) = app.mgmt_client.clone();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat/auth0_sdk.py");
    let stdout = run_python(
        &[script],
        vec![
            ("DOMAIN", domain),
            ("ADMIN_CLIENT_ID", id),
            ("ADMIN_CLIENT_SECRET", secret),
            ("SSL_CERT_FILE", ca.display().to_string()),
            ("REQUESTS_CA_BUNDLE", ca.display().to_string()),
        ],
        "the Auth0 SDK",
    )
    .await;
    assert!(stdout.contains("AUTH0_SDK_OK"), "{stdout}");
}

#[tokio::test]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn https_serves_the_flow_and_plain_http_gets_nothing() {
    let app = spawn_tls().await;
    assert!(app.issuer.starts_with("https://127.0.0.1:"));
    let (id, secret) = app.with_worker().await;
    let token = app.token(&id, &secret).await;
    let claims = crate::support::verify_independently(&app, &token, API).await;
    assert_eq!(claims["iss"], app.issuer);
    let plain = app.base.replacen("https://", "http://", 1);
    let refused = reqwest::Client::new()
        .get(format!("{plain}/healthz"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    assert!(refused.is_err() || !refused.unwrap().status().is_success());
}

const AUTHLIB_METADATA: &str = r#"
import os, ssl, httpx
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

issuer = os.environ["ISSUER"]
http = httpx.Client(verify=ssl.create_default_context(cafile=os.environ["CA"]))
docs = {}
for name in ("oauth-authorization-server", "openid-configuration"):
    doc = http.get(issuer + ".well-known/" + name).json()
    AuthorizationServerMetadata(doc).validate()
    assert doc["issuer"] == issuer, doc
    docs[name] = doc
assert docs["openid-configuration"] == docs["oauth-authorization-server"], docs
# Warrant is no OpenID Provider (no ID tokens, no authorization or userinfo endpoint): its
# OpenID path serves the RFC 8414 fields, which pass the OpenID validator too, and claims
# none of the provider-only ones, which is all that validator still asks for.
for field in ("subject_types_supported", "id_token_signing_alg_values_supported"):
    assert field not in docs["openid-configuration"], field
try:
    OpenIDProviderMetadata(docs["openid-configuration"]).validate()
except ValueError as e:
    assert "subject_types_supported" in str(e), e
else:
    raise AssertionError("an OpenID Provider's fields appeared")
print("AUTHLIB_OK")
"#;

/// Both discovery documents pass Authlib's RFC 8414 validator (`response_types_supported` must
/// not be empty; every URL https).
#[tokio::test]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn authlib_validates_the_discovery_documents() {
    require_python("authlib, httpx", "authlib httpx");
    let app = spawn_tls().await;
    let issuer = app.issuer.clone();
    let ca = app.data_dir().join("tls/ca.pem");
    let stdout = run_python(
        &["-c", AUTHLIB_METADATA],
        vec![("ISSUER", issuer), ("CA", ca.display().to_string())],
        "Authlib",
    )
    .await;
    assert!(stdout.contains("AUTHLIB_OK"), "{stdout}");
}

/// Schemathesis, from the served OpenAPI document, with positive and negative data: every
/// schema-valid request is accepted or refused for a documented reason (404, 409), every
/// schema-violating one is a 400, no answer is a 5xx or breaks its documented schema.
/// Deterministic (a fixed seed) and bounded (examples per operation), ~1 minute on 2 cores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn schemathesis_finds_the_openapi_document_true_to_the_server() {
    require_python("schemathesis", "schemathesis");
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // What the PATCH operations change: an API and an application that exist (other ids are
    // generated, hence unknown: 404).
    let (status, api) = app
        .mgmt(
            Method::POST,
            "/resource-servers",
            Some(&token),
            Some(&json!({"identifier": "https://fuzzed.example.com"})),
        )
        .await;
    assert_eq!(status, 201, "{api}");
    let (status, client) = app
        .mgmt(
            Method::POST,
            "/clients",
            Some(&token),
            Some(&json!({"name": "fuzzed"})),
        )
        .await;
    assert_eq!(status, 201, "{}", client["message"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            r#"seed = 20261130
headers = {{ Authorization = "Bearer ${{WARRANT_TOKEN}}" }}
[generation]
max-examples = 12
deterministic = true
database = "none"
[phases.stateful]
enabled = false
# Identifiers come from the parameters below, not from earlier answers: a run that learned the
# admin application's client ID or grant ID, or the signing key's ID, would delete or rotate the
# credentials it runs with, and every later request would rightly be a 401.
[phases.examples.extra-data-sources]
responses = false
[phases.coverage.extra-data-sources]
responses = false
[phases.fuzzing.extra-data-sources]
responses = false
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "404", "409", "413"]
[checks.negative_data_rejection]
expected-statuses = ["400", "413"]
[[operations]]
include-path = "/resource-servers/{{id}}"
include-method = "PATCH"
parameters = {{ "path.id" = "{api}" }}
[[operations]]
include-path = "/clients/{{id}}"
include-method = "PATCH"
parameters = {{ "path.id" = "{client}" }}
# A public key that parses cannot be generated from a schema (a generated pem is rightly a
# 400): adding credentials is left to private_key_jwt.rs, which covers its accepted and refused
# bodies.
[[operations]]
include-path = "/clients/{{id}}/credentials"
include-method = "POST"
enabled = false
"#,
            api = api["id"].as_str().unwrap(),
            client = client["client_id"].as_str().unwrap(),
        ),
    )
    .unwrap();
    let schema = app.url("/api/v2/openapi.json");
    let hooks = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/compat/schemathesis_hooks.py"
    );
    let started = std::time::Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-m", "schemathesis.cli", "--config-file"])
            .arg(&config)
            .args([
                "run",
                &schema,
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,\
                 response_schema_conformance,positive_data_acceptance,negative_data_rejection",
                "--workers",
                "1",
                "--no-color",
            ])
            .current_dir(dir.path())
            .env("WARRANT_TOKEN", token)
            .env("SCHEMATHESIS_HOOKS", hooks)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    // Failures reproduce their requests in full (bodies up to 64 KiB): lines are cut short.
    let report: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.chars().take(400).collect())
        .collect();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Schemathesis found the document and the server in disagreement:\n{}\n{stderr}",
        report.join("\n")
    );
    eprintln!(
        "schemathesis: {} s: {}",
        started.elapsed().as_secs(),
        report
            .iter()
            .rev()
            .find(|l| l.contains("generated"))
            .map_or("", String::as_str)
    );
}

/// Authlib's `PrivateKeyJWT` (RFC 7523 client authentication, with joserfc) gets tokens with a
/// P-256 key registered through the management API: two requests, two fresh assertions.
/// Authlib signs assertions valid for an hour, so this server accepts that lifetime
/// (`max_assertion_lifetime`); with the default 5 minutes it would be refused, saying so.
const AUTHLIB_PRIVATE_KEY_JWT: &str = r#"
import os
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey

token_endpoint = os.environ["ISSUER"] + "oauth/token"
# Authlib reads a PEM string as an RSA key; other key types are given as joserfc keys.
client = OAuth2Client(
    os.environ["CLIENT_ID"], ECKey.import_key(os.environ["PRIVATE_KEY"]),
    token_endpoint_auth_method="private_key_jwt",
)
client.register_client_auth_method(PrivateKeyJWT(token_endpoint, alg="ES256"))
for _ in range(2):
    token = client.fetch_token(
        token_endpoint, grant_type="client_credentials", audience=os.environ["AUDIENCE"],
    )
    assert token["token_type"] == "Bearer", token
    print("ACCESS_TOKEN", token["access_token"])
print("AUTHLIB_OK")
"#;

#[tokio::test]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn authlib_authenticates_with_private_key_jwt() {
    require_python("authlib, httpx, cryptography", "authlib httpx cryptography");
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path());
    config.max_assertion_lifetime = 3600;
    let app = spawn_with(dir, config).await.unwrap();
    let (id, _) = app.with_worker().await;
    let key = ClientKey::es256();
    let token = app.admin_token().await;
    register(&app, &token, &id, &key).await;
    let (issuer, private_key, client_id) = (app.issuer.clone(), key.private_pem(), id.clone());
    let stdout = run_python(
        &["-c", AUTHLIB_PRIVATE_KEY_JWT],
        vec![
            ("ISSUER", issuer),
            ("CLIENT_ID", client_id),
            ("PRIVATE_KEY", private_key),
            ("AUDIENCE", API.to_owned()),
        ],
        "Authlib",
    )
    .await;
    assert!(stdout.contains("AUTHLIB_OK"), "{stdout}");
    let tokens: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("ACCESS_TOKEN "))
        .collect();
    assert_eq!(tokens.len(), 2);
    for access in tokens {
        let claims = verify_independently(&app, access, API).await;
        assert_eq!(claims["sub"], format!("{id}@clients"));
    }
}

/// Authlib with a client authentication of the caller's own (registered with
/// `register_client_auth_method`, as Authlib's documentation shows for methods it lacks): a
/// workload's projected service-account token, read from its file at each request, sent as
/// `client_assertion` (workload identity federation). The token it gets; and a token for
/// another audience, refused through Authlib's own `OAuthError`.
const AUTHLIB_FEDERATED: &str = r#"
import os
from authlib.common.urls import add_params_to_qs
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
token_endpoint = os.environ["ISSUER"] + "oauth/token"

def projected_token(path):
    def authenticate(auth, method, uri, headers, body):
        with open(path) as f:
            assertion = f.read().strip()
        body = add_params_to_qs(body or "", [
            ("client_id", auth.client_id),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
        ])
        return uri, headers, body
    return authenticate

def client(path):
    client = OAuth2Client(os.environ["CLIENT_ID"], token_endpoint_auth_method="workload_identity")
    client.register_client_auth_method(("workload_identity", projected_token(path)))
    return client

token = client(os.environ["TOKEN_FILE"]).fetch_token(
    token_endpoint, grant_type="client_credentials", audience=os.environ["AUDIENCE"],
)
assert token["token_type"] == "Bearer", token
print("ACCESS_TOKEN", token["access_token"])
print("SCOPE", token["scope"])
try:
    client(os.environ["OTHER_AUDIENCE_FILE"]).fetch_token(
        token_endpoint, grant_type="client_credentials", audience=os.environ["AUDIENCE"],
    )
    print("NOT_REFUSED")
except OAuthError as e:
    print("REFUSED", e.error, "|", e.description)
"#;

#[tokio::test]
#[cfg_attr(
    not(warrant_test_python),
    ignore = "needs Python packages: set WARRANT_TEST_PYTHON=1"
)]
async fn authlib_authenticates_with_a_projected_service_account_token() {
    require_python("authlib, httpx", "authlib httpx");
    let worker = ProjectedWorker::start().await;
    let stdout = run_python(&["-c", AUTHLIB_FEDERATED], worker.env(), "Authlib").await;
    let access = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ACCESS_TOKEN "))
        .unwrap_or_else(|| panic!("no token: {stdout}"));
    worker.assert_token(access).await;
    assert!(stdout.contains("SCOPE read:data"), "{stdout}");
    let refused = stdout
        .lines()
        .find_map(|l| l.strip_prefix("REFUSED "))
        .unwrap_or_else(|| panic!("the other audience was not refused: {stdout}"));
    assert!(
        refused.starts_with("invalid_client | the assertion's aud is not the audience"),
        "{refused}"
    );
}
