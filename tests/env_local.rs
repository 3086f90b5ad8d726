//! Environments side by side on the real local engine (tests/fixtures/envs:
//! dev, staging with a redis of its own, production): each has its own
//! postgres container, volume, credentials and port; a row written in dev
//! is absent in staging; stopping staging leaves dev running and staging's
//! volume in place, and starting it again brings its data back; starting a
//! running environment touches nothing. Once under Compose v1, once under
//! v2, side by side (their own project names and addresses).

mod common;

use common::env_secret as secret;

use std::path::Path;
use std::process::Output;
use std::time::Instant;

use common::compose::Compose;
use common::docker::{Cleanup, container, docker, psql, require_images, results};
use common::ok;

#[test]
fn three_environments_side_by_side_v1() {
    three_environments_side_by_side(Compose::V1, "127.0.73.1");
}

#[test]
fn three_environments_side_by_side_v2() {
    three_environments_side_by_side(Compose::V2, "127.0.73.2");
}

/// A copy of the envs fixture named `name`, publishing on `ip`.
fn project(root: &Path, name: &str, ip: &str) {
    let dir = root.join(name);
    common::copy_dir(&common::fixture("envs"), &dir);
    let cfg = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        cfg.replace("private_ip: 127.0.73.1", &format!("private_ip: {ip}")),
    )
    .unwrap();
}

fn volumes(compose_project: &str) -> Vec<String> {
    let (_, out) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
    ]);
    out.split_whitespace().map(str::to_string).collect()
}

fn three_environments_side_by_side(compose: Compose, ip: &str) {
    require_images(&["postgres:15", "redis:7", "sdtui-testapp:latest"]);
    let vars = compose.sdtui_env();
    let sdtui = |root: &Path, args: &[&str]| -> Output { common::sdtui_env(root, args, &vars) };
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("ev{}{}", std::process::id(), compose.tag());
    let cp = |env: &str| format!("{name}-{env}-local");
    let _cleanup = (
        Cleanup(cp("dev")),
        Cleanup(cp("staging")),
        Cleanup(cp("production")),
        Cleanup(format!("{}-init-1", cp("production"))),
        Cleanup(format!("{}-deployment", cp("production"))),
    );
    project(r, &name, ip);

    // Each starts on its own: validate, generate, addons up and healthy.
    for env in ["dev", "staging", "production"] {
        let out = sdtui(r, &["-p", &name, "env", "start", env, "--timeout", "120"]);
        let stdout = ok(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        for step in ["validate: ok", "generate: ", "addons: up and healthy"] {
            assert!(stderr.contains(&format!("env {env}: {step}")), "{stderr}");
        }
        assert!(
            stdout.contains(&format!("VM local: {}", compose.reported())),
            "{stdout}"
        );
        let want: Vec<(String, String)> = match env {
            "staging" => vec![
                ("postgres-primary".into(), "created".into()),
                ("redis-session".into(), "created".into()),
            ],
            _ => vec![("postgres-primary".into(), "created".into())],
        };
        assert_eq!(results(&stdout), want, "{stdout}");
        // Init and deployment: configured only in production, where they run.
        if env == "production" {
            let row = stdout
                .lines()
                .find(|l| l.starts_with("deploy/init-compose.yml"))
                .unwrap_or_else(|| panic!("no init table: {stdout}"));
            assert_eq!(
                &row.split_whitespace().collect::<Vec<_>>()[1..3],
                ["migrate", "0"],
                "{stdout}"
            );
            assert!(
                stdout.contains("deployment: deploy/app-compose.yml"),
                "{stdout}"
            );
        } else {
            assert!(
                stdout.contains("init: none configured (skipped)"),
                "{stdout}"
            );
        }
    }

    // Two containers, two volumes, two credentials, two ports.
    let pg: Vec<String> = ["dev", "staging", "production"]
        .iter()
        .map(|e| container(&cp(e), "postgres-primary"))
        .collect();
    assert!(pg.iter().all(|c| !c.is_empty()), "{pg:?}");
    assert_ne!(pg[0], pg[1]);
    let vols: Vec<Vec<String>> = ["dev", "staging", "production"]
        .iter()
        .map(|e| volumes(&cp(e)))
        .collect();
    assert!(vols.iter().all(|v| !v.is_empty()), "{vols:?}");
    assert!(vols[0].iter().all(|v| !vols[1].contains(v)), "{vols:?}");
    let passwords: Vec<String> = ["dev", "staging", "production"]
        .iter()
        .map(|e| secret(r, &name, e, "PASSWORD"))
        .collect();
    assert!(passwords[0] != passwords[1] && passwords[1] != passwords[2]);
    let status = ok(&sdtui(r, &["-p", &name, "env", "status", "--json"]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&status).unwrap();
    let mut ports: Vec<String> = rows
        .iter()
        .filter(|r| r["service"] == "postgres-primary")
        .map(|r| r["ports"][0].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ports.len(), 3, "{status}");
    assert!(
        rows.iter()
            .all(|r| r["state"] == "running" && r["health"] == "healthy"),
        "{status}"
    );
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 3, "three distinct published ports: {status}");
    assert!(
        ports.iter().all(|p| p.starts_with(&format!("{ip}:"))),
        "{ports:?}"
    );

    // A row written in dev is absent in staging.
    let db = |env: &str| format!("{}_{env}_primary", name.replace('-', "_"));
    let user = |env: &str| format!("{}_user", db(env));
    psql(
        &pg[0],
        &user("dev"),
        &db("dev"),
        "create table notes (t text); insert into notes values ('dev only')",
    );
    assert_eq!(
        psql(&pg[0], &user("dev"), &db("dev"), "select t from notes"),
        "dev only"
    );
    assert_eq!(
        psql(
            &pg[1],
            &user("staging"),
            &db("staging"),
            "select count(*) from pg_tables where tablename = 'notes'"
        ),
        "0",
        "staging must not see dev's table"
    );
    psql(
        &pg[1],
        &user("staging"),
        &db("staging"),
        "create table notes (t text); insert into notes values ('staging row')",
    );

    // Stopping staging leaves dev running and staging's volume in place.
    let out = ok(&sdtui(r, &["-p", &name, "env", "stop", "staging"]));
    assert!(out.contains("volumes (the data) are kept"), "{out}");
    assert!(container(&cp("staging"), "postgres-primary").is_empty());
    assert_eq!(
        container(&cp("dev"), "postgres-primary"),
        pg[0],
        "dev untouched"
    );
    assert_eq!(volumes(&cp("staging")), vols[1], "staging's volumes stay");
    let list = ok(&sdtui(r, &["-p", &name, "env", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let state = |env: &str| {
        list.iter()
            .find(|e| e["name"] == env)
            .map(|e| e["state"].as_str().unwrap_or_default().to_string())
            .unwrap()
    };
    assert_eq!(
        (state("dev"), state("staging"), state("production")),
        ("up".into(), "down".into(), "up".into())
    );

    // Started again: staging's data is back.
    ok(&sdtui(
        r,
        &["-p", &name, "env", "start", "staging", "--timeout", "120"],
    ));
    let pg_staging = container(&cp("staging"), "postgres-primary");
    assert_ne!(pg_staging, pg[1], "a new container");
    assert_eq!(
        psql(
            &pg_staging,
            &user("staging"),
            &db("staging"),
            "select t from notes"
        ),
        "staging row"
    );

    // Starting a running environment touches nothing: no file, no container.
    let before = common::snapshot(&r.join(&name));
    let t = Instant::now();
    let out = ok(&sdtui(r, &["-p", &name, "env", "start", "dev"]));
    let took = t.elapsed();
    eprintln!(
        "FIGURE env start of running dev ({}): {took:?}",
        compose.tag()
    );
    assert_eq!(
        results(&out),
        [("postgres-primary".to_string(), "unchanged".to_string())],
        "{out}"
    );
    assert_eq!(container(&cp("dev"), "postgres-primary"), pg[0]);
    assert_eq!(common::snapshot(&r.join(&name)), before, "no file changed");

    // Every operation is in the project's history, named by environment.
    let history = ok(&sdtui(r, &["-p", &name, "history"]));
    for entry in ["env dev: up", "env staging: down", "env production: sync"] {
        assert!(history.contains(entry), "{history}");
    }
}
