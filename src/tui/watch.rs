//! What the console keeps watching while it runs: each VM's Docker events
//! (the panes' live state) and its backups' health, reconnecting when a VM
//! goes away.

use super::*;

/// The VMs to watch; it reads the project, so call it off the event loop
/// (or before it starts).
pub(super) fn vms_of(ws: &Workspace, project: &Project) -> std::result::Result<Vec<Vm>, String> {
    ws.load(project)
        .map(|l| l.config.vms.values().cloned().collect())
        .map_err(|e| e.message)
}

pub(super) fn spawn_watchers(
    ws: &Arc<Workspace>,
    project: &Project,
    vms: std::result::Result<Vec<Vm>, String>,
    tx: &mpsc::Sender<Msg>,
    dockers: &Dockers,
) -> Vec<JoinHandle<()>> {
    let vms = match vms {
        Ok(vms) => vms,
        Err(e) => {
            let _ = tx.try_send(Msg::Note(e));
            return Vec::new();
        }
    };
    let mut tasks: Vec<JoinHandle<()>> = vms
        .iter()
        .cloned()
        .map(|vm| {
            tokio::spawn(watch_vm(
                ws.clone(),
                project.clone(),
                vm,
                tx.clone(),
                dockers.clone(),
            ))
        })
        .collect();
    tasks.extend(
        vms.into_iter()
            .map(|vm| tokio::spawn(watch_backups(ws.clone(), project.clone(), vm, tx.clone()))),
    );
    tasks
}

/// One VM's addons' backup health, once a minute: the backup services
/// write files, which no Docker event announces. Quiet on errors (the
/// VM's watcher reports the connection).
pub(super) async fn watch_backups(
    ws: Arc<Workspace>,
    project: Project,
    vm: Vm,
    tx: mpsc::Sender<Msg>,
) {
    loop {
        if let Ok(list) = crate::backup::health::project_health(&ws, &project, Some(&vm.name)).await
            && !list.is_empty()
            && tx.send(Msg::BackupHealth(list)).await.is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

/// One VM: connect (asking about an unknown host key first), read its
/// containers, then refresh after each Docker event (throttled), never
/// polling. A lost connection is retried.
pub(super) async fn watch_vm(
    ws: Arc<Workspace>,
    project: Project,
    vm: Vm,
    tx: mpsc::Sender<Msg>,
    dockers: Dockers,
) {
    let retry = Duration::from_secs(5);
    let host = vms::host_label(&vm);
    let row = |conn| {
        Msg::Vm(
            vm.name.clone(),
            vms::VmRow {
                host: host.clone(),
                conn,
            },
        )
    };
    let unreachable = |reason: String| {
        row(vms::VmConn::Unreachable {
            reason,
            retry_at: chrono::Utc::now() + retry,
        })
    };
    loop {
        let _ = tx.send(row(vms::VmConn::Connecting)).await;
        if !vm.is_local() {
            let target = crate::deploy::target::ssh_target(&vm, false);
            match crate::ssh::scan_host_key(&target).await {
                Ok(scan) if matches!(scan.check, crate::ssh::HostKeyCheck::Unknown) => {
                    let prompt = HostPrompt {
                        vm: vm.name.clone(),
                        label: format!("{}@{}:{}", target.user, target.host, target.port),
                        host: target.host.clone(),
                        port: target.port,
                        fingerprint: scan.fingerprint,
                        algorithm: scan.algorithm,
                        key: scan.key,
                        known_hosts: target.known_hosts.clone(),
                    };
                    let _ = tx.send(row(vms::VmConn::HostKeyUnknown)).await;
                    let _ = tx.send(Msg::HostKey(Box::new(prompt))).await;
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(unreachable(e.message.clone())).await;
                    let _ = tx
                        .send(Msg::Note(format!("VM {}: {}", vm.name, e.message)))
                        .await;
                    tokio::time::sleep(retry).await;
                    continue;
                }
            }
        }
        let conn = match crate::deploy::target::Connected::open(&ws, &project, &vm).await {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(unreachable(e.message.clone())).await;
                let _ = tx.send(Msg::Note(e.message)).await;
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        let _ = tx.send(row(vms::VmConn::Connected(None))).await;
        if let Ok(mut d) = dockers.lock() {
            d.insert(vm.name.clone(), conn.docker.clone());
        }
        // A swarm project's tasks are read on its manager, for every node:
        // the manager's watcher shows them all, the others show none.
        let swarm = crate::cluster::swarm::cluster_of(&ws, &project)
            .ok()
            .flatten();
        let manager = swarm.as_ref().is_some_and(|c| c.manager == vm.name);
        let label = match &swarm {
            Some(_) => format!("com.docker.stack.namespace={}", project.name),
            None => format!(
                "{}={}",
                crate::docker::COMPOSE_PROJECT,
                crate::deploy::compose_project(&project.name, &vm.name)
            ),
        };
        // System-type instances have no container and make no event: their
        // scripts are asked on each refresh, and every 10 s.
        let has_system = ws
            .load(&project)
            .is_ok_and(|l| l.config.addons.iter().any(|a| a.vm == vm.name && a.system));
        let refresh = || async {
            let mut system_rows = if has_system && swarm.is_none() {
                Some(crate::contract::system::rows(&ws, &project, &vm.name, &conn).await)
            } else {
                None
            };
            let rows = match &swarm {
                Some(_) if manager => {
                    crate::cluster::swarm::task_rows(&ws, &project, &conn.docker).await
                }
                Some(_) => Ok(Vec::new()),
                None => crate::deploy::vm_status(&conn.docker, &project, &vm.name)
                    .await
                    .map(|mut rows| {
                        rows.extend(system_rows.take().unwrap_or_default());
                        rows
                    }),
            };
            match rows {
                Ok(rows) => {
                    let _ = tx.send(Msg::VmStatus(vm.name.clone(), rows)).await;
                }
                Err(e) => {
                    let _ = tx
                        .send(Msg::Note(format!("VM {}: {}", vm.name, e.message)))
                        .await;
                }
            }
        };
        refresh().await;
        // Once per connection: versions, disk and counts for the VMs
        // overlay, read beside the events (Compose's version alone can
        // take seconds), so no change waits for it.
        let info = async {
            let info = crate::deploy::vm_info::vm_info(&conn)
                .await
                .map_err(|e| e.message);
            let _ = tx.send(row(vms::VmConn::Connected(Some(info)))).await;
        };
        // A task on another node, or one the swarm has not started yet,
        // makes no event here: the manager also looks every 10 s.
        let tick = if manager || has_system {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(24 * 3600)
        };
        let follow = async {
            let mut events =
                std::pin::pin!(crate::docker::label_events(&conn.docker, label.clone()));
            loop {
                match tokio::time::timeout(tick, events.next()).await {
                    Err(_) => {
                        refresh().await;
                        continue;
                    }
                    Ok(Some(Ok(_))) => {}
                    Ok(_) => break,
                }
                // On a Docker event, so a test can make it happen once the
                // console has the terminal.
                #[cfg(debug_assertions)]
                crate::crash::test_panic("task");
                // Throttle: gather the burst, then one refresh.
                tokio::time::sleep(Duration::from_millis(150)).await;
                refresh().await;
            }
        };
        tokio::join!(info, follow);
        let _ = tx
            .send(Msg::Note(format!(
                "VM {}: the event stream ended; reconnecting",
                vm.name
            )))
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
