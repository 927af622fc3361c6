//! `warrant app credentials`: the public keys an application authenticates with instead of a
//! secret (private_key_jwt): list, add (register the key and use it), remove.

use warrant_proto::ClientCredentialView;
use warrant_server::admin::NewCredential;

use crate::cli::CredentialsCommand;
use crate::deployment::Target;

use super::{parse_when, print_json};

pub async fn credentials(target: &dyn Target, cmd: CredentialsCommand) -> Result<(), String> {
    match cmd {
        CredentialsCommand::List { client_id, json } => {
            let credentials = target.list_credentials(&client_id).await?;
            if json {
                print_json(&credentials)?;
            } else if credentials.is_empty() {
                println!(
                    "{client_id} has no public-key credentials. Add one with `warrant app credentials add {client_id} --pem FILE --alg ALG`."
                );
            } else {
                for credential in &credentials {
                    print_credential(credential);
                }
            }
        }
        CredentialsCommand::Add {
            client_id,
            pem,
            alg,
            name,
            expires_at,
            json,
        } => {
            let text = std::fs::read_to_string(&pem)
                .map_err(|e| format!("cannot read {}: {e}", pem.display()))?;
            let name = name.unwrap_or_else(|| {
                pem.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let expires_at = expires_at.as_deref().map(parse_when).transpose()?;
            let credential = target
                .add_credential(
                    &client_id,
                    NewCredential {
                        name,
                        alg,
                        pem: text,
                        expires_at,
                    },
                )
                .await?;
            if json {
                print_json(&credential)?;
            } else {
                println!("Added a public key to {client_id}:");
                print_credential(&credential);
                println!(
                    "  {client_id} now authenticates with private_key_jwt (its client secret no longer works);"
                );
                println!("  assertions name the key by its kid: {}", credential.kid);
            }
        }
        CredentialsCommand::Remove {
            client_id,
            credential_id,
        } => {
            target.remove_credential(&client_id, &credential_id).await?;
            println!("Removed credential {credential_id} of {client_id}.");
        }
    }
    Ok(())
}

fn print_credential(credential: &ClientCredentialView) {
    let expiry = credential
        .expires_at
        .as_deref()
        .map_or_else(|| "never expires".to_owned(), |at| format!("expires {at}"));
    println!(
        "  {}  {}  {}  kid {}  {expiry}",
        credential.id, credential.alg, credential.name, credential.kid
    );
}
