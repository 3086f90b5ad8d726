//! An environment whose `vm` is a remote VM (an sshd "VM", tests/sshd, that
//! drives the local engine): `env start` uploads its files into its own
//! folder there and runs compose over SSH under its own compose project,
//! `env status` reads live state through the SSH session, and `env stop`
//! removes its containers and keeps its volume; the project's own instance
//! (on the local VM) is never touched.

mod common;

use std::path::Path;

use common::compose::{Compose, v2_binary};
use common::docker::{Cleanup, container, docker, psql, require_images, results};
use common::sshd::{TestVm, sdtui_ssh_cmd};
use common::{fails, ok};

#[test]
fn environment_on_a_remote_vm_over_ssh() {
    require_images(&["postgres:15"]);
    let vm = TestVm::start("127.0.73.6", 2273);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let sdtui = |args: &[&str]| {
        sdtui_ssh_cmd(r, &known_hosts, args)
            .env("SDTUI_COMPOSE", "docker-compose")
            .output()
            .unwrap()
    };
    let name = format!("er{}", std::process::id());
    let remote_project = format!("{name}-remote-core");
    let _cleanup = (
        Cleanup(remote_project.clone()),
        Cleanup(format!("{name}-local")),
    );
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: 127.0.73.5\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\n      vm: local\nenvironments:\n  remote:\n    vm: core\n",
            vm.addr,
            vm.port,
            vm.client_key().display()
        ),
    )
    .unwrap();

    let out = ok(&sdtui(&[
        "-p",
        &name,
        "--accept-new-host",
        "env",
        "start",
        "remote",
        "--timeout",
        "120",
    ]));
    assert_eq!(
        results(&out),
        [("postgres-primary".to_string(), "created".to_string())],
        "{out}"
    );
    // Its VM is core, reached over SSH; its files went to its own folder there.
    assert!(out.contains("VM core: compose v1."), "{out}");
    let remote_dir = Path::new(&std::env::var("HOME").unwrap())
        .join(".sdtui")
        .join(format!("{name}-remote"))
        .join("core/current");
    let compose = std::fs::read_to_string(remote_dir.join("docker-compose.yml")).unwrap();
    assert!(
        compose.contains(&format!("{}:5432:5432", vm.addr)),
        "published on core: {compose}"
    );
    let pg = container(&remote_project, "postgres-primary");
    assert!(!pg.is_empty());
    assert!(
        container(&format!("{name}-local"), "postgres-primary").is_empty(),
        "the project's own instance is not started"
    );

    let status: Vec<serde_json::Value> = serde_json::from_str(&ok(&sdtui(&[
        "-p", &name, "env", "status", "remote", "--json",
    ])))
    .unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0]["vm"], "core");
    assert_eq!(status[0]["state"], "running");
    assert_eq!(status[0]["health"], "healthy");

    ok(&sdtui(&["-p", &name, "env", "stop", "remote"]));
    assert!(container(&remote_project, "postgres-primary").is_empty());
    let (_, vols) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={remote_project}"),
    ]);
    assert!(!vols.trim().is_empty(), "its volume stays");
    let _ = std::fs::remove_dir_all(remote_dir.parent().unwrap().parent().unwrap());
}

/// An environment's init phase and deployment on an SSH VM, once under
/// Compose v1 (what the VM has) and once under v2 (named in config.yml's
/// `vms.core.compose`, as sshd passes no DOCKER_CONFIG), each on its own
/// address: the substituted copies are uploaded 0600 into the
/// environment's folder on the VM; a failing init container stops the
/// phase with the table and nothing else changes; the retry works; the
/// deployment's container reaches the addon through DATABASE_URL; `env
/// logs` shows its lines, `env restart` restarts it, `env start` again
/// changes nothing of it, `env stop` stops it and keeps the volume; no file
/// on the VM holds a secret unless it is 0600.
#[test]
fn init_and_deployment_on_a_remote_vm_v1() {
    init_and_deployment_on_a_remote_vm(Compose::V1, "127.0.76.1", 2276);
}

#[test]
fn init_and_deployment_on_a_remote_vm_v2() {
    init_and_deployment_on_a_remote_vm(Compose::V2, "127.0.76.2", 2277);
}

const INIT_SCHEMA: &str = r#"# The first init file: a table made through DATABASE_URL.
services:
  schema:
    image: postgres:15
    entrypoint: ["sh", "-c"]
    command:
      - psql "$$URL" -v ON_ERROR_STOP=1 -c "create table if not exists boots (at timestamptz)" && echo "schema ready for ${SDTUI_ENVIRONMENT}"
    environment:
      URL: ${DATABASE_URL}
"#;

const INIT_CHECK: &str = r#"# The second init file: exits with the code INIT_EXIT says.
services:
  check:
    image: postgres:15
    entrypoint: ["sh", "-c"]
    command:
      - echo "check wants $$WANTED"; exit "$$WANTED"
    environment:
      WANTED: ${INIT_EXIT}
"#;

const APP: &str = r#"# The deployment: records each boot through DATABASE_URL, healthy once it has.
services:
  app:
    image: postgres:15
    entrypoint: ["sh", "-c"]
    command:
      - trap 'exit 0' TERM; psql "$$APP_DB" -v ON_ERROR_STOP=1 -Atc "insert into boots values (now())" && echo "app reached its database through DATABASE_URL" && touch /tmp/ok; while :; do sleep 1; done
    environment:
      APP_DB: ${DATABASE_URL}
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 1s
      timeout: 3s
      retries: 60
"#;

/// Every file under `dir` with its mode and content.
fn files_of(dir: &Path) -> Vec<(std::path::PathBuf, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                out.push((p.clone(), mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn init_and_deployment_on_a_remote_vm(compose: Compose, addr: &str, port: u16) {
    require_images(&["postgres:15"]);
    let vm = TestVm::start(addr, port);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let sdtui = |args: &[&str]| {
        sdtui_ssh_cmd(r, &known_hosts, args)
            .env("SDTUI_COMPOSE", "docker-compose")
            .env_remove("DOCKER_CONFIG")
            .output()
            .unwrap()
    };
    let name = format!("eq{}{}", std::process::id(), compose.tag());
    let cp = |suffix: &str| format!("{name}-remote-core{suffix}");
    let _cleanup = ["", "-init-1", "-init-2", "-deployment"].map(|s| Cleanup(cp(s)));
    let home = std::path::PathBuf::from(std::env::var("HOME").unwrap());
    let vm_dir = home.join(".sdtui").join(format!("{name}-remote"));
    struct RemoveDir(std::path::PathBuf);
    impl Drop for RemoveDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _remove = RemoveDir(vm_dir.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(dir.join("deploy")).unwrap();
    for (f, text) in [
        ("init-schema.yml", INIT_SCHEMA),
        ("init-check.yml", INIT_CHECK),
        ("app.yml", APP),
    ] {
        std::fs::write(dir.join("deploy").join(f), text).unwrap();
    }
    // v1: whatever the VM has; v2: the binary named, as a user would.
    let remote_compose = match compose {
        Compose::V1 => String::new(),
        Compose::V2 => format!("    compose: {}\n", v2_binary().display()),
    };
    let config = format!(
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.76.9\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n{remote_compose}addons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\n      vm: local\nenvironments:\n  remote:\n    vm: core\n    variables:\n      INIT_EXIT: \"3\"\n    init:\n      - deploy/init-schema.yml\n      - deploy/init-check.yml\n    deployment: deploy/app.yml\n    init_timeout: 60s\n",
        vm.addr,
        vm.port,
        vm.client_key().display()
    );
    std::fs::write(dir.join("config.yml"), &config).unwrap();
    let start = |extra: &[&str]| {
        let mut args = vec!["-p", &name, "--accept-new-host", "env", "start", "remote"];
        args.extend(["--timeout", "120"]);
        args.extend(extra);
        sdtui(&args)
    };

    // The first init file passes, the second exits 3: the table, the retry
    // command, and no deployment.
    let out = start(&[]);
    let err = fails(&out);
    assert!(
        err.contains(&format!("VM core: {}", compose.reported())),
        "{err}"
    );
    assert!(
        err.contains("init container check (deploy/init-check.yml) exited with code 3"),
        "{err}"
    );
    assert!(err.contains("sdtui env init remote"), "{err}");
    let row = |text: &str, file: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(file))
            .unwrap_or_else(|| panic!("no row for {file}: {text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row(&err, "deploy/init-schema.yml")[1..3], ["schema", "0"]);
    assert_eq!(row(&err, "deploy/init-check.yml")[1..3], ["check", "3"]);
    assert!(err.contains("check wants 3"), "its last log lines: {err}");
    let (_, all) = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={}", cp("-deployment")),
    ]);
    assert!(all.trim().is_empty(), "deployment must not have run: {all}");
    // The copies ran from the environment's folder on the VM.
    let files = vm_dir.join("core/files");
    assert!(files.join("init-1.yml").is_file() && files.join("init-2.yml").is_file());
    assert!(!files.join("deployment.yml").exists());

    // Fixed, retried: both pass; then start runs the deployment.
    std::fs::write(
        dir.join("config.yml"),
        config.replace("INIT_EXIT: \"3\"", "INIT_EXIT: \"0\""),
    )
    .unwrap();
    let init = ok(&sdtui(&["-p", &name, "env", "init", "remote"]));
    assert_eq!(row(&init, "deploy/init-schema.yml")[1..3], ["schema", "0"]);
    assert_eq!(row(&init, "deploy/init-check.yml")[1..3], ["check", "0"]);
    let out = start(&[]);
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.lines().any(|l| l
            .split_whitespace()
            .take(3)
            .eq(["app", "running", "healthy"])),
        "{stdout}"
    );
    assert!(
        stderr.contains("as compose project") && stderr.contains("on VM core"),
        "{stderr}"
    );
    let app = container(&cp("-deployment"), "app");
    assert!(!app.is_empty());
    // The VM's Compose ran the user's file too: v1 names it p_s_1, v2 p-s-1.
    let (_, app_name) = docker(&["inspect", "-f", "{{.Name}}", &app]);
    let want = match compose {
        Compose::V1 => format!("/{}_app_1", cp("-deployment")),
        Compose::V2 => format!("/{}-app-1", cp("-deployment")),
    };
    assert_eq!(app_name.trim(), want);
    let pg = container(&cp(""), "postgres-primary");
    let db = format!("{}_remote_primary", name.replace('-', "_"));
    let user = format!("{db}_user");
    assert_eq!(
        psql(&pg, &user, &db, "select count(*) from boots"),
        "1",
        "the app reached its database through DATABASE_URL"
    );

    // Its logs through the VM's Docker API, plain and followed.
    let logs = ok(&sdtui(&["-p", &name, "env", "logs", "remote", "app"]));
    assert!(
        logs.contains("app reached its database through DATABASE_URL"),
        "{logs}"
    );
    let mut follow = sdtui_ssh_cmd(
        r,
        &known_hosts,
        &["-p", &name, "env", "logs", "remote", "app", "-f"],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let mut reader = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut seen = String::new();
    for _ in 0..10 {
        if std::io::BufRead::read_line(&mut reader, &mut seen).unwrap() == 0
            || seen.contains("app reached its database")
        {
            break;
        }
    }
    assert!(seen.contains("app reached its database"), "{seen}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        follow.try_wait().unwrap().is_none(),
        "`env logs -f` keeps following"
    );
    let _ = follow.kill();
    let _ = follow.wait();

    // Status: the addon and the deployment's container, over SSH.
    let status = ok(&sdtui(&["-p", &name, "env", "status", "remote"]));
    let app_row = status
        .lines()
        .find(|l| l.contains("deployment"))
        .unwrap_or_else(|| panic!("no deployment row: {status}"));
    assert!(
        app_row.contains("core") && app_row.contains("app") && app_row.contains("healthy"),
        "{status}"
    );

    // No secret on the VM outside a 0600 file.
    let secrets_yml = std::fs::read_to_string(dir.join("environments/remote/secrets.yml")).unwrap();
    let passwords: Vec<String> = secrets_yml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("PASSWORD: "))
        .map(|v| v.trim_matches(['\'', '"']).to_string())
        .collect();
    assert!(!passwords.is_empty(), "{secrets_yml}");
    let on_vm = files_of(&vm_dir);
    let mut holding = 0;
    for (path, mode, bytes) in &on_vm {
        let text = String::from_utf8_lossy(bytes);
        if passwords.iter().any(|p| text.contains(p.as_str())) {
            holding += 1;
            assert_eq!(*mode, 0o600, "{} holds a secret", path.display());
        }
    }
    assert!(holding >= 1, "the deployment's copy holds DATABASE_URL");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&files).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(files.join("deployment.yml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );

    // `env restart app`: the same container, started again (a new boot).
    let started_at = |id: &str| docker(&["inspect", "-f", "{{.State.StartedAt}}", id]).1;
    let before = started_at(&app);
    ok(&sdtui(&["-p", &name, "env", "restart", "remote", "app"]));
    assert_eq!(container(&cp("-deployment"), "app"), app);
    assert_ne!(started_at(&app), before, "restarted");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while psql(&pg, &user, &db, "select count(*) from boots") != "2" {
        assert!(
            std::time::Instant::now() < deadline,
            "the restarted app did not boot again"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    // `env start` again: the deployment's container and the files on the
    // VM are left as they are.
    let before = started_at(&app);
    let mtimes = |files: &[(std::path::PathBuf, u32, Vec<u8>)]| -> Vec<_> {
        files
            .iter()
            .filter(|(p, _, _)| p.starts_with(vm_dir.join("core/files")))
            .map(|(p, _, _)| (p.clone(), std::fs::metadata(p).unwrap().modified().unwrap()))
            .collect()
    };
    let was = mtimes(&files_of(&vm_dir));
    ok(&start(&[]));
    assert_eq!(container(&cp("-deployment"), "app"), app);
    assert_eq!(started_at(&app), before, "not recreated, not restarted");
    assert_eq!(
        mtimes(&files_of(&vm_dir)),
        was,
        "no file on the VM rewritten"
    );

    // `env stop`: the deployment's and the addon's containers go, the
    // volume stays.
    ok(&sdtui(&["-p", &name, "env", "stop", "remote"]));
    assert!(container(&cp("-deployment"), "app").is_empty());
    assert!(container(&cp(""), "postgres-primary").is_empty());
    let (_, vols) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={}", cp("")),
    ]);
    assert!(!vols.trim().is_empty(), "its volume stays");
}
