//! Prometheus metrics: counters and a latency histogram kept in relaxed atomics, rendered in the
//! text exposition format (0.0.4) when scraped. Labels never take unbounded values: an
//! audience is a label only when an authenticated client named an API the server knows
//! (anything else an authenticated client asks for counts as `unknown`; requests refused before
//! the client authenticated carry no audience label at all, so that metrics cannot tell an
//! outsider which APIs exist), and client IDs are never labels.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use warrant_proto::OAuthErrorCode;

/// Every answer of the token endpoint: `issued`, or an RFC 6749 error code.
const RESULTS: [&str; 14] = [
    "issued",
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "access_denied",
    "too_many_requests",
    "server_error",
    "temporarily_unavailable",
    "invalid_dpop_proof",
    "use_dpop_nonce",
];

fn result_index(result: Option<OAuthErrorCode>) -> usize {
    match result {
        None => 0,
        Some(code) => RESULTS
            .iter()
            .position(|r| *r == code.as_str())
            .unwrap_or(0),
    }
}

/// The answers of the introspection endpoint (RFC 7662): the token active or not, the caller
/// refused (failed authentication or a malformed request), or storage unreachable.
const INTROSPECTION_RESULTS: [&str; 4] = ["active", "inactive", "refused", "unavailable"];

/// The answers of the revocation endpoint (RFC 7009): revoked; nothing to revoke (a token
/// inactive already, or one the caller may not see: 200 all the same); another application's
/// token (`unauthorized_client`); the caller refused; storage unreachable or the list full.
const REVOCATION_RESULTS: [&str; 5] = [
    "revoked",
    "ignored",
    "unauthorized_client",
    "refused",
    "unavailable",
];

/// How an introspection request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    Active,
    Inactive,
    Refused,
    Unavailable,
}

/// How a revocation request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    Ignored,
    UnauthorizedClient,
    Refused,
    Unavailable,
}

/// Upper bounds of the issuance latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default)]
struct ResultCounters([AtomicU64; RESULTS.len()]);

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Gauges read at scrape time from the parts that own them.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub client_cache_entries: usize,
    pub client_cache_capacity: usize,
    pub client_cache_hits: u64,
    pub client_cache_misses: u64,
    pub audit_queue_depth: usize,
    pub audit_queue_capacity: usize,
    pub audit_dropped: u64,
    pub audit_written: u64,
    pub ready: bool,
    /// Seconds since the in-memory catalog was last confirmed current.
    pub catalog_age_seconds: f64,
    /// Each application's seconds to its nearest credential expiry (client secrets, public
    /// keys, federated credentials), from the catalog's snapshot: no query per scrape.
    pub credential_expiry: Vec<(String, u64)>,
}

/// The audience a token request is counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricAudience<'a> {
    /// Refused before the client authenticated: no audience label.
    Unauthenticated,
    /// An authenticated client named no API, or one the server does not know: `unknown`.
    Unknown,
    /// An authenticated client named this API, which the server knows.
    Known(&'a str),
}

/// The server's counters. One per server, shared by every handler.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Token requests by audience (known APIs only) and result.
    by_audience: RwLock<HashMap<String, Arc<ResultCounters>>>,
    unknown_audience: ResultCounters,
    unauthenticated: ResultCounters,
    latency: Histogram,
    jwks_requests: AtomicU64,
    storage_errors: AtomicU64,
    throttled: AtomicU64,
    introspections: [AtomicU64; INTROSPECTION_RESULTS.len()],
    revocations: [AtomicU64; REVOCATION_RESULTS.len()],
}

impl Metrics {
    /// Counts one token request.
    pub fn token_request(
        &self,
        audience: MetricAudience<'_>,
        result: Option<OAuthErrorCode>,
        elapsed: Duration,
    ) {
        let i = result_index(result);
        self.latency.observe(elapsed);
        let audience = match audience {
            MetricAudience::Known(audience) => audience,
            MetricAudience::Unknown => {
                self.unknown_audience.0[i].fetch_add(1, Ordering::Relaxed);
                return;
            }
            MetricAudience::Unauthenticated => {
                self.unauthenticated.0[i].fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let found = {
            let map = self.by_audience.read().unwrap_or_else(|p| p.into_inner());
            map.get(audience).cloned()
        };
        let counters = match found {
            Some(counters) => counters,
            None => {
                let mut map = self.by_audience.write().unwrap_or_else(|p| p.into_inner());
                Arc::clone(map.entry(audience.to_owned()).or_default())
            }
        };
        counters.0[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one introspection request.
    pub fn introspection(&self, result: Introspection) {
        self.introspections[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one revocation request.
    pub fn revocation(&self, result: Revocation) {
        self.revocations[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn jwks_request(&self) {
        self.jwks_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn storage_error(&self) {
        self.storage_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A request refused by brute-force throttling or a quota.
    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    /// Token requests answered, whatever the result.
    pub fn token_requests(&self) -> u64 {
        self.latency.count.load(Ordering::Relaxed)
    }

    pub fn jwks_requests(&self) -> u64 {
        self.jwks_requests.load(Ordering::Relaxed)
    }

    /// Token requests with this result (`None`: issued), over all audiences.
    pub fn token_results(&self, result: Option<OAuthErrorCode>) -> u64 {
        let i = result_index(result);
        let map = self.by_audience.read().unwrap_or_else(|p| p.into_inner());
        map.values()
            .map(|c| c.0[i].load(Ordering::Relaxed))
            .sum::<u64>()
            + self.unknown_audience.0[i].load(Ordering::Relaxed)
            + self.unauthenticated.0[i].load(Ordering::Relaxed)
    }

    /// The text exposition format.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP warrant_build_info The running build.\n# TYPE warrant_build_info gauge\n",
        );
        let _ = writeln!(
            out,
            "warrant_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );

        out.push_str(
            "# HELP warrant_token_requests_total Token requests by result, and by audience once the \
             client authenticated.\n\
             # TYPE warrant_token_requests_total counter\n",
        );
        let mut audiences: Vec<(String, Arc<ResultCounters>)> = {
            let map = self.by_audience.read().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .map(|(k, v)| (k.clone(), Arc::clone(v)))
                .collect()
        };
        audiences.sort_by(|a, b| a.0.cmp(&b.0));
        let all = audiences
            .iter()
            .map(|(aud, c)| (format!("audience=\"{}\",", label_value(aud)), &**c))
            .chain([
                ("audience=\"unknown\",".to_owned(), &self.unknown_audience),
                (String::new(), &self.unauthenticated),
            ]);
        for (audience, counters) in all {
            for (result, counter) in RESULTS.iter().zip(&counters.0) {
                let n = counter.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "warrant_token_requests_total{{{audience}result=\"{result}\"}} {n}"
                    );
                }
            }
        }

        out.push_str(
            "# HELP warrant_token_request_duration_seconds Time to answer a token request.\n\
             # TYPE warrant_token_request_duration_seconds histogram\n",
        );
        let mut cumulative = 0;
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.latency.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "warrant_token_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.latency.count.load(Ordering::Relaxed);
        let sum = self.latency.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "warrant_token_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             warrant_token_request_duration_seconds_sum {sum}\n\
             warrant_token_request_duration_seconds_count {count}"
        );

        for (name, help, results, counters) in [
            (
                "warrant_introspection_requests_total",
                "Introspection requests (RFC 7662) by answer.",
                &INTROSPECTION_RESULTS[..],
                &self.introspections[..],
            ),
            (
                "warrant_revocation_requests_total",
                "Revocation requests (RFC 7009) by answer.",
                &REVOCATION_RESULTS[..],
                &self.revocations[..],
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (result, counter) in results.iter().zip(counters) {
                let n = counter.load(Ordering::Relaxed);
                let _ = writeln!(out, "{name}{{result=\"{result}\"}} {n}");
            }
        }

        let counters: [(&str, &str, u64); 6] = [
            (
                "warrant_jwks_requests_total",
                "JWKS requests served.",
                self.jwks_requests.load(Ordering::Relaxed),
            ),
            (
                "warrant_storage_errors_total",
                "Storage operations that failed (the database unreachable, mostly).",
                self.storage_errors.load(Ordering::Relaxed),
            ),
            (
                "warrant_throttled_requests_total",
                "Token requests refused by brute-force throttling or a quota.",
                self.throttled.load(Ordering::Relaxed),
            ),
            (
                "warrant_client_cache_hits_total",
                "Token requests whose client was in memory.",
                gauges.client_cache_hits,
            ),
            (
                "warrant_client_cache_misses_total",
                "Token requests whose client was looked up in storage.",
                gauges.client_cache_misses,
            ),
            (
                "warrant_audit_events_dropped_total",
                "Audit events dropped because the queue was full.",
                gauges.audit_dropped,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP warrant_catalog_age_seconds Seconds since a look at storage last found the \
             catalog served from memory current.\n\
             # TYPE warrant_catalog_age_seconds gauge\n\
             warrant_catalog_age_seconds {:.3}",
            gauges.catalog_age_seconds
        );
        out.push_str(
            "# HELP warrant_credential_expiry_seconds Seconds until the application's nearest \
             credential (client secret, public key) expires; none for credentials that never do.\n\
             # TYPE warrant_credential_expiry_seconds gauge\n",
        );
        for (client_id, seconds) in &gauges.credential_expiry {
            let _ = writeln!(
                out,
                "warrant_credential_expiry_seconds{{client_id=\"{}\"}} {seconds}",
                label_value(client_id)
            );
        }
        let gauges: [(&str, &str, u64); 6] = [
            (
                "warrant_client_cache_entries",
                "Clients held in memory.",
                gauges.client_cache_entries as u64,
            ),
            (
                "warrant_client_cache_capacity",
                "The most clients held in memory.",
                gauges.client_cache_capacity as u64,
            ),
            (
                "warrant_audit_queue_depth",
                "Audit events waiting to be written.",
                gauges.audit_queue_depth as u64,
            ),
            (
                "warrant_audit_queue_capacity",
                "The most audit events that can wait.",
                gauges.audit_queue_capacity as u64,
            ),
            (
                "warrant_audit_events_written",
                "Audit events written by this process.",
                gauges.audit_written,
            ),
            (
                "warrant_ready",
                "1 when storage is reachable, the catalog current and a signing key loaded.",
                u64::from(gauges.ready),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

/// A label value escaped as the exposition format requires.
fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_escaped_labels() {
        let metrics = Metrics::default();
        metrics.token_request(
            MetricAudience::Known("https://a\"b"),
            None,
            Duration::from_micros(700),
        );
        metrics.token_request(
            MetricAudience::Unknown,
            Some(OAuthErrorCode::AccessDenied),
            Duration::from_millis(30),
        );
        metrics.token_request(
            MetricAudience::Unauthenticated,
            Some(OAuthErrorCode::InvalidClient),
            Duration::from_millis(30),
        );
        metrics.jwks_request();
        metrics.introspection(Introspection::Inactive);
        metrics.revocation(Revocation::UnauthorizedClient);
        let text = metrics.render(&Gauges::default());
        assert!(text.contains("warrant_introspection_requests_total{result=\"inactive\"} 1"));
        assert!(text.contains("warrant_introspection_requests_total{result=\"active\"} 0"));
        assert!(
            text.contains("warrant_revocation_requests_total{result=\"unauthorized_client\"} 1")
        );
        assert!(text.contains(
            "warrant_token_requests_total{audience=\"https://a\\\"b\",result=\"issued\"} 1"
        ));
        assert!(text.contains(
            "warrant_token_requests_total{audience=\"unknown\",result=\"access_denied\"} 1"
        ));
        assert!(text.contains("warrant_token_requests_total{result=\"invalid_client\"} 1"));
        assert!(text.contains("warrant_token_request_duration_seconds_bucket{le=\"0.0005\"} 0"));
        assert!(text.contains("warrant_token_request_duration_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("warrant_token_request_duration_seconds_bucket{le=\"0.05\"} 3"));
        assert!(text.contains("warrant_token_request_duration_seconds_count 3"));
        assert!(text.contains("warrant_jwks_requests_total 1"));
        assert_eq!(metrics.token_results(None), 1);
        assert_eq!(
            metrics.token_results(Some(OAuthErrorCode::InvalidClient)),
            1
        );
    }
}
