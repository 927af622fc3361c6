//! Where a redirect answer points, for errors that say where credentials were not sent.

/// Where a redirect answer points: the host (and port) of its `Location`, for an error that
/// says where credentials were not sent. Public for the `warrant` CLI, whose management
/// requests follow no redirect either.
pub fn redirect_target(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| response.url().join(location).ok())
        .map_or_else(|| "an unnamed location".to_owned(), |url| host_of(&url))
}

pub(crate) fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => "an unnamed location".to_owned(),
    }
}
