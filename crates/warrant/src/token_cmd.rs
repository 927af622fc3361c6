//! `warrant token` and `warrant decode`.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warrant_proto::{GRANT_CLIENT_CREDENTIALS, OAuthErrorBody, TOKEN_PATH, TokenResponse};

use crate::cli::{DecodeArgs, TokenArgs};

pub async fn token(args: TokenArgs) -> Result<(), String> {
    let url = format!("{}{TOKEN_PATH}", args.issuer.trim_end_matches('/'));
    let mut body = serde_json::json!({
        "grant_type": GRANT_CLIENT_CREDENTIALS,
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "audience": args.audience,
    });
    if let Some(scope) = &args.scope {
        body["scope"] = serde_json::Value::String(scope.clone());
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let response = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("reading the answer of {url} failed: {e}"))?;
    if !status.is_success() {
        return Err(match serde_json::from_slice::<OAuthErrorBody>(&bytes) {
            Ok(err) => format!(
                "{url} refused the token request ({status}): {}{}",
                err.error,
                err.error_description
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            Err(_) => format!("{url} answered {status}; is this a Warrant (or OAuth 2.0) server?"),
        });
    }
    let token: TokenResponse = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{url} answered 200 but not with a token response: {e}"))?;
    if args.json {
        let text = serde_json::to_string_pretty(&token).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        println!("{}", token.access_token);
    }
    Ok(())
}

pub fn decode(args: &DecodeArgs) -> Result<(), String> {
    let token = if args.token == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
        text
    } else {
        args.token.clone()
    };
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "not a compact JWT: expected 3 dot-separated parts, found {}",
            parts.len()
        ));
    }
    let header = decode_part("header", parts[0])?;
    let claims = decode_part("claims", parts[1])?;
    eprintln!("NOT VERIFIED: decoding shows what a token says, not that it is genuine.");
    let out = serde_json::json!({ "header": header, "claims": claims });
    let text = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn decode_part(name: &str, part: &str) -> Result<serde_json::Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| format!("the {name} is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| format!("the {name} is not JSON"))
}
