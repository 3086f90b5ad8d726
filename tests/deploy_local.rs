//! Deploys on the real local Docker engine with the locally built images
//! (tests/images/build.sh): health, provisioning that makes readonly real,
//! the test app using exactly the injected variables, no-change redeploys,
//! one-service recreation, rollback on a bad tag, and down keeping data.
//! The whole story runs once under Compose v1 and once under v2, side by
//! side (their own project names and addresses).

mod common;

use common::compose::Compose;
use common::docker::{Cleanup, container, docker, require_images, results};
use common::{fails, ok, sdtui};
use std::path::Path;
use std::process::Output;

fn project(root: &Path, name: &str, ip: &str) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "# deploy test\nvms:\n  local:\n    host: local\n    private_ip: {ip}\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n  caches:\n    session:\n      type: redis\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n      - addon: databases.main\n        as: REPORTS\n        access: readonly\n      - caches.session\n      - addon: caches.session\n        as: RO_CACHE\n        access: readonly\n    env:\n      CHECK_PREFIXES: DATABASE,REPORTS,CACHE,RO_CACHE\n"
        ),
    )
    .unwrap();
}

#[test]
fn up_provisions_redeploys_nothing_rolls_back_and_keeps_data_v1() {
    up_provisions_redeploys_nothing_rolls_back_and_keeps_data(Compose::V1, "127.0.3.21");
}

#[test]
fn up_provisions_redeploys_nothing_rolls_back_and_keeps_data_v2() {
    up_provisions_redeploys_nothing_rolls_back_and_keeps_data(Compose::V2, "127.0.3.22");
}

fn up_provisions_redeploys_nothing_rolls_back_and_keeps_data(compose: Compose, ip: &str) {
    require_images(&["postgres:15", "redis:7", "sdtui-testapp:latest"]);
    let env = compose.sdtui_env();
    let sdtui = |root: &Path, args: &[&str]| -> Output { common::sdtui_env(root, args, &env) };
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("dl{}{}", std::process::id(), compose.tag());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    project(r, &name, ip);

    // First up: everything created and healthy, by the Compose asked for.
    let out = ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    assert!(
        out.contains(&format!("VM local: {}", compose.reported())),
        "up names the Compose it ran: {out}"
    );
    let res = results(&out);
    assert_eq!(
        res,
        [
            ("postgres-main".into(), "created".into()),
            ("redis-session".into(), "created".into()),
            ("web".into(), "created".into())
        ],
        "{out}"
    );

    // The app connects with exactly the injected variables: readwrite and
    // readonly postgres, readwrite and readonly redis.
    let web = container(&compose_project, "web");
    let (passed, report) = docker(&["exec", &web, "check"]);
    assert!(passed, "the test app's checks failed:\n{report}");
    assert_eq!(report.matches("\"ok\": true").count(), 4, "{report}");

    // The readonly role can SELECT and is refused INSERT.
    let pg = container(&compose_project, "postgres-main");
    let db = format!("{name}_main");
    let (created, o) = docker(&[
        "exec",
        &pg,
        "psql",
        "-U",
        &format!("{name}_main_user"),
        "-d",
        &db,
        "-c",
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1);",
    ]);
    assert!(created, "{o}");
    let ro = format!("{name}_main_readonly");
    let (selected, o) = docker(&[
        "exec",
        &pg,
        "psql",
        "-U",
        &ro,
        "-d",
        &db,
        "-tAc",
        "SELECT count(*) FROM t",
    ]);
    assert!(selected && o.trim() == "1", "readonly SELECT: {o}");
    let (inserted, o) = docker(&[
        "exec",
        &pg,
        "psql",
        "-U",
        &ro,
        "-d",
        &db,
        "-c",
        "INSERT INTO t VALUES (2)",
    ]);
    assert!(
        !inserted && o.contains("permission denied"),
        "readonly INSERT must be refused: {o}"
    );
    // Redis requires its password.
    let redis = container(&compose_project, "redis-session");
    let (_, o) = docker(&["exec", &redis, "redis-cli", "ping"]);
    assert!(o.contains("NOAUTH"), "{o}");

    // Status through the engine API.
    let status: serde_json::Value =
        serde_json::from_str(&ok(&sdtui(r, &["-p", &name, "status", "--json"]))).unwrap();
    let healthy: Vec<&str> = status
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["health"] == "healthy")
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(healthy, ["postgres-main", "redis-session"]);
    assert!(
        status[0]["ports"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("{ip}:5432->5432")),
        "{status}"
    );

    // Nothing changed: nothing recreated.
    let ids = (
        container(&compose_project, "postgres-main"),
        container(&compose_project, "redis-session"),
        web.clone(),
    );
    let out = ok(&sdtui(r, &["-p", &name, "up"]));
    assert!(results(&out).iter().all(|(_, a)| a == "unchanged"), "{out}");
    assert_eq!(
        ids,
        (
            container(&compose_project, "postgres-main"),
            container(&compose_project, "redis-session"),
            container(&compose_project, "web")
        )
    );

    // One addon's plan changes: that container alone is recreated.
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "upgrade",
            "caches.session",
            "--plan",
            "standard",
        ],
    ));
    let out = ok(&sdtui(r, &["-p", &name, "up", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let res: Vec<(String, String)> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(
                s["compose"]
                    .as_str()
                    .unwrap()
                    .starts_with(compose.reported()),
                "{out}"
            );
            (
                s["service"].as_str().unwrap().to_string(),
                s["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        res.contains(&("redis-session".into(), "recreated".into())),
        "{out}"
    );
    assert!(
        res.contains(&("postgres-main".into(), "unchanged".into())),
        "{out}"
    );
    assert_eq!(container(&compose_project, "postgres-main"), ids.0);

    // A failing deploy (postgres refuses max_connections below its reserved
    // slots and exits) fails, says why with its last log lines, and rolls
    // back to the release that ran. (A missing image tag would do too, but
    // would make the engine try a registry, which this machine must not.)
    let cfg = r.join(&name).join("config.yml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace(
            "      type: postgres\n      plan: small\n",
            "      type: postgres\n      plan: small\n      options:\n        max_connections: 2\n",
        ),
    )
    .unwrap();
    let err = fails(&sdtui(r, &["-p", &name, "up", "--timeout", "90"]));
    assert!(
        err.contains("deploy to VM local failed: postgres-main not healthy"),
        "{err}"
    );
    assert!(
        err.contains("rolled back to the previous release, which is healthy"),
        "{err}"
    );
    assert!(
        err.contains("max_connections"),
        "the failing container's log lines: {err}"
    );
    for pw in common::secret_values(&r.join(&name).join("secrets.yml"), &["PASSWORD"]) {
        assert!(!err.contains(&pw), "a password leaked into the error");
    }
    let pg = container(&compose_project, "postgres-main");
    let (_, cmd) = docker(&["inspect", "-f", "{{json .Config.Cmd}}", &pg]);
    assert!(
        !cmd.contains("max_connections=2"),
        "the previous release runs again: {cmd}"
    );
    let (_, health) = docker(&["inspect", "-f", "{{.State.Health.Status}}", &pg]);
    assert_eq!(health.trim(), "healthy");
    let hist = ok(&sdtui(r, &["-p", &name, "history"]));
    assert!(
        hist.lines()
            .any(|l| l.contains(" up ") && l.contains("failed")),
        "{hist}"
    );
    std::fs::write(&cfg, text).unwrap();

    // Down stops everything and keeps the data.
    ok(&sdtui(r, &["-p", &name, "down"]));
    assert!(container(&compose_project, "postgres-main").is_empty());
    let (_, vols) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
    ]);
    assert!(
        vols.contains("postgres-main-data"),
        "volumes survive down: {vols}"
    );
    // And the data is there on the next up.
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    let pg = container(&compose_project, "postgres-main");
    let (_, o) = docker(&[
        "exec",
        &pg,
        "psql",
        "-U",
        &format!("{name}_main_user"),
        "-d",
        &db,
        "-tAc",
        "SELECT count(*) FROM t",
    ]);
    assert_eq!(o.trim(), "1");

    // Removing an attached addon is refused; --purge needs the name typed
    // back; then its container and volume go, and nothing else does.
    let err = fails(&sdtui(
        r,
        &["-p", &name, "addons", "remove", "caches.session", "--purge"],
    ));
    assert!(err.contains("attached to web"), "{err}");
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "detach",
            "caches.session",
            "--app",
            "web",
            "--as",
            "CACHE",
        ],
    ));
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "detach",
            "caches.session",
            "--app",
            "web",
            "--as",
            "RO_CACHE",
        ],
    ));
    let cfg_before = std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap();
    let err = fails(&sdtui(
        r,
        &["-p", &name, "addons", "remove", "caches.session", "--purge"],
    ));
    assert!(err.contains("--confirm caches.session"), "{err}");
    let err = fails(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "remove",
            "caches.session",
            "--purge",
            "--confirm",
            "caches.sesion",
        ],
    ));
    assert!(err.contains("--confirm caches.session"), "{err}");
    assert_eq!(
        std::fs::read_to_string(r.join(&name).join("config.yml")).unwrap(),
        cfg_before,
        "a refused purge changes nothing"
    );
    let out = ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "remove",
            "caches.session",
            "--purge",
            "--confirm",
            "caches.session",
        ],
    ));
    assert!(
        out.contains("deleted volume") && out.contains("redis-session-data"),
        "{out}"
    );
    assert!(container(&compose_project, "redis-session").is_empty());
    let (_, vols) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
    ]);
    assert!(
        !vols.contains("redis-session-data") && vols.contains("postgres-main-data"),
        "{vols}"
    );
}

/// `addons rename` on a deployed instance: the next `up` replaces the
/// container under its new name on the same volume, so the data, the
/// password and the app's variable names are all still there.
#[test]
fn rename_keeps_the_data_the_password_and_the_apps_prefix() {
    require_images(&["postgres:15", "sdtui-testapp:latest"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("rn{}", std::process::id());
    let compose_project = format!("{name}-local");
    let _cleanup = Cleanup(compose_project.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.77\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\napps:\n  web:\n    image: sdtui-testapp\n    addons:\n      - databases.main as DATABASE\n    env:\n      CHECK_PREFIXES: DATABASE\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    let env = || common::read_env(&dir.join("compose/local/env/web.env"));
    let password_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("DATABASE_PASSWORD="))
            .unwrap()
            .to_string()
    };
    let before = password_line(&env());
    let (user, db) = (format!("{name}_main_user"), format!("{name}_main"));
    let psql = |service: &str, sql: &str| {
        docker(&[
            "exec",
            &container(&compose_project, service),
            "psql",
            "-U",
            &user,
            "-d",
            &db,
            "-tAc",
            sql,
        ])
    };
    let (wrote, o) = psql(
        "postgres-main",
        "CREATE TABLE kept (x text); INSERT INTO kept VALUES ('row')",
    );
    assert!(wrote, "{o}");

    ok(&sdtui(
        r,
        &["-p", &name, "addons", "rename", "databases.main", "primary"],
    ));
    let out = ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    assert!(
        results(&out).contains(&("postgres-primary".into(), "created".into())),
        "{out}"
    );
    assert!(
        container(&compose_project, "postgres-main").is_empty(),
        "the old container is gone: {out}"
    );
    let (read, o) = psql("postgres-primary", "SELECT x FROM kept");
    assert!(
        read && o.trim() == "row",
        "the row survives the rename: {o}"
    );

    // The app: same prefix, same password, and it still connects.
    let after = env();
    assert_eq!(password_line(&after), before);
    // On the addon's own VM the app reaches it by service name: the new one.
    assert!(
        after.contains("\nDATABASE_HOST=postgres-primary\n"),
        "{after}"
    );
    let (passed, report) = docker(&["exec", &container(&compose_project, "web"), "check"]);
    assert!(passed, "the test app's checks failed:\n{report}");

    // One volume, the original one; none under the new name.
    let (_, vols) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
    ]);
    assert!(
        vols.contains("postgres-main-data") && !vols.contains("postgres-primary-data"),
        "{vols}"
    );

    // A newcomer under the old name has volumes of its own: purging it
    // leaves the renamed instance's data alone.
    ok(&sdtui(
        r,
        &["-p", &name, "addons", "add", "postgres", "--name", "main"],
    ));
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "remove",
            "databases.main",
            "--purge",
            "--confirm",
            "databases.main",
        ],
    ));
    let (read, o) = psql("postgres-primary", "SELECT x FROM kept");
    assert!(read && o.trim() == "row", "{o}");
    // Purging the renamed one finds its volume under the old name.
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "detach",
            "databases.primary",
            "--app",
            "web",
        ],
    ));
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "remove",
            "databases.primary",
            "--purge",
            "--confirm",
            "databases.primary",
        ],
    ));
    let (_, vols) = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
    ]);
    assert!(!vols.contains("postgres-main-data"), "{vols}");
}
