//! Signing keys managed with the CLI on the data directory.

use serde_json::Value;

use crate::support::{fails_with, initialized_data_dir, ok_json, warrant, warrant_env};

#[test]
fn local_key_rotation_and_revocation() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A first start creates the keys and the master key file.
    let dir = runtime.block_on(initialized_data_dir());
    let d = dir.path();
    let before = ok_json(warrant(d, &["keys", "list", "--json"]));
    let current = before
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == true)
        .unwrap()["kid"]
        .clone();
    let rotated = ok_json(warrant(d, &["keys", "rotate", "--json"]));
    assert_ne!(rotated["kid"], current);
    let revoked = ok_json(warrant(
        d,
        &["keys", "revoke", current.as_str().unwrap(), "--json"],
    ));
    assert_eq!(revoked["revoked"], true);
    // Changes made straight on the storage are audited too; refusals change nothing.
    let audited = ok_json(warrant(d, &["logs", "--type", "sapi", "--json"]));
    let descriptions: Vec<&str> = audited
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        descriptions,
        vec![
            format!("keys revoke {} (local CLI)", current.as_str().unwrap()),
            "keys rotate (local CLI)".to_owned()
        ]
    );
    fails_with(
        &warrant(d, &["keys", "revoke", rotated["kid"].as_str().unwrap()]),
        "cannot be revoked",
    );
    // Key IDs are base64url and may start with '-': still an argument, not a flag.
    fails_with(&warrant(d, &["keys", "revoke", "-not-a-key"]), "not found");
    // A wrong master key is refused before it can seal a key nobody could open.
    let wrong = warrant_env(
        d,
        &["keys", "rotate"],
        &[("WARRANT_MASTER_KEY", &"0".repeat(64))],
    );
    fails_with(&wrong, "master key");
}

/// `warrant api create --signing-alg`: the first ES256 API gets ES256 keys (made with the data
/// directory's master key), which rotate apart from RS256's; HS256 and unknown names are
/// refused with the allowed values, and write nothing.
#[test]
fn an_api_signed_with_es256_gets_its_own_keys() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = runtime.block_on(initialized_data_dir());
    let d = dir.path();
    for bad in ["HS256", "es256"] {
        let refused = warrant(
            d,
            &[
                "api",
                "create",
                "--identifier",
                "https://bad.example.com",
                "--name",
                "Bad",
                "--signing-alg",
                bad,
            ],
        );
        fails_with(&refused, "RS256, PS256, ES256 or EdDSA");
    }
    let apis = ok_json(warrant(d, &["api", "list", "--json"]));
    assert!(!apis.to_string().contains("bad.example.com"), "{apis}");

    let api = ok_json(warrant(
        d,
        &[
            "api",
            "create",
            "--identifier",
            "https://fast.example.com",
            "--name",
            "Fast",
            "--signing-alg",
            "ES256",
            "--json",
        ],
    ));
    assert_eq!(api["signing_alg"], "ES256");
    let keys = ok_json(warrant(d, &["keys", "list", "--json"]));
    let of = |alg: &str, state: &str| -> Vec<String> {
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == alg && k[state] == true)
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(of("ES256", "current").len(), 1, "{keys}");
    assert_eq!(of("ES256", "next").len(), 1, "{keys}");
    let rs256_current = of("RS256", "current");

    let rotated = ok_json(warrant(d, &["keys", "rotate", "--alg", "ES256", "--json"]));
    assert_eq!(rotated["alg"], "ES256");
    assert_eq!(
        rotated["kid"].as_str(),
        Some(of("ES256", "next")[0].as_str())
    );
    let after = ok_json(warrant(d, &["keys", "list", "--json"]));
    let rs256_after: Vec<&Value> = after
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "RS256" && k["current"] == true)
        .collect();
    assert_eq!(
        rs256_after[0]["kid"].as_str(),
        Some(rs256_current[0].as_str())
    );
    fails_with(
        &warrant(d, &["keys", "rotate", "--alg", "HS512"]),
        "RS256, PS256, ES256 or EdDSA",
    );
    fails_with(
        &warrant(d, &["keys", "rotate", "--alg", "PS256"]),
        "no current PS256 signing key",
    );
}
