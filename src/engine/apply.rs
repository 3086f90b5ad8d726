//! Applying a plan: all files or none, under a per-project lock.
//!
//! New contents go to temporary files beside their targets; a journal naming
//! every rename is then committed (written and renamed into place); then the
//! renames run. A crash before the journal commits leaves the old files (the
//! temporaries are swept); a crash after it is rolled forward by the next
//! process to take the lock. Either way no one ever sees a mix.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use crate::error::{Result, UserError, io_error};

const TMP_SUFFIX: &str = ".sdtui-new";
const JOURNAL: &str = "journal.json";

/// Held for the whole operation: plan and apply see one state.
pub struct ProjectLock {
    _file: File,
}

pub fn lock(state_dir: &Path, project: &str, operation: &str) -> Result<ProjectLock> {
    fs::create_dir_all(state_dir).map_err(|e| io_error(state_dir, "create", e))?;
    let path = state_dir.join("lock");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| io_error(&path, "open", e))?;
    let wait = std::env::var("SDTUI_LOCK_WAIT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(3));
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&path, "lock", e)),
        }
        if start.elapsed() >= wait {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            return Err(UserError::new(format!(
                "project {project} is busy: another sdtui is changing it ({})",
                holder.trim()
            ))
            .hint(format!(
                "waited {} ms; try again when it finishes",
                wait.as_millis()
            )));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // Who holds it, for the message a waiting process shows.
    let _ = file.set_len(0);
    let _ = write!(
        file,
        "pid {}, {operation}, since {}",
        std::process::id(),
        super::audit::now()
    );
    let _ = file.flush();
    let guard = ProjectLock { _file: file };
    recover(state_dir)?;
    Ok(guard)
}

#[derive(Serialize, Deserialize)]
struct Journal {
    steps: Vec<Step>,
}

#[derive(Serialize, Deserialize)]
enum Step {
    Replace { tmp: PathBuf, target: PathBuf },
    Delete { target: PathBuf },
}

fn tmp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{TMP_SUFFIX}"))
}

/// Writes every file of the plan atomically, as one transaction.
pub fn apply(project_dir: &Path, state_dir: &Path, plan: &Plan) -> Result<()> {
    let mut steps = Vec::new();
    for c in &plan.changes {
        let target = project_dir.join(&c.rel);
        let dir = target.parent().unwrap_or(project_dir).to_path_buf();
        match &c.new {
            Some(content) => {
                fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "create", e))?;
                // A folder of secret files is private too.
                if c.mode & 0o077 == 0 && dir != project_dir {
                    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                        .map_err(|e| io_error(&dir, "chmod", e))?;
                }
                let tmp = tmp_path(&target);
                write_file(&tmp, content.as_bytes(), c.mode)?;
                steps.push(Step::Replace { tmp, target });
            }
            None => steps.push(Step::Delete { target }),
        }
    }
    // Every temporary durable before the journal names them: one syncfs for
    // the whole batch instead of an fsync per file.
    sync_filesystem(project_dir)?;
    if std::env::var_os("SDTUI_FAULT_PAUSE_BEFORE_COMMIT").is_some() {
        pause("paused before commit (SDTUI_FAULT_PAUSE_BEFORE_COMMIT)");
    }
    let journal = state_dir.join(JOURNAL);
    let text = serde_json::to_string(&Journal { steps }).unwrap_or_default();
    write_atomic(&journal, text.as_bytes(), 0o600)?;
    sync_dir(state_dir);
    // Committed: from here on the change happens, now or at the next start.
    run_journal(&journal)?;
    sync_filesystem(project_dir)
}

fn run_journal(journal: &Path) -> Result<()> {
    let text = fs::read_to_string(journal).map_err(|e| io_error(journal, "read", e))?;
    let j: Journal = serde_json::from_str(&text)
        .map_err(|e| UserError::new(format!("{}: damaged journal: {e}", journal.display())))?;
    let pause_after: Option<usize> = std::env::var("SDTUI_FAULT_PAUSE_AFTER_STEPS")
        .ok()
        .and_then(|v| v.parse().ok());
    for (i, step) in j.steps.iter().enumerate() {
        if pause_after == Some(i) {
            pause(&format!(
                "paused after {i} steps (SDTUI_FAULT_PAUSE_AFTER_STEPS)"
            ));
        }
        match step {
            Step::Replace { tmp, target } => {
                // Already renamed by an earlier, interrupted run.
                if tmp.exists() {
                    fs::rename(tmp, target).map_err(|e| io_error(target, "replace", e))?;
                }
            }
            Step::Delete { target } => match fs::remove_file(target) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(target, "delete", e)),
            },
        }
    }
    fs::remove_file(journal).map_err(|e| io_error(journal, "remove", e))
}

pub fn pending(state_dir: &Path) -> bool {
    state_dir.join(JOURNAL).exists()
}

/// Finishes a committed transaction, or sweeps the leftovers of one that
/// never committed.
pub fn recover(state_dir: &Path) -> Result<()> {
    let journal = state_dir.join(JOURNAL);
    if journal.exists() {
        run_journal(&journal)?;
    }
    if let Some(project_dir) = state_dir.parent() {
        sweep(project_dir, 0);
    }
    Ok(())
}

fn sweep(dir: &Path, depth: usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(TMP_SUFFIX) {
            let _ = fs::remove_file(&p);
        } else if depth < 4 && e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            sweep(&p, depth + 1);
        }
    }
}

/// Fault injection for the crash tests: hold here, lock taken, until killed.
fn pause(what: &str) -> ! {
    eprintln!("sdtui: {what}");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Flushes the filesystem holding `dir` (data and the renames' metadata).
fn sync_filesystem(dir: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let d = File::open(dir).map_err(|e| io_error(dir, "open", e))?;
    // SAFETY: syncfs only reads the descriptor, which `d` keeps open.
    if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
        return Err(io_error(dir, "sync", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn create_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<File> {
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io_error(path, "write", e))?;
    // `mode` is masked by the umask on create; make it exact.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| io_error(path, "chmod", e))?;
    f.write_all(bytes).map_err(|e| io_error(path, "write", e))?;
    Ok(f)
}

/// For a batch: the caller flushes the whole filesystem once afterwards.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    create_with_mode(path, bytes, mode).map(drop)
}

fn write_synced(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    create_with_mode(path, bytes, mode)?
        .sync_all()
        .map_err(|e| io_error(path, "sync", e))
}

/// One file, atomically: temp beside it, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = tmp_path(path);
    write_synced(&tmp, bytes, mode)?;
    fs::rename(&tmp, path).map_err(|e| io_error(path, "replace", e))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
