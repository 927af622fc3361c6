//! Audit records: the events Warrant logs (Auth0's type codes and fields), as queued and as
//! stored, the filters to list them, and the token activity counted from them. Plain data and
//! the rules on it; the audit log service that queues, aggregates and writes them is
//! `crate::audit`, the SQL is the store's.

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;

/// Auth0's event type codes, for the events Warrant produces.
pub mod types {
    /// Success Exchange: client credentials for an access token.
    pub const TOKEN_ISSUED: &str = "seccft";
    /// Failed Exchange: client credentials for an access token.
    pub const TOKEN_FAILED: &str = "feccft";
    /// Success API Operation (management API).
    pub const MANAGEMENT_OK: &str = "sapi";
    /// Failed API Operation (management API).
    pub const MANAGEMENT_FAILED: &str = "fapi";
    /// A client reached its token quota.
    pub const QUOTA_REACHED: &str = "api_limit";
    /// A client is close to its token quota.
    pub const QUOTA_WARNING: &str = "api_limit_warning";
    /// Success Login (a dashboard administrator signed in).
    pub const SIGN_IN_OK: &str = "s";
    /// Failed Login.
    pub const SIGN_IN_FAILED: &str = "f";
    /// Success Logout.
    pub const SIGN_OUT: &str = "slo";
    /// Tokens introspected (RFC 7662), Warrant's own type: written aggregated, one event per
    /// caller, API and outcome per interval, its `count` how many.
    pub const INTROSPECTION: &str = "token_introspection";
    /// An access token revoked by its application (RFC 7009), Warrant's own type.
    pub const REVOCATION: &str = "token_revocation";
    /// A refused introspection request (a failed client authentication, a bad request),
    /// Warrant's own type; aggregated like the other refusals.
    pub const INTROSPECTION_FAILED: &str = "token_introspection_failed";
    /// A refused revocation request (a failed client authentication, a bad request, another
    /// application's token), Warrant's own type; aggregated like the other refusals.
    pub const REVOCATION_FAILED: &str = "token_revocation_failed";
}

/// An aggregated refusal's description: what the refusals were, and how many in how long.
pub fn with_count(description: &str, count: u64, interval: Duration) -> String {
    format!(
        "{description} ({count} times within {} s)",
        interval.as_secs().max(1)
    )
}

/// A description without the count [`with_count`] added, if any.
fn without_count(description: &str) -> &str {
    let Some(open) = description.rfind(" (") else {
        return description;
    };
    let tail = &description[open + 2..];
    let counted = tail
        .strip_suffix(" s)")
        .and_then(|t| t.split_once(" times within "))
        .is_some_and(|(n, secs)| {
            [n, secs]
                .iter()
                .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        });
    if counted {
        &description[..open]
    } else {
        description
    }
}

/// Whether events of this type are refusals, aggregated before they are written.
pub fn is_refusal(kind: &str) -> bool {
    matches!(
        kind,
        types::TOKEN_FAILED
            | types::MANAGEMENT_FAILED
            | types::SIGN_IN_FAILED
            | types::INTROSPECTION_FAILED
            | types::REVOCATION_FAILED
    )
}

/// Event types the count limit never prunes (only age does): management writes, sign-ins and
/// sign-outs, which need an administrator's credentials. So are failed management operations
/// of an authenticated caller (`fapi` with a client ID).
///
/// The rest is what anyone can send, so it is bounded by `max_events`, in two parts: token
/// traffic (token exchanges, quota events; an event goes once `max_events` newer events of any
/// type were written), and the refusals of unauthenticated requests of [`DASHBOARD_REFUSALS`]
/// (an event goes once `max_events` events of any type were written after the newest such
/// refusal: token traffic alone never evicts them, and a flood of them evicts only older ones).
pub const ALWAYS_KEPT: [&str; 3] = [types::MANAGEMENT_OK, types::SIGN_IN_OK, types::SIGN_OUT];

/// Failed sign-ins, and failed management operations without an authenticated caller: kept
/// apart from token traffic by the count limit ([`ALWAYS_KEPT`]).
pub const DASHBOARD_REFUSALS: [&str; 2] = [types::SIGN_IN_FAILED, types::MANAGEMENT_FAILED];

/// How many token requests of one kind fell into one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCount {
    /// `seccft` (true) or `feccft`.
    pub issued: bool,
    /// Empty for refusals, and when the request named none.
    pub client_id: String,
    pub audience: String,
    /// Why a request was refused ([`failure_reason`]); empty for issued tokens.
    pub reason: String,
    pub bucket_start_ms: u64,
    pub count: u64,
}

/// Token activity is counted in buckets this long (five minutes); the Activity page's buckets
/// are multiples of it.
pub const ACTIVITY_BUCKET_MS: u64 = 300_000;

/// A refusal's description as a reason to group by: quoted input (an unknown audience, say) is
/// replaced by `"…"`, so that attackers sending random values add no new reasons, and an
/// aggregated event's count ([`with_count`]) is left out.
pub fn failure_reason(description: &str) -> String {
    let description = without_count(description);
    let mut out = String::with_capacity(description.len().min(200));
    let mut chars = description.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            out.push_str("\"…\"");
            while let Some(q) = chars.next() {
                match q {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
            // A cut-short quote ends with an ellipsis of its own.
            if chars.as_str().starts_with('…') {
                chars.next();
            }
        } else {
            out.push(c);
        }
        if out.len() >= 200 {
            break;
        }
    }
    out
}

/// The token requests among `events`, counted per bucket: issued tokens per client and
/// audience, refusals per reason.
pub fn activity_counts(events: &[AuditEvent]) -> Vec<ActivityCount> {
    let mut counts: std::collections::HashMap<(u64, &str, &str, bool, String), u64> =
        std::collections::HashMap::new();
    for e in events {
        let issued = match e.kind.as_ref() {
            types::TOKEN_ISSUED => true,
            types::TOKEN_FAILED => false,
            _ => continue,
        };
        // Refusals count by reason alone: their client IDs and audiences are whatever was
        // sent, and random ones must not multiply the rows.
        let (client, audience, reason) = if issued {
            (
                e.client_id.as_deref().unwrap_or(""),
                e.audience.as_deref().unwrap_or(""),
                String::new(),
            )
        } else {
            ("", "", failure_reason(&e.description))
        };
        let key = (
            e.date_ms - e.date_ms % ACTIVITY_BUCKET_MS,
            client,
            audience,
            issued,
            reason,
        );
        *counts.entry(key).or_default() += e.count;
    }
    counts
        .into_iter()
        .map(
            |((bucket_start_ms, client_id, audience, issued, reason), count)| ActivityCount {
                issued,
                client_id: client_id.to_owned(),
                audience: audience.to_owned(),
                reason,
                bucket_start_ms,
                count,
            },
        )
        .collect()
}

/// One event. Every field but the type is optional, as in Auth0's logs. The type and the
/// description are usually constants: borrowed, they cost issuance no allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Milliseconds since the Unix epoch.
    pub date_ms: u64,
    #[serde(rename = "type")]
    pub kind: Cow<'static, str>,
    pub description: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// How many requests the event stands for: more than one for aggregated refusals.
    #[serde(skip_serializing_if = "is_one")]
    pub count: u64,
    /// How the client authenticated, for an issued token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<ClientAuthentication>,
}

/// How a client authenticated for a token: the method (`secret`, `private_key_jwt`,
/// `federated`), the credential, and for federation the external issuer and the workload's
/// subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ClientAuthentication {
    pub method: Cow<'static, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

impl Default for AuditEvent {
    fn default() -> Self {
        Self {
            date_ms: 0,
            kind: Cow::Borrowed(""),
            description: Cow::Borrowed(""),
            client_id: None,
            audience: None,
            scope: None,
            ip: None,
            user_agent: None,
            jti: None,
            count: 1,
            auth: None,
        }
    }
}

/// A stored event, with the sequence number storage gave it (its `log_id`). Its wire shape is
/// `warrant_proto::LogEventView`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: AuditEvent,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub client_id: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    pub from_ms: Option<u64>,
    pub to_ms: Option<u64>,
    /// Only events after this `log_id` (Auth0's checkpoint paging), oldest first.
    pub after_seq: Option<i64>,
    pub limit: u32,
    pub offset: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_lose_the_echoed_input() {
        assert_eq!(
            failure_reason(r#"Service not found: "https://random-1""#),
            r#"Service not found: "…""#
        );
        assert_eq!(
            failure_reason(r#"scope "a\"b" is not granted for "x"…"#),
            r#"scope "…" is not granted for "…""#
        );
        assert_eq!(failure_reason("wrong secret"), "wrong secret");
        // An aggregated event's count is not part of its reason.
        assert_eq!(
            failure_reason(&with_count(r#"scope "x" (a)"#, 12, Duration::from_secs(10))),
            r#"scope "…" (a)"#
        );
        assert_eq!(failure_reason("POST /x (409)"), "POST /x (409)");
        assert!(failure_reason(&"x".repeat(1000)).len() <= 200);
    }

    #[test]
    fn token_events_are_counted_per_bucket_and_reason() {
        let event = |date_ms, kind: &'static str, client: &str, description: &str| AuditEvent {
            date_ms,
            kind: kind.into(),
            description: description.to_owned().into(),
            client_id: Some(client.into()),
            audience: Some("https://a".into()),
            ..AuditEvent::default()
        };
        let mut counts = activity_counts(&[
            event(1, "seccft", "c1", "x"),
            event(299_999, "seccft", "c1", "y"),
            event(300_000, "seccft", "c1", "x"),
            event(300_001, "feccft", "c1", r#"unknown audience "a""#),
            event(300_002, "feccft", "c1", r#"unknown audience "b""#),
            event(300_003, "sapi", "c1", "not a token request"),
        ]);
        counts.sort_by_key(|c| (c.bucket_start_ms, c.issued));
        let summary: Vec<(u64, bool, &str, u64)> = counts
            .iter()
            .map(|c| (c.bucket_start_ms, c.issued, c.reason.as_str(), c.count))
            .collect();
        assert_eq!(
            summary,
            [
                (0, true, "", 2),
                (300_000, false, r#"unknown audience "…""#, 2),
                (300_000, true, "", 1),
            ]
        );
    }
}
