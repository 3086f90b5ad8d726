//! `addons credentials ADDON`: every credential of an instance, with which
//! ones are secret.

use serde::Serialize;

use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError, choices};

#[derive(Debug, Clone, Serialize)]
pub struct Credential {
    pub name: String,
    pub value: String,
    /// The catalog's rule ([`crate::catalog::AddonType::is_secret_credential`]).
    pub secret: bool,
}

/// An instance's credentials as secrets.yml holds them (what a sync would
/// write, when it is behind), in the catalog's order.
pub fn list(ws: &Workspace, project: &Project, id: &str) -> Result<Vec<Credential>> {
    let loaded = ws.load(project)?;
    let addon = crate::engine::require_addon(&loaded.config, id)?;
    let t = ws.catalog.require(&addon.type_name)?;
    Ok(loaded.generated.secrets[&addon.type_name][&addon.name]
        .iter()
        .map(|(k, v)| Credential {
            name: k.clone(),
            value: v.clone(),
            secret: t.is_secret_credential(k),
        })
        .collect())
}

/// `creds` with every secret masked but `reveal` (a name that must exist).
pub fn masked(creds: &[Credential], id: &str, reveal: Option<&str>) -> Result<Vec<Credential>> {
    if let Some(name) = reveal
        && !creds.iter().any(|c| c.name == name)
    {
        return Err(
            UserError::new(format!("{id} has no credential \"{name}\"")).hint(format!(
                "credentials: {}",
                choices(creds.iter().map(|c| &c.name))
            )),
        );
    }
    Ok(creds
        .iter()
        .map(|c| Credential {
            value: if c.secret && Some(c.name.as_str()) != reveal {
                "••••••••".into()
            } else {
                c.value.clone()
            },
            ..c.clone()
        })
        .collect())
}
