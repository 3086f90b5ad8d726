//! The Environments pane in a real terminal (tmux) against the real local
//! engine, under Compose v1 and v2: two environments down; `s` on one
//! while another process holds its deploy lock says whose start it waits
//! for, then starts it in the background (steps on the footer) until the pane shows
//! it up and healthy, its postgres running under its own compose project
//! and the other environment untouched; Enter shows its instances, `y` its
//! configuration masked; `X` shows what stops, `y` stops it, the pane
//! shows it down, and its volume (the data) is kept. Then an environment
//! with its own files (tests/fixtures/envdeploy): `D` its dry-run masked,
//! `r` revealing the selected line; `x` `c` its compose export written
//! where the CLI writes it; `s`, then `i` its init table (a real init file
//! exiting 0); `R` what restarts, `y`; `l` its containers' logs, and Enter
//! on an instance that one's.

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

#[test]
fn init_dry_run_export_restart_and_logs_from_the_console() {
    let compose = Compose::V1;
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tv{}{}", std::process::id(), compose.tag());
    let cp = |suffix: &str| format!("{name}-{suffix}");
    let _cleanup =
        ["dev-local", "dev-local-init-1", "dev-local-deployment"].map(|s| Cleanup(cp(s)));
    let dir = r.join(&name);
    common::copy_dir(&common::fixture("envdeploy"), &dir);
    let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    assert!(config.contains("private_ip: 127.0.74.1"));
    std::fs::write(
        dir.join("config.yml"),
        config.replace("private_ip: 127.0.74.1", "private_ip: 127.0.75.3"),
    )
    .unwrap();
    let extra: String = compose
        .sdtui_env()
        .iter()
        .map(|(k, v)| format!("{k}='{v}'"))
        .collect::<Vec<_>>()
        .join(" ");
    // In the root: export writes into ./export-ENV, as the CLI does.
    let cmd = format!("cd {} && {}", r.display(), console_cmd(r, &name, &extra));
    let tmux = Tmux::start_sized(&name, &cmd, 130, 36);
    tmux.wait_for("databases.primary", Duration::from_secs(10));
    tmux.keys(&["4"]);
    tmux.wait_until(
        "dev down",
        |s| env_row(s, "dev").contains(" down "),
        Duration::from_secs(30),
    );

    // D: the dry-run, its secret masked; r on its line reveals it, r again
    // masks it.
    tmux.keys(&["D"]);
    let table = tmux.wait_until(
        "dev's dry-run",
        |s| s.contains("env dry-run dev") && s.contains("DATABASE_URL"),
        Duration::from_secs(10),
    );
    assert!(
        table.contains("DATABASE_URL       ••••••  deploy/init-compose.yml:10:20"),
        "{table}"
    );
    assert!(table.contains("deploy/app-compose.yml:6:21"), "{table}");
    assert!(table.contains("INIT_EXIT          0"), "{table}");
    assert!(!table.contains("postgresql://"), "{table}");
    tmux.keys(&["j"]);
    tmux.keys(&["r"]);
    tmux.wait_for("postgresql://", Duration::from_secs(5));
    tmux.keys(&["r"]);
    tmux.wait_gone("postgresql://", Duration::from_secs(5));
    tmux.keys(&["Escape"]);

    // x, c: the compose export, where `sdtui env export` writes it.
    tmux.keys(&["x"]);
    tmux.wait_for("export dev as:", Duration::from_secs(5));
    tmux.keys(&["c"]);
    tmux.wait_for("env export dev --format compose", Duration::from_secs(20));
    let out = r.join("export-dev");
    tmux.wait_for("docker-compose.yml (600)", Duration::from_secs(10));
    let compose_file = std::fs::read_to_string(out.join("docker-compose.yml")).unwrap();
    assert!(
        compose_file.contains("migrate:") && compose_file.contains("web:"),
        "{compose_file}"
    );
    let screen = tmux.screen();
    assert!(
        screen.contains(&format!("wrote {}", out.display())),
        "{screen}"
    );
    tmux.keys(&["Escape"]);

    // s: addons, init and deployment; then i: the init phase again, its
    // table shown.
    tmux.keys(&["s"]);
    tmux.wait_for("env dev: started", Duration::from_secs(240));
    tmux.keys(&["i"]);
    let table = tmux.wait_until(
        "dev's init table",
        |s| s.contains("env init dev · Esc closes") && s.contains("LAST LOG LINES"),
        Duration::from_secs(120),
    );
    let row = table
        .lines()
        .find(|l| l.contains("deploy/init-compose.yml  migrate"))
        .unwrap_or_else(|| panic!("no init row:\n{table}"));
    let cols: Vec<&str> = row.trim_start_matches('│').split_whitespace().collect();
    assert_eq!(&cols[1..3], ["migrate", "0"], "{row}");
    assert!(cols[3].ends_with('s'), "its time: {row}");
    assert!(table.contains("migrated"), "its last log lines:\n{table}");
    tmux.wait_for(
        "env dev: init: 1 container exited 0",
        Duration::from_secs(10),
    );
    tmux.keys(&["Escape"]);

    // R: what restarts (the deployment's web), y: restarted.
    let web_started = || {
        let (ok, out) = docker(&[
            "inspect",
            "-f",
            "{{.State.StartedAt}}",
            &common::docker::container(&cp("dev-local-deployment"), "web"),
        ]);
        assert!(ok, "{out}");
        out.trim().to_string()
    };
    let before = web_started();
    tmux.keys(&["R"]);
    tmux.wait_for("are restarted in place", Duration::from_secs(20));
    let review = tmux.screen();
    assert!(
        review.contains("web (deploy/app-compose.yml) on VM local"),
        "{review}"
    );
    tmux.keys(&["y"]);
    tmux.wait_for(
        "env dev: restarted every service of the deployment",
        Duration::from_secs(120),
    );
    assert_ne!(web_started(), before, "web was restarted");

    // l: the Logs pane on its containers, each line after its service.
    tmux.keys(&["l"]);
    tmux.wait_until(
        "dev's logs",
        |s| s.contains("Logs · env-dev ") && s.contains("postgres-primary | "),
        Duration::from_secs(20),
    );
    // Esc: back; Enter, Enter: the selected instance's logs alone.
    tmux.keys(&["Escape"]);
    tmux.wait_until(
        "the Environments pane",
        |s| env_row(s, "dev").contains(" up "),
        Duration::from_secs(30),
    );
    tmux.keys(&["Enter"]);
    tmux.wait_for("env dev · up", Duration::from_secs(20));
    tmux.keys(&["Enter"]);
    let logs = tmux.wait_until(
        "postgres-primary's logs",
        |s| s.contains("Logs · env-dev-postgres-primary") && s.contains("database system"),
        Duration::from_secs(20),
    );
    assert!(
        !logs.contains("postgres-primary | "),
        "one container: no prefix\n{logs}"
    );
    tmux.keys(&["q"]);
}
