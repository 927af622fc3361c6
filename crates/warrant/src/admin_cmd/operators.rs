//! `warrant admin`: the dashboard's administrators.

use warrant_server::admin::Admin;
use warrant_server::clock::rfc3339;

use crate::cli::{AdminCommand, GlobalArgs};
use crate::deployment;

use super::print_json;

/// Where a new administrator password comes from: standard input, the environment, or a
/// new random one (returned with `true`, to be printed once).
pub(super) fn admin_password(from_stdin: bool) -> Result<(String, bool), String> {
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
pub(super) async fn create_operator(
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

pub(super) fn print_created_operator(username: &str, generated: Option<&str>) {
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
    let admin = deployment::local_admin(store);
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
