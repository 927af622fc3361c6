//! `warrant keys`: signing keys, listed, rotated and revoked.

use warrant_proto::SigningKeyView;

use crate::cli::{GlobalArgs, KeysCommand};
use crate::deployment;

use super::print_json;

pub(super) fn print_key(key: &SigningKeyView) {
    let state = if key.current {
        "current"
    } else if key.next {
        "next"
    } else if key.previous {
        "previous"
    } else {
        "revoked"
    };
    let mut line = format!("{}  {}  {state}", key.kid, key.alg);
    if let Some(since) = &key.current_since {
        line.push_str(&format!("  signing since {since}"));
    }
    if let Some(until) = &key.current_until {
        line.push_str(&format!("  until {until}"));
    }
    if let Some(at) = &key.revoked_at {
        line.push_str(&format!("  revoked {at}"));
    }
    println!("{line}");
}

pub async fn keys(global: &GlobalArgs, cmd: KeysCommand) -> Result<(), String> {
    let target = deployment::open(global).await?;
    match cmd {
        KeysCommand::List { json } => {
            let views = target.list_keys().await?;
            if json {
                print_json(&views)?;
            } else {
                views.iter().for_each(print_key);
            }
        }
        KeysCommand::Rotate { alg, json } => {
            let view = target.rotate_keys(alg.as_deref()).await?;
            if json {
                print_json(&view)?;
            } else {
                println!("Rotated. Running servers switch within a second. Now signing with:");
                print_key(&view);
            }
        }
        KeysCommand::Revoke { kid, json } => {
            let view = target.revoke_key(&kid).await?;
            if json {
                print_json(&view)?;
            } else {
                println!(
                    "Revoked: the key leaves the JWKS within a second, and tokens it signed stop verifying."
                );
                print_key(&view);
            }
        }
    }
    Ok(())
}
