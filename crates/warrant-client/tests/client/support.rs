use warrant_client::TokenProvider;
use warrant_testkit::TestServer;

pub const API: &str = "https://api.example.com";
pub const OTHER: &str = "https://other.example.com";

/// A Warrant server with two APIs (`API` with the given token lifetime) and one application
/// granted `read:data` and `write:data` on both.
pub struct Fixture {
    pub server: TestServer,
    pub client_id: String,
    pub secret: String,
}

pub async fn start(lifetime: Option<u32>) -> Fixture {
    let server = TestServer::start().await;
    server
        .create_api(API, &["read:data", "write:data"], lifetime)
        .await;
    server
        .create_api(OTHER, &["read:data", "write:data"], None)
        .await;
    let scopes: &[&str] = &["read:data", "write:data"];
    let (client_id, secret) = server.create_app(&[(API, scopes), (OTHER, scopes)]).await;
    Fixture {
        server,
        client_id,
        secret,
    }
}

impl std::ops::Deref for Fixture {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl Fixture {
    pub fn provider(&self) -> warrant_client::TokenProviderBuilder {
        TokenProvider::builder()
            .token_endpoint(self.token_endpoint())
            .client_id(&self.client_id)
            .client_secret(self.secret.as_str())
            .audience(API)
    }

    /// [`provider`](Self::provider) without its credential, for another one.
    pub fn provider_without_secret(&self) -> warrant_client::TokenProviderBuilder {
        TokenProvider::builder()
            .token_endpoint(self.token_endpoint())
            .client_id(&self.client_id)
            .audience(API)
    }

    pub async fn stop(&mut self) {
        self.server.stop().await;
    }
}

/// The claims of a JWT, decoded without verification (the tests only read `exp` and `aud`).
pub fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
