//! What the console's VMs pane shows about a connected VM: its engine and
//! Compose versions, the free space where Docker keeps its data, and how
//! many containers it has. One read per connection, through the same
//! session as everything else.

use serde::Serialize;

use super::target::{Connected, Target, remote};
use super::{Command, run};
use crate::error::{Result, UserError};
use crate::ssh::RemoteCommand;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VmInfo {
    pub engine: String,
    /// `compose v2.26.1 (docker compose)`, or why it does not run.
    pub compose: String,
    pub docker_root: String,
    /// Bytes free on the filesystem of `docker_root`; None when `df`
    /// could not say.
    pub disk_free: Option<u64>,
    pub containers: i64,
    pub running: i64,
}

pub async fn vm_info(conn: &Connected) -> Result<VmInfo> {
    let info = conn
        .docker
        .info()
        .await
        .map_err(|e| UserError::new(format!("Docker: info: {e}")))?;
    let docker_root = info
        .docker_root_dir
        .unwrap_or_else(|| "/var/lib/docker".into());
    let compose = match conn.target.compose_label().await {
        Ok(label) => label,
        Err(e) => e.message,
    };
    let df_args = vec!["-Pk".to_string(), docker_root.clone()];
    let df = match &conn.target {
        Target::Local { .. } => {
            run(&Command {
                program: "df".into(),
                args: df_args,
                dir: std::env::temp_dir(),
            })
            .await
        }
        Target::Remote { session, .. } => remote(session, RemoteCommand::new("df", df_args)).await,
    };
    Ok(VmInfo {
        engine: info.server_version.unwrap_or_default(),
        compose,
        docker_root,
        disk_free: df.ok().and_then(|out| df_available(&out)),
        containers: info.containers.unwrap_or(0),
        running: info.containers_running.unwrap_or(0),
    })
}

/// The `Available` column of `df -Pk`'s one data line, in bytes.
fn df_available(out: &str) -> Option<u64> {
    let line = out.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn df_available_in_bytes() {
        let out = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/sda1        102400000 51200000  40960000      56% /\n";
        assert_eq!(super::df_available(out), Some(40960000 * 1024));
        assert_eq!(super::df_available("garbage"), None);
    }
}
