//! Running the `warrant` binary: one command at a time ([`warrant`], [`warrant_env`]) or
//! `warrant serve` as a process of its own ([`Serve`]), always isolated from the caller's
//! `WARRANT_*` settings.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

pub const API: &str = "https://api.example.com";

/// The `warrant` binary over `data_dir`, without any `WARRANT_*` variable of the environment
/// the tests run in.
pub fn command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warrant"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WARRANT_") {
            command.env_remove(name);
        }
    }
    command.env("WARRANT_DATA_DIR", data_dir);
    command
}

pub fn warrant(data_dir: &Path, args: &[&str]) -> Output {
    warrant_env(data_dir, args, &[])
}

/// Runs `warrant` with extra environment.
pub fn warrant_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(data_dir);
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

pub fn ok_json(output: Output) -> Value {
    assert!(
        output.status.success(),
        "warrant failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn fails_with(output: &Output, needle: &str) {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(needle),
        "stderr {stderr:?} lacks {needle:?}"
    );
}

/// A data directory as a first start leaves it: signing keys and the master key file.
pub async fn initialized_data_dir() -> TempDir {
    warrant_testkit::TestServer::start()
        .await
        .into_data_dir()
        .await
}

/// A `warrant serve` process listening on `127.0.0.1:0`; killed when dropped, passing or not.
pub struct Serve {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The log lines up to the one that says it serves (the rest is drained).
    pub log: String,
}

impl Serve {
    /// `warrant serve` over `data_dir` with `env`, logging JSON; returns once it serves.
    pub async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = command(data_dir);
        for (name, value) in env {
            command.env(name, value);
        }
        tokio::task::spawn_blocking(move || Self::spawn(command, "json"))
            .await
            .unwrap()
    }

    /// Runs `command` (a [`command`]) as `warrant serve --listen 127.0.0.1:0` with logs in
    /// `log_format` (`json` or `text`), and reads its log until it says it serves.
    pub fn spawn(mut command: Command, log_format: &str) -> Self {
        use std::io::{BufRead, BufReader};
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                log_format,
            ])
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        // Killed even if reading the log fails.
        let mut serve = Self {
            child: Some(child),
            base: String::new(),
            log: String::new(),
        };
        let mut lines = BufReader::new(stderr).lines();
        let listen = loop {
            let line = lines
                .next()
                .expect("warrant serve exited before serving")
                .unwrap();
            serve.log.push_str(&line);
            serve.log.push('\n');
            if !line.contains("warrant is serving") {
                continue;
            }
            break match serde_json::from_str::<Value>(&line) {
                Ok(event) => event["fields"]["listen"].as_str().unwrap().to_owned(),
                Err(_) => line
                    .split_whitespace()
                    .find_map(|field| field.strip_prefix("listen="))
                    .unwrap_or_else(|| panic!("no listen= in {line:?}"))
                    .to_owned(),
            };
        };
        // Keep draining the log so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        serve.base = format!("http://{listen}");
        serve
    }

    /// Sends the signal `name` (`TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        let child = self.child.as_ref().unwrap();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit.
    pub async fn wait(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
