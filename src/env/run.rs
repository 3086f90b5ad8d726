//! Running an environment's own files with the VM's Compose (v1 or v2):
//! each init file as its own compose project run to completion, the
//! deployment as the environment's app project (`up -d`, health waited).
//! The compose projects are `<project>-<env>-<vm>-init-N` and
//! `<project>-<env>-<vm>-deployment`, so they never mix with the addons'
//! (`<project>-<env>-<vm>`) or another environment's.
//!
//! Only the local engine runs them today: an environment on an SSH VM is
//! refused with a clear error (its addons still start).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use serde::Serialize;

use crate::config::Vm;
use crate::docker::{self, ServiceState};
use crate::env::files::Prepared;
use crate::env::vars::Resolved;
use crate::error::{Result, UserError};

/// The compose project of one of the environment's files.
pub fn compose_project_of(r: &Resolved, file: &str) -> String {
    crate::env::file_project(&r.scoped.name, &r.vm, file)
}

/// The environment's VM, checked to be one this can run on.
pub fn vm_of(r: &Resolved) -> Result<Vm> {
    let vm = r.loaded.config.vms.get(&r.vm).cloned().ok_or_else(|| {
        UserError::new(format!(
            "environment {}: VM {} is not declared",
            r.environment.name, r.vm
        ))
    })?;
    if !vm.is_local() {
        return Err(UserError::new(format!(
            "environment {}: running its init and deployment files on the SSH VM {} is not built yet",
            r.environment.name, vm.name
        ))
        .hint("run the environment on the local engine (`vm: local`), or use `sdtui env export` and run the files there"));
    }
    Ok(vm)
}

/// `compose -p P --project-directory D -f F1 -f F2 ARGS` on the local engine:
/// relative paths in the user's file resolve from the user's folder.
pub async fn compose(
    vm: &Vm,
    project_dir: &Path,
    compose_project: &str,
    files: &[PathBuf],
    args: &[&str],
) -> Result<String> {
    let program = crate::deploy::compose_program(vm);
    let mut all: Vec<String> = program[1..].to_vec();
    all.extend([
        "-p".into(),
        compose_project.into(),
        "--project-directory".into(),
        project_dir.display().to_string(),
    ]);
    for f in files {
        all.extend(["-f".into(), f.display().to_string()]);
    }
    all.extend(args.iter().map(|s| s.to_string()));
    let out = tokio::process::Command::new(&program[0])
        .args(&all)
        .current_dir(project_dir)
        .output()
        .await
        .map_err(|e| {
            UserError::new(format!("cannot run {}: {e}", program[0]))
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
            program.join(" "),
            args.join(" "),
            text.trim_end()
        )));
    }
    Ok(text)
}

/// One init container's outcome, a row of the init table.
#[derive(Debug, Clone, Serialize)]
pub struct InitRow {
    pub file: String,
    pub service: String,
    /// None: it never exited (stopped after the timeout) or never started.
    pub exit_code: Option<i64>,
    pub seconds: f64,
    /// `exited`, `timed out`, `not started`.
    pub outcome: String,
    /// Its last log lines, secrets masked.
    pub last_logs: Vec<String>,
}

/// The init table, as `env init` and `env start` print it.
pub fn render_init(rows: &[InitRow]) -> String {
    let mut out = String::new();
    let header = ["FILE", "SERVICE", "EXIT", "TIME", "LAST LOG LINES"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.file.clone(),
                r.service.clone(),
                match (r.exit_code, r.outcome.as_str()) {
                    (Some(c), _) => c.to_string(),
                    (None, o) => o.to_string(),
                },
                format!("{:.1}s", r.seconds),
            ]
        })
        .collect();
    let width = |i: usize| {
        cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let w = [width(0), width(1), width(2), width(3)];
    let line = |c: [&str; 5]| {
        format!(
            "{:<a$}  {:<b$}  {:<c$}  {:<d$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            c[4],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3]
        )
        .trim_end()
        .to_string()
    };
    out.push_str(&line(header));
    out.push('\n');
    for (r, c) in rows.iter().zip(&cells) {
        let first = r.last_logs.first().map(String::as_str).unwrap_or("-");
        out.push_str(&line([&c[0], &c[1], &c[2], &c[3], first]));
        out.push('\n');
        for l in r.last_logs.iter().skip(1) {
            out.push_str(&line(["", "", "", "", l]));
            out.push('\n');
        }
    }
    out
}

/// Values no log line may show.
pub fn secret_values(r: &Resolved) -> Vec<String> {
    r.variables
        .values()
        .filter(|v| v.secret && !v.value.is_empty())
        .map(|v| v.value.clone())
        .collect()
}

fn mask(line: &str, secrets: &[String]) -> String {
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    crate::deploy::steps::mask(line, &refs)
}

const LOG_LINES: usize = 5;

/// Runs one init file to completion: `up -d --force-recreate` (services
/// start as their depends_on says, independent ones in parallel), then
/// waits until every container has exited or `timeout` passes, when the
/// rest are stopped. Returns a row per container.
pub async fn run_init_file(
    r: &Resolved,
    vm: &Vm,
    project_dir: &Path,
    p: &Prepared,
    files: &[PathBuf],
    timeout: Duration,
    docker: &Docker,
) -> Result<Vec<InitRow>> {
    let cp = compose_project_of(r, &p.name);
    let secrets = secret_values(r);
    let started = Instant::now();
    // A dependency that fails makes `up` fail: the table still tells which.
    let up = compose(
        vm,
        project_dir,
        &cp,
        files,
        &["up", "-d", "--force-recreate", "--remove-orphans"],
    )
    .await;
    let mut timed_out = false;
    let states = loop {
        let states = docker::project_containers(docker, &cp).await?;
        let running = states
            .iter()
            .any(|s| matches!(s.state.as_str(), "running" | "created" | "restarting"));
        if !running && (up.is_err() || !states.is_empty()) {
            break states;
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            let _ = compose(vm, project_dir, &cp, files, &["stop", "-t", "2"]).await;
            break docker::project_containers(docker, &cp).await?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut rows = Vec::new();
    for service in &p.services {
        let found: Option<&ServiceState> = states.iter().find(|s| &s.service == service);
        let Some(s) = found else {
            rows.push(InitRow {
                file: p.source.path.display().to_string(),
                service: service.clone(),
                exit_code: None,
                seconds: 0.0,
                outcome: "not started".into(),
                last_logs: up
                    .as_ref()
                    .err()
                    .map(|e| {
                        e.message
                            .lines()
                            .rev()
                            .take(LOG_LINES)
                            .map(|l| mask(l, &secrets))
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect()
                    })
                    .unwrap_or_default(),
            });
            continue;
        };
        let inspect = docker
            .inspect_container(
                &s.container_id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .ok();
        let st = inspect.and_then(|i| i.state).unwrap_or_default();
        let seconds = match (
            st.started_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
            st.finished_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
        ) {
            (Some(a), Some(b)) if b >= a => (b - a).num_milliseconds() as f64 / 1000.0,
            _ => started.elapsed().as_secs_f64(),
        };
        let logs = docker::tail_logs(docker, &s.container_id, LOG_LINES)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(_, l)| mask(&l, &secrets))
            .collect();
        rows.push(InitRow {
            file: p.source.path.display().to_string(),
            service: service.clone(),
            exit_code: if timed_out { None } else { s.exit_code },
            seconds,
            outcome: if timed_out {
                format!("timed out after {}s", timeout.as_secs())
            } else {
                "exited".into()
            },
            last_logs: logs,
        });
    }
    Ok(rows)
}

/// Waits until every container of `cp` runs and each with a health check
/// is healthy; fails on an exited or unhealthy one, or after `timeout`.
pub async fn wait_healthy(
    docker: &Docker,
    cp: &str,
    timeout: Duration,
    secrets: &[String],
) -> Result<Vec<ServiceState>> {
    let started = Instant::now();
    loop {
        let states = docker::project_containers(docker, cp).await?;
        let bad = states.iter().find(|s| {
            s.state == "exited" || s.state == "dead" || s.health.as_deref() == Some("unhealthy")
        });
        if let Some(s) = bad {
            let logs = docker::tail_logs(docker, &s.container_id, 10)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|(_, l)| format!("  {}", mask(&l, secrets)))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(UserError::new(format!(
                "service {} of the deployment is {} (exit code {}); its last log lines:\n{logs}",
                s.service,
                s.health
                    .clone()
                    .filter(|h| h == "unhealthy")
                    .unwrap_or_else(|| s.state.clone()),
                s.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into())
            )));
        }
        let ready = !states.is_empty()
            && states.iter().all(|s| {
                s.state == "running" && s.health.as_deref().is_none_or(|h| h == "healthy")
            });
        if ready {
            return Ok(states);
        }
        if started.elapsed() >= timeout {
            return Err(UserError::new(format!(
                "the deployment ({cp}) was not healthy after {}s",
                timeout.as_secs()
            ))
            .hint("see its logs: sdtui env logs ENV"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
