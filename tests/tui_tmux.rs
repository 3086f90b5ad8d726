//! The real console in a real terminal (tmux) against the real engine:
//! start, see live health, stop a container by hand and watch the pane
//! follow within a couple of seconds (Docker events, no polling), open its
//! logs, quit.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::docker::{Cleanup, container, docker, require_images};
use common::{ok, sdtui};

struct Tmux(String);

impl Tmux {
    fn start(session: &str, cmd: &str) -> Tmux {
        let status = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "100",
                "-y",
                "30",
                cmd,
            ])
            .status()
            .expect("tmux must be installed (tests/run installs it)");
        assert!(status.success());
        Tmux(session.to_string())
    }
    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.0])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
    fn keys(&self, keys: &[&str]) {
        Command::new("tmux")
            .args(["send-keys", "-t", &self.0])
            .args(keys)
            .status()
            .unwrap();
    }
    /// Waits until the screen shows `what`; the screen is in the panic.
    fn wait_for(&self, what: &str, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "screen never showed {what:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.0])
            .status();
    }
}

#[test]
fn console_follows_the_engine_live() {
    require_images(&["postgres:15"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tt{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    std::fs::create_dir_all(r.join(&name)).unwrap();
    std::fs::write(
        r.join(&name).join("config.yml"),
        "# console test\nvms:\n  local:\n    host: local\n    private_ip: 127.0.3.61\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));

    let cmd = format!(
        "SDTUI_ROOT={} SDTUI_ADDONS={} SDTUI_CONFIG={} {} -p {name}",
        r.display(),
        r.join(".none").display(),
        r.join(".config").display(),
        env!("CARGO_BIN_EXE_sdtui")
    );
    let tmux = Tmux::start(&name, &cmd);
    tmux.wait_for("databases.main", Duration::from_secs(10));
    tmux.wait_for("healthy", Duration::from_secs(10));

    // Stopped by hand, outside sdtui: the pane follows from the events stream.
    let pg = container(&cp, "postgres-main");
    assert!(docker(&["stop", "-t", "1", &pg]).0);
    let seen = tmux.wait_for("exited", Duration::from_secs(5));
    eprintln!(
        "console showed the stop {} ms after docker stop returned",
        seen.as_millis()
    );
    assert!(seen < Duration::from_secs(2), "took {seen:?}");
    assert!(docker(&["start", &pg]).0);
    tmux.wait_for("healthy", Duration::from_secs(20));

    // Enter on the addon follows its logs.
    tmux.keys(&["Enter"]);
    tmux.wait_for("ready to accept connections", Duration::from_secs(10));
    // Help, then quit.
    tmux.keys(&["?"]);
    tmux.wait_for("this help", Duration::from_secs(5));
    tmux.keys(&["Escape"]);
    tmux.keys(&["q"]);
    let start = Instant::now();
    while Command::new("tmux")
        .args(["has-session", "-t", &name])
        .status()
        .unwrap()
        .success()
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "q did not quit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
