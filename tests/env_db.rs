//! `--env ENV` on the commands that name an addon, on the real local engine
//! (tests/fixtures/envs): `db backup --env staging` with the addon left out
//! (the environment's only database, beside its redis), `db restore --env
//! staging ID --into dev` (the target typed back as `dev.databases.primary`;
//! staging untouched), the same into production whose deployment is
//! stopped around the restore and running after, `db shell --env dev` in a
//! real terminal (psql inside dev's container, logged in, no password on
//! any command line), and the refusals.

mod common;

use common::env_secret as secret;

use std::time::Duration;

use common::docker::{Cleanup, container, docker, psql, require_images};
use common::tmux::Tmux;
use common::{fails, ok, sdtui};

const IP: &str = "127.0.86.1";

#[test]
fn db_commands_work_per_environment() {
    require_images(&["postgres:15", "redis:7", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("edb{}", std::process::id());
    let cp = |env: &str| format!("{name}-{env}-local");
    let _cleanup = (
        Cleanup(cp("dev")),
        Cleanup(cp("staging")),
        Cleanup(cp("production")),
        Cleanup(format!("{}-init-1", cp("production"))),
        Cleanup(format!("{}-deployment", cp("production"))),
        Cleanup(format!("{}-migrate", cp("production"))),
    );
    let dir = r.join(&name);
    common::copy_dir(&common::fixture("envs"), &dir);
    let cfg = std::fs::read_to_string(dir.join("config.yml")).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        cfg.replace("private_ip: 127.0.73.1", &format!("private_ip: {IP}")),
    )
    .unwrap();
    for env in ["dev", "staging", "production"] {
        ok(&sdtui(r, &["-p", &name, "env", "start", env]));
    }
    let pg = |env: &str| container(&cp(env), "postgres-primary");
    let sql = |env: &str, q: &str| {
        psql(
            &pg(env),
            &secret(r, &name, env, "USER"),
            &secret(r, &name, env, "DATABASE"),
            q,
        )
    };
    sql(
        "staging",
        "create table notes(n int primary key); insert into notes select generate_series(1, 25)",
    );
    sql(
        "dev",
        "create table notes(n int primary key); insert into notes values (1000)",
    );

    // No addon named: staging's only database (its redis is not one).
    let out = ok(&sdtui(
        r,
        &["-p", &name, "-e", "staging", "db", "backup", "--json"],
    ));
    let manifest: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(manifest["addon"], "databases.primary", "{out}");
    let id = manifest["id"].as_str().unwrap().to_string();
    let listed = ok(&sdtui(
        r,
        &["-p", &name, "--env", "staging", "db", "backups"],
    ));
    assert!(listed.contains(&id), "{listed}");
    // dev has no backups of its own: the environments' backups are apart.
    let dev_list = ok(&sdtui(
        r,
        &["-p", &name, "-e", "dev", "db", "backups", "--json"],
    ));
    assert_eq!(dev_list.trim(), "[]", "{dev_list}");

    // Into dev: the plan names dev's instance, and only its qualified
    // name typed back goes on.
    let refused = fails(&sdtui(
        r,
        &[
            "-p", &name, "-e", "staging", "db", "restore", &id, "--into", "dev",
        ],
    ));
    assert!(
        refused.contains("into dev.databases.primary")
            && refused.contains("--confirm dev.databases.primary"),
        "{refused}"
    );
    let wrong = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "-e",
            "staging",
            "db",
            "restore",
            &id,
            "--into",
            "dev",
            "--confirm",
            "databases.primary",
        ],
    ));
    assert!(wrong.contains("nothing was touched"), "{wrong}");
    assert_eq!(sql("dev", "select count(*) from notes"), "1");
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "-e",
            "staging",
            "db",
            "restore",
            &id,
            "--into",
            "dev",
            "--confirm",
            "dev.databases.primary",
        ],
    ));
    assert_eq!(sql("dev", "select count(*) from notes"), "25");
    assert_eq!(sql("staging", "select count(*) from notes"), "25");
    // dev's own credentials still log in (the data came, not the roles).
    assert_eq!(
        sql("dev", "select current_user"),
        secret(r, &name, "dev", "USER")
    );

    // Into production: its deployment stops around the restore and runs after.
    let web = container(&format!("{}-deployment", cp("production")), "web");
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "-e",
            "staging",
            "db",
            "restore",
            &id,
            "--into",
            "production",
            "--confirm",
            "production.databases.primary",
        ],
    ));
    let _ = out;
    assert_eq!(sql("production", "select count(*) from notes"), "25");
    let (_, state) = docker(&["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", &web]);
    assert!(state.starts_with("running"), "{state}");
    let (_, started) = docker(&["inspect", "-f", "{{.State.StartedAt}}", &web]);
    let (_, created) = docker(&["inspect", "-f", "{{.Created}}", &web]);
    assert_ne!(
        started.trim(),
        created.trim(),
        "web was restarted by the restore"
    );

    // db migrate --env production: the command from config.yml, once, in
    // the deployment's image (web: sdtui-testapp), with web's settings.
    let with_migrate = |code: &str| {
        let cfg = std::fs::read_to_string(dir.join("config.yml")).unwrap();
        let base = cfg
            .split("    migrate:")
            .next()
            .unwrap()
            .trim_end()
            .to_string();
        std::fs::write(
            dir.join("config.yml"),
            format!("{base}\n    migrate:\n      command: >-\n        {code}\n"),
        )
        .unwrap();
    };
    with_migrate(
        r#"python3 -c "import os, psycopg2; c = psycopg2.connect(os.environ['DATABASE_URL']); c.autocommit = True; c.cursor().execute('create table if not exists migrated (x int)'); print('migrated ok')""#,
    );
    let unscoped = fails(&sdtui(r, &["-p", &name, "db", "migrate"]));
    assert!(unscoped.contains("--env"), "{unscoped}");
    let table = ok(&sdtui(
        r,
        &["-p", &name, "-e", "production", "db", "migrate"],
    ));
    assert!(
        table.contains("web") && table.contains("migrated ok"),
        "{table}"
    );
    assert_eq!(sql("production", "select count(*) from migrated"), "0");
    with_migrate(r#"python3 -c "print('half way'); raise SystemExit(3)""#);
    let failed = fails(&sdtui(
        r,
        &["-p", &name, "-e", "production", "db", "migrate"],
    ));
    assert!(
        failed.contains("exited with code 3")
            && failed.contains("half way")
            && failed.contains("sdtui db migrate --env production"),
        "{failed}"
    );
    // The deployment ran on, untouched.
    assert_eq!(
        container(&format!("{}-deployment", cp("production")), "web"),
        web
    );

    // db shell --env dev: psql inside dev's container, on a real terminal.
    let session = format!("edb{}", std::process::id());
    let tmux = Tmux::start(
        &session,
        &format!(
            "SDTUI_ROOT={} SDTUI_ADDONS={} {} -p {name} -e dev db shell; echo shell-exited-$?; sleep 30",
            r.display(),
            r.join(".none").display(),
            env!("CARGO_BIN_EXE_sdtui")
        ),
    );
    tmux.wait_for("Type \"help\"", Duration::from_secs(30));
    // No password on a command line while the client runs.
    let password = secret(r, &name, "dev", "PASSWORD");
    let (_, ps) = docker(&["top", &pg("dev"), "-eo", "pid,args"]);
    assert!(ps.contains("psql"), "{ps}");
    assert!(
        !ps.contains(&password),
        "the password is on a command line:\n{ps}"
    );
    let host_ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&host_ps.stdout).contains(&password));
    tmux.keys(&["select 'rows:' || count(*) from notes\\;", "Enter"]);
    tmux.wait_for("rows:25", Duration::from_secs(10));
    tmux.keys(&["\\q", "Enter"]);
    let screen = tmux.wait_until(
        "the shell to end",
        |s| s.contains("shell-exited-0"),
        Duration::from_secs(10),
    );
    assert!(!screen.contains(&password), "{screen}");

    // Refusals: an unknown environment, and --env where it does not apply.
    let unknown = fails(&sdtui(r, &["-p", &name, "-e", "qa", "db", "backups"]));
    assert!(
        unknown.contains("no environment \"qa\"") && unknown.contains("dev"),
        "{unknown}"
    );
    let env_cmd = fails(&sdtui(r, &["-p", &name, "-e", "dev", "env", "status"]));
    assert!(env_cmd.contains("does not apply to `env`"), "{env_cmd}");
    let mutate = fails(&sdtui(
        r,
        &["-p", &name, "-e", "dev", "addons", "add", "redis", "extra"],
    ));
    assert!(
        mutate.contains("not on one of its environments"),
        "{mutate}"
    );

    for env in ["dev", "staging", "production"] {
        ok(&sdtui(r, &["-p", &name, "env", "stop", env]));
    }
}
