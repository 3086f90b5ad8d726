//! Putting a project's generated files onto a VM and keeping it honest:
//! `up` (compose up, health wait, provisioning, rollback), `down`,
//! `status`, `logs`, app releases and rollback, on the local engine or over
//! SSH (target.rs), one deploy per VM at a time (lock.rs).

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

mod compose;
pub mod container;
pub mod fanout;
mod health;
pub mod lock;
pub mod order;
pub mod ports_check;
mod provision;
mod purge;
mod release;
mod staging;
mod status;
pub mod steps;
pub mod target;
mod up;
pub mod vm_info;

pub(crate) use fanout::select_vms;

pub use compose::*;
#[allow(unused_imports)]
pub use health::*;
pub(crate) use provision::*;
pub use purge::*;
pub use release::*;
#[allow(unused_imports)]
pub use staging::*;
pub use status::*;
pub use up::*;

use target::Connected;

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
