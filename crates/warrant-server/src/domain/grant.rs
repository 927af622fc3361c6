use super::{CustomClaims, Invalid, ResourceServer, random_alphanumeric};

/// Permission for one application to get tokens for one API, with a subset of its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGrant {
    pub id: String,
    pub client_id: String,
    /// The API's identifier.
    pub audience: String,
    pub scopes: Vec<String>,
    /// Claims the tokens of this grant carry, over the application's (Warrant's extension).
    pub custom_claims: CustomClaims,
    pub created_at: u64,
}

impl ClientGrant {
    /// A grant of `scopes` of `api` to `client_id`; every scope must be one the API defines.
    pub fn new(
        client_id: &str,
        api: &ResourceServer,
        scopes: Vec<String>,
        now: u64,
    ) -> Result<Self, Invalid> {
        let grant = Self {
            id: format!("cgr_{}", random_alphanumeric(16)),
            client_id: client_id.to_owned(),
            audience: api.identifier.clone(),
            scopes: dedup(scopes),
            custom_claims: CustomClaims::default(),
            created_at: now,
        };
        grant.check_scopes(api)?;
        Ok(grant)
    }

    pub fn check_scopes(&self, api: &ResourceServer) -> Result<(), Invalid> {
        match self.scopes.iter().find(|s| !api.has_scope(s)) {
            Some(unknown) => Err(Invalid(format!(
                "scope {unknown:?} is not defined by the API {}; add it to the API first",
                api.identifier
            ))),
            None => Ok(()),
        }
    }
}

fn dedup(scopes: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for s in scopes {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Scope, SigningAlg};

    #[test]
    fn grant_scopes_must_belong_to_the_api() {
        let api = ResourceServer {
            id: "a".into(),
            identifier: "https://api".into(),
            name: "api".into(),
            scopes: vec![Scope {
                value: "read:data".into(),
                description: String::new(),
            }],
            token_lifetime: 60,
            signing_alg: SigningAlg::RS256,
            proof_of_possession: None,
            created_at: 0,
            updated_at: 0,
        };
        let g =
            ClientGrant::new("c", &api, vec!["read:data".into(), "read:data".into()], 0).unwrap();
        assert_eq!(g.scopes, vec!["read:data".to_string()]);
        assert!(g.id.starts_with("cgr_"));
        let err = ClientGrant::new("c", &api, vec!["write:data".into()], 0).unwrap_err();
        assert!(err.0.contains("write:data"));
    }
}
