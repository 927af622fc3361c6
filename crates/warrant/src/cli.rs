//! The command line, declared once. Every setting of `serve` also reads a `WARRANT_*` variable;
//! flags beat the environment, which beats the configuration file, which beats the defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "warrant",
    version,
    about = "A self-hosted OAuth 2.0 machine-to-machine authorization server"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Data directory (embedded database, generated master key) [default: ./warrant-data]
    #[arg(long, global = true, env = "WARRANT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file
    #[arg(long, global = true, env = "WARRANT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Shared database, e.g. postgres://user@host/warrant [default: SQLite in the data directory]
    #[arg(
        long,
        global = true,
        env = "WARRANT_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Manage a running server through its management API instead of a data directory
    #[arg(long, global = true, env = "WARRANT_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// With --server: the admin application's client ID (see `warrant init`)
    #[arg(long, global = true, env = "WARRANT_CLIENT_ID", value_name = "ID")]
    pub admin_client_id: Option<String>,
    /// With --server: the admin application's secret (prefer the environment variable)
    #[arg(
        long,
        global = true,
        env = "WARRANT_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub admin_client_secret: Option<String>,
    /// With --server: a CA certificate to trust, e.g. <data-dir>/tls/ca.pem
    #[arg(long, global = true, env = "WARRANT_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authorization server
    Serve(ServeArgs),
    /// Create the management API and its admin application (once; idempotent)
    Init(InitArgs),
    /// Bring the database schema up to date (serve does it at start-up too)
    Migrate,
    /// Manage the token-signing keys: list, rotate, revoke
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Show the audit log: tokens issued and refused, management changes (newest first)
    Logs(LogsArgs),
    /// Check the storage's integrity (after a crash, say); exits non-zero on a problem
    Check,
    /// Manage the dashboard's administrators (on the data directory or database, not --server)
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage APIs (resource servers): the audiences tokens are issued for
    #[command(subcommand)]
    Api(ApiCommand),
    /// Manage applications (M2M clients) and their secrets
    #[command(subcommand)]
    App(AppCommand),
    /// Manage client grants: which application may get tokens for which API, with which scopes
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Manage trusted issuers: external issuers whose tokens applications may present instead
    /// of a secret (workload identity federation: Kubernetes, GitHub Actions, SPIFFE)
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Fetch an access token from a running server (client credentials)
    Token(TokenArgs),
    /// Print a token's header and claims. Decoding is not verifying
    Decode(DecodeArgs),
    /// Show what a configuration file (TOML) would create, update and delete; changes nothing
    Plan(PlanArgs),
    /// Apply a configuration file (TOML) in one transaction: all of it or nothing
    Apply(ApplyArgs),
    /// Write the current APIs, trusted issuers and applications as a configuration file (no
    /// secrets)
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The configuration file (`-`: standard input)
    pub file: PathBuf,
    /// Also delete the APIs, trusted issuers and applications the file does not name, and the
    /// federated credentials a named application does not list
    #[arg(long)]
    pub prune: bool,
    /// Print the changes as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The configuration file (`-`: standard input)
    pub file: PathBuf,
    /// Also delete the APIs, trusted issuers and applications the file does not name, and the
    /// federated credentials a named application does not list
    #[arg(long)]
    pub prune: bool,
    /// Write the new applications' secrets to this file (JSON, mode 0600) instead of printing
    /// them once
    #[arg(long, value_name = "PATH")]
    pub secrets_file: Option<PathBuf>,
    /// Apply only if the deployment is still in the state `warrant plan` showed (the
    /// fingerprint it printed); refused, changing nothing, if anything changed since
    #[arg(long, value_name = "FINGERPRINT")]
    pub expect: Option<String>,
    /// Print the changes (and new secrets, without --secrets-file) as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the file here instead of standard output
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub server: ServeArgs,
    /// Print {client_id, client_secret, audience, issuer} (and admin_user, admin_password) as JSON
    #[arg(long)]
    pub json: bool,
    /// Also create this dashboard administrator (see `warrant admin create` for the password)
    #[arg(long, value_name = "USERNAME")]
    pub admin_user: Option<String>,
    /// With --admin-user: read the password from the first line of standard input
    #[arg(long, requires = "admin_user")]
    pub password_stdin: bool,
}

/// The password of a dashboard administrator comes from standard input (`--password-stdin`),
/// else from `WARRANT_ADMIN_PASSWORD`, else it is generated and printed once. Never a flag: a
/// flag shows in the process list.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a dashboard administrator (password: --password-stdin, WARRANT_ADMIN_PASSWORD, or generated and printed once)
    Create {
        username: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set an administrator's password (same sources as create); ends their sessions
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the administrators
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an administrator and end their sessions
    Delete { username: String },
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only events of this type: seccft (token issued), feccft (refused), sapi, fapi, api_limit
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Only events of this application
    #[arg(long)]
    pub client_id: Option<String>,
    /// How many events (at most 100)
    #[arg(long, default_value_t = 50)]
    pub take: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys (next, current, previous, revoked)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Rotate: next becomes current, current becomes previous, a new next key is published
    /// (for each algorithm's keys, or --alg's)
    Rotate {
        /// Rotate only this algorithm's keys (RS256, PS256, ES256, EdDSA) [default: all]
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a previous key: it leaves the JWKS at once and its tokens stop verifying
    Revoke {
        /// The key ID (it may start with '-': key IDs are base64url)
        #[arg(allow_hyphen_values = true)]
        kid: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "WARRANT_LISTEN", value_name = "IP:PORT")]
    pub listen: Option<String>,
    /// Issuer URL, the `iss` of every token [default: http://<listen>/]
    #[arg(long, env = "WARRANT_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    /// API identifier used when a token request names no audience
    #[arg(long, env = "WARRANT_DEFAULT_AUDIENCE", value_name = "IDENTIFIER")]
    pub default_audience: Option<String>,
    /// File holding the master key (else WARRANT_MASTER_KEY, else <data-dir>/master.key)
    #[arg(long, env = "WARRANT_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Log format
    #[arg(long, env = "WARRANT_LOG_FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// Log filter, e.g. `info` or `warrant_server=debug,info` [default: info]
    #[arg(long, env = "WARRANT_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Rotate the signing keys this often, e.g. 90d or 12h [default: off]
    #[arg(long, env = "WARRANT_KEY_ROTATION_INTERVAL", value_name = "DURATION")]
    pub key_rotation_interval: Option<String>,
    /// Size in bits of the RSA signing keys created from now on (RS256, PS256): 2048, 3072 or
    /// 4096 [default: 2048]
    #[arg(long, env = "WARRANT_RSA_KEY_SIZE", value_name = "BITS")]
    pub rsa_key_size: Option<u32>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key)
    #[arg(long, env = "WARRANT_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, env = "WARRANT_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate from a local CA created once in the data directory
    #[arg(long, env = "WARRANT_TLS_SELF_SIGNED")]
    pub tls_self_signed: bool,
    /// How many clients to keep in memory; others are looked up on demand [default: 100000]
    #[arg(long, env = "WARRANT_CLIENT_CACHE_CAPACITY", value_name = "N")]
    pub client_cache_capacity: Option<usize>,
    /// Serve /metrics on this address, a listener of its own [default: not served]
    #[arg(long, env = "WARRANT_METRICS_LISTEN", value_name = "IP:PORT")]
    pub metrics_listen: Option<String>,
    /// Also serve /metrics on the main listener, to anyone who can reach it (it names every API)
    #[arg(long, env = "WARRANT_METRICS_PUBLIC")]
    pub metrics_public: bool,
    /// Keep audit events this long, e.g. 30d [default: 30d]
    #[arg(long, env = "WARRANT_AUDIT_RETENTION", value_name = "DURATION")]
    pub audit_retention: Option<String>,
    /// The longest lifetime of a private_key_jwt client assertion, e.g. 5m [default: 5m]
    #[arg(long, env = "WARRANT_MAX_ASSERTION_LIFETIME", value_name = "DURATION")]
    pub max_assertion_lifetime: Option<String>,
    /// How far a DPoP proof's iat may be from now, either way, e.g. 60s [default: 60s]
    #[arg(long, env = "WARRANT_DPOP_IAT_WINDOW", value_name = "DURATION")]
    pub dpop_iat_window: Option<String>,
    /// Require a server nonce in token requests' DPoP proofs (RFC 9449 §8); instances with the
    /// same master key accept each other's nonces
    #[arg(long, env = "WARRANT_DPOP_NONCES")]
    pub dpop_nonces: bool,
    /// Fetch trusted issuers' keys (workload identity federation) over plain http from loopback
    /// addresses too: for a test issuer on this machine, never for production
    #[arg(long, env = "WARRANT_ALLOW_HTTP_ISSUERS")]
    pub allow_http_issuers: bool,
    /// Keep at most this many audit events [default: 10000000]
    #[arg(long, env = "WARRANT_AUDIT_MAX_EVENTS", value_name = "N")]
    pub audit_max_events: Option<u64>,
    /// Also write audit events as JSON lines: - for stdout, or a file to append to
    #[arg(long, env = "WARRANT_AUDIT_LOG_FILE", value_name = "FILE")]
    pub audit_log_file: Option<PathBuf>,
    /// Hold a batch of audit events open this long for more before committing it (a crash can
    /// lose that much of the audit log; never a token) [default: 10]
    #[arg(long, env = "WARRANT_AUDIT_BATCH_DELAY_MS", value_name = "MS")]
    pub audit_batch_delay_ms: Option<u64>,
    /// Tokens an application may get per hour, unless it has its own quota [default: no limit]
    #[arg(long, env = "WARRANT_TOKEN_QUOTA_PER_HOUR", value_name = "N")]
    pub token_quota_per_hour: Option<u32>,
    /// Tokens an application may get per day, unless it has its own quota [default: no limit]
    #[arg(long, env = "WARRANT_TOKEN_QUOTA_PER_DAY", value_name = "N")]
    pub token_quota_per_day: Option<u32>,
    /// false: the default quota is only observed (counted, logged, X-RateLimit-* headers sent, nothing refused) [default: true]
    #[arg(long, env = "WARRANT_TOKEN_QUOTA_ENFORCE", value_name = "BOOL")]
    pub token_quota_enforce: Option<bool>,
    /// Requests served at once; beyond, an immediate 503 [default: 1024]
    #[arg(long, env = "WARRANT_MAX_CONCURRENT_REQUESTS", value_name = "N")]
    pub max_concurrent_requests: Option<usize>,
    /// Abandon a request (503) after this long, e.g. 10s [default: 10s]
    #[arg(long, env = "WARRANT_REQUEST_TIMEOUT", value_name = "SECONDS")]
    pub request_timeout: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Create an API
    Create {
        /// The API's identifier, an absolute URI: the `audience` clients ask for
        #[arg(long)]
        identifier: String,
        /// A human-readable name
        #[arg(long)]
        name: String,
        /// A scope the API defines, as VALUE or VALUE=DESCRIPTION (repeatable)
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Access-token lifetime in seconds (1 to 2592000) [default: 86400]
        #[arg(long, value_name = "SECONDS")]
        token_lifetime: Option<u32>,
        /// The algorithm its tokens are signed with: RS256 (widest support), PS256, ES256 or
        /// EdDSA (faster, smaller tokens) [default: RS256]
        #[arg(long, value_name = "ALG")]
        signing_alg: Option<String>,
        /// DPoP-bound tokens (RFC 9449): `required` refuses a token request without a DPoP
        /// proof; `optional` binds a token when the client sends one (as without the flag)
        #[arg(long, value_name = "required|optional")]
        dpop: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change an API's settings, by id or identifier
    Update {
        api: String,
        /// DPoP-bound tokens (RFC 9449): `required` refuses a token request without a DPoP
        /// proof; `optional` binds a token when the client sends one; `off` removes the setting
        #[arg(long, value_name = "required|optional|off")]
        dpop: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List APIs
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show an API, by id or identifier
    Show {
        api: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete an API, by id or identifier, with every grant for it
    Delete { api: String },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create an application; prints its client secret once
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Authorize the application for an API: AUDIENCE=SCOPE[,SCOPE…] (repeatable)
        #[arg(long = "grant", value_name = "AUDIENCE=SCOPES")]
        grants: Vec<String>,
        /// When the client secret stops working: an RFC 3339 time or a duration from now, e.g. 90d [default: never]
        #[arg(long, value_name = "WHEN")]
        secret_expires_at: Option<String>,
        /// A client_metadata entry (repeatable, at most 10)
        #[arg(long = "metadata", value_name = "KEY=VALUE")]
        metadata: Vec<String>,
        /// A custom claim in every token: VALUE is JSON (3, true, ["a","b"]) or else a string;
        /// {{client_metadata.KEY}} copies a metadata value (repeatable)
        #[arg(long = "claim", value_name = "NAME=VALUE")]
        claims: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Replace an application's client_metadata or custom claims
    Update {
        client_id: String,
        /// The new client_metadata, whole (repeatable)
        #[arg(long = "metadata", value_name = "KEY=VALUE")]
        metadata: Vec<String>,
        /// Remove every client_metadata entry
        #[arg(long, conflicts_with = "metadata")]
        no_metadata: bool,
        /// The new custom claims, whole (repeatable; VALUE as for `app create`)
        #[arg(long = "claim", value_name = "NAME=VALUE")]
        claims: Vec<String>,
        /// Remove every custom claim
        #[arg(long, conflicts_with = "claims")]
        no_claims: bool,
        #[arg(long)]
        json: bool,
    },
    /// List applications
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show an application with its grants
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete an application with its secrets and grants
    Delete { client_id: String },
    /// Issue a new client secret; prints it once
    RotateSecret {
        client_id: String,
        /// Seconds during which the old secret keeps working [default: 0, it stops at once]
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        grace: u64,
        /// When the new secret stops working: an RFC 3339 time or a duration from now, e.g. 90d [default: never]
        #[arg(long, value_name = "WHEN")]
        secret_expires_at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Public keys an application authenticates with instead of a secret (private_key_jwt)
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Let workloads of a trusted issuer authenticate as the application with their platform
    /// token (a federated credential)
    Federate {
        client_id: String,
        /// The trusted issuer (ID or issuer URL)
        #[arg(long)]
        issuer: String,
        /// The token's sub: exact, or a pattern where * matches within one segment (segments
        /// are separated by / and :)
        #[arg(long)]
        subject: String,
        /// The aud the token must carry [default: Warrant's issuer URL]
        #[arg(long)]
        audience: Option<String>,
        /// A claim the token must carry with exactly this value: CLAIM=VALUE (repeatable); a
        /// nested claim by its dotted path, e.g. kubernetes.io.namespace=payments (the longest
        /// member name first, for names with dots)
        #[arg(long = "condition", value_name = "CLAIM=VALUE")]
        conditions: Vec<String>,
        /// When the credential stops working, e.g. 2027-01-31T00:00:00Z
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Accept a subject of only * or a Kubernetes default service account
        #[arg(long)]
        confirm_broad_subject: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the application's federated credentials
    Federated {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a federated credential
    Unfederate {
        client_id: String,
        credential_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum IssuerCommand {
    /// Trust an issuer: exactly its tokens' iss (an https URL), or spiffe://TRUST_DOMAIN; its
    /// keys from its discovery document unless --jwks-uri or --jwks-file says otherwise
    Add {
        issuer: String,
        #[arg(long)]
        name: Option<String>,
        /// Fetch the keys from this JWKS URL
        #[arg(long, value_name = "URL", conflicts_with = "jwks_file")]
        jwks_uri: Option<String>,
        /// The keys themselves: a JWKS file, uploaded (nothing is fetched)
        #[arg(long, value_name = "FILE")]
        jwks_file: Option<std::path::PathBuf>,
        /// On the server: the token sent as a bearer token when fetching the keys; only
        /// Kubernetes' mount /var/run/secrets/kubernetes.io/serviceaccount/token
        #[arg(long, value_name = "PATH")]
        bearer_token_file: Option<String>,
        /// On the server: the CA trusted when fetching the keys; only Kubernetes' mount
        /// /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
        #[arg(long, value_name = "PATH")]
        ca_file: Option<String>,
        /// An algorithm its tokens may be signed with (repeatable) [default: RS256, ES256]
        #[arg(long = "alg", value_name = "ALG")]
        algorithms: Vec<String>,
        /// The longest assertion lifetime (exp - iat) accepted, in seconds [default: 3600]
        #[arg(long, value_name = "SECONDS")]
        max_assertion_lifetime: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// List the trusted issuers
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a trusted issuer (by ID or issuer URL)
    Show {
        issuer: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a trusted issuer (by ID or issuer URL): where its keys come from, its
    /// algorithms, its lifetime cap, its name; checked as `add` checks. Its URL cannot change
    /// (trust the new one, move the federated credentials, remove the old one). Every server
    /// instance uses the new keys without a restart
    Update {
        issuer: String,
        #[arg(long)]
        name: Option<String>,
        /// Fetch the keys from this JWKS URL from now on (uploaded keys are dropped)
        #[arg(long, value_name = "URL", conflicts_with_all = ["jwks_file", "discovery"])]
        jwks_uri: Option<String>,
        /// Use the keys of this JWKS file from now on, uploaded (a JWKS URL is dropped)
        #[arg(long, value_name = "FILE", conflicts_with = "discovery")]
        jwks_file: Option<std::path::PathBuf>,
        /// Find the keys through the issuer's discovery document from now on
        #[arg(long)]
        discovery: bool,
        /// The token sent when fetching the keys; only Kubernetes' mount
        /// /var/run/secrets/kubernetes.io/serviceaccount/token
        #[arg(long, value_name = "PATH", conflicts_with = "no_bearer_token_file")]
        bearer_token_file: Option<String>,
        /// Send no bearer token when fetching the keys
        #[arg(long)]
        no_bearer_token_file: bool,
        /// The CA trusted when fetching the keys; only Kubernetes' mount
        /// /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
        #[arg(long, value_name = "PATH", conflicts_with = "no_ca_file")]
        ca_file: Option<String>,
        /// Trust the system's CAs when fetching the keys
        #[arg(long)]
        no_ca_file: bool,
        /// The algorithms its tokens may be signed with, replacing the current ones (repeatable)
        #[arg(long = "alg", value_name = "ALG")]
        algorithms: Vec<String>,
        /// The longest assertion lifetime (exp - iat) accepted, in seconds
        #[arg(long, value_name = "SECONDS")]
        max_assertion_lifetime: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Stop trusting an issuer that no federated credential uses
    Remove { issuer: String },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// List an application's public-key credentials, with their kid and expiry
    List {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Register a public key and authenticate the application with its keys from now on
    /// (private_key_jwt: its secret stops working)
    Add {
        client_id: String,
        /// The public key, PEM (`openssl pkey -in key.pem -pubout -out key.pub.pem`)
        #[arg(long, value_name = "FILE")]
        pem: PathBuf,
        /// The algorithm the client signs with: RS256, RS384, PS256, ES256 or EdDSA
        #[arg(long)]
        alg: String,
        /// A name for the credential [default: the file's name]
        #[arg(long)]
        name: Option<String>,
        /// When the key stops working: an RFC 3339 time or a duration from now, e.g. 365d [default: never]
        #[arg(long, value_name = "WHEN")]
        expires_at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove a credential (the application's last one: it authenticates with its secret again)
    Remove {
        client_id: String,
        credential_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Authorize an application for an API
    Create {
        #[arg(long)]
        client_id: String,
        /// The API's identifier
        #[arg(long)]
        audience: String,
        /// A granted scope (repeatable)
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A custom claim in this grant's tokens, over the application's (repeatable; VALUE as
        /// for `app create`)
        #[arg(long = "claim", value_name = "NAME=VALUE")]
        claims: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Replace a grant's scopes or custom claims
    Update {
        grant_id: String,
        /// The new scopes, whole (repeatable)
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The new custom claims, whole (repeatable)
        #[arg(long = "claim", value_name = "NAME=VALUE")]
        claims: Vec<String>,
        /// Remove every custom claim of the grant
        #[arg(long, conflicts_with = "claims")]
        no_claims: bool,
        #[arg(long)]
        json: bool,
    },
    /// List grants
    List {
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        audience: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a grant by id
    Delete { grant_id: String },
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The server's issuer URL, e.g. http://127.0.0.1:8080/
    #[arg(long, env = "WARRANT_ISSUER")]
    pub issuer: String,
    #[arg(long, env = "WARRANT_CLIENT_ID")]
    pub client_id: String,
    /// Prefer WARRANT_CLIENT_SECRET: flags show up in process lists
    #[arg(long, env = "WARRANT_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Authenticate with private_key_jwt instead of a secret: a PEM private key (PKCS#8, as
    /// `openssl genpkey` writes it) whose public key is registered (`warrant app credentials add`)
    #[arg(long, env = "WARRANT_PRIVATE_KEY_FILE", value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// With --private-key: the key ID the assertion names [default: the key's RFC 7638 thumbprint, Warrant's kid]
    #[arg(long, requires = "private_key")]
    pub kid: Option<String>,
    /// With --private-key: RS256 or PS256 for an RSA key [default: RS256; ES256 for P-256, EdDSA for Ed25519]
    #[arg(long, requires = "private_key")]
    pub alg: Option<String>,
    /// Authenticate with the client assertion in this file instead of a secret (a Kubernetes
    /// projected service-account token, a SPIFFE JWT-SVID)
    #[arg(
        long,
        env = "WARRANT_ASSERTION_FILE",
        value_name = "FILE",
        conflicts_with = "private_key"
    )]
    pub assertion_file: Option<PathBuf>,
    /// With --assertion-file: the client_assertion_type
    #[arg(long, value_parser = ["jwt-bearer", "jwt-spiffe"], default_value = "jwt-bearer", requires = "assertion_file")]
    pub assertion_type: String,
    #[arg(long, env = "WARRANT_AUDIENCE")]
    pub audience: String,
    /// Space-separated scopes to ask for [default: every granted scope]
    #[arg(long)]
    pub scope: Option<String>,
    /// Print the whole token response as JSON instead of the bare token
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The token, or `-` to read it from standard input
    pub token: String,
}
