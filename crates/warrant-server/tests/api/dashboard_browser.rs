//! The dashboard in real headless Chromium, the way an operator uses it: sign in, create an
//! API with two permissions, create an application authorized for one (with a claim taken from
//! its metadata), copy its secret and use it at /oauth/token, get a token in the Test tab, rotate
//! the secret, revoke the grant, sign out. A screenshot of each main page lands in target/test-output/dashboard/.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::dashboard::{ADMIN, PASSWORD, app_with_admin};
use crate::support::webdriver::Browser;

const DOCS: &str = "https://documents.example.com";

#[tokio::test]
#[cfg_attr(
    not(warrant_test_browser),
    ignore = "needs Chromium: set WARRANT_TEST_CHROMEDRIVER"
)]
async fn an_operator_sets_up_machine_to_machine_access_in_the_browser() {
    let browser = Browser::start().await;
    let app = app_with_admin().await;
    let base = app.base.clone();

    // Sign in: any page leads there first.
    browser.goto(&format!("{base}/dashboard/")).await;
    assert!(browser.url().await.ends_with("/dashboard/sign-in"));
    browser.screenshot("01-sign-in").await;
    browser.fill("#username", ADMIN).await;
    browser.fill("#password", "not the password").await;
    browser.submit("button[type=submit]").await;
    assert_eq!(browser.text(".error").await, "Wrong username or password.");
    browser.fill("#password", PASSWORD).await;
    browser.submit("button[type=submit]").await;
    assert!(browser.url().await.ends_with("/dashboard/applications"));
    browser.screenshot("02-applications-empty").await;

    // Create an API with two permissions.
    browser.goto(&format!("{base}/dashboard/apis/new")).await;
    browser.fill("#name", "Documents API").await;
    browser.fill("#identifier", DOCS).await;
    browser.fill("#token_lifetime", "3600").await;
    browser.submit("button.primary[type=submit]").await;
    assert_eq!(browser.text(".notice").await, "API created.");
    assert_eq!(browser.text("h1").await, "Documents API");
    browser.submit("nav.tabs a[href$='tab=permissions']").await;
    for (value, description) in [
        ("read:documents", "Read documents"),
        ("delete:documents", "Delete documents"),
    ] {
        browser.fill("#value", value).await;
        browser.fill("#description", description).await;
        browser.submit("button.primary[type=submit]").await;
        assert_eq!(browser.text(".notice").await, "Permission added.");
    }
    let table = browser.text("table.list").await;
    assert!(table.contains("read:documents") && table.contains("delete:documents"));
    browser.screenshot("03-api-permissions").await;
    let api = app.admin.get_api(DOCS).await.unwrap();
    assert_eq!(api.scopes.len(), 2);
    assert_eq!(api.token_lifetime, 3600);

    // Create an application authorized for one of them, in one step.
    browser
        .goto(&format!("{base}/dashboard/applications/new"))
        .await;
    browser.fill("#name", "Billing worker").await;
    browser.fill("#description", "Nightly invoices").await;
    // A tenant in every token of this application, from its metadata.
    browser.fill("#client_metadata", "tenant=acme").await;
    browser
        .fill(
            "#custom_claims",
            r#"{"tenant": "{{client_metadata.tenant}}"}"#,
        )
        .await;
    browser
        .click(&format!("input[name=api][value='{}']", api.id))
        .await;
    browser
        .click(&format!(
            "input[name='scope:{}'][value='read:documents']",
            api.id
        ))
        .await;
    browser.screenshot("04-create-application").await;
    browser.submit("button.primary[type=submit]").await;
    assert_eq!(browser.text(".notice").await, "Application created.");
    browser.screenshot("05-application-created").await;

    // Copy the secret (shown this once) and the client ID.
    browser.click("#new-secret button.copy").await;
    assert_eq!(
        browser
            .attribute("#new-secret button.copy", "data-copied")
            .await
            .as_deref(),
        Some("true")
    );
    let secret = browser.text("#client-secret").await;
    let client_id = browser.text("#client-id").await;
    assert!(
        secret.len() >= 43 && client_id.len() >= 20,
        "client ID of {} and secret of {} characters",
        client_id.len(),
        secret.len()
    );

    // The secret works at the token endpoint, for the one permission granted.
    let token = token_response(&app.base, &client_id, &secret).await;
    assert_eq!(token.0, StatusCode::OK, "{}", refusal(&token.1));
    assert_eq!(token.1["scope"], "read:documents");

    // The Test tab issues a real token and decodes it.
    browser
        .goto(&format!("{base}/dashboard/apis/{}?tab=test", api.id))
        .await;
    let snippet = browser.text("#snippet-curl").await;
    assert!(snippet.contains(&client_id) && snippet.contains(DOCS));
    assert!(snippet.contains("YOUR_CLIENT_SECRET") && !snippet.contains(&secret));
    browser.submit("#get-token").await;
    let shown = browser.text("#access-token").await;
    assert_eq!(shown.split('.').count(), 3, "the Test tab shows no JWT");
    let claims: Value = serde_json::from_str(&browser.text("#token-claims").await).unwrap();
    assert_eq!(claims["sub"], format!("{client_id}@clients"));
    assert_eq!(claims["aud"], DOCS);
    assert_eq!(claims["scope"], "read:documents");
    assert_eq!(claims["tenant"], "acme", "the claim set at creation");
    assert!(browser.text("#token-header").await.contains("RS256"));
    browser.screenshot("06-api-test-tab").await;

    // Rotate the secret with no grace period: the old one stops, the new one works.
    browser
        .goto(&format!("{base}/dashboard/applications/{client_id}"))
        .await;
    // The Credentials tab holds the secret; a tab is a link that loads its page.
    browser.submit("nav.tabs a[href$='?tab=credentials']").await;
    assert_eq!(
        browser.text("nav.tabs a[aria-current=page]").await,
        "Credentials"
    );
    browser.click("#grace option[value='0']").await;
    browser.submit("#rotate-secret").await;
    assert_eq!(browser.text(".notice").await, "Secret rotated.");
    let rotated = browser.text("#client-secret").await;
    assert_ne!(rotated, secret);
    browser.screenshot("07-secret-rotated").await;
    let old = token_response(&app.base, &client_id, &secret).await;
    assert_eq!(old.0, StatusCode::UNAUTHORIZED, "{}", refusal(&old.1));
    let new = token_response(&app.base, &client_id, &rotated).await;
    assert_eq!(new.0, StatusCode::OK, "{}", refusal(&new.1));

    // Revoke the grant, in the APIs tab: no more tokens for that API.
    browser.submit("nav.tabs a[href$='?tab=apis']").await;
    browser.submit("#grants button.danger-text").await;
    assert!(browser.text(".notice").await.starts_with("Grant revoked"));
    let refused = token_response(&app.base, &client_id, &rotated).await;
    assert_eq!(refused.0, StatusCode::FORBIDDEN, "{}", refusal(&refused.1));

    // The other main pages.
    browser.goto(&format!("{base}/dashboard/keys")).await;
    assert!(
        browser
            .text("#keys")
            .await
            .to_lowercase()
            .contains("current")
    );
    browser.screenshot("08-signing-keys").await;
    browser.goto(&format!("{base}/dashboard/apis")).await;
    browser.screenshot("09-apis").await;
    browser
        .goto(&format!("{base}/dashboard/applications"))
        .await;
    browser.screenshot("10-applications").await;
    // The audit log is written in the background: the Activity page counts once it lands.
    let mut issued = 0;
    for _ in 0..50 {
        browser.goto(&format!("{base}/dashboard/activity")).await;
        issued = browser.text("#tokens-issued").await.parse::<u64>().unwrap();
        if issued >= 3 {
            break;
        }
        // Real time: the browser is another process.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(issued >= 3, "{issued} tokens on the Activity page");
    assert!(browser.text("#failures").await.contains("wrong secret"));
    browser.screenshot("11-activity").await;
    browser.prefer_dark().await;
    browser
        .goto(&format!(
            "{base}/dashboard/applications/{client_id}?tab=credentials"
        ))
        .await;
    browser.screenshot("12-application-dark").await;
    browser.goto(&format!("{base}/dashboard/activity")).await;
    browser.screenshot("13-activity-dark").await;

    // At a phone's width the pages fit (tables scroll inside themselves) and client IDs stay
    // on one line.
    browser.phone_width().await;
    for page in ["applications", "apis", "keys", "activity"] {
        browser.goto(&format!("{base}/dashboard/{page}")).await;
        let overflow = browser
            .eval("return document.documentElement.scrollWidth - window.innerWidth;")
            .await;
        assert!(
            overflow.as_i64().is_some_and(|o| o <= 0),
            "the {page} page is {overflow} px wider than a phone"
        );
    }
    browser
        .goto(&format!("{base}/dashboard/applications"))
        .await;
    let wrapped = browser
        .eval(
            "return Array.from(document.querySelectorAll('td code'))\
               .filter(c => c.getClientRects().length > 1).map(c => c.textContent);",
        )
        .await;
    assert_eq!(
        wrapped,
        serde_json::json!([]),
        "client IDs wrapped mid-string"
    );
    browser.screenshot("15-applications-phone").await;

    // Sign out: the dashboard is closed again.
    browser.submit("form.sign-out button").await;
    browser.screenshot("14-signed-out").await;
    browser.wait_for_url("/dashboard/sign-in").await;
    browser
        .goto(&format!("{base}/dashboard/applications"))
        .await;
    assert!(browser.url().await.ends_with("/dashboard/sign-in"));

    // No page ran into its Content-Security-Policy or a script error on the way.
    assert_eq!(browser.page_errors().await, Vec::<String>::new());
    browser.quit().await;
}

/// What a token response says, for a failed assertion: its error, never an issued token.
fn refusal(body: &Value) -> String {
    format!("error {} ({})", body["error"], body["error_description"])
}

async fn token_response(base: &str, client_id: &str, secret: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .json(&json!({
            "client_id": client_id,
            "client_secret": secret,
            "audience": DOCS,
            "grant_type": "client_credentials",
        }))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}
