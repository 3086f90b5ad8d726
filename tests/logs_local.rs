//! `logs` on the real local engine: with no SERVICE, every service's lines
//! arrive prefixed `service | ` (padded, no colour into a pipe), the tail
//! and then live; one service's output as `docker logs` gives it.

mod common;

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::docker::{Cleanup, container, docker, require_images};
use common::{collect, fails, ok, sdtui};

fn wait_for(text: &Mutex<String>, what: &str, check: impl Fn(&str) -> bool) {
    let start = Instant::now();
    loop {
        let t = text.lock().unwrap().clone();
        if check(&t) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never got {what}:\n{t}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn logs_of_every_service_arrive_prefixed_then_live() {
    require_images(&["postgres:15", "redis:7"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("lg{}", std::process::id());
    let cp = format!("{name}-local");
    let _cleanup = Cleanup(cp.clone());
    std::fs::create_dir_all(r.join(&name)).unwrap();
    std::fs::write(
        r.join(&name).join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.3.67\naddons:\n  databases:\n    main:\n      type: postgres\n      plan: small\n  caches:\n    main:\n      type: redis\n      plan: small\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    let pg_prefix = "postgres-main | ";
    let redis_prefix = "redis-main    | ";

    // The tail of each, every line (stdout and stderr) prefixed, no
    // colour into a pipe.
    let out = sdtui(r, &["-p", &name, "logs", "--tail", "5"]);
    assert!(out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(pg_prefix), "{text}");
    assert!(text.contains(redis_prefix), "{text}");
    assert!(
        text.lines()
            .all(|l| l.starts_with(pg_prefix) || l.starts_with(redis_prefix)),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "colour into a pipe:\n{text}");
    assert!(
        text.lines().filter(|l| l.starts_with(redis_prefix)).count() <= 5,
        "--tail is per service:\n{text}"
    );

    // Followed: both tails, then what redis says when stopped by hand
    // arrives live, prefixed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(["-p", &name, "logs", "-f", "--tail", "3"])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let live = collect(&mut child);
    wait_for(&live, "both services' tails", |t| {
        t.contains(pg_prefix) && t.contains(redis_prefix)
    });
    let before = live.lock().unwrap().len();
    let redis = container(&cp, "redis-main");
    assert!(docker(&["stop", "-t", "5", &redis]).0);
    wait_for(&live, "redis's shutdown lines, live", |t| {
        t[before..]
            .lines()
            .any(|l| l.starts_with(redis_prefix) && l.to_lowercase().contains("shutdown"))
    });
    let _ = child.kill();
    let _ = child.wait();

    // One service: its lines as docker logs prints them, no prefix.
    let one = sdtui(r, &["-p", &name, "logs", "redis-main", "--tail", "3"]);
    let direct = Command::new("docker")
        .args(["logs", "--tail", "3", &redis])
        .output()
        .unwrap();
    assert_eq!(one.stdout, direct.stdout);
    assert_eq!(one.stderr, direct.stderr);

    // An unknown VM is named, with the choices.
    let err = fails(&sdtui(r, &["-p", &name, "logs", "--vm", "nowhere"]));
    assert!(err.contains("unknown VM \"nowhere\""), "{err}");
    assert!(err.contains("local"), "{err}");
}
