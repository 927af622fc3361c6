//! Dashboard administrators, managed with the CLI on the data directory.

use crate::support::{command, fails_with, initialized_data_dir, ok_json, warrant, warrant_env};

#[test]
fn dashboard_administrators_are_managed_locally() {
    use std::io::Write;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = runtime.block_on(initialized_data_dir());
    let d = dir.path();

    // No password given: one is generated and shown once.
    let out = warrant_env(
        d,
        &["admin", "create", "alice"],
        &[("WARRANT_ADMIN_PASSWORD", "")],
    );
    fails_with(&out, "at least 12 characters");
    let out = warrant(d, &["admin", "create", "alice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let generated = stdout
        .split("Password (shown only now): ")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    assert!(generated.len() >= 24, "{generated}");
    fails_with(&warrant(d, &["admin", "create", "alice"]), "already exists");

    // From standard input, never from a flag.
    let mut child = command(d)
        .args(["admin", "create", "bob", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"bob's long password\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    fails_with(
        &warrant_env(
            d,
            &["admin", "create", "carol"],
            &[("WARRANT_ADMIN_PASSWORD", "short")],
        ),
        "at least 12 characters",
    );

    let list = ok_json(warrant(d, &["admin", "list", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    // The passwords sign in.
    runtime.block_on(async {
        let store = warrant_server::store::Store::open_data_dir(d)
            .await
            .unwrap();
        let admin = warrant_server::admin::Admin::new(
            store,
            std::sync::Arc::new(warrant_server::clock::SystemClock),
        );
        let checks = warrant_server::admin::passwords::PasswordChecks::new(1);
        let slot = || checks.try_slot().unwrap();
        assert!(
            admin
                .sign_in(slot(), "alice", &generated)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            admin
                .sign_in(slot(), "bob", "bob's long password")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            admin
                .sign_in(slot(), "bob", "bob's long passworD")
                .await
                .unwrap()
                .is_none()
        );
    });

    assert!(warrant(d, &["admin", "delete", "bob"]).status.success());
    fails_with(&warrant(d, &["admin", "delete", "bob"]), "not found");
    fails_with(
        &warrant_env(
            d,
            &["admin", "list"],
            &[("WARRANT_SERVER", "http://127.0.0.1:1")],
        ),
        "not through --server",
    );

    // init can create the first administrator along with the admin application.
    let init = ok_json(warrant_env(
        d,
        &["init", "--admin-user", "dave", "--json"],
        &[("WARRANT_ADMIN_PASSWORD", "dave's long password")],
    ));
    assert_eq!(init["admin_user"], "dave");
    assert!(init.get("admin_password").is_none());
    assert!(init["client_secret"].as_str().is_some());
}
