//! Putting a project's generated files onto a VM and keeping it honest:
//! `up` (compose up, health wait, provisioning, rollback), `down`,
//! `status`, `logs`. This first cut drives the `local` VM; remote VMs over
//! SSH come next and reuse the same steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use futures_util::future::join_all;
use serde::Serialize;

use crate::config::{Config, Vm};
use crate::docker::{self, ServiceState};
use crate::engine::generate::{self, COMPOSE_FILE};
use crate::engine::{Operation, Project, Workspace, audit};
use crate::error::{Result, UserError, io_error};

pub mod container;
pub mod lock;
pub mod ports_check;
pub mod steps;
pub mod target;

use target::Connected;

/// How one compose command is run: the program and its arguments, as data
/// (never a shell line), so tests can read exactly what would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: String,
    pub args: Vec<String>,
    pub dir: PathBuf,
}

/// The Compose command a VM's settings name: config.yml's
/// `vms.<vm>.compose`, else, for the local engine only, `$SDTUI_COMPOSE`
/// (`docker compose`, `docker-compose` or a path: this machine's setting,
/// not a remote VM's); `None` leaves the choice to [`detect`].
pub fn configured_compose(vm: &Vm) -> Option<Vec<String>> {
    vm.compose.clone().or_else(|| {
        std::env::var("SDTUI_COMPOSE")
            .ok()
            .filter(|_| vm.is_local())
            .and_then(|s| shlex::split(&s))
            .filter(|w| !w.is_empty())
    })
}

/// `docker compose` (v2) when `docker compose version` runs, else
/// `docker-compose` (v1, or v2 installed standalone).
pub fn detect(v2_runs: bool) -> Vec<String> {
    if v2_runs {
        vec!["docker".into(), "compose".into()]
    } else {
        vec!["docker-compose".into()]
    }
}

/// The local engine's Compose.
pub fn compose_program(vm: &Vm) -> Vec<String> {
    configured_compose(vm).unwrap_or_else(|| {
        detect(
            std::process::Command::new("docker")
                .args(["compose", "version"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
        )
    })
}

/// How `up` names the Compose it ran: `compose v2.26.1 (docker compose)`.
pub fn compose_label(program: &[String], version_output: &str) -> String {
    let version = version_output.trim();
    let version = version.strip_prefix('v').unwrap_or(version);
    let command =
        shlex::try_join(program.iter().map(String::as_str)).unwrap_or_else(|_| program.join(" "));
    format!("compose v{version} ({command})")
}

/// Compose project name for a project's VM: containers are found by it.
pub fn compose_project(project: &str, vm: &str) -> String {
    format!("{project}-{vm}")
}

pub fn compose_command(
    program: &[String],
    dir: &Path,
    compose_project: &str,
    args: &[&str],
) -> Command {
    let mut all: Vec<String> = program[1..].to_vec();
    all.extend([
        "-p".into(),
        compose_project.into(),
        "-f".into(),
        COMPOSE_FILE.into(),
    ]);
    all.extend(args.iter().map(|s| s.to_string()));
    Command {
        program: program[0].clone(),
        args: all,
        dir: dir.to_path_buf(),
    }
}

async fn run(cmd: &Command) -> Result<String> {
    let out = tokio::process::Command::new(&cmd.program)
        .args(&cmd.args)
        .current_dir(&cmd.dir)
        .output()
        .await
        .map_err(|e| {
            UserError::new(format!("cannot run {}: {e}", cmd.program))
                .hint("install docker-compose or the docker compose plugin")
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(UserError::new(format!(
            "{} {} failed:\n{}",
            cmd.program,
            cmd.args.join(" "),
            text.trim_end()
        )));
    }
    Ok(text)
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Recreated,
    Unchanged,
    Failed,
    Removed,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub vm: String,
    pub service: String,
    pub action: Action,
    pub health: String,
    pub container_id: String,
    /// For a failure: what went wrong and the container's last log lines.
    pub detail: Option<String>,
    /// The Compose that ran (`compose v2.26.1 (docker compose)`); none when
    /// nothing had to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose: Option<String>,
}

/// Where a VM's deployed files live: `current` is what runs, `previous` what
/// ran before it (the rollback target).
fn release_dir(project: &Project, vm: &str) -> PathBuf {
    project.state_dir().join("deploy").join(vm)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| io_error(to, "create", e))?;
    for e in std::fs::read_dir(from)
        .map_err(|e| io_error(from, "read", e))?
        .flatten()
    {
        let target = to.join(e.file_name());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target).map_err(|err| io_error(&target, "copy", err))?;
        }
    }
    Ok(())
}

/// Stages the generated files as the new `current`, keeping the old one as
/// `previous`. Returns whether a previous release exists.
fn stage(project: &Project, vm: &str) -> Result<bool> {
    let base = release_dir(project, vm);
    let generated = crate::engine::apply::generated_vm_dir(&project.dir, vm)?;
    let next = base.join("next");
    let current = base.join("current");
    let previous = base.join("previous");
    let _ = std::fs::remove_dir_all(&next);
    copy_tree(&generated, &next)?;
    let had_current = current.exists();
    if had_current {
        let _ = std::fs::remove_dir_all(&previous);
        std::fs::rename(&current, &previous).map_err(|e| io_error(&current, "move", e))?;
    }
    std::fs::rename(&next, &current).map_err(|e| io_error(&next, "move", e))?;
    Ok(had_current || previous.exists())
}

fn unstage(project: &Project, vm: &str) -> Result<()> {
    let base = release_dir(project, vm);
    let failed = base.join("failed");
    let _ = std::fs::remove_dir_all(&failed);
    std::fs::rename(base.join("current"), &failed).map_err(|e| io_error(&failed, "move", e))?;
    std::fs::rename(base.join("previous"), base.join("current"))
        .map_err(|e| io_error(&base, "move", e))
}

/// Waits until every container of the compose project is healthy (or
/// running, without a health check). Returns the failing ones otherwise.
/// Follows the engine's events (subscribed before the first look, so no
/// change is missed) instead of polling; `report` hears each service's
/// state as it changes.
async fn wait_healthy(
    docker: &Docker,
    compose_project: &str,
    expected: usize,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<(Vec<ServiceState>, Vec<String>)> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut events = std::pin::pin!(docker::project_events(docker, compose_project));
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let states = docker::project_containers(docker, compose_project).await?;
        for s in &states {
            let now = s.health.clone().unwrap_or_else(|| s.state.clone());
            if seen.get(&s.service) != Some(&now) {
                report(format!("{} {now}", s.service));
                seen.insert(s.service.clone(), now);
            }
        }
        let bad: Vec<String> = states
            .iter()
            .filter(|s| {
                s.health.as_deref() == Some("unhealthy")
                    || (s.state == "exited" || s.state == "dead")
            })
            .map(|s| s.service.clone())
            .collect();
        let pending = states
            .iter()
            .any(|s| s.state != "running" || s.health.as_deref() == Some("starting"));
        if !bad.is_empty() {
            return Ok((states, bad));
        }
        if !pending && states.len() >= expected {
            return Ok((states, vec![]));
        }
        if tokio::time::Instant::now() >= deadline {
            let slow = states
                .iter()
                .filter(|s| s.health.as_deref() != Some("healthy"))
                .map(|s| s.service.clone())
                .collect();
            return Ok((states, slow));
        }
        // The next event (or the deadline, looked at above).
        match tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut events)).await {
            Err(_) | Ok(Some(Ok(_))) => {}
            // The stream broke: look again shortly.
            Ok(Some(Err(_)) | None) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Runs each addon type's provisioning (readonly roles, ACL users) inside
/// its container, after it is healthy.
pub(crate) async fn provision(
    ws: &Workspace,
    config: &Config,
    secrets: &crate::engine::secrets::AddonSecrets,
    vm: &str,
    docker: &Docker,
    states: &[ServiceState],
) -> Result<()> {
    for addon in config.addons.iter().filter(|a| a.vm == vm) {
        let t = ws.catalog.require(&addon.type_name)?;
        let (Some(client), Some(steps)) = (&t.provision_with, t.provision.get("readonly")) else {
            continue;
        };
        let Some(container) = states.iter().find(|s| s.service == addon.service()) else {
            continue;
        };
        let vars: BTreeMap<String, String> = secrets[&addon.type_name][&addon.name]
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        steps::run(
            docker,
            &container.container_id,
            t,
            client,
            &vars,
            steps,
            &vars,
            &format!("provisioning {}", addon.id()),
            &steps::secret_values(t, &vars),
        )
        .await?;
    }
    Ok(())
}

fn select_vms<'a>(config: &'a Config, vm_filter: Option<&str>) -> Result<Vec<&'a Vm>> {
    let vms: Vec<&Vm> = config
        .vms
        .values()
        .filter(|v| vm_filter.is_none_or(|f| f == v.name))
        .collect();
    if let Some(f) = vm_filter
        && vms.is_empty()
    {
        return Err(UserError::new(format!("unknown VM \"{f}\""))
            .hint(crate::config::hint_choices("VMs", config.vms.keys())));
    }
    Ok(vms)
}

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
    // The VMs' deploy locks before the sync: a second `up` waits here, then
    // deploys the state the first one left, never beside it.
    let wanted: Vec<String> = select_vms(&ws.load(project)?.config, vm_filter)?
        .iter()
        .map(|vm| vm.name.clone())
        .collect();
    let mut locks = lock::acquire_all(project, &wanted, "up", report).await?;
    let started = audit::now();
    ws.run(project, &Operation::Sync, false)?;
    let loaded = ws.load(project)?;
    let vms: Vec<&Vm> = select_vms(&loaded.config, vm_filter)?
        .into_iter()
        .filter(|vm| {
            project
                .dir
                .join(generate::compose_dir(&vm.name))
                .join(COMPOSE_FILE)
                .exists()
        })
        .collect();
    // A VM added to config.yml while this one waited.
    let unlocked: Vec<String> = vms
        .iter()
        .filter(|vm| !locks.iter().any(|l| l.vm == vm.name))
        .map(|vm| vm.name.clone())
        .collect();
    locks.extend(lock::acquire_all(project, &unlocked, "up", report).await?);
    // Every VM at once: connect, stage, compose up, wait, provision.
    let runs = vms.iter().map(|vm| {
        let loaded = &loaded;
        async move {
            report(format!("VM {}: connecting", vm.name));
            let conn = Connected::open(ws, project, vm)
                .await
                .map_err(|e| (vec![], e))?;
            let vm_report = |line: String| report(format!("VM {}: {line}", vm.name));
            up_vm(ws, project, loaded, vm, &conn, timeout, &vm_report).await
        }
    });
    let mut reports = Vec::new();
    let mut failure: Option<UserError> = None;
    for result in join_all(runs).await {
        match result {
            Ok(mut r) => reports.append(&mut r),
            Err((mut r, e)) => {
                reports.append(&mut r);
                failure = Some(match failure {
                    None => e,
                    Some(prev) => UserError {
                        message: format!("{}\n{}", prev.message, e.message),
                        ..prev
                    },
                });
            }
        }
    }
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
        &audit::Entry {
            started: Some(started),
            ..audit::Entry::new(
                format!(
                    "up{}",
                    vm_filter.map(|v| format!(" --vm {v}")).unwrap_or_default()
                ),
                outcome,
                summary,
            )
        },
    )?;
    // Held until the audit entry is written, so entries of one VM's deploys
    // never overlap in time.
    drop(locks);
    match failure {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

async fn up_vm(
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
    let digest = release_digest(project, &vm.name).map_err(|e| (vec![], e))?;
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
        return Ok(running
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
            .collect());
    }
    ports_check::refuse_held_ports(docker, project, loaded, vm)
        .await
        .map_err(|e| (vec![], e))?;
    // Only a release that came up healthy is one to go back to: a first
    // deploy that failed leaves `current` behind, but nothing to restore.
    let previous_healthy = deployed_marker(project, &vm.name).exists();
    let _ = std::fs::remove_file(deployed_marker(project, &vm.name));
    // Which Compose runs here, in its own words, before it runs.
    let compose = conn.target.compose_label().await.map_err(|e| (vec![], e))?;
    report(compose.clone());
    let has_previous = conn
        .target
        .stage(project, &vm.name)
        .await
        .map_err(|e| (vec![], e))?;
    let expected = loaded
        .config
        .addons
        .iter()
        .filter(|a| a.vm == vm.name)
        .count()
        + loaded
            .config
            .apps
            .values()
            .filter(|a| a.vm == vm.name)
            .count();
    // Addons first: healthy and provisioned (readonly roles exist) before
    // any app that uses them starts.
    let addon_services: Vec<String> = loaded
        .config
        .addons
        .iter()
        .filter(|a| a.vm == vm.name)
        .map(|a| a.service())
        .collect();
    let mut phases: Vec<(Vec<String>, usize)> = Vec::new();
    if !addon_services.is_empty() {
        // Orphans go first: a renamed addon's old container still holds its
        // port and its volume, which the new one needs.
        let mut args = vec![
            "up".to_string(),
            "-d".to_string(),
            "--remove-orphans".to_string(),
        ];
        args.extend(addon_services.iter().cloned());
        phases.push((args, addon_services.len()));
    }
    phases.push((
        vec!["up".into(), "-d".into(), "--remove-orphans".into()],
        expected,
    ));
    let (mut states, mut bad) = (Vec::new(), Vec::new());
    let mut compose_error: Option<String> = None;
    for (i, (args, want)) in phases.iter().enumerate() {
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
        if i == 0 && phases.len() > 1 {
            report("provisioning attachments (readonly roles, users)".into());
        }
        if i == 0
            && phases.len() > 1
            && let Err(e) = provision(
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
    }
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

/// Services the generated files put on a VM: addons, then apps.
fn expected_services(config: &Config, vm: &str) -> Vec<String> {
    let addons = config
        .addons
        .iter()
        .filter(|a| a.vm == vm)
        .map(|a| a.service());
    addons
        .chain(
            config
                .apps
                .values()
                .filter(|a| a.vm == vm)
                .map(|a| a.name.clone()),
        )
        .collect()
}

/// Where the digest of the last release that came up healthy is kept.
pub(crate) fn deployed_marker(project: &Project, vm: &str) -> PathBuf {
    project
        .state_dir()
        .join("deploy")
        .join(format!("{vm}.deployed"))
}

/// A digest of every generated file for a VM (paths and bytes), to tell a
/// no-change `up` without asking compose.
pub(crate) fn release_digest(project: &Project, vm: &str) -> Result<String> {
    tree_digest(&crate::engine::apply::generated_vm_dir(&project.dir, vm)?)
}

/// SHA-256 over every file under `dir`: its relative path and bytes.
fn tree_digest(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .map_err(|e| io_error(&d, "read", e))?
            .flatten()
        {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files.sort();
    // SHA-256, not DefaultHasher: its algorithm may change between Rust
    // releases, and a new sdtui build must still see an unchanged release.
    // Each path and content is length-prefixed so no two trees collide by
    // moving bytes between a name and a body.
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    for f in files {
        let rel = f
            .strip_prefix(dir)
            .unwrap_or(&f)
            .to_string_lossy()
            .into_owned();
        let bytes = std::fs::read(&f).map_err(|e| io_error(&f, "read", e))?;
        for part in [rel.as_bytes(), bytes.as_slice()] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
    }
    Ok(data_encoding::HEXLOWER.encode(h.finish().as_ref()))
}

/// `down`: stops and removes containers; volumes (the data) stay.
pub async fn down(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<ServiceReport>> {
    let wanted: Vec<String> = select_vms(&ws.load(project)?.config, vm_filter)?
        .iter()
        .map(|vm| vm.name.clone())
        .collect();
    let locks = lock::acquire_all(project, &wanted, "down", report).await?;
    let started = audit::now();
    let loaded = ws.load(project)?;
    let mut reports = Vec::new();
    for vm in select_vms(&loaded.config, vm_filter)?
        .into_iter()
        .filter(|vm| wanted.contains(&vm.name))
    {
        let conn = Connected::open(ws, project, vm).await?;
        if !conn.target.has_current() {
            continue;
        }
        let name = compose_project(&project.name, &vm.name);
        let before = docker::project_containers(&conn.docker, &name).await?;
        conn.target
            .compose(&name, &["down", "--remove-orphans"])
            .await?;
        reports.extend(before.into_iter().map(|s| ServiceReport {
            vm: vm.name.clone(),
            service: s.service,
            action: Action::Removed,
            health: "stopped".into(),
            container_id: s.container_id.chars().take(12).collect(),
            detail: None,
            compose: None,
        }));
    }
    audit::append(
        &project.audit_path(),
        &audit::Entry {
            started: Some(started),
            ..audit::Entry::new("down", "applied", vec![])
        },
    )?;
    drop(locks);
    Ok(reports)
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    pub vm: String,
    #[serde(flatten)]
    pub state: ServiceState,
}

/// Live state of every service on one VM, through its engine.
pub async fn vm_status(docker: &Docker, project: &Project, vm: &str) -> Result<Vec<StatusRow>> {
    let states = docker::project_containers(docker, &compose_project(&project.name, vm)).await?;
    Ok(states
        .into_iter()
        .map(|state| StatusRow {
            vm: vm.to_string(),
            state,
        })
        .collect())
}

/// Live state of every service on the project's VMs.
pub async fn status(
    ws: &Workspace,
    project: &Project,
    vm_filter: Option<&str>,
) -> Result<Vec<StatusRow>> {
    let loaded = ws.load(project)?;
    let vms = select_vms(&loaded.config, vm_filter)?;
    // Every VM at once; one engine call per container, no polling.
    let per_vm = join_all(vms.iter().map(|vm| async move {
        let conn = Connected::open(ws, project, vm).await?;
        vm_status(&conn.docker, project, &vm.name).await
    }))
    .await;
    let mut rows = Vec::new();
    for r in per_vm {
        rows.extend(r?);
    }
    Ok(rows)
}

/// Finds a service's container on whichever VM runs it.
pub async fn service_container(
    ws: &Workspace,
    project: &Project,
    service: &str,
) -> Result<(Docker, ServiceState)> {
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

/// One app release, as `releases APP` lists them.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Release {
    pub version: u32,
    pub app: String,
    pub tag: String,
    pub time: String,
    pub user: String,
    /// `deployed`, `failed: ...`, `rolled back`.
    pub status: String,
    /// The release this one replaced (a rollback names its target).
    pub description: String,
}

fn releases_path(project: &Project, app: &str) -> PathBuf {
    project
        .state_dir()
        .join("releases")
        .join(format!("{app}.jsonl"))
}

pub fn releases(project: &Project, app: &str) -> Result<Vec<Release>> {
    let path = releases_path(project, app);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_error(&path, "read", e)),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn record_release(
    project: &Project,
    app: &str,
    tag: &str,
    status: &str,
    description: &str,
) -> Result<Release> {
    let version = releases(project, app)?
        .last()
        .map(|r| r.version)
        .unwrap_or(0)
        + 1;
    let r = Release {
        version,
        app: app.into(),
        tag: tag.into(),
        time: audit::now(),
        user: audit::current_user(),
        status: status.into(),
        description: description.into(),
    };
    let path = releases_path(project, app);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
    }
    let mut line = serde_json::to_string(&r).unwrap_or_default();
    line.push('\n');
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| io_error(&path, "append to", e))?;
    Ok(r)
}

/// `deploy APP --tag T`: the new tag into config.yml, regenerate, recreate
/// only that app once its attachments are healthy, run its after_deploy
/// hooks inside it, record the release. A failing start or hook puts the
/// previous tag back.
pub async fn deploy_app(
    ws: &Workspace,
    project: &Project,
    app: &str,
    tag: &str,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Release> {
    let vm = app_vm(ws, project, app)?;
    let _lock = lock::acquire(project, &vm, &format!("deploy {app}"), report).await?;
    deploy_release(ws, project, app, tag, timeout, "").await
}

fn app_vm(ws: &Workspace, project: &Project, app: &str) -> Result<String> {
    let loaded = ws.load(project)?;
    Ok(crate::engine::require_app(&loaded.config, app)?.vm.clone())
}

async fn deploy_release(
    ws: &Workspace,
    project: &Project,
    app: &str,
    tag: &str,
    timeout: Duration,
    description: &str,
) -> Result<Release> {
    let started = audit::now();
    let operation = format!("deploy {app} --tag {tag}");
    let before = ws.load(project)?;
    let a = crate::engine::require_app(&before.config, app)?.clone();
    let previous_tag = a.tag.clone();
    // Nothing is started, and no release number taken, unless the app's
    // VM answers and its attachments there are healthy.
    let ready = match Connected::open(ws, project, &before.config.vms[&a.vm]).await {
        Ok(conn) => attachments_ready(project, &before.config, &a, &conn)
            .await
            .map(|()| conn),
        Err(e) => Err(e),
    };
    let conn = match ready {
        Ok(conn) => conn,
        Err(e) => {
            let first = e.message.lines().next().unwrap_or_default().to_string();
            audit::append(
                &project.audit_path(),
                &audit::Entry {
                    started: Some(started),
                    ..audit::Entry::new(
                        &operation,
                        format!("failed before starting: {first}"),
                        vec![],
                    )
                },
            )?;
            return Err(e);
        }
    };
    // What ran before the first deploy is a release too, so `rollback`
    // can reach it (projects deployed before `up` recorded releases).
    if !releases(project, app)?
        .iter()
        .any(|r| r.status == "deployed")
    {
        record_release(
            project,
            app,
            &previous_tag,
            "deployed",
            "what ran before the first deploy",
        )?;
    }
    ws.run(
        project,
        &Operation::SetTag {
            app: app.into(),
            tag: tag.into(),
        },
        false,
    )?;
    match release_app(ws, project, &conn, app, timeout, true).await {
        Ok(()) => {
            let desc = if description.is_empty() {
                format!("from {previous_tag}")
            } else {
                description.to_string()
            };
            let r = record_release(project, app, tag, "deployed", &desc)?;
            audit::append(
                &project.audit_path(),
                &audit::Entry {
                    started: Some(started),
                    ..audit::Entry::new(
                        &operation,
                        "applied",
                        vec![format!("release v{}", r.version)],
                    )
                },
            )?;
            Ok(r)
        }
        Err(e) => {
            let first = e.message.lines().next().unwrap_or_default().to_string();
            record_release(project, app, tag, &format!("failed: {first}"), description)?;
            // Back to what ran: the old tag in config.yml and in the container.
            let restored = ws.run(project, &Operation::SetTag { app: app.into(), tag: previous_tag.clone() }, false).is_ok()
                // Its hooks already ran when it was released.
                && release_app(ws, project, &conn, app, timeout, false).await.is_ok();
            audit::append(
                &project.audit_path(),
                &audit::Entry {
                    started: Some(started),
                    ..audit::Entry::new(&operation, format!("failed: {first}"), vec![])
                },
            )?;
            let tail = if restored {
                format!("; {app} is back on {previous_tag}")
            } else {
                format!("; putting {app} back on {previous_tag} failed too")
            };
            Err(UserError {
                message: format!("{}{tail}", e.message),
                ..e
            })
        }
    }
}

/// An app's attachments on its own VM must be up and healthy before it is
/// (re)started.
async fn attachments_ready(
    project: &Project,
    config: &Config,
    app: &crate::config::App,
    conn: &Connected,
) -> Result<()> {
    let name = compose_project(&project.name, &app.vm);
    let states = docker::project_containers(&conn.docker, &name).await?;
    for att in &app.attachments {
        let addon = config.addon(&att.addon).expect("validated");
        if addon.vm == app.vm
            && !states
                .iter()
                .any(|s| s.service == addon.service() && s.health.as_deref() == Some("healthy"))
        {
            return Err(UserError::new(format!(
                "{} ({}) is not running healthy on VM {}",
                att.addon,
                addon.service(),
                app.vm
            ))
            .hint(format!(
                "bring the addons up first: sdtui -p {} up --vm {}",
                project.name, app.vm
            )));
        }
    }
    Ok(())
}

/// Records, after a healthy `up`, a release for each app on the VM whose
/// tag is not the one its last release deployed: the first state is a
/// release (as on Heroku), and so is a tag changed by hand in config.yml.
fn record_up_releases(project: &Project, config: &Config, vm: &str) -> Result<()> {
    for a in config.apps.values().filter(|a| a.vm == vm) {
        let history = releases(project, &a.name)?;
        let last = history.iter().rev().find(|r| r.status == "deployed");
        match last {
            Some(r) if r.tag == a.tag => {}
            Some(r) => {
                let from = format!("by up, from {}", r.tag);
                record_release(project, &a.name, &a.tag, "deployed", &from)?;
            }
            None => {
                record_release(project, &a.name, &a.tag, "deployed", "first release, by up")?;
            }
        }
    }
    Ok(())
}

/// Recreates one app from the generated files and waits for it; then runs
/// its hooks.
async fn release_app(
    ws: &Workspace,
    project: &Project,
    conn: &Connected,
    app: &str,
    timeout: Duration,
    run_hooks: bool,
) -> Result<()> {
    let loaded = ws.load(project)?;
    let a = crate::engine::require_app(&loaded.config, app)?.clone();
    let docker = &conn.docker;
    let name = compose_project(&project.name, &a.vm);
    conn.target.stage(project, &a.vm).await?;
    conn.target
        .compose(&name, &["up", "-d", "--no-deps", app])
        .await?;
    let start = Instant::now();
    let state = loop {
        let s = docker::project_containers(docker, &name)
            .await?
            .into_iter()
            .find(|s| s.service == app);
        match s {
            Some(s)
                if matches!(s.state.as_str(), "exited" | "dead" | "restarting")
                    || s.health.as_deref() == Some("unhealthy") =>
            {
                let logs = docker::tail_logs(docker, &s.container_id, 20)
                    .await
                    .unwrap_or_default();
                let text: Vec<String> = logs.into_iter().map(|(_, l)| l).collect();
                return Err(UserError::new(format!(
                    "{app} did not start ({}); last log lines:\n{}",
                    s.health.clone().unwrap_or(s.state.clone()),
                    text.join("\n")
                ))
                .hint("check the image and tag"));
            }
            Some(s)
                if s.state == "running" && s.health.as_deref().is_none_or(|h| h == "healthy") =>
            {
                break s;
            }
            _ if start.elapsed() > timeout => {
                return Err(UserError::new(format!(
                    "{app} was not healthy within {} s",
                    timeout.as_secs()
                ))
                .hint("raise --timeout or check its health check"));
            }
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    };
    for hook in a.after_deploy.iter().filter(|_| run_hooks) {
        // The user's own command line, run by a shell inside the app's
        // container, as Heroku's release phase does.
        let (code, out) = docker::exec(
            docker,
            &state.container_id,
            vec!["sh".into(), "-c".into(), hook.clone()],
            vec![],
            None,
        )
        .await?;
        if code != 0 {
            return Err(UserError::new(format!(
                "after_deploy hook `{hook}` failed in {app} (exit {code}):\n{}",
                out.trim_end()
            ))
            .hint("fix the hook or the release, then deploy again"));
        }
    }
    Ok(())
}

/// `rollback APP [--to TAG]`: redeploys the release before the current one
/// (or the given tag) as a new release.
pub async fn rollback_app(
    ws: &Workspace,
    project: &Project,
    app: &str,
    to: Option<&str>,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<Release> {
    let vm = app_vm(ws, project, app)?;
    let _lock = lock::acquire(project, &vm, &format!("rollback {app}"), report).await?;
    let history = releases(project, app)?;
    let deployed: Vec<&Release> = history.iter().filter(|r| r.status == "deployed").collect();
    let target = match to {
        Some(t) => t.to_string(),
        None => {
            let [.., before, _current] = deployed.as_slice() else {
                return Err(UserError::new(format!(
                    "{app} has no earlier release to roll back to"
                ))
                .hint(format!("see `sdtui -p {} releases {app}`", project.name)));
            };
            before.tag.clone()
        }
    };
    let current = deployed
        .last()
        .map(|r| format!("v{} ({})", r.version, r.tag))
        .unwrap_or_default();
    deploy_release(
        ws,
        project,
        app,
        &target,
        timeout,
        &format!("rollback from {current}"),
    )
    .await
}

/// After an addon left config.yml: stops and removes its container on its
/// VM and deletes its volumes. Only ever called with the name typed back.
pub async fn purge_addon(
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
    let name = compose_project(&project.name, &vm.name);
    let service = addon.service();
    for s in docker::project_containers(&conn.docker, &name)
        .await?
        .into_iter()
        .filter(|s| s.service == service)
    {
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
    let t = ws.catalog.require(&addon.type_name)?;
    // A renamed instance's volumes carry the name it had when they were
    // made (secrets.yml records it); another instance may have that name now.
    let no_creds = indexmap::IndexMap::new();
    let creds = old
        .generated
        .secrets
        .get(&addon.type_name)
        .and_then(|i| i.get(&addon.name))
        .unwrap_or(&no_creds);
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
        &audit::Entry {
            started: Some(started),
            ..audit::Entry::new(
                operation,
                "applied",
                removed
                    .iter()
                    .map(|v| format!("delete volume {v}"))
                    .collect(),
            )
        },
    )?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_label_names_version_and_command() {
        let v2 = ["docker".to_string(), "compose".to_string()];
        assert_eq!(
            compose_label(&v2, "2.26.1-4\n"),
            "compose v2.26.1-4 (docker compose)"
        );
        let path = ["/opt/compose v2/docker-compose".to_string()];
        assert_eq!(
            compose_label(&path, "v2.26.1"),
            "compose v2.26.1 ('/opt/compose v2/docker-compose')"
        );
    }

    /// The digest is SHA-256 over length-prefixed paths and bytes: the value
    /// below was computed independently (Python's hashlib), so a change of
    /// algorithm or layout fails here instead of redeploying every VM.
    #[test]
    fn tree_digest_is_stable_sha256() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("env")).unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), "services: {}\n").unwrap();
        std::fs::write(dir.path().join("env/a.env"), "A='1'\n").unwrap();
        assert_eq!(
            tree_digest(dir.path()).unwrap(),
            "776ec6a4fe24f37433caf6097f0f7061f01b1541857d61846936e12eee13b51e"
        );
        std::fs::write(dir.path().join("env/a.env"), "A='2'\n").unwrap();
        assert_ne!(
            tree_digest(dir.path()).unwrap(),
            "776ec6a4fe24f37433caf6097f0f7061f01b1541857d61846936e12eee13b51e"
        );
    }
}
