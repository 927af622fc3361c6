//! The trusted issuers of a configuration file compared with the stored ones: each checked by
//! the management API's rules ([`TrustedIssuer::new`]), created or changed in place, and with
//! prune, those the file does not name deleted once no federated credential keeps using them.
//! Trusted issuers decide who may authenticate without a secret, so an apply that changes them
//! takes the management API's trusted-issuer scopes as well as `update:config`.

use std::collections::BTreeMap;

use super::ConfigAction::{Create, Delete, Update};
use super::{Details, Plan};
use crate::admin::followup::Change;
use crate::admin::scopes::{
    CREATE_TRUSTED_ISSUERS, DELETE_TRUSTED_ISSUERS, UPDATE_TRUSTED_ISSUERS,
};
use crate::admin::{Admin, AdminError};
use crate::domain::config::TrustedIssuerSpec;
use crate::domain::{Application, TrustedIssuer};

impl Plan {
    /// Plans the file's trusted issuers; answers every issuer there will be, by issuer URL
    /// (the file's as it wants them, and the stored ones it does not name).
    pub(super) fn plan_issuers(
        &mut self,
        specs: &[TrustedIssuerSpec],
        current: &[TrustedIssuer],
        now: u64,
    ) -> Result<BTreeMap<String, TrustedIssuer>, AdminError> {
        let mut issuers: BTreeMap<String, TrustedIssuer> = current
            .iter()
            .map(|i| (i.issuer.clone(), i.clone()))
            .collect();
        for spec in specs {
            let built =
                TrustedIssuer::new(spec.fields.clone(), now).map_err(|e| spec.at.error(e.0))?;
            let Some(old) = current.iter().find(|i| i.issuer == built.issuer) else {
                let details = Details::one(format!("keys by {}", built.keys.kind()));
                let created = Change::TrustedIssuerCreated {
                    id: built.id.clone(),
                    issuer: built.issuer.clone(),
                };
                self.record(Create, "trusted_issuer", &built.issuer, details, [created]);
                self.write.issuers_created.push(built.clone());
                issuers.insert(built.issuer.clone(), built);
                continue;
            };
            let wanted = TrustedIssuer {
                id: old.id.clone(),
                created_at: old.created_at,
                // Moves forward even within one second: each instance's key cache rebuilds an
                // issuer's keys when its updated_at changes.
                updated_at: now.max(old.updated_at + 1),
                ..built
            };
            let mut details = Details::default();
            details.quoted("name", &old.name, &wanted.name);
            details.compare("keys by", &old.keys, &wanted.keys, |keys| keys.kind());
            let (was, is) = (&old.bearer_token_file, &wanted.bearer_token_file);
            details.quoted("bearer_token_file", was, is);
            details.quoted("ca_file", &old.ca_file, &wanted.ca_file);
            // One name per algorithm: the names differ exactly when the algorithms do.
            let (was, is) = (old.algorithm_names(), wanted.algorithm_names());
            details.plain("algorithms", &was, &is);
            let (was, is) = (&old.max_assertion_lifetime, &wanted.max_assertion_lifetime);
            details.plain("max_assertion_lifetime", was, is);
            if !details.is_empty() {
                let updated = Change::TrustedIssuerUpdated {
                    id: wanted.id.clone(),
                    issuer: wanted.issuer.clone(),
                };
                self.record(Update, "trusted_issuer", &wanted.issuer, details, [updated]);
                self.write.issuers_updated.push(wanted.clone());
            }
            issuers.insert(wanted.issuer.clone(), wanted);
        }
        Ok(issuers)
    }
}

impl Admin {
    /// An apply that creates, changes or deletes trusted issuers takes the scope the
    /// management API asks for each (`create:`, `update:`, `delete:trusted_issuers`), so that
    /// `update:config` is no way around that split; refused before anything is written.
    /// Actors with full rights (the CLI on the data directory, the dashboard) hold them all.
    pub(super) fn check_issuer_rights(&self, plan: &Plan) -> Result<(), AdminError> {
        let write = &plan.write;
        let needed: Vec<String> = [
            (CREATE_TRUSTED_ISSUERS, !write.issuers_created.is_empty()),
            (UPDATE_TRUSTED_ISSUERS, !write.issuers_updated.is_empty()),
            (DELETE_TRUSTED_ISSUERS, !write.issuers_deleted.is_empty()),
        ]
        .into_iter()
        .filter(|(_, needed)| *needed)
        .map(|(scope, _)| scope.to_owned())
        .collect();
        let lacking = self.actor.rights().lacking(&needed);
        if lacking.is_empty() {
            return Ok(());
        }
        let issuers: Vec<&str> = plan
            .changes
            .iter()
            .filter(|c| c.kind == "trusted_issuer")
            .map(|c| c.key.as_str())
            .collect();
        Err(AdminError::Forbidden(format!(
            "this file changes trusted issuers ({}), which takes the trusted-issuer scopes as \
             well as update:config; the caller lacks {}: nothing was applied",
            issuers.join(", "),
            lacking.join(" ")
        )))
    }

    /// With prune, once the applications are planned: deletes the stored trusted issuers the
    /// file does not name, refusing (with the application that uses it) one a federated
    /// credential would keep using.
    pub(super) async fn prune_issuers(
        &self,
        plan: &mut Plan,
        current: &[TrustedIssuer],
        specs: &[TrustedIssuerSpec],
        current_apps: &[Application],
    ) -> Result<(), AdminError> {
        let doomed: Vec<&TrustedIssuer> = current
            .iter()
            .filter(|i| !specs.iter().any(|s| s.fields.issuer == i.issuer))
            .collect();
        if doomed.is_empty() {
            return Ok(());
        }
        // The federated credentials there will be: the stored ones of applications that stay,
        // but those deleted, and those created.
        let mut kept = plan.write.federated_created.clone();
        for app in current_apps {
            if plan.write.applications_deleted.contains(&app.client_id) {
                continue;
            }
            for cred in self
                .store
                .list_federated_credentials(&app.client_id)
                .await?
            {
                if !plan.write.federated_deleted.iter().any(|d| d.id == cred.id) {
                    kept.push(cred);
                }
            }
        }
        for issuer in doomed {
            if let Some(user) = kept.iter().find(|c| c.issuer_id == issuer.id) {
                return Err(AdminError::Invalid(format!(
                    "the trusted issuer {} is not in the file, so --prune would delete it, but \
                     the federated credential {:?} of application {} uses it: add the issuer to \
                     the file (`warrant export` writes it), or remove that credential",
                    issuer.issuer, user.name, user.client_id
                )));
            }
            let deleted = Change::TrustedIssuerDeleted {
                id: issuer.id.clone(),
                issuer: issuer.issuer.clone(),
            };
            plan.record(
                Delete,
                "trusted_issuer",
                &issuer.issuer,
                Details::none(),
                [deleted],
            );
            plan.write.issuers_deleted.push(issuer.id.clone());
        }
        Ok(())
    }
}
