//! An application's credentials: its client secret (with its expiry), the public keys it
//! authenticates with instead (private_key_jwt: list, add from PEM with an algorithm and an
//! expiry, remove), each flagged when it expires within 14 days. Federated credentials get their
//! section here too. The requests that change them are in [`super::handlers`].

use maud::{Markup, html};

use super::super::forms::{FieldErrors, Form};
use super::super::layout::{self, action_button, copyable, csrf};
use crate::admin::ApplicationDetails;
use crate::admin::operators::OperatorSession;
use crate::domain::{CREDENTIAL_ALGORITHMS, PlainSecret, PublicKeyCredential};

/// Grace periods offered when rotating a secret, in seconds.
pub(super) const GRACE_CHOICES: [(u64, &str); 4] = [
    (0, "None: the old secret stops now"),
    (3600, "1 hour"),
    (86_400, "24 hours"),
    (7 * 86_400, "7 days"),
];

/// The credentials section of an application's page. `secret` is set only right after
/// creation or rotation; `form` and `errors` are a refused add-a-key form.
#[allow(clippy::too_many_arguments)]
pub(super) fn section(
    operator: &OperatorSession,
    details: &ApplicationDetails,
    credentials: &[PublicKeyCredential],
    now: u64,
    secret: Option<&PlainSecret>,
    form: &Form,
    errors: &FieldErrors,
) -> Markup {
    let application = &details.application;
    let base = format!("/dashboard/applications/{}", application.client_id);
    let active: Vec<_> = details
        .secrets
        .iter()
        .filter(|s| s.is_active(now))
        .collect();
    let uses_keys = application
        .private_key_jwt
        .as_ref()
        .is_some_and(|ids| !ids.is_empty());
    html! {
        section.card #credentials {
            h2 { "Credentials" }
            dl.fields {
                dt { "Client ID" }
                dd { (copyable("client-id", &application.client_id)) }
                dt { "Client secret" }
                dd {
                    @if let Some(secret) = secret {
                        div.secret-box #new-secret role="alert" {
                            p { strong { "Copy this secret now." } " It is shown only this once; Warrant keeps only a hash of it." }
                            (copyable("client-secret", secret.expose()))
                        }
                    } @else {
                        span.muted { "Hidden: Warrant stores only a hash. " (active.len()) " active secret" @if active.len() != 1 { "s" } "." }
                    }
                    @if uses_keys {
                        p.muted #secret-refused { "Not accepted while the application authenticates with its public keys (private_key_jwt)." }
                    }
                    ul.plain #secrets {
                        @for s in &active {
                            li { "Created " (layout::when(s.created_at)) " · " (layout::expiry(s.expires_at, now)) " · ID " code { (s.id) } }
                        }
                    }
                }
            }
            form.row-form method="post" action={ (base) "/rotate-secret" }
                data-confirm="Rotate the secret? Services using the old one must be updated before the grace period ends." {
                (csrf(operator))
                div.field {
                    label for="grace" { "Old secret keeps working for" }
                    select #grace name="grace_seconds" {
                        @for (seconds, label) in GRACE_CHOICES {
                            option value=(seconds) selected[seconds == 0] { (label) }
                        }
                    }
                    @if let Some(error) = errors.get("grace_seconds") { p.field-error { (error) } }
                }
                button.warning #rotate-secret type="submit" { "Rotate secret" }
            }

            h3 { "Public keys (private_key_jwt)" }
            p.muted { "The application signs a short assertion with its private key for each token request; Warrant keeps only the public key. Once it has one, its secret is refused." }
            @if credentials.is_empty() {
                p.muted #no-keys { "No public keys." }
            } @else {
                table.list #public-keys {
                    thead { tr { th { "Name" } th { "Algorithm" } th { "Key ID (kid)" } th { "Expiry" } th {} } }
                    tbody {
                        @for c in credentials {
                            tr {
                                td { (c.name) }
                                td { code { (c.alg.name()) } }
                                td { code.small { (c.kid) } }
                                td { (layout::expiry(c.expires_at, now)) }
                                td.right {
                                    (action_button(operator, &format!("{base}/credentials/{}/remove", c.id), "Remove", "link danger-text",
                                        Some("Remove this key? Clients signing with it can no longer get tokens.")))
                                }
                            }
                        }
                    }
                }
            }
            details open[["key_name", "pem", "expires"].iter().any(|f| errors.get(f).is_some())] {
                summary { "Add a public key" }
                form method="post" action={ (base) "/credentials" } novalidate {
                    (csrf(operator))
                    (layout::field("Name", "key_name", form.text("key_name"), errors.get("key_name"), Some("Such as: billing worker, 2026.")))
                    div.field {
                        label for="alg" { "Algorithm" }
                        select #alg name="alg" {
                            @for alg in CREDENTIAL_ALGORITHMS {
                                option value=(alg.name()) selected[form.text("alg") == alg.name()] { (alg.name()) }
                            }
                        }
                    }
                    div.field.invalid[errors.get("pem").is_some()] {
                        label for="pem" { "Public key (PEM)" }
                        // A private key pasted by mistake is not sent back.
                        textarea #pem name="pem" placeholder="-----BEGIN PUBLIC KEY-----" {
                            @if !form.text("pem").contains("PRIVATE KEY") { (form.text("pem")) }
                        }
                        @if let Some(error) = errors.get("pem") {
                            p.field-error { (error) }
                        } @else {
                            p.hint { "openssl pkey -in client.pem -pubout" }
                        }
                    }
                    div.field.invalid[errors.get("expires").is_some()] {
                        label for="expires" { "Expires (optional)" }
                        input #expires name="expires" type="date" value=(form.text("expires"));
                        @if let Some(error) = errors.get("expires") { p.field-error { (error) } }
                    }
                    div.actions { button.primary type="submit" { "Add key" } }
                }
            }

            h3 { "Federated credentials" }
            div #federated-credentials {
                p.muted { "None." }
            }
        }
    }
}

/// The date a form's `expires` field names, as the Unix time of its midnight (UTC).
pub(super) fn expiry_date(text: &str) -> Result<Option<u64>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format).map_err(|_| "Give a date as YYYY-MM-DD.")?;
    let seconds = date.midnight().assume_utc().unix_timestamp();
    u64::try_from(seconds)
        .map(Some)
        .map_err(|_| "Give a date as YYYY-MM-DD.")
}
