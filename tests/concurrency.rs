//! Two processes on one project, and a kill -9 in the middle of an apply:
//! the second waits briefly then fails clearly; the crash leaves the old
//! files or the new ones once anyone looks, never a mix.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{fails, ok, sdtui, snapshot};

fn paused_add(root: &std::path::Path, steps: usize) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args([
            "-p", "cheapa", "addons", "add", "postgres", "billing", "--vm", "core", "-q",
        ])
        .env("SDTUI_ROOT", root)
        .env("SDTUI_ADDONS", root.join(".none"))
        .env("SDTUI_FAULT_PAUSE_AFTER_STEPS", steps.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it holds the lock mid-transaction.
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("paused after"), "child said: {line}");
    child
}

#[test]
fn a_second_writer_waits_then_fails_clearly_and_a_kill_9_is_rolled_forward() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let before = snapshot(&r.join("cheapa"));
    let mut writer = paused_add(r, 3);

    // The second mutating process waits for the lock, then gives up.
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args([
            "-p", "cheapa", "addons", "add", "redis", "jobs", "--vm", "app",
        ])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .env("SDTUI_LOCK_WAIT_MS", "400")
        .output()
        .unwrap();
    let err = fails(&out);
    assert!(
        started.elapsed().as_millis() >= 400,
        "it should wait before failing"
    );
    assert!(
        err.contains("project cheapa is busy") && err.contains("addons add postgres billing"),
        "{err}"
    );
    assert!(err.contains("hint: "));

    // Right now the disk holds a mix: three files renamed, the rest not.
    let mid = snapshot(&r.join("cheapa"));
    let changed = mid
        .iter()
        .filter(|(p, v)| !p.to_string_lossy().ends_with(".sdtui-new") && before.get(*p) != Some(v))
        .count();
    assert_eq!(changed, 3, "the writer stopped mid-transaction");

    writer.kill().unwrap(); // SIGKILL
    writer.wait().unwrap();

    // The next reader finishes the committed transaction before reading.
    let list = ok(&sdtui(r, &["-p", "cheapa", "addons", "list", "--json"]));
    assert!(list.contains("databases.billing"), "{list}");
    let after = snapshot(&r.join("cheapa"));
    assert!(
        after
            .keys()
            .all(|p| !p.to_string_lossy().ends_with(".sdtui-new")),
        "temporaries swept"
    );
    assert!(
        after[std::path::Path::new("config.yml")]
            .0
            .contains("    billing:")
    );
    assert!(
        after[std::path::Path::new("secrets.yml")]
            .0
            .contains("    billing:")
    );
    assert!(
        after[std::path::Path::new("compose/core/docker-compose.yml")]
            .0
            .contains("postgres-billing:")
    );
    // Everything generated agrees with config.yml and secrets.yml: all new.
    let again = ok(&sdtui(r, &["-p", "cheapa", "sync", "--dry-run"]));
    assert!(again.contains("nothing to change"), "{again}");
    // And the lock is free again.
    ok(&sdtui(
        r,
        &[
            "-p", "cheapa", "addons", "add", "redis", "jobs", "--vm", "app",
        ],
    ));
}

#[test]
fn a_kill_9_before_the_commit_leaves_the_old_files() {
    let root = common::root_with("cheapa");
    let r = root.path();
    ok(&sdtui(r, &["-p", "cheapa", "sync"]));
    let before = snapshot(&r.join("cheapa"));
    let mut writer = Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args([
            "-p", "cheapa", "addons", "add", "postgres", "billing", "--vm", "core", "-q",
        ])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .env("SDTUI_FAULT_PAUSE_BEFORE_COMMIT", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(writer.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("paused before commit"), "{line}");
    writer.kill().unwrap();
    writer.wait().unwrap();
    let mid = snapshot(&r.join("cheapa"));
    assert!(
        mid.keys()
            .any(|p| p.to_string_lossy().ends_with(".sdtui-new")),
        "temporaries were written"
    );
    ok(&sdtui(r, &["-p", "cheapa", "sync", "-q"]));
    assert_eq!(
        snapshot(&r.join("cheapa")),
        before,
        "old files, temporaries swept"
    );
}
