//! Tells the integration tests which external prerequisites this build was configured with.
//!
//! Tests that need PostgreSQL, a browser, Python or Node packages are marked `#[ignore]` unless the
//! matching variable is set, so that `cargo test` counts them as ignored (with the reason)
//! instead of printing `ok` for a test that ran nothing. Set, they must run: a database, browser
//! or package that is missing then fails the test.

fn main() {
    for (variable, cfg) in [
        ("WARRANT_TEST_DATABASE_URL", "warrant_test_postgres"),
        ("WARRANT_TEST_CHROMEDRIVER", "warrant_test_browser"),
        ("WARRANT_TEST_PYTHON", "warrant_test_python"),
        ("WARRANT_TEST_NODE", "warrant_test_node"),
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var_os(variable).is_some_and(|v| !v.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
