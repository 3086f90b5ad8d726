//! `sdtui doctor` on the real engine: the test app attached to postgres
//! (readwrite and readonly) and redis (readwrite and readonly), every
//! attachment proven from inside the app's network namespace with the
//! variables it got; then broken for real, one thing at a time, and each
//! reported for exactly the attachment it breaks: a wrong password written
//! by hand into the app's env file, a readonly role granted a write, the
//! addon stopped, the app stopped. RabbitMQ (an AMQP handshake through the
//! app's URL) and memcached (`version`) proven the same way, then one
//! broken at a time: a wrong password in the app's AMQP URL is auth, a
//! wrong memcached host DNS, each for that attachment alone.

mod common;

use common::docker::{Cleanup, container, docker, psql, require_images};
use common::{fails, ok, sdtui};

const ADDR: &str = "127.0.89.1";

fn project(root: &std::path::Path, name: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "# doctor test\nvms:\n  local:\n    host: local\n    private_ip: {ADDR}\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n  caches:\n    hits:\n      type: redis\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n      - addon: databases.main\n        as: REPORTS\n        access: readonly\n      - caches.hits as CACHE\n      - addon: caches.hits\n        as: CACHE_RO\n        access: readonly\n"
        ),
    )
    .unwrap();
}

/// `doctor --json`: (exit ok, prefix → (result, failure, detail)).
fn doctor(
    root: &std::path::Path,
    name: &str,
) -> (
    bool,
    std::collections::BTreeMap<String, (String, String, String)>,
    String,
) {
    let out = sdtui(root, &["-p", name, "doctor", "web", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let rows: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"));
    let map = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("prefix"), (s("result"), s("failure"), s("detail")))
        })
        .collect();
    (out.status.success(), map, format!("{stdout}\n{stderr}"))
}

fn assert_only(
    map: &std::collections::BTreeMap<String, (String, String, String)>,
    broken: &str,
    failure: &[&str],
    all: &str,
) {
    for (prefix, (result, f, detail)) in map {
        if prefix == broken {
            assert_eq!(result, "failed", "{prefix} should fail:\n{all}");
            assert!(
                failure.contains(&f.as_str()),
                "{prefix}: {f} ({detail}), wanted {failure:?}:\n{all}"
            );
        } else {
            assert_eq!(result, "ok", "{prefix} should be ok:\n{all}");
        }
    }
}

#[test]
fn doctor_proves_each_attachment_and_names_what_broke() {
    require_images(&["postgres:15", "redis:7", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("doc{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    project(r, &name);
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));

    // All four proven, with what was proven.
    let out = sdtui(r, &["-p", &name, "doctor"]);
    let table = ok(&out);
    for prefix in ["DATABASE", "REPORTS", "CACHE", "CACHE_RO"] {
        assert!(table.contains(prefix), "{table}");
    }
    assert_eq!(table.matches(" ok").count(), 4, "{table}");
    let (passed, map, all) = doctor(r, &name);
    assert!(passed, "{all}");
    assert_eq!(map.len(), 4, "{all}");
    assert!(all.contains("write refused"), "{all}");
    let password = common::revealed_credential(r, &name, "databases.main", "PASSWORD");
    assert!(!all.contains(&password), "a secret leaked: {all}");
    // No probe is left behind.
    let (_, web) = docker(&[
        "inspect",
        "-f",
        "{{.Id}}",
        &container(&compose_project, "web"),
    ]);
    let web = web.trim();
    assert_eq!(web.len(), 64, "{web}");
    let (_, probes) = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.sdtui.doctor={web}"),
    ]);
    assert!(probes.trim().is_empty(), "probes left: {probes}");

    // A wrong password written by hand into the app's env file, the app
    // recreated from it: DATABASE alone fails, on auth.
    let env_file = r
        .join(&name)
        .join(".sdtui/deploy/local/current/env/web.env");
    let text = std::fs::read_to_string(&env_file)
        .unwrap_or_else(|e| panic!("{}: {e}", env_file.display()));
    let edited: String = text
        .lines()
        .map(|l| {
            if l.starts_with("DATABASE_PASSWORD=") {
                "DATABASE_PASSWORD=wrong-by-hand".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_ne!(edited, text);
    std::fs::write(&env_file, &edited).unwrap();
    let compose_dir = r.join(&name).join(".sdtui/deploy/local/current");
    let recreate = std::process::Command::new("docker-compose")
        .current_dir(&compose_dir)
        .args([
            "-p",
            &compose_project,
            "-f",
            "docker-compose.yml",
            "up",
            "-d",
            "--no-deps",
            "web",
        ])
        .output()
        .unwrap();
    assert!(
        recreate.status.success(),
        "{}",
        String::from_utf8_lossy(&recreate.stderr)
    );
    let (passed, map, all) = doctor(r, &name);
    assert!(!passed, "{all}");
    assert_only(&map, "DATABASE", &["auth"], &all);
    assert!(
        map["DATABASE"].2.contains("password authentication failed"),
        "{all}"
    );
    assert!(
        !all.contains("wrong-by-hand"),
        "the hand-written secret leaked: {all}"
    );
    // Back as it was: `up` writes the env file again and recreates the app.
    std::fs::write(&env_file, &text).unwrap();
    let recreate = std::process::Command::new("docker-compose")
        .current_dir(&compose_dir)
        .args([
            "-p",
            &compose_project,
            "-f",
            "docker-compose.yml",
            "up",
            "-d",
            "--no-deps",
            "web",
        ])
        .output()
        .unwrap();
    assert!(recreate.status.success());
    let (passed, _, all) = doctor(r, &name);
    assert!(passed, "{all}");

    // A readonly role that can write: REPORTS alone, writable.
    let pg = container(&compose_project, "postgres-main");
    let user = common::revealed_credential(r, &name, "databases.main", "USER");
    let db = common::revealed_credential(r, &name, "databases.main", "DATABASE");
    let ro = common::revealed_credential(r, &name, "databases.main", "READONLY_USER");
    psql(
        &pg,
        &user,
        &db,
        &format!("GRANT CREATE ON SCHEMA public TO \"{ro}\""),
    );
    let (passed, map, all) = doctor(r, &name);
    assert!(!passed, "{all}");
    assert_only(&map, "REPORTS", &["writable"], &all);
    // The probe's write was rolled back.
    let left = psql(
        &pg,
        &user,
        &db,
        "select count(*) from pg_tables where tablename = 'sdtui_doctor_probe'",
    );
    assert_eq!(left.trim(), "0");
    psql(
        &pg,
        &user,
        &db,
        &format!("REVOKE CREATE ON SCHEMA public FROM \"{ro}\""),
    );

    // A readonly redis user that can write: CACHE_RO alone.
    let redis = container(&compose_project, "redis-hits");
    let (done, out) = docker(&[
        "exec",
        &redis,
        "sh",
        "-c",
        "redis-cli --no-auth-warning -a \"$REDIS_PASSWORD\" ACL SETUSER hits_readonly +@write",
    ]);
    assert!(done && out.contains("OK"), "{out}");
    let (passed, map, all) = doctor(r, &name);
    assert!(!passed, "{all}");
    assert_only(&map, "CACHE_RO", &["writable"], &all);
    let (done, out) = docker(&[
        "exec",
        &redis,
        "sh",
        "-c",
        "redis-cli --no-auth-warning -a \"$REDIS_PASSWORD\" ACL SETUSER hits_readonly -@write",
    ]);
    assert!(done && out.contains("OK"), "{out}");

    // The addon stopped: both redis attachments, DNS or refused.
    let (stopped, out) = docker(&["stop", &redis]);
    assert!(stopped, "{out}");
    let (passed, map, all) = doctor(r, &name);
    assert!(!passed, "{all}");
    for prefix in ["CACHE", "CACHE_RO"] {
        let (result, f, _) = &map[prefix];
        assert_eq!(result, "failed", "{all}");
        assert!(f == "dns" || f == "refused", "{prefix}: {f}\n{all}");
    }
    assert_eq!(map["DATABASE"].0, "ok", "{all}");
    assert_eq!(map["REPORTS"].0, "ok", "{all}");
    let (started, out) = docker(&["start", &redis]);
    assert!(started, "{out}");

    // The app stopped: said so, with how to start it, exit non-zero.
    let web = container(&compose_project, "web");
    let (stopped, out) = docker(&["stop", &web]);
    assert!(stopped, "{out}");
    let out = sdtui(r, &["-p", &name, "doctor", "web"]);
    let stderr = fails(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("app not running"), "{stdout}");
    assert!(stdout.contains("sdtui -p"), "{stdout}");
    assert!(stderr.contains("4 of 4 attachments failed"), "{stderr}");
}

/// Writes `key=value` into the app's env file by hand and recreates the
/// app from it (what a hand edit on the VM does); the text before.
fn edit_app_env(root: &std::path::Path, name: &str, key: &str, value: &str) -> String {
    let env_file = root
        .join(name)
        .join(".sdtui/deploy/local/current/env/web.env");
    let text = std::fs::read_to_string(&env_file)
        .unwrap_or_else(|e| panic!("{}: {e}", env_file.display()));
    let edited: String = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key}=")) {
                format!("{key}={value}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_ne!(edited, text, "{key} not in the env file");
    std::fs::write(&env_file, &edited).unwrap();
    recreate_app(root, name);
    text
}

fn restore_app_env(root: &std::path::Path, name: &str, text: &str) {
    let env_file = root
        .join(name)
        .join(".sdtui/deploy/local/current/env/web.env");
    std::fs::write(&env_file, text).unwrap();
    recreate_app(root, name);
}

fn recreate_app(root: &std::path::Path, name: &str) {
    let recreate = std::process::Command::new("docker-compose")
        .current_dir(root.join(name).join(".sdtui/deploy/local/current"))
        .args([
            "-p",
            &format!("{name}-local"),
            "-f",
            "docker-compose.yml",
            "up",
            "-d",
            "--no-deps",
            "web",
        ])
        .output()
        .unwrap();
    assert!(
        recreate.status.success(),
        "{}",
        String::from_utf8_lossy(&recreate.stderr)
    );
}

#[test]
fn doctor_proves_rabbitmq_and_memcached_and_names_the_broken_one() {
    require_images(&[
        "rabbitmq:3-management",
        "memcached:1.6",
        "sdtui-testapp:latest",
    ]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("docq{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.99.3\naddons:\n  queues:\n    jobs:\n      type: rabbitmq\n      plan: small\n  caches:\n    pages:\n      type: memcached\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - queues.jobs as QUEUE\n      - caches.pages as PAGES\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));

    // Both proven: the vhost opened as the instance's user; memcached's version.
    let table = ok(&sdtui(r, &["-p", &name, "doctor"]));
    println!("{table}");
    assert_eq!(table.matches(" ok").count(), 2, "{table}");
    let (passed, map, all) = doctor(r, &name);
    assert!(passed, "{all}");
    assert_eq!(map.len(), 2, "{all}");
    let user = common::revealed_credential(r, &name, "queues.jobs", "USER");
    assert!(all.contains(&format!("connected as {user}")), "{all}");
    assert!(all.contains("connected (no login)"), "{all}");
    let password = common::revealed_credential(r, &name, "queues.jobs", "PASSWORD");

    // A wrong password in the AMQP URL the app got: QUEUE alone, auth.
    let url = {
        let env =
            std::fs::read_to_string(dir.join(".sdtui/deploy/local/current/env/web.env")).unwrap();
        env.lines()
            .find_map(|l| l.strip_prefix("QUEUE_URL="))
            .unwrap()
            .to_string()
    };
    let encoded = sdtui::template::urlencode(&password);
    assert!(url.contains(&encoded), "the URL holds the password");
    let text = edit_app_env(
        r,
        &name,
        "QUEUE_URL",
        &url.replace(&encoded, "wrong-by-hand"),
    );
    let (passed, map, all) = doctor(r, &name);
    println!("{all}");
    assert!(!passed, "{all}");
    assert_only(&map, "QUEUE", &["auth"], &all);
    assert!(map["QUEUE"].2.contains("ACCESS_REFUSED"), "{all}");
    assert!(!all.contains("wrong-by-hand"), "the URL leaked: {all}");
    assert!(!all.contains(&password), "a secret leaked: {all}");
    restore_app_env(r, &name, &text);
    let (passed, _, all) = doctor(r, &name);
    assert!(passed, "{all}");

    // A memcached host that does not resolve: PAGES alone, DNS.
    let text = edit_app_env(r, &name, "PAGES_HOST", "memcached-nosuch");
    let (passed, map, all) = doctor(r, &name);
    println!("{all}");
    assert!(!passed, "{all}");
    assert_only(&map, "PAGES", &["dns"], &all);
    assert!(
        map["PAGES"]
            .2
            .contains("memcached-nosuch: Name or service not known"),
        "the telling line: {all}"
    );
    restore_app_env(r, &name, &text);

    // A port nothing listens on: refused.
    edit_app_env(r, &name, "PAGES_PORT", "11299");
    let (passed, map, all) = doctor(r, &name);
    assert!(!passed, "{all}");
    assert_only(&map, "PAGES", &["refused"], &all);
    assert!(map["PAGES"].2.contains("Connection refused"), "{all}");
}

mod remote {
    use super::*;
    use common::sshd::TestVm;

    fn sdtui(
        root: &std::path::Path,
        known_hosts: &std::path::Path,
        args: &[&str],
    ) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
            .args(args)
            .env("SDTUI_ROOT", root)
            .env("SDTUI_ADDONS", root.join(".none"))
            .env("SDTUI_KNOWN_HOSTS", known_hosts)
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap()
    }

    /// The project's folder on the VM (this machine's home), removed at the end.
    struct RemoteDir(std::path::PathBuf);
    impl Drop for RemoteDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The same probe over SSH: the Docker API through the session, the
    /// app on the VM; one attachment broken in the server, then the app
    /// stopped.
    #[test]
    fn doctor_over_ssh() {
        require_images(&["postgres:15", "sdtui-testapp:latest"]);
        let vm = TestVm::start("127.0.89.2", 2289);
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let known_hosts = r.join("known_hosts");
        let name = format!("docs{}", std::process::id());
        let compose_project = format!("{name}-core");
        let _cleanup = Cleanup(compose_project.clone());
        let _remote = RemoteDir(
            std::path::PathBuf::from(std::env::var("HOME").unwrap())
                .join(".sdtui")
                .join(&name),
        );
        let dir = r.join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.yml"),
            format!(
                "vms:\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n      vm: core\napps:\n  web:\n    image: sdtui-testapp\n    vm: core\n    addons:\n      - databases.main as DATABASE\n      - addon: databases.main\n        as: REPORTS\n        access: readonly\n",
                vm.addr,
                vm.port,
                vm.client_key().display()
            ),
        )
        .unwrap();
        ok(&sdtui(
            r,
            &known_hosts,
            &["-p", &name, "--accept-new-host", "up", "--timeout", "180"],
        ));
        let doctor = |expect_ok: bool| {
            let out = sdtui(r, &known_hosts, &["-p", &name, "doctor", "--json"]);
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            assert_eq!(
                out.status.success(),
                expect_ok,
                "{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            let map: std::collections::BTreeMap<String, (String, String)> = rows
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["prefix"].as_str().unwrap().to_string(),
                        (
                            r["result"].as_str().unwrap().to_string(),
                            r["failure"].as_str().unwrap_or_default().to_string(),
                        ),
                    )
                })
                .collect();
            (map, stdout)
        };
        let (map, all) = doctor(true);
        assert_eq!(map.len(), 2, "{all}");
        assert!(all.contains("write refused"), "{all}");

        // The owner's password changed in the server behind the app's back.
        let pg = container(&compose_project, "postgres-main");
        let (user, db) = (format!("{name}_main_user"), format!("{name}_main"));
        psql(
            &pg,
            &user,
            &db,
            &format!("ALTER ROLE \"{user}\" PASSWORD 'changed-behind-its-back'"),
        );
        let (map, all) = doctor(false);
        assert_eq!(map["DATABASE"], ("failed".into(), "auth".into()), "{all}");
        assert_eq!(map["REPORTS"].0, "ok", "{all}");

        let web = container(&compose_project, "web");
        let (stopped, out) = docker(&["stop", &web]);
        assert!(stopped, "{out}");
        let (map, all) = doctor(false);
        for (result, failure) in map.values() {
            assert_eq!(
                (result.as_str(), failure.as_str()),
                ("failed", "app_not_running"),
                "{all}"
            );
        }
    }
}

/// MariaDB's checks: readwrite and readonly proven, then the readonly user
/// granted a write and the wrong database in the app's environment.
#[test]
fn doctor_on_mariadb() {
    require_images(&["mariadb:10.11", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("docm{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.89.4\naddons:\n  databases:\n    shop:\n      type: mariadb\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.shop as DATABASE\n      - addon: databases.shop\n        as: REPORTS\n        access: readonly\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let (passed, map, all) = doctor(r, &name);
    assert!(passed, "{all}");
    assert_eq!(map.len(), 2, "{all}");
    assert!(all.contains("write refused"), "{all}");

    let db = container(&compose_project, "mariadb-shop");
    let root_password = common::revealed_credential(r, &name, "databases.shop", "ROOT_PASSWORD");
    let database = common::revealed_credential(r, &name, "databases.shop", "DATABASE");
    let sql = |q: &str| {
        let (done, out) = docker(&[
            "exec",
            "-e",
            &format!("MYSQL_PWD={root_password}"),
            &db,
            "mariadb",
            "-uroot",
            "-h",
            "127.0.0.1",
            "-e",
            q,
        ]);
        assert!(done, "{q}: {out}");
    };
    sql(&format!(
        "GRANT CREATE, DROP ON `{database}`.* TO 'shop_readonly'@'%'"
    ));
    let (passed, map, all) = doctor(r, &name);
    assert!(!passed, "{all}");
    assert_only(&map, "REPORTS", &["writable"], &all);
    sql(&format!(
        "REVOKE CREATE, DROP ON `{database}`.* FROM 'shop_readonly'@'%'"
    ));

    // The database the app was given is not there any more.
    sql(&format!("DROP DATABASE `{database}`"));
    let (passed, map, all) = doctor(r, &name);
    assert!(!passed, "{all}");
    for prefix in ["DATABASE", "REPORTS"] {
        let (result, failure, _) = &map[prefix];
        assert_eq!(
            (result.as_str(), failure.as_str()),
            ("failed", "database"),
            "{all}"
        );
    }
}
