//! One storage test suite, run against every engine: SQLite in a temporary directory, and
//! PostgreSQL in a fresh database under `WARRANT_TEST_DATABASE_URL` (ignored, and said so, when
//! that is unset; CI sets it, and a PostgreSQL it cannot reach fails the run).

use std::future::Future;
use std::time::Duration;

use warrant_server::domain::{
    Application, ClaimCondition, ClientGrant, ClientSecret, DEFAULT_TOKEN_LIFETIME,
    FederatedCredential, NewFederatedCredential, NewTrustedIssuer, PopMechanism, ProofOfPossession,
    ResourceServer, Scope, SigningAlg, TrustedIssuer, hash_secret,
};
use warrant_server::keys::{KeyStatus, MasterKey, SigningKey};
use warrant_server::store::{
    CHANGE_RETENTION, CatalogState, ChangedClients, ConfigWrite, GrantChanges, GrantFilter,
    JTI_CHUNK, JtiUse, Store, StoreError,
};
use warrant_testkit::PgDatabase;

/// The engine a suite runs on: each suite is two tests, `sqlite::<name>` and `postgres::<name>`
/// (the latter ignored unless `WARRANT_TEST_DATABASE_URL` is set).
#[derive(Debug, Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// Runs `suite` on a fresh store of this engine.
    async fn run<F, Fut>(self, suite: F)
    where
        F: FnOnce(Store) -> Fut,
        Fut: Future<Output = ()>,
    {
        match self {
            Self::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                suite(Store::open_data_dir(dir.path()).await.unwrap()).await;
            }
            Self::Postgres => {
                let db = PgDatabase::create().await;
                let store = Store::connect(&db.url).await.unwrap();
                assert_eq!(store.engine(), "postgres");
                suite(store).await;
            }
        }
    }
}

/// Declares each suite's test on each engine.
macro_rules! on_each_engine {
    ($($suite:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $suite() {
                    super::$suite(super::Engine::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                #[cfg_attr(
                    not(warrant_test_postgres),
                    ignore = "needs PostgreSQL: set WARRANT_TEST_DATABASE_URL"
                )]
                async fn $suite() {
                    super::$suite(super::Engine::Postgres).await;
                }
            )+
        }
    };
}

on_each_engine!(
    records_round_trip_and_cascade,
    an_apis_proof_of_possession_round_trips,
    grace_rotations_keep_at_most_two_secrets,
    key_rotation_is_a_compare_and_swap_and_revocation_has_rules,
    settings_are_compare_and_swap,
    writes_name_the_clients_they_touch,
    audit_events_are_stored_listed_and_pruned,
    the_count_limit_never_prunes_what_administrators_did,
    dashboard_administrators_and_sessions,
    token_activity_is_counted_by_bucket,
    applications_are_listed_a_page_at_a_time,
    grants_are_replaced_all_at_once_or_not_at_all,
    reads_announce_no_change,
    revoked_tokens_are_loaded_capped_and_pruned,
    a_configuration_is_written_all_at_once_or_not_at_all,
    assertion_jtis_are_recorded_many_at_a_time_each_once,
    pruning_jtis_beside_batches_taking_them_over_never_fails,
);

fn api(identifier: &str) -> ResourceServer {
    ResourceServer {
        id: format!("id-{identifier}"),
        identifier: identifier.into(),
        name: "API".into(),
        scopes: vec![Scope {
            value: "read:data".into(),
            description: "Read".into(),
        }],
        token_lifetime: DEFAULT_TOKEN_LIFETIME,
        signing_alg: SigningAlg::RS256,
        proof_of_possession: None,
        created_at: 10,
        updated_at: 10,
    }
}

async fn records_round_trip_and_cascade(engine: Engine) {
    engine
        .run(|store| async move {
            let v0 = store.version().await.unwrap();
            let a = api("https://a");
            store.insert_resource_server(&a).await.unwrap();
            assert!(matches!(
                store.insert_resource_server(&a).await,
                Err(StoreError::Conflict(_))
            ));
            assert_eq!(store.get_resource_server("https://a").await.unwrap(), a);
            assert_eq!(store.get_resource_server(&a.id).await.unwrap(), a);

            let mut app = Application::new("worker".into(), "d".into(), 20).unwrap();
            app.client_metadata.insert("team".into(), "data".into());
            let secret = ClientSecret::new(&app.client_id, hash_secret("s"), 20);
            let grant = ClientGrant::new(&app.client_id, &a, vec!["read:data".into()], 20).unwrap();
            store
                .insert_application(&app, &secret, std::slice::from_ref(&grant))
                .await
                .unwrap();
            assert_eq!(store.get_application(&app.client_id).await.unwrap(), app);
            assert_eq!(
                store.list_client_secrets(&app.client_id).await.unwrap(),
                vec![secret.clone()]
            );
            assert_eq!(store.get_grant(&grant.id).await.unwrap(), grant);
            assert!(matches!(
                store.insert_grant(&grant).await,
                Err(StoreError::Conflict(_))
            ));
            let filtered = store
                .list_grants(&GrantFilter {
                    client_id: None,
                    audience: Some("https://a".into()),
                })
                .await
                .unwrap();
            assert_eq!(filtered, vec![grant.clone()]);
            assert!(
                store
                    .list_grants(&GrantFilter {
                        client_id: Some("x".into()),
                        audience: None
                    })
                    .await
                    .unwrap()
                    .is_empty()
            );

            store
                .change_grant(&grant.id, |stored| {
                    Ok::<_, StoreError>(ClientGrant {
                        scopes: Vec::new(),
                        custom_claims: Default::default(),
                        ..stored.grant
                    })
                })
                .await
                .unwrap();
            assert!(store.get_grant(&grant.id).await.unwrap().scopes.is_empty());
            let mut renamed = app.clone();
            renamed.name = "renamed".into();
            store
                .change_application(&renamed.client_id.clone(), |_| Ok::<_, StoreError>(renamed))
                .await
                .unwrap();
            assert_eq!(
                store.get_application(&app.client_id).await.unwrap().name,
                "renamed"
            );

            // Rotation with a grace period keeps the old secret until it expires.
            let newer = ClientSecret::new(&app.client_id, hash_secret("t"), 30);
            store.rotate_secret(&newer, 100, 30).await.unwrap();
            let secrets = store.list_client_secrets(&app.client_id).await.unwrap();
            assert_eq!(secrets.len(), 2);
            assert_eq!(secrets[0].expires_at, Some(100));
            let newest = ClientSecret::new(&app.client_id, hash_secret("u"), 40);
            store.rotate_secret(&newest, 40, 40).await.unwrap();
            assert_eq!(
                store.list_client_secrets(&app.client_id).await.unwrap(),
                vec![newest]
            );

            let record = store.load_client(&app.client_id).await.unwrap().unwrap();
            assert_eq!(record.secrets.len(), 1);
            let stored_grant = store.get_grant(&grant.id).await.unwrap();
            assert_eq!(record.grants, vec![(stored_grant, a.id.clone())]);
            assert!(store.load_client("nobody").await.unwrap().is_none());
            let state = store.load_catalog(Some(v0)).await.unwrap();
            assert_eq!(state.resource_servers, vec![a.clone()]);
            assert!(state.version > v0, "writes bump the version");
            // Every write that touched the client says so, once per listing.
            assert_eq!(
                state.changed_clients,
                ChangedClients::Listed(vec![app.client_id.clone()])
            );
            let since_now = store.load_catalog(Some(state.version)).await.unwrap();
            assert_eq!(since_now.changed_clients, ChangedClients::Listed(vec![]));
            assert_eq!(
                store.load_catalog(None).await.unwrap().changed_clients,
                ChangedClients::All
            );

            // Deleting the API takes its grants; deleting the application its secrets.
            store.delete_resource_server(&a.id).await.unwrap();
            assert!(matches!(
                store.get_grant(&grant.id).await,
                Err(StoreError::NotFound(_))
            ));
            store.delete_application(&app.client_id).await.unwrap();
            assert!(
                store
                    .list_client_secrets(&app.client_id)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(matches!(
                store.delete_application(&app.client_id).await,
                Err(StoreError::NotFound(_))
            ));
            let orphan = ClientGrant {
                audience: "https://gone".into(),
                ..grant
            };
            assert!(matches!(
                store.insert_grant(&orphan).await,
                Err(StoreError::NotFound(_))
            ));
        })
        .await;
}

/// An API's DPoP setting is stored, changed and removed.
async fn an_apis_proof_of_possession_round_trips(engine: Engine) {
    engine
        .run(|store| async move {
            let mut api = api("https://strict.example.com");
            api.proof_of_possession = Some(ProofOfPossession {
                mechanism: PopMechanism::Dpop,
                required: true,
            });
            store.insert_resource_server(&api).await.unwrap();
            let stored = store.get_resource_server(&api.identifier).await.unwrap();
            assert_eq!(stored, api);
            assert!(stored.dpop_required());
            api.proof_of_possession = Some(ProofOfPossession {
                mechanism: PopMechanism::Dpop,
                required: false,
            });
            store
                .change_resource_server(&api.id, |_| Ok::<_, StoreError>(api.clone()))
                .await
                .unwrap();
            assert_eq!(
                store.list_resource_servers().await.unwrap(),
                vec![api.clone()]
            );
            api.proof_of_possession = None;
            store
                .change_resource_server(&api.id, |_| Ok::<_, StoreError>(api.clone()))
                .await
                .unwrap();
            let stored = store.get_resource_server(&api.id).await.unwrap();
            assert_eq!(stored.proof_of_possession, None);
        })
        .await;
}

async fn grace_rotations_keep_at_most_two_secrets(engine: Engine) {
    engine
        .run(|store| async move {
            let app = Application::new("worker".into(), String::new(), 10).unwrap();
            let first = ClientSecret::new(&app.client_id, hash_secret("s0"), 10);
            store.insert_application(&app, &first, &[]).await.unwrap();
            let mut previous = first.id;
            // Rotations ten seconds apart, each with an hour's grace: the one before the new
            // secret keeps its grace, the older ones go.
            for (i, now) in [20_u64, 30, 40].into_iter().enumerate() {
                let next = ClientSecret::new(&app.client_id, hash_secret(&format!("s{i}")), now);
                store.rotate_secret(&next, now + 3600, now).await.unwrap();
                let secrets = store.list_client_secrets(&app.client_id).await.unwrap();
                let found: Vec<(&str, Option<u64>)> = secrets
                    .iter()
                    .map(|s| (s.id.as_str(), s.expires_at))
                    .collect();
                assert_eq!(
                    found,
                    [
                        (previous.as_str(), Some(now + 3600)),
                        (next.id.as_str(), None)
                    ]
                );
                previous = next.id;
            }
            // Two rotations in one second (creation times tie): the secret that goes into its
            // grace is the current one, whatever the IDs.
            let a = ClientSecret::new(&app.client_id, hash_secret("a"), 50);
            store.rotate_secret(&a, 3650, 50).await.unwrap();
            let b = ClientSecret::new(&app.client_id, hash_secret("b"), 50);
            store.rotate_secret(&b, 3650, 50).await.unwrap();
            let mut found: Vec<(String, Option<u64>)> = store
                .list_client_secrets(&app.client_id)
                .await
                .unwrap()
                .into_iter()
                .map(|s| (s.id, s.expires_at))
                .collect();
            found.sort_by_key(|(_, expires)| expires.is_none());
            assert_eq!(found, [(a.id, Some(3650)), (b.id, None)]);
        })
        .await;
}

async fn key_rotation_is_a_compare_and_swap_and_revocation_has_rules(engine: Engine) {
    engine
        .run(|store| async move {
            let master = MasterKey::from_bytes([3; 32]);
            let current = SigningKey::generate()
                .unwrap()
                .to_stored(&master, KeyStatus::Current, 1)
                .unwrap();
            let next = SigningKey::generate()
                .unwrap()
                .to_stored(&master, KeyStatus::Next, 1)
                .unwrap();
            store.insert_signing_key(&current).await.unwrap();
            store.insert_signing_key(&next).await.unwrap();
            let another_current = SigningKey::generate()
                .unwrap()
                .to_stored(&master, KeyStatus::Current, 1)
                .unwrap();
            assert!(matches!(
                store.insert_signing_key(&another_current).await,
                Err(StoreError::Conflict(_))
            ));

            let newer = SigningKey::generate()
                .unwrap()
                .to_stored(&master, KeyStatus::Next, 5)
                .unwrap();
            assert!(matches!(
                store.rotate_signing_keys("not-current", &newer, 5).await,
                Err(StoreError::Conflict(_))
            ));
            store
                .rotate_signing_keys(&current.kid, &newer, 5)
                .await
                .unwrap();
            let keys = store.list_signing_keys().await.unwrap();
            let status = |kid: &str| keys.iter().find(|k| k.kid == kid).unwrap().status;
            assert_eq!(status(&current.kid), KeyStatus::Previous);
            assert_eq!(status(&next.kid), KeyStatus::Current);
            assert_eq!(status(&newer.kid), KeyStatus::Next);
            assert_eq!(
                store
                    .get_signing_key(&current.kid)
                    .await
                    .unwrap()
                    .current_until,
                Some(5)
            );

            assert!(matches!(
                store.revoke_signing_key(&next.kid, 6).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                store.revoke_signing_key(&newer.kid, 6).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                store.revoke_signing_key("nope", 6).await,
                Err(StoreError::NotFound(_))
            ));
            store.revoke_signing_key(&current.kid, 6).await.unwrap();
            store.revoke_signing_key(&current.kid, 7).await.unwrap();
            let revoked = store.get_signing_key(&current.kid).await.unwrap();
            assert_eq!(
                (revoked.status, revoked.revoked_at),
                (KeyStatus::Revoked, Some(6))
            );
            // The sealed private key survives the round trip.
            assert!(
                SigningKey::from_stored(&store.get_signing_key(&next.kid).await.unwrap(), &master)
                    .is_ok()
            );
        })
        .await;
}

async fn settings_are_compare_and_swap(engine: Engine) {
    engine
        .run(|store| async move {
            assert_eq!(store.get_setting("k").await.unwrap(), None);
            assert!(store.replace_setting("k", None, "a").await.unwrap());
            assert!(!store.replace_setting("k", None, "b").await.unwrap());
            assert!(!store.replace_setting("k", Some("x"), "b").await.unwrap());
            assert!(store.replace_setting("k", Some("a"), "b").await.unwrap());
            assert_eq!(store.get_setting("k").await.unwrap().as_deref(), Some("b"));
        })
        .await;
}

async fn writes_name_the_clients_they_touch(engine: Engine) {
    engine
        .run(|store| async move {
            let a = api("https://changes");
            store.insert_resource_server(&a).await.unwrap();
            let mut apps = Vec::new();
            for name in ["one", "two"] {
                let app = Application::new(name.into(), String::new(), 1).unwrap();
                let secret = ClientSecret::new(&app.client_id, hash_secret(name), 1);
                store.insert_application(&app, &secret, &[]).await.unwrap();
                apps.push(app);
            }
            let changed_since = |since| {
                let store = store.clone();
                async move {
                    match store.load_catalog(Some(since)).await.unwrap() {
                        CatalogState {
                            changed_clients: ChangedClients::Listed(mut ids),
                            ..
                        } => {
                            ids.sort();
                            ids
                        }
                        other => panic!("expected a list, got {other:?}"),
                    }
                }
            };
            let (one, two) = (&apps[0].client_id, &apps[1].client_id);

            let v = store.version().await.unwrap();
            let grant = ClientGrant::new(one, &a, vec!["read:data".into()], 2).unwrap();
            store.insert_grant(&grant).await.unwrap();
            assert_eq!(changed_since(v).await, vec![one.clone()]);

            let v = store.version().await.unwrap();
            store
                .change_grant(&grant.id, |stored| {
                    Ok::<_, StoreError>(ClientGrant {
                        scopes: Vec::new(),
                        custom_claims: Default::default(),
                        ..stored.grant
                    })
                })
                .await
                .unwrap();
            assert_eq!(changed_since(v).await, vec![one.clone()]);

            let v = store.version().await.unwrap();
            store.delete_grant(&grant.id).await.unwrap();
            let rotated = ClientSecret::new(two, hash_secret("new"), 3);
            store.rotate_secret(&rotated, 3, 3).await.unwrap();
            let mut both = vec![one.clone(), two.clone()];
            both.sort();
            assert_eq!(changed_since(v).await, both);

            let v = store.version().await.unwrap();
            store.delete_application(two).await.unwrap();
            assert_eq!(changed_since(v).await, vec![two.clone()]);

            // An update names the client (issuance reads its quota); an API change is in the
            // snapshot itself.
            let v = store.version().await.unwrap();
            let mut renamed = apps[0].clone();
            renamed.name = "renamed".into();
            store
                .change_application(&renamed.client_id.clone(), |_| Ok::<_, StoreError>(renamed))
                .await
                .unwrap();
            assert_eq!(changed_since(v).await, vec![one.clone()]);
            let v = store.version().await.unwrap();
            store.delete_resource_server(&a.id).await.unwrap();
            assert!(changed_since(v).await.is_empty());

            // Further back than the retention window, the store cannot say: everything changed.
            let now = store.version().await.unwrap();
            assert_eq!(
                store
                    .load_catalog(Some(now - CHANGE_RETENTION - 1))
                    .await
                    .unwrap()
                    .changed_clients,
                ChangedClients::All
            );
        })
        .await;
}

async fn audit_events_are_stored_listed_and_pruned(engine: Engine) {
    use warrant_server::domain::events::{AuditEvent, AuditFilter};
    engine
        .run(|store| async move {
            let v = store.version().await.unwrap();
            let events: Vec<AuditEvent> = (0..300)
                .map(|i| AuditEvent {
                    date_ms: 1_000 + i,
                    kind: if i % 2 == 0 { "seccft" } else { "feccft" }.into(),
                    description: format!("event {i}").into(),
                    client_id: Some(format!("client-{}", i % 3)),
                    ..AuditEvent::default()
                })
                .collect();
            store.insert_audit_events(&events, "w").await.unwrap();
            assert_eq!(
                store.version().await.unwrap(),
                v,
                "events are not changes the catalog must reload for"
            );
            let all = AuditFilter {
                limit: 1000,
                ..AuditFilter::default()
            };
            assert_eq!(store.count_audit_events(&all).await.unwrap(), 300);
            let newest = store.list_audit_events(&all).await.unwrap();
            assert_eq!(newest[0].event.description, "event 299");
            assert_eq!(newest[0].event.kind, "feccft");
            let failures = AuditFilter {
                kind: Some("feccft".into()),
                client_id: Some("client-1".into()),
                from_ms: Some(1_100),
                to_ms: Some(1_199),
                limit: 1000,
                ..AuditFilter::default()
            };
            let listed = store.list_audit_events(&failures).await.unwrap();
            assert!(!listed.is_empty());
            for e in &listed {
                assert_eq!(e.event.kind, "feccft");
                assert_eq!(e.event.client_id.as_deref(), Some("client-1"));
                assert!((1_100..=1_199).contains(&e.event.date_ms));
            }
            assert_eq!(
                store.count_audit_events(&failures).await.unwrap(),
                listed.len() as u64
            );
            // By age, then by count: the newest stay.
            assert_eq!(store.prune_audit_events(1_100, 1_000).await.unwrap(), 100);
            store.prune_audit_events(0, 50).await.unwrap();
            let left = store.list_audit_events(&all).await.unwrap();
            assert_eq!(left.len(), 50);
            assert_eq!(left[0].event.description, "event 299");
            assert_eq!(left[49].event.description, "event 250");
        })
        .await;
}

async fn the_count_limit_never_prunes_what_administrators_did(engine: Engine) {
    use warrant_server::domain::events::{AuditEvent, AuditFilter};
    engine
        .run(|store| async move {
            let event = |kind: &'static str, client_id: Option<&str>| AuditEvent {
                date_ms: 1_000,
                kind: kind.into(),
                description: kind.into(),
                client_id: client_id.map(str::to_owned),
                ..AuditEvent::default()
            };
            store
                .insert_audit_events(
                    &[
                        event("sapi", Some("admin-app")),
                        event("sapi", None),
                        event("s", None),
                        event("slo", None),
                        event("fapi", Some("admin-app")),
                        // Refusals of unauthenticated requests have a count limit of their own.
                        event("fapi", None),
                        event("f", None),
                        AuditEvent {
                            count: 7,
                            ..event("feccft", None)
                        },
                    ],
                    "w",
                )
                .await
                .unwrap();
            let traffic: Vec<AuditEvent> = (0..600).map(|_| event("seccft", Some("c"))).collect();
            store.insert_audit_events(&traffic, "w").await.unwrap();
            store.prune_audit_events(0, 300).await.unwrap();
            let left = store
                .list_audit_events(&AuditFilter {
                    limit: 1000,
                    ..AuditFilter::default()
                })
                .await
                .unwrap();
            let kinds = |kind: &str| left.iter().filter(|e| e.event.kind == kind).count();
            assert_eq!(kinds("seccft"), 300);
            assert_eq!((kinds("sapi"), kinds("s"), kinds("slo")), (2, 1, 1));
            assert_eq!((kinds("fapi"), kinds("f"), kinds("feccft")), (2, 1, 0));
            // A flood of failed sign-ins pushes out only older refusals of its kind.
            let flood: Vec<AuditEvent> = (0..400).map(|_| event("f", None)).collect();
            store.insert_audit_events(&flood, "w").await.unwrap();
            store.prune_audit_events(0, 300).await.unwrap();
            let left = store
                .list_audit_events(&AuditFilter {
                    limit: 1000,
                    ..AuditFilter::default()
                })
                .await
                .unwrap();
            let kinds = |kind: &str| left.iter().filter(|e| e.event.kind == kind).count();
            assert_eq!((kinds("sapi"), kinds("s"), kinds("slo")), (2, 1, 1));
            assert_eq!(kinds("f"), 300);
            let fapi: Vec<_> = left.iter().filter(|e| e.event.kind == "fapi").collect();
            assert_eq!(fapi.len(), 1);
            assert_eq!(fapi[0].event.client_id.as_deref(), Some("admin-app"));
            // Age still prunes everything.
            store.prune_audit_events(2_000, 300).await.unwrap();
            let all = AuditFilter {
                limit: 10,
                ..AuditFilter::default()
            };
            assert_eq!(store.count_audit_events(&all).await.unwrap(), 0);
            // An aggregated event keeps its count.
            store
                .insert_audit_events(
                    &[AuditEvent {
                        count: 7,
                        ..event("feccft", None)
                    }],
                    "w",
                )
                .await
                .unwrap();
            assert_eq!(
                store.list_audit_events(&all).await.unwrap()[0].event.count,
                7
            );
        })
        .await;
}

async fn dashboard_administrators_and_sessions(engine: Engine) {
    use std::sync::Arc;
    use warrant_server::admin::operators::{SESSION_IDLE, SESSION_MAX};
    use warrant_server::admin::passwords::PasswordChecks;
    use warrant_server::admin::{Admin, AdminError};
    use warrant_server::clock::ManualClock;
    engine
        .run(|store| async move {
            let clock = Arc::new(ManualClock::new(1_000_000));
            let admin = Admin::new(store.clone(), clock.clone());
            let checks = PasswordChecks::new(1);
            let slot = || checks.try_slot().unwrap();
            let password = "correct horse battery staple";
            admin.create_operator("alice", password).await.unwrap();
            assert!(matches!(
                admin.create_operator("alice", password).await,
                Err(AdminError::Conflict(_))
            ));
            assert!(matches!(
                admin.create_operator("bob", "short").await,
                Err(AdminError::Invalid(_))
            ));
            // Only an argon2id hash is stored.
            let hash = store
                .operator_password_hash("alice")
                .await
                .unwrap()
                .unwrap();
            assert!(hash.starts_with("$argon2id$") && !hash.contains(password));

            assert!(
                admin
                    .sign_in(slot(), "alice", "wrong password")
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(
                admin
                    .sign_in(slot(), "nobody", password)
                    .await
                    .unwrap()
                    .is_none()
            );
            let opened = admin
                .sign_in(slot(), "alice", password)
                .await
                .unwrap()
                .unwrap();
            let session = admin
                .operator_session(&opened.cookie_value)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(session.username, "alice");
            assert_eq!(session.csrf_token, opened.session.csrf_token);
            assert!(admin.operator_session("forged").await.unwrap().is_none());

            // Use keeps a session alive; idleness or its maximum age ends it.
            clock.advance(SESSION_IDLE - 10);
            assert!(
                admin
                    .operator_session(&opened.cookie_value)
                    .await
                    .unwrap()
                    .is_some()
            );
            clock.advance(SESSION_IDLE - 10);
            assert!(
                admin
                    .operator_session(&opened.cookie_value)
                    .await
                    .unwrap()
                    .is_some()
            );
            clock.advance(SESSION_IDLE + 1);
            assert!(
                admin
                    .operator_session(&opened.cookie_value)
                    .await
                    .unwrap()
                    .is_none()
            );
            let opened = admin
                .sign_in(slot(), "alice", password)
                .await
                .unwrap()
                .unwrap();
            for _ in 0..(SESSION_MAX / (SESSION_IDLE / 2)) {
                clock.advance(SESSION_IDLE / 2);
                let _ = admin.operator_session(&opened.cookie_value).await.unwrap();
            }
            assert!(
                admin
                    .operator_session(&opened.cookie_value)
                    .await
                    .unwrap()
                    .is_none()
            );

            // Sign-out, a new password and deletion each end sessions.
            let a = admin
                .sign_in(slot(), "alice", password)
                .await
                .unwrap()
                .unwrap();
            admin.sign_out(&a.cookie_value).await.unwrap();
            assert!(
                admin
                    .operator_session(&a.cookie_value)
                    .await
                    .unwrap()
                    .is_none()
            );
            let b = admin
                .sign_in(slot(), "alice", password)
                .await
                .unwrap()
                .unwrap();
            admin
                .set_operator_password("alice", "another long password")
                .await
                .unwrap();
            assert!(
                admin
                    .operator_session(&b.cookie_value)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(
                admin
                    .sign_in(slot(), "alice", password)
                    .await
                    .unwrap()
                    .is_none()
            );
            let c = admin
                .sign_in(slot(), "alice", "another long password")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(admin.list_operators().await.unwrap().len(), 1);
            admin.delete_operator("alice").await.unwrap();
            assert!(
                admin
                    .operator_session(&c.cookie_value)
                    .await
                    .unwrap()
                    .is_none()
            );
            assert!(matches!(
                admin.delete_operator("alice").await,
                Err(AdminError::NotFound(_))
            ));
        })
        .await;
}

async fn token_activity_is_counted_by_bucket(engine: Engine) {
    use warrant_server::domain::events::AuditEvent;
    const MIN: u64 = 60_000;
    engine
        .run(|store| async move {
            let event =
                |date_ms: u64, kind: &'static str, client: &str, reason: &'static str| AuditEvent {
                    date_ms,
                    kind: kind.into(),
                    description: reason.into(),
                    client_id: Some(client.into()),
                    audience: Some("https://a".into()),
                    ..AuditEvent::default()
                };
            let t = 1_000 * 60 * MIN;
            // Two batches, as the writer sends them: counts add up across batches, and across
            // writers (each instance keeps counts of its own).
            store
                .insert_audit_events(
                    &[
                        event(t, "seccft", "c1", "Client Credentials for Access Token"),
                        event(
                            t + 4 * MIN,
                            "seccft",
                            "c1",
                            "Client Credentials for Access Token",
                        ),
                        event(
                            t + 11 * MIN,
                            "seccft",
                            "c1",
                            "Client Credentials for Access Token",
                        ),
                    ],
                    "writer-a",
                )
                .await
                .unwrap();
            store
                .insert_audit_events(
                    &[
                        event(
                            t + 12 * MIN,
                            "seccft",
                            "c2",
                            "Client Credentials for Access Token",
                        ),
                        event(t + 13 * MIN, "feccft", "c2", "unknown audience \"x\""),
                        event(t + 14 * MIN, "feccft", "c3", "wrong secret"),
                        event(t + 14 * MIN, "feccft", "c3", "wrong secret"),
                        event(t + 14 * MIN, "sapi", "c3", "not a token request"),
                        event(t - 20 * MIN, "seccft", "c1", "before the window"),
                        // An aggregated refusal counts for as many requests as it stands for.
                        AuditEvent {
                            count: 3,
                            ..event(t + 14 * MIN, "feccft", "c4", "wrong secret")
                        },
                    ],
                    "writer-b",
                )
                .await
                .unwrap();
            // The first writer again, in the same bucket: its own count grows.
            store
                .insert_audit_events(
                    &[event(
                        t + 1,
                        "seccft",
                        "c1",
                        "Client Credentials for Access Token",
                    )],
                    "writer-a",
                )
                .await
                .unwrap();
            // Ten-minute buckets over five-minute counts.
            let mut counts = store.token_activity(t, 10 * MIN).await.unwrap();
            counts.sort_by_key(|c| {
                (
                    c.bucket_start_ms,
                    c.client_id.clone(),
                    c.issued,
                    c.reason.clone(),
                )
            });
            let summary: Vec<(u64, &str, bool, &str, u64)> = counts
                .iter()
                .map(|c| {
                    (
                        (c.bucket_start_ms - t) / MIN,
                        c.client_id.as_str(),
                        c.issued,
                        c.reason.as_str(),
                        c.count,
                    )
                })
                .collect();
            assert_eq!(
                summary,
                vec![
                    (0, "c1", true, "", 3),
                    // Refusals by reason only.
                    (10, "", false, "unknown audience \"…\"", 1),
                    (10, "", false, "wrong secret", 5),
                    (10, "c1", true, "", 1),
                    (10, "c2", true, "", 1),
                ]
            );
            // Pruned with the events, by age.
            store
                .prune_audit_events(t + 10 * MIN, 1_000_000)
                .await
                .unwrap();
            let left = store.token_activity(0, 10 * MIN).await.unwrap();
            assert!(
                left.iter().all(|c| c.bucket_start_ms >= t + 10 * MIN),
                "{left:?}"
            );
            assert_eq!(left.iter().map(|c| c.count).sum::<u64>(), 8);
        })
        .await;
}

async fn applications_are_listed_a_page_at_a_time(engine: Engine) {
    engine
        .run(|store| async move {
            for i in 0..7u64 {
                let mut app = Application::new(format!("app {i}"), String::new(), 100 + i).unwrap();
                app.client_id = format!("client-{i}");
                let secret = ClientSecret::new(&app.client_id, hash_secret("s"), 100 + i);
                store.insert_application(&app, &secret, &[]).await.unwrap();
            }
            let names =
                |apps: Vec<Application>| apps.into_iter().map(|a| a.name).collect::<Vec<_>>();
            let (page, total) = store.list_applications_page(0, 3).await.unwrap();
            assert_eq!(
                (names(page), total),
                (vec!["app 0".into(), "app 1".into(), "app 2".into()], 7)
            );
            let (page, total) = store.list_applications_page(6, 3).await.unwrap();
            assert_eq!((names(page), total), (vec!["app 6".to_owned()], 7));
            let (page, _) = store.list_applications_page(70, 3).await.unwrap();
            assert!(page.is_empty());
        })
        .await;
}

async fn grants_are_replaced_all_at_once_or_not_at_all(engine: Engine) {
    engine
        .run(|store| async move {
            let (a, b, c) = (api("https://a"), api("https://b"), api("https://c"));
            for api in [&a, &b, &c] {
                store.insert_resource_server(api).await.unwrap();
            }
            let app = Application::new("worker".into(), String::new(), 1).unwrap();
            let secret = ClientSecret::new(&app.client_id, hash_secret("s"), 1);
            let id = app.client_id.clone();
            let on_a = ClientGrant::new(&id, &a, vec![], 2).unwrap();
            let on_b = ClientGrant::new(&id, &b, vec!["read:data".into()], 2).unwrap();
            store
                .insert_application(&app, &secret, &[on_a.clone(), on_b.clone()])
                .await
                .unwrap();
            let grants = |store: Store| {
                let filter = GrantFilter {
                    client_id: Some(id.clone()),
                    ..GrantFilter::default()
                };
                async move {
                    let mut grants = store.list_grants(&filter).await.unwrap();
                    grants.sort_by(|x, y| x.audience.cmp(&y.audience));
                    grants
                }
            };
            let before = grants(store.clone()).await;
            let v = store.version().await.unwrap();

            // One grant on an API that does not exist: nothing changes, not even the version.
            let mut gone = api("https://gone");
            gone.id = "id-gone".into();
            let wanted = [
                ClientGrant::new(&app.client_id, &a, vec!["read:data".into()], 3).unwrap(),
                ClientGrant::new(&app.client_id, &gone, vec![], 3).unwrap(),
            ];
            assert!(matches!(
                store.set_grants(&app.client_id, &wanted).await,
                Err(StoreError::NotFound(_))
            ));
            assert_eq!(grants(store.clone()).await, before);
            assert_eq!(store.version().await.unwrap(), v);

            // Two grants for one API, or a grant of another application: refused up front.
            let twice = [wanted[0].clone(), wanted[0].clone()];
            assert!(matches!(
                store.set_grants(&app.client_id, &twice).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                store.set_grants("someone-else", &wanted[..1]).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                store.set_grants("nobody", &[]).await,
                Err(StoreError::NotFound(_))
            ));
            assert_eq!(grants(store.clone()).await, before);

            // a's scopes change (same grant), b goes, c comes: one version, the client named.
            let on_c = ClientGrant::new(&app.client_id, &c, vec![], 4).unwrap();
            let changes = store
                .set_grants(&app.client_id, &[wanted[0].clone(), on_c.clone()])
                .await
                .unwrap();
            let a_now = ClientGrant {
                scopes: vec!["read:data".into()],
                ..on_a.clone()
            };
            assert_eq!(
                changes,
                GrantChanges {
                    added: vec![on_c.clone()],
                    changed: vec![a_now.clone()],
                    removed: vec![on_b.clone()],
                }
            );
            assert_eq!(grants(store.clone()).await, [a_now.clone(), on_c.clone()]);
            assert_eq!(store.version().await.unwrap(), v + 1);
            match store.load_catalog(Some(v)).await.unwrap().changed_clients {
                ChangedClients::Listed(ids) => assert_eq!(ids, vec![app.client_id.clone()]),
                other => panic!("expected a list, got {other:?}"),
            }

            // The same grants again: nothing to do, nothing written.
            let again = store
                .set_grants(&app.client_id, &[a_now.clone(), on_c.clone()])
                .await
                .unwrap();
            assert!(again.is_empty());
            assert_eq!(store.version().await.unwrap(), v + 1);

            // None at all: every grant goes.
            let cleared = store.set_grants(&app.client_id, &[]).await.unwrap();
            assert_eq!(cleared.removed, [a_now, on_c]);
            assert!(grants(store.clone()).await.is_empty());
        })
        .await;
}

/// Reads change nothing and announce nothing: where the engine announces changes (PostgreSQL's
/// NOTIFY), an announcement wakes the catalog of every instance, so a read that sent one would
/// make every instance reload on each page of a list.
async fn reads_announce_no_change(engine: Engine) {
    engine
        .run(|store| async move {
            let changed = std::sync::Arc::new(tokio::sync::Notify::new());
            let listener = store.listen_for_changes(std::sync::Arc::clone(&changed));
            let app = Application::new("app".into(), String::new(), 100).unwrap();
            let secret = ClientSecret::new(&app.client_id, hash_secret("s"), 100);
            store.insert_application(&app, &secret, &[]).await.unwrap();
            if listener.is_some() {
                // The listener is up once it hears a write: insert until it does.
                tokio::time::timeout(Duration::from_secs(10), async {
                    loop {
                        let more = Application::new("more".into(), String::new(), 100).unwrap();
                        let secret = ClientSecret::new(&more.client_id, hash_secret("s"), 100);
                        store.insert_application(&more, &secret, &[]).await.unwrap();
                        if tokio::time::timeout(Duration::from_millis(200), changed.notified())
                            .await
                            .is_ok()
                        {
                            break;
                        }
                    }
                })
                .await
                .expect("the listener heard no write within 10 s");
                // An announcement of an earlier write may still be on its way: let it pass.
                let _ = tokio::time::timeout(Duration::from_millis(300), changed.notified()).await;
            }
            let version = store.version().await.unwrap();
            store.list_applications_page(0, 10).await.unwrap();
            store.list_applications().await.unwrap();
            store.load_client(&app.client_id).await.unwrap();
            store.load_catalog(None).await.unwrap();
            assert_eq!(
                store.version().await.unwrap(),
                version,
                "a read bumped the version"
            );
            if let Some(listener) = listener {
                let woken = tokio::time::timeout(Duration::from_millis(500), changed.notified());
                assert!(woken.await.is_err(), "a read announced a change");
                listener.abort();
            }
        })
        .await;
}

async fn revoked_tokens_are_loaded_capped_and_pruned(engine: Engine) {
    engine
        .run(|store| async move {
            let v = store.version().await.unwrap();
            assert!(store.revoke_token("j1", "c", 1_000, 100, 2).await.unwrap());
            assert!(
                store.version().await.unwrap() > v,
                "other instances hear of it"
            );
            // Again: done already, whatever the cap.
            assert!(store.revoke_token("j1", "c", 1_000, 100, 1).await.unwrap());
            assert!(store.revoke_token("j2", "c", 200, 100, 2).await.unwrap());
            // The cap counts the client's unexpired revocations.
            let v = store.version().await.unwrap();
            assert!(!store.revoke_token("j3", "c", 1_000, 100, 2).await.unwrap());
            assert_eq!(
                store.version().await.unwrap(),
                v,
                "a refusal writes nothing"
            );
            assert!(
                store
                    .revoke_token("k1", "other", 1_000, 100, 2)
                    .await
                    .unwrap()
            );
            let mut loaded = store.load_catalog(None).await.unwrap().revoked_tokens;
            loaded.sort();
            assert_eq!(
                loaded,
                vec![
                    ("j1".to_owned(), 1_000),
                    ("j2".to_owned(), 200),
                    ("k1".to_owned(), 1_000)
                ]
            );
            // j2 expired at 200: gone at the next revocation, which then fits under the cap.
            assert!(store.revoke_token("j3", "c", 1_000, 300, 2).await.unwrap());
            let mut loaded: Vec<String> = store
                .load_catalog(None)
                .await
                .unwrap()
                .revoked_tokens
                .into_iter()
                .map(|(jti, _)| jti)
                .collect();
            loaded.sort();
            assert_eq!(loaded, ["j1", "j3", "k1"]);
        })
        .await;
}

/// `warrant apply`'s one write: APIs, trusted issuers, applications (with their keys), their
/// federated credentials and grants created, changed and deleted in one transaction; a step
/// failing in the middle leaves everything as it was, and a write planned at a version since
/// passed writes nothing.
async fn a_configuration_is_written_all_at_once_or_not_at_all(engine: Engine) {
    engine
        .run(|store| async move {
            let (kept, doomed) = (api("https://kept"), api("https://doomed"));
            store.insert_resource_server(&kept).await.unwrap();
            store.insert_resource_server(&doomed).await.unwrap();
            let old = Application::new("old".into(), String::new(), 1).unwrap();
            let old_secret = ClientSecret::new(&old.client_id, hash_secret("s"), 1);
            store
                .insert_application(&old, &old_secret, &[])
                .await
                .unwrap();

            let new_api = api("https://new");
            let mut app = Application::new("new".into(), String::new(), 2).unwrap();
            app.config_key = Some("team/new".into());
            let secret = ClientSecret::new(&app.client_id, hash_secret("t"), 2);
            let issuer = TrustedIssuer::new(
                NewTrustedIssuer {
                    issuer: "https://ci.example.com".into(),
                    ..NewTrustedIssuer::default()
                },
                2,
            )
            .unwrap();
            let federated = FederatedCredential::new(
                &app.client_id,
                &issuer.id,
                NewFederatedCredential {
                    issuer: issuer.issuer.clone(),
                    subject: "repo:acme/new:ref:refs/heads/main".into(),
                    expires_at: Some(5_000),
                    ..NewFederatedCredential::default()
                },
                2,
            )
            .unwrap();
            let grant =
                ClientGrant::new(&app.client_id, &new_api, vec!["read:data".into()], 2).unwrap();
            let mut renamed = kept.clone();
            renamed.name = "Kept, renamed".into();
            let write = |grants: Vec<(String, Vec<ClientGrant>)>| ConfigWrite {
                apis_created: vec![new_api.clone()],
                apis_updated: vec![renamed.clone()],
                applications_created: vec![(app.clone(), secret.clone())],
                issuers_created: vec![issuer.clone()],
                federated_created: vec![federated.clone()],
                grants,
                applications_deleted: vec![old.client_id.clone()],
                apis_deleted: vec![doomed.id.clone()],
                ..ConfigWrite::default()
            };
            let before = (
                store.list_resource_servers().await.unwrap(),
                store.list_applications().await.unwrap(),
            );
            let v = store.version().await.unwrap();

            // The grants of an application that does not exist fail in the middle: after the
            // APIs and the application were written, before the deletions.
            let failing = write(vec![
                (app.client_id.clone(), vec![grant.clone()]),
                ("nobody".into(), Vec::new()),
            ]);
            assert!(matches!(
                store.apply_config(&failing).await,
                Err(StoreError::NotFound(_))
            ));
            let after = (
                store.list_resource_servers().await.unwrap(),
                store.list_applications().await.unwrap(),
            );
            assert_eq!(after, before);
            assert_eq!(store.version().await.unwrap(), v);
            assert_eq!(store.list_trusted_issuers().await.unwrap(), vec![]);

            // The same without the failing step, but planned at a version something else
            // wrote after: nothing written, and told so.
            let stale = ConfigWrite {
                unchanged_since: Some(v - 1),
                ..write(vec![(app.client_id.clone(), vec![grant.clone()])])
            };
            assert!(store.apply_config(&stale).await.unwrap().is_none());
            assert_eq!(store.version().await.unwrap(), v);
            assert_eq!(store.list_applications().await.unwrap(), before.1);

            // Planned at the current version: all of it, under one version.
            let changes = store
                .apply_config(&ConfigWrite {
                    unchanged_since: Some(v),
                    ..write(vec![(app.client_id.clone(), vec![grant.clone()])])
                })
                .await
                .unwrap()
                .expect("nothing was written since the version the write names");
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].added, vec![grant.clone()]);
            assert_eq!(store.version().await.unwrap(), v + 1);
            let apis: Vec<String> = store
                .list_resource_servers()
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.name + " " + &a.identifier)
                .collect();
            assert_eq!(apis, ["Kept, renamed https://kept", "API https://new"]);
            let apps: Vec<String> = store
                .list_applications()
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.name)
                .collect();
            assert_eq!(apps, ["new"]);
            assert_eq!(
                store.list_grants(&GrantFilter::default()).await.unwrap(),
                vec![grant]
            );
            assert_eq!(
                store
                    .get_application(&app.client_id)
                    .await
                    .unwrap()
                    .config_key,
                Some("team/new".to_owned())
            );
            assert_eq!(
                store.list_trusted_issuers().await.unwrap(),
                vec![issuer.clone()]
            );
            assert_eq!(
                store
                    .list_federated_credentials(&app.client_id)
                    .await
                    .unwrap(),
                vec![federated.clone()]
            );

            // A key is unique: another application cannot take it.
            let mut twin = Application::new("twin".into(), String::new(), 3).unwrap();
            twin.config_key = app.config_key.clone();
            let twin_secret = ClientSecret::new(&twin.client_id, hash_secret("u"), 3);
            assert!(matches!(
                store.insert_application(&twin, &twin_secret, &[]).await,
                Err(StoreError::Conflict(_))
            ));

            // Changed in place: the issuer's settings, the credential's name, conditions and
            // expiry, the application's name (by its key); an issuer still used is not
            // deleted, and then nothing of the write is.
            let mut renamed_issuer = issuer.clone();
            renamed_issuer.name = "CI".into();
            renamed_issuer.max_assertion_lifetime = 600;
            renamed_issuer.updated_at = 3;
            let mut changed = federated.clone();
            changed.name = "deploy".into();
            changed.expires_at = None;
            changed.conditions = vec![ClaimCondition {
                claim: "repository_owner_id".into(),
                value: "123".into(),
            }];
            changed.updated_at = 3;
            let mut renamed_app = store.get_application(&app.client_id).await.unwrap();
            renamed_app.name = "renamed".into();
            let update = || ConfigWrite {
                issuers_updated: vec![renamed_issuer.clone()],
                federated_updated: vec![changed.clone()],
                applications_updated: vec![renamed_app.clone()],
                ..ConfigWrite::default()
            };
            let refused = ConfigWrite {
                issuers_deleted: vec![issuer.id.clone()],
                ..update()
            };
            assert!(matches!(
                store.apply_config(&refused).await,
                Err(StoreError::Conflict(_))
            ));
            assert_eq!(
                store
                    .list_federated_credentials(&app.client_id)
                    .await
                    .unwrap(),
                vec![federated.clone()]
            );
            store.apply_config(&update()).await.unwrap().unwrap();
            assert_eq!(
                store.list_trusted_issuers().await.unwrap(),
                vec![renamed_issuer.clone()]
            );
            assert_eq!(
                store
                    .list_federated_credentials(&app.client_id)
                    .await
                    .unwrap(),
                vec![changed.clone()]
            );
            let stored = store.get_application(&app.client_id).await.unwrap();
            assert_eq!(
                (stored.name.as_str(), stored.config_key.as_deref()),
                ("renamed", Some("team/new"))
            );

            // A write planned from an older read (an apply beside a PATCH in the same second)
            // still moves updated_at forward: every instance's key cache follows it.
            let stored = store.get_trusted_issuer(&issuer.id).await.unwrap();
            let planned = TrustedIssuer {
                name: "planned earlier".into(),
                ..stored.clone()
            };
            for step in 1..=2 {
                store
                    .apply_config(&ConfigWrite {
                        issuers_updated: vec![planned.clone()],
                        ..ConfigWrite::default()
                    })
                    .await
                    .unwrap()
                    .unwrap();
                let now = store.get_trusted_issuer(&issuer.id).await.unwrap();
                assert_eq!(now.name, "planned earlier");
                assert_eq!(now.updated_at, stored.updated_at + step, "step {step}");
            }

            // The credential and then its issuer deleted, in one write.
            store
                .apply_config(&ConfigWrite {
                    federated_deleted: vec![changed],
                    issuers_deleted: vec![issuer.id.clone()],
                    ..ConfigWrite::default()
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(store.list_trusted_issuers().await.unwrap(), vec![]);
            assert_eq!(
                store
                    .list_federated_credentials(&app.client_id)
                    .await
                    .unwrap(),
                vec![]
            );
        })
        .await;
}

/// The group commit of private_key_jwt assertions' `jti`s: a batch is recorded at once, and
/// each entry is told whether it was the first use: a duplicate within the batch loses to the
/// first, a live `jti` recorded before is a replay, an expired one is taken over.
async fn assertion_jtis_are_recorded_many_at_a_time_each_once(engine: Engine) {
    engine
        .run(|store| async move {
            let jti = |client_id, jti, expires_at| JtiUse {
                client_id,
                jti,
                expires_at,
            };
            assert!(store.use_assertion_jtis(&[], 100).await.unwrap().is_empty());
            let first = [jti("a", "live", 200), jti("a", "short", 150)];
            assert_eq!(
                store.use_assertion_jtis(&first, 100).await.unwrap(),
                [true, true]
            );
            let v = store.version().await.unwrap();

            // At 160: "live" is a replay, "short" expired and is taken over; the same jti is
            // another client's own; the batch's duplicates lose to their first.
            let batch = [
                jti("a", "live", 300),
                jti("a", "fresh", 300),
                jti("a", "short", 300),
                jti("b", "live", 300),
                jti("a", "fresh", 300),
                jti("a", "live", 300),
                jti("b", "live", 300),
            ];
            assert_eq!(
                store.use_assertion_jtis(&batch, 160).await.unwrap(),
                [false, true, true, true, false, false, false]
            );
            // The taken-over "short" counts until its new expiry.
            assert_eq!(
                store
                    .use_assertion_jtis(&[jti("a", "short", 400)], 250)
                    .await
                    .unwrap(),
                [false]
            );
            // Used IDs change nothing the token endpoint reads.
            assert_eq!(store.version().await.unwrap(), v);

            // Past one statement's chunk: every entry answered, in its place.
            let ids: Vec<String> = (0..JTI_CHUNK * 2 + 3).map(|i| format!("j{i}")).collect();
            let mut many: Vec<JtiUse<'_>> = ids.iter().map(|id| jti("c", id, 500)).collect();
            many.push(jti("c", "j7", 500));
            let fresh = store.use_assertion_jtis(&many, 300).await.unwrap();
            assert_eq!(fresh.len(), many.len());
            assert!(fresh[..ids.len()].iter().all(|f| *f));
            assert!(!fresh[ids.len()]);
            let again = store.use_assertion_jtis(&many[..5], 300).await.unwrap();
            assert_eq!(again, [false; 5]);

            // Pruned once expired: then the ID is new again.
            assert_eq!(store.prune_assertion_jtis(450).await.unwrap(), 4);
            assert_eq!(
                store
                    .use_assertion_jtis(&[jti("a", "live", 600)], 450)
                    .await
                    .unwrap(),
                [true]
            );
        })
        .await;
}

/// The prune of expired jtis runs while batches take expired rows over (every instance prunes
/// on its own schedule): neither may fail the other. On PostgreSQL the two lock the same rows in
/// different orders (the rows are laid out in the reverse of the order batches sort them in).
async fn pruning_jtis_beside_batches_taking_them_over_never_fails(engine: Engine) {
    engine
        .run(|store| async move {
            let ids: Vec<String> = (0..3_000).map(|i| format!("j{i:05}")).collect();
            for round in 0..4u64 {
                let (expired_at, now) = (100 + round * 1_000, 200 + round * 1_000);
                let uses: Vec<JtiUse<'_>> = ids
                    .iter()
                    .map(|id| JtiUse {
                        client_id: "a",
                        jti: id,
                        expires_at: expired_at,
                    })
                    .collect();
                // A batch is written in sorted order: the last IDs first, a batch at a time,
                // lay the rows out against it.
                for chunk in uses.chunks(100).rev() {
                    let written = store
                        .use_assertion_jtis(chunk, expired_at - 50)
                        .await
                        .unwrap();
                    assert!(
                        written.iter().all(|w| *w),
                        "round {round}: the rows went in"
                    );
                }
                let later: Vec<JtiUse<'_>> = uses
                    .iter()
                    .map(|u| JtiUse {
                        expires_at: now + 500,
                        ..*u
                    })
                    .collect();
                let (pruned, first, second) = tokio::join!(
                    store.prune_assertion_jtis(now),
                    store.use_assertion_jtis(&later[..2_000], now),
                    store.use_assertion_jtis(&later[1_000..], now),
                );
                pruned.unwrap_or_else(|e| panic!("round {round}: the prune failed: {e}"));
                let (first, second) = (
                    first.unwrap_or_else(|e| panic!("round {round}: a batch failed: {e}")),
                    second.unwrap_or_else(|e| panic!("round {round}: a batch failed: {e}")),
                );
                // Each ID is used once between the two batches (the overlap: by one of them).
                let used =
                    first.iter().filter(|f| **f).count() + second.iter().filter(|f| **f).count();
                assert_eq!(used, ids.len(), "round {round}");
                // Leave them expired for the next round's prune.
                store.prune_assertion_jtis(now + 600).await.unwrap();
            }

            // More than one prune statement's worth: every expired row goes, none other.
            let many: Vec<String> = (0..10_005).map(|i| format!("m{i:05}")).collect();
            let uses: Vec<JtiUse<'_>> = many
                .iter()
                .map(|id| JtiUse {
                    client_id: "b",
                    jti: id,
                    expires_at: 10_000,
                })
                .chain([JtiUse {
                    client_id: "b",
                    jti: "live",
                    expires_at: 20_000,
                }])
                .collect();
            store.use_assertion_jtis(&uses, 9_000).await.unwrap();
            assert_eq!(store.prune_assertion_jtis(10_000).await.unwrap(), 10_005);
            let again = store
                .use_assertion_jtis(&uses[10_000..], 10_000)
                .await
                .unwrap();
            assert_eq!(again, [true, true, true, true, true, false]);
        })
        .await;
}
