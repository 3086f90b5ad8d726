//! Deploy figures on the real local engine (needs tests/images/build.sh):
//! a no-change `up` of a 10-addon project, time from `up` to all healthy
//! for 1, 5 and 20 postgres instances on one VM, and `status` latency for
//! 50 containers. Run: `cargo bench --bench deploy`.

use std::process::Command;
use std::time::{Duration, Instant};

use sdtui::engine::Workspace;

/// The tests' own clean-up of a compose project (containers, volumes,
/// networks, found by label), shared rather than copied.
#[path = "../tests/common/docker.rs"]
mod test_docker;

fn cleanup(compose_project: &str) {
    drop(test_docker::Cleanup(compose_project.to_string()));
}

fn project(
    root: &std::path::Path,
    name: &str,
    ip: &str,
    addons: &[(&str, &str, usize)],
) -> (Workspace, sdtui::engine::Project) {
    let mut cfg = format!("vms:\n  local:\n    host: local\n    private_ip: {ip}\naddons:\n");
    for (category, t, n) in addons {
        cfg.push_str(&format!("  {category}:\n"));
        for i in 0..*n {
            cfg.push_str(&format!(
                "    {t}-{i}:\n      type: {t}\n      plan: small\n"
            ));
        }
    }
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yml"), cfg).unwrap();
    let ws = Workspace::open(root.to_path_buf(), None).unwrap();
    let p = ws.project(Some(name)).unwrap();
    (ws, p)
}

fn part(name: &str) -> bool {
    std::env::var("BENCH_PARTS")
        .map(|p| p.split(',').any(|x| x == name))
        .unwrap_or(true)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(600);

    // 1. No-change up of a 10-addon project.
    if part("noop") {
        let (ws, p) = project(
            root.path(),
            "bten",
            "127.0.5.10",
            &[
                ("databases", "postgres", 3),
                ("caches", "redis", 4),
                ("memo", "memcached", 3),
            ],
        );
        cleanup("bten-local");
        let start = Instant::now();
        rt.block_on(sdtui::deploy::up(&ws, &p, None, timeout))
            .unwrap();
        let cold = start.elapsed();
        let mut noop = Vec::new();
        for _ in 0..3 {
            let start = Instant::now();
            let r = rt
                .block_on(sdtui::deploy::up(&ws, &p, None, timeout))
                .unwrap();
            noop.push(start.elapsed());
            assert!(
                r.iter()
                    .all(|s| s.action == sdtui::deploy::Action::Unchanged),
                "a no-change up touched a container"
            );
        }
        noop.sort();
        println!(
            "10-addon project: first up {:.1} s; no-change up (median of 3) {:.2} s, 0 containers touched",
            cold.as_secs_f64(),
            noop[1].as_secs_f64()
        );
        cleanup("bten-local");
    }

    // 2. Up to all healthy for 1, 5, 20 postgres instances.
    for n in [1usize, 5, 20].into_iter().filter(|_| part("healthy")) {
        let name = format!("bpg{n}");
        let (ws, p) = project(
            root.path(),
            &name,
            &format!("127.0.5.{}", 20 + n),
            &[("databases", "postgres", n)],
        );
        cleanup(&format!("{name}-local"));
        let start = Instant::now();
        rt.block_on(sdtui::deploy::up(&ws, &p, None, timeout))
            .unwrap();
        println!(
            "{n:>2} postgres on one VM: up to all healthy {:.1} s",
            start.elapsed().as_secs_f64()
        );
        cleanup(&format!("{name}-local"));
    }

    // 3. status latency for 50 containers: local socket vs SSH (an sshd
    //    "VM" on loopback driving the same engine, tests/sshd).
    if part("status") {
        let state = tempfile::tempdir().unwrap();
        let script = |name: &str| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/sshd")
                .join(name)
        };
        let started = Command::new(script("start.sh"))
            .args(["127.0.5.99", "2299"])
            .arg(state.path())
            .output()
            .unwrap();
        assert!(
            started.status.success(),
            "{}",
            String::from_utf8_lossy(&started.stderr)
        );
        let dir = root.path().join("bstat");
        std::fs::create_dir_all(&dir).unwrap();
        let mut cfg = format!(
            "vms:\n  local:\n    host: local\n    private_ip: 127.0.5.50\n  remote:\n    host: 127.0.5.99\n    port: 2299\n    identity: {}\naddons:\n",
            state.path().join("id_ed25519").display()
        );
        for vm in ["local", "remote"] {
            cfg.push_str(&format!("  {vm}-cache:\n"));
            for i in 0..50 {
                // Names are unique per type across the project.
                cfg.push_str(&format!(
                    "    {}{i}:\n      type: memcached\n      plan: small\n      vm: {vm}\n",
                    &vm[..1]
                ));
            }
        }
        std::fs::write(dir.join("config.yml"), cfg).unwrap();
        // SAFETY: set before any thread reads it.
        unsafe {
            std::env::set_var(
                "SDTUI_KNOWN_HOSTS",
                state.path().join("known_hosts.trusted"),
            )
        };
        let ws = Workspace::open(root.path().to_path_buf(), None).unwrap();
        let p = ws.project(Some("bstat")).unwrap();
        cleanup("bstat-local");
        cleanup("bstat-remote");
        rt.block_on(sdtui::deploy::up(&ws, &p, None, timeout))
            .unwrap();
        for vm in ["local", "remote"] {
            let mut times = Vec::new();
            for _ in 0..10 {
                let start = Instant::now();
                let rows = rt
                    .block_on(sdtui::deploy::status(&ws, &p, Some(vm)))
                    .unwrap();
                times.push(start.elapsed());
                assert_eq!(rows.len(), 50);
            }
            times.sort();
            let how = if vm == "local" {
                "the local socket"
            } else {
                "SSH (connect + streamlocal)"
            };
            println!(
                "status of 50 containers over {how}: median {:.0} ms, min {:.0} ms",
                times[5].as_secs_f64() * 1000.0,
                times[0].as_secs_f64() * 1000.0
            );
        }
        cleanup("bstat-local");
        cleanup("bstat-remote");
        let _ = Command::new(script("stop.sh")).arg(state.path()).output();
        // What the "remote" VM kept in its home (the same machine here).
        if let Some(home) = std::env::var_os("HOME") {
            let _ = std::fs::remove_dir_all(std::path::Path::new(&home).join(".sdtui/bstat"));
        }
    }
}
