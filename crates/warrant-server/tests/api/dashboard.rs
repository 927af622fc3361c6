//! The dashboard over HTTP: sign-in, sessions, CSRF, escaping, throttling, the secret shown
//! once. The browser walk-through is in `dashboard_browser.rs`.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

use crate::support::dashboard::{
    ADMIN, PASSWORD, app_with_admin, cookie_value, http, page, post, set_cookie, sign_in,
    try_sign_in,
};
use crate::support::{event_count, logs_of, spawn_tls};

#[tokio::test]
async fn pages_need_a_session_and_cookies_are_locked_down() {
    let app = app_with_admin().await;
    let http = http();
    for path in [
        "/dashboard/applications",
        "/dashboard/apis",
        "/dashboard/keys",
        "/dashboard/activity",
    ] {
        let response = http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[LOCATION], "/dashboard/sign-in");
    }
    // A made-up session cookie is no session.
    let response = http
        .get(format!("{}/dashboard/apis", app.base))
        .header(COOKIE, "warrant_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let page = http
        .get(format!("{}/dashboard/sign-in", app.base))
        .send()
        .await
        .unwrap();
    let headers = page.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");

    let response = try_sign_in(&app.base, &http, ADMIN, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&response, "warrant_session");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/dashboard"] {
        assert!(session.contains(flag), "{session} lacks {flag}");
    }
    // Plain HTTP: a Secure cookie would never come back.
    assert!(!session.contains("Secure"), "{session}");
    // The cookie is random; the database keeps only its hash.
    let value = cookie_value(&session);
    assert!(value.len() >= 43, "{value}");
    let pool_path = app.data_dir().join("warrant.db");
    let db = std::fs::read(pool_path).unwrap();
    assert!(
        !db.windows(value.len()).any(|w| w == value.as_bytes()),
        "the session cookie is stored in the clear"
    );
}

#[tokio::test]
async fn session_cookies_are_secure_over_tls() {
    let app = spawn_tls().await;
    app.admin.create_operator(ADMIN, PASSWORD).await.unwrap();
    let ca = std::fs::read(app.data_dir().join("tls/ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = try_sign_in(&app.base, &http, ADMIN, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&response, "warrant_session");
    assert!(session.contains("; Secure"), "{session}");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"));
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = app_with_admin().await;
    let http = http();
    let session = sign_in(&app).await;
    let before = app.admin.list_apis().await.unwrap().len();
    fn form(csrf: Option<&str>) -> Vec<(&'static str, &str)> {
        let mut fields = vec![
            ("name", "Documents"),
            ("identifier", "https://documents.example.com"),
            ("token_lifetime", "3600"),
            ("signing_alg", "RS256"),
        ];
        if let Some(csrf) = csrf {
            fields.push(("csrf", csrf));
        }
        fields
    }
    for csrf in [None, Some(""), Some("not-the-token")] {
        let response = http
            .post(format!("{}/dashboard/apis", app.base))
            .header(COOKIE, &session.cookie)
            .form(&form(csrf))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
        assert!(response.text().await.unwrap().contains("Form expired"));
    }
    assert_eq!(app.admin.list_apis().await.unwrap().len(), before);

    // Sign-in and sign-out are forms too.
    let response = http
        .post(format!("{}/dashboard/sign-in", app.base))
        .form(&[("username", ADMIN), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = http
        .post(format!("{}/dashboard/sign-out", app.base))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // With the token it works.
    let response = http
        .post(format!("{}/dashboard/apis", app.base))
        .header(COOKIE, &session.cookie)
        .form(&form(Some(&session.csrf)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.admin.list_apis().await.unwrap().len(), before + 1);
}

#[tokio::test]
async fn names_and_descriptions_are_rendered_inert() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let payload = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'";
    app.admin
        .create_application(payload.into(), payload.into(), vec![])
        .await
        .unwrap();
    let html = page(&app, &session, "/dashboard/applications").await;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
    );
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<img src=x"));
}

#[tokio::test]
async fn invalid_input_is_shown_next_to_the_field() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let response = post(
        &app,
        &session,
        "/dashboard/apis",
        &[
            ("name", ""),
            ("identifier", "not a uri"),
            ("token_lifetime", "0"),
            ("signing_alg", "HS256"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    for (field, message) in [
        ("name", "name must not be empty"),
        ("identifier", "must be an absolute URI"),
        ("token_lifetime", "from 1 to 2592000"),
        ("signing_alg", "RS256, PS256, ES256 or EdDSA"),
    ] {
        let error = format!("id=\"{field}-error\"");
        let at = html
            .find(&error)
            .unwrap_or_else(|| panic!("no error for {field}"));
        assert!(html[at..].contains(message), "{field}: {message}");
    }
    // What was typed is kept.
    assert!(html.contains("value=\"not a uri\""));
    assert!(
        app.admin
            .list_apis()
            .await
            .unwrap()
            .iter()
            .all(|a| a.identifier != "not a uri")
    );
}

#[tokio::test]
async fn wrong_passwords_are_throttled_and_logged() {
    let app = app_with_admin().await;
    let http = http();
    for _ in 0..10 {
        let response = try_sign_in(&app.base, &http, ADMIN, "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Wrong username or password.")
        );
    }
    let response = try_sign_in(&app.base, &http, ADMIN, "wrong password!").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    // Even the right password waits: the throttle gives no oracle.
    let response = try_sign_in(&app.base, &http, ADMIN, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    // An unknown username fails the same way.
    let other = app_with_admin().await;
    let response = try_sign_in(&other.base, &reqwest::Client::new(), "nobody", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Every attempt is in the audit log as a failed login (counted: refusals are aggregated),
    // without the password.
    let token = app.admin_token().await;
    let events = logs_of(&app, &token, "f", 11).await;
    assert!(
        events.iter().map(event_count).sum::<u64>() >= 11,
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| !e.to_string().contains("wrong password"))
    );
}

#[tokio::test]
async fn the_secret_is_shown_once_and_never_in_a_url() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let response = post(
        &app,
        &session,
        "/dashboard/applications",
        &[
            ("name", "Billing worker"),
            ("description", "nightly invoices"),
        ],
    )
    .await;
    // The secret comes in this response's body, not through a redirect.
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    let start = html.find("id=\"client-secret\">").unwrap() + 19;
    let secret = html[start..].split('<').next().unwrap().to_owned();
    assert!(
        secret.len() >= 43,
        "a secret of {} characters",
        secret.len()
    );
    let apps = app.admin.list_applications().await.unwrap();
    let created = apps.iter().find(|a| a.name == "Billing worker").unwrap();
    let again = page(
        &app,
        &session,
        &format!(
            "/dashboard/applications/{}?tab=credentials",
            created.client_id
        ),
    )
    .await;
    assert!(!again.contains(&secret), "the secret is shown twice");
    assert!(again.contains("Hidden: Warrant stores only a hash"));
    // Rotation keeps no old secret unless asked, as the CLI and the management API (and Auth0).
    assert!(
        again.contains("<option value=\"0\" selected>"),
        "the rotation form should default to no grace period"
    );
    let token = app.admin_token().await;
    let events = logs_of(&app, &token, "sapi", 1).await;
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| !e.to_string().contains(&secret)));
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = app_with_admin().await;
    let http = http();
    let session = sign_in(&app).await;
    let response = post(&app, &session, "/dashboard/sign-out", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&response, "warrant_session").contains("Max-Age=0"));
    // The old cookie no longer opens anything, even if a browser kept it.
    let response = http
        .get(format!("{}/dashboard/apis", app.base))
        .header(COOKIE, &session.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/dashboard/sign-in");
}

#[tokio::test]
async fn signing_keys_rotate_and_revoke_from_the_dashboard() {
    use warrant_server::keys::KeyStatus;
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let before = app.admin.list_keys().await.unwrap();
    let current = before
        .iter()
        .find(|k| k.status == KeyStatus::Current)
        .unwrap()
        .kid
        .clone();

    // The current key cannot be revoked: the page says why and nothing changes.
    let response = post(
        &app,
        &session,
        &format!("/dashboard/keys/{current}/revoke"),
        &[],
    )
    .await;
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Cannot revoke this key")
    );
    assert_eq!(
        app.admin.get_key(&current).await.unwrap().status,
        KeyStatus::Current
    );

    let response = post(&app, &session, "/dashboard/keys/rotate", &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.admin.get_key(&current).await.unwrap().status,
        KeyStatus::Previous
    );
    // The JWKS still publishes it, until revoked.
    assert!(app.jwks().await.to_string().contains(&current));
    let response = post(
        &app,
        &session,
        &format!("/dashboard/keys/{current}/revoke"),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.admin.get_key(&current).await.unwrap().status,
        KeyStatus::Revoked
    );
    assert!(!app.jwks().await.to_string().contains(&current));
    let page = page(&app, &session, "/dashboard/keys?notice=key-revoked").await;
    assert!(page.contains("Key revoked and withdrawn from the JWKS."));
}

#[tokio::test]
async fn the_api_page_authorizes_applications_and_tests_tokens() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    app.create_api(crate::support::API, &["read:a", "write:a"], Some(600))
        .await;
    let api = app.admin.get_api(crate::support::API).await.unwrap();
    let created = app
        .admin
        .create_application("Reporter".into(), String::new(), vec![])
        .await
        .unwrap();
    let client_id = created.application.client_id.clone();
    let path = format!("/dashboard/apis/{}/applications", api.id);

    // Authorize with one scope; then both; then not at all.
    for (authorized, scopes, expected) in [
        (true, vec!["read:a"], Some(vec!["read:a"])),
        (
            true,
            vec!["read:a", "write:a", "undefined:scope"],
            Some(vec!["read:a", "write:a"]),
        ),
        (false, vec!["read:a"], None),
    ] {
        let mut fields = vec![("client_id", client_id.as_str())];
        if authorized {
            fields.push(("authorized", "on"));
        }
        fields.extend(scopes.iter().map(|s| ("scope", *s)));
        let response = post(&app, &session, &path, &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let grants = app.admin.get_application(&client_id).await.unwrap().grants;
        assert_eq!(
            grants.first().map(|g| g.scopes.clone()),
            expected.map(|s| s.into_iter().map(String::from).collect::<Vec<_>>())
        );
    }

    // The Test tab refuses an application without a grant, and issues for one with it.
    let test = format!("/dashboard/apis/{}/test", api.id);
    let html = post(&app, &session, &test, &[("client_id", &client_id)])
        .await
        .text()
        .await
        .unwrap();
    // (The page is not printed on failure: it may hold a token.)
    assert!(html.contains("No token:"), "no refusal shown");
    post(
        &app,
        &session,
        &path,
        &[
            ("client_id", &client_id),
            ("authorized", "on"),
            ("scope", "read:a"),
        ],
    )
    .await;
    let html = post(&app, &session, &test, &[("client_id", &client_id)])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"access-token\""));
    assert!(
        html.contains(&format!("&quot;sub&quot;: &quot;{client_id}@clients&quot;"))
            || html.contains(&format!("\"sub\": \"{client_id}@clients\""))
    );
    // The token it shows is real: the server's keys verify it.
    let start = html.find("id=\"access-token\">").unwrap() + 18;
    let token = html[start..].split('<').next().unwrap();
    let claims = crate::support::verify_independently(&app, token, crate::support::API).await;
    assert_eq!(claims["scope"], "read:a");
}

#[tokio::test]
async fn activity_lists_applications_that_do_not_cache_tokens() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    app.create_api(crate::support::API, &["read:a"], Some(3600))
        .await;
    let (greedy, greedy_secret) = app.create_app(&[(crate::support::API, &["read:a"])]).await;
    let (careful, careful_secret) = app.create_app(&[(crate::support::API, &["read:a"])]).await;
    // An hour-long token needs one request an hour; 25 is the classic no-caching mistake.
    for _ in 0..25 {
        app.token(&greedy, &greedy_secret).await;
    }
    app.token(&careful, &careful_secret).await;
    let _ = app
        .token_json(&crate::support::token_request(&careful, "wrong", None))
        .await;

    app.background.flush_audit().await;
    let html = page(&app, &session, "/dashboard/activity?range=1h").await;
    assert!(html.contains("id=\"tokens-issued\">26<"), "{html}");
    let overuse =
        &html[html.find("id=\"overuse\"").unwrap()..html.find("id=\"failures\"").unwrap()];
    assert!(
        overuse.contains(&format!("/dashboard/applications/{greedy}")),
        "{overuse}"
    );
    assert!(!overuse.contains(&careful), "{overuse}");
    assert!(overuse.contains("cache each token"));
    let failures = &html[html.find("id=\"failures\"").unwrap()..];
    assert!(failures.contains("wrong secret"), "{failures}");
    // The API request the page suggests for the details works, and lists the refusal.
    let suggested = failures
        .split("<code>GET /api/v2")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("a GET /api/v2 request suggested");
    assert_eq!(suggested, "/logs?type=feccft");
    let admin = app.admin_token().await;
    let (status, listed) = app
        .mgmt(reqwest::Method::GET, suggested, Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "feccft" && e["client_id"] == careful.as_str()),
        "{listed}"
    );
    // The chart has a line per application.
    assert_eq!(html.matches("<polyline").count(), 2);
}

#[tokio::test]
async fn a_day_and_a_week_judge_token_requests_alike() {
    use warrant_server::domain::events::AuditEvent;
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    app.create_api(crate::support::API, &["read:a"], Some(3600))
        .await;
    let (burst, _) = app.create_app(&[(crate::support::API, &["read:a"])]).await;
    // 1,080 hour-long tokens within minutes: 45 times what caching needs over a whole day, but
    // fewer than ten times what it needs over a week.
    let at = warrant_server::clock::Clock::now_ms(&warrant_server::clock::SystemClock) - 60_000;
    let events: Vec<AuditEvent> = (0..1080)
        .map(|_| AuditEvent {
            date_ms: at,
            kind: "seccft".into(),
            client_id: Some(burst.clone()),
            audience: Some(crate::support::API.into()),
            ..AuditEvent::default()
        })
        .collect();
    app.store
        .insert_audit_events(&events, "test")
        .await
        .unwrap();
    let mut verdicts = Vec::new();
    for range in ["24h", "7d"] {
        let html = page(
            &app,
            &session,
            &format!("/dashboard/activity?range={range}"),
        )
        .await;
        assert!(
            html.contains("id=\"tokens-issued\">1080<"),
            "{range}: {html}"
        );
        let overuse =
            &html[html.find("id=\"overuse\"").unwrap()..html.find("id=\"failures\"").unwrap()];
        assert!(
            overuse.contains(&format!("/dashboard/applications/{burst}")),
            "{range}: {overuse}"
        );
        verdicts.push(overuse.split("<tbody>").nth(1).unwrap().to_owned());
    }
    assert_eq!(verdicts[0], verdicts[1]);
    assert!(
        verdicts[0].contains("1080× more requested in the busiest hour"),
        "{}",
        verdicts[0]
    );
}

#[tokio::test]
async fn the_application_list_is_paged() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    for i in 0..55 {
        app.admin
            .create_application(format!("worker {i:02}"), String::new(), vec![])
            .await
            .unwrap();
    }
    // 55 workers and the management API's admin application, 50 a page, each exactly once.
    let first = page(&app, &session, "/dashboard/applications?page=0").await;
    assert!(first.contains("1–50 of 56"), "{first}");
    assert!(first.contains("?page=1"));
    let second = page(&app, &session, "/dashboard/applications?page=1").await;
    assert!(second.contains("51–56 of 56"));
    assert!(second.contains("?page=0"));
    let rows = |html: &str| {
        html.matches("<tr><td><a href=\"/dashboard/applications/")
            .count()
    };
    assert_eq!((rows(&first), rows(&second)), (50, 6));
    for i in 0..55 {
        let name = format!(">worker {i:02}<");
        assert_eq!(
            first.matches(&name).count() + second.matches(&name).count(),
            1,
            "{name}"
        );
    }
}

#[tokio::test]
async fn any_application_page_number_is_a_page() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    for number in [u64::MAX, u64::MAX / 50 + 1, 1] {
        let response = http()
            .get(format!("{}/dashboard/applications?page={number}", app.base))
            .header(COOKIE, &session.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "page {number}");
        let html = response.text().await.unwrap();
        assert!(html.contains("← Previous"), "page {number}");
        assert!(!html.contains("<tr><td><a href=\"/dashboard/applications/"));
    }
}

/// The dashboard acts with every management right, under the rule the management API obeys:
/// nobody changes, deletes or gets test tokens for the management API itself.
#[tokio::test]
async fn the_management_api_is_off_limits_to_the_dashboard_too() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let mgmt = app.admin.get_api(&app.mgmt_audience()).await.unwrap();
    let base = format!("/dashboard/apis/{}", mgmt.id);
    let refused = "the management API is managed by Warrant itself";
    for (path, fields) in [
        (
            format!("{base}/settings"),
            vec![
                ("name", "Mine"),
                ("token_lifetime", "86400"),
                ("signing_alg", "RS256"),
            ],
        ),
        (
            format!("{base}/permissions"),
            vec![("value", "write:everything"), ("description", "")],
        ),
        (
            format!("{base}/permissions/remove"),
            vec![("value", "read:clients")],
        ),
        (
            format!("{base}/delete"),
            vec![("confirm", mgmt.identifier.as_str())],
        ),
    ] {
        let response = post(&app, &session, &path, &fields).await;
        assert!(response.status().is_client_error(), "{path}");
        assert!(response.text().await.unwrap().contains(refused), "{path}");
    }
    assert_eq!(
        app.admin.get_api(&mgmt.id).await.unwrap(),
        mgmt,
        "unchanged"
    );

    // No test token for it: the tab says why, and the form is refused.
    let admin_id = app.mgmt_client.0.clone();
    let tab = page(&app, &session, &format!("{base}?tab=test")).await;
    assert!(tab.contains("id=\"test-refused\""));
    assert!(tab.contains("no test tokens for the management API"));
    let response = post(
        &app,
        &session,
        &format!("{base}/test"),
        &[("client_id", &admin_id)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let html = response.text().await.unwrap();
    assert!(html.contains("no test tokens for the management API"));
    assert!(!html.contains("id=\"access-token\""));

    // Granting management scopes is a full right the dashboard has.
    let worker = app
        .admin
        .create_application("ci".into(), String::new(), vec![])
        .await
        .unwrap()
        .application
        .client_id;
    let response = post(
        &app,
        &session,
        &format!("{base}/applications"),
        &[
            ("client_id", &worker),
            ("authorized", "on"),
            ("scope", "read:clients"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let grants = app.admin.get_application(&worker).await.unwrap().grants;
    assert_eq!(grants[0].scopes, ["read:clients"]);
}

#[tokio::test]
async fn the_grants_form_saves_all_or_nothing_and_records_one_event() {
    const OTHER: &str = "https://other.example.com/";
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    app.create_api(crate::support::API, &["read:a", "write:a"], Some(600))
        .await;
    app.create_api(OTHER, &["read:b"], Some(600)).await;
    let apis = app.admin.list_apis().await.unwrap();
    let id_of = |identifier: &str| {
        apis.iter()
            .find(|a| a.identifier == identifier)
            .unwrap()
            .id
            .clone()
    };
    let (a, b) = (id_of(crate::support::API), id_of(OTHER));
    let created = app
        .admin
        .create_application(
            "Mover".into(),
            String::new(),
            vec![warrant_server::admin::GrantSpec {
                audience: crate::support::API.into(),
                scopes: vec!["read:a".into()],
                custom_claims: None,
            }],
        )
        .await
        .unwrap();
    let client_id = created.application.client_id.clone();
    let path = format!("/dashboard/applications/{client_id}/grants");
    let grants = || async {
        let mut grants: Vec<(String, Vec<String>)> = app
            .admin
            .get_application(&client_id)
            .await
            .unwrap()
            .grants
            .into_iter()
            .map(|g| (g.audience, g.scopes))
            .collect();
        grants.sort();
        grants
    };
    let token = app.admin_token().await;
    let changes = || async {
        app.background.flush_audit().await;
        let (status, body) = app
            .mgmt(reqwest::Method::GET, "/logs?type=sapi", Some(&token), None)
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("changed the grants of"))
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let before = grants().await;
    let (scope_a, scope_b) = (format!("scope:{a}"), format!("scope:{b}"));

    // One valid change and one grant of a scope the API does not define: nothing changes,
    // and the page says why.
    let response = post(
        &app,
        &session,
        &path,
        &[
            ("api", &a),
            (&scope_a, "write:a"),
            ("api", &b),
            (&scope_b, "undefined:b"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("undefined:b"), "{html}");
    assert!(html.contains("is not defined by the API"), "{html}");
    assert_eq!(grants().await, before);
    assert!(changes().await.is_empty());

    // Both valid: saved together, recorded as one event in the administrator's name.
    let response = post(
        &app,
        &session,
        &path,
        &[
            ("api", &a),
            (&scope_a, "write:a"),
            ("api", &b),
            (&scope_b, "read:b"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let mut expected = vec![
        (crate::support::API.to_owned(), vec!["write:a".to_owned()]),
        (OTHER.to_owned(), vec!["read:b".to_owned()]),
    ];
    expected.sort();
    assert_eq!(grants().await, expected);
    let recorded = changes().await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    // In the order the page lists the APIs.
    let in_page_order: Vec<String> = apis
        .iter()
        .filter_map(|api| match api.identifier.as_str() {
            OTHER => Some(format!("{OTHER} (read:b)")),
            crate::support::API => Some(format!("{} (write:a)", crate::support::API)),
            _ => None,
        })
        .collect();
    assert_eq!(
        recorded[0]["description"],
        format!(
            "dashboard ({ADMIN}): changed the grants of {client_id}: {}",
            in_page_order.join(", ")
        )
    );
    assert_eq!(recorded[0]["client_id"], client_id.as_str());

    // Unticking one deletes it, in the same words as before.
    let response = post(&app, &session, &path, &[("api", &b), (&scope_b, "read:b")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        grants().await,
        [(OTHER.to_owned(), vec!["read:b".to_owned()])]
    );
    let recorded = changes().await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(
        recorded.iter().any(|e| e["description"]
            == format!(
                "dashboard ({ADMIN}): changed the grants of {client_id}: {} revoked",
                crate::support::API
            )),
        "{recorded:?}"
    );
}

/// The API settings offer the four algorithms; an API created with ES256 gets ES256 keys (the
/// keys page lists them with their algorithm), and its settings show the choice.
#[tokio::test]
async fn an_api_chooses_its_signing_algorithm_in_the_dashboard() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let html = page(&app, &session, "/dashboard/apis/new").await;
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        assert!(
            html.contains(&format!("<option value=\"{alg}\"")),
            "{alg} missing"
        );
    }
    let response = post(
        &app,
        &session,
        "/dashboard/apis",
        &[
            ("name", "Fast"),
            ("identifier", "https://fast.example.com"),
            ("token_lifetime", "600"),
            ("signing_alg", "ES256"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let api = app.admin.get_api("https://fast.example.com").await.unwrap();
    assert_eq!(api.signing_alg.as_str(), "ES256");
    let keys = page(&app, &session, "/dashboard/keys").await;
    assert!(keys.contains("<td>ES256</td>"), "{keys}");
    let settings = page(
        &app,
        &session,
        &format!("/dashboard/apis/{}?tab=settings", api.id),
    )
    .await;
    assert!(
        settings.contains("<option value=\"ES256\" selected>"),
        "ES256 is not the selected algorithm"
    );
}

/// An application's metadata and custom claims, and a grant's claims, set in the dashboard:
/// they show on the application's page, reach the Test tab's token, and a malformed value is
/// refused on the form, naming the claim.
#[tokio::test]
async fn custom_claims_and_metadata_are_edited_and_shown_in_the_test_tab() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    app.create_api(crate::support::API, &["read:a"], None).await;
    let (client_id, _) = app.create_app(&[(crate::support::API, &["read:a"])]).await;
    let base = format!("/dashboard/applications/{client_id}");
    let details = app.admin.get_application(&client_id).await.unwrap();
    let name = details.application.name.clone();
    let grant_id = details.grants[0].id.clone();

    let settings = |metadata: &'static str, claims: &'static str| {
        vec![
            ("name", name.clone()),
            ("description", String::new()),
            ("client_metadata", metadata.to_owned()),
            ("custom_claims", claims.to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>, path: String| {
        let (app, session) = (&app, &session);
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(app, session, &path, &fields).await
        }
    };
    // Refused, naming the claim; nothing changes.
    for (metadata, claims, says) in [
        ("tenant=acme", r#"{"iss": "me"}"#, "&quot;iss&quot;"),
        (
            "tenant=acme",
            r#"{"t": "{{client_metadata.nope}}"}"#,
            "client_metadata.nope",
        ),
        ("tenant=acme", "[1]", "JSON object"),
        ("no equals sign", "", "KEY=VALUE"),
    ] {
        let response = send(settings(metadata, claims), format!("{base}/settings")).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{claims}: {:?}",
            response.headers().get(LOCATION)
        );
        let html = response.text().await.unwrap();
        assert!(html.contains(says), "{claims}: lacks {says}");
    }
    assert!(
        app.admin
            .get_application(&client_id)
            .await
            .unwrap()
            .application
            .custom_claims
            .is_empty()
    );

    let response = send(
        settings(
            "tenant=acme\r\nplan=gold\r\n",
            r#"{"tenant": "{{client_metadata.tenant}}", "tier": 1}"#,
        ),
        format!("{base}/settings"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = send(
        vec![("custom_claims", r#"{"tier": 2}"#.to_owned())],
        format!("{base}/grants/{grant_id}/claims"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = send(
        vec![("custom_claims", r#"{"sub": "x"}"#.to_owned())],
        format!("{base}/grants/{grant_id}/claims"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("&quot;sub&quot;"));

    // Settings is the page's first tab.
    let html = page(&app, &session, &base).await;
    assert!(html.contains("tenant=acme"), "the metadata is shown");
    assert!(
        html.contains("{{client_metadata.tenant}}"),
        "the claims are shown"
    );
    let html = page(&app, &session, &format!("{base}?tab=apis")).await;
    assert!(
        html.contains("&quot;tier&quot;: 2"),
        "the grant's claims are shown"
    );

    let api = app.admin.get_api(crate::support::API).await.unwrap();
    let html = post(
        &app,
        &session,
        &format!("/dashboard/apis/{}/test", api.id),
        &[("client_id", &client_id)],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        html.contains("&quot;tenant&quot;: &quot;acme&quot;"),
        "no tenant in the test token"
    );
    assert!(
        html.contains("&quot;tier&quot;: 2"),
        "no grant claim in the test token"
    );
}

/// The Create Application form takes metadata and custom claims with the rest, in one step: a
/// refused value is named on the form and creates nothing; accepted ones are stored with the
/// application and reach its tokens.
#[tokio::test]
async fn an_application_is_created_with_metadata_and_claims() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    app.create_api(crate::support::API, &["read:a"], None).await;
    let api = app.admin.get_api(crate::support::API).await.unwrap();
    let scope_field = format!("scope:{}", api.id);
    let create = |metadata: &'static str, claims: &'static str| {
        let (app, session, api, scope_field) = (&app, &session, &api, &scope_field);
        async move {
            post(
                app,
                session,
                "/dashboard/applications",
                &[
                    ("name", "Tenant worker"),
                    ("description", ""),
                    ("client_metadata", metadata),
                    ("custom_claims", claims),
                    ("api", api.id.as_str()),
                    (scope_field.as_str(), "read:a"),
                ],
            )
            .await
        }
    };
    for (metadata, claims, says) in [
        ("tenant=acme", r#"{"aud": "x"}"#, "&quot;aud&quot;"),
        (
            "tenant=acme",
            r#"{"t": "{{client_metadata.nope}}"}"#,
            "client_metadata.nope",
        ),
        ("tenant", "", "KEY=VALUE"),
        ("tenant=acme", "{not json", "JSON object"),
    ] {
        let response = create(metadata, claims).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{claims}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains(says), "{claims}: lacks {says}");
        assert!(
            html.contains(&html_escape(claims)),
            "{claims}: the form is not shown again as sent"
        );
    }
    assert!(
        app.admin
            .list_applications()
            .await
            .unwrap()
            .iter()
            .all(|a| a.name != "Tenant worker"),
        "a refused form created an application"
    );

    let response = create(
        "tenant=acme\r\nplan=gold",
        r#"{"tenant": "{{client_metadata.tenant}}", "tier": 1}"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Application created.")
    );
    let created = app
        .admin
        .list_applications()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name == "Tenant worker")
        .unwrap();
    assert_eq!(created.client_metadata["tenant"], "acme");
    assert_eq!(created.client_metadata["plan"], "gold");
    let html = post(
        &app,
        &session,
        &format!("/dashboard/apis/{}/test", api.id),
        &[("client_id", &created.client_id)],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        html.contains("&quot;tenant&quot;: &quot;acme&quot;"),
        "no tenant in the application's token"
    );
    assert!(
        html.contains("&quot;tier&quot;: 1"),
        "no tier in the application's token"
    );
}

/// `text` as the pages write it inside an element.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An API's settings choose DPoP-bound tokens: off, optional or required (Auth0's
/// `proof_of_possession`); the choice shows when the tab comes back, and a value that is none of
/// the three is refused with the field's error.
#[tokio::test]
async fn an_api_requires_dpop_from_its_settings() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    app.create_api("https://strict.example.com", &["read:data"], None)
        .await;
    let api = app
        .admin
        .get_api("https://strict.example.com")
        .await
        .unwrap();
    let settings = format!("/dashboard/apis/{}/settings", api.id);
    let tab = format!("/dashboard/apis/{}?tab=settings", api.id);
    assert!(
        page(&app, &session, &tab)
            .await
            .contains("<option value=\"off\" selected>")
    );
    for (choice, expected) in [
        ("required", Some(true)),
        ("optional", Some(false)),
        ("off", None),
        ("required", Some(true)),
    ] {
        let response = post(
            &app,
            &session,
            &settings,
            &[
                ("name", "Strict"),
                ("token_lifetime", "86400"),
                ("signing_alg", "RS256"),
                ("dpop", choice),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{choice}");
        let stored = app.admin.get_api(&api.id).await.unwrap();
        assert_eq!(
            stored.proof_of_possession.map(|p| p.required),
            expected,
            "{choice}"
        );
        assert!(
            page(&app, &session, &tab)
                .await
                .contains(&format!("<option value=\"{choice}\" selected>"))
        );
    }
    let response = post(
        &app,
        &session,
        &settings,
        &[
            ("name", "Strict"),
            ("token_lifetime", "86400"),
            ("signing_alg", "RS256"),
            ("dpop", "mtls"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("id=\"dpop-error\""));
    assert!(app.admin.get_api(&api.id).await.unwrap().dpop_required());
}

/// An application's credentials in the dashboard: the secret with its expiry, public keys added
/// from PEM (with an algorithm and an expiry) and removed, a place for federated credentials,
/// and a credential expiring within 14 days flagged on the page and on the Activity page.
#[tokio::test]
async fn the_credentials_of_an_application_and_their_expiry() {
    use warrant_server::clock::{Clock, SystemClock, rfc3339};
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    app.create_api(crate::support::API, &["read:a"], None).await;
    let (id, _) = app.create_app(&[(crate::support::API, &["read:a"])]).await;
    let path = format!("/dashboard/applications/{id}");
    let tab = format!("{path}?tab=credentials");
    // The Credentials tab, not Settings, holds them; the tab bar says which tab is shown.
    let settings = page(&app, &session, &path).await;
    assert!(!settings.contains("id=\"credentials\""), "{settings}");
    assert!(settings.contains(&format!("href=\"{tab}\"")), "{settings}");
    let html = page(&app, &session, &tab).await;
    assert!(html.contains("id=\"credentials\""), "{html}");
    assert!(
        html.contains(&format!(
            "<a href=\"{tab}\" aria-current=\"page\">Credentials</a>"
        )),
        "{html}"
    );
    assert!(html.contains("id=\"no-keys\""));
    assert!(html.contains("id=\"federated-credentials\""));
    assert!(html.contains("never expires"));
    assert!(!html.contains("id=\"expiry-warning\""));

    // A private key is refused, saying what to send; nothing is added.
    let key = warrant_client::ClientKey::generate_es256().unwrap();
    let private = warrant_testkit::private_key_pem("ES256");
    let response = post(
        &app,
        &session,
        &format!("{path}/credentials"),
        &[
            ("key_name", "ci"),
            ("alg", "ES256"),
            ("pem", &private),
            ("expires", ""),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = response.text().await.unwrap();
    assert!(refused.contains("private key"), "{refused}");
    let body = private.lines().nth(1).unwrap();
    assert!(!refused.contains(body), "the private key is not sent back");
    assert!(app.admin.list_credentials(&id).await.unwrap().is_empty());

    // A public key expiring in a week: added, used, and flagged.
    let in_a_week = &rfc3339(SystemClock.now() + 7 * 86_400)[..10];
    let response = post(
        &app,
        &session,
        &format!("{path}/credentials"),
        &[
            ("key_name", "ci key"),
            ("alg", "ES256"),
            ("pem", &key.public_key_pem().unwrap()),
            ("expires", in_a_week),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = page(&app, &session, &tab).await;
    let keys = &html[html.find("id=\"public-keys\"").expect("a table of keys")..];
    assert!(
        keys.contains(key.kid()) && keys.contains("ci key"),
        "{keys}"
    );
    assert!(keys.contains("expires in"), "{keys}");
    assert!(html.contains("id=\"expiry-warning\""));
    assert!(html.contains("id=\"secret-refused\""));
    let activity = page(&app, &session, "/dashboard/activity").await;
    let expiring = &activity[activity.find("id=\"expiring\"").unwrap()..];
    assert!(expiring.contains(&format!("href=\"{tab}\"")), "{expiring}");
    // The banner is on every tab, and leads to the Credentials tab.
    let settings = page(&app, &session, &path).await;
    let banner = &settings[settings.find("id=\"expiry-warning\"").expect("a banner")..];
    assert!(banner.contains(&format!("href=\"{tab}\"")), "{banner}");
    let token = app.admin_token().await;
    let (_, client) = app
        .mgmt(
            reqwest::Method::GET,
            &format!("/clients/{id}"),
            Some(&token),
            None,
        )
        .await;
    let listed = &client["client_authentication_methods"]["private_key_jwt"]["credentials"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{client}");

    // A bad date is named next to its field.
    let response = post(
        &app,
        &session,
        &format!("{path}/credentials"),
        &[
            ("key_name", "x"),
            ("alg", "ES256"),
            ("pem", &key.public_key_pem().unwrap()),
            ("expires", "next week"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("YYYY-MM-DD"));

    // Removed: no key, no warning, the secret works again.
    let credential = &app.admin.list_credentials(&id).await.unwrap()[0];
    let response = post(
        &app,
        &session,
        &format!("{path}/credentials/{}/remove", credential.id),
        &[],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = page(&app, &session, &tab).await;
    assert!(html.contains("id=\"no-keys\""));
    assert!(!html.contains("id=\"expiry-warning\""));
    assert!(!html.contains("id=\"secret-refused\""));

    // A secret that expires shows when.
    app.admin
        .rotate_secret_until(&id, 0, Some(SystemClock.now() + 3 * 86_400))
        .await
        .unwrap();
    let html = page(&app, &session, &tab).await;
    let secrets = &html[html.find("id=\"secrets\"").unwrap()..];
    assert!(
        secrets.contains("expires in 2 days") || secrets.contains("expires in 3 days"),
        "{secrets}"
    );
    assert!(html.contains("id=\"expiry-warning\""));
}
