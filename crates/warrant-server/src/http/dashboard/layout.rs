//! The page shell and the pieces every page is built from. maud escapes every interpolated
//! value, so names and descriptions reach the page as text, never as markup.

use axum::response::Html;
use maud::{DOCTYPE, Markup, html};

use crate::admin::operators::OperatorSession;
pub(crate) use crate::clock::duration;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Applications,
    Apis,
    Keys,
    Issuers,
    Activity,
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " · Warrant" }
            // No favicon request (and no 404 for it).
            link rel="icon" href="data:,";
            link rel="stylesheet" href="/dashboard/assets/app.css";
            script src="/dashboard/assets/app.js" defer {}
        }
    }
}

/// A page without navigation (sign-in, errors).
pub(crate) fn bare(title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(title))
                body.bare { main { (body) } }
            }
        }
        .into_string(),
    )
}

/// A page that only says what went wrong.
pub(crate) fn bare_page(title: &str, message: &str) -> Html<String> {
    bare(
        title,
        html! {
            div.card.narrow {
                h1 { (title) }
                p { (message) }
                p { a href="/dashboard/" { "Back to the dashboard" } }
            }
        },
    )
}

/// A dashboard page: navigation, who is signed in, an optional notice, the content.
pub(crate) fn page(
    title: &str,
    operator: &OperatorSession,
    nav: Nav,
    notice: Option<&str>,
    content: Markup,
) -> Html<String> {
    let item = |section: Nav, href: &str, label: &str| {
        html! {
            a href=(href) aria-current=[(section == nav).then_some("page")] { (label) }
        }
    };
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(title))
                body {
                    header.top {
                        a.brand href="/dashboard/" { span.logo { "W" } "Warrant" }
                        nav {
                            (item(Nav::Applications, "/dashboard/applications", "Applications"))
                            (item(Nav::Apis, "/dashboard/apis", "APIs"))
                            (item(Nav::Keys, "/dashboard/keys", "Signing keys"))
                            (item(Nav::Issuers, "/dashboard/issuers", "Trusted issuers"))
                            (item(Nav::Activity, "/dashboard/activity", "Activity"))
                        }
                        form.sign-out method="post" action="/dashboard/sign-out" {
                            (csrf(operator))
                            span.muted { (operator.username) }
                            button.link type="submit" { "Sign out" }
                        }
                    }
                    main {
                        @if let Some(notice) = notice {
                            p.notice role="status" { (notice) }
                        }
                        (content)
                    }
                }
            }
        }
        .into_string(),
    )
}

/// The name of every form's CSRF field (checked by `session`).
pub(crate) const CSRF_FIELD: &str = "csrf";

/// The hidden CSRF field every form carries.
pub(crate) fn csrf(operator: &OperatorSession) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(operator.csrf_token); }
}

/// A labelled text input with its error, if any, right below it.
pub(crate) fn field(
    label: &str,
    name: &str,
    value: &str,
    error: Option<&str>,
    hint: Option<&str>,
) -> Markup {
    let error_id = format!("{name}-error");
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (label) }
            input id=(name) name=(name) value=(value)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| error_id.as_str())];
            @if let Some(error) = error {
                p.field-error id=(error_id) { (error) }
            } @else if let Some(hint) = hint {
                p.hint { (hint) }
            }
        }
    }
}

/// A labelled multi-line input with its error, if any, right below it, or else its hint.
pub(crate) fn text_area(
    label: &str,
    name: &str,
    value: &str,
    error: Option<&str>,
    hint: &str,
) -> Markup {
    let error_id = format!("{name}-error");
    html! {
        div.field.invalid[error.is_some()] {
            label for=(name) { (label) }
            textarea id=(name) name=(name) rows="4" spellcheck="false"
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| error_id.as_str())] { (value) }
            @if let Some(error) = error {
                p.field-error id=(error_id) { (error) }
            } @else {
                p.hint { (hint) }
            }
        }
    }
}

/// A value with a button that copies it (the script wires the button; without it, the value
/// is still selectable).
pub(crate) fn copyable(id: &str, value: &str) -> Markup {
    html! {
        span.copyable {
            code id=(id) { (value) }
            button.copy type="button" data-copy=(id) { "Copy" }
        }
    }
}

/// A form with one button, for a change that needs no input; `confirm` asks first.
pub(crate) fn action_button(
    operator: &OperatorSession,
    action: &str,
    label: &str,
    class: &str,
    confirm: Option<&str>,
) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=[confirm] {
            (csrf(operator))
            button class=(class) type="submit" { (label) }
        }
    }
}

/// The tab bar of a page with tabs (an API's, an application's): a link to `base?tab=SLUG` for
/// each of `tabs` (the tab, its slug, its label), the `current` one marked. Each tab is a page
/// of its own, so a tab is a URL that can be linked to and reloaded.
pub(crate) fn tab_bar<T: PartialEq + Copy>(
    base: &str,
    tabs: &[(T, &str, &str)],
    current: T,
) -> Markup {
    html! {
        nav.tabs {
            @for (tab, slug, label) in tabs {
                a href={ (base) "?tab=" (slug) } aria-current=[(*tab == current).then_some("page")] { (label) }
            }
        }
    }
}

/// "1–50 of 1,234" with links to the previous and next pages (`?page=N`, from 0).
pub(crate) fn pager(path: &str, page: u64, first: u64, shown: usize, total: u64) -> Markup {
    let last = first.saturating_add(shown as u64);
    html! {
        @if total > shown as u64 {
            nav.pager aria-label="Pages" {
                @if page > 0 { a href={ (path) "?page=" (page - 1) } { "← Previous" } }
                span.muted { (first.saturating_add(1)) "–" (last) " of " (total) }
                @if last < total { a href={ (path) "?page=" (page + 1) } { "Next →" } }
            }
        }
    }
}

/// Credentials expiring within this many seconds are flagged, on an application's page and on
/// the Activity page.
pub(crate) const EXPIRY_WARNING: u64 = 14 * 86_400;

/// When a credential expires, as of `now`: the date, flagged when within [`EXPIRY_WARNING`]
/// (or past).
pub(crate) fn expiry(expires_at: Option<u64>, now: u64) -> Markup {
    html! {
        @match expires_at {
            None => span.muted { "never expires" },
            Some(at) if at <= now => span.badge.expiring { "expired " (when(at)) },
            Some(at) if at - now <= EXPIRY_WARNING => {
                span.badge.expiring { "expires in " (duration_left(at - now)) } " " span.muted.small { (when(at)) }
            }
            Some(at) => span { "expires " (when(at)) },
        }
    }
}

/// A time left, roughly: "3 days", "5 hours", "12 minutes".
fn duration_left(seconds: u64) -> String {
    let (n, unit) = match seconds {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3600 => (s / 3600, "hour"),
        s => (s.div_ceil(60), "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// A time as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn when(unix_seconds: u64) -> String {
    let text = crate::clock::rfc3339(unix_seconds);
    format!("{} UTC", text.get(..16).unwrap_or(&text).replace('T', " "))
}

/// The message for a notice code in a redirect's query: a fixed text, never one from the URL.
pub(crate) fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "api-created" => "API created.",
        "api-saved" => "Settings saved.",
        "api-deleted" => "API deleted, with every grant for it.",
        "permission-added" => "Permission added.",
        "permission-removed" => "Permission removed; tokens stop carrying it at once.",
        "authorized" => "Authorizations saved; they apply to the next token.",
        "app-saved" => "Application saved.",
        "credential-added" => {
            "Public key added: the application now authenticates with private_key_jwt."
        }
        "credential-removed" => "Public key removed.",
        "app-deleted" => "Application deleted; its secrets stopped working.",
        "grants-saved" => "Authorizations saved; they apply to the next token.",
        "grant-claims-saved" => "Grant claims saved; they apply to the next token.",
        "grant-revoked" => {
            "Grant revoked: no new tokens for that API. Tokens already issued stay valid until they expire."
        }
        "keys-rotated" => "Keys rotated: new tokens are signed with the new current key.",
        "key-revoked" => "Key revoked and withdrawn from the JWKS.",
        "issuer-added" => {
            "Issuer trusted: bind applications to its workloads with federated credentials."
        }
        "issuer-saved" => "Issuer saved: the next token request uses its new keys and rules.",
        "issuer-removed" => "Issuer no longer trusted.",
        "federated-added" => {
            "Federated credential added: the workload's token now authenticates the application."
        }
        "federated-removed" => "Federated credential removed.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(86_400), "1 day");
        assert_eq!(duration(7200), "2 hours");
        assert_eq!(duration(90), "90 seconds");
        assert_eq!(duration(300), "5 minutes");
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn notices_come_only_from_the_fixed_list() {
        assert_eq!(notice(Some("api-created")), Some("API created."));
        assert_eq!(notice(Some("<script>alert(1)</script>")), None);
        assert_eq!(notice(None), None);
    }

    #[test]
    fn values_are_escaped() {
        let html = field("Name", "name", "<img src=x onerror=alert(1)>", None, None).into_string();
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(!html.contains("<img"));
    }
}
