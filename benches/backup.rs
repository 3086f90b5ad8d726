//! Backup figures on the real local engine (needs tests/images/build.sh):
//! `db backup` and `db restore` throughput against plain `pg_dump -Fc` /
//! `pg_restore` run inside the same container on the same data in the same
//! run, and the time a restore drill adds per GB. Data: a generated table
//! of `BENCH_BACKUP_MB` MB (default 300) as Postgres counts it.
//! Run: `cargo bench --bench backup`.

use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "../tests/common/docker.rs"]
mod test_docker;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn main() {
    let mb: u64 = std::env::var("BENCH_BACKUP_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    let name = format!("bbk{}", std::process::id());
    let _cleanup = test_docker::Cleanup(format!("{name}-local"));
    let dir = root.path().join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.5.31\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: large\n",
    )
    .unwrap();
    let ws = sdtui::engine::Workspace::open(root.path().to_path_buf(), None).unwrap();
    let p = ws.project(Some(&name)).unwrap();
    let quiet = |_: String| {};
    rt.block_on(sdtui::deploy::up_reporting(
        &ws,
        &p,
        None,
        std::time::Duration::from_secs(300),
        &quiet,
    ))
    .unwrap();
    let pg = test_docker::container(&format!("{name}-local"), "postgres-main");
    let (user, db) = (format!("{name}_main_user"), format!("{name}_main"));
    let psql = |sql: &str| {
        docker(&[
            "exec",
            &pg,
            "psql",
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            &user,
            "-d",
            &db,
            "-c",
            sql,
        ])
    };

    // Rows of text (md5s: compress about 2:1, like much real data).
    let t = Instant::now();
    psql("CREATE TABLE events (id bigserial PRIMARY KEY, a text, b text, c text, n int)");
    while psql(&format!("SELECT pg_database_size('{db}')"))
        .parse::<u64>()
        .unwrap()
        < mb << 20
    {
        psql(
            "INSERT INTO events (a, b, c, n) SELECT md5(g::text), md5(random()::text), md5(clock_timestamp()::text), g FROM generate_series(1, 200000) g",
        );
    }
    let size = psql(&format!("SELECT pg_database_size('{db}')"))
        .parse::<u64>()
        .unwrap();
    let size_mb = size as f64 / 1048576.0;
    let rows = psql("SELECT count(*) FROM events");
    println!(
        "data: {size_mb:.0} MB database ({rows} rows), generated in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    // Plain pg_dump in the same container, to a file beside the backups.
    let plain = root.path().join("plain.pgdump");
    let t = Instant::now();
    let status = Command::new("docker")
        .args(["exec", &pg, "pg_dump", "-Fc", "-U", &user, "-d", &db])
        .stdout(std::fs::File::create(&plain).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let plain_dump = t.elapsed().as_secs_f64();
    let plain_size = std::fs::metadata(&plain).unwrap().len();

    // sdtui's backup: inventory in one snapshot, dump, checksum, manifest;
    // then the drill.
    let t = Instant::now();
    let m = rt
        .block_on(sdtui::backup::backup(&ws, &p, "databases.main", &quiet))
        .unwrap();
    let total = t.elapsed().as_secs_f64();
    assert!(m.drill.passed(), "{:?}", m.drill);
    let drill = m.drill.seconds;
    let backup_only = total - drill;

    // Plain pg_restore into a fresh database in the same container.
    psql("CREATE DATABASE plain_restore");
    let t = Instant::now();
    let status = Command::new("docker")
        .args([
            "exec",
            "-i",
            &pg,
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "-U",
            &user,
            "-d",
            "plain_restore",
        ])
        .stdin(std::fs::File::open(&plain).unwrap())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let plain_restore = t.elapsed().as_secs_f64();
    psql("DROP DATABASE plain_restore");

    // sdtui's restore: checksum, lock, reset, pg_restore, provisioning.
    let plan = rt
        .block_on(sdtui::backup::restore::plan(
            &ws,
            &p,
            "databases.main",
            &m.id,
            None,
        ))
        .unwrap();
    let t = Instant::now();
    rt.block_on(sdtui::backup::restore::apply(
        &ws,
        &p,
        &plan,
        "databases.main",
        &quiet,
    ))
    .unwrap();
    let restore = t.elapsed().as_secs_f64();
    assert_eq!(psql("SELECT count(*) FROM events"), rows);

    let rate = |s: f64| size_mb / s;
    println!(
        "dump file: {:.0} MB (plain pg_dump: {:.0} MB)",
        m.size as f64 / 1048576.0,
        plain_size as f64 / 1048576.0
    );
    println!(
        "backup  plain pg_dump -Fc      {plain_dump:6.1} s  {:6.1} MB/s",
        rate(plain_dump)
    );
    println!(
        "backup  sdtui (dump only)      {:6.1} s  {:6.1} MB/s",
        m.dump_seconds,
        rate(m.dump_seconds)
    );
    println!(
        "backup  sdtui (without drill)  {backup_only:6.1} s  {:6.1} MB/s",
        rate(backup_only)
    );
    println!(
        "restore plain pg_restore       {plain_restore:6.1} s  {:6.1} MB/s",
        rate(plain_restore)
    );
    println!(
        "restore sdtui db restore       {restore:6.1} s  {:6.1} MB/s",
        rate(restore)
    );
    println!(
        "drill   {drill:.1} s for {size_mb:.0} MB: {:.0} s per GB ({} entries compared)",
        drill / size_mb * 1024.0,
        m.drill.checked
    );
}
