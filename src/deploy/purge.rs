//! Removing an addon with its data: config.yml forgets it, then its
//! container and volumes are deleted. Both faces call [`remove_and_purge`].

use super::*;

/// Where removing an addon with its data stopped.
#[derive(Debug)]
pub enum RemoveError {
    /// The removal was refused or failed: nothing changed.
    Refused(UserError),
    /// config.yml forgot the addon, but deleting its data failed.
    PurgeFailed(UserError),
}

/// Removes `id` from config.yml — the plan the user reviewed, when one is
/// given (the console re-plans and refuses if it changed) — then deletes
/// its container and volumes on its VM. Only ever called with the name
/// typed back. Returns the deleted volumes.
pub async fn remove_and_purge(
    ws: &Workspace,
    project: &Project,
    id: &str,
    reviewed: Option<&str>,
    report: &(dyn Fn(String) + Sync),
) -> std::result::Result<Vec<String>, RemoveError> {
    // Which VM and volumes, read before the config forgets them; the
    // project lock may be waited for, so off the async workers.
    let removed = tokio::task::block_in_place(|| {
        let loaded = ws.load(project)?;
        let addon = crate::engine::require_addon(&loaded.config, id)?.clone();
        let op = Operation::Remove { id: id.to_string() };
        ws.run_reviewed(project, &op, false, reviewed)?;
        Ok::<_, UserError>((loaded, addon))
    });
    let (loaded, addon) = removed.map_err(RemoveError::Refused)?;
    purge_addon(ws, project, &loaded, &addon, report)
        .await
        .map_err(|e| {
            RemoveError::PurgeFailed(UserError {
                message: format!(
                    "{id} left config.yml, but deleting its data failed: {}",
                    e.message
                ),
                ..e
            })
        })
}

/// After an addon left config.yml: stops and removes its container on its
/// VM and deletes its volumes. Only ever called with the name typed back.
async fn purge_addon(
    ws: &Workspace,
    project: &Project,
    old: &crate::engine::Loaded,
    addon: &crate::config::Addon,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<String>> {
    let vm = &old.config.vms[&addon.vm];
    let started = audit::now();
    let operation = format!("addons remove {} --purge", addon.id());
    let _lock = lock::acquire(project, &vm.name, &operation, report).await?;
    let conn = Connected::open(ws, project, vm).await?;
    if addon.system {
        // No container or volume: its script deletes what it installed.
        crate::contract::system::purge(ws, project, &conn, addon, &old.generated.secrets).await?;
        audit::append(
            &project.audit_path(),
            &audit::Entry::since(
                started,
                operation,
                "applied",
                vec![format!("uninstall {} (data deleted)", addon.id())],
            ),
        )?;
        return Ok(Vec::new());
    }
    let name = compose_project(&project.name, &vm.name);
    let service = addon.service();
    let t = ws.catalog.require(&addon.type_name)?;
    let no_creds = indexmap::IndexMap::new();
    let creds = old
        .generated
        .secrets
        .get(&addon.type_name)
        .and_then(|i| i.get(&addon.name))
        .unwrap_or(&no_creds);
    for s in docker::project_containers(&conn.docker, &name)
        .await?
        .into_iter()
        .filter(|s| s.service == service)
    {
        // A script-backed type deletes what its script made before the
        // container and volumes go (`uninstall false`); a script that
        // fails stops here, the container and data still there.
        if t.contract.is_some() && s.state == "running" {
            report(format!("{}: contract uninstall (data deleted)", addon.id()));
            crate::contract::lifecycle::uninstall_in_container(
                project,
                t,
                addon,
                creds,
                &conn.docker,
                &s.container_id,
            )
            .await?;
        }
        conn.docker
            .remove_container(
                &s.container_id,
                Some(
                    bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .build(),
                ),
            )
            .await
            .map_err(|e| UserError::new(format!("cannot remove {service}'s container: {e}")))?;
    }
    // A renamed instance's volumes carry the name it had when they were
    // made (secrets.yml records it); another instance may have that name now.
    let wanted: Vec<String> = t
        .volumes
        .iter()
        .map(|v| generate::volume_key(addon, creds, &v.name))
        .collect();
    // Found by compose's labels, not by how a compose version spells names.
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("{}={name}", docker::COMPOSE_PROJECT)],
    )]);
    let volumes = conn
        .docker
        .list_volumes(Some(
            bollard::query_parameters::ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| UserError::new(format!("cannot list volumes on VM {}: {e}", vm.name)))?
        .volumes
        .unwrap_or_default();
    let mut removed = Vec::new();
    for v in volumes.into_iter().filter(|v| {
        v.labels
            .get("com.docker.compose.volume")
            .is_some_and(|l| wanted.contains(l))
    }) {
        conn.docker
            .remove_volume(
                &v.name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
            .map_err(|e| UserError::new(format!("cannot delete volume {}: {e}", v.name)))?;
        removed.push(v.name);
    }
    audit::append(
        &project.audit_path(),
        &audit::Entry::since(
            started,
            operation,
            "applied",
            removed
                .iter()
                .map(|v| format!("delete volume {v}"))
                .collect(),
        ),
    )?;
    Ok(removed)
}
