//! Stopping a stack's service and starting it again, as a restore stops
//! the apps that write to its addon: a task's container stopped by hand
//! would be replaced by the swarm at once, so the service is scaled to
//! zero instead (on the manager), then back.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::TaskState;
use bollard::query_parameters::{ListTasksOptions, UpdateServiceOptionsBuilder};

use super::swarm::api_error;
use crate::error::{Result, UserError};

/// Scales `<project>_<service>` to `replicas` and waits until that many of
/// its tasks run (none, for zero); returns the count it had.
pub async fn scale(
    docker: &Docker,
    project: &str,
    service: &str,
    replicas: i64,
    timeout: Duration,
) -> Result<i64> {
    let name = format!("{project}_{service}");
    let current = docker
        .inspect_service(&name, None)
        .await
        .map_err(|e| api_error(&format!("swarm service {name}"), e))?;
    let mut spec = current.spec.unwrap_or_default();
    let mode = spec.mode.get_or_insert_with(Default::default);
    let replicated = mode.replicated.get_or_insert_with(Default::default);
    let before = replicated.replicas.unwrap_or(1);
    if before != replicas {
        replicated.replicas = Some(replicas);
        let version = current.version.and_then(|v| v.index).unwrap_or(0) as i32;
        docker
            .update_service(
                &name,
                spec,
                UpdateServiceOptionsBuilder::default()
                    .version(version)
                    .build(),
                None,
            )
            .await
            .map_err(|e| api_error(&format!("scaling {name} to {replicas}"), e))?;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let tasks = docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(HashMap::from([("service".to_string(), vec![name.clone()])])),
            }))
            .await
            .map_err(|e| api_error(&format!("tasks of {name}"), e))?;
        let running = tasks
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
            .count() as i64;
        if running == replicas {
            return Ok(before);
        }
        if Instant::now() > deadline {
            return Err(UserError::new(format!(
                "{name} has {running} running task(s), not {replicas}, after {}s",
                timeout.as_secs()
            ))
            .hint(format!("see docker service ps {name} on the manager")));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
