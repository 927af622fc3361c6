//! The Warrant authorization server, as a library.
//!
//! Warrant issues OAuth 2.0 client-credentials access tokens (RFC 6749 §4.4) as JWTs (RFC 9068)
//! signed with each API's algorithm (RS256 by default; PS256, ES256, EdDSA) and publishes the
//! keys to verify them, wire-compatible with what services already
//! point at Auth0. The `warrant` binary is a thin CLI over this crate; tests start the same
//! [`Server`] in-process.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use warrant_server::{Server, config::Config};
//!
//! let config = Config::new("127.0.0.1:8080".parse()?, "./warrant-data");
//! let server = Server::bind(config).await?;
//! println!("issuer: {}", server.issuer());
//! server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! Layout: `domain` holds the rules, `issuance` turns a request into a signed token, `catalog`
//! keeps the in-memory view the token endpoint reads (no storage on the hot path), `store` is the
//! only place that knows SQL, `http` the only place that knows HTTP, and `admin` is the one
//! service layer for administration. This file is the composition root: [`Server::bind`] opens
//! the store once and gives each service its own handle on it.

pub mod admin;
pub mod audit;
pub mod catalog;
pub mod client_assertion;
pub mod clock;
pub mod config;
pub mod data_dir;
pub mod domain;
pub mod federation;
pub mod http;
pub mod introspection;
pub mod issuance;
pub mod jti_recorder;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod startup;
pub mod store;
pub mod tls;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::watch;
use warrant_proto::{
    GRANT_CLIENT_CREDENTIALS, INTROSPECTION_PATH, JWKS_PATH, REVOCATION_PATH, ServerMetadata,
    TOKEN_PATH,
};

use crate::admin::Admin;
use crate::catalog::{Catalog, CatalogError};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, default_issuer};
use crate::http::AppState;
use crate::issuance::{Issuer, IssuerSettings};
use crate::keys::{MasterKey, MasterKeyError, MasterKeySource};
use crate::store::{Store, StoreError};

/// Why the server could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    SigningKeys(#[from] startup::KeySetupError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A bound, ready-to-serve Warrant server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: Arc<AppState>,
    /// The one store: the catalog, the admin, the audit log, the quotas and the jti recorder
    /// each hold a clone.
    store: Store,
    /// Token counts per client: the issuer counts, a background task stores them.
    quotas: Arc<limits::QuotaTracker>,
    config: Config,
    tls: Option<tls::Tls>,
    audit_writer: audit::AuditWriter,
    /// Records private_key_jwt assertions' `jti`s for the issuer, many per commit.
    jti_writer: jti_recorder::JtiWriter,
}

impl Server {
    /// Opens storage, loads (or creates) the signing key and binds the listener.
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        Self::bind_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`bind`](Self::bind), with a clock the caller controls.
    pub async fn bind_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let store = config.open_store().await?;
        tracing::info!(engine = store.engine(), "storage open");
        if matches!(store, Store::Postgres(_)) && config.master_key.is_none() {
            return Err(StartError::Config(ConfigError::Invalid(
                "with a shared database every instance needs the same master key: set \
                 WARRANT_MASTER_KEY (or master_key_file) on each of them"
                    .into(),
            )));
        }
        let (master, source) = MasterKey::load_or_create(
            config.master_key.as_ref().map(config::Secret::expose),
            &config.data_dir,
        )?;
        match source {
            MasterKeySource::CreatedKeyFile => tracing::warn!(
                path = %config.data_dir.join(keys::MASTER_KEY_FILE).display(),
                "created a master key file in the data directory; production deployments should \
                 supply the master key from outside (WARRANT_MASTER_KEY or master_key_file)"
            ),
            MasterKeySource::KeyFile => tracing::info!(
                "using the master key file in the data directory; production deployments should \
                 supply the master key from outside"
            ),
            MasterKeySource::Supplied => {}
        }
        let master = Arc::new(master);
        startup::prepare_signing_keys(&store, &master, config.rsa_key_size, clock.now()).await?;
        let catalog = Arc::new(
            Catalog::open(
                store.clone(),
                Arc::clone(&master),
                Arc::clone(&clock),
                config.client_cache_capacity,
            )
            .await?,
        );

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let tls = config
            .tls
            .as_ref()
            .map(|source| tls::Tls::load(source, &config.data_dir, local))
            .transpose()?;
        let issuer = config.issuer.clone().unwrap_or_else(|| {
            let http = default_issuer(local);
            if tls.is_some() {
                http.replacen("http://", "https://", 1)
            } else {
                http
            }
        });
        let dpop = warrant_guard::DpopVerifier::builder()
            .iat_window(config.dpop_iat_window)
            .build()
            .map_err(|e| StartError::Config(ConfigError::Invalid(e.to_string())))?;
        // Nonces every instance accepts: the key comes from the master key they share, the
        // slot from the clock; a nonce works for one to two iat windows.
        let dpop_nonces = config
            .dpop_nonces
            .then(|| {
                warrant_guard::DpopNonces::new(
                    &master.derive("dpop nonces"),
                    config.dpop_iat_window,
                )
            })
            .transpose()
            .map_err(|e| StartError::Config(ConfigError::Invalid(e.to_string())))?;
        let token_url = format!("{}{TOKEN_PATH}", issuer.trim_end_matches('/'));
        let metadata = server_metadata(&issuer, dpop.algorithms());
        let basic_challenge = HeaderValue::from_str(&format!("Basic realm=\"{issuer}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("Basic realm=\"warrant\""));
        let (audit, audit_writer) =
            audit::AuditLog::new(store.clone(), Arc::clone(&clock), config.audit.clone());
        let audit = Arc::new(audit);
        let admin = Admin::with_master_key(store.clone(), Arc::clone(&clock), master)
            .with_rsa_key_size(config.rsa_key_size)
            .serving(&issuer)
            .recording(admin::AuditTrail::Log(Arc::clone(&audit)))
            .refreshing(Arc::clone(&catalog) as Arc<dyn admin::Refresh>);
        let management =
            http::management::ManagementAuth::new(&issuer, &admin::management_audience(&issuer))
                .map_err(|e| StartError::Config(ConfigError::Invalid(e.to_string())))?;
        let openapi = http::management::openapi_document(&issuer);
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?,
            ),
            None => None,
        };
        if config.data_dir.exists() {
            // SQLite's files were checked as it opened; the master key and TLS files too.
            data_dir::secure(&config.data_dir);
        }
        let secure_cookies = tls.is_some() || issuer.starts_with("https://");
        let quotas = Arc::new(limits::QuotaTracker::default());
        let introspector = introspection::Introspector::new(Arc::clone(&catalog), &issuer);
        let settings = IssuerSettings {
            token_endpoint: format!("{}{TOKEN_PATH}", issuer.trim_end_matches('/')),
            issuer,
            default_audience: config.default_audience.clone(),
            max_assertion_lifetime: config.max_assertion_lifetime,
            allow_http_issuers: config.allow_http_issuers,
        };
        let (jtis, jti_writer) = jti_recorder::JtiRecorder::new(store.clone());
        let issuer = Issuer::new(
            settings,
            Arc::clone(&catalog),
            jtis,
            Arc::clone(&quotas),
            config.default_token_quota,
        );
        let state = Arc::new(AppState {
            issuer,
            introspector,
            catalog,
            clock,
            metadata,
            basic_challenge,
            metrics: Arc::default(),
            audit,
            sign_in_throttle: limits::SignInThrottle::default(),
            secure_cookies,
            limiter: Arc::new(http::overload::Limiter::new(config.request_limits)),
            admin,
            management,
            openapi,
            dpop,
            dpop_nonces,
            token_url,
        });
        Ok(Self {
            listener,
            metrics_listener,
            state,
            store,
            quotas,
            config,
            tls,
            audit_writer,
            jti_writer,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// With `--tls-self-signed`: the CA certificate clients should trust.
    pub fn tls_ca_path(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().and_then(|t| t.ca_path.as_deref())
    }

    /// The issuer URL, with its trailing slash.
    pub fn issuer(&self) -> &str {
        &self.state.issuer.settings().issuer
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.state.catalog
    }

    /// The server's store (a handle on the same database, for in-process tools and tests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Makes the deployment manageable (see [`Admin::initialize`]): the management API for this
    /// issuer and, the first time, an admin application whose secret is returned only now.
    pub async fn initialize(&self) -> Result<admin::Initialized, admin::AdminError> {
        self.state
            .admin
            .initialize(&self.state.issuer.settings().issuer)
            .await
    }

    /// The service layer, for in-process administration.
    pub fn admin(&self) -> &Admin {
        &self.state.admin
    }

    /// What the background tasks do, on demand (see [`Background`]).
    pub fn background(&self) -> Background {
        Background {
            state: Arc::clone(&self.state),
            store: self.store.clone(),
            quotas: Arc::clone(&self.quotas),
        }
    }

    /// The server's metrics (request counters among them), shared with the running server.
    pub fn counters(&self) -> Arc<metrics::Metrics> {
        Arc::clone(&self.state.metrics)
    }

    /// Where `/metrics` is served when it has a listener of its own (`metrics_listen`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then stops accepting, answers the requests received
    /// (`Connection: close` on each response from then on), and returns. Bounded whatever
    /// clients and storage do: requests get up to the request timeout and a second to finish,
    /// then the background tasks (the last audit events and token counts) up to
    /// [`store::BACKGROUND_DEADLINE`] to store what they hold.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let watcher =
            tokio::spawn(Arc::clone(&self.state.catalog).watch(self.config.poll_interval, stop_rx));
        let rotator = self.config.key_rotation_interval.map(|interval| {
            tokio::spawn(rotate_on_schedule(
                Arc::clone(&self.state),
                interval,
                stop_tx.subscribe(),
            ))
        });
        tracing::info!(
            listen = %self.local_addr(),
            issuer = %self.state.issuer.settings().issuer,
            "warrant is serving"
        );
        let audit_writer = tokio::spawn(self.audit_writer.run(stop_tx.subscribe()));
        let jti_writer = tokio::spawn(self.jti_writer.run(stop_tx.subscribe()));
        let quotas = tokio::spawn(Arc::clone(&self.quotas).run(
            self.store.clone(),
            Arc::clone(&self.state.clock),
            std::time::Duration::from_secs(1),
            stop_tx.subscribe(),
        ));
        let header_timeout = self.config.request_limits.header_timeout;
        let drain = self.config.request_limits.timeout + Duration::from_secs(1);
        let metrics_server = self.metrics_listener.map(|listener| {
            let app = http::metrics_router(Arc::clone(&self.state));
            let mut stop = stop_tx.subscribe();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stop.changed().await;
                };
                if let Err(e) =
                    http::connections::serve(listener, app, header_timeout, drain, stopped).await
                {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        let app = http::router(Arc::clone(&self.state), self.config.metrics_public);
        let result = match self.tls {
            Some(tls) => {
                let app = http::with_strict_transport_security(app);
                let listener = tls::TlsListener::new(self.listener, tls.config)?;
                http::connections::serve(listener, app, header_timeout, drain, shutdown).await
            }
            None => {
                http::connections::serve(self.listener, app, header_timeout, drain, shutdown).await
            }
        };
        let _ = stop_tx.send(true);
        let deadline = tokio::time::Instant::now() + store::BACKGROUND_DEADLINE;
        let tasks = [
            ("catalog watcher", Some(watcher)),
            ("audit writer", Some(audit_writer)),
            ("client assertion jti writer", Some(jti_writer)),
            ("token quota flush", Some(quotas)),
            ("metrics listener", metrics_server),
            ("key rotation", rotator),
        ];
        for (name, task) in tasks {
            let Some(mut task) = task else { continue };
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                tracing::error!(
                    task = name,
                    "still running at the end of the shutdown deadline (storage not answering?); stopped"
                );
            }
        }
        let audit = self.state.audit.stats();
        if audit.depth > 0 {
            tracing::error!(
                events = audit.depth,
                "audit events not stored at shutdown: storage did not take them in time"
            );
        }
        result
    }
}

/// A turn of the server's background work now, instead of at its next tick: for tests and
/// tools that read what the server stored right after acting. It runs what the background
/// tasks run (one at a time with them), and the request path never waits on it.
#[derive(Debug, Clone)]
pub struct Background {
    state: Arc<AppState>,
    store: Store,
    quotas: Arc<limits::QuotaTracker>,
}

impl Background {
    /// Stores the audit events recorded so far, refusals included (see
    /// [`AuditLog::flush`](audit::AuditLog::flush)).
    pub async fn flush_audit(&self) {
        self.state.audit.flush().await;
    }

    /// Adds the token counts made on this instance to the shared totals and learns the totals
    /// (what the quota task does every second).
    pub async fn flush_quotas(&self) {
        self.quotas.flush(&self.store, self.state.clock.now()).await;
    }
}

/// Rotates each algorithm's signing keys when its current key has signed for `interval`. Every
/// instance on the store runs this; the store's compare-and-swap lets exactly one rotation
/// through per algorithm.
async fn rotate_on_schedule(
    state: Arc<AppState>,
    interval: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let check = (interval / 10).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(60),
    );
    let mut ticker = tokio::time::interval(check);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => return,
        }
        let snapshot = state.catalog.snapshot();
        let due: Vec<(domain::SigningAlg, String)> = snapshot
            .current_keys()
            .filter_map(|(alg, kid, since)| {
                let since = since?;
                (state.clock.now() >= since.saturating_add(interval.as_secs()))
                    .then(|| (alg, kid.to_owned()))
            })
            .collect();
        drop(snapshot);
        for (alg, kid) in due {
            let rotated = tokio::time::timeout(
                store::BACKGROUND_DEADLINE,
                state.admin.rotate_keys_from(&kid),
            )
            .await;
            match rotated {
                // The service layer refreshed the catalog.
                Ok(Ok(current)) => {
                    tracing::info!(alg = alg.as_str(), previous = %kid, current = %current.kid, "rotated the signing keys on schedule");
                }
                Ok(Err(admin::AdminError::Conflict(_))) => {
                    tracing::debug!(
                        alg = alg.as_str(),
                        "another instance rotated the signing keys"
                    );
                    let _ = tokio::time::timeout(
                        store::BACKGROUND_DEADLINE,
                        state.catalog.refresh_if_changed(),
                    )
                    .await;
                }
                Ok(Err(e)) => {
                    tracing::warn!(alg = alg.as_str(), error = %e, "scheduled key rotation failed; will retry")
                }
                Err(_) => {
                    tracing::warn!(
                        alg = alg.as_str(),
                        "scheduled key rotation: storage did not answer in time; will retry"
                    )
                }
            }
        }
    }
}

/// The service layer's writes reach this instance's token endpoint at once.
impl admin::Refresh for Catalog {
    fn refresh(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            self.refresh_if_changed()
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}

fn server_metadata(issuer: &str, dpop_algorithms: &[warrant_guard::Algorithm]) -> Bytes {
    let base = issuer.trim_end_matches('/');
    // Introspection and revocation authenticate their callers as the token endpoint does.
    let auth_methods = vec![
        "client_secret_post".to_owned(),
        "client_secret_basic".to_owned(),
    ];
    let metadata = ServerMetadata {
        issuer: issuer.to_owned(),
        token_endpoint: format!("{base}{TOKEN_PATH}"),
        jwks_uri: format!("{base}{JWKS_PATH}"),
        grant_types_supported: vec![GRANT_CLIENT_CREDENTIALS.to_owned()],
        token_endpoint_auth_methods_supported: {
            let mut methods = auth_methods.clone();
            methods.push("private_key_jwt".to_owned());
            methods
        },
        introspection_endpoint: Some(format!("{base}{INTROSPECTION_PATH}")),
        introspection_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint: Some(format!("{base}{REVOCATION_PATH}")),
        revocation_endpoint_auth_methods_supported: auth_methods,
        token_endpoint_auth_signing_alg_values_supported: domain::CREDENTIAL_ALGORITHMS
            .iter()
            .map(|a| a.name().to_owned())
            .collect(),
        // RFC 8414 requires this list, and strict validators refuse it empty. Warrant has no
        // authorization endpoint (client credentials only), so it names the one response type
        // that returns no credential (OAuth 2.0 Multiple Response Type Encoding Practices §5),
        // which no client can take for a flow Warrant lacks. Warrant is no OpenID Provider (no
        // ID tokens): the OpenID path serves these same RFC 8414 fields for tools that look
        // there for `jwks_uri`, without the OP-only ones (`subject_types_supported`, …).
        response_types_supported: vec!["none".to_owned()],
        scopes_supported: Vec::new(),
        dpop_signing_alg_values_supported: dpop_algorithms
            .iter()
            .map(|a| a.name().to_owned())
            .collect(),
    };
    serde_json::to_vec(&metadata)
        .map(Bytes::from)
        .unwrap_or_default()
}
