//! A scheduled backup service over SSH with Compose v2: redis on an sshd
//! "VM" (tests/sshd), its backup service mounting the VM's
//! ~/.sdtui/<project>/backups/<addon> through a relative path, firing each
//! minute, drilling each backup in its own container, keeping `keep`; the
//! health is read over SSH by `status`.

mod common;

use std::time::{Duration, Instant};

use common::docker::{Cleanup, container, docker, require_images};
use common::ok;
use common::sshd::{RemoteDir, TestVm, sdtui_ssh as sdtui};

#[test]
fn redis_scheduled_backups_over_ssh_with_compose_v2() {
    require_images(&["redis:7"]);
    let v2 = common::compose::v2_binary();
    let vm = TestVm::start("127.0.71.4", 2271);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let name = format!("schr{}", std::process::id());
    let compose_project = format!("{name}-edge");
    let _cleanup = Cleanup(compose_project.clone());
    let remote = std::path::PathBuf::from(std::env::var("HOME").unwrap())
        .join(".sdtui")
        .join(&name);
    let _remote = RemoteDir(remote.clone());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  edge:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n    compose: {}\naddons:\n  caches:\n    session:\n      type: redis\n      plan: small\n      vm: edge\n      backup: {{every: \"* * * * *\", keep: 1}}\n",
            vm.addr,
            vm.port,
            vm.client_key().display(),
            v2.display()
        ),
    )
    .unwrap();
    let out = ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "--accept-new-host", "up", "--timeout", "180"],
    ));
    assert!(out.contains("compose v2"), "{out}");
    let redis = container(&compose_project, "redis-session");
    let service = container(&compose_project, "redis-session_backup");
    assert!(!service.is_empty(), "no backup service: {out}");
    // v2 made it (its containers are named project-service-1).
    let (_, svc_name) = docker(&["inspect", "-f", "{{.Name}}", &service]);
    assert!(
        svc_name.trim().ends_with("redis-session_backup-1"),
        "{svc_name}"
    );
    let password = common::secret(&dir.join("secrets.yml"), "session", "PASSWORD");
    let (done, out) = docker(&[
        "exec",
        "-e",
        &format!("REDISCLI_AUTH={password}"),
        &redis,
        "sh",
        "-c",
        "for i in $(seq 1 40); do redis-cli --no-auth-warning set k$i v$i >/dev/null; done; redis-cli --no-auth-warning dbsize",
    ]);
    assert!(done && out.trim() == "40", "{out}");
    let written = chrono::Utc::now();

    // Wait for a good backup made after the keys were written.
    let folder = remote.join("backups/caches.session");
    let deadline = Instant::now() + Duration::from_secs(200);
    let newest = loop {
        let list = backup_schedule_list(&folder);
        let after: Vec<&serde_json::Value> = list
            .iter()
            .filter(|m| m["drill"]["status"] == "passed")
            .filter(|m| {
                chrono::DateTime::parse_from_rfc3339(m["created"].as_str().unwrap()).unwrap()
                    > written
            })
            .collect();
        if let Some(m) = after.last() {
            break (*m).clone();
        }
        assert!(
            Instant::now() < deadline,
            "no good scheduled backup after the keys were written within 200 s; manifests: {list:#?}\nthe service's log:\n{}",
            docker(&["logs", "--tail", "30", &service]).1
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    assert_eq!(newest["inventory"]["keys db0"], "40", "{newest}");
    assert_eq!(newest["vm"], "edge");
    assert_eq!(newest["trigger"], "schedule");
    // keep: 1 — once pruning settles, one good scheduled backup.
    let settle = Instant::now() + Duration::from_secs(30);
    loop {
        let good = backup_schedule_list(&folder)
            .iter()
            .filter(|m| m["drill"]["status"] == "passed")
            .count();
        if good == 1 {
            break;
        }
        assert!(Instant::now() < settle, "{good} good backups kept, want 1");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Listed, and judged, over SSH.
    let listed: Vec<serde_json::Value> = serde_json::from_str(&ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "db", "backups", "caches.session", "--json"],
    )))
    .unwrap();
    assert!(
        listed.iter().any(|m| m["id"] == newest["id"]),
        "{listed:#?}"
    );
    let status: Vec<serde_json::Value> = serde_json::from_str(&ok(&sdtui(
        r,
        &known_hosts,
        &["-p", &name, "status", "--json"],
    )))
    .unwrap();
    let row = status
        .iter()
        .find(|s| s["service"] == "redis-session")
        .unwrap();
    assert_eq!(row["backup"]["verdict"], "ok", "{row}");
    // Nothing secret in the compose file or the script on the VM.
    for rel in [
        "edge/current/docker-compose.yml",
        "edge/current/backup/redis-session_backup.sh",
    ] {
        let text = std::fs::read_to_string(remote.join(rel)).unwrap();
        assert!(!text.contains(&password), "{rel}");
    }
    let _ = ok(&sdtui(r, &known_hosts, &["-p", &name, "down"]));
}

fn backup_schedule_list(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = std::fs::read_dir(dir)
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok())
        .filter(|m: &serde_json::Value| m["trigger"] == "schedule")
        .collect();
    out.sort_by_key(|m| m["id"].as_str().unwrap_or_default().to_string());
    out
}
