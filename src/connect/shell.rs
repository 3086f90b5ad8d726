//! `db shell [ADDON]`: the type's client (`connect.client` in addon.yml:
//! psql, redis-cli, mariadb ...) inside the addon's own container, on the
//! user's terminal, logged in with the instance's credentials (or its
//! readonly login), which travel as environment variables only.

use super::tty::{self, InContainer};
use super::{client_vars, destination};
use crate::deploy::target::Connected;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

/// What `db shell` runs, and where: the VM, and the client with its
/// environment, aimed at the server from inside its container.
pub fn client_in_container(
    ws: &Workspace,
    project: &Project,
    addon_id: &str,
    readonly: bool,
) -> Result<(super::Destination, InContainer)> {
    let dest = destination(ws, project, addon_id, readonly)?;
    let spec = dest.t.connect.clone().ok_or_else(|| {
        UserError::new(format!(
            "{addon_id} ({}) has no client to open: its type declares no connect:",
            dest.t.name
        ))
        .hint("open a shell in its container instead: `e` on its row in the console")
    })?;
    let port = dest
        .t
        .ports
        .first()
        .map(|p| p.container)
        .ok_or_else(|| UserError::new(format!("{} declares no port to reach", dest.t.name)))?;
    let vars = client_vars(&dest, "127.0.0.1", port);
    let render = |s: &str| {
        crate::template::render(s, &vars)
            .map_err(|m| UserError::new(format!("{}: connect uses unknown {{{m}}}", dest.t.name)))
    };
    let argv = spec
        .client
        .iter()
        .map(|a| render(a))
        .collect::<Result<Vec<_>>>()?;
    let env = spec
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), render(v)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok((dest, InContainer { argv, env }))
}

/// Runs the client until it exits; its exit code.
pub async fn db_shell(
    ws: &Workspace,
    project: &Project,
    addon_id: &str,
    readonly: bool,
) -> Result<i32> {
    let (dest, what) = client_in_container(ws, project, addon_id, readonly)?;
    let container = {
        let conn = Connected::open(ws, project, &dest.vm).await?;
        crate::backup::running_container(&conn.docker, project, &dest.addon, "no shell opened")
            .await?
            .container_id
    };
    tty::run(ws, project, &dest.vm, &container, &what).await
}
