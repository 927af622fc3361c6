//! Names and descriptions refuse control and invisible formatting characters (a right-to-left
//! override makes one name read as another in a listing), whichever way they come in: the
//! management API answers 400 naming the field and the character, the dashboard 422 beside the
//! field.

use reqwest::Method;
use reqwest::header::COOKIE;
use serde_json::json;

use crate::support::dashboard::{app_with_admin, sign_in};

#[tokio::test]
async fn the_management_api_refuses_them_naming_the_field_and_the_character() {
    let app = crate::support::spawn_app().await;
    let token = app.admin_token().await;
    let t = Some(token.as_str());
    let (status, created) = app
        .mgmt(
            Method::POST,
            "/clients",
            t,
            Some(&json!({"name": "payroll"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["client_id"].as_str().unwrap();
    let cases = [
        (
            Method::POST,
            "/clients".to_owned(),
            json!({"name": "invoice\u{202E}fdp.exe"}),
            "name",
            "U+202E at character 8",
        ),
        (
            Method::POST,
            "/clients".to_owned(),
            json!({"name": "ok", "description": "a\u{200B}b"}),
            "description",
            "U+200B at character 2",
        ),
        (
            Method::PATCH,
            format!("/clients/{id}"),
            json!({"name": "\u{FEFF}payroll"}),
            "name",
            "U+FEFF at character 1",
        ),
        (
            Method::PATCH,
            format!("/clients/{id}"),
            json!({"description": "line\nforged row"}),
            "description",
            "U+000A",
        ),
        (
            Method::POST,
            "/resource-servers".to_owned(),
            json!({"name": "Billing\u{2066}", "identifier": "https://billing.example.com"}),
            "name",
            "U+2066",
        ),
        (
            Method::POST,
            "/resource-servers".to_owned(),
            json!({"name": "Billing", "identifier": "https://billing.example.com\u{200D}"}),
            "identifier",
            "U+200D",
        ),
        (
            Method::POST,
            "/resource-servers".to_owned(),
            json!({"name": "Billing", "identifier": "https://billing.example.com",
            "scopes": [{"value": "read:invoices", "description": "read \u{E0041}invoices"}]}),
            "description of scope \"read:invoices\"",
            "U+E0041",
        ),
    ];
    for (method, path, body, field, character) in cases {
        let (status, answer) = app.mgmt(method.clone(), &path, t, Some(&body)).await;
        assert_eq!(status, 400, "{method} {path} {body}: {answer}");
        assert_eq!(answer["statusCode"], 400, "{answer}");
        assert_eq!(answer["errorCode"], "invalid_body", "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
        assert!(message.contains(character), "{character}: {message}");
    }
    // Nothing was written.
    let (_, client) = app
        .mgmt(Method::GET, &format!("/clients/{id}"), t, None)
        .await;
    assert_eq!(
        (client["name"].as_str(), client["description"].as_str()),
        (Some("payroll"), Some(""))
    );
    let (_, apis) = app.mgmt(Method::GET, "/resource-servers", t, None).await;
    assert!(
        apis.to_string().find("billing.example.com").is_none(),
        "{apis}"
    );
}

#[tokio::test]
async fn the_dashboard_shows_the_refusal_beside_the_field() {
    let app = app_with_admin().await;
    let session = sign_in(&app).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, fields: &[(&str, &str)]| {
        let mut form = vec![("csrf", session.csrf.as_str())];
        form.extend_from_slice(fields);
        http.post(format!("{}{path}", app.base))
            .header(COOKIE, &session.cookie)
            .form(&form)
            .send()
    };
    let response = post(
        "/dashboard/applications",
        &[
            ("name", "Billing\u{202E}rekrow"),
            ("description", "nightly\u{200B}"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    for (field, character) in [
        ("name", "U+202E at character 8"),
        ("description", "U+200B at character 8"),
    ] {
        let at = html
            .find(&format!("id=\"{field}-error\""))
            .unwrap_or_else(|| panic!("no error beside {field}: {html}"));
        let error = &html[at..at + html[at..].find("</").unwrap()];
        assert!(error.contains(character), "{field}: {error}");
    }
    assert!(
        app.admin
            .list_applications()
            .await
            .unwrap()
            .iter()
            .all(|a| !a.name.starts_with("Billing"))
    );

    let response = post(
        "/dashboard/apis",
        &[
            ("name", "Ledger\u{2067}"),
            ("identifier", "https://ledger.example.com"),
            ("token_lifetime", "86400"),
            ("signing_alg", "RS256"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    let at = html
        .find("id=\"name-error\"")
        .expect("an error beside the name");
    assert!(html[at..].contains("U+2067"), "{html}");
}
