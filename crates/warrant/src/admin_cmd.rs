//! `warrant api|app|grant|keys|admin|init`: administration, against a data directory (the server may
//! be running on it; it picks changes up within a second) or, with `--server`, through a running
//! server's management API.

use serde::Serialize;
use warrant_proto::{ClientGrantView, ClientView, ResourceServerView, ScopeView, SigningKeyView};
use warrant_server::admin::{Admin, GrantSpec, Initialized, management_audience};
use warrant_server::clock::rfc3339;
use warrant_server::config::{Config, default_issuer};

use crate::cli::{
    AdminCommand, ApiCommand, AppCommand, GlobalArgs, GrantCommand, InitArgs, KeysCommand, LogsArgs,
};
use crate::serve::config_layer;
use crate::target;

fn print_json<T: Serialize>(value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    println!("{text}");
    Ok(())
}

fn parse_scope(arg: &str) -> ScopeView {
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
    let target = target::open(global).await?;
    match cmd {
        ApiCommand::Create {
            identifier,
            name,
            scopes,
            token_lifetime,
            json,
        } => {
            let view = target
                .create_api(
                    identifier,
                    name,
                    scopes.iter().map(|s| parse_scope(s)).collect(),
                    token_lifetime,
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

#[derive(Serialize)]
struct WithGrants<'a> {
    #[serde(flatten)]
    client: &'a ClientView,
    grants: &'a [ClientGrantView],
    #[serde(skip_serializing_if = "Option::is_none")]
    active_secrets: Option<usize>,
}

pub async fn app(global: &GlobalArgs, cmd: AppCommand) -> Result<(), String> {
    let target = target::open(global).await?;
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
            let (view, grants) = target.create_app(name, description, grants).await?;
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
            json,
        } => {
            let secret = target.rotate_secret(&client_id, grace).await?;
            if json {
                print_json(&serde_json::json!({
                    "client_id": client_id,
                    "client_secret": secret,
                    "previous_secrets_expire_in": grace,
                }))?;
            } else {
                println!("New client secret for {client_id}:");
                println!("  client_secret: {secret}");
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
    let target = target::open(global).await?;
    match cmd {
        GrantCommand::Create {
            client_id,
            audience,
            scopes,
            json,
        } => {
            let view = target
                .create_grant(&client_id, GrantSpec { audience, scopes })
                .await?;
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
            let views = target.list_grants(client_id, audience).await?;
            if json {
                print_json(&views)?;
            } else if views.is_empty() {
                println!("No grants.");
            } else {
                views.iter().for_each(print_grant);
            }
        }
        GrantCommand::Delete { grant_id } => {
            target.delete_grant(&grant_id).await?;
            println!("Deleted grant {grant_id}.");
        }
    }
    Ok(())
}

pub async fn init(global: &GlobalArgs, args: InitArgs) -> Result<(), String> {
    let config =
        Config::from_layer(config_layer(global, args.server)?).map_err(|e| e.to_string())?;
    let store = config.open_store().await.map_err(|e| e.to_string())?;
    let admin = target::local_admin(store);
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

/// Where a new administrator password comes from: standard input, the environment, or a
/// new random one (returned with `true`, to be printed once).
fn admin_password(from_stdin: bool) -> Result<(String, bool), String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false));
    }
    if let Ok(password) = std::env::var("WARRANT_ADMIN_PASSWORD") {
        return Ok((password, false));
    }
    Ok((warrant_server::domain::random_token::<18>(), true))
}

/// Creates a dashboard administrator; returns the password when it was generated (to be
/// shown once).
async fn create_operator(
    admin: &Admin,
    username: &str,
    from_stdin: bool,
) -> Result<Option<String>, String> {
    let (password, generated) = admin_password(from_stdin)?;
    admin
        .create_operator(username, &password)
        .await
        .map_err(|e| e.to_string())?;
    Ok(generated.then_some(password))
}

fn print_created_operator(username: &str, generated: Option<&str>) {
    match generated {
        Some(password) => println!(
            "Created dashboard administrator {username}. Password (shown only now): {password}"
        ),
        None => println!("Created dashboard administrator {username}."),
    }
}

pub async fn operators(global: &GlobalArgs, cmd: AdminCommand) -> Result<(), String> {
    if global.server.is_some() {
        return Err(
            "dashboard administrators are managed on the data directory or database \
                    (--data-dir or --database-url), not through --server"
                .into(),
        );
    }
    let store = crate::serve::open_store(global).await?;
    let admin = target::local_admin(store);
    match cmd {
        AdminCommand::Create {
            username,
            password_stdin,
        } => {
            let generated = create_operator(&admin, &username, password_stdin).await?;
            print_created_operator(&username, generated.as_deref());
        }
        AdminCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let (password, generated) = admin_password(password_stdin)?;
            admin
                .set_operator_password(&username, &password)
                .await
                .map_err(|e| e.to_string())?;
            if generated {
                println!("New password for {username} (shown only now): {password}");
            } else {
                println!("Password of {username} changed; their sessions ended.");
            }
        }
        AdminCommand::List { json } => {
            let operators = admin.list_operators().await.map_err(|e| e.to_string())?;
            if json {
                let list: Vec<_> = operators
                    .iter()
                    .map(|(name, at)| serde_json::json!({"username": name, "created_at": rfc3339(*at)}))
                    .collect();
                return print_json(&list);
            }
            if operators.is_empty() {
                println!(
                    "No dashboard administrators. Create one: warrant admin create <username>"
                );
            }
            for (name, at) in operators {
                println!("{name}  created {}", rfc3339(at));
            }
        }
        AdminCommand::Delete { username } => {
            admin
                .delete_operator(&username)
                .await
                .map_err(|e| e.to_string())?;
            println!("Deleted dashboard administrator {username}; their sessions ended.");
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

pub async fn logs(global: &GlobalArgs, args: LogsArgs) -> Result<(), String> {
    if args.take == 0 || args.take > 100 {
        return Err("--take must be between 1 and 100".into());
    }
    let target = target::open(global).await?;
    let events = target
        .list_logs(args.kind.as_deref(), args.client_id.as_deref(), args.take)
        .await?;
    if args.json {
        return print_json(&events);
    }
    if events.is_empty() {
        println!("No events.");
    }
    let field = |e: &serde_json::Value, name: &str| e[name].as_str().unwrap_or("-").to_owned();
    for e in &events {
        println!(
            "{}  {:<8} {:<34} {:<28} {}",
            field(e, "date"),
            field(e, "type"),
            field(e, "client_id"),
            field(e, "audience"),
            field(e, "description"),
        );
    }
    Ok(())
}

pub async fn keys(global: &GlobalArgs, cmd: KeysCommand) -> Result<(), String> {
    let target = target::open(global).await?;
    match cmd {
        KeysCommand::List { json } => {
            let views = target.list_keys().await?;
            if json {
                print_json(&views)?;
            } else {
                views.iter().for_each(print_key);
            }
        }
        KeysCommand::Rotate { json } => {
            let view = target.rotate_keys().await?;
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

pub async fn migrate(global: &GlobalArgs) -> Result<(), String> {
    let layer = config_layer(global, crate::cli::ServeArgs::default())?;
    let config = Config::from_layer(layer).map_err(|e| e.to_string())?;
    let store = config.open_store().await.map_err(|e| e.to_string())?;
    println!("The {} schema is up to date.", store.engine());
    Ok(())
}
