//! `warrant app`: applications, their secrets and quotas.

use serde::Serialize;
use warrant_proto::{ClientGrantView, ClientView};
use warrant_server::clock::rfc3339;

use crate::cli::{AppCommand, GlobalArgs};
use crate::deployment::{self, AppFields};

use super::federation;
use super::grants::{parse_grant, print_grant};
use super::{
    claims_line, credentials, parse_claims, parse_metadata, parse_when, print_json, replacement,
};

#[derive(Serialize)]
struct WithGrants<'a> {
    #[serde(flatten)]
    client: &'a ClientView,
    grants: &'a [ClientGrantView],
    #[serde(skip_serializing_if = "Option::is_none")]
    active_secrets: Option<usize>,
}

/// An application's metadata and custom claims, a line each when it has any.
fn print_fields(view: &ClientView) {
    if !view.client_metadata.is_empty() {
        let entries: Vec<String> = view
            .client_metadata
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        println!("  metadata:    {}", entries.join(", "));
    }
    if !view.custom_claims.is_empty() {
        println!("  claims:      {}", claims_line(&view.custom_claims));
    }
}

pub async fn app(global: &GlobalArgs, cmd: AppCommand) -> Result<(), String> {
    let target = deployment::open(global).await?;
    match cmd {
        AppCommand::Create {
            name,
            description,
            grants,
            secret_expires_at,
            metadata,
            claims,
            json,
        } => {
            let grants = grants
                .iter()
                .map(|g| parse_grant(g))
                .collect::<Result<Vec<_>, _>>()?;
            let expires_at = secret_expires_at.as_deref().map(parse_when).transpose()?;
            let fields = AppFields {
                client_metadata: Some(parse_metadata(&metadata)?),
                custom_claims: Some(parse_claims(&claims)?),
            };
            let (view, grants) = target
                .create_app(name, description, fields, grants, expires_at)
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
                print_fields(&view);
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
        AppCommand::Update {
            client_id,
            metadata,
            no_metadata,
            claims,
            no_claims,
            json,
        } => {
            let fields = AppFields {
                client_metadata: replacement(
                    !metadata.is_empty(),
                    no_metadata,
                    parse_metadata(&metadata)?,
                ),
                custom_claims: replacement(!claims.is_empty(), no_claims, parse_claims(&claims)?),
            };
            let view = target.update_app(&client_id, fields).await?;
            if json {
                print_json(&view)?;
            } else {
                println!("Updated application {}", view.name);
                print_fields(&view);
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
        AppCommand::Federate {
            client_id,
            issuer,
            subject,
            audience,
            conditions,
            expires_at,
            name,
            confirm_broad_subject,
            json,
        } => {
            federation::federate(
                target.as_ref(),
                federation::Federate {
                    client_id,
                    issuer,
                    subject,
                    audience,
                    conditions,
                    expires_at,
                    name,
                    confirm_broad_subject,
                    json,
                },
            )
            .await?;
        }
        AppCommand::Federated { client_id, json } => {
            federation::federated(target.as_ref(), &client_id, json).await?;
        }
        AppCommand::Unfederate {
            client_id,
            credential_id,
        } => {
            federation::unfederate(target.as_ref(), &client_id, &credential_id).await?;
        }
    }
    Ok(())
}
