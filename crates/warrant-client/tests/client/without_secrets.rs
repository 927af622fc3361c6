//! private_key_jwt and assertion files against the real server: a token with each algorithm, a
//! fresh assertion per request, an assertion file read again after it rotates, and refusals
//! that say what is wrong without quoting the assertion.

use std::path::Path;

use warrant_client::{AssertionType, ClientKey, Error, TokenProvider};
use warrant_testkit::{StandIn, private_key_pem};

use crate::support::{API, OTHER, claims, start};

fn key_file(dir: &Path, alg: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{alg}.pem"));
    std::fs::write(&path, private_key_pem(alg)).unwrap();
    path
}

#[tokio::test]
async fn a_private_key_gets_tokens_with_each_algorithm() {
    let fx = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
        let scopes: &[&str] = &["read:data"];
        let (client_id, _) = fx.create_app(&[(API, scopes), (OTHER, scopes)]).await;
        let key = ClientKey::from_pem_file(key_file(dir.path(), alg))
            .unwrap()
            .with_alg(alg)
            .unwrap();
        let (_, kid) = fx
            .add_public_key(&client_id, alg, &key.public_key_pem().unwrap())
            .await;
        assert_eq!(key.kid(), kid, "the default kid is Warrant's kid");
        // The issuer (discovery; aud = the issuer) and a fixed token endpoint (aud = it).
        for builder in [
            TokenProvider::builder().issuer(&fx.issuer),
            TokenProvider::builder().token_endpoint(fx.token_endpoint()),
        ] {
            let provider = builder
                .client_id(&client_id)
                .private_key(key.clone())
                .audience(API)
                .build()
                .unwrap();
            let token = provider
                .token()
                .await
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(claims(token.as_str())["client_id"], client_id.as_str());
            // A second request signs a second assertion (a jti is single-use).
            provider.token_for(OTHER, &[]).await.unwrap();
            assert_eq!(provider.stats().token_requests, 2);
            assert!(!format!("{provider:?} {key:?}").contains("PRIVATE"));
        }
    }
}

#[tokio::test]
async fn private_key_refusals_say_what_is_wrong() {
    let fx = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let registered = ClientKey::from_pem_file(key_file(dir.path(), "RS256")).unwrap();
    fx.add_public_key(
        &fx.client_id,
        "RS256",
        &registered.public_key_pem().unwrap(),
    )
    .await;
    let refused = |key: ClientKey| {
        let provider = fx
            .provider_without_secret()
            .private_key(key)
            .build()
            .unwrap();
        async move { provider.token().await.unwrap_err() }
    };
    let description = |e: &Error| match e {
        Error::Rejected {
            status,
            error,
            description,
        } => {
            assert_eq!((*status, error.as_str()), (401, "invalid_client"));
            description.clone().unwrap()
        }
        other => panic!("{other:?}"),
    };
    // A key Warrant does not know.
    let stranger = ClientKey::generate_es256().unwrap();
    let e = refused(stranger).await;
    assert!(description(&e).contains("kid"), "{e}");
    // The right key with another algorithm than it was registered for.
    let e = refused(registered.clone().with_alg("PS256").unwrap()).await;
    assert!(description(&e).contains("registered for RS256"), "{e}");
    // A secret no longer works once the application has keys.
    let e = fx.provider().build().unwrap().token().await.unwrap_err();
    assert_eq!(
        e.oauth_error(),
        Some(warrant_proto::OAuthErrorCode::InvalidClient)
    );
    // Bad key files are refused before any request, naming the file.
    let missing = ClientKey::from_pem_file(dir.path().join("absent.pem")).unwrap_err();
    assert!(missing.to_string().contains("absent.pem"), "{missing}");
    let public = dir.path().join("public.pem");
    std::fs::write(&public, registered.public_key_pem().unwrap()).unwrap();
    let e = ClientKey::from_pem_file(&public).unwrap_err();
    assert!(e.to_string().contains("public key"), "{e}");
}

/// Writes `text` to `path` as a platform rotates a token: a new file renamed over the old.
fn rotate(path: &Path, text: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

#[tokio::test]
async fn an_assertion_file_is_read_again_after_it_rotates() {
    let fx = start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let key = ClientKey::generate_es256().unwrap();
    fx.add_public_key(&fx.client_id, "ES256", &key.public_key_pem().unwrap())
        .await;
    let aud = fx.token_endpoint();
    let path = dir.path().join("token");
    rotate(
        &path,
        &format!("{}\n", key.assertion(&fx.client_id, &aud).unwrap()),
    );
    let provider = fx
        .provider_without_secret()
        .assertion_file(&path, AssertionType::JwtBearer)
        .build()
        .unwrap();
    provider.token().await.unwrap();

    // The same file again: its jti is spent, and the refusal says so.
    let e = provider.token_for(OTHER, &[]).await.unwrap_err();
    assert_eq!(
        e.oauth_error(),
        Some(warrant_proto::OAuthErrorCode::InvalidClient)
    );

    // Rotated on disk: the next request sends the new assertion.
    let fresh = key.assertion(&fx.client_id, &aud).unwrap();
    rotate(&path, &fresh);
    provider.token_for(OTHER, &["read:data"]).await.unwrap();

    // An assertion of another key: invalid_client, and the error never quotes the file.
    let stranger = ClientKey::generate_es256().unwrap();
    let foreign = stranger.assertion(&fx.client_id, &aud).unwrap();
    rotate(&path, &foreign);
    let e = provider
        .token_for(OTHER, &["write:data"])
        .await
        .unwrap_err();
    assert_eq!(
        e.oauth_error(),
        Some(warrant_proto::OAuthErrorCode::InvalidClient)
    );
    assert!(!e.to_string().contains(&foreign[..40]));

    // A missing file: a clear error naming it.
    std::fs::remove_file(&path).unwrap();
    provider.invalidate();
    let e = provider.token().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot read the client assertion file"),
        "{e}"
    );
}

#[tokio::test]
async fn assertion_files_are_sent_with_their_type_and_client_id() {
    let stand_in = StandIn::recording().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("svid");
    std::fs::write(&path, "eyJh.eyJi.c2ln\n").unwrap();
    let provider = TokenProvider::builder()
        .token_endpoint(format!("{}/oauth/token", stand_in.base))
        .client_id("app-1")
        .assertion_file(&path, AssertionType::JwtSpiffe)
        .audience(API)
        .retry_deadline(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let _ = provider.token().await;
    let received = stand_in.received();
    assert!(received.contains("client_id=app-1"), "{received}");
    assert!(
        received.contains(
            "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-spiffe"
        ),
        "{received}"
    );
    assert!(
        received.contains("client_assertion=eyJh.eyJi.c2ln"),
        "{received}"
    );
    assert!(!received.contains("client_secret"));
}
