//! From nothing to a working dev database on the real local engine:
//! `sdtui init NAME --environments dev,staging`, then `env start dev` and
//! `env start staging` side by side, with only the images a fresh machine
//! has (the addons' own: postgres:15). The generated migration ran in each
//! (its table exists), the placeholder app reached its own database and
//! read the environment's variables file, a row written in dev is absent in
//! staging, `env stop` keeps the volumes and a second start finds the data
//! (the migration runs again, harmlessly). Prints the time from `sdtui
//! init` to a healthy dev deployment. Once under Compose v1, once under
//! v2, each on its own address and project names.
//!
//! Run under `flock /tmp/sdtui-docker-tests.lock`.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::compose::Compose;
use common::docker::{Cleanup, container, docker, psql, require_images};
use common::ok;

fn volumes(compose_project: &str) -> String {
    docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
    ])
    .1
}

/// The app's log once it printed its first line (it prints every 10 s).
fn app_says(web: &str) -> String {
    let started = Instant::now();
    loop {
        let (_, logs) = docker(&["logs", web]);
        if logs.contains("note(s)") || started.elapsed() > Duration::from_secs(30) {
            return logs;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn init_then_dev_and_staging_side_by_side_v1() {
    init_then_dev_and_staging(Compose::V1, "127.0.91.1");
}

#[test]
fn init_then_dev_and_staging_side_by_side_v2() {
    init_then_dev_and_staging(Compose::V2, "127.0.91.2");
}

/// `ip`: the test VM's address, where no other test publishes.
fn init_then_dev_and_staging(compose: Compose, ip: &str) {
    require_images(&["postgres:15"]);
    let vars = compose.sdtui_env();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let run = |args: &[&str]| -> Output { common::sdtui_env(r, args, &vars) };
    let name = format!("ie{}{}", std::process::id(), compose.tag());
    let cp = |suffix: &str| format!("{name}-{suffix}");
    let _cleanup = [
        "dev-local",
        "dev-local-init-1",
        "dev-local-deployment",
        "staging-local",
        "staging-local-init-1",
        "staging-local-deployment",
    ]
    .map(|s| Cleanup(cp(s)));

    let t0 = Instant::now();
    let out = ok(&run(&["init", &name, "--environments", "dev,staging"]));
    assert!(out.contains("create deploy/init-compose.yml"), "{out}");
    let dir = r.join(&name);
    // The one edit a shared test machine needs: an address of its own.
    let cfg_path = dir.join("config.yml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let line = "    # private_ip: 127.0.0.1    # where addon ports are published (default)\n";
    assert!(cfg.contains(line), "{cfg}");
    std::fs::write(
        &cfg_path,
        cfg.replace(line, &format!("    private_ip: {ip}\n")),
    )
    .unwrap();
    let out = ok(&run(&[
        "-p",
        &name,
        "env",
        "start",
        "dev",
        "--timeout",
        "180",
    ]));
    let to_dev = t0.elapsed();
    eprintln!(
        "{}: init → dev database migrated and app healthy: {to_dev:.1?}",
        compose.tag()
    );
    assert!(out.contains("web      running  healthy"), "{out}");
    assert!(out.contains("migrated the dev database"), "{out}");

    let db = |env: &str| format!("{}_{env}_primary", name.replace('-', "_"));
    let pg_dev = container(&cp("dev-local"), "postgres-primary");
    assert!(!pg_dev.is_empty());
    let sql = |pg: &str, env: &str, q: &str| psql(pg, &format!("{}_user", db(env)), &db(env), q);
    assert_eq!(
        sql(
            &pg_dev,
            "dev",
            "select to_regclass('public.notes') is not null"
        ),
        "t",
        "the migration created its table in dev"
    );
    let web_dev = container(&cp("dev-local-deployment"), "web");
    let said = app_says(&web_dev);
    assert!(
        said.contains("hello from dev: 0 note(s) in the dev database"),
        "the app read deploy/dev.env and its database: {said}"
    );

    // staging beside it: its own database, the migration ran there too.
    let t1 = Instant::now();
    let out = ok(&run(&[
        "-p",
        &name,
        "env",
        "start",
        "staging",
        "--timeout",
        "180",
    ]));
    eprintln!(
        "{}: env start staging (beside dev): {:.1?}",
        compose.tag(),
        t1.elapsed()
    );
    assert!(out.contains("web      running  healthy"), "{out}");
    let pg_staging = container(&cp("staging-local"), "postgres-primary");
    assert!(!pg_staging.is_empty() && pg_staging != pg_dev);
    assert_eq!(
        sql(
            &pg_staging,
            "staging",
            "select to_regclass('public.notes') is not null"
        ),
        "t",
        "the migration created its table in staging"
    );
    // dev small, staging the project's plan.
    let memory = |id: &str| docker(&["inspect", "-f", "{{.HostConfig.Memory}}", id]).1;
    assert_eq!(memory(&pg_dev).trim(), (256u64 << 20).to_string());
    assert_eq!(memory(&pg_staging).trim(), (512u64 << 20).to_string());

    // A row written in dev is not in staging.
    sql(
        &pg_dev,
        "dev",
        "insert into notes (body) values ('only in dev')",
    );
    assert_eq!(sql(&pg_dev, "dev", "select count(*) from notes"), "1");
    assert_eq!(
        sql(&pg_staging, "staging", "select count(*) from notes"),
        "0"
    );
    let said = app_says(&container(&cp("staging-local-deployment"), "web"));
    assert!(
        said.contains("hello from staging: 0 note(s) in the staging database"),
        "{said}"
    );

    // Stop both: containers gone, volumes kept.
    for env in ["dev", "staging"] {
        let out = ok(&run(&["-p", &name, "env", "stop", env]));
        assert!(out.contains("volumes (the data) are kept"), "{out}");
        assert!(container(&cp(&format!("{env}-local")), "postgres-primary").is_empty());
        assert!(container(&cp(&format!("{env}-local-deployment")), "web").is_empty());
        assert!(
            !volumes(&cp(&format!("{env}-local"))).trim().is_empty(),
            "{env}'s volume is kept"
        );
    }

    // dev again: the migration runs again on its table and the row is there.
    let out = ok(&run(&[
        "-p",
        &name,
        "env",
        "start",
        "dev",
        "--timeout",
        "180",
    ]));
    assert!(out.contains("migrate  0"), "{out}");
    let pg_dev = container(&cp("dev-local"), "postgres-primary");
    assert_eq!(sql(&pg_dev, "dev", "select body from notes"), "only in dev");
    ok(&run(&["-p", &name, "env", "stop", "dev"]));
}
