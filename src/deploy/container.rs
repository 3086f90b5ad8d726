//! Start, stop or restart one container of a project (the console's `S` and
//! `R`): under the VM's deploy lock, like every operation that touches
//! containers, and recorded in the audit trail.

use bollard::Docker;
use bollard::query_parameters::{RestartContainerOptionsBuilder, StopContainerOptionsBuilder};

use super::lock;
use crate::engine::{Project, audit};
use crate::error::{Result, UserError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerAction {
    Start,
    Stop,
    Restart,
}

impl ContainerAction {
    pub fn verb(self) -> &'static str {
        match self {
            ContainerAction::Start => "start",
            ContainerAction::Stop => "stop",
            ContainerAction::Restart => "restart",
        }
    }
}

/// Runs `action` on `container` (its id) on `vm`, whose engine `docker`
/// is; `label` names it in the audit trail and errors (`postgres-main`).
pub async fn act(
    project: &Project,
    vm: &str,
    docker: &Docker,
    container: &str,
    label: &str,
    action: ContainerAction,
    report: &(dyn Fn(String) + Sync),
) -> Result<()> {
    let operation = format!("{} {label} on VM {vm}", action.verb());
    let _lock = lock::acquire(project, vm, &operation, report).await?;
    let started = audit::now();
    // Ten seconds to stop cleanly, as `docker stop` gives.
    let result = match action {
        ContainerAction::Start => docker.start_container(container, None).await,
        ContainerAction::Stop => {
            docker
                .stop_container(
                    container,
                    Some(StopContainerOptionsBuilder::default().t(10).build()),
                )
                .await
        }
        ContainerAction::Restart => {
            docker
                .restart_container(
                    container,
                    Some(RestartContainerOptionsBuilder::default().t(10).build()),
                )
                .await
        }
    };
    let outcome = match &result {
        Ok(()) => "applied".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    audit::append(
        &project.audit_path(),
        &audit::Entry::since(started, operation, outcome, vec![]),
    )?;
    result.map_err(|e| UserError::new(format!("{label}: {} failed: {e}", action.verb())))
}
