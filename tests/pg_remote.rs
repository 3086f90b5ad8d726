//! `pg promote` then `pg upgrade` on a VM reached over SSH (a real sshd):
//! a follower promoted takes over the app's attachment, the old primary
//! refuses writes; then the new primary is upgraded 15 → 17 by changeover
//! with its rows and the app carried over; then forked. Run under
//! `flock /tmp/sdtui-docker-tests.lock`.

mod common;

use std::time::{Duration, Instant};

use common::docker::{Cleanup, app_sql, container, docker, psql, require_images};
use common::{ok, revealed_credential};

#[test]
fn promote_then_upgrade_over_ssh() {
    require_images(&["postgres:15", "postgres:17", "sdtui-testapp:latest"]);
    let vm = common::sshd::TestVm::start("127.0.98.2", 2298);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let name = format!("pgs{}", std::process::id());
    let _remote = common::sshd::RemoteDir::of_project(&name);
    let cp = format!("{name}-core");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n    private_ip: 127.0.98.3\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\n    replica:\n      type: postgres\n      plan: small\n      follows: databases.primary\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n",
            vm.addr,
            vm.port,
            vm.client_key().display()
        ),
    )
    .unwrap();
    let sdtui = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
            .args(["-p", &name, "--accept-new-host"])
            .args(args)
            .env("SDTUI_ROOT", r)
            .env("SDTUI_ADDONS", r.join(".none"))
            .env("SDTUI_KNOWN_HOSTS", &known_hosts)
            .env("SDTUI_USER", "tester")
            .env_remove("SSH_AUTH_SOCK")
            .output()
            .unwrap()
    };
    ok(&sdtui(&["up", "--timeout", "240"]));
    let (user, db) = (
        revealed_credential(r, &name, "databases.primary", "USER"),
        revealed_credential(r, &name, "databases.primary", "DATABASE"),
    );
    let web = container(&cp, "web");
    let (wrote, said) = app_sql(
        &web,
        "CREATE TABLE t (id bigserial PRIMARY KEY, note text); INSERT INTO t (note) SELECT md5(g::text) FROM generate_series(1, 1000) g",
    );
    assert!(wrote, "{said}");
    let follower = container(&cp, "postgres-replica");
    let start = Instant::now();
    while psql(&follower, &user, &db, "SELECT count(*) FROM t") != "1000" {
        assert!(start.elapsed() < Duration::from_secs(20), "not replicated");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Promote over SSH.
    let out = ok(&sdtui(&["pg", "promote", "databases.replica", "--json"]));
    let done: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(done["promoted"]["lost_bytes"], 0, "{out}");
    let web = container(&cp, "web");
    let (wrote, said) = app_sql(
        &web,
        "INSERT INTO t (note) VALUES ('on the replica') RETURNING id",
    );
    assert!(wrote, "{said}");
    // A promoted standby's sequences skip ahead (Postgres logs them 32
    // values at a time): higher, never a repeat.
    let on_replica: i64 = said.trim().parse().unwrap();
    assert!(on_replica > 1000, "{said}");
    let old = container(&cp, "postgres-primary");
    let (wrote, said) = docker(&[
        "exec",
        &old,
        "psql",
        "-X",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        &user,
        "-d",
        &db,
        "-c",
        "INSERT INTO t (note) VALUES ('x')",
    ]);
    assert!(!wrote && said.contains("read-only"), "{said}");

    // Upgrade the new primary over SSH.
    let out = ok(&sdtui(&[
        "pg",
        "upgrade",
        "databases.replica",
        "--version",
        "17",
        "--json",
    ]));
    let up: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(up["target"], "databases.replica-17", "{out}");
    eprintln!(
        "figure: over SSH, pg promote {:.1} s (window {:.1} s); pg upgrade 15→17 {:.1} s (window {:.1} s)",
        done["promoted"]["seconds"].as_f64().unwrap(),
        done["promoted"]["window_seconds"].as_f64().unwrap(),
        up["seconds"].as_f64().unwrap(),
        up["window_seconds"].as_f64().unwrap()
    );
    let web = container(&cp, "web");
    let (wrote, said) = app_sql(&web, "INSERT INTO t (note) VALUES ('on 17') RETURNING id");
    assert!(wrote, "{said}");
    assert_eq!(
        said.trim().parse::<i64>().unwrap(),
        on_replica + 1,
        "the sequence carried over"
    );
    let (_, version) = app_sql(&web, "SHOW server_version");
    assert!(version.trim().starts_with("17"), "{version}");
    let (_, count) = app_sql(&web, "SELECT count(*) FROM t");
    assert_eq!(count.trim(), "1002");

    // A fork of the upgraded primary over SSH: its rows, then apart.
    let out = ok(&sdtui(&[
        "pg",
        "fork",
        "databases.replica-17",
        "--name",
        "trial",
        "--json",
    ]));
    let forked: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    eprintln!(
        "figure: over SSH, pg fork {:.1} s",
        forked["seconds"].as_f64().unwrap()
    );
    let trial = container(&cp, "postgres-trial");
    let (tuser, tdb) = (
        revealed_credential(r, &name, "databases.trial", "USER"),
        revealed_credential(r, &name, "databases.trial", "DATABASE"),
    );
    assert_eq!(psql(&trial, &tuser, &tdb, "SELECT count(*) FROM t"), "1002");
    psql(
        &trial,
        &tuser,
        &tdb,
        "INSERT INTO t (note) VALUES ('only in the fork')",
    );
    let (_, count) = app_sql(&web, "SELECT count(*) FROM t");
    assert_eq!(count.trim(), "1002", "the fork is apart");
    ok(&sdtui(&["down"]));
}
