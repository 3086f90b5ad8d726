//! Live state per VM, a service's container, and the sources `logs`
//! follows.

use super::*;

#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    pub vm: String,
    #[serde(flatten)]
    pub state: ServiceState,
    /// An addon's installation status and health in the contract's values
    /// (absent for apps and backup services).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addon: Option<crate::contract::status::AddonStatus>,
}

/// Gives each addon's row its contract values, and adds a `not_installed`
/// row for each addon config.yml puts on `vm` that has no container.
fn with_addon_values(config: &crate::config::Config, vm: &str, rows: &mut Vec<StatusRow>) {
    use crate::contract::status::from_container;
    for a in config.addons.iter().filter(|a| a.vm == vm) {
        let service = a.service();
        // Kept on purpose (an upgrade's old instance): installed, its data
        // in its volume, not meant to run.
        if !a.runs() && !rows.iter().any(|r| r.state.service == service) {
            rows.push(StatusRow {
                vm: vm.to_string(),
                state: ServiceState {
                    service,
                    state: "stopped".into(),
                    ..ServiceState::default()
                },
                addon: Some(crate::contract::status::AddonStatus {
                    status: Some(crate::contract::status::InstallStatus::Installed),
                    health: crate::contract::status::Health::Unknown,
                    detail: "state: stopped (its volume kept)".into(),
                }),
            });
            continue;
        }
        match rows.iter_mut().find(|r| r.state.service == service) {
            Some(row) => row.addon = Some(from_container(Some(&row.state))),
            None => rows.push(StatusRow {
                vm: vm.to_string(),
                state: ServiceState {
                    service,
                    state: "absent".into(),
                    ..ServiceState::default()
                },
                addon: Some(from_container(None)),
            }),
        }
    }
}

/// A script-backed addon's values from its own `status`/`health`.
async fn refine_with_scripts(
    ws: &Workspace,
    project: &Project,
    config: &crate::config::Config,
    docker: &Docker,
    rows: &mut [StatusRow],
) {
    for row in rows.iter_mut() {
        let Some(addon) = config
            .addons
            .iter()
            .find(|a| a.service() == row.state.service)
        else {
            continue;
        };
        let (Some(t), Some(values)) = (ws.catalog.get(&addon.type_name), row.addon.clone()) else {
            continue;
        };
        row.addon =
            Some(crate::contract::lifecycle::refine(project, t, docker, &row.state, values).await);
    }
}

/// Live state of every service on one VM, through its engine.
pub async fn vm_status(docker: &Docker, project: &Project, vm: &str) -> Result<Vec<StatusRow>> {
    let states = docker::project_containers(docker, &compose_project(&project.name, vm)).await?;
    Ok(states
        .into_iter()
        .map(|state| StatusRow {
            vm: vm.to_string(),
            state,
            addon: None,
        })
        .collect())
}

/// Live state of every service on the project's VMs.
pub async fn status(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
) -> Result<Vec<StatusRow>> {
    if let Some(cluster) = crate::cluster::swarm::cluster_of(ws, project)? {
        return crate::cluster::swarm::status(ws, project, &cluster, vm_filter).await;
    }
    let loaded = ws.load(project)?;
    let vms = select_vms(&loaded.config, vm_filter)?;
    // Every VM at once; one engine call per container, no polling.
    let per_vm = join_all(vms.iter().map(|vm| async move {
        let conn = Connected::open(ws, project, vm).await?;
        vm_status(&conn.docker, project, &vm.name).await
    }))
    .await;
    let mut rows = Vec::new();
    for (vm, r) in vms.iter().zip(per_vm) {
        let mut vm_rows = r?;
        with_addon_values(&loaded.config, &vm.name, &mut vm_rows);
        rows.extend(vm_rows);
    }
    Ok(rows)
}

/// Live state of every service, at most `--parallel` VMs at once; a VM
/// that cannot be read fails alone: its expected services come back as
/// rows in state `unreachable`, and the VM with why.
pub async fn status_by_vm(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
) -> Result<(Vec<StatusRow>, Vec<(String, UserError)>)> {
    if let Some(cluster) = crate::cluster::swarm::cluster_of(ws, project)? {
        let rows = crate::cluster::swarm::status(ws, project, &cluster, vm_filter).await?;
        return Ok((rows, Vec::new()));
    }
    let loaded = ws.load(project)?;
    let vms = select_vms(&loaded.config, vm_filter)?;
    let config = &loaded.config;
    let secrets = &loaded.generated.secrets;
    let runs: Vec<_> = vms
        .iter()
        .map(|vm| async move {
            let conn = Connected::open(ws, project, vm).await?;
            let mut rows = vm_status(&conn.docker, project, &vm.name).await?;
            with_addon_values(config, &vm.name, &mut rows);
            refine_with_scripts(ws, project, config, &conn.docker, &mut rows).await;
            crate::contract::system::refine_rows(
                ws, project, config, secrets, &vm.name, &conn, &mut rows,
            )
            .await;
            Ok::<_, UserError>(rows)
        })
        .collect();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (vm, result) in vms.iter().zip(fanout::bounded(runs, ws.parallel).await) {
        let mut vm_rows: Vec<StatusRow> = match result {
            Ok(r) => r,
            Err(e) => {
                failed.push((vm.name.clone(), e));
                super::up::expected_services(&loaded.config, &vm.name)
                    .into_iter()
                    .map(|service| StatusRow {
                        vm: vm.name.clone(),
                        state: ServiceState {
                            service,
                            state: "unreachable".into(),
                            ..ServiceState::default()
                        },
                        addon: None,
                    })
                    .collect()
            }
        };
        if vm_rows.iter().all(|r| r.addon.is_none()) {
            with_addon_values(&loaded.config, &vm.name, &mut vm_rows);
        }
        rows.extend(vm_rows);
    }
    Ok((rows, failed))
}

/// Finds a service's container on whichever VM runs it.
pub async fn service_container(
    ws: &Workspace,
    project: &Project,
    service: &str,
) -> Result<(Docker, ServiceState)> {
    if crate::cluster::swarm::cluster_of(ws, project)?.is_some() {
        return crate::cluster::swarm::service_container(ws, project, service).await;
    }
    // config.yml says which VM runs it: one connection, to that VM only.
    let loaded = ws.load(project)?;
    let addon_vm = loaded
        .config
        .addons
        .iter()
        .find(|a| a.service() == service)
        .map(|a| a.vm.clone());
    let vm_name = addon_vm
        .or_else(|| loaded.config.apps.get(service).map(|a| a.vm.clone()))
        .ok_or_else(|| {
            let names = loaded
                .config
                .vms
                .keys()
                .flat_map(|vm| expected_services(&loaded.config, vm));
            UserError::new(format!("no service \"{service}\""))
                .hint(crate::config::hint_choices("services", names))
        })?;
    let vm = &loaded.config.vms[&vm_name];
    let conn = Connected::open(ws, project, vm).await?;
    let state = docker::project_containers(&conn.docker, &compose_project(&project.name, &vm.name))
        .await?
        .into_iter()
        .find(|s| s.service == service)
        .ok_or_else(|| {
            UserError::new(format!("{service} has no container on VM {}", vm.name)).hint(format!(
                "deploy it: sdtui -p {} up --vm {}",
                project.name, vm.name
            ))
        })?;
    Ok((conn.docker, state))
}

/// A container whose logs `logs` follows, with the client of its VM.
pub struct LogSource {
    pub vm: String,
    pub service: String,
    pub container_id: String,
    pub docker: Docker,
}

/// Every container of the project (or of one VM), stopped ones too, as
/// `docker compose logs` reads them: one connection per VM.
pub async fn log_sources(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
) -> Result<Vec<LogSource>> {
    if let Some(cluster) = crate::cluster::swarm::cluster_of(ws, project)? {
        return crate::cluster::swarm::log_sources(ws, project, &cluster, vm_filter).await;
    }
    let loaded = ws.load(project)?;
    let vms = select_vms(&loaded.config, vm_filter)?;
    let per_vm = join_all(vms.iter().map(|vm| async move {
        let conn = Connected::open(ws, project, vm).await?;
        let containers =
            docker::project_containers(&conn.docker, &compose_project(&project.name, &vm.name))
                .await?;
        Ok::<_, UserError>(
            containers
                .into_iter()
                .map(|c| LogSource {
                    vm: vm.name.clone(),
                    service: c.service,
                    container_id: c.container_id,
                    docker: conn.docker.clone(),
                })
                .collect::<Vec<_>>(),
        )
    }))
    .await;
    let mut sources = Vec::new();
    for r in per_vm {
        sources.extend(r?);
    }
    if sources.is_empty() {
        let scope = vm_filter.map(|v| format!(" on VM {v}")).unwrap_or_default();
        return Err(
            UserError::new(format!("project {} has no containers{scope}", project.name))
                .hint(format!("deploy it first: sdtui -p {} up", project.name)),
        );
    }
    Ok(sources)
}
