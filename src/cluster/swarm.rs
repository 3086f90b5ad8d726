//! `up`, `down` and `status` of a project with `cluster: {kind: swarm}`:
//! the generated stack deployed with `docker stack deploy` on the manager
//! (the local engine, or over the manager's SSH session), its secrets
//! created through the Docker API, and the swarm's services and tasks read
//! back through the same API.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{LocalNodeState, SecretSpec};
use bollard::query_parameters::{ListSecretsOptions, UpdateNodeOptionsBuilder};

use super::stack::{self, NODE_LABEL, STACK_FILE};
use super::swarm_tasks::{Placed, failed_update, placement, services, stack_containers, tasks};
pub use super::swarm_tasks::{
    addon_task_states, log_sources, service_container, status, task_container, task_rows,
};
use crate::config::{Cluster, Config, Vm};
use crate::deploy::target::{Connected, Target};
use crate::deploy::{Action, ServiceReport, StatusRow, lock};
use crate::engine::{Loaded, Operation, Project, Workspace, audit};
use crate::error::{Result, UserError};
use crate::ssh::RemoteCommand;

/// The project's swarm, when config.yml declares one.
pub fn cluster_of(ws: &Workspace, project: &Project) -> Result<Option<Cluster>> {
    Ok(ws.load(project)?.config.cluster)
}

pub(super) fn refuse_vm_filter(vm_filter: Option<&str>, what: &str) -> Result<()> {
    match vm_filter {
        None => Ok(()),
        Some(f) => Err(UserError::new(format!(
            "--vm {f}: a swarm project's {what} covers the whole stack"
        ))
        .hint("leave --vm out; the stack places each service on its VM's node")),
    }
}

pub(super) fn stack_label_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("com.docker.stack.namespace={project}")],
    )])
}

pub(super) fn api_error(what: &str, e: bollard::errors::Error) -> UserError {
    UserError::new(format!("{what}: {e}"))
}

/// The node of each VM: its engine must be an active swarm member. The
/// manager's connection is returned for the rest of the work.
async fn nodes_of(
    ws: &Workspace,
    project: &Project,
    config: &Config,
    cluster: &Cluster,
    report: &(dyn Fn(String) + Sync),
) -> Result<(Connected, Vec<(String, String)>)> {
    let mut manager = None;
    let mut nodes: Vec<(String, String)> = Vec::new();
    for name in &cluster.nodes {
        let vm: &Vm = &config.vms[name];
        report(format!("VM {name}: connecting"));
        let conn = Connected::open(ws, project, vm).await?;
        let info = conn
            .docker
            .info()
            .await
            .map_err(|e| api_error(&format!("VM {name}: docker info"), e))?;
        let swarm = info.swarm.unwrap_or_default();
        let state = swarm.local_node_state.unwrap_or(LocalNodeState::INACTIVE);
        let node_id = swarm.node_id.unwrap_or_default();
        if state != LocalNodeState::ACTIVE || node_id.is_empty() {
            return Err(UserError::new(format!(
                "VM {name} is not a swarm member (its engine's swarm state: {state})"
            ))
            .hint(format!(
                "join it to the swarm (`docker swarm join` with the token `docker swarm join-token worker` prints on {}), or take it out of the cluster's `nodes:`",
                cluster.manager
            )));
        }
        if name == &cluster.manager && swarm.control_available != Some(true) {
            return Err(UserError::new(format!(
                "VM {name}, the cluster's manager, is a swarm worker, not a manager"
            ))
            .hint(format!(
                "promote it (`docker node promote` on a manager) or name a manager VM in `cluster.manager`; {name}'s node is {node_id}"
            )));
        }
        if let Some((other, _)) = nodes.iter().find(|(_, id)| *id == node_id) {
            return Err(UserError::new(format!(
                "VMs {other} and {name} are the same swarm node ({node_id})"
            ))
            .hint("list each node once under `vms:`"));
        }
        nodes.push((name.clone(), node_id));
        if name == &cluster.manager {
            manager = Some(conn);
        }
    }
    let manager = manager.ok_or_else(|| {
        UserError::new(format!(
            "cluster manager {} is not one of its nodes",
            cluster.manager
        ))
    })?;
    Ok((manager, nodes))
}

/// Labels each VM's node `sdtui.vm=<vm>` (placement constraints name it),
/// and warns when the plans placed on a node ask more memory than it has.
async fn label_nodes(
    docker: &Docker,
    ws: &Workspace,
    config: &Config,
    nodes: &[(String, String)],
    report: &(dyn Fn(String) + Sync),
) -> Result<()> {
    for (vm, id) in nodes {
        let node = docker
            .inspect_node(id)
            .await
            .map_err(|e| api_error(&format!("node of VM {vm}"), e))?;
        let mut spec = node.spec.clone().unwrap_or_default();
        let labels = spec.labels.get_or_insert_with(HashMap::new);
        if labels.get(NODE_LABEL) != Some(vm) {
            labels.insert(NODE_LABEL.to_string(), vm.clone());
            let version = node.version.and_then(|v| v.index).unwrap_or(0) as i64;
            docker
                .update_node(
                    id,
                    spec,
                    UpdateNodeOptionsBuilder::new().version(version).build(),
                )
                .await
                .map_err(|e| api_error(&format!("labelling the node of VM {vm}"), e))?;
            report(format!("VM {vm}: node {id} labelled {NODE_LABEL}={vm}"));
        }
        let memory = node
            .description
            .and_then(|d| d.resources)
            .and_then(|r| r.memory_bytes);
        if let Some(memory) = memory {
            for line in memory_warnings(ws, config, vm, memory) {
                report(line);
            }
        }
    }
    Ok(())
}

/// A warning per plan on `vm` whose limit passes the node's memory, and one
/// when their sum does.
pub fn memory_warnings(ws: &Workspace, config: &Config, vm: &str, node_bytes: i64) -> Vec<String> {
    let mib = |b: i64| b / (1024 * 1024);
    let mut out = Vec::new();
    let mut total = 0;
    for addon in config.addons.iter().filter(|a| a.vm == vm && !a.system) {
        let Some(t) = ws.catalog.get(&addon.type_name) else {
            continue;
        };
        let limit = &t.plans[&addon.plan].memory;
        let Some(bytes) = stack::memory_bytes(limit) else {
            continue;
        };
        total += bytes;
        if bytes > node_bytes {
            out.push(format!(
                "warning: addon {} (plan {}, memory {limit}) asks more than node {vm} has ({} MiB)",
                addon.id(),
                addon.plan,
                mib(node_bytes)
            ));
        }
    }
    if out.is_empty() && total > node_bytes {
        out.push(format!(
            "warning: the plans on node {vm} ask {} MiB together, more than its {} MiB",
            mib(total),
            mib(node_bytes)
        ));
    }
    out
}

/// Creates the stack's Docker secrets that do not exist yet, from memory
/// through the API: the values touch no file and no command line.
async fn create_secrets(docker: &Docker, wanted: &[stack::DockerSecret]) -> Result<()> {
    let existing: Vec<String> = docker
        .list_secrets(None::<ListSecretsOptions>)
        .await
        .map_err(|e| api_error("listing swarm secrets", e))?
        .into_iter()
        .filter_map(|s| s.spec.and_then(|s| s.name))
        .collect();
    for s in wanted.iter().filter(|s| !existing.contains(&s.name)) {
        docker
            .create_secret(SecretSpec {
                name: Some(s.name.clone()),
                data: Some(base64(s.value.as_bytes())),
                ..Default::default()
            })
            .await
            .map_err(|e| api_error(&format!("creating swarm secret {}", s.name), e))?;
    }
    Ok(())
}

/// Secrets of this project no stack version uses any more (rotated values).
async fn remove_stale_secrets(docker: &Docker, project: &str, keep: &[String]) {
    let Ok(all) = docker.list_secrets(None::<ListSecretsOptions>).await else {
        return;
    };
    for s in all {
        let (Some(id), Some(name)) = (s.id, s.spec.and_then(|s| s.name)) else {
            continue;
        };
        if name.starts_with(&format!("{project}_")) && !keep.contains(&name) {
            // One still in use by a service is refused by the engine: kept.
            let _ = docker.delete_secret(&id).await;
        }
    }
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Puts the stack's files where the manager's `docker` reads them and
/// runs `docker stack deploy` of `file` (one of them), with `--prune` when
/// it is the whole stack.
async fn stack_deploy(
    conn: &Connected,
    project: &Project,
    loaded: &Loaded,
    file: &str,
    prune: bool,
) -> Result<String> {
    let dir = stack::stack_dir();
    let args = |path: String| {
        let mut a = vec!["stack".to_string(), "deploy".into()];
        if prune {
            a.push("--prune".into());
        }
        a.extend([
            "--resolve-image".into(),
            "never".into(),
            "-c".into(),
            path,
            project.name.clone(),
        ]);
        a
    };
    match &conn.target {
        Target::Local { .. } => {
            // The generation the `compose` link points at now: a sync
            // meanwhile does not change it under `docker`.
            let generated = std::fs::canonicalize(project.dir.join(&dir))
                .map_err(|e| crate::error::io_error(&project.dir.join(&dir), "read", e))?;
            crate::deploy::run(&crate::deploy::Command {
                program: "docker".into(),
                args: args(generated.join(file).to_string_lossy().into_owned()),
                dir: generated,
            })
            .await
        }
        Target::Remote { session, .. } => {
            let base = format!(".sdtui/{}/{}", project.name, stack::STACK_DIR);
            crate::deploy::target::remote(
                session,
                RemoteCommand::new(
                    "sh",
                    [
                        "-c",
                        "rm -rf \"$1\" && mkdir -p -m 700 \"$1/env\"",
                        "sh",
                        &base,
                    ],
                ),
            )
            .await?;
            for f in loaded.generated.files.iter() {
                let Ok(rel) = f.rel.strip_prefix(&dir) else {
                    continue;
                };
                session
                    .upload(
                        &format!("{base}/{}", rel.display()),
                        f.content.as_bytes(),
                        f.mode,
                    )
                    .await?;
            }
            let cmd = RemoteCommand::new("docker", args(format!("{base}/{file}")));
            crate::deploy::target::remote(session, cmd).await
        }
    }
}

/// `up` of a swarm project: sync, check the nodes, label them, create the
/// secrets, `docker stack deploy`, then wait until every service's task
/// runs (a task with a health check counts as running only once healthy).
pub async fn up(
    ws: &Workspace,
    project: &Project,
    cluster: &Cluster,
    vm_filter: Option<&str>,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<ServiceReport>> {
    refuse_vm_filter(vm_filter, "up")?;
    let manager = cluster.manager.clone();
    let locks = lock::acquire_all(project, std::slice::from_ref(&manager), "up", report).await?;
    let started = audit::now();
    ws.run(project, &Operation::Sync, false)?;
    let loaded = ws.load(project)?;
    let result = up_locked(ws, project, &loaded, cluster, timeout, report).await;
    audit::append(
        &project.audit_path(),
        &audit::Entry::since(
            started,
            project.audit_label("up (swarm stack)"),
            match &result {
                Ok(_) => "applied".to_string(),
                Err(e) => format!("failed: {}", e.message.lines().next().unwrap_or_default()),
            },
            result
                .as_ref()
                .map(|r| {
                    r.iter()
                        .map(|r| format!("{}/{} {:?}", r.vm, r.service, r.action).to_lowercase())
                        .collect()
                })
                .unwrap_or_default(),
        ),
    )?;
    drop(locks);
    result
}

async fn up_locked(
    ws: &Workspace,
    project: &Project,
    loaded: &Loaded,
    cluster: &Cluster,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<ServiceReport>> {
    let config = &loaded.config;
    let (conn, nodes) = nodes_of(ws, project, config, cluster, report).await?;
    let docker = &conn.docker;
    label_nodes(docker, ws, config, &nodes, report).await?;
    let stack = stack::stack(
        &project.name,
        config,
        &ws.catalog,
        &loaded.generated.secrets,
        &loaded.secrets,
    )?;
    create_secrets(docker, &stack.secrets).await?;
    let wanted = placement(ws, config);
    // A service whose task keeps its container was left as it was.
    let before: HashMap<String, String> = tasks(docker, &project.name, &wanted)
        .await?
        .into_iter()
        .map(|r| (r.state.service, r.state.container_id))
        .collect();
    let deadline = Instant::now() + timeout;
    // Addons first, healthy and provisioned, then the whole stack: an app
    // starts once its readonly role exists, as with compose. Without
    // --prune the apps already deployed stay as they are meanwhile.
    let addons: BTreeMap<&String, &Placed> = wanted
        .iter()
        .filter(|(s, _)| config.addons.iter().any(|a| a.service() == **s))
        .collect();
    if !addons.is_empty() {
        report(format!(
            "VM {}: docker stack deploy {} (addons)",
            cluster.manager, project.name
        ));
        stack_deploy(&conn, project, loaded, stack::ADDONS_FILE, false).await?;
        wait_running(docker, &project.name, &wanted, &addons, deadline, timeout).await?;
        report("provisioning attachments (readonly roles, users)".into());
        provision(ws, project, loaded, cluster, &conn).await?;
    }
    report(format!(
        "VM {}: docker stack deploy {}",
        cluster.manager, project.name
    ));
    stack_deploy(&conn, project, loaded, STACK_FILE, true).await?;
    let all: BTreeMap<&String, &Placed> = wanted.iter().collect();
    let rows = wait_running(docker, &project.name, &wanted, &all, deadline, timeout).await?;
    let keep: Vec<String> = stack.secrets.iter().map(|s| s.name.clone()).collect();
    remove_stale_secrets(docker, &project.name, &keep).await;
    Ok(rows
        .into_iter()
        .filter(|r| r.state.state == "running")
        .map(|r| {
            let action = match before.get(&r.state.service) {
                None => Action::Created,
                Some(id) if *id == r.state.container_id => Action::Unchanged,
                Some(_) => Action::Recreated,
            };
            report(format!(
                "VM {}: {} {}",
                r.vm,
                r.state.service,
                r.state.health.as_deref().unwrap_or("running")
            ));
            ServiceReport {
                vm: r.vm,
                service: r.state.service,
                action,
                health: r.state.health.unwrap_or_else(|| "running".into()),
                container_id: r.state.container_id.chars().take(12).collect(),
                detail: None,
                compose: Some("docker stack deploy".into()),
            }
        })
        .collect())
}

/// Waits until each of `services` has a running task (healthy, for one
/// with a health check); a rollback by the swarm is a failure.
async fn wait_running(
    docker: &Docker,
    project: &str,
    wanted: &BTreeMap<String, Placed>,
    services: &BTreeMap<&String, &Placed>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Vec<StatusRow>> {
    loop {
        let rows = tasks(docker, project, wanted).await?;
        let failed = failed_update(docker, project).await?;
        if let Some((service, message)) = failed {
            return Err(UserError::new(format!(
                "swarm rolled {service} back: {message}"
            ))
            .hint("the previous version runs again; see `sdtui logs SERVICE` for why the new one failed (its health check, or its container exited)"));
        }
        let running = |s: &str| {
            rows.iter()
                .any(|r| r.state.service == s && r.state.state == "running")
        };
        let waiting: Vec<&String> = services.keys().copied().filter(|s| !running(s)).collect();
        if waiting.is_empty() {
            return Ok(rows);
        }
        if Instant::now() > deadline {
            let waiting: Vec<String> = waiting
                .iter()
                .map(|s| {
                    let last = rows.iter().find(|r| r.state.service == **s);
                    format!(
                        "{s} ({})",
                        last.map(|r| r.state.state.as_str()).unwrap_or("no task")
                    )
                })
                .collect();
            return Err(UserError::new(format!(
                "the stack's services did not all run healthy within {}s: {}",
                timeout.as_secs(),
                waiting.join(", ")
            ))
            .hint("`sdtui status` shows each task's state; a task that keeps failing its health check is restarted by the swarm"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What `up` does after compose, in a stack: each node's addons provisioned
/// in their task containers, on that node's engine (the manager's
/// connection for its own tasks, the node's VM connection for the others).
async fn provision(
    ws: &Workspace,
    project: &Project,
    loaded: &Loaded,
    cluster: &Cluster,
    manager: &Connected,
) -> Result<()> {
    let config = &loaded.config;
    for vm in &cluster.nodes {
        if !config.addons.iter().any(|a| &a.vm == vm) {
            continue;
        }
        let other;
        let conn = if *vm == cluster.manager {
            manager
        } else {
            other = Connected::open(ws, project, &config.vms[vm]).await?;
            &other
        };
        let states = addon_task_states(&conn.docker, &project.name, config, vm).await?;
        crate::deploy::provision(
            ws,
            config,
            &loaded.generated.secrets,
            vm,
            &conn.docker,
            &states,
        )
        .await?;
    }
    Ok(())
}

/// `down` of a swarm project: `docker stack rm` on the manager, waiting
/// until its services are gone; volumes (the data) stay on their nodes.
pub async fn down(
    ws: &Workspace,
    project: &Project,
    cluster: &Cluster,
    vm_filter: Option<&str>,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<ServiceReport>> {
    refuse_vm_filter(vm_filter, "down")?;
    let manager = cluster.manager.clone();
    let locks = lock::acquire_all(project, std::slice::from_ref(&manager), "down", report).await?;
    let started = audit::now();
    let loaded = ws.load(project)?;
    let result = async {
        let vm = &loaded.config.vms[&manager];
        let conn = Connected::open(ws, project, vm).await?;
        let before = tasks(&conn.docker, &project.name, &placement(ws, &loaded.config)).await?;
        report(format!("VM {manager}: docker stack rm {}", project.name));
        let args = ["stack", "rm", project.name.as_str()];
        match &conn.target {
            Target::Local { .. } => {
                crate::deploy::run(&crate::deploy::Command {
                    program: "docker".into(),
                    args: args.iter().map(|s| s.to_string()).collect(),
                    dir: std::env::temp_dir(),
                })
                .await?;
            }
            Target::Remote { session, .. } => {
                crate::deploy::target::remote(session, RemoteCommand::new("docker", args)).await?;
            }
        }
        // `stack rm` returns before the tasks stop: wait for their
        // containers, so the volumes are free when this returns.
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            let left = stack_containers(&conn.docker, &project.name).await?;
            if left == 0 && services(&conn.docker, &project.name).await?.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        remove_stale_secrets(&conn.docker, &project.name, &[]).await;
        Ok::<_, UserError>(
            before
                .into_iter()
                .map(|r| ServiceReport {
                    vm: r.vm,
                    service: r.state.service,
                    action: Action::Removed,
                    health: "stopped".into(),
                    container_id: r.state.container_id.chars().take(12).collect(),
                    detail: None,
                    compose: None,
                })
                .collect::<Vec<_>>(),
        )
    }
    .await;
    audit::append(
        &project.audit_path(),
        &audit::Entry::since(
            started,
            project.audit_label("down (swarm stack)"),
            match &result {
                Ok(_) => "applied".to_string(),
                Err(e) => format!("failed: {}", e.message.lines().next().unwrap_or_default()),
            },
            vec![],
        ),
    )?;
    drop(locks);
    result
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_pads_as_the_engine_expects() {
        assert_eq!(super::base64(b"a"), "YQ==");
        assert_eq!(super::base64(b"ab"), "YWI=");
        assert_eq!(super::base64(b"abc"), "YWJj");
        assert_eq!(super::base64(b"hello world"), "aGVsbG8gd29ybGQ=");
    }

    #[test]
    fn plans_past_a_nodes_memory_warn_with_its_figure() {
        let root = tempfile::tempdir().unwrap();
        let ws = crate::engine::Workspace::open(root.path().to_path_buf(), None).unwrap();
        let config = crate::config::parse(
            std::path::Path::new("config.yml"),
            "vms:\n  a:\n    host: local\n    private_ip: 127.0.0.1\naddons:\n  databases:\n    big:\n      type: postgres\n      plan: large\n  caches:\n    one:\n      type: redis\n      plan: small\n    two:\n      type: redis\n      plan: small\n",
            &ws.catalog,
        )
        .unwrap();
        let mib = 1024 * 1024;
        // postgres large asks 1G: more than a 512 MiB node, named with it.
        assert_eq!(
            super::memory_warnings(&ws, &config, "a", 512 * mib),
            [
                "warning: addon databases.big (plan large, memory 1G) asks more than node a has (512 MiB)"
            ]
        );
        // Each fits 1100 MiB, together (1536 MiB) they do not.
        assert_eq!(
            super::memory_warnings(&ws, &config, "a", 1100 * mib),
            ["warning: the plans on node a ask 1536 MiB together, more than its 1100 MiB"]
        );
        assert!(super::memory_warnings(&ws, &config, "a", 4096 * mib).is_empty());
    }
}
