//! A project deployed as a Docker Swarm stack, for real: a single-node
//! swarm on this machine's engine (initialised on loopback inside the
//! address pool 172.31.96.0/20, left with `docker swarm leave --force` even
//! when the test fails), a postgres + redis + app project: `up` until every
//! task runs healthy, the app's own checks of its attachments, a write and
//! a read through psql, `status` listing the tasks, `logs`, the refusals (a node
//! not in the swarm, `--vm`), `down`; then the same stack again with its
//! manager reached over SSH (a test sshd on 127.0.96.1:2601 driving this
//! engine), the first deploy's data found in the kept volume.
//! Prints the figure: stack deploy until healthy vs `up` of the same project
//! with compose. A second project checks what `up` does after compose and
//! `db backup` / `db restore` inside the stack (the readonly role, a
//! change taken away by a restore).
//!
//! Run under `flock /tmp/sdtui-docker-tests.lock`: the swarm changes the
//! engine for every other test.

mod common;

use std::path::Path;
use std::time::Instant;

use common::docker::{Cleanup, docker, require_images};
use common::sshd::{RemoteDir, TestVm, sdtui_ssh};
use common::{fails, ok, sdtui};

const PROJECT: &str = "swarm96";
/// Overlay networks (ingress, the project's) come from here; the bridge
/// that joins the tasks to the host is made by the test at GWBRIDGE, in the
/// same /20, as the swarm would otherwise pick any free private range.
const POOL: &str = "172.31.96.0/21";
const GWBRIDGE: &str = "172.31.111.0/24";

/// Leaves the swarm and removes what the stack left, whatever happens.
struct SwarmGuard(&'static str);

impl SwarmGuard {
    fn init(project: &'static str) -> SwarmGuard {
        let (_, state) = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        assert_eq!(
            state.trim(),
            "inactive",
            "the engine is already in a swarm; this test makes its own and leaves it"
        );
        let (had_bridge, _) = docker(&["network", "inspect", "docker_gwbridge"]);
        assert!(
            !had_bridge,
            "docker_gwbridge exists; the test makes its own"
        );
        let guard = SwarmGuard(project);
        let (made, out) = docker(&[
            "network",
            "create",
            "--subnet",
            GWBRIDGE,
            "--opt",
            "com.docker.network.bridge.name=docker_gwbridge",
            "--opt",
            "com.docker.network.bridge.enable_icc=false",
            "--opt",
            "com.docker.network.bridge.enable_ip_masquerade=true",
            "docker_gwbridge",
        ]);
        assert!(made, "docker_gwbridge: {out}");
        let (ok, out) = docker(&[
            "swarm",
            "init",
            "--advertise-addr",
            "127.0.0.1",
            "--listen-addr",
            "127.0.0.1:2377",
            "--default-addr-pool",
            POOL,
            "--default-addr-pool-mask-length",
            "24",
        ]);
        assert!(ok, "swarm init: {out}");
        guard
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        let project = self.0;
        let _ = docker(&["stack", "rm", project]);
        // The tasks' containers go after `stack rm` returns.
        for _ in 0..60 {
            let (_, left) = docker(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label=com.docker.stack.namespace={project}"),
            ]);
            if left.trim().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        let _ = docker(&["swarm", "leave", "--force"]);
        let _ = docker(&["network", "rm", "docker_gwbridge"]);
        let (_, vols) = docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("label=com.docker.stack.namespace={project}"),
        ]);
        for v in vols.split_whitespace() {
            let _ = docker(&["volume", "rm", "-f", v]);
        }
    }
}

fn project_yml(swarm: bool) -> String {
    format!(
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.96.1\n{}addons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n  caches:\n    session:\n      type: redis\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n      - caches.session\n    env:\n      CHECK_PREFIXES: DATABASE,CACHE\n",
        if swarm {
            "cluster:\n  kind: swarm\n  manager: local\n"
        } else {
            ""
        }
    )
}

fn write_project(root: &Path, swarm: bool) {
    std::fs::create_dir_all(root.join(PROJECT)).unwrap();
    std::fs::write(root.join(PROJECT).join("config.yml"), project_yml(swarm)).unwrap();
}

/// The running container of a stack service.
fn task_container(service: &str) -> String {
    task_container_of(PROJECT, service)
}

fn task_container_of(project: &str, service: &str) -> String {
    let (_, out) = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.swarm.service.name={project}_{service}"),
    ]);
    out.lines().next().unwrap_or_default().trim().to_string()
}

#[test]
fn a_project_runs_as_a_swarm_stack() {
    require_images(&["postgres:15", "redis:7", "sdtui-testapp:latest"]);

    // Before the engine is in a swarm: a node that is not a member is
    // refused by name, before anything is deployed.
    let refused = tempfile::tempdir().unwrap();
    write_project(refused.path(), true);
    let err = fails(&sdtui(
        refused.path(),
        &["-p", PROJECT, "up", "--timeout", "10"],
    ));
    assert!(err.contains("VM local is not a swarm member"), "{err}");
    assert!(err.contains("docker swarm join"), "{err}");

    // The figure's other half, still before the engine joins a swarm:
    // the same project with compose.
    let compose_root = tempfile::tempdir().unwrap();
    write_project(compose_root.path(), false);
    let compose_up = {
        let _cleanup = Cleanup(format!("{PROJECT}-local"));
        let t = Instant::now();
        ok(&sdtui(compose_root.path(), &["-p", PROJECT, "up"]));
        let elapsed = t.elapsed();
        ok(&sdtui(compose_root.path(), &["-p", PROJECT, "down"]));
        elapsed
    };

    let _swarm = SwarmGuard::init(PROJECT);
    // Every network the swarm made is inside our pool, ingress included.
    let (_, ingress) = docker(&[
        "network",
        "inspect",
        "ingress",
        "-f",
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
    ]);
    assert!(
        ingress.trim().starts_with("172.31.9")
            || ingress.trim().starts_with("172.31.10")
            || ingress.trim().starts_with("172.31.11"),
        "ingress took {ingress} outside {POOL}"
    );
    println!("ingress network: {}", ingress.trim());

    let root = tempfile::tempdir().unwrap();
    write_project(root.path(), true);

    // --vm makes no sense for one stack: refused, nothing deployed.
    let err = fails(&sdtui(root.path(), &["-p", PROJECT, "up", "--vm", "local"]));
    assert!(err.contains("covers the whole stack"), "{err}");

    let t = Instant::now();
    let out = sdtui(root.path(), &["-p", PROJECT, "up", "--timeout", "180"]);
    let stack_up = t.elapsed();
    let stdout = ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("up (swarm):\n{stdout}\n{stderr}");
    for service in ["postgres-main", "redis-session", "web"] {
        assert!(
            stdout.contains(service),
            "{service} missing from:\n{stdout}"
        );
    }
    // The node carries the label the placement constraints name.
    let (_, label) = docker(&[
        "node",
        "inspect",
        "self",
        "-f",
        "{{index .Spec.Labels \"sdtui.vm\"}}",
    ]);
    assert_eq!(label.trim(), "local");

    // The stack's services run on the overlay network, with limits.
    let (_, spec) = docker(&[
        "service",
        "inspect",
        &format!("{PROJECT}_postgres-main"),
        "-f",
        "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}} {{range .Spec.TaskTemplate.Placement.Constraints}}{{.}}{{end}} {{.Spec.UpdateConfig.FailureAction}}",
    ]);
    assert_eq!(
        spec.trim(),
        format!(
            "{} node.labels.sdtui.vm == local rollback",
            256 * 1024 * 1024
        )
    );
    // The password is not in the service's environment: a Docker secret.
    let password = common::revealed_credential(root.path(), PROJECT, "databases.main", "PASSWORD");
    let (_, env) = docker(&[
        "service",
        "inspect",
        &format!("{PROJECT}_postgres-main"),
        "-f",
        "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
    ]);
    assert!(env.contains("POSTGRES_PASSWORD_FILE"), "{env}");
    assert!(
        !env.contains(&password),
        "the password is in the service spec"
    );

    // The app's own checks of both attachments passed (it connects with
    // DATABASE_URL and CACHE_URL over the overlay network).
    let web = task_container("web");
    assert!(!web.is_empty(), "no web task container");
    let mut rc = String::new();
    for _ in 0..60 {
        let (_, out) = docker(&["exec", &web, "cat", "/tmp/check.rc"]);
        rc = out.trim().to_string();
        if rc == "0" || rc == "1" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let (_, checks) = docker(&["exec", &web, "cat", "/tmp/check.jsonl"]);
    assert_eq!(rc, "0", "the app's checks failed:\n{checks}");

    // Redis' password is a Docker secret its command's shell reads from the
    // secret's file (the image has no _FILE form): PONG with the password of
    // secrets.yml, NOAUTH without it, and no password in its service spec.
    let redis_password =
        common::revealed_credential(root.path(), PROJECT, "caches.session", "PASSWORD");
    let redis = task_container("redis-session");
    let (_, pong) = docker(&[
        "exec",
        "-e",
        &format!("REDISCLI_AUTH={redis_password}"),
        &redis,
        "redis-cli",
        "--no-auth-warning",
        "ping",
    ]);
    assert_eq!(pong.trim(), "PONG");
    let (_, noauth) = docker(&["exec", &redis, "redis-cli", "ping"]);
    assert!(noauth.contains("NOAUTH"), "{noauth}");
    let (_, spec) = docker(&[
        "service",
        "inspect",
        &format!("{PROJECT}_redis-session"),
        "-f",
        "{{json .Spec.TaskTemplate.ContainerSpec}}",
    ]);
    assert!(spec.contains("/run/secrets/REDIS_PASSWORD"), "{spec}");
    assert!(
        !spec.contains(&redis_password),
        "redis' password is in its service spec"
    );
    // Neither stack file on disk holds a secret, nor is there an env file
    // for either addon: their passwords are Docker secrets only.
    let stack_dir = root.path().join(PROJECT).join("compose/_stack");
    for file in ["docker-stack.yml", "docker-stack.addons.yml"] {
        let text = std::fs::read_to_string(stack_dir.join(file)).unwrap();
        assert!(text.contains("redis-session"), "{file}");
        for value in common::secret_values(
            &root.path().join(PROJECT).join("secrets.yml"),
            &["PASSWORD"],
        ) {
            assert!(!text.contains(&value), "a password is in {file}");
        }
    }
    assert!(!stack_dir.join("env/redis-session.env").exists());
    let pg_env = std::fs::read_to_string(stack_dir.join("env/postgres-main.env")).unwrap();
    assert!(!pg_env.contains(&password), "the password is in {pg_env}");

    // A write and a read, with the user and password the app was given.
    let pg = task_container("postgres-main");
    let user = "swarm96_main_user";
    let db = "swarm96_main";
    let (okw, out) = docker(&[
        "exec",
        "-e",
        &format!("PGPASSWORD={password}"),
        &pg,
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        user,
        "-d",
        db,
        "-v",
        "ON_ERROR_STOP=1",
        "-Atc",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('through the swarm'); SELECT v FROM t;",
    ]);
    assert!(okw, "{out}");
    assert!(out.contains("through the swarm"), "{out}");

    // status reads the swarm's services and tasks.
    let status = ok(&sdtui(root.path(), &["-p", PROJECT, "status", "--json"]));
    let rows: serde_json::Value = serde_json::from_str(&status).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{status}");
    for r in rows {
        assert_eq!(r["state"], "running", "{r}");
        assert_eq!(r["vm"], "local", "{r}");
    }
    let pg_row = rows
        .iter()
        .find(|r| r["service"] == "postgres-main")
        .unwrap();
    assert_eq!(pg_row["health"], "healthy");

    // logs reads each service's task container on its VM's engine.
    let logs = ok(&sdtui(
        root.path(),
        &["-p", PROJECT, "logs", "web", "--tail", "50"],
    ));
    assert!(logs.contains("check.py exited 0"), "{logs}");
    let all = ok(&sdtui(
        root.path(),
        &["-p", PROJECT, "logs", "--tail", "5", "--no-color"],
    ));
    for service in ["postgres-main", "redis-session", "web"] {
        assert!(all.contains(service), "{service} missing from:\n{all}");
    }

    // A second up with nothing changed leaves the services as they were.
    let again = ok(&sdtui(
        root.path(),
        &["-p", PROJECT, "up", "--timeout", "120"],
    ));
    assert!(again.to_lowercase().contains("unchanged"), "{again}");

    // down: the stack's services go, the data volume stays.
    ok(&sdtui(root.path(), &["-p", PROJECT, "down"]));
    let (_, services) = docker(&[
        "service",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.stack.namespace={PROJECT}"),
    ]);
    assert!(services.trim().is_empty(), "{services}");
    let (_, vols) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("name={PROJECT}_postgres-main-data"),
    ]);
    assert!(!vols.trim().is_empty(), "the data volume went with down");

    // The same stack from a manager reached over SSH (a VM whose sshd
    // drives this engine): the stack uploaded there, deployed by its
    // docker, and the data of the first deploy found again in the volume.
    let vm = TestVm::start("127.0.96.1", 2601);
    let _remote_dir = RemoteDir(
        std::path::PathBuf::from(std::env::var("HOME").unwrap())
            .join(".sdtui")
            .join(PROJECT),
    );
    let config = project_yml(true)
        .replace(
            "  local:\n    host: local\n    private_ip: 127.0.96.1\n",
            &format!(
                "  mgr:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n",
                vm.addr,
                vm.port,
                vm.client_key().display()
            ),
        )
        .replace("manager: local", "manager: mgr");
    std::fs::write(root.path().join(PROJECT).join("config.yml"), config).unwrap();
    let known_hosts = vm.trusted_known_hosts();
    let t = Instant::now();
    let remote_up = ok(&sdtui_ssh(
        root.path(),
        &known_hosts,
        &["-p", PROJECT, "up", "--timeout", "180"],
    ));
    let remote_elapsed = t.elapsed();
    println!("up (swarm, manager over SSH):\n{remote_up}");
    assert!(remote_up.contains("mgr"), "{remote_up}");
    let (_, label) = docker(&[
        "node",
        "inspect",
        "self",
        "-f",
        "{{index .Spec.Labels \"sdtui.vm\"}}",
    ]);
    assert_eq!(label.trim(), "mgr");
    let pg = task_container("postgres-main");
    let (okr, out) = docker(&[
        "exec",
        "-e",
        &format!("PGPASSWORD={password}"),
        &pg,
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        user,
        "-d",
        db,
        "-Atc",
        "SELECT v FROM t;",
    ]);
    assert!(okr && out.contains("through the swarm"), "{out}");
    let status = ok(&sdtui_ssh(
        root.path(),
        &known_hosts,
        &["-p", PROJECT, "status", "--json"],
    ));
    let rows: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["vm"] == "mgr" && r["state"] == "running"),
        "{status}"
    );
    ok(&sdtui_ssh(
        root.path(),
        &known_hosts,
        &["-p", PROJECT, "down"],
    ));
    let (_, services) = docker(&[
        "service",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.stack.namespace={PROJECT}"),
    ]);
    assert!(services.trim().is_empty(), "{services}");
    println!(
        "FIGURE swarm: stack deploy with the manager over SSH (volume kept) {:.1}s",
        remote_elapsed.as_secs_f64()
    );

    println!(
        "FIGURE swarm: stack deploy until healthy {:.1}s vs compose up {:.1}s (postgres + redis + app, one node)",
        stack_up.as_secs_f64(),
        compose_up.as_secs_f64()
    );
}

/// The second project: its own name, its own loopback address.
const PROJECT_B: &str = "swarm100";

fn project_b_yml() -> String {
    "vms:\n  local:\n    host: local\n    private_ip: 127.0.100.1\ncluster:\n  kind: swarm\n  manager: local\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n  caches:\n    session:\n      type: redis\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n    env:\n      CHECK_PREFIXES: DATABASE\n  reports:\n    image: sdtui-testapp\n    addons:\n      - addon: databases.main\n        as: REPORTS\n        access: readonly\n    env:\n      CHECK_PREFIXES: REPORTS\n".to_string()
}

/// The app's own check of its attachments: exit code and what it said.
fn app_check(container: &str) -> (String, String) {
    let mut rc = String::new();
    for _ in 0..90 {
        let (_, out) = docker(&["exec", container, "cat", "/tmp/check.rc"]);
        rc = out.trim().to_string();
        if rc == "0" || rc == "1" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let (_, checks) = docker(&["exec", container, "cat", "/tmp/check.jsonl"]);
    (rc, checks)
}

fn psql_in(container: &str, user: &str, password: &str, db: &str, sql: &str) -> (bool, String) {
    docker(&[
        "exec",
        "-e",
        &format!("PGPASSWORD={password}"),
        container,
        "psql",
        "-X",
        "-h",
        "127.0.0.1",
        "-U",
        user,
        "-d",
        db,
        "-v",
        "ON_ERROR_STOP=1",
        "-Atc",
        sql,
    ])
}

/// What `up` does after compose, and backups, inside a stack: the readonly
/// role provisioned in postgres' task container before the apps start (an
/// app with a readonly attachment reads and has its write refused), then
/// `db backup`, a change, `db restore` (the attached apps' services
/// scaled to zero meanwhile, then back), the change gone and the readonly
/// role provisioned again.
#[test]
fn a_stack_provisions_its_addons_and_backs_them_up() {
    require_images(&["postgres:15", "redis:7", "sdtui-testapp:latest"]);
    let _swarm = SwarmGuard::init(PROJECT_B);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join(PROJECT_B)).unwrap();
    std::fs::write(r.join(PROJECT_B).join("config.yml"), project_b_yml()).unwrap();

    let up = sdtui(r, &["-p", PROJECT_B, "up", "--timeout", "180"]);
    let progress = String::from_utf8_lossy(&up.stderr).to_string() + &ok(&up);
    println!("up (swarm):\n{progress}");
    // The addons' stack first, provisioned, then the whole stack.
    let addons_at = progress.find("(addons)").expect(&progress);
    let provision_at = progress.find("provisioning attachments").expect(&progress);
    assert!(addons_at < provision_at, "{progress}");

    // The apps' own checks: the readwrite one writes, the readonly one
    // reads with the role provisioning made and has its write refused.
    let (rc, checks) = app_check(&task_container_of(PROJECT_B, "web"));
    assert_eq!(rc, "0", "web's checks failed:\n{checks}");
    let (rc, checks) = app_check(&task_container_of(PROJECT_B, "reports"));
    assert_eq!(rc, "0", "reports' checks failed:\n{checks}");
    assert!(checks.contains("write refused as expected"), "{checks}");

    // A backup of postgres in the stack, drilled; a change; the restore
    // takes the change away.
    let secrets = r.join(PROJECT_B).join("secrets.yml");
    let password = common::secret(&secrets, "main", "PASSWORD");
    let ro_password = common::secret(&secrets, "main", "READONLY_PASSWORD");
    let (user, ro_user, db) = (
        "swarm100_main_user",
        "swarm100_main_readonly",
        "swarm100_main",
    );
    let pg = task_container_of(PROJECT_B, "postgres-main");
    let (okw, out) = psql_in(
        &pg,
        user,
        &password,
        db,
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept');",
    );
    assert!(okw, "{out}");
    let out = ok(&sdtui(
        r,
        &["-p", PROJECT_B, "db", "backup", "databases.main"],
    ));
    assert!(out.contains("passed"), "{out}");
    let list = ok(&sdtui(
        r,
        &["-p", PROJECT_B, "db", "backups", "databases.main", "--json"],
    ));
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let id = list[0]["id"].as_str().expect("a backup id").to_string();
    let (okw, out) = psql_in(
        &pg,
        user,
        &password,
        db,
        "INSERT INTO t VALUES ('gone'); CREATE TABLE later (x int);",
    );
    assert!(okw, "{out}");
    let web_before = task_container_of(PROJECT_B, "web");
    let restore = sdtui(
        r,
        &[
            "-p",
            PROJECT_B,
            "db",
            "restore",
            "databases.main",
            &id,
            "--confirm",
            "databases.main",
        ],
    );
    let out = String::from_utf8_lossy(&restore.stderr).to_string() + &ok(&restore);
    println!("restore:\n{out}");
    // The attached apps were stopped meanwhile (their services scaled to
    // zero: a stopped task would be replaced at once), then started again.
    for app in ["web", "reports"] {
        assert!(
            out.contains(&format!("stopping {app}")) && out.contains(&format!("starting {app}")),
            "{out}"
        );
    }
    let web_after = task_container_of(PROJECT_B, "web");
    assert!(
        !web_after.is_empty() && web_after != web_before,
        "{web_after}"
    );
    let (_, rows) = psql_in(&pg, user, &password, db, "SELECT string_agg(v, ',') FROM t");
    assert_eq!(rows.trim(), "kept");
    let (later, _) = psql_in(&pg, user, &password, db, "SELECT 1 FROM later");
    assert!(!later, "a table made after the backup survived the restore");
    // The readonly role's grants, which the restore leaves out, are back.
    let (read, out) = psql_in(&pg, ro_user, &ro_password, db, "SELECT v FROM t");
    assert!(read && out.trim() == "kept", "{out}");
    let (wrote, out) = psql_in(
        &pg,
        ro_user,
        &ro_password,
        db,
        "INSERT INTO t VALUES ('no')",
    );
    assert!(!wrote && out.contains("permission denied"), "{out}");
    // The readonly app, started again, checks its attachment once more.
    let (rc, checks) = app_check(&task_container_of(PROJECT_B, "reports"));
    assert_eq!(rc, "0", "reports' checks after the restore:\n{checks}");
    assert!(checks.contains("write refused as expected"), "{checks}");

    // Redis is restored by replacing its data file: in a stack its service
    // goes to zero, the file into its volume, then back. Its backup's drill
    // runs a throwaway given the task's secret file (the command reads it).
    let auth = format!(
        "REDISCLI_AUTH={}",
        common::secret(&secrets, "session", "PASSWORD")
    );
    let redis_cli = |args: &[&str]| -> String {
        let c = task_container_of(PROJECT_B, "redis-session");
        let mut argv = vec!["exec", "-e", &auth, &c, "redis-cli", "--no-auth-warning"];
        argv.extend(args);
        docker(&argv).1.trim().to_string()
    };
    assert_eq!(redis_cli(&["SET", "k", "kept"]), "OK");
    let out = ok(&sdtui(
        r,
        &["-p", PROJECT_B, "db", "backup", "caches.session"],
    ));
    assert!(out.contains("passed"), "{out}");
    let list = ok(&sdtui(
        r,
        &["-p", PROJECT_B, "db", "backups", "caches.session", "--json"],
    ));
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let id = list[0]["id"].as_str().expect("a backup id").to_string();
    assert_eq!(redis_cli(&["SET", "k", "changed"]), "OK");
    assert_eq!(redis_cli(&["SET", "extra", "1"]), "OK");
    let before = task_container_of(PROJECT_B, "redis-session");
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            PROJECT_B,
            "db",
            "restore",
            "caches.session",
            &id,
            "--confirm",
            "caches.session",
        ],
    ));
    println!("restore (redis):\n{out}");
    assert_ne!(task_container_of(PROJECT_B, "redis-session"), before);
    assert_eq!(redis_cli(&["GET", "k"]), "kept");
    assert_eq!(redis_cli(&["EXISTS", "extra"]), "0");

    ok(&sdtui(r, &["-p", PROJECT_B, "down"]));
}

const PROJECT_C: &str = "swarm98";

/// A new version whose task fails (redis pointed at an image that cannot
/// run its command) is rolled back by the swarm itself (`update_config:
/// failure_action: rollback`): `up` fails naming the rollback, the service
/// runs its previous image again, and the data's server still answers.
#[test]
fn a_failing_update_is_rolled_back_by_the_swarm() {
    require_images(&["redis:7", "memcached:1.6"]);
    let _swarm = SwarmGuard::init(PROJECT_C);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let dir = r.join(PROJECT_C);
    std::fs::create_dir_all(&dir).unwrap();
    let config = |image: &str| {
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: 127.0.96.5\ncluster:\n  kind: swarm\n  manager: local\naddons:\n  caches:\n    session:\n      type: redis\n      plan: small\n{image}"
        )
    };
    std::fs::write(dir.join("config.yml"), config("")).unwrap();
    ok(&sdtui(r, &["-p", PROJECT_C, "up", "--timeout", "120"]));
    let image_of = || {
        let (_, out) = docker(&[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            &format!("{PROJECT_C}_redis-session"),
        ]);
        out.trim().to_string()
    };
    assert!(image_of().starts_with("redis:7"), "{}", image_of());

    std::fs::write(
        dir.join("config.yml"),
        config("      image: memcached:1.6\n"),
    )
    .unwrap();
    let started = Instant::now();
    let err = fails(&sdtui(r, &["-p", PROJECT_C, "up", "--timeout", "150"]));
    println!(
        "figure: the failed update reported after {:?}",
        started.elapsed()
    );
    assert!(
        err.contains(&format!("swarm rolled {PROJECT_C}_redis-session back")),
        "{err}"
    );
    // The previous version runs again, healthy, and answers.
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let redis = loop {
        let c = task_container_of(PROJECT_C, "redis-session");
        let (_, health) = docker(&["inspect", "-f", "{{.State.Health.Status}}", &c]);
        if !c.is_empty() && image_of().starts_with("redis:7") && health.trim() == "healthy" {
            break c;
        }
        assert!(
            Instant::now() < deadline,
            "not back on redis:7: {}",
            image_of()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let password = common::secret(&dir.join("secrets.yml"), "session", "PASSWORD");
    let (_, pong) = docker(&[
        "exec",
        "-e",
        &format!("REDISCLI_AUTH={password}"),
        &redis,
        "redis-cli",
        "--no-auth-warning",
        "ping",
    ]);
    assert_eq!(pong.trim(), "PONG");
}
