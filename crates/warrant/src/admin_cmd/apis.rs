//! `warrant api`: APIs (resource servers) and their scopes.

use warrant_proto::{ProofOfPossessionView, ResourceServerView, ScopeView};

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

/// `--dpop`: `required` or `optional` (and, when changing an API, `off`: `Ok(None)`).
fn dpop_setting(arg: &str, off_allowed: bool) -> Result<Option<ProofOfPossessionView>, String> {
    let required = match arg {
        "required" => true,
        "optional" => false,
        "off" if off_allowed => return Ok(None),
        _ if off_allowed => return Err("--dpop takes required, optional or off".into()),
        _ => return Err("--dpop takes required or optional".into()),
    };
    Ok(Some(ProofOfPossessionView {
        mechanism: "dpop".to_owned(),
        required,
    }))
}

pub(super) fn print_api(api: &ResourceServerView) {
    println!("{}  ({})", api.name, api.identifier);
    println!("  id:              {}", api.id);
    println!("  token lifetime:  {} s", api.token_lifetime);
    println!("  signing alg:     {}", api.signing_alg);
    match &api.proof_of_possession {
        Some(pop) if pop.required => println!("  DPoP:            required"),
        Some(_) => println!("  DPoP:            optional"),
        None => {}
    }
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
            dpop,
            json,
        } => {
            let pop = dpop.map(|d| dpop_setting(&d, false)).transpose()?.flatten();
            let view = target
                .create_api(
                    identifier,
                    name,
                    scopes.iter().map(|s| parse_scope(s)).collect(),
                    token_lifetime,
                    signing_alg,
                    pop,
                )
                .await?;
            if json {
                print_json(&view)?;
            } else {
                println!("Created API:");
                print_api(&view);
            }
        }
        ApiCommand::Update { api, dpop, json } => {
            let Some(dpop) = dpop else {
                return Err("nothing to change: give --dpop".into());
            };
            let pop = dpop_setting(&dpop, true)?;
            let view = target.set_proof_of_possession(&api, pop).await?;
            if json {
                print_json(&view)?;
            } else {
                println!("Updated API:");
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
