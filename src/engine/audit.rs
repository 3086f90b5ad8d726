//! The audit trail: one JSON line per applied operation (time, user,
//! operation, outcome, files), appended; secrets never enter it.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Result, io_error};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub time: String,
    pub user: String,
    pub operation: String,
    /// When the operation began (after any wait for another one); `time` is
    /// when it ended. Only long operations (deploys) record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    pub outcome: String,
    #[serde(default)]
    pub files: Vec<String>,
    /// A contract script's call: its output, exit and duration (secrets
    /// masked before it gets here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<crate::contract::run::Execution>,
}

/// Who runs this process, for audit and release entries: the system's name
/// of the effective account (not `$USER`, which cron, CI and root shells
/// leave unset or stale), who it was before `sudo`, and this machine:
/// `alice@laptop`, `root (sudo by alice)@laptop`. `$SDTUI_USER` overrides
/// the name, for tests.
impl Entry {
    /// An entry for an operation that ends now, by this process's user.
    pub fn new(
        operation: impl Into<String>,
        outcome: impl Into<String>,
        files: Vec<String>,
    ) -> Self {
        Entry {
            time: now(),
            user: current_user(),
            operation: operation.into(),
            started: None,
            outcome: outcome.into(),
            files,
            execution: None,
        }
    }
}

impl Entry {
    /// An entry for a long operation that began at `started` (after any
    /// wait for another one) and ends now.
    pub fn since(
        started: String,
        operation: impl Into<String>,
        outcome: impl Into<String>,
        files: Vec<String>,
    ) -> Self {
        Entry {
            started: Some(started),
            ..Entry::new(operation, outcome, files)
        }
    }
}

pub fn current_user() -> String {
    let name = std::env::var("SDTUI_USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| whoami::username().ok())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let sudo = std::env::var("SUDO_USER")
        .ok()
        .filter(|s| !s.is_empty() && *s != name)
        .map(|s| format!(" (sudo by {s})"))
        .unwrap_or_default();
    let host = whoami::hostname().unwrap_or_else(|_| "unknown-host".into());
    format!("{name}{sudo}@{host}")
}

/// UTC, to the millisecond: entries of operations that must not overlap
/// (two deploys of one VM) can be told apart by their times.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Appends one line with a single write, so concurrent readers never see half
/// an entry.
pub fn append(path: &Path, entry: &Entry) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, "create", e))?;
    }
    let mut line = serde_json::to_string(entry).unwrap_or_default();
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io_error(path, "open", e))?;
    f.write_all(line.as_bytes())
        .map_err(|e| io_error(path, "append to", e))?;
    f.sync_data().map_err(|e| io_error(path, "sync", e))
}

pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(io_error(path, "read", e)),
    };
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}
