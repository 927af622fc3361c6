//! Configuration as code: `warrant plan`, `warrant apply` and `warrant export` on a data
//! directory and, with `--server`, through the management API. The file in [`FILE`] is written
//! as `warrant export` writes, so that apply → export gives it back byte for byte.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{fails_with, initialized_data_dir, ok_json, warrant, warrant_env};

/// A public key (P-256) for a credential; its private half was thrown away.
const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEx3Pek+Va6k7gt4sqlEfnbox+X0hp
Q+LD8837PdRFGNYoFrTVs/fE40oTkuPz3uLn2kIehfOp23YIIFG341gXEw==
-----END PUBLIC KEY-----";

fn file() -> String {
    format!(
        r#"# Warrant configuration (`warrant export`). Apply with `warrant plan FILE` and
# `warrant apply FILE`. No secrets are kept here.

[[api]]
identifier = "https://orders.example.com"
name = "Orders"
token_lifetime = 3600
signing_alg = "RS256"
scopes = [
  {{ value = "read:orders", description = "Read orders" }},
  {{ value = "write:orders", description = "Change orders" }},
]

[[api]]
identifier = "urn:example:billing"
name = "Billing"
token_lifetime = 600
signing_alg = "ES256"
dpop = "optional"
scopes = [
  {{ value = "charge", description = "" }},
]

[[trusted_issuer]]
issuer = "https://kubernetes.default.svc.cluster.local"
name = "cluster"
jwks_uri = "https://kubernetes.default.svc/openid/v1/jwks"
bearer_token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token"
ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
algorithms = ["RS256", "ES256"]
max_assertion_lifetime = 3600

[[trusted_issuer]]
issuer = "https://token.actions.githubusercontent.com"
name = "GitHub Actions"
algorithms = ["RS256"]
max_assertion_lifetime = 600

[[application]]
key = "sync"
name = "order-sync"
description = "Copies orders to the warehouse"
client_metadata = {{ "team" = "logistics" }}
custom_claims = {{ "team" = "{{{{client_metadata.team}}}}" }}
token_quota = {{ per_hour = 100, per_day = 1000 }}

[[application.grant]]
api = "https://orders.example.com"
scopes = ["read:orders", "write:orders"]
custom_claims = {{ "region" = "eu" }}

[[application.grant]]
api = "urn:example:billing"
scopes = ["charge"]

[[application.federated_credential]]
name = "in-cluster"
issuer = "https://kubernetes.default.svc.cluster.local"
subject = "system:serviceaccount:logistics:default"
confirm_broad_subject = true

[[application.federated_credential]]
name = "deploy"
issuer = "https://token.actions.githubusercontent.com"
subject = "repo:acme/orders:ref:refs/heads/main"
audience = "https://warrant.example.com"
conditions = {{ "repository_owner_id" = "123" }}
expires_at = 1893456000

[[application]]
name = "reporter"
description = ""
client_metadata = {{}}

[[application.grant]]
api = "https://orders.example.com"
scopes = ["read:orders"]

[[application.credential]]
name = "ci-key"
alg = "ES256"
private_key_jwt = true
pem = """
{PUBLIC_KEY}
"""
"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn changes(result: &Value) -> Vec<(String, String, String)> {
    result["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_owned(),
                c["kind"].as_str().unwrap().to_owned(),
                c["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn change(action: &str, kind: &str, key: &str) -> (String, String, String) {
    (action.into(), kind.into(), key.into())
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "warrant failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_apply_export_on_a_data_directory() {
    let data = initialized_data_dir().await;
    let d = data.path();
    let work = tempfile::tempdir().unwrap();
    let path = write(work.path(), "warrant.toml", &file());

    // Plan: everything to create, nothing changed yet.
    let plan = ok_json(warrant(d, &["plan", &path, "--json"]));
    assert_eq!(
        changes(&plan),
        [
            change("create", "api", "https://orders.example.com"),
            change("create", "api", "urn:example:billing"),
            change(
                "create",
                "trusted_issuer",
                "https://kubernetes.default.svc.cluster.local"
            ),
            change(
                "create",
                "trusted_issuer",
                "https://token.actions.githubusercontent.com"
            ),
            change("create", "application", "order-sync"),
            change("create", "application", "reporter"),
        ]
    );
    assert_eq!(plan["created"], json!([]));
    assert_eq!(
        plan["fingerprint"].as_str().map(str::len),
        Some(43),
        "{plan}"
    );
    assert_eq!(ok_json(warrant(d, &["app", "list", "--json"])), json!([]));

    // Apply, the secrets to a private file.
    let secrets = work.path().join("secrets.json");
    let applied = ok_json(warrant(
        d,
        &[
            "apply",
            &path,
            "--secrets-file",
            secrets.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(changes(&applied), changes(&plan));
    assert_eq!(
        applied["created"],
        json!([]),
        "the secrets went to the file"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&secrets).unwrap()).unwrap();
    let order_sync = written["order-sync"]["client_id"].as_str().unwrap();
    assert!(
        written["order-sync"]["client_secret"]
            .as_str()
            .unwrap()
            .len()
            > 20
    );
    let shown = ok_json(warrant(d, &["app", "show", order_sync, "--json"]));
    assert_eq!(shown["client_metadata"], json!({"team": "logistics"}));
    // The issuers and federated credentials are those `warrant issuer` and `warrant app
    // federate` show.
    let issuers = ok_json(warrant(d, &["issuer", "list", "--json"]));
    let github = issuers
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["issuer"] == "https://token.actions.githubusercontent.com")
        .unwrap();
    assert_eq!(github["algorithms"], json!(["RS256"]));
    assert_eq!(github["max_assertion_lifetime"], 600);
    let federated = ok_json(warrant(d, &["app", "federated", order_sync, "--json"]));
    let deploy = federated
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "deploy")
        .unwrap();
    assert_eq!(deploy["conditions"], json!({"repository_owner_id": "123"}));
    assert_eq!(deploy["audience"], "https://warrant.example.com");
    assert_eq!(deploy["expires_at"], "2030-01-01T00:00:00Z");
    assert_eq!(shown["grants"].as_array().unwrap().len(), 2);
    let apis = ok_json(warrant(d, &["api", "list", "--json"]));
    let billing = apis
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["identifier"] == "urn:example:billing")
        .unwrap();
    assert_eq!(billing["signing_alg"], "ES256");

    // A second apply changes nothing; export gives the file back, byte for byte.
    let again = ok_json(warrant(d, &["apply", &path, "--json"]));
    assert_eq!(again["changes"], json!([]));
    assert_eq!(again["created"], json!([]));
    let text = stdout(&warrant(d, &["plan", &path]));
    assert!(text.contains("No changes"), "{text}");
    let exported = stdout(&warrant(d, &["export"]));
    assert_eq!(exported, file());

    // Each change was audited as the CLI's.
    let logs = ok_json(warrant(d, &["logs", "--type", "sapi", "--json"]));
    let described: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["description"].as_str().unwrap())
        .collect();
    assert!(
        described
            .iter()
            .any(|d| d.contains("api create urn:example:billing")),
        "{described:?}"
    );
    assert!(
        described
            .iter()
            .any(|d| d.contains("app create \"reporter\"")),
        "{described:?}"
    );

    // Leaving an application out deletes nothing, unless --prune.
    let smaller = file().replace(
        "[[application]]\nname = \"reporter\"",
        "[[application]]\nname = \"reporter2\"",
    );
    let smaller_path = write(work.path(), "smaller.toml", &smaller);
    let plan = ok_json(warrant(d, &["plan", &smaller_path, "--json"]));
    assert_eq!(
        changes(&plan),
        [change("create", "application", "reporter2")]
    );
    let plan = ok_json(warrant(d, &["plan", &smaller_path, "--prune", "--json"]));
    assert_eq!(
        changes(&plan),
        [
            change("create", "application", "reporter2"),
            change("delete", "application", "reporter"),
        ]
    );
    // Changes are listed with what changes.
    let changed = file()
        .replace("token_lifetime = 3600", "token_lifetime = 7200")
        .replace("dpop = \"optional\"", "dpop = \"required\"")
        .replace(
            "scopes = [\"read:orders\", \"write:orders\"]",
            "scopes = [\"read:orders\"]",
        );
    let changed_path = write(work.path(), "changed.toml", &changed);
    let text = stdout(&warrant(d, &["plan", &changed_path]));
    assert!(
        text.contains("~ update api \"https://orders.example.com\""),
        "{text}"
    );
    assert!(text.contains("token_lifetime 3600 -> 7200"), "{text}");
    assert!(text.contains("dpop optional -> required"), "{text}");
    assert!(
        text.contains("~ update application \"order-sync\""),
        "{text}"
    );
    let applied = stdout(&warrant(d, &["apply", &changed_path]));
    assert!(
        applied.contains("Applied: 0 created, 3 updated, 0 deleted."),
        "{applied}"
    );
    assert_eq!(stdout(&warrant(d, &["export"])), changed);

    // Export → apply on a fresh deployment reproduces it.
    let fresh = initialized_data_dir().await;
    let exported = write(work.path(), "exported.toml", &changed);
    let applied = stdout(&warrant(fresh.path(), &["apply", &exported]));
    assert!(
        applied.contains("client_secret: "),
        "printed once: {applied}"
    );
    assert!(applied.contains("shown only now"), "{applied}");
    assert_eq!(stdout(&warrant(fresh.path(), &["export"])), changed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_renames_an_application_and_a_stale_plan_is_refused() {
    let data = initialized_data_dir().await;
    let d = data.path();
    let work = tempfile::tempdir().unwrap();
    let path = write(work.path(), "warrant.toml", &file());
    stdout(&warrant(d, &["apply", &path]));
    let apps = ok_json(warrant(d, &["app", "list", "--json"]));
    let client_id = |apps: &Value, name: &str| {
        apps.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["client_id"].as_str().unwrap().to_owned())
    };
    let order_sync = client_id(&apps, "order-sync").unwrap();

    // The same key, another name: the same application, renamed, its credentials kept.
    let renamed = file().replace("name = \"order-sync\"", "name = \"order-sync-v2\"");
    let renamed_path = write(work.path(), "renamed.toml", &renamed);
    let plan = stdout(&warrant(d, &["plan", &renamed_path]));
    assert!(
        plan.contains("~ update application \"order-sync-v2\""),
        "{plan}"
    );
    assert!(
        plan.contains("name \"order-sync\" -> \"order-sync-v2\""),
        "{plan}"
    );
    assert!(plan.contains("1 to update"), "{plan}");
    let fingerprint = plan
        .lines()
        .find_map(|l| l.strip_prefix("Fingerprint of the deployment: "))
        .unwrap()
        .to_owned();
    assert!(
        plan.contains(&format!("--expect {fingerprint}")),
        "the plan says how to apply exactly it: {plan}"
    );

    // Something changes between the plan and the apply: the apply is refused, and changes
    // nothing.
    stdout(&warrant(d, &["app", "create", "--name", "intruder"]));
    let out = warrant(d, &["apply", &renamed_path, "--expect", &fingerprint]);
    fails_with(&out, "the deployment changed since the plan");
    fails_with(&out, "Nothing was changed.");
    let apps = ok_json(warrant(d, &["app", "list", "--json"]));
    assert_eq!(client_id(&apps, "order-sync"), Some(order_sync.clone()));

    // Planned again, applied with its fingerprint: renamed in place.
    let plan = ok_json(warrant(d, &["plan", &renamed_path, "--json"]));
    let fingerprint = plan["fingerprint"].as_str().unwrap();
    let applied = ok_json(warrant(
        d,
        &["apply", &renamed_path, "--expect", fingerprint, "--json"],
    ));
    assert_eq!(
        changes(&applied),
        [change("update", "application", "order-sync-v2")]
    );
    let apps = ok_json(warrant(d, &["app", "list", "--json"]));
    assert_eq!(client_id(&apps, "order-sync-v2"), Some(order_sync.clone()));
    assert_eq!(client_id(&apps, "order-sync"), None);
    let federated = ok_json(warrant(d, &["app", "federated", &order_sync, "--json"]));
    assert_eq!(federated.as_array().unwrap().len(), 2);
    // The fingerprint is the state's: nothing changed, the same fingerprint.
    let again = ok_json(warrant(d, &["plan", &renamed_path, "--json"]));
    assert_eq!(again["changes"], json!([]));
    assert_eq!(
        ok_json(warrant(d, &["plan", &renamed_path, "--json"]))["fingerprint"],
        again["fingerprint"]
    );

    // Without --prune a federated credential left out stays; with it, it goes, and so does
    // a trusted issuer nothing uses any more. One still used is not pruned: the plan says why.
    let start = renamed
        .find("[[application.federated_credential]]\nname = \"deploy\"")
        .unwrap();
    let end = start
        + renamed[start..].find("expires_at = 1893456000\n").unwrap()
        + "expires_at = 1893456000\n".len();
    let without_deploy = format!("{}{}", &renamed[..start], &renamed[end..]);
    let without_deploy_path = write(work.path(), "without.toml", &without_deploy);
    let plan = ok_json(warrant(d, &["plan", &without_deploy_path, "--json"]));
    assert_eq!(plan["changes"], json!([]), "{plan}");
    let plan = ok_json(warrant(
        d,
        &["plan", &without_deploy_path, "--prune", "--json"],
    ));
    assert_eq!(
        changes(&plan),
        [
            change("update", "application", "order-sync-v2"),
            change("delete", "application", "intruder"),
        ]
    );
    let github = without_deploy
        .find("[[trusted_issuer]]\nissuer = \"https://token")
        .unwrap();
    let github_end = github + without_deploy[github..].find("\n\n").unwrap() + 2;
    let no_issuers = format!(
        "{}{}",
        &without_deploy[..github],
        &without_deploy[github_end..]
    );
    let no_issuers_path = write(work.path(), "no-issuers.toml", &no_issuers);
    let plan = ok_json(warrant(d, &["plan", &no_issuers_path, "--prune", "--json"]));
    assert!(
        changes(&plan).contains(&change(
            "delete",
            "trusted_issuer",
            "https://token.actions.githubusercontent.com"
        )),
        "{plan}"
    );
    let cluster = no_issuers.find("[[trusted_issuer]]").unwrap();
    let cluster_end = cluster + no_issuers[cluster..].find("\n\n").unwrap() + 2;
    let no_cluster = format!("{}{}", &no_issuers[..cluster], &no_issuers[cluster_end..]);
    let no_cluster_path = write(work.path(), "no-cluster.toml", &no_cluster);
    let out = warrant(d, &["plan", &no_cluster_path, "--prune"]);
    fails_with(
        &out,
        "the trusted issuer https://kubernetes.default.svc.cluster.local is not in the file, so \
         --prune would delete it, but the federated credential \"in-cluster\"",
    );
    let out = warrant(d, &["apply", &no_issuers_path, "--prune"]);
    stdout(&out);
    assert_eq!(
        ok_json(warrant(d, &["issuer", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_file_changes_nothing_and_says_where() {
    let data = initialized_data_dir().await;
    let d = data.path();
    let work = tempfile::tempdir().unwrap();

    // A secret in the file: refused with its line and key, the value never echoed.
    let leaky = write(
        work.path(),
        "leaky.toml",
        "[[application]]\nname = \"a\"\nclient_secret = \"hunter2-s3cret\"\n",
    );
    let out = warrant(d, &["apply", &leaky]);
    fails_with(
        &out,
        "leaky.toml: line 3, column 1, client_secret: this looks like a secret",
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("hunter2"));
    let private = write(
        work.path(),
        "private.toml",
        "[[application]]\nname = \"a\"\n\n[[application.credential]]\nname = \"k\"\nalg = \"ES256\"\npem = \"\"\"\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\"\"\"\n",
    );
    fails_with(&warrant(d, &["plan", &private]), "line 8, column 12");

    // A grant of a scope its API lacks, after a valid API: nothing is created, the error names
    // the grant.
    let bad = format!(
        "{}\n[[application]]\nname = \"late\"\n\n[[application.grant]]\napi = \"https://orders.example.com\"\nscopes = [\"delete:everything\"]\n",
        file()
    );
    let bad_path = write(work.path(), "bad.toml", &bad);
    let out = warrant(d, &["apply", &bad_path]);
    let last_grant = bad
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[application.grant]]")
        .last()
        .unwrap()
        .0;
    fails_with(
        &out,
        &format!(
            "bad.toml: line {}, column 1, application[2].grant[0].scopes: scope \"delete:everything\" is not defined",
            last_grant + 1
        ),
    );
    fails_with(&out, "Nothing was changed.");
    assert_eq!(ok_json(warrant(d, &["api", "list", "--json"])), json!([]));
    assert_eq!(ok_json(warrant(d, &["app", "list", "--json"])), json!([]));

    // Bad TOML and unknown keys: the line too.
    let typo = write(
        work.path(),
        "typo.toml",
        "[[api]]\nidentifier = \"https://a.example\"\ntoken_lifetme = 60\n",
    );
    fails_with(&warrant(d, &["plan", &typo]), "typo.toml: line 3");
    fails_with(&warrant(d, &["plan", &typo]), "token_lifetme");
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_apply_export_through_the_management_api() {
    let server = warrant_testkit::TestServer::start().await;
    let (base, issuer) = (server.base.clone(), server.issuer.clone());
    let d = server.data_dir();
    let init = ok_json(warrant(d, &["init", "--issuer", &issuer, "--json"]));
    let env = [
        ("WARRANT_SERVER", base.as_str()),
        ("WARRANT_CLIENT_ID", init["client_id"].as_str().unwrap()),
        (
            "WARRANT_CLIENT_SECRET",
            init["client_secret"].as_str().unwrap(),
        ),
    ];
    let remote = |args: &[&str]| warrant_env(d, args, &env);
    let work = tempfile::tempdir().unwrap();
    // A CI application holding the configuration scopes on the management API: by its alias.
    let text = format!(
        "{}\n[[application]]\nname = \"website-ci\"\ndescription = \"\"\nclient_metadata = {{}}\n\n[[application.grant]]\napi = \"urn:warrant:management-api\"\nscopes = [\"read:config\", \"update:config\"]\n",
        file()
    );
    let path = write(work.path(), "warrant.toml", &text);

    // The server sees the admin application within a second.
    let started = Instant::now();
    let plan = loop {
        let out = remote(&["plan", &path, "--json"]);
        if out.status.success() {
            break serde_json::from_slice::<Value>(&out.stdout).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(plan["changes"].as_array().unwrap().len(), 7);

    // A plan's fingerprint goes stale when anything changes before the apply: refused with a
    // 409, nothing written.
    let fingerprint = plan["fingerprint"].as_str().unwrap().to_owned();
    let early = write(
        work.path(),
        "early.toml",
        "[[api]]\nidentifier = \"https://early.example.com\"\n",
    );
    ok_json(remote(&["apply", &early, "--json"]));
    let out = remote(&["apply", &path, "--expect", &fingerprint, "--json"]);
    fails_with(&out, "the server refused (409 Conflict)");
    fails_with(&out, "the deployment changed since the plan");
    let plan = ok_json(remote(&["plan", &path, "--json"]));
    assert_ne!(plan["fingerprint"], fingerprint.as_str());
    assert_eq!(plan["changes"].as_array().unwrap().len(), 7, "{plan}");
    let fingerprint = plan["fingerprint"].as_str().unwrap().to_owned();

    let applied = ok_json(remote(&[
        "apply",
        &path,
        "--expect",
        &fingerprint,
        "--json",
    ]));
    assert_eq!(applied["changes"], plan["changes"]);
    let created = applied["created"].as_array().unwrap();
    assert_eq!(created.len(), 3);
    let order_sync = created.iter().find(|c| c["name"] == "order-sync").unwrap();
    // The new secret works at once: the apply refreshed the server's catalog.
    let token = server
        .token_for(
            order_sync["client_id"].as_str().unwrap(),
            order_sync["client_secret"].as_str().unwrap(),
            "https://orders.example.com",
        )
        .await;
    // With the claims the file gave the application (a metadata reference) and its grant.
    let payload = {
        use base64::Engine;
        let part = token.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    assert_eq!(payload["team"], "logistics", "{payload}");
    assert_eq!(payload["region"], "eu", "{payload}");

    let again = ok_json(remote(&["apply", &path, "--json"]));
    assert_eq!(again["changes"], json!([]));
    let early_api = "\n[[api]]\nidentifier = \"https://early.example.com\"\nname = \"https://early.example.com\"\ntoken_lifetime = 86400\nsigning_alg = \"RS256\"\nscopes = []\n";
    let (head, tail) = text.split_at(text.find("\n[[api]]").unwrap());
    let with_early = format!("{head}{early_api}{tail}");
    assert_eq!(stdout(&remote(&["export"])), with_early);

    // The CI application applies with its own token (update:config), not the admin's.
    let ci = created.iter().find(|c| c["name"] == "website-ci").unwrap();
    let ci_env = [
        ("WARRANT_SERVER", base.as_str()),
        ("WARRANT_CLIENT_ID", ci["client_id"].as_str().unwrap()),
        (
            "WARRANT_CLIENT_SECRET",
            ci["client_secret"].as_str().unwrap(),
        ),
    ];
    let changed = text.replace("token_lifetime = 600", "token_lifetime = 900");
    let changed_path = write(work.path(), "changed.toml", &changed);
    let out = ok_json(warrant_env(d, &["apply", &changed_path, "--json"], &ci_env));
    assert_eq!(
        changes(&out),
        [change("update", "api", "urn:example:billing")]
    );

    // Errors keep their place through the server.
    let bad = write(
        work.path(),
        "bad.toml",
        "[[api]]\nidentifier = \"https://a.example\"\nsigning_alg = \"HS256\"\n",
    );
    fails_with(
        &remote(&["apply", &bad]),
        "bad.toml: the server refused (400 Bad Request): line 3, column 15, api[0].signing_alg",
    );

    // Audited as management API changes.
    let logs = ok_json(remote(&["logs", "--type", "sapi", "--json"]));
    assert!(
        logs.as_array()
            .unwrap()
            .iter()
            .any(|e| e["description"] == "POST /api/v2/config/apply (200)"),
        "{logs}"
    );
}

/// The README's example is a file a user can paste: it applies, and applies once.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_example_applies() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split("## Configuration as code")
        .nth(1)
        .expect("README has a Configuration as code section");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has a TOML example");
    let data = initialized_data_dir().await;
    let d = data.path();
    let work = tempfile::tempdir().unwrap();
    let path = write(work.path(), "warrant.toml", example);
    let plan = stdout(&warrant(d, &["plan", &path]));
    assert!(
        plan.contains("4 to create, 0 to update, 0 to delete."),
        "{plan}"
    );
    for line in section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with(['+', '4']))
    {
        assert!(
            plan.contains(line),
            "the README says {line:?}; plan printed {plan}"
        );
    }
    let secrets = work.path().join("new-secrets.json");
    stdout(&warrant(
        d,
        &["apply", &path, "--secrets-file", secrets.to_str().unwrap()],
    ));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&secrets).unwrap()).unwrap();
    assert_eq!(written.as_object().unwrap().len(), 2);
    let again = ok_json(warrant(d, &["apply", &path, "--json"]));
    assert_eq!(again["changes"], json!([]));
}
