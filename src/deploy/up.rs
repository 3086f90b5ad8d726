//! `up` and `down`: every VM at once, each under its deploy lock: stage,
//! check ports, compose up (addons first), wait for health, provision,
//! roll back on failure.

use super::*;

/// `up`: sync, then for each VM compose up, wait for health, provision, and
/// report per service; a failed health check rolls back to the previous
/// release.
pub async fn up(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
    timeout: Duration,
) -> Result<Vec<ServiceReport>> {
    up_reporting(ws, project, vm_filter, timeout, &|_| {}).await
}

/// [`up`], telling `report` what happens as it happens (`VM core:
/// postgres-main healthy`), for the console.
pub async fn up_reporting(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<ServiceReport>> {
    if let Some(cluster) = crate::cluster::swarm::cluster_of(ws, project)? {
        return crate::cluster::swarm::up(ws, project, &cluster, vm_filter, timeout, report).await;
    }
    // The VMs' deploy locks before the sync: a second `up` waits here, then
    // deploys the state the first one left, never beside it.
    let (_, mut locks) = lock_selected(ws, project, vm_filter, "up", report).await?;
    let started = audit::now();
    ws.run(project, &Operation::Sync, false)?;
    let loaded = ws.load(project)?;
    let has_compose = |vm: &Vm| {
        project
            .dir
            .join(generate::compose_dir(&vm.name))
            .join(COMPOSE_FILE)
            .exists()
    };
    // A VM with system-type instances only (or one that had some) has no
    // compose file, and still something to install or uninstall.
    let vms: Vec<&Vm> = select_vms(&loaded.config, vm_filter)?
        .into_iter()
        .filter(|vm| {
            has_compose(vm) || crate::contract::system::on_vm(project, &loaded.config, &vm.name)
        })
        .collect();
    // A VM added to config.yml while this one waited.
    let unlocked: Vec<String> = vms
        .iter()
        .filter(|vm| !locks.iter().any(|l| l.vm == vm.name))
        .map(|vm| vm.name.clone())
        .collect();
    locks.extend(lock::acquire_all(project, &unlocked, "up", report).await?);
    // At most `--parallel` VMs at once: connect, stage, compose up, wait,
    // provision. A VM that fails stops nothing else, except the VMs that
    // need it (their apps attach its addons): they wait for it, wave by
    // wave, and are not deployed when it failed.
    let needs = order::needs(&loaded.config, &ws.catalog);
    let mut by_vm = BTreeMap::new();
    for wave in order::waves(&vms, &needs) {
        let (ready, blocked): (Vec<&Vm>, Vec<&Vm>) = wave.into_iter().partition(|vm| {
            needs.get(&vm.name).is_none_or(|n| {
                n.iter()
                    .all(|d| !matches!(by_vm.get(d), Some(Err::<Vec<ServiceReport>, _>(_))))
            })
        });
        for vm in blocked {
            let failed_needs: Vec<&str> = needs[&vm.name]
                .iter()
                .filter(|d| matches!(by_vm.get(*d), Some(Err(_))))
                .map(String::as_str)
                .collect();
            report(format!(
                "VM {}: not deployed: it needs VM {}, whose up failed",
                vm.name,
                failed_needs.join(", ")
            ));
            by_vm.insert(
                vm.name.clone(),
                Err((
                    vec![],
                    UserError::new(format!(
                        "not deployed: its apps or addons need VM {}, whose up failed",
                        failed_needs.join(", ")
                    )),
                )),
            );
        }
        let outcomes = fanout::bounded(
            ready
                .iter()
                .map(|vm| up_one(ws, project, &loaded, vm, has_compose(vm), timeout, report))
                .collect(),
            ws.parallel,
        )
        .await;
        for (vm, outcome) in ready.iter().zip(outcomes) {
            by_vm.insert(vm.name.clone(), outcome);
        }
    }
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for vm in &vms {
        let result = by_vm
            .remove(&vm.name)
            .expect("every selected VM was run or blocked");
        match result {
            Ok(mut r) => reports.append(&mut r),
            Err((mut r, e)) => {
                reports.append(&mut r);
                failed.push((vm.name.clone(), e));
            }
        }
    }
    let failure =
        (!failed.is_empty()).then(|| fanout::failed_vms("up", &project.name, vms.len(), failed));
    let outcome = match &failure {
        None => "applied".to_string(),
        Some(e) => format!("failed: {}", e.message.lines().next().unwrap_or_default()),
    };
    let summary: Vec<String> = reports
        .iter()
        .map(|r| format!("{}/{} {:?}", r.vm, r.service, r.action).to_lowercase())
        .collect();
    audit::append(
        &project.audit_path(),
        &audit::Entry::since(
            started,
            project.audit_label(&format!(
                "up{}",
                vm_filter.map(|v| format!(" --vm {v}")).unwrap_or_default()
            )),
            outcome,
            summary,
        ),
    )?;
    // Held until the audit entry is written, so entries of one VM's deploys
    // never overlap in time.
    drop(locks);
    match failure {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// One VM of `up`: connect, then compose (or only its system instances),
/// reporting its start and end.
async fn up_one(
    ws: &Workspace,
    project: &Project,
    loaded: &crate::engine::Loaded,
    vm: &Vm,
    has_compose: bool,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> std::result::Result<Vec<ServiceReport>, (Vec<ServiceReport>, UserError)> {
    report(format!("VM {}: connecting", vm.name));
    let vm_report = |line: String| report(format!("VM {}: {line}", vm.name));
    let done = match Connected::open(ws, project, vm).await {
        Ok(conn) if has_compose => up_vm(ws, project, loaded, vm, &conn, timeout, &vm_report).await,
        Ok(conn) => converge_system(ws, project, loaded, vm, &conn, &vm_report).await,
        Err(e) => Err((vec![], e)),
    };
    report(format!(
        "VM {}: {}",
        vm.name,
        match &done {
            Ok(r) => format!(
                "done ({} service{})",
                r.len(),
                if r.len() == 1 { "" } else { "s" }
            ),
            Err((_, e)) => format!("FAILED: {}", e.message.lines().next().unwrap_or_default()),
        }
    ));
    done
}

pub(super) async fn up_vm(
    ws: &Workspace,
    project: &Project,
    loaded: &crate::engine::Loaded,
    vm: &Vm,
    conn: &Connected,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> std::result::Result<Vec<ServiceReport>, (Vec<ServiceReport>, UserError)> {
    let docker = &conn.docker;
    let name = compose_project(&project.name, &vm.name);
    let running = docker::project_containers(docker, &name)
        .await
        .map_err(|e| (vec![], e))?;
    let before: BTreeMap<String, String> = running
        .iter()
        .map(|s| (s.service.clone(), s.container_id.clone()))
        .collect();
    // Nothing changed since the last good release and everything it started
    // is up: no compose run, no provisioning, no container touched.
    // One resolution of the generation: what is digested is what is staged.
    let generated =
        crate::engine::apply::generated_vm_dir(&project.dir, &vm.name).map_err(|e| (vec![], e))?;
    let digest = tree_digest(&generated).map_err(|e| (vec![], e))?;
    let services = expected_services(&loaded.config, &vm.name);
    let all_up = services.iter().all(|svc| {
        running.iter().any(|s| {
            &s.service == svc
                && s.state == "running"
                && s.health.as_deref().is_none_or(|h| h == "healthy")
        })
    });
    if all_up
        && std::fs::read_to_string(deployed_marker(project, &vm.name))
            .ok()
            .as_deref()
            == Some(digest.as_str())
    {
        report("unchanged since the last release, every service up".into());
        let mut reports: Vec<ServiceReport> = running
            .iter()
            .filter(|s| services.contains(&s.service))
            .map(|s| ServiceReport {
                vm: vm.name.clone(),
                service: s.service.clone(),
                action: Action::Unchanged,
                health: s.health.clone().unwrap_or_else(|| s.state.clone()),
                container_id: s.container_id.chars().take(12).collect(),
                detail: None,
                compose: None,
            })
            .collect();
        reports.extend(converge_system(ws, project, loaded, vm, conn, report).await?);
        return Ok(reports);
    }
    ports_check::refuse_held_ports(docker, project, loaded, vm)
        .await
        .map_err(|e| (vec![], e))?;
    // Only a release that came up healthy is one to go back to: a first
    // deploy that failed leaves `current` behind, but nothing to restore.
    let previous_healthy = deployed_marker(project, &vm.name).exists();
    let _ = std::fs::remove_file(deployed_marker(project, &vm.name));
    backup_folders(project, loaded, vm, &conn.target)
        .await
        .map_err(|e| (vec![], e))?;
    let has_previous = conn
        .target
        .stage(project, &vm.name, &generated)
        .await
        .map_err(|e| (vec![], e))?;
    let expected = services.len();
    // Addons first: healthy and provisioned (readonly roles exist) before
    // any app that uses them starts.
    // Followers after the rest, once their leaders are provisioned (their
    // base backup needs the leader's replication role and slot).
    let (addon_services, follower_services): (Vec<String>, Vec<String>) = {
        let (f, rest): (Vec<_>, Vec<_>) = loaded
            .config
            .addons
            .iter()
            .filter(|a| a.vm == vm.name && a.has_container())
            .partition(|a| a.follows.is_some());
        (
            rest.iter().map(|a| a.service()).collect(),
            f.iter().map(|a| a.service()).collect(),
        )
    };
    // Each phase: compose's arguments, how many services must be up after
    // it, and whether it is the addons' phase (provisioning follows it).
    let mut phases: Vec<(Vec<String>, usize, bool)> = Vec::new();
    if !addon_services.is_empty() {
        // Orphans go first: a renamed addon's old container still holds its
        // port and its volume, which the new one needs.
        let mut args = vec![
            "up".to_string(),
            "-d".to_string(),
            "--remove-orphans".to_string(),
        ];
        // Addons only and nothing else on the VM (no app, follower or backup
        // service): this one run is the whole of `up` — a second, identical
        // Compose run would cost a Compose start (a Python one with v1) and
        // change nothing.
        if addon_services.len() != expected {
            args.extend(addon_services.iter().cloned());
        }
        phases.push((args, addon_services.len(), true));
    }
    if !follower_services.is_empty() {
        let mut args = vec!["up".to_string(), "-d".to_string()];
        args.extend(follower_services.iter().cloned());
        phases.push((args, addon_services.len() + follower_services.len(), false));
    }
    if addon_services.len() != expected {
        phases.push((
            vec!["up".into(), "-d".into(), "--remove-orphans".into()],
            expected,
            false,
        ));
    }
    let (mut states, mut bad) = (Vec::new(), Vec::new());
    let mut compose_error: Option<String> = None;
    for (i, (args, want, addons_phase)) in phases.iter().enumerate() {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        report(if i == 0 && phases.len() > 1 {
            "compose up: addons".to_string()
        } else {
            "compose up".to_string()
        });
        (states, bad) = match conn.target.compose(&name, &argv).await {
            Ok(_) => wait_healthy(docker, &name, *want, timeout, report)
                .await
                .map_err(|e| (vec![], e))?,
            Err(e) => {
                compose_error = Some(e.message);
                (
                    docker::project_containers(docker, &name)
                        .await
                        .unwrap_or_default(),
                    vec![],
                )
            }
        };
        if compose_error.is_some() {
            break;
        }
        if !bad.is_empty() {
            break;
        }
        if !addons_phase {
            continue;
        }
        report("provisioning attachments (readonly roles, users)".into());
        if let Err(e) = provision(
            ws,
            &loaded.config,
            &loaded.generated.secrets,
            &vm.name,
            docker,
            &states,
        )
        .await
        {
            return Err((vec![], e));
        }
        // Script-backed types: install, then configure, in the container.
        if let Err(e) = crate::contract::lifecycle::install_on_vm(
            ws,
            project,
            &loaded.config,
            &loaded.generated.secrets,
            &vm.name,
            docker,
            &states,
            report,
        )
        .await
        {
            return Err((vec![], e));
        }
    }
    // Which Compose ran, in its own words: the version it wrote on the
    // containers it just made, else (nothing made, or it did not run) what
    // it says when asked — with v1 a second Python start, so only then.
    let compose = match ran_version(docker, &name, &before, &states).await {
        Some(version) => compose_label(conn.target.program(), &version),
        None => conn.target.compose_label().await.map_err(|e| (vec![], e))?,
    };
    report(compose.clone());
    let mut reports: Vec<ServiceReport> = states
        .iter()
        .map(|s| ServiceReport {
            vm: vm.name.clone(),
            service: s.service.clone(),
            action: if bad.contains(&s.service) {
                Action::Failed
            } else {
                match before.get(&s.service) {
                    None => Action::Created,
                    Some(id) if *id != s.container_id => Action::Recreated,
                    Some(_) => Action::Unchanged,
                }
            },
            health: s.health.clone().unwrap_or_else(|| s.state.clone()),
            container_id: s.container_id.chars().take(12).collect(),
            detail: None,
            compose: Some(compose.clone()),
        })
        .collect();
    if bad.is_empty() && compose_error.is_none() {
        // System types last: what they configure on the VM may rely on
        // the containers (a host agent reading a database).
        let system = converge_system(ws, project, loaded, vm, conn, report)
            .await
            .map_err(|(_, e)| (reports.clone(), e))?;
        reports.extend(system);
        let marker = deployed_marker(project, &vm.name);
        // A project with only SSH VMs has no local release folder yet.
        if let Some(dir) = marker.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| (reports.clone(), crate::error::io_error(dir, "create", e)))?;
        }
        crate::engine::apply::write_atomic(&marker, digest.as_bytes(), 0o600)
            .map_err(|e| (reports.clone(), e))?;
        record_up_releases(project, &loaded.config, &vm.name).map_err(|e| (reports.clone(), e))?;
        return Ok(reports);
    }
    // Health failed: keep the evidence, then go back to what ran before.
    let mut detail = String::new();
    for r in reports.iter_mut().filter(|r| r.action == Action::Failed) {
        if let Some(s) = states.iter().find(|s| s.service == r.service) {
            let lines = docker::tail_logs(docker, &s.container_id, 20)
                .await
                .unwrap_or_default();
            let text: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
            r.detail = Some(text.join("\n"));
            detail.push_str(&format!(
                "\n--- {} ({}), last log lines:\n{}",
                r.service,
                r.health,
                text.join("\n")
            ));
        }
    }
    let mut message = match &compose_error {
        Some(e) => format!("deploy to VM {} failed: {e}", vm.name),
        None => format!(
            "deploy to VM {} failed: {} not healthy",
            vm.name,
            bad.join(", ")
        ),
    };
    let unstaged = if has_previous && previous_healthy {
        Some(conn.target.unstage(project, &vm.name).await)
    } else {
        None
    };
    if let Some(Err(e)) = &unstaged {
        message.push_str(&format!(
            "; the previous release could not be restored: {}",
            e.message
        ));
    } else if unstaged.is_some() {
        report("rolling back to the previous release".into());
        let rolled = match conn
            .target
            .compose(&name, &["up", "-d", "--remove-orphans"])
            .await
        {
            Ok(_) => wait_healthy(docker, &name, 0, timeout, report)
                .await
                .map(|(_, b)| b.is_empty())
                .unwrap_or(false),
            Err(_) => false,
        };
        if rolled {
            // What runs is a healthy release again: the next failure may go
            // back to it. Its digest is not the generated files', so the next
            // `up` still runs compose.
            let _ = crate::engine::apply::write_atomic(
                &deployed_marker(project, &vm.name),
                b"rolled back",
                0o600,
            );
        }
        message.push_str(if rolled {
            "; rolled back to the previous release, which is healthy"
        } else {
            "; rolling back to the previous release did not come up healthy either"
        });
    } else if has_previous {
        message.push_str(
            "; the release before this one never came up healthy either, so there is nothing to roll back to",
        );
    } else {
        message.push_str(&format!(
            "; this was the first deploy to VM {}: there is no previous release to roll back to",
            vm.name
        ));
    }
    Err((
        reports,
        UserError::new(format!("{message}{detail}"))
            .hint("fix the cause (image tag, plan, options), then run `sdtui up` again"),
    ))
}

/// The VM's system-type instances, installed and configured by their
/// scripts on the VM (see contract::system).
async fn converge_system(
    ws: &Workspace,
    project: &Project,
    loaded: &crate::engine::Loaded,
    vm: &Vm,
    conn: &Connected,
    report: &(dyn Fn(String) + Sync),
) -> std::result::Result<Vec<ServiceReport>, (Vec<ServiceReport>, UserError)> {
    crate::contract::system::converge_on_vm(
        ws,
        project,
        &loaded.config,
        &loaded.generated.secrets,
        vm,
        conn,
        report,
    )
    .await
    .map_err(|e| (vec![], e))
}

/// Services the generated files put on a VM: addons, then apps.
pub fn expected_services(config: &Config, vm: &str) -> Vec<String> {
    let addons = config
        .addons
        .iter()
        .filter(|a| a.vm == vm && a.has_container())
        .map(|a| a.service());
    let backups = config
        .addons
        .iter()
        .filter(|a| a.vm == vm && a.has_container() && a.backup.is_some())
        .map(crate::engine::backup_service::service_name);
    addons
        .chain(backups)
        .chain(
            config
                .apps
                .values()
                .filter(|a| a.vm == vm)
                .map(|a| a.name.clone()),
        )
        .collect()
}

/// The backups folders the VM's backup services mount, made by the VM's
/// user before Compose runs: a missing bind source would be made by the
/// engine, owned by root, and `db backup` could not write there.
async fn backup_folders(
    project: &Project,
    loaded: &crate::engine::Loaded,
    vm: &Vm,
    target: &super::target::Target,
) -> Result<()> {
    let dirs: Vec<String> = loaded
        .config
        .addons
        .iter()
        .filter(|a| a.vm == vm.name && a.backup.is_some())
        .map(|a| crate::backup::store::folder(target, project, &a.id()))
        .collect();
    if dirs.is_empty() {
        return Ok(());
    }
    let out = crate::backup::run::vm_sh(target, "umask 077; mkdir -p \"$@\"", &dirs, &[]).await?;
    if !out.success() {
        return Err(UserError::new(format!(
            "cannot make the backups folders on VM {}: {}",
            vm.name,
            out.stderr.trim()
        )));
    }
    Ok(())
}

/// `down`: stops and removes containers; volumes (the data) stay.
pub async fn down(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<ServiceReport>> {
    if let Some(cluster) = crate::cluster::swarm::cluster_of(ws, project)? {
        return crate::cluster::swarm::down(ws, project, &cluster, vm_filter, report).await;
    }
    let (wanted, locks) = lock_selected(ws, project, vm_filter, "down", report).await?;
    let started = audit::now();
    let loaded = ws.load(project)?;
    let vms: Vec<&Vm> = select_vms(&loaded.config, vm_filter)?
        .into_iter()
        .filter(|vm| wanted.contains(&vm.name))
        .collect();
    let runs = vms.iter().map(|vm| async move {
        let done = down_vm(ws, project, vm).await;
        report(format!(
            "VM {}: {}",
            vm.name,
            match &done {
                Ok(_) => "done (down)".to_string(),
                Err(e) => format!("FAILED: {}", e.message.lines().next().unwrap_or_default()),
            }
        ));
        done
    });
    let outcomes = fanout::bounded(runs.collect(), ws.parallel).await;
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for (vm, result) in vms.iter().zip(outcomes) {
        match result {
            Ok(mut r) => reports.append(&mut r),
            Err(e) => failed.push((vm.name.clone(), e)),
        }
    }
    let failure =
        (!failed.is_empty()).then(|| fanout::failed_vms("down", &project.name, vms.len(), failed));
    audit::append(
        &project.audit_path(),
        &audit::Entry::since(
            started,
            project.audit_label("down"),
            match &failure {
                None => "applied".to_string(),
                Some(e) => format!("failed: {}", e.message.lines().next().unwrap_or_default()),
            },
            vec![],
        ),
    )?;
    drop(locks);
    match failure {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// One VM's part of `down`: its containers removed, volumes kept.
async fn down_vm(ws: &Workspace, project: &Project, vm: &Vm) -> Result<Vec<ServiceReport>> {
    let conn = Connected::open(ws, project, vm).await?;
    if !conn.target.has_current() {
        return Ok(Vec::new());
    }
    let name = compose_project(&project.name, &vm.name);
    let before = docker::project_containers(&conn.docker, &name).await?;
    conn.target
        .compose(&name, &["down", "--remove-orphans"])
        .await?;
    Ok::<_, UserError>(
        before
            .into_iter()
            .map(|s| ServiceReport {
                vm: vm.name.clone(),
                service: s.service,
                action: Action::Removed,
                health: "stopped".into(),
                container_id: s.container_id.chars().take(12).collect(),
                detail: None,
                compose: None,
            })
            .collect::<Vec<_>>(),
    )
}

/// The deploy locks of the VMs `vm_filter` selects (every VM without one),
/// with their names.
async fn lock_selected(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
    operation: &str,
    report: &(dyn Fn(String) + Sync),
) -> Result<(Vec<String>, Vec<lock::DeployLock>)> {
    let wanted: Vec<String> = select_vms(&ws.load(project)?.config, vm_filter)?
        .iter()
        .map(|vm| vm.name.clone())
        .collect();
    let locks = lock::acquire_all(project, &wanted, operation, report).await?;
    Ok((wanted, locks))
}
