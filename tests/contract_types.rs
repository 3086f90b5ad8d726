//! Script-backed addon types (tests/fixtures/addons/kvstore: redis with an
//! addon.sh): `catalog validate` and its bad inputs without Docker; then on
//! the real engine, `up` running install and configure inside the
//! container, `status` / `addons info` reporting the script's values, and
//! every call recorded in the audit trail with secrets masked.

mod common;

use std::path::Path;

use common::docker::{Cleanup, docker, require_images};
use common::{fails, ok, sdtui};

/// The fixture type copied into `root`'s user addons folder (or `into`).
fn kvstore(into: &Path) -> std::path::PathBuf {
    let dir = into.join("kvstore");
    std::fs::create_dir_all(&dir).unwrap();
    common::copy_dir(&common::fixture("addons/kvstore"), &dir);
    dir
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

/// What is broken, how, and what the error must say.
type Case<'a> = (&'a str, Box<dyn Fn() + 'a>, &'a str);

#[test]
fn catalog_validate_passes_the_fixture_and_names_function_and_field_on_bad_input() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let work = r.join("work");
    let dir = kvstore(&work);
    let d = dir.to_str().unwrap();
    let out = ok(&sdtui(r, &["catalog", "validate", d]));
    println!("{out}");
    assert!(
        out.contains("ok  metadata   kvstore 1.0.0 (container)"),
        "{out}"
    );
    assert!(
        out.contains("metadata, validate, install, uninstall, status, configure, health, metrics, backup, restore"),
        "{out}"
    );
    let script = dir.join("addon.sh");
    let original = std::fs::read_to_string(&script).unwrap();
    let cases: Vec<Case> = vec![
        (
            "not executable",
            Box::new(|| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
            }),
            "type kvstore, function metadata:",
        ),
        (
            "invalid JSON",
            Box::new(|| replace_in(&script, "echo '{\"valid\": true", "echo '{valid: true")),
            "type kvstore, function validate: printed invalid JSON",
        ),
        (
            "a wrong field",
            Box::new(|| replace_in(&script, "\"version\": \"1.0.0\"", "\"version\": 1")),
            "type kvstore, function metadata: field \"version\" is 1, not a string",
        ),
        (
            "non-zero exit",
            Box::new(|| {
                replace_in(
                    &script,
                    "validate)\n",
                    "validate)\n  echo 'redis-cli missing' >&2; exit 3\n",
                )
            }),
            "type kvstore, function validate: exited 3:\n  redis-cli missing",
        ),
        (
            "hangs past its timeout",
            Box::new(|| {
                replace_in(&script, "validate)\n", "validate)\n  sleep 30\n");
                replace_in(&dir.join("addon.yml"), "timeout: 20", "timeout: 1");
            }),
            "type kvstore, function validate: no answer within 1 s; it was stopped",
        ),
        (
            "metadata name differs from the folder",
            Box::new(|| replace_in(&script, "{\"name\": \"kvstore\"", "{\"name\": \"kv\"")),
            "type kvstore, function metadata: field \"name\" is \"kv\", not the folder's \"kvstore\"",
        ),
        (
            "metadata's depends differ from addon.yml's",
            Box::new(|| replace_in(&script, "\"depends\": []", "\"depends\": [\"postgres\"]")),
            "type kvstore, function metadata: field \"depends\" is [postgres], but addon.yml's depends is []",
        ),
    ];
    let yml = std::fs::read_to_string(dir.join("addon.yml")).unwrap();
    for (what, breaks, said) in cases {
        breaks();
        let started = std::time::Instant::now();
        let err = fails(&sdtui(r, &["catalog", "validate", d]));
        println!("{what}: {:?}\n{err}", started.elapsed());
        assert!(err.contains(said), "{what}: {err}");
        assert!(err.contains("hint: "), "{what}: {err}");
        // Put it back for the next case.
        std::fs::write(&script, &original).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("addon.yml"), &yml).unwrap();
    }
    // In the user folder: `catalog` lists its source, kind and functions.
    kvstore(&r.join(".no-user-addons"));
    let cat = ok(&sdtui(r, &["catalog"]));
    assert!(cat.contains("kind container; contract metadata,validate,install,uninstall,status,configure,health,metrics,backup,restore"), "{cat}");
    assert!(
        cat.contains("source built-in; kind container; contract -"),
        "{cat}"
    );
}

#[test]
fn up_installs_and_configures_in_the_container_and_status_uses_the_script() {
    require_images(&["redis:7"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    kvstore(&r.join(".no-user-addons"));
    let name = format!("ct{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.94.2\naddons:\n  caches:\n    kv:\n      type: kvstore\n      plan: small\n    plain:\n      type: redis\n      plan: small\n",
    )
    .unwrap();
    // Before up: nothing installed.
    let info: serde_json::Value = serde_json::from_str(&ok(&sdtui(
        r,
        &["-p", &name, "addons", "info", "caches.kv", "--json"],
    )))
    .unwrap();
    assert_eq!(info["status"], "not_installed", "{info}");
    assert_eq!(info["health"], "unknown", "{info}");

    let started = std::time::Instant::now();
    let up = sdtui(r, &["-p", &name, "up", "--timeout", "120"]);
    let out = ok(&up);
    let progress = String::from_utf8_lossy(&up.stderr);
    println!("up in {:?}:\n{progress}\n{out}", started.elapsed());
    assert!(
        progress.contains("caches.kv: contract install"),
        "{progress}"
    );
    assert!(
        progress.contains("caches.kv: contract configure"),
        "{progress}"
    );

    // configure got the instance as JSON on stdin, inside the container.
    let container = common::docker::container(&format!("{name}-local"), "kvstore-kv");
    let (_, config) = docker(&["exec", &container, "cat", "/data/.kvstore/config.json"]);
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["id"], "caches.kv", "{config}");
    let password = config["credentials"]["PASSWORD"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(password.len() >= 16);

    // status: the script's values (and Docker's for the plain one).
    let status: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&sdtui(r, &["-p", &name, "status", "--json"]))).unwrap();
    let of = |service: &str| {
        status
            .iter()
            .find(|s| s["service"] == service)
            .unwrap_or_else(|| panic!("{service} in {status:?}"))["addon"]
            .clone()
    };
    assert_eq!(of("kvstore-kv")["status"], "installed");
    assert_eq!(of("kvstore-kv")["health"], "healthy");
    assert_eq!(of("kvstore-kv")["detail"], "configured by its script");
    assert_eq!(of("redis-plain")["status"], "installed");
    assert_eq!(of("redis-plain")["detail"], "running, healthy");
    let table = ok(&sdtui(r, &["-p", &name, "status"]));
    assert!(table.contains("STATUS"), "{table}");

    // No backup: section: db backup and restore go through the script,
    // inside the container.
    let (_, saved) = docker(&["exec", &container, "cat", "/data/.kvstore/config.json"]);
    let backup: serde_json::Value = serde_json::from_str(&ok(&sdtui(
        r,
        &["-p", &name, "db", "backup", "caches.kv", "--json"],
    )))
    .unwrap();
    assert_eq!(backup["drill"]["status"], "not run", "{backup}");
    let id = backup["id"].as_str().unwrap().to_string();
    docker(&[
        "exec",
        &container,
        "sh",
        "-c",
        "echo changed > /data/.kvstore/config.json",
    ]);
    ok(&sdtui(
        r,
        &[
            "-p",
            &name,
            "db",
            "restore",
            "caches.kv",
            &id,
            "--confirm",
            "caches.kv",
        ],
    ));
    let (_, back) = docker(&["exec", &container, "cat", "/data/.kvstore/config.json"]);
    assert_eq!(back, saved);

    // The script says degraded: status and info say so.
    docker(&["exec", &container, "touch", "/data/.kvstore/degraded"]);
    let info: serde_json::Value = serde_json::from_str(&ok(&sdtui(
        r,
        &["-p", &name, "addons", "info", "caches.kv", "--json"],
    )))
    .unwrap();
    assert_eq!(info["status"], "degraded", "{info}");
    assert_eq!(info["health"], "degraded", "{info}");
    assert_eq!(info["status_detail"], "marked degraded by hand", "{info}");

    // A container stopped by hand: Docker's verdict, the script not asked.
    docker(&["stop", &container]);
    let info: serde_json::Value = serde_json::from_str(&ok(&sdtui(
        r,
        &["-p", &name, "addons", "info", "caches.kv", "--json"],
    )))
    .unwrap();
    assert_eq!(info["status"], "failed", "{info}");
    assert_eq!(info["health"], "unhealthy", "{info}");

    // Every call is an execution record; the password never is.
    let audit = std::fs::read_to_string(dir.join(".sdtui/audit.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e.get("execution").is_some())
        .collect();
    let functions: Vec<&str> = records
        .iter()
        .map(|e| e["execution"]["function"].as_str().unwrap())
        .collect();
    println!("{functions:?}");
    assert_eq!(functions[..2], ["install", "configure"], "{functions:?}");
    assert!(functions.contains(&"status") && functions.contains(&"health"));
    let install = records
        .iter()
        .find(|e| e["execution"]["function"] == "install")
        .unwrap();
    assert_eq!(install["execution"]["exit"], 0);
    assert!(
        install["execution"]["stderr"]
            .as_str()
            .unwrap()
            .contains("installed into /data/.kvstore")
    );
    assert!(
        install["execution"]["place"]
            .as_str()
            .unwrap()
            .starts_with("container ")
    );
    assert!(!audit.contains(&password), "a secret in the audit trail");

    // --purge: the script's `uninstall false` runs in the container first.
    docker(&["start", &container]);
    let out = common::sdtui(
        r,
        &[
            "-p",
            &name,
            "addons",
            "remove",
            "caches.kv",
            "--purge",
            "--confirm",
            "caches.kv",
        ],
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{progress}");
    assert!(
        progress.contains("caches.kv: contract uninstall (data deleted)"),
        "{progress}"
    );
    let audit = std::fs::read_to_string(dir.join(".sdtui/audit.jsonl")).unwrap();
    let uninstall = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["execution"]["function"] == "uninstall")
        .expect("an uninstall record");
    assert_eq!(uninstall["execution"]["args"], serde_json::json!(["false"]));
    assert_eq!(uninstall["execution"]["exit"], 0);
    assert!(!audit.contains(&password), "a secret in the audit trail");
}
