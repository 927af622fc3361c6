//! What the CLI says about arguments and configuration it cannot use.

use crate::support::{fails_with, warrant};

#[test]
fn bad_arguments_get_one_line_errors_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    fails_with(&warrant(&missing, &["api", "list"]), "no Warrant database");
    fails_with(
        &warrant(&missing, &["serve", "--listen", "localhost"]),
        "IP:port",
    );
    fails_with(
        &warrant(&missing, &["serve", "--issuer", "auth.example.com"]),
        "http or https URL",
    );
    fails_with(
        &warrant(dir.path(), &["decode", "abc"]),
        "not a compact JWT",
    );
    let no_subcommand = warrant(dir.path(), &[]);
    assert_eq!(no_subcommand.status.code(), Some(2));

    let config = dir.path().join("warrant.toml");
    std::fs::write(&config, "lisen = \"127.0.0.1:1\"\n").unwrap();
    fails_with(
        &warrant(&missing, &["serve", "--config", config.to_str().unwrap()]),
        "unknown field",
    );
}
