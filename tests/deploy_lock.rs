//! One deploy at a time per project and VM, whoever starts it: two `sdtui
//! up` processes started together on a changed plan both succeed, one after
//! the other (the audit's times prove their deploys never overlap); a waiter
//! says whom it waits for and gives up after a bounded wait naming the
//! holder; a holder killed with -9 blocks nobody.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::{Cleanup, container, require_images};
use common::{ok, sdtui};

// One address per test: they run in parallel and publish the same port.
const IP_TWO_UPS: &str = "127.0.13.1";
const IP_HOLDER: &str = "127.0.13.2";

fn sdtui_cmd(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sdtui"));
    c.args(args)
        .env("SDTUI_ROOT", root)
        .env("SDTUI_ADDONS", root.join(".no-user-addons"))
        .env("SDTUI_USER", "tester")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn project(root: &Path, name: &str, plan: &str, ip: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: {ip}\naddons:\n  caches:\n    cache:\n      type: memcached\n      plan: {plan}\n"
        ),
    )
    .unwrap();
    dir
}

fn ups(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join(".sdtui/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["operation"] == "up")
        .collect()
}

fn time(v: &serde_json::Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a time")).unwrap()
}

#[test]
fn two_ups_at_once_run_one_after_the_other() {
    require_images(&["memcached:1.6"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("lk{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = project(r, &name, "small", IP_TWO_UPS);
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "60"]));
    let release = dir.join(".sdtui/deploy/local");
    let first_compose =
        std::fs::read_to_string(release.join("current/docker-compose.yml")).unwrap();

    // The plan changes; two deploys start together.
    project(r, &name, "standard", IP_TWO_UPS);
    let children: Vec<_> = (0..2)
        .map(|_| {
            sdtui_cmd(r, &["-p", &name, "up", "--timeout", "60"])
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outs {
        assert!(
            o.status.success(),
            "both succeed:\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // One of them waited, and said for what.
    let waited: Vec<String> = outs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr).to_string())
        .filter(|e| e.contains("waiting for up by pid"))
        .collect();
    assert_eq!(waited.len(), 1, "exactly one waited: {waited:?}");
    assert!(waited[0].contains("(tester@"), "{}", waited[0]);

    // Their deploys never overlapped.
    let entries = ups(&dir);
    assert_eq!(entries.len(), 3, "{entries:?}");
    let (a, b) = (&entries[1], &entries[2]);
    for e in [a, b] {
        assert_eq!(e["outcome"], "applied", "{e}");
        assert!(time(&e["started"]) <= time(&e["time"]), "{e}");
    }
    assert!(
        time(&a["time"]) <= time(&b["started"]),
        "the second began after the first ended: {a} / {b}"
    );

    // The release is the last plan; the one before it is `previous`.
    let generated = std::fs::read_to_string(dir.join("compose/local/docker-compose.yml")).unwrap();
    let current = std::fs::read_to_string(release.join("current/docker-compose.yml")).unwrap();
    let previous = std::fs::read_to_string(release.join("previous/docker-compose.yml")).unwrap();
    assert_eq!(current, generated);
    assert_eq!(previous, first_compose);
    assert_ne!(current, previous, "the plan change reached the release");
    assert!(!container(&format!("{name}-local"), "memcached-cache").is_empty());
}

#[test]
fn a_waiter_names_the_holder_and_a_killed_holder_blocks_nobody() {
    require_images(&["memcached:1.6"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("lh{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = project(r, &name, "small", IP_HOLDER);
    let lock = dir.join(".sdtui/deploy/local.lock");

    // Held by a live `up` (stopped while it holds the lock): a second one
    // gives up after its bounded wait, naming it.
    let mut holder = sdtui_cmd(r, &["-p", &name, "up", "--timeout", "60"])
        .env("SDTUI_FAULT_PAUSE_HOLDING_DEPLOY_LOCK", "1")
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("\"pid\"")) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the holder took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = sdtui_cmd(r, &["-p", &name, "up"])
        .env("SDTUI_DEPLOY_WAIT_S", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "VM local of project {name} is busy: up by pid {} (tester@",
            holder.id()
        )),
        "{err}"
    );
    assert!(err.contains("waiting for up by pid"), "{err}");

    // kill -9: the lock dies with its process.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = sdtui_cmd(r, &["-p", &name, "up", "--timeout", "60"])
        .env("SDTUI_DEPLOY_WAIT_S", "5")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!container(&format!("{name}-local"), "memcached-cache").is_empty());
}
