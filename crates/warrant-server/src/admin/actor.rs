//! Who makes a change, and so what they may do and how the audit log names them.

/// Who makes a change through [`Admin`](super::Admin): every front end says who acts, and the
/// service layer checks their [`Rights`] and records the change in their name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Warrant itself: initialization, scheduled key rotation, and administration in process
    /// (embedding, tests). Every right; its changes are not audited (nobody asked for them).
    Warrant,
    /// A management API client, whose bearer token was accepted.
    Management(ManagementCaller),
    /// An administrator signed in to the dashboard, with every right.
    Operator { username: String },
    /// The CLI on the data directory or database, with every right. `user_agent` names the
    /// CLI in its audit events (`warrant-cli/<version>`).
    Cli { user_agent: String },
}

/// A management API client making one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementCaller {
    /// The client ID the caller's token was issued to.
    pub client_id: String,
    /// The management scopes its token carries that its grant still holds.
    pub scopes: Vec<String>,
    /// The request as the audit log names it, with the status a success answers
    /// (`POST /api/v2/clients (201)`).
    pub request: String,
    /// The address the request came from.
    pub ip: Option<String>,
}

impl Actor {
    /// What this actor may do.
    pub fn rights(&self) -> Rights<'_> {
        match self {
            Self::Management(caller) => Rights::Scopes(&caller.scopes),
            Self::Warrant | Self::Operator { .. } | Self::Cli { .. } => Rights::Full,
        }
    }
}

/// What the one making a change may do. Every way in goes through the same checks in
/// [`Admin`](super::Admin): the management API acts with its caller's scopes, the dashboard and
/// the CLI with full rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rights<'a> {
    /// Every management right: an operator signed in to the dashboard, the CLI on the data
    /// directory, Warrant itself.
    Full,
    /// A management API client: the management scopes its token carries that its grant still
    /// holds. It may grant only these, and may change no application whose management grant
    /// holds more (else any of `create:client_grants`, `update:client_grants` or
    /// `update:client_keys` would amount to every scope).
    Scopes(&'a [String]),
}

impl Rights<'_> {
    /// The scopes of `wanted` these rights lack.
    pub(super) fn lacking<'w>(&self, wanted: &'w [String]) -> Vec<&'w str> {
        match self {
            Self::Full => Vec::new(),
            Self::Scopes(held) => wanted
                .iter()
                .filter(|s| !held.contains(s))
                .map(String::as_str)
                .collect(),
        }
    }
}
