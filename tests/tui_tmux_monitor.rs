//! The console's monitoring in a real terminal (tmux) against the real
//! engine: the selected redis's live figures under the Addons table, and a
//! script-backed type's own `metrics` (the kvstore fixture) beside them.

mod common;

use std::time::Duration;

use common::docker::{Cleanup, require_images};
use common::tmux::{Tmux, console_cmd};
use common::{ok, sdtui};

/// A running redis selected on the Addons pane shows real figures (a
/// memory limit from its plan, non-zero memory); moving to a pane with no
/// container drops the line.
#[test]
fn the_selected_redis_shows_live_metrics() {
    require_images(&["redis:7"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tm{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.95.11\naddons:\n  caches:\n    main:\n      type: redis\n      plan: small\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up", "--timeout", "120"]));
    let tmux = Tmux::start_sized(&name, &console_cmd(r, &name, ""), 120, 24);
    tmux.wait_for("caches.main", Duration::from_secs(10));
    let took = tmux.wait_for("cpu ", Duration::from_secs(20));
    println!("figure: first metrics line after {} ms", took.as_millis());
    let screen = tmux.screen();
    let line = screen
        .lines()
        .find(|l| l.contains("cpu "))
        .unwrap()
        .to_string();
    println!("{line}");
    assert!(line.contains("redis-main on local"), "{line}");
    // Real figures: memory in use and the plan's limit, network counters.
    let mem = line.split("mem ").nth(1).unwrap();
    let (used, limit) = mem.split_once('/').unwrap();
    assert!(!used.starts_with("0B"), "memory in use: {line}");
    assert!(limit.contains("iB"), "a limit: {line}");
    assert!(line.contains("net ↓") && line.contains("blk r"), "{line}");
    // The Attachments pane has no container: the line goes.
    tmux.keys(&["3"]);
    tmux.wait_until(
        "the line gone",
        |s| !s.contains("cpu "),
        Duration::from_secs(5),
    );
    tmux.keys(&["q"]);
}

/// The kvstore fixture (redis with an addon.sh) selected: its script's
/// `metrics` (`keys=…`) beside the container's figures, read again while
/// selected (a key written meanwhile shows); gone with the selection.
#[test]
fn a_script_backed_addon_shows_its_contract_metrics() {
    require_images(&["redis:7"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let types = r.join(".none/kvstore");
    common::copy_dir(&common::fixture("addons/kvstore"), &types);
    // The fixture's metrics say 0 keys: count them for real, so a key
    // written while the row is selected shows up.
    let script = types.join("addon.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    let counted = text.replace(
        "echo \"{\\\"metrics\\\": {\\\"keys\\\": 0}}\"",
        "n=$(REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli --no-auth-warning dbsize)\n  echo \"{\\\"metrics\\\": {\\\"keys\\\": $n, \\\"source\\\": \\\"script\\\"}}\"",
    );
    assert_ne!(counted, text, "the fixture's metrics line moved");
    std::fs::write(&script, counted).unwrap();
    let name = format!("tk{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.99.2\naddons:\n  caches:\n    kv:\n      type: kvstore\n      plan: small\n",
    )
    .unwrap();
    let up = std::process::Command::new(env!("CARGO_BIN_EXE_sdtui"))
        .args(["-p", &name, "up", "--timeout", "120"])
        .env("SDTUI_ROOT", r)
        .env("SDTUI_ADDONS", r.join(".none"))
        .output()
        .unwrap();
    ok(&up);
    let tmux = Tmux::start_sized(&name, &console_cmd(r, &name, ""), 140, 24);
    tmux.wait_for("caches.kv", Duration::from_secs(10));
    let took = tmux.wait_for("keys=0", Duration::from_secs(20));
    println!(
        "figure: first contract metrics after {} ms",
        took.as_millis()
    );
    // The container's figures come with its second stats sample.
    let screen = tmux.wait_until(
        "the live figures beside them",
        |s| s.lines().any(|l| l.contains("keys=") && l.contains("cpu ")),
        Duration::from_secs(20),
    );
    let line = screen
        .lines()
        .find(|l| l.contains("keys="))
        .unwrap()
        .to_string();
    println!("{line}");
    assert!(line.contains("cpu "), "beside the live figures: {line}");
    assert!(line.contains("keys=0 source=script"), "{line}");
    assert!(line.contains("kvstore-kv on local"), "{line}");
    // Read again while selected: a key written by hand shows.
    let kv = common::docker::container(&format!("{name}-local"), "kvstore-kv");
    let (done, out) = common::docker::docker(&[
        "exec",
        &kv,
        "sh",
        "-c",
        "REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli --no-auth-warning set probe 1",
    ]);
    assert!(done, "{out}");
    let took = tmux.wait_for("keys=1", Duration::from_secs(10));
    println!("figure: a new key shown after {} ms", took.as_millis());
    tmux.keys(&["3"]);
    tmux.wait_until(
        "the line gone",
        |s| !s.contains("keys="),
        Duration::from_secs(5),
    );
    tmux.keys(&["q"]);
}

/// `V` in a real console with two VMs: one sshd VM up (connected, with its
/// engine, Compose, disk and containers) and one address with no sshd
/// (unreachable, with the reason and the next retry); the addon on that
/// one says `unreachable` on the Addons pane.
#[test]
fn the_vms_overlay_with_one_vm_up_and_one_without_sshd() {
    use common::sshd::TestVm;
    let vm = TestVm::start("127.0.95.31", 2511);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tv{}", std::process::id());
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n  gone:\n    host: 127.0.95.32\n    port: 2512\n    user: root\n    identity: {}\naddons:\n  caches:\n    main:\n      type: redis\n      plan: small\n      vm: gone\n",
            vm.addr,
            vm.port,
            vm.client_key().display(),
            vm.client_key().display()
        ),
    )
    .unwrap();
    let tmux = Tmux::start_sized(
        &name,
        &console_cmd(
            r,
            &name,
            &format!(
                "SDTUI_KNOWN_HOSTS={} SSH_AUTH_SOCK=",
                vm.trusted_known_hosts().display()
            ),
        ),
        120,
        24,
    );
    tmux.wait_for("caches.main", Duration::from_secs(10));
    tmux.wait_until(
        "the addon on the VM without sshd",
        |s| {
            s.lines()
                .any(|l| l.contains("caches.main") && l.contains("unreachable"))
        },
        Duration::from_secs(20),
    );
    tmux.keys(&["V"]);
    let screen = tmux.wait_until(
        "both VMs' rows",
        |s| {
            // (The header says `(0 running)` too: look at the rows.)
            let has = |vm: &str, what: &str| {
                s.lines()
                    .any(|l| l.contains(&format!("│{vm} ")) && l.contains(what))
            };
            has("core", "running)") && has("gone", "retry at")
        },
        Duration::from_secs(20),
    );
    println!("{screen}");
    let row = |vm: &str| {
        screen
            .lines()
            .find(|l| l.contains(&format!("│{vm} ")))
            .unwrap_or_else(|| panic!("no row for {vm}:\n{screen}"))
            .to_string()
    };
    let core = row("core");
    assert!(
        core.contains("127.0.95.31:2511") && core.contains("connected"),
        "{core}"
    );
    assert!(core.contains("compose"), "Compose version: {core}");
    assert!(core.contains("iB"), "disk free: {core}");
    let gone = row("gone");
    assert!(gone.contains("unreachable"), "{gone}");
    assert!(
        gone.contains("127.0.95.32"),
        "the reason names the address: {gone}"
    );
    assert!(gone.contains("retry at"), "{gone}");
    tmux.keys(&["Escape"]);
    tmux.wait_gone("retry at", Duration::from_secs(5));
    tmux.keys(&["q"]);
}

/// A system type (the hostnote fixture, in the project's own addons
/// folder) on the local VM: its Addons row shows its script's health, a
/// change by hand within the next look, and it has no Containers row.
#[test]
fn a_system_types_row_shows_its_scripts_health() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("tsys{}", std::process::id());
    let dir = r.join(&name);
    std::fs::create_dir_all(dir.join("addons/hostnote")).unwrap();
    common::copy_dir(
        &common::fixture("addons/hostnote"),
        &dir.join("addons/hostnote"),
    );
    std::fs::write(
        dir.join("config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.101.12\naddons:\n  system:\n    note:\n      type: hostnote\n",
    )
    .unwrap();
    ok(&sdtui(r, &["-p", &name, "up"]));
    let tmux = Tmux::start_sized(&name, &console_cmd(r, &name, ""), 120, 24);
    let row = |s: &str| -> Option<String> {
        s.lines()
            .find(|l| l.contains("system.note"))
            .map(str::to_string)
    };
    tmux.wait_until(
        "the row healthy",
        |s| row(s).is_some_and(|l| l.contains("healthy")),
        Duration::from_secs(15),
    );
    std::fs::write(dir.join(".sdtui/deploy/local/system/note/degraded"), "").unwrap();
    let marked = std::time::Instant::now();
    tmux.wait_until(
        "the row degraded",
        |s| row(s).is_some_and(|l| l.contains("degraded")),
        Duration::from_secs(25),
    );
    println!(
        "figure: degraded shown after {} ms",
        marked.elapsed().as_millis()
    );
    // No container: not on the Containers pane.
    assert!(tmux.screen().contains("0 containers"), "{}", tmux.screen());
    tmux.keys(&["5"]);
    tmux.wait_for("┌ Containers", Duration::from_secs(5));
    assert!(
        !tmux.screen().contains("hostnote-note"),
        "{}",
        tmux.screen()
    );
    tmux.keys(&["q"]);
}
