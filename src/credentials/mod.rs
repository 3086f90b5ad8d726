//! An addon's credentials: shown masked (the catalog's `secret: true` decides
//! what is secret), and rotated inside the running server.

pub mod plan;
pub mod rotate;
pub mod show;

use std::fmt;

use crate::config::Config;
use crate::engine::secrets::Secrets;
use crate::error::{Result, UserError, choices};

/// A secret carried by an [`crate::engine::Operation`]: never printed by
/// Debug, so plans, audit entries and logs cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("••••••••")
    }
}

/// Puts a credential's new value into secrets.yml's generated section, for
/// the plan of [`crate::engine::Operation::SetCredential`]; sync keeps an
/// existing value, so every env file built from it follows.
pub fn set_in(
    secrets: &mut Secrets,
    config: &Config,
    id: &str,
    key: &str,
    value: &SecretValue,
) -> Result<()> {
    let addon = crate::engine::require_addon(config, id)?;
    let creds = secrets
        .addons
        .get_mut(&addon.type_name)
        .and_then(|m| m.get_mut(&addon.name))
        .ok_or_else(|| {
            UserError::new(format!("secrets.yml has no credentials for {id} yet"))
                .hint("run `sdtui sync` (or `sdtui up`) first")
        })?;
    match creds.get_mut(key) {
        Some(v) => {
            *v = value.expose().to_string();
            Ok(())
        }
        None => Err(UserError::new(format!("{id} has no credential {key}"))
            .hint(format!("credentials: {}", choices(creds.keys())))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Operation;

    #[test]
    fn a_rotated_value_never_shows_in_debug_or_the_audit_text() {
        let op = Operation::SetCredential {
            id: "databases.main".into(),
            key: "PASSWORD".into(),
            value: SecretValue::new("s3cr3t-value"),
        };
        assert!(!format!("{op:?}").contains("s3cr3t-value"));
        assert_eq!(
            op.describe(),
            "addons credentials rotate databases.main (PASSWORD)"
        );
    }
}
