//! Postgres operations under faults, on the real engine and a real sshd:
//! a leader killed while its follower takes its base backup; an upgrade
//! whose old instance is killed while the rows copy, then whose tool is
//! killed after writes stopped (an `up` meanwhile keeps them stopped);
//! an upgrade whose new instance never becomes healthy, aborted; an
//! upgrade whose VM's sshd is killed mid-copy, resumed. Each time: a
//! clear state, never two writable primaries behind the app, and every
//! row the app saw committed is there at the end. Figures: a follower's
//! catch-up rate. Run under `flock /tmp/sdtui-docker-tests.lock`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::{Cleanup, Writer, app_sql, container, docker, psql, require_images, try_psql};
use common::{fails, ok, revealed_credential, run_acting_at, sdtui, sdtui_cmd};

/// A project with one postgres 15 (`databases.primary`) and the test app
/// attached as DATABASE, on the local engine published on `addr`, up;
/// `rows` rows in `t`. Returns the project's name.
fn deployed(r: &Path, prefix: &str, addr: &str, rows: u32) -> String {
    let name = format!("{prefix}{}", std::process::id());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: {addr}\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n"
        ),
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let web = container(&format!("{name}-local"), "web");
    let (made, out) = app_sql(
        &web,
        &format!(
            "CREATE TABLE t (id bigserial PRIMARY KEY, note text); INSERT INTO t (note) SELECT md5(g::text) FROM generate_series(1, {rows}) g"
        ),
    );
    assert!(made, "{out}");
    name
}

fn state_step(r: &Path, name: &str) -> String {
    let path = r.join(name).join("pg-upgrades/databases.primary.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["step"].as_str().unwrap().to_string()
}

fn upgrade_cmd(r: &Path, name: &str) -> std::process::Command {
    sdtui_cmd(
        r,
        &[
            "-p",
            name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
            "--timeout",
            "120",
        ],
    )
}

/// The app's attachment is on `databases.primary` alone, which takes the
/// app's writes; the new instance, if any, has no attachment.
fn app_still_on_the_old_one(r: &Path, name: &str) {
    let config = std::fs::read_to_string(r.join(name).join("config.yml")).unwrap();
    assert!(config.contains("databases.primary as DATABASE"), "{config}");
    assert!(!config.contains("databases.primary-17 as"), "{config}");
}

#[test]
fn a_leader_killed_during_a_follow_then_up_finishes_it() {
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = deployed(r, "pgk", "127.0.104.1", 300_000);
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let leader = container(&cp, "postgres-primary");
    let (user, db) = (
        revealed_credential(r, &name, "databases.primary", "USER"),
        revealed_credential(r, &name, "databases.primary", "DATABASE"),
    );

    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "follow",
            "databases.primary",
            "--name",
            "replica",
        ],
    ));
    // The follower's container appears, and the leader dies under it.
    let up = sdtui_cmd(r, &["-p", &name, "up", "--timeout", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let (_, all) = docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={cp}"),
            "--filter",
            "label=com.docker.compose.service=postgres-replica",
        ]);
        if !all.trim().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no follower container"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (killed, out) = docker(&["kill", &leader]);
    assert!(killed, "{out}");
    let failed = up.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&failed.stdout),
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(
        !failed.status.success(),
        "up went on without its leader: {said}"
    );
    assert!(said.contains("postgres-replica"), "{said}");

    // A clear state: `status` names both; the follower is no primary.
    let status = String::from_utf8_lossy(&sdtui(r, &["-p", &name, "status"]).stdout).to_string();
    assert!(status.contains("postgres-primary"), "{status}");
    assert!(status.contains("postgres-replica"), "{status}");
    if let Some(f) = common::docker::running(&cp, "postgres-replica") {
        let (answered, out) = try_psql(&f, &user, &db, "SELECT pg_is_in_recovery()");
        assert!(!answered || out.trim() == "t", "a second primary: {out}");
    }

    // `up` again: the leader starts, the base backup completes.
    let resumed = Instant::now();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let resumed = resumed.elapsed();
    let follower = container(&cp, "postgres-replica");
    let leader = container(&cp, "postgres-primary");
    assert_eq!(
        psql(&follower, &user, &db, "SELECT pg_is_in_recovery()"),
        "t"
    );
    assert_eq!(
        psql(&follower, &user, &db, "SELECT count(*) FROM t"),
        "300000"
    );
    let (wrote, out) = try_psql(&follower, &user, &db, "INSERT INTO t (note) VALUES ('x')");
    assert!(!wrote && out.contains("read-only"), "{out}");
    psql(
        &leader,
        &user,
        &db,
        "INSERT INTO t (note) VALUES ('leader')",
    );

    // Catch-up: the follower's replay paused while the leader writes a
    // backlog, then resumed; bytes of WAL per second until replayed.
    psql(&follower, &user, &db, "SELECT pg_wal_replay_pause()");
    let from = psql(&leader, &user, &db, "SELECT pg_current_wal_lsn()");
    psql(
        &leader,
        &user,
        &db,
        "INSERT INTO t (note) SELECT md5(g::text) FROM generate_series(1, 500000) g",
    );
    let to = psql(&leader, &user, &db, "SELECT pg_current_wal_lsn()");
    let bytes: f64 = psql(
        &leader,
        &user,
        &db,
        &format!("SELECT pg_wal_lsn_diff('{to}', '{from}')"),
    )
    .parse()
    .unwrap();
    let replaying = Instant::now();
    psql(&follower, &user, &db, "SELECT pg_wal_replay_resume()");
    while psql(
        &follower,
        &user,
        &db,
        &format!("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '{to}') >= 0"),
    ) != "t"
    {
        assert!(
            replaying.elapsed() < Duration::from_secs(120),
            "the follower never caught up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let caught_up = replaying.elapsed();
    assert_eq!(
        psql(&follower, &user, &db, "SELECT count(*) FROM t"),
        "800001"
    );
    eprintln!(
        "figure: follower up after its leader came back {:.1} s (a base backup of 300k rows); catch-up of a {:.1} MB WAL backlog in {:.2} s = {:.0} MB/s",
        resumed.as_secs_f64(),
        bytes / 1e6,
        caught_up.as_secs_f64(),
        bytes / 1e6 / caught_up.as_secs_f64()
    );
}

#[test]
fn the_old_instance_killed_mid_copy_then_the_tool_after_writes_stopped_and_it_resumes() {
    require_images(&["postgres:15", "postgres:17", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = deployed(r, "pgd", "127.0.104.2", 200_000);
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let writer = Writer::start(&cp);
    writer.wait_for_more(5, Duration::from_secs(30));

    // The old instance killed while the rows copy: the upgrade stops.
    let (said, succeeded) = run_acting_at(upgrade_cmd(r, &name), "upgrade 6/10", |_| {
        let old = container(&cp, "postgres-primary");
        assert!(docker(&["kill", &old]).0);
    });
    assert!(!succeeded, "{said}");
    assert!(
        said.contains("the upgrade of databases.primary stopped"),
        "{said}"
    );
    assert!(said.contains("--abort"), "{said}");
    assert!(said.contains("the container stopped"), "{said}");
    assert_eq!(state_step(r, &name), "subscribed");
    app_still_on_the_old_one(r, &name);

    // Run again: the old one is started first, and the tool is killed
    // once writes are stopped.
    let (said, _) = run_acting_at(upgrade_cmd(r, &name), "upgrade 8/10", |child| {
        child.kill().unwrap()
    });
    assert!(
        said.contains("databases.primary not running: up --vm local first"),
        "{said}"
    );
    assert_eq!(state_step(r, &name), "writes_stopped");
    let config = std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap();
    assert!(config.contains("state: read_only"), "{config}");
    // An `up` meanwhile (what a user might try) keeps writes stopped.
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    let web = container(&cp, "web");
    let (wrote, out) = app_sql(&web, "INSERT INTO t (note) VALUES ('during') RETURNING id");
    assert!(!wrote && out.contains("read-only"), "{out}");

    // Run again: it finishes.
    let out = ok(&sdtui(
        r,
        &["-p", &name, "pg", "upgrade", "databases.primary", "--json"],
    ));
    let done: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(done["target"], "databases.primary-17", "{out}");
    writer.wait_for_more(5, Duration::from_secs(60));
    let committed = writer.stop();
    let new = container(&cp, "postgres-primary-17");
    let (nuser, ndb) = (
        revealed_credential(r, &name, "databases.primary-17", "USER"),
        revealed_credential(r, &name, "databases.primary-17", "DATABASE"),
    );
    Writer::assert_all_present(&committed, &new, &nuser, &ndb);
    assert_eq!(
        psql(
            &new,
            &nuser,
            &ndb,
            "SELECT count(*) FROM t WHERE note NOT LIKE 'w%'"
        ),
        "200000"
    );
    let config = std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap();
    assert!(config.contains("state: stopped"), "{config}");
    assert!(common::docker::running(&cp, "postgres-primary").is_none());
    eprintln!(
        "figure: upgrade resumed twice (old instance killed, tool killed): {} rows committed by the app, all on 17; longest gap {:.1} s",
        committed.len(),
        Writer::longest_gap(&committed).as_secs_f64()
    );
}

#[test]
fn the_new_instance_never_healthy_stops_the_upgrade_and_abort_keeps_the_old_serving() {
    require_images(&["postgres:15", "postgres:17", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = deployed(r, "pgh", "127.0.104.3", 1_000);
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let before = std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap();

    // The new instance dies each time it starts, for as long as the
    // upgrade waits on it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = {
        let (stop, cp) = (stop.clone(), cp.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(c) = common::docker::running(&cp, "postgres-primary-17") {
                    let _ = docker(&["kill", &c]);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let cmd = sdtui_cmd(
        r,
        &[
            "-p",
            &name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
            "--timeout",
            "20",
        ],
    );
    let (said, succeeded) = run_acting_at(cmd, "upgrade 2/10", |_| {});
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    killer.join().unwrap();
    assert!(!succeeded, "{said}");
    assert!(
        said.contains("the upgrade of databases.primary stopped"),
        "{said}"
    );
    assert_eq!(state_step(r, &name), "added");
    app_still_on_the_old_one(r, &name);
    let web = container(&cp, "web");
    let (wrote, out) = app_sql(
        &web,
        "INSERT INTO t (note) VALUES ('meanwhile') RETURNING id",
    );
    assert!(wrote, "the old one stopped serving: {out}");

    let aborted = ok(&sdtui(
        r,
        &["-p", &name, "pg", "upgrade", "databases.primary", "--abort"],
    ));
    assert!(aborted.contains("aborted"), "{aborted}");
    assert_eq!(
        std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap(),
        before
    );
    let (_, volumes) = docker(&["volume", "ls", "-q"]);
    assert!(
        !volumes.contains(&format!("{cp}_postgres-primary-17-data")),
        "{volumes}"
    );
    let (wrote, out) = app_sql(&web, "SELECT count(*) FROM t");
    assert!(wrote && out.trim() == "1001", "{out}");
    let (wrote, out) = app_sql(&web, "SELECT count(*) FROM pg_replication_slots");
    assert!(wrote && out.trim() == "0", "{out}");
}

#[test]
fn sshd_killed_during_an_upgrade_then_it_resumes() {
    require_images(&["postgres:15", "postgres:17", "sdtui-testapp:latest"]);
    let vm = common::sshd::TestVm::start("127.0.104.4", 2304);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let name = format!("pgv{}", std::process::id());
    let _remote = common::sshd::RemoteDir::of_project(&name);
    let cp = format!("{name}-core");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n    private_ip: 127.0.104.5\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n",
            vm.addr,
            vm.port,
            vm.client_key().display()
        ),
    )
    .unwrap();
    let ssh = |args: &[&str]| {
        let mut cmd =
            common::sshd::sdtui_ssh_cmd(r, &known_hosts, &["-p", &name, "--accept-new-host"]);
        cmd.args(args).env("SDTUI_USER", "tester");
        cmd
    };
    ok(&ssh(&["up", "--timeout", "240"]).output().unwrap());
    let web = container(&cp, "web");
    let (made, out) = app_sql(
        &web,
        "CREATE TABLE t (id bigserial PRIMARY KEY, note text); INSERT INTO t (note) SELECT md5(g::text) FROM generate_series(1, 200000) g",
    );
    assert!(made, "{out}");
    let writer = Writer::start(&cp);
    writer.wait_for_more(5, Duration::from_secs(30));

    let (said, succeeded) = run_acting_at(
        ssh(&[
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
            "--timeout",
            "120",
        ]),
        "upgrade 6/10",
        |_| vm.stop(),
    );
    assert!(!succeeded, "{said}");
    assert!(
        said.contains("the upgrade of databases.primary stopped"),
        "{said}"
    );
    assert!(said.contains("SSH session was lost"), "{said}");
    assert_eq!(state_step(r, &name), "subscribed");
    // Unreachable: resuming says so and changes nothing.
    let out = ssh(&["pg", "upgrade", "databases.primary"])
        .output()
        .unwrap();
    let err = fails(&out);
    assert!(err.contains("127.0.104.4"), "{err}");
    assert_eq!(state_step(r, &name), "subscribed");

    vm.start_again();
    let out = ok(&ssh(&["pg", "upgrade", "databases.primary", "--json"])
        .output()
        .unwrap());
    let done: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(done["target"], "databases.primary-17", "{out}");
    writer.wait_for_more(5, Duration::from_secs(60));
    let committed = writer.stop();
    let new = container(&cp, "postgres-primary-17");
    let (nuser, ndb) = (
        revealed_credential(r, &name, "databases.primary-17", "USER"),
        revealed_credential(r, &name, "databases.primary-17", "DATABASE"),
    );
    Writer::assert_all_present(&committed, &new, &nuser, &ndb);
    let (_, version) = app_sql(&container(&cp, "web"), "SHOW server_version");
    assert!(version.trim().starts_with("17"), "{version}");
    ok(&ssh(&["down"]).output().unwrap());
}
