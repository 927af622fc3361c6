//! `warrant logs`: the audit log.

use crate::cli::{GlobalArgs, LogsArgs};
use crate::deployment;

use super::print_json;

pub async fn logs(global: &GlobalArgs, args: LogsArgs) -> Result<(), String> {
    if args.take == 0 || args.take > 100 {
        return Err("--take must be between 1 and 100".into());
    }
    let target = deployment::open(global).await?;
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
