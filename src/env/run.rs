//! Running an environment's own files with the VM's Compose (v1 or v2):
//! each init file as its own compose project run to completion, the
//! deployment as the environment's app project (`up -d`, health waited).
//! The compose projects are `<project>-<env>-<vm>-init-N` and
//! `<project>-<env>-<vm>-deployment`, so they never mix with the addons'
//! (`<project>-<env>-<vm>`) or another environment's.
//!
//!
//! They run on the environment's VM, the local engine or an SSH VM alike
//! ([`Runner`]): on an SSH VM the substituted copies are uploaded into the
//! environment's folder there (`~/.sdtui/<project>-<env>/<vm>/files`, 0700,
//! each copy 0600) and its Compose runs over the session; exits, health and
//! log lines come from its Docker API through the same session.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use serde::Serialize;

use crate::config::Vm;
use crate::deploy::target::{Connected, Target, remote};
use crate::docker::{self, ServiceState};
use crate::engine::Workspace;
use crate::env::files::{self, Prepared};
use crate::env::vars::Resolved;
use crate::error::{Result, UserError, io_error};
use crate::ssh::RemoteCommand;

/// The compose project of one of the environment's files.
pub fn compose_project_of(r: &Resolved, file: &str) -> String {
    crate::env::file_project(&r.scoped.name, &r.vm, file)
}

/// The environment's VM: the one its init and deployment files run on (the
/// first of its VMs; addons on the others are reached by their private
/// address, see vars.rs).
pub fn vm_of(r: &Resolved) -> Result<Vm> {
    r.loaded.config.vms.get(&r.vm).cloned().ok_or_else(|| {
        UserError::new(format!(
            "environment {}: VM {} is not declared",
            r.environment.name, r.vm
        ))
        .hint(crate::config::hint_choices(
            "VMs",
            r.loaded.config.vms.keys(),
        ))
    })
}

/// Which VM the files run on, for the step lines: an environment spread on
/// several VMs says that only the first runs them.
pub fn vm_note(r: &Resolved) -> String {
    if r.environment.vms.len() > 1 {
        format!(
            "VM {} (the first of its VMs {}; the files run on that one only)",
            r.vm,
            r.environment.vms.join(", ")
        )
    } else {
        format!("VM {}", r.vm)
    }
}

/// Where an environment's files run: its VM's engine, the local one or a
/// remote one over one SSH session (the same [`Connected`] the addons'
/// deploy uses: compose there, the Docker API through the session).
pub struct Runner {
    pub vm: Vm,
    conn: Connected,
    /// The user's project folder: on the local engine relative paths in the
    /// user's files resolve from there.
    project_dir: PathBuf,
    /// Values masked in every error this returns.
    secrets: Vec<String>,
}

/// The folder on a remote VM that holds the environment's substituted
/// copies, relative to the login's home: `.sdtui/<project>-<env>/<vm>/files`
/// (beside the addons' release folders, which `stage` never clears).
fn remote_files_dir(base: &str) -> String {
    format!("{base}/{}", files::FILES_DIR)
}

impl Runner {
    /// Connects to the environment's VM (SSH and its Docker API for a
    /// remote one; its Compose, v1 or v2, configured or detected there).
    pub async fn open(ws: &Workspace, r: &Resolved, project_dir: &Path) -> Result<Runner> {
        let vm = vm_of(r)?;
        let conn = Connected::open(ws, &r.scoped, &vm).await?;
        Ok(Runner {
            vm,
            conn,
            project_dir: project_dir.to_path_buf(),
            secrets: secret_values(r),
        })
    }

    /// The VM's Docker API (local socket, or over the SSH session).
    pub fn docker(&self) -> &Docker {
        &self.conn.docker
    }

    /// Writes the substituted copy and its network override (files.rs) and,
    /// on a remote VM, puts them into the environment's folder there.
    /// Returns the compose files to pass, as the VM's compose sees them.
    pub async fn put(&self, r: &Resolved, p: &Prepared) -> Result<Vec<String>> {
        let local = files::write(r, p)?;
        self.put_paths(&local).await
    }

    /// Local copies as the VM's compose sees them: on a remote VM each is
    /// uploaded atomically with its local mode (0600 for the copies, which
    /// hold secrets) into a 0700 folder, unless the VM already holds the
    /// same bytes; nothing is rewritten when nothing changed.
    pub async fn put_paths(&self, local: &[PathBuf]) -> Result<Vec<String>> {
        let Target::Remote { session, base, .. } = &self.conn.target else {
            return Ok(local.iter().map(|p| p.display().to_string()).collect());
        };
        let dir = remote_files_dir(base);
        let names: Vec<String> = local
            .iter()
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        // One command: the folder made (0700), then the digest of each
        // copy already there, to upload only what differs.
        let mut args = vec![
            "-c".to_string(),
            "set -e; d=\"$1\"; shift; mkdir -p \"$d\"; chmod 700 \"$d\"; cd \"$d\"; for f in \"$@\"; do if [ -f \"$f\" ]; then echo \"$(stat -c %a \"$f\") $(sha256sum < \"$f\" | cut -d' ' -f1) $f\"; fi; done".to_string(),
            "sdtui-env-files".to_string(),
            dir.clone(),
        ];
        args.extend(names.iter().cloned());
        let listed = remote(session, RemoteCommand::new("sh", args)).await?;
        let mut out = Vec::new();
        for (path, name) in local.iter().zip(&names) {
            let bytes = std::fs::read(path).map_err(|e| io_error(path, "read", e))?;
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(path)
                    .map_err(|e| io_error(path, "read", e))?
                    .permissions()
                    .mode()
                    & 0o777
            };
            let digest = data_encoding::HEXLOWER
                .encode(ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref());
            let want = format!("{mode:o} {digest} {name}");
            let remote_path = format!("{dir}/{name}");
            if !listed.lines().any(|l| l.trim() == want) {
                session.upload(&remote_path, &bytes, mode).await?;
            }
            out.push(remote_path);
        }
        Ok(out)
    }

    /// The folder relative paths in the user's files resolve from: the
    /// project folder locally, the environment's files folder on a remote
    /// VM (only the substituted files are uploaded there).
    fn project_directory(&self) -> String {
        match &self.conn.target {
            Target::Remote { base, .. } => remote_files_dir(base),
            Target::Local { .. } => self.project_dir.display().to_string(),
        }
    }

    /// `compose -p P --project-directory D -f F1 -f F2 ARGS` with the VM's
    /// Compose; an error's text has every secret value masked.
    pub async fn compose(
        &self,
        compose_project: &str,
        files: &[String],
        args: &[&str],
    ) -> Result<String> {
        let program = match &self.conn.target {
            Target::Local { program, .. } | Target::Remote { program, .. } => program,
        };
        let all = compose_args(
            program,
            compose_project,
            &self.project_directory(),
            files,
            args,
        );
        let done = match &self.conn.target {
            Target::Local { .. } => {
                crate::deploy::run(&crate::deploy::Command {
                    program: program[0].clone(),
                    args: all,
                    dir: self.project_dir.clone(),
                })
                .await
            }
            Target::Remote { session, .. } => {
                remote(session, RemoteCommand::new(program[0].clone(), all)).await
            }
        };
        done.map_err(|e| UserError {
            message: mask(&e.message, &self.secrets),
            ..e
        })
    }
}

/// The arguments after the program: `[compose] -p P --project-directory D
/// -f F1 -f F2 ARGS` (as data, never a shell line).
pub fn compose_args(
    program: &[String],
    compose_project: &str,
    project_directory: &str,
    files: &[String],
    args: &[&str],
) -> Vec<String> {
    let mut all: Vec<String> = program[1..].to_vec();
    all.extend([
        "-p".into(),
        compose_project.into(),
        "--project-directory".into(),
        project_directory.into(),
    ]);
    for f in files {
        all.extend(["-f".into(), f.clone()]);
    }
    all.extend(args.iter().map(|s| s.to_string()));
    all
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
    runner: &Runner,
    p: &Prepared,
    files: &[String],
    timeout: Duration,
) -> Result<Vec<InitRow>> {
    let docker = runner.docker();
    let cp = compose_project_of(r, &p.name);
    let secrets = secret_values(r);
    let started = Instant::now();
    // A dependency that fails makes `up` fail: the table still tells which.
    let up = runner
        .compose(
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
            let _ = runner.compose(&cp, files, &["stop", "-t", "2"]).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_args_on_a_remote_vm() {
        let files = vec![
            ".sdtui/shop-dev/core/files/deployment.yml".to_string(),
            ".sdtui/shop-dev/core/files/deployment.network.yml".to_string(),
        ];
        let v2 = ["docker".to_string(), "compose".to_string()];
        assert_eq!(
            compose_args(
                &v2,
                "shop-dev-core-deployment",
                &remote_files_dir(".sdtui/shop-dev/core"),
                &files,
                &["up", "-d", "--remove-orphans"],
            ),
            [
                "compose",
                "-p",
                "shop-dev-core-deployment",
                "--project-directory",
                ".sdtui/shop-dev/core/files",
                "-f",
                ".sdtui/shop-dev/core/files/deployment.yml",
                "-f",
                ".sdtui/shop-dev/core/files/deployment.network.yml",
                "up",
                "-d",
                "--remove-orphans",
            ]
        );
        let v1 = ["docker-compose".to_string()];
        let args = compose_args(&v1, "p", "d", &files[..1], &["restart", "app"]);
        assert_eq!(args[0], "-p");
        assert_eq!(args.last().map(String::as_str), Some("app"));
    }
}
