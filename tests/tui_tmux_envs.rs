//! The Environments pane in a real terminal (tmux) against the real local
//! engine, under Compose v1 and v2: two environments down; `s` on one
//! while another process holds its deploy lock says whose start it waits
//! for, then starts it in the background (steps on the footer) until the pane shows
//! it up and healthy, its postgres running under its own compose project
//! and the other environment untouched; Enter shows its instances, `y` its
//! configuration masked; `X` shows what stops, `y` stops it, the pane
//! shows it down, and its volume (the data) is kept.

mod common;

use std::time::Duration;

use common::compose::Compose;
use common::docker::{Cleanup, docker, require_images};
use common::tmux::{Tmux, console_cmd};

#[test]
fn start_and_stop_an_environment_from_the_console_v1() {
    start_and_stop(Compose::V1, "127.0.75.1");
}

#[test]
fn start_and_stop_an_environment_from_the_console_v2() {
    start_and_stop(Compose::V2, "127.0.75.2");
}

/// Ids of what the engine has of a compose project: containers
/// (running only) or volumes.
fn listed(what: &[&str], compose_project: &str) -> Vec<String> {
    let label = format!("label=com.docker.compose.project={compose_project}");
    let mut args = what.to_vec();
    args.extend(["-q", "--filter", &label]);
    let (ok, out) = docker(&args);
    assert!(ok, "{out}");
    out.split_whitespace().map(str::to_string).collect()
}

/// The pane's row of `env` on the screen.
fn env_row(screen: &str, env: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains(&format!("│{env} ")))
        .unwrap_or_default()
        .to_string()
}

fn start_and_stop(compose: Compose, addr: &str) {
    require_images(&["postgres:15"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("te{}{}", std::process::id(), compose.tag());
    let cp = |env: &str| format!("{name}-{env}-local");
    let _cleanup = (
        Cleanup(cp("dev")),
        Cleanup(cp("staging")),
        Cleanup(format!("{name}-local")),
    );
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "# two environments on the local engine\nvms:\n  local:\n    host: local\n    private_ip: {addr}\naddons:\n  databases:\n    primary:\n      type: postgres\n      version: \"15\"\n      plan: small\nenvironments:\n  dev:\n    variables:\n      LOG_LEVEL: debug\n  staging:\n    variables:\n      LOG_LEVEL: info\n"
        ),
    )
    .unwrap();
    let extra: String = compose
        .sdtui_env()
        .iter()
        .map(|(k, v)| format!("{k}='{v}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let tmux = Tmux::start_sized(&name, &console_cmd(r, &name, &extra), 120, 32);
    tmux.wait_for("databases.primary", Duration::from_secs(10));
    tmux.keys(&["4"]);
    // Both read from the engine in the background: down.
    tmux.wait_until(
        "both environments down",
        |s| env_row(s, "dev").contains(" down ") && env_row(s, "staging").contains(" down "),
        Duration::from_secs(30),
    );

    // Another process starts staging and holds its deploy lock a while:
    // the console's start says whose start it waits for, then goes on.
    let mut other = std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(["-p", &name, "env", "start", "staging"])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .env("SDTUI_FAULT_PAUSE_HOLDING_DEPLOY_LOCK", "6")
        .envs(compose.sdtui_env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.join("environments/staging/.sdtui/deploy/local.lock");
    let since = std::time::Instant::now();
    while std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .is_empty()
    {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "the other start never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // s on staging: its steps on the footer, then up and healthy.
    tmux.keys(&["j"]);
    tmux.keys(&["s"]);
    tmux.wait_for(
        &format!(
            "env staging: VM local: waiting for up by pid {}",
            other.id()
        ),
        Duration::from_secs(10),
    );
    assert!(other.wait().unwrap().success(), "the other start failed");
    let (screen, _) = tmux.poll(
        "staging up",
        |s| env_row(s, "staging").contains(" up ") && env_row(s, "staging").contains("healthy"),
        Duration::from_secs(240),
    );
    assert!(env_row(&screen, "dev").contains(" down "), "{screen}");
    tmux.wait_for(
        "env staging: started, 1 addon up and healthy",
        Duration::from_secs(30),
    );
    // Its container runs under its own compose project; dev has none.
    assert_eq!(listed(&["ps"], &cp("staging")).len(), 1);
    assert!(listed(&["ps", "-a"], &cp("dev")).is_empty());
    let volumes = listed(&["volume", "ls"], &cp("staging"));
    assert!(!volumes.is_empty(), "staging has a volume");

    // Enter: its instances; Esc back.
    tmux.keys(&["Enter"]);
    tmux.wait_until(
        "staging's instances",
        |s| s.contains("env staging · up") && s.contains("postgres-primary"),
        Duration::from_secs(20),
    );
    tmux.keys(&["Escape"]);
    // y: its configuration, the password masked.
    tmux.keys(&["y"]);
    let config = tmux.wait_until(
        "staging's configuration",
        |s| s.contains(&format!("compose project {}", cp("staging"))),
        Duration::from_secs(10),
    );
    assert!(config.contains("PASSWORD: ••••••••"), "{config}");
    assert!(config.contains("LOG_LEVEL=info"), "{config}");
    tmux.keys(&["Escape"]);

    // X: what stops, then y.
    tmux.keys(&["X"]);
    tmux.wait_for("are stopped and removed", Duration::from_secs(20));
    let review = tmux.screen();
    assert!(review.contains("databases.primary ("), "{review}");
    assert!(review.contains("volumes (the data) are kept"), "{review}");
    tmux.keys(&["y"]);
    tmux.wait_until(
        "staging down",
        |s| env_row(s, "staging").contains(" down "),
        Duration::from_secs(120),
    );
    tmux.wait_for("its volumes (the data) are kept", Duration::from_secs(30));
    assert!(listed(&["ps", "-a"], &cp("staging")).is_empty());
    assert_eq!(
        listed(&["volume", "ls"], &cp("staging")),
        volumes,
        "volume kept"
    );
    tmux.keys(&["q"]);
}
