//! One deploy at a time per project and VM, across processes: `up`, `down`,
//! `deploy`, `rollback`, a purge and the console's container actions each
//! hold the VM's lock while they touch its release folders or containers.
//!
//! The lock is an advisory `flock` on `.sdtui/deploy/<vm>.lock`, so it dies
//! with its process (a crashed holder never blocks anyone). The holder writes
//! who it is into the file; a waiting process reads that to say what it
//! waits for, and gives up after a bounded wait naming the holder.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::{Project, audit};
use crate::error::{Result, UserError, io_error};

/// How long a deploy waits for another one on the same VM by default; a
/// deploy itself waits up to `--timeout` (300 s) for health, so this covers
/// one deploy in front of it, with room.
const DEFAULT_WAIT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(100);
/// How often a waiting process repeats what it waits for.
const REPEAT: Duration = Duration::from_secs(10);

/// What the file of a held lock says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub user: String,
    pub operation: String,
    pub started: String,
}

impl Holder {
    /// `up by pid 4711 (alice@laptop), started 12 s ago`
    pub fn describe(&self) -> String {
        let ago = chrono::DateTime::parse_from_rfc3339(&self.started)
            .map(|t| {
                let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                    .num_seconds()
                    .max(0);
                format!("started {secs} s ago")
            })
            .unwrap_or_else(|_| format!("started {}", self.started));
        format!(
            "{} by pid {} ({}), {ago}",
            self.operation, self.pid, self.user
        )
    }
}

/// Held while a deploy operation touches one VM; released on drop (and by
/// the kernel when the process dies).
pub struct DeployLock {
    file: File,
    pub vm: String,
}

impl Drop for DeployLock {
    fn drop(&mut self) {
        // The next holder overwrites it anyway; an empty file just reads
        // "unknown holder" to anyone who looks in between.
        let _ = self.file.set_len(0);
    }
}

fn lock_path(project: &Project, vm: &str) -> PathBuf {
    project
        .state_dir()
        .join("deploy")
        .join(format!("{vm}.lock"))
}

fn wait_limit() -> Duration {
    std::env::var("SDTUI_DEPLOY_WAIT_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_WAIT)
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io_error(path, "open", e))
}

/// Who holds the VM's deploy lock right now, if anyone (for the console's
/// "deploy in progress" and for `status`).
pub fn holder(project: &Project, vm: &str) -> Option<Holder> {
    let path = lock_path(project, vm);
    let mut file = File::open(&path).ok()?;
    match file.try_lock_shared() {
        // Nobody holds it exclusively: no deploy runs.
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(_) => read_holder(&mut file),
    }
}

/// Takes the VM's deploy lock for `operation`, waiting (and saying for
/// whom, through `report`) while another process or task holds it.
pub async fn acquire(
    project: &Project,
    vm: &str,
    operation: &str,
    report: &(dyn Fn(String) + Sync),
) -> Result<DeployLock> {
    acquire_within(project, vm, operation, wait_limit(), report).await
}

async fn acquire_within(
    project: &Project,
    vm: &str,
    operation: &str,
    limit: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<DeployLock> {
    let path = lock_path(project, vm);
    let mut file = open(&path)?;
    let start = Instant::now();
    let mut said: Option<Instant> = None;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&path, "lock", e)),
        }
        let who = read_holder(&mut file)
            .map(|h| h.describe())
            .unwrap_or_else(|| "another sdtui".into());
        if start.elapsed() >= limit {
            return Err(UserError::new(format!(
                "VM {vm} of project {} is busy: {who}",
                project.name
            ))
            .hint(format!(
                "waited {} s; try again when it finishes (SDTUI_DEPLOY_WAIT_S sets the wait)",
                limit.as_secs()
            )));
        }
        if said.is_none_or(|t| t.elapsed() >= REPEAT) {
            report(format!("waiting for {who}"));
            said = Some(Instant::now());
        }
        tokio::time::sleep(POLL).await;
    }
    let me = Holder {
        pid: std::process::id(),
        user: audit::current_user(),
        operation: operation.to_string(),
        started: audit::now(),
    };
    // Rewritten in place (the lock is on this inode, so no rename).
    file.set_len(0).map_err(|e| io_error(&path, "write", e))?;
    file.rewind().map_err(|e| io_error(&path, "write", e))?;
    file.write_all(serde_json::to_string(&me).unwrap_or_default().as_bytes())
        .and_then(|_| file.flush())
        .map_err(|e| io_error(&path, "write", e))?;
    // Tests: a holder that stays put (for the given seconds, else an hour),
    // to be waited for and killed.
    #[cfg(debug_assertions)]
    if let Ok(v) = std::env::var("SDTUI_FAULT_PAUSE_HOLDING_DEPLOY_LOCK") {
        tokio::time::sleep(Duration::from_secs(v.parse().unwrap_or(3600))).await;
    }
    Ok(DeployLock {
        file,
        vm: vm.to_string(),
    })
}

/// The locks of several VMs, taken in name order so two processes that want
/// overlapping sets never hold one each and wait for the other.
pub async fn acquire_all(
    project: &Project,
    vms: &[String],
    operation: &str,
    report: &(dyn Fn(String) + Sync),
) -> Result<Vec<DeployLock>> {
    let mut names: Vec<&String> = vms.iter().collect();
    names.sort();
    names.dedup();
    let mut held = Vec::new();
    for vm in names {
        let vm_report = |line: String| report(format!("VM {vm}: {line}"));
        held.push(acquire(project, vm, operation, &vm_report).await?);
    }
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        let p = Project::plain("p", dir.path().to_path_buf());
        (dir, p)
    }

    #[tokio::test]
    async fn second_holder_waits_then_gives_up_naming_the_first() {
        let (_d, p) = project();
        let first = acquire(&p, "core", "up", &|_| {}).await.unwrap();
        let h = holder(&p, "core").expect("held");
        assert_eq!(h.pid, std::process::id());
        assert_eq!(h.operation, "up");
        let heard = std::sync::Mutex::new(Vec::new());
        let err = acquire_within(&p, "core", "down", Duration::from_millis(300), &|l| {
            heard.lock().unwrap().push(l)
        })
        .await
        .err()
        .expect("busy");
        assert!(err.message.contains("busy: up by pid"), "{}", err.message);
        let heard = heard.into_inner().unwrap();
        assert_eq!(heard.len(), 1, "said once, not every poll: {heard:?}");
        assert!(heard[0].starts_with("waiting for up by pid "), "{heard:?}");
        // Another VM is free meanwhile.
        let other = acquire(&p, "edge", "up", &|_| {}).await.unwrap();
        drop(first);
        assert!(holder(&p, "core").is_none());
        let again = acquire(&p, "core", "down", &|_| {}).await.unwrap();
        drop((other, again));
    }

    /// The lock is per environment and VM: two environments deploy on one
    /// VM at once (and beside the project itself), one environment never twice.
    #[tokio::test]
    async fn environments_lock_apart() {
        let (_d, p) = project();
        let (dev, staging) = (p.environment("dev"), p.environment("staging"));
        let held_dev = acquire(&dev, "core", "up", &|_| {}).await.unwrap();
        let held_staging = acquire(&staging, "core", "up", &|_| {}).await.unwrap();
        let held_project = acquire(&p, "core", "up", &|_| {}).await.unwrap();
        let err = acquire_within(&dev, "core", "down", Duration::from_millis(200), &|_| {})
            .await
            .err()
            .expect("dev is busy");
        assert!(
            err.message
                .contains("VM core of project p-dev is busy: up by pid"),
            "{}",
            err.message
        );
        drop((held_dev, held_staging, held_project));
    }
}
