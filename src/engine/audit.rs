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
    pub outcome: String,
    #[serde(default)]
    pub files: Vec<String>,
}

pub fn current_user() -> String {
    std::env::var("SDTUI_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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
