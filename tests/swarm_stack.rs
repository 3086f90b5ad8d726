//! The swarm stack as generated (pure): golden files for the cheapa project
//! declared as a swarm, determinism, no secret in the stack file, placement
//! per node; and the bad input of `cluster:`. `UPDATE_GOLDEN=1` rewrites
//! the goldens.

mod common;

use std::path::{Path, PathBuf};

use sdtui::engine::{Operation, Workspace};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cheapa-swarm")
}

fn synced() -> tempfile::TempDir {
    let root = common::root_with("cheapa-swarm");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let p = ws.project(Some("cheapa-swarm")).unwrap();
    ws.run(&p, &Operation::Sync, false).unwrap();
    root
}

fn stack_files(root: &Path) -> Vec<(PathBuf, String, u32)> {
    common::snapshot(&root.join("cheapa-swarm"))
        .into_iter()
        .filter(|(rel, _)| rel.starts_with("compose/_stack"))
        .map(|(rel, (content, mode))| (rel, content, mode))
        .collect()
}

#[test]
fn cheapa_stack_matches_golden_files() {
    let root = synced();
    let files = stack_files(root.path());
    assert!(files.len() >= 5, "{files:?}");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (rel, content, mode) in &files {
        let golden = golden_dir().join(rel);
        if update {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, content).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("missing golden {}", golden.display()));
        if &expected != content {
            mismatches.push(rel.display().to_string());
        }
        let secret = rel.extension().is_some_and(|e| e == "env");
        assert_eq!(
            *mode,
            if secret { 0o600 } else { 0o644 },
            "{}",
            rel.display()
        );
    }
    assert!(
        mismatches.is_empty(),
        "differ from goldens (UPDATE_GOLDEN=1 to accept): {mismatches:?}"
    );
    // Deterministic: a second project from the same config, same bytes.
    assert_eq!(files, stack_files(synced().path()));
}

#[test]
fn the_stack_pins_addons_to_their_nodes_and_holds_no_secret() {
    let root = synced();
    let project = root.path().join("cheapa-swarm");
    let stack = std::fs::read_to_string(project.join("compose/_stack/docker-stack.yml")).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&stack).unwrap();
    let services = doc["services"].as_object().unwrap();
    // Every addon and app of the project, each pinned to its VM's node.
    for (name, vm) in [
        ("postgres-primary", "core"),
        ("postgres-reports", "core"),
        ("rabbitmq-main", "core"),
        ("redis-session", "app"),
        ("caddy-main", "app"),
        ("api", "app"),
        ("storefront", "app"),
    ] {
        let s = &services[name];
        assert_eq!(
            s["deploy"]["placement"]["constraints"],
            serde_json::json!([format!("node.labels.sdtui.vm == {vm}")]),
            "{name}"
        );
        assert_eq!(s["networks"], serde_json::json!(["cheapa-swarm-network"]));
        assert_eq!(s["deploy"]["update_config"]["failure_action"], "rollback");
    }
    // Data stays put: an addon with a volume is replaced stop-first; an app
    // starts its new task first.
    assert_eq!(
        services["postgres-primary"]["deploy"]["update_config"]["order"],
        "stop-first"
    );
    assert_eq!(
        services["api"]["deploy"]["update_config"]["order"],
        "start-first"
    );
    // Limits and the health check carried over from the catalog's plan.
    let pg = &services["postgres-primary"];
    assert_eq!(pg["deploy"]["resources"]["limits"]["memory"], "512M");
    assert!(
        pg["healthcheck"]["test"][1]
            .as_str()
            .unwrap()
            .contains("pg_isready")
    );
    // The password is a Docker secret read through POSTGRES_PASSWORD_FILE.
    assert_eq!(
        pg["environment"]["POSTGRES_PASSWORD_FILE"],
        "/run/secrets/POSTGRES_PASSWORD"
    );
    assert_eq!(pg["secrets"][0]["target"], "POSTGRES_PASSWORD");
    // Redis' image has no _FILE form: its password is a Docker secret too,
    // which the command's and the health check's shell read from its file
    // (the catalog's shell_file_env); no env file holds it.
    let redis = &services["redis-session"];
    assert_eq!(redis["secrets"][0]["target"], "REDIS_PASSWORD");
    assert!(redis.get("env_file").is_none(), "{redis}");
    let read = "REDIS_PASSWORD=\"$$(cat /run/secrets/REDIS_PASSWORD)\"; ";
    assert!(
        redis["command"][2].as_str().unwrap().starts_with(read),
        "{redis}"
    );
    assert!(
        redis["healthcheck"]["test"][1]
            .as_str()
            .unwrap()
            .starts_with(read),
        "{redis}"
    );
    assert!(
        !project
            .join("compose/_stack/env/redis-session.env")
            .exists()
    );
    // The addons-only stack `up` deploys first: every addon, no app.
    let addons =
        std::fs::read_to_string(project.join("compose/_stack/docker-stack.addons.yml")).unwrap();
    let addons: serde_json::Value = serde_saphyr::from_str(&addons).unwrap();
    let addons = addons["services"].as_object().unwrap();
    assert!(addons.contains_key("postgres-primary") && addons.contains_key("redis-session"));
    assert!(!addons.contains_key("api"), "{addons:?}");
    assert_eq!(doc["networks"]["cheapa-swarm-network"]["driver"], "overlay");
    // No credential of secrets.yml appears in the stack file.
    let secrets = std::fs::read_to_string(project.join("secrets.yml")).unwrap();
    for line in secrets.lines() {
        let Some((key, value)) = line.trim().split_once(": ") else {
            continue;
        };
        let value = value.trim_matches('"');
        if key.contains("PASSWORD") && value.len() >= 16 {
            assert!(!stack.contains(value), "{key} is in the stack file");
        }
    }
    // Apps reach addons over the overlay: service name and container port.
    let api_env = std::fs::read_to_string(project.join("compose/_stack/env/api.env")).unwrap();
    assert!(
        api_env.contains("DATABASE_HOST=postgres-primary\n"),
        "{api_env}"
    );
    assert!(api_env.contains("DATABASE_PORT=5432\n"), "{api_env}");
}

fn config_error(config: &str) -> String {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("p")).unwrap();
    std::fs::write(root.path().join("p/config.yml"), config).unwrap();
    let err = common::fails(&common::sdtui(root.path(), &["-p", "p", "sync"]));
    assert!(
        !root.path().join("p/compose").exists(),
        "nothing is written on bad input"
    );
    err
}

const VMS: &str = "vms:\n  a:\n    host: 127.0.96.1\n  b:\n    host: 127.0.96.2\n";

#[test]
fn bad_cluster_input_names_the_line_and_what_to_write() {
    let err = config_error(&format!("{VMS}cluster:\n  kind: swarm\n  manager: c\n"));
    assert!(err.contains("cluster manager \"c\" is not a VM"), "{err}");
    assert!(err.contains("config.yml:8:12"), "{err}");
    assert!(err.contains("a, b"), "{err}");

    let err = config_error(&format!("{VMS}cluster:\n  kind: nomad\n  manager: a\n"));
    assert!(err.contains("unknown cluster kind \"nomad\""), "{err}");
    assert!(err.contains("config.yml:7"), "{err}");
    assert!(err.contains("swarm"), "{err}");

    let err = config_error(&format!(
        "{VMS}cluster:\n  kind: swarm\n  manager: a\n  nodes: [a]\naddons:\n  databases:\n    main:\n      type: postgres\n      vm: b\n"
    ));
    assert!(
        err.contains("addon databases.main is pinned to VM b, which is not a node of the swarm"),
        "{err}"
    );
    assert!(err.contains("add b to the cluster's `nodes:`"), "{err}");

    let err = config_error(&format!(
        "{VMS}cluster:\n  kind: swarm\n  manager: a\n  nodes: [a, z]\n"
    ));
    assert!(err.contains("cluster node \"z\" is not a VM"), "{err}");

    let err = config_error(&format!("{VMS}cluster:\n  manager: a\n"));
    assert!(err.contains("cluster has no kind"), "{err}");
}

#[test]
fn parallel_zero_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let err = common::fails(&common::sdtui(root.path(), &["--parallel", "0", "status"]));
    assert!(err.contains("--parallel"), "{err}");
    assert!(err.contains("0"), "{err}");
}
