//! `db restore`: a backup back into its addon (or `--into` another instance
//! of the same type on the same VM, or the same instance of another
//! environment: `db restore --env staging ID --into dev`), with the
//! attached apps (an environment's deployment) stopped around it, under the
//! VMs' deploy locks. The file's size and sha256 are checked against its
//! manifest before anything is touched.

use std::time::Instant;

use bollard::query_parameters::StopContainerOptionsBuilder;
use serde::Serialize;

use super::{Manifest, Report, mask, subject};
use crate::deploy::target::Connected;
use crate::deploy::{compose_project, lock};
use crate::engine::{Project, Workspace, audit};
use crate::error::{Result, UserError};

/// What a restore will do, shown before it is confirmed.
#[derive(Debug, Clone, Serialize)]
pub struct RestorePlan {
    pub backup: Manifest,
    /// The instance whose data is replaced.
    pub target: String,
    /// The environment it is in, when the backup is restored into another
    /// environment than its own's (`--into dev`).
    pub target_env: Option<String>,
    pub target_vm: String,
    /// Attached apps, stopped during the restore and started after:
    /// (app, VM).
    pub apps: Vec<(String, String)>,
    /// The target environment's deployment (VM, compose project), stopped
    /// and started like the apps.
    pub deployment: Option<(String, String)>,
}

impl RestorePlan {
    /// What must be typed back: the instance, qualified by its environment
    /// when it is another environment's (`dev.databases.primary`).
    pub fn confirm_name(&self) -> String {
        match &self.target_env {
            Some(env) => format!("{env}.{}", self.target),
            None => self.target.clone(),
        }
    }

    pub fn describe(&self) -> String {
        let mut out = format!(
            "restore {} ({}, {} bytes, sha256 {}…, drill {}) into {} on VM {}\n",
            self.backup.id,
            self.backup.created,
            self.backup.size,
            &self.backup.sha256[..12.min(self.backup.sha256.len())],
            self.backup.drill.status,
            self.confirm_name(),
            self.target_vm
        );
        out.push_str(&format!(
            "  replaced: everything in {} (objects made since the backup are dropped)\n",
            self.confirm_name()
        ));
        if let Some((vm, cp)) = &self.deployment {
            out.push_str(&format!(
                "  stop the deployment ({cp}, VM {vm}) before, start it after\n"
            ));
        } else if self.apps.is_empty() {
            out.push_str("  no app is attached\n");
        } else {
            for (app, vm) in &self.apps {
                out.push_str(&format!(
                    "  stop {app} (VM {vm}) before, start it after and wait for it\n"
                ));
            }
        }
        out
    }
}

/// Where `--into` points: an addon id (it has a dot) of the same project,
/// or the name of one of the project's environments (the same instance
/// there).
fn target_of(
    ws: &Workspace,
    project: &Project,
    addon_id: &str,
    into: Option<&str>,
) -> Result<(Project, Option<String>, String)> {
    match into {
        None => Ok((project.clone(), None, addon_id.to_string())),
        Some(id) if id.contains('.') => Ok((project.clone(), None, id.to_string())),
        Some(env) => {
            let scoped = ws.environment(&project.base(), env)?;
            if scoped.name == project.name {
                return Ok((project.clone(), None, addon_id.to_string()));
            }
            Ok((scoped, Some(env.to_string()), addon_id.to_string()))
        }
    }
}

/// The plan of restoring `backup_id` of `addon_id` into `into` (default:
/// the addon itself; an environment's name: the same instance there).
/// Reads only.
pub async fn plan(
    ws: &Workspace,
    project: &Project,
    addon_id: &str,
    backup_id: &str,
    into: Option<&str>,
) -> Result<RestorePlan> {
    let loaded = ws.load(project)?;
    let config = &loaded.config;
    let source = crate::engine::require_addon(config, addon_id)?;
    let (target_project, target_env, target_id) = target_of(ws, project, addon_id, into)?;
    let target_loaded = ws.load(&target_project)?;
    let target_config = &target_loaded.config;
    let target_id = target_id.as_str();
    let target = crate::engine::require_addon(target_config, target_id)?;
    if target.type_name != source.type_name {
        return Err(UserError::new(format!(
            "{target_id} is a {}, the backup is of a {}: a restore needs the same type",
            target.type_name, source.type_name
        ))
        .hint(crate::config::hint_choices(
            &format!("{} instances", source.type_name),
            config
                .addons
                .iter()
                .filter(|a| a.type_name == source.type_name)
                .map(|a| a.id()),
        )));
    }
    if target.vm != source.vm {
        return Err(UserError::new(format!(
            "{target_id} is on VM {}, the backup on VM {}: restoring across VMs is not supported",
            target.vm, source.vm
        ))
        .hint("copy it with db backups pull, or restore into an instance on the same VM"));
    }
    let (_, _, backup) = super::find(ws, project, config, addon_id, backup_id).await?;
    // A backup by the type's script goes back through its `restore`, in
    // place: no app is stopped for it.
    let scripted = into.is_none() && super::script::applies(ws, project, addon_id)?;
    let apps = target_config
        .attachments_of(target_id)
        .map(|(app, _)| (app.name.clone(), app.vm.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|_| !scripted)
        .collect();
    let deployment = target_project.env_name().and_then(|env| {
        let e = target_config.environments.get(env)?;
        e.deployment.as_ref()?;
        let vm = e.vms.first()?.clone();
        let cp = crate::env::file_project(&target_project.name, &vm, "deployment");
        Some((vm, cp))
    });
    Ok(RestorePlan {
        backup,
        target: target_id.to_string(),
        target_env,
        target_vm: target.vm.clone(),
        apps,
        deployment,
    })
}

/// Carries out a plan. `confirm` must be the target's name, typed back.
pub async fn apply(
    ws: &Workspace,
    project: &Project,
    plan: &RestorePlan,
    confirm: &str,
    report: Report<'_>,
) -> Result<()> {
    let expected = plan.confirm_name();
    if confirm != expected {
        return Err(UserError::new(format!(
            "not confirmed: \"{confirm}\" is not {expected}; nothing was touched"
        ))
        .hint(format!("type the addon's name: --confirm {expected}")));
    }
    if plan.target_env.is_none()
        && plan.target == plan.backup.addon
        && super::script::applies(ws, project, &plan.target)?
    {
        return super::script::restore(ws, project, &plan.target, &plan.backup.id, confirm, report)
            .await;
    }
    let started = audit::now();
    let operation = format!(
        "db restore {} {}{}",
        plan.backup.addon,
        plan.backup.id,
        plan.target_env
            .as_ref()
            .map(|e| format!(" into environment {e}"))
            .unwrap_or_default()
    );
    let (source_conn, dir, manifest) = {
        let loaded = ws.load(project)?;
        super::find(
            ws,
            project,
            &loaded.config,
            &plan.backup.addon,
            &plan.backup.id,
        )
        .await?
    };
    // Everything from here is the target's: its project (another
    // environment's, with --into ENV), config, credentials, locks.
    let project = &match &plan.target_env {
        Some(env) => ws.environment(&project.base(), env)?,
        None => project.clone(),
    };
    let loaded = ws.load(project)?;
    let config = &loaded.config;
    let conn = if plan.target_env.is_some() {
        drop(source_conn);
        Connected::open(ws, project, &config.vms[&plan.target_vm]).await?
    } else {
        source_conn
    };
    let file = format!("{dir}/{}", manifest.file);

    // The file as recorded, or nothing happens.
    report(format!("checking {} against its manifest", manifest.file));
    let out = super::run::vm_sh(
        &conn.target,
        super::run::CHECK_SCRIPT,
        std::slice::from_ref(&file),
        &[],
    )
    .await?;
    match (out.success(), super::run::parse_size_sum(&out.stdout)) {
        (true, Some((size, sum))) if size == manifest.size && sum == manifest.sha256 => {}
        (true, Some((size, sum))) => {
            return Err(UserError::new(format!(
                "backup {} is altered or truncated: {size} bytes, sha256 {sum}; its manifest says {} bytes, sha256 {}; nothing was touched",
                manifest.id, manifest.size, manifest.sha256
            ))
            .hint("restore another backup: sdtui db backups ADDON"));
        }
        _ => {
            return Err(UserError::new(format!(
                "cannot read backup {} on VM {}: {}; nothing was touched",
                manifest.id,
                manifest.vm,
                out.stderr.trim()
            )));
        }
    }

    let s = subject(ws, config, &loaded.secrets, &plan.target)?;
    let mut vms: Vec<String> = plan.apps.iter().map(|(_, vm)| vm.clone()).collect();
    vms.extend(plan.deployment.iter().map(|(vm, _)| vm.clone()));
    vms.push(plan.target_vm.clone());
    vms.sort();
    vms.dedup();
    let _locks = lock::acquire_all(project, &vms, &operation, report).await?;
    let target_container =
        super::running_container(&conn.docker, project, s.addon, "nothing was touched").await?;

    // Apps attached to the target (an environment's deployment) stop
    // first, so nothing writes meanwhile.
    let mut writers: Vec<(String, String, String, Option<String>)> = plan
        .apps
        .iter()
        .map(|(app, vm)| {
            let cp = compose_project(&project.name, vm);
            (app.clone(), vm.clone(), cp, Some(app.clone()))
        })
        .collect();
    if let Some((vm, cp)) = &plan.deployment {
        writers.push(("the deployment".into(), vm.clone(), cp.clone(), None));
    }
    // One connection per other VM, held until the apps are started again.
    let mut held: Vec<Connected> = Vec::new();
    let mut stopped = Vec::new();
    // In a swarm stack the apps are services: a stopped task would be
    // replaced at once, so each is scaled to zero on the manager, then back.
    let manager = match &config.cluster {
        Some(c) if c.manager == plan.target_vm => Some(conn.docker.clone()),
        Some(c) => {
            let m = Connected::open(ws, project, &config.vms[&c.manager]).await?;
            let docker = m.docker.clone();
            held.push(m);
            Some(docker)
        }
        None => None,
    };
    let mut scaled: Vec<(String, i64)> = Vec::new();
    if let Some(docker) = &manager {
        writers.clear();
        for (app, _) in &plan.apps {
            report(format!("stopping {app} (its swarm service scaled to 0)"));
            let before = crate::cluster::swarm_scale::scale(
                docker,
                &project.name,
                app,
                0,
                std::time::Duration::from_secs(60),
            )
            .await?;
            scaled.push((app.clone(), before));
        }
    }
    for (label, vm, cp, service) in &writers {
        let docker = if *vm == plan.target_vm {
            conn.docker.clone()
        } else {
            let other = Connected::open(ws, project, &config.vms[vm]).await?;
            let docker = other.docker.clone();
            held.push(other);
            docker
        };
        let running: Vec<_> = crate::docker::project_containers(&docker, cp)
            .await?
            .into_iter()
            .filter(|c| c.state == "running" && service.as_ref().is_none_or(|s| c.service == *s))
            .collect();
        for c in running {
            let name = match service {
                Some(_) => label.clone(),
                None => format!("{} ({label})", c.service),
            };
            report(format!("stopping {name}"));
            docker
                .stop_container(
                    &c.container_id,
                    Some(StopContainerOptionsBuilder::default().t(30).build()),
                )
                .await
                .map_err(|e| UserError::new(format!("cannot stop {name}: {e}")))?;
            stopped.push((name, c.container_id.clone(), docker.clone()));
        }
    }

    let t0 = Instant::now();
    report(format!("restoring {} into {}", manifest.id, plan.target));
    let restored = async {
        if let (Some(path), Some(docker)) = (&s.spec.restore.file, &manager) {
            // A task's container is replaced when it stops: the service goes
            // to zero (its last container kept, stopped, by the swarm's task
            // history), the file goes into it (its volume), then back.
            let service = s.addon.service();
            let scale = |n, secs| {
                crate::cluster::swarm_scale::scale(
                    docker,
                    &project.name,
                    &service,
                    n,
                    std::time::Duration::from_secs(secs),
                )
            };
            let before = scale(0, 60).await?;
            super::drill::copy_in(&conn, &file, &target_container.container_id, path).await?;
            scale(before, 180).await.map(|_| ())
        } else if let Some(path) = &s.spec.restore.file {
            conn.docker
                .stop_container(
                    &target_container.container_id,
                    Some(StopContainerOptionsBuilder::default().t(60).build()),
                )
                .await
                .map_err(|e| UserError::new(format!("cannot stop {}: {e}", plan.target)))?;
            super::drill::copy_in(&conn, &file, &target_container.container_id, path).await?;
            super::drill::start_healthy(&conn.docker, &target_container.container_id).await
        } else {
            super::drill::restore_stream(&conn, &s, &target_container.container_id, &file).await
        }
    }
    .await;
    if let Err(e) = restored {
        let names: Vec<&str> = stopped
            .iter()
            .map(|(a, _, _)| a.as_str())
            .chain(scaled.iter().map(|(a, _)| a.as_str()))
            .collect();
        audit::append(
            &project.audit_path(),
            &audit::Entry::since(started, operation, "failed", vec![]),
        )?;
        return Err(UserError::new(format!(
            "restoring {} into {} failed: {}",
            manifest.id,
            plan.target,
            mask(&e.message, &s)
        ))
        .hint(if names.is_empty() {
            "restore again, or another backup".to_string()
        } else {
            format!(
                "left stopped so nothing writes to a half-restored {}: {}; restore again, then sdtui up",
                plan.target,
                names.join(", ")
            )
        }));
    }
    let seconds = t0.elapsed().as_secs_f64();

    // Roles and grants the restore leaves out (readonly users), again.
    let states = if config.cluster.is_some() {
        crate::cluster::swarm::addon_task_states(
            &conn.docker,
            &project.name,
            config,
            &plan.target_vm,
        )
        .await?
    } else {
        crate::docker::project_containers(
            &conn.docker,
            &compose_project(&project.name, &plan.target_vm),
        )
        .await?
    };
    crate::deploy::provision(
        ws,
        config,
        &loaded.secrets.addons,
        &plan.target_vm,
        &conn.docker,
        &states,
    )
    .await?;

    for (app, id, docker) in &stopped {
        report(format!("starting {app}"));
        super::drill::start_healthy(docker, id)
            .await
            .map_err(|e| UserError::new(format!("{app} after the restore: {}", e.message)))?;
    }
    if let Some(docker) = &manager {
        for (app, replicas) in &scaled {
            report(format!("starting {app}"));
            crate::cluster::swarm_scale::scale(
                docker,
                &project.name,
                app,
                *replicas,
                std::time::Duration::from_secs(120),
            )
            .await
            .map_err(|e| UserError::new(format!("{app} after the restore: {}", e.message)))?;
        }
    }
    drop(held);
    report(format!(
        "{} restored into {} in {seconds:.1} s",
        manifest.id, plan.target
    ));
    audit::append(
        &project.audit_path(),
        &audit::Entry::since(started, operation, "applied", vec![file]),
    )
}
