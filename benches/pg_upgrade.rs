//! Figures for `pg upgrade` by changeover (issue 12) on a database big
//! enough for the difference to show: the upgrade 15 → 17 with the test
//! app inserting through its DATABASE_URL throughout, its total time and
//! its write-unavailable window (as the tool reports it and as the
//! writer saw it), against a plain `pg_dump | pg_restore` of the same data
//! in the same run — what Dokku's `postgres:upgrade` and `--allow-dump`
//! keep writes stopped for.
//!
//! Needs postgres:15, postgres:17 and sdtui-testapp (tests/images/build.sh).
//! Run: `cargo bench --bench pg_upgrade` (`ROWS=N`, default 3 000 000).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../tests/common/docker.rs"]
mod test_docker;

use test_docker::{Cleanup, Writer, app_sql, container, docker, psql};

/// The bench's own address (tests use others).
const ADDR: &str = "127.0.105.1";

fn sdtui(root: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(args)
        .env("SDTUI_ROOT", root)
        .env("SDTUI_ADDONS", root.join(".none"))
        .env("SDTUI_USER", "bench")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sdtui {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn credential(root: &Path, project: &str, addon: &str, key: &str) -> String {
    let out = sdtui(
        root,
        &[
            "-p",
            project,
            "addons",
            "credentials",
            addon,
            "--reveal",
            key,
            "--json",
        ],
    );
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == key)
        .unwrap_or_else(|| panic!("no {key} in {out}"))["value"]
        .as_str()
        .unwrap()
        .to_string()
}

fn main() {
    let rows: u64 = std::env::var("ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3_000_000);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = "pgbench";
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    std::fs::create_dir_all(r.join(name)).unwrap();
    std::fs::write(
        r.join(name).join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: {ADDR}\naddons:\n  databases:\n    primary:\n      type: postgres\n      plan: standard\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.primary as DATABASE\n"
        ),
    )
    .unwrap();
    sdtui(r, &["-p", name, "up", "--timeout", "180"]);
    let web = container(&cp, "web");
    let (made, out) = app_sql(
        &web,
        &format!(
            "CREATE TABLE t (id bigserial PRIMARY KEY, note text, at timestamptz DEFAULT now()); INSERT INTO t (note) SELECT md5(g::text) FROM generate_series(1, {rows}) g"
        ),
    );
    assert!(made, "{out}");
    let (user, db) = (
        credential(r, name, "databases.primary", "USER"),
        credential(r, name, "databases.primary", "DATABASE"),
    );
    let old = container(&cp, "postgres-primary");
    let size = psql(
        &old,
        &user,
        &db,
        "SELECT pg_size_pretty(pg_database_size(current_database()))",
    );

    // The plain dump and restore of the same data, on the same engine.
    psql(&old, &user, &db, "CREATE DATABASE scratch");
    let dumping = Instant::now();
    let (done, out) = docker(&[
        "exec",
        &old,
        "bash",
        "-o",
        "pipefail",
        "-c",
        &format!("pg_dump -Fc -U {user} -d {db} | pg_restore --no-owner -U {user} -d scratch"),
    ]);
    assert!(done, "{out}");
    let dump = dumping.elapsed();
    psql(&old, &user, &db, "DROP DATABASE scratch");

    let writer = Writer::start(&cp);
    writer.wait_for_more(5, Duration::from_secs(30));
    let out = sdtui(
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
            "1800",
            "--json",
        ],
    );
    let upgraded: serde_json::Value = serde_json::from_str(&out).unwrap();
    writer.wait_for_more(5, Duration::from_secs(60));
    let committed = writer.stop();
    let new = container(&cp, "postgres-primary-17");
    let (nuser, ndb) = (
        credential(r, name, "databases.primary-17", "USER"),
        credential(r, name, "databases.primary-17", "DATABASE"),
    );
    Writer::assert_all_present(&committed, &new, &nuser, &ndb);
    println!("pg upgrade 15 → 17 of {rows} rows ({size}), the app writing throughout:");
    println!(
        "  whole upgrade                     {:>7.1} s",
        upgraded["seconds"].as_f64().unwrap()
    );
    println!(
        "  writes unavailable (tool)         {:>7.1} s",
        upgraded["window_seconds"].as_f64().unwrap()
    );
    println!(
        "  longest gap between app commits   {:>7.1} s",
        Writer::longest_gap(&committed).as_secs_f64()
    );
    println!(
        "  pg_dump | pg_restore, same data   {:>7.1} s  (writes stopped this long by a dump upgrade)",
        dump.as_secs_f64()
    );
    println!(
        "  rows the app committed meanwhile  {:>7}    (all on 17)",
        committed.len()
    );
    sdtui(r, &["-p", name, "down"]);
}
