//! The Docker Engine API through bollard: containers found by compose
//! labels (never by name), their state and health, exec, logs.

use std::collections::HashMap;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, LogsOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::error::{Result, UserError};

pub const COMPOSE_PROJECT: &str = "com.docker.compose.project";
pub const COMPOSE_SERVICE: &str = "com.docker.compose.service";

fn docker_error(what: &str, e: bollard::errors::Error) -> UserError {
    let text = e.to_string();
    // The three a user meets mid-operation, said in their words: a
    // container that stopped, a VM's SSH session that went away.
    if let bollard::errors::Error::DockerResponseServerError {
        status_code: 409,
        message,
    } = &e
        && message.contains("is not running")
    {
        return UserError::new(format!("Docker: {what}: the container stopped ({message})"))
            .hint("`sdtui status` shows it; `sdtui up` starts it again");
    }
    if text.contains("SSH channel to") {
        return UserError::new(format!(
            "Docker: {what}: the VM's SSH session was lost ({text})"
        ))
        .hint("is the VM reachable? `sdtui status` says; run the command again once it is");
    }
    UserError::new(format!("Docker: {what}: {text}"))
        .hint("is the Docker engine running and its socket readable?")
}

/// A compose project's container events that can change what its
/// containers show: health checks' own `exec_*` events (one per check) are
/// left out. Subscribe before the first look so no change is missed.
pub fn project_events<'a>(
    docker: &'a Docker,
    compose_project: &str,
) -> impl futures_util::Stream<
    Item = std::result::Result<bollard::models::EventMessage, bollard::errors::Error>,
> + 'a {
    label_events(docker, format!("{COMPOSE_PROJECT}={compose_project}"))
}

/// Container events of the containers carrying `label` (`key=value`), as
/// `project_events`: a swarm stack's task containers carry its namespace.
pub fn label_events<'a>(
    docker: &'a Docker,
    label: String,
) -> impl futures_util::Stream<
    Item = std::result::Result<bollard::models::EventMessage, bollard::errors::Error>,
> + 'a {
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![label]),
    ]);
    docker
        .events(Some(
            bollard::query_parameters::EventsOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .filter(|ev| {
            let health_check =
                matches!(ev, Ok(e) if e.action.as_deref().is_some_and(|a| a.starts_with("exec_")));
            std::future::ready(!health_check)
        })
}

/// The local engine, through its Unix socket.
pub async fn connect_local() -> Result<Docker> {
    let d = Docker::connect_with_local_defaults().map_err(|e| docker_error("connect", e))?;
    d.negotiate_version()
        .await
        .map_err(|e| docker_error("negotiate the API version", e))
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ServiceState {
    pub service: String,
    pub container_id: String,
    pub container: String,
    /// running, exited, restarting ...
    pub state: String,
    /// healthy, unhealthy, starting; None without a health check.
    pub health: Option<String>,
    pub image: String,
    pub started_at: String,
    pub ports: Vec<String>,
    pub exit_code: Option<i64>,
}

impl ServiceState {
    /// How long it has run (`45s`, `12m`, `5h3m`, `2d4h`), or `-` when it
    /// is not running: one form for `status` and the console.
    pub fn uptime(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let started = chrono::DateTime::parse_from_rfc3339(&self.started_at);
        match started {
            Ok(t) if self.state == "running" => {
                match (now - t.with_timezone(&chrono::Utc)).num_seconds().max(0) {
                    s if s < 60 => format!("{s}s"),
                    s if s < 3600 => format!("{}m", s / 60),
                    s if s < 86400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
                    s => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
                }
            }
            _ => "-".into(),
        }
    }
}

/// Every container of a compose project, with health from inspect (Engine
/// 1.41 leaves it out of the list).
pub async fn project_containers(
    docker: &Docker,
    compose_project: &str,
) -> Result<Vec<ServiceState>> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{COMPOSE_PROJECT}={compose_project}")],
    )]);
    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| docker_error("list containers", e))?;
    let mut out = Vec::new();
    for c in list {
        let Some(id) = c.id else { continue };
        let labels = c.labels.unwrap_or_default();
        let service = labels.get(COMPOSE_SERVICE).cloned().unwrap_or_default();
        let inspect = match docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
        {
            Ok(i) => i,
            // Removed between list and inspect.
            Err(_) => continue,
        };
        let state = inspect.state.clone().unwrap_or_default();
        let ports = c
            .ports
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                p.public_port.map(|pp| {
                    format!(
                        "{}:{pp}->{}",
                        p.ip.clone().unwrap_or_default(),
                        p.private_port
                    )
                })
            })
            .collect();
        out.push(ServiceState {
            service,
            container_id: id,
            container: inspect
                .name
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            state: state.status.map(|s| s.to_string()).unwrap_or_default(),
            health: state
                .health
                .and_then(|h| h.status)
                .map(|s| s.to_string())
                .filter(|s| s != "none" && !s.is_empty()),
            image: c.image.unwrap_or_default(),
            started_at: state.started_at.unwrap_or_default(),
            ports,
            exit_code: state.exit_code,
        });
    }
    out.sort_by(|a, b| a.service.cmp(&b.service));
    Ok(out)
}

/// Runs `cmd` in a container; `input` goes to its stdin. Returns the exit
/// code and the combined output.
pub async fn exec(
    docker: &Docker,
    container: &str,
    cmd: Vec<String>,
    env: Vec<String>,
    input: Option<String>,
) -> Result<(i64, String)> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd),
                env: Some(env),
                attach_stdin: Some(input.is_some()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| docker_error("exec", e))?;
    let mut text = String::new();
    if let StartExecResults::Attached {
        mut output,
        input: mut stdin,
    } = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| docker_error("exec", e))?
    {
        if let Some(data) = input {
            stdin
                .write_all(data.as_bytes())
                .await
                .map_err(|e| UserError::new(format!("exec stdin: {e}")))?;
            stdin.shutdown().await.ok();
        }
        drop(stdin);
        while let Some(chunk) = output.next().await {
            match chunk {
                Ok(out) => text.push_str(&String::from_utf8_lossy(&out.into_bytes())),
                Err(e) => return Err(docker_error("exec output", e)),
            }
        }
    }
    let code = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| docker_error("exec", e))?
        .exit_code
        .unwrap_or(-1);
    Ok((code, text))
}

/// The last `tail` log lines of a container, stdout and stderr told apart.
pub async fn tail_logs(
    docker: &Docker,
    container: &str,
    tail: usize,
) -> Result<Vec<(bool, String)>> {
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&tail.to_string())
        .build();
    let mut stream = docker.logs(container, Some(opts));
    let mut lines = Vec::new();
    while let Some(item) = stream.next().await {
        let item = item.map_err(|e| docker_error("logs", e))?;
        let is_err = matches!(item, LogOutput::StdErr { .. });
        for l in String::from_utf8_lossy(&item.into_bytes()).lines() {
            lines.push((is_err, l.to_string()));
        }
    }
    Ok(lines)
}

/// A container's log output as the engine frames it (whole lines, bytes
/// untouched), stdout and stderr told apart: the last `tail` lines, then,
/// with `follow`, what comes until the container stops.
pub fn log_chunks<'a>(
    docker: &'a Docker,
    container: &str,
    tail: usize,
    follow: bool,
) -> impl futures_util::Stream<Item = Result<(bool, bytes::Bytes)>> + 'a {
    let opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .follow(follow)
        .tail(&tail.to_string())
        .build();
    docker.logs(container, Some(opts)).map(|item| {
        let item = item.map_err(|e| docker_error("logs", e))?;
        Ok((matches!(item, LogOutput::StdErr { .. }), item.into_bytes()))
    })
}

#[cfg(test)]
mod uptime_tests {
    use super::ServiceState;

    fn state(state: &str, started_at: &str) -> ServiceState {
        ServiceState {
            service: "s".into(),
            container_id: "c".into(),
            container: "c".into(),
            state: state.into(),
            health: None,
            image: "i".into(),
            started_at: started_at.into(),
            ports: vec![],
            exit_code: None,
        }
    }

    #[test]
    fn one_form_for_every_face() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let up = |started: &str| state("running", started).uptime(now);
        assert_eq!(up("2026-11-30T11:59:15.5Z"), "44s");
        assert_eq!(up("2026-11-30T11:48:00Z"), "12m");
        assert_eq!(up("2026-11-30T06:57:00Z"), "5h3m");
        assert_eq!(up("2026-11-28T08:00:00Z"), "2d4h");
        assert_eq!(state("exited", "2026-11-30T11:00:00Z").uptime(now), "-");
        assert_eq!(up("0001-01-01T00:00:00"), "-");
    }
}
