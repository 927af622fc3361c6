//! Activity: tokens issued over time per application (an SVG chart drawn here), failures by
//! reason, and the applications that ask for far more tokens than their lifetime justifies,
//! counted from the audit log; and the applications whose credentials (secrets, public keys,
//! federated credentials) expire within 14 days, from the catalog.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{self, Nav};
use super::session::Operator;
use super::{AppState, PageError};
use crate::domain::events::ActivityCount;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    range: Option<String>,
}

/// The ranges offered: (query value, label, window in seconds, bucket in seconds).
const RANGES: [(&str, &str, u64, u64); 3] = [
    ("1h", "Last hour", 3600, 300),
    ("24h", "Last 24 hours", 86_400, 3600),
    ("7d", "Last 7 days", 7 * 86_400, 6 * 3600),
];

/// Where the management API lists refused token requests, as the page suggests it.
pub(crate) const FAILURES_QUERY: &str = "GET /api/v2/logs?type=feccft";

/// Series drawn one by one; the rest are summed as "other applications".
const MAX_SERIES: usize = 6;
const PALETTE: [&str; MAX_SERIES + 1] = [
    "#4f6bed", "#e8743b", "#19a979", "#d64d8c", "#945ecf", "#b8860b", "#8a8f98",
];

/// A client asking for more than this many times the tokens its APIs' lifetimes justify, in
/// some hour, is listed; room for replicas and restarts.
const EXCESS_FACTOR: u64 = 10;
/// Below this many tokens in its busiest hour nobody is listed.
const EXCESS_MIN_TOKENS: u64 = 20;
const HOUR_MS: u64 = 3_600_000;
/// Applications with expiring credentials named on the page, soonest first.
const MAX_EXPIRING_SHOWN: usize = 20;

/// An application that fetches tokens instead of caching them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Overuse {
    pub client_id: String,
    pub audience: String,
    /// Tokens over the whole range.
    pub tokens: u64,
    /// Tokens in the busiest hour.
    pub peak: u64,
    pub lifetime: u32,
    /// How many tokens an hour caching needs.
    pub needed: u64,
}

/// From issued-token counts in hour-long buckets: the (client, API) pairs that, in some hour,
/// asked for over [`EXCESS_FACTOR`] times the tokens that caching them for their lifetime
/// needs, worst first. A rate, judged hour by hour: every range flags the same hours.
pub(crate) fn overuse(hourly: &[ActivityCount], lifetimes: &HashMap<&str, u32>) -> Vec<Overuse> {
    let mut per_hour: HashMap<(&str, &str, u64), u64> = HashMap::new();
    for c in hourly.iter().filter(|c| c.issued) {
        *per_hour
            .entry((c.client_id.as_str(), c.audience.as_str(), c.bucket_start_ms))
            .or_default() += c.count;
    }
    // (total, busiest hour) per pair.
    let mut per_pair: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
    for ((client, audience, _), n) in per_hour {
        let (total, peak) = per_pair.entry((client, audience)).or_default();
        *total += n;
        *peak = (*peak).max(n);
    }
    let mut found: Vec<Overuse> = per_pair
        .into_iter()
        .filter_map(|((client, audience), (tokens, peak))| {
            let lifetime = *lifetimes.get(audience)?;
            let needed = (HOUR_MS / 1000).div_ceil(u64::from(lifetime.max(1)));
            (peak >= EXCESS_MIN_TOKENS && peak > needed * EXCESS_FACTOR).then(|| Overuse {
                client_id: client.to_owned(),
                audience: audience.to_owned(),
                tokens,
                peak,
                lifetime,
                needed,
            })
        })
        .collect();
    found.sort_by_key(|o| std::cmp::Reverse(o.peak / o.needed.max(1)));
    found
}

/// The issued-token counts of the range in hour-long buckets, for [`overuse`]: the chart's own
/// when its buckets are hours, the one hour itself for the last-hour view, else counted anew.
async fn hourly_counts(
    app: &AppState,
    chart: &[ActivityCount],
    start_ms: u64,
    bucket_ms: u64,
) -> Result<Vec<ActivityCount>, PageError> {
    Ok(match bucket_ms {
        HOUR_MS => chart.to_vec(),
        b if b < HOUR_MS => chart
            .iter()
            .map(|c| ActivityCount {
                bucket_start_ms: start_ms,
                ..c.clone()
            })
            .collect(),
        _ => app.admin.token_activity(start_ms, HOUR_MS).await?,
    })
}

pub(crate) async fn show(
    State(app): State<Arc<AppState>>,
    Operator(operator): Operator,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let (range, label, window, bucket) = RANGES
        .iter()
        .copied()
        .find(|(value, ..)| Some(*value) == query.range.as_deref())
        .unwrap_or(RANGES[1]);
    let now_ms = app.clock.now_ms();
    // Whole buckets, the last one holding now.
    let bucket_ms = bucket * 1000;
    let end_ms = (now_ms / bucket_ms + 1) * bucket_ms;
    let start_ms = end_ms - window * 1000;
    let counts = app.admin.token_activity(start_ms, bucket_ms).await?;
    let apis = app.admin.list_apis().await?;
    let lifetimes: HashMap<&str, u32> = apis
        .iter()
        .map(|a| (a.identifier.as_str(), a.token_lifetime))
        .collect();

    let issued: u64 = counts.iter().filter(|c| c.issued).map(|c| c.count).sum();
    let failed: u64 = counts.iter().filter(|c| !c.issued).map(|c| c.count).sum();
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for c in counts.iter().filter(|c| !c.issued) {
        *reasons.entry(c.reason.as_str()).or_default() += c.count;
    }
    let mut reasons: Vec<(&str, u64)> = reasons.into_iter().collect();
    reasons.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let overusers = overuse(
        &hourly_counts(&app, &counts, start_ms, bucket_ms).await?,
        &lifetimes,
    );

    // Applications with a credential expiring within 14 days, soonest first, from the catalog
    // (no query); at most a screenful named.
    let now = now_ms / 1000;
    let mut expiring: Vec<(String, u64)> = app
        .catalog
        .snapshot()
        .nearest_expiries(now)
        .filter(|(_, at)| at - now <= layout::EXPIRY_WARNING)
        .map(|(client, at)| (client.to_owned(), at))
        .collect();
    expiring.sort_by_key(|(_, at)| *at);
    let expiring_total = expiring.len();
    expiring.truncate(MAX_EXPIRING_SHOWN);

    let buckets = usize::try_from(window / bucket).unwrap_or(1);
    let mut series = series(&counts, start_ms, bucket_ms, buckets);
    // Names only of the applications shown: a deployment may have millions.
    let mut names: HashMap<String, String> = HashMap::new();
    let shown = series
        .iter()
        .filter(|s| !s.other)
        .map(|s| s.label.clone())
        .chain(overusers.iter().map(|o| o.client_id.clone()))
        .chain(expiring.iter().map(|(client, _)| client.clone()));
    for client in shown.collect::<Vec<_>>() {
        if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(client) {
            let name = match app.admin.get_application(slot.key()).await {
                Ok(details) => details.application.name,
                Err(crate::admin::AdminError::NotFound(_)) => format!("{} (deleted)", slot.key()),
                Err(e) => return Err(e.into()),
            };
            slot.insert(name);
        }
    }
    let name_of = |client: &str| {
        names
            .get(client)
            .cloned()
            .unwrap_or_else(|| client.to_owned())
    };
    for s in series.iter_mut().filter(|s| !s.other) {
        s.label = name_of(&s.label);
    }

    let content = html! {
        div.page-head {
            h1 { "Activity" }
            nav.tabs.compact {
                @for (value, text, ..) in RANGES {
                    a href={ "/dashboard/activity?range=" (value) } aria-current=[(value == range).then_some("page")] { (text) }
                }
            }
        }
        div.stats {
            div.card.stat { span.number #tokens-issued { (issued) } span.muted { "tokens issued" } }
            div.card.stat { span.number #tokens-failed { (failed) } span.muted { "requests refused" } }
            div.card.stat { span.number { (series.iter().filter(|s| !s.other).count()) } span.muted { "active applications" } }
        }
        section.card {
            h2 { "Tokens issued per application · " (label) }
            @if issued == 0 {
                p.muted { "No tokens issued in this period." }
            } @else {
                (chart(&series, start_ms, bucket_ms, buckets))
                ul.legend {
                    @for (i, s) in series.iter().enumerate() {
                        li {
                            // An SVG fill, not a style attribute: the CSP allows no inline style.
                            svg.swatch viewBox="0 0 10 10" aria-hidden="true" { rect width="10" height="10" rx="2" fill=(PALETTE[i.min(MAX_SERIES)]) {} }
                            (s.label) " · " (s.total)
                        }
                    }
                }
            }
        }
        section.card.warning-card[expiring_total > 0] #expiring {
            h2 { "Credentials expiring within 14 days" }
            @if expiring.is_empty() {
                p.muted { "None: no client secret, public key or federated credential expires in the next 14 days." }
            } @else {
                table.list {
                    thead { tr { th { "Application" } th { "Nearest expiry" } } }
                    tbody {
                        @for (client, at) in &expiring {
                            tr {
                                td { a href={ "/dashboard/applications/" (client) "?tab=credentials" } { (name_of(client)) } }
                                td { (layout::expiry(Some(*at), now)) }
                            }
                        }
                    }
                }
                @if expiring_total > expiring.len() {
                    p.muted { "And " (expiring_total - expiring.len()) " more: " code { "warrant_credential_expiry_seconds" } " on /metrics lists every one." }
                }
            }
        }
        section.card #overuse {
            h2 { "Applications requesting too many tokens" }
            @if overusers.is_empty() {
                p.muted { "None: every application requests about as many tokens as their lifetimes call for." }
            } @else {
                p { strong { "Fix: " } "cache each token and reuse it until shortly before it expires (warrant-client and the Auth0 SDKs do), instead of requesting one per call." }
                p.muted { "Listed: more than " (EXCESS_FACTOR) " times the tokens an hour that caching needs, in some hour of the period (and at least " (EXCESS_MIN_TOKENS) " in that hour)." }
                table.list {
                    thead { tr { th { "Application" } th { "API" } th { "Tokens" } th { "Token lifetime" } th { "Caching needs" } } }
                    tbody {
                        @for o in &overusers {
                            tr {
                                td { a href={ "/dashboard/applications/" (o.client_id) } { (name_of(&o.client_id)) } }
                                td { code { (o.audience) } }
                                td { (o.tokens) }
                                td { (layout::duration(u64::from(o.lifetime))) }
                                td { "about " (o.needed) " an hour (" (o.peak / o.needed.max(1)) "× more requested in the busiest hour)" }
                            }
                        }
                    }
                }
            }
        }
        section.card #failures {
            h2 { "Refused requests by reason" }
            @if reasons.is_empty() {
                p.muted { "No refused token requests in this period." }
            } @else {
                table.list {
                    thead { tr { th { "Reason" } th { "Requests" } } }
                    tbody {
                        @for (reason, n) in &reasons {
                            tr { td { (reason) } td { (n) } }
                        }
                    }
                }
                p.muted { "Every request is in the audit log: " code { "warrant logs --type feccft" } " or " code { (FAILURES_QUERY) } "." }
            }
        }
    };
    Ok(layout::page("Activity", &operator, Nav::Activity, None, content).into_response())
}

#[derive(Debug)]
struct Series {
    label: String,
    total: u64,
    points: Vec<u64>,
    other: bool,
}

/// Issued tokens per bucket for the busiest applications (labelled with their client IDs),
/// then one series for the rest.
fn series(counts: &[ActivityCount], start_ms: u64, bucket_ms: u64, buckets: usize) -> Vec<Series> {
    let mut per_client: HashMap<&str, Vec<u64>> = HashMap::new();
    for c in counts.iter().filter(|c| c.issued) {
        let client = c.client_id.as_str();
        let index = usize::try_from(c.bucket_start_ms.saturating_sub(start_ms) / bucket_ms)
            .unwrap_or(usize::MAX);
        if index < buckets {
            per_client.entry(client).or_insert_with(|| vec![0; buckets])[index] += c.count;
        }
    }
    let mut ranked: Vec<(&str, Vec<u64>)> = per_client.into_iter().collect();
    ranked.sort_by_key(|(client, points)| (std::cmp::Reverse(points.iter().sum::<u64>()), *client));
    let mut out: Vec<Series> = Vec::new();
    let mut other = vec![0; buckets];
    for (i, (client, points)) in ranked.into_iter().enumerate() {
        if i < MAX_SERIES {
            out.push(Series {
                label: client.to_owned(),
                total: points.iter().sum(),
                points,
                other: false,
            });
        } else {
            for (o, p) in other.iter_mut().zip(points) {
                *o += p;
            }
        }
    }
    if other.iter().any(|&n| n > 0) {
        out.push(Series {
            label: "other applications".into(),
            total: other.iter().sum(),
            points: other,
            other: true,
        });
    }
    out
}

/// A line chart as inline SVG: one polyline per series, the time axis below.
fn chart(series: &[Series], start_ms: u64, bucket_ms: u64, buckets: usize) -> Markup {
    const W: f64 = 760.0;
    const H: f64 = 220.0;
    const LEFT: f64 = 48.0;
    const BOTTOM: f64 = 24.0;
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let step = (W - LEFT - 8.0) / (buckets.max(2) - 1) as f64;
    let y = |n: u64| 8.0 + (H - BOTTOM - 8.0) * (1.0 - n as f64 / max as f64);
    let x = |i: usize| LEFT + step * i as f64;
    let label_at = |i: usize| {
        let text = crate::clock::rfc3339(start_ms / 1000 + (i as u64) * bucket_ms / 1000);
        text.get(5..16).unwrap_or(&text).replace('T', " ")
    };
    let ticks = [0, buckets / 2, buckets.saturating_sub(1)];
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (H) } role="img" aria-label="Tokens issued per application over time" {
            line.axis x1=(LEFT) y1=(H - BOTTOM) x2=(W - 8.0) y2=(H - BOTTOM) {}
            line.grid x1=(LEFT) y1=(y(max)) x2=(W - 8.0) y2=(y(max)) {}
            text.tick x=(LEFT - 6.0) y=(y(max) + 4.0) text-anchor="end" { (max) }
            text.tick x=(LEFT - 6.0) y=(H - BOTTOM + 4.0) text-anchor="end" { "0" }
            @for (n, i) in ticks.into_iter().enumerate() {
                text.tick x=(x(i)) y=(H - 6.0) text-anchor=(["start", "middle", "end"][n]) { (label_at(i)) }
            }
            @for (i, s) in series.iter().enumerate() {
                @let points = s.points.iter().enumerate().map(|(j, &n)| format!("{:.1},{:.1}", x(j), y(n))).collect::<Vec<_>>().join(" ");
                polyline points=(points) fill="none" stroke=(PALETTE[i.min(MAX_SERIES)]) stroke-width="2" stroke-linejoin="round" {
                    title { (s.label) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(client: &str, audience: &str, count: u64) -> ActivityCount {
        ActivityCount {
            issued: true,
            client_id: client.into(),
            audience: audience.into(),
            reason: String::new(),
            bucket_start_ms: 0,
            count,
        }
    }

    fn in_hour(hour: u64, count: ActivityCount) -> ActivityCount {
        ActivityCount {
            bucket_start_ms: hour * HOUR_MS,
            ..count
        }
    }

    #[test]
    fn clients_far_above_their_lifetime_in_some_hour_are_listed() {
        let lifetimes = HashMap::from([("https://a", 3600), ("https://b", 60)]);
        let mut counts = Vec::new();
        for hour in 0..24 {
            // An hour-long token needs one an hour; 25 an hour is the no-caching mistake.
            counts.push(in_hour(hour, issued("greedy", "https://a", 25)));
            // 8 an hour is within the room for replicas and restarts.
            counts.push(in_hour(hour, issued("fine", "https://a", 8)));
            // Minute-long tokens need 60 an hour.
            counts.push(in_hour(hour, issued("busy", "https://b", 100)));
        }
        // Unknown APIs are not judged.
        counts.push(issued("other", "https://gone", 10_000));
        let found = overuse(&counts, &lifetimes);
        assert_eq!(
            found,
            vec![Overuse {
                client_id: "greedy".into(),
                audience: "https://a".into(),
                tokens: 600,
                peak: 25,
                lifetime: 3600,
                needed: 1,
            }]
        );
    }

    #[test]
    fn a_burst_counts_the_same_in_a_day_and_in_a_week() {
        let lifetimes = HashMap::from([("https://a", 3600)]);
        // One bad hour in an otherwise quiet week.
        let burst = in_hour(100, issued("c", "https://a", 1080));
        let mut week: Vec<ActivityCount> = (0..168)
            .map(|h| in_hour(h, issued("c", "https://a", 1)))
            .collect();
        week.push(burst.clone());
        let mut day: Vec<ActivityCount> = (90..114)
            .map(|h| in_hour(h, issued("c", "https://a", 1)))
            .collect();
        day.push(burst);
        let (in_week, in_day) = (overuse(&week, &lifetimes), overuse(&day, &lifetimes));
        assert_eq!(in_week.len(), 1);
        assert_eq!(in_day.len(), 1);
        assert_eq!((in_week[0].peak, in_day[0].peak), (1081, 1081));
    }

    #[test]
    fn few_tokens_are_never_overuse() {
        let lifetimes = HashMap::from([("https://a", 86_400)]);
        assert!(overuse(&[issued("c", "https://a", 19)], &lifetimes).is_empty());
        assert_eq!(
            overuse(&[issued("c", "https://a", 20)], &lifetimes).len(),
            1
        );
    }

    #[test]
    fn series_keep_the_busiest_and_sum_the_rest() {
        let mut counts: Vec<ActivityCount> = (0..8)
            .map(|i| issued(&format!("c{i}"), "https://a", 10 + i))
            .collect();
        counts[0].bucket_start_ms = 2000;
        let s = series(&counts, 0, 1000, 3);
        assert_eq!(s.len(), MAX_SERIES + 1);
        assert_eq!(s[0].label, "c7");
        assert_eq!(s[0].points, vec![17, 0, 0]);
        let other = s.last().map(|o| (o.other, o.points.clone()));
        assert_eq!(other, Some((true, vec![11, 0, 10])));
    }
}
