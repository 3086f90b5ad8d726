//! Environments without Docker: the generated files of each environment of
//! tests/fixtures/envs against goldens (deterministic, 0600 where secret),
//! ports shared out across the project and its environments and stable when
//! one goes away, per-environment credentials, `env config` with overrides
//! resolved and secrets masked, and environments refusing the project's
//! edits. `UPDATE_GOLDEN=1` rewrites the goldens.

mod common;

use std::path::{Path, PathBuf};

use sdtui::engine::{Operation, Workspace};

const ENVS: [&str; 3] = ["dev", "staging", "production"];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/envs")
}

/// Syncs `envs` of the fixture in order, each with its own seed.
fn synced(root: &Path, envs: &[&str]) {
    let mut ws = Workspace::open(root.to_path_buf(), None).unwrap();
    let base = ws.project(Some("envs")).unwrap();
    for env in envs {
        let i = ENVS.iter().position(|e| e == env).unwrap() as u64;
        ws.test_seed = Some(7 + i);
        let p = ws.environment(&base, env).unwrap();
        ws.run(&p, &Operation::Sync, false).unwrap();
    }
}

/// The port secrets.yml gives `id`'s main port in `env` ("" = the project).
fn port(root: &Path, env: &str, type_name: &str, name: &str) -> u16 {
    let dir = if env.is_empty() {
        root.join("envs")
    } else {
        root.join("envs/environments").join(env)
    };
    let s = sdtui::engine::secrets::Secrets::load(&dir.join("secrets.yml")).unwrap();
    s.instance(type_name, name).unwrap()["PORT"]
        .parse()
        .unwrap()
}

#[test]
fn environments_match_golden_files() {
    let root = common::root_with("envs");
    synced(root.path(), &ENVS);
    let files = common::snapshot(&root.path().join("envs/environments"));
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for env in ENVS {
        for want in [
            "secrets.yml",
            "compose/local/docker-compose.yml",
            "compose/local/env/postgres-primary.env",
        ] {
            assert!(
                files.contains_key(&Path::new(env).join(want)),
                "{env}/{want}: {files:?}"
            );
        }
    }
    assert!(files.contains_key(Path::new("staging/compose/local/env/redis-session.env")));
    for (rel, (content, mode)) in &files {
        let secret = rel.extension().is_some_and(|e| e == "env") || rel.ends_with("secrets.yml");
        assert_eq!(
            *mode,
            if secret { 0o600 } else { 0o644 },
            "mode of {}",
            rel.display()
        );
        let golden = golden_dir().join(rel);
        if update {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, content).unwrap();
        } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(content.as_str()) {
            mismatches.push(rel.display().to_string());
        }
    }
    if !update {
        for rel in common::snapshot(&golden_dir()).keys() {
            assert!(
                files.contains_key(rel),
                "golden {} was not generated",
                rel.display()
            );
        }
    }
    assert!(
        mismatches.is_empty(),
        "differ from goldens (UPDATE_GOLDEN=1 to accept): {mismatches:?}"
    );

    // The same config gives the same bytes.
    let again = common::root_with("envs");
    synced(again.path(), &ENVS);
    assert_eq!(
        common::snapshot(&again.path().join("envs/environments")),
        files
    );
    // The project's own folder is untouched by its environments.
    assert!(!root.path().join("envs/secrets.yml").exists());
    assert!(!root.path().join("envs/compose").exists());
}

#[test]
fn each_environment_has_its_own_credentials_and_names() {
    let root = common::root_with("envs");
    synced(root.path(), &ENVS);
    let secrets = |env: &str| {
        sdtui::engine::secrets::Secrets::load(
            &root
                .path()
                .join("envs/environments")
                .join(env)
                .join("secrets.yml"),
        )
        .unwrap()
    };
    let (dev, staging) = (secrets("dev"), secrets("staging"));
    let (d, s) = (
        dev.instance("postgres", "primary").unwrap(),
        staging.instance("postgres", "primary").unwrap(),
    );
    assert_ne!(d["PASSWORD"], s["PASSWORD"]);
    assert_eq!(d["DATABASE"], "envs_dev_primary");
    assert_eq!(s["DATABASE"], "envs_staging_primary");
    assert!(
        dev.instance("redis", "session").is_none(),
        "redis is staging's own"
    );
    assert!(staging.instance("redis", "session").is_some());
    // Staging's override: its option, the project's plan.
    let compose = std::fs::read_to_string(
        root.path()
            .join("envs/environments/staging/compose/local/docker-compose.yml"),
    )
    .unwrap();
    assert!(compose.contains("max_connections=60"), "{compose}");
    let prod = std::fs::read_to_string(
        root.path()
            .join("envs/environments/production/compose/local/docker-compose.yml"),
    )
    .unwrap();
    assert!(
        prod.contains("max_connections=100") && prod.contains("512M"),
        "standard plan: {prod}"
    );
}

#[test]
fn ports_are_shared_out_and_stay_when_an_environment_goes() {
    let root = common::root_with("envs");
    let r = root.path();
    synced(r, &ENVS);
    assert_eq!(
        ENVS.map(|e| port(r, e, "postgres", "primary")),
        [5432, 5433, 5434],
        "one allocator's worth of ports on the shared VM"
    );
    assert_eq!(port(r, "staging", "redis", "session"), 6379);
    // The project's own instance keeps clear of its environments'.
    common::ok(&common::sdtui(r, &["-p", "envs", "sync"]));
    assert_eq!(port(r, "", "postgres", "primary"), 5435);
    // Staging goes away; the others keep their ports through a sync, and a
    // new environment gets a port nobody else holds...
    let cfg_path = r.join("envs/config.yml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let staging_start = cfg.find("  staging:").unwrap();
    let production_start = cfg.find("  production:").unwrap();
    let without = format!(
        "{}  qa: {{}}\n{}",
        &cfg[..staging_start],
        &cfg[production_start..]
    );
    std::fs::write(&cfg_path, &without).unwrap();
    std::fs::remove_dir_all(r.join("envs/environments/staging")).unwrap();
    synced(r, &["dev", "production"]);
    common::ok(&common::sdtui(r, &["-p", "envs", "env", "config", "qa"]));
    let mut ws = Workspace::open(r.to_path_buf(), None).unwrap();
    ws.test_seed = Some(1);
    let base = ws.project(Some("envs")).unwrap();
    ws.run(
        &ws.environment(&base, "qa").unwrap(),
        &Operation::Sync,
        false,
    )
    .unwrap();
    assert_eq!(
        [
            port(r, "dev", "postgres", "primary"),
            port(r, "production", "postgres", "primary"),
            port(r, "", "postgres", "primary"),
            port(r, "qa", "postgres", "primary"),
        ],
        [5432, 5434, 5435, 5433],
        "kept ports never move; qa takes the first free one"
    );
}

#[test]
fn env_config_resolves_overrides_and_masks_secrets() {
    let root = common::root_with("envs");
    let r = root.path();
    synced(r, &["staging"]);
    let out = common::ok(&common::sdtui(
        r,
        &["-p", "envs", "env", "config", "staging", "--json"],
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["compose_projects"]["local"], "envs-staging-local");
    let addons = v["addons"].as_array().unwrap();
    assert_eq!(addons[0]["id"], "databases.primary");
    assert_eq!(addons[0]["source"], "override");
    assert_eq!(addons[0]["plan"], "small");
    assert_eq!(addons[0]["options"]["max_connections"], "60");
    assert_eq!(addons[1]["id"], "caches.session");
    assert_eq!(addons[1]["source"], "own");
    assert_eq!(addons[0]["credentials"]["PASSWORD"], "••••••••");
    assert_eq!(v["variables"]["CACHE_TTL"], "300");
    let file = r.join("envs/environments/staging/secrets.yml");
    for value in common::secret_values(&file, &["PASSWORD"]) {
        assert!(
            !out.contains(&value),
            "a secret leaked into env config: {value}"
        );
    }
    let text = common::ok(&common::sdtui(
        r,
        &["-p", "envs", "env", "config", "production"],
    ));
    assert!(
        text.contains("init (timeout 300 s):\n  deploy/init-compose.yml (config.yml:"),
        "{text}"
    );
    assert!(
        text.contains("deployment: deploy/app-compose.yml (config.yml:"),
        "{text}"
    );
}

#[test]
fn an_environment_takes_no_edits_of_the_project() {
    let root = common::root_with("envs");
    let ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    let base = ws.project(Some("envs")).unwrap();
    let dev = ws.environment(&base, "dev").unwrap();
    let err = ws
        .run(
            &dev,
            &Operation::Remove {
                id: "databases.primary".into(),
            },
            false,
        )
        .unwrap_err();
    assert!(
        err.message
            .contains("works on the project, not on one of its environments"),
        "{err}"
    );
    // Only the environment's lock folder (.sdtui) may exist.
    let dev_dir = root.path().join("envs/environments/dev");
    assert!(common::snapshot(&dev_dir).is_empty(), "nothing written");
}

/// Where an environment runs: one VM takes every inherited instance; with
/// several, an instance on a VM it does not run on must be placed, and the
/// error says where.
#[test]
fn environment_vms_place_inherited_instances() {
    let ws = Workspace::open(std::env::temp_dir(), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yml");
    let base = "vms:\n  a:\n    host: 127.0.73.11\n  b:\n    host: 127.0.73.12\n  c:\n    host: 127.0.73.13\naddons:\n  databases:\n    primary:\n      type: postgres\n      vm: c\n";
    let one = format!("{base}environments:\n  qa:\n    vm: a\n");
    let config = sdtui::config::parse(&path, &one, &ws.catalog).unwrap();
    let qa = config.for_environment("qa").unwrap();
    assert_eq!(qa.addons[0].vm, "a");
    assert_eq!(qa.vms.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(
        config.addons[0].vm, "c",
        "the project's instance stays where it is"
    );

    let several = format!("{base}environments:\n  qa:\n    vms: [a, b]\n");
    let err = sdtui::config::parse(&path, &several, &ws.catalog).unwrap_err();
    assert!(
        err.message.contains("addon databases.primary runs on VM c in the project, which environment qa does not run on"),
        "{err}"
    );
    assert_eq!(
        err.spot.as_ref().map(|s| (s.line, s.column)),
        Some((15, 11)),
        "{err}"
    );
    assert!(
        err.hint
            .unwrap()
            .contains("environments.qa.addons.databases.primary.vm")
    );

    let placed = format!(
        "{base}environments:\n  qa:\n    vms: [a, b]\n    addons:\n      databases:\n        primary:\n          vm: b\n"
    );
    let config = sdtui::config::parse(&path, &placed, &ws.catalog).unwrap();
    assert_eq!(config.for_environment("qa").unwrap().addons[0].vm, "b");
}
