//! `warrant app`: applications, their secrets and quotas.

use serde::Serialize;
use warrant_proto::{ClientGrantView, ClientView};
use warrant_server::clock::rfc3339;

use crate::cli::{AppCommand, GlobalArgs};
use crate::deployment;

use super::grants::{parse_grant, print_grant};
use super::{credentials, parse_when, print_json};

#[derive(Serialize)]
struct WithGrants<'a> {
    #[serde(flatten)]
    client: &'a ClientView,
    grants: &'a [ClientGrantView],
    #[serde(skip_serializing_if = "Option::is_none")]
    active_secrets: Option<usize>,
}

pub async fn app(global: &GlobalArgs, cmd: AppCommand) -> Result<(), String> {
    let target = deployment::open(global).await?;
    match cmd {
        AppCommand::Create {
            name,
            description,
            grants,
            secret_expires_at,
            json,
        } => {
            let grants = grants
                .iter()
                .map(|g| parse_grant(g))
                .collect::<Result<Vec<_>, _>>()?;
            let expires_at = secret_expires_at.as_deref().map(parse_when).transpose()?;
            let (view, grants) = target
                .create_app(name, description, grants, expires_at)
                .await?;
            if json {
                print_json(&WithGrants {
                    client: &view,
                    grants: &grants,
                    active_secrets: None,
                })?;
            } else {
                println!("Created application {}", view.name);
                println!("  client_id:     {}", view.client_id);
                println!(
                    "  client_secret: {}",
                    view.client_secret.as_deref().unwrap_or("")
                );
                if let Some(at) = expires_at {
                    println!("  secret expires: {}", rfc3339(at));
                }
                println!("  (the secret is shown only now: store it in your secret manager)");
                for grant in &grants {
                    print!("  grant: ");
                    print_grant(grant);
                }
            }
        }
        AppCommand::List { json } => {
            let views = target.list_apps().await?;
            if json {
                print_json(&views)?;
            } else if views.is_empty() {
                println!("No applications yet. Create one with `warrant app create`.");
            } else {
                for view in &views {
                    println!("{}  {}", view.client_id, view.name);
                }
            }
        }
        AppCommand::Show { client_id, json } => {
            let (view, grants, secrets) = target.get_app(&client_id).await?;
            if json {
                print_json(&WithGrants {
                    client: &view,
                    grants: &grants,
                    active_secrets: secrets.as_ref().map(Vec::len),
                })?;
            } else {
                println!("{}", view.name);
                println!("  client_id:   {}", view.client_id);
                if !view.description.is_empty() {
                    println!("  description: {}", view.description);
                }
                println!("  created:     {}", view.created_at);
                for secret in secrets.iter().flatten() {
                    match secret.expires_at {
                        Some(at) => println!(
                            "  secret:      created {}, expires {}",
                            rfc3339(secret.created_at),
                            rfc3339(at)
                        ),
                        None => println!("  secret:      created {}", rfc3339(secret.created_at)),
                    }
                }
                for grant in &grants {
                    print!("  grant: ");
                    print_grant(grant);
                }
            }
        }
        AppCommand::Delete { client_id } => {
            target.delete_app(&client_id).await?;
            println!("Deleted application {client_id} with its secrets and grants.");
        }
        AppCommand::RotateSecret {
            client_id,
            grace,
            secret_expires_at,
            json,
        } => {
            let expires_at = secret_expires_at.as_deref().map(parse_when).transpose()?;
            let secret = target.rotate_secret(&client_id, grace, expires_at).await?;
            if json {
                print_json(&serde_json::json!({
                    "client_id": client_id,
                    "client_secret": secret,
                    "client_secret_expires_at": expires_at,
                    "previous_secrets_expire_in": grace,
                }))?;
            } else {
                println!("New client secret for {client_id}:");
                println!("  client_secret: {secret}");
                if let Some(at) = expires_at {
                    println!("  It expires {}.", rfc3339(at));
                }
                if grace == 0 {
                    println!("  The previous secret no longer works.");
                } else {
                    println!("  The previous secret keeps working for {grace} s.");
                }
            }
        }
        AppCommand::Credentials(cmd) => credentials::credentials(&*target, cmd).await?,
    }
    Ok(())
}
