//! Scheduled backups for real: the backup service on the local engine fires
//! each minute, drills every backup inside its own container, keeps exactly
//! `keep` good ones; `db backups` lists them and `db restore` brings the
//! data back; the service survives `docker restart`; a truncated dump is
//! caught by the drill, kept as failed and never counted; `status` shows
//! both verdicts; mariadb's service drills its backups too.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::docker::{Cleanup, container, docker, psql, require_images};
use common::{ok, sdtui, sdtui_env, secret};

/// The scheduled manifests in a backups folder, read from the files.
pub fn scheduled(dir: &Path) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = std::fs::read_dir(dir)
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
        .filter(|m: &serde_json::Value| m["trigger"] == "schedule")
        .collect();
    out.sort_by_key(|m| m["id"].as_str().unwrap_or_default().to_string());
    out
}

fn with_drill(list: &[serde_json::Value], status: &str) -> Vec<String> {
    list.iter()
        .filter(|m| m["drill"]["status"] == status)
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_minute_schedule_keeps_exactly_keep_good_backups_that_restore() {
    require_images(&["postgres:15", "mariadb:10.11"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("sch{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.71.3\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n      backup: {every: \"* * * * *\", keep: 2}\n    broken:\n      type: postgres\n      plan: small\n      backup: {every: \"* * * * *\", keep: 2}\n    shop:\n      type: mariadb\n      plan: small\n      backup: {every: \"* * * * *\", keep: 2}\n",
    )
    .unwrap();
    // The broken addon's service cuts each dump in half (debug builds only).
    ok(&sdtui_env(
        r,
        &["-p", &name, "up", "--timeout", "180"],
        &[("SDTUI_FAULT_SCHEDULED_TRUNCATE", "databases.broken".into())],
    ));
    let pg = container(&compose_project, "postgres-main");
    let (user, db) = (format!("{name}_main_user"), format!("{name}_main"));
    psql(
        &pg,
        &user,
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, v text); \
         INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 3000) g;",
    );
    let maria = container(&compose_project, "mariadb-shop");
    let root_pw = secret(&dir.join("secrets.yml"), "shop", "ROOT_PASSWORD");
    let (done, out) = docker(&[
        "exec",
        "-e",
        &format!("MYSQL_PWD={root_pw}"),
        &maria,
        "mariadb",
        "-uroot",
        "-h",
        "127.0.0.1",
        &format!("{name}_shop"),
        "-e",
        "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT seq FROM seq_1_to_250;",
    ]);
    assert!(done, "{out}");
    let data_written = chrono::Utc::now();
    let digest = "SELECT count(*) || ':' || md5(string_agg(id || v, ',' ORDER BY id)) FROM t";
    let original = psql(&pg, &user, &db, digest);

    let main_dir = dir.join(".sdtui/backups/databases.main");
    let broken_dir = dir.join(".sdtui/backups/databases.broken");
    let service = container(&compose_project, "postgres-main_backup");
    // Every good scheduled backup seen, and the service restarted once
    // after the first, so the later ones prove it survived.
    let mut good_seen = BTreeSet::new();
    let mut restarted = false;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let list = scheduled(&main_dir);
        good_seen.extend(with_drill(&list, "passed"));
        if !restarted && !good_seen.is_empty() {
            let (done, out) = docker(&["restart", &service]);
            assert!(done, "{out}");
            restarted = true;
        }
        let broken_failed = with_drill(&scheduled(&broken_dir), "failed");
        let maria_rows = scheduled(&dir.join(".sdtui/backups/databases.shop"))
            .iter()
            .any(|m| m["drill"]["status"] == "passed" && m["inventory"]["table orders"] == "250");
        if good_seen.len() >= 3 && !broken_failed.is_empty() && maria_rows {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backup service made {} good backup(s) of databases.main ({good_seen:?}), {} failed one(s) of databases.broken, and mariadb's drilled backup with 250 orders: {maria_rows}, in 240 s; want 3, 1 and true. Its log:\n{}",
            good_seen.len(),
            broken_failed.len(),
            docker(&["logs", "--tail", "30", &service]).1
        );
        std::thread::sleep(Duration::from_secs(2));
    }

    // Exactly `keep` good scheduled backups remain (a backup being pruned
    // right now settles within seconds), each drilled and checksummed.
    let settle = Instant::now() + Duration::from_secs(30);
    let kept = loop {
        let list = scheduled(&main_dir);
        let good = with_drill(&list, "passed");
        if good.len() == 2 || Instant::now() > settle {
            break list;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let kept_good: Vec<&serde_json::Value> = kept
        .iter()
        .filter(|m| m["drill"]["status"] == "passed")
        .collect();
    assert_eq!(kept_good.len(), 2, "{kept:#?}");
    for m in &kept_good {
        let file = main_dir.join(m["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(bytes.len() as u64, m["size"].as_u64().unwrap());
        assert!(m["drill"]["checked"].as_u64().unwrap() >= 1, "{m}");
    }
    // Pruned ones took their files along: only kept backups' files remain.
    let files: BTreeSet<String> = std::fs::read_dir(&main_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pgdump"))
        .collect();
    let kept_files: BTreeSet<String> = kept
        .iter()
        .map(|m| m["file"].as_str().unwrap().to_string())
        .collect();
    assert!(files.is_subset(&kept_files), "{files:?} vs {kept_files:?}");
    assert!(
        !std::fs::read_dir(&main_dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("partial")),
        "a partial file was left"
    );

    // `db backups` lists them, made by the schedule.
    let listed: Vec<serde_json::Value> = serde_json::from_str(&ok(&sdtui(
        r,
        &["-p", &name, "db", "backups", "databases.main", "--json"],
    )))
    .unwrap();
    for m in &kept_good {
        assert!(
            listed
                .iter()
                .any(|l| l["id"] == m["id"] && l["trigger"] == "schedule"),
            "{} not listed: {listed:#?}",
            m["id"]
        );
    }
    let table = ok(&sdtui(r, &["-p", &name, "db", "backups", "databases.main"]));
    assert!(table.contains("schedule"), "{table}");

    // The broken addon's backups: every drill failed, none removed, the
    // first difference (the restore's error) recorded.
    let broken = scheduled(&broken_dir);
    assert!(!broken.is_empty());
    for m in &broken {
        assert_ne!(m["drill"]["status"], "passed", "{m}");
    }
    let failed = broken
        .iter()
        .find(|m| m["drill"]["status"] == "failed")
        .unwrap();
    assert!(
        failed["drill"]["detail"]
            .as_str()
            .unwrap()
            .contains("the restore failed"),
        "{failed}"
    );

    // status: main ok, broken failed, in the table and in --json.
    let status: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&sdtui(r, &["-p", &name, "status", "--json"]))).unwrap();
    let verdict = |service: &str| {
        status
            .iter()
            .find(|s| s["service"] == service)
            .map(|s| s["backup"]["verdict"].clone())
    };
    assert_eq!(verdict("postgres-main"), Some("ok".into()), "{status:#?}");
    assert_eq!(verdict("postgres-broken"), Some("failed".into()));
    let table = ok(&sdtui(r, &["-p", &name, "status"]));
    assert!(
        table.contains("warning: databases.broken backup failed"),
        "{table}"
    );

    // The service survived its restart and fired after it.
    let (_, state) = docker(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{.RestartCount}}",
        &service,
    ]);
    assert!(state.starts_with("running"), "{state}");

    // Restore the newest good backup (made after the data was written)
    // over altered data: the data comes back.
    let newest = kept_good.last().unwrap();
    let created =
        chrono::DateTime::parse_from_rfc3339(newest["created"].as_str().unwrap()).unwrap();
    assert!(created > data_written, "{newest}");
    psql(
        &pg,
        &user,
        &db,
        "DELETE FROM t WHERE id > 1000; UPDATE t SET v = 'x';",
    );
    assert_ne!(psql(&pg, &user, &db, digest), original);
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "databases.main",
            newest["id"].as_str().unwrap(),
            "--confirm",
            "databases.main",
        ],
    ));
    assert_eq!(psql(&pg, &user, &db, digest), original);
}
