//! `warrant grant`: which application may get tokens for which API.

use warrant_proto::ClientGrantView;
use warrant_server::admin::GrantSpec;

use crate::cli::{GlobalArgs, GrantCommand};
use crate::deployment;

use super::print_json;

/// `AUDIENCE=SCOPE,SCOPE`; the last `=` splits, since identifiers may contain one.
pub(super) fn parse_grant(arg: &str) -> Result<GrantSpec, String> {
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

pub(super) fn print_grant(grant: &ClientGrantView) {
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

pub async fn grant(global: &GlobalArgs, cmd: GrantCommand) -> Result<(), String> {
    let target = deployment::open(global).await?;
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
