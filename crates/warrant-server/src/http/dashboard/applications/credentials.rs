//! An application's Credentials tab: its client secrets (with their IDs and expiry), the public
//! keys it authenticates with instead (private_key_jwt: list, add from PEM with an algorithm and
//! an expiry, remove), and its federated credentials (workload identity federation), each flagged when it
//! expires within 14 days. The requests that change them are in [`super::handlers`] and
//! [`super::federated`].

use maud::{Markup, html};

use super::super::forms::{FieldErrors, Form};
use super::super::layout::{self, action_button, copyable, csrf, field};
use crate::admin::ApplicationDetails;
use crate::admin::operators::OperatorSession;
use crate::domain::{
    CREDENTIAL_ALGORITHMS, FederatedCredential, PlainSecret, PublicKeyCredential, TrustedIssuer,
};

/// Grace periods offered when rotating a secret, in seconds.
pub(super) const GRACE_CHOICES: [(u64, &str); 4] = [
    (0, "None: the old secret stops now"),
    (3600, "1 hour"),
    (86_400, "24 hours"),
    (7 * 86_400, "7 days"),
];

/// The Credentials tab of an application's page, with its `federated` credentials (of the
/// trusted `issuers`). `secret` is set only right after creation or rotation; `form` and `errors` are a
/// refused form.
#[allow(clippy::too_many_arguments)]
pub(super) fn section(
    operator: &OperatorSession,
    details: &ApplicationDetails,
    credentials: &[PublicKeyCredential],
    federated: &[FederatedCredential],
    issuers: &[TrustedIssuer],
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

            (federated_section(operator, &application.client_id, federated, issuers, now, form, errors))
        }
    }
}

/// The federated credentials' part of the Credentials tab of the application `client_id`;
/// `form` and `errors` are a refused add form, shown again as sent.
fn federated_section(
    operator: &OperatorSession,
    client_id: &str,
    credentials: &[FederatedCredential],
    issuers: &[TrustedIssuer],
    now: u64,
    form: &Form,
    errors: &FieldErrors,
) -> Markup {
    let base = format!("/dashboard/applications/{client_id}/federated");
    let issuer_of = |id: &str| {
        issuers
            .iter()
            .find(|i| i.id == id)
            .map_or(id.to_owned(), |i| i.issuer.clone())
    };
    let refused = errors.get("federated").is_some();
    html! {
        div #federated-credentials {
            h3 { "Federated credentials" }
            p.muted { "Workloads whose platform token (Kubernetes, GitHub Actions, SPIFFE) authenticates as this application, without a secret. " a href="/dashboard/issuers" { "Trusted issuers" } }
            @if credentials.is_empty() {
                p.muted #no-federated { "None." }
            } @else {
                table.list #federated {
                    thead { tr { th { "Issuer" } th { "Subject" } th { "Audience" } th { "Conditions" } th { "Expiry" } th {} } }
                    tbody {
                        @for cred in credentials {
                            tr {
                                td { code { (issuer_of(&cred.issuer_id)) } }
                                td { code { (cred.subject) } }
                                td { @match &cred.audience { Some(aud) => { code { (aud) } } None => { span.muted { "the issuer URL" } } } }
                                td { @for c in &cred.conditions { code { (c.claim) " = " (c.value) } br; } }
                                td { (layout::expiry(cred.expires_at, now)) }
                                td.right {
                                    (action_button(operator, &format!("{base}/{}/remove", cred.id), "Remove", "link danger-text",
                                        Some("Remove this federated credential? Its workloads can no longer authenticate.")))
                                }
                            }
                        }
                    }
                }
            }
            @if issuers.is_empty() {
                p.muted { "Trust an issuer first to bind workloads." }
            } @else {
                details open[refused] {
                    summary { "Add a federated credential" }
                    form method="post" action=(base) novalidate {
                        (csrf(operator))
                        @if let Some(error) = errors.get("federated") { p.field-error #federated-error role="alert" { (error) } }
                        div.field {
                            label for="federated-issuer" { "Issuer" }
                            select #federated-issuer name="issuer" {
                                @for issuer in issuers { option value=(issuer.id) selected[form.text("issuer") == issuer.id] { (issuer.issuer) } }
                            }
                        }
                        (field("Subject", "subject", form.text("subject"), None, Some("exact, or * within one segment (segments are separated by / and :), e.g. system:serviceaccount:payments:worker")))
                        (field("Audience", "audience", form.text("audience"), None, Some("empty: Warrant's issuer URL")))
                        (field("Condition", "condition", form.text("condition"), None, Some("optional CLAIM=VALUE, e.g. repository_owner_id=123")))
                        div.field {
                            label for="federated-expires" { "Expires (optional)" }
                            input #federated-expires name="federated_expires" type="date" value=(form.text("federated_expires"));
                        }
                        div.field {
                            label { input type="checkbox" name="confirm_broad_subject" checked[form.checked("confirm_broad_subject")]; " Confirm a broad subject (only *, or a Kubernetes default service account)" }
                        }
                        div.actions { button.primary type="submit" { "Add federated credential" } }
                    }
                }
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
