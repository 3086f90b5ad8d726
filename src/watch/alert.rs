//! Running the user's `watch.alert` command for one change: through
//! `sh -c` on this machine, the change in its environment, its output
//! passed through to watch's own.

use std::process::Stdio;

use super::Change;

/// Runs the command and waits for it; the exit code, or why it did not run.
pub async fn run(command: &str, project: &str, change: &Change) -> Result<i32, String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("SDTUI_PROJECT", project)
        .env("SDTUI_VM", &change.vm)
        .env("SDTUI_ADDON", &change.addon)
        .env("SDTUI_SERVICE", &change.service)
        .env("SDTUI_OLD_STATE", change.old.as_str())
        .env("SDTUI_NEW_STATE", change.new.as_str())
        // The script's message, or why the VM cannot be reached; empty if none.
        .env("SDTUI_REASON", change.reason.as_deref().unwrap_or_default())
        .stdin(Stdio::null())
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| format!("could not start sh: {e}"))?;
    let status = child.wait().await.map_err(|e| e.to_string())?;
    Ok(status.code().unwrap_or(-1))
}
