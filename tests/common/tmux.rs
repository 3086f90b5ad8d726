//! The real console in a real terminal: a tmux session to send keys to
//! and read the screen from.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux(pub String);

impl Tmux {
    pub fn start(session: &str, cmd: &str) -> Tmux {
        Tmux::start_sized(session, cmd, 100, 30)
    }
    pub fn start_sized(session: &str, cmd: &str, w: u16, h: u16) -> Tmux {
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                cmd,
            ])
            .status()
            .expect("tmux must be installed (tests/run installs it)");
        assert!(status.success());
        Tmux(session.to_string())
    }
    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
    pub fn keys(&self, keys: &[&str]) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.0])
            .args(keys)
            .status()
            .unwrap();
        // A lone ESC byte read together with the next key is that key
        // with Alt (how terminals send Alt): let it arrive on its own.
        if keys.last() == Some(&"Escape") {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    pub fn resize(&self, w: u16, h: u16) {
        let status = Command::new("tmux")
            .args([
                "resize-window",
                "-t",
                &self.0,
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    /// Polls the screen until it passes `check`; the screen is in the
    /// panic. Returns it and how long that took.
    pub fn poll(
        &self,
        what: &str,
        check: impl Fn(&str) -> bool,
        within: Duration,
    ) -> (String, Duration) {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if check(&s) {
                return (s, start.elapsed());
            }
            assert!(start.elapsed() < within, "screen never got {what}:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    /// Waits until the screen passes `check`.
    pub fn wait_until(&self, what: &str, check: impl Fn(&str) -> bool, within: Duration) -> String {
        self.poll(what, check, within).0
    }
    /// Waits until the screen no longer shows `what`.
    pub fn wait_gone(&self, what: &str, within: Duration) {
        self.poll(&format!("rid of {what:?}"), |s| !s.contains(what), within);
    }
    /// Waits until the screen shows `what`.
    pub fn wait_for(&self, what: &str, within: Duration) -> Duration {
        self.poll(&format!("{what:?}"), |s| s.contains(what), within)
            .1
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

/// The console on `project`, with a root, catalog and settings of the test's own.
pub fn console_cmd(root: &std::path::Path, project: &str, extra_env: &str) -> String {
    format!(
        "SDTUI_ROOT={} SDTUI_ADDONS={} SDTUI_CONFIG={} {extra_env} {} -p {project}",
        root.display(),
        root.join(".none").display(),
        root.join(".config").display(),
        env!("CARGO_BIN_EXE_sdtui")
    )
}
