//! `sdtui watch` as a long-running child process on a real project: a
//! redis on the local engine and one on an sshd VM. A container stopped by
//! hand fires the alert command exactly once with the change in its
//! environment; started again, exactly one recovery; a VM whose sshd dies
//! is said to be lost, alerted once as unreachable (with the reason) and
//! once when it is back. A script-backed type (the kvstore fixture) whose
//! `health` says degraded alerts once, and once on recovery, with its
//! message; its unchanged answers stay out of the audit trail.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::docker::{Cleanup, container, docker, require_images};
use common::sshd::{RemoteDir, TestVm, sdtui_ssh, sdtui_ssh_cmd};
use common::{collect, ok};

/// Waits until `check` holds on what `read` returns; how long it took.
fn wait_until(what: &str, read: impl Fn() -> String, check: impl Fn(&str) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let t = read();
        if check(&t) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never got {what}:\n{t}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn alert_fires_once_per_change_and_once_on_recovery_and_a_lost_vm_comes_back() {
    require_images(&["redis:7"]);
    let vm = TestVm::start("127.0.95.2", 2502);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let known_hosts = r.join("known_hosts");
    let name = format!("wa{}", std::process::id());
    let _cleanup = (
        Cleanup(format!("{name}-local")),
        Cleanup(format!("{name}-core")),
    );
    let _remote = RemoteDir(
        std::path::PathBuf::from(std::env::var("HOME").unwrap())
            .join(".sdtui")
            .join(&name),
    );
    let alerts = r.join("alerts.log");
    let reasons = r.join("reasons.log");
    let script = r.join("alert.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$SDTUI_PROJECT $SDTUI_VM $SDTUI_ADDON $SDTUI_SERVICE $SDTUI_OLD_STATE $SDTUI_NEW_STATE\" >> {}\n[ -z \"$SDTUI_REASON\" ] || echo \"$SDTUI_VM $SDTUI_NEW_STATE: $SDTUI_REASON\" >> {}\n",
            alerts.display(),
            reasons.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: 127.0.95.1\n  core:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\naddons:\n  caches:\n    main:\n      type: redis\n      plan: small\n      vm: local\n    remote:\n      type: redis\n      plan: small\n      vm: core\nwatch:\n  alert: {}\n  interval: 1s\n",
            vm.addr,
            vm.port,
            vm.client_key().display(),
            script.display()
        ),
    )
    .unwrap();
    ok(&sdtui_ssh(
        r,
        &known_hosts,
        &["-p", &name, "--accept-new-host", "up", "--timeout", "120"],
    ));

    let mut child = Killed(
        sdtui_ssh_cmd(r, &known_hosts, &["-p", &name, "watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = collect(&mut child.0);
    let output = || out.lock().unwrap().clone();
    let alert_lines = || std::fs::read_to_string(&alerts).unwrap_or_default();
    wait_until("both redis healthy", output, |t| {
        t.contains("caches.main on local: healthy") && t.contains("caches.remote on core: healthy")
    });
    assert_eq!(alert_lines(), "", "a baseline fires no alert");

    // Stopped by hand on the local engine: one alert, however many checks follow.
    let local_redis = container(&format!("{name}-local"), "redis-main");
    assert!(docker(&["stop", &local_redis]).0);
    let took = wait_until("the stop alert", alert_lines, |t| !t.is_empty());
    println!(
        "figure: docker stop returned -> alert line in {} ms",
        took.as_millis()
    );
    // Several interval checks (1s) of the same stopped state.
    wait_until("later checks", output, |t| {
        t.contains("caches.main on local: alert ran")
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        alert_lines(),
        format!("{name} local caches.main redis-main healthy stopped\n")
    );

    // Started again: through `starting` to healthy, one recovery line.
    assert!(docker(&["start", &local_redis]).0);
    wait_until("the recovery alert", alert_lines, |t| {
        t.lines().count() >= 2
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        alert_lines(),
        format!(
            "{name} local caches.main redis-main healthy stopped\n{name} local caches.main redis-main stopped healthy\n"
        )
    );

    // The VM over SSH: its redis stopped by hand alerts with its VM's name.
    let remote_redis = container(&format!("{name}-core"), "redis-remote");
    assert!(docker(&["stop", &remote_redis]).0);
    wait_until("the remote alert", alert_lines, |t| t.lines().count() >= 3);
    assert_eq!(
        alert_lines().lines().nth(2).unwrap(),
        format!("{name} core caches.remote redis-remote healthy stopped")
    );

    // Its sshd dies: watch says so and retries; back, it reconnects and
    // the redis started meanwhile is one recovery.
    vm.stop();
    wait_until("the VM lost", output, |t| t.contains("VM core: lost"));
    // Two failed retries: still one alert.
    wait_until("two retries", output, |t| {
        t.matches("VM core: unreachable").count() >= 2 && t.contains("retrying in")
    });
    assert!(docker(&["start", &remote_redis]).0);
    let lost_at = Instant::now();
    vm.start_again();
    let connects = |t: &str| t.matches("VM core: connected").count();
    wait_until("the reconnect", output, |t| connects(t) >= 2);
    println!(
        "figure: sshd back -> reconnected in {} ms",
        lost_at.elapsed().as_millis()
    );
    wait_until("the remote recovery", alert_lines, |t| {
        t.lines().count() >= 6
    });
    std::thread::sleep(Duration::from_secs(3));
    let lines: Vec<String> = alert_lines().lines().map(str::to_string).collect();
    // The VM: one alert when it became unreachable, however many retries
    // failed, and one when it was back; then the redis started meanwhile.
    assert_eq!(
        lines[2..4],
        [
            format!("{name} core caches.remote redis-remote healthy stopped"),
            format!("{name} core   connected unreachable"),
        ],
        "{lines:#?}"
    );
    // Both run at once after the reconnect: either may write first.
    let mut back = lines[4..].to_vec();
    back.sort();
    assert_eq!(
        back,
        [
            format!("{name} core   unreachable connected"),
            format!("{name} core caches.remote redis-remote stopped healthy"),
        ],
        "{lines:#?}"
    );
    // The reason is in the alert's environment: sshd is gone.
    let reasons = std::fs::read_to_string(&reasons).unwrap_or_default();
    println!("reasons:\n{reasons}");
    let reasons: Vec<&str> = reasons.lines().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].starts_with("core unreachable: "), "{reasons:?}");
    assert!(
        reasons[0].contains(&format!("{}:{}", vm.addr, vm.port)),
        "names the address it could not reach: {reasons:?}"
    );
    println!("watch said:\n{}", output());
}

#[test]
fn a_contract_health_saying_degraded_alerts_once_and_once_on_recovery() {
    require_images(&["redis:7"]);
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // The runs below read user types from `.none`.
    let types = r.join(".none/kvstore");
    std::fs::create_dir_all(&types).unwrap();
    common::copy_dir(&common::fixture("addons/kvstore"), &types);
    let known_hosts = r.join("known_hosts");
    let name = format!("wc{}", std::process::id());
    let _cleanup = Cleanup(format!("{name}-local"));
    let alerts = r.join("alerts.log");
    let script = r.join("alert.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$SDTUI_ADDON $SDTUI_SERVICE $SDTUI_OLD_STATE $SDTUI_NEW_STATE $SDTUI_REASON\" >> {}\n",
            alerts.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "vms:\n  local:\n    host: local\n    private_ip: 127.0.99.1\naddons:\n  caches:\n    kv:\n      type: kvstore\n      plan: small\nwatch:\n  alert: {}\n  interval: 1s\n",
            script.display()
        ),
    )
    .unwrap();
    ok(&sdtui_ssh(
        r,
        &known_hosts,
        &["-p", &name, "up", "--timeout", "120"],
    ));
    let audit_path = dir.join(".sdtui/audit.jsonl");
    let health_records = || {
        std::fs::read_to_string(&audit_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["execution"]["function"] == "health")
            .map(|e| e["execution"]["stdout"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    let before = health_records().len();

    let mut child = Killed(
        sdtui_ssh_cmd(r, &known_hosts, &["-p", &name, "watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = collect(&mut child.0);
    let output = || out.lock().unwrap().clone();
    let alert_lines = || std::fs::read_to_string(&alerts).unwrap_or_default();
    wait_until("kvstore healthy", output, |t| {
        t.contains("caches.kv on local: healthy")
    });

    // The script says degraded (Docker still says healthy): one alert.
    let kv = container(&format!("{name}-local"), "kvstore-kv");
    let marked = Instant::now();
    assert!(docker(&["exec", &kv, "touch", "/data/.kvstore/degraded"]).0);
    wait_until("the degraded alert", alert_lines, |t| !t.is_empty());
    println!(
        "figure: marker touched -> alert line in {} ms (interval 1 s)",
        marked.elapsed().as_millis()
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        alert_lines(),
        "caches.kv kvstore-kv healthy degraded marked degraded by hand\n"
    );

    // Marker gone: one recovery.
    assert!(docker(&["exec", &kv, "rm", "/data/.kvstore/degraded"]).0);
    wait_until("the recovery alert", alert_lines, |t| {
        t.lines().count() >= 2
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        alert_lines(),
        "caches.kv kvstore-kv healthy degraded marked degraded by hand\ncaches.kv kvstore-kv degraded healthy configured by its script\n"
    );
    let said = output();
    assert!(
        said.contains("caches.kv on local: healthy -> degraded (marked degraded by hand)"),
        "{said}"
    );

    // A health script that fails (read from the type's folder at each
    // call): degraded, with the script's own words; then back.
    let script_path = types.join("addon.sh");
    let original = std::fs::read_to_string(&script_path).unwrap();
    std::fs::write(
        &script_path,
        original.replace(
            "health)\n",
            "health)\n  echo 'kvstore: cannot reach its socket' >&2; exit 3\n",
        ),
    )
    .unwrap();
    wait_until("the failure's alert", alert_lines, |t| {
        t.lines().count() >= 3
    });
    std::thread::sleep(Duration::from_secs(4));
    let lines: Vec<String> = alert_lines().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[2]
            == "caches.kv kvstore-kv healthy degraded health script failed: type kvstore, function health: exited 3: kvstore: cannot reach its socket",
        "{lines:#?}"
    );
    std::fs::write(&script_path, &original).unwrap();
    wait_until("the recovery from the failure", alert_lines, |t| {
        t.lines().count() >= 4
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(alert_lines().lines().count(), 4, "{}", alert_lines());

    // Some 20 s of checks every second; the trail kept only the answers
    // that changed, the failure once (with its output).
    let kept: Vec<String> = health_records()[before..]
        .iter()
        .map(
            |o| match serde_json::from_str::<serde_json::Value>(o.trim()) {
                Ok(v) => v["health"].as_str().unwrap().to_string(),
                Err(_) => "failed".to_string(),
            },
        )
        .collect();
    assert_eq!(
        kept,
        ["healthy", "degraded", "healthy", "failed", "healthy"],
        "{said}"
    );
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    assert_eq!(
        audit.matches("kvstore: cannot reach its socket").count(),
        1,
        "the failure recorded once, with what it said"
    );
}

#[test]
fn print_systemd_unit_runs_this_binary_on_this_project() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("pj")).unwrap();
    std::fs::write(
        r.join("pj/config.yml"),
        "vms:\n  local:\n    host: local\n    private_ip: 127.0.95.1\n",
    )
    .unwrap();
    let unit = ok(&common::sdtui(
        r,
        &["-p", "pj", "watch", "--print-systemd-unit"],
    ));
    assert!(
        unit.contains(&format!(
            "ExecStart={} --root {} -p pj watch",
            env!("CARGO_BIN_EXE_sdtui"),
            r.display()
        )),
        "{unit}"
    );
    assert!(
        unit.contains("[Install]\nWantedBy=default.target"),
        "{unit}"
    );
    assert!(unit.contains("Restart=always"), "{unit}");
}

#[test]
fn bad_watch_settings_are_named_with_their_line() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::create_dir_all(r.join("pj")).unwrap();
    for (watch, says, hint) in [
        (
            "watch:\n  interval: 5 minutes\n",
            "watch.interval \"5 minutes\" is not a duration",
            "30s, 5m, 1h",
        ),
        (
            "watch:\n  alert: \"notify 'unclosed\"\n",
            "is not a command line",
            "close every quote",
        ),
        (
            "watch:\n  alert: \"\"\n",
            "watch.alert is empty",
            "remove the line",
        ),
        ("watch:\n  every: 5m\n", "every", "interval"),
    ] {
        let config =
            format!("vms:\n  local:\n    host: local\n    private_ip: 127.0.95.1\n{watch}");
        std::fs::write(r.join("pj/config.yml"), &config).unwrap();
        let before = common::snapshot(r);
        let err = common::fails(&common::sdtui(r, &["-p", "pj", "watch", "--once"]));
        assert!(err.contains(says), "{watch}: {err}");
        assert!(err.contains(hint), "{watch}: {err}");
        assert!(
            err.contains("config.yml:6"),
            "{watch}: names the line: {err}"
        );
        assert_eq!(common::snapshot(r), before, "nothing written");
    }
}
