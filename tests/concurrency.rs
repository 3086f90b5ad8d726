//! Two processes on one project, and a kill -9 in the middle of an apply:
//! the second waits briefly then fails clearly; the crash leaves the old
//! files or the new ones once anyone looks, never a mix. And the generated
//! tree, read by anyone at any instant (during a sync, or after a kill
//! before anything recovered), is always the old set or the new set.

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
    // Paused after secrets.yml and the generated tree, before config.yml.
    let mut writer = paused_add(r, 2);

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

    // Right now secrets.yml and the whole generated tree are new, config.yml
    // still old: each stable path switched as a whole, in the journal's order.
    let mid = snapshot(&r.join("cheapa"));
    let changed: Vec<String> = mid
        .iter()
        .filter(|(p, v)| !p.to_string_lossy().ends_with(".sdtui-new") && before.get(*p) != Some(v))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(
        changed.contains(&"secrets.yml".to_string())
            && changed.contains(&"compose/core/docker-compose.yml".to_string())
            && !changed.contains(&"config.yml".to_string()),
        "the writer stopped before config.yml: {changed:?}"
    );

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

/// Ten VMs, each with a postgres, a redis and an app that uses the next
/// VM's redis: `variant` moves every VM's private address and every app's
/// tag, so a sync from one variant to the other rewrites every VM's compose
/// file and every app's env file (the addons' env files stay).
fn ten_vm_config(variant: u8) -> String {
    let mut s = String::from("vms:\n");
    for i in 0..10 {
        s.push_str(&format!(
            "  vm{i}:\n    host: 127.0.3.{}\n    user: root\n    private_ip: 127.0.{}.{}\n",
            10 + i,
            3 + variant,
            10 + i
        ));
    }
    s.push_str("addons:\n  databases:\n");
    for i in 0..10 {
        s.push_str(&format!(
            "    db{i}:\n      type: postgres\n      plan: small\n      vm: vm{i}\n"
        ));
    }
    s.push_str("  caches:\n");
    for i in 0..10 {
        s.push_str(&format!(
            "    cache{i}:\n      type: redis\n      plan: small\n      vm: vm{i}\n"
        ));
    }
    s.push_str("apps:\n");
    for i in 0..10 {
        s.push_str(&format!(
            "  app{i}:\n    image: example/app{i}\n    tag: v{variant}\n    vm: vm{i}\n    port: 8000\n    addons:\n      - databases.db{i} as DATABASE\n      - caches.cache{} as CACHE\n",
            (i + 1) % 10
        ));
    }
    s
}

type Tree = std::collections::BTreeMap<std::path::PathBuf, (String, u32)>;

/// The generated tree as a reader that enters `compose` once sees it (like
/// `cd compose && cat ...`): the folder is opened, then everything is read
/// below that open folder. `None` when the generation it entered was
/// removed while it read (only after two switches; see apply's docs).
fn read_entered(project: &std::path::Path) -> Option<Tree> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = std::fs::File::open(project.join("compose"))
        .unwrap_or_else(|e| panic!("compose/ must always be there: {e}"));
    let base = std::path::PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    let mut tree = Tree::new();
    let mut stack = vec![std::path::PathBuf::new()];
    let removed = || dir.metadata().is_ok_and(|m| m.nlink() == 0);
    while let Some(rel) = stack.pop() {
        let entries = match std::fs::read_dir(base.join(&rel)) {
            Ok(rd) => rd,
            Err(_) if removed() => return None,
            Err(e) => panic!("reading {}: {e}", rel.display()),
        };
        for e in entries {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                stack.push(r);
                continue;
            }
            match (
                std::fs::read(base.join(&r)),
                std::fs::metadata(base.join(&r)),
            ) {
                (Ok(bytes), Ok(meta)) => {
                    let text = String::from_utf8_lossy(&bytes).to_string();
                    tree.insert(r, (text, meta.permissions().mode() & 0o777));
                }
                _ if removed() => return None,
                (Err(e), _) | (_, Err(e)) => panic!("reading {}: {e}", r.display()),
            }
        }
    }
    Some(tree)
}

/// The generated files read one by one at their stable paths.
fn read_stable(project: &std::path::Path) -> Tree {
    snapshot(project)
        .into_iter()
        .filter_map(|(p, v)| Some((p.strip_prefix("compose").ok()?.to_path_buf(), v)))
        .collect()
}

/// Which set `tree` is, or a panic naming the files that differ from both.
fn old_or_new(tree: &Tree, sets: &[Tree; 2], when: &str) -> usize {
    if let Some(i) = sets.iter().position(|s| s == tree) {
        return i;
    }
    let differs = |s: &Tree| -> Vec<String> {
        s.keys()
            .chain(tree.keys())
            .filter(|p| s.get(*p) != tree.get(*p))
            .map(|p| p.display().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    panic!(
        "{when}: a mix of the two sets; differs from one in {:?}, from the other in {:?}",
        differs(&sets[0]),
        differs(&sets[1])
    );
}

/// Every path under `dir`, sdtui's state folder included.
fn all_paths(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

fn generation_ids(project: &std::path::Path) -> Vec<u64> {
    std::fs::read_dir(project.join(".sdtui/generations"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Turns `compose` back into a real folder holding the same files: how a
/// project written before generations looks.
fn make_real_compose_folder(project: &std::path::Path) {
    let real = project.join("compose.real");
    common::copy_dir(&project.join("compose"), &real);
    std::fs::remove_file(project.join("compose")).unwrap();
    std::fs::rename(&real, project.join("compose")).unwrap();
}

#[test]
fn kill_9_inside_the_file_switch_of_a_large_sync_never_shows_a_mix() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, RwLock};
    use std::time::{Duration, Instant};

    const KILLS: u32 = 30;
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_path_buf();
    let project = r.join("fleet");
    std::fs::create_dir_all(&project).unwrap();
    let config = project.join("config.yml");
    let sync = |slow: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sdtui"));
        cmd.args(["-p", "fleet", "sync", "-q"])
            .env("SDTUI_ROOT", &r)
            .env("SDTUI_ADDONS", r.join(".none"))
            .env("SDTUI_USER", "tester")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if slow {
            cmd.env("SDTUI_FAULT_SLOW_FS_MS", "15");
        }
        cmd
    };

    // A slowed-down sync, once it says its file operations have begun.
    let start_slow_sync = || {
        let mut child = sync(true).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.contains("file operations slowed"),
            "child said: {line}"
        );
        child
    };

    // The two sets, and how long the file operations of a slowed-down sync
    // take.
    std::fs::write(&config, ten_vm_config(0)).unwrap();
    ok(&sync(false).output().unwrap());
    let set0 = read_stable(&project);
    std::fs::write(&config, ten_vm_config(1)).unwrap();
    let mut writer = start_slow_sync();
    let started = Instant::now();
    assert!(writer.wait().unwrap().success());
    let file_switch = started.elapsed();
    let set1 = read_stable(&project);
    assert_eq!(set0.len(), 40, "{:?}", set0.keys());
    let rewritten = set0.iter().filter(|(p, v)| set1.get(*p) != Some(v)).count();
    assert_eq!(rewritten, 20, "every VM's compose file and app env file");
    let sets = Arc::new([set0, set1]);

    // A reader polling all along, entering compose/ like `cd` does.
    let stop = Arc::new(AtomicBool::new(false));
    let layout = Arc::new(RwLock::new(()));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (stop, layout, reads, sets) =
            (stop.clone(), layout.clone(), reads.clone(), sets.clone());
        let project = project.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _reading = layout.read().unwrap();
                if let Some(tree) = read_entered(&project) {
                    old_or_new(&tree, &sets, "the concurrent reader");
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                drop(_reading);
                // Polls, leaving the writer (2 cores here) some CPU.
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    let mut current = 1usize;
    let (mut left_old, mut left_new, mut inside) = (0, 0, 0);
    for kill in 0..KILLS {
        let next = 1 - current;
        if kill % 5 == 2 {
            // Every fifth kill lands in the migration of a real folder.
            let _held = layout.write().unwrap();
            make_real_compose_folder(&project);
        }
        std::fs::write(&config, ten_vm_config(next as u8)).unwrap();
        let newest_before = generation_ids(&project).into_iter().max().unwrap_or(0);
        let mut writer = start_slow_sync();
        // Spread over the file operations, start to end, and a little beyond
        // (the last kills may find it finished).
        let delay = file_switch.mul_f64(1.3 * f64::from(kill) / f64::from(KILLS - 1));
        std::thread::sleep(delay);
        writer.kill().unwrap(); // SIGKILL
        writer.wait().unwrap();

        // Nothing has recovered anything yet: the stable paths as left. A
        // generation newer than any before this sync that `compose` does not
        // point at (being built), or a journal (committed, not finished):
        // the kill landed inside the switch.
        let state = project.join(".sdtui");
        let pointed: Option<u64> = std::fs::read_link(project.join("compose"))
            .ok()
            .and_then(|t| t.file_name()?.to_str()?.parse().ok());
        let unfinished = generation_ids(&project)
            .into_iter()
            .any(|n| n > newest_before && Some(n) != pointed);
        if unfinished || state.join("journal.json").exists() {
            inside += 1;
        }
        let seen = {
            let _held = layout.write().unwrap();
            old_or_new(&read_stable(&project), &sets, &format!("after kill {kill}"))
        };
        if seen == current {
            left_old += 1;
        } else {
            left_new += 1;
        }

        // The next sync completes: the new set, nothing stray left.
        ok(&sync(false).output().unwrap());
        assert_eq!(
            old_or_new(&read_stable(&project), &sets, "after the next sync"),
            next
        );
        current = next;
        let stray: Vec<String> = all_paths(&project)
            .into_iter()
            .filter(|p| p.ends_with(".sdtui-new") || p.ends_with("journal.json"))
            .collect();
        assert!(stray.is_empty(), "left behind: {stray:?}");
        let generations = generation_ids(&project);
        assert!(generations.len() <= 2, "generations kept: {generations:?}");
        assert!(
            std::fs::symlink_metadata(project.join("compose"))
                .unwrap()
                .is_symlink()
        );
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    eprintln!(
        "{KILLS} kills: {left_old} left the old set, {left_new} the new, {inside} inside the switch; {} concurrent reads",
        reads.load(Ordering::Relaxed)
    );

    // The kills landed on both sides of the switch and inside it.
    assert!(
        left_old > 0 && left_new > 0,
        "old {left_old}, new {left_new}"
    );
    assert!(
        inside >= 10,
        "only {inside} of {KILLS} kills landed inside the switch"
    );
    assert!(reads.load(Ordering::Relaxed) > 100, "the reader ran");
    // Secret files stay private in generations.
    use std::os::unix::fs::PermissionsExt;
    let env_dir = std::fs::metadata(project.join("compose/vm0/env")).unwrap();
    assert_eq!(env_dir.permissions().mode() & 0o777, 0o700);
}
