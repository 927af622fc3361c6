//! `warrant api|app|grant`: administration against a data directory. The server may be running
//! on the same directory; it picks the changes up within a second.

use std::sync::Arc;

use serde::Serialize;
use warrant_proto::{ClientGrantView, ResourceServerView, SigningKeyView};
use warrant_server::admin::{Admin, GrantSpec, Initialized, NewApi, management_audience};
use warrant_server::clock::{Clock, SystemClock, rfc3339};
use warrant_server::config::{Config, default_issuer};
use warrant_server::domain::Scope;
use warrant_server::keys::MasterKey;
use warrant_server::store::{GrantFilter, Store};
use warrant_server::views::client_view;

use crate::cli::{ApiCommand, AppCommand, GlobalArgs, GrantCommand, InitArgs, KeysCommand};
use crate::serve::{config_layer, data_dir, file_layer};

async fn open_store(global: &GlobalArgs) -> Result<Store, String> {
    let dir = data_dir(global)?;
    let db = dir.join("warrant.db");
    if !db.exists() {
        return Err(format!(
            "no Warrant database at {}: start `warrant serve` once to create it, or point \
             --data-dir (WARRANT_DATA_DIR) at an existing data directory",
            db.display()
        ));
    }
    Store::open_data_dir(&dir).await.map_err(|e| e.to_string())
}

async fn open(global: &GlobalArgs) -> Result<Admin, String> {
    Ok(Admin::new(open_store(global).await?, Arc::new(SystemClock)))
}

/// An admin that can create signing keys: the master key from `WARRANT_MASTER_KEY`, the
/// configured `master_key_file`, or the data directory's `master.key`.
async fn open_with_master_key(global: &GlobalArgs) -> Result<Admin, String> {
    let store = open_store(global).await?;
    let supplied =
        match std::env::var("WARRANT_MASTER_KEY")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(key) => Some(key),
            None => match file_layer(global)?.master_key_file {
                Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                    format!("cannot read the master key file {}: {e}", path.display())
                })?),
                None => None,
            },
        };
    let master =
        MasterKey::load(supplied.as_deref(), &data_dir(global)?).map_err(|e| e.to_string())?;
    Ok(Admin::with_master_key(
        store,
        Arc::new(SystemClock),
        Arc::new(master),
    ))
}

fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn parse_scope(arg: &str) -> Scope {
    match arg.split_once('=') {
        Some((value, description)) => Scope {
            value: value.to_owned(),
            description: description.to_owned(),
        },
        None => Scope {
            value: arg.to_owned(),
            description: String::new(),
        },
    }
}

/// `AUDIENCE=SCOPE,SCOPE`; the last `=` splits, since identifiers may contain one.
fn parse_grant(arg: &str) -> Result<GrantSpec, String> {
    let (audience, scopes) = arg.rsplit_once('=').ok_or_else(|| {
        format!("--grant {arg:?} must look like AUDIENCE=SCOPE[,SCOPE…], e.g. https://api.example.com=read:data")
    })?;
    Ok(GrantSpec {
        audience: audience.to_owned(),
        scopes: scopes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn print_api(api: &ResourceServerView) {
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

fn print_grant(grant: &ClientGrantView) {
    let scopes = if grant.scope.is_empty() {
        "(no scopes)".to_owned()
    } else {
        grant.scope.join(" ")
    };
    println!(
        "{}  {} -> {}  {}",
        grant.id, grant.client_id, grant.audience, scopes
    );
}

pub async fn api(global: &GlobalArgs, cmd: ApiCommand) -> Result<(), String> {
    let admin = open(global).await?;
    match cmd {
        ApiCommand::Create {
            identifier,
            name,
            scopes,
            token_lifetime,
            json,
        } => {
            let api = admin
                .create_api(NewApi {
                    identifier,
                    name,
                    scopes: scopes.iter().map(|s| parse_scope(s)).collect(),
                    token_lifetime,
                    signing_alg: None,
                })
                .await
                .map_err(|e| e.to_string())?;
            let view = ResourceServerView::from(&api);
            if json {
                print_json(&view)?;
            } else {
                println!("Created API:");
                print_api(&view);
            }
        }
        ApiCommand::List { json } => {
            let apis = admin.list_apis().await.map_err(|e| e.to_string())?;
            let views: Vec<ResourceServerView> =
                apis.iter().map(ResourceServerView::from).collect();
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
            let api = admin.get_api(&api).await.map_err(|e| e.to_string())?;
            let view = ResourceServerView::from(&api);
            if json {
                print_json(&view)?;
            } else {
                print_api(&view);
            }
        }
        ApiCommand::Delete { api } => {
            let api = admin.delete_api(&api).await.map_err(|e| e.to_string())?;
            println!("Deleted API {} and its grants.", api.identifier);
        }
    }
    Ok(())
}

pub async fn app(global: &GlobalArgs, cmd: AppCommand) -> Result<(), String> {
    let admin = open(global).await?;
    match cmd {
        AppCommand::Create {
            name,
            description,
            grants,
            json,
        } => {
            let grants = grants
                .iter()
                .map(|g| parse_grant(g))
                .collect::<Result<Vec<_>, _>>()?;
            let created = admin
                .create_application(name, description, grants)
                .await
                .map_err(|e| e.to_string())?;
            let view = client_view(&created.application, Some(created.secret.expose()));
            let grants: Vec<ClientGrantView> =
                created.grants.iter().map(ClientGrantView::from).collect();
            if json {
                #[derive(Serialize)]
                struct Created<'a> {
                    #[serde(flatten)]
                    client: &'a warrant_proto::ClientView,
                    grants: &'a [ClientGrantView],
                }
                print_json(&Created {
                    client: &view,
                    grants: &grants,
                })?;
            } else {
                println!("Created application {}", view.name);
                println!("  client_id:     {}", view.client_id);
                println!("  client_secret: {}", created.secret.expose());
                println!("  (the secret is shown only now: store it in your secret manager)");
                for grant in &grants {
                    print!("  grant: ");
                    print_grant(grant);
                }
            }
        }
        AppCommand::List { json } => {
            let apps = admin.list_applications().await.map_err(|e| e.to_string())?;
            let views: Vec<_> = apps.iter().map(|a| client_view(a, None)).collect();
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
            let details = admin
                .get_application(&client_id)
                .await
                .map_err(|e| e.to_string())?;
            let view = client_view(&details.application, None);
            let grants: Vec<ClientGrantView> =
                details.grants.iter().map(ClientGrantView::from).collect();
            if json {
                #[derive(Serialize)]
                struct Shown<'a> {
                    #[serde(flatten)]
                    client: &'a warrant_proto::ClientView,
                    grants: &'a [ClientGrantView],
                    active_secrets: usize,
                }
                let now = SystemClock.now();
                print_json(&Shown {
                    client: &view,
                    grants: &grants,
                    active_secrets: details.secrets.iter().filter(|s| s.is_active(now)).count(),
                })?;
            } else {
                let now = SystemClock.now();
                println!("{}", view.name);
                println!("  client_id:   {}", view.client_id);
                if !view.description.is_empty() {
                    println!("  description: {}", view.description);
                }
                println!("  created:     {}", view.created_at);
                for secret in details.secrets.iter().filter(|s| s.is_active(now)) {
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
            admin
                .delete_application(&client_id)
                .await
                .map_err(|e| e.to_string())?;
            println!("Deleted application {client_id} with its secrets and grants.");
        }
        AppCommand::RotateSecret {
            client_id,
            grace,
            json,
        } => {
            let secret = admin
                .rotate_secret(&client_id, grace)
                .await
                .map_err(|e| e.to_string())?;
            if json {
                print_json(&serde_json::json!({
                    "client_id": client_id,
                    "client_secret": secret.expose(),
                    "previous_secrets_expire_in": grace,
                }))?;
            } else {
                println!("New client secret for {client_id}:");
                println!("  client_secret: {}", secret.expose());
                if grace == 0 {
                    println!("  The previous secret no longer works.");
                } else {
                    println!("  The previous secret keeps working for {grace} s.");
                }
            }
        }
    }
    Ok(())
}

pub async fn grant(global: &GlobalArgs, cmd: GrantCommand) -> Result<(), String> {
    let admin = open(global).await?;
    match cmd {
        GrantCommand::Create {
            client_id,
            audience,
            scopes,
            json,
        } => {
            let grant = admin
                .create_grant(&client_id, GrantSpec { audience, scopes })
                .await
                .map_err(|e| e.to_string())?;
            let view = ClientGrantView::from(&grant);
            if json {
                print_json(&view)?;
            } else {
                print!("Created grant ");
                print_grant(&view);
            }
        }
        GrantCommand::List {
            client_id,
            audience,
            json,
        } => {
            let grants = admin
                .list_grants(&GrantFilter {
                    client_id,
                    audience,
                })
                .await
                .map_err(|e| e.to_string())?;
            let views: Vec<ClientGrantView> = grants.iter().map(ClientGrantView::from).collect();
            if json {
                print_json(&views)?;
            } else if views.is_empty() {
                println!("No grants.");
            } else {
                views.iter().for_each(print_grant);
            }
        }
        GrantCommand::Delete { grant_id } => {
            admin
                .delete_grant(&grant_id)
                .await
                .map_err(|e| e.to_string())?;
            println!("Deleted grant {grant_id}.");
        }
    }
    Ok(())
}

pub async fn init(global: &GlobalArgs, args: InitArgs) -> Result<(), String> {
    let config =
        Config::from_layer(config_layer(global, args.server)?).map_err(|e| e.to_string())?;
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| default_issuer(config.listen));
    let store = Store::open_data_dir(&config.data_dir)
        .await
        .map_err(|e| e.to_string())?;
    let admin = Admin::new(store, Arc::new(SystemClock));
    let audience = management_audience(&issuer);
    match admin.initialize(&issuer).await.map_err(|e| e.to_string())? {
        Initialized::Created { client_id, secret } => {
            if args.json {
                print_json(&serde_json::json!({
                    "client_id": client_id,
                    "client_secret": secret.expose(),
                    "audience": audience,
                    "issuer": issuer,
                }))?;
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
                print_json(&serde_json::json!({
                    "client_id": client_id,
                    "audience": audience,
                    "issuer": issuer,
                    "already_initialized": true,
                }))?;
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

fn print_key(key: &SigningKeyView) {
    let state = if key.current {
        "current"
    } else if key.next {
        "next"
    } else if key.previous {
        "previous"
    } else {
        "revoked"
    };
    let mut line = format!("{}  {state}", key.kid);
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
    match cmd {
        KeysCommand::List { json } => {
            let keys = open(global)
                .await?
                .list_keys()
                .await
                .map_err(|e| e.to_string())?;
            let views: Vec<SigningKeyView> = keys.iter().map(SigningKeyView::from).collect();
            if json {
                print_json(&views)?;
            } else {
                views.iter().for_each(print_key);
            }
        }
        KeysCommand::Rotate { json } => {
            let admin = open_with_master_key(global).await?;
            let current = admin.rotate_keys().await.map_err(|e| e.to_string())?;
            let view = SigningKeyView::from(&current);
            if json {
                print_json(&view)?;
            } else {
                println!("Rotated. Running servers switch within a second. Now signing with:");
                print_key(&view);
            }
        }
        KeysCommand::Revoke { kid, json } => {
            let key = open(global)
                .await?
                .revoke_key(&kid)
                .await
                .map_err(|e| e.to_string())?;
            let view = SigningKeyView::from(&key);
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
