//! `pg upgrade` 15 → 17 on the real local engine, with the app writing
//! throughout: refused (nothing written) while a table has no primary key;
//! the dry run lists every step; an upgrade killed mid-way is aborted
//! (the old instance serving, writable, no slot or publication left, the
//! new one gone with its volume); then, with a writer inserting through
//! the app's DATABASE_URL, an upgrade killed while it copies the rows is
//! run again and resumes to the end; every row the writer saw
//! committed is on the new instance, the sequence carries on, the old one
//! is stopped with its volume kept until `--purge`. Figures: the write-
//! unavailable window as the tool and as the writer saw it, against a
//! plain dump and restore of the same data in the same run.
//! Run under `flock /tmp/sdtui-docker-tests.lock`.

mod common;

use std::time::{Duration, Instant};

use common::docker::{Cleanup, Writer, app_sql, container, docker, psql, require_images, running};
use common::{fails, ok, revealed_credential, run_acting_at, sdtui, sdtui_cmd};

const ADDR: &str = "127.0.98.1";

/// Starts `pg upgrade` and kills it (SIGKILL) once it prints a line that
/// starts with `at`; returns what it printed.
fn killed_at(r: &std::path::Path, name: &str, at: &str) -> String {
    let cmd = sdtui_cmd(
        r,
        &[
            "-p",
            name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
        ],
    );
    run_acting_at(cmd, at, |child| child.kill().unwrap()).0
}

#[test]
fn upgrade_15_to_17_with_the_app_writing_throughout() {
    require_images(&["postgres:15", "postgres:17", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("pgu{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: {ADDR}\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n"
        ),
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let (user, db) = (
        revealed_credential(r, &name, "databases.primary", "USER"),
        revealed_credential(r, &name, "databases.primary", "DATABASE"),
    );
    let old = container(&cp, "postgres-primary");
    psql(
        &old,
        &user,
        &db,
        "CREATE TABLE t (id bigserial PRIMARY KEY, note text); INSERT INTO t (note) SELECT md5(g::text) FROM generate_series(1, 200000) g; CREATE TABLE nopk (x int)",
    );

    // What logical replication cannot carry: refused, nothing written.
    let before = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
        ],
    ));
    assert!(err.contains("public.nopk"), "{err}");
    assert!(err.contains("--allow-dump"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.yml")).unwrap(),
        before
    );
    assert!(
        !dir.join("pg-upgrades")
            .join("databases.primary.json")
            .exists()
    );
    psql(&old, &user, &db, "ALTER TABLE nopk ADD PRIMARY KEY (x)");
    // Not newer: refused.
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "14",
        ],
    ));
    assert!(err.contains("not a newer major version"), "{err}");

    let dry = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
            "--dry-run",
        ],
    ));
    assert!(dry.contains("+    primary-17:"), "{dry}");
    assert!(dry.contains("by logical replication"), "{dry}");
    assert!(
        dry.contains("subscription on databases.primary-17"),
        "{dry}"
    );
    assert!(dry.contains("nothing was changed"), "{dry}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.yml")).unwrap(),
        before
    );

    // Killed mid-way (while replication is being set up), then aborted.
    killed_at(r, &name, "upgrade 5/10");
    let state = std::fs::read_to_string(dir.join("pg-upgrades/databases.primary.json")).unwrap();
    assert!(state.contains("\"step\": \"schema\""), "{state}");
    let aborted = ok(&sdtui(
        r,
        &["-p", &name, "pg", "upgrade", "databases.primary", "--abort"],
    ));
    assert!(aborted.contains("aborted"), "{aborted}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.yml")).unwrap(),
        before
    );
    assert!(running(&cp, "postgres-primary-17").is_none());
    let (_, volumes) = docker(&["volume", "ls", "-q"]);
    assert!(
        !volumes.contains(&format!("{cp}_postgres-primary-17-data")),
        "{volumes}"
    );
    assert_eq!(
        psql(
            &old,
            &user,
            &db,
            "SELECT (SELECT count(*) FROM pg_replication_slots) + (SELECT count(*) FROM pg_publication)"
        ),
        "0"
    );
    let web = container(&cp, "web");
    let (wrote, out) = app_sql(
        &web,
        "INSERT INTO t (note) VALUES ('after abort') RETURNING id",
    );
    assert!(wrote, "writable after the abort: {out}");

    // The upgrade, with a writer going through the app throughout.
    let writer = Writer::start(&cp);
    std::thread::sleep(Duration::from_secs(2));
    // Killed again while the rows are copied; run again, it resumes.
    killed_at(r, &name, "upgrade 6/10");
    let resumed = sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
            "--json",
        ],
    );
    let progress = String::from_utf8_lossy(&resumed.stderr).to_string();
    assert!(
        progress.contains("resuming the upgrade of databases.primary to 17 after:"),
        "{progress}"
    );
    let out = ok(&resumed);
    let upgraded: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(upgraded["target"], "databases.primary-17", "{out}");
    // A few writes on the new instance, then the writer stops.
    writer.wait_for_more(5, Duration::from_secs(60));
    let committed = writer.stop();
    assert!(committed.len() > 10, "{}", committed.len());

    // Every committed row is on the new instance; ids never repeat.
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
        "200001"
    );
    assert!(psql(&new, &nuser, &ndb, "SHOW server_version").starts_with("17"));
    let web = container(&cp, "web");
    let (_, version) = app_sql(&web, "SHOW server_version");
    assert!(version.trim().starts_with("17"), "{version}");

    // The old one: stopped, its volume kept; no state file left.
    let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    assert!(config.contains("state: stopped"), "{config}");
    assert!(
        config.contains("databases.primary-17 as DATABASE"),
        "{config}"
    );
    assert!(running(&cp, "postgres-primary").is_none());
    let (_, volumes) = docker(&["volume", "ls", "-q"]);
    assert!(
        volumes.contains(&format!("{cp}_postgres-primary-data")),
        "{volumes}"
    );
    assert!(!dir.join("pg-upgrades/databases.primary.json").exists());

    // Figures: the window (tool and writer), the same data dumped and
    // restored, the whole upgrade.
    let gap = Writer::longest_gap(&committed);
    psql(&new, &nuser, &ndb, "CREATE DATABASE scratch");
    let dumped = Instant::now();
    let (done, out) = docker(&[
        "exec",
        &new,
        "bash",
        "-o",
        "pipefail",
        "-c",
        &format!("pg_dump -Fc -U {nuser} -d {ndb} | pg_restore --no-owner -U {nuser} -d scratch"),
    ]);
    assert!(done, "{out}");
    let dump = dumped.elapsed();
    eprintln!(
        "figure: pg upgrade 15→17 of 200k rows in {:.1} s; writes unavailable {:.1} s (tool), longest gap between the writer's commits {:.1} s; a plain pg_dump|pg_restore of the same data {:.1} s; {} rows written during the upgrade, all present",
        upgraded["seconds"].as_f64().unwrap(),
        upgraded["window_seconds"].as_f64().unwrap(),
        gap.as_secs_f64(),
        dump.as_secs_f64(),
        committed.len()
    );

    // --purge: the name typed back, then the old one and its volume go.
    let err = fails(&sdtui(
        r,
        &["-p", &name, "pg", "upgrade", "databases.primary", "--purge"],
    ));
    assert!(err.contains("--confirm databases.primary"), "{err}");
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "upgrade",
            "databases.primary",
            "--purge",
            "--confirm",
            "databases.primary",
        ],
    ));
    let (_, volumes) = docker(&["volume", "ls", "-q"]);
    assert!(
        !volumes.contains(&format!("{cp}_postgres-primary-data")),
        "{volumes}"
    );
    let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    assert!(!config.contains("    primary:"), "{config}");
}

/// What logical replication cannot carry (a table without a primary key,
/// a large object): `--allow-dump` upgrades by dump and restore with the
/// writes stopped for the whole copy, and every row and object arrives.
#[test]
fn allow_dump_upgrades_what_replication_cannot_carry() {
    require_images(&["postgres:15", "postgres:17", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("pgd{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.98.5\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let (user, db) = (
        revealed_credential(r, &name, "databases.primary", "USER"),
        revealed_credential(r, &name, "databases.primary", "DATABASE"),
    );
    let old = container(&cp, "postgres-primary");
    psql(
        &old,
        &user,
        &db,
        "CREATE TABLE events (at int, what text); INSERT INTO events SELECT g, 'e' || g FROM generate_series(1, 5000) g; SELECT lo_from_bytea(0, 'a large object')",
    );
    let dry = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
            "--dry-run",
        ],
    ));
    assert!(dry.contains("large objects: 1"), "{dry}");
    assert!(dry.contains("public.events"), "{dry}");
    assert!(dry.contains("by dump and restore"), "{dry}");
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "upgrade",
            "databases.primary",
            "--version",
            "17",
            "--allow-dump",
            "--json",
        ],
    ));
    let upgraded: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(
        upgraded["method"]
            .as_str()
            .unwrap()
            .starts_with("dump and restore"),
        "{out}"
    );
    eprintln!(
        "figure: pg upgrade --allow-dump of 5000 rows in {:.1} s, writes unavailable {:.1} s",
        upgraded["seconds"].as_f64().unwrap(),
        upgraded["window_seconds"].as_f64().unwrap()
    );
    let new = container(&cp, "postgres-primary-17");
    let (nuser, ndb) = (
        revealed_credential(r, &name, "databases.primary-17", "USER"),
        revealed_credential(r, &name, "databases.primary-17", "DATABASE"),
    );
    assert_eq!(
        psql(&new, &nuser, &ndb, "SELECT count(*) FROM events"),
        "5000"
    );
    assert_eq!(
        psql(
            &new,
            &nuser,
            &ndb,
            "SELECT count(*) FROM pg_largeobject_metadata"
        ),
        "1"
    );
    let web = container(&cp, "web");
    let (wrote, said) = app_sql(
        &web,
        "INSERT INTO events VALUES (5001, 'on 17') RETURNING at",
    );
    assert!(wrote && said.trim() == "5001", "{said}");
    assert!(running(&cp, "postgres-primary").is_none());
}
