//! `warrant issuer` (trusted issuers) and `warrant app federate|federated|unfederate` (an
//! application's federated credentials): workload identity federation.

use std::collections::BTreeMap;

use warrant_proto::{
    CreateFederatedCredential, CreateTrustedIssuer, FederatedCredentialView, TrustedIssuerView,
    UpdateTrustedIssuer,
};

use crate::cli::{GlobalArgs, IssuerCommand};
use crate::deployment::{self, Target};

use super::print_json;

pub async fn issuer(global: &GlobalArgs, cmd: IssuerCommand) -> Result<(), String> {
    let target = deployment::open(global).await?;
    match cmd {
        IssuerCommand::Add {
            issuer,
            name,
            jwks_uri,
            jwks_file,
            bearer_token_file,
            ca_file,
            algorithms,
            max_assertion_lifetime,
            json,
        } => {
            let jwks = jwks_file.map(read_jwks).transpose()?;
            let view = target
                .create_trusted_issuer(CreateTrustedIssuer {
                    issuer,
                    name,
                    jwks_uri,
                    jwks,
                    bearer_token_file,
                    ca_file,
                    algorithms,
                    max_assertion_lifetime,
                })
                .await?;
            if json {
                print_json(&view)?;
            } else {
                println!("Trusted issuer {}", view.issuer);
                print_issuer(&view);
            }
        }
        IssuerCommand::List { json } => {
            let views = target.list_trusted_issuers().await?;
            if json {
                print_json(&views)?;
            } else if views.is_empty() {
                println!("No trusted issuers yet. Add one with `warrant issuer add ISSUER`.");
            } else {
                for view in &views {
                    println!(
                        "{}  {}  keys: {}  algorithms: {}",
                        view.id,
                        view.issuer,
                        view.key_source,
                        view.algorithms.join(",")
                    );
                }
            }
        }
        IssuerCommand::Show { issuer, json } => {
            let view = target.get_trusted_issuer(&issuer).await?;
            if json {
                print_json(&view)?;
            } else {
                println!("{}", view.issuer);
                print_issuer(&view);
            }
        }
        IssuerCommand::Update {
            issuer,
            name,
            jwks_uri,
            jwks_file,
            discovery,
            bearer_token_file,
            no_bearer_token_file,
            ca_file,
            no_ca_file,
            algorithms,
            max_assertion_lifetime,
            json,
        } => {
            let jwks = jwks_file.map(read_jwks).transpose()?;
            // --discovery clears both key sources; otherwise the one given replaces the other.
            let (jwks_uri, jwks) = if discovery {
                (Some(None), Some(None))
            } else {
                (jwks_uri.map(Some), jwks.map(Some))
            };
            let cleared = |clear: bool, value: Option<String>| {
                if clear { Some(None) } else { value.map(Some) }
            };
            let view = target
                .update_trusted_issuer(
                    &issuer,
                    UpdateTrustedIssuer {
                        issuer: None,
                        name,
                        jwks_uri,
                        jwks,
                        bearer_token_file: cleared(no_bearer_token_file, bearer_token_file),
                        ca_file: cleared(no_ca_file, ca_file),
                        algorithms: (!algorithms.is_empty()).then_some(algorithms),
                        max_assertion_lifetime,
                    },
                )
                .await?;
            if json {
                print_json(&view)?;
            } else {
                println!("Changed trusted issuer {}", view.issuer);
                print_issuer(&view);
            }
        }
        IssuerCommand::Remove { issuer } => {
            let view = target.get_trusted_issuer(&issuer).await?;
            target.delete_trusted_issuer(&view.id).await?;
            println!("No longer trusting {} ({}).", view.issuer, view.id);
        }
    }
    Ok(())
}

/// A JWKS file's JSON, for `--jwks-file`.
fn read_jwks(path: std::path::PathBuf) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn print_issuer(view: &TrustedIssuerView) {
    println!("  id:            {}", view.id);
    println!("  name:          {}", view.name);
    match (&view.jwks_uri, view.key_source.as_str()) {
        (Some(uri), _) => println!("  keys:          {uri}"),
        (None, "inline") => println!("  keys:          uploaded (inline JWKS)"),
        _ => println!("  keys:          from its discovery document"),
    }
    if let Some(path) = &view.bearer_token_file {
        println!("  bearer token:  {path}");
    }
    if let Some(path) = &view.ca_file {
        println!("  CA file:       {path}");
    }
    println!("  algorithms:    {}", view.algorithms.join(", "));
    println!("  max lifetime:  {} s", view.max_assertion_lifetime);
}

/// The arguments of `warrant app federate`.
#[derive(Debug)]
pub struct Federate {
    pub client_id: String,
    pub issuer: String,
    pub subject: String,
    pub audience: Option<String>,
    pub conditions: Vec<String>,
    pub expires_at: Option<String>,
    pub name: Option<String>,
    pub confirm_broad_subject: bool,
    pub json: bool,
}

pub async fn federate(target: &dyn Target, args: Federate) -> Result<(), String> {
    let mut conditions = BTreeMap::new();
    for condition in &args.conditions {
        let (claim, value) = condition
            .split_once('=')
            .ok_or_else(|| format!("--condition {condition:?}: expected CLAIM=VALUE"))?;
        conditions.insert(claim.to_owned(), value.to_owned());
    }
    let view = target
        .create_federated_credential(
            &args.client_id,
            CreateFederatedCredential {
                issuer: args.issuer,
                subject: args.subject,
                name: args.name,
                audience: args.audience,
                conditions,
                expires_at: args.expires_at,
                confirm_broad_subject: args.confirm_broad_subject,
            },
        )
        .await?;
    if args.json {
        print_json(&view)?;
    } else {
        println!(
            "{} now authenticates workloads of {} with subject {}",
            view.client_id, view.issuer, view.subject
        );
        print_credential(&view);
    }
    Ok(())
}

pub async fn federated(target: &dyn Target, client_id: &str, json: bool) -> Result<(), String> {
    let views = target.list_federated_credentials(client_id).await?;
    if json {
        print_json(&views)?;
    } else if views.is_empty() {
        println!("{client_id} has no federated credentials. Add one with `warrant app federate`.");
    } else {
        for view in &views {
            println!("{}  {}  {}", view.id, view.issuer, view.subject);
        }
    }
    Ok(())
}

pub async fn unfederate(target: &dyn Target, client_id: &str, id: &str) -> Result<(), String> {
    target.delete_federated_credential(client_id, id).await?;
    println!("Removed federated credential {id} of {client_id}.");
    Ok(())
}

fn print_credential(view: &FederatedCredentialView) {
    println!("  id:         {}", view.id);
    println!(
        "  audience:   {}",
        view.audience
            .as_deref()
            .unwrap_or("the issuer URL (default)")
    );
    for (claim, value) in &view.conditions {
        println!("  condition:  {claim} = {value}");
    }
    if let Some(at) = &view.expires_at {
        println!("  expires:    {at}");
    }
}
