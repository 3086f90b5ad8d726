//! What a rotation will change, read before it runs (the console's review
//! step): the login, the files the engine rewrites, the apps recreated.
//! Reads only; the new password is not made here.

use serde::Serialize;

use super::SecretValue;
use super::rotate::{apps_using, login};
use crate::engine::{Operation, Project, Workspace};
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct RotatePlan {
    pub addon: String,
    /// The login whose password changes (its name, or its secrets.yml key
    /// when the name itself is secret).
    pub user: String,
    /// Its secrets.yml key (`PASSWORD`, `READONLY_PASSWORD`).
    pub credential: String,
    /// Files the engine rewrites: `update secrets.yml`, `update compose/...`.
    pub files: Vec<String>,
    /// Apps that use this login, recreated onto the new password: (app, VM).
    pub apps: Vec<(String, String)>,
}

/// The plan of rotating `id`'s main (or readonly) password; refused for the
/// same reasons [`super::rotate::rotate`] refuses before touching anything.
pub fn plan(ws: &Workspace, project: &Project, id: &str, readonly: bool) -> Result<RotatePlan> {
    let loaded = ws.load(project)?;
    let addon = crate::engine::require_addon(&loaded.config, id)?;
    let t = ws.catalog.require(&addon.type_name)?;
    let login = login(t, addon, readonly)?;
    let user = loaded
        .secrets
        .instance(&addon.type_name, &addon.name)
        .and_then(|c| c.get(&login.user_key).cloned())
        .filter(|_| !t.is_secret_credential(&login.user_key))
        .unwrap_or_else(|| login.user_key.clone());
    // Any value other than the current one changes the same files; this one
    // is never saved and never shown.
    let placeholder = Operation::SetCredential {
        id: id.to_string(),
        key: login.pass_key.clone(),
        value: SecretValue::new("sdtui-rotation-preview"),
    };
    let files = ws
        .plan(project, &placeholder)?
        .summary()
        .into_iter()
        .map(|c| format!("{} {}", c.action, c.path))
        .collect();
    Ok(RotatePlan {
        addon: id.to_string(),
        user,
        credential: login.pass_key.clone(),
        files,
        apps: apps_using(&loaded.config, id, login.access),
    })
}
