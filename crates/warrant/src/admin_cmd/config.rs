//! `warrant plan`, `warrant apply`, `warrant export`: configuration as code. The file goes to
//! the service layer whole (locally, or `--server`'s `/api/v2/config/*`), which compares it
//! with what is stored and applies the difference in one transaction.

use std::io::{Read, Write};
use std::path::Path;

use warrant_proto::{ConfigCreatedView, ConfigResultView};

use crate::cli::{ApplyArgs, ExportArgs, GlobalArgs, PlanArgs};
use crate::deployment;

use super::print_json;

pub async fn plan(global: &GlobalArgs, args: PlanArgs) -> Result<(), String> {
    let file = read_file(&args.file)?;
    let target = deployment::open(global).await?;
    let result = target
        .plan_config(&file, args.prune)
        .await
        .map_err(|e| in_file(&args.file, &e))?;
    if args.json {
        return print_json(&result);
    }
    print_changes(&result, false);
    if let Some(fingerprint) = &result.fingerprint {
        println!("Fingerprint of the deployment: {fingerprint}");
        if !result.changes.is_empty() {
            println!(
                "Apply these changes, and only if nothing changed since, with `warrant apply {} \
                 --expect {fingerprint}`.",
                args.file.display()
            );
        }
    }
    Ok(())
}

pub async fn apply(global: &GlobalArgs, args: ApplyArgs) -> Result<(), String> {
    let file = read_file(&args.file)?;
    // Opened before anything changes: a path that cannot be written stops the apply.
    let mut secrets_file = args.secrets_file.as_deref().map(open_private).transpose()?;
    let target = deployment::open(global).await?;
    let result = target
        .apply_config(&file, args.prune, args.expect.as_deref())
        .await
        .map_err(|e| in_file(&args.file, &e))?;
    if let (Some(out), Some(path)) = (secrets_file.as_mut(), &args.secrets_file) {
        write_secrets(out, &result.created).map_err(|e| {
            format!(
                "the configuration was applied, but the new secrets could not be written to \
                 {}: {e}; rotate them with `warrant app rotate-secret`",
                path.display()
            )
        })?;
    }
    if args.json {
        let shown = ConfigResultView {
            changes: result.changes.clone(),
            created: if secrets_file.is_some() {
                Vec::new()
            } else {
                result.created.clone()
            },
            fingerprint: None,
        };
        return print_json(&shown);
    }
    print_changes(&result, true);
    for created in &result.created {
        match &args.secrets_file {
            Some(path) => println!(
                "Created application {}: client_id {}, secret written to {}",
                created.name,
                created.client_id,
                path.display()
            ),
            None => {
                println!("Created application {}", created.name);
                println!("  client_id:     {}", created.client_id);
                println!("  client_secret: {}", created.client_secret);
            }
        }
    }
    if !result.created.is_empty() && args.secrets_file.is_none() {
        println!("(the secrets are shown only now: store them in your secret manager)");
    }
    Ok(())
}

pub async fn export(global: &GlobalArgs, args: ExportArgs) -> Result<(), String> {
    let target = deployment::open(global).await?;
    let file = target.export_config().await?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, file).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
        None => {
            print!("{file}");
            Ok(())
        }
    }
}

/// The file's text; `-` reads standard input.
fn read_file(path: &Path) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// An error about the file, named with its path.
fn in_file(path: &Path, error: &str) -> String {
    let name = if path.as_os_str() == "-" {
        "<stdin>".into()
    } else {
        path.display().to_string()
    };
    format!("{name}: {error}\nNothing was changed.")
}

fn print_changes(result: &ConfigResultView, applied: bool) {
    if result.changes.is_empty() {
        println!("No changes: the deployment matches the file.");
        return;
    }
    for change in &result.changes {
        let sign = match change.action.as_str() {
            "create" => '+',
            "delete" => '-',
            _ => '~',
        };
        println!("{sign} {} {} {:?}", change.action, change.kind, change.key);
        for detail in &change.details {
            println!("    {detail}");
        }
    }
    let count = |action: &str| result.changes.iter().filter(|c| c.action == action).count();
    let (create, update, delete) = (count("create"), count("update"), count("delete"));
    if applied {
        println!("Applied: {create} created, {update} updated, {delete} deleted.");
    } else {
        println!("{create} to create, {update} to update, {delete} to delete.");
    }
}

/// Opens `path` for the secrets, readable and writable by its owner only.
fn open_private(path: &Path) -> Result<std::fs::File, String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .map_err(|e| format!("cannot open {} for the secrets: {e}", path.display()))?;
    // A file that existed keeps its mode through `open`: make it private too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
    }
    Ok(file)
}

/// The new secrets as JSON: `{"<name>": {"client_id": …, "client_secret": …}}`.
fn write_secrets(out: &mut std::fs::File, created: &[ConfigCreatedView]) -> std::io::Result<()> {
    let map: serde_json::Map<String, serde_json::Value> = created
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                serde_json::json!({"client_id": c.client_id, "client_secret": c.client_secret}),
            )
        })
        .collect();
    let text = serde_json::to_string_pretty(&map).map_err(std::io::Error::other)?;
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.sync_all()
}
