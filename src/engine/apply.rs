//! Applying a plan: all files or none, under a per-project lock, and no
//! reader — sdtui or not — ever sees a mix of old and new generated files.
//!
//! The generated tree lives in generations: `compose` in the project folder
//! is a relative symlink to `.sdtui/generations/<n>`, a complete tree, so
//! `cd compose/<vm> && docker-compose config` reads one generation. A plan
//! is applied in this order:
//!
//! 1. Prepare: config.yml, secrets.yml (and a migration's backups) are
//!    written as `.<name>.sdtui-new` beside their targets; generation `n+1`
//!    is written complete under `.sdtui/generations/` (unchanged files
//!    hard-linked from generation `n`; env files 0600 in 0700 folders). One
//!    `syncfs` makes all of it durable.
//! 2. Commit: the journal naming every step of 3 is written to a temporary,
//!    fsynced and renamed into `.sdtui/journal.json`.
//! 3. Switch, one rename per stable path: a migration's backups, then
//!    secrets.yml, then the generated tree (a symlink made under a temporary
//!    name and renamed over `compose`; a real `compose/` folder from before
//!    generations is swapped with it by `renameat2(RENAME_EXCHANGE)` and
//!    kept as the generation before), then config.yml last. Credentials
//!    land before any env file uses them, and config.yml, the user's
//!    statement of intent, shows the change only once everything derived
//!    from it is in place.
//! 4. `syncfs`, the journal removed, then every generation but the current
//!    one and the one before it removed. The one before stays for readers
//!    that entered it just before the switch (a shell `cd`'d into
//!    `compose/<vm>`, a `docker-compose` about to read its env files, a
//!    backup mid-copy): they finish on a consistent tree instead of one that
//!    vanishes under them. A reader still in it after a second switch loses it.
//!
//! What a crash (kill -9, power loss) at each point leaves:
//! - in 1, or in 2 before the journal's rename: every stable path old. The
//!   next process to take the lock sweeps the temporaries and the unfinished
//!   generation.
//! - in 3: each of config.yml, secrets.yml and compose/ old or new as a
//!   whole (compose/ is never half switched), possibly on different sides of
//!   the change, until the next process to take the lock rolls the journal
//!   forward (every step is idempotent) before it reads anything.
//! - in 4: everything new; generations left over are removed at the next
//!   lock.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::generate::GENERATED_DIR;
use super::plan::{FileChange, Plan};
use super::{CONFIG_FILE, STATE_DIR};
use crate::error::{Result, UserError, io_error};

const TMP_SUFFIX: &str = ".sdtui-new";
const JOURNAL: &str = "journal.json";
const GENERATIONS: &str = "generations";

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
    Replace {
        tmp: PathBuf,
        target: PathBuf,
    },
    Delete {
        target: PathBuf,
    },
    /// Points the generated tree's symlink `link` at generation `generation`.
    Switch {
        link: PathBuf,
        generation: u64,
    },
}

fn tmp_path(target: &Path) -> PathBuf {
    suffixed(target, TMP_SUFFIX)
}

fn suffixed(target: &Path, suffix: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}{suffix}"))
}

/// Writes every file of the plan atomically, as one transaction; see the
/// module docs for the order.
pub fn apply(project_dir: &Path, state_dir: &Path, plan: &Plan) -> Result<()> {
    let (generated, others): (Vec<&FileChange>, Vec<&FileChange>) = plan
        .changes
        .iter()
        .partition(|c| c.rel.starts_with(GENERATED_DIR));
    let mut steps = Vec::new();
    let mut config_step = None;
    for c in others {
        let target = project_dir.join(&c.rel);
        let step = match &c.new {
            Some(content) => {
                let dir = target.parent().unwrap_or(project_dir);
                create_dir(dir, c.mode & 0o077 == 0 && dir != project_dir)?;
                let tmp = tmp_path(&target);
                slow_fs();
                write_file(&tmp, content.as_bytes(), c.mode)?;
                Step::Replace { tmp, target }
            }
            None => Step::Delete { target },
        };
        if c.rel == Path::new(CONFIG_FILE) {
            config_step = Some(step);
        } else {
            steps.push(step);
        }
    }
    let link = project_dir.join(GENERATED_DIR);
    let real_folder = fs::symlink_metadata(&link).is_ok_and(|m| m.is_dir());
    if !generated.is_empty() || real_folder {
        let generations = state_dir.join(GENERATIONS);
        let generation = generation_ids(&generations)
            .into_iter()
            .max()
            .map_or(1, |n| n + 1);
        build_generation(&link, &generations.join(generation.to_string()), &generated)?;
        steps.push(Step::Switch { link, generation });
    }
    steps.extend(config_step);
    // Every temporary and the new generation durable before the journal
    // names them: one syncfs for the whole batch instead of an fsync per file.
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
    remove_old_generations(project_dir);
    Ok(())
}

/// Writes the generated tree `current` would become with `changes` (paths
/// under `compose/`) into the new folder `new`. Unchanged files are
/// hard-linked: nothing ever writes into a generation once it is switched
/// to, so sharing their inodes is safe.
fn build_generation(current: &Path, new: &Path, changes: &[&FileChange]) -> Result<()> {
    // Left by a crash before a commit that never happened.
    remove_any(new).map_err(|e| io_error(new, "remove", e))?;
    fs::create_dir_all(new).map_err(|e| io_error(new, "create", e))?;
    let within = |c: &FileChange| {
        c.rel
            .strip_prefix(GENERATED_DIR)
            .unwrap_or(&c.rel)
            .to_path_buf()
    };
    let changed: HashSet<PathBuf> = changes.iter().map(|c| within(c)).collect();
    let mut made = HashSet::new();
    for (rel, mode) in files_under(current)? {
        if changed.contains(&rel) {
            continue;
        }
        let (from, to) = (current.join(&rel), new.join(&rel));
        ensure_dir(&mut made, to.parent().unwrap_or(new), mode & 0o077 == 0)?;
        slow_fs();
        fs::hard_link(&from, &to)
            .or_else(|_| fs::copy(&from, &to).map(drop))
            .map_err(|e| io_error(&to, "write", e))?;
    }
    for c in changes {
        if let Some(content) = &c.new {
            let to = new.join(within(c));
            ensure_dir(&mut made, to.parent().unwrap_or(new), c.mode & 0o077 == 0)?;
            slow_fs();
            write_file(&to, content.as_bytes(), c.mode)?;
        }
    }
    Ok(())
}

/// [`create_dir`] once per folder of a generation (`made` remembers which,
/// and whether it is private already): thousands of files share a few.
fn ensure_dir(made: &mut HashSet<(PathBuf, bool)>, dir: &Path, private: bool) -> Result<()> {
    if made.contains(&(dir.to_path_buf(), private)) || made.contains(&(dir.to_path_buf(), true)) {
        return Ok(());
    }
    create_dir(dir, private)?;
    made.insert((dir.to_path_buf(), private));
    Ok(())
}

/// `dir` and its parents; `private` (it holds secret files) makes it 0700.
fn create_dir(dir: &Path, private: bool) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
    if private {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error(dir, "chmod", e))?;
    }
    Ok(())
}

/// Every file below `dir` (which may be a symlink), relative to it, with its
/// mode; our own temporaries left out. A file that cannot be looked at
/// fails the apply: a generation without it would be a mix.
fn files_under(dir: &Path) -> Result<Vec<(PathBuf, u32)>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        let entries = match fs::read_dir(&abs) {
            Ok(entries) => entries,
            // No generated tree yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && rel.as_os_str().is_empty() => {
                continue;
            }
            Err(e) => return Err(io_error(&abs, "read", e)),
        };
        for e in entries {
            let e = e.map_err(|e| io_error(&abs, "read", e))?;
            let name = e.file_name();
            if name.to_string_lossy().ends_with(TMP_SUFFIX) {
                continue;
            }
            let meta = e
                .metadata()
                .map_err(|err| io_error(&e.path(), "read", err))?;
            if meta.is_dir() {
                stack.push(rel.join(&name));
            } else {
                out.push((rel.join(&name), meta.permissions().mode()));
            }
        }
    }
    Ok(out)
}

/// `compose/<vm>` resolved once to the folder inside the current generation:
/// a reader that then reads only below it sees one generation throughout,
/// even if a sync switches `compose` meanwhile.
pub fn generated_vm_dir(project_dir: &Path, vm: &str) -> Result<PathBuf> {
    let path = project_dir.join(super::generate::compose_dir(vm));
    fs::canonicalize(&path).map_err(|e| io_error(&path, "read", e))
}

fn generation_ids(generations: &Path) -> Vec<u64> {
    fs::read_dir(generations)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn generation_target(generation: u64) -> PathBuf {
    Path::new(STATE_DIR)
        .join(GENERATIONS)
        .join(generation.to_string())
}

/// The generation `compose` points at, if it is our symlink.
fn current_generation(project_dir: &Path) -> Option<u64> {
    let target = fs::read_link(project_dir.join(GENERATED_DIR)).ok()?;
    let generation = target.file_name()?.to_str()?.parse().ok()?;
    (target == generation_target(generation)).then_some(generation)
}

/// Every generation but the current one and the one before it (see the
/// module docs for why that one stays). Best effort: what is left is
/// removed at the next lock.
fn remove_old_generations(project_dir: &Path) {
    let generations = project_dir.join(STATE_DIR).join(GENERATIONS);
    let ids = generation_ids(&generations);
    let current = current_generation(project_dir);
    let previous = current.and_then(|c| ids.iter().copied().filter(|&id| id < c).max());
    for id in ids {
        if Some(id) != current && Some(id) != previous {
            slow_fs();
            let _ = fs::remove_dir_all(generations.join(id.to_string()));
        }
    }
}

/// Points `link` at `generation` in one rename, so a reader resolves either
/// the old tree or the new one.
fn switch_generation(link: &Path, generation: u64) -> Result<()> {
    let target = generation_target(generation);
    let tmp = tmp_path(link);
    // A real folder from before generations becomes the generation before
    // this one, kept like any previous generation for readers inside it.
    let retired = link
        .parent()
        .unwrap_or(Path::new("."))
        .join(generation_target(generation.saturating_sub(1)));
    // Already switched by an earlier, interrupted run.
    if fs::read_link(link).is_ok_and(|t| t == target) {
        if fs::symlink_metadata(&tmp).is_ok_and(|m| m.is_dir()) {
            // Cut short between the exchange and the retirement below.
            let _ = fs::rename(&tmp, &retired);
        }
        return Ok(());
    }
    remove_any(&tmp).map_err(|e| io_error(&tmp, "remove", e))?;
    std::os::unix::fs::symlink(&target, &tmp).map_err(|e| io_error(&tmp, "create", e))?;
    if fs::symlink_metadata(link).is_ok_and(|m| m.is_dir()) {
        remove_any(&retired).map_err(|e| io_error(&retired, "remove", e))?;
        // Swapped with the symlink in one step, so compose/ never goes missing.
        match exchange(&tmp, link) {
            Ok(()) => {
                return fs::rename(&tmp, &retired).map_err(|e| io_error(&tmp, "move", e));
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                ) =>
            {
                // This filesystem cannot exchange: compose/ is missing for
                // the moment between the two renames (still never a mix).
                fs::rename(link, &retired).map_err(|e| io_error(link, "move", e))?;
            }
            Err(e) => return Err(io_error(link, "replace", e)),
        }
    }
    fs::rename(&tmp, link).map_err(|e| io_error(link, "replace", e))
}

/// Swaps two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`).
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Removes a file, symlink or folder; gone already is fine.
fn remove_any(path: &Path) -> std::io::Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
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
        slow_fs();
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
            Step::Switch { link, generation } => switch_generation(link, *generation)?,
        }
    }
    // The renames durable before the journal that would redo them goes.
    sync_filesystem(journal.parent().unwrap_or(Path::new(".")))?;
    fs::remove_file(journal).map_err(|e| io_error(journal, "remove", e))
}

pub fn pending(state_dir: &Path) -> bool {
    state_dir.join(JOURNAL).exists()
}

/// Finishes a committed transaction, or sweeps the leftovers of one that
/// never committed; then drops generations no longer kept.
pub fn recover(state_dir: &Path) -> Result<()> {
    let journal = state_dir.join(JOURNAL);
    if journal.exists() {
        run_journal(&journal)?;
    }
    if let Some(project_dir) = state_dir.parent() {
        sweep(project_dir, 0);
        remove_old_generations(project_dir);
    }
    Ok(())
}

/// Removes temporaries: files, and the symlink made for a switch.
fn sweep(dir: &Path, depth: usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.ends_with(TMP_SUFFIX) {
            let _ = remove_any(&p);
        } else if depth < 4 && e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            sweep(&p, depth + 1);
        }
    }
}

/// Fault injection for the crash tests: every file operation of an apply
/// takes this long (`SDTUI_FAULT_SLOW_FS_MS`), so kills land inside it.
fn slow_fs() {
    static DELAY: OnceLock<Option<Duration>> = OnceLock::new();
    let delay = DELAY.get_or_init(|| {
        std::env::var("SDTUI_FAULT_SLOW_FS_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis)
    });
    if let Some(delay) = delay {
        // Tells the test when the file operations begin, so its kills can be
        // spread over them rather than over the process's start.
        static ANNOUNCED: std::sync::Once = std::sync::Once::new();
        ANNOUNCED.call_once(|| eprintln!("sdtui: file operations slowed (SDTUI_FAULT_SLOW_FS_MS)"));
        std::thread::sleep(*delay);
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
