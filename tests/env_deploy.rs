//! An environment's own files on the real local engine
//! (tests/fixtures/envdeploy): `env start dev` runs the init file (psql in
//! the postgres image creating a table through DATABASE_URL) and then the
//! deployment (the test app, healthy only once it reached its database);
//! an init failure (exit 3) aborts with the table and the retry command and
//! the deployment untouched, and the retry after the fix works; dry-run
//! masks; the compose export runs with plain Compose and reaches healthy;
//! a Pod deployment runs through its compose twin. Once under Compose v1,
//! once under v2, each on its own address and project names.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::compose::Compose;
use common::docker::{Cleanup, container, docker, psql, require_images};
use common::{fails, ok};

#[test]
fn init_deploy_export_v1() {
    init_deploy_export(Compose::V1, "127.0.74.1");
}

#[test]
fn init_deploy_export_v2() {
    init_deploy_export(Compose::V2, "127.0.74.2");
}

fn set_config(dir: &Path, from: &str, to: &str) {
    let path = dir.join("config.yml");
    let cfg = std::fs::read_to_string(&path).unwrap();
    assert!(cfg.contains(from), "{from} not in config.yml");
    std::fs::write(&path, cfg.replace(from, to)).unwrap();
}

/// Waits until the container is healthy; fails the test after 90 s.
fn wait_healthy(id: &str) {
    let started = Instant::now();
    loop {
        let (_, out) = docker(&["inspect", "-f", "{{.State.Health.Status}}", id]);
        if out.trim() == "healthy" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{id} not healthy: {out}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn init_deploy_export(compose: Compose, ip: &str) {
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let vars = compose.sdtui_env();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let sdtui = |args: &[&str]| -> Output { common::sdtui_env(r, args, &vars) };
    let name = format!("ed{}{}", std::process::id(), compose.tag());
    let cp = |suffix: &str| format!("{name}-{suffix}");
    let exported = cp("exported");
    let _cleanup = [
        "dev-local",
        "dev-local-init-1",
        "dev-local-deployment",
        "podenv-local",
        "podenv-local-deployment",
        "exported",
    ]
    .map(|s| Cleanup(cp(s)));
    let dir = r.join(&name);
    common::copy_dir(&common::fixture("envdeploy"), &dir);
    set_config(&dir, "private_ip: 127.0.74.1", &format!("private_ip: {ip}"));
    set_config(&dir, "INIT_EXIT: \"0\"", "INIT_EXIT: \"3\"");
    let user_file = std::fs::read_to_string(dir.join("deploy/app-compose.yml")).unwrap();

    // dry-run: every variable and where it lands, the secret masked.
    let table = ok(&sdtui(&["-p", &name, "env", "dry-run", "dev"]));
    assert!(
        table.contains("DATABASE_URL       ••••••  deploy/init-compose.yml:10:20"),
        "{table}"
    );
    assert!(table.contains("deploy/app-compose.yml:6:21"), "{table}");
    assert!(table.contains("INIT_EXIT          3"), "{table}");
    assert!(!table.contains("postgresql://"), "{table}");
    let revealed = ok(&sdtui(&["-p", &name, "env", "dry-run", "dev", "--reveal"]));
    assert!(
        revealed.contains("postgresql://") && revealed.contains("@postgres-primary:5432/"),
        "{revealed}"
    );

    // An init container exiting 3 stops the phase: the table, the retry
    // command, and no deployment.
    let err = fails(&sdtui(&[
        "-p",
        &name,
        "env",
        "start",
        "dev",
        "--timeout",
        "120",
    ]));
    assert!(
        err.contains("init container migrate (deploy/init-compose.yml) exited with code 3"),
        "{err}"
    );
    assert!(err.contains("sdtui env init dev"), "{err}");
    let row = err
        .lines()
        .find(|l| l.starts_with("deploy/init-compose.yml"))
        .unwrap_or_else(|| panic!("no table row: {err}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[1..3], ["migrate", "3"], "{row}");
    assert!(err.contains("migrated"), "its last log lines: {err}");
    let (_, all) = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!(
            "label=com.docker.compose.project={}",
            cp("dev-local-deployment")
        ),
    ]);
    assert!(all.trim().is_empty(), "deployment must not have run: {all}");

    // Fixed, retried: init, then the deployment reaches its database.
    set_config(&dir, "INIT_EXIT: \"3\"", "INIT_EXIT: \"0\"");
    let init = ok(&sdtui(&["-p", &name, "env", "init", "dev"]));
    let row = init
        .lines()
        .find(|l| l.starts_with("deploy/init-compose.yml"))
        .unwrap_or_else(|| panic!("no table row: {init}"));
    assert_eq!(
        &row.split_whitespace().collect::<Vec<_>>()[1..3],
        ["migrate", "0"]
    );
    let start = Instant::now();
    let out = ok(&sdtui(&[
        "-p",
        &name,
        "env",
        "start",
        "dev",
        "--timeout",
        "120",
    ]));
    eprintln!(
        "env start dev (addons running, init + deploy): {:?}",
        start.elapsed()
    );
    assert!(out.contains("web      running  healthy"), "{out}");
    let web = container(&cp("dev-local-deployment"), "web");
    assert!(!web.is_empty());
    let (_, logs) = docker(&["logs", &web]);
    assert!(
        logs.contains("\"ok\": true"),
        "the app reached its database: {logs}"
    );
    let pg = container(&cp("dev-local"), "postgres-primary");
    let db = format!("{}_dev_primary", name.replace('-', "_"));
    assert_eq!(
        psql(
            &pg,
            &format!("{db}_user"),
            &db,
            "select string_agg(env, ',') from migrated"
        ),
        "dev,dev,dev",
        "the failed run, the retry and the start each migrated once"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("deploy/app-compose.yml")).unwrap(),
        user_file,
        "the user's file is never written"
    );
    let copy = dir.join("environments/dev/files/deployment.yml");
    let copy_text = std::fs::read_to_string(&copy).unwrap();
    assert!(copy_text.contains("postgresql://"), "{copy_text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Export: the same environment from one file, with plain Compose.
    let out_dir = r.join("export");
    let said = ok(&sdtui(&[
        "-p",
        &name,
        "env",
        "export",
        "dev",
        "--format",
        "compose",
        "-o",
        out_dir.to_str().unwrap(),
    ]));
    assert!(said.contains("mode 0600"), "{said}");
    ok(&sdtui(&["-p", &name, "env", "stop", "dev"]));
    assert!(container(&cp("dev-local-deployment"), "web").is_empty());
    assert!(container(&cp("dev-local"), "postgres-primary").is_empty());
    let up = compose
        .command()
        .current_dir(&out_dir)
        .args(["-p", &exported, "-f", "docker-compose.yml", "up", "-d"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let web = container(&exported, "web");
    assert!(!web.is_empty(), "exported web runs");
    wait_healthy(&web);
    let (_, all) = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={exported}"),
        "--filter",
        "label=com.docker.compose.service=migrate",
        "--format",
        "{{.Status}}",
    ]);
    assert!(all.contains("Exited (0)"), "the init ran once: {all}");
    let down = compose
        .command()
        .current_dir(&out_dir)
        .args(["-p", &exported, "-f", "docker-compose.yml", "down", "-v"])
        .output()
        .unwrap();
    assert!(down.status.success());

    // A Pod deployment runs through its compose twin.
    let out = ok(&sdtui(&[
        "-p",
        &name,
        "env",
        "start",
        "podenv",
        "--timeout",
        "120",
    ]));
    assert!(out.contains("deploy/app-pod.yml"), "{out}");
    let web = container(&cp("podenv-local-deployment"), "web");
    assert!(!web.is_empty(), "{out}");
    let (_, logs) = docker(&["logs", &web]);
    let started = Instant::now();
    let mut logs = logs;
    while !logs.contains("check.py exited") && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
        logs = docker(&["logs", &web]).1;
    }
    assert!(
        logs.contains("\"ok\": true"),
        "the pod's app reached its database: {logs}"
    );
    let pod = r.join("pod");
    ok(&sdtui(&[
        "-p",
        &name,
        "env",
        "export",
        "podenv",
        "--format",
        "pod",
        "-o",
        pod.to_str().unwrap(),
    ]));
    let pod_text = std::fs::read_to_string(pod.join("pod.yml")).unwrap();
    assert!(
        pod_text.contains("kind: Pod") && pod_text.contains("postgresql://"),
        "{pod_text}"
    );
    ok(&sdtui(&["-p", &name, "env", "stop", "podenv"]));
}
