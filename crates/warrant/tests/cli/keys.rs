//! Signing keys managed with the CLI on the data directory.

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
