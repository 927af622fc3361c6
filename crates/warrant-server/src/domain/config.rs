//! Declarative configuration: the TOML file `warrant plan`, `warrant apply` and `warrant export`
//! read and write. It names APIs (matched by identifier), trusted issuers (by issuer URL) and
//! applications (by an explicit `key`, else by name) with their federated credentials (by
//! issuer, subject and audience), each object whole: what a table leaves out takes its default.
//! Parsing keeps where each object and field was written, so that every error names its line,
//! column and key; a file holding something that looks like a secret is refused before it is
//! read. Plain data: comparing with what is stored, and writing, is `admin/config.rs`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::{
    CustomClaims, DEFAULT_TOKEN_LIFETIME, NewFederatedCredential, NewTrustedIssuer, PopMechanism,
    ProofOfPossession, Scope, SigningAlg, TokenQuota, validate_config_key,
};

/// The longest file read: a deployment of a few thousand objects.
pub const MAX_CONFIG_LEN: usize = 4 * 1024 * 1024;

/// How a file names the management API (Warrant's own, whose identifier depends on the
/// issuer) in a grant, so that an exported file applies to a deployment at another address.
pub const MANAGEMENT_API_ALIAS: &str = "urn:warrant:management-api";

/// Where something was written: its line and column (from 1) and its key path
/// (`application[2].grant[0].scopes`). Places say where, not what: any two are equal, so that
/// two files saying the same thing compare equal.
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub line: usize,
    pub column: usize,
    pub key: String,
}

impl PartialEq for Place {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Place {}

impl Place {
    /// An error about `field` of the object at this place.
    pub fn field_error(&self, field: &str, message: impl Into<String>) -> ConfigError {
        self.field(field).error(message)
    }

    /// The same place, naming `field` under this key.
    pub fn field(&self, field: &str) -> Self {
        Self {
            key: format!("{}.{field}", self.key),
            ..self.clone()
        }
    }

    /// An error at this place.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            place: self.clone(),
            message: message.into(),
        }
    }
}

/// What is wrong with a file, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub place: Place,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.place.key.is_empty() {
            write!(
                f,
                "line {}, column {}: {}",
                self.place.line, self.place.column, self.message
            )
        } else {
            write!(
                f,
                "line {}, column {}, {}: {}",
                self.place.line, self.place.column, self.place.key, self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// A whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    pub apis: Vec<ApiSpec>,
    pub trusted_issuers: Vec<TrustedIssuerSpec>,
    pub applications: Vec<ApplicationSpec>,
}

/// A trusted issuer of workload identity federation as the file describes it; matched by
/// its issuer URL (or `spiffe://<trust domain>`). The fields, their defaults and their rules
/// are the management API's (`POST /api/v2/trusted-issuers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuerSpec {
    pub at: Place,
    pub fields: NewTrustedIssuer,
}

/// One federated credential of an application, matched by its issuer (URL), subject and
/// audience together: changing any of them replaces the credential (it holds no secret, so
/// nothing is lost); its name, conditions and expiry change in place. The fields are the
/// management API's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredentialSpec {
    pub at: Place,
    pub fields: NewFederatedCredential,
}

impl FederatedCredentialSpec {
    /// What the credential is matched by, in words.
    pub fn matched_by(&self) -> String {
        let f = &self.fields;
        match &f.audience {
            Some(audience) => format!("{} of {} for {audience}", f.subject, f.issuer),
            None => format!("{} of {}", f.subject, f.issuer),
        }
    }
}

/// An API as the file describes it; matched by `identifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSpec {
    pub at: Place,
    pub identifier: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub token_lifetime: u32,
    pub signing_alg: SigningAlg,
    /// `dpop = "required"` or `"optional"` (DPoP-bound tokens, RFC 9449); absent or `"off"`:
    /// none.
    pub proof_of_possession: Option<ProofOfPossession>,
}

/// An application as the file describes it; matched by `key` when it has one, else by `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationSpec {
    pub at: Place,
    pub key: Option<String>,
    pub name: String,
    pub description: String,
    pub client_metadata: BTreeMap<String, String>,
    /// Claims in every token of the application (values may be `{{client_metadata.<key>}}`).
    pub custom_claims: CustomClaims,
    pub token_quota: Option<TokenQuota>,
    pub grants: Vec<GrantSpecAt>,
    pub credentials: Vec<CredentialSpec>,
    pub federated_credentials: Vec<FederatedCredentialSpec>,
}

impl ApplicationSpec {
    /// How the file matches it to a stored application: `key = "…"` or `name = "…"`.
    pub fn matched_by(&self) -> String {
        match &self.key {
            Some(key) => format!("key {key:?}"),
            None => format!("name {:?}", self.name),
        }
    }
}

/// One grant of an application: an API (its identifier, or [`MANAGEMENT_API_ALIAS`]) and scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSpecAt {
    pub at: Place,
    pub api: String,
    pub scopes: Vec<String>,
    /// Claims in this grant's tokens, over the application's.
    pub custom_claims: CustomClaims,
}

/// One public key of an application (private_key_jwt), matched by the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSpec {
    pub at: Place,
    pub name: String,
    pub alg: String,
    pub pem: String,
    /// Unix seconds; `None`: never.
    pub expires_at: Option<u64>,
    /// Whether the application authenticates with it (Auth0's
    /// `client_authentication_methods.private_key_jwt.credentials`).
    pub private_key_jwt: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDe {
    #[serde(default)]
    api: Vec<Spanned<ApiDe>>,
    #[serde(default)]
    trusted_issuer: Vec<Spanned<IssuerDe>>,
    #[serde(default)]
    application: Vec<Spanned<ApplicationDe>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerDe {
    issuer: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    jwks_uri: Option<String>,
    #[serde(default)]
    jwks: Option<String>,
    #[serde(default)]
    bearer_token_file: Option<String>,
    #[serde(default)]
    ca_file: Option<String>,
    #[serde(default)]
    algorithms: Vec<String>,
    #[serde(default)]
    max_assertion_lifetime: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FederatedDe {
    #[serde(default)]
    name: Option<String>,
    issuer: String,
    subject: String,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    conditions: BTreeMap<String, String>,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    confirm_broad_subject: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiDe {
    identifier: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<Spanned<ScopeDe>>,
    #[serde(default)]
    token_lifetime: Option<u32>,
    #[serde(default)]
    signing_alg: Option<Spanned<String>>,
    #[serde(default)]
    dpop: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeDe {
    value: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplicationDe {
    #[serde(default)]
    key: Option<Spanned<String>>,
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    client_metadata: BTreeMap<String, String>,
    #[serde(default)]
    custom_claims: Option<Spanned<BTreeMap<String, toml::Value>>>,
    #[serde(default)]
    token_quota: Option<Spanned<QuotaDe>>,
    #[serde(default)]
    grant: Vec<Spanned<GrantDe>>,
    #[serde(default)]
    credential: Vec<Spanned<CredentialDe>>,
    #[serde(default)]
    federated_credential: Vec<Spanned<FederatedDe>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaDe {
    #[serde(default)]
    per_hour: Option<u32>,
    #[serde(default)]
    per_day: Option<u32>,
    #[serde(default)]
    observe_only: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantDe {
    api: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    custom_claims: Option<Spanned<BTreeMap<String, toml::Value>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialDe {
    name: String,
    alg: String,
    pem: String,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    private_key_jwt: bool,
}

/// Reads a configuration file: secrets refused first, then TOML with its shapes, then the
/// rules that need no storage (an algorithm Warrant knows, a key or identifier at most once).
pub fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
    if text.len() > MAX_CONFIG_LEN {
        return Err(Place::default().error(format!(
            "the file is larger than {} MiB",
            MAX_CONFIG_LEN / 1024 / 1024
        )));
    }
    refuse_secrets(text)?;
    let lines = Lines::new(text);
    let file: FileDe = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let mut place = lines.place(&span, "");
        place.key = String::new();
        place.error(e.message().trim_end().to_owned())
    })?;
    let mut out = ConfigFile::default();
    for (i, api) in file.api.into_iter().enumerate() {
        let at = lines.place(&api.span(), &format!("api[{i}]"));
        let api = api.into_inner();
        let signing_alg = match &api.signing_alg {
            Some(alg) => SigningAlg::parse(alg.get_ref()).map_err(|e| {
                lines
                    .place(&alg.span(), &at.field("signing_alg").key)
                    .error(e.0)
            })?,
            None => SigningAlg::RS256,
        };
        let proof_of_possession = match &api.dpop {
            None => None,
            Some(dpop) => match dpop.get_ref().as_str() {
                "off" => None,
                "optional" | "required" => Some(ProofOfPossession {
                    mechanism: PopMechanism::Dpop,
                    required: dpop.get_ref() == "required",
                }),
                _ => {
                    return Err(lines
                        .place(&dpop.span(), &at.field("dpop").key)
                        .error("dpop must be \"required\", \"optional\" or \"off\""));
                }
            },
        };
        let identifier = api.identifier.into_inner();
        if out
            .apis
            .iter()
            .any(|a: &ApiSpec| a.identifier == identifier)
        {
            return Err(at
                .field("identifier")
                .error(format!("API {identifier} is named twice in the file")));
        }
        let scopes: Vec<Scope> = api
            .scopes
            .into_iter()
            .map(|s| {
                let s = s.into_inner();
                Scope {
                    value: s.value,
                    description: s.description,
                }
            })
            .collect();
        out.apis.push(ApiSpec {
            name: api
                .name
                .unwrap_or_else(|| identifier.chars().take(200).collect()),
            identifier,
            scopes,
            token_lifetime: api.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME),
            signing_alg,
            proof_of_possession,
            at,
        });
    }
    for (i, issuer) in file.trusted_issuer.into_iter().enumerate() {
        let at = lines.place(&issuer.span(), &format!("trusted_issuer[{i}]"));
        let issuer = issuer.into_inner();
        if out
            .trusted_issuers
            .iter()
            .any(|t| t.fields.issuer == issuer.issuer)
        {
            return Err(at.field("issuer").error(format!(
                "the issuer {} is named twice in the file",
                issuer.issuer
            )));
        }
        out.trusted_issuers.push(TrustedIssuerSpec {
            at,
            fields: NewTrustedIssuer {
                issuer: issuer.issuer,
                name: issuer.name,
                jwks_uri: issuer.jwks_uri,
                jwks: issuer.jwks,
                bearer_token_file: issuer.bearer_token_file,
                ca_file: issuer.ca_file,
                algorithms: issuer.algorithms,
                max_assertion_lifetime: issuer.max_assertion_lifetime,
            },
        });
    }
    for (i, app) in file.application.into_iter().enumerate() {
        let at = lines.place(&app.span(), &format!("application[{i}]"));
        let app = app.into_inner();
        if let Some(key) = &app.key {
            validate_config_key(key.get_ref())
                .map_err(|e| lines.place(&key.span(), &at.field("key").key).error(e.0))?;
        }
        let key = app.key.map(Spanned::into_inner);
        let name = app.name.into_inner();
        let twice = out
            .applications
            .iter()
            .find(|a: &&ApplicationSpec| match &key {
                Some(key) => a.key.as_ref() == Some(key),
                None => a.key.is_none() && a.name == name,
            });
        if twice.is_some() {
            let (field, what) = match &key {
                Some(key) => ("key", format!("key {key:?}")),
                None => ("name", format!("name {name:?}")),
            };
            return Err(at.field(field).error(format!(
                "two applications have the {what}: each is matched by it, so it must be unique \
                 (give each a distinct `key` to keep two of the same name)"
            )));
        }
        let token_quota = app.token_quota.map(|q| {
            let q = q.into_inner();
            TokenQuota {
                per_hour: q.per_hour,
                per_day: q.per_day,
                observe_only: q.observe_only,
            }
        });
        let mut grants = Vec::with_capacity(app.grant.len());
        for (j, g) in app.grant.into_iter().enumerate() {
            let gat = lines.place(&g.span(), &format!("{}.grant[{j}]", at.key));
            let g = g.into_inner();
            let custom_claims = claims(&lines, g.custom_claims, &gat)?;
            grants.push(GrantSpecAt {
                at: gat,
                api: g.api,
                scopes: g.scopes,
                custom_claims,
            });
        }
        let custom_claims = claims(&lines, app.custom_claims, &at)?;
        let credentials = app
            .credential
            .into_iter()
            .enumerate()
            .map(|(j, c)| {
                let cat = lines.place(&c.span(), &format!("{}.credential[{j}]", at.key));
                let c = c.into_inner();
                CredentialSpec {
                    at: cat,
                    name: c.name,
                    alg: c.alg,
                    pem: c.pem,
                    expires_at: c.expires_at,
                    private_key_jwt: c.private_key_jwt,
                }
            })
            .collect();
        let mut federated_credentials: Vec<FederatedCredentialSpec> = Vec::new();
        for (j, f) in app.federated_credential.into_iter().enumerate() {
            let fat = lines.place(&f.span(), &format!("{}.federated_credential[{j}]", at.key));
            let f = f.into_inner();
            let spec = FederatedCredentialSpec {
                at: fat,
                fields: NewFederatedCredential {
                    name: f.name,
                    issuer: f.issuer,
                    subject: f.subject,
                    audience: f.audience,
                    conditions: f.conditions,
                    expires_at: f.expires_at,
                    confirm_broad_subject: f.confirm_broad_subject,
                },
            };
            let same = |o: &FederatedCredentialSpec| {
                let (a, b) = (&o.fields, &spec.fields);
                (&a.issuer, &a.subject, &a.audience) == (&b.issuer, &b.subject, &b.audience)
            };
            if federated_credentials.iter().any(same) {
                return Err(spec.at.field("subject").error(format!(
                    "the federated credential {} is listed twice for the application: each is \
                     matched by its issuer, subject and audience",
                    spec.matched_by()
                )));
            }
            federated_credentials.push(spec);
        }
        out.applications.push(ApplicationSpec {
            at,
            key,
            name,
            description: app.description,
            client_metadata: app.client_metadata,
            custom_claims,
            token_quota,
            grants,
            credentials,
            federated_credentials,
        });
    }
    Ok(out)
}

/// A table of custom claims, checked by the claims' rules; the error names the table's line.
fn claims(
    lines: &Lines,
    table: Option<Spanned<BTreeMap<String, toml::Value>>>,
    owner: &Place,
) -> Result<CustomClaims, ConfigError> {
    let Some(table) = table else {
        return Ok(CustomClaims::default());
    };
    let at = lines.place(&table.span(), &owner.field("custom_claims").key);
    let mut values = BTreeMap::new();
    for (name, value) in table.into_inner() {
        if matches!(value, toml::Value::Datetime(_)) {
            return Err(at.error(format!(
                "claim {name:?}: a date is not a JSON value; write it as a string or a number"
            )));
        }
        let value = serde_json::to_value(&value).map_err(|e| at.error(e.to_string()))?;
        values.insert(name, value);
    }
    CustomClaims::new(values).map_err(|e| at.error(e.0))
}

/// Line starts, to turn byte offsets into lines and columns.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { starts }
    }

    fn place(&self, span: &Range<usize>, key: &str) -> Place {
        let line = self.starts.partition_point(|&s| s <= span.start);
        let start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        Place {
            line: line.max(1),
            column: span.start.saturating_sub(start) + 1,
            key: key.to_owned(),
        }
    }
}

/// Words that make a key name a secret's wherever they are in it.
const SECRET_WORDS: &[&str] = &["secret", "password", "passphrase"];

/// Key names that hold secrets, alone or as the end of a name (`client_private_key`, not
/// `private_key_jwt`, which says how a client authenticates).
const SECRET_KEYS: &[&str] = &[
    "private_key",
    "privatekey",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "master_key",
];

/// Refuses a file that holds something that looks like a secret: a key whose name says it is
/// one (`client_secret`, `password`, `private_key`, …) or a private key in PEM, anywhere, even
/// in a comment. The error names the line and the key, never the value.
fn refuse_secrets(text: &str) -> Result<(), ConfigError> {
    for (n, line) in text.lines().enumerate() {
        let place = |column: usize, key: &str| Place {
            line: n + 1,
            column: column + 1,
            key: key.to_owned(),
        };
        if let Some(at) = line.find("PRIVATE KEY-----") {
            return Err(place(at, "").error(
                "the file holds a private key: a configuration file holds only public keys \
                 (openssl pkey -in key.pem -pubout), and secrets stay in your secret manager",
            ));
        }
        for (column, key) in keys_in_line(line) {
            let lower = key.to_ascii_lowercase();
            if SECRET_WORDS.iter().any(|s| lower.contains(s))
                || SECRET_KEYS.iter().any(|s| lower.ends_with(s))
            {
                return Err(place(column, &key).error(
                    "this looks like a secret, and secrets are never kept in a configuration \
                     file: a new application's secret is written where `warrant apply \
                     --secrets-file` says (or printed once), and rotated with `warrant app \
                     rotate-secret`",
                ));
            }
        }
    }
    Ok(())
}

/// The keys a line assigns or opens (`name =`, `a.b =`, `{ x = 1, y = 2 }`, `[table]`), with
/// their columns: found where a key may start, at the line's start, after `{` or `,`, or in a
/// table header. Approximate (it does not follow multi-line strings) and on the safe side.
fn keys_in_line(line: &str) -> Vec<(usize, String)> {
    let bytes = line.as_bytes();
    let mut found = Vec::new();
    let mut starts = vec![line.len() - line.trim_start().len()];
    let mut in_string: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (in_string, b) {
            (Some(q), _) if b == q && (q == b'\'' || i == 0 || bytes[i - 1] != b'\\') => {
                in_string = None;
            }
            (Some(_), _) => {}
            (None, b'"' | b'\'') => in_string = Some(b),
            (None, b'{' | b',' | b'[' | b'.') => starts.push(i + 1),
            (None, b'#') => break,
            _ => {}
        }
    }
    for start in starts {
        let rest = &line[start..];
        let skipped = rest.len() - rest.trim_start().len();
        let rest = rest.trim_start();
        let (key, len) = if let Some(quoted) = rest.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], end + 2),
                None => continue,
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(rest.len());
            (&rest[..end], end)
        };
        if key.is_empty() {
            continue;
        }
        let after = rest[len..].trim_start();
        if after.starts_with('=') || after.starts_with('.') || after.starts_with(']') {
            found.push((start + skipped, key.to_owned()));
        }
    }
    found
}

/// Writes `file` as TOML that [`parse`] reads back to the same thing: what `warrant export`
/// prints. Every field is written, defaults included (`dpop` when set), so that the file says
/// all there is.
pub fn render(file: &ConfigFile) -> String {
    let mut out = String::from(
        "# Warrant configuration (`warrant export`). Apply with `warrant plan FILE` and\n\
         # `warrant apply FILE`. No secrets are kept here.\n",
    );
    for api in &file.apis {
        out.push_str("\n[[api]]\n");
        line(&mut out, "identifier", &string(&api.identifier));
        line(&mut out, "name", &string(&api.name));
        line(&mut out, "token_lifetime", &api.token_lifetime.to_string());
        line(&mut out, "signing_alg", &string(api.signing_alg.as_str()));
        if let Some(pop) = &api.proof_of_possession {
            let dpop = if pop.required { "required" } else { "optional" };
            line(&mut out, "dpop", &string(dpop));
        }
        if api.scopes.is_empty() {
            line(&mut out, "scopes", "[]");
        } else {
            out.push_str("scopes = [\n");
            for scope in &api.scopes {
                let _ = writeln!(
                    out,
                    "  {{ value = {}, description = {} }},",
                    string(&scope.value),
                    string(&scope.description)
                );
            }
            out.push_str("]\n");
        }
    }
    for issuer in &file.trusted_issuers {
        let issuer = &issuer.fields;
        out.push_str("\n[[trusted_issuer]]\n");
        line(&mut out, "issuer", &string(&issuer.issuer));
        optional(&mut out, "name", issuer.name.as_deref());
        optional(&mut out, "jwks_uri", issuer.jwks_uri.as_deref());
        optional(&mut out, "jwks", issuer.jwks.as_deref());
        optional(
            &mut out,
            "bearer_token_file",
            issuer.bearer_token_file.as_deref(),
        );
        optional(&mut out, "ca_file", issuer.ca_file.as_deref());
        let algorithms: Vec<String> = issuer.algorithms.iter().map(|a| string(a)).collect();
        line(
            &mut out,
            "algorithms",
            &format!("[{}]", algorithms.join(", ")),
        );
        if let Some(seconds) = issuer.max_assertion_lifetime {
            line(&mut out, "max_assertion_lifetime", &seconds.to_string());
        }
    }
    for app in &file.applications {
        out.push_str("\n[[application]]\n");
        if let Some(key) = &app.key {
            line(&mut out, "key", &string(key));
        }
        line(&mut out, "name", &string(&app.name));
        line(&mut out, "description", &string(&app.description));
        let metadata: Vec<String> = app
            .client_metadata
            .iter()
            .map(|(k, v)| format!("{} = {}", string(k), string(v)))
            .collect();
        line(
            &mut out,
            "client_metadata",
            &format!("{{ {} }}", metadata.join(", ")).replace("{  }", "{}"),
        );
        if !app.custom_claims.is_empty() {
            line(&mut out, "custom_claims", &claims_table(&app.custom_claims));
        }
        if let Some(quota) = &app.token_quota {
            let mut parts = Vec::new();
            if let Some(n) = quota.per_hour {
                parts.push(format!("per_hour = {n}"));
            }
            if let Some(n) = quota.per_day {
                parts.push(format!("per_day = {n}"));
            }
            if quota.observe_only {
                parts.push("observe_only = true".to_owned());
            }
            line(
                &mut out,
                "token_quota",
                &format!("{{ {} }}", parts.join(", ")).replace("{  }", "{}"),
            );
        }
        for grant in &app.grants {
            out.push_str("\n[[application.grant]]\n");
            line(&mut out, "api", &string(&grant.api));
            let scopes: Vec<String> = grant.scopes.iter().map(|s| string(s)).collect();
            line(&mut out, "scopes", &format!("[{}]", scopes.join(", ")));
            if !grant.custom_claims.is_empty() {
                line(
                    &mut out,
                    "custom_claims",
                    &claims_table(&grant.custom_claims),
                );
            }
        }
        for credential in &app.credentials {
            out.push_str("\n[[application.credential]]\n");
            line(&mut out, "name", &string(&credential.name));
            line(&mut out, "alg", &string(&credential.alg));
            if let Some(at) = credential.expires_at {
                line(&mut out, "expires_at", &at.to_string());
            }
            line(
                &mut out,
                "private_key_jwt",
                &credential.private_key_jwt.to_string(),
            );
            let pem = credential.pem.trim();
            if pem
                .chars()
                .all(|c| c.is_ascii_graphic() || c == ' ' || c == '\n')
            {
                let _ = writeln!(out, "pem = \"\"\"\n{pem}\n\"\"\"");
            } else {
                line(&mut out, "pem", &string(pem));
            }
        }
        for federated in &app.federated_credentials {
            let federated = &federated.fields;
            out.push_str("\n[[application.federated_credential]]\n");
            optional(&mut out, "name", federated.name.as_deref());
            line(&mut out, "issuer", &string(&federated.issuer));
            line(&mut out, "subject", &string(&federated.subject));
            optional(&mut out, "audience", federated.audience.as_deref());
            if !federated.conditions.is_empty() {
                let pairs: Vec<String> = federated
                    .conditions
                    .iter()
                    .map(|(claim, value)| format!("{} = {}", string(claim), string(value)))
                    .collect();
                line(
                    &mut out,
                    "conditions",
                    &format!("{{ {} }}", pairs.join(", ")),
                );
            }
            if let Some(at) = federated.expires_at {
                line(&mut out, "expires_at", &at.to_string());
            }
            if federated.confirm_broad_subject {
                line(&mut out, "confirm_broad_subject", "true");
            }
        }
    }
    out
}

/// `key = "value"` when there is a value.
fn optional(out: &mut String, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        line(out, key, &string(value));
    }
}

/// Custom claims as an inline table.
fn claims_table(claims: &CustomClaims) -> String {
    let pairs: Vec<String> = claims
        .as_map()
        .iter()
        .map(|(name, value)| format!("{} = {}", string(name), json_value(value)))
        .collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// A JSON value as TOML (claims hold no nulls).
fn json_value(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => string(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(json_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", string(k), json_value(v)))
                .collect();
            format!("{{ {} }}", pairs.join(", "))
        }
        Value::Null => "\"\"".to_owned(),
    }
}

fn line(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {value}");
}

/// A TOML basic string.
fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[api]]
identifier = "https://orders.example.com"
name = "Orders"
token_lifetime = 3600
dpop = "required"
scopes = [
  { value = "read:orders", description = "Read orders" },
  { value = "write:orders" },
]

[[application]]
name = "billing"
description = "Nightly \"billing\" run"
client_metadata = { tenant = "acme", "with space" = "x" }
custom_claims = { tenant = "{{client_metadata.tenant}}", tier = 3, flags = [true, "x"], ratio = 0.5 }
token_quota = { per_hour = 100 }

[[application.grant]]
api = "https://orders.example.com"
scopes = ["read:orders"]
custom_claims = { region = "eu" }
"#;

    #[test]
    fn a_file_is_read_with_its_defaults_and_rendered_back_to_the_same_thing() {
        let file = parse(EXAMPLE).unwrap();
        assert_eq!(file.apis[0].signing_alg, SigningAlg::RS256);
        assert_eq!(file.apis[0].scopes[1].description, "");
        assert_eq!(file.apis[0].at.line, 2);
        assert!(file.apis[0].proof_of_possession.unwrap().required);
        let app = &file.applications[0];
        assert_eq!(app.description, "Nightly \"billing\" run");
        assert_eq!(app.token_quota.unwrap().per_hour, Some(100));
        assert_eq!(app.grants[0].at.key, "application[0].grant[0]");
        assert_eq!(app.custom_claims.as_map()["tier"], 3);
        assert_eq!(app.grants[0].custom_claims.as_map()["region"], "eu");
        let error =
            parse("[[application]]\nname = \"a\"\ncustom_claims = { iss = \"me\" }\n").unwrap_err();
        assert_eq!(error.place.line, 3, "{error}");
        assert_eq!(error.place.key, "application[0].custom_claims", "{error}");
        let text = render(&file);
        let again = parse(&text).unwrap();
        assert_eq!(again, file);
        assert_eq!(render(&again), text);
    }

    #[test]
    fn issuers_federated_credentials_and_keys_are_read_and_rendered_back() {
        let text = r#"
[[trusted_issuer]]
issuer = "https://token.actions.githubusercontent.com"
algorithms = ["RS256"]

[[trusted_issuer]]
issuer = "spiffe://prod.acme"
jwks = '{"keys": []}'

[[application]]
key = "team/deployer"
name = "deployer"

[[application.federated_credential]]
issuer = "https://token.actions.githubusercontent.com"
subject = "repo:acme/*:ref:refs/heads/main"
conditions = { repository_owner_id = "123" }
expires_at = 1893456000

[[application.federated_credential]]
issuer = "https://token.actions.githubusercontent.com"
subject = "repo:acme/*:ref:refs/heads/main"
audience = "https://warrant.example.com"
"#;
        let file = parse(text).unwrap();
        assert_eq!(
            file.trusted_issuers[1].fields.jwks.as_deref(),
            Some("{\"keys\": []}")
        );
        assert_eq!(file.trusted_issuers[0].fields.name, None);
        let app = &file.applications[0];
        assert_eq!(app.key.as_deref(), Some("team/deployer"));
        let federated = &app.federated_credentials;
        assert_eq!(federated[0].fields.conditions["repository_owner_id"], "123");
        assert_eq!(federated[0].fields.expires_at, Some(1_893_456_000));
        assert_eq!(
            federated[0].at.key,
            "application[0].federated_credential[0]"
        );
        assert_eq!(federated[0].at.line, 14);
        let rendered = render(&file);
        assert_eq!(parse(&rendered).unwrap(), file);

        // The same issuer, subject and audience twice; an issuer twice; a bad key.
        let twice = text.replace("audience = \"https://warrant.example.com\"\n", "");
        let error = parse(&twice).unwrap_err();
        assert_eq!(error.place.line, 20, "{error}");
        assert!(error.message.contains("listed twice"), "{error}");
        let error = parse(&text.replace(
            "spiffe://prod.acme",
            "https://token.actions.githubusercontent.com",
        ))
        .unwrap_err();
        assert_eq!(error.place.key, "trusted_issuer[1].issuer", "{error}");
        let error = parse(&text.replace("team/deployer", "team deployer")).unwrap_err();
        assert_eq!(
            (
                error.place.line,
                error.place.column,
                error.place.key.as_str()
            ),
            (11, 7, "application[0].key"),
            "{error}"
        );
    }

    #[test]
    fn errors_name_the_line_column_and_key() {
        let error = parse("[[api]]\nidentifier = \"x\"\nsigning_alg = \"HS256\"\n").unwrap_err();
        assert_eq!((error.place.line, error.place.column), (3, 15));
        assert_eq!(error.place.key, "api[0].signing_alg");
        let error = parse("[[api]]\nidentifier = \"x\"\ntoken_lifetime = \"long\"\n").unwrap_err();
        assert_eq!(error.place.line, 3, "{error}");
        let error = parse("[[api]]\nidentifier = \"x\"\ndpop = \"mtls\"\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 3, column 8, api[0].dpop: dpop must be \"required\", \"optional\" or \"off\""
        );
        let error = parse("[[api]]\nidentifier = \"x\"\ncolour = 1\n").unwrap_err();
        assert_eq!(error.place.line, 3, "{error}");
        assert!(error.message.contains("colour"), "{error}");
        let error =
            parse("[[application]]\nname = \"a\"\n[[application]]\nname = \"a\"\n").unwrap_err();
        assert_eq!(error.place.line, 3, "{error}");
    }

    #[test]
    fn anything_that_looks_like_a_secret_is_refused_without_echoing_it() {
        for (text, line, key) in [
            (
                "[[application]]\nname = \"a\"\nclient_secret = \"s3cr3t\"\n",
                3,
                "client_secret",
            ),
            (
                "[[application]]\nname = \"a\"\nx = { password = \"s3cr3t\" }\n",
                3,
                "password",
            ),
            ("[application.private_key]\nv = 1\n", 1, "private_key"),
            ("# -----BEGIN PRIVATE KEY-----\n", 1, ""),
            ("pem = \"-----BEGIN EC PRIVATE KEY-----\"\n", 1, ""),
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.place.line, line, "{text}");
            assert_eq!(error.place.key, key, "{text}");
            assert!(!error.to_string().contains("s3cr3t"));
        }
        // Words in values are not keys.
        let file =
            parse("[[application]]\nname = \"a\"\ndescription = \"rotates, password = no\"\n");
        assert!(file.is_ok(), "{file:?}");
    }
}
