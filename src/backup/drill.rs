//! The restore drill: the backup restored into a throwaway container of the
//! same image on the same VM (no network, no published port, its own
//! anonymous volume), compared with what the source held at dump time, and
//! the container removed with its volume whatever happened.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, RemoveContainerOptionsBuilder,
};

use super::store::{self, Drill, Manifest};
use super::{Report, Subject, mask, run, spec};
use crate::deploy::target::Connected;
use crate::docker::ServiceState;
use crate::engine::Project;
use crate::error::{Result, UserError};

/// How long a throwaway server may take to become healthy.
const HEALTHY_WITHIN: Duration = Duration::from_secs(180);

/// Label on every drill container, so a leftover (the process killed
/// mid-drill) can be found.
pub const DRILL_LABEL: &str = "sdtui.drill";
/// `<host> <pid>` of the process that made it.
const OWNER_LABEL: &str = "sdtui.drill.owner";

fn owner() -> String {
    format!(
        "{} {}",
        whoami::hostname().unwrap_or_default(),
        std::process::id()
    )
}

/// Removes the drill containers of this project that a process of this
/// machine made and that outlived it (killed mid-drill: no destructor ran).
async fn sweep_leftovers(docker: &Docker, project: &Project) {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            DRILL_LABEL.to_string(),
            format!("sdtui.project={}", project.name),
        ],
    )]);
    let Ok(list) = docker
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
    else {
        return;
    };
    let host = whoami::hostname().unwrap_or_default();
    for c in list {
        let labels = c.labels.unwrap_or_default();
        let Some((h, pid)) = labels.get(OWNER_LABEL).and_then(|o| o.rsplit_once(' ')) else {
            continue;
        };
        let gone = h == host && !std::path::Path::new(&format!("/proc/{pid}")).exists();
        if let (true, Some(id)) = (gone, c.id) {
            let _ = remove(docker, &id).await;
        }
    }
}

/// Removes the throwaway container and its anonymous volumes when dropped,
/// also when the drill's future is cancelled or panics.
struct Throwaway {
    docker: Docker,
    id: String,
    removed: bool,
}

impl Throwaway {
    async fn remove(mut self) -> Result<()> {
        self.removed = true;
        remove(&self.docker, &self.id).await
    }
}

async fn remove(docker: &Docker, id: &str) -> Result<()> {
    docker
        .remove_container(
            id,
            Some(
                RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build(),
            ),
        )
        .await
        .map_err(|e| UserError::new(format!("cannot remove the drill container: {e}")))
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (docker, id) = (self.docker.clone(), self.id.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = remove(&docker, &id).await;
            });
        }
    }
}

/// Runs the drill and says how it went; never an Err, since a backup whose
/// drill could not run is kept and marked failed.
pub(crate) async fn run(
    conn: &Connected,
    project: &Project,
    s: &Subject<'_>,
    source: &ServiceState,
    dir: &str,
    manifest: &Manifest,
    report: Report<'_>,
) -> Drill {
    let t0 = Instant::now();
    let result = restore_and_compare(conn, project, s, source, dir, manifest, report).await;
    let seconds = t0.elapsed().as_secs_f64();
    match result {
        Ok((checked, None)) => Drill {
            status: "passed".into(),
            detail: None,
            checked,
            seconds,
        },
        Ok((checked, Some(diff))) => Drill {
            status: "failed".into(),
            detail: Some(diff),
            checked,
            seconds,
        },
        Err(e) => Drill {
            status: "failed".into(),
            detail: Some(mask(&e.to_string(), s)),
            checked: 0,
            seconds,
        },
    }
}

/// A swarm task's container (its secrets are files only a service mounts).
fn is_task(labels: &Option<HashMap<String, String>>) -> bool {
    labels
        .as_ref()
        .is_some_and(|l| l.contains_key("com.docker.swarm.service.name"))
}

async fn restore_and_compare(
    conn: &Connected,
    project: &Project,
    s: &Subject<'_>,
    source: &ServiceState,
    dir: &str,
    manifest: &Manifest,
    report: Report<'_>,
) -> Result<(usize, Option<String>)> {
    let docker = &conn.docker;
    sweep_leftovers(docker, project).await;
    let inspect = docker
        .inspect_container(&source.container_id, None::<InspectContainerOptions>)
        .await
        .map_err(|e| UserError::new(format!("cannot inspect {}: {e}", source.container)))?;
    let config = inspect.config.unwrap_or_default();
    let name = format!(
        "sdtui-drill-{}-{}-{}",
        project.name,
        s.addon.service(),
        chrono::Utc::now().format("%Y%m%d%H%M%S%3f")
    );
    let labels = HashMap::from([
        (DRILL_LABEL.to_string(), manifest.id.clone()),
        ("sdtui.project".to_string(), project.name.clone()),
        (OWNER_LABEL.to_string(), owner()),
    ]);
    let body = ContainerCreateBody {
        image: config.image.clone().or_else(|| Some(source.image.clone())),
        env: config.env.clone(),
        cmd: config.cmd.clone(),
        entrypoint: config.entrypoint.clone(),
        user: config.user.clone(),
        healthcheck: config.healthcheck.clone(),
        labels: Some(labels),
        host_config: Some(HostConfig {
            // Nothing reaches it and it reaches nothing.
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .map_err(|e| UserError::new(format!("cannot create the drill container: {e}")))?;
    let throwaway = Throwaway {
        docker: docker.clone(),
        id: created.id.clone(),
        removed: false,
    };
    let result = async {
        let file = format!("{dir}/{}", manifest.file);
        if is_task(&config.labels) {
            super::task_secrets::copy_in(docker, &project.name, s, &created.id).await?;
        }
        if let Some(path) = &s.spec.restore.file {
            copy_in(conn, &file, &created.id, path).await?;
        }
        start_healthy(docker, &created.id).await?;
        report(format!("{}: drill: server up, restoring", s.addon.id()));
        if s.spec.restore.file.is_none() {
            restore_stream(conn, s, &created.id, &file).await?;
        }
        report(format!(
            "{}: drill: comparing with the source",
            s.addon.id()
        ));
        let restored = super::inventory(docker, &created.id, s).await?;
        let diff = store::first_difference(
            &manifest.inventory,
            manifest.inventory_after.as_ref(),
            &restored,
        );
        Ok((manifest.inventory.len().max(restored.len()), diff))
    }
    .await;
    let removed = throwaway.remove().await;
    let outcome = result?;
    removed?;
    Ok(outcome)
}

/// Puts the backup file at `path` in a (stopped) container, on the VM.
pub(crate) async fn copy_in(
    conn: &Connected,
    file: &str,
    container: &str,
    path: &str,
) -> Result<()> {
    let out = run::vm_sh(
        &conn.target,
        run::COPY_IN_SCRIPT,
        &[file.to_string(), container.to_string(), path.to_string()],
        &[],
    )
    .await?;
    if !out.success() {
        return Err(UserError::new(format!(
            "cannot copy the backup into the container: {}",
            out.stderr.trim()
        )));
    }
    Ok(())
}

/// The type's reset, then its restore client with the backup on stdin.
pub(crate) async fn restore_stream(
    conn: &Connected,
    s: &Subject<'_>,
    container: &str,
    file: &str,
) -> Result<()> {
    let restore = &s.spec.restore;
    if let Some(reset) = &restore.reset {
        let cmd = spec::render(&s.kind.name, reset, &restore.env, &s.vars)?;
        let (code, out) = run::exec(&conn.docker, container, &cmd, None).await?;
        if code != 0 {
            return Err(UserError::new(format!(
                "the reset before the restore failed (exit {code}): {}",
                mask(out.trim(), s)
            )));
        }
    }
    let argv = restore.command.clone().unwrap_or_default();
    let cmd = spec::render(&s.kind.name, &argv, &restore.env, &s.vars)?;
    let mut args = vec![file.to_string(), container.to_string()];
    args.extend(cmd.argv.iter().cloned());
    let out = run::vm_sh(&conn.target, run::RESTORE_SCRIPT, &args, &cmd.env).await?;
    if !out.success() {
        return Err(UserError::new(format!(
            "the restore failed (exit {}): {}",
            out.code,
            mask(out.stderr.trim(), s)
        )));
    }
    Ok(())
}

/// Starts a container and waits until its health check passes (or it
/// runs, without one).
pub(crate) async fn start_healthy(docker: &Docker, id: &str) -> Result<()> {
    docker
        .start_container(id, None::<bollard::query_parameters::StartContainerOptions>)
        .await
        .map_err(|e| UserError::new(format!("cannot start the container: {e}")))?;
    wait_healthy(docker, id).await
}

pub(crate) async fn wait_healthy(docker: &Docker, id: &str) -> Result<()> {
    let deadline = Instant::now() + HEALTHY_WITHIN;
    loop {
        let state = docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| UserError::new(format!("cannot inspect the container: {e}")))?
            .state
            .unwrap_or_default();
        let status = state.status.map(|s| s.to_string()).unwrap_or_default();
        let health = state
            .health
            .and_then(|h| h.status)
            .map(|h| h.to_string())
            .filter(|h| !h.is_empty() && h != "none");
        match (status.as_str(), health.as_deref()) {
            ("running", None | Some("healthy")) => return Ok(()),
            ("exited" | "dead", _) | (_, Some("unhealthy")) => {
                let logs = crate::docker::tail_logs(docker, id, 10)
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, l)| l)
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(UserError::new(format!(
                    "the server did not come up ({status}{}); its last lines:\n{logs}",
                    health.map(|h| format!(", {h}")).unwrap_or_default()
                )));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(UserError::new(format!(
                "the server was not healthy within {} s",
                HEALTHY_WITHIN.as_secs()
            )));
        }
        // A short poll: one container, for seconds, not a watch loop.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
