//! Marks the CLI's PostgreSQL tests `#[ignore]` unless `WARRANT_TEST_DATABASE_URL` is set, so
//! that `cargo test` counts them as ignored instead of passing without running (the server
//! crate's build script does the same for its tests).

fn main() {
    println!("cargo::rerun-if-env-changed=WARRANT_TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(warrant_test_postgres)");
    if std::env::var_os("WARRANT_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=warrant_test_postgres");
    }
}
