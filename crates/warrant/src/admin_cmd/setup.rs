//! `warrant init`, `check` and `migrate`: making a deployment manageable, checking and
//! upgrading its storage.

use warrant_server::admin::{Initialized, management_audience};
use warrant_server::config::{Config, default_issuer};

use crate::cli::{GlobalArgs, InitArgs};
use crate::deployment;
use crate::serve::config_layer;

use super::operators::{create_operator, print_created_operator};
use super::print_json;

pub async fn init(global: &GlobalArgs, args: InitArgs) -> Result<(), String> {
    let config =
        Config::from_layer(config_layer(global, args.server)?).map_err(|e| e.to_string())?;
    let store = config.open_store().await.map_err(|e| e.to_string())?;
    let admin = deployment::local_admin(store);
    // The deployment's issuer as `warrant serve` recorded it: `serve` on another port than the
    // default must not make `init` set up a second management API for an issuer nobody serves.
    let recorded = admin.recorded_issuer().await.map_err(|e| e.to_string())?;
    let issuer = match (config.issuer.clone(), recorded) {
        (Some(asked), Some(recorded)) if asked != recorded => {
            return Err(format!(
                "this deployment's issuer is {recorded} (recorded when it was last served or \
                 initialized), not {asked}: run `warrant init` without --issuer to use it, or \
                 `warrant serve --issuer {asked}` to move the deployment to the new issuer first"
            ));
        }
        (Some(asked), _) => asked,
        (None, Some(recorded)) => recorded,
        (None, None) => default_issuer(config.listen),
    };
    let operator = match &args.admin_user {
        Some(username) => Some((
            username.as_str(),
            create_operator(&admin, username, args.password_stdin).await?,
        )),
        None => None,
    };
    if !args.json {
        if let Some((username, generated)) = &operator {
            print_created_operator(username, generated.as_deref());
        }
    }
    let with_operator = |mut json: serde_json::Value| {
        if let Some((username, generated)) = &operator {
            json["admin_user"] = serde_json::json!(username);
            if let Some(password) = generated {
                json["admin_password"] = serde_json::json!(password);
            }
        }
        json
    };
    let audience = management_audience(&issuer);
    match admin.initialize(&issuer).await.map_err(|e| e.to_string())? {
        Initialized::Created { client_id, secret } => {
            if args.json {
                print_json(&with_operator(serde_json::json!({
                    "client_id": client_id,
                    "client_secret": secret.expose(),
                    "audience": audience,
                    "issuer": issuer,
                })))?;
            } else {
                println!(
                    "Initialized. The management API's admin application (the secret is shown only now):"
                );
                println!("  client_id:     {client_id}");
                println!("  client_secret: {}", secret.expose());
                println!("  audience:      {audience}");
                println!("  issuer:        {issuer}");
            }
        }
        Initialized::Already { client_id } => {
            if args.json {
                print_json(&with_operator(serde_json::json!({
                    "client_id": client_id,
                    "audience": audience,
                    "issuer": issuer,
                    "already_initialized": true,
                })))?;
            } else {
                println!(
                    "This deployment is already initialized: the admin application is {client_id}."
                );
                println!("To get a new admin secret: warrant app rotate-secret {client_id}");
            }
        }
    }
    Ok(())
}

pub async fn check(global: &GlobalArgs) -> Result<(), String> {
    let store = crate::serve::open_store(global).await?;
    let problems = store.check_integrity().await.map_err(|e| e.to_string())?;
    if problems.is_empty() {
        println!("ok: {} storage passed its integrity checks", store.engine());
        return Ok(());
    }
    Err(format!(
        "the storage failed its integrity checks: {}; restore from a backup",
        problems.join("; ")
    ))
}

pub async fn migrate(global: &GlobalArgs) -> Result<(), String> {
    let layer = config_layer(global, crate::cli::ServeArgs::default())?;
    let config = Config::from_layer(layer).map_err(|e| e.to_string())?;
    let store = config.open_store().await.map_err(|e| e.to_string())?;
    println!("The {} schema is up to date.", store.engine());
    Ok(())
}
