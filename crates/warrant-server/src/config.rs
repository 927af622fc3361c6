//! Configuration in layers: defaults, then a TOML file, then `WARRANT_*` environment variables,
//! then command-line flags. The binary turns environment and flags into a [`ConfigLayer`]; this
//! module reads the file, merges, and checks the result.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::audit::AuditSettings;
use crate::catalog::{DEFAULT_CLIENT_CACHE_CAPACITY, DEFAULT_POLL_INTERVAL};
use crate::domain::TokenQuota;
use crate::http::overload::RequestLimits;
use crate::keys::RsaKeySize;
use crate::tls::TlsSource;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./warrant-data";

/// The longest an audit batch may be held open (`audit_batch_delay_ms`).
pub const MAX_AUDIT_BATCH_DELAY_MS: u64 = 1_000;

/// A secret value from the configuration. `Debug` does not print it.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// One layer of settings; unset fields fall through to the layer below.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// The issuer URL (`iss` of every token); default derived from `listen`.
    pub issuer: Option<String>,
    /// Where the embedded database and the generated master key live.
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` to share one database between instances (or `sqlite://…`); default: the
    /// embedded SQLite database in the data directory.
    pub database_url: Option<Secret>,
    /// The API for token requests that name no audience.
    pub default_audience: Option<String>,
    /// A file holding the master key (instead of `WARRANT_MASTER_KEY`).
    pub master_key_file: Option<PathBuf>,
    /// `text` or `json`. Read by the binary.
    pub log_format: Option<String>,
    /// A tracing filter such as `info` or `warrant_server=debug,info`. Read by the binary.
    pub log: Option<String>,
    /// Rotate the signing keys this often (`90d`, `12h`, `30m`, `3600s` or seconds); off when
    /// unset.
    pub key_rotation_interval: Option<String>,
    /// The size in bits of the RSA signing keys (RS256, PS256) created from now on: 2048
    /// (default), 3072 or 4096. Keys already stored keep their size.
    pub rsa_key_size: Option<u32>,
    /// Serve HTTPS with this PEM certificate chain (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate from a local CA created in the data directory.
    pub tls_self_signed: Option<bool>,
    /// How many clients to keep in memory (default 100000); the rest are looked up on demand.
    pub client_cache_capacity: Option<usize>,
    /// Serve `/metrics` on this address (a listener of its own).
    pub metrics_listen: Option<String>,
    /// Also serve `/metrics` on the main listener, to anyone who can reach it (default false).
    pub metrics_public: Option<bool>,
    /// Keep audit events this long (default 30d).
    pub audit_retention: Option<String>,
    /// The longest lifetime of a private_key_jwt client assertion, e.g. `5m` (default 5m,
    /// at most 1h).
    pub max_assertion_lifetime: Option<String>,
    /// How far a DPoP proof's `iat` may be from now, either way, e.g. `60s` (default 60s, from
    /// 5s to 10m).
    pub dpop_iat_window: Option<String>,
    /// Require a server nonce in the DPoP proofs of token requests (RFC 9449 §8; default
    /// false). Instances with the same master key accept each other's nonces.
    pub dpop_nonces: Option<bool>,
    /// Fetch trusted issuers' keys (workload identity federation) over plain http too, from
    /// loopback addresses only: for a test issuer on the same machine (default false).
    pub allow_http_issuers: Option<bool>,
    /// Keep at most this many audit events (default 10000000).
    pub audit_max_events: Option<u64>,
    /// Also write audit events as JSON lines: `-` for stdout, or a file to append to.
    pub audit_log_file: Option<PathBuf>,
    /// Hold an audit batch open this many milliseconds for more events before committing it
    /// (default 10, at most 1000; 0 commits at once).
    pub audit_batch_delay_ms: Option<u64>,
    /// Tokens an application may get per hour, unless it has a quota of its own.
    pub token_quota_per_hour: Option<u32>,
    /// Tokens an application may get per day, unless it has a quota of its own.
    pub token_quota_per_day: Option<u32>,
    /// `false`: the default quota is observed only (counted and reported, refusing nothing).
    pub token_quota_enforce: Option<bool>,
    /// Requests served at once; beyond, an immediate 503 (default 1024).
    pub max_concurrent_requests: Option<usize>,
    /// How long a request may take before it is abandoned with a 503 (default 10s).
    pub request_timeout: Option<String>,
    /// The master key itself: from the environment only, never from a file or a flag.
    #[serde(skip)]
    pub master_key: Option<Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl ConfigLayer {
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.message().to_owned(),
        })
    }

    /// This layer over `lower`: set fields here win.
    pub fn over(self, lower: Self) -> Self {
        Self {
            listen: self.listen.or(lower.listen),
            issuer: self.issuer.or(lower.issuer),
            data_dir: self.data_dir.or(lower.data_dir),
            database_url: self.database_url.or(lower.database_url),
            default_audience: self.default_audience.or(lower.default_audience),
            master_key_file: self.master_key_file.or(lower.master_key_file),
            log_format: self.log_format.or(lower.log_format),
            log: self.log.or(lower.log),
            key_rotation_interval: self.key_rotation_interval.or(lower.key_rotation_interval),
            rsa_key_size: self.rsa_key_size.or(lower.rsa_key_size),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            tls_self_signed: self.tls_self_signed.or(lower.tls_self_signed),
            client_cache_capacity: self.client_cache_capacity.or(lower.client_cache_capacity),
            metrics_listen: self.metrics_listen.or(lower.metrics_listen),
            metrics_public: self.metrics_public.or(lower.metrics_public),
            audit_retention: self.audit_retention.or(lower.audit_retention),
            max_assertion_lifetime: self.max_assertion_lifetime.or(lower.max_assertion_lifetime),
            dpop_iat_window: self.dpop_iat_window.or(lower.dpop_iat_window),
            dpop_nonces: self.dpop_nonces.or(lower.dpop_nonces),
            allow_http_issuers: self.allow_http_issuers.or(lower.allow_http_issuers),
            audit_max_events: self.audit_max_events.or(lower.audit_max_events),
            audit_log_file: self.audit_log_file.or(lower.audit_log_file),
            audit_batch_delay_ms: self.audit_batch_delay_ms.or(lower.audit_batch_delay_ms),
            token_quota_per_hour: self.token_quota_per_hour.or(lower.token_quota_per_hour),
            token_quota_per_day: self.token_quota_per_day.or(lower.token_quota_per_day),
            token_quota_enforce: self.token_quota_enforce.or(lower.token_quota_enforce),
            max_concurrent_requests: self
                .max_concurrent_requests
                .or(lower.max_concurrent_requests),
            request_timeout: self.request_timeout.or(lower.request_timeout),
            master_key: self.master_key.or(lower.master_key),
        }
    }
}

/// The settings a server runs with, complete and checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None`: derived from the bound address once listening.
    pub issuer: Option<String>,
    pub data_dir: PathBuf,
    /// `None`: the embedded SQLite database in `data_dir`.
    pub database_url: Option<Secret>,
    pub default_audience: Option<String>,
    pub master_key: Option<Secret>,
    /// How often to look for changes made by other processes.
    pub poll_interval: Duration,
    /// Automatic signing-key rotation; `None`: only on request.
    pub key_rotation_interval: Option<Duration>,
    /// The size of the RSA signing keys this server creates (at start, on rotation, for a new
    /// RS256 or PS256 key set).
    pub rsa_key_size: RsaKeySize,
    /// HTTPS; `None`: plain HTTP (local development, or behind a TLS-terminating proxy).
    pub tls: Option<TlsSource>,
    /// The most clients kept in memory at once.
    pub client_cache_capacity: usize,
    /// `/metrics` on a listener of its own at this address.
    pub metrics_listen: Option<SocketAddr>,
    /// `/metrics` on the main listener too. Off by default: the metrics name the APIs.
    pub metrics_public: bool,
    pub audit: AuditSettings,
    /// The token quota of applications without one of their own; `None`: unlimited.
    pub default_token_quota: Option<TokenQuota>,
    pub request_limits: RequestLimits,
    /// The longest private_key_jwt client assertion lifetime accepted, in seconds.
    pub max_assertion_lifetime: u64,
    /// How far a DPoP proof's `iat` may be from now, either way.
    pub dpop_iat_window: Duration,
    /// Whether token requests' DPoP proofs must carry a server nonce.
    pub dpop_nonces: bool,
    /// Fetch trusted issuers' keys over http from loopback addresses too (tests only).
    pub allow_http_issuers: bool,
}

/// The default `iat` window of DPoP proofs: ±60 s.
pub const DEFAULT_DPOP_IAT_WINDOW: Duration = Duration::from_secs(60);

impl Config {
    /// Opens the configured storage: the database URL, else the data directory's SQLite.
    pub async fn open_store(&self) -> Result<crate::store::Store, crate::store::StoreError> {
        match &self.database_url {
            Some(url) => crate::store::Store::connect(url.expose()).await,
            None => crate::store::Store::open_data_dir(&self.data_dir).await,
        }
    }

    /// Defaults for a data directory, listening on `listen`.
    pub fn new(listen: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen,
            issuer: None,
            data_dir: data_dir.into(),
            database_url: None,
            default_audience: None,
            master_key: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
            key_rotation_interval: None,
            rsa_key_size: RsaKeySize::default(),
            tls: None,
            client_cache_capacity: DEFAULT_CLIENT_CACHE_CAPACITY,
            metrics_listen: None,
            metrics_public: false,
            audit: AuditSettings::default(),
            default_token_quota: None,
            request_limits: RequestLimits::default(),
            max_assertion_lifetime: crate::issuance::DEFAULT_MAX_ASSERTION_LIFETIME,
            dpop_iat_window: DEFAULT_DPOP_IAT_WINDOW,
            dpop_nonces: false,
            allow_http_issuers: false,
        }
    }

    /// Resolves a merged layer against the defaults.
    pub fn from_layer(layer: ConfigLayer) -> Result<Self, ConfigError> {
        let listen_text = layer.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "listen address {listen_text:?} is not an IP:port such as 127.0.0.1:8080"
            ))
        })?;
        let issuer = layer.issuer.as_deref().map(normalize_issuer).transpose()?;
        let master_key = match (layer.master_key, layer.master_key_file) {
            (Some(key), _) => Some(key),
            (None, Some(path)) => Some(Secret::new(std::fs::read_to_string(&path).map_err(
                |e| {
                    ConfigError::Invalid(format!(
                        "cannot read the master key file {}: {e}",
                        path.display()
                    ))
                },
            )?)),
            (None, None) => None,
        };
        if let Some(aud) = &layer.default_audience {
            crate::domain::validate_identifier(aud)
                .map_err(|e| ConfigError::Invalid(format!("default_audience: {e}")))?;
        }
        Ok(Self {
            listen,
            issuer,
            data_dir: layer
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: layer.database_url,
            default_audience: layer.default_audience,
            master_key,
            poll_interval: DEFAULT_POLL_INTERVAL,
            key_rotation_interval: layer
                .key_rotation_interval
                .as_deref()
                .map(parse_duration)
                .transpose()?,
            rsa_key_size: layer
                .rsa_key_size
                .map(RsaKeySize::from_bits)
                .transpose()
                .map_err(|e| ConfigError::Invalid(format!("rsa_key_size: {e}")))?
                .unwrap_or_default(),
            tls: match (
                layer.tls_cert,
                layer.tls_key,
                layer.tls_self_signed.unwrap_or(false),
            ) {
                (Some(_), _, true) | (_, Some(_), true) => {
                    return Err(ConfigError::Invalid(
                        "use either tls_cert and tls_key or tls_self_signed, not both".into(),
                    ));
                }
                (Some(cert), Some(key), false) => Some(TlsSource::Files { cert, key }),
                (Some(_), None, false) | (None, Some(_), false) => {
                    return Err(ConfigError::Invalid(
                        "tls_cert and tls_key go together: give both PEM files".into(),
                    ));
                }
                (None, None, true) => Some(TlsSource::SelfSigned),
                (None, None, false) => None,
            },
            client_cache_capacity: match layer.client_cache_capacity {
                Some(0) => {
                    return Err(ConfigError::Invalid(
                        "client_cache_capacity must be at least 1 (it bounds memory, it cannot turn the cache off)".into(),
                    ));
                }
                Some(n) => n,
                None => DEFAULT_CLIENT_CACHE_CAPACITY,
            },
            metrics_listen: layer
                .metrics_listen
                .as_deref()
                .map(|text| {
                    text.parse().map_err(|_| {
                        ConfigError::Invalid(format!(
                            "metrics_listen {text:?} is not an IP:port such as 127.0.0.1:9090"
                        ))
                    })
                })
                .transpose()?,
            metrics_public: layer.metrics_public.unwrap_or(false),
            allow_http_issuers: layer.allow_http_issuers.unwrap_or(false),
            audit: {
                let defaults = AuditSettings::default();
                AuditSettings {
                    retention: layer
                        .audit_retention
                        .as_deref()
                        .map(parse_duration)
                        .transpose()?
                        .unwrap_or(defaults.retention),
                    max_events: layer.audit_max_events.unwrap_or(defaults.max_events),
                    json_lines: layer.audit_log_file,
                    batch_delay: match layer.audit_batch_delay_ms {
                        Some(ms) if ms > MAX_AUDIT_BATCH_DELAY_MS => {
                            return Err(ConfigError::Invalid(format!(
                                "audit_batch_delay_ms {ms} is too long: at most \
                                 {MAX_AUDIT_BATCH_DELAY_MS} (a crash can lose that much of the \
                                 audit log)"
                            )));
                        }
                        Some(ms) => Duration::from_millis(ms),
                        None => defaults.batch_delay,
                    },
                    ..defaults
                }
            },
            max_assertion_lifetime: layer
                .max_assertion_lifetime
                .as_deref()
                .map(|text| {
                    parse_duration_within(text, 10, 3600, "from 10s to 1h (max_assertion_lifetime)")
                })
                .transpose()?
                .map_or(crate::issuance::DEFAULT_MAX_ASSERTION_LIFETIME, |d| {
                    d.as_secs()
                }),
            dpop_iat_window: layer
                .dpop_iat_window
                .as_deref()
                .map(|text| parse_duration_within(text, 5, 600, "from 5s to 10m (dpop_iat_window)"))
                .transpose()?
                .unwrap_or(DEFAULT_DPOP_IAT_WINDOW),
            dpop_nonces: layer.dpop_nonces.unwrap_or(false),
            default_token_quota: {
                let quota = TokenQuota {
                    per_hour: layer.token_quota_per_hour,
                    per_day: layer.token_quota_per_day,
                    observe_only: layer.token_quota_enforce == Some(false),
                };
                quota
                    .validate()
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?;
                (!quota.is_unlimited()).then_some(quota)
            },
            request_limits: {
                let defaults = RequestLimits::default();
                RequestLimits {
                    max_in_flight: match layer.max_concurrent_requests {
                        Some(0) => {
                            return Err(ConfigError::Invalid(
                                "max_concurrent_requests must be at least 1".into(),
                            ));
                        }
                        Some(n) => n,
                        None => defaults.max_in_flight,
                    },
                    timeout: layer
                        .request_timeout
                        .as_deref()
                        .map(parse_timeout)
                        .transpose()?
                        .unwrap_or(defaults.timeout),
                    ..defaults
                }
            },
        })
    }
}

/// An issuer is an absolute `http`/`https` URL without query or fragment; it always ends in `/`,
/// as Auth0's do (`https://tenant.auth0.com/`), since verifiers compare `iss` byte for byte.
pub fn normalize_issuer(issuer: &str) -> Result<String, ConfigError> {
    let invalid = || {
        ConfigError::Invalid(format!(
            "issuer {issuer:?} must be an http or https URL such as https://auth.example.com/"
        ))
    };
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    if rest.is_empty()
        || rest.starts_with('/')
        || rest.contains(['?', '#', ' '])
        || rest.chars().any(char::is_control)
    {
        return Err(invalid());
    }
    let mut out = issuer.to_owned();
    if !out.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

/// A duration such as `90d`, `12h`, `30m`, `45s` or a plain number of seconds; at least 60 s.
pub fn parse_duration(text: &str) -> Result<Duration, ConfigError> {
    parse_duration_within(text, 60, u64::MAX, "at least 60s")
}

/// A request timeout, a duration from 1 s to 300 s.
fn parse_timeout(text: &str) -> Result<Duration, ConfigError> {
    parse_duration_within(text, 1, 300, "from 1s to 300s (request_timeout)")
}

fn parse_duration_within(
    text: &str,
    min: u64,
    max: u64,
    bounds: &str,
) -> Result<Duration, ConfigError> {
    let invalid = || {
        ConfigError::Invalid(format!(
            "duration {text:?} is invalid: use a number with d, h, m or s (e.g. 90d), {bounds}"
        ))
    };
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: u64 = number.trim().parse().map_err(|_| invalid())?;
    let seconds = match unit {
        'd' => n.checked_mul(86_400),
        'h' => n.checked_mul(3_600),
        'm' => n.checked_mul(60),
        's' => Some(n),
        _ => None,
    }
    .filter(|s| (min..=max).contains(s))
    .ok_or_else(invalid)?;
    Ok(Duration::from_secs(seconds))
}

/// The issuer a server listening on `addr` has when none is configured.
pub fn default_issuer(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://localhost:{}/", addr.port())
    } else {
        format!("http://{addr}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_gets_a_trailing_slash_and_must_be_http() {
        assert_eq!(
            normalize_issuer("https://auth.example.com").unwrap(),
            "https://auth.example.com/"
        );
        assert_eq!(
            normalize_issuer("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080/"
        );
        for bad in [
            "auth.example.com",
            "ftp://x/",
            "https://",
            "https://a/?q",
            "https:///x",
        ] {
            assert!(normalize_issuer(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn rsa_key_size_is_one_of_three() {
        let layer = |bits| ConfigLayer {
            rsa_key_size: Some(bits),
            ..Default::default()
        };
        assert_eq!(
            Config::from_layer(layer(4096)).unwrap().rsa_key_size,
            RsaKeySize::Rsa4096
        );
        assert_eq!(
            Config::from_layer(ConfigLayer::default())
                .unwrap()
                .rsa_key_size,
            RsaKeySize::Rsa2048
        );
        let err = Config::from_layer(layer(1024)).unwrap_err().to_string();
        assert!(err.contains("2048, 3072 or 4096"), "{err}");
    }

    #[test]
    fn layers_merge_top_down_and_unknown_keys_fail() {
        let file: ConfigLayer =
            toml::from_str("listen = \"0.0.0.0:9000\"\nissuer = \"https://f/\"").unwrap();
        let env = ConfigLayer {
            issuer: Some("https://env/".into()),
            ..Default::default()
        };
        let flags = ConfigLayer {
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        let merged = flags.over(env.over(file));
        let config = Config::from_layer(merged).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:1");
        assert_eq!(config.issuer.as_deref(), Some("https://env/"));
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(toml::from_str::<ConfigLayer>("lisen = \"x\"").is_err());
        assert!(toml::from_str::<ConfigLayer>("master_key = \"x\"").is_err());
    }

    #[test]
    fn the_default_quota_is_enforced_unless_told_otherwise() {
        let quota = |text: &str| {
            Config::from_layer(toml::from_str::<ConfigLayer>(text).unwrap())
                .unwrap()
                .default_token_quota
                .unwrap()
        };
        assert!(!quota("token_quota_per_hour = 5").observe_only);
        let observed = quota("token_quota_per_hour = 5\ntoken_quota_enforce = false");
        assert_eq!((observed.per_hour, observed.observe_only), (Some(5), true));
    }

    #[test]
    fn metrics_are_public_only_when_asked_for() {
        assert!(
            !Config::from_layer(ConfigLayer::default())
                .unwrap()
                .metrics_public
        );
        let file: ConfigLayer = toml::from_str("metrics_public = true").unwrap();
        assert!(Config::from_layer(file).unwrap().metrics_public);
    }

    #[test]
    fn the_audit_batch_delay_is_bounded() {
        let delay = |text: &str| {
            Config::from_layer(toml::from_str(text).unwrap()).map(|c| c.audit.batch_delay)
        };
        assert_eq!(delay("").unwrap(), crate::audit::DEFAULT_BATCH_DELAY);
        assert_eq!(delay("audit_batch_delay_ms = 0").unwrap(), Duration::ZERO);
        assert_eq!(
            delay("audit_batch_delay_ms = 1000").unwrap(),
            Duration::from_secs(1)
        );
        let err = delay("audit_batch_delay_ms = 1001").unwrap_err();
        assert!(err.to_string().contains("at most 1000"), "{err}");
    }

    #[test]
    fn bad_listen_address_is_explained() {
        let err = Config::from_layer(ConfigLayer {
            listen: Some("localhost".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("IP:port"));
    }

    #[test]
    fn default_issuer_avoids_unspecified_addresses() {
        assert_eq!(
            default_issuer("0.0.0.0:8080".parse().unwrap()),
            "http://localhost:8080/"
        );
        assert_eq!(
            default_issuer("127.0.0.1:81".parse().unwrap()),
            "http://127.0.0.1:81/"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert_eq!(parse_duration("3600").unwrap(), Duration::from_secs(3_600));
        for bad in ["", "5s", "x", "10y", "-1d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_timeout("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_timeout("5m").unwrap(), Duration::from_secs(300));
        for bad in ["0", "301", "1h", "soon"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_do_not_debug_print() {
        assert!(!format!("{:?}", Secret::new("hunter2")).contains("hunter2"));
    }
}
