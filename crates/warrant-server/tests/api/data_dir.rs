//! The data directory is its owner's only: 0700, its files 0600, created so and checked again at
//! every start.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use warrant_server::config::Config;

use crate::support::spawn_with;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every path in `dir`, two levels deep, with its mode.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut found = vec![(".".to_owned(), mode(dir))];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        found.push((
            entry.file_name().to_string_lossy().into_owned(),
            mode(&path),
        ));
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).unwrap().flatten() {
                found.push((
                    format!(
                        "{}/{}",
                        entry.file_name().to_string_lossy(),
                        inner.file_name().to_string_lossy()
                    ),
                    mode(&inner.path()),
                ));
            }
        }
    }
    found
}

fn config(data: &Path) -> Config {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), data);
    config.tls = Some(warrant_server::tls::TlsSource::SelfSigned);
    config
}

#[tokio::test]
async fn a_new_data_directory_is_readable_by_its_owner_only() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("warrant-data");
    let app = spawn_with(tempfile::tempdir().unwrap(), config(&data))
        .await
        .unwrap();
    let found = modes(&data);
    for expected in [
        ".",
        "warrant.db",
        "warrant.db-wal",
        "warrant.db-shm",
        "master.key",
        "tls",
        "tls/server.key",
    ] {
        assert!(
            found.iter().any(|(name, _)| name == expected),
            "no {expected} in {found:?}"
        );
    }
    for (name, mode) in &found {
        let wanted = if data.join(name).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(*mode, wanted, "{name} is {mode:o} in {found:?}");
    }
    drop(app);
}

#[tokio::test]
async fn loose_permissions_are_tightened_at_start() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("warrant-data");
    let mut app = spawn_with(tempfile::tempdir().unwrap(), config(&data))
        .await
        .unwrap();
    app.stop().await;
    // As an older Warrant (or a careless copy) left them.
    for (name, _) in modes(&data) {
        let path = data.join(&name);
        let loose = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).unwrap();
    }
    assert_eq!(mode(&data.join("warrant.db")), 0o644);

    let app = spawn_with(tempfile::tempdir().unwrap(), config(&data))
        .await
        .unwrap();
    for (name, mode) in modes(&data) {
        let wanted = if data.join(&name).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(mode, wanted, "{name} is {mode:o}");
    }
    // And the server works on it as before.
    let ca = std::fs::read(data.join("tls/ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    let jwks = http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
}
