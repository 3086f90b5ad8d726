//! `env init`, `env deploy`, `env restart` and the deployment's part of
//! `env stop` and `env logs`: the user's files run on the environment's VM
//! (run.rs), after substitution (files.rs). Re-exported by ops.rs.

use std::time::Duration;

use serde::Serialize;

use crate::deploy;
use crate::docker::ServiceState;
use crate::engine::{Project, Workspace};
use crate::env::files::{self, Prepared};
use crate::env::run::{self, InitRow, Runner, compose_project_of, render_init, vm_note};
use crate::env::vars::{Resolved, resolve};
use crate::error::{Result, UserError};

/// What `env init` did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    pub env: String,
    pub rows: Vec<InitRow>,
}

fn retry_hint(env: &str) -> String {
    format!("fix it, then retry: sdtui env init {env} (nothing else was changed)")
}

/// `env init ENV`: each init file, in order, run to completion; the first
/// container that exits non-zero (or outlives `init_timeout`) stops the
/// phase with the table in the error. Nothing else is touched.
pub async fn init(
    ws: &Workspace,
    project: &Project,
    env: &str,
    report: &(dyn Fn(String) + Sync),
) -> Result<InitReport> {
    let r = resolve(ws, project, env)?;
    let (init, _) = files::prepare_all(&r, &project.dir)?;
    run_init(ws, &r, project, &init, report).await
}

pub(crate) async fn run_init(
    ws: &Workspace,
    r: &Resolved,
    project: &Project,
    init: &[Prepared],
    report: &(dyn Fn(String) + Sync),
) -> Result<InitReport> {
    let env = &r.environment.name;
    let step = |s: String| report(format!("env {env}: {s}"));
    let mut rows = Vec::new();
    if init.is_empty() {
        step("init: none configured (skipped)".into());
        return Ok(InitReport {
            env: env.clone(),
            rows,
        });
    }
    let runner = Runner::open(ws, r, &project.dir).await?;
    let timeout = Duration::from_secs(r.environment.init_timeout_s);
    for p in init {
        step(format!(
            "init: {} ({} service{}) on {}",
            p.source.path.display(),
            p.services.len(),
            if p.services.len() == 1 { "" } else { "s" },
            vm_note(r)
        ));
        let paths = runner.put(r, p).await?;
        let got = run::run_init_file(r, &runner, p, &paths, timeout).await?;
        let failed = got
            .iter()
            .find(|row| row.exit_code != Some(0))
            .map(|row| (row.service.clone(), row.outcome.clone(), row.exit_code));
        for row in &got {
            step(format!(
                "init: {} {} ({:.1}s)",
                row.service,
                row.exit_code
                    .map(|c| format!("exited {c}"))
                    .unwrap_or_else(|| row.outcome.clone()),
                row.seconds
            ));
        }
        rows.extend(got);
        if let Some((service, outcome, code)) = failed {
            let why = match code {
                Some(c) => format!("exited with code {c}"),
                None => outcome,
            };
            return Err(UserError::new(format!(
                "env {env}: init container {service} ({}) {why}; the init phase stopped, the deployment was not touched\n\n{}",
                p.source.path.display(),
                render_init(&rows).trim_end()
            ))
            .hint(retry_hint(env)));
        }
    }
    Ok(InitReport {
        env: env.clone(),
        rows,
    })
}

/// What `env deploy` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub env: String,
    /// The user's file, `none configured` when there is none.
    pub file: String,
    pub compose_project: String,
    pub services: Vec<ServiceState>,
}

/// `env deploy ENV`: the deployment file substituted, written, `up -d` as
/// the environment's deployment project, health waited where the file
/// has health checks.
pub async fn deploy(
    ws: &Workspace,
    project: &Project,
    env: &str,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<DeployReport> {
    let r = resolve(ws, project, env)?;
    let (_, deployment) = files::prepare_all(&r, &project.dir)?;
    run_deploy(ws, &r, project, deployment.as_ref(), timeout, report).await
}

async fn run_deploy(
    ws: &Workspace,
    r: &Resolved,
    project: &Project,
    deployment: Option<&Prepared>,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<DeployReport> {
    let env = &r.environment.name;
    let step = |s: String| report(format!("env {env}: {s}"));
    let cp = compose_project_of(r, "deployment");
    let Some(p) = deployment else {
        step("deployment: none configured (skipped)".into());
        return Ok(DeployReport {
            env: env.clone(),
            file: "none configured".into(),
            compose_project: cp,
            services: vec![],
        });
    };
    let runner = Runner::open(ws, r, &project.dir).await?;
    let what = if p.pod.is_some() {
        format!(
            "{} (a Pod, through its compose twin)",
            p.source.path.display()
        )
    } else {
        p.source.path.display().to_string()
    };
    step(format!(
        "deployment: {what} as compose project {cp} on {}",
        vm_note(r)
    ));
    let paths = runner.put(r, p).await?;
    runner
        .compose(&cp, &paths, &["up", "-d", "--remove-orphans"])
        .await?;
    step("deployment: up; waiting for health".into());
    let services = run::wait_healthy(runner.docker(), &cp, timeout, &run::secret_values(r)).await?;
    step(format!(
        "deployment: {} running{}",
        services.len(),
        if services.iter().any(|s| s.health.is_some()) {
            " and healthy"
        } else {
            ""
        }
    ));
    Ok(DeployReport {
        env: env.clone(),
        file: p.source.path.display().to_string(),
        compose_project: cp,
        services,
    })
}

/// What `env start` did, step by step.
#[derive(Debug, Clone, Serialize)]
pub struct StartReport {
    pub env: String,
    /// Files the generate step wrote (0: nothing changed).
    pub files_written: usize,
    pub addons: Vec<deploy::ServiceReport>,
    pub init: InitReport,
    pub deployment: DeployReport,
}

/// `env start ENV`: validate (the user's files substituted first, so a bad
/// variable stops everything before any container changes) → generate →
/// addons up and healthy → init → deployment, each step to `report`.
pub async fn start(
    ws: &Workspace,
    project: &Project,
    env: &str,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<StartReport> {
    let step = |s: String| report(format!("env {env}: {s}"));
    step("validate".into());
    let r = resolve(ws, project, env)?;
    let (init, deployment) = files::prepare_all(&r, &project.dir)?;
    if !init.is_empty() || deployment.is_some() {
        run::vm_of(&r)?;
    }
    let environment = &r.environment;
    step(format!(
        "validate: ok ({} addon{} on VM{} {}, {} init file{}, {})",
        environment.addons.len(),
        if environment.addons.len() == 1 {
            ""
        } else {
            "s"
        },
        if environment.vms.len() == 1 { "" } else { "s" },
        environment.vms.join(", "),
        init.len(),
        if init.len() == 1 { "" } else { "s" },
        if deployment.is_some() {
            "a deployment"
        } else {
            "no deployment"
        }
    ));
    step("generate".into());
    let plan = ws.run(&r.scoped, &crate::engine::Operation::Sync, false)?;
    for note in &plan.notes {
        step(format!("note: {note}"));
    }
    let files_written = plan.changes.len();
    step(if files_written == 0 {
        "generate: unchanged".into()
    } else {
        format!("generate: {files_written} files written")
    });
    step("addons: up".into());
    let addons = deploy::up_reporting(ws, &r.scoped, None, timeout, &|line| step(line)).await?;
    step("addons: up and healthy".into());
    // The sync may have created credentials: read them again.
    let r = resolve(ws, project, env)?;
    let (init, deployment) = files::prepare_all(&r, &project.dir)?;
    let init = run_init(ws, &r, project, &init, report).await?;
    let deployment = run_deploy(ws, &r, project, deployment.as_ref(), timeout, report).await?;
    Ok(StartReport {
        env: env.to_string(),
        files_written,
        addons,
        init,
        deployment,
    })
}

/// The deployment's and init files' part of `env stop`: their containers
/// removed (named volumes kept); nothing for a file that never ran.
pub async fn stop_deployment(
    ws: &Workspace,
    project: &Project,
    env: &str,
    report: &(dyn Fn(String) + Sync),
) -> Result<()> {
    let r = resolve(ws, project, env)?;
    let dir = r.scoped.dir.join(files::FILES_DIR);
    let names = std::iter::once("deployment".to_string())
        .chain((1..=r.environment.init.len()).map(|i| format!("init-{i}")));
    let mut runner = None;
    for name in names {
        let copy = dir.join(format!("{name}.yml"));
        if !copy.is_file() {
            continue;
        }
        let runner = match &mut runner {
            Some(r) => r,
            None => runner.insert(Runner::open(ws, &r, &project.dir).await?),
        };
        let mut local = vec![copy];
        let net = dir.join(format!("{name}.network.yml"));
        if net.is_file() {
            local.push(net);
        }
        // The copies that last ran, on the VM too (compose v1 needs them).
        let paths = runner.put_paths(&local).await?;
        let cp = compose_project_of(&r, &name);
        report(format!("env {env}: {name}: down ({cp}, volumes kept)"));
        runner
            .compose(&cp, &paths, &["down", "--remove-orphans"])
            .await?;
    }
    Ok(())
}

/// `env restart ENV [service]`: the deployment's containers (or one
/// service's) restarted in place.
pub async fn restart(
    ws: &Workspace,
    project: &Project,
    env: &str,
    service: Option<&str>,
    report: &(dyn Fn(String) + Sync),
) -> Result<()> {
    let r = resolve(ws, project, env)?;
    let (_, deployment) = files::prepare_all(&r, &project.dir)?;
    let Some(p) = deployment else {
        return Err(
            UserError::new(format!("environment {env} has no deployment to restart"))
                .hint("name one under `deployment:` in config.yml"),
        );
    };
    if let Some(s) = service
        && !p.services.iter().any(|x| x == s)
    {
        return Err(
            UserError::new(format!("the deployment of {env} has no service \"{s}\""))
                .hint(crate::config::hint_choices("services", p.services.iter())),
        );
    }
    let runner = Runner::open(ws, &r, &project.dir).await?;
    let paths = runner.put(&r, &p).await?;
    let cp = compose_project_of(&r, "deployment");
    let mut args = vec!["restart"];
    args.extend(service);
    report(format!(
        "env {env}: restart {}",
        service.unwrap_or("every service of the deployment")
    ));
    runner.compose(&cp, &paths, &args).await?;
    Ok(())
}

/// What `env restart ENV` restarts: each container of the deployment's
/// compose project, as it runs now (the same refusal as `restart` when the
/// environment has no deployment). Nothing is changed.
pub async fn restart_preview(
    ws: &Workspace,
    project: &Project,
    env: &str,
) -> Result<Vec<super::ops::EnvStatusRow>> {
    let r = resolve(ws, project, env)?;
    let (_, deployment) = files::prepare_all(&r, &project.dir)?;
    let Some(p) = deployment else {
        return Err(
            UserError::new(format!("environment {env} has no deployment to restart"))
                .hint("name one under `deployment:` in config.yml"),
        );
    };
    let docker = crate::docker::connect_local().await?;
    let cp = compose_project_of(&r, "deployment");
    let file = p.source.path.display().to_string();
    Ok(crate::docker::project_containers(&docker, &cp)
        .await?
        .into_iter()
        .map(|c| super::ops::EnvStatusRow {
            env: env.to_string(),
            vm: r.vm.clone(),
            addon: file.clone(),
            service: c.service,
            state: c.state,
            health: c.health,
            ports: c.ports,
        })
        .collect())
}

/// Containers `env logs` reads: the addons' and the deployment's (one
/// service's when named), with their VM's client.
pub async fn log_sources(
    ws: &Workspace,
    project: &Project,
    env: &str,
    service: Option<&str>,
) -> Result<Vec<deploy::LogSource>> {
    let r = resolve(ws, project, env)?;
    let mut sources: Vec<deploy::LogSource> = deploy::log_sources(ws, &r.scoped, None)
        .await
        .unwrap_or_default();
    let cp = compose_project_of(&r, "deployment");
    let vm = run::vm_of(&r)?;
    let docker = deploy::target::Connected::open(ws, &r.scoped, &vm)
        .await?
        .docker;
    for c in crate::docker::project_containers(&docker, &cp).await? {
        sources.push(deploy::LogSource {
            vm: r.vm.clone(),
            service: c.service,
            container_id: c.container_id,
            docker: docker.clone(),
        });
    }
    if let Some(s) = service {
        let names: Vec<String> = sources.iter().map(|x| x.service.clone()).collect();
        sources.retain(|x| x.service == s);
        if sources.is_empty() {
            return Err(
                UserError::new(format!("environment {env} has no container for \"{s}\""))
                    .hint(crate::config::hint_choices("services", names.iter())),
            );
        }
    }
    if sources.is_empty() {
        return Err(
            UserError::new(format!("environment {env} has no containers"))
                .hint(format!("start it first: sdtui env start {env}")),
        );
    }
    Ok(sources)
}
