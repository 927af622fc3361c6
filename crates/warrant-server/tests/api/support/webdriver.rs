//! Just enough of the W3C WebDriver protocol to drive Debian's headless Chromium through
//! `chromedriver`: open pages, find elements, click, type, read text, take screenshots.
//!
//! `WARRANT_TEST_CHROMEDRIVER` names the chromedriver binary (CI sets it to
//! /usr/bin/chromedriver); without it the browser tests are ignored. Chromium is
//! `WARRANT_TEST_CHROMIUM`, else /usr/bin/chromium. Confirmation dialogs are accepted.
//!
//! Hand-written on purpose (measured on 2026-11-30): fantoccini 0.22 brings 24 crates, 14 of
//! them second versions of crates already here (`cargo deny check bans` refuses those);
//! thirtyfour needs Rust 1.88 past 0.36 (the workspace supports 1.85) and brings 13 crates
//! for about 30 s of compilation, and the two Chromium calls used here (device emulation, the
//! browser's log) would still be written by hand. This file needs only reqwest and serde_json.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
    pub screenshots: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// A browser through `WARRANT_TEST_CHROMEDRIVER`. The browser tests are ignored unless
    /// that variable is set; one run anyway (with `--ignored`) without it fails here.
    pub async fn start() -> Self {
        let Ok(driver_path) = std::env::var("WARRANT_TEST_CHROMEDRIVER") else {
            panic!(
                "this test needs Chromium: set WARRANT_TEST_CHROMEDRIVER=/usr/bin/chromedriver, \
                 with Debian's chromium and chromium-driver installed"
            );
        };
        let chromium =
            std::env::var("WARRANT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_path}: {e}"));
        let profile = tempfile::tempdir().unwrap();
        let screenshots =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-output/dashboard");
        std::fs::create_dir_all(&screenshots).unwrap();
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{root}/status")).send().await {
                if r.status().is_success() {
                    ready = true;
                    break;
                }
            }
            // Real time: chromedriver is another process.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver at {driver_path} did not start");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let created: Value = http
            .post(format!("{root}/session"))
            .json(&json!({
                "capabilities": { "alwaysMatch": {
                    "browserName": "chrome",
                    "unhandledPromptBehavior": "accept",
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                }}
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver did not open a session: {created}"))
            .to_owned();
        Self {
            driver,
            base: format!("{root}/session/{session}"),
            http,
            _profile: profile,
            screenshots,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = response["value"]["error"].as_str() {
            panic!(
                "WebDriver {path}: {error}: {}",
                response["value"]["message"]
            );
        }
        response["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits up to 5 s for the page's URL to end with `suffix` (after a click that navigates).
    pub async fn wait_for_url(&self, suffix: &str) {
        let mut url = String::new();
        for _ in 0..50 {
            url = self.url().await;
            if url.ends_with(suffix) {
                return;
            }
            // Real time: the browser is another process.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser is at {url}, not at …{suffix}");
    }

    /// The first element matching `css`, waiting up to 5 s for it.
    pub async fn find(&self, css: &str) -> Element {
        for _ in 0..50 {
            let response: Value = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = response["value"][ELEMENT_KEY].as_str() {
                return Element(id.to_owned());
            }
            // Real time: the browser is another process.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = self.url().await;
        panic!("no element matches {css:?} on {url}");
    }

    /// Clicks what submits a form or follows a link, and waits until the next page has
    /// replaced this one.
    pub async fn submit(&self, css: &str) {
        let before = self.find("html").await;
        self.click(css).await;
        for _ in 0..50 {
            let now = self.find("html").await;
            if now.0 != before.0 {
                return;
            }
            // Real time: the browser is another process.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("clicking {css:?} did not load a new page");
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, reqwest::Method::POST, "/click", Some(json!({})))
            .await;
    }

    /// Replaces the text of an input.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        let path = |action: &str| format!("/element/{}/{action}", element.0);
        self.call(reqwest::Method::POST, &path("clear"), Some(json!({})))
            .await;
        self.call(
            reqwest::Method::POST,
            &path("value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// A command on the first element matching `css`: `/element/<id><suffix>`.
    async fn on_element(
        &self,
        css: &str,
        method: reqwest::Method,
        suffix: &str,
        body: Option<Value>,
    ) -> Value {
        let element = self.find(css).await;
        self.call(method, &format!("/element/{}{suffix}", element.0), body)
            .await
    }

    pub async fn text(&self, css: &str) -> String {
        self.on_element(css, reqwest::Method::GET, "/text", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        self.on_element(
            css,
            reqwest::Method::GET,
            &format!("/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .map(str::to_owned)
    }

    /// Makes pages render as with the system's dark theme on (`prefers-color-scheme: dark`).
    pub async fn prefer_dark(&self) {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": { "features": [{ "name": "prefers-color-scheme", "value": "dark" }] },
            })),
        )
        .await;
    }

    /// Lays pages out at a phone's width (375 CSS pixels).
    pub async fn phone_width(&self) {
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setDeviceMetricsOverride",
                "params": { "width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": true },
            })),
        )
        .await;
    }

    /// Runs `script` (a function body: `return …;`) in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Script errors and Content-Security-Policy violations the pages logged since the last
    /// call (HTTP error statuses, which the tests cause on purpose, are left out).
    pub async fn page_errors(&self) -> Vec<String> {
        let entries = self
            .call(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| matches!(e["source"].as_str(), Some("security" | "javascript")))
            .filter_map(|e| e["message"].as_str())
            .map(str::to_owned)
            .collect()
    }

    /// Saves a PNG of the viewport as `<name>.png` in the test output directory.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.base).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
