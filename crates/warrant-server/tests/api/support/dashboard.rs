//! The dashboard as a test reaches it: an operator, signing in, its pages and forms (with the
//! session's CSRF token).

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

use super::{TestServer, spawn_app};

pub const ADMIN: &str = "admin";
pub const PASSWORD: &str = "correct horse battery staple";

/// A client that does not follow redirects, so that they can be checked.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Set-Cookie` header that sets `name`.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
        .to_owned()
}

pub fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap()
}

/// The CSRF token of the first form on a page.
pub fn csrf_of(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF field")
        + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

/// A signed-in session: the cookie header value and the session's CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub async fn try_sign_in(
    base: &str,
    http: &reqwest::Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let page = http
        .get(format!("{base}/dashboard/sign-in"))
        .send()
        .await
        .unwrap();
    let csrf_cookie = cookie_value(&set_cookie(&page, "warrant_sign_in"));
    http.post(format!("{base}/dashboard/sign-in"))
        .header(COOKIE, format!("warrant_sign_in={csrf_cookie}"))
        .form(&[
            ("csrf", csrf_cookie.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

pub async fn sign_in(app: &TestServer) -> Session {
    let http = http();
    let response = try_sign_in(&app.base, &http, ADMIN, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = format!(
        "warrant_session={}",
        cookie_value(&set_cookie(&response, "warrant_session"))
    );
    let page = http
        .get(format!("{}/dashboard/applications", app.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_of(&page.text().await.unwrap());
    Session { cookie, csrf }
}

pub async fn app_with_admin() -> TestServer {
    let app = spawn_app().await;
    app.admin.create_operator(ADMIN, PASSWORD).await.unwrap();
    app
}

/// A dashboard page's HTML, fetched in `session`.
pub async fn page(app: &TestServer, session: &Session, path: &str) -> String {
    http()
        .get(format!("{}{path}", app.base))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// POSTs a dashboard form with the session's CSRF token.
pub async fn post(
    app: &TestServer,
    session: &Session,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = vec![("csrf", session.csrf.as_str())];
    form.extend_from_slice(fields);
    http()
        .post(format!("{}{path}", app.base))
        .header(COOKIE, &session.cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
}
