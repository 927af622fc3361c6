//! `warrant api`: APIs (resource servers) and their scopes.

use warrant_proto::{ResourceServerView, ScopeView};

use crate::cli::{ApiCommand, GlobalArgs};
use crate::deployment;

use super::print_json;

pub(super) fn parse_scope(arg: &str) -> ScopeView {
    match arg.split_once('=') {
        Some((value, description)) => ScopeView {
            value: value.to_owned(),
            description: description.to_owned(),
        },
        None => ScopeView {
            value: arg.to_owned(),
            description: String::new(),
        },
    }
}

pub(super) fn print_api(api: &ResourceServerView) {
    println!("{}  ({})", api.name, api.identifier);
    println!("  id:              {}", api.id);
    println!("  token lifetime:  {} s", api.token_lifetime);
    println!("  signing alg:     {}", api.signing_alg);
    if api.scopes.is_empty() {
        println!("  scopes:          (none)");
    }
    for scope in &api.scopes {
        if scope.description.is_empty() {
            println!("  scope:           {}", scope.value);
        } else {
            println!(
                "  scope:           {}  ({})",
                scope.value, scope.description
            );
        }
    }
}

pub async fn api(global: &GlobalArgs, cmd: ApiCommand) -> Result<(), String> {
    let target = deployment::open(global).await?;
    match cmd {
        ApiCommand::Create {
            identifier,
            name,
            scopes,
            token_lifetime,
            signing_alg,
            json,
        } => {
            let view = target
                .create_api(
                    identifier,
                    name,
                    scopes.iter().map(|s| parse_scope(s)).collect(),
                    token_lifetime,
                    signing_alg,
                )
                .await?;
            if json {
                print_json(&view)?;
            } else {
                println!("Created API:");
                print_api(&view);
            }
        }
        ApiCommand::List { json } => {
            let views = target.list_apis().await?;
            if json {
                print_json(&views)?;
            } else if views.is_empty() {
                println!("No APIs yet. Create one with `warrant api create`.");
            } else {
                for view in &views {
                    let scopes: Vec<&str> = view.scopes.iter().map(|s| s.value.as_str()).collect();
                    println!("{}  {}  [{}]", view.identifier, view.name, scopes.join(" "));
                }
            }
        }
        ApiCommand::Show { api, json } => {
            let view = target.get_api(&api).await?;
            if json {
                print_json(&view)?;
            } else {
                print_api(&view);
            }
        }
        ApiCommand::Delete { api } => {
            let identifier = target.delete_api(&api).await?;
            println!("Deleted API {identifier} and its grants.");
        }
    }
    Ok(())
}
