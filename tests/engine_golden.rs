//! Golden files for the seed-000 cheapa project: secrets shape, every app's
//! env, compose per VM; determinism; compose files against the compose-spec
//! schema and docker-compose itself. `UPDATE_GOLDEN=1` rewrites the goldens.

mod common;

use std::path::{Path, PathBuf};

use sdtui::engine::{Operation, Workspace};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cheapa")
}

fn synced_cheapa() -> tempfile::TempDir {
    let root = common::root_with("cheapa");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let p = ws.project(Some("cheapa")).unwrap();
    let plan = ws.run(&p, &Operation::Sync, false).unwrap();
    assert!(!plan.is_empty());
    root
}

#[test]
fn cheapa_matches_golden_files() {
    let root = synced_cheapa();
    let project = root.path().join("cheapa");
    let files = common::snapshot(&project);
    let generated: Vec<&PathBuf> = files
        .keys()
        .filter(|p| p.as_os_str() != "config.yml")
        .collect();
    assert!(generated.len() >= 14, "{generated:?}");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for rel in &generated {
        let (content, mode) = &files[*rel];
        let golden = golden_dir().join(rel);
        if update {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, content.as_bytes()).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("missing golden {}", golden.display()));
        if &expected != content {
            mismatches.push(rel.display().to_string());
        }
        let secret = rel.extension().is_some_and(|e| e == "env") || rel.ends_with("secrets.yml");
        assert_eq!(
            *mode,
            if secret { 0o600 } else { 0o644 },
            "mode of {}",
            rel.display()
        );
    }
    // No golden without a generated file either.
    if !update {
        let goldens = common::snapshot(&golden_dir());
        for rel in goldens.keys() {
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
}

#[test]
fn env_vars_per_attachment_follow_seed_000() {
    let root = synced_cheapa();
    let env = |app: &str| {
        common::read_env(
            &root
                .path()
                .join(format!("cheapa/compose/app/env/{app}.env")),
        )
    };
    let api = env("api");
    for name in [
        "DATABASE_URL=postgresql://cheapa_primary_user:",
        "DATABASE_HOST=127.0.2.3",
        "DATABASE_PORT=5432",
        "DATABASE_USER=cheapa_primary_user",
        "DATABASE_PASSWORD=",
        "DATABASE_NAME=cheapa_primary",
        "DATABASE_DATABASE=cheapa_primary",
        "DATABASE_READONLY=false",
        "DATABASE_SSL=false",
        "DATABASE_SSLMODE=disable",
        // Readonly attachment: the readonly role's credentials.
        "ANALYTICS_USER=cheapa_analytics_readonly",
        "ANALYTICS_READONLY=true",
        "ANALYTICS_PORT=5433",
        // Same VM: the service name and container port.
        "CACHE_HOST=redis-session",
        "CACHE_PORT=6379",
        "CACHE_URL=redis://default:",
        "RABBITMQ_USERNAME=cheapa_main_user",
        "RABBITMQ_VHOST=/",
        "ELASTICSEARCH_URL=http://elastic:",
    ] {
        assert!(
            api.contains(&format!("\n{name}")),
            "api.env lacks {name}:\n{api}"
        );
    }
    let services = env("services");
    assert!(services.contains("\nDB_URL=postgresql://cheapa_primary_user:"));
    assert!(services.contains("\nPRIORITY_QUEUE_VHOST=/priority\n"));
    assert!(services.contains("\nPRIORITY_QUEUE_PORT=5673\n"));
    assert!(services.contains("@127.0.2.3:5673/%2Fpriority\n"));
    let storefront = env("storefront");
    assert!(storefront.contains("\nDATABASE_USER=cheapa_primary_readonly\n"));
    assert!(
        storefront.contains("\nCACHE_PORT=6379\n")
            && storefront.contains("\nCACHE_HOST=redis-products\n")
    );
    // The readonly password is the readonly role's, not the owner's.
    let ro_pw = common::secret(
        &root.path().join("cheapa/secrets.yml"),
        "primary",
        "READONLY_PASSWORD",
    );
    assert!(
        ro_pw.len() >= 32
            && ro_pw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!(storefront.contains(&format!("DATABASE_PASSWORD={ro_pw}\n")));
}

#[test]
fn no_secret_in_any_compose_file_and_addons_publish_on_the_private_address() {
    let root = synced_cheapa();
    let project = root.path().join("cheapa");
    let passwords = common::secret_values(&project.join("secrets.yml"), &["PASSWORD"]);
    assert!(passwords.len() >= 10);
    for vm in ["core", "app"] {
        let compose =
            std::fs::read_to_string(project.join(format!("compose/{vm}/docker-compose.yml")))
                .unwrap();
        for pw in &passwords {
            assert!(!compose.contains(pw), "a password leaked into compose/{vm}");
        }
    }
    let core: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(project.join("compose/core/docker-compose.yml")).unwrap(),
    )
    .unwrap();
    let published: Vec<&str> = core["services"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|s| s["ports"].as_array().into_iter().flatten())
        .map(|p| p.as_str().unwrap())
        .collect();
    for port in [
        "127.0.2.3:5432:5432",
        "127.0.2.3:5433:5432",
        "127.0.2.3:15672:15672",
        "127.0.2.3:5673:5672",
        "127.0.2.3:15673:15672",
    ] {
        assert!(published.contains(&port), "{port} not in {published:?}");
    }
}

#[test]
fn a_second_sync_changes_nothing() {
    let root = synced_cheapa();
    let before = common::snapshot(&root.path().join("cheapa"));
    let out = common::ok(&common::sdtui(root.path(), &["-p", "cheapa", "sync"]));
    assert!(out.contains("nothing to change"), "{out}");
    let after = common::snapshot(&root.path().join("cheapa"));
    assert_eq!(before, after);
}

fn compose_files(root: &Path) -> Vec<PathBuf> {
    ["core", "app"]
        .iter()
        .map(|vm| root.join(format!("cheapa/compose/{vm}/docker-compose.yml")))
        .collect()
}

#[test]
fn compose_files_validate_against_the_compose_spec_schema() {
    let schema_path = "/usr/lib/python3/dist-packages/compose/config/compose_spec.json";
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(schema_path)
            .expect("compose_spec.json from Debian's docker-compose package (run .ci/setup)"),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    // The validator must be able to say no, or the check below proves nothing.
    let broken = serde_json::json!({"services": {"x": {"image": "a", "restart_policy": 1}}});
    assert!(!validator.is_valid(&broken));
    let root = synced_cheapa();
    for file in compose_files(root.path()) {
        let doc: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn compose_v1_and_v2_accept_the_generated_files() {
    let root = synced_cheapa();
    for compose in common::compose::Compose::BOTH {
        for file in compose_files(root.path()) {
            // As a user would: `cd compose/<vm> && docker-compose config`,
            // through the symlink to the current generation, env files found
            // beside it.
            let out = compose
                .command()
                .args(["-p", "cheapa", "config", "-q"])
                .current_dir(file.parent().unwrap())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{compose:?} {}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The backup services of scheduled addons (a local VM and an SSH VM):
/// golden files (compose, script, env file) and modes, no secret in the
/// compose file or the script, and Compose v1 and v2 resolve the backups
/// folder and the script to the same paths: the folder `store::folder`
/// names, seen from where the release runs (`.sdtui/deploy/<vm>/current`
/// locally, `~/.sdtui/<project>/<vm>/current` over SSH).
#[test]
fn scheduled_backup_services_match_golden_files_and_both_composes_agree() {
    let root = common::root_with("scheduled");
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let p = ws.project(Some("scheduled")).unwrap();
    ws.run(&p, &Operation::Sync, false).unwrap();
    let project = root.path().join("scheduled");
    let files = common::snapshot(&project);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/scheduled");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let wanted = [
        "compose/local/docker-compose.yml",
        "compose/local/backup/postgres-main_backup.sh",
        "compose/local/env/postgres-main_backup.env",
        "compose/edge/docker-compose.yml",
        "compose/edge/backup/redis-session_backup.sh",
        "compose/edge/env/redis-session_backup.env",
    ];
    for rel in wanted {
        let (content, mode) = &files[Path::new(rel)];
        let expected_mode = if rel.ends_with(".env") { 0o600 } else { 0o644 };
        assert_eq!(*mode, expected_mode, "mode of {rel}");
        if update {
            std::fs::create_dir_all(golden.join(rel).parent().unwrap()).unwrap();
            std::fs::write(golden.join(rel), content).unwrap();
        } else {
            let expected = std::fs::read_to_string(golden.join(rel)).unwrap();
            assert_eq!(
                &expected, content,
                "{rel} differs (UPDATE_GOLDEN=1 to accept)"
            );
        }
    }
    // The label that recreates the service when its script changes holds
    // the script's sha256 (Compose does not hash mounted files).
    for (vm, service) in [
        ("local", "postgres-main_backup"),
        ("edge", "redis-session_backup"),
    ] {
        let compose: serde_json::Value = serde_saphyr::from_str(
            &files[Path::new(&format!("compose/{vm}/docker-compose.yml"))].0,
        )
        .unwrap();
        let script = &files[Path::new(&format!("compose/{vm}/backup/{service}.sh"))].0;
        let digest = sha256_of(script.as_bytes());
        assert_eq!(
            compose["services"][service]["labels"]["com.superdeploy.backup-script-sha256"],
            serde_json::json!(digest),
            "{vm}"
        );
        assert!(compose["services"][service].get("ports").is_none());
    }
    // An addon without a schedule gets no service.
    assert!(!files.contains_key(Path::new("compose/edge/backup/redis-plain_backup.sh")));
    // Secrets only in the 0600 env files.
    let passwords = common::secret_values(&project.join("secrets.yml"), &["PASSWORD"]);
    assert!(passwords.len() >= 4);
    for rel in wanted.iter().filter(|r| !r.ends_with(".env")) {
        for pw in &passwords {
            assert!(
                !files[Path::new(rel)].0.contains(pw),
                "a password leaked into {rel}"
            );
        }
    }
    let env = &files[Path::new("compose/edge/env/redis-session_backup.env")].0;
    assert!(passwords.iter().any(|pw| env.contains(pw)), "{env}");

    // Both Compose versions, run where the release runs, read the same
    // absolute bind sources, and those are the backups folders.
    for (vm, service, release, backups) in [
        (
            "local",
            "postgres-main_backup",
            project.join(".sdtui/deploy/local/current"),
            project.join(".sdtui/backups/databases.main"),
        ),
        (
            "edge",
            "redis-session_backup",
            root.path().join("home/.sdtui/scheduled/edge/current"),
            root.path()
                .join("home/.sdtui/scheduled/backups/caches.session"),
        ),
    ] {
        common::copy_dir(&project.join("compose").join(vm), &release);
        let mut seen = Vec::new();
        for compose in common::compose::Compose::BOTH {
            let out = compose
                .command()
                .args(["-p", "scheduled", "-f", "docker-compose.yml", "config"])
                .current_dir(&release)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{compose:?} {vm}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let doc: serde_json::Value =
                serde_saphyr::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
            let volumes: Vec<String> = doc["services"][service]["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.split(':').next().unwrap().to_string(),
                    v => v["source"].as_str().unwrap().to_string(),
                })
                .collect();
            seen.push(volumes);
        }
        assert_eq!(seen[0], seen[1], "v1 and v2 disagree on {vm}");
        let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        std::fs::create_dir_all(&backups).unwrap();
        assert_eq!(
            real(Path::new(&seen[0][0])),
            real(&backups),
            "{vm}: {:?}",
            seen[0]
        );
        assert_eq!(
            real(Path::new(&seen[0][1])),
            real(&release.join(format!("backup/{service}.sh"))),
            "{vm}"
        );
    }
}

/// sha256 of some bytes, with the coreutils the VMs use too.
fn sha256_of(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// `init demo --environments dev,staging` in a fresh root, seeded.
fn init_with_environments(dry_run: bool) -> (tempfile::TempDir, sdtui::engine::plan::Plan) {
    let root = tempfile::tempdir().unwrap();
    let mut ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
    ws.test_seed = Some(7);
    let p = ws.new_project("demo").unwrap();
    let op = Operation::Init {
        environments: vec!["dev".into(), "staging".into()],
    };
    let plan = ws.run(&p, &op, dry_run).unwrap();
    (root, plan)
}

/// Every file `init --environments` writes (config.yml, the migration, the
/// placeholder app, each environment's variables file, and what a sync
/// generates) against goldens, byte for byte and mode for mode; two runs
/// write identical trees; the dry run plans exactly those files and writes
/// none of them.
#[test]
fn init_with_environments_matches_golden_files() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/init-environments");
    let (root, plan) = init_with_environments(false);
    let files = common::snapshot(&root.path().join("demo"));
    for rel in [
        "config.yml",
        "deploy/init-compose.yml",
        "deploy/app-compose.yml",
        "deploy/dev.env",
        "deploy/staging.env",
        "secrets.yml",
    ] {
        assert!(files.contains_key(Path::new(rel)), "{rel} not written");
    }
    let (again, _) = init_with_environments(false);
    assert_eq!(
        common::snapshot(&again.path().join("demo")),
        files,
        "the same init writes the same files"
    );
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (rel, (content, mode)) in &files {
        let secret = rel.extension().is_some_and(|e| e == "env") || rel.ends_with("secrets.yml");
        assert_eq!(
            *mode,
            if secret { 0o600 } else { 0o644 },
            "mode of {}",
            rel.display()
        );
        let path = golden.join(rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content.as_bytes()).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_ref() != Some(content) {
            mismatches.push(rel.display().to_string());
        }
    }
    if !update {
        for rel in common::snapshot(&golden).keys() {
            assert!(
                files.contains_key(rel),
                "golden {} was not written",
                rel.display()
            );
        }
    }
    assert!(
        mismatches.is_empty(),
        "differ from goldens (UPDATE_GOLDEN=1 to accept): {mismatches:?}"
    );
    let planned: Vec<String> = plan
        .changes
        .iter()
        .map(|c| c.rel.display().to_string())
        .collect();
    assert_eq!(
        &planned[..5],
        [
            "config.yml",
            "deploy/init-compose.yml",
            "deploy/app-compose.yml",
            "deploy/dev.env",
            "deploy/staging.env"
        ]
    );

    let (dry_root, dry) = init_with_environments(true);
    let diff = dry.diff(false);
    for rel in &planned {
        assert!(
            diff.contains(&format!("+++ b/{rel}")),
            "{rel} not in the diff:\n{diff}"
        );
    }
    assert!(diff.contains("+APP_MESSAGE=hello from dev"), "{diff}");
    assert!(
        !dry_root.path().join("demo/config.yml").exists()
            && !dry_root.path().join("demo/deploy").exists(),
        "a dry run writes nothing"
    );
}
