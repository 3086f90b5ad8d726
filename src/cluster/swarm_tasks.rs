//! The reading side of a swarm project: its services and their current
//! tasks (for `up`'s wait, `status` and `down`), and each service's
//! container on its own VM's engine (for `logs` and whatever execs in it).

use std::collections::{BTreeMap, HashMap};

use bollard::Docker;
use bollard::models::{ServiceUpdateStatusStateEnum, TaskState};
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};

use super::swarm::{api_error, refuse_vm_filter, stack_label_filter};
use crate::config::{Cluster, Config};
use crate::deploy::target::Connected;
use crate::deploy::{LogSource, StatusRow};
use crate::docker::ServiceState;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

/// Where each service of the stack is placed, and whether it has a health
/// check (the catalog's word: it is what the stack was given).
pub(super) struct Placed {
    pub(super) vm: String,
    pub(super) health_check: bool,
}

pub(super) fn placement(ws: &Workspace, config: &Config) -> BTreeMap<String, Placed> {
    config
        .addons
        .iter()
        .map(|a| {
            let health_check = ws
                .catalog
                .get(&a.type_name)
                .is_some_and(|t| t.healthcheck.is_some());
            (
                a.service(),
                Placed {
                    vm: a.vm.clone(),
                    health_check,
                },
            )
        })
        .chain(config.apps.values().map(|a| {
            (
                a.name.clone(),
                Placed {
                    vm: a.vm.clone(),
                    health_check: false,
                },
            )
        }))
        .collect()
}

pub(super) struct SwarmService {
    pub(super) id: String,
    /// Without the stack's prefix: `postgres-primary`.
    pub(super) name: String,
    image: String,
    ports: Vec<String>,
}

pub(super) async fn services(docker: &Docker, project: &str) -> Result<Vec<SwarmService>> {
    let list = docker
        .list_services(Some(ListServicesOptions {
            filters: Some(stack_label_filter(project)),
            status: None,
        }))
        .await
        .map_err(|e| api_error("listing swarm services", e))?;
    let prefix = format!("{project}_");
    Ok(list
        .into_iter()
        .filter_map(|s| {
            let spec = s.spec?;
            let full = spec.name.clone()?;
            let container = spec.task_template.and_then(|t| t.container_spec);
            let ports = s
                .endpoint
                .and_then(|e| e.ports)
                .unwrap_or_default()
                .into_iter()
                .map(|p| {
                    format!(
                        "{}->{}",
                        p.published_port.unwrap_or(0),
                        p.target_port.unwrap_or(0)
                    )
                })
                .collect();
            Some(SwarmService {
                id: s.id?,
                name: full.strip_prefix(&prefix).unwrap_or(&full).to_string(),
                image: container
                    .as_ref()
                    .and_then(|c| c.image.clone())
                    .map(|i| i.split('@').next().unwrap_or_default().to_string())
                    .unwrap_or_default(),
                ports,
            })
        })
        .collect())
}

/// Containers of the stack's tasks on this engine, stopped ones too.
pub(super) async fn stack_containers(docker: &Docker, project: &str) -> Result<usize> {
    let list = docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&stack_label_filter(project))
                .build(),
        ))
        .await
        .map_err(|e| api_error("listing the stack's containers", e))?;
    Ok(list.len())
}

/// A service whose update the swarm rolled back (its new task failed).
pub(super) async fn failed_update(
    docker: &Docker,
    project: &str,
) -> Result<Option<(String, String)>> {
    let list = docker
        .list_services(Some(ListServicesOptions {
            filters: Some(stack_label_filter(project)),
            status: None,
        }))
        .await
        .map_err(|e| api_error("listing swarm services", e))?;
    Ok(list.into_iter().find_map(|s| {
        let u = s.update_status?;
        matches!(
            u.state,
            Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED)
                | Some(ServiceUpdateStatusStateEnum::ROLLBACK_STARTED)
        )
        .then(|| {
            (
                s.spec.and_then(|s| s.name).unwrap_or_default(),
                u.message.unwrap_or_default(),
            )
        })
    }))
}

/// One row per service: its current task (the one the swarm wants
/// running), placed on the VM the stack pins it to.
pub(super) async fn tasks(
    docker: &Docker,
    project: &str,
    placement: &BTreeMap<String, Placed>,
) -> Result<Vec<StatusRow>> {
    let services = services(docker, project).await?;
    let all = docker
        .list_tasks(Some(ListTasksOptions {
            filters: Some(HashMap::from([(
                "desired-state".to_string(),
                vec!["running".to_string()],
            )])),
        }))
        .await
        .map_err(|e| api_error("listing swarm tasks", e))?;
    let mut rows = Vec::new();
    for s in &services {
        let mut mine: Vec<_> = all
            .iter()
            .filter(|t| t.service_id.as_deref() == Some(s.id.as_str()))
            .collect();
        // The newest first: after an update the old one is shutting down.
        mine.sort_by_key(|t| std::cmp::Reverse(t.version.as_ref().and_then(|v| v.index)));
        let task = mine.first();
        let status = task.and_then(|t| t.status.as_ref());
        let state = status
            .and_then(|st| st.state.as_ref())
            .map(TaskState::to_string)
            .unwrap_or_else(|| "pending".into());
        let placed = placement.get(&s.name);
        let health = if !placed.is_some_and(|p| p.health_check) {
            None
        } else if state == "running" {
            // The swarm moves a task with a health check from starting to
            // running only once the check passes.
            Some("healthy".to_string())
        } else {
            Some("starting".to_string())
        };
        let container = status.and_then(|st| st.container_status.as_ref());
        rows.push(StatusRow {
            vm: placed.map(|p| p.vm.clone()).unwrap_or_else(|| "-".into()),
            state: ServiceState {
                service: s.name.clone(),
                container_id: container
                    .and_then(|c| c.container_id.clone())
                    .unwrap_or_default(),
                container: task
                    .map(|t| {
                        format!(
                            "{project}_{}.{}",
                            s.name,
                            t.slot.map(|n| n.to_string()).unwrap_or_default()
                        )
                    })
                    .unwrap_or_default(),
                state,
                health,
                image: s.image.clone(),
                started_at: status
                    .and_then(|st| st.timestamp.clone())
                    .unwrap_or_default(),
                ports: s.ports.clone(),
                exit_code: container.and_then(|c| c.exit_code),
            },
            addon: None,
        });
    }
    Ok(rows)
}

/// `status` of a swarm project: the stack's services and their tasks, read
/// on the manager.
pub async fn status(
    ws: &Workspace,
    project: &Project,
    cluster: &Cluster,
    vm_filter: Option<&str>,
) -> Result<Vec<StatusRow>> {
    refuse_vm_filter(vm_filter, "status")?;
    let loaded = ws.load(project)?;
    let vm = &loaded.config.vms[&cluster.manager];
    let conn = Connected::open(ws, project, vm).await?;
    tasks(&conn.docker, &project.name, &placement(ws, &loaded.config)).await
}

/// The containers of one service on an engine, the running one first, then
/// the newest: what `logs` and an exec into the service want.
async fn service_containers(
    docker: &Docker,
    project: &str,
    service: &str,
) -> Result<Vec<bollard::models::ContainerSummary>> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("com.docker.swarm.service.name={project}_{service}")],
    )]);
    let mut list = docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| api_error(&format!("listing the containers of {service}"), e))?;
    list.sort_by_key(|c| {
        let running = c.state.as_ref().is_some_and(|s| s.to_string() == "running");
        (!running, std::cmp::Reverse(c.created))
    });
    Ok(list)
}

fn summary_state(service: &str, c: &bollard::models::ContainerSummary) -> ServiceState {
    let status = c.status.clone().unwrap_or_default();
    ServiceState {
        service: service.to_string(),
        container_id: c.id.clone().unwrap_or_default(),
        container: c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_default(),
        state: c.state.as_ref().map(|s| s.to_string()).unwrap_or_default(),
        // `Up 3 minutes (healthy)`: the engine's summary says it.
        health: ["healthy", "unhealthy", "health: starting"]
            .iter()
            .find(|h| status.contains(&format!("({h})")))
            .map(|h| h.trim_start_matches("health: ").to_string()),
        image: c.image.clone().unwrap_or_default(),
        started_at: String::new(),
        ports: Vec::new(),
        exit_code: None,
    }
}

/// A stack service's task container on this engine (the running one, else
/// the newest), for whatever execs into it: backups, restores, shells.
pub async fn task_container(
    docker: &Docker,
    project: &str,
    service: &str,
) -> Result<Option<ServiceState>> {
    Ok(service_containers(docker, project, service)
        .await?
        .first()
        .map(|c| summary_state(service, c)))
}

/// The task container of each addon pinned to `vm`, read on that VM's
/// engine: what provisioning runs in.
pub async fn addon_task_states(
    docker: &Docker,
    project: &str,
    config: &Config,
    vm: &str,
) -> Result<Vec<ServiceState>> {
    let mut out = Vec::new();
    for a in config.addons.iter().filter(|a| a.vm == vm) {
        if let Some(s) = task_container(docker, project, &a.service()).await? {
            out.push(s);
        }
    }
    Ok(out)
}

/// A stack service's container, on the VM its placement pins it to.
pub async fn service_container(
    ws: &Workspace,
    project: &Project,
    service: &str,
) -> Result<(Docker, ServiceState)> {
    let loaded = ws.load(project)?;
    let placed = placement(ws, &loaded.config);
    let Some(p) = placed.get(service) else {
        return Err(UserError::new(format!("no service \"{service}\""))
            .hint(crate::config::hint_choices("services", placed.keys())));
    };
    let vm = &loaded.config.vms[&p.vm];
    let conn = Connected::open(ws, project, vm).await?;
    let list = service_containers(&conn.docker, &project.name, service).await?;
    let c = list.first().ok_or_else(|| {
        UserError::new(format!("{service} has no task container on VM {}", vm.name))
            .hint(format!("deploy the stack: sdtui -p {} up", project.name))
    })?;
    Ok((conn.docker, summary_state(service, c)))
}

/// The stack's containers whose logs `logs` follows, each read on the
/// engine of the VM its service is pinned to: one connection per VM.
pub async fn log_sources(
    ws: &Workspace,
    project: &Project,
    cluster: &Cluster,
    vm_filter: Option<&str>,
) -> Result<Vec<LogSource>> {
    let loaded = ws.load(project)?;
    let placed = placement(ws, &loaded.config);
    let mut sources = Vec::new();
    for vm in crate::deploy::select_vms(&loaded.config, vm_filter)? {
        if !cluster.nodes.contains(&vm.name) {
            continue;
        }
        let mine: Vec<&String> = placed
            .iter()
            .filter(|(_, p)| p.vm == vm.name)
            .map(|(s, _)| s)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let conn = Connected::open(ws, project, vm).await?;
        for service in mine {
            if let Some(c) = service_containers(&conn.docker, &project.name, service)
                .await?
                .first()
            {
                sources.push(LogSource {
                    vm: vm.name.clone(),
                    service: service.clone(),
                    container_id: c.id.clone().unwrap_or_default(),
                    docker: conn.docker.clone(),
                });
            }
        }
    }
    if sources.is_empty() {
        return Err(
            UserError::new(format!("the stack {} has no task containers", project.name))
                .hint(format!("deploy it first: sdtui -p {} up", project.name)),
        );
    }
    Ok(sources)
}

/// What the console shows of a task: its state, or `failed` when it is not
/// running and the swarm's previous try of it failed (the swarm then tries
/// again, so the current task alone would only ever say `starting`).
fn shown_state(current: Option<&str>, previous_failed: bool) -> String {
    match current {
        Some("running") => "running".into(),
        _ if previous_failed => "failed".into(),
        Some(state) => state.into(),
        None => "pending".into(),
    }
}

/// The console's rows of a swarm project, read on the manager: one per
/// service, its task's state (`running`, `starting`, `failed` ...) and,
/// as the row's VM, the VM of the node the task is on (its `sdtui.vm`
/// label, else the node's hostname).
pub async fn task_rows(
    ws: &Workspace,
    project: &Project,
    docker: &Docker,
) -> Result<Vec<StatusRow>> {
    let loaded = ws.load(project)?;
    let placed = placement(ws, &loaded.config);
    let mut rows = tasks(docker, &project.name, &placed).await?;
    let services = services(docker, &project.name).await?;
    if services.is_empty() {
        return Ok(rows);
    }
    let nodes: HashMap<String, String> = docker
        .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
        .await
        .map_err(|e| api_error("listing swarm nodes", e))?
        .into_iter()
        .filter_map(|n| {
            let vm = n
                .spec
                .and_then(|s| s.labels)
                .and_then(|l| l.get(super::stack::NODE_LABEL).cloned())
                .or_else(|| n.description.and_then(|d| d.hostname))?;
            Some((n.id?, vm))
        })
        .collect();
    let all = docker
        .list_tasks(Some(ListTasksOptions {
            filters: Some(HashMap::from([(
                "service".to_string(),
                services.iter().map(|s| s.id.clone()).collect(),
            )])),
        }))
        .await
        .map_err(|e| api_error("listing swarm tasks", e))?;
    for s in &services {
        let Some(row) = rows.iter_mut().find(|r| r.state.service == s.name) else {
            continue;
        };
        let mut mine: Vec<_> = all
            .iter()
            .filter(|t| t.service_id.as_deref() == Some(s.id.as_str()))
            .collect();
        mine.sort_by_key(|t| std::cmp::Reverse(t.version.as_ref().and_then(|v| v.index)));
        let desired_running =
            |t: &&bollard::models::Task| t.desired_state == Some(TaskState::RUNNING);
        let current = mine.iter().find(|t| desired_running(t));
        let failed = mine.iter().find(|t| {
            !desired_running(t)
                && t.status
                    .as_ref()
                    .and_then(|st| st.state)
                    .is_some_and(|st| matches!(st, TaskState::FAILED | TaskState::REJECTED))
        });
        let current_state = current
            .and_then(|t| t.status.as_ref())
            .and_then(|st| st.state)
            .map(|st| st.to_string());
        let state = shown_state(current_state.as_deref(), failed.is_some());
        let shown = if state == "failed" { failed } else { current };
        if state == "failed" {
            row.state.health = None;
            row.state.exit_code = failed
                .and_then(|t| t.status.as_ref())
                .and_then(|st| st.container_status.as_ref())
                .and_then(|c| c.exit_code);
        }
        row.state.state = state;
        if let Some(vm) = shown
            .and_then(|t| t.node_id.as_ref())
            .and_then(|id| nodes.get(id))
        {
            row.vm = vm.clone();
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::shown_state;

    #[test]
    fn a_task_the_swarm_retries_after_a_failure_shows_failed() {
        assert_eq!(shown_state(Some("running"), true), "running");
        assert_eq!(shown_state(Some("starting"), true), "failed");
        assert_eq!(shown_state(Some("starting"), false), "starting");
        assert_eq!(shown_state(None, false), "pending");
        assert_eq!(shown_state(None, true), "failed");
    }
}
