//! `warrant serve`.

use std::path::PathBuf;

use std::io::IsTerminal;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use warrant_server::Server;
use warrant_server::admin::{Initialized, management_audience};
use warrant_server::config::{Config, ConfigLayer, Secret};

use crate::cli::{GlobalArgs, ServeArgs};

/// The configuration file named by `--config`, or an empty layer.
pub fn file_layer(global: &GlobalArgs) -> Result<ConfigLayer, String> {
    match &global.config {
        Some(path) => ConfigLayer::from_toml_file(path).map_err(|e| e.to_string()),
        None => Ok(ConfigLayer::default()),
    }
}

/// The storage the administration commands use: `--database-url` (or the configuration file's
/// `database_url`), else the data directory's SQLite database, which must exist.
pub async fn open_store(global: &GlobalArgs) -> Result<warrant_server::store::Store, String> {
    use warrant_server::store::Store;
    let url = match &global.database_url {
        Some(url) => Some(url.clone()),
        None => file_layer(global)?
            .database_url
            .map(|s| s.expose().to_owned()),
    };
    if let Some(url) = url {
        return Store::connect(&url).await.map_err(|e| e.to_string());
    }
    let dir = data_dir(global)?;
    let db = dir.join("warrant.db");
    if !db.exists() {
        return Err(format!(
            "no Warrant database at {}: start `warrant serve` once to create it, point \
             --data-dir (WARRANT_DATA_DIR) at an existing data directory, give --database-url, or \
             manage a running server with --server URL",
            db.display()
        ));
    }
    Store::open_data_dir(&dir).await.map_err(|e| e.to_string())
}

/// The data directory: flag or environment, then the configuration file, then the default.
pub fn data_dir(global: &GlobalArgs) -> Result<PathBuf, String> {
    if let Some(dir) = &global.data_dir {
        return Ok(dir.clone());
    }
    Ok(file_layer(global)?
        .data_dir
        .unwrap_or_else(|| PathBuf::from(warrant_server::config::DEFAULT_DATA_DIR)))
}

/// Flags and environment over the configuration file.
pub fn config_layer(global: &GlobalArgs, args: ServeArgs) -> Result<ConfigLayer, String> {
    let top = ConfigLayer {
        listen: args.listen,
        issuer: args.issuer,
        data_dir: global.data_dir.clone(),
        database_url: global.database_url.clone().map(Secret::new),
        default_audience: args.default_audience,
        master_key_file: args.master_key_file,
        log_format: args.log_format,
        log: args.log,
        key_rotation_interval: args.key_rotation_interval,
        rsa_key_size: args.rsa_key_size,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        tls_self_signed: args.tls_self_signed.then_some(true),
        client_cache_capacity: args.client_cache_capacity,
        metrics_listen: args.metrics_listen,
        metrics_public: args.metrics_public.then_some(true),
        audit_retention: args.audit_retention,
        max_assertion_lifetime: args.max_assertion_lifetime,
        dpop_iat_window: args.dpop_iat_window,
        dpop_nonces: args.dpop_nonces.then_some(true),
        allow_http_issuers: args.allow_http_issuers.then_some(true),
        audit_max_events: args.audit_max_events,
        audit_log_file: args.audit_log_file,
        audit_batch_delay_ms: args.audit_batch_delay_ms,
        token_quota_per_hour: args.token_quota_per_hour,
        token_quota_per_day: args.token_quota_per_day,
        token_quota_enforce: args.token_quota_enforce,
        max_concurrent_requests: args.max_concurrent_requests,
        request_timeout: args.request_timeout,
        master_key: std::env::var("WARRANT_MASTER_KEY")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(Secret::new),
    };
    Ok(top.over(file_layer(global)?))
}

pub async fn run(global: &GlobalArgs, args: ServeArgs) -> Result<(), String> {
    let layer = config_layer(global, args)?;
    init_logging(layer.log.as_deref(), layer.log_format.as_deref())?;
    let config = Config::from_layer(layer).map_err(|e| e.to_string())?;

    let server = Server::bind(config).await.map_err(|e| e.to_string())?;
    if let Some(ca) = server.tls_ca_path() {
        tracing::info!(
            ca = %ca.display(),
            "serving HTTPS with a self-signed certificate; clients trust it with \
             SSL_CERT_FILE, REQUESTS_CA_BUNDLE or NODE_EXTRA_CA_CERTS set to the CA file"
        );
    }
    match server.initialize().await.map_err(|e| e.to_string())? {
        Initialized::Created { client_id, secret } => {
            let audience = management_audience(server.issuer());
            if std::io::stderr().is_terminal() {
                // Straight to the terminal, never through the log pipeline.
                eprintln!(
                    "\nWarrant is initialized. The management API's admin application, shown once:\n  \
                     client_id:     {client_id}\n  client_secret: {}\n  audience:      {audience}\n\
                     Store the secret now; `warrant app rotate-secret {client_id}` issues a new one.\n",
                    secret.expose()
                );
            } else {
                tracing::warn!(
                    client_id = %client_id,
                    "created the management API's admin application; its secret is not shown because \
                     the output is not a terminal: run `warrant app rotate-secret {client_id}` to get one"
                );
            }
        }
        Initialized::Already { .. } => {}
    }
    server
        .serve(shutdown_signal())
        .await
        .map_err(|e| format!("server stopped: {e}"))?;
    tracing::info!("shut down cleanly");
    Ok(())
}

fn init_logging(filter: Option<&str>, format: Option<&str>) -> Result<(), String> {
    let filter_text = filter.unwrap_or("info");
    let targets: Targets = filter_text
        .parse()
        .map_err(|e| format!("log filter {filter_text:?} is invalid: {e}"))?;
    let registry = tracing_subscriber::registry().with(targets);
    match format.unwrap_or("text") {
        "json" => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        "text" => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colour codes only for a terminal: piped into a file or a log collector,
                    // they are noise.
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .try_init(),
        other => return Err(format!("log format {other:?} is invalid: use text or json")),
    }
    .map_err(|e| format!("cannot set up logging: {e}"))
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
