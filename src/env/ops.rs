//! `sdtui env ...`: one function each, called by the CLI and the console.
//! Each runs on the environment as a project of its own, so locks, audit
//! entries, health waits and rollback are the engine's. init, deploy,
//! start, restart, logs (phases.rs), dry-run and export (export.rs) are
//! re-exported here: this is the one API both faces call.

pub use super::export::{ExportFormat, Exported, dry_run, export};
pub use super::phases::{
    DeployReport, InitReport, StartReport, deploy, init, log_sources, restart, restart_preview,
    start,
};
pub use super::run::{InitRow, render_init};
pub use super::vars::{Resolved, resolve};

use indexmap::IndexMap;
use serde::Serialize;

use crate::config::{Addon, Environment, UserFile};
use crate::deploy::{self, ServiceReport};
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

/// A row of `env list`.
#[derive(Debug, Clone, Serialize)]
pub struct EnvSummary {
    pub name: String,
    pub vms: Vec<String>,
    /// Ids of its effective instances.
    pub addons: Vec<String>,
    /// `up`, `down`, `partly up (1/2)`, or `unknown: <why>`.
    pub state: String,
}

/// A row of `env status`: one per addon instance of the environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvStatusRow {
    pub env: String,
    pub vm: String,
    pub addon: String,
    pub service: String,
    /// running, exited ..., or `absent` when it has no container.
    pub state: String,
    pub health: Option<String>,
    pub ports: Vec<String>,
}

/// The environments `which` names (all when none), checked.
pub(crate) fn selected(
    ws: &Workspace,
    project: &Project,
    which: Option<&str>,
) -> Result<Vec<Environment>> {
    let config = crate::config::load(&project.config_path(), &ws.catalog)?;
    match which {
        Some(name) => {
            ws.environment(project, name)?;
            Ok(vec![config.environments[name].clone()])
        }
        None => Ok(config.environments.into_values().collect()),
    }
}

/// Live state of each addon of the environments (all, or `which`), from
/// their VMs' engines; every environment at once.
pub async fn status(
    ws: &Workspace,
    project: &Project,
    which: Option<&str>,
) -> Result<Vec<EnvStatusRow>> {
    let envs = selected(ws, project, which)?;
    let per_env = futures_util::future::join_all(envs.iter().map(|env| async move {
        let scoped = ws.environment(project, &env.name)?;
        let live = deploy::status(ws, &scoped, None).await?;
        Ok::<_, UserError>(rows_of(env, &live))
    }))
    .await;
    let mut rows = Vec::new();
    for r in per_env {
        rows.extend(r?);
    }
    Ok(rows)
}

/// The deployment's containers of the environments (all, or `which`), from
/// their VMs' engines (over SSH for a remote one): `addon` is `deployment`,
/// one row per container. Environments without a deployment give none.
pub async fn deployment_status(
    ws: &Workspace,
    project: &Project,
    which: Option<&str>,
) -> Result<Vec<EnvStatusRow>> {
    let envs = selected(ws, project, which)?;
    let per_env =
        futures_util::future::join_all(envs.iter().filter(|env| env.deployment.is_some()).map(
            |env| async move {
                let r = resolve(ws, project, &env.name)?;
                let vm = super::run::vm_of(&r)?;
                let conn = deploy::target::Connected::open(ws, &r.scoped, &vm).await?;
                let cp = super::run::compose_project_of(&r, "deployment");
                let live = crate::docker::project_containers(&conn.docker, &cp).await?;
                Ok::<_, UserError>(
                    live.into_iter()
                        .map(|s| EnvStatusRow {
                            env: env.name.clone(),
                            vm: r.vm.clone(),
                            addon: "deployment".into(),
                            service: s.service,
                            state: s.state,
                            health: s.health,
                            ports: s.ports,
                        })
                        .collect::<Vec<_>>(),
                )
            },
        ))
        .await;
    let mut rows = Vec::new();
    for r in per_env {
        rows.extend(r?);
    }
    Ok(rows)
}

pub(crate) fn rows_of(env: &Environment, live: &[deploy::StatusRow]) -> Vec<EnvStatusRow> {
    env.addons
        .iter()
        .map(|a: &Addon| {
            let found = live
                .iter()
                .find(|r| r.vm == a.vm && r.state.service == a.service());
            EnvStatusRow {
                env: env.name.clone(),
                vm: a.vm.clone(),
                addon: a.id(),
                service: a.service(),
                state: found
                    .map(|r| r.state.state.clone())
                    .unwrap_or_else(|| "absent".into()),
                health: found.and_then(|r| r.state.health.clone()),
                ports: found.map(|r| r.state.ports.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// One line for the console's Environments pane: name, VMs, and each
/// instance with where it comes from (the project's, an override, its own).
pub fn describe(env: &Environment) -> String {
    let addons: Vec<String> = env
        .addons
        .iter()
        .map(|a| {
            let id = a.id();
            let tag = if env.own.contains(&id) {
                " (own)"
            } else if env.overridden.contains(&id) {
                " (override)"
            } else {
                ""
            };
            format!("{id}{tag}")
        })
        .collect();
    format!(
        "{:<12} on {}  {}",
        env.name,
        env.vms.join(", "),
        addons.join(", ")
    )
}

/// One word for an environment's addons: all up, none, or how many.
pub fn state_word(rows: &[EnvStatusRow]) -> String {
    let up = rows
        .iter()
        .filter(|r| r.state == "running" && r.health.as_deref().is_none_or(|h| h == "healthy"))
        .count();
    let present = rows.iter().filter(|r| r.state != "absent").count();
    match (up, present) {
        _ if rows.is_empty() => "no addons".into(),
        (u, _) if u == rows.len() => "up".into(),
        (_, 0) => "down".into(),
        (u, _) => format!("partly up ({u}/{})", rows.len()),
    }
}

/// Every environment with its VMs, addons and live state. A VM that cannot
/// be reached makes that environment's state `unknown: <why>`, not an error.
pub async fn list(ws: &Workspace, project: &Project) -> Result<Vec<EnvSummary>> {
    let envs = selected(ws, project, None)?;
    let states = futures_util::future::join_all(envs.iter().map(|env| async move {
        let scoped = ws.environment(project, &env.name)?;
        let live = deploy::status(ws, &scoped, None).await?;
        Ok::<_, UserError>(state_word(&rows_of(env, &live)))
    }))
    .await;
    Ok(envs
        .iter()
        .zip(states)
        .map(|(env, state)| EnvSummary {
            name: env.name.clone(),
            vms: env.vms.clone(),
            addons: env.addons.iter().map(Addon::id).collect(),
            state: state.unwrap_or_else(|e| {
                format!("unknown: {}", e.message.lines().next().unwrap_or_default())
            }),
        })
        .collect())
}

/// `env stop ENV`: its containers stopped and removed, its volumes kept;
/// nothing of any other environment is touched (its own compose projects).
pub async fn stop(
    ws: &Workspace,
    project: &Project,
    env: &str,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<ServiceReport>> {
    let scoped = ws.environment(project, env)?;
    // The deployment first: it uses the addons.
    super::phases::stop_deployment(ws, project, env, report).await?;
    deploy::down(ws, &scoped, None, &|line| {
        report(format!("env {env}: {line}"))
    })
    .await
}

/// An instance as `env config` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EffectiveAddon {
    pub id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub version: String,
    pub plan: String,
    pub vm: String,
    pub options: IndexMap<String, String>,
    /// `project`, `override` or `own`.
    pub source: String,
    pub service: String,
    /// Credentials, hosts and ports as secrets.yml holds (or a sync would
    /// write) them; secret values masked.
    pub credentials: IndexMap<String, String>,
}

/// `env config ENV`: the effective configuration, overrides resolved.
#[derive(Debug, Clone, Serialize)]
pub struct EffectiveConfig {
    pub environment: String,
    pub project: String,
    pub vms: Vec<String>,
    /// VM → compose project its containers run under.
    pub compose_projects: IndexMap<String, String>,
    /// Where its generated files and secrets.yml are.
    pub folder: String,
    pub addons: Vec<EffectiveAddon>,
    pub variables: IndexMap<String, String>,
    pub init: Vec<UserFile>,
    pub deployment: Option<UserFile>,
    pub init_timeout_s: u64,
}

pub const MASK: &str = "••••••••";

pub fn effective(ws: &Workspace, project: &Project, env: &str) -> Result<EffectiveConfig> {
    let scoped = ws.environment(project, env)?;
    let config = crate::config::load(&project.config_path(), &ws.catalog)?;
    let environment = &config.environments[env];
    let loaded = ws.load(&scoped)?;
    let addons = environment
        .addons
        .iter()
        .map(|a| {
            let id = a.id();
            let t = ws.catalog.require(&a.type_name)?;
            let credentials = loaded
                .generated
                .secrets
                .get(&a.type_name)
                .and_then(|m| m.get(&a.name))
                .map(|kv| {
                    kv.iter()
                        .map(|(k, v)| {
                            let shown = if t.is_secret_credential(k) {
                                MASK.to_string()
                            } else {
                                v.clone()
                            };
                            (k.clone(), shown)
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(EffectiveAddon {
                source: if environment.own.contains(&id) {
                    "own"
                } else if environment.overridden.contains(&id) {
                    "override"
                } else {
                    "project"
                }
                .into(),
                service: a.service(),
                id,
                type_name: a.type_name.clone(),
                version: a.version.clone(),
                plan: a.plan.clone(),
                vm: a.vm.clone(),
                options: a.options.clone(),
                credentials,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EffectiveConfig {
        environment: env.to_string(),
        project: project.name.clone(),
        vms: environment.vms.clone(),
        compose_projects: environment
            .vms
            .iter()
            .map(|vm| (vm.clone(), deploy::compose_project(&scoped.name, vm)))
            .collect(),
        folder: scoped.dir.display().to_string(),
        addons,
        variables: environment.variables.clone(),
        init: environment.init.clone(),
        deployment: environment.deployment.clone(),
        init_timeout_s: environment.init_timeout_s,
    })
}
