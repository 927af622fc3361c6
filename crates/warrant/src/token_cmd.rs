//! `warrant token` and `warrant decode`. The token request goes through `warrant-client`, whose
//! default HTTP client follows no redirects.

use std::io::Read;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warrant_client::{AssertionType, ClientKey, TokenProvider};
use warrant_proto::{TOKEN_PATH, TOKEN_TYPE_BEARER, TokenResponse};

use crate::cli::{DecodeArgs, TokenArgs};

pub async fn token(args: TokenArgs) -> Result<(), String> {
    let endpoint = format!("{}{TOKEN_PATH}", args.issuer.trim_end_matches('/'));
    // The assertion's audience is the issuer, as given.
    let builder = TokenProvider::builder()
        .issuer(&args.issuer)
        .token_endpoint(&endpoint)
        .client_id(args.client_id)
        .audience(args.audience)
        .retry_deadline(Duration::from_secs(5));
    // A key or an assertion file replaces the secret (which may also be in the environment).
    let mut builder = match (args.private_key, args.assertion_file, args.client_secret) {
        (Some(path), _, _) => {
            crate::http::warn_if_cleartext(&args.issuer, "the client assertion and the token");
            let mut key = ClientKey::from_pem_file(&path).map_err(|e| e.to_string())?;
            if let Some(alg) = &args.alg {
                key = key.with_alg(alg).map_err(|e| e.to_string())?;
            }
            if let Some(kid) = args.kid {
                key = key.with_kid(kid);
            }
            builder.private_key(key)
        }
        (None, Some(path), _) => {
            crate::http::warn_if_cleartext(&args.issuer, "the client assertion and the token");
            let kind = match args.assertion_type.as_str() {
                "jwt-spiffe" => AssertionType::JwtSpiffe,
                _ => AssertionType::JwtBearer,
            };
            builder.assertion_file(path, kind)
        }
        (None, None, Some(secret)) => {
            crate::http::warn_if_cleartext(&args.issuer, "the client secret and the token");
            builder.client_secret(secret)
        }
        (None, None, None) => {
            return Err(
                "a client credential is required: --client-secret (or WARRANT_CLIENT_SECRET), \
                 --private-key FILE, or --assertion-file FILE"
                    .into(),
            );
        }
    };
    if let Some(scope) = &args.scope {
        builder = builder.scopes([scope.as_str()]);
    }
    let provider = builder.build().map_err(|e| e.to_string())?;
    let token = provider
        .token()
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    if args.json {
        let body = TokenResponse {
            access_token: token.as_str().to_owned(),
            token_type: TOKEN_TYPE_BEARER.to_owned(),
            expires_in: token.expires_in(),
            scope: token.scope().map(str::to_owned),
        };
        let text = serde_json::to_string_pretty(&body).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        println!("{}", token.as_str());
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
