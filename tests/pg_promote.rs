//! `pg promote` on the real local engine: a follower that has not replayed
//! its leader's last writes is refused (replay paused by hand), nothing
//! changes and the leader is writable again; then, caught up, it is
//! promoted: the app's DATABASE_URL points at it, the app (restarted)
//! writes through it, every row is there, the old leader refuses writes
//! and stays `state: read_only` until removed; a second follower, its
//! replay paused, is refused, then promoted with `--force` (the leader's
//! name typed back), saying how much it had not replayed. Run under
//! `flock /tmp/sdtui-docker-tests.lock`.

mod common;

use std::time::{Duration, Instant};

use common::docker::{Cleanup, app_sql, container, psql, require_images, try_psql};
use common::{fails, ok, revealed_credential, sdtui};

const ADDR: &str = "127.0.97.1";

fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn promote_refuses_a_lagging_follower_then_takes_over_the_attachments() {
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("pgp{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: {ADDR}\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: small\n    replica:\n      type: postgres\n      plan: small\n      follows: databases.primary\n    spare:\n      type: postgres\n      plan: small\n      follows: databases.primary\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n"
        ),
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let (user, db) = (
        revealed_credential(r, &name, "databases.primary", "USER"),
        revealed_credential(r, &name, "databases.primary", "DATABASE"),
    );
    let leader = container(&cp, "postgres-primary");
    let follower = container(&cp, "postgres-replica");
    let web = container(&cp, "web");
    let (wrote, said) = app_sql(
        &web,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 500)",
    );
    assert!(wrote, "{said}");
    wait_for("500 rows on the follower", Duration::from_secs(20), || {
        psql(&follower, &user, &db, "SELECT count(*) FROM t") == "500"
    });
    // The spare follower stops replaying: it will be behind for --force.
    let spare = container(&cp, "postgres-spare");
    wait_for("500 rows on the spare", Duration::from_secs(20), || {
        psql(&spare, &user, &db, "SELECT count(*) FROM t") == "500"
    });
    psql(&spare, &user, &db, "SELECT pg_wal_replay_pause()");

    // The plan first: nothing written.
    let before = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    let dry = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "promote",
            "databases.replica",
            "--dry-run",
        ],
    ));
    assert!(dry.contains("never two writable primaries"), "{dry}");
    assert!(dry.contains("web restarted by up"), "{dry}");
    assert!(dry.contains("+      state: read_only"), "{dry}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.yml")).unwrap(),
        before
    );

    // Replay paused on the follower, a write on the leader: refused, and
    // the leader takes writes again.
    psql(&follower, &user, &db, "SELECT pg_wal_replay_pause()");
    let (wrote, said) = app_sql(&web, "INSERT INTO t VALUES (501)");
    assert!(wrote, "{said}");
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "promote",
            "databases.replica",
            "--wait",
            "3",
        ],
    ));
    assert!(err.contains("B of WAL behind databases.primary"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("config.yml")).unwrap(),
        before
    );
    let (wrote, said) = app_sql(&web, "INSERT INTO t VALUES (502)");
    assert!(wrote, "the leader is writable again: {said}");
    // --force without the leader's name typed back: refused.
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "promote",
            "databases.replica",
            "--force",
            "--confirm",
            "databases.replica",
        ],
    ));
    assert!(err.contains("not confirmed"), "{err}");
    psql(&follower, &user, &db, "SELECT pg_wal_replay_resume()");

    // Promoted: writes stopped on the leader, caught up, switched.
    let out = ok(&sdtui(
        r,
        &["-p", &name, "pg", "promote", "databases.replica", "--json"],
    ));
    let done: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(done["promoted"]["lost_bytes"], 0, "{out}");
    assert_eq!(done["promoted"]["apps"][0], "web", "{out}");
    eprintln!(
        "figure: pg promote in {:.1} s, writes unavailable for {:.1} s",
        done["promoted"]["seconds"].as_f64().unwrap(),
        done["promoted"]["window_seconds"].as_f64().unwrap()
    );
    let config = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    assert_eq!(
        config.matches("follows: databases.primary").count(),
        1,
        "only the spare follows: {config}"
    );
    assert!(config.contains("state: read_only"), "{config}");
    assert!(config.contains("databases.replica as DATABASE"), "{config}");
    let env = ok(&sdtui(r, &["-p", &name, "config", "web"]));
    assert!(env.contains("DATABASE_HOST=postgres-replica"), "{env}");

    // The restarted app writes through its new DATABASE_URL: every row.
    let web = container(&cp, "web");
    let (wrote, said) = app_sql(&web, "INSERT INTO t VALUES (503) RETURNING id");
    assert!(wrote && said.trim() == "503", "{said}");
    let (_, count) = app_sql(&web, "SELECT count(*) FROM t");
    assert_eq!(count.trim(), "503");
    let (_, server) = app_sql(&web, "SELECT pg_is_in_recovery()");
    assert_eq!(server.trim(), "False");
    // The old leader refuses writes, keeps its rows, and stays so.
    let (wrote, said) = try_psql(&leader, &user, &db, "INSERT INTO t VALUES (9999)");
    assert!(!wrote && said.contains("read-only transaction"), "{said}");
    assert_eq!(psql(&leader, &user, &db, "SELECT count(*) FROM t"), "502");
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    let leader = container(&cp, "postgres-primary");
    let (wrote, said) = try_psql(&leader, &user, &db, "INSERT INTO t VALUES (9999)");
    assert!(
        !wrote && said.contains("read-only transaction"),
        "after up: {said}"
    );
    // The promoted follower's slot is gone from it (the spare's stays).
    assert_eq!(
        psql(
            &leader,
            &user,
            &db,
            "SELECT string_agg(slot_name, ',') FROM pg_replication_slots"
        ),
        "sdtui_follower_spare"
    );
    let history = ok(&sdtui(r, &["-p", &name, "history"]));
    assert!(
        history.contains("pg promote databases.replica"),
        "{history}"
    );

    // The spare still follows the old (read-only) leader, replay paused,
    // behind: refused without --force, the leader still read-only; with
    // --force (the leader's name typed back) promoted, saying how much it
    // had not replayed.
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "promote",
            "databases.spare",
            "--wait",
            "2",
        ],
    ));
    assert!(err.contains("B of WAL behind databases.primary"), "{err}");
    let (wrote, said) = try_psql(&leader, &user, &db, "INSERT INTO t VALUES (9998)");
    assert!(
        !wrote && said.contains("read-only transaction"),
        "still read-only: {said}"
    );
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "pg",
            "promote",
            "databases.spare",
            "--wait",
            "2",
            "--force",
            "--confirm",
            "databases.primary",
            "--json",
        ],
    ));
    let forced: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(
        forced["promoted"]["lost_bytes"].as_i64().unwrap() > 0,
        "{out}"
    );
    let spare = container(&cp, "postgres-spare");
    assert_eq!(psql(&spare, &user, &db, "SELECT pg_is_in_recovery()"), "f");
    ok(&sdtui(
        r,
        &["-p", &name, "addons", "remove", "databases.primary"],
    ));
}
