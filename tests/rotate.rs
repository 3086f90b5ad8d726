//! Credentials on the real engine: shown masked, revealed one at a time, and
//! rotated inside a running postgres with attached apps (the test app) that
//! keep working on the new password while the old one is refused; an app
//! that was stopped gets it when it next starts; a type without `rotate:` is
//! refused with nothing changed.

mod common;

use common::docker::{Cleanup, container, docker, require_images};
use common::{fails, ok, sdtui, snapshot};

const ADDR: &str = "127.0.3.71";

fn project(root: &std::path::Path, name: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "# rotation test\nvms:\n  local:\n    host: local\n    private_ip: {ADDR}\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n  caches:\n    hits:\n      type: memcached\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n      - addon: databases.main\n        as: REPORTS\n        access: readonly\n    env:\n      CHECK_PREFIXES: DATABASE,REPORTS\n  worker:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n    env:\n      CHECK_PREFIXES: DATABASE\n"
        ),
    )
    .unwrap();
}

/// One revealed credential of `databases.main`.
fn credential(root: &std::path::Path, name: &str, key: &str) -> String {
    common::revealed_credential(root, name, "databases.main", key)
}

/// psql from this machine to the published port: (accepted, output).
fn psql(port: &str, user: &str, db: &str, password: &str) -> (bool, String) {
    common::psql_login(ADDR, port, user, db, password)
}

fn check_passes(compose_project: &str, app: &str) {
    let id = container(compose_project, app);
    assert!(!id.is_empty(), "{app} is not running");
    let (passed, report) = docker(&["exec", &id, "check"]);
    assert!(passed, "{app}'s checks failed:\n{report}");
}

#[test]
fn rotation_changes_the_password_in_the_server_and_the_apps_follow() {
    require_images(&["postgres:15", "memcached:1.6", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("rot{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    project(r, &name);
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    check_passes(&compose_project, "web");

    // Shown masked by default, one revealed on demand.
    let masked = ok(&sdtui(
        r,
        &["-p", &name, "addons", "credentials", "databases.main"],
    ));
    let old = credential(r, &name, "PASSWORD");
    let old_ro = credential(r, &name, "READONLY_PASSWORD");
    assert!(
        masked.contains("PASSWORD") && masked.contains("••••••••"),
        "{masked}"
    );
    assert!(
        !masked.contains(&old) && !masked.contains(&old_ro),
        "{masked}"
    );
    let unknown = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "databases.main",
            "--reveal",
            "PASWORD",
        ],
    ));
    assert!(
        unknown.contains("PASWORD") && unknown.contains("READONLY_PASSWORD"),
        "{unknown}"
    );
    let port = credential(r, &name, "PORT");
    let user = credential(r, &name, "USER");
    let db = credential(r, &name, "DATABASE");
    let ro_user = credential(r, &name, "READONLY_USER");
    let (works, why) = psql(&port, &user, &db, &old);
    assert!(works, "the first password should work: {why}");

    // A stopped app: rotated while down, it reads the new one when it starts.
    let (stopped, out) = docker(&["stop", &container(&compose_project, "worker")]);
    assert!(stopped, "{out}");
    let web_before = container(&compose_project, "web");

    let rotated = sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "databases.main",
        ],
    );
    let stdout = ok(&rotated);
    let stderr = String::from_utf8_lossy(&rotated.stderr).to_string();
    assert!(stdout.contains("restarted web on local"), "{stdout}");
    assert!(stdout.contains("worker on local: not running"), "{stdout}");
    let new = credential(r, &name, "PASSWORD");
    assert_ne!(new, old);
    assert_eq!(new.len(), 43);
    let (refused, why) = psql(&port, &user, &db, &old);
    assert!(
        !refused && why.contains("password authentication failed"),
        "{why}"
    );
    let (works, why) = psql(&port, &user, &db, &new);
    assert!(works, "the new password should work: {why}");
    // The readonly login was not touched.
    assert_eq!(credential(r, &name, "READONLY_PASSWORD"), old_ro);
    assert!(psql(&port, &ro_user, &db, &old_ro).0);

    // The running app was recreated onto it and still works, readonly too.
    let web_after = container(&compose_project, "web");
    assert_ne!(web_before, web_after, "web should have been recreated");
    check_passes(&compose_project, "web");
    let env = std::fs::read_to_string(r.join(&name).join("compose/local/env/web.env")).unwrap();
    assert!(env.contains(&new) && !env.contains(&old));

    // The stopped app was left stopped, and starts with the new password.
    assert!(container(&compose_project, "worker").is_empty());
    let (_, ids) = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
        "--filter",
        "label=com.docker.compose.service=worker",
    ]);
    let (started, out) = docker(&["start", ids.trim()]);
    assert!(started, "{out}");
    check_passes(&compose_project, "worker");

    // Secrets never on the screen or in the audit trail.
    let audit = std::fs::read_to_string(r.join(&name).join(".sdtui/audit.jsonl")).unwrap();
    for text in [&stdout, &stderr, &audit] {
        assert!(!text.contains(&old) && !text.contains(&new), "{text}");
    }
    let history = ok(&sdtui(r, &["-p", &name, "history"]));
    assert!(
        history.contains("addons credentials rotate databases.main"),
        "{history}"
    );

    // The next `up` has nothing left to do.
    let again = ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    assert!(!again.contains("recreated"), "{again}");

    // The readonly login: its apps follow, the main one is untouched.
    let web_before = container(&compose_project, "web");
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "databases.main",
            "--readonly",
        ],
    ));
    let new_ro = credential(r, &name, "READONLY_PASSWORD");
    assert_ne!(new_ro, old_ro);
    assert!(!psql(&port, &ro_user, &db, &old_ro).0);
    assert!(psql(&port, &ro_user, &db, &new_ro).0);
    assert!(psql(&port, &user, &db, &new).0);
    assert_ne!(web_before, container(&compose_project, "web"));
    check_passes(&compose_project, "web");

    // Saving fails (another sdtui holds the project): the server goes back
    // to the password the files and apps still have.
    let lock = r.join(&name).join(".sdtui/lock");
    let holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&lock)
        .unwrap();
    holder.lock().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args([
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "databases.main",
        ])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".no-user-addons"))
        .env("SDTUI_LOCK_WAIT_MS", "300")
        .output()
        .unwrap();
    drop(holder);
    let err = fails(&out);
    assert!(
        err.contains("busy") && err.contains("back on the old password"),
        "{err}"
    );
    assert!(!err.contains(&new), "{err}");
    assert_eq!(credential(r, &name, "PASSWORD"), new);
    assert!(psql(&port, &user, &db, &new).0);
    check_passes(&compose_project, "web");

    // A type without rotate: is refused, and nothing changes.
    let before = snapshot(&r.join(&name));
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "caches.hits",
        ],
    ));
    assert!(
        err.contains("cannot rotate") && err.contains("memcached"),
        "{err}"
    );
    assert!(err.contains("hint"), "{err}");
    assert_eq!(before, snapshot(&r.join(&name)));
}

/// redis-cli inside the redis container: does it answer PONG to this login?
fn redis_accepts(compose_project: &str, user: &str, password: &str) -> bool {
    let id = container(compose_project, "redis-sess");
    let (_, out) = docker(&[
        "exec",
        "-e",
        &format!("REDISCLI_AUTH={password}"),
        &id,
        "redis-cli",
        "--no-auth-warning",
        "--user",
        user,
        "ping",
    ]);
    out.lines().any(|l| l.trim() == "PONG")
}

#[test]
fn redis_rotation_through_acl_keeps_the_app_working() {
    require_images(&["redis:7", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("rotr{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.72\naddons:\n  caches:\n    sess:\n      type: redis\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - caches.sess\n      - addon: caches.sess\n        as: RO_CACHE\n        access: readonly\n    env:\n      CHECK_PREFIXES: CACHE,RO_CACHE\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    check_passes(&compose_project, "web");
    let cred = |key: &str| {
        let out = ok(&sdtui(
            r,
            &[
                "-p",
                &name,
                "addons",
                "credentials",
                "caches.sess",
                "--reveal",
                key,
                "--json",
            ],
        ));
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        rows.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == key)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (old, old_ro, ro_user) = (
        cred("PASSWORD"),
        cred("READONLY_PASSWORD"),
        cred("READONLY_USER"),
    );
    assert!(redis_accepts(&compose_project, "default", &old));

    // The main password: redis recreated from its new files, the readonly
    // ACL user provisioned again, the app onto the new password.
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "caches.sess",
        ],
    ));
    assert!(out.contains("restarted web on local"), "{out}");
    let new = cred("PASSWORD");
    assert_ne!(new, old);
    assert!(!redis_accepts(&compose_project, "default", &old));
    assert!(redis_accepts(&compose_project, "default", &new));
    assert!(redis_accepts(&compose_project, &ro_user, &old_ro));
    check_passes(&compose_project, "web");

    // The readonly login: redis is not recreated, so the old ACL password is
    // taken away by the finish step.
    let redis_before = container(&compose_project, "redis-sess");
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "caches.sess",
            "--readonly",
        ],
    ));
    let new_ro = cred("READONLY_PASSWORD");
    assert_eq!(redis_before, container(&compose_project, "redis-sess"));
    assert!(!redis_accepts(&compose_project, &ro_user, &old_ro));
    assert!(redis_accepts(&compose_project, &ro_user, &new_ro));
    assert!(redis_accepts(&compose_project, "default", &new));
    check_passes(&compose_project, "web");
}

#[test]
fn mariadb_rotation_through_alter_user_keeps_the_app_working() {
    require_images(&["mariadb:10.11", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("rotm{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.73\naddons:\n  databases:\n    main:\n      type: mariadb\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main\n    env:\n      CHECK_PREFIXES: DATABASE\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    check_passes(&compose_project, "web");
    let cred = |key: &str| {
        let out = ok(&sdtui(
            r,
            &[
                "-p",
                &name,
                "addons",
                "credentials",
                "databases.main",
                "--reveal",
                key,
                "--json",
            ],
        ));
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        rows.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == key)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (old, user) = (cred("PASSWORD"), cred("USER"));
    let accepts = |password: &str| {
        let id = container(&compose_project, "mariadb-main");
        let (ok, out) = docker(&[
            "exec",
            "-e",
            &format!("MYSQL_PWD={password}"),
            &id,
            "mariadb",
            "-h",
            "127.0.0.1",
            "-u",
            &user,
            "-N",
            "-e",
            "select 1",
        ]);
        ok && out.trim() == "1"
    };
    assert!(accepts(&old));
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "databases.main",
        ],
    ));
    assert!(out.contains("restarted web on local"), "{out}");
    let new = cred("PASSWORD");
    assert_ne!(new, old);
    assert!(!accepts(&old));
    assert!(accepts(&new));
    check_passes(&compose_project, "web");
}

#[test]
fn rabbitmq_rotation_through_rabbitmqctl_keeps_the_app_working() {
    require_images(&["rabbitmq:3-management", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("rotq{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.74\naddons:\n  queues:\n    main:\n      type: rabbitmq\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - queues.main\n    env:\n      CHECK_PREFIXES: QUEUE\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "240"]));
    check_passes(&compose_project, "web");
    let cred = |key: &str| {
        let out = ok(&sdtui(
            r,
            &[
                "-p",
                &name,
                "addons",
                "credentials",
                "queues.main",
                "--reveal",
                key,
                "--json",
            ],
        ));
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        rows.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == key)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (old, user) = (cred("PASSWORD"), cred("USER"));
    let accepts = |password: &str| {
        let id = container(&compose_project, "rabbitmq-main");
        docker(&[
            "exec",
            &id,
            "rabbitmqctl",
            "-q",
            "authenticate_user",
            &user,
            password,
        ])
        .0
    };
    assert!(accepts(&old));
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "credentials",
            "rotate",
            "queues.main",
            "--timeout",
            "240",
        ],
    ));
    assert!(out.contains("restarted web on local"), "{out}");
    let new = cred("PASSWORD");
    assert_ne!(new, old);
    assert!(!accepts(&old));
    assert!(accepts(&new));
    check_passes(&compose_project, "web");
}
