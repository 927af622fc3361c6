//! `warrant grant`: which application may get tokens for which API.

use warrant_proto::ClientGrantView;
use warrant_server::admin::GrantSpec;
use warrant_server::views::claims_from_view;

use crate::cli::{GlobalArgs, GrantCommand};
use crate::deployment;

use super::{claims_line, parse_claims, print_json, replacement};

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
        custom_claims: None,
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
    if !grant.custom_claims.is_empty() {
        println!("    claims: {}", claims_line(&grant.custom_claims));
    }
}

pub async fn grant(global: &GlobalArgs, cmd: GrantCommand) -> Result<(), String> {
    let target = deployment::open(global).await?;
    match cmd {
        GrantCommand::Create {
            client_id,
            audience,
            scopes,
            claims,
            json,
        } => {
            let custom_claims = if claims.is_empty() {
                None
            } else {
                let claims = parse_claims(&claims)?;
                Some(claims_from_view(claims).map_err(|e| e.to_string())?)
            };
            let spec = GrantSpec {
                audience,
                scopes,
                custom_claims,
            };
            let view = target.create_grant(&client_id, spec).await?;
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
        GrantCommand::Update {
            grant_id,
            scopes,
            claims,
            no_claims,
            json,
        } => {
            let scopes = (!scopes.is_empty()).then_some(scopes);
            let claims = replacement(!claims.is_empty(), no_claims, parse_claims(&claims)?);
            let view = target.update_grant(&grant_id, scopes, claims).await?;
            if json {
                print_json(&view)?;
            } else {
                print!("Updated grant ");
                print_grant(&view);
            }
        }
        GrantCommand::Delete { grant_id } => {
            target.delete_grant(&grant_id).await?;
            println!("Deleted grant {grant_id}.");
        }
    }
    Ok(())
}
