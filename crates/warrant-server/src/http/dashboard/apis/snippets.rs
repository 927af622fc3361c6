//! The Test tab's code samples: how an application asks for a token for an API, in curl,
//! Python and Rust. The secret is a placeholder: the samples never hold one.

/// The samples for `client_id` asking for a token for `audience` from `issuer`.
pub(super) struct Snippets {
    pub(super) curl: String,
    pub(super) python: String,
    pub(super) rust: String,
}

impl Snippets {
    pub(super) fn new(issuer: &str, client_id: &str, audience: &str) -> Self {
        let token_url = format!("{issuer}oauth/token");
        let curl = format!(
            "curl --request POST \\\n  --url {token_url} \\\n  --header 'content-type: application/json' \\\n  --data '{{\"client_id\":\"{selected}\",\"client_secret\":\"YOUR_CLIENT_SECRET\",\"audience\":\"{aud}\",\"grant_type\":\"client_credentials\"}}'",
            selected = client_id,
            aud = audience
        );
        let python = format!(
            "import httpx\n\nresponse = httpx.post(\n    \"{token_url}\",\n    json={{\n        \"client_id\": \"{selected}\",\n        \"client_secret\": \"YOUR_CLIENT_SECRET\",\n        \"audience\": \"{aud}\",\n        \"grant_type\": \"client_credentials\",\n    }},\n)\nresponse.raise_for_status()\naccess_token = response.json()[\"access_token\"]",
            selected = client_id,
            aud = audience
        );
        let rust = format!(
            "use warrant_client::TokenProvider;\n\n// Build once and share: it caches the token until shortly before it expires.\nlet tokens = TokenProvider::builder()\n    .issuer(\"{issuer}\")\n    .client_id(\"{selected}\")\n    .client_secret(std::env::var(\"WARRANT_CLIENT_SECRET\")?)\n    .audience(\"{aud}\")\n    .build()?;\nlet token = tokens.token().await?;\n// Authorization: Bearer …\nlet header = token.bearer();",
            selected = client_id,
            aud = audience
        );
        Self { curl, python, rust }
    }
}
