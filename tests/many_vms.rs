//! Many VMs in one command (src/deploy/fanout.rs): 20 sshd "VMs" on
//! loopback addresses, a memcached on each. `up` of one VM, then of all 20
//! at most `--parallel` at once (both timed: the figures are printed);
//! a VM whose sshd is down and one whose host key changed fail alone — the
//! other 18 are deployed, the error names both with why and the retry of
//! just those, the exit code is non-zero; `status` shows the two VMs'
//! services as unreachable; `--vm` takes globs and lists; `down` works on
//! every VM it can reach.

mod common;

use std::time::Instant;

use common::docker::{Cleanup, docker, require_images};
use common::sshd::{TestVm, sdtui_ssh};
use common::{fails, ok};

const COUNT: usize = 20;

fn running(compose_project: &str) -> usize {
    let (_, out) = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={compose_project}"),
    ]);
    out.split_whitespace().count()
}

#[test]
fn twenty_vms_bounded_each_failing_alone() {
    require_images(&["memcached:1.6"]);
    let vms: Vec<TestVm> = (1..=COUNT)
        .map(|i| TestVm::start(&format!("127.0.92.{i}"), 2330 + i as u16))
        .collect();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let name = format!("mv{}", std::process::id());
    let _remote = common::sshd::RemoteDir::of_project(&name);
    let vm_name = |i: usize| format!("web-{i:02}");
    let _cleanup: Vec<Cleanup> = (1..=COUNT)
        .map(|i| Cleanup(format!("{name}-{}", vm_name(i))))
        .collect();
    let known_hosts = r.join("known_hosts");
    let trusted: String = vms
        .iter()
        .map(|vm| std::fs::read_to_string(vm.trusted_known_hosts()).unwrap())
        .collect();
    std::fs::write(&known_hosts, trusted).unwrap();

    let mut config = String::from("# twenty VMs\nvms:\n");
    for (i, vm) in vms.iter().enumerate() {
        config.push_str(&format!(
            "  {}:\n    host: {}\n    port: {}\n    user: root\n    identity: {}\n    private_ip: {}\n",
            vm_name(i + 1),
            vm.addr,
            vm.port,
            vm.client_key().display(),
            vm.addr
        ));
    }
    config.push_str("addons:\n  caches:\n");
    for i in 1..=COUNT {
        config.push_str(&format!(
            "    m{i:02}:\n      type: memcached\n      plan: small\n      vm: {}\n",
            vm_name(i)
        ));
    }
    let dir = r.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.yml"), config).unwrap();
    let sdtui = |args: &[&str]| sdtui_ssh(r, &known_hosts, args);

    // Bad input first: nothing selected, nothing written.
    let no_vm = fails(&sdtui(&["-p", &name, "up", "--vm", "db-*"]));
    assert!(no_vm.contains("no VM matches \"db-*\""), "{no_vm}");
    let zero = fails(&sdtui(&["-p", &name, "--parallel", "0", "up"]));
    assert!(zero.contains("--parallel"), "{zero}");

    // One VM, then all twenty (sixteen at once, the default).
    let t = Instant::now();
    ok(&sdtui(&["-p", &name, "up", "--vm", "web-01"]));
    let one = t.elapsed();
    let t = Instant::now();
    let out = sdtui(&["-p", &name, "up"]);
    let all = t.elapsed();
    ok(&out);
    eprintln!(
        "figure: up of 1 VM {:.1} s, of {COUNT} VMs {:.1} s ({:.1}x), --parallel 16 (the default)",
        one.as_secs_f64(),
        all.as_secs_f64(),
        all.as_secs_f64() / one.as_secs_f64()
    );
    for i in 1..=COUNT {
        assert_eq!(
            running(&format!("{name}-{}", vm_name(i))),
            1,
            "{}",
            vm_name(i)
        );
    }
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains("VM web-20: done (1 service)"),
        "{progress}"
    );

    // Globs and lists select in config order.
    let status = ok(&sdtui(&["-p", &name, "status", "--vm", "web-1*,web-03"]));
    let listed: Vec<&str> = status
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|vm| vm.starts_with("web-"))
        .collect();
    assert_eq!(
        listed,
        [
            "web-03", "web-10", "web-11", "web-12", "web-13", "web-14", "web-15", "web-16",
            "web-17", "web-18", "web-19"
        ]
    );

    // web-07's sshd is down, web-13's host key changed: each fails alone.
    vms[6].stop();
    vms[12].new_host_key();
    std::fs::write(dir.join("config.yml"), {
        let c = std::fs::read_to_string(dir.join("config.yml")).unwrap();
        c.replace("# twenty VMs", "# twenty VMs, again")
    })
    .unwrap();
    let err = fails(&sdtui(&["-p", &name, "--parallel", "4", "up"]));
    assert!(err.contains("up failed on 2 of 20 VMs (18 done)"), "{err}");
    assert!(
        err.contains("VM web-07: ") && err.contains("VM web-13: "),
        "{err}"
    );
    assert!(
        err.to_lowercase().contains("changed") || err.contains("key"),
        "web-13's reason: {err}"
    );
    assert!(
        err.contains(&format!("sdtui -p {name} up --vm web-07,web-13")),
        "{err}"
    );

    let out = sdtui(&["-p", &name, "status"]);
    assert!(!out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    let unreachable: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("unreachable"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(unreachable, ["web-07", "web-13"], "{table}");
    assert_eq!(
        table.lines().filter(|l| l.contains("running")).count(),
        18,
        "{table}"
    );

    // On a terminal each VM is one line that updates in place and ends
    // with its outcome (piped, above, every step was a line of its own).
    let session = format!("mv{}", std::process::id());
    let tmux = common::tmux::Tmux::start_sized(
        &session,
        &format!(
            "env -u SSH_AUTH_SOCK SDTUI_ROOT={} SDTUI_ADDONS={} SDTUI_KNOWN_HOSTS={} {} -p {name} up --vm 'web-0*'; echo up-exited-$?; sleep 60",
            r.display(),
            r.join(".none").display(),
            known_hosts.display(),
            env!("CARGO_BIN_EXE_sdtui")
        ),
        200,
        50,
    );
    let screen = tmux.wait_until(
        "up to end",
        |s| s.contains("up-exited-"),
        std::time::Duration::from_secs(180),
    );
    assert!(screen.contains("up-exited-1"), "{screen}");
    for i in [1, 2, 3, 4, 5, 6, 8, 9] {
        let vm = format!("VM web-0{i}: ");
        let lines: Vec<&str> = screen.lines().filter(|l| l.contains(&vm)).collect();
        assert_eq!(lines.len(), 1, "{vm} on one line:\n{screen}");
        assert!(lines[0].contains("done (1 service)"), "{screen}");
    }
    assert!(screen.contains("VM web-07: FAILED"), "{screen}");
    drop(tmux);

    // down reaches the 18 it can and says which it could not.
    let err = fails(&sdtui(&["-p", &name, "down"]));
    assert!(err.contains("down failed on 2 of 20 VMs"), "{err}");
    for i in (1..=COUNT).filter(|i| ![7, 13].contains(i)) {
        assert_eq!(running(&format!("{name}-{}", vm_name(i))), 0);
    }
    // web-07's memcached still runs (its VM was unreachable); the guard
    // removes it.
    assert_eq!(running(&format!("{name}-web-07")), 1);
}
