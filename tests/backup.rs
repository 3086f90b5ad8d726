//! Backups on the real local engine: data written, backed up and drilled,
//! altered, restored, read back identical; a drill that catches a dump
//! with a table missing; an altered backup refused by its checksum before
//! anything is touched; a backup of a stopped addon refused with nothing
//! written; the throwaway drill containers always gone.

mod common;

use std::path::Path;

use common::docker::{Cleanup, container, docker, psql, require_images};
use common::{fails, ok, sdtui};

fn project(root: &Path, name: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.71\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n    spare:\n      type: postgres\n      plan: small\n  caches:\n    session:\n      type: redis\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n      - addon: databases.main\n        as: REPORTS\n        access: readonly\n    env:\n      CHECK_PREFIXES: DATABASE,REPORTS\n",
    )
    .unwrap();
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn manifests(root: &Path, name: &str, addon: &str) -> Vec<serde_json::Value> {
    let out = ok(&sdtui(
        root,
        &["-p", name, "db", "backups", addon, "--json"],
    ));
    serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap()
}

/// This project's drill containers (other tests drill at the same time).
fn drill_containers(project: &str) -> String {
    docker(&[
        "ps",
        "-aq",
        "--filter",
        "label=sdtui.drill",
        "--filter",
        &format!("label=sdtui.project={project}"),
    ])
    .1
    .trim()
    .to_string()
}

#[test]
fn backup_drill_alter_restore_read_back_identical() {
    require_images(&["postgres:15", "redis:7", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("bk{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    project(r, &name);
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));

    let pg = container(&format!("{name}-local"), "postgres-main");
    let (user, db) = (format!("{name}_main_user"), format!("{name}_main"));
    psql(
        &pg,
        &user,
        &db,
        "CREATE SCHEMA audit; CREATE TABLE audit.log (id serial PRIMARY KEY, what text); \
        CREATE TABLE t (id bigserial PRIMARY KEY, v text); \
        INSERT INTO t (v) SELECT md5(g::text) FROM generate_series(1, 5000) g; \
        INSERT INTO audit.log (what) SELECT 'x' || g FROM generate_series(1, 70) g; \
        CREATE TABLE t2 (x int); INSERT INTO t2 SELECT generate_series(1, 50);",
    );
    let digest = "SELECT count(*) || ':' || md5(string_agg(id || v, ',' ORDER BY id)) FROM t";
    let original = psql(&pg, &user, &db, digest);

    // A backup, drilled: passed, with every table's count compared.
    let out = ok(&sdtui(r, &["-p", &name, "db", "backup", "databases.main"]));
    assert!(out.contains("passed"), "{out}");
    let list = manifests(r, &name, "databases.main");
    assert_eq!(list.len(), 1, "{list:?}");
    let good = &list[0];
    assert_eq!(good["drill"]["status"], "passed", "{good}");
    assert_eq!(good["inventory"]["table public.t"], "5000", "{good}");
    assert_eq!(good["inventory"]["table audit.log"], "70", "{good}");
    assert_eq!(good["inventory"]["sequence public.t_id_seq"], "", "{good}");
    assert!(good["drill"]["checked"].as_u64().unwrap() >= 6, "{good}");
    let dir = r.join(&name).join(".sdtui/backups/databases.main");
    let file = dir.join(good["file"].as_str().unwrap());
    let good_id = good["id"].as_str().unwrap().to_string();
    assert!(
        good_id.starts_with("main-") && good_id.ends_with('Z'),
        "{good_id}"
    );
    assert_eq!(sha256(&file), good["sha256"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        good["size"].as_u64().unwrap()
    );
    // Only finished files: no partial one left beside them.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    assert_eq!(
        drill_containers(&name),
        "",
        "a drill container was left behind"
    );

    // A dump that leaves a table out (a user type overriding postgres):
    // the drill catches it, names the table, and the backup is kept, failed.
    let user_types = r.join(".no-user-addons/postgres");
    std::fs::create_dir_all(&user_types).unwrap();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("addons/postgres/addon.yml"),
    )
    .unwrap();
    let broken = shipped.replace(
        "\"pg_dump\", \"-Fc\",",
        "\"pg_dump\", \"-Fc\", \"-T\", \"t2\",",
    );
    assert_ne!(broken, shipped);
    // A user type that replaces a built-in one says so.
    let broken = format!("overrides: true\n{broken}");
    std::fs::write(user_types.join("addon.yml"), broken).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let err = fails(&sdtui(r, &["-p", &name, "db", "backup", "databases.main"]));
    assert!(
        err.contains("FAILED its restore drill")
            && err.contains(
                "table public.t2: 50 in the source at dump time, absent in the restored copy"
            ),
        "{err}"
    );
    std::fs::remove_dir_all(r.join(".no-user-addons")).unwrap();
    let list = manifests(r, &name, "databases.main");
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["drill"]["status"], "failed");
    let table = ok(&sdtui(r, &["-p", &name, "db", "backups"]));
    assert!(table.contains("failed: table public.t2"), "{table}");
    assert_eq!(
        drill_containers(&name),
        "",
        "a failed drill left its container"
    );

    // A third backup, then altered on disk: refused by its checksum, and
    // the database untouched.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(&sdtui(r, &["-p", &name, "db", "backup", "databases.main"]));
    let list = manifests(r, &name, "databases.main");
    let third = list[2]["id"].as_str().unwrap().to_string();
    let third_file = dir.join(list[2]["file"].as_str().unwrap());
    let mut bytes = std::fs::read(&third_file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&third_file, &bytes).unwrap();

    // Alter the data: rows changed and deleted, a table added.
    psql(
        &pg,
        &user,
        &db,
        "UPDATE t SET v = 'changed' WHERE id <= 100; DELETE FROM t WHERE id > 4000; \
        CREATE TABLE made_later (x int); DROP TABLE audit.log;",
    );
    assert_ne!(psql(&pg, &user, &db, digest), original);

    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "databases.main",
            &third,
            "--confirm",
            "databases.main",
        ],
    ));
    assert!(
        err.contains("altered or truncated") && err.contains("nothing was touched"),
        "{err}"
    );
    assert_eq!(psql(&pg, &user, &db, "SELECT count(*) FROM t"), "4000");

    // No confirmation, or the wrong name: refused, nothing touched.
    let err = fails(&sdtui(
        r,
        &["-p", &name, "db", "restore", "databases.main", &good_id],
    ));
    assert!(err.contains("--confirm databases.main"), "{err}");
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "databases.main",
            &good_id,
            "--confirm",
            "databases.spare",
        ],
    ));
    assert!(err.contains("not confirmed"), "{err}");
    // Another type: refused.
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "databases.main",
            &good_id,
            "--into",
            "caches.session",
            "--confirm",
            "caches.session",
        ],
    ));
    assert!(err.contains("same type"), "{err}");
    assert_eq!(psql(&pg, &user, &db, "SELECT count(*) FROM t"), "4000");

    // The good backup restored: the plan first, the app stopped and
    // started, the data identical, the later table gone.
    let web_before = container(&format!("{name}-local"), "web");
    let out = sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "databases.main",
            &good_id,
            "--confirm",
            "databases.main",
        ],
    );
    ok(&out);
    let steps = String::from_utf8_lossy(&out.stderr);
    assert!(
        steps.contains("stop web")
            && steps.contains("stopping web")
            && steps.contains("starting web"),
        "{steps}"
    );
    assert_eq!(psql(&pg, &user, &db, digest), original);
    assert_eq!(
        psql(&pg, &user, &db, "SELECT count(*) FROM audit.log"),
        "70"
    );
    assert_eq!(
        psql(
            &pg,
            &user,
            &db,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'made_later'"
        ),
        "0"
    );
    // The sequence came back too: the next id follows the restored rows.
    assert_eq!(
        psql(
            &pg,
            &user,
            &db,
            "INSERT INTO t (v) VALUES ('n') RETURNING id"
        ),
        "5001\nINSERT 0 1"
    );
    // The readonly role reads again (provisioning re-ran), the app is back.
    let ro = format!("{name}_main_readonly");
    assert_eq!(psql(&pg, &ro, &db, "SELECT count(*) FROM t2"), "50");
    let web_after = container(&format!("{name}-local"), "web");
    assert_eq!(web_before, web_after);
    let (passed, report) = docker(&["exec", &web_after, "check"]);
    assert!(passed, "{report}");

    // --into another postgres instance on the same VM: a fork.
    let spare = container(&format!("{name}-local"), "postgres-spare");
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "databases.main",
            &good_id,
            "--into",
            "databases.spare",
            "--confirm",
            "databases.spare",
        ],
    ));
    let (su, sdb) = (format!("{name}_spare_user"), format!("{name}_spare"));
    assert_eq!(psql(&spare, &su, &sdb, digest), original);

    let history = ok(&sdtui(r, &["-p", &name, "history"]));
    assert!(
        history.contains("db backup databases.main")
            && history.contains("db restore databases.main"),
        "{history}"
    );
    assert_eq!(drill_containers(&name), "");
}

/// A small tmpfs mounted over a folder (root only, as the test machine
/// runs), unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs to fill (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).output();
    }
}

#[test]
fn redis_backup_drilled_and_a_stopped_addon_refused() {
    require_images(&["redis:7"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("bkr{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.72\naddons:\n  caches:\n    session:\n      type: redis\n      plan: small\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    // The backups folder on a 256 KiB file system, to fill it later.
    let backups = dir.join(".sdtui/backups/caches.session");
    let _small_disk = SmallDisk::mount(&backups, "256k");
    let redis = container(&format!("{name}-local"), "redis-session");
    let cli = |args: &str| {
        let (done, out) = docker(&[
            "exec",
            &redis,
            "sh",
            "-c",
            &format!("REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli --no-auth-warning {args}"),
        ]);
        assert!(done, "{out}");
        out.trim().to_string()
    };
    let (done, o) = docker(&[
        "exec",
        &redis,
        "sh",
        "-c",
        "i=0; while [ $i -lt 300 ]; do echo \"SET k$i v$i\"; i=$((i+1)); done | REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli --no-auth-warning >/dev/null",
    ]);
    assert!(done, "{o}");
    cli("-n 3 SET other 1");

    // A drill container whose process was killed (no destructor ran) is
    // swept by the next backup; one of a live process would not be.
    let host = String::from_utf8(
        std::process::Command::new("hostname")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let (made, leftover) = docker(&[
        "create",
        "--label",
        "sdtui.drill=old",
        "--label",
        &format!("sdtui.project={name}"),
        "--label",
        &format!("sdtui.drill.owner={} 4194303999", host.trim()),
        "redis:7",
    ]);
    assert!(made, "{leftover}");

    let out = ok(&sdtui(r, &["-p", &name, "db", "backup", "caches.session"]));
    assert!(out.contains("passed"), "{out}");
    let (_, found) = docker(&[
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        "label=sdtui.drill=old",
    ]);
    assert_eq!(
        found.trim(),
        "",
        "the leftover drill container was not swept"
    );
    let list = manifests(r, &name, "caches.session");
    assert_eq!(list[0]["inventory"]["keys db0"], "300", "{:?}", list[0]);
    assert_eq!(list[0]["inventory"]["keys db3"], "1");
    assert_eq!(list[0]["drill"]["status"], "passed");
    assert_eq!(drill_containers(&name), "");

    // Restore after a flush: the keys are back.
    cli("FLUSHALL");
    let id = list[0]["id"].as_str().unwrap();
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "caches.session",
            id,
            "--confirm",
            "caches.session",
        ],
    ));
    let redis = container(&format!("{name}-local"), "redis-session");
    let (done, out) = docker(&[
        "exec",
        &redis,
        "sh",
        "-c",
        "REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli --no-auth-warning DBSIZE",
    ]);
    assert!(done && out.trim() == "300", "{out}");

    // The VM's disk fills up during the dump: the failure is shown, the
    // partial file removed, the earlier backup kept.
    let (done, o) = docker(&[
        "exec",
        &redis,
        "sh",
        "-c",
        "head -c 600000 /dev/urandom | REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli --no-auth-warning -x SET big",
    ]);
    assert!(done, "{o}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let err = fails(&sdtui(r, &["-p", &name, "db", "backup", "caches.session"]));
    assert!(
        err.contains("failed on VM local") && err.contains("partial file was removed"),
        "{err}"
    );
    let mut left: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [format!("{id}.json"), format!("{id}.rdb")]);
    assert_eq!(manifests(r, &name, "caches.session").len(), 1);

    // Stopped: refused, nothing written.
    let (stopped, o) = docker(&["stop", &redis]);
    assert!(stopped, "{o}");
    let err = fails(&sdtui(r, &["-p", &name, "db", "backup", "caches.session"]));
    assert!(
        err.contains("is not running")
            && err.contains("nothing was backed up")
            && err.contains("sdtui -p"),
        "{err}"
    );
    let files = std::fs::read_dir(&backups).unwrap().count();
    assert_eq!(files, 2, "one backup and its manifest, nothing more");
}

#[test]
fn mariadb_backup_drilled_and_restored() {
    require_images(&["mariadb:10.11"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("bkm{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.73\naddons:\n  databases:\n    shop:\n      type: mariadb\n      plan: small\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "180"]));
    let db = container(&format!("{name}-local"), "mariadb-shop");
    let sql = |q: &str| {
        let (done, out) = docker(&[
            "exec",
            &db,
            "sh",
            "-c",
            "MYSQL_PWD=\"$MARIADB_ROOT_PASSWORD\" mariadb -uroot -h 127.0.0.1 -N -B \"$MARIADB_DATABASE\" -e \"$1\"",
            "sh",
            q,
        ]);
        assert!(done, "{q}: {out}");
        out.trim().to_string()
    };
    sql(
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40)); INSERT INTO items (v) SELECT CONCAT('v', seq) FROM seq_1_to_1200; CREATE TABLE `odd name` (x INT); INSERT INTO `odd name` VALUES (1), (2);",
    );
    let out = ok(&sdtui(r, &["-p", &name, "db", "backup", "databases.shop"]));
    assert!(out.contains("passed"), "{out}");
    let list = manifests(r, &name, "databases.shop");
    assert_eq!(list[0]["inventory"]["table items"], "1200", "{:?}", list[0]);
    assert_eq!(list[0]["inventory"]["table odd name"], "2", "{:?}", list[0]);
    sql("DELETE FROM items WHERE id > 10; CREATE TABLE made_later (x INT)");
    let id = list[0]["id"].as_str().unwrap();
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "databases.shop",
            id,
            "--confirm",
            "databases.shop",
        ],
    ));
    assert_eq!(sql("SELECT count(*) FROM items"), "1200");
    assert_eq!(
        sql(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'made_later'"
        ),
        "0"
    );
    // The application user still gets in.
    let (done, out) = docker(&[
        "exec",
        &db,
        "sh",
        "-c",
        "MYSQL_PWD=\"$MARIADB_PASSWORD\" mariadb -u\"$MARIADB_USER\" -h 127.0.0.1 -N -B \"$MARIADB_DATABASE\" -e 'SELECT count(*) FROM `odd name`'",
    ]);
    assert!(done && out.trim() == "2", "{out}");
    assert_eq!(drill_containers(&name), "");
}

#[test]
fn a_bad_backup_section_in_a_user_type_is_refused_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("addons/redis/addon.yml"),
    )
    .unwrap()
    .replace("name: redis", "name: myredis");
    let dir = r.join(".no-user-addons/myredis");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("addon.yml");

    // Two ways to restore: which one is meant is not guessed.
    let both = shipped.replace(
        "    file: /data/dump.rdb",
        "    file: /data/dump.rdb\n    command: [\"redis-cli\"]",
    );
    std::fs::write(&file, &both).unwrap();
    let err = fails(&sdtui(r, &["catalog"]));
    assert!(
        err.contains(&file.display().to_string())
            && err.contains("backup.restore needs exactly one of command: or file:")
            && err.contains("README.md"),
        "{err}"
    );

    // A misspelt field: its line and column.
    let typo = shipped.replace("  dump:\n", "  dumps:\n");
    std::fs::write(&file, &typo).unwrap();
    let err = fails(&sdtui(r, &["catalog"]));
    let line = typo.lines().position(|l| l == "  dumps:").unwrap() + 1;
    assert!(
        err.contains(&file.display().to_string())
            && err.contains(&format!("{line}:"))
            && err.contains("dumps"),
        "{err}"
    );
}
